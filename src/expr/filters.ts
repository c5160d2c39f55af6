/**
 * Filters: `x | name(args)`, the Jinja2 built-ins and Ansible filters people use in
 * conditions. Each takes its (defined) input and bound arguments.
 */
import { canonicalTest, testDef } from './checks.js';
import { ExprEvalError } from './errors.js';
import { pyReFindall, pyReSearch, pyReSub } from './regex.js';
import { bindArgs, sig, type Bound, type Signature } from './signature.js';
import {
  asInt,
  asNumber,
  asString,
  chars,
  dictKeys,
  getItem,
  isDict,
  makeDict,
  need,
  pyEquals,
  pyIter,
  pyJsonDumps,
  pyLen,
  pyOrder,
  pyReplace,
  pySplit,
  pyStr,
  pyStrip,
  pyType,
  truthy,
  Undef,
} from './values.js';

export interface FilterDef {
  readonly sig: Signature;
  /** The input may be undefined (`mandatory`). */
  readonly acceptsUndefined?: boolean;
  /** Evaluated by the evaluator itself because some arguments are only evaluated when needed. */
  readonly special?: 'default' | 'ternary';
  readonly fn: (value: unknown, b: Bound) => unknown;
}

/** Python int(text, base): the value, or null where Python raises ValueError. */
function parseIntText(text: string, base: number): number | null {
  let s = text.trim().toLowerCase();
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  let b = base;
  const prefixed = /^0([box])/.exec(s);
  if (prefixed) {
    const pb = prefixed[1] === 'b' ? 2 : prefixed[1] === 'o' ? 8 : 16;
    if (b === 0 || b === pb) {
      b = pb;
      s = s.slice(2).replace(/^_/, '');
    }
  }
  if (b === 0) {
    if (/^0+(_?0)*$/.test(s)) return 0;
    b = 10;
    if (s.startsWith('0')) return null;
  }
  if (b < 2 || b > 36) throw new ExprEvalError('int() base must be >= 2 and <= 36, or 0');
  const digits = '0123456789abcdefghijklmnopqrstuvwxyz'.slice(0, b);
  if (!new RegExp(`^[${digits}](_?[${digits}])*$`).test(s)) return null;
  const clean = s.replace(/_/g, '');
  const n = b === 10 ? Number(clean) : parseInt(clean, b);
  return sign * n;
}

/** Python float(text), or null where Python raises ValueError. */
function parseFloatText(text: string): number | null {
  const s = text.trim().toLowerCase();
  const m = /^([+-]?)(inf|infinity|nan)$/.exec(s);
  if (m) return m[2] === 'nan' ? NaN : m[1] === '-' ? -Infinity : Infinity;
  const d = '\\d(?:_?\\d)*';
  if (!new RegExp(`^[+-]?(?:${d}(?:\\.(?:${d})?)?|\\.${d})(?:e[+-]?${d})?$`).test(s)) return null;
  return Number(s.replace(/_/g, ''));
}

function truncInt(n: number): number {
  if (!Number.isFinite(n)) {
    if (Number.isNaN(n)) return NaN;
    throw new ExprEvalError('cannot convert float infinity to integer');
  }
  return Math.trunc(n) + 0;
}

/** Jinja2's int filter: int(value), else int(float(value)), else the default. */
function toInt(value: unknown, b: Bound): unknown {
  const dflt = b.p[0] ?? 0;
  const base = b.p[1] === undefined ? 10 : asInt(b.p[1], 'int base');
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number') {
    const t = truncInt(value);
    return Number.isNaN(t) ? dflt : t;
  }
  if (typeof value === 'string') {
    const i = parseIntText(value, base);
    if (i !== null) return i;
    const f = parseFloatText(value);
    if (f === null) return dflt;
    const t = truncInt(f);
    return Number.isNaN(t) ? dflt : t;
  }
  return dflt;
}

function toFloat(value: unknown, b: Bound): unknown {
  const dflt = b.p[0] ?? 0;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number') return value;
  if (typeof value === 'string') return parseFloatText(value) ?? dflt;
  return dflt;
}

/** Ansible's bool filter: true for true, 1, and the strings yes/on/1/true (any case); false otherwise (also for none). */
function toBool(value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value === 1;
  if (typeof value === 'string') return ['yes', 'on', '1', 'true'].includes(value.toLowerCase());
  return false;
}

/** A getter for Jinja2's `attribute=` arguments: dotted paths, integer parts index lists. */
function attrGetter(attribute: unknown): (x: unknown) => unknown {
  const parts = pyStr(attribute)
    .split('.')
    .map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  return (x) => parts.reduce<unknown>((o, p) => getItem(o, p), x);
}

function ignoreCase(caseSensitive: unknown): (x: unknown) => unknown {
  const cs = caseSensitive !== undefined && truthy(caseSensitive);
  return (x) => (!cs && typeof x === 'string' ? x.toLowerCase() : x);
}

function keyFn(b: Bound, csAt: number, attrAt: number): (x: unknown) => unknown {
  const fold = ignoreCase(b.p[csAt]);
  const attr = b.p[attrAt];
  const get = attr === undefined || attr === null ? (x: unknown) => x : attrGetter(attr);
  return (x) => fold(need(get(x)));
}

function minMax(value: unknown, b: Bound, which: 'min' | 'max'): unknown {
  const items = pyIter(value);
  if (items.length === 0) return new Undef('No aggregated item, sequence was empty.');
  const key = keyFn(b, 0, 1);
  let best = items[0];
  for (const x of items.slice(1)) {
    const better = which === 'min' ? pyOrder('<', key(x), key(best)) : pyOrder('>', key(x), key(best));
    if (better) best = x;
  }
  return best;
}

function applyTestByName(name: unknown, value: unknown, args: unknown[]): boolean {
  const canon = canonicalTest(asString(name, 'test name'));
  if (!canon) throw new ExprEvalError(`no test named ${JSON.stringify(name)}`);
  const d = testDef(canon);
  if (!d.acceptsUndefined) need(value);
  return d.fn(value, bindArgs(d.sig, args, []));
}

function selectOrReject(value: unknown, b: Bound, keep: boolean, byAttr: boolean): unknown[] {
  const items = pyIter(value);
  let args = b.rest;
  let get = (x: unknown) => x;
  if (byAttr) {
    const [attr, ...more] = args;
    if (attr === undefined) throw new ExprEvalError('selectattr/rejectattr need an attribute name');
    get = attrGetter(attr);
    args = more;
  }
  const [testName, ...testArgs] = args;
  const pred = testName === undefined ? (x: unknown) => truthy(x) : (x: unknown) => applyTestByName(testName, x, testArgs);
  return items.filter((x) => pred(get(x)) === keep);
}

function mapFilter(value: unknown, b: Bound): unknown[] {
  const items = pyIter(value);
  if (b.kw['attribute'] !== undefined) {
    const get = attrGetter(b.kw['attribute']);
    const hasDefault = 'default' in b.kw;
    return items.map((x) => {
      const v = get(x);
      return v instanceof Undef && hasDefault ? b.kw['default'] : need(v);
    });
  }
  const [name, ...args] = b.rest;
  if (name === undefined) throw new ExprEvalError("map needs a filter name or attribute='...'");
  const canon = canonicalFilter(asString(name, 'filter name'));
  if (!canon) throw new ExprEvalError(`no filter named ${JSON.stringify(name)}`);
  return items.map((x) => applyFilter(canon, x, args, []));
}

function regexFlags(ic: unknown, ml: unknown): { ignorecase: boolean; multiline: boolean } {
  return { ignorecase: ic !== undefined && truthy(ic), multiline: ml !== undefined && truthy(ml) };
}

function regexSearch(value: unknown, b: Bound): unknown {
  const text = pyStr(value);
  const pattern = asString(b.p[0], 'regex_search pattern');
  const groups = b.rest.map((arg) => {
    const a = asString(arg, 'regex_search group');
    const named = /^\\g<(\S+)>$/.exec(a);
    if (named) return /^\d+$/.test(named[1]!) ? Number(named[1]) : named[1]!;
    const num = /^\\(\d+)$/.exec(a);
    if (num) return Number(num[1]);
    throw new ExprEvalError(`regex_search: unknown argument ${JSON.stringify(a)} (give groups as '\\\\1' or '\\\\g<name>')`);
  });
  const m = pyReSearch(pattern, text, regexFlags(b.kw['ignorecase'], b.kw['multiline']), false);
  if (!m) return null;
  if (groups.length === 0) return m[0];
  return groups.map((g) => {
    if (typeof g === 'number') {
      if (g >= m.length) throw new ExprEvalError(`regex_search: no such group ${g}`);
      return m[g] ?? null;
    }
    if (!m.groups || !(g in m.groups)) throw new ExprEvalError(`regex_search: no such group '${g}'`);
    return m.groups[g] ?? null;
  });
}

const F: Record<string, FilterDef> = {
  default: { sig: sig(['default_value', 'boolean'], 0), acceptsUndefined: true, special: 'default', fn: () => null },
  ternary: { sig: sig(['true_val', 'false_val', 'none_val'], 2), special: 'ternary', fn: () => null },
  mandatory: {
    sig: sig(['msg'], 0),
    acceptsUndefined: true,
    fn: (v, b) => {
      if (v instanceof Undef) throw new ExprEvalError(b.p[0] !== undefined && b.p[0] !== null ? pyStr(b.p[0]) : `Mandatory variable not defined: ${v.message}`);
      return v;
    },
  },
  bool: { sig: sig(), fn: toBool },
  int: { sig: sig(['default', 'base'], 0), fn: toInt },
  float: { sig: sig(['default'], 0), fn: toFloat },
  string: { sig: sig(), fn: (v) => pyStr(v) },
  length: { sig: sig(), fn: (v) => pyLen(v) },
  lower: { sig: sig(), fn: (v) => pyStr(v).toLowerCase() },
  upper: { sig: sig(), fn: (v) => pyStr(v).toUpperCase() },
  capitalize: {
    sig: sig(),
    fn: (v) => {
      const [head = '', ...tail] = chars(pyStr(v));
      return head.toUpperCase() + tail.join('').toLowerCase();
    },
  },
  trim: { sig: sig(['chars'], 0), fn: (v, b) => pyStrip(pyStr(v), b.p[0] === undefined || b.p[0] === null ? null : asString(b.p[0], 'trim chars')) },
  replace: {
    sig: sig(['old', 'new', 'count'], 2),
    fn: (v, b) => pyReplace(pyStr(v), pyStr(b.p[0]), pyStr(b.p[1]), b.p[2] === undefined || b.p[2] === null ? -1 : asInt(b.p[2], 'replace count')),
  },
  first: {
    sig: sig(),
    fn: (v) => {
      const items = pyIter(v);
      return items.length > 0 ? items[0] : new Undef('No first item, sequence was empty.');
    },
  },
  last: {
    sig: sig(),
    fn: (v) => {
      const items = pyIter(v);
      return items.length > 0 ? items[items.length - 1] : new Undef('No last item, sequence was empty.');
    },
  },
  join: {
    sig: sig(['d', 'attribute'], 0),
    fn: (v, b) => {
      const get = b.p[1] === undefined || b.p[1] === null ? (x: unknown) => x : attrGetter(b.p[1]);
      return pyIter(v)
        .map((x) => pyStr(need(get(x))))
        .join(b.p[0] === undefined ? '' : pyStr(b.p[0]));
    },
  },
  list: { sig: sig(), fn: (v) => [...pyIter(v)] },
  split: {
    sig: sig(['sep', 'maxsplit'], 0),
    fn: (v, b) => pySplit(asString(v, 'split'), b.p[0] === undefined || b.p[0] === null ? null : asString(b.p[0], 'split separator'), b.p[1] === undefined ? -1 : asInt(b.p[1], 'split maxsplit')),
  },
  regex_search: { sig: sig(['regex'], 1, { varargs: true, kwonly: ['ignorecase', 'multiline'] }), fn: regexSearch },
  regex_replace: {
    sig: sig(['pattern', 'replacement', 'ignorecase', 'multiline'], 0),
    fn: (v, b) => pyReSub(asString(b.p[0] ?? '', 'regex_replace pattern'), asString(b.p[1] ?? '', 'regex_replace replacement'), pyStr(v), regexFlags(b.p[2], b.p[3])),
  },
  regex_findall: {
    sig: sig(['regex', 'multiline', 'ignorecase'], 1),
    fn: (v, b) => pyReFindall(asString(b.p[0], 'regex_findall pattern'), pyStr(v), regexFlags(b.p[2], b.p[1])),
  },
  select: { sig: sig([], 0, { varargs: true }), fn: (v, b) => selectOrReject(v, b, true, false) },
  reject: { sig: sig([], 0, { varargs: true }), fn: (v, b) => selectOrReject(v, b, false, false) },
  selectattr: { sig: sig([], 1, { varargs: true }), fn: (v, b) => selectOrReject(v, b, true, true) },
  rejectattr: { sig: sig([], 1, { varargs: true }), fn: (v, b) => selectOrReject(v, b, false, true) },
  map: { sig: sig([], 0, { varargs: true, kwonly: ['attribute', 'default'] }), fn: mapFilter },
  unique: {
    sig: sig(['case_sensitive', 'attribute'], 0),
    fn: (v, b) => {
      const key = keyFn(b, 0, 1);
      const seen: unknown[] = [];
      const out: unknown[] = [];
      for (const x of pyIter(v)) {
        const k = key(x);
        if (!seen.some((s) => pyEquals(s, k))) {
          seen.push(k);
          out.push(x);
        }
      }
      return out;
    },
  },
  sort: {
    sig: sig(['reverse', 'case_sensitive', 'attribute'], 0),
    fn: (v, b) => {
      const key = keyFn(b, 1, 2);
      const rev = b.p[0] !== undefined && truthy(b.p[0]);
      const keyed = pyIter(v).map((x) => ({ x, k: key(x) }));
      // stable in both directions, as Python's sorted(reverse=True)
      const sign = rev ? -1 : 1;
      keyed.sort((a, c) => sign * (pyOrder('<', a.k, c.k) ? -1 : pyOrder('<', c.k, a.k) ? 1 : 0));
      return keyed.map((e) => e.x);
    },
  },
  min: { sig: sig(['case_sensitive', 'attribute'], 0), fn: (v, b) => minMax(v, b, 'min') },
  max: { sig: sig(['case_sensitive', 'attribute'], 0), fn: (v, b) => minMax(v, b, 'max') },
  reverse: { sig: sig(), fn: (v) => (typeof v === 'string' ? chars(v).reverse().join('') : [...pyIter(v)].reverse()) },
  abs: { sig: sig(), fn: (v) => Math.abs(asNumber(v, 'abs')) },
  to_json: { sig: sig([], 0, { kwonly: ['sort_keys'] }), fn: (v, b) => pyJsonDumps(v, b.kw['sort_keys'] !== undefined && truthy(b.kw['sort_keys'])) },
  from_json: {
    sig: sig(),
    fn: (v) => {
      try {
        return JSON.parse(asString(v, 'from_json')) as unknown;
      } catch (e) {
        if (e instanceof ExprEvalError) throw e;
        throw new ExprEvalError(`from_json: ${(e as Error).message}`);
      }
    },
  },
  type_debug: { sig: sig(), fn: (v) => pyType(v) },
  dict2items: {
    sig: sig(['key_name', 'value_name'], 0),
    fn: (v, b) => {
      if (!isDict(v)) throw new ExprEvalError(`dict2items requires a dictionary, got ${pyType(v)} instead.`);
      const kn = b.p[0] === undefined ? 'key' : pyStr(b.p[0]);
      const vn = b.p[1] === undefined ? 'value' : pyStr(b.p[1]);
      return dictKeys(v).map((k) => makeDict([[kn, k], [vn, v[k]]]));
    },
  },
};

const ALIASES: Record<string, string> = { d: 'default', count: 'length' };

/** The canonical name of a filter (aliases and `ansible.builtin.` resolved), or undefined when unknown. */
export function canonicalFilter(name: string): string | undefined {
  const bare = name.replace(/^ansible\.(builtin|legacy)\./, '');
  const n = Object.prototype.hasOwnProperty.call(ALIASES, bare) ? ALIASES[bare]! : bare;
  return Object.prototype.hasOwnProperty.call(F, n) ? n : undefined;
}

export function filterDef(canonical: string): FilterDef {
  const d = Object.prototype.hasOwnProperty.call(F, canonical) ? F[canonical] : undefined;
  if (!d) throw new ExprEvalError(`no filter named '${canonical}'`);
  return d;
}

/** Applies a (non-special) filter to an input value with evaluated arguments. */
export function applyFilter(canonical: string, value: unknown, args: readonly unknown[], kwargs: readonly (readonly [string, unknown])[]): unknown {
  const d = filterDef(canonical);
  if (d.special) throw new ExprEvalError(`the '${canonical}' filter cannot be used with map`);
  if (!d.acceptsUndefined) need(value);
  return d.fn(value, bindArgs(d.sig, args, kwargs));
}

export const FILTER_NAMES: readonly string[] = [...Object.keys(F), ...Object.keys(ALIASES)].sort();
