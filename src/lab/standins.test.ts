/**
 * The stand-ins the lab ships, run for real: the Kubernetes release tarball (extracted
 * with tar), its kube-apiserver on loopback, a long-running kubelet, kubectl, and the
 * network plugin stand-in.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { kubeReleaseTarball } from './index.js';

const hasTar = spawnSync('tar', ['--version'], { stdio: 'ignore' }).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'underlay-standin-'));
const recordDir = join(dir, 'records');
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null && c.pid) process.kill(c.pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const template = readFileSync(fileURLToPath(new URL('./standins/kube.cjs', import.meta.url)), 'utf8');
const plugin = fileURLToPath(new URL('./standins/ovn-k8-underlay.sh', import.meta.url));
const BINARIES = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubelet', 'kube-proxy', 'kubectl'];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

function httpGet(url: string): Promise<{ status: number; body: string } | undefined> {
  return new Promise((resolve) => {
    const req = get(url, { timeout: 1000 }, (res) => {
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

async function until<T>(f: () => Promise<T | undefined> | T | undefined, ms = 10_000): Promise<T | undefined> {
  const end = Date.now() + ms;
  for (let i = 0; i < 400 && Date.now() < end; i++) {
    const v = await f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  return undefined;
}

function exitOf(c: ChildProcess): Promise<{ code: number | null; signal: string | null }> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve({ code: c.exitCode, signal: c.signalCode });
  return new Promise((r) => c.once('exit', (code, signal) => r({ code, signal })));
}

describe.skipIf(!hasTar)('the Kubernetes release stand-in', () => {
  const bin = join(dir, 'x', 'kubernetes', 'server', 'bin');
  const env = { ...process.env, UNDERLAY_STANDIN_DIR: recordDir };

  it('is laid out like the real server tarball, same bytes each time', () => {
    const tgz = kubeReleaseTarball(process.execPath, template);
    expect(tgz.equals(kubeReleaseTarball(process.execPath, template))).toBe(true);
    writeFileSync(join(dir, 'k.tar.gz'), tgz);
    mkdirSync(join(dir, 'x'));
    const r = spawnSync('tar', ['-xzf', join(dir, 'k.tar.gz'), '-C', join(dir, 'x')], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    for (const b of BINARIES) {
      const text = readFileSync(join(bin, b), 'utf8');
      expect(text.split('\n')[0]).toBe(`#!${process.execPath}`);
      expect(text.split('\n')[1]).toBe(`// underlay lab stand-in: not the real ${b}`);
    }
  });

  it('--version says what it is', () => {
    for (const b of BINARIES) {
      const r = spawnSync(join(bin, b), ['--version'], { encoding: 'utf8', env });
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(`underlay lab stand-in: not the real ${b}\n`);
    }
  });

  it('kube-apiserver records its argv and answers /healthz on --insecure-port at --address until signalled', async () => {
    const port = await freePort();
    const args = ['--portal-net=172.16.2.0/24', '--address=127.0.0.1', `--insecure-port=${port}`, '--etcd-servers', 'http://127.0.0.1:4001', 'a b'];
    const c = spawn(join(bin, 'kube-apiserver'), args, { env, stdio: 'ignore' });
    children.push(c);
    const res = await until(() => httpGet(`http://127.0.0.1:${port}/healthz`));
    expect(res).toEqual({ status: 200, body: 'ok' });
    expect((await httpGet(`http://127.0.0.1:${port}/api`))?.status).toBe(404);
    expect(readFileSync(join(recordDir, 'kube-apiserver.args'), 'utf8')).toBe(args.map((a) => `${a}\n`).join(''));
    process.kill(c.pid!, 'SIGTERM');
    expect(await exitOf(c)).toEqual({ code: 0, signal: null });
  });

  it('kubelet stays running until signalled; kubectl returns at once', async () => {
    const c = spawn(join(bin, 'kubelet'), ['--api-servers=http://10.0.0.3:8080', '--v=2'], { env, stdio: 'ignore' });
    children.push(c);
    const rec = await until(() => (existsSync(join(recordDir, 'kubelet.args')) ? readFileSync(join(recordDir, 'kubelet.args'), 'utf8') : undefined));
    expect(rec).toBe('--api-servers=http://10.0.0.3:8080\n--v=2\n');
    await new Promise((r) => setTimeout(r, 200));
    expect(c.exitCode).toBeNull();
    process.kill(c.pid!, 'SIGTERM');
    expect(await exitOf(c)).toEqual({ code: 0, signal: null });

    const k = spawnSync(join(bin, 'kubectl'), ['get', 'nodes'], { encoding: 'utf8', env, timeout: 10_000 });
    expect(k.status).toBe(0);
    expect(k.stderr).toContain('underlay lab stand-in: not the real kubectl');
    expect(readFileSync(join(recordDir, 'kubectl.args'), 'utf8')).toBe('get\nnodes\n');
  });
});

describe('the network plugin stand-in', () => {
  const env = { ...process.env, UNDERLAY_STANDIN_DIR: recordDir };
  it('says what it is and records its arguments', () => {
    const v = spawnSync('/bin/sh', [plugin, '--version'], { encoding: 'utf8', env });
    expect(v.status).toBe(0);
    expect(v.stdout).toBe('underlay lab stand-in: not the real ovn-k8-underlay.py\n');
    const r = spawnSync('/bin/sh', [plugin, 'lswitch-setup', 'ls-worker1', '192.168.1.0/29', "it's"], { encoding: 'utf8', env });
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('stand-in');
    expect(readFileSync(join(recordDir, 'ovn-k8-underlay.args'), 'utf8')).toBe("lswitch-setup\nls-worker1\n192.168.1.0/29\nit's\n");
    expect(readFileSync(plugin, 'utf8').split('\n')[1]).toBe('# underlay lab stand-in: not the real ovn-k8-underlay.py');
  });
});
