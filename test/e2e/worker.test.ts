/**
 * The worker role (playbooks/worker.yml) end to end, with the real CLI, against the e2e
 * lab's three workers: a move of eth1's address that is never confirmed rolls the host
 * back by itself and the run says so; the role converges on the three workers at once
 * over the very SSH sessions that come in on eth1, and a second run changes nothing; the
 * hosts' state, read with `ip -j`, `bridge -j` and `ovs-vsctl`, is what
 * playbooks/PROCEDURE.md asks for at every step; a service restarts only when its flags
 * changed; the OpenStack password never appears in any output; the hairpin guard turns
 * hairpin off again at once and idles without CPU; W12's neighbour and routes are exact;
 * and the boot step brings a host whose kernel forgot everything back to the same state.
 * Every worker is put back as it was found (eth1 with its address, nothing of the role)
 * at the end.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labStatus, type LabHost } from '../../src/lab/index.js';
import { bootScript } from '../../src/modules/service.js';
import { renderTemplateFile } from '../../src/vars/template.js';
import { getLab, inHost, labOptionsOf, labSkipReason } from '../support/lab.js';

const lab = getLab();
const root = resolve(__dirname, '../..');
const bin = join(root, 'bin/underlay.js');
/** The code cache of these runs (src/cli/codecache.ts), not the user's. */
const cacheHome = mkdtempSync(join(tmpdir(), 'ul-e2e-cache-'));
afterAll(() => rmSync(cacheHome, { recursive: true, force: true }));
const playbook = join(root, 'playbooks/worker.yml');
const workers = ['worker1', 'worker2', 'worker3'] as const;
const services = ['kubelet', 'kube-proxy', 'hairpin-guard'] as const;

type Event = Record<string, any>;
interface Ran {
  code: number;
  stdout: string;
  stderr: string;
  events: Event[];
  ms: number;
}

function underlay(args: string[]): Ran {
  const started = Date.now();
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true', XDG_CACHE_HOME: cacheHome }, timeout: 240_000 });
  const events = args.includes('--json')
    ? r.stdout
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Event)
    : [];
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, events, ms: Date.now() - started };
}

const recapOf = (r: Ran) => r.events.find((e) => e['type'] === 'recap')!['hosts'] as Record<string, { changed: number; failed: number; unreachable: number; ok: number }>;
const resultsOf = (r: Ran, task: string) => r.events.filter((e) => e['type'] === 'host_result' && String(e['task']).includes(task));

/** The lab's hosts as they are now (another test file may have rebuilt a host: a new PID); set in beforeAll. */
let current: LabHost[] = [];
function host(name: string): LabHost {
  const h = current.find((x) => x.name === name);
  if (!h) throw new Error(`no host ${name} in the lab`);
  return h;
}

/** Runs a script inside a lab host (all its namespaces), bypassing SSH. */
function onHost(name: string, script: string, env: Record<string, string> = {}): { code: number; out: string; err: string } {
  const h = host(name);
  return inHost(h, h.pid, ['sh', '-c', script], { env });
}

/** JSON output of a command run on a host (`ip -j ...`, `bridge -j ...`). */
function json(name: string, cmd: string): any {
  const r = onHost(name, cmd);
  if (r.code !== 0) throw new Error(`${name}: ${cmd}: exit ${r.code}: ${r.err}`);
  return JSON.parse(r.out || '[]');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `f` every 50 ms until it returns true, at most `ms`; returns the time it took, or -1. */
async function within(ms: number, f: () => boolean): Promise<number> {
  const start = Date.now();
  for (let i = 0; i < 1000 && Date.now() - start <= ms; i++) {
    if (f()) return Date.now() - start;
    await sleep(50);
  }
  return -1;
}

/** What a fresh lab worker has: eth1's address and the default route. */
interface Fresh {
  cidr: string;
  gateway: string;
}

/** Puts a worker back as the lab made it: services stopped (by pidfile), the role's links, OVS rows and files gone, eth1 with its address. */
const RESET = `
for s in ${services.join(' ')}; do
  f=/run/underlay/$s.pid
  if [ -s "$f" ]; then pid=$(cat "$f"); kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null; fi
done
ip link del breth1 2>/dev/null
ip link del br-int-veth 2>/dev/null
ip addr replace "$CIDR" dev eth1
ip route replace default via "$GW" dev eth1
ovs-vsctl --timeout=10 --if-exists del-br br-int -- --if-exists remove open_vswitch . external_ids neutron-config
sysctl -q -w net.bridge.bridge-nf-filter-vlan-tagged=0
if [ -f /etc/sysctl.d/99-underlay.conf ]; then sed -i '/bridge-nf-filter-vlan-tagged/d' /etc/sysctl.d/99-underlay.conf; fi
rm -rf /root/openrc /opt/kubernetes /etc/kubernetes /usr/local/lib/underlay /usr/libexec/kubernetes /var/lib/underlay-standin \\
  /etc/modules-load.d/underlay-br_netfilter.conf /run/underlay/ip_move
for s in ${services.join(' ')}; do
  rm -f /etc/underlay/services/$s.json /etc/underlay/services/$s.run /etc/underlay/services/$s.enabled \\
    /run/underlay/$s.pid /run/underlay/$s.start /var/log/underlay/$s.log
done
true`;

/** Kills a supervised service's process group by its pidfile (a reboot would). */
const STOP_SERVICES = `
for s in ${services.join(' ')}; do
  f=/run/underlay/$s.pid
  if [ -s "$f" ]; then pid=$(cat "$f"); kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null; fi
done
i=0
while [ "$i" -lt 100 ]; do
  alive=
  for s in ${services.join(' ')}; do
    f=/run/underlay/$s.pid
    [ -s "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && alive=1
  done
  [ -z "$alive" ] && break
  sleep 0.05
  i=$((i + 1))
done`;

/** The "Accepted publickey" lines of a host's sshd log (one per SSH connection), with their client ports. */
function sshdLog(name: string): string[] {
  return onHost(name, 'cat /var/log/sshd.log').out.split('\n');
}

function servicePid(name: string, service: string): number | undefined {
  const r = onHost(name, `pid=$(cat /run/underlay/${service}.pid) && kill -0 "$pid" && echo "$pid"`);
  return r.code === 0 ? Number(r.out.trim()) : undefined;
}

/** A link's IPv4 and global IPv6 addresses as `ADDR/LEN [brd B] scope S` (no link-local: a new veth gets a new one). */
function inetAddrs(link: any): string[] {
  return ((link?.addr_info ?? []) as any[])
    .filter((a) => a.family === 'inet' || a.scope === 'global')
    .map((a) => `${a.local}/${a.prefixlen}${a.broadcast ? ` brd ${a.broadcast}` : ''} scope ${a.scope}`);
}

/** The state the role is about, normalised: what must be the same after the boot step as after the role. */
function networkState(name: string): unknown {
  const links = json(name, 'ip -j -d link show') as any[];
  const byName = new Map(links.map((l) => [l.ifname, l]));
  const link = (n: string) => {
    const l = byName.get(n);
    if (!l) return null;
    return {
      up: (l.flags as string[]).includes('UP'),
      master: l.master ?? null,
      kind: l.linkinfo?.info_kind ?? null,
      peer: l.link ?? null,
      ...(n === 'breth1' ? { address: l.address, stp: l.linkinfo?.info_data?.stp_state, ageing: l.linkinfo?.info_data?.ageing_time } : {}),
    };
  };
  const addrs = (json(name, 'ip -j addr show') as any[])
    .map((l) => `${l.ifname}: ${inetAddrs(l).join(' ')}`)
    .sort();
  const routes = (json(name, 'ip -j route show table main') as any[]).map((r) => JSON.stringify(r)).sort();
  const neigh = (json(name, 'ip -j neigh show nud permanent') as any[]).map((n) => `${n.dst} ${n.dev} ${n.lladdr} ${(n.state as string[]).join(',')}`);
  const hairpin = (json(name, 'bridge -j -d link show') as any[]).map((p) => `${p.ifname} ${p.master} hairpin=${p.hairpin}`).sort();
  const ovs = onHost(name, 'ovs-vsctl port-to-br br-int-veth; ovs-vsctl get interface br-int-veth ofport').out;
  const sysctl = onHost(name, 'sysctl -n net.bridge.bridge-nf-filter-vlan-tagged').out.trim();
  const forward = onHost(name, 'iptables -w 5 -S FORWARD').out.trim().split('\n');
  const running = services.filter((s) => servicePid(name, s) !== undefined);
  return { links: ['eth1', 'breth1', 'br-int-veth', 'breth1-veth'].map((n) => [n, link(n)]), addrs, routes, neigh, hairpin, ovs, sysctl, forward, running };
}

describe.skipIf(!lab)(`playbooks/worker.yml on the lab's workers${lab ? '' : ` (skipped: ${labSkipReason()})`}`, () => {
  let dir: string;
  let password: string;
  let inventory: string;
  let w12Inventory: string;
  const fresh = new Map<string, Fresh>();
  const w12 = (i: number) => ({ gw_ip: `192.168.${i}.1`, gw_mac: `0a:58:c0:a8:0${i}:01`, pod_subnet: `192.168.${i}.0/29` });
  const clusterSubnet = '192.168.0.0/16';
  const allOutputs: string[] = [];
  const run = (args: string[]): Ran => {
    const r = underlay(args);
    allOutputs.push(r.stdout, r.stderr);
    return r;
  };

  beforeAll(async () => {
    current = (await labStatus(labOptionsOf(lab!))).hosts;
    inventory = lab!.inventoryPath;
    dir = mkdtempSync(join(tmpdir(), 'ul-e2e-worker-'));
    password = String((readFileSync(inventory, 'utf8').match(/os_password: (\S+)/) ?? [])[1] ?? '').replace(/^["']|["']$/g, '');
    expect(password.length).toBeGreaterThan(8);
    // Per-host W12 variables, as the cluster-network role would give them.
    w12Inventory = join(dir, 'w12.yml');
    writeFileSync(
      w12Inventory,
      `all:\n  children:\n    workers:\n      hosts:\n${workers.map((w, i) => `        ${w}: { gw_ip: ${w12(i + 1).gw_ip}, gw_mac: "${w12(i + 1).gw_mac}", pod_subnet: ${w12(i + 1).pod_subnet} }\n`).join('')}`,
    );
    for (const w of workers) {
      const [a] = json(w, 'ip -j addr show dev eth1') as any[];
      const inet = (a.addr_info as any[]).filter((x) => x.family === 'inet');
      const [def] = json(w, 'ip -j route show default') as any[];
      // a fresh worker, as the lab makes it: eth1 carries the address, no bridge yet
      expect(inet.map((x) => x.local)).toEqual([host(w).address]);
      expect(def?.dev).toBe('eth1');
      expect(onHost(w, 'ip link show breth1').code).not.toBe(0);
      fresh.set(w, { cidr: `${inet[0].local}/${inet[0].prefixlen}`, gateway: def.gateway });
    }
  });

  afterAll(() => {
    if (!lab) return;
    for (const w of workers) {
      const f = fresh.get(w);
      if (f) onHost(w, RESET, { CIDR: f.cidr, GW: f.gateway });
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('a move that is never confirmed rolls the host back within the timer, and the run reports it', async () => {
    const w = 'worker3';
    const before = { addr: inetAddrs(json(w, 'ip -j addr show dev eth1')[0]), routes: json(w, 'ip -j route show table main') };
    const broken = join(dir, 'broken-move.yml');
    const rollbackAfter = 8;
    writeFileSync(
      broken,
      `- name: a move whose confirmation fails
  hosts: ${w}
  gather_facts: false
  tasks:
    - name: bridge
      linux_bridge: { name: breth1, mac_from: eth1 }
    - name: move that is never confirmed
      ip_move: { from: eth1, to: breth1, confirm_command: "false", confirm_timeout: 2, rollback_after: ${rollbackAfter} }
`,
    );
    const started = Date.now();
    const r = run(['run', broken, '-i', inventory, '--json']);
    expect(r.code, r.stderr).toBe(2);
    const [res] = resultsOf(r, 'move that is never confirmed');
    expect(res).toMatchObject({ host: w, status: 'failed' });
    expect(res!['msg']).toMatch(/confirmation failed.*restores eth1 by itself when the rollback timer fires \(8 s/s);
    // the move itself was applied: the address is on breth1 until the timer fires
    const moved = json(w, 'ip -j addr show dev breth1') as any[];
    if (Date.now() - started < (rollbackAfter - 1) * 1000) {
      expect((moved[0]?.addr_info as any[] | undefined)?.some((a) => a.local === host(w).address)).toBe(true);
    }
    const restoredAfter = await within((rollbackAfter + 5) * 1000 - (Date.now() - started), () => {
      const l = (json(w, 'ip -j link show dev eth1') as any[])[0];
      const a = (json(w, 'ip -j addr show dev eth1') as any[])[0];
      return l.master === undefined && (a.addr_info as any[]).some((x) => x.local === host(w).address);
    });
    expect(restoredAfter).toBeGreaterThanOrEqual(0);
    const elapsed = (Date.now() - started) / 1000;
    expect(elapsed).toBeLessThan(rollbackAfter + 5);
    // exactly the old addresses and routes
    expect(inetAddrs(json(w, 'ip -j addr show dev eth1')[0])).toEqual(before.addr);
    expect(json(w, 'ip -j route show table main')).toEqual(before.routes);
    expect(onHost(w, 'cat /run/underlay/ip_move/eth1.log').out).toContain('rollback timer fired');
    // leave the worker fresh for the runs that follow
    onHost(w, 'ip link del breth1; rm -rf /run/underlay/ip_move');
  });

  it('converges on the three workers at once over the SSH sessions that come in on eth1; a second run changes nothing', () => {
    const logBefore = new Map(workers.map((w) => [w, sshdLog(w).length]));
    const first = run(['run', playbook, '-i', inventory, '--json']);
    expect(first.code, first.stderr + first.stdout.slice(-3000)).toBe(0);
    const recap = recapOf(first);
    for (const w of workers) expect(recap[w]).toMatchObject({ failed: 0, unreachable: 0 });
    for (const w of workers) expect(recap[w]!.changed).toBeGreaterThanOrEqual(15);
    // in parallel: every task started on the three workers together (linear strategy)
    const moveStart = first.events.find((e) => e['type'] === 'task_start' && String(e['task']).includes('move the addresses and routes'))!;
    expect(moveStart['hosts']).toEqual([...workers]);
    for (const e of resultsOf(first, 'move the addresses and routes')) expect(e).toMatchObject({ status: 'changed' });
    // The run connected to eth1's address (ansible_host) and its session lived through the
    // move: one connection for the whole run plus one new connection for the confirmation,
    // and the run's own connection is the last to disconnect.
    for (const w of workers) {
      const lines = sshdLog(w).slice(logBefore.get(w)! - 1);
      const accepted = lines.filter((l) => l.startsWith('Accepted publickey')).map((l) => l.match(/ port (\d+) /)![1]!);
      expect(accepted, `${w}: ${lines.join('\n')}`).toHaveLength(2);
      const lastDisconnect = lines.filter((l) => l.startsWith('Disconnected from')).pop();
      expect(lastDisconnect).toContain(`port ${accepted[0]}`);
    }
    const second = run(['run', playbook, '-i', inventory, '--json']);
    expect(second.code).toBe(0);
    for (const w of workers) expect(recapOf(second)[w]).toMatchObject({ changed: 0, failed: 0, unreachable: 0 });
    const ms = second.events.find((e) => e['type'] === 'recap')!['durationMs'] as number;
    process.stderr.write(`worker.yml, no change, 3 workers: ${ms} ms in the run, ${second.ms} ms for the whole command\n`);
    // W1 is skipped in the lab (the hosts share the machine's packages)
    for (const e of resultsOf(second, 'install docker')) expect(e['status']).toBe('skipped');
  });

  it('every worker is in the state of the procedure, W2..W11', () => {
    const release = readFileSync(inventory, 'utf8');
    const pluginSrc = release.match(/plugin_src: (\S+)/)![1]!;
    const pluginSha = createHash('sha256').update(readFileSync(pluginSrc)).digest('hex');
    // the cluster DNS address the playbooks' group_vars give (else the role's default)
    const groupVars = readFileSync(join(root, 'playbooks/group_vars/all.yml'), 'utf8');
    const clusterDns = (groupVars.match(/^cluster_dns: (\S+)/m) ?? [])[1] ?? '172.16.2.10';
    const master = host('master').address;
    for (const w of workers) {
      const h = host(w);
      const f = fresh.get(w)!;
      // W2: bridge, STP off, ageing 0, the MAC of eth1
      const [br] = json(w, 'ip -j -d link show breth1') as any[];
      expect(br.linkinfo.info_kind).toBe('bridge');
      expect(br.linkinfo.info_data).toMatchObject({ stp_state: 0, ageing_time: 0 });
      expect(br.address).toBe(h.mac);
      expect(br.flags).toContain('UP');
      // W3: eth1 enslaved, its address and routes on breth1, none left on eth1
      expect((json(w, 'ip -j link show eth1') as any[])[0].master).toBe('breth1');
      const addrOf = (dev: string) => ((json(w, `ip -j addr show dev ${dev}`) as any[])[0].addr_info as any[]).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`);
      expect(addrOf('breth1')).toEqual([f.cidr]);
      expect(addrOf('eth1')).toEqual([]);
      expect(json(w, 'ip -j route show default')).toEqual([expect.objectContaining({ dst: 'default', gateway: f.gateway, dev: 'breth1' })]);
      // W4: openrc, 0600 root, KEY=VALUE lines only; the plugin's pointer in OVSDB
      expect(onHost(w, 'stat -c "%a %U" /root/openrc').out).toBe('600 root\n');
      const openrc = onHost(w, 'cat /root/openrc').out;
      const lines = openrc.split('\n');
      expect(lines.pop()).toBe('');
      expect(lines.every((l) => /^OS_[A-Z_]+=\S/.test(l))).toBe(true);
      expect(lines.map((l) => l.split('=')[0])).toEqual(['OS_AUTH_URL', 'OS_TENANT_ID', 'OS_TENANT_NAME', 'OS_USERNAME', 'OS_PASSWORD', 'OS_VIF_ID']);
      expect(lines.includes(`OS_PASSWORD="${password}"`)).toBe(true);
      expect(lines).toContain(`OS_VIF_ID=${h.vifId}`);
      expect(onHost(w, 'ovs-vsctl --if-exists get open_vswitch . external_ids:neutron-config').out).toBe('"/root/openrc"\n');
      // W5: br-int, userspace datapath, with its datapath port (not just a row)
      expect(onHost(w, 'ovs-vsctl br-exists br-int').code).toBe(0);
      expect(onHost(w, 'ovs-vsctl get bridge br-int datapath_type').out).toBe('netdev\n');
      expect(Number(onHost(w, 'ovs-vsctl get interface br-int ofport').out)).toBeGreaterThan(0);
      // W6: the veth pair, both up
      for (const [end, peer] of [
        ['br-int-veth', 'breth1-veth'],
        ['breth1-veth', 'br-int-veth'],
      ] as const) {
        const [l] = json(w, `ip -j -d link show ${end}`) as any[];
        expect(l.linkinfo.info_kind).toBe('veth');
        expect(l.link).toBe(peer);
        expect(l.flags).toContain('UP');
      }
      // W7: br-int-veth is a port of br-int with an OpenFlow port number
      expect(onHost(w, 'ovs-vsctl port-to-br br-int-veth').out).toBe('br-int\n');
      expect(Number(onHost(w, 'ovs-vsctl get interface br-int-veth ofport').out)).toBeGreaterThan(0);
      // W8: breth1-veth enslaved; eth1 still there
      expect((json(w, 'ip -j link show breth1-veth') as any[])[0].master).toBe('breth1');
      // W9: hairpin off on both ports, the guard running
      const ports = json(w, 'bridge -j -d link show') as any[];
      expect(ports.filter((p) => p.master === 'breth1').map((p) => [p.ifname, p.hairpin]).sort()).toEqual([
        ['breth1-veth', false],
        ['eth1', false],
      ]);
      expect(servicePid(w, 'hairpin-guard')).toBeDefined();
      // W10: the plugin, its hash and mode
      expect(onHost(w, 'stat -c %a /usr/libexec/kubernetes/kubelet-plugins/net/exec/ovn/ovn').out).toBe('755\n');
      expect(onHost(w, 'sha256sum < /usr/libexec/kubernetes/kubelet-plugins/net/exec/ovn/ovn').out.split(' ')[0]).toBe(pluginSha);
      // W11: kubelet and kube-proxy run with the seed's flags, one argument each
      expect(servicePid(w, 'kubelet')).toBeDefined();
      expect(servicePid(w, 'kube-proxy')).toBeDefined();
      expect(onHost(w, 'cat /var/lib/underlay-standin/kubelet.args').out).toBe(
        [
          `--api-servers=http://${master}:8080`,
          '--v=2',
          '--address=0.0.0.0',
          '--enable-server',
          `--hostname-override=${h.address}`,
          '--network-plugin=ovn',
          `--cluster-dns=${clusterDns}`,
          '--cluster-domain=cluster.local',
          '',
        ].join('\n'),
      );
      expect(onHost(w, 'cat /var/lib/underlay-standin/kube-proxy.args').out).toBe(`--master=${master}:8080\n--v=2\n`);
    }
  });

  it('a service restarts only when its own flags changed', () => {
    const w = 'worker1';
    const pids = () => Object.fromEntries(services.map((s) => [s, servicePid(w, s)]));
    const before = pids();
    const changed = run(['run', playbook, '-i', inventory, '--limit', w, '-e', 'kubelet_verbosity=3', '--json']);
    expect(changed.code, changed.stdout.slice(-2000)).toBe(0);
    const after = pids();
    expect(after['kubelet']).not.toBe(before['kubelet']);
    expect(after['kube-proxy']).toBe(before['kube-proxy']);
    expect(after['hairpin-guard']).toBe(before['hairpin-guard']);
    expect(onHost(w, 'grep -x -- --v=3 /var/lib/underlay-standin/kubelet.args').code).toBe(0);
    const back = run(['run', playbook, '-i', inventory, '--limit', w, '--json']);
    expect(back.code).toBe(0);
    expect(resultsOf(back, 'restart kubelet').map((e) => e['status'])).toEqual(['changed']);
    expect(resultsOf(back, 'restart kube-proxy').map((e) => e['status'])).toEqual([]);
    expect(onHost(w, 'grep -x -- --v=2 /var/lib/underlay-standin/kubelet.args').code).toBe(0);
  });

  it('the OpenStack password appears in no output: terminal, --json, --diff', () => {
    const w = 'worker2';
    onHost(w, `sed -i 's/^OS_PASSWORD=.*/OS_PASSWORD="stale"/' /root/openrc`);
    const outs: Ran[] = [];
    outs.push(run(['run', playbook, '-i', inventory, '--limit', w, '--check', '--diff', '-v']));
    outs.push(run(['run', playbook, '-i', inventory, '--limit', w, '--check', '--diff', '--json']));
    outs.push(run(['run', playbook, '-i', inventory, '--limit', w, '--diff', '-v']));
    for (const r of outs) expect(r.code).toBe(0);
    expect(outs[0]!.stdout).toMatch(/-OS_PASSWORD="stale"\n\+OS_PASSWORD="\*{8}"/);
    expect(onHost(w, 'grep -c "^OS_PASSWORD=\\"stale\\"" /root/openrc').out).toBe('0\n');
    const everything = [...allOutputs, ...outs.flatMap((r) => [r.stdout, r.stderr])].join('\n');
    expect(everything).toContain('********');
    expect(everything.includes(password)).toBe(false);
  });

  it('the hairpin guard turns hairpin off again at once, and idles without CPU', async () => {
    const w = 'worker2';
    const hairpinOn = () => (json(w, 'bridge -j -d link show') as any[]).some((p) => p.master === 'breth1' && p.hairpin === true);
    for (const port of ['eth1', 'breth1-veth']) {
      expect(onHost(w, `bridge link set dev ${port} hairpin on`).code).toBe(0);
      const took = await within(1000, () => !hairpinOn());
      expect(took, `hairpin still on on ${port} after 1 s`).toBeGreaterThanOrEqual(0);
    }
    // the CPU of the guard's processes (its process group: utime + stime, and cutime +
    // cstime, what the children they reaped used) over 2 s of quiet, which they are, and
    // whether all of them are asleep (state S: the guard blocked reading the monitor's
    // output, the monitor blocked on its netlink socket)
    const pgid = servicePid(w, 'hairpin-guard')!;
    const cpu = () => {
      const stats = onHost(w, 'cat /proc/[0-9]*/stat 2>/dev/null').out.split('\n').filter((l) => l !== '');
      let ticks = 0;
      let asleep = true;
      const names: string[] = [];
      for (const s of stats) {
        const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
        if (Number(f[2]) !== pgid) continue;
        names.push(s.slice(s.indexOf('(') + 1, s.lastIndexOf(')')));
        if (f[0] !== 'S') asleep = false;
        ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
      }
      return { ticks, asleep, names: names.sort() };
    };
    // settled: the events of the toggles above handled, which on a loaded machine can take
    // well over a second: two looks 300 ms apart that find the two processes asleep and no
    // CPU used between them (at most 20 tries)
    let a = cpu();
    for (let i = 0; i < 20; i++) {
      await sleep(300);
      const again = cpu();
      const settled = again.ticks === a.ticks && again.asleep && a.asleep && again.names.length === 2;
      a = again;
      if (settled) break;
    }
    expect(a.names).toEqual(['bridge', 'hairpin-guard']); // the guard and its `bridge monitor link`
    expect(a.asleep).toBe(true);
    // 2 s with no link event of the bridge's ports (watched by a monitor of our own: the
    // guard rightly wakes for one; the host may send one late), the guard's CPU unchanged
    // (at most 5 windows)
    let quiet = false;
    for (let i = 0; i < 5 && !quiet; i++) {
      a = cpu();
      const events = onHost(w, 'timeout 2 bridge monitor link; true').out;
      const b = cpu();
      quiet = !/ master breth1 /.test(events);
      if (quiet) expect(b).toEqual(a);
    }
    expect(quiet, 'no window of 2 s without a link event of the bridge').toBe(true);
  });

  it('W12 with gw_ip, gw_mac, pod_subnet and cluster_subnet: a permanent neighbour and exact routes', () => {
    const args = ['run', playbook, '-i', inventory, '-i', w12Inventory, '-e', `cluster_subnet=${clusterSubnet}`, '--json'];
    const first = run(args);
    expect(first.code, first.stdout.slice(-3000)).toBe(0);
    workers.forEach((w, i) => {
      const v = w12(i + 1);
      expect(onHost(w, 'sysctl -n net.bridge.bridge-nf-filter-vlan-tagged').out).toBe('1\n');
      // what breth1 bridges passes iptables' FORWARD chain (Docker's policy there is DROP)
      expect(onHost(w, 'iptables -w 5 -S FORWARD').out.split('\n')).toContain('-A FORWARD -i breth1 -o breth1 -j ACCEPT');
      expect(json(w, `ip -j neigh show to ${v.gw_ip} dev breth1`)).toEqual([expect.objectContaining({ dst: v.gw_ip, lladdr: v.gw_mac, state: ['PERMANENT'] })]);
      const exact = (p: string) => (json(w, `ip -j route show exact ${p}`) as any[]).map(({ dst, gateway, dev, scope }) => ({ dst, gateway, dev, scope }));
      expect(exact(`${v.gw_ip}/32`)).toEqual([{ dst: v.gw_ip, gateway: undefined, dev: 'breth1', scope: 'link' }]);
      expect(exact(v.pod_subnet)).toEqual([{ dst: v.pod_subnet, gateway: undefined, dev: 'breth1', scope: 'link' }]);
      expect(exact(clusterSubnet)).toEqual([{ dst: clusterSubnet, gateway: v.gw_ip, dev: 'breth1', scope: undefined }]);
    });
    const second = run(args);
    expect(second.code).toBe(0);
    for (const w of workers) expect(recapOf(second)[w]).toMatchObject({ changed: 0, failed: 0 });
  });

  it('the boot step brings a host whose kernel forgot everything back to the same state', () => {
    const w = 'worker1';
    const f = fresh.get(w)!;
    const before = networkState(w);
    // A reboot: processes gone, /run empty, bridge, veths, neighbour and routes gone, the
    // sysctl back to its default, eth1 configured by the system as it was before the role.
    onHost(w, `${STOP_SERVICES}
ip link del breth1 && ip link del br-int-veth &&
ip addr add "$CIDR" dev eth1 && ip route add default via "$GW" dev eth1 &&
sysctl -q -w net.bridge.bridge-nf-filter-vlan-tagged=0 && iptables -w 5 -F FORWARD && rm -rf /run/underlay`, { CIDR: f.cidr, GW: f.gateway });
    expect(onHost(w, 'ip link show breth1').code).not.toBe(0);
    expect(services.map((s) => servicePid(w, s))).toEqual([undefined, undefined, undefined]);
    const boot = onHost(w, '/usr/local/lib/underlay/network-boot');
    expect(boot.code, boot.out + boot.err).toBe(0);
    expect(networkState(w)).toEqual(before);
    // and the role finds nothing to do
    const again = run(['run', playbook, '-i', inventory, '-i', w12Inventory, '-e', `cluster_subnet=${clusterSubnet}`, '--limit', w, '--json']);
    expect(again.code).toBe(0);
    expect(recapOf(again)[w]).toMatchObject({ changed: 0, failed: 0 });
    // run on a host in that state, the boot step changes nothing either
    expect(onHost(w, '/usr/local/lib/underlay/network-boot').code).toBe(0);
    expect(networkState(w)).toEqual(before);
  });
});

describe('the worker role files', () => {
  const seedFlags = {
    kubelet_api_servers: 'http://10.0.0.3:8080',
    kubelet_verbosity: 2,
    kubelet_address: '0.0.0.0',
    kubelet_enable_server: true,
    kubelet_hostname_override: '10.0.0.4',
    kubelet_network_plugin: 'ovn',
    cluster_dns: '172.16.2.10',
    cluster_domain: 'cluster.local',
    kubelet_extra_args: [],
    kube_proxy_master: '10.0.0.3:8080',
    kube_proxy_verbosity: 2,
    kube_proxy_extra_args: [],
  };
  const flagsOf = (text: string) => text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));

  it('files/underlay-services-boot is the boot script of the service module', () => {
    expect(readFileSync(join(root, 'playbooks/roles/worker/files/underlay-services-boot'), 'utf8')).toBe(bootScript());
  });

  it("the flag templates give the seed's flags, one per line; an empty variable drops its flag", () => {
    const kubelet = renderTemplateFile(join(root, 'templates/kubelet.args.hbs'), seedFlags);
    expect(flagsOf(kubelet)).toEqual([
      '--api-servers=http://10.0.0.3:8080',
      '--v=2',
      '--address=0.0.0.0',
      '--enable-server',
      '--hostname-override=10.0.0.4',
      '--network-plugin=ovn',
      '--cluster-dns=172.16.2.10',
      '--cluster-domain=cluster.local',
    ]);
    expect(kubelet.split('\n').filter((l) => l === '')).toEqual(['']); // only the final newline
    const changed = renderTemplateFile(join(root, 'templates/kubelet.args.hbs'), {
      ...seedFlags,
      kubelet_network_plugin: '',
      kubelet_enable_server: false,
      kubelet_verbosity: 0,
      kubelet_extra_args: ['--node-labels=a=b c', '--x=$HOME'],
    });
    expect(flagsOf(changed)).toEqual([
      '--api-servers=http://10.0.0.3:8080',
      '--v=0',
      '--address=0.0.0.0',
      '--hostname-override=10.0.0.4',
      '--cluster-dns=172.16.2.10',
      '--cluster-domain=cluster.local',
      '--node-labels=a=b c',
      '--x=$HOME',
    ]);
    expect(flagsOf(renderTemplateFile(join(root, 'templates/kube-proxy.args.hbs'), seedFlags))).toEqual(['--master=10.0.0.3:8080', '--v=2']);
  });

  it('openrc is KEY=VALUE lines only: no export, no blank line', () => {
    const text = renderTemplateFile(join(root, 'templates/openrc.hbs'), {
      os_auth_url: 'http://10.0.0.2:5000/v2.0',
      os_tenant_id: 't1',
      os_tenant_name: 'demo',
      os_username: 'demo',
      os_password: 'pw with space',
      os_vif_id: 'v1',
    });
    expect(text).toBe('OS_AUTH_URL=http://10.0.0.2:5000/v2.0\nOS_TENANT_ID=t1\nOS_TENANT_NAME="demo"\nOS_USERNAME="demo"\nOS_PASSWORD="pw with space"\nOS_VIF_ID=v1\n');
  });

  it('the network boot step is valid POSIX sh, with W12 only when gw_mac is given', () => {
    const base = {
      uplink: 'eth1',
      bridge: 'breth1',
      bridge_ageing_time: 0,
      integration_bridge: 'br-int',
      veth_ovs_end: 'br-int-veth',
      veth_bridge_end: 'breth1-veth',
      hairpin_ports: ['eth1', 'breth1-veth'],
      services_boot_script: '/usr/local/lib/underlay/services-boot',
      lb_sysctl: true,
      lb_forward_accept: true,
      uplink_allow_dynamic: false,
    };
    const without = renderTemplateFile(join(root, 'templates/underlay-network-boot.sh.hbs'), base);
    const withLb = renderTemplateFile(join(root, 'templates/underlay-network-boot.sh.hbs'), {
      ...base,
      gw_ip: '192.168.1.1',
      gw_mac: '0a:58:c0:a8:01:01',
      pod_subnet: '192.168.1.0/29',
      cluster_subnet: '192.168.0.0/16',
    });
    for (const text of [without, withLb]) expect(spawnSync('dash', ['-n'], { input: text }).status).toBe(0);
    expect(without).not.toContain('ip neigh');
    expect(withLb).toContain('step ip neigh replace 192.168.1.1 lladdr 0a:58:c0:a8:01:01 dev "$BRIDGE" nud permanent\n');
    expect(withLb).toContain('step ip route replace 192.168.0.0/16 via 192.168.1.1 dev "$BRIDGE"\n');
    expect(withLb).toContain('step iptables -w 5 -I FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT\n');
    expect(without).not.toContain('iptables');
    // a DHCP lease stays on the uplink unless uplink_allow_dynamic says otherwise
    expect(without).toContain('awk -v allow_dynamic=0 ');
    const allow = renderTemplateFile(join(root, 'templates/underlay-network-boot.sh.hbs'), { ...base, uplink_allow_dynamic: true });
    expect(allow).toContain('awk -v allow_dynamic=1 ');
    expect(withLb).toContain('step sysctl -q -w net.bridge.bridge-nf-filter-vlan-tagged=1\n');
    expect(withLb).toContain('for p in eth1 breth1-veth; do\n');
  });
});
