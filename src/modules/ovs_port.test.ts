import { describe, expect, it } from 'vitest';
import { actionTexts, CAPTURE_OVS_DB, decideWith } from '../../test/support/net-fixtures.js';
import { ovs_port } from './ovs_port.js';

const VS = `ovs-vsctl --db=${CAPTURE_OVS_DB} --timeout=30`;
const db = { db: CAPTURE_OVS_DB };
const checkOf = (name: string) => `of=$(${VS} get Interface ${name} ofport) || exit 1;`;

describe('ovs_port (decisions on real ovs-vsctl output)', () => {
  it('does nothing for a port on its bridge with a datapath port', async () => {
    const d = await decideWith(ovs_port, 'ovs', { bridge: 'br-int', port: 'br-int-veth', ...db });
    expect(d).toMatchObject({ changed: false, actions: [] });
    expect(d.msg).toBe('port br-int-veth is on br-int (ofport 1)');
  });

  it('adds a missing port and checks it', async () => {
    const d = await decideWith(ovs_port, 'ovs', { bridge: 'br-int', port: 'newport', type: 'internal', ...db });
    const t = actionTexts(d);
    expect(t[0]).toBe(`${VS} --may-exist add-port br-int newport -- set Interface newport type=internal`);
    expect(t[1]!.startsWith(checkOf('newport'))).toBe(true);
  });

  it('sets a VLAN tag', async () => {
    const t = actionTexts(await decideWith(ovs_port, 'ovs', { bridge: 'br-int', port: 'br-int-veth', tag: 10, ...db }));
    expect(t[0]).toBe(`${VS} -- set Port br-int-veth tag=10`);
  });

  it('re-adds a port whose interface has an error, and the check reports OVS error', async () => {
    const d = await decideWith(ovs_port, 'ovs', { bridge: 'br-int', port: 'ghost0', ...db });
    expect(actionTexts(d)[0]).toBe(`${VS} -- del-port br-int ghost0 -- add-port br-int ghost0`);
    expect(d.msg).toBe('port ghost0 had no datapath port (ofport -1, error: could not open network device ghost0 (No such device)): re-add it');
  });

  it('moves a port from another bridge', async () => {
    expect(actionTexts(await decideWith(ovs_port, 'ovs', { bridge: 'brbad', port: 'br-int-veth', ...db }))[0]).toBe(`${VS} -- del-port br-int br-int-veth -- add-port brbad br-int-veth`);
  });

  it('removes a port only from its bridge', async () => {
    expect(actionTexts(await decideWith(ovs_port, 'ovs', { bridge: 'br-int', port: 'br-int-veth', state: 'absent', ...db }))).toEqual([`${VS} --if-exists del-port br-int br-int-veth`]);
    expect(await decideWith(ovs_port, 'ovs', { bridge: 'brbad', port: 'br-int-veth', state: 'absent', ...db })).toMatchObject({ changed: false, actions: [] });
    expect(await decideWith(ovs_port, 'ovs', { bridge: 'br-int', port: 'newport', state: 'absent', ...db })).toMatchObject({ changed: false, actions: [] });
  });
});
