/**
 * ovs_set: one column (or one key of a map column) of one OVSDB record, e.g.
 * `ovs-vsctl set open_vswitch . external_ids:neutron-config=/root/openrc`.
 *
 * The current value is read as JSON (`ovs-vsctl --format=json --columns=COL list TABLE
 * RECORD`), not with `get`, whose output is in OVSDB's own quoting (`"/root/openrc"`): the
 * JSON gives the exact string, so values with spaces, quotes or backslashes compare and
 * round-trip exactly. Written values are encoded in ovs-vsctl's syntax (a quoted OVSDB
 * string unless the value is a plain word) and quoted once more for the shell.
 */
import {
  desiredText,
  encodeOvsAtom,
  encodeOvsValue,
  isEmptyValue,
  isNoRow,
  mapGet,
  ovsListCommand,
  ovsTargetParams,
  ovsVsctl,
  parseOvsTable,
  atomText,
  valueText,
  type OvsValue,
} from '../facts/ovs.js';
import { sh } from '../transport/quote.js';
import { ovsTarget } from './ovs_bridge.js';
import type { ModuleDef } from './types.js';

export interface OvsSetParams extends Record<string, unknown> {
  table: string;
  record: string;
  column: string;
  key?: string;
  value?: unknown;
  state: 'present' | 'absent';
  db?: string;
  timeout: number;
}

export interface OvsSetObserved {
  /** False when the record does not exist. */
  exists: boolean;
  value?: OvsValue;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;

function isEmptyDesired(v: unknown): boolean {
  if (Array.isArray(v)) return v.length === 0;
  return typeof v === 'object' && v !== null && Object.keys(v).length === 0;
}

export const ovs_set: ModuleDef<OvsSetParams, OvsSetObserved> = {
  name: 'ovs_set',
  description:
    'One column, or one key of a map column, of an OVSDB record (`ovs-vsctl set TABLE RECORD COLUMN[:KEY]=VALUE`, or `remove`/`clear` when absent); values with spaces and quotes round-trip exactly.',
  schema: {
    params: {
      table: { type: 'str', required: true, description: 'The OVSDB table: `open_vswitch`, `bridge`, `port`, `interface`, ...' },
      record: { type: 'str', required: true, description: 'The record: `.` for the single open_vswitch row, or a name (`br-int`) or UUID.' },
      column: { type: 'str', required: true, description: 'The column, e.g. `external_ids`, `other_config`, `fail_mode`.' },
      key: { type: 'str', description: 'For a map column: the key to set or remove (e.g. `neutron-config`). Without it the whole column is set.' },
      value: {
        type: 'raw',
        description:
          'The value (required when state is present). A string is written as an OVSDB string, exactly (quotes, spaces and backslashes included); a number or boolean as such; a list as a set and a mapping as a map. For a map key the value is the string stored under the key.',
      },
      state: { type: 'str', default: 'present', choices: ['present', 'absent'], description: '`present` sets the value; `absent` removes the key (`remove`) or clears the column (`clear`).' },
      ...ovsTargetParams,
    },
    requiredIf: [['state', 'present', ['value']]],
  },
  async observe(ctx, p) {
    const r = await ctx.run(ovsListCommand(ovsTarget(p), p.table, p.record, [p.column]));
    if (isNoRow(r)) return { exists: false };
    const row = parseOvsTable(r)[0];
    if (!row) return { exists: false };
    const out: OvsSetObserved = { exists: true };
    const v = row[p.column];
    if (v !== undefined) out.value = v;
    return out;
  },
  decide(p, o, env) {
    if (!NAME.test(p.table) || !NAME.test(p.column)) return { changed: false, actions: [], failed: `bad table or column name: ${p.table} ${p.column}` };
    const t = ovsTarget(p);
    const where = `${p.table} ${p.record} ${p.column}${p.key !== undefined ? `:${p.key}` : ''}`;
    if (!o.exists) {
      if (p.state === 'absent') return { changed: false, actions: [], msg: `no record ${p.record} in table ${p.table}` };
      if (!env.checkMode) return { changed: false, actions: [], failed: `no record ${p.record} in table ${p.table}` };
    }
    if (p.key !== undefined) {
      const cur = mapGet(o.value, p.key);
      const curText = cur === undefined ? undefined : atomText(cur);
      const before = curText === undefined ? '' : `${where}=${curText}\n`;
      if (p.state === 'absent') {
        if (cur === undefined) return { changed: false, actions: [], msg: `${where} is not set` };
        return {
          changed: true,
          actions: [{ kind: 'run', cmd: ovsVsctl(t, sh`remove ${p.table} ${p.record} ${p.column} ${encodeOvsAtom(p.key)}`), describe: `remove ${where}` }],
          msg: `remove ${where}`,
          diff: [{ before, after: '' }],
        };
      }
      if (typeof p.value === 'object' && p.value !== null) return { changed: false, actions: [], failed: `value for the map key ${p.key} must be a string, number or boolean` };
      const want = String(p.value);
      if (curText === want) return { changed: false, actions: [], msg: `${where} is already set` };
      return {
        changed: true,
        actions: [{ kind: 'run', cmd: ovsVsctl(t, sh`set ${p.table} ${p.record} ${`${p.column}:${encodeOvsAtom(p.key)}=${encodeOvsAtom(want)}`}`), describe: `set ${where}` }],
        msg: `set ${where}`,
        diff: [{ before, after: `${where}=${want}\n` }],
      };
    }
    const empty = isEmptyValue(o.value);
    const curText = o.value === undefined || empty ? undefined : valueText(o.value);
    const before = curText === undefined ? '' : `${where}=${curText}\n`;
    if (p.state === 'absent') {
      if (empty) return { changed: false, actions: [], msg: `${where} is empty` };
      return {
        changed: true,
        actions: [{ kind: 'run', cmd: ovsVsctl(t, sh`clear ${p.table} ${p.record} ${p.column}`), describe: `clear ${where}` }],
        msg: `clear ${where}`,
        diff: [{ before, after: '' }],
      };
    }
    const wantText = desiredText(p.value);
    if (curText === wantText || (empty && isEmptyDesired(p.value))) return { changed: false, actions: [], msg: `${where} is already set` };
    let encoded: string;
    try {
      encoded = encodeOvsValue(p.value);
    } catch (e) {
      return { changed: false, actions: [], failed: `value: ${(e as Error).message}` };
    }
    return {
      changed: true,
      actions: [{ kind: 'run', cmd: ovsVsctl(t, sh`set ${p.table} ${p.record} ${`${p.column}=${encoded}`}`), describe: `set ${where}` }],
      msg: `set ${where}`,
      diff: [{ before, after: `${where}=${wantText}\n` }],
    };
  },
};
