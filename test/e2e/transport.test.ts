/**
 * The SSH transport against real OpenSSH servers (test/support/sshd.ts): no mocks.
 * The servers run on this machine, so /proc shows the remote processes too.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandError, HostKeyError, UnreachableError } from '../../src/errors.js';
import { Connection, SHELL_WAIT_MS, SKIPPED, type ConnectOptions } from '../../src/transport/connection.js';
import { fingerprint } from '../../src/transport/known_hosts.js';
import { raw, sh } from '../../src/transport/quote.js';
import { startSshd, type Sshd } from '../support/sshd.js';

let sshd: Sshd;
let work: string;
const opened: Connection[] = [];

function base(extra: Partial<ConnectOptions> = {}): ConnectOptions {
  return {
    host: 'lab-test',
    address: '127.0.0.1',
    port: sshd.port,
    user: 'root',
    privateKeyFile: sshd.clientKey,
    knownHostsFiles: [sshd.knownHostsFile],
    sshConfigFile: null,
    connectTimeoutMs: 5000,
    ...extra,
  };
}

async function open(extra: Partial<ConnectOptions> = {}): Promise<Connection> {
  const c = await Connection.open(base(extra));
  opened.push(c);
  return c;
}

/** Every process's argv on this machine, joined (the sshd is local). */
async function allArgv(): Promise<string> {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      out.push((await readFile(`/proc/${pid}/cmdline`)).toString('latin1'));
    } catch {
      /* the process ended */
    }
  }
  return out.join('\n');
}

/** Scans argv of all processes while `during` runs; returns how often the needle was seen and how many scans ran. */
async function scanArgvWhile(needle: string, during: Promise<unknown>): Promise<{ hits: number; scans: number }> {
  let done = false;
  const finished = during.finally(() => {
    done = true;
  });
  let hits = 0;
  let scans = 0;
  const until = Date.now() + 60_000;
  while (!done && scans < 5000 && Date.now() < until) {
    if ((await allArgv()).includes(needle)) hits++;
    scans++;
  }
  await finished;
  return { hits, scans };
}

function pidsWithArgv(needle: string): string[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' ').includes(needle);
      } catch {
        return false;
      }
    });
}

beforeAll(async () => {
  sshd = await startSshd();
  work = mkdtempSync(join(tmpdir(), 'underlay-transport-'));
});

afterAll(async () => {
  for (const c of opened) await c.close();
  await sshd?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('commands on the persistent shell', () => {
  let c: Connection;
  beforeAll(async () => {
    // One shell only: every command below runs on the same remote sh.
    c = await open({ maxChannels: 1 });
  });

  it('returns stdout exactly: no trimming, no trailing newline added', async () => {
    expect((await c.run(sh`printf 'a\n\n  b  \n\n'`)).stdout).toBe('a\n\n  b  \n\n');
    expect((await c.run(sh`printf abc`)).stdout).toBe('abc');
    expect((await c.run(sh`true`)).stdout).toBe('');
    expect((await c.run(sh`printf '\n'`)).stdout).toBe('\n');
  });

  it('separates stderr from stdout, with or without trailing newlines', async () => {
    const r = await c.run(sh`printf out1; printf err1 >&2; printf out2; printf 'err2\n' >&2`);
    expect(r).toMatchObject({ stdout: 'out1out2', stderr: 'err1err2\n', exitCode: 0 });
    const r2 = await c.run(sh`echo next`);
    expect(r2).toMatchObject({ stdout: 'next\n', stderr: '' });
  });

  it('reports exit codes and never throws for them', async () => {
    expect((await c.run(sh`exit 3`)).exitCode).toBe(3);
    expect((await c.run(sh`false`)).exitCode).toBe(1);
    expect((await c.run(sh`sh -c 'kill -9 $$'`)).exitCode).toBe(137);
    expect((await c.run(sh`no-such-command-here`)).exitCode).toBe(127);
    const r = await c.run(sh`echo partial; exit 255`);
    expect(r).toMatchObject({ exitCode: 255, stdout: 'partial\n', command: 'echo partial; exit 255' });
    expect(r.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('is binary-safe', async () => {
    const r = await c.run(sh`printf 'a\\000b\\377\\r\\n'`);
    expect(r.stdoutBuffer).toEqual(Buffer.from([0x61, 0x00, 0x62, 0xff, 0x0d, 0x0a]));
    const f = join(work, 'random.bin');
    const made = await c.run(sh`head -c 300000 /dev/urandom > ${f} && sha256sum < ${f}`);
    expect(made.exitCode).toBe(0);
    const expected = made.stdout.split(' ')[0];
    const got = await c.run(sh`cat ${f}`);
    expect(got.stdoutBuffer?.length).toBe(300000);
    expect(createHash('sha256').update(got.stdoutBuffer ?? Buffer.alloc(0)).digest('hex')).toBe(expected);
  });

  it('carries 5 MB of output intact, and the next command is unaffected', async () => {
    const r = await c.run(sh`head -c 5242880 /dev/zero | tr '\\000' x; printf tail`);
    expect(r.stdout.length).toBe(5242880 + 4);
    expect(r.stdout.endsWith('xxxxtail')).toBe(true);
    expect(/^x+tail$/.test(r.stdout)).toBe(true);
    const lines = await c.run(sh`seq 1 200000`);
    expect(lines.stdout).toBe(Array.from({ length: 200000 }, (_, i) => `${i + 1}\n`).join(''));
    expect((await c.run(sh`echo after`)).stdout).toBe('after\n');
  });

  it('survives hostile commands; each runs in its own subshell', async () => {
    const syntax = await c.run(raw('echo ) broken ('));
    expect(syntax.exitCode).toBe(2);
    expect(syntax.stderr).toMatch(/syntax error/i);
    expect((await c.run(raw("echo 'unterminated"))).exitCode).toBe(2);
    expect((await c.run(raw('exit 7'))).exitCode).toBe(7);
    expect((await c.run(raw('exec true'))).exitCode).toBe(0);
    expect((await c.run(raw('exec >&- 2>&-; echo gone'))).stdout).toBe('');
    // State does not leak between commands.
    await c.run(raw('cd /; export UL_LEAK=1; ulfn() { echo x; }; set -e'));
    const after = await c.run(raw('echo "[$UL_LEAK]"; command -v ulfn || echo nofn; false; echo still'));
    expect(after.stdout).toBe('[]\nnofn\nstill\n');
    // stdin is /dev/null, never the control stream.
    expect(await c.run(raw('cat; read x; echo "rc=$?"'))).toMatchObject({ stdout: 'rc=1\n', exitCode: 0 });
    // A command's own here-document, comments, continuation lines, a trailing backslash.
    expect((await c.run(raw('cat <<EOF\nline1\n$((1+2))\nEOF\n# trailing comment'))).stdout).toBe('line1\n3\n');
    expect((await c.run(raw('echo a \\\n b # c'))).stdout).toBe('a b\n');
    expect((await c.run(raw('echo end\\'))).exitCode).toBeTypeOf('number');
    // Lookalike sentinels in the output are just output.
    const fake = await c.run(raw("printf '0:1:0\\n:0\\nUL_x\\n'"));
    expect(fake.stdout).toBe('0:1:0\n:0\nUL_x\n');
    expect((await c.run(raw('echo fine'))).stdout).toBe('fine\n');
    expect(c.stats().channelsOpened).toBe(1);
  });

  it('runs a simple command as the subshell itself (exec, no second fork); anything else through eval', async () => {
    // $$ in a subshell is the persistent shell's pid.
    const shellPid = (await c.run(raw('echo $$'))).stdout.trim();
    expect(shellPid).toMatch(/^\d+$/);
    // A simple command replaces its subshell: its parent is the persistent shell.
    const simple = await c.run(sh`sh -c ${'echo $PPID'}`);
    expect(simple.stdout.trim()).toBe(shellPid);
    // The same text through raw() is not known to be simple: eval in the subshell forks it.
    const viaEval = await c.run(raw(`sh -c 'echo $PPID'`));
    expect(viaEval.stdout.trim()).not.toBe(shellPid);
    // cwd and env come first; the command is still exec'd.
    const withCwd = await c.run(sh`sh -c ${'echo "$PPID $PWD $UL_X"'}`, { cwd: '/tmp', env: { UL_X: "a'b" } });
    expect(withCwd.stdout).toBe(`${shellPid} /tmp a'b\n`);
    // A simple command that is a builtin, or not found, or exits non-zero: as before.
    expect(await c.run(sh`test -d ${'/'}`)).toMatchObject({ exitCode: 0 });
    expect(await c.run(sh`ul-no-such-program ${'x'}`)).toMatchObject({ exitCode: 127 });
    expect(await c.run(sh`sh -c ${'exit 7'}`)).toMatchObject({ exitCode: 7 });
    expect((await c.run(sh`echo ${'still here'}`)).stdout).toBe('still here\n');
  });

  it('runs a command that cannot change the shell in the shell itself; nothing leaks from the others', async () => {
    const shellPid = (await c.run(raw('echo $$'))).stdout.trim();
    // In place, the shell itself redirects its stdin for the program while it runs: the
    // shell reads /dev/null then. In a subshell, the shell keeps reading the control stream.
    const shellStdin = sh`readlink ${`/proc/${shellPid}/fd/0`}`;
    expect((await c.run(shellStdin)).stdout).toBe('/dev/null\n');
    expect((await c.run(shellStdin, { env: { UL_X: '1' } })).stdout).toMatch(/^(pipe|socket):/);
    expect((await c.run(shellStdin)).stdout).toBe('/dev/null\n');
    // a builtin in place, and a shell-changing builtin in its subshell: nothing leaks
    expect(await c.run(sh`test -d ${'/'}`)).toMatchObject({ exitCode: 0 });
    expect(await c.run(sh`cd ${'/tmp'}`)).toMatchObject({ exitCode: 0 });
    expect(await c.run(sh`export UL_INPLACE=1`)).toMatchObject({ exitCode: 0 });
    expect(await c.run(sh`exit 4`)).toMatchObject({ exitCode: 4 });
    expect((await c.run(raw('echo "$PWD [$UL_INPLACE] $$"'))).stdout).toBe(`${(await c.run(raw('cd ~ && pwd'))).stdout.trim()} [] ${shellPid}\n`);
    // a command under a time limit runs in place too, and the shell stays usable
    expect((await c.run(shellStdin, { timeoutMs: 5000 })).stdout).toBe('/dev/null\n');
    expect((await c.run(raw('echo $$'))).stdout.trim()).toBe(shellPid);
    expect(c.stats().channelsOpened).toBe(1);
  });

  it('passes hostile values through the sh tag unchanged', async () => {
    const hostile = ["it's", '$(touch /tmp/pwned)', '`id`', '"; exit 9; "', 'a\nb', '\\', '%s%n', '*', '-n', ''];
    for (const h of hostile) {
      const r = await c.run(sh`printf '%s' ${h}`);
      expect(r.stdout).toBe(h);
      expect(r.exitCode).toBe(0);
    }
  });

  it('gives the command stdin, cwd and env when asked (stdin not in argv)', async () => {
    const data = Buffer.concat([Buffer.from('line one\n\0two '), randomBytes(5000), Buffer.from('no newline')]);
    const r = await c.run(sh`cat`, { stdin: data });
    expect(r.stdoutBuffer).toEqual(data);
    expect((await c.run(sh`cat`, { stdin: 'no trailing newline' })).stdout).toBe('no trailing newline');
    expect((await c.run(sh`pwd`, { cwd: work })).stdout).toBe(`${work}\n`);
    expect((await c.run(sh`pwd`, { cwd: '/nonexistent' })).exitCode).not.toBe(0);
    const env = await c.run(raw('printf "%s|%s" "$A" "$B_2"'), { env: { A: "x y 'z'", B_2: '$(id)' } });
    expect(env.stdout).toBe("x y 'z'|$(id)");
  });

  it('runs a batch in one round trip with results split per command', async () => {
    const before = c.stats();
    const cmds = Array.from({ length: 50 }, (_, i) => (i % 10 === 3 ? sh`printf ${`err${i}`} >&2; exit ${i}` : sh`printf ${`out${i}`}`));
    const rs = await c.runBatch(cmds);
    expect(rs).toHaveLength(50);
    rs.forEach((r, i) => {
      if (i % 10 === 3) expect(r).toMatchObject({ stdout: '', stderr: `err${i}`, exitCode: i });
      else expect(r).toMatchObject({ stdout: `out${i}`, stderr: '', exitCode: 0 });
    });
    const after = c.stats();
    expect(after.roundTrips - before.roundTrips).toBe(1);
    expect(after.commands - before.commands).toBe(50);
    expect(after.channelsOpened).toBe(before.channelsOpened);
  });

  it('runEach: one round trip, each result as soon as it is in', async () => {
    const before = c.stats();
    let slowDone = false;
    const [fast, slow] = c.runEach([sh`printf fast`, sh`sleep 0.5; printf slow`]);
    void slow!.then(() => (slowDone = true));
    expect(await fast).toMatchObject({ stdout: 'fast', exitCode: 0 });
    expect(slowDone).toBe(false);
    expect(await slow).toMatchObject({ stdout: 'slow', exitCode: 0 });
    expect(c.stats().roundTrips - before.roundTrips).toBe(1);
    // the shell was given back: the next command runs on it
    expect((await c.run(sh`printf again`)).stdout).toBe('again');
    expect(c.stats().channelsOpened).toBe(before.channelsOpened);
  });

  it('runSequence: one round trip; each command runs only while the ones before it succeeded', async () => {
    const before = c.stats();
    const f = join(work, `seq-${randomBytes(4).toString('hex')}`);
    const rs = await Promise.all(
      c.runSequence([
        { cmd: sh`printf one > ${f}` },
        { cmd: sh`printf ' two' >> ${f}; exit 3`, okCodes: [0, 3] },
        { cmd: sh`cat -- ${f}`, stdin: 'ignored input' },
        { cmd: sh`printf 'bad' >&2; exit 5` },
        { cmd: sh`printf ' never' >> ${f}` },
        { cmd: sh`printf never` },
      ]),
    );
    expect(rs.map((r) => r.exitCode)).toEqual([0, 3, 0, 5, SKIPPED, SKIPPED]);
    expect(rs[2]).toMatchObject({ stdout: 'one two' });
    expect(rs[3]).toMatchObject({ stderr: 'bad' });
    expect(rs[5]).toMatchObject({ stdout: '', stderr: '' });
    expect(readFileSync(f, 'utf8')).toBe('one two');
    expect(c.stats().roundTrips - before.roundTrips).toBe(1);
    // a failure does not carry over into the next sequence (same shell)
    const [again] = await Promise.all(c.runSequence([{ cmd: sh`printf fresh` }]));
    expect(again).toMatchObject({ stdout: 'fresh', exitCode: 0 });
    // a command of a sequence with stdin and one with its own time limit
    const [fed, slow, after] = await Promise.all(c.runSequence([{ cmd: sh`cat`, stdin: 'in\0put' }, { cmd: sh`sleep 36.5`, timeoutMs: 400 }, { cmd: sh`printf after` }]));
    expect(fed).toMatchObject({ stdout: 'in\0put', exitCode: 0 });
    expect(slow).toMatchObject({ timedOut: true, exitCode: 124 });
    expect(after!.exitCode).toBe(SKIPPED);
    // a skipped command with stdin still takes its input from the stream: the shell stays in step
    const skippedFed = await Promise.all(c.runSequence([{ cmd: sh`exit 1` }, { cmd: sh`cat`, stdin: 'not\nrun\n' }, { cmd: sh`printf never` }]));
    expect(skippedFed.map((r) => r.exitCode)).toEqual([1, SKIPPED, SKIPPED]);
    expect((await c.run(sh`echo ok`)).stdout).toBe('ok\n');
  });

  it('a timeout kills the command and its children; the shell stays usable', async () => {
    const before = c.stats().channelsOpened;
    const t0 = Date.now();
    const r = await c.run(sh`echo started; sleep 37.25 & sleep 37.5; echo never`, { timeoutMs: 700 });
    expect(r.timedOut).toBe(true);
    expect(r.exitCode).toBe(124);
    expect(r.stdout).toBe('started\n');
    expect(Date.now() - t0).toBeLessThan(5000);
    await new Promise((res) => setTimeout(res, 200));
    expect(pidsWithArgv('sleep 37.5')).toEqual([]);
    expect(pidsWithArgv('sleep 37.25')).toEqual([]);
    expect((await c.run(sh`echo ok`)).stdout).toBe('ok\n');
    expect(c.stats().channelsOpened).toBe(before);
  });

  it('a command that ignores SIGTERM is killed after the grace period', async () => {
    const r = await c.run(raw("trap '' TERM; sleep 33.75"), { timeoutMs: 500 });
    expect(r).toMatchObject({ timedOut: true, exitCode: 137 });
    expect(pidsWithArgv('sleep 33.75')).toEqual([]);
    expect((await c.run(sh`echo ok`)).stdout).toBe('ok\n');
  });

  it('a quick exit 124 under a timeout is not a timeout', async () => {
    const r = await c.run(sh`exit 124`, { timeoutMs: 5000 });
    expect(r.exitCode).toBe(124);
    expect(r.timedOut).toBeUndefined();
  });

  it('if the remote shell itself is killed, that command fails and a new shell takes over', async () => {
    const err = await c.run(raw('kill -9 $$')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandError);
    expect(String((err as Error).message)).toMatch(/remote shell ended/);
    expect((await c.run(sh`echo back`)).stdout).toBe('back\n');
  });
});

describe('one connection, many commands', () => {
  it('200 sequential commands use one channel', async () => {
    const c = await open();
    for (let i = 0; i < 200; i++) {
      const r = await c.run(sh`echo ${i}`);
      expect(r.stdout).toBe(`${i}\n`);
    }
    expect(c.stats()).toMatchObject({ channelsOpened: 1, commands: 200, roundTrips: 200 });
    await c.close();
  });

  it('a command waits briefly for a busy shell; behind a long one it gets a shell of its own', async () => {
    const c = await open({ maxChannels: 4 });
    await c.run(sh`true`);
    // the shell frees within milliseconds: no second shell
    const quick = await Promise.all([c.run(sh`true`), c.run(sh`echo x`)]);
    expect(quick[1]?.stdout).toBe('x\n');
    // nor when it is busy for the rest of a slow round trip (below SHELL_WAIT_MS)
    const slow = await Promise.all([c.run(sh`sleep 0.2`), c.run(sh`echo z`)]);
    expect(slow[1]?.stdout).toBe('z\n');
    expect(c.stats().channelsOpened).toBe(1);
    // the shell stays busy: after the wait, another shell runs the command meanwhile
    const t0 = Date.now();
    const long = c.run(sh`sleep 3`);
    await new Promise((r) => setTimeout(r, 100));
    expect((await c.run(sh`echo y`)).stdout).toBe('y\n');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(100 + SHELL_WAIT_MS);
    expect(Date.now() - t0).toBeLessThan(2500);
    expect(c.stats().channelsOpened).toBe(2);
    expect((await long).exitCode).toBe(0);
    await c.close();
  });

  it('30 concurrent runs respect maxChannels', async () => {
    const c = await open({ maxChannels: 4 });
    const log = join(work, 'concurrency.log');
    writeFileSync(log, '');
    const rs = await Promise.all(
      Array.from({ length: 30 }, (_, i) => c.run(sh`echo s >> ${log}; sleep 0.15; echo e >> ${log}; echo ${i}`)),
    );
    rs.forEach((r, i) => expect(r.stdout).toBe(`${i}\n`));
    let running = 0;
    let peak = 0;
    for (const line of readFileSync(log, 'utf8').split('\n')) {
      if (line === 's') peak = Math.max(peak, ++running);
      if (line === 'e') running--;
    }
    expect(peak).toBeLessThanOrEqual(4);
    expect(peak).toBeGreaterThan(1);
    expect(c.stats().channelsOpened).toBeLessThanOrEqual(4);
    expect(c.stats().commands).toBe(30);
    await c.close();
  });
});

describe('host keys', () => {
  const fp = () => fingerprint(sshd.hostKeyBlob);

  it('refuses an unknown key, naming its type, fingerprint and the file', async () => {
    const kh = join(work, 'empty_known_hosts');
    writeFileSync(kh, '');
    const err = await Connection.open(base({ knownHostsFiles: [kh] })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HostKeyError);
    const msg = (err as Error).message;
    expect(msg).toContain('ssh-ed25519');
    expect(msg).toContain(fp());
    expect(msg).toContain(kh);
    expect(msg).toMatch(/not known/);
    expect(readFileSync(kh, 'utf8')).toBe('');
  });

  it('refuses a changed key, with both fingerprints, even with acceptNewHostKeys', async () => {
    const other = join(work, 'otherkey');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const otherB64 = readFileSync(`${other}.pub`, 'utf8').split(' ')[1] ?? '';
    const kh = join(work, 'changed_known_hosts');
    writeFileSync(kh, `[127.0.0.1]:${sshd.port} ssh-ed25519 ${otherB64}\n`);
    for (const accept of [false, true]) {
      const err = await Connection.open(base({ knownHostsFiles: [kh], acceptNewHostKeys: accept })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HostKeyError);
      const msg = (err as Error).message;
      expect(msg).toContain('CHANGED');
      expect(msg).toContain(fp());
      expect(msg).toContain(fingerprint(Buffer.from(otherB64, 'base64')));
      expect(msg).toContain(`${kh}:1`);
    }
    expect(readFileSync(kh, 'utf8').trim().split('\n')).toHaveLength(1);
  });

  it('refuses a revoked key', async () => {
    const kh = join(work, 'revoked_known_hosts');
    writeFileSync(kh, readFileSync(sshd.knownHostsFile, 'utf8') + `@revoked * ${sshd.hostKeyPub}\n`);
    const err = await Connection.open(base({ knownHostsFiles: [kh] })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HostKeyError);
    expect((err as Error).message).toMatch(/REVOKED/);
  });

  it('acceptNewHostKeys records the key; a second connection then passes strictly', async () => {
    const kh = join(work, 'new', 'known_hosts');
    const c1 = await open({ knownHostsFiles: [kh], acceptNewHostKeys: true });
    expect((await c1.run(sh`echo one`)).stdout).toBe('one\n');
    const text = readFileSync(kh, 'utf8');
    expect(text).toBe(`[127.0.0.1]:${sshd.port} ${sshd.hostKeyType} ${sshd.hostKeyBlob.toString('base64')}\n`);
    const c2 = await open({ knownHostsFiles: [kh], acceptNewHostKeys: false });
    expect((await c2.run(sh`echo two`)).stdout).toBe('two\n');
    expect(readFileSync(kh, 'utf8')).toBe(text);
  });

  it('accepts an entry hashed by ssh-keygen -H', async () => {
    const kh = join(work, 'hashed_known_hosts');
    copyFileSync(sshd.knownHostsFile, kh);
    execFileSync('ssh-keygen', ['-H', '-f', kh], { stdio: 'ignore' });
    const text = readFileSync(kh, 'utf8');
    expect(text).toMatch(/^\|1\|/);
    expect(text).not.toContain('127.0.0.1');
    const c = await open({ knownHostsFiles: [kh] });
    expect((await c.run(sh`echo hashed`)).stdout).toBe('hashed\n');
  });
});

describe('connect failures', () => {
  it('a closed port is unreachable', async () => {
    const err = await Connection.open(base({ port: 1 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnreachableError);
    expect(err).not.toBeInstanceOf(HostKeyError);
    expect((err as Error).message).toMatch(/^lab-test: cannot connect to root@\[127\.0\.0\.1\]:1/);
  });

  it('a key the server does not accept is an authentication failure', async () => {
    const k = join(work, 'unauthorized');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', k]);
    const err = await Connection.open(base({ privateKeyFile: k })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnreachableError);
    expect((err as Error).message).toMatch(/authentication failed for root@\[127\.0\.0\.1\]:\d+ \(tried: .*unauthorized\)/);
  });

  it('a server that never answers times out at connectTimeoutMs', async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const port = (silent.address() as AddressInfo).port;
    try {
      const t0 = Date.now();
      const err = await Connection.open(base({ port, connectTimeoutMs: 600 })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnreachableError);
      expect((err as Error).message).toMatch(/timed out after 600 ms/);
      expect(Date.now() - t0).toBeLessThan(4000);
    } finally {
      silent.close();
    }
  });

  it('keepalives notice a server that stopped answering', async () => {
    const c = await open({ keepaliveIntervalMs: 200 });
    const ppid = Number((await c.run(raw('cut -d" " -f4 /proc/$$/stat'))).stdout.trim());
    expect(ppid).toBeGreaterThan(1);
    process.kill(ppid, 'SIGSTOP');
    try {
      const t0 = Date.now();
      const err = await c.run(sh`echo hello`).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnreachableError);
      expect((err as Error).message).toMatch(/connection lost: Keepalive timeout/);
      expect(Date.now() - t0).toBeLessThan(5000);
    } finally {
      process.kill(ppid, 'SIGKILL');
    }
  });

  it('a lost connection fails the command in flight, then one reconnection is attempted', async () => {
    const c = await open();
    // The persistent sh's parent is this connection's sshd session process.
    const ppid = (await c.run(raw('cut -d" " -f4 /proc/$$/stat'))).stdout.trim();
    expect(ppid).toMatch(/^\d+$/);
    const inFlight = c.run(sh`sleep 20`).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 200));
    process.kill(Number(ppid), 'SIGKILL');
    const err = await inFlight;
    expect(err).toBeInstanceOf(UnreachableError);
    expect((err as Error).message).toMatch(/connection lost/);
    // The next call reconnects once.
    expect((await c.run(sh`echo again`)).stdout).toBe('again\n');
    expect(c.stats().reconnects).toBe(1);
    const ppid2 = (await c.run(raw('cut -d" " -f4 /proc/$$/stat'))).stdout.trim();
    process.kill(Number(ppid2), 'SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    // Lost again: no second reconnection.
    await expect(c.run(sh`echo never`)).rejects.toBeInstanceOf(UnreachableError);
    await expect(c.run(sh`echo never`)).rejects.toThrow(/connection lost/);
    expect(c.stats().reconnects).toBe(1);
  });
});

describe('files', () => {
  let c: Connection;
  beforeAll(async () => {
    c = await open();
  });

  it('upload writes atomically with the mode asked, leaving no temporary file', async () => {
    const dir = mkdtempSync(join(work, 'up-'));
    const f = join(dir, 'conf');
    await c.upload(f, 'first\n', { mode: 0o640 });
    expect(readFileSync(f, 'utf8')).toBe('first\n');
    expect((await c.run(sh`stat -c %a ${f}`)).stdout).toBe('640\n');
    // Replacing keeps the mode when none is given.
    await c.upload(f, Buffer.from('second'));
    expect(readFileSync(f, 'utf8')).toBe('second');
    expect((await c.run(sh`stat -c %a ${f}`)).stdout).toBe('640\n');
    await c.upload(join(dir, 'new'), 'x');
    expect((await c.run(sh`stat -c %a ${join(dir, 'new')}`)).stdout).toBe('644\n');
    await c.upload(f, 'third', { mode: 0o600, owner: 'nobody', group: 'nogroup' });
    expect((await c.run(sh`stat -c '%a %U %G' ${f}`)).stdout).toBe('600 nobody nogroup\n');
    expect(readdirSync(dir).sort()).toEqual(['conf', 'new']);
    // Replacing a file of another owner without an owner given keeps its owner and mode.
    await c.upload(f, 'fourth');
    expect((await c.run(sh`stat -c '%a %U %G' ${f}`)).stdout).toBe('600 nobody nogroup\n');
    // Set-id bits survive the owner change (the mode is set after it).
    await c.upload(join(dir, 'suid'), 'x', { mode: 0o4750, owner: 'nobody' });
    expect((await c.run(sh`stat -c '%a %U' ${join(dir, 'suid')}`)).stdout).toBe('4750 nobody\n');
    // Content of many write requests (random, odd size) arrives whole and in order.
    const big = randomBytes(5 * 32 * 1024 + 777);
    await c.upload(join(dir, 'big'), big);
    expect(createHash('sha256').update(readFileSync(join(dir, 'big'))).digest('hex')).toBe(createHash('sha256').update(big).digest('hex'));
    await c.upload(join(dir, 'empty'), '');
    expect(readFileSync(join(dir, 'empty'), 'utf8')).toBe('');
    // A directory that does not exist: an error naming the path, nothing written.
    await expect(c.upload(join(dir, 'missing', 'x'), 'x')).rejects.toThrow(/cannot upload .*missing\/x/);
    expect(readdirSync(dir).sort()).toEqual(['big', 'conf', 'empty', 'new', 'suid']);
  });

  it('a reader never sees a partial file while it is replaced', async () => {
    const dir = mkdtempSync(join(work, 'atomic-'));
    const f = join(dir, 'big');
    const stop = join(dir, 'stop');
    const a = Buffer.alloc(1024 * 1024, 'a');
    const b = Buffer.alloc(1024 * 1024, 'b');
    await c.upload(f, a);
    const sums = new Set([a, b].map((x) => createHash('sha256').update(x).digest('hex')));
    // Reads the file over and over (on another shell) until told to stop.
    const started = join(dir, 'started');
    const reader = c.run(sh`: > ${started}; i=0; while [ ! -e ${stop} ] && [ $i -lt 3000 ]; do sha256sum < ${f}; i=$((i+1)); done`);
    for (let i = 0; i < 500 && !existsSync(started); i++) await new Promise((r) => setTimeout(r, 10));
    expect(existsSync(started)).toBe(true);
    for (let i = 0; i < 6; i++) await c.upload(f, i % 2 === 0 ? b : a);
    writeFileSync(stop, '');
    const reads = (await reader).stdout.trim().split('\n').map((l) => l.split(' ')[0] ?? '');
    expect(reads.length).toBeGreaterThan(6);
    for (const s of reads) expect(sums.has(s)).toBe(true);
    expect(new Set(reads).size).toBe(2);
    expect(readdirSync(dir).sort()).toEqual(['big', 'started', 'stop']);
  });

  it('uploaded content and command stdin never appear in any argv', async () => {
    const secret = `S3CRET-${randomBytes(12).toString('hex')}`;
    const dir = mkdtempSync(join(work, 'secret-'));
    const content = Buffer.concat([Buffer.alloc(8 * 1024 * 1024, 'p'), Buffer.from(secret)]);
    const up = await scanArgvWhile(secret, c.upload(join(dir, 'secret'), content, { mode: 0o600 }));
    expect(up.scans).toBeGreaterThan(0);
    expect(up.hits).toBe(0);
    const viaStdin = await scanArgvWhile(secret, c.run(sh`cat > ${join(dir, 'stdin')}; sleep 0.5`, { stdin: secret }));
    expect(viaStdin.scans).toBeGreaterThan(0);
    expect(viaStdin.hits).toBe(0);
    expect(readFileSync(join(dir, 'stdin'), 'utf8')).toBe(secret);
    // The scan does see argv: the same string passed as an argument is found.
    const control = await scanArgvWhile(secret, c.run(sh`sh -c 'sleep 1; :' ${secret}`));
    expect(control.hits).toBeGreaterThan(0);
  });

  it('readFile returns exact bytes, null when absent, and honours maxBytes', async () => {
    const f = join(work, 'readme.bin');
    const data = Buffer.concat([randomBytes(70000), Buffer.from('\n')]);
    writeFileSync(f, data);
    expect(await c.readFile(f)).toEqual(data);
    expect(await c.readFile(join(work, 'absent'))).toBeNull();
    expect(await c.readFile(join(work, 'absent', 'deeper'))).toBeNull();
    await expect(c.readFile(f, { maxBytes: 1000 })).rejects.toBeInstanceOf(CommandError);
    expect(await c.readFile(f, { maxBytes: data.length })).toEqual(data);
    // become as root needs no sudo: same result.
    expect(await c.readFile(f, { become: true })).toEqual(data);
    expect(await c.readFile(join(work, 'absent'), { become: true })).toBeNull();
  });

  it('upload into a missing directory fails with CommandError', async () => {
    await expect(c.upload(join(work, 'no', 'such', 'dir', 'f'), 'x')).rejects.toBeInstanceOf(CommandError);
  });
});

describe('become', () => {
  it('as the login user root, become runs without sudo', async () => {
    const c = await open();
    expect((await c.run(sh`id -u`, { become: true })).stdout).toBe('0\n');
  });

  const sudo = ['/usr/bin/sudo', '/bin/sudo'].find((p) => existsSync(p));
  it.skipIf(!sudo)('through sudo to another user', async () => {
    const c = await open({ becomeUser: 'nobody' });
    const r = await c.run(sh`id -un`, { become: true });
    expect(r.stdout).toBe('nobody\n');
    const dir = mkdtempSync(join(tmpdir(), 'underlay-sudo-'));
    try {
      chmodSync(dir, 0o777);
      const f = join(dir, 'f');
      await c.upload(f, 'by nobody', { become: true, mode: 0o600 });
      expect((await c.run(sh`stat -c '%U %a' ${f}`)).stdout).toBe('nobody 600\n');
      expect((await c.readFile(f, { become: true }))?.toString()).toBe('by nobody');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  if (!sudo) {
    it('sudo is not installed here: the sudo path is not exercised', () => {
      console.warn('sudo is not installed: skipping the become-through-sudo test');
    });
  }
});

describe('ProxyJump', () => {
  let jump: Sshd;
  let target: Sshd;
  beforeAll(async () => {
    // DEBUG1 makes the jump host log each forwarding request it serves.
    jump = await startSshd({ logLevel: 'DEBUG1' });
    target = await startSshd({ authorize: [jump.clientKey] });
  });
  afterAll(async () => {
    await target?.stop();
    await jump?.stop();
  });

  it('reaches a second sshd through the first, both keys verified', async () => {
    const kh = join(work, 'jump_known_hosts');
    writeFileSync(kh, readFileSync(jump.knownHostsFile, 'utf8') + readFileSync(target.knownHostsFile, 'utf8'));
    const cfg = join(work, 'ssh_config');
    writeFileSync(
      cfg,
      [
        'Host behind',
        '  HostName 127.0.0.1',
        `  Port ${target.port}`,
        '  User root',
        `  ProxyJump root@127.0.0.1:${jump.port}`,
        'Host *',
        `  IdentityFile ${jump.clientKey}`,
        `  UserKnownHostsFile ${kh}`,
        '',
      ].join('\n'),
    );
    const c = await Connection.open({ host: 'behind', sshConfigFile: cfg, connectTimeoutMs: 5000 });
    opened.push(c);
    expect(c.describe().jumps).toEqual([`root@[127.0.0.1]:${jump.port}`]);
    const r = await c.run(raw('echo "$SSH_CONNECTION"'));
    expect(r.stdout.split(' ')[2]).toBe('127.0.0.1');
    expect(r.stdout.split(' ')[3]?.trim()).toBe(String(target.port));
    // The jump host's sshd logged the forwarding request.
    await new Promise((res) => setTimeout(res, 100));
    expect(readFileSync(jump.logFile, 'utf8')).toContain(`server_request_direct_tcpip: originator 127.0.0.1 port 0, target 127.0.0.1 port ${target.port}`);

    // The jump host's key is checked too.
    writeFileSync(kh, readFileSync(target.knownHostsFile, 'utf8'));
    const err = await Connection.open({ host: 'behind', sshConfigFile: cfg, connectTimeoutMs: 5000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HostKeyError);
    expect((err as Error).message).toMatch(/jump host 127\.0\.0\.1/);
  });
});
