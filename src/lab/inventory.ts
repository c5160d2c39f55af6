/**
 * The lab's inventory: YAML in Ansible's inventory format (YAML 1.1 quoting, so values
 * such as MACs or hex ids never read back as numbers).
 */
import YAML from 'yaml';
import { NB_PORT, SB_PORT, tenantId, type HostPlan, type LabPlan } from './plan.js';

/** First line of every lab inventory; `lab down` removes an inventory only if it starts so. */
export const INVENTORY_MARK = '# underlay lab inventory';

export interface InventoryInput {
  plan: LabPlan;
  keyFile: string;
  knownHostsFile: string;
  kubeRelease: string;
  kubeReleaseSha256: string;
  pluginSrc: string;
  etcdBinary: string;
  osPassword: string;
}

export function hostVars(inp: InventoryInput, h: HostPlan, central: HostPlan): Record<string, unknown> {
  const v: Record<string, unknown> = { ansible_host: h.address, mgmt_mac: h.mac };
  if (h.role !== 'central') {
    v['os_auth_url'] = `http://${central.address}:5000/v2.0`;
    v['os_tenant_id'] = tenantId(inp.plan.name);
    v['os_tenant_name'] = 'demo';
    v['os_username'] = 'demo';
    v['os_password'] = inp.osPassword;
    v['os_vif_id'] = h.vifId;
  }
  if (h.lsMasterVifId) v['ls_master_vif_id'] = h.lsMasterVifId;
  return v;
}

export function inventoryObject(inp: InventoryInput): Record<string, unknown> {
  const { plan } = inp;
  const central = plan.hosts.find((h) => h.role === 'central');
  if (!central) throw new TypeError('lab plan without a central host');
  const group = (role: HostPlan['role']): Record<string, unknown> => {
    const hosts: Record<string, unknown> = {};
    for (const h of plan.hosts.filter((x) => x.role === role)) hosts[h.name] = hostVars(inp, h, central);
    return hosts;
  };
  const workers = group('worker');
  return {
    all: {
      vars: {
        ansible_user: 'root',
        ansible_ssh_private_key_file: inp.keyFile,
        underlay_known_hosts_file: inp.knownHostsFile,
        underlay_secret_vars: ['os_password'],
        underlay_lab: plan.name,
        ovs_datapath_type: 'netdev',
        ovn_nb_db: `tcp:${central.address}:${NB_PORT}`,
        ovn_sb_db: `tcp:${central.address}:${SB_PORT}`,
        lab_packages_preinstalled: true,
        kube_release: inp.kubeRelease,
        kube_release_sha256: inp.kubeReleaseSha256,
        plugin_src: inp.pluginSrc,
        etcd_binary: inp.etcdBinary,
      },
      children: {
        // Not `central`: a group may not share its name with a host (the `central` host).
        ovn_central: { hosts: group('central') },
        masters: { hosts: group('master') },
        // An empty `hosts:` would read back as null; a group without workers has none.
        workers: Object.keys(workers).length ? { hosts: workers } : {},
        k8s: { children: { masters: {}, workers: {} } },
      },
    },
  };
}

export function renderInventory(inp: InventoryInput): string {
  const body = YAML.stringify(inventoryObject(inp), { version: '1.1', lineWidth: 0 });
  return [
    `${INVENTORY_MARK} '${inp.plan.name}': written by \`underlay lab up\`, removed by \`underlay lab down\`.`,
    '# It holds a lab-only password (os_password), listed in underlay_secret_vars.',
    body,
  ].join('\n');
}
