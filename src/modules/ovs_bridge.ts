/**
 * ovs_bridge: an Open vSwitch bridge. The database row alone is not trusted: ovs-vsctl
 * add-br without a usable datapath prints "Error detected", exits 0 and leaves a row with
 * nothing behind it, so the bridge's own interface must also have an ofport >= 0 and no
 * error. Such a broken bridge is repaired (datapath_type set, or the bridge re-created),
 * and every change is checked for the datapath port (by ovs-vsctl's own check where it
 * adds the bridge, ovsAddCommand; by a second command after a `set`).
 */
import {
  atomText,
  encodeOvsAtom,
  interfaceHealth,
  isEmptyValue,
  mapEntries,
  mapGet,
  ovsFindsCommand,
  ovsAddCommand,
  ovsInterfaceCheckCommand,
  ovsTargetParams,
  ovsVsctl,
  parseOvsTables,
  valueText,
  type OvsFind,
  type OvsRow,
  type OvsTarget,
} from '../facts/ovs.js';
import { sh, type ShellCommand } from '../transport/quote.js';
import type { Action, ModuleDef } from './types.js';

export interface OvsBridgeParams extends Record<string, unknown> {
  name: string;
  state: 'present' | 'absent';
  datapath_type?: string;
  fail_mode?: 'secure' | 'standalone';
  external_ids?: Record<string, unknown>;
  db?: string;
  timeout: number;
}

export interface OvsBridgeObserved {
  bridge?: OvsRow;
  iface?: OvsRow;
}

export function ovsTarget(p: { db?: string; timeout?: number }): OvsTarget {
  return { ...(p.db !== undefined ? { db: p.db } : {}), ...(p.timeout !== undefined ? { timeout: p.timeout } : {}) };
}

function describeRow(name: string, b: OvsRow | undefined, i: OvsRow | undefined): string {
  if (!b) return '';
  const h = interfaceHealth(i);
  const lines = [
    `bridge ${name}`,
    `datapath_type ${valueText(b['datapath_type'] ?? '') || '(system)'}`,
    `fail_mode ${isEmptyValue(b['fail_mode']) ? '-' : valueText(b['fail_mode']!)}`,
    `external_ids ${valueText(b['external_ids'] ?? { pairs: [] })}`,
    `datapath port ${h.ok ? `ofport ${h.ofport}` : `MISSING (ofport ${h.ofport ?? 'none'}${h.error !== undefined ? `, error: ${h.error}` : ''})`}`,
  ];
  return `${lines.join('\n')}\n`;
}

/** `set bridge NAME col=value ...` words for the columns that differ. */
function columnSets(p: OvsBridgeParams, row: OvsRow | undefined): string[] {
  const sets: string[] = [];
  if (p.datapath_type !== undefined && (row === undefined || valueText(row['datapath_type'] ?? '') !== p.datapath_type)) {
    sets.push(`datapath_type=${encodeOvsAtom(p.datapath_type)}`);
  }
  if (p.fail_mode !== undefined && (row === undefined || isEmptyValue(row['fail_mode']) || valueText(row['fail_mode']!) !== p.fail_mode)) {
    sets.push(`fail_mode=${p.fail_mode}`);
  }
  for (const [k, v] of Object.entries(p.external_ids ?? {})) {
    const cur = row ? mapGet(row['external_ids'], k) : undefined;
    if (cur === undefined || atomText(cur) !== String(v)) sets.push(`external_ids:${encodeOvsAtom(k)}=${encodeOvsAtom(String(v))}`);
  }
  return sets;
}

export const ovs_bridge: ModuleDef<OvsBridgeParams, OvsBridgeObserved> = {
  name: 'ovs_bridge',
  description:
    'An Open vSwitch bridge (`ovs-vsctl --may-exist add-br`), with its datapath type, fail mode and external ids; a bridge row without a working datapath port is detected and repaired.',
  schema: {
    params: {
      name: { type: 'str', required: true, description: 'The bridge name, e.g. `br-int`.' },
      state: { type: 'str', default: 'present', choices: ['present', 'absent'], description: '`present` creates or converges the bridge; `absent` deletes it (`del-br`).' },
      datapath_type: {
        type: 'str',
        description:
          "The datapath: `netdev` (userspace; needed where the openvswitch kernel module is missing) or `system` (kernel). When not given, the bridge's datapath type is not managed (a new bridge gets the system datapath).",
      },
      fail_mode: { type: 'str', choices: ['secure', 'standalone'], description: 'What the bridge does without a controller; not managed when not given.' },
      external_ids: { type: 'dict', description: 'Keys of the bridge external_ids map to set (other keys are left alone).' },
      ...ovsTargetParams,
    },
  },
  async observe(ctx, p) {
    const cond = [`name=${encodeOvsAtom(p.name)}`];
    const finds: OvsFind[] = [
      { table: 'Bridge', columns: ['name', 'datapath_type', 'fail_mode', 'external_ids'], conditions: cond },
      { table: 'Interface', columns: ['name', 'ofport', 'error'], conditions: cond },
    ];
    const [bridges, ifaces] = parseOvsTables(await ctx.run(ovsFindsCommand(ovsTarget(p), finds)), finds.length) as [OvsRow[], OvsRow[]];
    const out: OvsBridgeObserved = {};
    const bridge = bridges[0];
    if (bridge) out.bridge = bridge;
    const iface = ifaces[0];
    if (iface) out.iface = iface;
    return out;
  },
  decide(p, o) {
    const t = ovsTarget(p);
    const vs = (args: ShellCommand) => ovsVsctl(t, args);
    const before = describeRow(p.name, o.bridge, o.iface);
    if (p.state === 'absent') {
      if (!o.bridge) return { changed: false, actions: [], msg: `OVS bridge ${p.name} is absent` };
      return {
        changed: true,
        actions: [{ kind: 'run', cmd: vs(sh`--if-exists del-br ${p.name}`), describe: `delete OVS bridge ${p.name}` }],
        msg: `delete OVS bridge ${p.name}`,
        diff: [{ before, after: '' }],
      };
    }
    const check: Action = { kind: 'run', cmd: ovsInterfaceCheckCommand(t, p.name), describe: `check that OVS bridge ${p.name} has a datapath port` };
    const sets = columnSets(p, o.bridge);
    const setCmd = (words: string[]) => sh`-- set bridge ${p.name} ${words}`;
    const afterRow = (): string => {
      const dp = p.datapath_type ?? (o.bridge ? valueText(o.bridge['datapath_type'] ?? '') : '');
      const fm = p.fail_mode ?? (o.bridge && !isEmptyValue(o.bridge['fail_mode']) ? valueText(o.bridge['fail_mode']!) : '-');
      const ids = new Map<string, string>(mapEntries(o.bridge?.['external_ids']).map(([k, v]) => [k, atomText(v)]));
      for (const [k, v] of Object.entries(p.external_ids ?? {})) ids.set(k, String(v));
      const idsText = `{${[...ids].map(([k, v]) => `${k}=${v}`).sort().join(',')}}`;
      return `bridge ${p.name}\ndatapath_type ${dp || '(system)'}\nfail_mode ${fm}\nexternal_ids ${idsText}\ndatapath port present\n`;
    };
    if (!o.bridge) {
      const cmd = ovsAddCommand(t, sets.length > 0 ? sh`--may-exist add-br ${p.name} ${setCmd(sets)}` : sh`--may-exist add-br ${p.name}`);
      return {
        changed: true,
        actions: [{ kind: 'run', cmd, describe: `create OVS bridge ${p.name} (it fails where it gets no datapath port)` }],
        msg: `create OVS bridge ${p.name}${p.datapath_type !== undefined ? ` (datapath_type ${p.datapath_type})` : ''}`,
        diff: [{ before: '', after: afterRow() }],
      };
    }
    const health = interfaceHealth(o.iface);
    const repairsDatapath = sets.some((s) => s.startsWith('datapath_type='));
    if (!health.ok && !repairsDatapath) {
      // The row exists but nothing is behind it: delete and re-create in one transaction.
      const allSets = columnSets(p, undefined);
      const cmd = ovsAddCommand(t, sh`-- --if-exists del-br ${p.name} -- add-br ${p.name}${allSets.length > 0 ? sh` ${setCmd(allSets)}` : sh``}`);
      return {
        changed: true,
        actions: [{ kind: 'run', cmd, describe: `re-create OVS bridge ${p.name} (it had no datapath port)` }],
        msg: `OVS bridge ${p.name} had no datapath port (ofport ${health.ofport ?? 'none'}${health.error !== undefined ? `, error: ${health.error}` : ''}): re-create it`,
        diff: [{ before, after: afterRow() }],
      };
    }
    if (sets.length === 0) return { changed: false, actions: [], msg: `OVS bridge ${p.name} is as wanted (ofport ${health.ofport})` };
    return {
      changed: true,
      actions: [{ kind: 'run', cmd: vs(sh`set bridge ${p.name} ${sets}`), describe: `set ${sets.join(' ')} on OVS bridge ${p.name}` }, check],
      msg: `OVS bridge ${p.name}: set ${sets.join(', ')}${health.ok ? '' : ' (repairs its missing datapath port)'}`,
      diff: [{ before, after: afterRow() }],
    };
  },
};
