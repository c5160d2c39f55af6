import { evaluate, parseExpression } from '../expr/index.js';
import type { ModuleDef } from './types.js';

interface P extends Record<string, unknown> {
  msg?: unknown;
  var?: string;
  verbosity: number;
}

/** Prints a message or a variable's value. Runs on the controller. */
export const debug: ModuleDef<P> = {
  name: 'debug',
  description: 'Print a message (`msg`) or the value of an expression (`var`). Never changes anything.',
  local: true,
  schema: {
    params: {
      msg: { type: 'raw', description: 'The message to print (templated).' },
      var: { type: 'str', description: 'An expression whose value is printed, e.g. `result.stdout`.' },
      verbosity: { type: 'int', default: 0, description: 'Accepted for compatibility; the message is always recorded.' },
    },
    mutuallyExclusive: [['msg', 'var']],
  },
  decide(p, _obs, env) {
    if (p.var !== undefined) {
      const value = evaluate(parseExpression(p.var), env.vars);
      return { changed: false, actions: [], result: { [p.var]: value }, msg: JSON.stringify(value) };
    }
    const msg = p.msg === undefined ? 'Hello world!' : p.msg;
    return { changed: false, actions: [], result: { msg }, msg: typeof msg === 'string' ? msg : JSON.stringify(msg) };
  },
};
