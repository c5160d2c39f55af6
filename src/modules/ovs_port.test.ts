import { describe, expect, it } from 'vitest';
import { actionTexts, CAPTURE_OVS_DB, decideWith, observeWith } from '../../test/support/net-fixtures.js';
import { ovs_port } from './ovs_port.js';

const VS = `ovs-vsctl --db=${CAPTURE_OVS_DB} --timeout=30`;
const db = { db: CAPTURE_OVS_DB };
const added = (args: string) =>
  `ul_err=$(${VS} ${args} 2>&1 >/dev/null); ul_rc=$?; [ -z "$ul_err" ] || printf '%s\\n' "$ul_err" >&2; [ "$ul_rc" -eq 0 ] || return "$ul_rc"; case $ul_err in *'Error detected while setting up'*) return 1 ;; esac`;

describe('ovs_port (decisions on real ovs-vsctl output)', () => {
  it('does nothing for a port on its bridge with a datapath port', async () => {
    const d = await decideWith(ovs_port, 'ovs', { bridge: 'br-int', port: 'br-int-veth', ...db });
    expect(d).toMatchObject({ changed: false, actions: [] });
    expect(d.msg).toBe('port br-int-veth is on br-int (ofport 1)');
  });

  it("adds a missing port, failing on ovs-vsctl's own check of its datapath port", async () => {
    const d = await decideWith(ovs_port, 'ovs', { bridge: 'br-int', port: 'newport', type: 'internal', ...db });
    expect(actionTexts(d)).toEqual([added('--may-exist add-port br-int newport -- set Interface newport type=internal')]);
  });

  it('sets a VLAN tag', async () => {
    const t = actionTexts(await decideWith(ovs_port, 'ovs', { bridge: 'br-int', port: 'br-int-veth', tag: 10, ...db }));
    expect(t[0]).toBe(`${VS} -- set Port br-int-veth tag=10`);
  });

  it('re-adds a port whose interface has an error, and the check reports OVS error', async () => {
    const d = await decideWith(ovs_port, 'ovs', { bridge: 'br-int', port: 'ghost0', ...db });
    expect(actionTexts(d)).toEqual([added('-- del-port br-int ghost0 -- add-port br-int ghost0')]);
    expect(d.msg).toBe('port ghost0 had no datapath port (ofport -1, error: could not open network device ghost0 (No such device)): re-add it');
  });

  it('moves a port from another bridge', async () => {
    const d = await decideWith(ovs_port, 'ovs', { bridge: 'brbad', port: 'br-int-veth', ...db });
    expect(actionTexts(d)).toEqual([added('-- del-port br-int br-int-veth -- add-port brbad br-int-veth')]);
    expect(d.msg).toBe('move port br-int-veth from br-int to brbad');
    expect(d.diff?.[0]?.before).toBe('port br-int-veth on br-int\ntype (system)\ntag -\ndatapath port ofport 1\n');
  });

  it('finds the bridge of a port also when that bridge has only one port (ports printed as a single uuid)', async () => {
    const d = await decideWith(ovs_port, 'ovs', { bridge: 'br-int', port: 'brbad', ...db });
    expect(actionTexts(d)).toEqual([added('-- del-port brbad brbad -- add-port br-int brbad')]);
    expect(d.msg).toBe('move port brbad from brbad to br-int');
  });

  it('fails when the wanted bridge does not exist, except in check mode', async () => {
    const args = { bridge: 'br-none', port: 'newport', ...db };
    expect((await decideWith(ovs_port, 'ovs', args)).failed).toBe('OVS bridge br-none does not exist');
    expect(await decideWith(ovs_port, 'ovs', args, { check: true })).toMatchObject({ changed: true, msg: 'add port newport to br-none' });
  });

  it('observes with one ovs-vsctl process: the Port, its Interface and every Bridge', async () => {
    const { observed: o, ran } = await observeWith(ovs_port, 'ovs', { bridge: 'br-int', port: 'br-int-veth', ...db });
    expect(ran).toEqual([
      `${VS} --format=json -- --columns=_uuid,name,tag find Port name=br-int-veth -- --columns=name,ofport,error,type find Interface name=br-int-veth -- --columns=name,ports find Bridge`,
    ]);
    expect(o).toMatchObject({ onBridge: 'br-int', bridgeExists: true, iface: { name: 'br-int-veth', ofport: 1 } });
  });

  it('removes a port only from its bridge', async () => {
    expect(actionTexts(await decideWith(ovs_port, 'ovs', { bridge: 'br-int', port: 'br-int-veth', state: 'absent', ...db }))).toEqual([`${VS} --if-exists del-port br-int br-int-veth`]);
    expect(await decideWith(ovs_port, 'ovs', { bridge: 'brbad', port: 'br-int-veth', state: 'absent', ...db })).toMatchObject({ changed: false, actions: [] });
    expect(await decideWith(ovs_port, 'ovs', { bridge: 'br-int', port: 'newport', state: 'absent', ...db })).toMatchObject({ changed: false, actions: [] });
  });
});
