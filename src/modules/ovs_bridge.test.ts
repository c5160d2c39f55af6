import { describe, expect, it } from 'vitest';
import { actionTexts, CAPTURE_OVS_DB, decideWith, observeWith } from '../../test/support/net-fixtures.js';
import { ovs_bridge } from './ovs_bridge.js';

const VS = `ovs-vsctl --db=${CAPTURE_OVS_DB} --timeout=30`;
const check = (name: string) =>
  `of=$(${VS} get Interface ${name} ofport) || exit 1; case $of in [0-9]*) exit 0;; esac; err=$(${VS} get Interface ${name} error 2>/dev/null); echo 'ovs: interface ${name} has no datapath port'" (ofport $of, error $err)" >&2; exit 1`;
const db = { db: CAPTURE_OVS_DB };
const added = (args: string) =>
  `ul_err=$(${VS} ${args} 2>&1 >/dev/null); ul_rc=$?; [ -z "$ul_err" ] || printf '%s\\n' "$ul_err" >&2; [ "$ul_rc" -eq 0 ] || return "$ul_rc"; case $ul_err in *'Error detected while setting up'*) return 1 ;; esac`;

describe('ovs_bridge (decisions on real ovs-vsctl --format=json output)', () => {
  it("creates a bridge with its datapath type in one transaction, failing on ovs-vsctl's own check of its datapath port", async () => {
    const d = await decideWith(ovs_bridge, 'ovs', { name: 'br-new', datapath_type: 'netdev', ...db });
    expect(d.changed).toBe(true);
    expect(actionTexts(d)).toEqual([added('--may-exist add-br br-new -- set bridge br-new datapath_type=netdev')]);
  });

  it('does nothing for a bridge whose row and datapath port are fine', async () => {
    const d = await decideWith(ovs_bridge, 'ovs', { name: 'br-int', datapath_type: 'netdev', ...db });
    expect(d).toMatchObject({ changed: false, actions: [] });
    expect(d.msg).toBe('OVS bridge br-int is as wanted (ofport 65534)');
  });

  it('is not fooled by a row without a datapath (bare add-br): sets datapath_type to repair it', async () => {
    const d = await decideWith(ovs_bridge, 'ovs', { name: 'brbad', datapath_type: 'netdev', ...db });
    expect(actionTexts(d)).toEqual([`${VS} set bridge brbad datapath_type=netdev`, check('brbad')]);
    expect(d.msg).toMatch(/repairs its missing datapath port/);
  });

  it('re-creates such a bridge when no datapath_type is given', async () => {
    const d = await decideWith(ovs_bridge, 'ovs', { name: 'brbad', ...db });
    expect(actionTexts(d)).toEqual([added('-- --if-exists del-br brbad -- add-br brbad')]);
    expect(d.msg).toBe('OVS bridge brbad had no datapath port (ofport none): re-create it');
  });

  it('converges fail_mode and external_ids, quoting values for OVSDB and the shell', async () => {
    const d = await decideWith(ovs_bridge, 'ovs', { name: 'br-int', datapath_type: 'netdev', fail_mode: 'standalone', external_ids: { owner: 'under lay', n: 1 }, ...db });
    expect(actionTexts(d)).toEqual([`${VS} set bridge br-int fail_mode=standalone 'external_ids:owner="under lay"' external_ids:n=1`, check('br-int')]);
    expect(await decideWith(ovs_bridge, 'ovs', { name: 'br-int', fail_mode: 'secure', ...db })).toMatchObject({ changed: false });
  });

  it('observes with one ovs-vsctl process: the Bridge row and its own Interface', async () => {
    const { observed: o, ran } = await observeWith(ovs_bridge, 'ovs', { name: 'br-int', ...db });
    expect(ran).toEqual([
      `${VS} --format=json -- --columns=name,datapath_type,fail_mode,external_ids find Bridge name=br-int -- --columns=name,ofport,error find Interface name=br-int`,
    ]);
    expect(o).toEqual({
      bridge: { name: 'br-int', datapath_type: 'netdev', fail_mode: 'secure', external_ids: { pairs: [] } },
      iface: { name: 'br-int', ofport: 65534, error: [] },
    });
  });

  it('deletes a bridge', async () => {
    expect(actionTexts(await decideWith(ovs_bridge, 'ovs', { name: 'brbad', state: 'absent', ...db }))).toEqual([`${VS} --if-exists del-br brbad`]);
    expect(await decideWith(ovs_bridge, 'ovs', { name: 'br-new', state: 'absent', ...db })).toMatchObject({ changed: false, actions: [] });
  });
});
