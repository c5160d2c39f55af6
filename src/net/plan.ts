/**
 * The cluster network plan: every worker's pod subnet, gateway and logical switch, checked
 * and completed before any host is contacted. Pure: the same input always gives the same
 * plan (reading an optional state file is the only I/O).
 *
 * Where a worker's pod subnet comes from, first match wins:
 *   1. its `pod_subnet` variable (given);
 *   2. its `worker_index` variable: slot `worker_index` of the cluster range (see
 *      slots.ts for how a slot number maps to a subnet);
 *   3. the allocation kept from an earlier plan (state file or `previous`), when it is
 *      still valid;
 *   4. the number at the end of its name (worker12 -> slot 12), when that slot is free;
 *   5. a slot found from a hash of its name, probing upward for a free one.
 * Hosts of steps 3 to 5 are taken shortest name first, then in name order (worker1 before
 * worker01 when both ask for slot 1), so the inventory order never matters. Adding or
 * removing a worker leaves the others' subnets as they were, with one exception without a
 * state file: the slot a hashed worker (step 5) found for itself goes to a worker added
 * later whose name number is that slot, or whose own probe reaches it first. A state file,
 * or names ending in a number, or `worker_index`, rules this out.
 *
 * Stability has priority over a new demand: a given `pod_subnet` or `worker_index` that
 * overlaps the kept allocation of another worker is an error (the other worker is running
 * with it), not a silent move.
 *
 * Never allocated: slot 0, anything overlapping a given pod subnet, `service_cidr`, the
 * management network (`mgmt_subnet`, and every host's `ansible_host` address), `master_ip`
 * or a master's `master_subnet`/`pod_subnet`.
 */
import { createHash } from 'node:crypto';
import { ErrorSink, formatLoc, InputError, type SourceLoc } from '../errors.js';
import { formatAddr, formatNet, inside, isAddrText, netmaskOf, overlaps, parseAddr, parseNet, type Net4 } from './cidr.js';
import { Occupied, SlotMap } from './slots.js';
import { loadAllocations } from './state.js';

export interface NetHostInput {
  /** Inventory host name. */
  name: string;
  /** The host's merged inventory vars (`Inventory.hostVars(name)`). */
  vars: Record<string, unknown>;
  /** Where the host is defined (`Inventory.locOfHost(name)`). */
  loc?: SourceLoc | undefined;
  /** Where a variable of this host is set, if known. */
  varLoc?: ((varName: string) => SourceLoc | undefined) | undefined;
}

export interface NetPlanInput {
  /** Hosts of the workers group, in inventory order. */
  workers: NetHostInput[];
  masters: NetHostInput[];
  /** Other hosts whose addresses pods must not take (the OVN central host). */
  central?: NetHostInput[] | undefined;
  /**
   * Cluster-wide vars: `cluster_subnet` and `service_cidr` (required), `pod_prefix`
   * (default 29), `cluster_dns`, `mgmt_subnet`, `master_ip` (optional).
   */
  cluster: Record<string, unknown>;
  /** Where a cluster-wide variable is set, if known. */
  clusterVarLoc?: ((varName: string) => SourceLoc | undefined) | undefined;
  /** JSON file of earlier allocations (see state.ts); a missing file is no allocations. */
  stateFile?: string | undefined;
  /** Earlier allocations, host -> subnet (instead of reading `stateFile`). */
  previous?: Record<string, string> | undefined;
  /** Problems found while gathering this input, reported with the plan's own. */
  inputErrors?: InputError[] | undefined;
}

/** Where a worker's pod subnet came from (see the list at the top of this file). */
export type SubnetSource = 'inventory' | 'worker_index' | 'state' | 'name' | 'hash';

export interface WorkerNet {
  host: string;
  /** e.g. 192.168.1.0/29 */
  pod_subnet: string;
  /** The first host address of pod_subnet, e.g. 192.168.1.1. */
  gw_ip: string;
  /** gw_ip with the subnet's prefix, e.g. 192.168.1.1/29. */
  gw_cidr: string;
  /** e.g. 255.255.255.248 */
  pod_netmask: string;
  pod_prefix: number;
  /** The network address, e.g. 192.168.1.0. */
  pod_network: string;
  /** The worker's OVN logical switch: its `lswitch` var, else `ls-<host>`. */
  lswitch: string;
  /** The slot of pod_subnet in the cluster range (slots.ts); -1 for a given subnet of another size. */
  index: number;
  source: SubnetSource;
}

/** An earlier allocation that could not be kept, so the host got a new subnet. */
export interface StaleAllocation {
  host: string;
  subnet: string;
  reason: string;
}

export interface NetPlan {
  cluster_subnet: string;
  service_cidr: string;
  pod_prefix: number;
  cluster_dns?: string;
  /** Every worker, in inventory order. */
  workers: Record<string, WorkerNet>;
  /** Hosts whose subnet was allocated (not given in the inventory), in inventory order. */
  allocated: string[];
  stale: StaleAllocation[];
}

export const DEFAULT_POD_PREFIX = 29;
export const MIN_POD_PREFIX = 20;
export const MAX_POD_PREFIX = 30;
/** IFNAMSIZ (16) less the terminating NUL. */
export const IFNAME_MAX = 15;
/** Variables that must agree between every host and the cluster. */
export const CLUSTER_VARS = ['cluster_subnet', 'service_cidr', 'cluster_dns', 'pod_prefix', 'mgmt_subnet', 'master_ip'] as const;
/** Variables holding a Linux interface name. */
export const IFNAME_VAR = /^(?:uplink|bridge|veth|veth_peer|veth_ovs_end|veth_bridge_end|integration_bridge)$|_(?:if|iface|interface|dev|bridge|veth)$/;
/** The veth end enslaved to the Linux bridge is named `<bridge>-veth` (breth1-veth) unless `veth_bridge_end` is set. */
export function bridgeVethName(bridge: string): string {
  return `${bridge}-veth`;
}

function isUnset(v: unknown): boolean {
  return v === undefined || v === null || v === '';
}

function show(v: unknown): string {
  return typeof v === 'string' ? `'${v}'` : (JSON.stringify(v) ?? String(v));
}

function sameScalar(a: unknown, b: unknown): boolean {
  if (typeof a === 'object' || typeof b === 'object') return JSON.stringify(a) === JSON.stringify(b);
  return String(a).trim() === String(b).trim();
}

/** A whole number from a number or a string of digits; undefined otherwise. */
function wholeNumber(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  if (typeof v === 'string' && /^\s*\d{1,15}\s*$/.test(v)) return Number(v);
  return undefined;
}

/** Why a string is no valid Linux interface name (the kernel's `dev_valid_name`), or undefined. */
export function ifnameProblem(name: string): string | undefined {
  const len = Buffer.byteLength(name, 'utf8');
  if (len > IFNAME_MAX) return `is ${len} characters long; a Linux interface name has at most ${IFNAME_MAX}`;
  if (name === '' || name === '.' || name === '..' || /[/:\s]/.test(name)) {
    return "is not a valid Linux interface name (it must not be empty, '.' or '..', nor hold '/', ':' or whitespace)";
  }
  return undefined;
}

/** The number at the end of a host's short name (worker12 -> 12), or undefined. */
export function nameNumber(name: string): number | undefined {
  const short = isAddrText(name) ? name : (name.split('.')[0] ?? name);
  const m = /(\d+)$/.exec(short);
  if (!m) return undefined;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** A stable hash of a host name: the first 48 bits of its SHA-256. */
export function nameHash(name: string): number {
  return createHash('sha256').update(name, 'utf8').digest().readUIntBE(0, 6);
}

interface Owner {
  net: { first: number; last: number };
  /** How an error names it: "service_cidr 172.16.2.0/24 (the service range)". */
  what: string;
  kind: 'reserved' | 'inventory' | 'worker_index' | 'state' | 'allocated';
  host?: string;
  loc?: SourceLoc | undefined;
}

interface WorkerState {
  h: NetHostInput;
  pos: number;
  net?: Net4;
  source?: SubnetSource;
  /** pod_subnet was set (valid or not). */
  given: boolean;
  index?: number;
  lswitch: string;
}

export function planNetwork(input: NetPlanInput): NetPlan {
  const sink = new ErrorSink();
  for (const e of input.inputErrors ?? []) sink.add(e);
  const cl = input.cluster;
  const cloc = (k: string): SourceLoc | undefined => input.clusterVarLoc?.(k);
  const hloc = (h: NetHostInput, k?: string): SourceLoc | undefined => (k !== undefined ? h.varLoc?.(k) : undefined) ?? h.loc;
  const at = (loc: SourceLoc | undefined): string => (loc ? ` (${formatLoc(loc)})` : '');
  /** Reports a problem of a variable once, even when many hosts inherit it from one place. */
  const seen = new Set<string>();
  const once = (key: string, loc: SourceLoc | undefined): boolean => {
    if (!loc) return true;
    const k = `${key}@${formatLoc(loc)}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  };

  // ---- cluster-wide variables
  const netVar = (k: string, required: string | undefined): Net4 | undefined => {
    const v = cl[k];
    if (isUnset(v)) {
      if (required) sink.add(`${k} is not set: ${required}`, cloc(k));
      return undefined;
    }
    const p = parseNet(v);
    if (!p.ok) {
      sink.add(`${k} ${p.why}`, cloc(k));
      return undefined;
    }
    return p.value;
  };
  const clusterNet = netVar('cluster_subnet', 'the network every pod subnet comes from, such as 192.168.0.0/16');
  const serviceNet = netVar('service_cidr', "the range of service addresses (the seed's --portal-net), such as 172.16.2.0/24");
  const mgmtNet = netVar('mgmt_subnet', undefined);

  let podPrefix: number | undefined = DEFAULT_POD_PREFIX;
  if (!isUnset(cl['pod_prefix'])) {
    const n = wholeNumber(cl['pod_prefix']);
    if (n === undefined || n < MIN_POD_PREFIX || n > MAX_POD_PREFIX) {
      sink.add(`pod_prefix must be a prefix length from ${MIN_POD_PREFIX} to ${MAX_POD_PREFIX} (a /${MIN_POD_PREFIX} to a /${MAX_POD_PREFIX} per worker), got ${show(cl['pod_prefix'])}`, cloc('pod_prefix'));
      podPrefix = undefined;
    } else {
      podPrefix = n;
    }
  }
  let map: SlotMap | undefined;
  if (clusterNet && podPrefix !== undefined) {
    if (podPrefix < clusterNet.prefix) {
      sink.add(`cluster_subnet ${formatNet(clusterNet)} is smaller than one pod subnet (a /${podPrefix}, pod_prefix)`, cloc('cluster_subnet'));
    } else {
      map = new SlotMap(clusterNet, podPrefix);
    }
  }

  let clusterDns: string | undefined;
  if (!isUnset(cl['cluster_dns'])) {
    const p = parseAddr(cl['cluster_dns']);
    if (!p.ok) sink.add(`cluster_dns ${p.why}`, cloc('cluster_dns'));
    else {
      clusterDns = formatAddr(p.value);
      if (serviceNet && !inside({ first: p.value, last: p.value }, serviceNet)) {
        sink.add(
          `cluster_dns ${clusterDns} is outside service_cidr ${formatNet(serviceNet)}: the cluster DNS address must be a service address`,
          cloc('cluster_dns'),
        );
      }
    }
  }

  // ---- what pods must not take
  const owners: Owner[] = [];
  const occ = new Occupied();
  const own = (o: Owner): void => {
    owners.push(o);
    occ.add(o.net.first, o.net.last);
  };
  const ownerOf = (net: { first: number; last: number }): Owner | undefined => owners.find((o) => overlaps(o.net, net));

  if (serviceNet) own({ net: serviceNet, what: `service_cidr ${formatNet(serviceNet)} (the service range)`, kind: 'reserved' });
  if (mgmtNet) own({ net: mgmtNet, what: `the management network ${formatNet(mgmtNet)} (mgmt_subnet)`, kind: 'reserved' });
  if (!isUnset(cl['master_ip'])) {
    const p = parseAddr(cl['master_ip']);
    if (!p.ok) sink.add(`master_ip ${p.why}`, cloc('master_ip'));
    else if (!mgmtNet || !inside({ first: p.value, last: p.value }, mgmtNet)) {
      own({ net: { first: p.value, last: p.value }, what: `master_ip ${formatAddr(p.value)}`, kind: 'reserved' });
    }
  }
  // a host in several groups (a master that is also a worker) counts once
  const unique = (hosts: NetHostInput[]): NetHostInput[] => [...new Map(hosts.map((h) => [h.name, h] as const)).values()];
  const workerNames = new Set(input.workers.map((h) => h.name));
  const k8sHosts = unique([...input.workers, ...input.masters]);
  const everyone = unique([...k8sHosts, ...(input.central ?? [])]);
  const reservedAddrs = new Set<number>();
  for (const h of everyone) {
    // a host name (not an address) reserves nothing: it is not resolved before contacting hosts
    const p = parseAddr(h.vars['ansible_host']);
    if (!p.ok) continue;
    const n = p.value;
    if (reservedAddrs.has(n) || (mgmtNet && inside({ first: n, last: n }, mgmtNet))) continue;
    reservedAddrs.add(n);
    own({ net: { first: n, last: n }, what: `the ansible_host ${formatAddr(n)} of host '${h.name}'`, kind: 'reserved' });
  }
  const masterNets = new Set<string>();
  for (const h of input.masters) {
    // the pod subnet of a master that is also a worker is checked as a worker's
    for (const k of workerNames.has(h.name) ? ['master_subnet'] : ['master_subnet', 'pod_subnet']) {
      const v = h.vars[k];
      if (isUnset(v)) continue;
      const p = parseNet(v);
      if (!p.ok) {
        if (once(`${k}=${show(v)}`, hloc(h, k))) sink.add(`host '${h.name}': ${k} ${p.why}`, hloc(h, k));
        continue;
      }
      const key = formatNet(p.value);
      if (masterNets.has(key)) continue;
      masterNets.add(key);
      own({ net: p.value, what: `${k} ${key} of host '${h.name}'`, kind: 'reserved', host: h.name });
    }
  }

  // ---- cluster-wide variables must not differ per host
  for (const h of k8sHosts) {
    for (const k of CLUSTER_VARS) {
      const mine = h.vars[k];
      const theirs = cl[k];
      if (isUnset(mine) || isUnset(theirs) || sameScalar(mine, theirs)) continue;
      sink.add(`host '${h.name}': ${k} is ${show(mine)} for this host but ${show(theirs)} for the cluster; a cluster-wide variable must have one value`, hloc(h, k));
    }
  }

  // ---- interface names
  for (const h of everyone) {
    for (const [k, v] of Object.entries(h.vars)) {
      if (k.startsWith('ansible_') || !IFNAME_VAR.test(k) || typeof v !== 'string' || v.includes('{{')) continue;
      const why = ifnameProblem(v);
      if (why && once(`${k}=${v}`, hloc(h, k))) sink.add(`host '${h.name}': ${k} '${v}' ${why}`, hloc(h, k));
    }
    const bridge = h.vars['bridge'];
    if (typeof bridge === 'string' && !bridge.includes('{{') && isUnset(h.vars['veth_bridge_end']) && !ifnameProblem(bridge)) {
      const veth = bridgeVethName(bridge);
      const why = ifnameProblem(veth);
      if (why && once(`bridge-veth=${bridge}`, hloc(h, 'bridge'))) {
        sink.add(`host '${h.name}': bridge '${bridge}' makes the veth name '${veth}', which ${why} (set veth_bridge_end to name it)`, hloc(h, 'bridge'));
      }
    }
  }

  // ---- workers: given subnets, worker_index, lswitch
  const ws: WorkerState[] = input.workers.map((h, pos) => {
    const lsv = h.vars['lswitch'];
    let lswitch = `ls-${h.name}`;
    if (!isUnset(lsv)) {
      if (typeof lsv === 'string') lswitch = lsv;
      else sink.add(`host '${h.name}': lswitch must be a string (an OVN logical switch name), got ${show(lsv)}`, hloc(h, 'lswitch'));
    }
    return { h, pos, given: !isUnset(h.vars['pod_subnet']), lswitch };
  });
  const lswitches = new Map<string, WorkerState>();
  for (const w of ws) {
    const prev = lswitches.get(w.lswitch);
    if (prev) {
      sink.add(`host '${w.h.name}': lswitch '${w.lswitch}' is also the logical switch of host '${prev.h.name}'${at(hloc(prev.h, 'lswitch'))}`, hloc(w.h, 'lswitch'));
    } else lswitches.set(w.lswitch, w);
  }

  const givens: WorkerState[] = [];
  for (const w of ws) {
    if (!w.given) continue;
    const { h } = w;
    const loc = hloc(h, 'pod_subnet');
    const p = parseNet(h.vars['pod_subnet']);
    if (!p.ok) {
      sink.add(`host '${h.name}': pod_subnet ${p.why}`, loc);
      continue;
    }
    const net = p.value;
    const text = formatNet(net);
    w.net = net;
    w.source = 'inventory';
    givens.push(w);
    if (net.prefix < MIN_POD_PREFIX || net.prefix > MAX_POD_PREFIX) {
      sink.add(`host '${h.name}': pod_subnet ${text} is a /${net.prefix}; a pod subnet must be a /${MIN_POD_PREFIX} to a /${MAX_POD_PREFIX}`, loc);
    }
    if (clusterNet && !inside(net, clusterNet)) sink.add(`host '${h.name}': pod_subnet ${text} is outside cluster_subnet ${formatNet(clusterNet)}`, loc);
    for (const o of owners) if (overlaps(o.net, net)) sink.add(`host '${h.name}': pod_subnet ${text} overlaps ${o.what}`, loc);
  }
  // overlaps between given subnets, one error per pair, on the host later in the inventory
  const byAddr = [...givens].sort((a, b) => a.net!.first - b.net!.first || b.net!.last - a.net!.last || a.pos - b.pos);
  const open: WorkerState[] = [];
  const pairs: Array<[WorkerState, WorkerState]> = [];
  for (const w of byAddr) {
    for (let i = open.length - 1; i >= 0; i--) if (open[i]!.net!.last < w.net!.first) open.splice(i, 1);
    for (const o of open) pairs.push(o.pos < w.pos ? [o, w] : [w, o]);
    open.push(w);
  }
  pairs.sort((x, y) => x[1].pos - y[1].pos || x[0].pos - y[0].pos);
  for (const [first, later] of pairs) {
    sink.add(
      `host '${later.h.name}': pod_subnet ${formatNet(later.net!)} overlaps pod_subnet ${formatNet(first.net!)} of host '${first.h.name}'${at(hloc(first.h, 'pod_subnet'))}`,
      hloc(later.h, 'pod_subnet'),
    );
  }
  for (const w of givens) own({ net: w.net!, what: `pod_subnet ${formatNet(w.net!)} of host '${w.h.name}'`, kind: 'inventory', host: w.h.name, loc: hloc(w.h, 'pod_subnet') });

  // worker_index
  const explicit: WorkerState[] = [];
  for (const w of ws) {
    const v = w.h.vars['worker_index'];
    if (w.given || isUnset(v)) continue;
    const n = wholeNumber(v);
    const loc = hloc(w.h, 'worker_index');
    if (n === undefined || n < 1) {
      sink.add(`host '${w.h.name}': worker_index must be a whole number of at least 1 (subnet 0 of the cluster range is never used), got ${show(v)}`, loc);
      w.index = -1;
      continue;
    }
    w.index = n;
    explicit.push(w);
  }

  const stale: StaleAllocation[] = [];
  if (map && clusterNet) {
    const m = map;
    const clusterText = formatNet(clusterNet);
    const slotsText = m.capacity > 1 ? `has /${m.podPrefix} subnets 1 to ${m.capacity - 1}` : `has no usable /${m.podPrefix} subnet`;
    const claim = (w: WorkerState, net: Net4, source: SubnetSource, kind: Owner['kind'], what: string): void => {
      w.net = net;
      w.source = source;
      own({ net, what, kind, host: w.h.name, loc: hloc(w.h, kind === 'worker_index' ? 'worker_index' : undefined) });
    };

    for (const w of explicit) {
      const n = w.index!;
      const loc = hloc(w.h, 'worker_index');
      if (n >= m.capacity) {
        sink.add(`host '${w.h.name}': worker_index ${n} is out of range: cluster_subnet ${clusterText} ${slotsText} (pod_prefix ${m.podPrefix})`, loc);
        continue;
      }
      const net = m.netOf(n);
      const o = ownerOf(net);
      if (o) {
        sink.add(`host '${w.h.name}': worker_index ${n} asks for ${formatNet(net)}, which overlaps ${o.what}`, loc);
        continue;
      }
      const where = hloc(w.h, 'worker_index');
      claim(w, net, 'worker_index', 'worker_index', `the subnet of host '${w.h.name}' (worker_index ${n}${where ? ` at ${formatLoc(where)}` : ''})`);
    }

    // earlier allocations
    let previous: Record<string, string> = {};
    try {
      previous = input.previous ?? (input.stateFile !== undefined ? loadAllocations(input.stateFile) : {});
    } catch (e) {
      if (e instanceof InputError) sink.add(e);
      else throw e;
    }
    const from = input.stateFile !== undefined && input.previous === undefined ? `state file ${input.stateFile}` : 'earlier allocations';
    const rest = ws.filter((w) => !w.given && w.index === undefined).sort((a, b) => byName(a.h.name, b.h.name));
    for (const w of rest) {
      if (!Object.hasOwn(previous, w.h.name)) continue;
      const text = previous[w.h.name]!;
      const drop = (reason: string): void => {
        stale.push({ host: w.h.name, subnet: text, reason });
      };
      const p = parseNet(text);
      if (!p.ok) {
        drop(`not an IPv4 network`);
        continue;
      }
      const net = p.value;
      if (!inside(net, clusterNet)) {
        drop(`outside cluster_subnet ${clusterText}`);
        continue;
      }
      if (net.prefix < MIN_POD_PREFIX || net.prefix > MAX_POD_PREFIX) {
        drop(`a /${net.prefix}; a pod subnet must be a /${MIN_POD_PREFIX} to a /${MAX_POD_PREFIX}`);
        continue;
      }
      if (overlaps(net, m.netOf(0))) {
        drop(`overlaps ${formatNet(m.netOf(0))}, subnet 0 of the cluster range, which is never used`);
        continue;
      }
      const o = ownerOf(net);
      if (o && (o.kind === 'inventory' || o.kind === 'worker_index')) {
        // A subnet a running worker holds is not taken away silently.
        const claimer = ws.find((x) => x.h.name === o.host)!;
        const how = o.kind === 'inventory' ? `pod_subnet ${formatNet(claimer.net!)}` : `worker_index ${claimer.index} (${formatNet(claimer.net!)})`;
        sink.add(
          `host '${claimer.h.name}': ${how} overlaps ${formatNet(net)}, which host '${w.h.name}' holds (allocated earlier, kept in the ${from}); choose another, or drop host '${w.h.name}' from the ${from} to move it`,
          o.loc,
        );
        continue;
      }
      if (o) {
        drop(`overlaps ${o.what}`);
        continue;
      }
      claim(w, net, 'state', 'state', `the subnet ${formatNet(net)} of host '${w.h.name}'`);
    }

    // the number in the name, then a hash of the name
    const hashed: WorkerState[] = [];
    for (const w of rest) {
      if (w.net) continue;
      const n = nameNumber(w.h.name);
      if (n !== undefined && n >= 1 && n < m.capacity) {
        const net = m.netOf(n);
        if (occ.hit(net.first, net.last) === undefined) {
          claim(w, net, 'name', 'allocated', `the subnet ${formatNet(net)} of host '${w.h.name}'`);
          continue;
        }
      }
      hashed.push(w);
    }
    for (const w of hashed) {
      const k = m.capacity > 1 ? probe(m, occ, 1 + (nameHash(w.h.name) % (m.capacity - 1))) : undefined;
      if (k === undefined) {
        sink.add(
          `host '${w.h.name}': cluster_subnet ${clusterText} is out of room: no free /${m.podPrefix} is left for its pod subnet (${m.capacity - 1} usable, all taken or reserved; subnet 0 is never used)`,
          hloc(w.h),
        );
        continue;
      }
      const net = m.netOf(k);
      claim(w, net, 'hash', 'allocated', `the subnet ${formatNet(net)} of host '${w.h.name}'`);
    }
  }

  sink.throwIfAny();

  const workers: Record<string, WorkerNet> = {};
  const allocated: string[] = [];
  for (const w of ws) {
    const net = w.net!;
    const gw = formatAddr(net.first + 1);
    workers[w.h.name] = {
      host: w.h.name,
      pod_subnet: formatNet(net),
      gw_ip: gw,
      gw_cidr: `${gw}/${net.prefix}`,
      pod_netmask: netmaskOf(net.prefix),
      pod_prefix: net.prefix,
      pod_network: formatAddr(net.first),
      lswitch: w.lswitch,
      index: map!.slotOf(net) ?? -1,
      source: w.source!,
    };
    if (w.source !== 'inventory') allocated.push(w.h.name);
  }
  const plan: NetPlan = {
    cluster_subnet: formatNet(clusterNet!),
    service_cidr: formatNet(serviceNet!),
    pod_prefix: podPrefix!,
    workers,
    allocated,
    stale,
  };
  if (clusterDns !== undefined) plan.cluster_dns = clusterDns;
  return plan;
}

/** Shorter names first, then name order (so worker1 comes before worker01 and worker10). */
function byName(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

/**
 * The first free slot from `start` upward, wrapping to slot 1; undefined when none is free.
 * Each step either finds a free slot or jumps past a whole taken range.
 */
function probe(map: SlotMap, occ: Occupied, start: number): number | undefined {
  const passes: Array<[number, number]> = [
    [start, map.capacity],
    [1, start],
  ];
  for (const [from, to] of passes) {
    let k = from;
    while (k < to) {
      const first = map.addrOf(k);
      const end = occ.hit(first, first + map.podSize - 1);
      if (end === undefined) return k;
      k = map.nextAfter(k, end);
    }
  }
  return undefined;
}
