import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, chmodSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalChannel } from '../engine/channel.js';
import { CommandError } from '../errors.js';
import type { ExecResult } from '../modules/types.js';
import { backupStampCommand, fileContentCommand, parseBackupStamp, parseFileContent } from './content.js';
import { STAT_FIXTURE_SETUP, STAT_FIXTURE_UNREADABLE, STAT_FIXTURES, type StatFixtureName } from './stat.fixtures.js';
import { followed, modeText, parseRealpath, parseStat, parseTreeDrift, realpathCommand, statCommand, treeDriftCommand, type Stat } from './stat.js';

const isRoot = process.getuid?.() === 0;
const hasRunuser = spawnSync('sh', ['-c', 'command -v runuser']).status === 0;
const ch = new LocalChannel();
const dir = mkdtempSync(join(tmpdir(), 'ul-stat-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function out(stdout: string, exitCode = 0, stderr = ''): ExecResult {
  return { command: 'stat', exitCode, stdout, stderr, durationMs: 1 };
}

/** Directory sizes depend on the file system: compare everything else. */
function normal(s: Stat | null): unknown {
  if (!s) return s;
  const fix = (i: { type: string; size: number }) => (i.type === 'directory' ? { ...i, size: 0 } : i);
  return { ...fix(s), ...(s.target ? { target: fix(s.target) } : {}) };
}

describe('statCommand + parseStat', () => {
  describe.runIf(isRoot)('the recorded fixtures are what the command prints on the same files', () => {
    const fx = join(dir, 'fixtures');
    beforeAll(() => {
      mkdirSync(fx);
      const r = spawnSync('/bin/sh', ['-c', STAT_FIXTURE_SETUP], { cwd: fx, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
    });
    for (const name of Object.keys(STAT_FIXTURES) as StatFixtureName[]) {
      it(JSON.stringify(name), async () => {
        const r = await ch.run(statCommand(join(fx, name), { checksum: true }));
        expect(r.exitCode).toBe(0);
        expect(r.stderr).toBe('');
        expect(normal(parseStat(r))).toEqual(normal(parseStat(out(STAT_FIXTURES[name]))));
        if (!['sub dir', 'plain', 'dirlink'].includes(name)) expect(r.stdout).toBe(STAT_FIXTURES[name]);
      });
    }
    it.runIf(hasRunuser)('an unreadable file, as an unprivileged user', () => {
      const cmd = statCommand(join(fx, 'secret'), { checksum: true });
      // the directory must be searchable by nobody
      chmodSync(dir, 0o755);
      const r = spawnSync('runuser', ['-u', 'nobody', '--', '/bin/sh', '-c', cmd.text], { encoding: 'utf8' });
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(STAT_FIXTURE_UNREADABLE);
      expect(r.stderr).toMatch(/Permission denied/);
    });
  });

  it('parses a regular file', () => {
    expect(parseStat(out(STAT_FIXTURES['a file']))).toEqual({
      type: 'file',
      mode: 0o644,
      owner: 'root',
      group: 'root',
      uid: 0,
      gid: 0,
      size: 6,
      mtime: 1700000000,
      nlink: 1,
      sha256: '5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03',
    });
  });

  it('parses an empty file with another owner, and set-id bits of a directory', () => {
    expect(parseStat(out(STAT_FIXTURES.empty))).toMatchObject({ type: 'file', mode: 0o600, owner: 'nobody', group: 'nogroup', uid: 65534, gid: 65534, size: 0 });
    expect(parseStat(out(STAT_FIXTURES['sub dir']))).toMatchObject({ type: 'directory', mode: 0o2750 });
    expect(parseStat(out(STAT_FIXTURES['sub dir']))!.sha256).toBeUndefined();
  });

  it('parses a symlink: itself, its target and what it points to', () => {
    const s = parseStat(out(STAT_FIXTURES.link))!;
    expect(s).toMatchObject({ type: 'link', mode: 0o777, linkTarget: 'a file', sha256: '5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03' });
    expect(s.target).toMatchObject({ type: 'file', mode: 0o644, size: 6 });
    expect(followed(s)).toBe(s.target);
    expect(parseStat(out(STAT_FIXTURES.dirlink))).toMatchObject({ linkTarget: 'plain', target: { type: 'directory' } });
  });

  it('parses a dangling symlink whose target holds a newline', () => {
    const s = parseStat(out(STAT_FIXTURES.dangling))!;
    expect(s).toMatchObject({ type: 'link', target: null, linkTarget: 'missing\ntarget' });
    expect(followed(s)).toBeNull();
  });

  it('parses other kinds and absence', () => {
    expect(parseStat(out(STAT_FIXTURES.fifo))).toMatchObject({ type: 'fifo', mode: 0o644 });
    expect(parseStat(out(STAT_FIXTURES.nothing))).toBeNull();
    expect(followed(null)).toBeNull();
  });

  it('marks a checksum that could not be read', () => {
    expect(parseStat(out(STAT_FIXTURE_UNREADABLE))).toMatchObject({ type: 'file', mode: 0o600, checksumError: true });
  });

  it('throws CommandError on failure or unexpected output', () => {
    expect(() => parseStat(out('', 1, 'stat: cannot statx: Permission denied\n'))).toThrow(CommandError);
    expect(() => parseStat(out('', 1, 'stat: cannot statx: Permission denied\n'))).toThrow(/Permission denied/);
    expect(() => parseStat(out('hello\n'))).toThrow(CommandError);
    expect(() => parseStat(out('L:regular file|644|root\n'))).toThrow(/cannot parse/);
  });

  it('works on hostile names: spaces, quotes, newlines, a leading dash, $(...)', async () => {
    const names = ["it's a \"file\"", 'two\nlines', '-rf', '$(touch pwned)', ' lead'];
    for (const name of names) {
      const p = join(dir, name);
      writeFileSync(p, name);
      const r = await ch.run(statCommand(p, { checksum: true }));
      expect(r.exitCode, r.stderr).toBe(0);
      const s = parseStat(r)!;
      expect(s.type).toBe('file');
      expect(s.size).toBe(Buffer.byteLength(name));
      // a link to it, named hostilely too, pointing at the hostile name
      const l = join(dir, `link ${name}`);
      symlinkSync(name, l);
      expect(parseStat(await ch.run(statCommand(l)))).toMatchObject({ type: 'link', linkTarget: name, target: { type: 'file' } });
    }
    expect(parseStat(await ch.run(statCommand(join(dir, 'pwned'))))).toBeNull();
  });

  it('modeText prints Ansible\'s form', () => {
    expect(modeText(0o644)).toBe('0644');
    expect(modeText(0o2750)).toBe('02750');
    expect(modeText(0o7)).toBe('0007');
  });
});

describe('treeDriftCommand + parseTreeDrift', () => {
  const t = join(dir, 'tree x');
  beforeAll(() => {
    mkdirSync(join(t, 'a', 'b'), { recursive: true });
    writeFileSync(join(t, 'a', 'f'), '1');
    writeFileSync(join(t, 'a', 'b', 'g'), '2');
    symlinkSync('/etc/passwd', join(t, 'a', 'ln'));
    for (const p of [t, join(t, 'a'), join(t, 'a', 'b'), join(t, 'a', 'f'), join(t, 'a', 'b', 'g')]) chmodSync(p, 0o750);
    symlinkSync(t, join(dir, 'tree link'));
  });
  const drift = async (path: string, want: Parameters<typeof treeDriftCommand>[1]) => parseTreeDrift(await ch.run(treeDriftCommand(path, want)));

  it('finds nothing when everything has the mode (symlinks inside do not count)', async () => {
    expect(await drift(t, { mode: 0o750 })).toEqual({ mode: false, owner: false, group: false });
  });
  it('finds a file deep below with another mode', async () => {
    chmodSync(join(t, 'a', 'b', 'g'), 0o640);
    expect(await drift(t, { mode: 0o750 })).toEqual({ mode: true, owner: false, group: false });
    chmodSync(join(t, 'a', 'b', 'g'), 0o750);
  });
  it.runIf(isRoot)('compares owner and group by name and by id', async () => {
    expect(await drift(t, { owner: 'root', group: 'root' })).toEqual({ mode: false, owner: false, group: false });
    expect(await drift(t, { owner: '0', group: '0' })).toEqual({ mode: false, owner: false, group: false });
    expect(await drift(t, { owner: 'nobody', group: 'root' })).toEqual({ mode: false, owner: true, group: false });
    expect(await drift(t, { group: 'nogroup' })).toEqual({ mode: false, owner: false, group: true });
  });
  it('follows a symlink to the directory at the top', async () => {
    expect(await drift(join(dir, 'tree link'), { mode: 0o750 })).toEqual({ mode: false, owner: false, group: false });
    expect(await drift(join(dir, 'tree link'), { mode: 0o755 })).toEqual({ mode: true, owner: false, group: false });
  });
  it('says null when not a directory, and throws for an unknown user', async () => {
    expect(await drift(join(t, 'a', 'f'), { mode: 0o750 })).toBeNull();
    expect(await drift(join(dir, 'nothing here'), { mode: 0o750 })).toBeNull();
    await expect(drift(t, { owner: 'no-such-user-ul' })).rejects.toThrow(/no-such-user-ul/);
  });
});

describe('fileContentCommand + parseFileContent', () => {
  it('reads every byte value exactly, through a symlink too', async () => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const p = join(dir, 'bin file');
    writeFileSync(p, Buffer.concat([bytes, bytes]));
    const r = parseFileContent(await ch.run(fileContentCommand(p)));
    expect(r).toEqual({ kind: 'file', content: Buffer.concat([bytes, bytes]) });
    symlinkSync('bin file', join(dir, 'bin link'));
    expect(parseFileContent(await ch.run(fileContentCommand(join(dir, 'bin link'))))).toEqual(r);
  });
  it('reads an empty file, tells a directory and absence apart', async () => {
    writeFileSync(join(dir, 'empty'), '');
    expect(parseFileContent(await ch.run(fileContentCommand(join(dir, 'empty'))))).toEqual({ kind: 'file', content: Buffer.alloc(0) });
    expect(parseFileContent(await ch.run(fileContentCommand(dir)))).toEqual({ kind: 'notfile' });
    expect(parseFileContent(await ch.run(fileContentCommand(join(dir, 'none'))))).toEqual({ kind: 'absent' });
  });
  it.runIf(isRoot && hasRunuser)('throws when the file cannot be read', () => {
    const p = join(dir, 'private');
    writeFileSync(p, 'x', { mode: 0o600 });
    chmodSync(dir, 0o755);
    const cmd = fileContentCommand(p);
    const r = spawnSync('runuser', ['-u', 'nobody', '--', '/bin/sh', '-c', cmd.text], { encoding: 'utf8' });
    expect(() => parseFileContent({ command: cmd.text, exitCode: r.status ?? -1, stdout: r.stdout, stderr: r.stderr })).toThrow(/Permission denied/);
  });
});

describe('backupStampCommand, realpathCommand', () => {
  it('reads the host clock in the backup form', async () => {
    const s = parseBackupStamp(await ch.run(backupStampCommand()));
    expect(s).toMatch(/^\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d$/);
    expect(() => parseBackupStamp(out('Tue Nov 25\n'))).toThrow(CommandError);
  });
  it('resolves symlinks, and a missing last component', async () => {
    mkdirSync(join(dir, 'real dir'));
    symlinkSync('real dir', join(dir, 'rl'));
    const real = (await ch.run(realpathCommand(dir))).stdout.trim();
    expect(parseRealpath(await ch.run(realpathCommand(join(dir, 'rl', 'x'))))).toBe(join(real, 'real dir', 'x'));
    expect(parseRealpath(await ch.run(realpathCommand(join(dir, 'no', 'such', 'x'))))).toBeNull();
  });
});
