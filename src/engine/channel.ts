/**
 * What the engine needs of a host: run commands, move files. The SSH connection
 * (src/transport/connection.ts) provides it; so does the controller itself, for
 * `delegate_to: localhost` and hosts with `ansible_connection: local`.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import type { ExecResult } from '../modules/types.js';
import type { ShellCommand } from '../transport/quote.js';
import { SKIPPED, type SequenceItem } from '../transport/shell.js';
import { scriptText } from '../transport/contained.js';

export { SKIPPED, type SequenceItem };

/**
 * Runs `items` in order on `ch`, each only if every one before it ended with one of its
 * `okCodes` (default 0); those after the first that did not give exit code SKIPPED. One
 * round trip where the channel can (HostChannel.runSequence), else one per command.
 */
export function runSequence(ch: HostChannel, items: SequenceItem[], opts: { become?: boolean } = {}): Promise<ExecResult>[] {
  const out = ch.runSequence
    ? ch.runSequence(items, opts)
    : (() => {
        const ps: Promise<ExecResult>[] = [];
        let go: Promise<boolean> = Promise.resolve(true);
        for (const it of items) {
          const p = go.then((yes) =>
            yes
              ? ch.run(it.cmd, { ...opts, ...(it.timeoutMs !== undefined ? { timeoutMs: it.timeoutMs } : {}), ...(it.stdin !== undefined ? { stdin: it.stdin } : {}) })
              : { command: it.cmd.text, exitCode: SKIPPED, stdout: '', stderr: '', durationMs: 0 },
          );
          ps.push(p);
          go = p.then(
            (r) => r.exitCode !== SKIPPED && (it.okCodes === 'any' || (it.okCodes ?? [0]).includes(r.exitCode)),
            () => false,
          );
        }
        return ps;
      })();
  // a caller stops reading at the first failure: the rest must not be unhandled rejections
  for (const p of out) p.catch(() => undefined);
  return out;
}

export interface ChannelRunOptions {
  timeoutMs?: number;
  become?: boolean;
  stdin?: string | Buffer;
}

export interface HostChannel {
  run(cmd: ShellCommand, opts?: ChannelRunOptions): Promise<ExecResult>;
  runBatch(cmds: ShellCommand[], opts?: ChannelRunOptions): Promise<ExecResult[]>;
  /** As runBatch (one round trip, in order), each result given as soon as it is in. */
  runEach(cmds: ShellCommand[], opts?: ChannelRunOptions): Promise<ExecResult>[];
  /**
   * A sequence in one round trip: each command runs only if every one before it ended with
   * one of its `okCodes`; the rest report SKIPPED. Without it, runSequence() below runs them
   * one round trip each.
   */
  runSequence?(items: SequenceItem[], opts?: { become?: boolean }): Promise<ExecResult>[];
  upload(remotePath: string, content: string | Buffer, opts?: { mode?: number; owner?: string; group?: string; become?: boolean }): Promise<void>;
  readFile(remotePath: string, opts?: { become?: boolean; maxBytes?: number }): Promise<Buffer | null>;
  close(): Promise<void>;
}

/** The controller itself, through /bin/sh. */
export class LocalChannel implements HostChannel {
  async run(cmd: ShellCommand, opts: ChannelRunOptions = {}): Promise<ExecResult> {
    const started = Date.now();
    return new Promise((resolve) => {
      const child = spawn('/bin/sh', ['-c', scriptText(cmd)], { stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let timedOut = false;
      const timer =
        opts.timeoutMs !== undefined
          ? setTimeout(() => {
              timedOut = true;
              child.kill('SIGKILL');
            }, opts.timeoutMs)
          : undefined;
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.stderr.on('data', (d: Buffer) => err.push(d));
      child.stdin.on('error', () => undefined);
      child.stdin.end(opts.stdin ?? '');
      child.on('close', (code, signal) => {
        if (timer) clearTimeout(timer);
        resolve({
          command: cmd.text,
          exitCode: code ?? (signal ? 128 + 9 : 255),
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
          durationMs: Date.now() - started,
          ...(timedOut ? { timedOut } : {}),
        });
      });
    });
  }

  runBatch(cmds: ShellCommand[], opts?: ChannelRunOptions): Promise<ExecResult[]> {
    return Promise.all(this.runEach(cmds, opts));
  }

  /** One after another. */
  runEach(cmds: ShellCommand[], opts?: ChannelRunOptions): Promise<ExecResult>[] {
    const out: Promise<ExecResult>[] = [];
    let prev: Promise<unknown> = Promise.resolve();
    for (const c of cmds) {
      const p = prev.then(() => this.run(c, opts));
      out.push(p);
      prev = p.catch(() => undefined);
    }
    return out;
  }

  async upload(path: string, content: string | Buffer, opts: { mode?: number; owner?: string; group?: string } = {}): Promise<void> {
    const tmp = join(dirname(path), `.${basename(path)}.underlay-${randomBytes(6).toString('hex')}`);
    // like the SSH upload: a replaced file keeps its mode and (where allowed) its owner
    const old = await stat(path).catch(() => null);
    try {
      await writeFile(tmp, content, { mode: 0o600 });
      const uid = opts.owner !== undefined ? await idOf('-u', opts.owner) : old && process.getuid?.() === 0 ? old.uid : -1;
      const gid = opts.group !== undefined ? await idOf('-g', opts.group) : old && process.getuid?.() === 0 ? old.gid : -1;
      if (uid !== -1 || gid !== -1) await chown(tmp, uid, gid);
      await chmod(tmp, opts.mode ?? (old ? old.mode & 0o7777 : 0o644));
      await rename(tmp, path);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  async readFile(path: string, opts: { maxBytes?: number } = {}): Promise<Buffer | null> {
    try {
      const b = await readFile(path);
      return opts.maxBytes !== undefined ? b.subarray(0, opts.maxBytes) : b;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  async close(): Promise<void> {}
}

async function idOf(flag: '-u' | '-g', name: string): Promise<number> {
  if (/^\d+$/.test(name)) return Number(name);
  const text = await new Promise<string>((resolve, reject) => {
    const c = spawn(flag === '-u' ? 'id' : 'getent', flag === '-u' ? ['-u', name] : ['group', name]);
    let s = '';
    c.stdout.on('data', (d: Buffer) => (s += d.toString()));
    c.on('close', (code) => (code === 0 ? resolve(s) : reject(new Error(`no such ${flag === '-u' ? 'user' : 'group'} '${name}'`))));
  });
  return flag === '-u' ? Number(text.trim()) : Number(text.split(':')[2]);
}
