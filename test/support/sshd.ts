/**
 * A real OpenSSH server for tests: a private sshd on 127.0.0.1, a free high port, keys
 * generated in a temporary directory. Each instance records the PID of the sshd it started;
 * stop() ends that PID only and removes the directory.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SshdOptions {
  /** Private key files whose public halves are authorized too (e.g. another sshd's client key). */
  authorize?: string[];
  /** Extra sshd_config lines. */
  extraConfig?: string[];
  /** sshd LogLevel (default VERBOSE). */
  logLevel?: string;
}

export interface Sshd {
  port: number;
  /** Public host key line: `ssh-ed25519 AAAA... comment`. */
  hostKeyPub: string;
  /** Host key type and its wire-format blob. */
  hostKeyType: string;
  hostKeyBlob: Buffer;
  /** Path of an authorized client private key (no passphrase). */
  clientKey: string;
  /** A known_hosts file holding this server's key for [127.0.0.1]:port. */
  knownHostsFile: string;
  /** The temporary directory holding everything. */
  dir: string;
  /** sshd's log (-E). */
  logFile: string;
  pid: number;
  stop(): Promise<void>;
}

const SSHD = '/usr/sbin/sshd';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves once the port answers with an SSH banner; false when it did not within the bound. */
async function waitForBanner(port: number, child: ChildProcess, deadlineMs: number): Promise<boolean> {
  const until = Date.now() + deadlineMs;
  for (let attempt = 0; attempt < 200 && Date.now() < until; attempt++) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port });
      const timer = setTimeout(() => {
        s.destroy();
        resolve(false);
      }, 1000);
      s.once('data', (d: Buffer) => {
        clearTimeout(timer);
        s.destroy();
        resolve(d.toString('latin1').startsWith('SSH-'));
      });
      s.once('error', () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

function keygen(file: string, type = 'ed25519'): void {
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', 'underlay-test', '-f', file], { stdio: 'ignore' });
}

export async function startSshd(opts: SshdOptions = {}): Promise<Sshd> {
  if (!existsSync(SSHD)) throw new Error(`${SSHD} is not installed (openssh-server)`);
  // sshd refuses to start without its privilege separation directory.
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const dir = mkdtempSync(join(tmpdir(), 'underlay-sshd-'));
  try {
    const hostKey = join(dir, 'ssh_host_ed25519_key');
    const clientKey = join(dir, 'client_ed25519');
    keygen(hostKey);
    keygen(clientKey);
    const authorized = [readFileSync(`${clientKey}.pub`, 'utf8').trim()];
    for (const k of opts.authorize ?? []) authorized.push(readFileSync(`${k}.pub`, 'utf8').trim());
    writeFileSync(join(dir, 'authorized_keys'), authorized.join('\n') + '\n', { mode: 0o600 });
    const hostKeyPub = readFileSync(`${hostKey}.pub`, 'utf8').trim();
    const [hostKeyType = '', b64 = ''] = hostKeyPub.split(/\s+/);
    const logFile = join(dir, 'sshd.log');

    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort();
      const config = join(dir, 'sshd_config');
      writeFileSync(
        config,
        [
          `ListenAddress 127.0.0.1`,
          `Port ${port}`,
          `HostKey ${hostKey}`,
          `PidFile ${join(dir, 'sshd.pid')}`,
          `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
          `PermitRootLogin prohibit-password`,
          `PubkeyAuthentication yes`,
          `PasswordAuthentication no`,
          `KbdInteractiveAuthentication no`,
          `StrictModes no`,
          `UsePAM no`,
          `AllowTcpForwarding yes`,
          `Subsystem sftp /usr/lib/openssh/sftp-server`,
          `LogLevel ${opts.logLevel ?? 'VERBOSE'}`,
          ...(opts.extraConfig ?? []),
          '',
        ].join('\n'),
      );
      const child = spawn(SSHD, ['-D', '-f', config, '-E', logFile], { stdio: 'ignore' });
      const pid = child.pid;
      if (pid === undefined) throw new Error('sshd did not start');
      if (await waitForBanner(port, child, 10_000)) {
        const knownHostsFile = join(dir, 'known_hosts');
        writeFileSync(knownHostsFile, `[127.0.0.1]:${port} ${hostKeyType} ${b64}\n`);
        let stopped = false;
        return {
          port,
          hostKeyPub,
          hostKeyType,
          hostKeyBlob: Buffer.from(b64, 'base64'),
          clientKey,
          knownHostsFile,
          dir,
          logFile,
          pid,
          async stop() {
            if (stopped) return;
            stopped = true;
            await killChild(child, pid);
            rmSync(dir, { recursive: true, force: true });
          },
        };
      }
      await killChild(child, pid);
    }
    throw new Error(`sshd did not come up; log:\n${existsSync(logFile) ? readFileSync(logFile, 'utf8') : '(none)'}`);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

async function killChild(child: ChildProcess, pid: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const timedOut = await Promise.race([exited.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), 3000))]);
  if (timedOut) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
  }
}
