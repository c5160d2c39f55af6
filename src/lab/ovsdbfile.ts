/**
 * Appending a transaction to a standalone OVSDB database file, in-process.
 *
 * The file format (ovsdb(5), "Database File Format"): a sequence of records, each a line
 * `OVSDB JSON <length> <sha1>` followed by <length> bytes: one JSON text and a newline,
 * whose SHA-1 (hex) is <sha1>. The first record is the schema; each later one is a
 * committed transaction `{"TABLE": {"ROW-UUID": {COLUMN: VALUE, ...}}, "_date": MS}`.
 * A lab host's conf.db is a copy of a schema-only file made once per lab with
 * `ovsdb-tool create`, plus one record that does what `ovs-vsctl init` and ovs-ctl's
 * start-up do (the Open_vSwitch root row with the host's system-id), so a host costs no
 * ovsdb-tool or ovs-vsctl process.
 */
import { createHash } from 'node:crypto';

export function ovsdbRecord(json: unknown): string {
  const text = JSON.stringify(json) + '\n';
  const bytes = Buffer.byteLength(text, 'utf8');
  const sha1 = createHash('sha1').update(text, 'utf8').digest('hex');
  return `OVSDB JSON ${bytes} ${sha1}\n${text}`;
}

export interface OvsRootRow {
  rowUuid: string;
  systemId: string;
  hostname: string;
  dbVersion?: string;
  ovsVersion?: string;
  dateMs?: number;
}

/** OVSDB's `["map", [[k, v], ...]]` for a string map. */
function map(entries: Record<string, string>): unknown {
  return ['map', Object.entries(entries).map(([k, v]) => [k, v])];
}

/** The record inserting the Open_vSwitch root row of a host's conf.db. */
export function ovsRootRowRecord(row: OvsRootRow): string {
  const columns: Record<string, unknown> = {
    external_ids: map({ hostname: row.hostname, rundir: '/var/run/openvswitch', 'system-id': row.systemId }),
  };
  if (row.dbVersion) columns['db_version'] = row.dbVersion;
  if (row.ovsVersion) columns['ovs_version'] = row.ovsVersion;
  return ovsdbRecord({
    _date: row.dateMs ?? Date.now(),
    _comment: 'underlay lab: ovs-vsctl init',
    Open_vSwitch: { [row.rowUuid]: columns },
  });
}
