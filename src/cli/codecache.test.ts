import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cacheDir, cacheFileName, isCacheFileName, runBundle, trusted } from './codecache.js';

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
    expect(isCacheFileName(name)).toBe(true);
    expect(cacheFileName(Buffer.from('exports.a = 1;'), 'v20.20.2', 'x64', ['--no-opt'])).toBe(name);
  });
  it('changes with the bundle, Node, the architecture and the flags', () => {
    const others = [
      cacheFileName(Buffer.from('exports.a = 2;'), 'v20.20.2', 'x64', ['--no-opt']),
      cacheFileName(src, 'v20.20.3', 'x64', ['--no-opt']),
      cacheFileName(src, 'v20.20.2', 'arm64', ['--no-opt']),
      cacheFileName(src, 'v20.20.2', 'x64', []),
      cacheFileName(src, 'v20.20.2', 'x64', ['--no', '-opt']),
    ];
    expect(new Set([name, ...others]).size).toBe(6);
  });
  it.each(['v8-code-.bin', 'v8-code-XYZ.bin', `${name}.tmp`, `.${name}.12.tmp`, 'notes.txt'])('%s is not', (n) => {
    expect(isCacheFileName(n)).toBe(false);
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
    expect(isCacheFileName(written[0]!)).toBe(true);
    expect(statSync(cache()).mode & 0o777).toBe(0o700);
    expect(statSync(join(cache(), written[0]!)).mode & 0o777).toBe(0o600);

    const second = runBundle<{ twice: (n: number) => number }>(bundle, env);
    expect(second.state).toBe('hit');
    expect(second.exports.twice(4)).toBe(8);
    const before = statSync(join(cache(), written[0]!)).mtimeMs;
    second.save(); // a hit is not written again
    expect(statSync(join(cache(), written[0]!)).mtimeMs).toBe(before);
  });

  it('replaces a cache V8 rejects, and removes the caches of other builds', () => {
    // a source this process never compiled (V8 would take its own copy of one it did)
    writeFileSync(bundle, `exports.twice = (n) => n * 2; // ${process.hrtime.bigint()}\n`);
    const name = cacheFileName(readFileSync(bundle), process.version, process.arch, process.execArgv);
    mkdirSync(cache(), { recursive: true, mode: 0o700 });
    writeFileSync(join(cache(), name), 'not a code cache', { mode: 0o600 });
    const stale = 'v8-code-0123456789abcdef0123456789abcdef.bin';
    writeFileSync(join(cache(), stale), 'old', { mode: 0o600 });
    writeFileSync(join(cache(), 'notes.txt'), 'kept');

    const b = runBundle<{ twice: (n: number) => number }>(bundle, env);
    expect(b.state).toBe('rejected');
    expect(b.exports.twice(1)).toBe(2);
    b.save();
    expect(files().sort()).toEqual([name, 'notes.txt'].sort());
    expect(readFileSync(join(cache(), name)).toString()).not.toBe('not a code cache');
  });

  it('a new bundle gets its own cache', () => {
    runBundle(bundle, env).save();
    const [old] = files();
    writeFileSync(bundle, 'exports.v = 2;\n');
    const b = runBundle<{ v: number }>(bundle, env);
    expect(b.state).toBe('miss');
    expect(b.exports.v).toBe(2);
    b.save();
    expect(files()).toHaveLength(1);
    expect(files()[0]).not.toBe(old);
  });

  it('takes no code from a file others can write', () => {
    runBundle(bundle, env).save();
    const [name] = files();
    chmodSync(join(cache(), name!), 0o666);
    expect(runBundle(bundle, env).state).toBe('miss');
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
