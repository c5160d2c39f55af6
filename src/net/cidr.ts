/**
 * IPv4 networks and addresses for the cluster network plan, parsed and formatted with
 * ip-num. Addresses are kept as plain numbers (an IPv4 address fits exactly in a double),
 * so the planner's arithmetic stays cheap; every value entering or leaving goes through
 * ip-num.
 */
import { IPv4, IPv4CidrRange, IPv4Prefix } from 'ip-num';

/** An IPv4 network: its first and last address (inclusive) and its prefix length. */
export interface Net4 {
  first: number;
  last: number;
  prefix: number;
}

/** A parse result: the value, or why the text is not one (a phrase about the value). */
export type Parsed<T> = { ok: true; value: T } | { ok: false; why: string };

const CIDR_RE = /^\d{1,3}(?:\.\d{1,3}){3}\/(?:[0-9]|[12][0-9]|3[0-2])$/;
const ADDR_RE = /^\d{1,3}(?:\.\d{1,3}){3}$/;

function show(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : JSON.stringify(value) ?? String(value);
}

/**
 * Parses `a.b.c.d/n` (an IPv4 network in CIDR notation). Host bits must be zero
 * (`192.168.1.5/29` is refused, naming `192.168.1.0/29`), octets have no leading zeros.
 */
export function parseNet(value: unknown): Parsed<Net4> {
  if (typeof value !== 'string') {
    return { ok: false, why: `must be an IPv4 network in CIDR notation (such as 192.168.1.0/29), got ${show(value)}` };
  }
  const text = value.trim();
  let range: IPv4CidrRange | undefined;
  if (CIDR_RE.test(text)) {
    try {
      range = IPv4CidrRange.fromCidr(text);
    } catch {
      range = undefined;
    }
  }
  if (!range) return { ok: false, why: `${show(value)} is not an IPv4 network in CIDR notation (such as 192.168.1.0/29)` };
  const net: Net4 = { first: Number(range.getFirst().value), last: Number(range.getLast().value), prefix: Number(range.getPrefix().value) };
  const addr = Number(new IPv4(text.slice(0, text.indexOf('/'))).value);
  if (addr !== net.first) return { ok: false, why: `${show(value)} has host bits set (the network is ${formatNet(net)})` };
  return { ok: true, value: net };
}

/** Parses a dotted-quad IPv4 address (no prefix). */
export function parseAddr(value: unknown): Parsed<number> {
  if (typeof value !== 'string') return { ok: false, why: `must be an IPv4 address (such as 172.16.2.10), got ${show(value)}` };
  const text = value.trim();
  if (ADDR_RE.test(text)) {
    try {
      return { ok: true, value: Number(new IPv4(text).value) };
    } catch {
      // fall through to the error below
    }
  }
  return { ok: false, why: `${show(value)} is not an IPv4 address (such as 172.16.2.10)` };
}

/** Whether a string is an IPv4 address literal (not a host name). */
export function isAddrText(value: unknown): boolean {
  return typeof value === 'string' && parseAddr(value).ok;
}

export function formatAddr(n: number): string {
  return IPv4.fromNumber(BigInt(n)).toString();
}

export function formatNet(net: Net4): string {
  return new IPv4CidrRange(IPv4.fromNumber(BigInt(net.first)), IPv4Prefix.fromNumber(BigInt(net.prefix))).toCidrString();
}

/** The network of a prefix length that starts at `first` (which must be aligned). */
export function netAt(first: number, prefix: number): Net4 {
  return { first, last: first + 2 ** (32 - prefix) - 1, prefix };
}

/** `255.255.255.248` for 29. */
export function netmaskOf(prefix: number): string {
  return IPv4Prefix.fromNumber(BigInt(prefix)).toMask().toString();
}

export function overlaps(a: { first: number; last: number }, b: { first: number; last: number }): boolean {
  return a.first <= b.last && b.first <= a.last;
}

export function inside(inner: { first: number; last: number }, outer: { first: number; last: number }): boolean {
  return inner.first >= outer.first && inner.last <= outer.last;
}
