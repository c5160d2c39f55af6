import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, chmodSync, symlinkSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalChannel } from '../engine/channel.js';
import { scriptText } from '../transport/contained.js';
import { CommandError } from '../errors.js';
import type { ExecResult } from '../modules/types.js';
import { backupStampCommand, fileContentCommand, parseBackupStamp, parseFileContent } from './content.js';
import { STAT_FIXTURE_SETUP, STAT_FIXTURE_UNREADABLE, STAT_FIXTURES, statsOutput, type StatFixtureName } from './stat.fixtures.js';
import { followed, modeText, parseRealpath, parseStat, parseStats, parseTreeDrift, realpathCommand, statCommand, statsCommand, treeDriftCommand, type Stat, type StatsRequest } from './stat.js';

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
      const r = spawnSync('runuser', ['-u', 'nobody', '--', '/bin/sh', '-c', scriptText(cmd)], { encoding: 'utf8' });
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

describe('statsCommand + parseStats', () => {
  const m = join(dir, 'many');
  /** name -> what is there (created in beforeAll) */
  const names = {
    file: 'a file',
    empty: 'empty',
    dir: 'a dir',
    link: 'link to file',
    dangling: 'dangling',
    nlTarget: 'link to a newline',
    hostile: `it's "two"\nlines`,
    /** a dangling link whose target looks like the framing without NUL: it must stay one target */
    forged: 'forged',
    secret: 'secret',
    missing: 'nothing here',
  } as const;
  const FORGED = 'x\nABSENT\n\nL:regular file|644|root|root|0|0|1|1|1\nS:1\n';
  beforeAll(() => {
    mkdirSync(m);
    writeFileSync(join(m, names.file), 'hello\n');
    writeFileSync(join(m, names.empty), '');
    mkdirSync(join(m, names.dir));
    symlinkSync(names.file, join(m, names.link));
    symlinkSync('missing\ntarget', join(m, names.dangling));
    writeFileSync(join(m, 'new\nline'), 'nl\n');
    symlinkSync('new\nline', join(m, names.nlTarget));
    symlinkSync(names.dir, join(m, 'link to a dir'));
    writeFileSync(join(m, names.hostile), 'hostile\n');
    symlinkSync(FORGED, join(m, names.forged));
    writeFileSync(join(m, names.secret), 'x\n', { mode: 0o600 });
  });
  const all = Object.values(names);
  const everything: StatsRequest = {
    paths: all.map((n) => ({ path: join(m, n), checksum: true })),
    exists: [join(m, names.link), join(m, names.dangling), join(m, names.missing), join(m, names.dir)],
    dirs: [m, join(m, names.dir), join(m, 'link to a dir'), join(m, names.file), join(m, names.link), join(m, names.dangling), join(m, names.missing)],
    uid: true,
    stamp: true,
  };

  /** Runs a command as an unprivileged user when root (so that `secret` cannot be read), through /bin/sh. */
  function runUnprivileged(cmd: string, env: NodeJS.ProcessEnv = process.env): ExecResult {
    const r = isRoot ? spawnSync('runuser', ['-u', 'nobody', '--', '/bin/sh', '-c', cmd], { encoding: 'utf8', env }) : spawnSync('/bin/sh', ['-c', cmd], { encoding: 'utf8', env });
    return { command: cmd, exitCode: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, durationMs: 1 };
  }

  it('gives for every path what statCommand + parseStat give, in one command through the local /bin/sh', async () => {
    const r = await ch.run(statsCommand(everything));
    expect(r.exitCode, r.stderr).toBe(0);
    // the NUL-led sections survive as a JS string
    expect(r.stdout.startsWith('\0S:0\n')).toBe(true);
    const got = parseStats(everything, r);
    expect(got.stats).toHaveLength(all.length);
    for (const [i, n] of all.entries()) {
      const one = parseStat(await ch.run(statCommand(join(m, n), { checksum: true })));
      expect(got.stats[i], n).toEqual(one);
    }
    expect(got.exists).toEqual([true, false, false, true]);
    // a directory, also through a symlink; something else (a file, a link to one, a dangling link); nothing
    expect(got.dirs).toEqual([true, true, true, false, false, false, null]);
    expect(got.uid).toBe(process.getuid?.());
    expect(got.stamp).toMatch(/^\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d$/);
  });

  it('describes each kind of path as expected, whatever names and link targets hold', async () => {
    const got = parseStats(everything, await ch.run(statsCommand(everything)));
    const at = (n: string) => got.stats[all.indexOf(n as (typeof all)[number])];
    expect(at(names.file)).toMatchObject({ type: 'file', size: 6, sha256: '5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03' });
    expect(at(names.empty)).toMatchObject({ type: 'file', size: 0, sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' });
    expect(at(names.dir)).toMatchObject({ type: 'directory' });
    expect(at(names.dir)!.sha256).toBeUndefined();
    expect(at(names.link)).toMatchObject({ type: 'link', linkTarget: names.file, target: { type: 'file', size: 6 }, sha256: '5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03' });
    expect(at(names.dangling)).toMatchObject({ type: 'link', linkTarget: 'missing\ntarget', target: null });
    expect(at(names.nlTarget)).toMatchObject({ type: 'link', linkTarget: 'new\nline', target: { type: 'file', size: 3 } });
    expect(at(names.hostile)).toMatchObject({ type: 'file', size: 8 });
    expect(at(names.forged)).toMatchObject({ type: 'link', linkTarget: FORGED, target: null });
    expect(at(names.missing)).toBeNull();
    // the path after the forged target is still described on its own
    expect(at(names.secret)).toMatchObject({ type: 'file', mode: 0o600, size: 2 });
  });

  it.runIf(!isRoot || hasRunuser)('marks an unreadable file\'s checksum, as statCommand does, and goes on', () => {
    chmodSync(dir, 0o755);
    chmodSync(m, 0o755);
    const req: StatsRequest = { paths: [{ path: join(m, names.secret), checksum: true }, { path: join(m, names.file), checksum: true }], uid: true };
    const r = runUnprivileged(scriptText(statsCommand(req)));
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/Permission denied/);
    const got = parseStats(req, r);
    expect(got.stats[0]).toMatchObject({ type: 'file', mode: 0o600, checksumError: true });
    expect(got.stats[0]!.sha256).toBeUndefined();
    expect(got.stats[1]).toMatchObject({ type: 'file', sha256: '5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03' });
    expect(got.uid).not.toBe(0);
  });

  it('runs one stat for the lstat of every path there, and no program for what is absent', () => {
    // each program is a wrapper logging its name: the count of programs the command starts
    const bin = join(dir, 'bin');
    const log = join(dir, 'programs.log');
    mkdirSync(bin, { recursive: true });
    for (const prog of ['stat', 'sha256sum', 'readlink', 'id', 'date']) {
      const real = spawnSync('sh', ['-c', `command -v ${prog}`], { encoding: 'utf8' }).stdout.trim();
      writeFileSync(join(bin, prog), `#!/bin/sh\necho ${prog} >> '${log}'\nexec ${real} "$@"\n`, { mode: 0o755 });
    }
    const count = (req: StatsRequest): Record<string, number> => {
      writeFileSync(log, '');
      const cmd = scriptText(statsCommand(req));
      const r = spawnSync('/bin/sh', ['-c', cmd], { encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env['PATH']}` } });
      expect(r.status, r.stderr).toBe(0);
      parseStats(req, { command: cmd, exitCode: 0, stdout: r.stdout, stderr: r.stderr });
      const c: Record<string, number> = {};
      for (const l of readFileSync(log, 'utf8').split('\n').filter(Boolean)) c[l] = (c[l] ?? 0) + 1;
      return c;
    };
    // a copy of a file that is there: the file with checksum, DEST/basename(src) absent, whether its directory is one, the uid
    expect(count({ paths: [{ path: join(m, names.file), checksum: true }, { path: join(m, names.file, 'x'), checksum: true }], dirs: [m], uid: true })).toEqual({ stat: 1, sha256sum: 1 });
    // a copy to a file not there yet: no stat at all; with backup, the clock
    expect(count({ paths: [{ path: join(m, names.missing), checksum: true }], dirs: [m], uid: true })).toEqual({});
    expect(count({ paths: [{ path: join(m, names.missing), checksum: true }], dirs: [m], uid: true, stamp: true })).toEqual({ date: 1 });
    // a directory described in full costs its stat
    expect(count({ paths: [{ path: join(m, names.missing), checksum: true }, { path: m }], uid: true })).toEqual({ stat: 1 });
    // a symlink: its target and where it points, as statCommand
    expect(count({ paths: [{ path: join(m, names.link), checksum: true }] })).toEqual({ stat: 2, sha256sum: 1, readlink: 1 });
    // nothing there and an existence check: builtins only
    expect(count({ paths: [{ path: join(m, names.missing) }], exists: [m] })).toEqual({});
  });

  it('has no subshell, command substitution or backquote', () => {
    const text = statsCommand({ paths: [{ path: '/a', checksum: true }, { path: '/b' }], exists: ['/c'], dirs: ['/d'], uid: true, stamp: true }).text;
    expect(text.replace('__ul_d()', '')).not.toMatch(/[()`]/);
  });

  it.runIf(isRoot)('prints for the recorded fixtures exactly what statsOutput makes of them', () => {
    const fx = join(dir, 'fixtures');
    // the fixture directory is made by the statCommand tests above; directory sizes vary
    const names = (Object.keys(STAT_FIXTURES) as StatFixtureName[]).filter((n) => !['sub dir', 'plain', 'dirlink'].includes(n));
    const req: StatsRequest = { paths: names.map((n) => ({ path: join(fx, n), checksum: true })), exists: [join(fx, 'link'), join(fx, 'dangling')], dirs: [fx, join(fx, 'link'), join(fx, 'no such thing')] };
    const r = spawnSync('/bin/sh', ['-c', scriptText(statsCommand(req))], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(statsOutput({ stats: names.map((n) => STAT_FIXTURES[n]), exists: [true, false], dirs: [true, false, null] }));
  });

  it('a failing program fails the parse with a CommandError naming it', () => {
    const bin = join(dir, 'failing');
    mkdirSync(bin, { recursive: true });
    for (const prog of ['stat', 'id', 'date', 'readlink']) writeFileSync(join(bin, prog), `#!/bin/sh\necho "${prog}: cannot do it: Permission denied" >&2\nexit 1\n`, { mode: 0o755 });
    const run = (req: StatsRequest, only: string) => {
      const cmd = scriptText(statsCommand(req));
      const fake = join(dir, `only-${only}`);
      mkdirSync(fake, { recursive: true });
      spawnSync('cp', [join(bin, only), fake]);
      const r = spawnSync('/bin/sh', ['-c', cmd], { encoding: 'utf8', env: { ...process.env, PATH: `${fake}:${process.env['PATH']}` } });
      return () => parseStats(req, { command: cmd, exitCode: r.status ?? -1, stdout: r.stdout, stderr: r.stderr });
    };
    const f = join(m, names.file);
    expect(run({ paths: [{ path: f, checksum: true }], uid: true }, 'stat')).toThrow(CommandError);
    expect(run({ paths: [{ path: f, checksum: true }], uid: true }, 'stat')).toThrow(/^stat: stat: cannot do it: Permission denied$/);
    expect(run({ paths: [{ path: join(m, names.link) }, { path: f }] }, 'readlink')).toThrow(`stat: readlink: cannot do it: Permission denied (describing ${JSON.stringify(join(m, names.link))})`);
    // the uid comes from /proc/self/status: `id` is not run
    expect(run({ paths: [{ path: f }], uid: true }, 'id')()).toMatchObject({ uid: process.getuid!() });
    expect(run({ paths: [{ path: f }], uid: true, stamp: true }, 'date')).toThrow(/^date: date: cannot do it/);
  });

  it('throws CommandError on output that is not what the request makes', () => {
    const req: StatsRequest = { paths: [{ path: '/a', checksum: true }, { path: '/b' }], uid: true };
    const good = statsOutput({ stats: [STAT_FIXTURES['a file'], STAT_FIXTURES.nothing], uid: 0 });
    expect(parseStats(req, out(good))).toMatchObject({ stats: [{ type: 'file', size: 6 }, null], exists: [], uid: 0 });
    const bad = [
      ['', /section "end" where "S:0"/],
      ['junk' + good, /output before the first section/],
      [good.replace('\0U\n0\n', ''), /section "end" where "U"/],
      [good + '\0D\n2024-01-01@00:00:00\n', /section "D" not asked for/],
      [good.replace('\0S:1\nABSENT\n', '\0S:1\n'), /1 stat lines for 2 paths/],
      [good.replace('\0U\n0\n', '\0U\nroot\n'), /id -u: unexpected output "root\\n" \(the effective uid\)/],
      [good.replace('|root|root|', '|root|'), /cannot parse .* \("\/a"\)/],
      [statsOutput({ stats: [STAT_FIXTURES.nothing, STAT_FIXTURES.nothing], uid: 0 }).replace('\0U', '\0L\nL:directory|755|root|root|0|0|1|1|1\n\0U'), /section "L" where "U"/],
    ] as const;
    for (const [stdout, why] of bad) {
      expect(() => parseStats(req, out(stdout)), JSON.stringify(stdout)).toThrow(CommandError);
      expect(() => parseStats(req, out(stdout)), JSON.stringify(stdout)).toThrow(why);
    }
    expect(() => parseStats(req, out('', 1, 'sh: 1: eval: syntax error\n'))).toThrow(/^stat: sh: 1: eval: syntax error$/);
    // the directory answers
    const withDirs: StatsRequest = { paths: [], dirs: ['/d', '/e', '/f'] };
    const answers = statsOutput({ dirs: [true, false, null] });
    expect(parseStats(withDirs, out(answers))).toMatchObject({ stats: [], dirs: [true, false, null] });
    expect(() => parseStats(withDirs, out(answers.replace('\0P:1\n0\n', '\0P:1\nyes\n')))).toThrow(/bad answer for the directory "\/e"/);
    expect(() => parseStats(withDirs, out(answers.replace('\0P:2\n-\n', '')))).toThrow(/section "end" where "P:2"/);
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
    const r = spawnSync('runuser', ['-u', 'nobody', '--', '/bin/sh', '-c', scriptText(cmd)], { encoding: 'utf8' });
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
