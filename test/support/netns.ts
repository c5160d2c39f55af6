/**
 * Network namespaces as hosts for tests of the network modules.
 *
 * - NetnsChannel: the engine's LocalChannel, with every command run as
 *   `ip netns exec NS sh -c CMD` (files are shared with the controller: a network
 *   namespace has no file system of its own).
 * - createNetns/deleteNetns: `ul-t-<random>` namespaces, registered for deletion.
 * - converge(): observe -> decide -> apply through a channel, applying actions as the
 *   engine does (src/engine/task.ts): `run` judged by okCodes, `upload`, and `confirm`
 *   over a NEW channel, retried until its timeout.
 * - startOvs(): ovsdb-server and ovs-vswitchd for one namespace, with their own database,
 *   sockets, pidfiles and logs in a temporary directory; stopped by pidfile.
 * - RecordingChannel and fixtureContext(): record what observe() ran on a real namespace,
 *   and replay it as an ObserveContext that fails loudly on any command not recorded.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { LocalChannel, type ChannelRunOptions, type HostChannel } from '../../src/engine/channel.js';
import { checkParams } from '../../src/modules/params.js';
import type { Action, Decision, ExecResult, ModuleDef, ObserveContext } from '../../src/modules/types.js';
import { sh, type ShellCommand } from '../../src/transport/quote.js';

/** True when this process may create network namespaces (root, iproute2 present). */
export function netnsAvailable(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const created = new Set<string>();

/** Creates `ul-t-<random>` (loopback up) and registers it for deleteAllNetns(). */
export function createNetns(prefix = 'ul-t'): string {
  const name = `${prefix}-${randomBytes(4).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', name]);
  created.add(name);
  execFileSync('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  return name;
}

/** PIDs of the processes inside a namespace (`ip netns pids`). */
export function netnsPids(name: string): number[] {
  try {
    return execFileSync('ip', ['netns', 'pids', name], { encoding: 'utf8' })
      .split('\n')
      .map((s) => Number(s.trim()))
      .filter((n) => Number.isInteger(n) && n > 0);
  } catch {
    return [];
  }
}

/**
 * Deletes a namespace this process created. Processes still inside it (a test that failed
 * half-way may leave a timer or a guard behind) are ended by their PIDs first.
 */
export function deleteNetns(name: string): void {
  if (!created.has(name)) throw new Error(`refusing to delete namespace ${name}: not created by this test`);
  for (const pid of netnsPids(name)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone already */
    }
  }
  try {
    execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
  } catch {
    /* already gone */
  }
  created.delete(name);
}

export function deleteAllNetns(): void {
  for (const n of [...created]) deleteNetns(n);
}

/** Runs a command inside a namespace, synchronously (test set-up and checks). */
export function nsExec(ns: string, cmd: string): string {
  return execFileSync('ip', ['netns', 'exec', ns, 'sh', '-c', cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** `ip -j ...` inside a namespace, parsed. */
export function nsJson<T = any>(ns: string, cmd: string): T {
  const out = nsExec(ns, cmd).trim();
  return (out === '' ? [] : JSON.parse(out)) as T;
}

/** A host that is a network namespace: commands run as `ip netns exec NS sh -c CMD`. */
export class NetnsChannel implements HostChannel {
  private readonly local = new LocalChannel();
  constructor(readonly ns: string) {}

  async run(cmd: ShellCommand, opts: ChannelRunOptions = {}): Promise<ExecResult> {
    const r = await this.local.run(sh`ip netns exec ${this.ns} sh -c ${cmd.text}`, opts);
    return { ...r, command: cmd.text };
  }

  async runBatch(cmds: ShellCommand[], opts?: ChannelRunOptions): Promise<ExecResult[]> {
    const out: ExecResult[] = [];
    for (const c of cmds) out.push(await this.run(c, opts));
    return out;
  }

  upload(path: string, content: string | Buffer, opts?: { mode?: number; owner?: string; group?: string }): Promise<void> {
    return this.local.upload(path, content, opts);
  }

  readFile(path: string, opts?: { maxBytes?: number }): Promise<Buffer | null> {
    return this.local.readFile(path, opts);
  }

  async close(): Promise<void> {}
}

/** What observe() ran on a host: command text -> result, and file path -> content (null: absent). */
export interface CapturedHost {
  runs: Record<string, { exitCode: number; stdout: string; stderr: string }>;
  files: Record<string, string | null>;
}

/** Wraps a channel and records every command and file read. */
export class RecordingChannel implements HostChannel {
  readonly captured: CapturedHost = { runs: {}, files: {} };
  constructor(private readonly inner: HostChannel) {}
  async run(cmd: ShellCommand, opts?: ChannelRunOptions): Promise<ExecResult> {
    const r = await this.inner.run(cmd, opts);
    this.captured.runs[cmd.text] = { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
    return r;
  }
  async runBatch(cmds: ShellCommand[], opts?: ChannelRunOptions): Promise<ExecResult[]> {
    const out: ExecResult[] = [];
    for (const c of cmds) out.push(await this.run(c, opts));
    return out;
  }
  upload(path: string, content: string | Buffer, opts?: { mode?: number }): Promise<void> {
    return this.inner.upload(path, content, opts);
  }
  async readFile(path: string, opts?: { maxBytes?: number }): Promise<Buffer | null> {
    const b = await this.inner.readFile(path, opts);
    this.captured.files[path] = b === null ? null : b.toString('utf8');
    return b;
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** An ObserveContext over a channel (what the engine gives a module's observe). */
export function channelContext(ch: HostChannel, checkMode = false): ObserveContext {
  return {
    host: 'netns',
    run: (cmd, o) => ch.run(cmd, o?.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
    runBatch: (cmds) => ch.runBatch(cmds),
    readFile: (path, o) => ch.readFile(path, o ?? {}),
    readLocal: async () => {
      throw new Error('readLocal is not available here');
    },
    renderTemplate: async () => {
      throw new Error('renderTemplate is not available here');
    },
    checkMode,
    vars: {},
  };
}

/** An ObserveContext that replays captured output and fails loudly on anything else. */
export function fixtureContext(host: CapturedHost, checkMode = false): ObserveContext {
  const run = async (cmd: ShellCommand): Promise<ExecResult> => {
    const r = host.runs[cmd.text];
    if (!r) throw new Error(`no captured output for command: ${cmd.text}\n(captured: ${Object.keys(host.runs).join(' | ')})`);
    return { command: cmd.text, durationMs: 0, ...r };
  };
  return {
    host: 'fixture',
    run,
    runBatch: async (cmds) => Promise.all(cmds.map(run)),
    readFile: async (path) => {
      if (!(path in host.files)) throw new Error(`no captured file: ${path}`);
      const c = host.files[path];
      return c === null || c === undefined ? null : Buffer.from(c, 'utf8');
    },
    readLocal: async () => {
      throw new Error('readLocal is not available here');
    },
    renderTemplate: async () => {
      throw new Error('renderTemplate is not available here');
    },
    checkMode,
    vars: {},
  };
}

/** The module's parameters with defaults applied, as the engine checks them; throws on bad input. */
export function paramsOf<P extends Record<string, unknown>>(def: ModuleDef<P, any>, args: Record<string, unknown>): P {
  const { params, errors } = checkParams(def as unknown as ModuleDef, args, { loadTime: false });
  if (errors.length > 0) throw new Error(errors.map((e) => e.message).join('\n'));
  return params as P;
}

export interface ApplyOutcome {
  ok: boolean;
  /** The failure message, as the engine would report it. */
  msg?: string;
  results: ExecResult[];
}

/** Applies actions as the engine does (src/engine/task.ts). */
export async function applyActions(ch: HostChannel, actions: readonly Action[], openFresh: () => Promise<HostChannel>): Promise<ApplyOutcome> {
  const results: ExecResult[] = [];
  for (const a of actions) {
    if (a.kind === 'upload') {
      await ch.upload(a.path, a.content, { ...(a.mode !== undefined ? { mode: a.mode } : {}) });
      continue;
    }
    if (a.kind === 'confirm') {
      const deadline = Date.now() + a.timeoutMs;
      let r: ExecResult | undefined;
      let lastError = '';
      for (let i = 0; i < 1000 && Date.now() < deadline && !r; i++) {
        let fresh: HostChannel | undefined;
        try {
          fresh = await openFresh();
          r = await fresh.run(a.cmd, { timeoutMs: Math.max(1000, deadline - Date.now()) });
        } catch (e) {
          lastError = (e as Error).message;
          await new Promise((res) => setTimeout(res, 200));
        } finally {
          await fresh?.close();
        }
      }
      r ??= { command: a.cmd.text, exitCode: 255, stdout: '', stderr: lastError || 'no connection', durationMs: a.timeoutMs };
      results.push(r);
      if (r.exitCode !== 0) return { ok: false, msg: `${a.describe}: not confirmed over a new connection within ${a.timeoutMs} ms\n${r.stderr}`, results };
      continue;
    }
    const r = await ch.run(a.cmd, a.timeoutMs !== undefined ? { timeoutMs: a.timeoutMs } : {});
    results.push(r);
    if (!(a.okCodes ?? [0]).includes(r.exitCode)) return { ok: false, msg: `${a.describe}: exit code ${r.exitCode}\n${r.stderr || r.stdout}`, results };
  }
  return { ok: true, results };
}

export interface ConvergeOutcome {
  decision: Decision;
  changed: boolean;
  /** Set when the module refused or an action failed. */
  failed?: string;
  results: ExecResult[];
}

/** observe -> decide -> apply (nothing applied in check mode), on a namespace. */
export async function converge<P extends Record<string, unknown>>(
  def: ModuleDef<P, any>,
  args: Record<string, unknown>,
  ch: NetnsChannel,
  opts: { check?: boolean } = {},
): Promise<ConvergeOutcome> {
  const params = paramsOf(def, args);
  const check = opts.check ?? false;
  const observed = def.observe ? await def.observe(channelContext(ch, check), params) : undefined;
  const decision = def.decide(params, observed, { checkMode: check, vars: {} });
  if (decision.failed !== undefined) return { decision, changed: false, failed: decision.failed, results: [] };
  if (check || decision.actions.length === 0) return { decision, changed: decision.changed, results: [] };
  const out = await applyActions(ch, decision.actions, async () => new NetnsChannel(ch.ns));
  return { decision, changed: decision.changed, ...(out.ok ? {} : { failed: out.msg }), results: out.results };
}

/** Waits (bounded) until `probe` is true; returns whether it became true. */
export async function waitFor(probe: () => boolean, timeoutMs: number, stepMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 10_000 && Date.now() < deadline; i++) {
    if (probe()) return true;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return probe();
}

export interface OvsInstance {
  dir: string;
  /** For the modules' `db` parameter. */
  db: string;
  stop(): void;
}

function pidOf(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const n = Number(readFileSync(file, 'utf8').trim());
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/** Running (not exited, and not a zombie left for an init that does not reap). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/**
 * Starts ovsdb-server and ovs-vswitchd inside `ns`, everything (database, sockets,
 * pidfiles, logs) in `dir`. Bridges need `datapath_type=netdev` where the openvswitch
 * kernel module is missing. stop() ends both by their pidfiles and removes `dir` when it
 * was created here.
 */
export function startOvs(ns: string, dir: string): OvsInstance {
  mkdirSync(dir, { recursive: true });
  const env = { ...process.env, OVS_RUNDIR: dir, OVS_DBDIR: dir, OVS_LOGDIR: dir, OVS_SYSCONFDIR: dir };
  const db = `unix:${join(dir, 'db.sock')}`;
  const stop = () => {
    for (const name of ['ovs-vswitchd', 'ovsdb-server']) {
      const pid = pidOf(join(dir, `${name}.pid`));
      if (pid === undefined) continue;
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        continue;
      }
      const deadline = Date.now() + 3000;
      while (alive(pid) && Date.now() < deadline) execFileSync('sleep', ['0.05']);
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    execFileSync('ovsdb-tool', ['create', join(dir, 'conf.db'), '/usr/share/openvswitch/vswitch.ovsschema'], { env, stdio: 'pipe' });
    const common = ['--detach', '--no-chdir'];
    execFileSync(
      'ip',
      ['netns', 'exec', ns, 'ovsdb-server', join(dir, 'conf.db'), `--remote=punix:${join(dir, 'db.sock')}`, `--pidfile=${join(dir, 'ovsdb-server.pid')}`, `--unixctl=${join(dir, 'ovsdb-server.ctl')}`, `--log-file=${join(dir, 'ovsdb-server.log')}`, ...common],
      { env, stdio: 'pipe' },
    );
    execFileSync('ip', ['netns', 'exec', ns, 'ovs-vsctl', `--db=${db}`, '--no-wait', 'init'], { env, stdio: 'pipe' });
    execFileSync(
      'ip',
      ['netns', 'exec', ns, 'ovs-vswitchd', db, `--pidfile=${join(dir, 'ovs-vswitchd.pid')}`, `--unixctl=${join(dir, 'ovs-vswitchd.ctl')}`, `--log-file=${join(dir, 'ovs-vswitchd.log')}`, ...common],
      { env, stdio: 'pipe' },
    );
  } catch (e) {
    stop();
    throw e;
  }
  return { dir, db, stop };
}

/** True when the Open vSwitch userspace programs are installed. */
export function ovsAvailable(): boolean {
  return ['/usr/sbin/ovsdb-server', '/usr/sbin/ovs-vswitchd', '/usr/bin/ovs-vsctl', '/usr/bin/ovsdb-tool', '/usr/share/openvswitch/vswitch.ovsschema'].every((p) => existsSync(p));
}

/** utime + stime (clock ticks) of a process, from /proc/PID/stat. */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  return Number(rest[11]) + Number(rest[12]);
}
