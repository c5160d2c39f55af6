/**
 * Template helpers, and the pure functions behind them.
 *
 * Ansible users write filters (`{{ subnet | ansible.utils.ipaddr('netmask') }}`); here
 * a filter is a helper called with its arguments: `{{netmask subnet}}`,
 * `{{nth_host subnet 1}}`, `{{default mtu 1500}}`, `{{join names ","}}`.
 *
 * The network functions are exported under camelCase names (`netmask`, `nthHost`, ...) so
 * that subnet allocation and modules use exactly what templates use. They accept IPv4 and
 * IPv6, a CIDR (`10.0.0.0/24`, also with host bits set: `10.0.0.7/24`) or a bare address
 * (taken as /32 or /128). Bad input is an InputError naming the value and what is wrong.
 *
 * Usable hosts follow ansible.utils (`first_usable`/`last_usable`), the same for both
 * families: a network of one address has that address as its only host; of two addresses
 * (/31, /127: point-to-point links, RFC 3021/6164) both are hosts; otherwise the first and
 * last addresses are excluded.
 */
import { IPv4, IPv4CidrRange, IPv6, IPv6CidrRange } from 'ip-num';
import { InputError } from '../errors.js';
import { quote as shQuote } from '../transport/quote.js';
import { isPlainObject, typeName, VaultText } from '../yamlsrc.js';

// ---------------------------------------------------------------------------------------
// Undefined values

/**
 * A variable that does not exist, as a value (Jinja's `Undefined`). Templates pass it
 * around so that `default` and `defined` can test it; any other use of it is an error that
 * names the variable and where it was written.
 */
export class Undefined {
  constructor(
    /** e.g. `undefined variable 'pod_subnet'` */
    readonly description: string,
    /** 1-based line and 0-based column inside the template, when known. */
    readonly line?: number,
    readonly column?: number,
  ) {}
}

export function isUndefined(v: unknown): v is Undefined {
  return v === undefined || v instanceof Undefined;
}

/** Jinja's truthiness: false, 0, '', null, undefined, an empty list or mapping are false. */
export function truthy(v: unknown): boolean {
  if (v === undefined || v === null || v instanceof Undefined) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0 && !Number.isNaN(v);
  if (typeof v === 'bigint') return v !== 0n;
  if (typeof v === 'string') return v.length > 0;
  if (Array.isArray(v)) return v.length > 0;
  if (isPlainObject(v)) return Object.keys(v).length > 0;
  return true;
}

/** Structural equality for YAML values (numbers, strings, booleans, null, lists, mappings). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === 'number' && typeof b === 'number') return Number.isNaN(a) && Number.isNaN(b);
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => deepEqual(x, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    return ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

// ---------------------------------------------------------------------------------------
// Networks

export type IpFamily = 4 | 6;

/** A parsed CIDR: the address as written (host bits kept) and its prefix length. */
export interface Cidr {
  family: IpFamily;
  /** The address as a number. */
  address: bigint;
  prefix: number;
  /** Network (first) and last address of the range, as numbers. */
  first: bigint;
  last: bigint;
}

const IPV4_RE = /^\d{1,3}(?:\.\d{1,3}){3}$/;
const PREFIX_RE = /^(?:0|[1-9]\d{0,2})$/;

function bad(value: unknown, why: string): InputError {
  return new InputError(`invalid ${why}: ${JSON.stringify(value) ?? String(value)}`);
}

function parseAddress(text: string, what: string, value: unknown): { family: IpFamily; value: bigint } {
  if (IPV4_RE.test(text)) {
    try {
      return { family: 4, value: new IPv4(text).value };
    } catch {
      throw bad(value, `${what} (an IPv4 octet is out of range or has a leading zero)`);
    }
  }
  if (text.includes(':') && /^[0-9A-Fa-f:.]+$/.test(text)) {
    try {
      return { family: 6, value: new IPv6(text).value };
    } catch {
      throw bad(value, `${what} (not a valid IPv6 address)`);
    }
  }
  throw bad(value, what);
}

/**
 * Parses `addr/prefix` or a bare address (/32, /128). Surrounding whitespace is ignored;
 * anything else that is not exactly an address is an InputError.
 */
export function parseCidr(value: unknown): Cidr {
  if (typeof value !== 'string') {
    throw new InputError(`expected an IP network (CIDR) as a string, got ${typeName(value)}: ${JSON.stringify(value)}`);
  }
  const text = value.trim();
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const addr = parseAddress(addrText, 'IP network (CIDR)', value);
  const bits = addr.family === 4 ? 32 : 128;
  let prefix = bits;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!PREFIX_RE.test(p) || Number(p) > bits) {
      throw bad(value, `IP network (CIDR): the prefix length must be 0..${bits}`);
    }
    prefix = Number(p);
  }
  // ip-num computes the range; it is constructed fresh here (its objects are never shared).
  const range =
    addr.family === 4
      ? IPv4CidrRange.fromCidr(`${IPv4.fromNumber(addr.value).toString()}/${prefix}`)
      : IPv6CidrRange.fromCidr(`${new IPv6(addr.value).toString()}/${prefix}`);
  return {
    family: addr.family,
    address: addr.value,
    prefix,
    first: range.getFirst().value,
    last: range.getLast().value,
  };
}

/** Formats an address number: dotted quad, or RFC 5952 text for IPv6 (`2001:db8::1`). */
export function formatAddress(family: IpFamily, value: bigint): string {
  if (family === 4) return IPv4.fromNumber(value).toString();
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  // the longest run of two or more zero groups (the first one on a tie) becomes '::'
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

function size(c: Cidr): bigint {
  return c.last - c.first + 1n;
}

/** The network address: `network("192.168.1.7/24")` is `192.168.1.0`. */
export function network(cidr: string): string {
  const c = parseCidr(cidr);
  return formatAddress(c.family, c.first);
}

/** The network mask: `255.255.255.0` for a /24 (for IPv6, `ffff:ffff:ffff:ffff::` for a /64). */
export function netmask(cidr: string): string {
  const c = parseCidr(cidr);
  const bits = c.family === 4 ? 32 : 128;
  const all = (1n << BigInt(bits)) - 1n;
  const mask = all ^ ((1n << BigInt(bits - c.prefix)) - 1n);
  return formatAddress(c.family, mask);
}

/** The prefix length: 24 for `10.0.0.0/24`, 32 for a bare IPv4 address. */
export function prefix(cidr: string): number {
  return parseCidr(cidr).prefix;
}

/** The IPv4 broadcast address (the last address of the network). IPv6 has none. */
export function broadcast(cidr: string): string {
  const c = parseCidr(cidr);
  if (c.family === 6) throw new InputError(`IPv6 networks have no broadcast address: ${JSON.stringify(cidr)}`);
  return formatAddress(4, c.last);
}

function usable(c: Cidr): [bigint, bigint] {
  const n = size(c);
  if (n <= 2n) return [c.first, c.last];
  return [c.first + 1n, c.last - 1n];
}

/** The first usable host address (see the module notes for /31, /32, /127, /128). */
export function firstHost(cidr: string): string {
  const c = parseCidr(cidr);
  return formatAddress(c.family, usable(c)[0]);
}

/** The last usable host address. */
export function lastHost(cidr: string): string {
  const c = parseCidr(cidr);
  return formatAddress(c.family, usable(c)[1]);
}

function toIndex(n: unknown): bigint {
  if (typeof n === 'number' && Number.isSafeInteger(n)) return BigInt(n);
  if (typeof n === 'bigint') return n;
  if (typeof n === 'string' && /^-?\d+$/.test(n.trim())) return BigInt(n.trim());
  throw new InputError(`expected an integer index, got ${typeName(n)}: ${JSON.stringify(n)}`);
}

function nth(c: Cidr, n: unknown, cidr: string): bigint {
  const i = toIndex(n);
  const count = size(c);
  const off = i < 0n ? count + i : i;
  if (off < 0n || off >= count) {
    throw new InputError(`index ${i} is outside ${JSON.stringify(cidr)}, which has ${count} addresses`);
  }
  return c.first + off;
}

/**
 * The n-th address of the network, counting the network address as 0 (Ansible's
 * `nthhost`): `nthHost("10.0.0.0/24", 1)` is `10.0.0.1`; a negative n counts from the end
 * (-1 is the last address).
 */
export function nthHost(cidr: string, n: number | string): string {
  const c = parseCidr(cidr);
  return formatAddress(c.family, nth(c, n, cidr));
}

/**
 * An address with the network's prefix, for `ip addr add`: `hostCidr("192.168.1.0/29", 1)`
 * is `192.168.1.1/29`. Without n, the given address itself: `hostCidr("192.168.1.1/29")`.
 */
export function hostCidr(cidr: string, n?: number | string): string {
  const c = parseCidr(cidr);
  const addr = n === undefined ? c.address : nth(c, n, cidr);
  return `${formatAddress(c.family, addr)}/${c.prefix}`;
}

/**
 * Whether `inner` (a network or an address) lies inside `outer`. Networks of different
 * families never contain each other.
 */
export function cidrContains(outer: string, inner: string): boolean {
  const o = parseCidr(outer);
  const i = parseCidr(inner);
  if (o.family !== i.family) return false;
  return i.first >= o.first && i.last <= o.last;
}

// ---------------------------------------------------------------------------------------
// Template helpers

/** A helper as templates see it: positional arguments, no Handlebars options. */
export interface HelperSpec {
  fn: (...args: unknown[]) => unknown;
  /** Allowed number of positional arguments. */
  min: number;
  max: number;
  /** Arguments may be Undefined (the helper decides); otherwise Undefined is an error. */
  acceptsUndefined?: boolean;
  /** One line for error messages: how to call it. */
  usage: string;
}

function str(v: unknown, what: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  throw new InputError(`${what} expects a string, got ${typeName(v)}`);
}

function toJson(v: unknown, indent?: number): string {
  return JSON.stringify(
    v,
    (_k, x: unknown) => {
      if (x instanceof VaultText) throw new InputError('a vault-encrypted value was not decrypted');
      if (typeof x === 'bigint') return x.toString();
      return x;
    },
    indent,
  ) ?? 'null';
}

/** The helpers registered in every template environment, by name. */
export const HELPERS: Readonly<Record<string, HelperSpec>> = {
  default: {
    usage: '{{default value fallback [true]}} (with true, also replaces false, 0, "" and empty lists)',
    min: 2,
    max: 3,
    acceptsUndefined: true,
    fn: (value, fallback, alsoFalsy) => {
      if (isUndefined(value)) return fallback;
      if (alsoFalsy === true && !truthy(value)) return fallback;
      return value;
    },
  },
  defined: {
    usage: '{{#if (defined "name")}} or {{#if (defined name)}}',
    min: 1,
    max: 1,
    acceptsUndefined: true,
    fn: (value) => !isUndefined(value),
  },
  join: {
    usage: '{{join list ","}}',
    min: 1,
    max: 2,
    fn: (list, sep) => {
      if (!Array.isArray(list)) throw new InputError(`join expects a list, got ${typeName(list)}`);
      const s = sep === undefined ? '' : str(sep, 'join separator');
      return list.map((x) => (x === null || x === undefined ? '' : typeof x === 'object' ? toJson(x) : String(x))).join(s);
    },
  },
  length: {
    usage: '{{length list}}',
    min: 1,
    max: 1,
    fn: (v) => {
      if (typeof v === 'string' || Array.isArray(v)) return v.length;
      if (isPlainObject(v)) return Object.keys(v).length;
      throw new InputError(`length expects a list, mapping or string, got ${typeName(v)}`);
    },
  },
  eq: { usage: '{{#if (eq a b)}}', min: 2, max: 2, fn: (a, b) => deepEqual(a, b) },
  ne: { usage: '{{#if (ne a b)}}', min: 2, max: 2, fn: (a, b) => !deepEqual(a, b) },
  and: {
    usage: '{{#if (and a b ...)}}',
    min: 2,
    max: Infinity,
    acceptsUndefined: true,
    // short-circuits like Jinja: an undefined operand after a false one is never looked at
    fn: (...args) => {
      for (const a of args) {
        if (a instanceof Undefined) throw a;
        if (!truthy(a)) return false;
      }
      return true;
    },
  },
  or: {
    usage: '{{#if (or a b ...)}}',
    min: 2,
    max: Infinity,
    acceptsUndefined: true,
    fn: (...args) => {
      for (const a of args) {
        if (a instanceof Undefined) throw a;
        if (truthy(a)) return true;
      }
      return false;
    },
  },
  not: { usage: '{{#if (not a)}}', min: 1, max: 1, fn: (a) => !truthy(a) },
  quote: {
    usage: '{{quote value}} (POSIX sh quoting; a list becomes several quoted words)',
    min: 1,
    max: 1,
    fn: (v) => {
      if (Array.isArray(v)) return v.map((x) => shQuote(str(x, 'quote'))).join(' ');
      return shQuote(str(v, 'quote'));
    },
  },
  json: {
    usage: '{{json value}} or {{json value 2}} (indented)',
    min: 1,
    max: 2,
    fn: (v, indent) => {
      if (indent !== undefined && (typeof indent !== 'number' || !Number.isInteger(indent) || indent < 0 || indent > 10)) {
        throw new InputError('json indent must be an integer 0..10');
      }
      return toJson(v, indent as number | undefined);
    },
  },
  lower: { usage: '{{lower text}}', min: 1, max: 1, fn: (v) => str(v, 'lower').toLowerCase() },
  upper: { usage: '{{upper text}}', min: 1, max: 1, fn: (v) => str(v, 'upper').toUpperCase() },
  network: { usage: '{{network "10.0.0.7/24"}} -> 10.0.0.0', min: 1, max: 1, fn: (c) => network(c as string) },
  netmask: { usage: '{{netmask "10.0.0.0/24"}} -> 255.255.255.0', min: 1, max: 1, fn: (c) => netmask(c as string) },
  prefix: { usage: '{{prefix "10.0.0.0/24"}} -> 24', min: 1, max: 1, fn: (c) => prefix(c as string) },
  broadcast: { usage: '{{broadcast "10.0.0.0/24"}} -> 10.0.0.255', min: 1, max: 1, fn: (c) => broadcast(c as string) },
  first_host: { usage: '{{first_host "10.0.0.0/24"}} -> 10.0.0.1', min: 1, max: 1, fn: (c) => firstHost(c as string) },
  last_host: { usage: '{{last_host "10.0.0.0/24"}} -> 10.0.0.254', min: 1, max: 1, fn: (c) => lastHost(c as string) },
  nth_host: {
    usage: '{{nth_host "10.0.0.0/24" 5}} -> 10.0.0.5',
    min: 2,
    max: 2,
    fn: (c, n) => nthHost(c as string, n as number),
  },
  host_cidr: {
    usage: '{{host_cidr "192.168.1.0/29" 1}} -> 192.168.1.1/29',
    min: 1,
    max: 2,
    fn: (c, n) => hostCidr(c as string, n as number | undefined),
  },
  cidr_contains: {
    usage: '{{#if (cidr_contains "10.0.0.0/8" address)}}',
    min: 2,
    max: 2,
    fn: (o, i) => cidrContains(o as string, i as string),
  },
};
