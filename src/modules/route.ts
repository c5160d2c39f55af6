/**
 * route: one IPv4 or IPv6 route, checked with `ip -j route show exact DEST [table T]` and
 * applied with `ip route replace` / `ip route del` (never `route`).
 */
import { badIfname } from '../facts/iplink.js';
import { ipRouteCommand, parseIpRoute, type IpRoute } from '../facts/iproute.js';
import { sh } from '../transport/quote.js';
import type { Action, ModuleDef } from './types.js';

export interface RouteParams extends Record<string, unknown> {
  dest: string;
  dev?: string;
  via?: string;
  metric?: number;
  table?: string;
  scope?: 'global' | 'link' | 'host';
  state: 'present' | 'absent';
}

export interface RouteObserved {
  routes: IpRoute[];
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9A-Fa-f:.]+$/;

function ipv4ToInt(a: string): number {
  return a.split('.').reduce((n, x) => n * 256 + Number(x), 0);
}

/** Why `dest` is not `default` or an address with an optional prefix length (host bits clear). */
export function badDest(dest: string): string | undefined {
  if (dest === 'default') return undefined;
  const [addr = '', len, extra] = dest.split('/');
  if (extra !== undefined) return `dest '${dest}' is not an address or a CIDR prefix`;
  if (IPV4.test(addr)) {
    if (len === undefined) return undefined;
    if (!/^\d+$/.test(len) || Number(len) > 32) return `dest '${dest}': bad prefix length`;
    const bits = Number(len);
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    if ((ipv4ToInt(addr) & ~mask) >>> 0 !== 0) return `dest '${dest}' has host bits set (the network is ${intToIpv4(ipv4ToInt(addr) & mask)}/${bits})`;
    return undefined;
  }
  if (addr.includes(':') && IPV6.test(addr)) {
    if (len !== undefined && (!/^\d+$/.test(len) || Number(len) > 128)) return `dest '${dest}': bad prefix length`;
    return undefined;
  }
  return `dest '${dest}' is not 'default', an IP address or a CIDR prefix`;
}

function intToIpv4(n: number): string {
  const u = n >>> 0;
  return [u >>> 24, (u >>> 16) & 255, (u >>> 8) & 255, u & 255].join('.');
}

export function routeFamily(p: Pick<RouteParams, 'dest' | 'via'>): 4 | 6 {
  if (p.dest.includes(':')) return 6;
  if (p.dest === 'default' && p.via !== undefined && p.via.includes(':')) return 6;
  return 4;
}

/** Whether an existing route is the one the parameters describe (unset parameters match anything, except `via`: no gateway). */
export function routeMatches(r: IpRoute, p: RouteParams): boolean {
  if (r.type !== undefined && r.type !== 'unicast') return false;
  if (p.dev !== undefined && r.dev !== undefined && r.dev !== p.dev) return false;
  if ((r.gateway ?? undefined) !== p.via) return false;
  if (p.metric !== undefined && (r.metric ?? 0) !== p.metric) return false;
  if (p.scope !== undefined && (r.scope ?? 'global') !== p.scope) return false;
  return true;
}

function show(r: IpRoute, fam: 4 | 6): string {
  const parts = [fam === 6 ? 'ip -6 route' : 'ip route', r.dst];
  if (r.gateway !== undefined) parts.push('via', r.gateway);
  if (r.dev !== undefined) parts.push('dev', r.dev);
  if (r.metric !== undefined) parts.push('metric', String(r.metric));
  if (r.scope !== undefined) parts.push('scope', r.scope);
  if (r.protocol !== undefined) parts.push('proto', r.protocol);
  return parts.join(' ');
}

export const route: ModuleDef<RouteParams, RouteObserved> = {
  name: 'route',
  description: 'One IPv4 or IPv6 route (`ip route replace` / `ip route del`), checked exactly with `ip -j route show exact DEST`.',
  schema: {
    params: {
      dest: { type: 'str', required: true, description: 'The destination: a CIDR prefix (`192.168.0.0/16`), a host address (`192.168.1.1` or `/32`), or `default`.' },
      dev: { type: 'str', description: 'The output interface, e.g. `breth1`.' },
      via: { type: 'str', aliases: ['gateway'], description: 'The gateway address. Without it the route is direct (on-link through `dev`).' },
      metric: { type: 'int', description: 'The route metric (priority). When not given, an existing route with any metric is accepted; a new one gets the kernel default.' },
      table: { type: 'str', description: 'The routing table (name or number); `main` when not given.' },
      scope: { type: 'str', choices: ['global', 'link', 'host'], description: 'The route scope; chosen by the kernel when not given.' },
      state: { type: 'str', default: 'present', choices: ['present', 'absent'], description: '`present` adds or replaces the route; `absent` deletes the routes to `dest` that match the other parameters given.' },
    },
  },
  async observe(ctx, p) {
    // Bad input is reported by decide; nothing is run for it.
    if (badDest(p.dest) !== undefined) return { routes: [] };
    const fam = routeFamily(p);
    const r = await ctx.run(ipRouteCommand({ family: fam, exact: p.dest, ...(p.table !== undefined ? { table: p.table } : {}) }));
    return { routes: parseIpRoute(r) };
  },
  decide(p, o) {
    const bad = badDest(p.dest) ?? (p.dev !== undefined ? badIfname(p.dev) : undefined);
    if (bad) return { changed: false, actions: [], failed: bad };
    if (p.via !== undefined && !IPV4.test(p.via) && !(p.via.includes(':') && IPV6.test(p.via))) {
      return { changed: false, actions: [], failed: `via '${p.via}' is not an IP address` };
    }
    const fam = routeFamily(p);
    const ip = fam === 6 ? sh`ip -6` : sh`ip`;
    const table = p.table !== undefined ? sh` table ${p.table}` : sh``;
    const before = o.routes.map((r) => `${show(r, fam)}\n`).join('');
    if (p.state === 'absent') {
      const doomed = o.routes.filter(
        (r) =>
          (r.type === undefined || r.type === 'unicast') &&
          (p.dev === undefined || r.dev === p.dev) &&
          (p.via === undefined || r.gateway === p.via) &&
          (p.metric === undefined || (r.metric ?? 0) === p.metric),
      );
      if (doomed.length === 0) return { changed: false, actions: [], msg: `no route to ${p.dest} to delete` };
      const actions: Action[] = doomed.map((r) => {
        const via = r.gateway !== undefined ? sh` via ${r.gateway}` : sh``;
        const dev = r.dev !== undefined ? sh` dev ${r.dev}` : p.dev !== undefined ? sh` dev ${p.dev}` : sh``;
        const metric = r.metric !== undefined ? sh` metric ${r.metric}` : sh``;
        return { kind: 'run', cmd: sh`${ip} route del ${p.dest}${via}${dev}${metric}${table}`, describe: `delete route ${show(r, fam)}` };
      });
      const after = o.routes.filter((r) => !doomed.includes(r)).map((r) => `${show(r, fam)}\n`).join('');
      return { changed: true, actions, msg: `delete ${doomed.length} route(s) to ${p.dest}`, diff: [{ before, after }] };
    }
    if (p.dev === undefined && p.via === undefined) return { changed: false, actions: [], failed: 'a route needs dev, via, or both' };
    const found = o.routes.find((r) => routeMatches(r, p));
    if (found) return { changed: false, actions: [], msg: `route ${show(found, fam)} is in place`, result: { route: found.raw } };
    const via = p.via !== undefined ? sh` via ${p.via}` : sh``;
    const dev = p.dev !== undefined ? sh` dev ${p.dev}` : sh``;
    const metric = p.metric !== undefined ? sh` metric ${p.metric}` : sh``;
    const scope = p.scope !== undefined ? sh` scope ${p.scope}` : sh``;
    const cmd = sh`${ip} route replace ${p.dest}${via}${dev}${metric}${scope}${table}`;
    const wanted = [fam === 6 ? 'ip -6 route' : 'ip route', p.dest, ...(p.via !== undefined ? ['via', p.via] : []), ...(p.dev !== undefined ? ['dev', p.dev] : []), ...(p.metric !== undefined ? ['metric', String(p.metric)] : [])].join(' ');
    return {
      changed: true,
      actions: [{ kind: 'run', cmd, describe: `route ${wanted}` }],
      msg: o.routes.length > 0 ? `replace route to ${p.dest}: ${wanted}` : `add route ${wanted}`,
      diff: [{ before, after: `${wanted}\n` }],
    };
  },
};
