/**
 * The network plan as host variables: when the inventory sets `cluster_subnet`, every
 * worker gets `pod_subnet` (given or allocated), `gw_ip`, `gw_cidr`, `pod_netmask`,
 * `pod_prefix`, `pod_network`, `lswitch` and `worker_index`, computed and validated before
 * any host is contacted. They join the inventory precedence layer (an inventory value of
 * the same name is the one the plan used).
 */
import type { Inventory } from '../inventory/index.js';
import { netPlanInputFromInventory } from './inventory.js';
import { planNetwork } from './plan.js';
import { saveAllocations } from './state.js';

export const PLAN_VARS = ['pod_subnet', 'gw_ip', 'gw_cidr', 'pod_netmask', 'pod_prefix', 'pod_network', 'lswitch', 'worker_index'] as const;

export function networkPlanVars(inv: Inventory): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  const hosts = inv.hostNames();
  if (!hosts.some((h) => inv.hostVars(h)['cluster_subnet'] !== undefined)) return out;
  const first = hosts.find((h) => typeof inv.hostVars(h)['netplan_state_file'] === 'string');
  const stateFile = first !== undefined ? String(inv.hostVars(first)['netplan_state_file']) : undefined;
  const plan = planNetwork(netPlanInputFromInventory(inv, stateFile !== undefined ? { stateFile } : {}));
  if (stateFile !== undefined && plan.allocated.length > 0) saveAllocations(stateFile, plan);
  for (const [host, w] of Object.entries(plan.workers)) {
    out.set(host, {
      pod_subnet: w.pod_subnet,
      gw_ip: w.gw_ip,
      gw_cidr: w.gw_cidr,
      pod_netmask: w.pod_netmask,
      pod_prefix: w.pod_prefix,
      pod_network: w.pod_network,
      lswitch: w.lswitch,
      worker_index: w.index,
    });
  }
  return out;
}
