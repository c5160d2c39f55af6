/**
 * `underlay lab` against the real thing: the `e2e` lab of the global setup (central,
 * master, worker1..3), reached with the OpenSSH client under strict host key checking;
 * a lab of its own (`e2e-td`) brought up and torn down to prove nothing is left; and one
 * without Open vSwitch (`e2enovs`), on which the worker role converges without its OVS
 * tasks.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { EnvironmentError } from '../../src/errors.js';
import { formatLabStatus, labDown, labHealthy, labStatus, labUp, type LabHost, type LabState } from '../../src/lab/index.js';
import { join as joinCmds, sh, type ShellCommand } from '../../src/transport/quote.js';
import { getLab, inHost, labOptionsOf, labSkipReason, ssh } from '../support/lab.js';

const lab = getLab();
const host = (name: string): LabHost => {
  const h = lab?.hosts.find((x) => x.name === name);
  if (!h) throw new Error(`no host ${name} in the lab`);
  return h;
};
/** Runs a command (built with `sh`, or a constant) on a lab host over SSH. */
const run = (name: string, command: ShellCommand | string, input?: Buffer) => ssh(lab!, host(name), String(command), input === undefined ? {} : { input });

beforeEach((ctx) => {
  if (!lab) ctx.skip(labSkipReason());
});

function httpGet(url: string): Promise<{ status: number; body: string } | undefined> {
  return new Promise((resolve) => {
    const req = get(url, { timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => {
      req.destroy();
      resolve(undefined);
    });
  });
}

async function until<T>(f: () => Promise<T | undefined>, ms: number): Promise<T | undefined> {
  const end = Date.now() + ms;
  for (let i = 0; i < 200 && Date.now() < end; i++) {
    const v = await f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  return undefined;
}

/** Start time of a process (field 22 of /proc/PID/stat), or undefined when it is gone. */
function startTime(pid: number): string | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return s.slice(s.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function inode(path: string): bigint | undefined {
  try {
    return statSync(path, { bigint: true }).ino;
  } catch {
    return undefined;
  }
}

/** Every PID whose network namespace is the given netns (from /proc). */
function pidsInNetns(netns: string): number[] {
  const want = inode(`/run/netns/${netns}`);
  if (want === undefined) return [];
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((e) => inode(`/proc/${e}/ns/net`) === want)
    .map(Number);
}

describe('the e2e lab', () => {
  it('every host answers over SSH with strict host key checking, under its own name', async () => {
    const results = await Promise.all(lab!.hosts.map((h) => run(h.name, 'hostname; cat /etc/hostname; id -u')));
    for (const [i, r] of results.entries()) {
      const h = lab!.hosts[i]!;
      expect(r.stderr, h.name).toBe('');
      expect(r.code, h.name).toBe(0);
      expect(r.stdout, h.name).toBe(`${h.name}\n${h.name}\n0\n`);
    }
    expect(lab!.hosts.map((h) => h.name)).toEqual(['central', 'master', 'worker1', 'worker2', 'worker3']);
  });

  it('strict checking has teeth: an unknown host key is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'underlay-kh-'));
    try {
      const other = join(dir, 'known_hosts');
      // worker2's key recorded for worker1's address: a mismatch
      const w2 = readFileSync(lab!.knownHostsFile, 'utf8').split('\n').find((l) => l.startsWith(`${host('worker2').address} `))!;
      writeFileSync(other, `${host('worker1').address} ${w2.split(' ').slice(1).join(' ')}\n`);
      const r = await ssh(lab!, host('worker1'), 'true', { knownHostsFile: other });
      expect(r.code).toBe(255);
      expect(r.stderr).toMatch(/HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
      writeFileSync(other, '');
      const r2 = await ssh(lab!, host('worker1'), 'true', { knownHostsFile: other });
      expect(r2.code).toBe(255);
      expect(r2.stderr).toMatch(/Host key verification failed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lab status: sshd, Open vSwitch and OVN central run', async () => {
    const s = await labStatus(labOptionsOf(lab!));
    expect(s.hosts.map((h) => [h.name, h.sshd, h.ovs, h.ovnCentral])).toEqual([
      ['central', true, true, true],
      ['master', true, true, undefined],
      ['worker1', true, true, undefined],
      ['worker2', true, true, undefined],
      ['worker3', true, true, undefined],
    ]);
  });

  it("a host's files are its own: what worker1 writes is absent on worker2 and on this machine", async () => {
    const token = `ul-iso-${randomBytes(6).toString('hex')}`;
    const dirs = ['/root', '/etc', '/etc/systemd/system', '/etc/sysctl.d', '/usr/local/bin', '/usr/libexec/kubernetes', '/opt', '/var/lib', '/var/run/openvswitch', '/tmp', '/home', '/srv', '/mnt', '/run'];
    const paths = dirs.map((d) => `${d}/${token}`);
    const write = await run('worker1', joinCmds([...paths.map((p) => sh`mkdir -p ${p.slice(0, p.lastIndexOf('/'))} && echo w1 > ${p}`), sh`cat ${paths}`]));
    expect(write.stderr).toBe('');
    expect(write.stdout).toBe('w1\n'.repeat(paths.length));
    try {
      const seen = await run('worker2', joinCmds(paths.map((p) => sh`if [ -e ${p} ]; then echo ${p}; fi`), ';'));
      expect(seen.code).toBe(0);
      expect(seen.stdout).toBe('');
      for (const p of paths) expect(existsSync(p), p).toBe(false);
      // the files live in worker1's own layers in the state directory
      expect(readFileSync(join(lab!.stateDir, 'hosts', 'worker1', 'root', token), 'utf8')).toBe('w1\n');
      expect(readFileSync(join(lab!.stateDir, 'hosts', 'worker1', 'etc.upper', token), 'utf8')).toBe('w1\n');
    } finally {
      await run('worker1', sh`rm -f ${paths}`);
    }
  });

  it('a host sees only its own processes', async () => {
    const r = await run('worker2', 'ps -e -o pid=,comm=');
    const procs = r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/));
    expect(procs.find((p) => p[0] === '1')?.[1]).toBe('sshd');
    expect(procs.map((p) => p[1])).toEqual(expect.arrayContaining(['sshd', 'ovsdb-server', 'ovs-vswitchd']));
    expect(procs.map((p) => p[1])).not.toContain('ovn-northd');
  });

  it("a host's links are its own: a bridge made on worker1 is absent on worker2 and in the root namespace", async () => {
    const br = `uliso${randomBytes(3).toString('hex')}`;
    const add = await run('worker1', sh`ip link add ${br} type bridge && ip -j link show ${br}`);
    expect(add.code, add.stderr).toBe(0);
    try {
      expect(JSON.parse(add.stdout)[0].ifname).toBe(br);
      const other = await run('worker2', sh`ip link show ${br}`);
      expect(other.code).not.toBe(0);
      expect(other.stderr).toMatch(/does not exist/);
      expect(existsSync(`/sys/class/net/${br}`)).toBe(false);
      const eth1 = await run('worker2', 'ip -j addr show dev eth1');
      const info = JSON.parse(eth1.stdout)[0];
      expect(info.address).toBe(host('worker2').mac);
      expect(info.addr_info.filter((a: { family: string }) => a.family === 'inet').map((a: { local: string }) => a.local)).toEqual([host('worker2').address]);
    } finally {
      await run('worker1', sh`ip link del ${br}`);
    }
  });

  it('Open vSwitch per host: a netdev bridge on worker1 has a datapath port and is unknown to worker2', async () => {
    const r = await run(
      'worker1',
      'ovs-vsctl add-br br-iso -- set bridge br-iso datapath_type=netdev && ovs-vsctl get interface br-iso ofport && ovs-vsctl br-exists br-iso && echo exists',
    );
    try {
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('65534\nexists\n');
      const o = await run('worker2', 'ovs-vsctl br-exists br-iso; echo rc=$?');
      expect(o.stdout).toBe('rc=2\n');
    } finally {
      await run('worker1', 'ovs-vsctl --if-exists del-br br-iso');
    }
  });

  it('the trap of lab-notes: add-br without netdev prints an error, exits 0 and leaves a bridge with no datapath', async () => {
    const r = await run('worker3', 'ovs-vsctl add-br br-trap; echo rc=$?; ovs-vsctl br-exists br-trap; echo exists=$?; ovs-vsctl get interface br-trap ofport');
    try {
      expect(r.stderr).toMatch(/Error detected while setting up 'br-trap'/);
      expect(r.stdout).toBe('rc=0\nexists=0\n[]\n');
    } finally {
      await run('worker3', 'ovs-vsctl --if-exists del-br br-trap');
    }
  });

  it('ovs-vsctl show on every host talks to its own database', async () => {
    const results = await Promise.all(
      lab!.hosts.map((h) => run(h.name, 'ovs-vsctl show >/dev/null && ovs-vsctl get open_vswitch . external_ids:hostname external_ids:system-id ovs_version')),
    );
    const systemIds = new Set<string>();
    for (const [i, r] of results.entries()) {
      const h = lab!.hosts[i]!;
      expect(r.stderr, h.name).toBe('');
      const [name, sysid, version] = r.stdout.trim().split('\n');
      expect(name).toBe(h.name);
      expect(version).toMatch(/^"\d+\.\d+\.\d+"$/);
      systemIds.add(sysid!);
    }
    expect(systemIds.size).toBe(lab!.hosts.length);
  });

  it('OVN NB on central, from a worker: the OpenStack stand-in switches and one port per VM with its MAC and IP', async () => {
    const central = host('central');
    const db = `--db=tcp:${central.address}:6641`;
    const ls = await run('worker1', sh`ovn-nbctl ${db} ls-list`);
    expect(ls.stderr).toBe('');
    expect(ls.stdout).toMatch(/\(ls-kube-mgmt\)/);
    expect(ls.stdout).toMatch(/\(ls-master\)/);
    const vms = lab!.hosts.filter((h) => h.role !== 'central');
    const ports = await run('worker1', sh`ovn-nbctl ${db} lsp-list ls-kube-mgmt`);
    for (const h of vms) expect(ports.stdout).toContain(`(${h.vifId})`);
    expect(ports.stdout.trim().split('\n')).toHaveLength(vms.length);
    const addrs = await run('worker2', joinCmds(vms.map((h) => sh`ovn-nbctl ${db} lsp-get-addresses ${h.vifId}`)));
    expect(addrs.stdout).toBe(vms.map((h) => `${h.mac} ${h.address}\n`).join(''));
    const master = await run('worker3', sh`ovn-nbctl ${db} lsp-list ls-master`);
    expect(master.stdout.trim().split('\n')).toHaveLength(1);
    // ovn-northd runs: it has turned the NB switches into SB datapaths
    const sb = await until(async () => {
      const r = await run('worker1', sh`ovn-sbctl ${`--db=tcp:${central.address}:6642`} --bare --columns=external_ids list Datapath_Binding`);
      return /name=ls-kube-mgmt/.test(r.stdout) && /name=ls-master/.test(r.stdout) ? r.stdout : undefined;
    }, 10_000);
    expect(sb).toBeDefined();
  });

  it('the inventory carries each VM its OS_VIF_ID and the lab-wide variables', () => {
    const text = readFileSync(lab!.inventoryPath, 'utf8');
    for (const h of lab!.hosts.filter((x) => x.role !== 'central')) expect(text).toContain(`os_vif_id: ${h.vifId}`);
    expect(text).toContain('ovs_datapath_type: netdev');
    expect(text).toContain(`ovn_nb_db: tcp:${host('central').address}:6641`);
    const sha = /kube_release_sha256: ([0-9a-f]{64})/.exec(text)?.[1];
    const release = /kube_release: (\S+)/.exec(text)?.[1];
    expect(createHash('sha256').update(readFileSync(release!)).digest('hex')).toBe(sha);
  });

  it('the Kubernetes stand-ins from the release tarball run on the master and record their arguments', async () => {
    const text = readFileSync(lab!.inventoryPath, 'utf8');
    const release = /kube_release: (\S+)/.exec(text)![1]!;
    const master = host('master');
    const install = await run(
      'master',
      'cat > /tmp/k.tgz && tar -xzf /tmp/k.tgz -C /opt && ls /opt/kubernetes/server/bin && /opt/kubernetes/server/bin/kubelet --version',
      readFileSync(release),
    );
    expect(install.stderr).toBe('');
    expect(install.stdout).toBe(
      'kube-apiserver\nkube-controller-manager\nkube-scheduler\nkube-proxy\nkubectl\nkubelet\n'
        .split('\n')
        .filter(Boolean)
        .sort()
        .join('\n') + '\nunderlay lab stand-in: not the real kubelet\n',
    );
    const start = await run(
      'master',
      'cd /; nohup /opt/kubernetes/server/bin/kube-apiserver --portal-net=172.16.2.0/24 --address=0.0.0.0 --etcd-servers=http://127.0.0.1:4001 >/tmp/apiserver.log 2>&1 & echo $! > /tmp/apiserver.pid',
    );
    expect(start.code).toBe(0);
    try {
      const res = await until(() => httpGet(`http://${master.address}:8080/healthz`), 20_000);
      expect(res).toEqual({ status: 200, body: 'ok' });
      const args = await run('master', 'cat /var/lib/underlay-standin/kube-apiserver.args');
      expect(args.stdout).toBe('--portal-net=172.16.2.0/24\n--address=0.0.0.0\n--etcd-servers=http://127.0.0.1:4001\n');
      // only the master has it
      const other = await run('worker1', 'test -e /var/lib/underlay-standin/kube-apiserver.args || echo absent');
      expect(other.stdout).toBe('absent\n');
    } finally {
      await run('master', 'kill $(cat /tmp/apiserver.pid); rm -rf /opt/kubernetes /tmp/k.tgz /var/lib/underlay-standin');
    }
  });

  it('lab up again keeps every host, changes nothing and is fast', async () => {
    const before = readFileSync(lab!.inventoryPath, 'utf8');
    const knownBefore = readFileSync(lab!.knownHostsFile, 'utf8');
    const mtimes = [lab!.inventoryPath, lab!.knownHostsFile].map((f) => statSync(f).mtimeMs);
    const r = await labUp(labOptionsOf(lab!));
    expect(r.created).toEqual([]);
    expect(r.kept).toEqual(['central', 'master', 'worker1', 'worker2', 'worker3']);
    expect(r.hosts.map((h) => h.pid)).toEqual(lab!.hosts.map((h) => h.pid));
    expect(readFileSync(lab!.inventoryPath, 'utf8')).toBe(before);
    expect(readFileSync(lab!.knownHostsFile, 'utf8')).toBe(knownBefore);
    expect([lab!.inventoryPath, lab!.knownHostsFile].map((f) => statSync(f).mtimeMs)).toEqual(mtimes);
    // relative to the first `lab up` of this run, on the same machine
    expect(r.durationMs).toBeLessThan(inject('labUpMs') * 0.6);
  });

  it('a host whose sshd (its PID 1) is killed is rebuilt by lab up; the others are kept', async () => {
    const w3 = host('worker3');
    process.kill(w3.pid, 'SIGKILL');
    const gone = await until(async () => (startTime(w3.pid) === undefined ? true : undefined), 10_000);
    expect(gone).toBe(true);
    const s = await labStatus(labOptionsOf(lab!));
    expect(s.hosts.find((h) => h.name === 'worker3')).toMatchObject({ sshd: false, ovs: false });
    const r = await labUp(labOptionsOf(lab!));
    expect(r.created).toEqual(['worker3']);
    expect(r.kept).toEqual(['central', 'master', 'worker1', 'worker2']);
    const nw3 = r.hosts.find((h) => h.name === 'worker3')!;
    expect(nw3.pid).not.toBe(w3.pid);
    expect({ ...nw3, pid: 0 }).toEqual({ ...w3, pid: 0 });
    // same address, same host key: the known_hosts entry still holds
    const again = await ssh(lab!, nw3, 'hostname && ovs-vsctl get open_vswitch . external_ids:hostname');
    expect(again.stdout).toBe('worker3\nworker3\n');
    const ports = await run('worker1', sh`ovn-nbctl ${`--db=tcp:${host('central').address}:6641`} lsp-get-addresses ${w3.vifId}`);
    expect(ports.stdout).toBe(`${w3.mac} ${w3.address}\n`);
    Object.assign(w3, { pid: nw3.pid });
  });
});

describe('a lab of its own, brought up and torn down', () => {
  const name = 'e2e-td';
  const stateDir = resolve('.lab', name);
  const outside = mkdtempSync(join(tmpdir(), 'underlay-td-'));
  const inventoryPath = join(outside, 'inventory', 'td.yml');
  const opts = { name, workers: 1, subnet: '10.213.102.0/24', stateDir, inventoryPath };

  afterAll(async () => {
    try {
      if (lab) {
        await labDown(opts);
        rmSync(stateDir, { recursive: true, force: true });
      }
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('leaves nothing behind: no netns, process, mount, link or file outside its state directory', async () => {
    let up: LabState;
    try {
      up = await labUp(opts);
    } catch (e) {
      if (e instanceof EnvironmentError) throw new Error(`lab ${name} did not come up: ${e.message}`);
      throw e;
    }
    expect(up.hosts.map((h) => h.netns)).toEqual(['ul-e2e-td-central', 'ul-e2e-td-master', 'ul-e2e-td-worker1']);
    expect(existsSync(inventoryPath)).toBe(true);
    // a stray process on the worker, left running on purpose
    const w1 = up.hosts[2]!;
    const stray = await ssh(up, w1, 'nohup sleep 600 >/dev/null 2>&1 & echo started');
    expect(stray.stdout).toBe('started\n');
    const pids = up.hosts.flatMap((h) => pidsInNetns(h.netns));
    expect(pids.length).toBeGreaterThanOrEqual(3 * 4); // launcher, sshd, ovsdb-server, ovs-vswitchd at least
    const starts = new Map(pids.map((p) => [p, startTime(p)]));
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(stateDir);

    const down = await labDown(opts);
    expect(down.removed).toEqual(expect.arrayContaining(['netns ul-e2e-td-worker1', 'link ul-e2e-td-br', `file ${inventoryPath}`]));

    expect(readdirSync('/run/netns').filter((n) => n.startsWith('ul-e2e-td-'))).toEqual([]);
    expect(readdirSync('/sys/class/net').filter((n) => n.startsWith('ul-e2e-td-'))).toEqual([]);
    const alive = [...starts].filter(([pid, t]) => t !== undefined && startTime(pid) === t).map(([pid]) => pid);
    expect(alive).toEqual([]);
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter((l) => l.split(' ')[4]?.startsWith(stateDir));
    expect(mounts).toEqual([]);
    expect(existsSync(inventoryPath)).toBe(false);
    expect(readdirSync(join(outside, 'inventory'))).toEqual([]);
    // only the lab's SSH key pair is kept
    expect(readdirSync(stateDir).sort()).toEqual(['id_ed25519', 'id_ed25519.pub']);
    // and a second down finds nothing more to do
    expect((await labDown(opts)).removed).toEqual([]);
  });
});

describe('a lab without Open vSwitch (lab up --without-ovs)', () => {
  const name = 'e2enovs';
  const dir = mkdtempSync(join(tmpdir(), 'underlay-novs-'));
  const opts = { name, workers: 1, subnet: '10.213.107.0/24', stateDir: join(dir, 'state'), inventoryPath: join(dir, 'inventory.yml') };
  const root = resolve(__dirname, '../..');
  const comms = (h: LabHost): string[] =>
    pidsInNetns(h.netns)
      .map((p) => {
        try {
          return readFileSync(`/proc/${p}/comm`, 'utf8').trim();
        } catch {
          return '';
        }
      })
      .filter(Boolean)
      .sort();
  const underlay = (args: string[]) => {
    const r = spawnSync(process.execPath, [join(root, 'bin/underlay.js'), ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true', XDG_CACHE_HOME: join(dir, 'cache') }, timeout: 120_000 });
    const events = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, any>);
    return { code: r.status, stdout: r.stdout, stderr: r.stderr, recap: events.find((e) => e['type'] === 'recap')?.['hosts'] as Record<string, { changed: number; failed: number }> | undefined, events };
  };

  afterAll(async () => {
    try {
      if (lab) await labDown(opts);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs no OVS daemon, is healthy, takes the worker role without its `ovs` tasks twice (the second run changes nothing), and gets Open vSwitch back with lab up', async () => {
    const up = await labUp({ ...opts, openvswitch: false });
    expect(up.hosts.map((h) => [h.name, h.openvswitch])).toEqual([
      ['central', false],
      ['master', false],
      ['worker1', false],
    ]);
    const [central, , worker1] = up.hosts as [LabHost, LabHost, LabHost];
    expect(comms(worker1)).toEqual(['sshd', 'unshare']);
    // OVN central is not Open vSwitch: its databases and northd still run
    expect(comms(central)).toEqual(['ovn-northd', 'ovsdb-server', 'ovsdb-server', 'sshd', 'unshare']);
    const status = await labStatus(opts);
    expect(labHealthy(status)).toBe(true);
    expect(formatLabStatus(status)).toMatch(/worker1 .* sshd up \(pid \d+\), ovs not run \(--without-ovs\)\n$/);
    // a second lab up without OVS keeps every host
    expect((await labUp({ ...opts, openvswitch: false })).kept).toEqual(['central', 'master', 'worker1']);

    const args = ['run', join(root, 'playbooks/worker.yml'), '-i', up.inventoryPath, '--skip-tags', 'ovs', '--json'];
    const first = underlay(args);
    expect(first.code, first.stderr + first.stdout.slice(-2000)).toBe(0);
    expect(first.recap!['worker1']!.changed).toBeGreaterThan(10);
    const ran = first.events.filter((e) => e['type'] === 'host_result').map((e) => String(e['task']));
    expect(ran.some((t) => /OVS integration bridge|external_ids|to br-int$/.test(t))).toBe(false);
    const second = underlay(args);
    expect(second.code, second.stderr).toBe(0);
    expect(second.recap!['worker1']).toMatchObject({ changed: 0, failed: 0 });
    // the role's Linux side is there: eth1 in breth1, the veth's bridge end too
    const ports = inHostJson(worker1, ['bridge', '-j', 'link', 'show']) as Array<{ ifname: string; master?: string }>;
    expect(ports.filter((p) => p.master === 'breth1').map((p) => p.ifname).sort()).toEqual(['breth1-veth', 'eth1']);

    // Open vSwitch wanted again: every host is rebuilt with it
    const back = await labUp(opts);
    expect(back.created).toEqual(['central', 'master', 'worker1']);
    expect(back.hosts.every((h) => h.openvswitch)).toBe(true);
    const s2 = await labStatus(opts);
    expect(s2.hosts.map((h) => [h.name, h.sshd, h.ovs])).toEqual([
      ['central', true, true],
      ['master', true, true],
      ['worker1', true, true],
    ]);
    expect(comms(back.hosts[2]!)).toEqual(['ovs-vswitchd', 'ovsdb-server', 'sshd', 'unshare']);
  });
});

/** JSON output of a command run inside a lab host (all its namespaces), bypassing SSH. */
function inHostJson(h: LabHost, argv: string[]): unknown {
  const r = inHost(h, h.pid, argv);
  if (r.code !== 0) throw new Error(`${h.name}: ${argv.join(' ')}: exit ${r.code}: ${r.err}`);
  return JSON.parse(r.out || '[]');
}
