import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tarGz } from './tar.js';

const hasTar = spawnSync('tar', ['--version'], { stdio: 'ignore' }).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'underlay-tar-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const longDir = `${'d'.repeat(60)}/${'e'.repeat(60)}/`;
const entries = [
  { path: 'kubernetes/', mode: 0o755 },
  { path: 'kubernetes/bin/', mode: 0o755 },
  { path: 'kubernetes/bin/tool', mode: 0o755, content: '#!/bin/sh\necho hi\n' },
  { path: 'kubernetes/README', mode: 0o644, content: Buffer.alloc(1000, 0x61) },
  { path: 'kubernetes/empty', mode: 0o600, content: '' },
  { path: `kubernetes/${longDir}`, mode: 0o755 },
  { path: `kubernetes/${longDir}file.txt`, mode: 0o644, content: 'deep\n' },
];

describe('tarGz', () => {
  it('gives the same bytes every time', () => {
    expect(tarGz(entries).equals(tarGz(entries))).toBe(true);
  });

  it.skipIf(!hasTar)('is read by GNU tar: names, modes, owners, mtime and contents', () => {
    const file = join(dir, 'a.tar.gz');
    writeFileSync(file, tarGz(entries));
    const list = spawnSync('tar', ['-tvzf', file, '--numeric-owner', '--full-time'], { encoding: 'utf8' });
    expect(list.stderr).toBe('');
    expect(list.status).toBe(0);
    const rows = list.stdout.trim().split('\n').map((l) => l.split(/\s+/));
    expect(rows.map((r) => r.at(-1))).toEqual(entries.map((e) => e.path));
    expect(rows.map((r) => r[0])).toEqual(['drwxr-xr-x', 'drwxr-xr-x', '-rwxr-xr-x', '-rw-r--r--', '-rw-------', 'drwxr-xr-x', '-rw-r--r--']);
    for (const r of rows) {
      expect(r[1]).toBe('0/0');
      expect(r[3]).toBe('1970-01-01');
    }
    const out = join(dir, 'x');
    mkdirSync(out);
    const x = spawnSync('tar', ['-xzf', file, '-C', out], { encoding: 'utf8' });
    expect(x.status).toBe(0);
    expect(readFileSync(join(out, 'kubernetes/bin/tool'), 'utf8')).toBe('#!/bin/sh\necho hi\n');
    expect(statSync(join(out, 'kubernetes/bin/tool')).mode & 0o777).toBe(0o755);
    expect(readFileSync(join(out, 'kubernetes/README')).equals(Buffer.alloc(1000, 0x61))).toBe(true);
    expect(readFileSync(join(out, `kubernetes/${longDir}file.txt`), 'utf8')).toBe('deep\n');
  });

  it('refuses a name that fits no ustar field', () => {
    expect(() => tarGz([{ path: `${'x'.repeat(101)}`, mode: 0o644, content: '' }])).toThrow(/path too long/);
  });
});
