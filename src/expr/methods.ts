/**
 * The few Python methods Ansible users call in conditions: `x.startswith('a')`,
 * `x.split(',')`, `d.get('k')`, ... A fixed whitelist dispatched on the receiver's type;
 * nothing else is callable.
 */
import { ExprEvalError } from './errors.js';
import { bindArgs, checkCall, sig, type Bound, type Signature } from './signature.js';
import { asInt, asString, chars, dictKeys, dictKey, hasKey, isDict, pyEquals, pyIter, pyReplace, pyRsplit, pySplit, pyStrip, pyType, type Dict } from './values.js';

interface MethodDef {
  readonly sig: Signature;
  readonly fn: (recv: never, b: Bound) => unknown;
}

const optStr = (v: unknown, what: string): string | null => (v === undefined || v === null ? null : asString(v, what));
const optInt = (v: unknown, dflt: number, what: string): number => (v === undefined || v === null ? dflt : asInt(v, what));

function affixes(v: unknown, what: string): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.map((x) => asString(x, what));
  throw new ExprEvalError(`${what} first arg must be str or a tuple of str, not ${pyType(v)}`);
}

function window(s: string, b: Bound): string {
  if (b.p[1] === undefined && b.p[2] === undefined) return s;
  const cs = chars(s);
  const n = cs.length;
  const norm = (x: unknown, d: number) => {
    if (x === undefined || x === null) return d;
    const i = asInt(x, 'index');
    return Math.min(Math.max(i < 0 ? i + n : i, 0), n);
  };
  return cs.slice(norm(b.p[1], 0), norm(b.p[2], n)).join('');
}

const isCharClass = (re: RegExp) => (s: string) => chars(s).length > 0 && chars(s).every((c) => re.test(c));

const STR: Record<string, MethodDef> = {
  startswith: { sig: sig(['prefix', 'start', 'end'], 1), fn: (s: string, b) => affixes(b.p[0], 'startswith').some((p) => window(s, b).startsWith(p)) },
  endswith: { sig: sig(['suffix', 'start', 'end'], 1), fn: (s: string, b) => affixes(b.p[0], 'endswith').some((p) => window(s, b).endsWith(p)) },
  split: { sig: sig(['sep', 'maxsplit'], 0), fn: (s: string, b) => pySplit(s, optStr(b.p[0], 'split separator'), optInt(b.p[1], -1, 'maxsplit')) },
  rsplit: { sig: sig(['sep', 'maxsplit'], 0), fn: (s: string, b) => pyRsplit(s, optStr(b.p[0], 'rsplit separator'), optInt(b.p[1], -1, 'maxsplit')) },
  strip: { sig: sig(['chars'], 0), fn: (s: string, b) => pyStrip(s, optStr(b.p[0], 'strip chars')) },
  lstrip: { sig: sig(['chars'], 0), fn: (s: string, b) => pyStrip(s, optStr(b.p[0], 'lstrip chars'), 'left') },
  rstrip: { sig: sig(['chars'], 0), fn: (s: string, b) => pyStrip(s, optStr(b.p[0], 'rstrip chars'), 'right') },
  lower: { sig: sig(), fn: (s: string) => s.toLowerCase() },
  upper: { sig: sig(), fn: (s: string) => s.toUpperCase() },
  capitalize: {
    sig: sig(),
    fn: (s: string) => {
      const [h = '', ...t] = chars(s);
      return h.toUpperCase() + t.join('').toLowerCase();
    },
  },
  replace: {
    sig: sig(['old', 'new', 'count'], 2),
    fn: (s: string, b) => pyReplace(s, asString(b.p[0], 'replace old'), asString(b.p[1], 'replace new'), optInt(b.p[2], -1, 'replace count')),
  },
  find: {
    sig: sig(['sub'], 1),
    fn: (s: string, b) => {
      const at = s.indexOf(asString(b.p[0], 'find'));
      return at < 0 ? -1 : chars(s.slice(0, at)).length;
    },
  },
  count: {
    sig: sig(['sub'], 1),
    fn: (s: string, b) => {
      const sub = asString(b.p[0], 'count');
      if (sub === '') return chars(s).length + 1;
      return s.split(sub).length - 1;
    },
  },
  splitlines: {
    sig: sig(),
    fn: (s: string) => {
      const lines = s.split(/\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/);
      if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
      return lines;
    },
  },
  join: {
    sig: sig(['iterable'], 1),
    fn: (s: string, b) =>
      pyIter(b.p[0])
        .map((x, i) => {
          if (typeof x !== 'string') throw new ExprEvalError(`sequence item ${i}: expected str instance, ${pyType(x)} found`);
          return x;
        })
        .join(s),
  },
  isdigit: { sig: sig(), fn: (s: string) => isCharClass(/[0-9]/)(s) },
  isalpha: { sig: sig(), fn: (s: string) => isCharClass(/\p{L}/u)(s) },
  isalnum: { sig: sig(), fn: (s: string) => isCharClass(/[\p{L}\p{N}]/u)(s) },
  isspace: { sig: sig(), fn: (s: string) => isCharClass(/\s/)(s) },
};

const DICT: Record<string, MethodDef> = {
  get: {
    sig: sig(['key', 'default'], 1),
    fn: (d: Dict, b) => {
      const k = dictKey(b.p[0]);
      return k !== undefined && hasKey(d, k) ? d[k] : b.p[1] === undefined ? null : b.p[1];
    },
  },
  keys: { sig: sig(), fn: (d: Dict) => dictKeys(d) },
  values: { sig: sig(), fn: (d: Dict) => dictKeys(d).map((k) => d[k]) },
  items: { sig: sig(), fn: (d: Dict) => dictKeys(d).map((k) => [k, d[k]]) },
};

const LIST: Record<string, MethodDef> = {
  index: {
    sig: sig(['value'], 1),
    fn: (l: unknown[], b) => {
      const at = l.findIndex((x) => pyEquals(x, b.p[0]));
      if (at < 0) throw new ExprEvalError('list.index(x): x not in list');
      return at;
    },
  },
  count: { sig: sig(['value'], 1), fn: (l: unknown[], b) => l.filter((x) => pyEquals(x, b.p[0])).length },
};

const own = (o: Record<string, MethodDef>, k: string): MethodDef | undefined => (Object.prototype.hasOwnProperty.call(o, k) ? o[k] : undefined);

/** Every callable method name (for load-time checks). */
export const METHOD_NAMES: ReadonlySet<string> = new Set([...Object.keys(STR), ...Object.keys(DICT), ...Object.keys(LIST)]);

/** Calls a whitelisted method on a string, dict or list. */
export function callMethod(recv: unknown, name: string, args: readonly unknown[], kwargs: readonly (readonly [string, unknown])[]): unknown {
  const table = typeof recv === 'string' ? STR : isDict(recv) ? DICT : Array.isArray(recv) ? LIST : undefined;
  const def = table ? own(table, name) : undefined;
  if (!def) throw new ExprEvalError(`'${pyType(recv)}' object has no method '${name}'`);
  const what = `${pyType(recv)}.${name}()`;
  const err = checkCall(def.sig, what, args.length, kwargs.map(([k]) => k));
  if (err) throw new ExprEvalError(err);
  return (def.fn as (r: unknown, b: Bound) => unknown)(recv, bindArgs(def.sig, args, kwargs));
}
