import { evaluateCondition, formatExpression, parseExpression } from '../expr/index.js';
import type { ModuleDef } from './types.js';

interface P extends Record<string, unknown> {
  that: string[];
  fail_msg?: string;
  success_msg?: string;
  quiet: boolean;
}

/** Checks that expressions hold; fails naming the first that does not. */
export const assert: ModuleDef<P> = {
  name: 'assert',
  description: 'Fail unless every expression in `that` is true.',
  local: true,
  schema: {
    params: {
      that: { type: 'list', elements: 'str', required: true, description: 'Expressions that must all be true.' },
      fail_msg: { type: 'str', aliases: ['msg'], description: 'Message when an expression is false.' },
      success_msg: { type: 'str', description: 'Message when all hold.' },
      quiet: { type: 'bool', default: false, description: 'Accepted for compatibility.' },
    },
  },
  decide(p, _obs, env) {
    for (const src of p.that) {
      const expr = parseExpression(src);
      if (!evaluateCondition(expr, env.vars)) {
        return {
          changed: false,
          actions: [],
          failed: p.fail_msg ?? `Assertion failed: ${formatExpression(expr)}`,
          result: { assertion: src, evaluated_to: false },
        };
      }
    }
    return { changed: false, actions: [], msg: p.success_msg ?? 'All assertions passed' };
  },
};
