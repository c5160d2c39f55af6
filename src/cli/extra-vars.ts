/** `-e` values as ansible-playbook takes them: `k=v k2=v2`, `@file.yml`, or inline YAML/JSON. */
import { InputError } from '../errors.js';
import { parseKeyValues } from '../modules/params.js';
import { loadVarsFile, type Keyring } from '../playbook/load.js';
import { isPlainObject, parseYaml, typeName } from '../yamlsrc.js';

export function parseExtraVars(
  values: readonly string[],
  keyring: Keyring | undefined,
): { vars: Record<string, unknown>; secretNames: Set<string> } {
  const vars: Record<string, unknown> = {};
  const secretNames = new Set<string>();
  for (const v of values) {
    const text = v.trim();
    if (text.startsWith('@')) {
      const got = loadVarsFile(text.slice(1), keyring ? { keyring } : {});
      Object.assign(vars, got.vars);
      for (const n of got.secretNames) secretNames.add(n);
    } else if (text.startsWith('{') || text.startsWith('[')) {
      const parsed = parseYaml(text, '<-e>');
      if (!isPlainObject(parsed)) throw new InputError(`-e: expected a mapping, got ${typeName(parsed)}`);
      Object.assign(vars, parsed);
    } else {
      const { kv, free } = parseKeyValues(text);
      if (free !== '') throw new InputError(`-e: expected key=value, @file or a YAML/JSON mapping, got '${free}'`);
      for (const [k, val] of Object.entries(kv)) {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new InputError(`-e: invalid variable name '${k}'`);
        vars[k] = val;
      }
    }
  }
  return { vars, secretNames };
}
