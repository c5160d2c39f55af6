import { describe, expect, it } from 'vitest';
import { actionTexts, CAPTURE_OVS_DB, decideWith } from '../../test/support/net-fixtures.js';
import { ovs_set } from './ovs_set.js';

const VS = `ovs-vsctl --db=${CAPTURE_OVS_DB} --timeout=30`;
const OVS = { table: 'open_vswitch', record: '.', column: 'external_ids', db: CAPTURE_OVS_DB };

describe('ovs_set (decisions on real ovs-vsctl --format=json output)', () => {
  it('does nothing when the key holds the value (the JSON gives it unquoted)', async () => {
    const d = await decideWith(ovs_set, 'ovs', { ...OVS, key: 'neutron-config', value: '/root/openrc' });
    expect(d).toMatchObject({ changed: false, actions: [] });
  });

  it('sets a key that differs', async () => {
    expect(actionTexts(await decideWith(ovs_set, 'ovs', { ...OVS, key: 'neutron-config', value: '/etc/openrc' }))).toEqual([`${VS} set open_vswitch . external_ids:neutron-config=/etc/openrc`]);
  });

  it('round-trips a value with quotes, a backslash, a colon and a non-ASCII letter', async () => {
    expect(await decideWith(ovs_set, 'ovs', { ...OVS, key: 'tricky', value: 'say "hi" C:\\dir é' })).toMatchObject({ changed: false, actions: [] });
    expect(actionTexts(await decideWith(ovs_set, 'ovs', { ...OVS, key: 'tricky', value: "it's \"x\"" }))).toEqual([
      `${VS} set open_vswitch . 'external_ids:tricky="it'\\''s \\"x\\""'`,
    ]);
  });

  it('removes a key only when present', async () => {
    expect(actionTexts(await decideWith(ovs_set, 'ovs', { ...OVS, key: 'neutron-config', state: 'absent' }))).toEqual([`${VS} remove open_vswitch . external_ids neutron-config`]);
    expect(await decideWith(ovs_set, 'ovs', { ...OVS, key: 'nokey', state: 'absent' })).toMatchObject({ changed: false, actions: [] });
  });

  it('sets and clears a whole column', async () => {
    const b = { table: 'bridge', record: 'br-int', column: 'fail_mode', db: CAPTURE_OVS_DB };
    expect(await decideWith(ovs_set, 'ovs', { ...b, value: 'secure' })).toMatchObject({ changed: false, actions: [] });
    expect(actionTexts(await decideWith(ovs_set, 'ovs', { ...b, value: 'standalone' }))).toEqual([`${VS} set bridge br-int fail_mode=standalone`]);
    expect(actionTexts(await decideWith(ovs_set, 'ovs', { ...b, state: 'absent' }))).toEqual([`${VS} clear bridge br-int fail_mode`]);
  });

  it('fails on a missing record, except in check mode; a missing record is already absent', async () => {
    const n = { table: 'bridge', record: 'nothere', column: 'fail_mode', value: 'secure', db: CAPTURE_OVS_DB };
    expect((await decideWith(ovs_set, 'ovs', n)).failed).toBe('no record nothere in table bridge');
    expect((await decideWith(ovs_set, 'ovs', n, { check: true })).changed).toBe(true);
    expect(await decideWith(ovs_set, 'ovs', { ...n, state: 'absent' })).toMatchObject({ changed: false, actions: [] });
  });

  it('needs a value when present', async () => {
    await expect(decideWith(ovs_set, 'ovs', { ...OVS, key: 'neutron-config' })).rejects.toThrow(/requires parameter 'value'/);
  });
});
