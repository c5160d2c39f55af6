import { describe, expect, it } from 'vitest';
import { CAPTURE_OVS_DB, loadFixtures } from '../../test/support/net-fixtures.js';
import type { ExecResult } from '../modules/types.js';
import {
  desiredText,
  encodeOvsAtom,
  encodeOvsValue,
  interfaceHealth,
  isNoRow,
  mapGet,
  ovsFindsCommand,
  ovsInterfaceCheckCommand,
  ovsListCommand,
  parseOvsTable,
  parseOvsTables,
  setAtoms,
  valueText,
  type OvsFind,
} from './ovs.js';

const T = { db: CAPTURE_OVS_DB, timeout: 30 };

function captured(cmd: string): ExecResult {
  const r = loadFixtures().scenarios['ovs']?.host.runs[cmd];
  if (!r) throw new Error(`not captured: ${cmd}`);
  return { command: cmd, durationMs: 0, ...r };
}

describe('ovs-vsctl --format=json', () => {
  it('builds list commands with --db and --timeout', () => {
    expect(ovsListCommand(T, 'Interface', 'br-int', ['name', 'ofport', 'error']).text).toBe(
      `ovs-vsctl --db=${CAPTURE_OVS_DB} --timeout=30 --format=json --columns=name,ofport,error list Interface br-int`,
    );
    expect(ovsListCommand({}, 'open_vswitch', '.', ['external_ids']).text).toBe('ovs-vsctl --format=json --columns=external_ids list open_vswitch .');
  });

  it('tells a working datapath port from a bridge row with nothing behind it and from a port with an error', () => {
    const row = (name: string) => bridgeTables(name)[1][0];
    expect(interfaceHealth(row('br-int'))).toEqual({ ok: true, ofport: 65534 });
    expect(row('brbad')).toEqual({ name: 'brbad', ofport: [], error: [] });
    expect(interfaceHealth(row('brbad'))).toEqual({ ok: false });
    const [, [ghost]] = portTables('ghost0');
    expect(interfaceHealth(ghost)).toEqual({ ok: false, ofport: -1, error: 'could not open network device ghost0 (No such device)' });
    expect(row('br-new')).toBeUndefined();
  });

  it('reads map values exactly (quotes, backslash, non-ASCII)', () => {
    const [row] = parseOvsTable(captured(ovsListCommand(T, 'open_vswitch', '.', ['external_ids']).text));
    expect(mapGet(row!['external_ids'], 'neutron-config')).toBe('/root/openrc');
    expect(mapGet(row!['external_ids'], 'tricky')).toBe('say "hi" C:\\dir é');
    expect(mapGet(row!['external_ids'], 'nokey')).toBeUndefined();
  });

  it('recognises a missing record', () => {
    const r = captured(ovsListCommand(T, 'bridge', 'nothere', ['fail_mode']).text);
    expect(isNoRow(r)).toBe(true);
    expect(() => parseOvsTable(r)).toThrow(/no row/);
  });

  it('reads sets, empty optional columns and atoms', () => {
    const [[b]] = bridgeTables('brbad');
    expect(b).toEqual({ name: 'brbad', datapath_type: '', fail_mode: [], external_ids: { pairs: [] } });
    const [[i]] = bridgeTables('br-int');
    expect(valueText(i!['fail_mode']!)).toBe('secure');
    expect(valueText(i!['datapath_type']!)).toBe('netdev');
  });
});

/** The finds ovs_bridge and ovs_port observe with (as captured in the fixtures). */
const bridgeFinds = (name: string): OvsFind[] => [
  { table: 'Bridge', columns: ['name', 'datapath_type', 'fail_mode', 'external_ids'], conditions: [`name=${name}`] },
  { table: 'Interface', columns: ['name', 'ofport', 'error'], conditions: [`name=${name}`] },
];
const portFinds = (name: string): OvsFind[] => [
  { table: 'Port', columns: ['_uuid', 'name', 'tag'], conditions: [`name=${name}`] },
  { table: 'Interface', columns: ['name', 'ofport', 'error', 'type'], conditions: [`name=${name}`] },
  { table: 'Bridge', columns: ['name', 'ports'] },
];
const bridgeTables = (name: string) => parseOvsTables(captured(ovsFindsCommand(T, bridgeFinds(name)).text), 2);
const portTables = (name: string) => parseOvsTables(captured(ovsFindsCommand(T, portFinds(name)).text), 3);

describe('several finds in one ovs-vsctl process', () => {
  it('builds one invocation with a --columns and a find per table, --db and --timeout once', () => {
    expect(ovsFindsCommand(T, portFinds('br-int-veth')).text).toBe(
      `ovs-vsctl --db=${CAPTURE_OVS_DB} --timeout=30 --format=json -- --columns=_uuid,name,tag find Port name=br-int-veth -- --columns=name,ofport,error,type find Interface name=br-int-veth -- --columns=name,ports find Bridge`,
    );
    expect(ovsFindsCommand({}, [{ table: 'Port', columns: ['name'], conditions: ['name="a b"'] }]).text).toBe(`ovs-vsctl --format=json -- --columns=name find Port 'name="a b"'`);
    expect(() => ovsFindsCommand(T, [])).toThrow(/at least one find/);
  });

  it('splits the output into one table per find, in order', () => {
    const [ports, ifaces, bridges] = portTables('br-int-veth');
    expect(ports).toHaveLength(1);
    expect(ports![0]!['name']).toBe('br-int-veth');
    expect(ports![0]!['_uuid']).toEqual({ uuid: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(ports![0]!['tag']).toEqual([]);
    expect(ifaces).toEqual([{ name: 'br-int-veth', ofport: 1, error: [], type: '' }]);
    expect(bridges!.map((b) => b['name']).sort()).toEqual(['br-int', 'brbad']);
  });

  it('reads a bridge with one port (a single uuid atom) and one with several (a set)', () => {
    const [, , bridges] = portTables('br-int-veth');
    const ports = (name: string) => setAtoms(bridges!.find((b) => b['name'] === name)?.['ports']).map((a) => valueText(a));
    const [[brbadPort]] = portTables('brbad');
    const [[vethPort]] = portTables('br-int-veth');
    const [[ghostPort]] = portTables('ghost0');
    // brbad holds only its own port: OVSDB prints the one-element set as the bare atom.
    expect(bridges!.find((b) => b['name'] === 'brbad')?.['ports']).toEqual(brbadPort!['_uuid']);
    expect(ports('brbad')).toEqual([valueText(brbadPort!['_uuid']!)]);
    expect(ports('br-int')).toHaveLength(3);
    expect(ports('br-int')).toContain(valueText(vethPort!['_uuid']!));
    expect(ports('br-int')).toContain(valueText(ghostPort!['_uuid']!));
    expect(ports('br-int')).not.toContain(valueText(brbadPort!['_uuid']!));
  });

  it('gives empty tables for finds that match nothing', () => {
    const [ports, ifaces, bridges] = portTables('newport');
    expect(ports).toEqual([]);
    expect(ifaces).toEqual([]);
    expect(bridges).toHaveLength(2);
    expect(bridgeTables('br-new')).toEqual([[], []]);
  });

  it('fails on a non-zero exit, a wrong count of tables or a line that is not JSON', () => {
    const r = captured(ovsFindsCommand(T, portFinds('br-int-veth')).text);
    expect(() => parseOvsTables(r, 2)).toThrow(/expected 2 tables, one a line, got 3/);
    expect(() => parseOvsTables({ ...r, stdout: '' }, 3)).toThrow(/expected 3 tables, one a line, got 0/);
    expect(() => parseOvsTables({ ...r, stdout: r.stdout.replace(/\n$/, '\nnot json\n') }, 4)).toThrow(/output is not JSON: not json/);
    const failed = captured(ovsListCommand(T, 'bridge', 'nothere', ['fail_mode']).text);
    expect(() => parseOvsTables(failed, 1)).toThrow(/exit code 1: ovs-vsctl: no row "nothere" in table Bridge/);
  });

  it('reads a set column as its atoms whether printed as a set or as its single atom', () => {
    expect(setAtoms([{ uuid: 'a' }, { uuid: 'b' }])).toEqual([{ uuid: 'a' }, { uuid: 'b' }]);
    expect(setAtoms({ uuid: 'a' })).toEqual([{ uuid: 'a' }]);
    expect(setAtoms('x')).toEqual(['x']);
    expect(setAtoms([])).toEqual([]);
    expect(setAtoms(undefined)).toEqual([]);
    expect(setAtoms({ pairs: [['k', 'v']] })).toEqual([]);
  });
});

describe('values for ovs-vsctl set', () => {
  it('leaves plain words bare and writes anything else as an OVSDB quoted string', () => {
    expect(encodeOvsAtom('/root/openrc')).toBe('/root/openrc');
    expect(encodeOvsAtom('10')).toBe('10');
    expect(encodeOvsAtom(10)).toBe('10');
    expect(encodeOvsAtom('aa:bb')).toBe('"aa:bb"');
    expect(encodeOvsAtom('say "hi" C:\\dir é')).toBe('"say \\"hi\\" C:\\\\dir é"');
    expect(encodeOvsAtom('')).toBe('""');
    expect(encodeOvsValue(['a', 'b c'])).toBe('[a,"b c"]');
    expect(encodeOvsValue({ k: 'v w' })).toBe('{k="v w"}');
  });

  it('compares what a task asks for with what the database holds', () => {
    expect(desiredText(['b', 'a'])).toBe(valueText(['a', 'b']));
    expect(desiredText({ y: 2, x: '1' })).toBe(valueText({ pairs: [['x', '1'], ['y', 2]] }));
    expect(desiredText(true)).toBe(valueText(true));
    expect(desiredText(['x'])).toBe(valueText('x'));
  });

  it('checks a datapath port with a command that explains the failure', () => {
    const cmd = ovsInterfaceCheckCommand(T, 'br-int').text;
    expect(cmd).toContain(`ovs-vsctl --db=${CAPTURE_OVS_DB} --timeout=30 get Interface br-int ofport`);
    expect(cmd).toContain("'ovs: interface br-int has no datapath port'");
  });
});
