/**
 * The lab the end-to-end tests run against, brought up once by test/e2e/global-setup.ts
 * (lab `e2e`: central, master, worker1..3) and handed to tests with vitest's
 * provide/inject. Where no lab could be made (not root, no namespaces, packages missing)
 * the lab is null and labSkipReason() says why; tests skip with that message.
 */
import { execFile, spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { inject } from 'vitest';
import type { LabHost, LabOptions, LabState } from '../../src/lab/index.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The e2e lab, or null when it could not be brought up (see labSkipReason). */
    lab: LabState | null;
    /** Why there is no lab ('' when there is one). */
    labSkipReason: string;
    /** How long the global setup's `lab up` took (ms), for relative timing checks. */
    labUpMs: number;
  }
}

/** Options of the e2e lab (shared by the global setup and tests that re-run `lab up`). */
export const E2E_LAB = { name: 'e2e', workers: 3, subnet: '10.213.101.0/24' } as const;

export function getLab(): LabState | null {
  return inject('lab');
}

export function labSkipReason(): string {
  return inject('labSkipReason');
}

/** The options that bring up (or re-check) the same lab as the global setup did. */
export function labOptionsOf(lab: LabState, extra: Partial<LabOptions> = {}): LabOptions {
  return {
    name: lab.name,
    workers: lab.hosts.filter((h) => h.role === 'worker').length,
    subnet: lab.subnet,
    stateDir: lab.stateDir,
    inventoryPath: lab.inventoryPath,
    ...extra,
  };
}

export interface SshResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command on a lab host with the real OpenSSH client, strict host key checking
 * against the lab's known_hosts, the lab key only, no user or system configuration.
 */
export function ssh(lab: Pick<LabState, 'keyFile' | 'knownHostsFile'>, host: Pick<LabHost, 'address'>, command: string, opts: { input?: string | Buffer; knownHostsFile?: string } = {}): Promise<SshResult> {
  const args = [
    '-F',
    '/dev/null',
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    `UserKnownHostsFile=${opts.knownHostsFile ?? lab.knownHostsFile}`,
    '-o',
    'GlobalKnownHostsFile=/dev/null',
    '-o',
    'BatchMode=yes',
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'ConnectTimeout=20',
    '-i',
    lab.keyFile,
    `root@${host.address}`,
    command,
  ];
  return new Promise((resolve) => {
    const child = execFile('ssh', args, { timeout: 60_000, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : null) : 0;
      resolve({ code, stdout, stderr });
    });
    child.stdin?.end(opts.input ?? '');
  });
}

/**
 * Runs argv inside a lab host (all its namespaces: its files, network and processes),
 * bypassing SSH, to inspect it. Refuses unless `pid` is still that host's PID 1 (its
 * network namespace is the lab's `netns`): a stale PID may belong to a process of the
 * machine itself, and commands must never run there.
 */
export function inHost(host: Pick<LabHost, 'name' | 'netns'>, pid: number, argv: string[], opts: { input?: string; env?: Record<string, string> } = {}): { code: number; out: string; err: string } {
  let same = false;
  try {
    same = statSync(`/proc/${pid}/ns/net`).ino === statSync(`/run/netns/${host.netns}`).ino;
  } catch {
    same = false;
  }
  if (!same) throw new Error(`lab host ${host.name}: PID ${pid} is not its PID 1 any more (rebuilt?): refusing to nsenter`);
  const envArgs = Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`);
  const r = spawnSync('nsenter', ['-t', String(pid), '-a', ...(envArgs.length > 0 ? ['env', ...envArgs] : []), ...argv], {
    encoding: 'utf8',
    ...(opts.input !== undefined ? { input: opts.input } : {}),
  });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}
