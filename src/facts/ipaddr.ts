/** Addresses: what `ip -j -d addr show` (iplink.ts, ipLinksCommand) reports of them. One pure parser. */
import type { ExecResult } from '../modules/types.js';
import { parseJsonOutput } from './iplink.js';

export interface IpAddr {
  family: 'inet' | 'inet6';
  local: string;
  prefixlen: number;
  /** Explicit broadcast address (only when one was set). */
  broadcast?: string;
  /** The peer of a point-to-point address. */
  peer?: string;
  scope: string;
  label?: string;
  secondary: boolean;
  /**
   * `"dynamic": true`: the address is not permanent: it has a finite lifetime that the
   * kernel counts down (SLAAC, a DHCP lease, any address added with `valid_lft N`).
   */
  dynamic: boolean;
  /** Seconds left before the kernel removes the address; LIFETIME_FOREVER for a permanent one. */
  validLifeTime?: number;
}

/** The valid lifetime `ip` reports for a permanent address (`valid_lft forever`). */
export const LIFETIME_FOREVER = 0xffffffff;

/**
 * An address that expires unless renewed (`dynamic`, or a finite valid lifetime): one a
 * DHCP client, SLAAC or another daemon manages, not a configured static address.
 */
export function isLeased(a: IpAddr): boolean {
  return a.dynamic || (a.validLifeTime !== undefined && a.validLifeTime !== LIFETIME_FOREVER);
}

export interface IpAddrLink {
  ifname: string;
  ifindex: number;
  master?: string;
  addrs: IpAddr[];
}

/**
 * Parses `ip -j addr show` or `ip -j -d addr show` (ipLinksCommand in iplink.ts, which the
 * modules ask).
 */
export function parseIpAddr(r: ExecResult): IpAddrLink[] {
  const data = parseJsonOutput(r, r.command);
  if (!Array.isArray(data)) return [];
  const out: IpAddrLink[] = [];
  for (const o of data as Record<string, unknown>[]) {
    if (typeof o !== 'object' || o === null) continue;
    const link: IpAddrLink = { ifname: String(o['ifname'] ?? ''), ifindex: typeof o['ifindex'] === 'number' ? o['ifindex'] : -1, addrs: [] };
    if (typeof o['master'] === 'string') link.master = o['master'];
    const infos = Array.isArray(o['addr_info']) ? (o['addr_info'] as Record<string, unknown>[]) : [];
    for (const a of infos) {
      if (typeof a !== 'object' || a === null) continue;
      const family = a['family'];
      if ((family !== 'inet' && family !== 'inet6') || typeof a['local'] !== 'string' || typeof a['prefixlen'] !== 'number') continue;
      const addr: IpAddr = {
        family,
        local: a['local'],
        prefixlen: a['prefixlen'],
        scope: typeof a['scope'] === 'string' ? a['scope'] : 'global',
        secondary: a['secondary'] === true,
        dynamic: a['dynamic'] === true,
      };
      if (typeof a['broadcast'] === 'string') addr.broadcast = a['broadcast'];
      if (typeof a['address'] === 'string' && a['address'] !== a['local']) addr.peer = a['address'];
      if (typeof a['label'] === 'string') addr.label = a['label'];
      if (typeof a['valid_life_time'] === 'number') addr.validLifeTime = a['valid_life_time'];
      link.addrs.push(addr);
    }
    out.push(link);
  }
  return out;
}

/** `10.0.0.2/24` */
export function addrCidr(a: IpAddr): string {
  return `${a.local}/${a.prefixlen}`;
}
