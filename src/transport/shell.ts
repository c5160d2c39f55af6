/**
 * One persistent remote `sh` on one exec channel. Commands are written to its stdin; each
 * command's end is marked on stdout and on stderr by a sentinel line that cannot occur in
 * the command's own output (a random per-connection nonce plus a sequence number) and
 * carries the exit code:
 *
 *     ( cd -- DIR || exit; export K=V; eval 'CMD' ) </dev/null; __ul_rc=$?
 *     printf 'NONCE:SEQ:%d\n' "$__ul_rc"; printf 'NONCE:SEQ:%d\n' "$__ul_rc" >&2
 *
 * - The command runs in a subshell through `eval`, so a syntax error, `exit`, `cd` or
 *   `export` in it ends or changes only that subshell, never the persistent shell. A
 *   simple command of plain words (`isSimpleCommand`: it cannot be a syntax error) goes in
 *   without `eval`, `( ip -j link show )`, so that `sh` execs it in the subshell instead
 *   of forking once more: one process per such command instead of two.
 * - A simple command that cannot change the shell (`runsInPlace`: an external program, or
 *   a builtin such as `test`), and a command under a time limit (`timeout ... sh -c CMD`),
 *   run in the persistent shell itself, which forgets where it found the program after it:
 *       ip -j link show </dev/null; __ul_rc=$?; hash -r
 *   The shell starts the program with vfork and exec, instead of forking a copy of itself
 *   that then execs it: a builtin costs no process at all, a program about a third less
 *   CPU on the host (the fork copied the shell's page tables, the exec tore them down).
 * - One of our own scripts written for it (`contained()`, contained.ts) runs in the shell
 *   itself as the body of a function, where the lint finds nothing it may not do there:
 *       __ul_c() {
 *       SCRIPT
 *       }; __ul_c </dev/null; __ul_rc=$?; hash -r
 *   It ends with `return`, its programs are started with vfork, and it costs no fork of
 *   the shell: the observations and actions of a worker's first run took about 40 such
 *   forks per host, each about as much CPU on the host as a program.
 * - Its stdin is /dev/null, or the bytes given, sent base64-encoded in a here-document on
 *   the control stream (never in argv): `base64 -d <<'D' | ( ... )`.
 * - Output is kept as bytes and split exactly at the sentinel: nothing is trimmed, output
 *   without a trailing newline and binary output survive, stdout and stderr are separated.
 * - A per-command timeout runs the command under coreutils `timeout -k 2 S sh -c CMD`,
 *   which signals the command's whole process group; the shell itself stays usable.
 *   (The command text is then in `sh -c`'s argv; stdin and uploads never are.)
 * - The first write of a shell is preceded by a probe sentinel: anything the login shell
 *   prints before (rc-file noise) is discarded.
 * - Output written by a background process a command left running may appear in a later
 *   command's output: commands are expected to finish what they start.
 */
import type { ClientChannel } from 'ssh2';
import { CommandError, InputError } from '../errors.js';
import type { ExecResult as ModuleExecResult } from '../modules/types.js';
import { runsAsFunction, scriptText } from './contained.js';
import { isSimpleCommand, join, raw, runsInPlace, sh, ShellCommand } from './quote.js';

export interface ExecResult extends ModuleExecResult {
  /** stdout exactly as received (stdout is its UTF-8 decoding). */
  stdoutBuffer?: Buffer;
}

export interface RunOptions {
  timeoutMs?: number;
  become?: boolean;
  stdin?: string | Buffer;
  cwd?: string;
  env?: Record<string, string>;
}

/** Grace after a timeout before the command is sent SIGKILL (`timeout -k`). */
const KILL_AFTER_S = 2;
/** Extra time after a timeout before the whole shell is given up on. */
const WATCHDOG_GRACE_MS = KILL_AFTER_S * 1000 + 5000;
/** Longest sentinel tail (`-2147483648\n`) accepted after a marker. */
const MAX_CODE_LEN = 16;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Builds the script text for one command (the sentinel included). */
export function frameCommand(cmd: ShellCommand, marker: string, delimiter: string, opts: RunOptions, guard?: SequenceGuard): string {
  // One of our own scripts written as a function body (contained.ts) runs as one: in the
  // shell itself where the lint finds nothing and nothing else asks for a subshell, else
  // in the subshell (where an `exit` the lint refused ends only the subshell).
  const asFunction = runsAsFunction(cmd);
  const script = scriptText(cmd);
  if (cmd.contained) cmd = new ShellCommand(script);
  const parts: ShellCommand[] = [];
  let timeout: ShellCommand | undefined;
  if (opts.cwd !== undefined) parts.push(sh`cd -- ${opts.cwd} || exit`);
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (!ENV_NAME.test(k)) throw new InputError(`bad environment variable name ${JSON.stringify(k)}`);
    parts.push(sh`export ${k}=${v}`);
  }
  if (opts.timeoutMs !== undefined) {
    if (!(opts.timeoutMs > 0) || !Number.isFinite(opts.timeoutMs)) throw new InputError(`bad timeout ${opts.timeoutMs} ms`);
    const secs = (Math.max(opts.timeoutMs, 1) / 1000).toFixed(3);
    timeout = sh`timeout -k ${KILL_AFTER_S} ${secs} sh -c ${script}`;
    parts.push(sh`exec ${timeout}`);
  } else if (isSimpleCommand(cmd)) {
    // One simple command of plain words cannot be a syntax error: it goes in as it is,
    // and the subshell execs it (no fork beyond the subshell's own).
    parts.push(cmd);
  } else {
    parts.push(sh`eval ${script}`);
  }
  const body = join(parts, ';');
  const input = opts.stdin === undefined ? undefined : Buffer.from(opts.stdin);
  const b64 = input !== undefined && input.length > 0 ? input.toString('base64').replace(/.{1,76}/g, '$&\n') : undefined;
  // A command that leaves the shell as it was runs in the shell itself: the program is
  // started with vfork, not after a fork of the whole shell (runsInPlace). `hash -r`
  // after it: the shell forgets where it found the program, so every later command, in
  // place or in a subshell, finds its programs along PATH as a new shell would.
  const inPlace = b64 === undefined && opts.cwd === undefined && Object.keys(opts.env ?? {}).length === 0 && (timeout !== undefined || runsInPlace(cmd) || asFunction);
  let run = inPlace
    ? sh`${timeout ?? cmd} </dev/null; __ul_rc=$?; hash -r`
    : b64 !== undefined
      ? sh`base64 -d <<'${delimiter}' | ( ${body} ); __ul_rc=$?`
      : sh`( ${body} ) </dev/null; __ul_rc=$?`;
  if (guard) {
    // It runs only while no earlier command of its sequence failed; skipped, it reports
    // SKIPPED as its exit code, which no command can exit with.
    // (an empty list: no exit code lets the next command run, as the engine reads it)
    const ok = guard.okCodes === 'any' ? '*' : guard.okCodes.length > 0 ? guard.okCodes.map((c) => String(Math.trunc(c))).join('|') : "''";
    run = sh`${raw(guard.first ? '__ul_stop=; ' : '')}if [ -z "$__ul_stop" ]; then ${run}; case $__ul_rc in ${raw(ok)}) ;; *) __ul_stop=1 ;; esac; else __ul_rc=${raw(String(SKIPPED))}; fi`;
  }
  const fmt = `${marker}%d\\n`;
  const text = sh`${run}; printf ${fmt} "$__ul_rc"; printf ${fmt} "$__ul_rc" >&2`.text + '\n';
  return b64 !== undefined ? text + b64 + delimiter + '\n' : text;
}

/** The exit code a command of a sequence reports when it was skipped (an earlier one failed). */
export const SKIPPED = -1;

/** A command of a sequence (RemoteShell.sendSequence): it runs only if none before it failed. */
export interface SequenceGuard {
  /** The first command of its sequence (it clears what an earlier sequence left). */
  first: boolean;
  /** Exit codes that are not a failure (empty: none; 'any': it never stops the sequence). */
  okCodes: readonly number[] | 'any';
}

/** One command of a sequence, with its own limits. */
export interface SequenceItem {
  cmd: ShellCommand;
  /**
   * Exit codes that let the next command run (default: 0). 'any': whatever it exits with
   * (a read-only observation that follows the commands it depends on).
   */
  okCodes?: readonly number[] | 'any';
  timeoutMs?: number;
  stdin?: string | Buffer;
}

/** The probe written before a shell's first command. */
function probeText(marker: string): string {
  const fmt = `${marker}%d\\n`;
  return sh`printf ${fmt} 0; printf ${fmt} 0 >&2`.text + '\n';
}

/**
 * Finds `marker` + digits + `\n` in a byte stream and hands out what came before it.
 * Scans only the new bytes (plus a marker-length overlap), so large outputs stay linear.
 */
class SentinelReader {
  private chunks: Buffer[] = [];
  private size = 0;
  private scanned = 0;
  private found = -1;
  private readonly expected: Buffer[] = [];

  constructor(private readonly onRecord: (body: Buffer, code: number) => void) {}

  expect(marker: string): void {
    this.expected.push(Buffer.from(marker, 'latin1'));
    this.scan();
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
    this.scan();
  }

  /** Bytes received and not yet claimed (for messages when a shell dies). */
  pending(): Buffer {
    return Buffer.concat(this.chunks);
  }

  private slice(start: number): Buffer {
    // The bytes from `start` to the end, copying only the chunks that overlap.
    const parts: Buffer[] = [];
    let pos = this.size;
    for (let i = this.chunks.length - 1; i >= 0 && pos > start; i--) {
      const c = this.chunks[i] as Buffer;
      const cStart = pos - c.length;
      parts.unshift(cStart >= start ? c : c.subarray(start - cStart));
      pos = cStart;
    }
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
  }

  private scan(): void {
    for (;;) {
      const marker = this.expected[0];
      if (marker === undefined) return;
      if (this.found < 0) {
        const start = Math.max(0, this.scanned - marker.length + 1);
        if (start >= this.size) return;
        const window = this.slice(start);
        const i = window.indexOf(marker);
        this.scanned = this.size;
        if (i < 0) return;
        this.found = start + i;
      }
      const after = this.slice(this.found + marker.length);
      const nl = after.indexOf(0x0a);
      if (nl < 0) {
        if (after.length > MAX_CODE_LEN) throw new Error('malformed sentinel from the remote shell');
        return;
      }
      const code = Number.parseInt(after.subarray(0, nl).toString('latin1'), 10);
      const all = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks);
      const body = Buffer.from(all.subarray(0, this.found));
      const rest = all.subarray(this.found + marker.length + nl + 1);
      this.chunks = rest.length > 0 ? [Buffer.from(rest)] : [];
      this.size = rest.length;
      this.scanned = 0;
      this.found = -1;
      this.expected.shift();
      this.onRecord(body, Number.isFinite(code) ? code : 255);
    }
  }
}

interface Pending {
  command: string;
  discard: boolean;
  timeoutMs?: number;
  startedAt: number;
  stdout?: Buffer;
  stderr?: Buffer;
  code?: number;
  resolve: (r: ExecResult) => void;
  reject: (e: unknown) => void;
}

export interface ShellDeath {
  /** The error pending commands fail with. */
  error: (partial: { command: string; stdout: string; stderr: string }) => Error;
}

export class RemoteShell {
  busy = false;
  dead = false;
  private primed = false;
  private readonly outQ: Pending[] = [];
  private readonly errQ: Pending[] = [];
  private readonly out: SentinelReader;
  private readonly err: SentinelReader;
  private exit: { code: number | null; signal: string | null } | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  /** Set while the become handshake watches raw output. */
  private raw: { out: Buffer[]; err: Buffer[]; onData: () => void } | undefined;

  constructor(
    readonly level: string,
    readonly channel: ClientChannel,
    private readonly nonce: string,
    private readonly nextSeq: () => number,
    private readonly onDead: (shell: RemoteShell) => ShellDeath,
  ) {
    this.out = new SentinelReader((body, code) => this.record('out', body, code));
    this.err = new SentinelReader((body) => this.record('err', body, 0));
    channel.on('data', (d: Buffer) => this.feed('out', d));
    channel.stderr.on('data', (d: Buffer) => this.feed('err', d));
    channel.on('exit', (code: number | null, signal?: string) => {
      this.exit = { code: code ?? null, signal: signal ?? null };
    });
    channel.on('close', () => {
      // Let the connection see its own 'close' first: a lost connection is reported as such.
      setImmediate(() => this.die());
    });
    channel.on('error', () => {
      /* reported through 'close' */
    });
  }

  get idle(): boolean {
    return !this.busy && !this.dead;
  }

  /** Exit status of the remote `sh`, once it has ended. */
  get exitStatus(): { code: number | null; signal: string | null } | undefined {
    return this.exit;
  }

  private feed(which: 'out' | 'err', d: Buffer): void {
    if (this.raw) {
      (which === 'out' ? this.raw.out : this.raw.err).push(d);
      this.raw.onData();
      return;
    }
    try {
      (which === 'out' ? this.out : this.err).push(d);
    } catch (e) {
      this.kill(String(e));
    }
  }

  /**
   * Watches raw stdout/stderr until `decide` returns a verdict (the become handshake).
   * `decide` sees everything received so far; 'more' keeps waiting.
   */
  async handshake(
    decide: (out: Buffer, err: Buffer) => 'more' | 'ready' | { fail: string },
    timeoutMs: number,
  ): Promise<{ ok: true } | { ok: false; reason: string; stderr: string }> {
    return new Promise((resolve) => {
      let done = false;
      const finish = (v: { ok: true } | { ok: false; reason: string; stderr: string }) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.channel.removeListener('close', onClose);
        // Nothing follows the ready line (the shell has no command yet); later noise is
        // discarded by the probe that precedes the first command.
        this.raw = undefined;
        resolve(v);
      };
      const errText = () => Buffer.concat(this.raw?.err ?? []).toString('utf8');
      const onClose = () => finish({ ok: false, reason: 'ended', stderr: errText() });
      const timer = setTimeout(() => finish({ ok: false, reason: 'timed out', stderr: errText() }), timeoutMs);
      this.raw = {
        out: [],
        err: [],
        onData: () => {
          if (!this.raw) return;
          const v = decide(Buffer.concat(this.raw.out), Buffer.concat(this.raw.err));
          if (v === 'more') return;
          if (v === 'ready') finish({ ok: true });
          else finish({ ok: false, reason: v.fail, stderr: errText() });
        },
      };
      this.channel.once('close', onClose);
    });
  }

  /** Writes raw bytes to the shell's stdin (the become password, during the handshake). */
  writeRaw(data: string): void {
    this.channel.write(data);
  }

  /** Writes all commands in one write; resolves each when both its sentinels have arrived. */
  send(cmds: readonly ShellCommand[], opts: RunOptions): Promise<ExecResult>[] {
    return this.write(cmds.map((cmd) => ({ cmd, opts })));
  }

  /**
   * Writes a sequence in one write: each command runs only if every one before it ended
   * with one of its `okCodes`; those after the first that did not report SKIPPED as their
   * exit code without running.
   */
  sendSequence(items: readonly SequenceItem[], opts: RunOptions = {}): Promise<ExecResult>[] {
    return this.write(
      items.map((it, i) => {
        const o: RunOptions = { ...opts };
        if (it.timeoutMs !== undefined) o.timeoutMs = it.timeoutMs;
        if (it.stdin !== undefined) o.stdin = it.stdin;
        return { cmd: it.cmd, opts: o, guard: { first: i === 0, okCodes: it.okCodes ?? [0] } };
      }),
    );
  }

  private write(items: readonly { cmd: ShellCommand; opts: RunOptions; guard?: SequenceGuard }[]): Promise<ExecResult>[] {
    if (this.dead) throw new Error('shell is closed');
    let script = '';
    const promises: Promise<ExecResult>[] = [];
    const now = Date.now();
    if (!this.primed) {
      this.primed = true;
      const marker = `${this.nonce}:${this.nextSeq()}:`;
      script += probeText(marker);
      const probe: Pending = { command: '', discard: true, startedAt: now, resolve: () => undefined, reject: () => undefined };
      this.queue(probe, marker);
    }
    for (const { cmd, opts, guard } of items) {
      const seq = this.nextSeq();
      const marker = `${this.nonce}:${seq}:`;
      script += frameCommand(cmd, marker, `UL_${this.nonce}_${seq}`, opts, guard);
      promises.push(
        new Promise<ExecResult>((resolve, reject) => {
          const p: Pending = { command: cmd.text, discard: false, startedAt: now, resolve, reject };
          if (opts.timeoutMs !== undefined) p.timeoutMs = opts.timeoutMs;
          this.queue(p, marker);
        }),
      );
    }
    // Only where every command has a time limit can the whole write be given one.
    if (items.length > 0 && items.every((it) => it.opts.timeoutMs !== undefined)) {
      const total = items.reduce((sum, it) => sum + it.opts.timeoutMs! + WATCHDOG_GRACE_MS, 0);
      this.watchdog = setTimeout(() => this.kill('did not return after its timeout'), total);
    }
    try {
      this.channel.write(script);
    } catch {
      // The channel is gone: the pending commands fail through die(), seen by the caller.
      setImmediate(() => this.die());
    }
    return promises;
  }

  private queue(p: Pending, marker: string): void {
    this.outQ.push(p);
    this.errQ.push(p);
    this.out.expect(marker);
    this.err.expect(marker);
  }

  private record(which: 'out' | 'err', body: Buffer, code: number): void {
    const q = which === 'out' ? this.outQ : this.errQ;
    const p = q.shift();
    if (!p) return;
    if (which === 'out') {
      p.stdout = body;
      p.code = code;
    } else {
      p.stderr = body;
    }
    if (p.stdout === undefined || p.stderr === undefined || p.code === undefined) return;
    if (this.outQ.length === 0 && this.errQ.length === 0 && this.watchdog) {
      clearTimeout(this.watchdog);
      this.watchdog = undefined;
    }
    const finishedAt = Date.now();
    // The next command of a batch starts when this one ends.
    const next = this.outQ[0] ?? this.errQ[0];
    if (next && next !== p) next.startedAt = Math.max(next.startedAt, finishedAt);
    if (p.discard) return;
    const durationMs = finishedAt - p.startedAt;
    const result: ExecResult = {
      command: p.command,
      exitCode: p.code,
      stdout: p.stdout.toString('utf8'),
      stderr: p.stderr.toString('utf8'),
      durationMs,
      stdoutBuffer: p.stdout,
    };
    // coreutils timeout exits 124 (TERM) or 137 (KILL after -k) when it had to stop the
    // command; the command itself can only exit so at the limit if it ran that long.
    if (p.timeoutMs !== undefined && (p.code === 124 || p.code === 137) && durationMs >= p.timeoutMs - 50) {
      result.timedOut = true;
    }
    p.resolve(result);
  }

  /** Gives up on the shell (watchdog, protocol error): pending commands end now. */
  kill(reason: string): void {
    if (this.dead) return;
    const pend = this.uniquePending();
    this.outQ.length = 0;
    this.errQ.length = 0;
    this.markDead();
    const first = pend.find((p) => !p.discard);
    for (const p of pend) {
      if (p.discard) continue;
      if (p.timeoutMs !== undefined) {
        p.resolve({
          command: p.command,
          exitCode: 124,
          stdout: (p.stdout ?? (p === first ? this.out.pending() : Buffer.alloc(0))).toString('utf8'),
          stderr: (p.stderr ?? (p === first ? this.err.pending() : Buffer.alloc(0))).toString('utf8'),
          durationMs: Date.now() - p.startedAt,
          timedOut: true,
        });
      } else {
        p.reject(
          new CommandError(`the remote shell was abandoned: ${reason}`, {
            command: p.command,
            exitCode: null,
            stdout: '',
            stderr: '',
          }),
        );
      }
    }
    try {
      this.channel.close();
    } catch {
      /* already closing */
    }
  }

  /** Ends the shell politely: EOF on its stdin makes `sh` exit. */
  end(): void {
    if (this.dead) return;
    this.markDead();
    try {
      this.channel.end();
    } catch {
      /* already closing */
    }
  }

  private uniquePending(): Pending[] {
    const seen = new Set<Pending>();
    for (const p of [...this.outQ, ...this.errQ]) seen.add(p);
    return [...seen];
  }

  private markDead(): void {
    this.dead = true;
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = undefined;
  }

  /** The channel closed: fail whatever is still pending. */
  die(): void {
    const pend = this.uniquePending().filter((p) => !p.discard);
    this.outQ.length = 0;
    this.errQ.length = 0;
    const wasDead = this.dead;
    this.markDead();
    const death = this.onDead(this);
    if (wasDead && pend.length === 0) return;
    const first = pend[0];
    for (const p of pend) {
      p.reject(
        death.error({
          command: p.command,
          stdout: (p.stdout ?? (p === first ? this.out.pending() : Buffer.alloc(0))).toString('utf8'),
          stderr: (p.stderr ?? (p === first ? this.err.pending() : Buffer.alloc(0))).toString('utf8'),
        }),
      );
    }
  }
}
