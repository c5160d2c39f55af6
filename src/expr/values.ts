/**
 * The value model of expressions: plain data (null, booleans, numbers, strings, arrays and
 * plain objects) read with Python's semantics, as Jinja2 does in Ansible: truthiness,
 * equality, ordering, `str()`/`repr()` and `len()`.
 *
 * Only own properties of plain objects (prototype Object.prototype or null) and indices of
 * arrays are ever read: nothing reaches a prototype, a function or a JS internal.
 */
import { UndefinedVariableError } from '../errors.js';
import { ExprEvalError, UndefinedError } from './errors.js';

/** An undefined value: carries the message of the first failed lookup (Ansible's chained undefined). */
export class Undef {
  constructor(readonly message: string) {}
}

/** Throws when `v` is undefined; every use of a value except `is defined` and `default` goes through here. */
export function need(v: unknown): unknown {
  if (v instanceof Undef) throw new UndefinedError(v.message);
  return v;
}

export type Dict = Record<string, unknown>;

/** A plain data mapping: an object whose prototype is Object.prototype or null (proxies of such report their target's). */
export function isDict(v: unknown): v is Dict {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/** obj[key] when obj is a plain mapping that has `key` as its own property with a value; else undefined. */
export function ownValue(obj: Dict, key: string): unknown {
  return readValue(obj, key);
}

/**
 * obj[key], where a variable view renders its value when read: a value that is a template
 * using an undefined variable is undefined here (an Undef with that message), as in Ansible.
 */
export function readValue(obj: Record<string, unknown>, key: string): unknown {
  try {
    // (a view renders the value already to describe the property)
    if (!Object.prototype.hasOwnProperty.call(obj, key)) return undefined;
    return obj[key];
  } catch (e) {
    if (e instanceof UndefinedVariableError) return new Undef(e.reason);
    throw e;
  }
}

/** True when `key` is an own property of the mapping with a value other than JS undefined. */
export function hasKey(obj: Dict, key: string): boolean {
  return hasOwn(obj, key) && obj[key] !== undefined;
}

export function dictKeys(obj: Dict): string[] {
  return Object.keys(obj).filter((k) => obj[k] !== undefined);
}

/** A fresh plain object; keys are defined as own data properties (so `__proto__` is just a key). */
export function makeDict(entries: Iterable<[string, unknown]>): Dict {
  const out: Dict = {};
  for (const [k, v] of entries) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  return out;
}

/** Python's type name of a value, for messages. */
export function pyType(v: unknown): string {
  if (v === null || v === undefined) return 'NoneType';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'string') return 'str';
  if (Array.isArray(v)) return 'list';
  if (isDict(v)) return 'dict';
  if (v instanceof Undef) return 'AnsibleUndefined';
  return 'object';
}

/** How Jinja2 names an object in "has no attribute" messages: `'dict object'`, `'None'`. */
export function objectTypeRepr(v: unknown): string {
  return `'${v === null || v === undefined ? 'None' : `${pyType(v)} object`}'`;
}

export function truthy(v: unknown): boolean {
  need(v);
  if (v === null || v === undefined) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0; // NaN is true, as in Python
  if (typeof v === 'string') return v.length > 0;
  if (Array.isArray(v)) return v.length > 0;
  if (isDict(v)) return dictKeys(v).length > 0;
  return true;
}

const MAX_DATA_DEPTH = 200;

function tooDeep(): never {
  throw new ExprEvalError(`data nested more than ${MAX_DATA_DEPTH} levels deep (or recursive)`);
}

const isNum = (v: unknown): v is number | boolean => typeof v === 'number' || typeof v === 'boolean';

/** Python `==`: structural for lists and dicts, True == 1, 1 == 1.0, and no coercion between str and numbers. */
export function pyEquals(a: unknown, b: unknown, depth = 0): boolean {
  if (depth > MAX_DATA_DEPTH) tooDeep();
  if (a === undefined) a = null;
  if (b === undefined) b = null;
  if (a === b) return true;
  if (isNum(a) && isNum(b)) return Number(a) === Number(b);
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!pyEquals(a[i], b[i], depth + 1)) return false;
    return true;
  }
  if (isDict(a) && isDict(b)) {
    const ka = dictKeys(a);
    const kb = dictKeys(b);
    if (ka.length !== kb.length) return false;
    for (const k of ka) {
      if (!hasKey(b, k)) return false;
      if (!pyEquals(a[k], b[k], depth + 1)) return false;
    }
    return true;
  }
  return false;
}

export type OrderOp = '<' | '<=' | '>' | '>=';

/** Python ordering: numbers (and booleans) with numbers, strings with strings, lists lexicographically; else TypeError. */
export function pyOrder(op: OrderOp, a: unknown, b: unknown, depth = 0): boolean {
  if (depth > MAX_DATA_DEPTH) tooDeep();
  if (isNum(a) && isNum(b)) return cmpOp(op, Number(a), Number(b));
  if (typeof a === 'string' && typeof b === 'string') return cmpOp(op, a, b);
  if (Array.isArray(a) && Array.isArray(b)) {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) {
      if (!pyEquals(a[i], b[i], depth + 1)) return pyOrder(op, a[i], b[i], depth + 1);
    }
    return cmpOp(op, a.length, b.length);
  }
  throw new ExprEvalError(`'${op}' not supported between instances of '${pyType(a)}' and '${pyType(b)}'`);
}

function cmpOp<T extends number | string>(op: OrderOp, a: T, b: T): boolean {
  switch (op) {
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
  }
}

/** Python's `x in container`. */
export function pyContains(container: unknown, x: unknown): boolean {
  if (typeof container === 'string') {
    if (typeof x !== 'string') throw new ExprEvalError(`'in <string>' requires string as left operand, not ${pyType(x)}`);
    return container.includes(x);
  }
  if (Array.isArray(container)) return container.some((e) => pyEquals(e, x));
  if (isDict(container)) {
    const key = dictKey(x);
    return key !== undefined && hasKey(container, key);
  }
  throw new ExprEvalError(`argument of type '${pyType(container)}' is not iterable`);
}

/** The string key a value stands for in a mapping (numbers become their decimal text), or undefined when it cannot be a key. */
export function dictKey(x: unknown): string | undefined {
  if (typeof x === 'string') return x;
  if (typeof x === 'number') return pyStr(x);
  if (typeof x === 'boolean') return x ? 'True' : 'False';
  return undefined;
}

function missing(obj: unknown, key: unknown): Undef {
  const what = typeof key === 'string' ? `attribute ${pyStrRepr(key)}` : `element ${typeof key === 'number' ? pyNumber(key) : pyRepr(key)}`;
  return new Undef(`${objectTypeRepr(obj)} has no ${what}`);
}

/**
 * Jinja2's item/attribute lookup on plain data: `obj.key`, `obj['key']`, `list[-1]`,
 * `text[0]`. A missing key or index gives an Undef naming it, as Jinja2 does; an undefined
 * object gives itself (Ansible's chained undefined, keeping the first failure).
 */
export function getItem(obj: unknown, key: unknown): unknown {
  if (obj instanceof Undef) return obj;
  if (isDict(obj)) {
    const k = dictKey(key);
    if (k === undefined) return missing(obj, key);
    const v = ownValue(obj, k);
    return v === undefined ? missing(obj, key) : v;
  }
  if (Array.isArray(obj) || typeof obj === 'string') {
    if (typeof key !== 'number' && typeof key !== 'boolean') return missing(obj, key);
    const i = Number(key);
    if (!Number.isInteger(i)) return missing(obj, key);
    const seq: readonly unknown[] = typeof obj === 'string' ? chars(obj) : obj;
    const at = i < 0 ? i + seq.length : i;
    if (at < 0 || at >= seq.length) return missing(obj, key);
    const v = seq[at];
    return v === undefined ? null : v;
  }
  return missing(obj, key);
}

/** Code points of a string (Python indexes strings by code point). */
export function chars(s: string): string[] {
  return Array.from(s);
}

/** Python len(). */
export function pyLen(v: unknown): number {
  if (typeof v === 'string') return chars(v).length;
  if (Array.isArray(v)) return v.length;
  if (isDict(v)) return dictKeys(v).length;
  throw new ExprEvalError(`object of type '${pyType(v)}' has no len()`);
}

/** Python iter() materialised: characters of a string, items of a list, keys of a dict. */
export function pyIter(v: unknown): unknown[] {
  if (typeof v === 'string') return chars(v);
  if (Array.isArray(v)) return v;
  if (isDict(v)) return dictKeys(v);
  throw new ExprEvalError(`'${pyType(v)}' object is not iterable`);
}

/** A number as Python prints it: integers without a fraction, other floats in repr() form. */
export function pyNumber(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (n === Infinity) return 'inf';
  if (n === -Infinity) return '-inf';
  if (Number.isInteger(n)) {
    if (Math.abs(n) >= 1e21) return BigInt(n).toString();
    return Object.is(n, -0) ? '0' : String(n);
  }
  // shortest round-trip digits, laid out as Python's float repr: fixed for 1e-4 <= |n| < 1e16
  const [mant = '', expText = '0'] = n.toExponential().split('e');
  const exp = Number(expText);
  if (exp < -4 || exp >= 16) {
    const sign = exp < 0 ? '-' : '+';
    const digits = String(Math.abs(exp)).padStart(2, '0');
    return `${mant}e${sign}${digits}`;
  }
  return String(n);
}

/** Python str(). */
export function pyStr(v: unknown): string {
  if (typeof v === 'string') return v;
  return pyRepr(v);
}

/** Python repr(). */
export function pyRepr(v: unknown, depth = 0): string {
  if (depth > MAX_DATA_DEPTH) tooDeep();
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return pyNumber(v);
  if (typeof v === 'string') return pyStrRepr(v);
  if (Array.isArray(v)) return `[${v.map((x) => pyRepr(x, depth + 1)).join(', ')}]`;
  if (isDict(v)) return `{${dictKeys(v).map((k) => `${pyStrRepr(k)}: ${pyRepr(v[k], depth + 1)}`).join(', ')}}`;
  if (v instanceof Undef) throw new UndefinedError(v.message);
  return `<${pyType(v)}>`;
}

/** Python's repr() of a str: single quotes unless the text has ' and no ". */
export function pyStrRepr(s: string): string {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = q;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '\\') out += '\\\\';
    else if (ch === q) out += '\\' + q;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || (c >= 0x7f && c < 0xa0)) out += '\\x' + c.toString(16).padStart(2, '0');
    else if (c === 0x2028 || c === 0x2029) out += '\\u' + c.toString(16);
    else out += ch;
  }
  return out + q;
}

/** Python's json.dumps() with its defaults (", " and ": " separators, ensure_ascii). */
export function pyJsonDumps(v: unknown, sortKeys = false, depth = 0): string {
  if (depth > MAX_DATA_DEPTH) tooDeep();
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return 'NaN';
    if (v === Infinity) return 'Infinity';
    if (v === -Infinity) return '-Infinity';
    return pyNumber(v);
  }
  if (typeof v === 'string') {
    return JSON.stringify(v).replace(/[\u0080-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
  }
  if (Array.isArray(v)) return `[${v.map((x) => pyJsonDumps(x, sortKeys, depth + 1)).join(', ')}]`;
  if (isDict(v)) {
    const keys = dictKeys(v);
    if (sortKeys) keys.sort();
    return `{${keys.map((k) => `${pyJsonDumps(k)}: ${pyJsonDumps(v[k], sortKeys, depth + 1)}`).join(', ')}}`;
  }
  if (v instanceof Undef) throw new UndefinedError(v.message);
  throw new ExprEvalError(`Object of type ${pyType(v)} is not JSON serializable`);
}

/** A number operand: numbers and booleans (Python's bool is an int). */
export function asNumber(v: unknown, what: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  throw new ExprEvalError(`${what}: expected a number, got ${pyType(v)}`);
}

/** An integer operand (index, count, ...). */
export function asInt(v: unknown, what: string): number {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  throw new ExprEvalError(`${what}: expected an integer, got ${pyType(v)}`);
}

export function asString(v: unknown, what: string): string {
  if (typeof v === 'string') return v;
  throw new ExprEvalError(`${what}: expected a string, got ${pyType(v)}`);
}

const PY_WS = /\s/;

/** Python str.replace(old, new, count=-1). */
export function pyReplace(s: string, old: string, neu: string, count: number): string {
  if (count === 0) return s;
  if (old === '') {
    const cs = chars(s);
    let out = '';
    let n = 0;
    for (let i = 0; i <= cs.length; i++) {
      if (count < 0 || n < count) {
        out += neu;
        n++;
      }
      if (i < cs.length) out += cs[i];
    }
    return out;
  }
  const parts = s.split(old);
  if (count < 0 || parts.length - 1 <= count) return parts.join(neu);
  return parts.slice(0, count + 1).join(neu) + old + parts.slice(count + 1).join(old);
}

/** Python str.split(sep=None, maxsplit=-1). */
export function pySplit(s: string, sep: string | null, maxsplit = -1): string[] {
  if (sep === null) {
    const out: string[] = [];
    let i = 0;
    const n = s.length;
    while (true) {
      while (i < n && PY_WS.test(s[i]!)) i++;
      if (i >= n) break;
      if (maxsplit >= 0 && out.length === maxsplit) {
        out.push(s.slice(i));
        break;
      }
      let j = i;
      while (j < n && !PY_WS.test(s[j]!)) j++;
      out.push(s.slice(i, j));
      i = j;
    }
    return out;
  }
  if (sep === '') throw new ExprEvalError('empty separator');
  const out: string[] = [];
  let start = 0;
  while (maxsplit < 0 || out.length < maxsplit) {
    const at = s.indexOf(sep, start);
    if (at < 0) break;
    out.push(s.slice(start, at));
    start = at + sep.length;
  }
  out.push(s.slice(start));
  return out;
}

/** Python str.rsplit(sep=None, maxsplit=-1). */
export function pyRsplit(s: string, sep: string | null, maxsplit = -1): string[] {
  if (maxsplit < 0) return pySplit(s, sep, -1);
  if (sep === null) {
    const out: string[] = [];
    let j = s.length;
    while (true) {
      while (j > 0 && PY_WS.test(s[j - 1]!)) j--;
      if (j <= 0) break;
      if (out.length === maxsplit) {
        out.unshift(s.slice(0, j));
        break;
      }
      let i = j;
      while (i > 0 && !PY_WS.test(s[i - 1]!)) i--;
      out.unshift(s.slice(i, j));
      j = i;
    }
    return out;
  }
  if (sep === '') throw new ExprEvalError('empty separator');
  const out: string[] = [];
  let end = s.length;
  while (out.length < maxsplit) {
    const at = s.lastIndexOf(sep, end - sep.length);
    if (at < 0 || end - sep.length < 0) break;
    out.unshift(s.slice(at + sep.length, end));
    end = at;
  }
  out.unshift(s.slice(0, end));
  return out;
}

/** Python str.strip/lstrip/rstrip(chars=None). */
export function pyStrip(s: string, chars_: string | null, side: 'both' | 'left' | 'right' = 'both'): string {
  const isStrip = chars_ === null ? (c: string) => PY_WS.test(c) : (c: string) => chars_.includes(c);
  const cs = chars(s);
  let i = 0;
  let j = cs.length;
  if (side !== 'right') while (i < j && isStrip(cs[i]!)) i++;
  if (side !== 'left') while (j > i && isStrip(cs[j - 1]!)) j--;
  return cs.slice(i, j).join('');
}

/** Python slicing seq[start:stop:step] on a list or the code points of a string. */
export function pySlice<T>(seq: T[], start: number | null, stop: number | null, step: number | null): T[] {
  const n = seq.length;
  const st = step ?? 1;
  if (st === 0) throw new ExprEvalError('slice step cannot be zero');
  const norm = (v: number | null, dflt: number, lo: number, hi: number): number => {
    if (v === null) return dflt;
    let x = v < 0 ? v + n : v;
    if (x < lo) x = lo;
    if (x > hi) x = hi;
    return x;
  };
  const out: T[] = [];
  if (st > 0) {
    const a = norm(start, 0, 0, n);
    const b = norm(stop, n, 0, n);
    for (let i = a; i < b; i += st) out.push(seq[i]!);
  } else {
    const a = norm(start, n - 1, -1, n - 1);
    const b = norm(stop, -1, -1, n - 1);
    for (let i = a; i > b; i += st) out.push(seq[i]!);
  }
  return out;
}
