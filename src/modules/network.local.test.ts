/**
 * The network modules end to end on real network namespaces: observe -> decide -> apply
 * through a channel that runs every command as `ip netns exec NS sh -c CMD`. For each
 * module: check mode changes nothing, the first run converges (verified with `ip -j` /
 * `ovs-vsctl`), the second run and check mode then report no change.
 *
 * Needs root and iproute2 (skipped otherwise); the OVS part needs the Open vSwitch
 * userspace programs. Traffic stays between the namespaces created here.
 *
 * With UL_CAPTURE_NET=1 this file instead re-captures the unit tests' fixtures.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureFixtures } from '../../test/support/net-fixtures.js';
import {
  converge,
  cpuTicks,
  createNetns,
  deleteAllNetns,
  NetnsChannel,
  nsExec,
  nsJson,
  netnsAvailable,
  ovsAvailable,
  startOvs,
  waitFor,
  type OvsInstance,
} from '../../test/support/netns.js';
import { hairpin_guard } from './hairpin_guard.js';
import { ip_move } from './ip_move.js';
import { linux_bridge } from './linux_bridge.js';
import { neighbor } from './neighbor.js';
import { ovs_bridge } from './ovs_bridge.js';
import { ovs_port } from './ovs_port.js';
import { ovs_set } from './ovs_set.js';
import { route } from './route.js';
import type { ModuleDef } from './types.js';
import { veth } from './veth.js';

const capturing = process.env['UL_CAPTURE_NET'] === '1';

describe.runIf(capturing)('capture the fixtures of the network modules', () => {
  it('captures real output in namespaces', async () => {
    await captureFixtures();
  }, 120_000);
});

const ECHO_PORT = 7707;
const ETH1_MAC = '02:00:0a:58:00:02';

/** A host namespace with eth1 (a veth to a peer namespace) carrying 10.88.0.2/24 and a default route via the peer. */
function makeHost(): { ns: string; peer: string; ch: NetnsChannel } {
  const ns = createNetns();
  const peer = createNetns();
  nsExec(ns, `ip link add eth1 address ${ETH1_MAC} type veth peer name p0 netns ${peer}`);
  nsExec(peer, 'ip link set p0 up && ip addr add 10.88.0.1/24 dev p0');
  nsExec(ns, 'ip link set eth1 up && ip addr add 10.88.0.2/24 brd + dev eth1 && ip route add default via 10.88.0.1 dev eth1 metric 100');
  return { ns, peer, ch: new NetnsChannel(ns) };
}

/** Check mode changes nothing, the first run changes, the second run and check mode do not. */
async function idempotent(def: ModuleDef<any, any>, args: Record<string, unknown>, ch: NetnsChannel, verifyBefore?: () => void) {
  const dry = await converge(def, args, ch, { check: true });
  expect(dry.failed, dry.failed).toBeUndefined();
  expect(dry.changed).toBe(true);
  verifyBefore?.();
  const first = await converge(def, args, ch);
  expect(first.failed, first.failed).toBeUndefined();
  expect(first.changed).toBe(true);
  const second = await converge(def, args, ch);
  expect(second.failed, second.failed).toBeUndefined();
  expect({ changed: second.changed, actions: second.decision.actions.length, msg: second.decision.msg }).toMatchObject({ changed: false, actions: 0 });
  const again = await converge(def, args, ch, { check: true });
  expect(again.changed).toBe(false);
  return first;
}

const children: ChildProcessWithoutNullStreams[] = [];

/** Starts `ip netns exec NS CMD...` in its own process group, its PID recorded for teardown. */
function startIn(ns: string, argv: string[]): ChildProcessWithoutNullStreams {
  const c = spawn('ip', ['netns', 'exec', ns, ...argv], { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(c);
  return c;
}

/** Signals a child started by startIn; with `group`, its whole process group (its PID is the group's). */
function stopChild(c: ChildProcessWithoutNullStreams, signal: NodeJS.Signals = 'SIGTERM', group = false): void {
  if (c.pid === undefined) return;
  try {
    process.kill(group ? -c.pid : c.pid, signal);
  } catch {
    /* gone */
  }
}

/** Resolves with the first stdout line matching `re` (bounded). */
function lineFrom(c: ChildProcessWithoutNullStreams, re: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => {
      c.stdout.off('data', onData);
      reject(new Error(`no line matching ${re} within ${timeoutMs} ms; got: ${buf}`));
    }, timeoutMs);
    const onData = (d: Buffer) => {
      buf += d.toString();
      const line = buf.split('\n').find((l) => re.test(l));
      if (line !== undefined) {
        clearTimeout(timer);
        c.stdout.off('data', onData);
        resolve(line);
      }
    };
    c.stdout.on('data', onData);
  });
}

/** One short TCP round trip from `from` to 10.88.0.2 (the address being moved): true when the echo came back. */
function echoWorks(from: string): boolean {
  const js = `const s=require('net').connect(${ECHO_PORT},'10.88.0.2',()=>s.write('ping'));s.setTimeout(2000,()=>process.exit(2));s.on('data',d=>process.exit(String(d)==='ping'?0:3));s.on('error',()=>process.exit(1));`;
  try {
    nsExec(from, `node -e ${JSON.stringify(js)}`);
    return true;
  } catch {
    return false;
  }
}

const addrsOf = (ns: string, dev: string): string[] =>
  (nsJson<{ addr_info: { family: string; local: string; prefixlen: number }[] }[]>(ns, `ip -j addr show dev ${dev}`)[0]?.addr_info ?? [])
    .filter((a) => a.family === 'inet')
    .map((a) => `${a.local}/${a.prefixlen}`);
const defaultRoute = (ns: string) => nsJson<{ dst: string; gateway?: string; dev: string; metric?: number }[]>(ns, 'ip -j -4 route show exact default');
const link = (ns: string, dev: string) => nsJson<Record<string, any>[]>(ns, `ip -j -d link show dev ${dev}`)[0]!;

describe.skipIf(capturing || !netnsAvailable())('network modules in network namespaces', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'ul-net-'));
  let host: { ns: string; peer: string; ch: NetnsChannel };

  beforeAll(() => {
    host = makeHost();
  });

  afterAll(() => {
    for (const c of children) stopChild(c, 'SIGKILL', true);
    deleteAllNetns();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('linux_bridge: breth1 with STP off, ageing 0 and eth1 MAC, up', async () => {
    await idempotent(linux_bridge, { name: 'breth1', mac_from: 'eth1' }, host.ch, () => {
      expect(() => link(host.ns, 'breth1')).toThrow();
    });
    const br = link(host.ns, 'breth1');
    expect(br['linkinfo'].info_kind).toBe('bridge');
    expect(br['linkinfo'].info_data.stp_state).toBe(0);
    expect(br['linkinfo'].info_data.ageing_time).toBe(0);
    expect(br['address']).toBe(ETH1_MAC);
    expect(br['flags']).toContain('UP');
    // ageing_time is converted seconds -> centiseconds both ways
    await idempotent(linux_bridge, { name: 'breth1', mac_from: 'eth1', ageing_time: 300 }, host.ch);
    expect(link(host.ns, 'breth1')['linkinfo'].info_data.ageing_time).toBe(30000);
    await idempotent(linux_bridge, { name: 'breth1', mac_from: 'eth1' }, host.ch);
  }, 30_000);

  it('veth: br-int-veth/breth1-veth, both up; then breth1-veth a port of breth1', async () => {
    await idempotent(veth, { name: 'br-int-veth', peer: 'breth1-veth' }, host.ch);
    const a = link(host.ns, 'br-int-veth');
    expect(a['linkinfo'].info_kind).toBe('veth');
    expect(a['link']).toBe('breth1-veth');
    expect(a['flags']).toContain('UP');
    expect(link(host.ns, 'breth1-veth')['flags']).toContain('UP');
    await idempotent(veth, { name: 'br-int-veth', peer: 'breth1-veth', mtu: 1400 }, host.ch);
    expect(link(host.ns, 'breth1-veth')['mtu']).toBe(1400);
    await idempotent(linux_bridge, { name: 'breth1', mac_from: 'eth1', ports: ['breth1-veth'] }, host.ch);
    expect(link(host.ns, 'breth1-veth')['master']).toBe('breth1');
    // a throwaway pair, deleted again
    await idempotent(veth, { name: 'tmp-a', peer: 'tmp-b' }, host.ch);
    await idempotent(veth, { name: 'tmp-a', peer: 'tmp-b', state: 'absent' }, host.ch);
    expect(() => link(host.ns, 'tmp-b')).toThrow();
  }, 30_000);

  it('ip_move: addresses and routes move to breth1, an open TCP session survives, a second run changes nothing', async () => {
    const stateDir = join(tmp, 'ipmove-ok');
    const server = startIn(host.ns, ['node', '-e', `require('net').createServer(s=>s.pipe(s)).listen(${ECHO_PORT},'0.0.0.0',()=>console.log('listening'))`]);
    await lineFrom(server, /listening/, 10_000);
    expect(echoWorks(host.peer)).toBe(true);
    const client = startIn(host.peer, [
      'node',
      '-e',
      `const s=require('net').connect(${ECHO_PORT},'10.88.0.2',()=>console.log('connected'));s.setEncoding('utf8');s.on('data',d=>process.stdout.write('echo:'+d));s.on('error',e=>{console.log('error:'+e.message);process.exit(1)});process.stdin.setEncoding('utf8');process.stdin.on('data',d=>s.write(d));`,
    ]);
    await lineFrom(client, /connected/, 10_000);
    client.stdin.write('before\n');
    await lineFrom(client, /echo:before/, 5000);

    const args = { from: 'eth1', to: 'breth1', confirm_timeout: 3, rollback_after: 6, state_dir: stateDir };
    const first = await idempotent(ip_move, args, host.ch, () => {
      expect(addrsOf(host.ns, 'eth1')).toEqual(['10.88.0.2/24']);
    });
    expect(link(host.ns, 'eth1')['master']).toBe('breth1');
    expect(addrsOf(host.ns, 'eth1')).toEqual([]);
    expect(addrsOf(host.ns, 'breth1')).toEqual(['10.88.0.2/24']);
    expect(defaultRoute(host.ns)).toEqual([{ dst: 'default', gateway: '10.88.0.1', dev: 'breth1', metric: 100, flags: [] }]);
    // the timer was disarmed: pidfile gone, its process ended
    expect(existsSync(join(stateDir, 'eth1.pid'))).toBe(false);
    const armed = first.results.map((r) => /rollback timer armed: pid (\d+)/.exec(r.stdout)?.[1]).find((x) => x !== undefined);
    expect(armed).toBeDefined();
    expect(await waitFor(() => !existsSync(`/proc/${armed}`), 2000)).toBe(true);
    expect((statSync(join(stateDir, 'eth1.rollback')).mode & 0o777).toString(8)).toBe('700');
    expect(JSON.parse(readFileSync(join(stateDir, 'eth1.state'), 'utf8')).addresses[0].local).toBe('10.88.0.2');
    // traffic: the open session still echoes, new connections work
    client.stdin.write('after\n');
    await lineFrom(client, /echo:after/, 5000);
    expect(echoWorks(host.peer)).toBe(true);
    // and nothing rolls back later
    await new Promise((r) => setTimeout(r, 6500));
    expect(addrsOf(host.ns, 'breth1')).toEqual(['10.88.0.2/24']);
    expect(existsSync(join(stateDir, 'eth1.rolledback'))).toBe(false);
    stopChild(client);
    stopChild(server);
  }, 60_000);

  it('ip_move: a confirmation that fails leaves the host to roll itself back within rollback_after', async () => {
    const other = makeHost();
    await converge(linux_bridge, { name: 'breth1', mac_from: 'eth1' }, other.ch);
    const stateDir = join(tmp, 'ipmove-fail');
    const started = Date.now();
    const r = await converge(ip_move, { from: 'eth1', to: 'breth1', confirm_timeout: 2, rollback_after: 3, confirm_command: 'false', state_dir: stateDir }, other.ch);
    expect(r.failed).toMatch(/not confirmed over a new connection/);
    expect(r.failed).toMatch(/the confirmation failed; the host restores eth1 by itself when the rollback timer fires \(3 s after it was armed\)/);
    // moved for now
    expect(addrsOf(other.ns, 'breth1')).toEqual(['10.88.0.2/24']);
    // restored by the host within rollback_after (+ slack for a loaded machine)
    const restored = await waitFor(() => addrsOf(other.ns, 'eth1').length === 1 && defaultRoute(other.ns)[0]?.dev === 'eth1', 3000 + 4000 - (Date.now() - started), 100);
    expect(restored).toBe(true);
    expect(addrsOf(other.ns, 'eth1')).toEqual(['10.88.0.2/24']);
    expect(addrsOf(other.ns, 'breth1')).toEqual([]);
    expect(defaultRoute(other.ns)).toEqual([{ dst: 'default', gateway: '10.88.0.1', dev: 'eth1', metric: 100, flags: [] }]);
    expect(link(other.ns, 'eth1')['master']).toBeUndefined();
    expect(await waitFor(() => existsSync(join(stateDir, 'eth1.rolledback')), 2000)).toBe(true);
    expect(existsSync(join(stateDir, 'eth1.pid'))).toBe(false);
    expect(existsSync(join(stateDir, 'eth1.pid.fired'))).toBe(false);
    // the log tells what happened
    expect(readFileSync(join(stateDir, 'eth1.log'), 'utf8')).toMatch(/rollback timer fired after 3 s[\s\S]*ip_move rollback: done \(status 0\)/);
    // and a new run starts the move again (nothing armed any more)
    const again = await converge(ip_move, { from: 'eth1', to: 'breth1', confirm_timeout: 3, state_dir: stateDir }, other.ch, { check: true });
    expect(again.changed).toBe(true);
    expect(again.failed).toBeUndefined();
  }, 30_000);

  it('route and neighbor: the W12 routes and the gateway neighbour on breth1', async () => {
    await idempotent(route, { dest: '192.168.1.1', dev: 'breth1' }, host.ch);
    await idempotent(route, { dest: '192.168.1.0/29', dev: 'breth1' }, host.ch);
    await idempotent(route, { dest: '192.168.0.0/16', via: '192.168.1.1', dev: 'breth1' }, host.ch);
    expect(nsJson(host.ns, 'ip -j -4 route show exact 192.168.0.0/16')).toEqual([{ dst: '192.168.0.0/16', gateway: '192.168.1.1', dev: 'breth1', flags: [] }]);
    await idempotent(route, { dest: '192.168.0.0/16', via: '192.168.1.1', dev: 'breth1', metric: 50 }, host.ch);
    await idempotent(route, { dest: '192.168.0.0/16', via: '192.168.1.1', metric: 50, state: 'absent' }, host.ch);
    expect(nsJson(host.ns, 'ip -j -4 route show exact 192.168.0.0/16')).toEqual([{ dst: '192.168.0.0/16', gateway: '192.168.1.1', dev: 'breth1', flags: [] }]);
    await idempotent(route, { dest: '10.50.0.0/16', dev: 'breth1', table: '100' }, host.ch);
    expect(nsJson(host.ns, 'ip -j -4 route show table 100')).toEqual([{ dst: '10.50.0.0/16', dev: 'breth1', scope: 'link', flags: [] }]);

    await idempotent(neighbor, { ip: '192.168.1.1', lladdr: '0a:58:c0:a8:01:01', dev: 'breth1' }, host.ch);
    expect(nsJson(host.ns, 'ip -j neigh show to 192.168.1.1 dev breth1')).toEqual([{ dst: '192.168.1.1', lladdr: '0a:58:c0:a8:01:01', state: ['PERMANENT'] }]);
    await idempotent(neighbor, { ip: '192.168.1.1', lladdr: '0a:58:c0:a8:01:09', dev: 'breth1' }, host.ch);
    await idempotent(neighbor, { ip: '192.168.1.1', dev: 'breth1', state: 'absent' }, host.ch);
    expect(nsJson(host.ns, 'ip -j neigh show to 192.168.1.1 dev breth1')).toEqual([]);
  }, 30_000);

  it('hairpin_guard: hairpin off now; the guard script turns it off again within 1 s and is idle otherwise', async () => {
    const script = join(tmp, 'guard', 'hairpin-guard');
    nsExec(host.ns, 'bridge link set dev eth1 hairpin on');
    await idempotent(hairpin_guard, { bridge: 'breth1', script_path: script }, host.ch);
    const hairpin = () => Object.fromEntries(nsJson<{ ifname: string; hairpin: boolean }[]>(host.ns, 'bridge -j -d link show').map((p) => [p.ifname, p.hairpin]));
    expect(hairpin()).toEqual({ eth1: false, 'breth1-veth': false });
    expect((statSync(script).mode & 0o777).toString(8)).toBe('755');

    const guard = startIn(host.ns, ['sh', script]);
    const pid = guard.pid!;
    await lineFrom(guard, /watching/, 5000);
    const monitorPid = Number(readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)[0]);
    expect(readFileSync(`/proc/${monitorPid}/cmdline`, 'utf8').split('\0').slice(0, 3)).toEqual(['bridge', 'monitor', 'link']);

    for (const port of ['breth1-veth', 'eth1']) {
      nsExec(host.ns, `bridge link set dev ${port} hairpin on`);
      const t0 = Date.now();
      expect(await waitFor(() => hairpin()[port] === false, 1000, 20)).toBe(true);
      expect(Date.now() - t0).toBeLessThan(1000);
    }
    // a port enslaved later is guarded too (the script guards every port of the bridge)
    nsExec(host.ns, 'ip link add late0 type veth peer name late1 && ip link set late0 master breth1 && ip link set late0 up && bridge link set dev late0 hairpin on');
    expect(await waitFor(() => hairpin()['late0'] === false, 1000, 20)).toBe(true);

    // idle: no CPU time over 2 s while nothing changes. The kernel's own follow-up events of
    // the new port (carrier, IPv6 set-up) may still come in the first window; a guard that
    // polled would use CPU in every window, so up to 3 windows are tried.
    await new Promise((r) => setTimeout(r, 500));
    let used = -1;
    for (let i = 0; i < 3 && used !== 0; i++) {
      const before = cpuTicks(pid) + cpuTicks(monitorPid);
      await new Promise((r) => setTimeout(r, 2000));
      used = cpuTicks(pid) + cpuTicks(monitorPid) - before;
    }
    expect(used).toBe(0);

    // TERM by PID ends the guard and its monitor
    const exited = new Promise<number | null>((r) => guard.on('exit', (code) => r(code)));
    process.kill(pid, 'SIGTERM');
    expect(await exited).toBe(143);
    expect(await waitFor(() => !existsSync(`/proc/${monitorPid}`) || readFileSync(`/proc/${monitorPid}/stat`, 'utf8').includes(') Z'), 2000)).toBe(true);
    nsExec(host.ns, 'ip link del late0');
  }, 30_000);

  describe.skipIf(!ovsAvailable())('Open vSwitch (ovsdb-server and ovs-vswitchd inside the namespace, netdev datapath)', () => {
    let ovs: OvsInstance;
    let db: { db: string };
    const vsctl = (args: string) => nsExec(host.ns, `ovs-vsctl --db=${ovs.db} --timeout=10 ${args}`);
    const ofport = (name: string) => nsJson<{ data: unknown[][] }>(host.ns, `ovs-vsctl --db=${ovs.db} --format=json --columns=ofport find Interface name=${name}`).data[0]?.[0];

    beforeAll(() => {
      ovs = startOvs(host.ns, join(tmp, 'ovs'));
      db = { db: ovs.db };
    });
    afterAll(() => ovs?.stop());

    it('ovs_bridge: br-int with a datapath port; a row without a datapath is repaired', async () => {
      await idempotent(ovs_bridge, { name: 'br-int', datapath_type: 'netdev', ...db }, host.ch);
      expect(ofport('br-int')).toBe(65534);
      vsctl('add-br brbad || true');
      expect(ofport('brbad')).toEqual(['set', []]);
      const repaired = await idempotent(ovs_bridge, { name: 'brbad', datapath_type: 'netdev', ...db }, host.ch);
      expect(repaired.decision.msg).toMatch(/repairs its missing datapath port/);
      expect(ofport('brbad')).toBe(65534);
      await idempotent(ovs_bridge, { name: 'brbad', state: 'absent', ...db }, host.ch);
      // without datapath_type on this machine (no kernel module) the bridge cannot work: the check says so
      const bare = await converge(ovs_bridge, { name: 'brsys', ...db }, host.ch);
      expect(bare.failed).toMatch(/Error detected while setting up 'brsys'/);
      vsctl('--if-exists del-br brsys');
    }, 60_000);

    it('ovs_port: br-int-veth on br-int; a port that cannot work fails with the OVS error', async () => {
      await idempotent(ovs_port, { bridge: 'br-int', port: 'br-int-veth', ...db }, host.ch);
      expect(vsctl('port-to-br br-int-veth').trim()).toBe('br-int');
      expect(ofport('br-int-veth')).toBeGreaterThan(0);
      await idempotent(ovs_port, { bridge: 'br-int', port: 'br-int-veth', tag: 10, ...db }, host.ch);
      expect(vsctl('get Port br-int-veth tag').trim()).toBe('10');
      const ghost = await converge(ovs_port, { bridge: 'br-int', port: 'ghost0', ...db }, host.ch);
      expect(ghost.failed).toMatch(/Error detected while setting up 'ghost0': could not open network device ghost0 \(No such device\)/);
      await idempotent(ovs_port, { bridge: 'br-int', port: 'ghost0', state: 'absent', ...db }, host.ch);
    }, 60_000);

    it('ovs_set: neutron-config and values with quotes and spaces round-trip', async () => {
      const base = { table: 'open_vswitch', record: '.', column: 'external_ids', ...db };
      await idempotent(ovs_set, { ...base, key: 'neutron-config', value: '/root/openrc' }, host.ch);
      expect(vsctl('get open_vswitch . external_ids:neutron-config').trim()).toBe('"/root/openrc"');
      const tricky = `it's "quoted" \\ and spaced: é`;
      await idempotent(ovs_set, { ...base, key: 'note', value: tricky }, host.ch);
      const row = nsJson<{ data: unknown[][] }>(host.ns, `ovs-vsctl --db=${ovs.db} --format=json --columns=external_ids list open_vswitch .`).data[0]![0] as [string, [string, string][]];
      expect(Object.fromEntries(row[1])['note']).toBe(tricky);
      await idempotent(ovs_set, { ...base, key: 'note', state: 'absent' }, host.ch);
      await idempotent(ovs_set, { table: 'bridge', record: 'br-int', column: 'fail_mode', value: 'secure', ...db }, host.ch);
      expect(vsctl('get bridge br-int fail_mode').trim()).toBe('secure');
      await idempotent(ovs_set, { table: 'bridge', record: 'br-int', column: 'other_config', value: { 'hwaddr': '02:00:00:00:aa:01' }, ...db }, host.ch);
      expect(vsctl('get bridge br-int other_config:hwaddr').trim()).toBe('"02:00:00:00:aa:01"');
    }, 60_000);
  });
});
