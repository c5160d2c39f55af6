/**
 * Tests: the `x is name(args)` predicates of Jinja2 and Ansible (`defined`, `changed`,
 * `match`, `version`, ...). Each takes its input and bound arguments and gives a boolean.
 */
import { ExprEvalError } from './errors.js';
import { pyReSearch } from './regex.js';
import { sig, type Bound, type Signature } from './signature.js';
import {
  asNumber,
  asString,
  hasKey,
  isDict,
  pyContains,
  pyEquals,
  pyIter,
  pyOrder,
  pyStr,
  pyType,
  truthy,
  Undef,
  type Dict,
} from './values.js';

export interface TestDef {
  readonly sig: Signature;
  /** The input may be undefined (only `defined` / `undefined`). */
  readonly acceptsUndefined?: boolean;
  readonly fn: (value: unknown, b: Bound) => boolean;
}

function resultOf(v: unknown, name: string): Dict {
  if (!isDict(v)) throw new ExprEvalError(`the '${name}' test expects a dictionary (a registered result), got ${pyType(v)}`);
  return v;
}

function loopItems(r: Dict): Dict[] {
  const res = r['results'];
  return hasKey(r, 'results') && Array.isArray(res) ? res.filter(isDict) : [];
}

function isChanged(v: unknown): boolean {
  const r = resultOf(v, 'changed');
  if (hasKey(r, 'changed')) return truthy(r['changed']);
  return loopItems(r).some((x) => hasKey(x, 'changed') && truthy(x['changed']));
}

function isFailed(v: unknown, name = 'failed'): boolean {
  const r = resultOf(v, name);
  if (hasKey(r, 'failed')) return truthy(r['failed']);
  return loopItems(r).some((x) => hasKey(x, 'failed') && truthy(x['failed']));
}

function isSkipped(v: unknown): boolean {
  const r = resultOf(v, 'skipped');
  if (hasKey(r, 'skipped')) return truthy(r['skipped']);
  const items = loopItems(r);
  return items.length > 0 && items.every((x) => hasKey(x, 'skipped') && truthy(x['skipped']));
}

function regexTest(value: unknown, b: Bound, mode: 'match' | 'search', name: string): boolean {
  const [pattern = '', ignorecase, multiline] = b.p;
  const flags = { ignorecase: ignorecase !== undefined && truthy(ignorecase), multiline: multiline !== undefined && truthy(multiline) };
  // Ansible converts the input to text first
  return pyReSearch(asString(pattern, `${name} pattern`), pyStr(value), flags, mode === 'match') !== null;
}

/** Ansible's LooseVersion: runs of digits (numbers) and of lowercase letters, other text kept as is, dots dropped. */
function looseParts(v: string): (number | string)[] {
  return v
    .split(/(\d+|[a-z]+|\.)/)
    .filter((x) => x !== '' && x !== '.')
    .map((x) => (/^\d+$/.test(x) ? Number(x) : x));
}

const VERSION_OPS: Record<string, '==' | '!=' | '<' | '<=' | '>' | '>='> = {
  '==': '==',
  '=': '==',
  eq: '==',
  '<': '<',
  lt: '<',
  '<=': '<=',
  le: '<=',
  '>': '>',
  gt: '>',
  '>=': '>=',
  ge: '>=',
  '!=': '!=',
  '<>': '!=',
  ne: '!=',
};

function versionTest(value: unknown, b: Bound): boolean {
  const [version, operator = 'eq', strict, versionType] = b.p;
  const op = VERSION_OPS[String(operator)];
  if (!op) throw new ExprEvalError(`version: invalid operator ${JSON.stringify(operator)}; use one of ${Object.keys(VERSION_OPS).join(' ')}`);
  if ((strict !== undefined && strict !== null && truthy(strict)) || (versionType !== undefined && versionType !== null && versionType !== 'loose')) {
    throw new ExprEvalError(`version: only loose version comparison is supported`);
  }
  if (!truthy(value)) throw new ExprEvalError('Input version value cannot be empty');
  if (version === undefined || !truthy(version)) throw new ExprEvalError('Version parameter to compare against cannot be empty');
  const a = looseParts(pyStr(value));
  const c = looseParts(pyStr(version));
  const eq = pyEquals(a, c);
  switch (op) {
    case '==':
      return eq;
    case '!=':
      return !eq;
    default:
      return eq ? op === '<=' || op === '>=' : pyOrder(op, a, c);
  }
}

/** Ansible's boolean() conversion (module_utils.parsing.convert_bool), non-strict. */
function convertBool(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v === 1;
  if (typeof v === 'string') return ['y', 'yes', 'on', '1', 'true', 't'].includes(v.trim().toLowerCase());
  return false;
}

function isLower(s: string): boolean {
  return s === s.toLowerCase() && s !== s.toUpperCase();
}

function isUpper(s: string): boolean {
  return s === s.toUpperCase() && s !== s.toLowerCase();
}

const cmp =
  (op: '==' | '!=' | '<' | '<=' | '>' | '>=') =>
  (v: unknown, b: Bound): boolean => {
    const other = b.p[0];
    if (op === '==') return pyEquals(v, other);
    if (op === '!=') return !pyEquals(v, other);
    return pyOrder(op, v, other);
  };

const one = sig(['other'], 1);

const T: Record<string, TestDef> = {
  defined: { sig: sig(), acceptsUndefined: true, fn: (v) => !(v instanceof Undef) },
  undefined: { sig: sig(), acceptsUndefined: true, fn: (v) => v instanceof Undef },
  none: { sig: sig(), fn: (v) => v === null || v === undefined },
  boolean: { sig: sig(), fn: (v) => typeof v === 'boolean' },
  true: { sig: sig(), fn: (v) => v === true },
  false: { sig: sig(), fn: (v) => v === false },
  // Jinja2: bool is a Number (Python's bool is an int)
  number: { sig: sig(), fn: (v) => typeof v === 'number' || typeof v === 'boolean' },
  integer: { sig: sig(), fn: (v) => typeof v === 'number' && Number.isInteger(v) },
  float: { sig: sig(), fn: (v) => typeof v === 'number' && !Number.isInteger(v) },
  string: { sig: sig(), fn: (v) => typeof v === 'string' },
  mapping: { sig: sig(), fn: (v) => isDict(v) },
  sequence: { sig: sig(), fn: (v) => typeof v === 'string' || Array.isArray(v) || isDict(v) },
  iterable: { sig: sig(), fn: (v) => typeof v === 'string' || Array.isArray(v) || isDict(v) },
  odd: { sig: sig(), fn: (v) => ((asNumber(v, 'odd') % 2) + 2) % 2 === 1 },
  even: { sig: sig(), fn: (v) => asNumber(v, 'even') % 2 === 0 },
  divisibleby: {
    sig: sig(['num'], 1),
    fn: (v, b) => {
      const n = asNumber(b.p[0], 'divisibleby');
      if (n === 0) throw new ExprEvalError('integer division or modulo by zero');
      return asNumber(v, 'divisibleby') % n === 0;
    },
  },
  sameas: { sig: one, fn: (v, b) => v === b.p[0] || (v === undefined && b.p[0] === null) },
  lower: { sig: sig(), fn: (v) => isLower(pyStr(v)) },
  upper: { sig: sig(), fn: (v) => isUpper(pyStr(v)) },
  in: { sig: sig(['seq'], 1), fn: (v, b) => pyContains(b.p[0], v) },
  eq: { sig: one, fn: cmp('==') },
  ne: { sig: one, fn: cmp('!=') },
  lt: { sig: one, fn: cmp('<') },
  le: { sig: one, fn: cmp('<=') },
  gt: { sig: one, fn: cmp('>') },
  ge: { sig: one, fn: cmp('>=') },
  changed: { sig: sig(), fn: isChanged },
  failed: { sig: sig(), fn: (v) => isFailed(v) },
  succeeded: { sig: sig(), fn: (v) => !isFailed(v, 'succeeded') },
  skipped: { sig: sig(), fn: isSkipped },
  finished: {
    sig: sig(),
    fn: (v) => {
      const r = resultOf(v, 'finished');
      return hasKey(r, 'finished') ? pyEquals(r['finished'], 1) : true;
    },
  },
  started: {
    sig: sig(),
    fn: (v) => {
      const r = resultOf(v, 'started');
      return hasKey(r, 'started') ? pyEquals(r['started'], 1) : true;
    },
  },
  match: { sig: sig(['pattern', 'ignorecase', 'multiline'], 0), fn: (v, b) => regexTest(v, b, 'match', 'match') },
  search: { sig: sig(['pattern', 'ignorecase', 'multiline'], 0), fn: (v, b) => regexTest(v, b, 'search', 'search') },
  regex: {
    sig: sig(['pattern', 'ignorecase', 'multiline', 'match_type'], 0),
    fn: (v, b) => {
      const mt = b.p[3] ?? 'search';
      if (mt !== 'search' && mt !== 'match') throw new ExprEvalError(`regex: match_type must be 'search' or 'match', got ${JSON.stringify(mt)}`);
      return regexTest(v, b, mt, 'regex');
    },
  },
  version: { sig: sig(['version', 'operator', 'strict', 'version_type'], 1), fn: versionTest },
  subset: {
    sig: sig(['b'], 1),
    fn: (v, b) => {
      const big = pyIter(b.p[0]);
      return pyIter(v).every((x) => pyContains(big, x));
    },
  },
  superset: {
    sig: sig(['b'], 1),
    fn: (v, b) => {
      const small = pyIter(b.p[0]);
      const big = pyIter(v);
      return small.every((x) => pyContains(big, x));
    },
  },
  contains: { sig: sig(['value'], 1), fn: (v, b) => pyContains(v, b.p[0]) },
  any: { sig: sig(), fn: (v) => pyIter(v).some((x) => truthy(x)) },
  all: { sig: sig(), fn: (v) => pyIter(v).every((x) => truthy(x)) },
  truthy: { sig: sig(['convert_bool'], 0), fn: (v, b) => (b.p[0] !== undefined && truthy(b.p[0]) ? convertBool(v) : truthy(v)) },
  falsy: { sig: sig(['convert_bool'], 0), fn: (v, b) => !(b.p[0] !== undefined && truthy(b.p[0]) ? convertBool(v) : truthy(v)) },
};

const ALIASES: Record<string, string> = {
  equalto: 'eq',
  '==': 'eq',
  '!=': 'ne',
  lessthan: 'lt',
  '<': 'lt',
  '<=': 'le',
  greaterthan: 'gt',
  '>': 'gt',
  '>=': 'ge',
  change: 'changed',
  failure: 'failed',
  success: 'succeeded',
  successful: 'succeeded',
  skip: 'skipped',
  version_compare: 'version',
};

/** The canonical name of a test (aliases and `ansible.builtin.` resolved), or undefined when unknown. */
export function canonicalTest(name: string): string | undefined {
  const bare = name.replace(/^ansible\.(builtin|legacy)\./, '');
  const n = Object.prototype.hasOwnProperty.call(ALIASES, bare) ? ALIASES[bare]! : bare;
  return Object.prototype.hasOwnProperty.call(T, n) ? n : undefined;
}

export function testDef(canonical: string): TestDef {
  const d = Object.prototype.hasOwnProperty.call(T, canonical) ? T[canonical] : undefined;
  if (!d) throw new ExprEvalError(`no test named '${canonical}'`);
  return d;
}

export const TEST_NAMES: readonly string[] = [...Object.keys(T), ...Object.keys(ALIASES)].sort();
