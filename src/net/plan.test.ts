import { describe, expect, it } from 'vitest';
import { inputErrorsOf, InputError, InputErrors } from '../errors.js';
import { parseNet } from './cidr.js';
import { nameHash, nameNumber, planNetwork, type NetHostInput, type NetPlan, type NetPlanInput } from './index.js';
import { SlotMap } from './slots.js';

/** The seed's cluster (Example_underlay.md), with its DNS address moved into the service range. */
const SEED: Record<string, unknown> = { cluster_subnet: '192.168.0.0/16', service_cidr: '172.16.2.0/24', cluster_dns: '172.16.2.10' };

function w(name: string, vars: Record<string, unknown> = {}): NetHostInput {
  return { name, vars };
}

function plan(workers: NetHostInput[], cluster: Record<string, unknown> = SEED, extra: Partial<NetPlanInput> = {}): NetPlan {
  return planNetwork({ workers, masters: [], cluster, ...extra });
}

function subnets(p: NetPlan): Record<string, string> {
  return Object.fromEntries(Object.values(p.workers).map((x) => [x.host, x.pod_subnet]));
}

/** The messages of the InputErrors a call throws (it must throw some). */
function errorsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    const errs = inputErrorsOf(e);
    if (errs.length === 0) throw e;
    return errs.map((x) => x.message);
  }
  return expect.fail('expected input errors');
}

function net(text: string) {
  const p = parseNet(text);
  if (!p.ok) throw new TypeError(p.why);
  return p.value;
}

/** No two subnets of a plan overlap, and each lies in the cluster range. */
function expectDisjoint(p: NetPlan): void {
  const cluster = net(p.cluster_subnet);
  const nets = Object.values(p.workers)
    .map((x) => net(x.pod_subnet))
    .sort((a, b) => a.first - b.first);
  for (const n of nets) expect(n.first >= cluster.first && n.last <= cluster.last).toBe(true);
  for (let i = 1; i < nets.length; i++) expect(nets[i]!.first).toBeGreaterThan(nets[i - 1]!.last);
}

describe('the seed example', () => {
  it('gives worker1 and worker2 192.168.1.0/29 and 192.168.2.0/29 with gateways .1', () => {
    const p = plan([w('worker1'), w('worker2')]);
    expect(p.cluster_subnet).toBe('192.168.0.0/16');
    expect(p.service_cidr).toBe('172.16.2.0/24');
    expect(p.pod_prefix).toBe(29);
    expect(p.cluster_dns).toBe('172.16.2.10');
    expect(p.workers['worker1']).toEqual({
      host: 'worker1',
      pod_subnet: '192.168.1.0/29',
      gw_ip: '192.168.1.1',
      gw_cidr: '192.168.1.1/29',
      pod_netmask: '255.255.255.248',
      pod_prefix: 29,
      pod_network: '192.168.1.0',
      lswitch: 'ls-worker1',
      index: 1,
      source: 'name',
    });
    expect(p.workers['worker2']).toEqual({
      host: 'worker2',
      pod_subnet: '192.168.2.0/29',
      gw_ip: '192.168.2.1',
      gw_cidr: '192.168.2.1/29',
      pod_netmask: '255.255.255.248',
      pod_prefix: 29,
      pod_network: '192.168.2.0',
      lswitch: 'ls-worker2',
      index: 2,
      source: 'name',
    });
    expect(p.allocated).toEqual(['worker1', 'worker2']);
    expect(p.stale).toEqual([]);
  });

  it("flags the seed's own --cluster-dns, which is outside its --portal-net", () => {
    expect(errorsOf(() => plan([w('worker1'), w('worker2')], { ...SEED, cluster_dns: '172.16.1.2' }))).toEqual([
      'cluster_dns 172.16.1.2 is outside service_cidr 172.16.2.0/24: the cluster DNS address must be a service address',
    ]);
  });

  it('keeps the pod subnets the inventory gives, as the seed does by hand', () => {
    const p = plan([w('worker1', { pod_subnet: '192.168.1.0/29' }), w('worker2', { pod_subnet: '192.168.2.0/29' })]);
    expect(subnets(p)).toEqual({ worker1: '192.168.1.0/29', worker2: '192.168.2.0/29' });
    expect(p.allocated).toEqual([]);
    expect(p.workers['worker1']!.source).toBe('inventory');
  });
});

describe('given and allocated subnets', () => {
  it('allocates around given subnets of any size', () => {
    const p = plan([
      w('worker1', { pod_subnet: '192.168.2.0/24' }), // holds worker2's slot
      w('worker2'),
      w('worker3'),
      w('big', { pod_subnet: '192.168.16.0/20', lswitch: 'ls-big' }),
      w('worker17'), // slot 17 = 192.168.17.0/29 is inside big's /20
    ]);
    expect(p.workers['worker1']).toMatchObject({ pod_subnet: '192.168.2.0/24', gw_cidr: '192.168.2.1/24', pod_netmask: '255.255.255.0', index: -1, source: 'inventory' });
    expect(p.workers['worker3']).toMatchObject({ pod_subnet: '192.168.3.0/29', index: 3, source: 'name' });
    expect(p.workers['big']).toMatchObject({ pod_subnet: '192.168.16.0/20', lswitch: 'ls-big', pod_prefix: 20, source: 'inventory' });
    expect(p.workers['worker2']!.source).toBe('hash');
    expect(p.workers['worker17']!.source).toBe('hash');
    expect(p.allocated).toEqual(['worker2', 'worker3', 'worker17']);
    expectDisjoint(p);
  });

  it('takes worker_index first, then the name number, then a hash of the name', () => {
    const p = plan([w('edge', { worker_index: 7 }), w('worker7'), w('db-primary'), w('worker01'), w('worker1')]);
    expect(p.workers['edge']).toMatchObject({ pod_subnet: '192.168.7.0/29', index: 7, source: 'worker_index' });
    expect(p.workers['worker1']).toMatchObject({ pod_subnet: '192.168.1.0/29', source: 'name' });
    // worker7's slot is edge's, worker01's is worker1's (the shorter name wins the tie)
    for (const h of ['worker7', 'db-primary', 'worker01']) expect(p.workers[h]!.source).toBe('hash');
    expectDisjoint(p);
  });

  it('pins the hash allocation (a changed algorithm would move workers without a state file)', () => {
    // db-primary has no number in its name: its probe starts at slot 1 + hash % 8191, which is free
    expect(nameHash('db-primary')).toBe(246623705497925);
    expect(1 + (246623705497925 % 8191)).toBe(2378);
    // slot 2378 = 256 + 2122: block 2122 / 31 = 68, position 1 + 2122 % 31 = 15 -> 192.168.68.120
    const p = plan([w('db-primary')]);
    expect(p.workers['db-primary']).toMatchObject({ pod_subnet: '192.168.68.120/29', index: 2378, source: 'hash' });
    expect(new SlotMap(net('192.168.0.0/16'), 29).slotOf(net('192.168.68.120/29'))).toBe(2378);
  });

  it('reads the number at the end of the short name', () => {
    expect(nameNumber('worker1')).toBe(1);
    expect(nameNumber('worker12')).toBe(12);
    expect(nameNumber('worker012')).toBe(12);
    expect(nameNumber('worker3.example.com')).toBe(3);
    expect(nameNumber('10.0.0.5')).toBe(5);
    expect(nameNumber('db-primary')).toBeUndefined();
    expect(nameNumber('node1a')).toBeUndefined();
  });

  it('honours pod_prefix, given as a number or a string', () => {
    expect(subnets(plan([w('worker1'), w('worker2')], { ...SEED, pod_prefix: 24 }))).toEqual({ worker1: '192.168.1.0/24', worker2: '192.168.2.0/24' });
    expect(subnets(plan([w('worker1')], { ...SEED, pod_prefix: '20' }))).toEqual({ worker1: '192.168.16.0/20' });
    const p = plan([w('worker1')], { ...SEED, pod_prefix: 30 });
    expect(p.workers['worker1']).toMatchObject({ pod_subnet: '192.168.1.0/30', gw_ip: '192.168.1.1', pod_netmask: '255.255.255.252' });
  });

  it('never allocates the service range, the management network, host addresses or the masters\' networks', () => {
    // all of these sit in slot 1 (10.0.1.0/29) or 2 of 10.0.0.0/16; workers 1 to 5 must go elsewhere
    const cluster = { cluster_subnet: '10.0.0.0/16', service_cidr: '10.0.1.0/24', mgmt_subnet: '10.0.2.0/24', master_ip: '10.0.3.3' };
    const p = planNetwork({
      workers: [w('worker1'), w('worker2'), w('worker3'), w('worker4', { ansible_host: '10.0.4.4' }), w('worker5'), w('worker6', { ansible_host: 'worker6.example.com' })],
      masters: [w('master', { ansible_host: '10.0.2.10', master_subnet: '10.0.5.0/24' })],
      central: [w('central', { ansible_host: '10.0.6.2' })],
      cluster,
    });
    for (const h of ['worker1', 'worker2', 'worker3', 'worker4', 'worker5']) expect(p.workers[h]!.source, h).toBe('hash');
    const taken = ['10.0.1.0/24', '10.0.2.0/24', '10.0.3.3/32', '10.0.4.4/32', '10.0.5.0/24', '10.0.6.2/32'].map(net);
    for (const x of Object.values(p.workers)) {
      const n = net(x.pod_subnet);
      for (const t of taken) expect(n.last < t.first || n.first > t.last, `${x.host} ${x.pod_subnet}`).toBe(true);
    }
    // central's address is in slot 6: worker6 (a host name for an address) is moved off it
    expect(p.workers['worker6']!.source).toBe('hash');
    expectDisjoint(p);
  });

  it('counts a master that is also a worker once', () => {
    const both = w('node1', { pod_subnet: '192.168.1.0/29', master_subnet: '192.168.200.0/24' });
    const p = planNetwork({ workers: [both, w('node2')], masters: [both], cluster: SEED });
    expect(subnets(p)).toEqual({ node1: '192.168.1.0/29', node2: '192.168.2.0/29' });
    expect(errorsOf(() => planNetwork({ workers: [both, w('node2', { pod_subnet: '192.168.200.8/29' })], masters: [both], cluster: SEED }))).toEqual([
      "host 'node2': pod_subnet 192.168.200.8/29 overlaps master_subnet 192.168.200.0/24 of host 'node1'",
    ]);
  });

  it('does not depend on the inventory order', () => {
    // worker1 and worker01 both ask for slot 1; worker3's slot is given to another host
    const hosts = [w('worker3'), w('alpha'), w('worker1'), w('beta'), w('worker01'), w('fixed', { pod_subnet: '192.168.3.0/29' })];
    const a = plan(hosts);
    const b = plan([...hosts].reverse());
    expect(subnets(b)).toEqual(subnets(a));
    expect(a.workers['worker1']!.pod_subnet).toBe('192.168.1.0/29');
    expect(Object.keys(b.workers)).toEqual(['fixed', 'worker01', 'beta', 'worker1', 'alpha', 'worker3']);
  });
});

describe('stability', () => {
  it('adding worker3 keeps worker1 and worker2; removing worker1 keeps worker2', () => {
    const two = subnets(plan([w('worker1'), w('worker2')]));
    const three = subnets(plan([w('worker1'), w('worker2'), w('worker3')]));
    expect(three).toEqual({ ...two, worker3: '192.168.3.0/29' });
    const one = subnets(plan([w('worker2'), w('worker3')]));
    expect(one).toEqual({ worker2: two['worker2'], worker3: '192.168.3.0/29' });
  });

  it('keeps every earlier allocation when workers come and go, with the earlier allocations', () => {
    const r = ((seed) => () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)(42);
    const names = Array.from({ length: 60 }, (_, i) => (i % 3 === 0 ? `worker${i}` : `node-${String.fromCharCode(97 + (i % 26))}${i}x`));
    let present: string[] = [];
    let previous: Record<string, string> = {};
    for (let round = 0; round < 40; round++) {
      // add two, remove one at random
      const absent = names.filter((n) => !present.includes(n));
      for (let i = 0; i < 2 && absent.length && present.length < 28; i++) present.push(absent.splice(Math.floor(r() * absent.length), 1)[0]!);
      if (present.length > 3) present.splice(Math.floor(r() * present.length), 1);
      const p = plan(
        present.map((n) => w(n)),
        { cluster_subnet: '10.1.0.0/24', service_cidr: '172.16.2.0/24' }, // 31 slots: hashes collide
        { previous },
      );
      expectDisjoint(p);
      for (const n of present) if (previous[n] !== undefined) expect(p.workers[n]!.pod_subnet, `${n} round ${round}`).toBe(previous[n]);
      previous = subnets(p);
    }
  });

  it('keeps an earlier allocation before the name number, and reports the ones it cannot keep', () => {
    const p = plan([w('worker1'), w('worker2'), w('worker3'), w('worker4'), w('worker5')], { cluster_subnet: '192.168.0.0/16', service_cidr: '192.168.5.0/24' }, {
      previous: {
        worker1: '192.168.9.0/29', // kept, though slot 1 is free
        worker2: '10.0.0.0/29', // outside the cluster now
        worker3: '192.168.5.0/28', // in the service range now
        worker4: 'garbage',
        worker5: '192.168.9.0/29', // worker1 holds it
        gone: '192.168.4.0/29', // no such worker any more: forgotten
      },
    });
    expect(p.workers['worker1']).toMatchObject({ pod_subnet: '192.168.9.0/29', source: 'state' });
    expect(p.workers['worker2']).toMatchObject({ pod_subnet: '192.168.2.0/29', source: 'name' });
    expect(p.workers['worker3']).toMatchObject({ pod_subnet: '192.168.3.0/29', source: 'name' });
    expect(p.workers['worker4']).toMatchObject({ pod_subnet: '192.168.4.0/29', source: 'name' });
    expect(p.workers['worker5']!.source).toBe('hash'); // its name slot is the service range
    expect(p.stale).toEqual([
      { host: 'worker2', subnet: '10.0.0.0/29', reason: 'outside cluster_subnet 192.168.0.0/16' },
      { host: 'worker3', subnet: '192.168.5.0/28', reason: 'overlaps service_cidr 192.168.5.0/24 (the service range)' },
      { host: 'worker4', subnet: 'garbage', reason: 'not an IPv4 network' },
      { host: 'worker5', subnet: '192.168.9.0/29', reason: "overlaps the subnet 192.168.9.0/29 of host 'worker1'" },
    ]);
    expect(p.allocated).toEqual(['worker1', 'worker2', 'worker3', 'worker4', 'worker5']);
  });

  it('keeps an earlier allocation of another size after pod_prefix changes', () => {
    const p = plan([w('worker1'), w('worker2')], { ...SEED, pod_prefix: 24 }, { previous: { worker1: '192.168.1.0/29' } });
    expect(p.workers['worker1']).toMatchObject({ pod_subnet: '192.168.1.0/29', index: -1, source: 'state' });
    expect(p.workers['worker2']).toMatchObject({ pod_subnet: '192.168.2.0/24', index: 2 });
  });

  it('refuses to take a running worker\'s subnet for a new given subnet or worker_index', () => {
    const previous = { worker1: '192.168.1.0/29', worker2: '192.168.2.0/29' };
    expect(
      errorsOf(() => plan([w('worker1'), w('worker2'), w('new', { pod_subnet: '192.168.1.0/28' }), w('other', { worker_index: 2 })], SEED, { previous })),
    ).toEqual([
      "host 'new': pod_subnet 192.168.1.0/28 overlaps 192.168.1.0/29, which host 'worker1' holds (allocated earlier, kept in the earlier allocations); choose another, or drop host 'worker1' from the earlier allocations to move it",
      "host 'other': worker_index 2 (192.168.2.0/29) overlaps 192.168.2.0/29, which host 'worker2' holds (allocated earlier, kept in the earlier allocations); choose another, or drop host 'worker2' from the earlier allocations to move it",
    ]);
    // a worker's own worker_index overrides its earlier allocation
    const p = plan([w('worker1', { worker_index: 40 })], SEED, { previous });
    expect(p.workers['worker1']).toMatchObject({ pod_subnet: '192.168.40.0/29', source: 'worker_index' });
  });
});

describe('room and speed', () => {
  it('fills a small range completely, then reports who is out of room', () => {
    const names = Array.from({ length: 31 }, (_, i) => `host-${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + Math.floor(i / 26))}`);
    const cluster = { cluster_subnet: '10.9.0.0/24', service_cidr: '172.16.2.0/24' };
    const p = plan(names.map((n) => w(n)), cluster);
    expect(new Set(Object.values(p.workers).map((x) => x.index))).toEqual(new Set(Array.from({ length: 31 }, (_, i) => i + 1)));
    expectDisjoint(p);
    expect(errorsOf(() => plan([...names, 'zz-last', 'zz-later'].map((n) => w(n)), cluster))).toEqual([
      "host 'zz-last': cluster_subnet 10.9.0.0/24 is out of room: no free /29 is left for its pod subnet (31 usable, all taken or reserved; subnet 0 is never used)",
      "host 'zz-later': cluster_subnet 10.9.0.0/24 is out of room: no free /29 is left for its pod subnet (31 usable, all taken or reserved; subnet 0 is never used)",
    ]);
  });

  it('plans 1000 workers (some given, some hashed) in well under a second', () => {
    const workers: NetHostInput[] = [];
    for (let i = 1; i <= 800; i++) workers.push(w(`worker${i}`, { ansible_host: `10.33.${i >> 8}.${i & 255}` }));
    for (let i = 0; i < 150; i++) workers.push(w(`db-${i.toString(36)}-x`));
    for (let i = 0; i < 50; i++) workers.push(w(`given${i}x`, { pod_subnet: `192.168.${i}.64/28` }));
    const t0 = performance.now();
    const p = plan(workers);
    const ms = performance.now() - t0;
    expect(Object.keys(p.workers)).toHaveLength(1000);
    expect(p.allocated).toHaveLength(950);
    expectDisjoint(p);
    expect(ms).toBeLessThan(1000);
  });
});

describe('validation', () => {
  it('requires cluster_subnet and service_cidr', () => {
    expect(errorsOf(() => plan([w('worker1')], {}))).toEqual([
      'cluster_subnet is not set: the network every pod subnet comes from, such as 192.168.0.0/16',
      "service_cidr is not set: the range of service addresses (the seed's --portal-net), such as 172.16.2.0/24",
    ]);
  });

  it('reports every problem at once, each naming the host and the value', () => {
    const errs = errorsOf(() =>
      planNetwork({
        workers: [
          w('w-out', { pod_subnet: '10.0.0.0/29' }),
          w('w-a', { pod_subnet: '192.168.1.0/28' }),
          w('w-b', { pod_subnet: '192.168.1.8/29' }),
          w('w-c', { pod_subnet: '192.168.1.0/29' }),
          w('w-svc', { pod_subnet: '192.168.100.0/29' }),
          w('w-mgmt', { pod_subnet: '192.168.200.0/29' }),
          w('w-addr', { pod_subnet: '192.168.50.0/29', ansible_host: '192.168.50.3' }),
          w('w-ip', { pod_subnet: '192.168.60.0/29' }),
          w('w-big', { pod_subnet: '192.168.64.0/19' }),
          w('w-bad', { pod_subnet: '192.168.1/29' }),
          w('w-bits', { pod_subnet: '192.168.3.1/29' }),
          w('w-none', { pod_subnet: ['192.168.4.0/29'] }),
          w('w-idx', { worker_index: 'two' }),
          w('w-ls', { lswitch: 7 }),
          w('w-if', { uplink: 'eth1', bridge: 'breth1', br_bridge: 'a-very-long-bridge', tun_dev: 'tun/0', x_if: 'ok0' }),
          w('w-cl', { cluster_subnet: '192.168.0.0/17', pod_prefix: 29 }),
        ],
        masters: [w('master', { master_subnet: '192.168.300.0/24' })],
        cluster: { ...SEED, service_cidr: '192.168.100.0/24', mgmt_subnet: '192.168.200.0/24', master_ip: '192.168.60.6', cluster_dns: '192.168.100.999' },
      }),
    );
    expect(errs).toEqual([
      "cluster_dns '192.168.100.999' is not an IPv4 address (such as 172.16.2.10)",
      "host 'master': master_subnet '192.168.300.0/24' is not an IPv4 network in CIDR notation (such as 192.168.1.0/29)",
      "host 'w-cl': cluster_subnet is '192.168.0.0/17' for this host but '192.168.0.0/16' for the cluster; a cluster-wide variable must have one value",
      "host 'w-if': br_bridge 'a-very-long-bridge' is 18 characters long; a Linux interface name has at most 15",
      "host 'w-if': tun_dev 'tun/0' is not a valid Linux interface name (it must not be empty, '.' or '..', nor hold '/', ':' or whitespace)",
      "host 'w-ls': lswitch must be a string (an OVN logical switch name), got 7",
      "host 'w-out': pod_subnet 10.0.0.0/29 is outside cluster_subnet 192.168.0.0/16",
      "host 'w-svc': pod_subnet 192.168.100.0/29 overlaps service_cidr 192.168.100.0/24 (the service range)",
      "host 'w-mgmt': pod_subnet 192.168.200.0/29 overlaps the management network 192.168.200.0/24 (mgmt_subnet)",
      "host 'w-addr': pod_subnet 192.168.50.0/29 overlaps the ansible_host 192.168.50.3 of host 'w-addr'",
      "host 'w-ip': pod_subnet 192.168.60.0/29 overlaps master_ip 192.168.60.6",
      "host 'w-big': pod_subnet 192.168.64.0/19 is a /19; a pod subnet must be a /20 to a /30",
      "host 'w-bad': pod_subnet '192.168.1/29' is not an IPv4 network in CIDR notation (such as 192.168.1.0/29)",
      "host 'w-bits': pod_subnet '192.168.3.1/29' has host bits set (the network is 192.168.3.0/29)",
      'host \'w-none\': pod_subnet must be an IPv4 network in CIDR notation (such as 192.168.1.0/29), got ["192.168.4.0/29"]',
      "host 'w-b': pod_subnet 192.168.1.8/29 overlaps pod_subnet 192.168.1.0/28 of host 'w-a'",
      "host 'w-c': pod_subnet 192.168.1.0/29 overlaps pod_subnet 192.168.1.0/28 of host 'w-a'",
      "host 'w-idx': worker_index must be a whole number of at least 1 (subnet 0 of the cluster range is never used), got 'two'",
    ]);
  });

  it('checks the pod prefix and the cluster range against each other', () => {
    expect(errorsOf(() => plan([w('worker1')], { ...SEED, pod_prefix: 19 }))).toEqual([
      'pod_prefix must be a prefix length from 20 to 30 (a /20 to a /30 per worker), got 19',
    ]);
    expect(errorsOf(() => plan([w('worker1')], { ...SEED, pod_prefix: '29.5' }))).toEqual([
      "pod_prefix must be a prefix length from 20 to 30 (a /20 to a /30 per worker), got '29.5'",
    ]);
    expect(errorsOf(() => plan([w('worker1')], { ...SEED, cluster_subnet: '192.168.0.0/24', pod_prefix: 22 }))).toEqual([
      'cluster_subnet 192.168.0.0/24 is smaller than one pod subnet (a /22, pod_prefix)',
    ]);
    expect(errorsOf(() => plan([w('worker1')], { ...SEED, cluster_subnet: '192.168.0.0/29' }))).toEqual([
      "host 'worker1': cluster_subnet 192.168.0.0/29 is out of room: no free /29 is left for its pod subnet (0 usable, all taken or reserved; subnet 0 is never used)",
    ]);
  });

  it('checks interface names, the veth derived from the bridge, and skips templated names', () => {
    expect(errorsOf(() => plan([w('worker1', { bridge: 'br-uplink-01' })]))).toEqual([
      "host 'worker1': bridge 'br-uplink-01' makes the veth name 'br-uplink-01-veth', which is 17 characters long; a Linux interface name has at most 15 (set veth_bridge_end to name it)",
    ]);
    expect(subnets(plan([w('worker1', { bridge: 'br-uplink-01', veth_bridge_end: 'bru01-veth', uplink: '{{ nic_name }}-long-suffix' })]))).toEqual({
      worker1: '192.168.1.0/29',
    });
    expect(errorsOf(() => plan([w('worker1', { uplink: 'eth1', bridge: 'breth1', int_veth: 'br-int-veth-extra' })]))).toEqual([
      "host 'worker1': int_veth 'br-int-veth-extra' is 17 characters long; a Linux interface name has at most 15",
    ]);
    // the worker role's names of the two veth ends
    expect(errorsOf(() => plan([w('worker1', { veth_ovs_end: 'br-int-veth-0123', veth_bridge_end: 'breth1-veth-0123' })]))).toEqual([
      "host 'worker1': veth_ovs_end 'br-int-veth-0123' is 16 characters long; a Linux interface name has at most 15",
      "host 'worker1': veth_bridge_end 'breth1-veth-0123' is 16 characters long; a Linux interface name has at most 15",
    ]);
    // exactly 15 is fine; ansible_* variables are not interface names
    expect(subnets(plan([w('worker1', { uplink: 'enp0s31f6-abcde', ansible_remote_tmp_dev: 'x'.repeat(30) })]))).toEqual({ worker1: '192.168.1.0/29' });
  });

  it('refuses two workers on one logical switch', () => {
    expect(errorsOf(() => plan([w('worker1', { lswitch: 'ls-x' }), w('worker2', { lswitch: 'ls-x' })]))).toEqual([
      "host 'worker2': lswitch 'ls-x' is also the logical switch of host 'worker1'",
    ]);
  });

  it('checks worker_index against the range and the other claims', () => {
    const cluster = { cluster_subnet: '192.168.0.0/24', service_cidr: '172.16.2.0/24' };
    expect(
      errorsOf(() => plan([w('a', { worker_index: 3 }), w('b', { worker_index: '3' }), w('c', { worker_index: 32 }), w('e', { pod_subnet: '192.168.0.40/29' }), w('f', { worker_index: 5 })], cluster)),
    ).toEqual([
      "host 'b': worker_index 3 asks for 192.168.0.24/29, which overlaps the subnet of host 'a' (worker_index 3)",
      "host 'c': worker_index 32 is out of range: cluster_subnet 192.168.0.0/24 has /29 subnets 1 to 31 (pod_prefix 29)",
      "host 'f': worker_index 5 asks for 192.168.0.40/29, which overlaps pod_subnet 192.168.0.40/29 of host 'e'",
    ]);
  });

  it('throws one InputError for one problem and InputErrors for several', () => {
    try {
      plan([w('worker1')], { ...SEED, cluster_dns: '172.16.1.2' });
      expect.fail('no error');
    } catch (e) {
      expect(e).toBeInstanceOf(InputError);
      expect(e).not.toBeInstanceOf(InputErrors);
    }
    try {
      plan([w('worker1')], { ...SEED, cluster_dns: '172.16.1.2', pod_prefix: 2 });
      expect.fail('no error');
    } catch (e) {
      expect(e).toBeInstanceOf(InputErrors);
      expect((e as InputErrors).errors).toHaveLength(2);
    }
  });
});
