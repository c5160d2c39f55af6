/**
 * Parameter checking against a module's schema: at load time (every task, before any
 * host is contacted; templated values are checked after rendering) and at run time
 * (after templating: coercion to the declared types, defaults, aliases).
 */
import { InputError, type SourceLoc } from '../errors.js';
import { isPlainObject, keyLocOf, locOf, typeName } from '../yamlsrc.js';
import type { ModuleDef, ParamSpec, ParamType } from './types.js';

const TRUE = new Set(['yes', 'on', '1', 'true', 'y', 't']);
const FALSE = new Set(['no', 'off', '0', 'false', 'n', 'f']);

export function isTemplated(v: unknown): boolean {
  return typeof v === 'string' && v.includes('{{');
}

/** Converts a value to a param type the way Ansible's argument spec does, or says why not. */
export function coerce(v: unknown, type: ParamType, elements?: ParamType): { ok: true; value: unknown } | { ok: false; why: string } {
  const bad = (what: string) => ({ ok: false as const, why: `expected ${what}, got ${typeName(v)}${typeof v === 'string' ? ` '${v}'` : ''}` });
  switch (type) {
    case 'raw':
      return { ok: true, value: v };
    case 'str':
    case 'path':
      if (typeof v === 'string') return { ok: true, value: v };
      if (typeof v === 'number' || typeof v === 'boolean') return { ok: true, value: String(v) };
      return bad('a string');
    case 'int':
      if (typeof v === 'number' && Number.isInteger(v)) return { ok: true, value: v };
      if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) return { ok: true, value: Number.parseInt(v, 10) };
      return bad('an integer');
    case 'float':
      if (typeof v === 'number') return { ok: true, value: v };
      if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return { ok: true, value: Number(v) };
      return bad('a number');
    case 'bool':
      if (typeof v === 'boolean') return { ok: true, value: v };
      if (typeof v === 'number' && (v === 0 || v === 1)) return { ok: true, value: v === 1 };
      if (typeof v === 'string' && TRUE.has(v.toLowerCase())) return { ok: true, value: true };
      if (typeof v === 'string' && FALSE.has(v.toLowerCase())) return { ok: true, value: false };
      return bad('a boolean');
    case 'mode':
      // YAML 1.1 reads 0755 as octal 493; '0755' and 'u=rwx,g=rx' stay strings.
      if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0o7777) return { ok: true, value: v };
      if (typeof v === 'string' && /^0?[0-7]{3,4}$/.test(v)) return { ok: true, value: Number.parseInt(v, 8) };
      return bad("a mode (octal like '0644')");
    case 'list': {
      let list: unknown[];
      if (Array.isArray(v)) list = v;
      else if (typeof v === 'string') list = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
      else if (typeof v === 'number') list = [v];
      else return bad('a list');
      if (!elements) return { ok: true, value: list };
      const out: unknown[] = [];
      for (const item of list) {
        const c = coerce(item, elements);
        if (!c.ok) return { ok: false, why: `list element: ${c.why}` };
        out.push(c.value);
      }
      return { ok: true, value: out };
    }
    case 'dict':
      if (isPlainObject(v)) return { ok: true, value: v };
      return bad('a mapping');
  }
}

function canonicalName(def: ModuleDef, key: string): string | undefined {
  if (key in def.schema.params) return key;
  for (const [name, spec] of Object.entries(def.schema.params)) {
    if (spec.aliases?.includes(key)) return name;
  }
  return undefined;
}

/** "did you mean" for a misspelt name. */
export function suggest(word: string, candidates: Iterable<string>): string {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(word.length / 3)) ? ` (did you mean '${best}'?)` : '';
}

function editDistance(a: string, b: string): number {
  const dp: number[] = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length]!;
}

/**
 * Checks parameters against the schema. With `loadTime`, templated values are not
 * type-checked yet and missing required parameters may be filled by templates later only
 * if they are present; returns the canonical parameters with defaults applied.
 */
export function checkParams(
  def: ModuleDef,
  args: Record<string, unknown>,
  opts: { loadTime: boolean; loc?: SourceLoc; owner?: object },
): { params: Record<string, unknown>; errors: InputError[] } {
  const errors: InputError[] = [];
  const owner = opts.owner ?? args;
  const where = (k?: string) => (k !== undefined ? keyLocOf(owner, k) : undefined) ?? locOf(owner) ?? opts.loc;
  const params: Record<string, unknown> = {};
  const given = new Set<string>();
  for (const [key, value] of Object.entries(args)) {
    const name = canonicalName(def, key);
    if (name === undefined) {
      errors.push(
        new InputError(
          `module '${def.name}' has no parameter '${key}'${suggest(key, Object.keys(def.schema.params))}; it takes: ${Object.keys(def.schema.params).sort().join(', ')}`,
          where(key),
        ),
      );
      continue;
    }
    if (given.has(name)) {
      errors.push(new InputError(`module '${def.name}': parameter '${name}' given twice (once through an alias)`, where(key)));
      continue;
    }
    given.add(name);
    const spec = def.schema.params[name]!;
    if (value === null || value === undefined) {
      if (spec.required) errors.push(new InputError(`module '${def.name}': parameter '${name}' must not be empty`, where(key)));
      continue;
    }
    if (opts.loadTime && containsTemplate(value)) {
      params[name] = value;
      continue;
    }
    const c = coerce(value, spec.type, spec.elements);
    if (!c.ok) {
      errors.push(new InputError(`module '${def.name}': parameter '${name}': ${c.why}`, locOf(owner, key) ?? where(key)));
      continue;
    }
    if (spec.choices && !spec.choices.includes(String(c.value))) {
      errors.push(
        new InputError(`module '${def.name}': parameter '${name}' must be one of ${spec.choices.join(', ')}, got '${String(c.value)}'`, locOf(owner, key) ?? where(key)),
      );
      continue;
    }
    params[name] = c.value;
  }
  for (const [name, spec] of Object.entries(def.schema.params) as [string, ParamSpec][]) {
    if (!given.has(name)) {
      if (spec.required) errors.push(new InputError(`module '${def.name}': missing required parameter '${name}'`, where()));
      else if (spec.default !== undefined) params[name] = spec.default;
    }
  }
  for (const group of def.schema.requiredOneOf ?? []) {
    if (!group.some((g) => given.has(g))) {
      errors.push(new InputError(`module '${def.name}': one of ${group.join(', ')} is required`, where()));
    }
  }
  for (const group of def.schema.mutuallyExclusive ?? []) {
    const both = group.filter((g) => given.has(g));
    if (both.length > 1) {
      errors.push(new InputError(`module '${def.name}': parameters ${both.join(' and ')} are mutually exclusive`, where(both[1])));
    }
  }
  for (const [param, value, needs] of def.schema.requiredIf ?? []) {
    const v = params[param];
    if (v === value) {
      for (const n of needs) {
        if (!given.has(n)) errors.push(new InputError(`module '${def.name}': ${param}=${String(value)} requires parameter '${n}'`, where(param)));
      }
    }
  }
  return { params, errors };
}

function containsTemplate(v: unknown): boolean {
  if (isTemplated(v)) return true;
  if (Array.isArray(v)) return v.some(containsTemplate);
  if (isPlainObject(v)) return Object.values(v).some(containsTemplate);
  return false;
}

/**
 * Splits Ansible's `key=value key2='quoted value'` form. With `keys`, only those keys are
 * taken out and everything else is kept as free-form text exactly as written (quotes
 * included), as the command and shell modules need.
 */
export function parseKeyValues(text: string, keys?: ReadonlySet<string>): { kv: Record<string, string>; free: string } {
  const kv: Record<string, string> = {};
  const free: string[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    while (i < n && /\s/.test(text[i]!)) i++;
    if (i >= n) break;
    const start = i;
    let value = '';
    let quote: string | null = null;
    let braces = 0;
    for (; i < n; i++) {
      const ch = text[i]!;
      if (quote) {
        if (ch === '\\' && text[i + 1] === quote) {
          value += quote;
          i++;
          continue;
        }
        if (ch === quote) quote = null;
        else value += ch;
        continue;
      }
      if ((ch === '"' || ch === "'") && braces === 0) {
        quote = ch;
        continue;
      }
      if (ch === '{' && text[i + 1] === '{') braces++;
      if (ch === '}' && text[i + 1] === '}' && braces > 0) braces--;
      if (/\s/.test(ch) && braces === 0) break;
      value += ch;
    }
    const rawToken = text.slice(start, i);
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(rawToken);
    if (m && (!keys || keys.has(m[1]!))) kv[m[1]!] = value.slice(m[1]!.length + 1);
    else free.push(rawToken);
  }
  return { kv, free: free.join(' ') };
}
