/**
 * The planner on real inventories (test/fixtures/net-plan/): every error names the file,
 * line and column of the offending value (or of the host), all at once.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { inputErrorsOf } from '../errors.js';
import { loadInventory } from '../inventory/index.js';
import { netPlanInputFromInventory, planNetwork, type NetPlan } from './index.js';

const FIX = fileURLToPath(new URL('../../test/fixtures/net-plan/', import.meta.url));

function planOf(file: string): NetPlan {
  return planNetwork(netPlanInputFromInventory(loadInventory([FIX + file])));
}

/** `file:line:col: message` of every error, with the fixture directory written as `{}`. */
function errorsOf(file: string): string[] {
  try {
    planOf(file);
  } catch (e) {
    const errs = inputErrorsOf(e);
    if (errs.length === 0) throw e;
    return errs.map((x) => x.message.split(FIX).join('{}'));
  }
  return expect.fail(`${file}: expected input errors`);
}

describe('the planner on inventories', () => {
  it("flags the seed's cluster DNS address at its place in the inventory, and nothing else", () => {
    expect(errorsOf('seed.yml')).toEqual([
      '{}seed.yml:8:18: cluster_dns 172.16.1.2 is outside service_cidr 172.16.2.0/24: the cluster DNS address must be a service address',
    ]);
  });

  it('plans the seed once its DNS address is a service address', () => {
    const p = planOf('seed-fixed.yml');
    expect(Object.values(p.workers).map((x) => [x.host, x.pod_subnet, x.gw_ip, x.lswitch])).toEqual([
      ['worker1', '192.168.1.0/29', '192.168.1.1', 'ls-worker1'],
      ['worker2', '192.168.2.0/29', '192.168.2.1', 'ls-worker2'],
    ]);
    expect(p.cluster_dns).toBe('172.16.2.10');
  });

  it('mixes given and allocated subnets', () => {
    const p = planOf('mixed.yml');
    expect(Object.values(p.workers).map((x) => [x.host, x.pod_subnet, x.source, x.lswitch])).toEqual([
      ['worker1', '192.168.162.168/29', 'hash', 'ls-worker1'], // slot 1 is worker2's, given
      ['worker2', '192.168.1.0/29', 'inventory', 'ls-worker2'],
      ['worker3', '192.168.30.0/24', 'inventory', 'ls-big'],
      ['edge', '192.168.7.0/29', 'worker_index', 'ls-edge'],
      ['db-primary', '192.168.68.120/29', 'hash', 'ls-db-primary'],
      ['worker01', '192.168.6.128/29', 'hash', 'ls-worker01'],
    ]);
    expect(p.allocated).toEqual(['worker1', 'edge', 'db-primary', 'worker01']);
  });

  it('reports every problem of given subnets and interface names at its value', () => {
    expect(errorsOf('bad.yml')).toEqual([
      '{}bad.yml:6:18: cluster_dns 10.97.0.10 is outside service_cidr 10.96.0.0/24: the cluster DNS address must be a service address',
      "{}bad.yml:17:23: host 'w-outside': pod_subnet 192.168.0.0/29 is outside cluster_subnet 10.0.0.0/8",
      "{}bad.yml:21:23: host 'w-b': pod_subnet 10.1.0.8/29 overlaps pod_subnet 10.1.0.0/28 of host 'w-a' ({}bad.yml:19:23)",
      "{}bad.yml:23:23: host 'w-svc': pod_subnet 10.96.0.8/29 overlaps service_cidr 10.96.0.0/24 (the service range)",
      "{}bad.yml:25:23: host 'w-mgmt': pod_subnet 10.33.74.0/29 overlaps the management network 10.33.74.0/24 (mgmt_subnet)",
      "{}bad.yml:27:23: host 'w-master': pod_subnet 10.100.0.0/29 overlaps master_subnet 10.100.0.0/24 of host 'master'",
      "{}bad.yml:29:23: host 'w-big': pod_subnet 10.2.0.0/19 is a /19; a pod subnet must be a /20 to a /30",
      "{}bad.yml:31:23: host 'w-small': pod_subnet 10.3.0.0/31 is a /31; a pod subnet must be a /20 to a /30",
      "{}bad.yml:33:23: host 'w-malformed': pod_subnet '10.4.0.0/33' is not an IPv4 network in CIDR notation (such as 192.168.1.0/29)",
      "{}bad.yml:35:23: host 'w-bits': pod_subnet '10.4.0.5/29' has host bits set (the network is 10.4.0.0/29)",
      "{}bad.yml:37:23: host 'w-number': pod_subnet must be an IPv4 network in CIDR notation (such as 192.168.1.0/29), got 12",
      "{}bad.yml:40:19: host 'w-if': uplink 'enp0s31f6-uplink0' is 17 characters long; a Linux interface name has at most 15",
      "{}bad.yml:41:19: host 'w-if': bridge 'br-eth1-uplink' makes the veth name 'br-eth1-uplink-veth', which is 19 characters long; a Linux interface name has at most 15 (set veth_bridge_end to name it)",
      "{}bad.yml:42:23: host 'w-if': storage_if 'eth 2' is not a valid Linux interface name (it must not be empty, '.' or '..', nor hold '/', ':' or whitespace)",
      "{}bad.yml:45:27: host 'w-override': cluster_subnet is '10.0.0.0/16' for this host but '10.0.0.0/8' for the cluster; a cluster-wide variable must have one value",
      "{}bad.yml:51:20: host 'w-ls2': lswitch 'ls-shared' is also the logical switch of host 'w-ls1' ({}bad.yml:48:20)",
    ]);
  });

  it('reports worker_index mistakes at the index', () => {
    expect(errorsOf('index.yml')).toEqual([
      "{}index.yml:12:25: host 'b': worker_index 3 asks for 192.168.0.24/29, which overlaps the subnet of host 'a' (worker_index 3 at {}index.yml:10:25)",
      "{}index.yml:14:25: host 'c': worker_index 40 is out of range: cluster_subnet 192.168.0.0/24 has /29 subnets 1 to 31 (pod_prefix 29)",
      "{}index.yml:16:25: host 'd': worker_index must be a whole number of at least 1 (subnet 0 of the cluster range is never used), got 0",
      "{}index.yml:20:25: host 'f': worker_index 5 asks for 192.168.0.40/29, which overlaps pod_subnet 192.168.0.40/29 of host 'e'",
    ]);
  });

  it('reports a cluster range out of room at the host that does not fit', () => {
    expect(errorsOf('room.yml')).toEqual([
      "{}room.yml:12:9: host 'worker4': cluster_subnet 192.168.0.0/27 is out of room: no free /29 is left for its pod subnet (3 usable, all taken or reserved; subnet 0 is never used)",
    ]);
  });

  it('reports a malformed cluster range and a pod prefix outside /20 to /30', () => {
    expect(errorsOf('prefix.yml')).toEqual([
      "{}prefix.yml:4:21: cluster_subnet '192.168.0.0/166' is not an IPv4 network in CIDR notation (such as 192.168.1.0/29)",
      '{}prefix.yml:6:17: pod_prefix must be a prefix length from 20 to 30 (a /20 to a /30 per worker), got 31',
    ]);
  });

  it('points at group_vars/all once for what every host inherits, and at a host that sets a cluster variable alone', () => {
    expect(errorsOf('group-vars/hosts.yml')).toEqual([
      "{}group-vars/hosts.yml:6:19: pod_prefix is set for host 'worker2' but not for host 'worker1': a cluster-wide variable must have one value for every worker and master (set it in group all)",
      '{}group-vars/group_vars/all.yml:3:14: cluster_dns 172.16.1.2 is outside service_cidr 172.16.2.0/24: the cluster DNS address must be a service address',
      "{}group-vars/group_vars/all.yml:4:9: host 'worker1': bridge 'br-uplink-eth1' makes the veth name 'br-uplink-eth1-veth', which is 19 characters long; a Linux interface name has at most 15 (set veth_bridge_end to name it)",
    ]);
  });
});
