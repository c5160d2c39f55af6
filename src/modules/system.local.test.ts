/**
 * The system modules end to end on this machine: observe -> decide -> apply, the actions
 * applied as src/engine/task.ts applies them (run actions with their okCodes and time
 * limits, uploads), through the engine's LocalChannel, twice (the second run must change
 * nothing).
 *
 * Nothing here touches the machine's own configuration:
 * - service: the commands run inside a private mount namespace (a holder process made
 *   with `unshare --mount`, entered with `nsenter --mount` for each command) where /run is
 *   a fresh tmpfs and /etc and /var/log are overlays whose writes land in a tmpfs: the
 *   service module keeps its real paths (/run/underlay, /etc/underlay, /var/log/underlay)
 *   and nothing it writes is seen outside. PIDs are shared with the machine, so the
 *   processes are real; every one is stopped by its recorded PID at the end.
 * - sysctl: only net.* keys, only inside a network namespace created here
 *   (ip netns add ul-test-sysctl), the file in a temporary directory.
 * - get_url: a node HTTP server on 127.0.0.1; dest in a temporary directory.
 * - unarchive: an archive made here, extracted into a temporary directory.
 * - wait_for: ports opened here on loopback addresses.
 * - package (root only): a .deb built here (underlay-test-pkg), installed and removed in
 *   a private mount namespace whose /var, /usr and /etc are overlays (as for service).
 * Namespace tests skip when not root or when the tools are missing.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalChannel, type ChannelRunOptions, type HostChannel } from '../engine/channel.js';
import { sh, type ShellCommand } from '../transport/quote.js';
import { get_url } from './get_url.js';
import { pkg } from './package.js';
import { checkParams } from './params.js';
import { bootScript, service } from './service.js';
import { sysctl } from './sysctl.js';
import type { Decision, ExecResult, ModuleDef, ObserveContext } from './types.js';
import { unarchive } from './unarchive.js';
import { wait_for } from './wait_for.js';

const isRoot = process.getuid?.() === 0;
const have = (cmd: string) => {
  try {
    execFileSync('/bin/sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

const tmp = mkdtempSync(join(tmpdir(), 'ul-system-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Outcome {
  decision: Decision;
  changed: boolean;
  failed?: string;
  result: Record<string, unknown>;
  outs: ExecResult[];
}

/** observe -> decide -> apply, as the engine does it for one task on one host. */
async function runTask<P extends Record<string, unknown>, O>(
  def: ModuleDef<P, O>,
  args: Record<string, unknown>,
  ch: HostChannel,
  opts: { check?: boolean; tweak?: (o: O) => O } = {},
): Promise<Outcome> {
  const checked = checkParams(def as unknown as ModuleDef, args, { loadTime: false });
  expect(checked.errors.map((e) => e.message)).toEqual([]);
  const params = checked.params as P;
  const check = opts.check ?? false;
  const ctx: ObserveContext = {
    host: 'local',
    run: (cmd, o) => ch.run(cmd, o?.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
    runBatch: (cmds) => ch.runBatch(cmds),
    readFile: (path, o) => ch.readFile(path, o ?? {}),
    readLocal: async (_kind, path) => ({ path, content: readFileSync(path) }),
    renderTemplate: async () => {
      throw new Error('not used');
    },
    checkMode: check,
    vars: {},
  };
  let observed = (def.observe ? await def.observe(ctx, params) : undefined) as O;
  if (opts.tweak) observed = opts.tweak(observed);
  const decision = def.decide(params, observed, { checkMode: check, vars: {} });
  if (decision.failed !== undefined) return { decision, changed: false, failed: decision.failed, result: decision.result ?? {}, outs: [] };
  const outs: ExecResult[] = [];
  let result: Record<string, unknown> = { ...(decision.result ?? {}) };
  if (!check) {
    for (const a of decision.actions) {
      if (a.kind === 'upload') {
        await ch.upload(a.path, a.content, { ...(a.mode !== undefined ? { mode: a.mode } : {}), ...(a.owner !== undefined ? { owner: a.owner } : {}), ...(a.group !== undefined ? { group: a.group } : {}) });
        continue;
      }
      if (a.kind === 'confirm') throw new Error('confirm actions are not expected here');
      const r = await ch.run(a.cmd, { ...(a.stdin !== undefined ? { stdin: a.stdin } : {}), ...(a.timeoutMs !== undefined ? { timeoutMs: a.timeoutMs } : {}) });
      outs.push(r);
      if (!(a.okCodes ?? [0]).includes(r.exitCode)) {
        return { decision, changed: true, failed: `${a.describe}: exit code ${r.exitCode}\n${r.stderr || r.stdout}`, result, outs };
      }
    }
    if (decision.finish) result = { ...result, ...decision.finish(outs) };
    // the follow-up check, when due (the engine runs the host's next tasks meanwhile)
    if (decision.followUp) {
      await new Promise((r) => setTimeout(r, decision.followUp!.afterMs));
      const r = await ch.run(decision.followUp.cmd);
      if (r.exitCode !== 0) return { decision, changed: true, failed: `${decision.followUp.describe}: no\n${r.stderr || r.stdout}`, result, outs };
    }
  }
  return { decision, changed: decision.changed, result, outs };
}

/** Runs each command inside the mount namespace of `pid` (nsenter), uploads included. */
class MountNsChannel extends LocalChannel implements HostChannel {
  constructor(readonly pid: number) {
    super();
  }
  override run(cmd: ShellCommand, opts?: ChannelRunOptions): Promise<ExecResult> {
    return super.run(sh`nsenter --target ${this.pid} --mount -- sh -c ${cmd.text}`, opts);
  }
  override async upload(path: string, content: string | Buffer, opts: { mode?: number } = {}): Promise<void> {
    const t = `${path}.upload-tmp`;
    const mode = (opts.mode ?? 0o644).toString(8);
    const r = await this.run(sh`mkdir -p -- ${dirname(path)} && cat > ${t} && chmod ${mode} ${t} && mv -f -- ${t} ${path}`, { stdin: content });
    if (r.exitCode !== 0) throw new Error(`upload ${path}: ${r.stderr}`);
  }
  override async readFile(path: string): Promise<Buffer | null> {
    const r = await this.run(sh`if [ -e ${path} ]; then base64 -w0 < ${path}; else exit 3; fi`);
    if (r.exitCode === 3) return null;
    return Buffer.from(r.stdout, 'base64');
  }
}

/** Runs each command inside a network namespace; files are the machine's (same mounts). */
class NetNsChannel extends LocalChannel {
  constructor(readonly ns: string) {
    super();
  }
  override run(cmd: ShellCommand, opts?: ChannelRunOptions): Promise<ExecResult> {
    return super.run(sh`ip netns exec ${this.ns} sh -c ${cmd.text}`, opts);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/**
 * A private mount namespace (a holder process made with `unshare --mount`) in which each
 * directory of `overlays` is an overlay whose writes land in a tmpfs, and /run is a fresh
 * tmpfs: commands run there (MountNsChannel) change nothing the machine sees.
 */
async function privateMountNs(base: string, overlays: string[]): Promise<{ holder: ChildProcess; ch: MountNsChannel }> {
  mkdirSync(base, { recursive: true });
  const steps = overlays.map((dir, i) => {
    const opts = `lowerdir=${dir},upperdir=${base}/u${i},workdir=${base}/w${i}`;
    return sh`mkdir -p ${`${base}/u${i}`} ${`${base}/w${i}`} && mount -t overlay overlay -o ${opts} ${dir}`.text;
  });
  const script = `${sh`mount -t tmpfs ul-test ${base}`.text} && ${steps.join(' && ')} && mount -t tmpfs ul-test-run /run && echo ready && exec sleep 600`;
  const holder = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  holder.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  holder.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  for (let i = 0; i < 200 && !out.includes('ready'); i++) await sleep(25);
  if (!out.includes('ready')) {
    holder.kill('SIGKILL');
    throw new Error(`mount namespace not ready: ${err}`);
  }
  const ch = new MountNsChannel(holder.pid!);
  // The namespace really is private: the machine does not see what is written there.
  for (const dir of overlays) {
    const probe = join(dir, `ul-test-probe-${process.pid}`);
    const inside = await ch.run(sh`mkdir ${probe} && test -d ${probe} && test ! -e /run/underlay && echo private`);
    expect(inside.stdout).toBe('private\n');
    expect(existsSync(probe)).toBe(false);
  }
  return { holder, ch };
}

async function stopHolder(holder: ChildProcess | undefined): Promise<void> {
  if (!holder) return;
  holder.kill('SIGKILL');
  for (let i = 0; i < 100 && holder.exitCode === null && holder.signalCode === null; i++) await sleep(20);
}

// ---------------------------------------------------------------------------------------
describe.skipIf(!isRoot || !have('unshare') || !have('nsenter') || !have('setsid'))('service (supervised) in a private mount namespace', () => {
  let holder: ChildProcess;
  let ch: MountNsChannel;
  const base = join(tmp, 'mnt');
  const started = new Set<number>();

  beforeAll(async () => {
    ({ holder, ch } = await privateMountNs(base, ['/etc', '/var/log']));
  });

  afterAll(async () => {
    if (!ch) return;
    // Stop whatever still runs, by the PIDs recorded here and in the namespace's pidfiles.
    const r = await ch.run(sh`cat /run/underlay/*.pid 2>/dev/null; true`);
    for (const line of r.stdout.split('\n')) if (/^\d+$/.test(line)) started.add(Number(line));
    for (const pid of started) {
      if (pid > 1 && alive(pid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    await stopHolder(holder);
  });

  async function facts(name: string) {
    const r = await ch.run(sh`cat /run/underlay/${name}.pid 2>/dev/null`);
    return r.stdout.trim() === '' ? null : Number(r.stdout.trim());
  }

  it('defines and starts a service; a second run changes nothing', async () => {
    const args = { name: 'ul-sleeper', exec: 'sleep 300', env: { GREETING: "it's a test" }, state: 'started' };
    const first = await runTask(service, args, ch);
    expect(first.failed).toBeUndefined();
    expect(first.changed).toBe(true);
    expect(first.result).toMatchObject({ state: 'started', started: true, restarted: false });
    const pid = first.result['pid'] as number;
    expect(pid).toBeGreaterThan(1);
    started.add(pid);
    expect(alive(pid)).toBe(true);
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).toBe('sleep\u0000300\u0000');
    expect(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')).toContain("GREETING=it's a test");
    expect(await facts('ul-sleeper')).toBe(pid);
    const def = JSON.parse((await ch.readFile('/etc/underlay/services/ul-sleeper.json'))!.toString());
    expect(def).toEqual({ name: 'ul-sleeper', exec: ['sleep', '300'], env: { GREETING: "it's a test" }, workdir: '/' });
    // session leader: detached from the shell that started it
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').slice(readFileSync(`/proc/${pid}/stat`, 'utf8').lastIndexOf(')') + 2).split(' ');
    expect(Number(stat[3])).toBe(pid); // session id (field 6)

    const second = await runTask(service, args, ch);
    expect(second.changed).toBe(false);
    expect(second.decision.actions).toEqual([]);
    expect(second.decision.msg).toBe(`ul-sleeper is running (pid ${pid})`);
    expect(second.result).toMatchObject({ state: 'started', started: false, restarted: false, pid });
  });

  it('check mode reports the change and does nothing', async () => {
    const r = await runTask(service, { name: 'ul-sleeper', state: 'stopped' }, ch, { check: true });
    expect(r.changed).toBe(true);
    const pid = (await facts('ul-sleeper'))!;
    expect(alive(pid)).toBe(true);
  });

  it('a changed env restarts it (a new PID); enabled writes the boot flag once', async () => {
    const old = (await facts('ul-sleeper'))!;
    const r = await runTask(service, { name: 'ul-sleeper', exec: 'sleep 300', env: { GREETING: 'changed' }, state: 'started', enabled: true }, ch);
    expect(r.failed).toBeUndefined();
    expect(r.changed).toBe(true);
    expect(r.decision.msg).toBe('ul-sleeper: definition updated, enabled, restarted (definition changed)');
    expect(r.result).toMatchObject({ started: true, restarted: true });
    const pid = r.result['pid'] as number;
    started.add(pid);
    expect(pid).not.toBe(old);
    expect(alive(old)).toBe(false);
    expect(alive(pid)).toBe(true);
    expect((await ch.run(sh`test -e /etc/underlay/services/ul-sleeper.enabled`)).exitCode).toBe(0);
    const again = await runTask(service, { name: 'ul-sleeper', exec: 'sleep 300', env: { GREETING: 'changed' }, state: 'started', enabled: true }, ch);
    expect(again.changed).toBe(false);
    expect(again.result).toMatchObject({ started: false, restarted: false, pid });
  });

  it('a pidfile naming another process is not ours: that process is never signalled', async () => {
    // Point the pidfile at the namespace holder, with a wrong start time.
    await ch.run(sh`mkdir -p /run/underlay && echo ${holder.pid!} > /run/underlay/ul-impostor.pid && echo 1 > /run/underlay/ul-impostor.start`);
    const r = await runTask(service, { name: 'ul-impostor', exec: 'sleep 300', state: 'stopped' }, ch);
    expect(r.failed).toBeUndefined();
    // It defines the service, but there is nothing to stop.
    expect(r.decision.actions.map((a) => a.describe)).toEqual(['mkdir -p /etc/underlay/services', 'write /etc/underlay/services/ul-impostor.json', 'write /etc/underlay/services/ul-impostor.run']);
    expect(alive(holder.pid!)).toBe(true);
  });

  it('a program that exits at once fails with the end of its log (at the start, or at the follow-up check)', async () => {
    const r = await runTask(service, { name: 'ul-broken', exec: ['sh', '-c', 'echo "boom: no config" >&2; exit 3'], state: 'started' }, ch);
    // gone before the start looked (the start fails), or right after (the check fails)
    expect(r.failed).toMatch(/start ul-broken: exit code 1[\s\S]*exited right after it was started|ul-broken still runs 0\.25 s after its start: no\n.*exited within 0\.25 s of its start/);
    expect(r.failed).toMatch(/boom: no config/);
  });

  it('a program that exits within settle fails the follow-up check, not the start', async () => {
    const r = await runTask(service, { name: 'ul-shortlived', exec: ['sh', '-c', 'sleep 0.3; echo "lost the lock" >&2; exit 1'], state: 'started', settle: 0.8 }, ch);
    expect(r.decision.followUp?.describe).toBe('ul-shortlived still runs 0.8 s after its start');
    expect(r.outs.at(-1)?.exitCode).toBe(0);
    expect(r.failed).toMatch(/^ul-shortlived still runs 0\.8 s after its start: no\nservice ul-shortlived exited within 0\.8 s of its start; the end of \/var\/log\/underlay\/ul-shortlived\.log:/);
    expect(r.failed).toMatch(/lost the lock/);
  });

  it('a program that ignores SIGTERM is killed after the grace period', async () => {
    const first = await runTask(service, { name: 'ul-stubborn', exec: ['sh', '-c', 'trap "" TERM; exec sleep 300'], state: 'started' }, ch);
    expect(first.failed).toBeUndefined();
    const pid = first.result['pid'] as number;
    started.add(pid);
    const t0 = Date.now();
    const stop = await runTask(service, { name: 'ul-stubborn', state: 'stopped' }, ch);
    expect(stop.failed).toBeUndefined();
    expect(stop.changed).toBe(true);
    expect(Date.now() - t0).toBeGreaterThan(4500);
    expect(alive(pid)).toBe(false);
  }, 20_000);

  it('stops, idempotently; restarted always acts', async () => {
    const pid = (await facts('ul-sleeper'))!;
    const stop = await runTask(service, { name: 'ul-sleeper', state: 'stopped' }, ch);
    expect(stop.changed).toBe(true);
    expect(stop.decision.msg).toBe(`ul-sleeper: stopped (pid ${pid})`);
    expect(stop.result).toMatchObject({ state: 'stopped', started: false, restarted: false });
    expect(alive(pid)).toBe(false);
    expect(await facts('ul-sleeper')).toBeNull();
    const again = await runTask(service, { name: 'ul-sleeper', state: 'stopped' }, ch);
    expect(again.changed).toBe(false);
    expect(again.decision.actions).toEqual([]);

    const r1 = await runTask(service, { name: 'ul-sleeper', state: 'restarted' }, ch);
    const r2 = await runTask(service, { name: 'ul-sleeper', state: 'restarted' }, ch);
    expect([r1.changed, r2.changed]).toEqual([true, true]);
    // r1 found it stopped: started only; r2 stopped r1's process and started another
    expect(r1.result).toMatchObject({ started: true, restarted: false });
    expect(r2.result).toMatchObject({ started: true, restarted: true });
    started.add(r1.result['pid'] as number).add(r2.result['pid'] as number);
    expect(alive(r1.result['pid'] as number)).toBe(false);
    expect(alive(r2.result['pid'] as number)).toBe(true);
  });

  it('the boot script starts enabled services that are not running, and only those', async () => {
    await runTask(service, { name: 'ul-sleeper', state: 'stopped' }, ch);
    await runTask(service, { name: 'ul-other', exec: 'sleep 299', state: 'stopped', enabled: false }, ch);
    const boot = await ch.run(sh`sh -c ${bootScript()}`, { timeoutMs: 20_000 });
    expect(boot.exitCode).toBe(0);
    expect(boot.stdout).toMatch(/^underlay-boot: ul-sleeper: started \(pid \d+\)$/m);
    expect(boot.stdout).not.toMatch(/ul-other/);
    const pid = (await facts('ul-sleeper'))!;
    started.add(pid);
    expect(alive(pid)).toBe(true);
    const twice = await ch.run(sh`sh -c ${bootScript()}`, { timeoutMs: 20_000 });
    expect(twice.stdout).toBe('underlay-boot: ul-sleeper: already running\n');
    expect(await facts('ul-sleeper')).toBe(pid);
    const status = await runTask(service, { name: 'ul-sleeper', state: 'started' }, ch);
    expect(status.changed).toBe(false);
    const stop = await runTask(service, { name: 'ul-sleeper', state: 'stopped', enabled: false }, ch);
    expect(stop.changed).toBe(true);
    expect(alive(pid)).toBe(false);
  });

  it('the boot script starts the enabled services in the order of their after; a change of after alone restarts nothing', async () => {
    // Defined in name order, each after the next one: the boot must start them in reverse.
    const chain = [
      { name: 'ul-a-api', exec: 'sleep 298', after: ['ul-b-store'] },
      { name: 'ul-b-store', exec: 'sleep 297', after: ['ul-c-base.service', 'ul-unknown'] },
      { name: 'ul-c-base', exec: 'sleep 296' },
    ];
    for (const svc of chain) {
      const r = await runTask(service, { ...svc, state: 'stopped', enabled: true }, ch);
      expect(r.failed).toBeUndefined();
    }
    const json = JSON.parse((await ch.readFile('/etc/underlay/services/ul-b-store.json'))!.toString());
    expect(json).toEqual({ name: 'ul-b-store', exec: ['sleep', '297'], env: {}, workdir: '/', after: ['ul-c-base', 'ul-unknown'] });
    const boot = await ch.run(sh`sh -c ${bootScript()}`, { timeoutMs: 30_000 });
    expect(boot.stderr).toBe('');
    expect(boot.exitCode).toBe(0);
    const lines = boot.stdout.split('\n').filter((l) => l !== '');
    expect(lines.map((l) => l.replace(/\(pid \d+\)$/, '(pid N)'))).toEqual([
      'underlay-boot: ul-c-base: started (pid N)',
      'underlay-boot: ul-b-store: started (pid N)',
      'underlay-boot: ul-a-api: started (pid N)',
    ]);
    const pids = new Map<string, number>();
    for (const svc of chain) {
      const pid = (await facts(svc.name))!;
      started.add(pid);
      expect(alive(pid)).toBe(true);
      pids.set(svc.name, pid);
    }
    // Each was started after the one it names (the launcher records the start time in ticks).
    const startTime = async (name: string) => Number((await ch.run(sh`cat /run/underlay/${name}.start`)).stdout.trim());
    const [a, b, c] = [await startTime('ul-a-api'), await startTime('ul-b-store'), await startTime('ul-c-base')];
    expect(c).toBeLessThanOrEqual(b);
    expect(b).toBeLessThanOrEqual(a);

    // A new after for a running service: NAME.json rewritten, the process kept.
    const reorder = await runTask(service, { name: 'ul-c-base', exec: 'sleep 296', after: ['ul-a-api'], state: 'started', enabled: true }, ch);
    expect(reorder.failed).toBeUndefined();
    expect(reorder.decision.msg).toBe('ul-c-base: definition updated');
    expect(reorder.result).toMatchObject({ state: 'started', started: false, restarted: false, pid: pids.get('ul-c-base') });
    expect(await facts('ul-c-base')).toBe(pids.get('ul-c-base'));

    for (const svc of chain) {
      const stop = await runTask(service, { name: svc.name, state: 'stopped', enabled: false }, ch);
      expect(stop.failed).toBeUndefined();
      expect(stop.result).toMatchObject({ state: 'stopped', started: false, restarted: false });
      expect(alive(pids.get(svc.name)!)).toBe(false);
    }
    // Now a cycle (c after a, a after b, b after c): all three still start, in name order.
    const cycle = await ch.run(sh`sh -c ${bootScript()}`, { timeoutMs: 30_000 });
    expect(cycle.stdout).toBe('');
    for (const svc of chain) await runTask(service, { name: svc.name, enabled: true }, ch);
    const cyc = await ch.run(sh`sh -c ${bootScript()}`, { timeoutMs: 30_000 });
    expect(cyc.exitCode).toBe(0);
    expect(cyc.stderr).toBe('underlay-boot: a cycle in the after of ul-a-api ul-b-store ul-c-base: starting ul-a-api first (name order)\n');
    expect(cyc.stdout.split('\n').filter((l) => l !== '').map((l) => l.replace(/ \(pid \d+\)$/, ''))).toEqual([
      'underlay-boot: ul-a-api: started',
      'underlay-boot: ul-c-base: started',
      'underlay-boot: ul-b-store: started',
    ]);
    for (const svc of chain) {
      const pid = (await facts(svc.name))!;
      started.add(pid);
      const stop = await runTask(service, { name: svc.name, state: 'stopped', enabled: false }, ch);
      expect(stop.failed).toBeUndefined();
      expect(alive(pid)).toBe(false);
    }
  }, 60_000);
});

// ---------------------------------------------------------------------------------------
describe.skipIf(!isRoot || !have('ip') || !have('sysctl'))('sysctl inside a network namespace', () => {
  const ns = 'ul-test-sysctl';
  const ch = new NetNsChannel(ns);
  const file = join(tmp, 'sysctl.d', '99-test.conf');
  const hostValue = () => execFileSync('sysctl', ['-n', 'net.ipv4.ip_local_port_range'], { encoding: 'utf8' });
  let before = '';

  beforeAll(() => {
    before = hostValue();
    execFileSync('ip', ['netns', 'add', ns]);
  });
  afterAll(() => {
    execFileSync('ip', ['netns', 'del', ns]);
    // the machine's own value never changed
    expect(hostValue()).toBe(before);
  });

  const nsValue = (key: string) => execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-n', key], { encoding: 'utf8' }).trim();

  it('sets the runtime value and the file, then changes nothing', async () => {
    const args = { name: 'net.ipv4.ip_local_port_range', value: '20000 40000', sysctl_file: file };
    const r = await runTask(sysctl, args, ch);
    expect(r.failed).toBeUndefined();
    expect(r.changed).toBe(true);
    expect(nsValue('net.ipv4.ip_local_port_range')).toBe('20000\t40000');
    expect(readFileSync(file, 'utf8')).toBe('net.ipv4.ip_local_port_range=20000 40000\n');
    const again = await runTask(sysctl, { ...args, value: '20000\t40000' }, ch);
    expect(again.changed).toBe(false);
    expect(again.decision.actions).toEqual([]);
  });

  it('keeps the other lines of the file; absent removes only its key', async () => {
    writeFileSync(file, '# other settings\nnet.ipv4.tcp_syncookies = 1\nnet.ipv4.ip_local_port_range=20000 40000\n');
    const r = await runTask(sysctl, { name: 'net.ipv4.ip_forward', value: true, sysctl_file: file, reload: false }, ch);
    expect(r.changed).toBe(true);
    expect(nsValue('net.ipv4.ip_forward')).toBe('1');
    expect(readFileSync(file, 'utf8')).toBe('# other settings\nnet.ipv4.tcp_syncookies = 1\nnet.ipv4.ip_local_port_range=20000 40000\nnet.ipv4.ip_forward=1\n');
    const gone = await runTask(sysctl, { name: 'net.ipv4.ip_local_port_range', state: 'absent', sysctl_file: file }, ch);
    expect(gone.changed).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe('# other settings\nnet.ipv4.tcp_syncookies = 1\nnet.ipv4.ip_forward=1\n');
    expect((await runTask(sysctl, { name: 'net.ipv4.ip_local_port_range', state: 'absent', sysctl_file: file }, ch)).changed).toBe(false);
  });

  it('reload applies the whole file (sysctl -p) when the file changed', async () => {
    writeFileSync(file, 'net.ipv4.tcp_syncookies = 0\n');
    const r = await runTask(sysctl, { name: 'net.ipv4.ip_default_ttl', value: 77, sysctl_file: file, sysctl_set: false }, ch);
    expect(r.changed).toBe(true);
    expect(nsValue('net.ipv4.ip_default_ttl')).toBe('77');
    expect(nsValue('net.ipv4.tcp_syncookies')).toBe('0');
  });

  it('an unknown key fails with sysctl\'s message', async () => {
    const r = await runTask(sysctl, { name: 'net.ipv4.no_such_key', value: 1, sysctl_file: file }, ch);
    expect(r.failed).toMatch(/cannot stat \/proc\/sys\/net\/ipv4\/no_such_key/);
  });
});

// ---------------------------------------------------------------------------------------
describe('get_url from a loopback HTTP server', () => {
  const ch = new LocalChannel();
  const body = Buffer.from('underlay test payload\n'.repeat(100));
  const sha256 = createHash('sha256').update(body).digest('hex');
  const sha512 = createHash('sha512').update(body).digest('hex');
  let server: HttpServer;
  let base = '';
  let hits = 0;
  const dir = join(tmp, 'get_url');

  beforeAll(async () => {
    mkdirSync(dir, { recursive: true });
    server = createHttpServer((req, res) => {
      hits++;
      if (req.url === '/payload.txt') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(body);
      } else {
        res.writeHead(404);
        res.end('no');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise((r) => server.close(r)));

  it.skipIf(!have('curl'))('downloads with curl, verifies, renames; then changes nothing', async () => {
    const dest = join(dir, 'a.txt');
    const args = { url: `${base}/payload.txt`, dest, checksum: `sha256:${sha256}`, mode: '0640' };
    const r = await runTask(get_url, args, ch);
    expect(r.failed).toBeUndefined();
    expect(r.changed).toBe(true);
    expect(r.decision.actions[0]!.describe).toBe(`download ${base}/payload.txt to ${dest} (curl)`);
    expect(readFileSync(dest).equals(body)).toBe(true);
    expect(execFileSync('stat', ['-c', '%a', dest], { encoding: 'utf8' }).trim()).toBe('640');
    expect(r.result['checksum_dest']).toBe(`sha256:${sha256}`);
    const n = hits;
    const again = await runTask(get_url, args, ch);
    expect(again.changed).toBe(false);
    expect(again.decision.actions).toEqual([]);
    expect(hits).toBe(n);
    // only the mode differs: fixed without downloading
    const chmod = await runTask(get_url, { ...args, mode: '0600' }, ch);
    expect(chmod.changed).toBe(true);
    expect(chmod.decision.actions.map((a) => a.describe)).toEqual([`chmod 0600 ${dest}`]);
    expect(hits).toBe(n);
  });

  it.skipIf(!have('wget'))('downloads with wget when curl is missing (sha512), into a directory dest', async () => {
    const sub = join(dir, 'into');
    mkdirSync(sub);
    const r = await runTask(get_url, { url: `${base}/payload.txt`, dest: sub, checksum: `sha512:${sha512}` }, ch, { tweak: (o) => ({ ...o, curl: false }) });
    expect(r.failed).toBeUndefined();
    expect(r.decision.actions[0]!.describe).toMatch(/\(wget\)$/);
    expect(readFileSync(join(sub, 'payload.txt')).equals(body)).toBe(true);
    expect((await runTask(get_url, { url: `${base}/payload.txt`, dest: sub, checksum: `sha512:${sha512}` }, ch)).changed).toBe(false);
  });

  it('a wrong checksum fails and leaves dest and the directory untouched', async () => {
    const dest = join(dir, 'b.txt');
    writeFileSync(dest, 'old\n');
    const wrong = 'a'.repeat(64);
    const r = await runTask(get_url, { url: `${base}/payload.txt`, dest, checksum: `sha256:${wrong}` }, ch);
    expect(r.failed).toMatch(`the checksum of ${base}/payload.txt does not match: expected sha256:${wrong}, got sha256:${sha256}`);
    expect(readFileSync(dest, 'utf8')).toBe('old\n');
    expect(readdirSync(dir).filter((f) => f.includes('underlay'))).toEqual([]);
  });

  it('a missing file fails clearly; neither curl nor wget fails clearly', async () => {
    const r = await runTask(get_url, { url: `${base}/nope`, dest: join(dir, 'c.txt') }, ch);
    expect(r.failed).toMatch(/cannot download/);
    expect(existsSync(join(dir, 'c.txt'))).toBe(false);
    const none = await runTask(get_url, { url: `${base}/payload.txt`, dest: join(dir, 'c.txt') }, ch, { tweak: (o) => ({ ...o, curl: false, wget: false }) });
    expect(none.failed).toBe(`get_url: neither curl nor wget is installed on this host; install one of them to download ${base}/payload.txt`);
  });

  it('file:// URLs are copied', async () => {
    const src = join(dir, 'src file.bin');
    writeFileSync(src, body);
    const dest = join(dir, 'copied.bin');
    const url = `file://${encodeURI(src)}`;
    const r = await runTask(get_url, { url, dest, checksum: `sha256:${sha256}` }, ch);
    expect(r.failed).toBeUndefined();
    expect(readFileSync(dest).equals(body)).toBe(true);
    expect((await runTask(get_url, { url, dest, checksum: `sha256:${sha256}` }, ch)).changed).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------
describe.skipIf(!have('tar'))('unarchive of a tarball made here', () => {
  const ch = new LocalChannel();
  const dir = join(tmp, 'unarchive');
  const archive = join(dir, 'app-1.0.tar.gz');

  beforeAll(() => {
    const src = join(dir, 'src', 'app-1.0');
    mkdirSync(join(src, 'bin'), { recursive: true });
    writeFileSync(join(src, 'README'), 'hello\n');
    writeFileSync(join(src, 'bin', 'run'), '#!/bin/sh\necho run\n');
    execFileSync('tar', ['-czf', archive, '-C', join(dir, 'src'), 'app-1.0']);
  });

  it('uploads, extracts, counts members and records a marker; a second run changes nothing', async () => {
    const dest = join(dir, 'out1');
    mkdirSync(dest);
    const r = await runTask(unarchive, { src: archive, dest }, ch);
    expect(r.failed).toBeUndefined();
    expect(r.changed).toBe(true);
    expect(r.result['extracted']).toBe(4); // app-1.0/, README, bin/, bin/run
    expect(readFileSync(join(dest, 'app-1.0', 'README'), 'utf8')).toBe('hello\n');
    const markers = readdirSync(dest).filter((f) => f.startsWith('.underlay-unarchive.'));
    expect(markers).toHaveLength(1);
    expect(readdirSync('/tmp').filter((f) => f.startsWith('.underlay-unarchive-'))).toEqual([]);
    const again = await runTask(unarchive, { src: archive, dest }, ch);
    expect(again.changed).toBe(false);
    expect(again.decision.actions).toEqual([]);
  });

  it('other options mean another extraction (strip_components, include); creates short-circuits', async () => {
    const dest = join(dir, 'out2');
    mkdirSync(dest);
    const r = await runTask(unarchive, { src: archive, dest, strip_components: 1, include: ['app-1.0/bin/run'] }, ch);
    expect(r.failed).toBeUndefined();
    expect(readdirSync(dest).filter((f) => !f.startsWith('.')).sort()).toEqual(['bin']);
    expect(readFileSync(join(dest, 'bin', 'run'), 'utf8')).toBe('#!/bin/sh\necho run\n');
    const more = await runTask(unarchive, { src: archive, dest, strip_components: 1 }, ch);
    expect(more.changed).toBe(true);
    expect(readdirSync(dest).filter((f) => f.startsWith('.underlay-unarchive.'))).toHaveLength(1);
    const skip = await runTask(unarchive, { src: archive, dest: join(dir, 'nowhere'), creates: join(dest, 'README') }, ch);
    expect(skip.changed).toBe(false);
    expect(skip.decision.msg).toBe(`skipped, since ${join(dest, 'README')} exists`);
  });

  it('remote_src with a checksum; a wrong checksum fails before extracting', async () => {
    const dest = join(dir, 'out3');
    mkdirSync(dest);
    const sum = createHash('sha512').update(readFileSync(archive)).digest('hex');
    const r = await runTask(unarchive, { src: archive, dest, remote_src: true, checksum: `sha512:${sum}` }, ch);
    expect(r.failed).toBeUndefined();
    expect(r.result['extracted']).toBe(4);
    expect(existsSync(archive)).toBe(true); // a host file is never removed
    expect((await runTask(unarchive, { src: archive, dest, remote_src: true }, ch)).changed).toBe(false);
    const bad = await runTask(unarchive, { src: archive, dest: join(dir, 'out1'), remote_src: true, checksum: `sha512:${'0'.repeat(128)}` }, ch);
    expect(bad.failed).toMatch(/^unarchive: the checksum of .* does not match: expected sha512:0+, got sha512:[0-9a-f]{128}$/);
  });
});

// ---------------------------------------------------------------------------------------
describe('wait_for on loopback ports and files', () => {
  const ch = new LocalChannel();
  const servers: Server[] = [];
  const listen = async (host: string): Promise<number> => {
    const s = createServer((c) => c.destroy());
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, host, () => r()));
    return (s.address() as { port: number }).port;
  };
  afterAll(async () => {
    for (const s of servers) await new Promise((r) => s.close(r));
  });

  it('a listening port is found in /proc/net/tcp at once; a port that closes is seen as stopped', async () => {
    const port = await listen('127.0.0.1');
    const r = await runTask(wait_for, { port, timeout: 5 }, ch);
    expect(r.failed).toBeUndefined();
    expect(r.changed).toBe(false);
    expect(r.decision.actions).toEqual([]);
    expect(r.result).toMatchObject({ port, host: '127.0.0.1', state: 'started' });
    expect(r.result['elapsed']).toBeLessThan(1);
    const s = servers.pop()!;
    setTimeout(() => s.close(), 300);
    const stopped = await runTask(wait_for, { port, state: 'stopped', timeout: 5, sleep: 0.1 }, ch);
    expect(stopped.failed).toBeUndefined();
  });

  it('a port that never listens times out with the default message; it also runs in check mode', async () => {
    const port = await listen('127.0.0.1');
    const s = servers.pop()!;
    await new Promise((r) => s.close(r));
    const t0 = Date.now();
    const r = await runTask(wait_for, { port, timeout: 1, sleep: 0.2 }, ch, { check: true });
    expect(r.failed).toBe(`Timeout when waiting for 127.0.0.1:${port}`);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it.skipIf(!have('bash'))('another host: connects with bash /dev/tcp (127.0.0.2)', async () => {
    const port = await listen('127.0.0.2');
    const r = await runTask(wait_for, { host: '127.0.0.2', port, timeout: 5 }, ch);
    expect(r.failed).toBeUndefined();
    // 127.0.0.1 is not where it listens: the local check says so
    const local = await runTask(wait_for, { port, timeout: 0, msg: 'custom' }, ch);
    expect(local.failed).toBe('custom');
    const nolocal = await runTask(wait_for, { port, timeout: 0 }, ch);
    expect(nolocal.failed).toBe(`Timeout when waiting for 127.0.0.1:${port} (port ${port} listens on 127.0.0.2 only, not on an address through which 127.0.0.1 reaches it)`);
  });

  it('a file that appears with the pattern, and one that goes away', async () => {
    const f = join(tmp, 'wait-file.log');
    writeFileSync(f, 'starting\n');
    setTimeout(() => writeFileSync(f, 'starting\nserver ready on port 80\n'), 400);
    const r = await runTask(wait_for, { path: f, search_regex: 'ready on port [0-9]+', timeout: 5, sleep: 0.1 }, ch);
    expect(r.failed).toBeUndefined();
    setTimeout(() => rmSync(f), 300);
    const gone = await runTask(wait_for, { path: f, state: 'absent', timeout: 5, sleep: 0.1 }, ch);
    expect(gone.failed).toBeUndefined();
    const never = await runTask(wait_for, { path: f, timeout: 0 }, ch);
    expect(never.failed).toBe(`Timeout when waiting for file ${f}`);
  });
});

// ---------------------------------------------------------------------------------------
describe.skipIf(!isRoot || !have('dpkg-deb') || !have('apt-get'))('package: a .deb built here, installed and removed in a private mount namespace', () => {
  // dpkg and apt write under /var, /usr and /etc: overlays there keep the machine's own
  // package database and files as they are
  let holder: ChildProcess | undefined;
  let ch: MountNsChannel;
  const name = 'underlay-test-pkg';
  const dir = join(tmp, 'deb');
  const machineStatus = () => {
    try {
      return execFileSync('dpkg-query', ['-W', '-f=${db:Status-Abbrev} ${Version}', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      return 'unknown';
    }
  };
  const status = async () => {
    const r = await ch.run(sh`dpkg-query -W -f='\${db:Status-Abbrev} \${Version}' ${name} 2>/dev/null`);
    return r.exitCode === 0 ? r.stdout : 'unknown';
  };
  const build = (version: string): string => {
    const root = join(dir, version);
    mkdirSync(join(root, 'DEBIAN'), { recursive: true });
    mkdirSync(join(root, 'usr', 'share', 'doc', name), { recursive: true });
    writeFileSync(join(root, 'usr', 'share', 'doc', name, 'README'), `version ${version}\n`);
    writeFileSync(join(root, 'DEBIAN', 'control'), `Package: ${name}\nVersion: ${version}\nArchitecture: all\nMaintainer: underlay tests <tests@underlay.invalid>\nDescription: underlay test package\n`);
    const out = join(dir, `${name}_${version}_all.deb`);
    execFileSync('dpkg-deb', ['--root-owner-group', '--build', root, out], { stdio: 'ignore' });
    return out;
  };

  beforeAll(async () => {
    expect(machineStatus()).toBe('unknown');
    ({ holder, ch } = await privateMountNs(join(tmp, 'pkg-mnt'), ['/var', '/usr', '/etc']));
    expect(await status()).toBe('unknown');
  });
  afterAll(async () => {
    await stopHolder(holder);
    expect(machineStatus()).toBe('unknown');
  });

  it('installs from a controller .deb, then nothing; a new version upgrades; absent removes', async () => {
    const v1 = build('1.0-1');
    const r = await runTask(pkg, { deb: v1 }, ch);
    expect(r.failed).toBeUndefined();
    expect(r.changed).toBe(true);
    expect(r.result).toMatchObject({ installed: [`${name}=1.0-1`], removed: [] });
    expect(await status()).toBe('ii  1.0-1');
    expect(machineStatus()).toBe('unknown');
    expect(readdirSync('/tmp').filter((f) => f.startsWith('underlay-') && f.endsWith('.deb'))).toEqual([]);
    const again = await runTask(pkg, { deb: v1 }, ch);
    expect(again.changed).toBe(false);
    expect(again.decision.msg).toBe(`${name} 1.0-1: already installed`);

    const byName = await runTask(pkg, { name: [name] }, ch);
    expect(byName.changed).toBe(false);
    expect(byName.decision.actions).toEqual([]);

    const v2 = build('1.1-1');
    const up = await runTask(pkg, { deb: v2 }, ch);
    expect(up.changed).toBe(true);
    expect(await status()).toBe('ii  1.1-1');

    const rm = await runTask(pkg, { name: [name], state: 'absent' }, ch);
    expect(rm.failed).toBeUndefined();
    expect(rm.result).toMatchObject({ installed: [], removed: [name] });
    expect(['unknown', 'rc  1.1-1']).toContain(await status());
    const rm2 = await runTask(pkg, { name: [name], state: 'absent' }, ch);
    expect(rm2.changed).toBe(false);
  }, 120_000);
});
