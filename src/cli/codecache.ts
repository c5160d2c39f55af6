/**
 * Runs the CLI bundle (dist/cli/underlay.cjs) through a V8 code cache, so that a start
 * does not compile again what earlier runs compiled: the bundle itself and every function
 * a run called (V8 compiles a function at its first call).
 *
 * - The cache is written after a `run` that reached its hosts (bin/underlay.js calls
 *   `save`), when there was none or V8 refused it: it holds what that run compiled, so the
 *   first play of a build decides what later starts find compiled. CPU to the first
 *   connection of a 10-worker run: 0.58 s without, 0.41 s with (bench/README.md).
 * - Where: `$XDG_CACHE_HOME/underlay` or `~/.cache/underlay`, a directory of mode 0700,
 *   files `v8-code-BUILD-RUNTIME.bin` of mode 0600: BUILD a hash of the bundle's bytes,
 *   RUNTIME one of Node's version, the architecture, the V8 flags and NODE_OPTIONS (V8
 *   checks its version and flags itself, but of the source only its length). One file per
 *   build and way of running it (`bin/underlay.js` and `node bin/underlay.js` differ in
 *   flags); the 4 most recently written are kept.
 * - Code is taken only from a directory and a file that are the user's own, not symbolic
 *   links, that nobody else can write (the file checked once open, with no other name);
 *   otherwise the bundle runs without it. Nothing is made in a home that is not the
 *   user's own (`sudo -E`). A cache V8 rejects is replaced.
 * - `UNDERLAY_NO_CODE_CACHE=1` turns it off (neither read nor written). Every failure of
 *   the cache (unreadable, unwritable, no home) only means a start without it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync, type Stats } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';

/** What happened to the cache at this start. */
export type CacheState = 'off' | 'miss' | 'hit' | 'rejected';

export interface Bundle<T> {
  exports: T;
  state: CacheState;
  /** Writes the cache if this start had none or V8 rejected it (best effort, silent). */
  save(): void;
}

const PREFIX = 'v8-code-';
const SUFFIX = '.bin';

/**
 * Where the cache goes: its directory, and the base it is made in (`$XDG_CACHE_HOME` or
 * `$HOME`, which must be the user's own); undefined: no cache.
 */
function cacheLocation(env: NodeJS.ProcessEnv): { base: string; dir: string } | undefined {
  if (env.UNDERLAY_NO_CODE_CACHE !== undefined && env.UNDERLAY_NO_CODE_CACHE !== '' && env.UNDERLAY_NO_CODE_CACHE !== '0') return undefined;
  const xdg = env.XDG_CACHE_HOME;
  if (xdg !== undefined && xdg.startsWith('/')) return { base: xdg, dir: join(xdg, 'underlay') };
  const home = env.HOME;
  if (home !== undefined && home.startsWith('/')) return { base: home, dir: join(home, '.cache', 'underlay') };
  return undefined;
}

/** The cache directory for this environment; undefined: no cache. */
export function cacheDir(env: NodeJS.ProcessEnv): string | undefined {
  return cacheLocation(env)?.dir;
}

/** The cache file's name for this bundle, this Node, these V8 flags and NODE_OPTIONS. */
export function cacheFileName(source: Buffer, node: string, arch: string, flags: readonly string[], nodeOptions = ''): string {
  const build = createHash('sha256').update(source).digest('hex').slice(0, 24);
  const runtime = createHash('sha256').update(`${node}\0${arch}\0${flags.join('\0')}\0${nodeOptions}`).digest('hex').slice(0, 16);
  return `${PREFIX}${build}-${runtime}${SUFFIX}`;
}

const NAME = /^v8-code-([0-9a-f]{24})-[0-9a-f]{16}\.bin$/;
/** The names of an earlier version of this cache (one file per build and flags). */
const OLD_NAME = /^v8-code-[0-9a-f]{32}\.bin$/;
/** How many cache files are kept (the most recently written): builds and ways of running it. */
const KEEP = 4;

/** The build a cache file of ours is for; undefined for any other name. */
export function cacheFileBuild(name: string): string | undefined {
  return NAME.exec(name)?.[1];
}

/**
 * May code be taken from (or written to) this path: the user's own, not a symbolic link,
 * and nobody else can write it (a file: and has no other name)?
 */
export function trusted(
  st: Pick<Stats, 'uid' | 'mode'> & { nlink?: number; isDirectory(): boolean; isFile(): boolean; isSymbolicLink(): boolean },
  kind: 'dir' | 'file',
  uid: number,
): boolean {
  if (st.isSymbolicLink()) return false;
  if (kind === 'dir' ? !st.isDirectory() : !st.isFile() || (st.nlink ?? 1) !== 1) return false;
  return st.uid === uid && (st.mode & 0o022) === 0;
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/**
 * The directory, made 0700 where missing, if it can be trusted. Nothing is made where the
 * base (home or XDG_CACHE_HOME) is not the user's own: `sudo -E underlay` as root would
 * otherwise leave root's directories in another user's home.
 */
function ensureDir(base: string, dir: string, uid: number): boolean {
  let st = lstatOrUndefined(dir);
  if (!st) {
    let b: Stats;
    try {
      b = statSync(base);
    } catch {
      return false;
    }
    if (b.uid !== uid) return false;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch {
      return false;
    }
    st = lstatOrUndefined(dir);
  }
  return st !== undefined && trusted(st, 'dir', uid);
}

/** The cache file's bytes, if it is there and can be trusted (checked on the open file). */
function readTrusted(path: string, uid: number): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return undefined;
  }
  try {
    return trusted(fstatSync(fd), 'file', uid) ? readFileSync(fd) : undefined;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** Keeps the KEEP most recently written cache files; removes older ones and old names. */
function prune(dir: string): void {
  const ours: { name: string; mtime: number }[] = [];
  for (const name of readdirSync(dir)) {
    try {
      if (OLD_NAME.test(name)) unlinkSync(join(dir, name));
      else if (NAME.test(name)) ours.push({ name, mtime: lstatSync(join(dir, name)).mtimeMs });
    } catch {
      // removed meanwhile by another run
    }
  }
  ours.sort((a, b) => b.mtime - a.mtime);
  for (const { name } of ours.slice(KEEP)) {
    try {
      unlinkSync(join(dir, name));
    } catch {
      // removed meanwhile by another run
    }
  }
}

/**
 * Compiles and runs the CommonJS bundle `file` with the code cache of this environment;
 * returns its exports.
 */
export function runBundle<T>(file: string, env: NodeJS.ProcessEnv = process.env): Bundle<T> {
  const source = readFileSync(file);
  const uid = process.geteuid?.() ?? -1;
  const where = cacheLocation(env);
  const name = where ? cacheFileName(source, process.version, process.arch, process.execArgv, env.NODE_OPTIONS ?? '') : '';

  let cached: Buffer | undefined;
  let state: CacheState = 'off';
  if (where) {
    const dst = lstatOrUndefined(where.dir);
    if (!dst || trusted(dst, 'dir', uid)) {
      state = 'miss';
      cached = dst ? readTrusted(join(where.dir, name), uid) : undefined;
    }
  }

  const script = new Script(`(function (exports, require, module, __filename, __dirname) { ${source.toString('utf8')}\n});`, { filename: file, ...(cached ? { cachedData: cached } : {}) });
  if (cached) state = script.cachedDataRejected ? 'rejected' : 'hit';
  const module = { exports: {} as T };
  const fn = script.runInThisContext() as (exports: T, require: NodeJS.Require, module: { exports: T }, filename: string, dirname: string) => void;
  fn.call(module.exports, module.exports, createRequire(file), module, file, dirname(file));

  const save = (): void => {
    if ((state !== 'miss' && state !== 'rejected') || !where) return;
    state = 'hit'; // once
    const { base, dir } = where;
    const path = join(dir, name);
    if (!ensureDir(base, dir, uid)) return;
    const tmp = join(dir, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
    let made = false;
    try {
      const data = script.createCachedData();
      const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      made = true;
      try {
        writeFileSync(fd, data);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, path);
      made = false;
      prune(dir);
    } catch {
      // a start without the cache next time
      if (made) {
        try {
          unlinkSync(tmp);
        } catch {
          // not there
        }
      }
    }
  };
  return { exports: module.exports, state, save };
}
