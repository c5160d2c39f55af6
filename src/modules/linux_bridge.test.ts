import { describe, expect, it } from 'vitest';
import { actionTexts, decideWith, MAC } from '../../test/support/net-fixtures.js';
import { linux_bridge } from './linux_bridge.js';

describe('linux_bridge (decisions on real ip -j output)', () => {
  it('creates the bridge with STP off and ageing 0, up, with one ip link add', async () => {
    const d = await decideWith(linux_bridge, 'empty', { name: 'breth1' });
    expect(d.changed).toBe(true);
    expect(actionTexts(d)).toEqual(['ip link add breth1 up type bridge stp_state 0 ageing_time 0']);
    const down = await decideWith(linux_bridge, 'empty', { name: 'breth1', up: false });
    expect(actionTexts(down)).toEqual(['ip link add breth1 type bridge stp_state 0 ageing_time 0']);
  });

  it("pins the MAC to eth1's when creating", async () => {
    const d = await decideWith(linux_bridge, 'eth1', { name: 'breth1', mac_from: 'eth1' });
    expect(actionTexts(d)).toEqual([`ip link add breth1 address ${MAC.eth1} up type bridge stp_state 0 ageing_time 0`]);
    expect(d.result).toEqual({ name: 'breth1', address: MAC.eth1 });
    expect(d.msg).toBe(`breth1: create bridge breth1 (stp off, ageing 0 s); address ${MAC.eth1}; up`);
    expect(d.diff?.[0]).toEqual({ before: '', after: `bridge breth1\nstate up\nstp off\nageing_time 0\naddress ${MAC.eth1}\nports -\n` });
  });

  it('converges only what differs on a bridge made with kernel defaults (ageing 30000 cs, random MAC, down)', async () => {
    const d = await decideWith(linux_bridge, 'bridge-default', { name: 'breth1', mac_from: 'eth1' });
    expect(actionTexts(d)).toEqual(['ip link set dev breth1 type bridge ageing_time 0', `ip link set dev breth1 address ${MAC.eth1}`, 'ip link set dev breth1 up']);
    expect(d.diff?.[0]?.before).toMatch(/ageing_time 300\n/);
    expect(d.diff?.[0]?.after).toBe(`bridge breth1\nstate up\nstp off\nageing_time 0\naddress ${MAC.eth1}\nports -\n`);
  });

  it('does nothing when the bridge is as wanted', async () => {
    const ready = await decideWith(linux_bridge, 'bridge-ready', { name: 'breth1', mac_from: 'eth1', ports: ['breth1-veth'] });
    expect(ready).toMatchObject({ changed: false, actions: [] });
    const moved = await decideWith(linux_bridge, 'moved', { name: 'breth1', mac_from: 'eth1', ports: ['eth1', 'breth1-veth'] });
    expect(moved).toMatchObject({ changed: false, actions: [] });
    expect(moved.msg).toBe('bridge breth1 is as wanted');
  });

  it('enslaves missing ports, and releases unlisted ones only with exclusive_ports', async () => {
    const d = await decideWith(linux_bridge, 'bridge-ready', { name: 'breth1', mac_from: 'eth1', ports: ['breth1-veth', 'eth1'] });
    expect(actionTexts(d)).toEqual(['ip link set dev eth1 master breth1']);
    const loose = await decideWith(linux_bridge, 'moved', { name: 'breth1', ports: ['breth1-veth'] });
    expect(loose.actions).toEqual([]);
    const exclusive = await decideWith(linux_bridge, 'moved', { name: 'breth1', ports: ['breth1-veth'], exclusive_ports: true });
    expect(actionTexts(exclusive)).toEqual(['ip link set dev eth1 nomaster']);
  });

  it('changes STP, ageing time (seconds -> centiseconds) and the up state', async () => {
    const d = await decideWith(linux_bridge, 'bridge-ready', { name: 'breth1', stp: true, ageing_time: 300, up: false });
    expect(actionTexts(d)).toEqual(['ip link set dev breth1 type bridge stp_state 1 ageing_time 30000', 'ip link set dev breth1 down']);
  });

  it('deletes a bridge, and only a bridge', async () => {
    expect(actionTexts(await decideWith(linux_bridge, 'bridge-ready', { name: 'breth1', state: 'absent' }))).toEqual(['ip link del dev breth1']);
    expect(await decideWith(linux_bridge, 'empty', { name: 'breth1', state: 'absent' })).toMatchObject({ changed: false, actions: [] });
    expect((await decideWith(linux_bridge, 'bridge-ready', { name: 'eth1', state: 'absent' })).failed).toMatch(/eth1 is a veth interface, not a bridge/);
  });

  it('refuses what it cannot do, except in check mode where an earlier task may create it', async () => {
    expect((await decideWith(linux_bridge, 'empty', { name: 'breth1', mac_from: 'eth1' })).failed).toBe('mac_from: interface eth1 does not exist');
    expect((await decideWith(linux_bridge, 'empty', { name: 'breth1', ports: ['eth1'] })).failed).toBe('ports of breth1 do not exist: eth1');
    const check = await decideWith(linux_bridge, 'empty', { name: 'breth1', mac_from: 'eth1', ports: ['eth1'] }, { check: true });
    expect(check.failed).toBeUndefined();
    expect(check.changed).toBe(true);
    expect((await decideWith(linux_bridge, 'bridge-ready', { name: 'br-int-veth' })).failed).toMatch(/not a bridge/);
    expect((await decideWith(linux_bridge, 'empty', { name: 'breth1', mac: 'nope' })).failed).toMatch(/not a MAC address/);
    expect((await decideWith(linux_bridge, 'empty', { name: 'a-much-too-long-name' })).failed).toMatch(/longer than 15/);
  });

  it('rejects mac with mac_from, as the schema says', async () => {
    await expect(decideWith(linux_bridge, 'empty', { name: 'breth1', mac: MAC.eth1, mac_from: 'eth1' })).rejects.toThrow(/mutually exclusive/);
  });
});
