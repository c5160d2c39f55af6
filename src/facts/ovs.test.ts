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
  ovsFindCommand,
  ovsInterfaceCheckCommand,
  ovsListCommand,
  parseOvsTable,
  valueText,
} from './ovs.js';

const T = { db: CAPTURE_OVS_DB, timeout: 30 };

function captured(cmd: string): ExecResult {
  const r = loadFixtures().scenarios['ovs']?.host.runs[cmd];
  if (!r) throw new Error(`not captured: ${cmd}`);
  return { command: cmd, durationMs: 0, ...r };
}

describe('ovs-vsctl --format=json', () => {
  it('builds find and list commands with --db and --timeout', () => {
    expect(ovsFindCommand(T, 'Interface', ['name', 'ofport', 'error'], ['name=br-int']).text).toBe(
      `ovs-vsctl --db=${CAPTURE_OVS_DB} --timeout=30 --format=json --columns=name,ofport,error find Interface name=br-int`,
    );
    expect(ovsListCommand({}, 'open_vswitch', '.', ['external_ids']).text).toBe('ovs-vsctl --format=json --columns=external_ids list open_vswitch .');
  });

  it('tells a working datapath port from a bridge row with nothing behind it and from a port with an error', () => {
    const row = (name: string) => parseOvsTable(captured(ovsFindCommand(T, 'Interface', ['name', 'ofport', 'error'], [`name=${name}`]).text))[0];
    expect(interfaceHealth(row('br-int'))).toEqual({ ok: true, ofport: 65534 });
    expect(row('brbad')).toEqual({ name: 'brbad', ofport: [], error: [] });
    expect(interfaceHealth(row('brbad'))).toEqual({ ok: false });
    const ghost = parseOvsTable(captured(ovsFindCommand(T, 'Interface', ['name', 'ofport', 'error', 'type'], ['name=ghost0']).text))[0];
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
    const [b] = parseOvsTable(captured(ovsFindCommand(T, 'Bridge', ['name', 'datapath_type', 'fail_mode', 'external_ids'], ['name=brbad']).text));
    expect(b).toEqual({ name: 'brbad', datapath_type: '', fail_mode: [], external_ids: { pairs: [] } });
    const [i] = parseOvsTable(captured(ovsFindCommand(T, 'Bridge', ['name', 'datapath_type', 'fail_mode', 'external_ids'], ['name=br-int']).text));
    expect(valueText(i!['fail_mode']!)).toBe('secure');
    expect(valueText(i!['datapath_type']!)).toBe('netdev');
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
