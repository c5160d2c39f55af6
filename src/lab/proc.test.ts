/**
 * The lab's probes against real endpoints on this machine: TCP servers on loopback, a
 * real ovsdb-server on a Unix socket in a temporary directory.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { daemonAnswers, isHostPid, ovsdbAnswers, pidAlive, pidGone, poll, run, sshBanner, waitGone } from './proc.js';

const dir = mkdtempSync(join(tmpdir(), 'underlay-proc-'));
const servers: Server[] = [];
const children: ChildProcess[] = [];
afterAll(() => {
  for (const s of servers) s.close();
  for (const c of children) if (c.pid && c.exitCode === null && c.signalCode === null) process.kill(c.pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function listen(onConn: (s: import('node:net').Socket) => void): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer(onConn);
    servers.push(srv);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      resolve(typeof a === 'object' && a ? a.port : 0);
    });
  });
}

describe('poll', () => {
  it('returns the first defined value', async () => {
    let n = 0;
    expect(await poll(() => (++n === 3 ? 'x' : undefined), { attempts: 10, timeoutMs: 5000, intervalMs: 1 })).toBe('x');
    expect(n).toBe(3);
  });
  it('is bounded in count', async () => {
    let n = 0;
    expect(await poll(() => (n++, undefined), { attempts: 4, timeoutMs: 60_000, intervalMs: 1 })).toBeUndefined();
    expect(n).toBe(4);
  });
  it('is bounded in time', async () => {
    const t = Date.now();
    let n = 0;
    expect(await poll(() => (n++, undefined), { attempts: 1_000_000, timeoutMs: 150, intervalMs: 10, maxIntervalMs: 20 })).toBeUndefined();
    expect(Date.now() - t).toBeLessThan(1000);
    expect(n).toBeLessThan(30);
  });
  it('stops when the check throws', async () => {
    await expect(poll(() => Promise.reject(new Error('stop')), { attempts: 5, timeoutMs: 1000 })).rejects.toThrow('stop');
  });
});

describe('sshBanner', () => {
  it('is true for an SSH identification string', async () => {
    const port = await listen((s) => s.end('SSH-2.0-OpenSSH_9.2\r\n'));
    expect(await sshBanner('127.0.0.1', port, 2000)).toBe(true);
  });
  it('is false for another protocol, a closed port and a silent server', async () => {
    const http = await listen((s) => s.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    expect(await sshBanner('127.0.0.1', http, 2000)).toBe(false);
    const silent = await listen(() => {});
    const t = Date.now();
    expect(await sshBanner('127.0.0.1', silent, 200)).toBe(false);
    expect(Date.now() - t).toBeLessThan(2000);
    const closed = await listen(() => {});
    servers.at(-1)!.close();
    expect(await sshBanner('127.0.0.1', closed, 2000)).toBe(false);
  });
  it('with a local address this machine lacks, sends nothing and is false at once', async () => {
    const port = await listen((s) => s.end('SSH-2.0-x\r\n'));
    expect(await sshBanner('127.0.0.1', port, 2000, '127.0.0.1')).toBe(true);
    const t = Date.now();
    expect(await sshBanner('127.0.0.1', port, 5000, '10.255.255.254')).toBe(false);
    expect(Date.now() - t).toBeLessThan(1000);
  });
});

const hasOvsdb = spawnSync('ovsdb-server', ['--version'], { stdio: 'ignore' }).status === 0 && existsSync('/usr/share/openvswitch/vswitch.ovsschema');

describe.skipIf(!hasOvsdb)('ovsdbAnswers / daemonAnswers against a real ovsdb-server', () => {
  it('answer while it runs and not after it ended', async () => {
    const db = join(dir, 'conf.db');
    const sock = join(dir, 'db.sock');
    expect((await run('ovsdb-tool', ['create', db, '/usr/share/openvswitch/vswitch.ovsschema'])).exitCode).toBe(0);
    const c = spawn('ovsdb-server', [db, `--remote=punix:${sock}`, '--pidfile', '--no-chdir', `--log-file=${join(dir, 'ovsdb.log')}`], {
      env: { ...process.env, OVS_RUNDIR: dir, OVS_DBDIR: dir },
      stdio: 'ignore',
    });
    children.push(c);
    const up = await poll(async () => ((await ovsdbAnswers(sock, 500)) ? true : undefined), { attempts: 200, timeoutMs: 10_000, intervalMs: 10 });
    expect(up).toBe(true);
    expect(await daemonAnswers(dir, 'ovsdb-server', 1000)).toBe(true);
    expect(await daemonAnswers(dir, 'ovs-vswitchd', 1000)).toBe(false);
    expect(await ovsdbAnswers(join(dir, 'nothing.sock'), 500)).toBe(false);
    process.kill(c.pid!, 'SIGTERM');
    expect(await waitGone([c.pid!], 10_000)).toEqual([]);
    expect(await ovsdbAnswers(sock, 500)).toBe(false);
    expect(await daemonAnswers(dir, 'ovsdb-server', 500)).toBe(false);
  });
});

describe('process identity', () => {
  it('this process is alive but not a lab host; PID 1 and absent PIDs are neither', () => {
    expect(pidAlive(process.pid)).toBe(true);
    expect(pidGone(process.pid)).toBe(false);
    expect(isHostPid(process.pid, 'ul-nope-worker1')).toBe(false);
    expect(pidAlive(1)).toBe(false); // never treated as a lab process
    expect(pidAlive(2 ** 22 + 1)).toBe(false);
    expect(pidGone(2 ** 22 + 1)).toBe(true);
  });
});

describe('run', () => {
  it('shares one result shape for success and failure, with stdin', async () => {
    const ok = await run('sh', ['-c', 'cat; echo err >&2'], { input: 'in\n' });
    expect(ok).toMatchObject({ exitCode: 0, stdout: 'in\n', stderr: 'err\n' });
    const bad = await run('sh', ['-c', 'exit 3']);
    expect(bad.exitCode).toBe(3);
    const missing = await run('/nonexistent/program', []);
    expect(missing.exitCode).toBeNull();
    expect(missing.stderr).toMatch(/ENOENT/);
  });
});
