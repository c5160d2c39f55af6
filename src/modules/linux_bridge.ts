/**
 * linux_bridge: a Linux bridge made with iproute2 (never brctl). Observes every link with
 * `ip -j -d addr show` (ipLinksCommand) and converges only what differs: the bridge itself, STP, ageing
 * time, MAC address, ports and the up state.
 */
import { badIfname, ipLinksCommand, linksByName, parseIpLink, type IpLink } from '../facts/iplink.js';
import { sh } from '../transport/quote.js';
import type { Action, ModuleDef } from './types.js';

export interface LinuxBridgeParams extends Record<string, unknown> {
  name: string;
  state: 'present' | 'absent';
  stp: boolean;
  ageing_time: number;
  mac?: string;
  mac_from?: string;
  ports?: string[];
  exclusive_ports: boolean;
  up: boolean;
}

export interface LinuxBridgeObserved {
  links: IpLink[];
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

export const linux_bridge: ModuleDef<LinuxBridgeParams, LinuxBridgeObserved> = {
  name: 'linux_bridge',
  description:
    'A Linux bridge (iproute2): created with `ip link add NAME [address MAC] [up] type bridge stp_state 0 ageing_time 0`, its STP, ageing time, MAC address, ports and up state converged from `ip -j -d addr show`.',
  schema: {
    params: {
      name: { type: 'str', required: true, description: 'The bridge interface name (at most 15 characters), e.g. `breth1`.' },
      state: { type: 'str', default: 'present', choices: ['present', 'absent'], description: '`present` creates or converges the bridge; `absent` deletes it.' },
      stp: { type: 'bool', default: false, description: 'Spanning tree protocol (`stp_state`). Off by default.' },
      ageing_time: {
        type: 'int',
        default: 0,
        description:
          'How long learnt MAC addresses stay in the forwarding database, in seconds (brctl setageing). 0 (the default) makes the bridge flood every frame like a hub. The kernel reports it in centiseconds; the module converts.',
      },
      mac: { type: 'str', description: 'Pin the bridge MAC address to this value (e.g. `02:00:00:00:00:01`).' },
      mac_from: { type: 'str', description: "Pin the bridge MAC address to this interface's MAC (e.g. `eth1`, so neighbours' ARP caches stay valid when eth1 is enslaved)." },
      ports: {
        type: 'list',
        elements: 'str',
        description: 'Interfaces that must be enslaved to the bridge (`ip link set PORT master NAME`). Other ports are left alone unless `exclusive_ports`.',
      },
      exclusive_ports: { type: 'bool', default: false, description: 'Release every port of the bridge that is not listed in `ports` (`ip link set PORT nomaster`).' },
      up: { type: 'bool', default: true, description: 'Bring the bridge up (true) or keep it down (false).' },
    },
    mutuallyExclusive: [['mac', 'mac_from']],
  },
  async observe(ctx) {
    return { links: parseIpLink(await ctx.run(ipLinksCommand())) };
  },
  decide(p, o, env) {
    for (const n of [p.name, ...(p.ports ?? []), ...(p.mac_from !== undefined ? [p.mac_from] : [])]) {
      const bad = badIfname(n);
      if (bad) return { changed: false, actions: [], failed: bad };
    }
    if (p.ageing_time < 0) return { changed: false, actions: [], failed: 'ageing_time must be 0 or more seconds' };
    const links = linksByName(o.links);
    const br = links.get(p.name);
    if (p.state === 'absent') {
      if (!br) return { changed: false, actions: [], msg: `bridge ${p.name} is absent` };
      if (br.kind !== 'bridge') return { changed: false, actions: [], failed: `${p.name} is a ${br.kind ?? 'plain'} interface, not a bridge: not deleting it` };
      return {
        changed: true,
        actions: [{ kind: 'run', cmd: sh`ip link del dev ${p.name}`, describe: `delete bridge ${p.name}` }],
        msg: `delete bridge ${p.name}`,
        diff: [{ before: `bridge ${p.name}\n`, after: '' }],
      };
    }
    if (br && br.kind !== 'bridge') return { changed: false, actions: [], failed: `${p.name} exists and is a ${br.kind ?? 'plain'} interface, not a bridge` };

    let wantMac: string | undefined;
    if (p.mac !== undefined) {
      wantMac = p.mac.toLowerCase();
      if (!MAC.test(wantMac)) return { changed: false, actions: [], failed: `mac '${p.mac}' is not a MAC address like 02:00:00:00:00:01` };
    } else if (p.mac_from !== undefined) {
      const src = links.get(p.mac_from);
      if (!src?.address) {
        if (!env.checkMode) return { changed: false, actions: [], failed: `mac_from: interface ${p.mac_from} does not exist` };
      } else wantMac = src.address;
    }
    const missingPorts = (p.ports ?? []).filter((x) => !links.has(x));
    if (missingPorts.length > 0 && !env.checkMode) {
      return { changed: false, actions: [], failed: `ports of ${p.name} do not exist: ${missingPorts.join(', ')}` };
    }

    const actions: Action[] = [];
    const changes: string[] = [];
    const stp = p.stp ? 1 : 0;
    const ageing = p.ageing_time * 100;
    if (!br) {
      // A new bridge gets its address and up state with the `ip link add` that makes it:
      // one program instead of three.
      const address = wantMac !== undefined ? sh` address ${wantMac}` : sh``;
      const up = p.up ? sh` up` : sh``;
      actions.push({
        kind: 'run',
        cmd: sh`ip link add ${p.name}${address}${up} type bridge stp_state ${stp} ageing_time ${ageing}`,
        describe: `create bridge ${p.name}${wantMac !== undefined ? ` with address ${wantMac}` : ''}${p.up ? ', up' : ''}`,
      });
      changes.push(`create bridge ${p.name} (stp ${p.stp ? 'on' : 'off'}, ageing ${p.ageing_time} s)`);
      if (wantMac !== undefined) changes.push(`address ${wantMac}`);
      if (p.up) changes.push('up');
    } else {
      const opts: string[] = [];
      if (br.bridge?.stpState !== stp) opts.push('stp_state', String(stp));
      if (br.bridge?.ageingTime !== ageing) opts.push('ageing_time', String(ageing));
      if (opts.length > 0) {
        actions.push({ kind: 'run', cmd: sh`ip link set dev ${p.name} type bridge ${opts}`, describe: `set ${opts.join(' ')} on ${p.name}` });
        if (br.bridge?.stpState !== stp) changes.push(`stp ${br.bridge?.stpState ? 'on' : 'off'} -> ${p.stp ? 'on' : 'off'}`);
        if (br.bridge?.ageingTime !== ageing) changes.push(`ageing time ${(br.bridge?.ageingTime ?? 0) / 100} s -> ${p.ageing_time} s`);
      }
    }
    if (br && wantMac !== undefined && br.address !== wantMac) {
      actions.push({ kind: 'run', cmd: sh`ip link set dev ${p.name} address ${wantMac}`, describe: `set the MAC address of ${p.name} to ${wantMac}` });
      changes.push(`address ${br.address ?? '(new)'} -> ${wantMac}`);
    } else if (wantMac === undefined && p.mac_from !== undefined) {
      changes.push(`address from ${p.mac_from} (which does not exist yet)`);
    }
    for (const port of p.ports ?? []) {
      const l = links.get(port);
      if (l?.master === p.name) continue;
      actions.push({ kind: 'run', cmd: sh`ip link set dev ${port} master ${p.name}`, describe: `enslave ${port} to ${p.name}` });
      changes.push(`enslave ${port}${l?.master !== undefined ? ` (from ${l.master})` : ''}`);
    }
    if (p.exclusive_ports && br) {
      const wanted = new Set(p.ports ?? []);
      for (const l of o.links) {
        if (l.master !== p.name || wanted.has(l.ifname)) continue;
        actions.push({ kind: 'run', cmd: sh`ip link set dev ${l.ifname} nomaster`, describe: `release ${l.ifname} from ${p.name}` });
        changes.push(`release ${l.ifname}`);
      }
    }
    if (br && p.up !== br.adminUp) {
      actions.push({ kind: 'run', cmd: sh`ip link set dev ${p.name} ${p.up ? 'up' : 'down'}`, describe: `bring ${p.name} ${p.up ? 'up' : 'down'}` });
      changes.push(p.up ? 'up' : 'down');
    }
    const result = { name: p.name, ...(wantMac !== undefined ? { address: wantMac } : {}) };
    // In check mode a missing mac_from interface may come from an earlier task: predict a change.
    const pending = wantMac === undefined && p.mac_from !== undefined;
    if (actions.length === 0 && !pending) return { changed: false, actions: [], msg: `bridge ${p.name} is as wanted`, result };
    const ports = o.links.filter((l) => l.master === p.name).map((l) => l.ifname);
    const before: BridgeSummary | undefined = br
      ? { up: br.adminUp, stp: br.bridge?.stpState === 1, ageing: (br.bridge?.ageingTime ?? 0) / 100, address: br.address ?? '-', ports }
      : undefined;
    const afterPorts = p.exclusive_ports ? [...(p.ports ?? [])] : [...new Set([...ports, ...(p.ports ?? [])])];
    const after: BridgeSummary = {
      up: p.up,
      stp: p.stp,
      ageing: p.ageing_time,
      address: wantMac ?? (p.mac_from !== undefined ? `(${p.mac_from}'s)` : (br?.address ?? '(assigned by the kernel)')),
      ports: afterPorts,
    };
    return {
      changed: true,
      actions,
      msg: `${p.name}: ${changes.join('; ')}`,
      result,
      diff: [{ before: before ? describeBridge(p.name, before) : '', after: describeBridge(p.name, after) }],
    };
  },
};

interface BridgeSummary {
  up: boolean;
  stp: boolean;
  ageing: number;
  address: string;
  ports: string[];
}

function describeBridge(name: string, b: BridgeSummary): string {
  return [
    `bridge ${name}`,
    `state ${b.up ? 'up' : 'down'}`,
    `stp ${b.stp ? 'on' : 'off'}`,
    `ageing_time ${b.ageing}`,
    `address ${b.address}`,
    `ports ${b.ports.length > 0 ? [...b.ports].sort().join(' ') : '-'}`,
    '',
  ].join('\n');
}
