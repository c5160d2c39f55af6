import { chmodSync, chownSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cacheDir, cacheFileBuild, cacheFileName, runBundle, trusted } from './codecache.js';

describe('cacheDir', () => {
  it.each([
    [{ HOME: '/home/a' }, '/home/a/.cache/underlay'],
    [{ HOME: '/home/a', XDG_CACHE_HOME: '/var/cache/a' }, '/var/cache/a/underlay'],
    [{ HOME: '/home/a', XDG_CACHE_HOME: 'relative' }, '/home/a/.cache/underlay'],
    [{ HOME: 'relative' }, undefined],
    [{}, undefined],
    [{ HOME: '/home/a', UNDERLAY_NO_CODE_CACHE: '1' }, undefined],
    [{ HOME: '/home/a', UNDERLAY_NO_CODE_CACHE: '0' }, '/home/a/.cache/underlay'],
    [{ HOME: '/home/a', UNDERLAY_NO_CODE_CACHE: '' }, '/home/a/.cache/underlay'],
  ])('%j -> %s', (env, dir) => {
    expect(cacheDir(env)).toBe(dir);
  });
});

describe('cacheFileName', () => {
  const src = Buffer.from('exports.a = 1;');
  const name = cacheFileName(src, 'v20.20.2', 'x64', ['--no-opt']);
  it('is one of ours, and stable', () => {
    expect(cacheFileBuild(name)).toMatch(/^[0-9a-f]{24}$/);
    expect(cacheFileName(Buffer.from('exports.a = 1;'), 'v20.20.2', 'x64', ['--no-opt'])).toBe(name);
  });
  it('changes with the bundle, Node, the architecture, the flags and NODE_OPTIONS', () => {
    const others = [
      cacheFileName(Buffer.from('exports.a = 2;'), 'v20.20.2', 'x64', ['--no-opt']),
      cacheFileName(src, 'v20.20.3', 'x64', ['--no-opt']),
      cacheFileName(src, 'v20.20.2', 'arm64', ['--no-opt']),
      cacheFileName(src, 'v20.20.2', 'x64', []),
      cacheFileName(src, 'v20.20.2', 'x64', ['--no', '-opt']),
      cacheFileName(src, 'v20.20.2', 'x64', ['--no-opt'], '--max-old-space-size=100'),
    ];
    expect(new Set([name, ...others]).size).toBe(7);
    // the build part follows the bundle only
    expect(others.map(cacheFileBuild)).toEqual([expect.not.stringMatching(cacheFileBuild(name)!), ...Array(5).fill(cacheFileBuild(name))]);
  });
  it.each(['v8-code-.bin', 'v8-code-XYZ.bin', `${name}.tmp`, `.${name}.12.tmp`, 'notes.txt'])('%s is not', (n) => {
    expect(cacheFileBuild(n)).toBeUndefined();
  });
});

describe('trusted', () => {
  const st = (o: { uid?: number; mode?: number; dir?: boolean; link?: boolean }) => ({
    uid: o.uid ?? 1000,
    mode: o.mode ?? 0o700,
    isDirectory: () => o.dir ?? true,
    isFile: () => !(o.dir ?? true),
    isSymbolicLink: () => o.link ?? false,
  });
  it.each([
    ['own directory 0700', st({}), 'dir', true],
    ['own directory 0755', st({ mode: 0o755 }), 'dir', true],
    ['group-writable directory', st({ mode: 0o770 }), 'dir', false],
    ['world-writable directory', st({ mode: 0o1777 }), 'dir', false],
    ["another user's directory", st({ uid: 0 }), 'dir', false],
    ['a symbolic link', st({ link: true }), 'dir', false],
    ['a file where a directory should be', st({ dir: false }), 'dir', false],
    ['own file 0600', st({ dir: false, mode: 0o600 }), 'file', true],
    ['own file with a second name', { ...st({ dir: false, mode: 0o600 }), nlink: 2 }, 'file', false],
    ['group-writable file', st({ dir: false, mode: 0o620 }), 'file', false],
  ] as const)('%s: %s', (_what, s, kind, ok) => {
    expect(trusted(s, kind, 1000)).toBe(ok);
  });
});

describe('runBundle', () => {
  let dir: string;
  let home: string;
  let bundle: string;
  let env: NodeJS.ProcessEnv;
  const cache = () => join(home, '.cache', 'underlay');
  const files = () => (existsSync(cache()) ? readdirSync(cache()) : []);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ul-codecache-'));
    home = join(dir, 'home');
    mkdirSync(home);
    bundle = join(dir, 'bundle.cjs');
    writeFileSync(bundle, "const path = require('node:path');\nexports.name = path.basename(__filename);\nexports.twice = (n) => n * 2;\nmodule.exports.dir = __dirname;\n");
    env = { HOME: home };
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('runs the bundle as CommonJS, writes the cache once, then uses it', () => {
    const first = runBundle<{ name: string; twice: (n: number) => number; dir: string }>(bundle, env);
    expect(first.state).toBe('miss');
    expect(first.exports.name).toBe('bundle.cjs');
    expect(first.exports.twice(21)).toBe(42);
    expect(first.exports.dir).toBe(dir);
    expect(files()).toEqual([]);
    first.save();
    const written = files();
    expect(written).toHaveLength(1);
    expect(cacheFileBuild(written[0]!)).toBeDefined();
    expect(statSync(cache()).mode & 0o777).toBe(0o700);
    expect(statSync(join(cache(), written[0]!)).mode & 0o777).toBe(0o600);

    const second = runBundle<{ twice: (n: number) => number }>(bundle, env);
    expect(second.state).toBe('hit');
    expect(second.exports.twice(4)).toBe(8);
    const before = statSync(join(cache(), written[0]!)).mtimeMs;
    second.save(); // a hit is not written again
    expect(statSync(join(cache(), written[0]!)).mtimeMs).toBe(before);
  });

  it("replaces a cache V8 rejects; keeps the other builds' caches and removes the old names", () => {
    // a source this process never compiled (V8 would take its own copy of one it did)
    writeFileSync(bundle, `exports.twice = (n) => n * 2; // ${process.hrtime.bigint()}\n`);
    const name = cacheFileName(readFileSync(bundle), process.version, process.arch, process.execArgv, process.env.NODE_OPTIONS ?? '');
    mkdirSync(cache(), { recursive: true, mode: 0o700 });
    writeFileSync(join(cache(), name), 'not a code cache', { mode: 0o600 });
    const other = 'v8-code-0123456789abcdef01234567-0123456789abcdef.bin';
    writeFileSync(join(cache(), other), 'another build', { mode: 0o600 });
    writeFileSync(join(cache(), 'v8-code-0123456789abcdef0123456789abcdef.bin'), 'old name', { mode: 0o600 });
    writeFileSync(join(cache(), 'notes.txt'), 'kept');

    const b = runBundle<{ twice: (n: number) => number }>(bundle, env);
    expect(b.state).toBe('rejected');
    expect(b.exports.twice(1)).toBe(2);
    b.save();
    expect(files().sort()).toEqual([name, other, 'notes.txt'].sort());
    expect(readFileSync(join(cache(), name)).toString()).not.toBe('not a code cache');
  });

  it('keeps the 4 most recently written caches (builds, ways of running it)', () => {
    mkdirSync(cache(), { recursive: true, mode: 0o700 });
    const older = [1, 2, 3, 4].map((n) => `v8-code-${String(n).repeat(24)}-${String(n).repeat(16)}.bin`);
    for (const [i, n] of older.entries()) {
      writeFileSync(join(cache(), n), 'x', { mode: 0o600 });
      const t = new Date(Date.now() - (10 - i) * 60_000);
      utimesSync(join(cache(), n), t, t);
    }
    const b = runBundle(bundle, env);
    expect(b.state).toBe('miss');
    b.save();
    const [newest] = files().filter((n) => !older.includes(n));
    expect(files().sort()).toEqual([newest, ...older.slice(1)].sort());
  });

  it('a new bundle gets its own cache', () => {
    runBundle(bundle, env).save();
    const [old] = files();
    writeFileSync(bundle, 'exports.v = 2;\n');
    const b = runBundle<{ v: number }>(bundle, env);
    expect(b.state).toBe('miss');
    expect(b.exports.v).toBe(2);
    b.save();
    expect(files()).toHaveLength(2);
    expect(cacheFileBuild(files().find((n) => n !== old)!)).not.toBe(cacheFileBuild(old!));
  });

  it('takes no code from a file others can write, or one with another name (a hard link)', () => {
    runBundle(bundle, env).save();
    const [name] = files();
    chmodSync(join(cache(), name!), 0o666);
    expect(runBundle(bundle, env).state).toBe('miss');
    chmodSync(join(cache(), name!), 0o600);
    linkSync(join(cache(), name!), join(dir, 'elsewhere'));
    expect(runBundle(bundle, env).state).toBe('miss');
  });

  it('makes nothing in a home that is not the user\'s own (sudo -E)', () => {
    if (process.geteuid?.() !== 0) return; // only root can give the home away here
    chownSync(home, 65534, 65534);
    const b = runBundle(bundle, env);
    b.save();
    expect(existsSync(join(home, '.cache'))).toBe(false);
  });

  it('neither reads nor writes in a directory others can write', () => {
    runBundle(bundle, env).save();
    chmodSync(cache(), 0o777);
    const b = runBundle(bundle, env);
    expect(b.state).toBe('off');
    b.save();
    chmodSync(cache(), 0o700);
    expect(files()).toHaveLength(1);
  });

  it('neither reads nor writes through a symbolic link', () => {
    const elsewhere = join(dir, 'elsewhere');
    mkdirSync(elsewhere, { mode: 0o700 });
    mkdirSync(join(home, '.cache'));
    symlinkSync(elsewhere, cache());
    const b = runBundle(bundle, env);
    expect(b.state).toBe('off');
    b.save();
    expect(readdirSync(elsewhere)).toEqual([]);
  });

  it('UNDERLAY_NO_CODE_CACHE=1 turns it off', () => {
    const b = runBundle(bundle, { ...env, UNDERLAY_NO_CODE_CACHE: '1' });
    expect(b.state).toBe('off');
    b.save();
    expect(existsSync(join(home, '.cache'))).toBe(false);
  });

  it('a home it cannot write only means no cache', () => {
    chmodSync(home, 0o500);
    try {
      const b = runBundle<{ twice: (n: number) => number }>(bundle, env);
      b.save();
      expect(b.exports.twice(3)).toBe(6);
      // root writes anyway; anyone else has no cache directory
      if (process.geteuid?.() !== 0) expect(existsSync(join(home, '.cache'))).toBe(false);
    } finally {
      chmodSync(home, 0o700);
    }
  });
});
