/**
 * veth: a virtual ethernet pair (iproute2). Observes every link with `ip -j -d addr show`:
 * `NAME` must be of kind veth with `link` = PEER (both ends in this namespace).
 */
import { badIfname, ipLinksCommand, linksByName, parseIpLink, type IpLink } from '../facts/iplink.js';
import { sh } from '../transport/quote.js';
import type { Action, ModuleDef } from './types.js';

export interface VethParams extends Record<string, unknown> {
  name: string;
  peer: string;
  state: 'present' | 'absent';
  up: boolean;
  mtu?: number;
}

export interface VethObserved {
  links: IpLink[];
}

function endState(l: IpLink | undefined): string {
  if (!l) return '(absent)';
  return `${l.ifname}: veth peer ${l.link ?? '?'}, ${l.adminUp ? 'up' : 'down'}, mtu ${l.mtu}${l.master !== undefined ? `, master ${l.master}` : ''}`;
}

export const veth: ModuleDef<VethParams, VethObserved> = {
  name: 'veth',
  description: 'A veth pair `name`/`peer` (iproute2), both ends up by default, with an optional MTU. Checked with `ip -j -d addr show`.',
  schema: {
    params: {
      name: { type: 'str', required: true, description: 'One end of the pair, e.g. `br-int-veth` (at most 15 characters).' },
      peer: { type: 'str', required: true, description: 'The other end, e.g. `breth1-veth` (at most 15 characters).' },
      state: { type: 'str', default: 'present', choices: ['present', 'absent'], description: '`present` creates the pair; `absent` deletes it (deleting one end deletes both).' },
      up: { type: 'bool', default: true, description: 'Both ends up (true) or down (false).' },
      mtu: { type: 'int', description: 'The MTU of both ends; left as it is when not given.' },
    },
  },
  async observe(ctx) {
    return { links: parseIpLink(await ctx.run(ipLinksCommand())) };
  },
  decide(p, o) {
    for (const n of [p.name, p.peer]) {
      const bad = badIfname(n);
      if (bad) return { changed: false, actions: [], failed: bad };
    }
    if (p.name === p.peer) return { changed: false, actions: [], failed: 'name and peer must differ' };
    if (p.mtu !== undefined && (p.mtu < 68 || p.mtu > 65535)) return { changed: false, actions: [], failed: `mtu ${p.mtu} is outside 68..65535` };
    const links = linksByName(o.links);
    const a = links.get(p.name);
    const b = links.get(p.peer);
    const before = `${endState(a)}\n${endState(b)}\n`;
    if (a && a.kind !== 'veth') return { changed: false, actions: [], failed: `${p.name} exists and is a ${a.kind ?? 'plain'} interface, not a veth` };
    if (a && a.link !== p.peer) {
      const where = a.linkNetnsid !== undefined ? 'an interface in another network namespace' : (a.link ?? 'an unknown interface');
      return { changed: false, actions: [], failed: `${p.name} is a veth paired with ${where}, not with ${p.peer}: delete it first` };
    }
    if (p.state === 'absent') {
      if (!a) {
        if (b && b.kind === 'veth' && b.link === p.name) return { changed: false, actions: [], failed: `inconsistent pair: ${p.peer} claims ${p.name} as peer` };
        return { changed: false, actions: [], msg: `veth ${p.name} is absent` };
      }
      return {
        changed: true,
        actions: [{ kind: 'run', cmd: sh`ip link del dev ${p.name}`, describe: `delete veth pair ${p.name}/${p.peer}` }],
        msg: `delete veth pair ${p.name}/${p.peer}`,
        diff: [{ before, after: '' }],
      };
    }
    if (!a && b) return { changed: false, actions: [], failed: `${p.peer} already exists (${b.kind ?? 'plain'} interface${b.link !== undefined ? ` paired with ${b.link}` : ''}); cannot create the pair ${p.name}/${p.peer}` };

    const actions: Action[] = [];
    const changes: string[] = [];
    if (!a) {
      // The first end comes up with the `ip link add` that makes the pair (the kernel
      // refuses `up` on the peer there: it is registered first, before its other end).
      const mtu = p.mtu !== undefined ? sh` mtu ${p.mtu}` : sh``;
      const up = p.up ? sh` up` : sh``;
      actions.push({ kind: 'run', cmd: sh`ip link add ${p.name}${mtu}${up} type veth peer name ${p.peer}${mtu}`, describe: `create veth pair ${p.name}/${p.peer}${p.up ? `, ${p.name} up` : ''}` });
      changes.push(`create ${p.name}/${p.peer}`);
      if (p.up) changes.push(`${p.name} up`);
    }
    for (const [n, l] of [
      [p.name, a],
      [p.peer, b],
    ] as const) {
      if (!a && n === p.name) continue; // made just above, as wanted
      if (p.mtu !== undefined && l && l.mtu !== p.mtu) {
        actions.push({ kind: 'run', cmd: sh`ip link set dev ${n} mtu ${p.mtu}`, describe: `set mtu ${p.mtu} on ${n}` });
        changes.push(`${n} mtu ${l.mtu} -> ${p.mtu}`);
      }
      if ((l?.adminUp ?? false) !== p.up) {
        actions.push({ kind: 'run', cmd: sh`ip link set dev ${n} ${p.up ? 'up' : 'down'}`, describe: `bring ${n} ${p.up ? 'up' : 'down'}` });
        changes.push(`${n} ${p.up ? 'up' : 'down'}`);
      }
    }
    if (actions.length === 0) return { changed: false, actions: [], msg: `veth pair ${p.name}/${p.peer} is as wanted` };
    const after = [p.name, p.peer]
      .map((n, i) => {
        const l = i === 0 ? a : b;
        return `${n}: veth peer ${i === 0 ? p.peer : p.name}, ${p.up ? 'up' : 'down'}, mtu ${p.mtu ?? l?.mtu ?? 1500}${l?.master !== undefined ? `, master ${l.master}` : ''}`;
      })
      .join('\n');
    return { changed: true, actions, msg: `veth ${p.name}/${p.peer}: ${changes.join('; ')}`, diff: [{ before, after: `${after}\n` }] };
  },
};
