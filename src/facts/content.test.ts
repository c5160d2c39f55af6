import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { effectiveUidCommand, parseEffectiveUid } from './content.js';

const dir = mkdtempSync(join(tmpdir(), 'underlay-content-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const isRoot = process.getuid?.() === 0;

/** Runs the command in dash with a PATH whose `id` records that it ran. */
function runUid(text: string, opts: { uid?: number } = {}): { out: ReturnType<typeof spawnSync>; idRan: boolean } {
  const bin = join(dir, 'bin');
  const log = join(dir, `id-ran-${Math.random().toString(36).slice(2)}`);
  spawnSync('mkdir', ['-p', bin]);
  writeFileSync(join(bin, 'id'), `#!/bin/sh\n: > ${log}\nexec /usr/bin/id "$@"\n`, { mode: 0o755 });
  chmodSync(dir, 0o755);
  const out = spawnSync('/bin/sh', ['-c', text], { encoding: 'utf8', env: { PATH: `${bin}:/usr/bin:/bin` }, ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.uid } : {}) });
  const idRan = spawnSync('test', ['-e', log]).status === 0;
  return { out, idRan };
}

describe('effectiveUidCommand', () => {
  it('prints the effective uid from /proc/self/status, without a process', () => {
    const { out, idRan } = runUid(effectiveUidCommand().text);
    expect(out.status).toBe(0);
    expect(parseEffectiveUid({ command: 'uid', exitCode: 0, stdout: String(out.stdout), stderr: '' })).toBe(process.getuid!());
    expect(idRan).toBe(false);
  });

  it.runIf(isRoot)('is the uid the shell runs as (another user)', () => {
    const { out } = runUid(effectiveUidCommand().text, { uid: 65534 });
    expect(out.stdout).toBe('65534\n');
  });

  it('runs `id -u` where /proc/self/status cannot be read', () => {
    const text = effectiveUidCommand().text.replace('/proc/self/status', join(dir, 'no-such-file'));
    const { out, idRan } = runUid(text);
    expect(out.stdout).toBe(`${process.getuid!()}\n`);
    expect(out.stderr).toBe('');
    expect(idRan).toBe(true);
  });
});
