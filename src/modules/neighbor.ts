/**
 * neighbor: one neighbour (ARP/NDP) entry, checked with `ip -j neigh show to IP dev DEV`,
 * applied with `ip neigh replace IP lladdr MAC dev DEV nud STATE` / `ip neigh del`.
 */
import { badIfname } from '../facts/iplink.js';
import { ipNeighCommand, parseIpNeigh, type IpNeigh } from '../facts/ipneigh.js';
import { sh } from '../transport/quote.js';
import type { ModuleDef } from './types.js';

export interface NeighborParams extends Record<string, unknown> {
  ip: string;
  lladdr?: string;
  dev: string;
  state: 'present' | 'absent';
  nud: 'permanent' | 'noarp' | 'reachable' | 'stale';
}

export interface NeighborObserved {
  /** null when the device does not exist. */
  entries: IpNeigh[] | null;
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const IP = /^(\d{1,3}(\.\d{1,3}){3}|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)$/;

function show(n: IpNeigh, dev: string): string {
  return `${n.dst} lladdr ${n.lladdr ?? '-'} dev ${dev} nud ${n.state.join(',').toLowerCase() || '-'}\n`;
}

export const neighbor: ModuleDef<NeighborParams, NeighborObserved> = {
  name: 'neighbor',
  description: 'A neighbour (ARP/NDP) entry such as the pods gateway: `ip neigh replace IP lladdr MAC dev DEV nud permanent`, checked with `ip -j neigh show to IP dev DEV`.',
  schema: {
    params: {
      ip: { type: 'str', required: true, description: 'The neighbour IP address, e.g. the gateway `192.168.1.1`.' },
      lladdr: { type: 'str', description: 'Its link-layer (MAC) address; required when state is present.' },
      dev: { type: 'str', required: true, description: 'The interface the neighbour is on, e.g. `breth1`.' },
      state: { type: 'str', default: 'present', choices: ['present', 'absent'], description: '`present` adds or replaces the entry; `absent` deletes it.' },
      nud: { type: 'str', default: 'permanent', choices: ['permanent', 'noarp', 'reachable', 'stale'], description: 'The neighbour state to set (`permanent`: never expires nor gets probed).' },
    },
    requiredIf: [['state', 'present', ['lladdr']]],
  },
  async observe(ctx, p) {
    // Bad input is reported by decide; nothing is run for it.
    if (!IP.test(p.ip) || p.ip.includes('/') || badIfname(p.dev) !== undefined) return { entries: [] };
    return { entries: parseIpNeigh(await ctx.run(ipNeighCommand({ to: p.ip, dev: p.dev }))) };
  },
  decide(p, o, env) {
    const bad = badIfname(p.dev);
    if (bad) return { changed: false, actions: [], failed: bad };
    if (!IP.test(p.ip) || p.ip.includes('/')) return { changed: false, actions: [], failed: `ip '${p.ip}' is not an IP address` };
    if (o.entries === null && !env.checkMode) {
      return p.state === 'absent'
        ? { changed: false, actions: [], msg: `device ${p.dev} does not exist: no neighbour entry` }
        : { changed: false, actions: [], failed: `device ${p.dev} does not exist` };
    }
    const entries = o.entries ?? [];
    const cur = entries.find((n) => n.dst.toLowerCase() === p.ip.toLowerCase());
    const before = cur ? show(cur, p.dev) : '';
    if (p.state === 'absent') {
      if (!cur) return { changed: false, actions: [], msg: `no neighbour entry for ${p.ip} on ${p.dev}` };
      return {
        changed: true,
        actions: [{ kind: 'run', cmd: sh`ip neigh del ${p.ip} dev ${p.dev}`, describe: `delete neighbour ${p.ip} on ${p.dev}` }],
        msg: `delete neighbour ${p.ip} on ${p.dev}`,
        diff: [{ before, after: '' }],
      };
    }
    const mac = (p.lladdr ?? '').toLowerCase();
    if (!MAC.test(mac)) return { changed: false, actions: [], failed: `lladdr '${p.lladdr ?? ''}' is not a MAC address like 02:00:00:00:00:01` };
    const nud = p.nud.toUpperCase();
    if (cur && cur.lladdr === mac && cur.state.includes(nud)) {
      return { changed: false, actions: [], msg: `neighbour ${p.ip} lladdr ${mac} on ${p.dev} is ${p.nud}` };
    }
    return {
      changed: true,
      actions: [{ kind: 'run', cmd: sh`ip neigh replace ${p.ip} lladdr ${mac} dev ${p.dev} nud ${p.nud}`, describe: `neighbour ${p.ip} lladdr ${mac} dev ${p.dev} nud ${p.nud}` }],
      msg: cur ? `replace neighbour ${p.ip} on ${p.dev} (was ${cur.lladdr ?? 'no lladdr'} ${cur.state.join(',').toLowerCase()})` : `add neighbour ${p.ip} lladdr ${mac} on ${p.dev}`,
      diff: [{ before, after: `${p.ip} lladdr ${mac} dev ${p.dev} nud ${p.nud}\n` }],
    };
  },
};
