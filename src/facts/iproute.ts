/** Routes: `ip -j [-6] route show [table T] [exact DEST] [dev DEV]`. One command and one pure parser. */
import type { ExecResult } from '../modules/types.js';
import { sh, type ShellCommand } from '../transport/quote.js';
import { isNoDevice, parseJsonOutput } from './iplink.js';

export interface IpRoute {
  /** `default`, `10.0.0.0/24`, or a host address without prefix length (`10.0.0.1`). */
  dst: string;
  /** Absent when the route is unicast. */
  type?: string;
  gateway?: string;
  /** Absent when the command was filtered by `dev`. */
  dev?: string;
  metric?: number;
  /** `kernel`, `static`, `dhcp`, ...; absent for `boot` (what `ip route add` gives). */
  protocol?: string;
  /** Absent for `global`. */
  scope?: string;
  prefsrc?: string;
  /** Absent for `main`. */
  table?: string;
  flags: string[];
  raw: Record<string, unknown>;
}

export interface RouteQuery {
  family?: 4 | 6;
  /** A table name or number, or `all`. */
  table?: string;
  exact?: string;
  dev?: string;
}

/**
 * `ip -j [-4|-6] route show [table T] [exact DEST] [dev DEV]`. Without a family, `table all`
 * lists the routes of every family the kernel has together (IPv4, IPv6, and MPLS or
 * multicast cache entries where those are in use): give one to get one, or tell them
 * apart with routeFamily().
 */
export function ipRouteCommand(q: RouteQuery = {}): ShellCommand {
  const words: string[] = ['ip', '-j'];
  if (q.family !== undefined) words.push(q.family === 6 ? '-6' : '-4');
  words.push('route', 'show');
  if (q.table !== undefined) words.push('table', q.table);
  if (q.exact !== undefined) words.push('exact', q.exact);
  if (q.dev !== undefined) words.push('dev', q.dev);
  return sh`${words}`;
}

const IPV4_DST = /^(default|\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?)$/;
const IPV4_ADDR = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * The address family of a route read from a listing of every family (`ip -j route show
 * table all` without -4 or -6), or undefined for one of no address family underlay knows
 * (an MPLS label route, a multicast cache entry). IPv6: an address in it is IPv6, or it
 * carries `pref` (the router preference the kernel reports for every IPv6 route and for
 * no IPv4 one), which tells an IPv6 `default` without a gateway from an IPv4 one. IPv4:
 * its destination is `default` or an IPv4 prefix, and its gateway and source, where given,
 * are IPv4 addresses (a nexthop `via inet6` is in `via`, not `gateway`).
 */
export function routeFamily(r: IpRoute): 4 | 6 | undefined {
  if ([r.dst, r.gateway, r.prefsrc].some((a) => a !== undefined && a.includes(':')) || 'pref' in r.raw) return 6;
  if (IPV4_DST.test(r.dst) && [r.gateway, r.prefsrc].every((a) => a === undefined || IPV4_ADDR.test(a))) return 4;
  return undefined;
}

/** Parses `ip -j route show`; a device that does not exist gives []. */
export function parseIpRoute(r: ExecResult): IpRoute[] {
  if (isNoDevice(r)) return [];
  const data = parseJsonOutput(r, 'ip -j route show');
  if (!Array.isArray(data)) return [];
  const out: IpRoute[] = [];
  for (const o of data as Record<string, unknown>[]) {
    if (typeof o !== 'object' || o === null || typeof o['dst'] !== 'string') continue;
    const route: IpRoute = { dst: o['dst'], flags: Array.isArray(o['flags']) ? (o['flags'] as unknown[]).map(String) : [], raw: o };
    for (const k of ['type', 'gateway', 'dev', 'protocol', 'scope', 'prefsrc', 'table'] as const) {
      const v = o[k];
      if (typeof v === 'string') route[k] = v;
      else if (typeof v === 'number') route[k] = String(v);
    }
    if (typeof o['metric'] === 'number') route.metric = o['metric'];
    out.push(route);
  }
  return out;
}
