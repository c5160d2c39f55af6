/**
 * playbooks/cluster.yml end to end, on a lab of its own (`clus`: central, master,
 * worker1..3, later worker4), so it can add a worker without disturbing the shared lab:
 * --check on fresh hosts changes nothing; the playbook converges and a second run changes
 * nothing; the end state is checked in OVN's northbound database, in each worker's OVSDB,
 * routes and neighbours, and in the master's daemons; the `used` marks of a port cache
 * survive a run; a fourth worker joins with --limit and only it and the OVN rows it needs
 * change; a pod subnet outside cluster_subnet stops the run before any host is contacted.
 * The example inventory (inventory/example) passes every check made before a run. The
 * role's OVN tool (ovn-underlay) is checked case by case against a real OVN northbound
 * database of its own (an ovsdb-server in a temporary directory).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnvironmentError } from '../../src/errors.js';
import { checkLabPrerequisites, labDown, labStatus, labUp, type LabOptions } from '../../src/lab/index.js';
import { inHost as inLabHost } from '../support/lab.js';

const root = resolve(__dirname, '../..');
const bin = join(root, 'bin/underlay.js');
/** The code cache of these runs (src/cli/codecache.ts), not the user's. */
const cacheHome = mkdtempSync(join(tmpdir(), 'ul-e2e-cache-'));
afterAll(() => rmSync(cacheHome, { recursive: true, force: true }));
const cluster = join(root, 'playbooks/cluster.yml');
const exampleInventory = join(root, 'inventory/example');
const examplePassword = join(root, 'test/fixtures/example-inventory/vault-password.txt');
const ovnTool = join(root, 'playbooks/roles/cluster-network/files/ovn-underlay');

/** This file brings up its own lab; it needs what `lab up` needs (under CI it must be there). */
function skipReason(): string {
  try {
    checkLabPrerequisites();
    return '';
  } catch (e) {
    if (process.env['CI'] === 'true' || !(e instanceof EnvironmentError)) throw e;
    return `no lab: ${e.message.split('\n')[0]}`;
  }
}
const skip = skipReason();

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
  events: Record<string, any>[];
}

function underlay(args: string[]): Ran {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true', XDG_CACHE_HOME: cacheHome }, timeout: 280_000, maxBuffer: 64 * 1024 * 1024 });
  const events = args.includes('--json')
    ? r.stdout
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, any>)
    : [];
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, events };
}

type Recap = Record<string, { ok: number; changed: number; failed: number; unreachable: number; skipped: number }>;
const recapOf = (r: Ran): Recap => r.events.find((e) => e['type'] === 'recap')!['hosts'] as Recap;
const recapMs = (r: Ran): number => r.events.find((e) => e['type'] === 'recap')!['durationMs'] as number;
/** The end of a run's output, to see why an expectation failed. */
const why = (r: Ran): string => `${r.stderr.slice(-1500)}\n${r.events.filter((e) => e['status'] === 'failed' || e['status'] === 'changed').map((e) => `${e['host']}: ${e['task']}: ${e['msg'] ?? ''}`).join('\n').slice(-3000)}`;

/** The lab hosts: PID 1 of each host's namespaces, and the host (its netns name). */
const hosts = new Map<string, { pid: number; host: { name: string; netns: string } }>();

/** Runs a program inside a lab host (all its namespaces), bypassing SSH, to inspect it. */
function inHost(host: string, argv: string[], input?: string): { code: number; out: string; err: string } {
  const h = hosts.get(host);
  if (h === undefined) throw new Error(`no PID for lab host ${host}`);
  return inLabHost(h.host, h.pid, argv, input !== undefined ? { input } : {});
}
const sh = (host: string, script: string) => inHost(host, ['sh', '-c', script]);

/** OVN northbound rows, read on the central host: one object per row of `find TABLE COND`. */
function nbFind(table: string, columns: string[], ...conditions: string[]): Record<string, string>[] {
  const r = inHost('central', ['ovn-nbctl', '--format=csv', '--data=bare', '--no-headings', `--columns=${columns.join(',')}`, 'find', table, ...conditions]);
  expect(r.code, r.err).toBe(0);
  return r.out
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const cells = l.split(',');
      return Object.fromEntries(columns.map((c, i) => [c, (cells[i] ?? '').replace(/^"|"$/g, '')]));
    });
}

/** The port cache of a worker, parsed (a Python dict literal of strings, as the plugin writes it). */
function lportCache(host: string): Record<string, Record<string, string>> {
  const r = inHost(host, ['ovs-vsctl', '--if-exists', 'get', 'open_vswitch', '.', 'external_ids:lport-cache']);
  expect(r.code, r.err).toBe(0);
  const literal = JSON.parse(r.out.trim()) as string; // OVSDB quotes the string as JSON does
  expect(literal).not.toContain('"'); // the plugin strips the quotes `ovs-vsctl get` adds
  return JSON.parse(literal.replace(/'/g, '"')) as Record<string, Record<string, string>>;
}

interface Route {
  dst: string;
  gateway?: string;
  dev: string;
}

/** State of a worker that a run must not touch when it is not selected. */
function workerSnapshot(host: string): string {
  const r = sh(
    host,
    [
      'for s in kubelet kube-proxy hairpin-guard; do echo "$s $(cat /run/underlay/$s.pid) $(cat /run/underlay/$s.start)"; done',
      'sha256sum /etc/kubernetes/kubelet.args /etc/kubernetes/kube-proxy.args /root/openrc /usr/local/lib/underlay/network-boot /etc/sysctl.d/99-underlay.conf',
      'stat -c "%n %Y" /etc/kubernetes/kubelet.args /usr/local/lib/underlay/network-boot',
      'ovs-vsctl get open_vswitch . external_ids',
      'ip -j route; ip -j neigh show nud permanent',
    ].join('; '),
  );
  expect(r.code).toBe(0);
  return r.out;
}

describe.skipIf(skip !== '')(`playbooks/cluster.yml on a lab of its own${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let dir: string;
  let opts: LabOptions;
  let inventory: string;
  const vif = new Map<string, string>();

  const refreshPids = async (): Promise<void> => {
    for (const h of (await labStatus(opts)).hosts) hosts.set(h.name, { pid: h.pid, host: h });
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ul-e2e-cluster-'));
    inventory = join(dir, 'inventory.yml');
    opts = { name: 'clus', workers: 3, subnet: '10.213.106.0/24', stateDir: join(dir, 'lab'), inventoryPath: inventory };
    await labDown(opts); // a lab left by an interrupted run
    const up = await labUp(opts);
    for (const h of up.hosts) hosts.set(h.name, { pid: h.pid, host: h });
    for (const h of up.hosts) vif.set(h.name, h.vifId);
  });

  afterAll(async () => {
    try {
      if (opts) await labDown(opts);
    } finally {
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--check on fresh hosts reports changes and changes nothing', () => {
    const r = underlay(['run', cluster, '-i', inventory, '--check', '--json']);
    expect(r.code, why(r)).toBe(0);
    const recap = recapOf(r);
    for (const h of ['master', 'worker1', 'worker2', 'worker3']) {
      expect(recap[h]!.failed, h).toBe(0);
      expect(recap[h]!.changed, h).toBeGreaterThan(0);
    }
    expect(nbFind('Logical_Router', ['name'])).toEqual([]);
    expect(nbFind('Logical_Switch', ['name'], 'name=ls-worker1')).toEqual([]);
    expect(sh('master', 'test -e /etc/kubernetes/kube-apiserver.args').code).not.toBe(0);
    expect(sh('worker1', 'ip link show breth1').code).not.toBe(0);
  });

  it('converges, and a second run changes nothing', () => {
    const first = underlay(['run', cluster, '-i', inventory, '--json']);
    expect(first.code, why(first)).toBe(0);
    for (const [h, s] of Object.entries(recapOf(first))) {
      expect(s.failed, h).toBe(0);
      expect(s.changed, h).toBeGreaterThan(0);
    }
    const second = underlay(['run', cluster, '-i', inventory, '--json']);
    expect(second.code, why(second)).toBe(0);
    const recap = recapOf(second);
    expect(Object.keys(recap).sort()).toEqual(['master', 'worker1', 'worker2', 'worker3']);
    for (const [h, s] of Object.entries(recap)) expect({ host: h, changed: s.changed, failed: s.failed }).toEqual({ host: h, changed: 0, failed: 0 });
    const changedTasks = second.events.filter((e) => e['type'] === 'host_result' && e['changed']).map((e) => `${e['host']}: ${e['task']}`);
    expect(changedTasks).toEqual([]);
    process.stderr.write(`cluster.yml on 3 workers: first run ${recapMs(first)} ms, run that changed nothing ${recapMs(second)} ms (recap times)\n`);
  });

  it('OVN has the router, a switch per worker and ls-master, each connected with its gateway address', () => {
    const routers = nbFind('Logical_Router', ['_uuid', 'name', 'ports'], 'name=k8-router');
    expect(routers).toHaveLength(1);
    const routerPorts = new Set(routers[0]!['ports']!.split(' '));
    const expectConnected = (sw: string, gwCidr: string): string => {
      const [lrp] = nbFind('Logical_Router_Port', ['_uuid', 'mac', 'networks'], `name=rtos-${sw}`);
      expect(lrp, `rtos-${sw}`).toBeDefined();
      expect(lrp!['networks']).toBe(gwCidr);
      expect(lrp!['mac']).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
      expect(routerPorts.has(lrp!['_uuid']!), `rtos-${sw} is a port of k8-router`).toBe(true);
      const [lsp] = nbFind('Logical_Switch_Port', ['_uuid', 'type', 'addresses', 'options'], `name=stor-${sw}`);
      expect(lsp, `stor-${sw}`).toMatchObject({ type: 'router', addresses: 'router', options: `router-port=rtos-${sw}` });
      const [s] = nbFind('Logical_Switch', ['ports'], `name=${sw}`);
      expect(s!['ports']!.split(' ')).toContain(lsp!['_uuid']);
      return lrp!['mac']!;
    };
    expectConnected('ls-master', '192.168.0.1/29');
    for (const i of [1, 2, 3]) {
      const sw = `ls-worker${i}`;
      const [s] = nbFind('Logical_Switch', ['other_config'], `name=${sw}`);
      expect(s!['other_config']).toContain(`subnet=192.168.${i}.0/29`);
      expectConnected(sw, `192.168.${i}.1/29`);
      const ports = nbFind('Logical_Switch_Port', ['name', 'parent_name', 'tag_request', 'tag', 'addresses'], `external_ids:underlay-lswitch=${sw}`).sort((a, b) => Number(a['tag_request']) - Number(b['tag_request']));
      // a /29 has 5 pod addresses: all but the network, the gateway and the broadcast address
      expect(ports.map((p) => p['name'])).toEqual([1, 2, 3, 4, 5].map((k) => `${sw}-vlan${k}`));
      ports.forEach((p, k) => {
        const ip = `192.168.${i}.${k + 2}`;
        expect(p['parent_name']).toBe(vif.get(`worker${i}`));
        expect(p['tag_request']).toBe(String(k + 1));
        expect(p['addresses']).toMatch(new RegExp(`^[0-9a-f]{2}(:[0-9a-f]{2}){5} ${ip.replace(/\./g, '\\.')}$`));
      });
    }
    // nothing else on the router: one port per switch
    expect(routerPorts.size).toBe(4);
  });

  it("each worker's port cache, routes and gateway neighbour match its switch", () => {
    for (const i of [1, 2, 3]) {
      const w = `worker${i}`;
      const sw = `ls-worker${i}`;
      const gw = `192.168.${i}.1`;
      const cache = lportCache(w);
      const ports = nbFind('Logical_Switch_Port', ['name', 'tag_request', 'addresses'], `external_ids:underlay-lswitch=${sw}`);
      expect(Object.keys(cache).sort()).toEqual(ports.map((p) => p['name']!).sort());
      for (const p of ports) {
        const [mac, ip] = p['addresses']!.split(' ');
        expect(cache[p['name']!]).toEqual({ ip, netmask: '29', mac, vlan: p['tag_request'], gateway_ip: gw, used: 'no' });
      }
      if (existsSync('/usr/bin/python3')) {
        // what the plugin does with it: strip the quotes ovs-vsctl adds, then ast.literal_eval
        const py = sh(w, `ovs-vsctl get open_vswitch . external_ids:lport-cache | python3 -c 'import ast, sys; print(len(ast.literal_eval(sys.stdin.read().strip().strip("\\""))))'`);
        expect(py.out.trim(), py.err).toBe('5');
      }
      const [lrp] = nbFind('Logical_Router_Port', ['mac'], `name=rtos-${sw}`);
      const neigh = JSON.parse(inHost(w, ['ip', '-j', 'neigh', 'show', gw, 'dev', 'breth1']).out) as { lladdr: string; state: string[] }[];
      expect(neigh).toHaveLength(1);
      expect(neigh[0]!.lladdr).toBe(lrp!['mac']);
      expect(neigh[0]!.state).toContain('PERMANENT');
      const routes = JSON.parse(inHost(w, ['ip', '-j', 'route', 'show']).out) as Route[];
      const find = (dst: string) => routes.find((r) => r.dst === dst);
      expect(find(gw)).toMatchObject({ dev: 'breth1' });
      expect(find(gw)!.gateway).toBeUndefined();
      expect(find(`192.168.${i}.0/29`)).toMatchObject({ dev: 'breth1' });
      expect(find('192.168.0.0/16')).toMatchObject({ gateway: gw, dev: 'breth1' });
      expect(inHost(w, ['sysctl', '-n', 'net.bridge.bridge-nf-filter-vlan-tagged']).out.trim()).toBe('1');
    }
  });

  it('the master runs healthy etcd and control plane with the seed flags, and routes to the pods through the router', () => {
    expect(JSON.parse(sh('master', 'curl -fsS http://127.0.0.1:4001/health').out)).toMatchObject({ health: 'true' });
    expect(sh('master', 'curl -fsS http://127.0.0.1:8080/healthz').out).toBe('ok');
    const args = (name: string) => sh('master', `cat /var/lib/underlay-standin/${name}.args`).out.split('\n').filter(Boolean);
    expect(args('kube-apiserver')).toEqual(['--portal-net=172.16.2.0/24', '--address=0.0.0.0', '--etcd-servers=http://127.0.0.1:4001', '--cluster-name=kubernetes', '--v=2', '--insecure-port=8080']);
    expect(args('kube-controller-manager')).toEqual(['--master=127.0.0.1:8080', '--v=2']);
    expect(args('kube-scheduler')).toEqual(['--master=127.0.0.1:8080', '--v=2']);
    // every daemon runs as the service underlay supervises, etcd with its flags from the template
    for (const s of ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler']) {
      expect(sh('master', `kill -0 "$(cat /run/underlay/${s}.pid)"`).code, s).toBe(0);
    }
    const etcdPid = sh('master', 'cat /run/underlay/etcd.pid').out.trim();
    const etcdArgv = sh('master', `tr '\\0' '\\n' < /proc/${etcdPid}/cmdline`).out.split('\n').filter(Boolean);
    expect(etcdArgv).toEqual(['/usr/bin/etcd', '--data-dir=/var/etcd/data', '--listen-client-urls=http://127.0.0.1:4001', '--advertise-client-urls=http://127.0.0.1:4001', '--enable-v2=true']);
    // the route to cluster_subnet via the router's port on ls-master, whose MAC is pinned
    const [lrp] = nbFind('Logical_Router_Port', ['mac'], 'name=rtos-ls-master');
    const routes = JSON.parse(inHost('master', ['ip', '-j', 'route', 'show']).out) as Route[];
    expect(routes.find((r) => r.dst === '192.168.0.0/16')).toMatchObject({ gateway: '192.168.0.1', dev: 'eth1' });
    expect(routes.find((r) => r.dst === '192.168.0.1')).toMatchObject({ dev: 'eth1' });
    const neigh = JSON.parse(inHost('master', ['ip', '-j', 'neigh', 'show', '192.168.0.1', 'dev', 'eth1']).out) as { lladdr: string; state: string[] }[];
    expect(neigh[0]).toMatchObject({ lladdr: lrp!['mac'] });
    expect(neigh[0]!.state).toContain('PERMANENT');
  });

  it('a daemon that does not become healthy stops the run, naming it, with the end of its log', () => {
    // the apiserver runs, but its health URL is one nothing answers: 2 checks, then the failure
    const r = underlay(['run', cluster, '-i', inventory, '--limit', 'master', '--json', '-e', '{"kube_apiserver_health_url": "http://127.0.0.1:9/healthz", "master_health_retries": 1}']);
    expect(r.code, why(r)).toBe(2);
    const failed = r.events.filter((e) => e['type'] === 'host_result' && e['status'] === 'failed' && !e['ignored']);
    expect(failed).toHaveLength(1);
    expect(failed[0]!['host']).toBe('master');
    const msg = String(failed[0]!['msg']);
    expect(msg).toContain('kube-apiserver on master is not healthy after 1 s (http://127.0.0.1:9/healthz does not answer');
    // the end of the daemon's log follows
    const logTail = sh('master', 'tail -n 20 /var/log/underlay/kube-apiserver.log').out.trim();
    expect(logTail).not.toBe('');
    expect(msg).toContain(logTail.split('\n').at(-1)!);
    // nothing else was touched: the next run changes nothing
    const again = underlay(['run', cluster, '-i', inventory, '--limit', 'master', '--json']);
    expect(again.code, why(again)).toBe(0);
    expect(recapOf(again)['master']!.changed).toBe(0);
  });

  it('keeps the used marks the network plugin sets in a port cache', () => {
    const cache = lportCache('worker1');
    cache['ls-worker1-vlan2']!['used'] = 'yes';
    // the plugin writes the cache as Python's str(dict) does
    const literal = `{${Object.entries(cache)
      .map(([k, v]) => `'${k}': {${Object.entries(v).map(([a, b]) => `'${a}': '${b}'`).join(', ')}}`)
      .join(', ')}}`;
    const set = inHost('worker1', ['ovs-vsctl', 'set', 'open_vswitch', '.', `external_ids:lport-cache="${literal}"`]);
    expect(set.code, set.err).toBe(0);
    const r = underlay(['run', cluster, '-i', inventory, '--limit', 'worker1', '--json']);
    expect(r.code, why(r)).toBe(0);
    expect(recapOf(r)['worker1']!.changed).toBe(0);
    expect(lportCache('worker1')['ls-worker1-vlan2']!['used']).toBe('yes');
    expect(lportCache('worker1')['ls-worker1-vlan1']!['used']).toBe('no');
  });

  it('a fourth worker joins with --limit: only it and the OVN rows it needs change', async () => {
    const up = await labUp({ ...opts, workers: 4 });
    expect(up.kept).toEqual(expect.arrayContaining(['central', 'master', 'worker1', 'worker2', 'worker3']));
    expect(up.created).toEqual(['worker4']);
    for (const h of up.hosts) vif.set(h.name, h.vifId);
    await refreshPids();
    // taken after `lab up` (which adds worker4's VM port to ls-kube-mgmt, as OpenStack would)
    const before = new Map(['worker1', 'worker2', 'worker3'].map((w) => [w, workerSnapshot(w)]));
    const masterState = () => sh('master', 'for s in etcd kube-apiserver kube-controller-manager kube-scheduler; do cat /run/underlay/$s.pid; done; ip -j route; ip -j neigh show nud permanent').out;
    const masterBefore = masterState();
    const byName = (a: Record<string, string>, b: Record<string, string>) => (a['name']! < b['name']! ? -1 : a['name']! > b['name']! ? 1 : 0);
    const rowsOf = () => ({
      switches: nbFind('Logical_Switch', ['_uuid', 'name', 'ports', 'other_config']).filter((s) => s['name'] !== 'ls-worker4').sort(byName),
      routerPorts: nbFind('Logical_Router_Port', ['_uuid', 'name', 'mac', 'networks']).filter((p) => p['name'] !== 'rtos-ls-worker4').sort(byName),
      switchPorts: nbFind('Logical_Switch_Port', ['_uuid', 'name', 'parent_name', 'tag_request', 'addresses', 'options']).filter((p) => !/^(?:stor-)?ls-worker4/.test(p['name']!)).sort(byName),
    });
    const ovnBefore = rowsOf();

    const r = underlay(['run', cluster, '-i', inventory, '--limit', 'worker4', '--json']);
    expect(r.code, why(r)).toBe(0);
    const recap = recapOf(r);
    expect(Object.keys(recap)).toEqual(['worker4']);
    expect(recap['worker4']!.changed).toBeGreaterThan(0);
    // every result is worker4's (its OVN steps are delegated to central)
    const hosts = new Set(r.events.filter((e) => e['type'] === 'host_result').map((e) => e['host']));
    expect([...hosts]).toEqual(['worker4']);
    const delegated = new Set(r.events.filter((e) => e['type'] === 'host_result' && e['delegatedTo']).map((e) => e['delegatedTo']));
    expect([...delegated]).toEqual(['central']);

    for (const [w, snap] of before) expect(workerSnapshot(w), w).toBe(snap);
    expect(masterState()).toBe(masterBefore);
    expect(rowsOf()).toEqual(ovnBefore);
    // what worker4 needed: its switch with 5 pod ports, connected to the router
    const [lrp] = nbFind('Logical_Router_Port', ['networks', 'mac'], 'name=rtos-ls-worker4');
    expect(lrp!['networks']).toBe('192.168.4.1/29');
    expect(nbFind('Logical_Switch_Port', ['name'], 'external_ids:underlay-lswitch=ls-worker4')).toHaveLength(5);
    expect(Object.keys(lportCache('worker4'))).toHaveLength(5);
    const neigh = JSON.parse(inHost('worker4', ['ip', '-j', 'neigh', 'show', '192.168.4.1', 'dev', 'breth1']).out) as { lladdr: string }[];
    expect(neigh[0]!.lladdr).toBe(lrp!['mac']);

    // and the whole cluster is then in place: a run over all hosts changes nothing
    const all = underlay(['run', cluster, '-i', inventory, '--json']);
    expect(all.code, why(all)).toBe(0);
    for (const [h, s] of Object.entries(recapOf(all))) expect({ host: h, changed: s.changed }).toEqual({ host: h, changed: 0 });
  });

  it('a pod subnet outside cluster_subnet stops the run before any host is contacted', () => {
    const lines = readFileSync(inventory, 'utf8').split('\n');
    const at = lines.findIndex((l) => /^ {8}worker2:$/.test(l));
    expect(at).toBeGreaterThan(0);
    lines.splice(at + 1, 0, '          pod_subnet: 10.99.0.0/29');
    const bad = join(dir, 'bad-inventory.yml');
    writeFileSync(bad, lines.join('\n'), { mode: 0o600 });
    const sshdLogBefore = sh('worker2', 'wc -l < /var/log/sshd.log').out;
    const r = underlay(['run', cluster, '-i', bad, '--json']);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(`${bad}:${at + 2}:`);
    expect(r.stderr).toMatch(/host 'worker2': pod_subnet 10\.99\.0\.0\/29 is outside cluster_subnet 192\.168\.0\.0\/16/);
    expect(r.events.filter((e) => e['type'] === 'host_result' || e['type'] === 'play_start')).toEqual([]);
    expect(sh('worker2', 'wc -l < /var/log/sshd.log').out).toBe(sshdLogBefore);
  });
});

describe('the example inventory (inventory/example)', () => {
  it('passes every check made before a run, with its vault password', () => {
    const r = underlay(['run', cluster, '-i', exampleInventory, '--vault-password-file', examplePassword, '--list-hosts']);
    expect(r.code, r.stderr).toBe(0);
    for (const h of ['master', 'worker1', 'worker2']) expect(r.stdout).toContain(`      ${h}\n`);
    const inv = underlay(['inventory', '-i', exampleInventory, '--vault-password-file', examplePassword, '--list']);
    expect(inv.code, inv.stderr).toBe(0);
    const hostvars = (JSON.parse(inv.stdout) as { _meta: { hostvars: Record<string, Record<string, unknown>> } })._meta.hostvars;
    expect(hostvars['worker1']).toMatchObject({ pod_subnet: '192.168.1.0/29', os_username: 'demo', os_password: '********' });
    expect(hostvars['worker2']).toMatchObject({ pod_subnet: '192.168.2.0/29' });
    expect(inv.stdout).not.toContain('example-openstack-password');
  });

  it('needs the vault password: without it, the run stops naming the vault file', () => {
    const r = underlay(['run', cluster, '-i', exampleInventory, '--list-hosts']);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('inventory/example/group_vars/workers/vault.yml');
  });
});

/** Whether a program is on the PATH. */
function onPath(program: string): boolean {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', program]).status === 0;
}
const ovnSkip = onPath('ovsdb-server') && onPath('ovsdb-tool') && onPath('ovn-nbctl') && existsSync('/usr/share/ovn/ovn-nb.ovsschema') ? '' : 'no OVN: apt-get install -y ovn-central';
if (ovnSkip && process.env['CI'] === 'true') throw new Error(ovnSkip);

describe.skipIf(ovnSkip !== '')(`ovn-underlay against an OVN northbound database${ovnSkip ? ` (skipped: ${ovnSkip})` : ''}`, () => {
  let dir: string;
  let db: string;
  let pidFile: string;
  const parent = '2233c32a-4092-4d8b-b44d-1c54f666c507';

  const tool = (...args: string[]) => {
    const input = args[0] === 'show' ? (args.splice(3, 1)[0] ?? '') : '';
    const r = spawnSync('sh', [ovnTool, `--db=${db}`, ...args], { encoding: 'utf8', input });
    return { code: r.status ?? -1, out: r.stdout, err: r.stderr, lines: r.stdout === '' ? [] : r.stdout.replace(/\n$/, '').split('\n') };
  };
  const nbctl = (...args: string[]) => {
    const r = spawnSync('ovn-nbctl', [`--db=${db}`, ...args], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout.trim();
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ul-ovn-tool-'));
    db = `unix:${join(dir, 'nb.sock')}`;
    pidFile = join(dir, 'nb.pid');
    const create = spawnSync('ovsdb-tool', ['create', join(dir, 'nb.db'), '/usr/share/ovn/ovn-nb.ovsschema'], { encoding: 'utf8' });
    expect(create.status, create.stderr).toBe(0);
    const server = spawnSync(
      'ovsdb-server',
      [join(dir, 'nb.db'), `--remote=punix:${join(dir, 'nb.sock')}`, `--pidfile=${pidFile}`, `--unixctl=${join(dir, 'nb.ctl')}`, `--log-file=${join(dir, 'nb.log')}`, '--detach', '--no-chdir'],
      { encoding: 'utf8', timeout: 30_000 },
    );
    expect(server.status, server.stderr).toBe(0);
  });

  afterAll(() => {
    try {
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 1) process.kill(pid, 'SIGTERM');
    } catch {
      /* not started */
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('router: makes the router once, and refuses two of the same name', () => {
    expect(tool('router', 'k8-router').lines).toEqual(['add logical router k8-router']);
    expect(nbctl('--bare', '--columns=name', 'find', 'Logical_Router', 'name=k8-router')).toBe('');
    expect(tool('--apply', 'router', 'k8-router').code).toBe(0);
    expect(tool('router', 'k8-router')).toMatchObject({ code: 0, out: '' });
    expect(tool('--apply', 'router', 'k8-router').out).toBe('');
    // ovn-nbctl's lr-add refuses a second one; the database itself does not
    nbctl('create', 'Logical_Router', 'name=other-router');
    nbctl('create', 'Logical_Router', 'name=other-router');
    expect(tool('router', 'other-router')).toMatchObject({ code: 1, err: expect.stringContaining('2 logical routers are named other-router') });
  });

  it('pods: one port per pod address, VLAN tag and parent each; follows a subnet change; checks its input', () => {
    const plan = tool('pods', 'ls-w1', '192.168.1.0/29', parent);
    expect(plan.lines[0]).toBe('add logical switch ls-w1 for 192.168.1.0/29');
    expect(plan.lines).toHaveLength(6);
    expect(tool('--apply', 'pods', 'ls-w1', '192.168.1.0/29', parent).code).toBe(0);
    expect(tool('pods', 'ls-w1', '192.168.1.0/29', parent).out).toBe('');
    const ports = () => nbctl('--format=csv', '--data=bare', '--no-headings', '--columns=name,parent_name,tag_request,addresses', 'find', 'Logical_Switch_Port', 'external_ids:underlay-lswitch=ls-w1').split('\n').sort();
    expect(ports()).toEqual([2, 3, 4, 5, 6].map((h) => `ls-w1-vlan${h - 1},${parent},${h - 1},0a:58:c0:a8:01:0${h} 192.168.1.${h}`));
    // a port changed by hand is put back
    nbctl('set', 'Logical_Switch_Port', 'ls-w1-vlan3', 'tag_request=9');
    expect(tool('pods', 'ls-w1', '192.168.1.0/29', parent).lines).toEqual([expect.stringMatching(/^update pod port ls-w1-vlan3 /)]);
    tool('--apply', 'pods', 'ls-w1', '192.168.1.0/29', parent);
    expect(tool('pods', 'ls-w1', '192.168.1.0/29', parent).out).toBe('');
    // a smaller subnet: the ports beyond it go
    expect(tool('--apply', 'pods', 'ls-w1', '192.168.1.0/30', parent).lines.sort()).toEqual(
      [
        'set other_config:subnet=192.168.1.0/30 on logical switch ls-w1',
        ...['ls-w1-vlan2', 'ls-w1-vlan3', 'ls-w1-vlan4', 'ls-w1-vlan5'].map((p) => `remove pod port ${p} (not a pod address of 192.168.1.0/30)`),
      ].sort(),
    );
    expect(ports()).toEqual([`ls-w1-vlan1,${parent},1,0a:58:c0:a8:01:02 192.168.1.2`]);
    tool('--apply', 'pods', 'ls-w1', '192.168.1.0/29', parent);
    expect(ports()).toHaveLength(5);
    // a /22: 1021 ports, made in several transactions, then nothing to do
    expect(tool('--apply', 'pods', 'ls-big', '10.8.0.0/22', parent).lines).toHaveLength(1022);
    expect(tool('pods', 'ls-big', '10.8.0.0/22', parent).out).toBe('');
    expect(tool('pods', 'ls-x', '192.168.1.4/29', parent)).toMatchObject({ code: 1, err: expect.stringContaining('is not a network address') });
    expect(tool('pods', 'ls-x', '192.168.0.0/16', parent)).toMatchObject({ code: 1, err: expect.stringContaining('the prefix must be 20 to 30') });
    expect(tool('pods', "ls'x", '192.168.1.0/29', parent)).toMatchObject({ code: 1, err: expect.stringContaining("switch 'ls'x' may only hold") });
  });

  it('attach: router port and switch port; the MAC is kept when the address changes; a Neutron switch is found by its network name', () => {
    tool('--apply', 'router', 'k8-router');
    expect(tool('attach', 'k8-router', 'ls-w1', '192.168.1.1/29').lines).toEqual([
      'add router port rtos-ls-w1 (0a:58:c0:a8:01:01, 192.168.1.1/29) to k8-router',
      'add switch port stor-ls-w1 to ls-w1 (router port rtos-ls-w1)',
    ]);
    tool('--apply', 'attach', 'k8-router', 'ls-w1', '192.168.1.1/29');
    expect(tool('attach', 'k8-router', 'ls-w1', '192.168.1.1/29').out).toBe('');
    expect(nbctl('--bare', '--columns=type,addresses,options', 'find', 'Logical_Switch_Port', 'name=stor-ls-w1').split('\n')).toEqual(['router', 'router', 'router-port=rtos-ls-w1']);
    // a port made by hand with its own MAC: the MAC stays, the address is set
    nbctl('ls-add', 'ls-w2');
    nbctl('lrp-add', 'k8-router', 'rtos-ls-w2', '0a:00:00:00:00:42', '10.0.0.1/24');
    expect(tool('--apply', 'attach', 'k8-router', 'ls-w2', '192.168.2.1/29').lines).toEqual([
      'set networks of router port rtos-ls-w2 to 192.168.2.1/29 (was: 10.0.0.1/24)',
      'add switch port stor-ls-w2 to ls-w2 (router port rtos-ls-w2)',
    ]);
    expect(nbctl('--bare', '--columns=mac,networks', 'find', 'Logical_Router_Port', 'name=rtos-ls-w2').split('\n')).toEqual(['0a:00:00:00:00:42', '192.168.2.1/29']);
    // a switch port of that name on another switch, a router port on another router
    nbctl('ls-add', 'ls-w3', '--', 'lsp-add', 'ls-w2', 'stor-ls-w3');
    expect(tool('attach', 'k8-router', 'ls-w3', '192.168.3.1/29')).toMatchObject({ code: 1, err: expect.stringContaining('switch port stor-ls-w3 exists but is not a port of switch ls-w3') });
    nbctl('lr-add', 'r2', '--', 'ls-add', 'ls-w4', '--', 'lrp-add', 'r2', 'rtos-ls-w4', '0a:00:00:00:00:43', '192.168.4.1/29');
    expect(tool('attach', 'k8-router', 'ls-w4', '192.168.4.1/29')).toMatchObject({ code: 1, err: expect.stringContaining('router port rtos-ls-w4 exists but is not a port of router k8-router') });
    // neutron mode: OVN calls the switch neutron-<id>, its network name is ls-w5
    nbctl('ls-add', 'neutron-5b0e', '--', 'set', 'Logical_Switch', 'neutron-5b0e', 'external_ids:"neutron:network_name"=ls-w5');
    expect(tool('--apply', 'attach', 'k8-router', 'ls-w5', '192.168.5.1/29').lines).toContain('add switch port stor-ls-w5 to neutron-5b0e (router port rtos-ls-w5)');
    expect(tool('--apply', 'attach', 'k8-router', 'ls-none', '192.168.6.1/29')).toMatchObject({ code: 1, err: expect.stringContaining('logical switch ls-none does not exist') });
    // a plan for a switch not made yet (check mode before the first run) is not an error
    expect(tool('attach', 'k8-router', 'ls-none', '192.168.6.1/29').code).toBe(0);
  });

  it("show: the router port's MAC and the port cache, keeping the plugin's used marks", () => {
    const [mac, cache] = tool('show', 'ls-w1', '192.168.1.1/29', '').out.split('\n');
    expect(mac).toBe('0a:58:c0:a8:01:01');
    const parsed = JSON.parse(cache!.replace(/'/g, '"')) as Record<string, Record<string, string>>;
    expect(Object.keys(parsed)).toEqual([1, 2, 3, 4, 5].map((k) => `ls-w1-vlan${k}`));
    expect(parsed['ls-w1-vlan1']).toEqual({ ip: '192.168.1.2', netmask: '29', mac: '0a:58:c0:a8:01:02', vlan: '1', gateway_ip: '192.168.1.1', used: 'no' });
    // the cache as Python 2's str() wrote it (any key order), quoted as `ovs-vsctl get` prints it
    const current = `"{'ls-w1-vlan4': {'used': 'yes', 'vlan': '4', 'ip': '192.168.1.5'}, 'gone': {'used': 'yes'}}"`;
    const merged = JSON.parse(tool('show', 'ls-w1', '192.168.1.1/29', current).lines[1]!.replace(/'/g, '"')) as Record<string, Record<string, string>>;
    expect(Object.entries(merged).map(([k, v]) => `${k}=${v['used']}`)).toEqual(['ls-w1-vlan1=no', 'ls-w1-vlan2=no', 'ls-w1-vlan3=no', 'ls-w1-vlan4=yes', 'ls-w1-vlan5=no']);
    // no router port, no pod ports: two empty lines
    expect(tool('show', 'ls-nothing', '192.168.9.1/29', '').out).toBe('\n\n');
    // 1021 ports, with a current cache larger than one command-line argument may be
    const big = tool('show', 'ls-big', '10.8.0.1/22', '').lines[1]!;
    expect(big.length).toBeGreaterThan(131072);
    const marked = big.replace("'ls-big-vlan1000': {'ip': '10.8.3.233', 'netmask': '22', 'mac': '0a:58:0a:08:03:e9', 'vlan': '1000', 'gateway_ip': '10.8.0.1', 'used': 'no'}", (m) => m.replace("'used': 'no'", "'used': 'yes'"));
    expect(marked).not.toBe(big);
    const again = tool('show', 'ls-big', '10.8.0.1/22', `"${marked}"`);
    expect(again.code, again.err).toBe(0);
    expect(again.lines[1]).toBe(marked);
    const bigCache = JSON.parse(marked.replace(/'/g, '"')) as Record<string, Record<string, string>>;
    expect(Object.keys(bigCache)).toHaveLength(1021);
    expect(Object.values(bigCache).map((v) => v['vlan'])).toEqual(Array.from({ length: 1021 }, (_, i) => String(i + 1)));
  });
});
