/**
 * ovs_port: a port of an Open vSwitch bridge. Observed with one ovs-vsctl process: the Port
 * row, the Interface row and every Bridge's name and ports; the bridge the port is on is
 * the one whose ports hold the Port row. A port whose interface has no datapath port
 * (ofport < 0, or an error such as "could not open network device") is re-added, and every
 * change is checked for the datapath port (by ovs-vsctl's own check where it adds the
 * port, ovsAddCommand; by a second command after a `set`), so a port that cannot work
 * fails the task with OVS's own error instead of passing silently.
 */
import {
  atomText,
  encodeOvsAtom,
  interfaceHealth,
  isEmptyValue,
  ovsFindsCommand,
  ovsAddCommand,
  ovsInterfaceCheckCommand,
  ovsTargetParams,
  ovsVsctl,
  parseOvsTables,
  setAtoms,
  valueText,
  type OvsFind,
  type OvsRow,
} from '../facts/ovs.js';
import { sh, type ShellCommand } from '../transport/quote.js';
import { ovsTarget } from './ovs_bridge.js';
import type { Action, ModuleDef } from './types.js';

export interface OvsPortParams extends Record<string, unknown> {
  bridge: string;
  port: string;
  state: 'present' | 'absent';
  type?: string;
  tag?: number;
  db?: string;
  timeout: number;
}

export interface OvsPortObserved {
  /** The bridge the port is on (the Bridge row whose ports hold the Port row), if any. */
  onBridge?: string;
  bridgeExists: boolean;
  port?: OvsRow;
  iface?: OvsRow;
}

function describe(o: OvsPortObserved, name: string): string {
  if (o.onBridge === undefined) return '';
  const h = interfaceHealth(o.iface);
  const type = o.iface ? valueText(o.iface['type'] ?? '') : '';
  const tag = o.port && !isEmptyValue(o.port['tag']) ? valueText(o.port['tag']!) : '-';
  return `port ${name} on ${o.onBridge}\ntype ${type || '(system)'}\ntag ${tag}\ndatapath port ${h.ok ? `ofport ${h.ofport}` : `MISSING (ofport ${h.ofport ?? 'none'}${h.error !== undefined ? `, error: ${h.error}` : ''})`}\n`;
}

export const ovs_port: ModuleDef<OvsPortParams, OvsPortObserved> = {
  name: 'ovs_port',
  description: 'A port of an Open vSwitch bridge (`ovs-vsctl --may-exist add-port`), with its interface type and VLAN tag; a port without a working datapath port is re-added or fails with OVS\'s error.',
  schema: {
    params: {
      bridge: { type: 'str', required: true, description: 'The OVS bridge, e.g. `br-int`.' },
      port: { type: 'str', required: true, description: 'The port (and interface) name, e.g. `br-int-veth`.' },
      state: { type: 'str', default: 'present', choices: ['present', 'absent'], description: '`present` adds the port to the bridge (moving it from another bridge); `absent` removes it from the bridge.' },
      type: { type: 'str', description: 'The interface type (`internal`, `patch`, `geneve`, ...); a system interface when not given. Not managed when not given.' },
      tag: { type: 'int', description: 'The VLAN tag of an access port (0-4095); not managed when not given.' },
      ...ovsTargetParams,
    },
  },
  async observe(ctx, p) {
    // Not `port-to-br`: it fails the whole invocation when the port does not exist.
    const cond = [`name=${encodeOvsAtom(p.port)}`];
    const finds: OvsFind[] = [
      { table: 'Port', columns: ['_uuid', 'name', 'tag'], conditions: cond },
      { table: 'Interface', columns: ['name', 'ofport', 'error', 'type'], conditions: cond },
      { table: 'Bridge', columns: ['name', 'ports'] },
    ];
    const [ports, ifaces, bridges] = parseOvsTables(await ctx.run(ovsFindsCommand(ovsTarget(p), finds)), finds.length) as [OvsRow[], OvsRow[], OvsRow[]];
    const out: OvsPortObserved = { bridgeExists: bridges.some((b) => valueText(b['name'] ?? '') === p.bridge) };
    const portRow = ports[0];
    if (portRow) {
      out.port = portRow;
      const uuid = portRow['_uuid'] !== undefined ? valueText(portRow['_uuid']) : undefined;
      const on = bridges.find((b) => setAtoms(b['ports']).some((a) => atomText(a) === uuid));
      if (on) out.onBridge = valueText(on['name'] ?? '');
    }
    const ifaceRow = ifaces[0];
    if (ifaceRow) out.iface = ifaceRow;
    return out;
  },
  decide(p, o, env) {
    const t = ovsTarget(p);
    const vs = (args: ShellCommand) => ovsVsctl(t, args);
    if (p.tag !== undefined && (p.tag < 0 || p.tag > 4095)) return { changed: false, actions: [], failed: `tag ${p.tag} is outside 0..4095` };
    const before = describe(o, p.port);
    if (p.state === 'absent') {
      if (o.onBridge !== p.bridge) {
        return { changed: false, actions: [], msg: o.onBridge === undefined ? `port ${p.port} is on no bridge` : `port ${p.port} is not on ${p.bridge} (it is on ${o.onBridge})` };
      }
      return {
        changed: true,
        actions: [{ kind: 'run', cmd: vs(sh`--if-exists del-port ${p.bridge} ${p.port}`), describe: `remove port ${p.port} from ${p.bridge}` }],
        msg: `remove port ${p.port} from ${p.bridge}`,
        diff: [{ before, after: '' }],
      };
    }
    if (!o.bridgeExists && !env.checkMode) return { changed: false, actions: [], failed: `OVS bridge ${p.bridge} does not exist` };
    const check: Action = { kind: 'run', cmd: ovsInterfaceCheckCommand(t, p.port), describe: `check that port ${p.port} has a datapath port` };
    const ifaceSets: string[] = [];
    const portSets: string[] = [];
    const curType = o.iface ? valueText(o.iface['type'] ?? '') : '';
    if (p.type !== undefined && (o.iface === undefined || curType !== p.type)) ifaceSets.push(`type=${encodeOvsAtom(p.type)}`);
    const curTag = o.port && !isEmptyValue(o.port['tag']) ? valueText(o.port['tag']!) : undefined;
    if (p.tag !== undefined && curTag !== String(p.tag)) portSets.push(`tag=${p.tag}`);
    /** `-- set Interface P ...` and `-- set Port P ...` for what is to be set. */
    const setParts = (iface: string[], port: string[]): ShellCommand[] => [
      ...(iface.length > 0 ? [sh`-- set Interface ${p.port} ${iface}`] : []),
      ...(port.length > 0 ? [sh`-- set Port ${p.port} ${port}`] : []),
    ];
    const setArgs = (iface: string[], port: string[]): ShellCommand => {
      const parts = setParts(iface, port);
      return parts.length > 0 ? sh` ${parts}` : sh``;
    };
    const after = `port ${p.port} on ${p.bridge}\ntype ${p.type ?? (curType || '(system)')}\ntag ${p.tag ?? curTag ?? '-'}\ndatapath port present\n`;
    const allIface = p.type !== undefined ? [`type=${encodeOvsAtom(p.type)}`] : [];
    const allPort = p.tag !== undefined ? [`tag=${p.tag}`] : [];
    if (o.onBridge === undefined) {
      return {
        changed: true,
        actions: [{ kind: 'run', cmd: ovsAddCommand(t, sh`--may-exist add-port ${p.bridge} ${p.port}${setArgs(allIface, allPort)}`), describe: `add port ${p.port} to ${p.bridge} (it fails where it gets no datapath port)` }],
        msg: `add port ${p.port} to ${p.bridge}`,
        diff: [{ before, after }],
      };
    }
    if (o.onBridge !== p.bridge) {
      return {
        changed: true,
        actions: [
          { kind: 'run', cmd: ovsAddCommand(t, sh`-- del-port ${o.onBridge} ${p.port} -- add-port ${p.bridge} ${p.port}${setArgs(allIface, allPort)}`), describe: `move port ${p.port} from ${o.onBridge} to ${p.bridge}` },
        ],
        msg: `move port ${p.port} from ${o.onBridge} to ${p.bridge}`,
        diff: [{ before, after }],
      };
    }
    const health = interfaceHealth(o.iface);
    if (!health.ok) {
      return {
        changed: true,
        actions: [{ kind: 'run', cmd: ovsAddCommand(t, sh`-- del-port ${p.bridge} ${p.port} -- add-port ${p.bridge} ${p.port}${setArgs(allIface, allPort)}`), describe: `re-add port ${p.port} to ${p.bridge}` }],
        msg: `port ${p.port} had no datapath port (ofport ${health.ofport ?? 'none'}${health.error !== undefined ? `, error: ${health.error}` : ''}): re-add it`,
        diff: [{ before, after }],
      };
    }
    if (ifaceSets.length === 0 && portSets.length === 0) return { changed: false, actions: [], msg: `port ${p.port} is on ${p.bridge} (ofport ${health.ofport})` };
    const cmd = vs(sh`${setParts(ifaceSets, portSets)}`);
    return {
      changed: true,
      actions: [{ kind: 'run', cmd, describe: `set ${[...ifaceSets, ...portSets].join(' ')} on port ${p.port}` }, check],
      msg: `port ${p.port}: set ${[...ifaceSets, ...portSets].join(', ')}`,
      diff: [{ before, after }],
    };
  },
};
