/**
 * Builds the network planner's input from a loaded inventory, with the place each host and
 * variable is defined, so the planner's errors point at the inventory.
 */
import { InputError, type SourceLoc } from '../errors.js';
import type { Inventory } from '../inventory/index.js';
import { CLUSTER_VARS, type NetHostInput, type NetPlanInput } from './plan.js';

export interface NetInventoryOptions {
  /** Group of the workers (default `workers`). */
  workers?: string;
  /** Group of the masters (default `masters`). */
  masters?: string;
  /** Group of the OVN central host(s) (default `ovn_central`, as in the lab inventory). */
  central?: string;
  stateFile?: string;
}

/** Cluster-wide variables the planner reads. */
export const PLAN_CLUSTER_VARS: readonly string[] = [...CLUSTER_VARS];

function hostsOf(inv: Inventory, group: string): string[] {
  return inv.hasGroup(group) ? inv.hostsOfGroup(group) : [];
}

export function netHostInput(inv: Inventory, name: string): NetHostInput {
  return {
    name,
    vars: inv.hostVars(name),
    loc: inv.locOfHost(name),
    varLoc: (k) => inv.mergedVars(name).get(k)?.origin?.loc,
  };
}

/**
 * The planner's input for an inventory. A cluster-wide variable is taken from group `all`
 * (its inventory vars and `group_vars/all`) when set there, else from the workers and
 * masters, which must then all have it (an error in `inputErrors` otherwise); the planner
 * checks that no host sees another value.
 */
export function netPlanInputFromInventory(inv: Inventory, opts: NetInventoryOptions = {}): NetPlanInput {
  const workers = hostsOf(inv, opts.workers ?? 'workers').map((n) => netHostInput(inv, n));
  const masters = hostsOf(inv, opts.masters ?? 'masters').map((n) => netHostInput(inv, n));
  const central = hostsOf(inv, opts.central ?? 'ovn_central').map((n) => netHostInput(inv, n));
  const all = inv.groupGraphVars('all');
  const cluster: Record<string, unknown> = {};
  const locs = new Map<string, SourceLoc | undefined>();
  const k8s = [...new Map([...workers, ...masters].map((h) => [h.name, h] as const)).values()];
  const inputErrors: InputError[] = [];
  for (const k of CLUSTER_VARS) {
    if (all.has(k)) {
      const value = inv.reveal(all.get(k));
      cluster[k] = value;
      // where: a host that sees this very value (every host sees group all unless it overrides)
      const raw = all.get(k);
      const seer = inv.hostNames().find((n) => inv.mergedVars(n).get(k)?.value === raw);
      locs.set(k, seer !== undefined ? inv.mergedVars(seer).get(k)?.origin?.loc : undefined);
      continue;
    }
    const first = k8s.find((h) => h.vars[k] !== undefined);
    if (!first) continue;
    cluster[k] = first.vars[k];
    locs.set(k, first.varLoc?.(k));
    const lacking = k8s.find((h) => h.vars[k] === undefined);
    if (lacking) {
      inputErrors.push(
        new InputError(
          `${k} is set for host '${first.name}' but not for host '${lacking.name}': a cluster-wide variable must have one value for every worker and master (set it in group all)`,
          first.varLoc?.(k) ?? first.loc,
        ),
      );
    }
  }
  const input: NetPlanInput = { workers, masters, central, cluster, clusterVarLoc: (k) => locs.get(k), inputErrors };
  if (opts.stateFile !== undefined) input.stateFile = opts.stateFile;
  return input;
}
