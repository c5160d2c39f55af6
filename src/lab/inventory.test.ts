import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadInventory } from '../inventory/index.js';
import { INVENTORY_MARK, renderInventory, type InventoryInput } from './inventory.js';
import { planLab, tenantId } from './plan.js';

const hasAnsible = spawnSync('ansible-inventory', ['--version'], { stdio: 'ignore' }).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'underlay-labinv-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function input(workers: number): InventoryInput {
  const plan = planLab({ name: 'inv', workers, subnet: '10.77.0.0/24' });
  // A MAC of digits only reads as a base-60 integer in YAML 1.1 unless quoted.
  if (plan.hosts[2]) plan.hosts[2].mac = '02:13:45:10:20:30';
  return {
    plan,
    keyFile: '/s/id_ed25519',
    knownHostsFile: '/s/known_hosts',
    kubeRelease: '/s/kubernetes-server-linux-amd64.tar.gz',
    kubeReleaseSha256: '0123456789'.repeat(6) + '0123',
    pluginSrc: '/s/ovn-k8-underlay.py',
    etcdBinary: '/usr/bin/etcd',
    osPassword: '0755',
  };
}

function write(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

describe('renderInventory', () => {
  it('starts with the mark lab down looks for', () => {
    expect(renderInventory(input(1)).startsWith(`${INVENTORY_MARK} 'inv'`)).toBe(true);
  });

  it('reads back through the inventory loader with every value as written', () => {
    const inp = input(2);
    const inv = loadInventory([write('a.yml', renderInventory(inp))]);
    expect(inv.hostNames()).toEqual(['central', 'master', 'worker1', 'worker2']);
    expect(inv.hostsOfGroup('k8s')).toEqual(['master', 'worker1', 'worker2']);
    expect(inv.hostsOfGroup('ovn_central')).toEqual(['central']);
    const w1 = inv.hostVars('worker1');
    expect(w1).toMatchObject({
      ansible_host: '10.77.0.4',
      mgmt_mac: '02:13:45:10:20:30',
      ansible_user: 'root',
      ansible_ssh_private_key_file: '/s/id_ed25519',
      underlay_known_hosts_file: '/s/known_hosts',
      underlay_secret_vars: ['os_password'],
      ovs_datapath_type: 'netdev',
      ovn_nb_db: 'tcp:10.77.0.2:6641',
      ovn_sb_db: 'tcp:10.77.0.2:6642',
      lab_packages_preinstalled: true,
      kube_release: '/s/kubernetes-server-linux-amd64.tar.gz',
      kube_release_sha256: inp.kubeReleaseSha256,
      plugin_src: '/s/ovn-k8-underlay.py',
      etcd_binary: '/usr/bin/etcd',
      os_auth_url: 'http://10.77.0.2:5000/v2.0',
      os_tenant_id: tenantId('inv'),
      os_tenant_name: 'demo',
      os_username: 'demo',
      os_password: '0755',
      os_vif_id: inp.plan.hosts[2]!.vifId,
    });
    expect(inv.hostVars('master')['ls_master_vif_id']).toBe(inp.plan.hosts[1]!.lsMasterVifId);
    expect(inv.hostVars('central')['os_vif_id']).toBeUndefined();
    expect(inv.hostVars('central')['ansible_host']).toBe('10.77.0.2');
  });

  it('a lab without workers still has the workers group (empty)', () => {
    const inv = loadInventory([write('b.yml', renderInventory(input(0)))]);
    expect(inv.hostNames()).toEqual(['central', 'master']);
    expect(inv.hasGroup('workers')).toBe(true);
    expect(inv.hostsOfGroup('workers')).toEqual([]);
  });

  it.skipIf(!hasAnsible)('ansible-inventory reads the same host vars', () => {
    const inp = input(1);
    const file = write('c.yml', renderInventory(inp));
    const r = spawnSync('ansible-inventory', ['-i', file, '--list'], { encoding: 'utf8', env: { ...process.env, ANSIBLE_INVENTORY_UNPARSED_WARNING: 'False' } });
    expect(r.status).toBe(0);
    const list = JSON.parse(r.stdout) as { _meta: { hostvars: Record<string, Record<string, unknown>> }; k8s: { children: string[] } };
    expect(list.k8s.children.sort()).toEqual(['masters', 'workers']);
    const w1 = list._meta.hostvars['worker1']!;
    const inv = loadInventory([file]);
    for (const [k, v] of Object.entries(w1)) expect(inv.hostVars('worker1')[k], k).toEqual(v);
    expect(w1['mgmt_mac']).toBe('02:13:45:10:20:30');
    expect(w1['os_password']).toBe('0755');
  });
});
