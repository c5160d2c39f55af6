/**
 * Local processes and probes for the lab: running a program (argv, never a shell string),
 * bounded polling, and read-only health probes that cost no process: an SSH banner over
 * TCP, JSON-RPC over a Unix socket (ovsdb-server `echo`, a daemon's unixctl `version`),
 * and whether a recorded PID is still the lab host it was (same network namespace).
 */
import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { EnvironmentError } from '../errors.js';

/** PATH for the programs the lab runs (root's sbin directories included). */
export const LAB_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function labEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: LAB_PATH, LANG: 'C.UTF-8' };
  for (const k of ['HOME', 'TERM', 'TZ']) if (process.env[k] !== undefined) env[k] = process.env[k];
  return env;
}

export interface RunResult {
  command: string;
  exitCode: number | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface RunOptions {
  input?: string;
  timeoutMs?: number;
  cwd?: string;
}

/** Runs a program; success and failure share one result shape. */
export function run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const started = Date.now();
  const command = [file, ...args].join(' ');
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      { env: labEnv(), cwd: opts.cwd, timeout: opts.timeoutMs ?? 30_000, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        let exitCode: number | null = 0;
        if (err) {
          const code = (err as NodeJS.ErrnoException & { code?: unknown }).code;
          exitCode = typeof code === 'number' ? code : null;
          if (exitCode === null && !stderr) stderr = err.message;
        }
        resolve({ command, exitCode, stdout, stderr, durationMs: Date.now() - started });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/** Runs a program that must succeed; otherwise an EnvironmentError naming it, with its stderr. */
export async function runOk(what: string, file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(file, args, opts);
  if (r.exitCode !== 0) {
    const detail = (r.stderr || r.stdout).trim();
    throw new EnvironmentError(`lab: ${what} failed (${r.command}: exit ${r.exitCode ?? 'by signal/timeout'})${detail ? `:\n${detail}` : ''}`);
  }
  return r;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface PollOptions {
  /** Most attempts. */
  attempts: number;
  /** Overall time limit. */
  timeoutMs: number;
  /** First pause between attempts; doubles up to maxIntervalMs. */
  intervalMs?: number;
  maxIntervalMs?: number;
}

/**
 * Calls `check` until it returns a value other than undefined, bounded in count and time.
 * Returns undefined when the bound is reached. `check` may throw to stop early.
 */
export async function poll<T>(check: () => Promise<T | undefined> | T | undefined, opts: PollOptions): Promise<T | undefined> {
  const until = Date.now() + opts.timeoutMs;
  let pause = opts.intervalMs ?? 10;
  for (let i = 0; i < opts.attempts; i++) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() >= until) return undefined;
    await sleep(Math.min(pause, Math.max(0, until - Date.now())));
    pause = Math.min(pause * 2, opts.maxIntervalMs ?? 200);
  }
  return undefined;
}

/**
 * True when address:port answers with an SSH identification string within the time.
 * With `localAddress` (the lab bridge's address) the probe leaves from the lab bridge or
 * not at all: without the bridge, binding fails at once and nothing is sent elsewhere.
 */
export function sshBanner(address: string, port: number, timeoutMs: number, localAddress?: string): Promise<boolean> {
  return new Promise((resolve) => {
    let done = false;
    let buf = '';
    const s = localAddress ? connect({ host: address, port, localAddress }) : connect({ host: address, port });
    const finish = (ok: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      if (buf.includes('\n') || buf.length >= 4) finish(buf.startsWith('SSH-'));
    });
    s.on('error', () => finish(false));
    s.on('close', () => finish(false));
  });
}

/**
 * One JSON-RPC request over a Unix socket (OVSDB and OVS unixctl speak JSON-RPC 1.0 as
 * concatenated JSON texts). Resolves the result, or undefined on any failure or timeout.
 */
export function jsonRpc(socketPath: string, method: string, params: unknown[], timeoutMs: number): Promise<unknown> {
  return new Promise((resolve) => {
    let done = false;
    let buf = '';
    const id = 'ul-lab';
    const s = connect({ path: socketPath });
    const finish = (v: unknown): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    s.on('connect', () => s.write(JSON.stringify({ method, params, id })));
    s.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      let msg: { id?: unknown; result?: unknown; error?: unknown };
      try {
        msg = JSON.parse(buf) as typeof msg;
      } catch {
        return; // incomplete
      }
      if (msg.id === id && (msg.error === null || msg.error === undefined)) finish(msg.result ?? null);
      else finish(undefined);
    });
    s.on('error', () => finish(undefined));
    s.on('close', () => finish(undefined));
  });
}

/** ovsdb-server answers `echo` on this socket. */
export async function ovsdbAnswers(socketPath: string, timeoutMs = 2000): Promise<boolean> {
  const r = await jsonRpc(socketPath, 'echo', ['ul-lab'], timeoutMs);
  return Array.isArray(r) && r[0] === 'ul-lab';
}

/** A daemon answers `version` on its unixctl socket `<rundir>/<name>.<pid>.ctl` (pid from `<name>.pid`). */
export async function daemonAnswers(rundir: string, name: string, timeoutMs = 2000): Promise<boolean> {
  let pid: string;
  try {
    pid = readFileSync(`${rundir}/${name}.pid`, 'utf8').trim();
  } catch {
    return false;
  }
  if (!/^\d+$/.test(pid)) return false;
  const r = await jsonRpc(`${rundir}/${name}.${pid}.ctl`, 'version', [], timeoutMs);
  return typeof r === 'string' && r.length > 0;
}

/** The inode of a network namespace file (/run/netns/NAME or /proc/PID/ns/net), or undefined. */
export function netnsInode(path: string): bigint | undefined {
  try {
    const st = statSync(path, { bigint: true });
    return st.ino;
  } catch {
    return undefined;
  }
}

/** Is `pid` a live (not zombie) process? */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 1) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X' && state !== '';
  } catch {
    return false;
  }
}

/**
 * Is `pid` still the lab host it was recorded as: alive, in the host's network namespace,
 * and PID 1 of a PID namespace of its own? (A recycled PID fails this, so it is never
 * signalled.)
 */
export function isHostPid(pid: number, netns: string): boolean {
  if (!pidAlive(pid)) return false;
  const want = netnsInode(`/run/netns/${netns}`);
  const have = netnsInode(`/proc/${pid}/ns/net`);
  if (want === undefined || have === undefined || want !== have) return false;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'latin1');
    const m = /^NSpid:\s*(.*)$/m.exec(status);
    const ids = m?.[1]?.trim().split(/\s+/) ?? [];
    return ids.length >= 2 && ids[0] === String(pid) && ids[ids.length - 1] === '1';
  } catch {
    return false;
  }
}

/** Sends a signal; false when the process is gone. */
export function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/**
 * Is the process gone? No /proc entry; or a zombie that only the machine's init (PID 1)
 * will reap. A zombie child of this process is not gone yet (Node reaps it while the event
 * loop turns), nor one whose live parent will reap it (a host's PID 1 and its launcher).
 */
export function pidGone(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return true;
  }
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (rest[0] !== 'Z' && rest[0] !== 'X') return false;
  return Number(rest[1]) === 1;
}

/** The parent of a zombie process; undefined when the process is not a zombie (or is gone). */
export function zombieParent(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[0] === 'Z' ? Number(rest[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Waits (bounded) until every PID is gone (see pidGone). Returns those still running at
 * the bound; zombies left then are not counted (they have ended, only their reaping lags).
 */
export async function waitGone(pids: number[], timeoutMs: number): Promise<number[]> {
  const left = await poll(() => (pids.some((p) => !pidGone(p)) ? undefined : ([] as number[])), {
    attempts: 400,
    timeoutMs,
    intervalMs: 5,
    maxIntervalMs: 50,
  });
  return left ?? pids.filter(pidAlive);
}
