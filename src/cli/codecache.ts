/**
 * Runs the CLI bundle (dist/cli/underlay.cjs) through a V8 code cache, so that a start
 * does not compile again what earlier runs compiled: the bundle itself and every function
 * a run called (V8 compiles a function at its first call).
 *
 * - The cache is written after a `run` that reached its hosts (bin/underlay.js calls
 *   `save`), when there was none or V8 refused it: by then it holds what a run compiles.
 *   Start-up to the first connection of a 10-worker run: about 0.57 s of CPU without, 0.44
 *   s with (bench/README.md).
 * - Where: `$XDG_CACHE_HOME/underlay` or `~/.cache/underlay`, a directory of mode 0700,
 *   one file `v8-code-KEY.bin` of mode 0600. KEY is a hash of the bundle's bytes, Node's
 *   version and architecture and the V8 flags: V8 checks its version and flags itself, but
 *   of the source only its length. A new build or a new Node writes a new file and
 *   removes the old ones.
 * - It is used only from a directory and a file the user owns that nobody else can write
 *   (it is code); otherwise the bundle runs without it. A cache V8 rejects is replaced.
 * - `UNDERLAY_NO_CODE_CACHE=1` turns it off (neither read nor written). Every failure of
 *   the cache (unreadable, unwritable, no home) only means a start without it.
 */
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync, type Stats } from 'node:fs';
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

/** The cache directory for this environment; undefined: no cache. */
export function cacheDir(env: NodeJS.ProcessEnv): string | undefined {
  if (env.UNDERLAY_NO_CODE_CACHE !== undefined && env.UNDERLAY_NO_CODE_CACHE !== '' && env.UNDERLAY_NO_CODE_CACHE !== '0') return undefined;
  const xdg = env.XDG_CACHE_HOME;
  if (xdg !== undefined && xdg.startsWith('/')) return join(xdg, 'underlay');
  const home = env.HOME;
  if (home !== undefined && home.startsWith('/')) return join(home, '.cache', 'underlay');
  return undefined;
}

/** The cache file's name for this bundle, this Node and these V8 flags. */
export function cacheFileName(source: Buffer, node: string, arch: string, flags: readonly string[]): string {
  const h = createHash('sha256');
  h.update(source);
  h.update(`\0${node}\0${arch}\0${flags.join('\0')}`);
  return `${PREFIX}${h.digest('hex').slice(0, 32)}${SUFFIX}`;
}

/** Is it a cache file of ours (of any build)? */
export function isCacheFileName(name: string): boolean {
  return name.startsWith(PREFIX) && name.endsWith(SUFFIX) && /^[0-9a-f]{32}$/.test(name.slice(PREFIX.length, -SUFFIX.length));
}

/**
 * May code be taken from (or written to) this path: the user's own, not a symbolic link,
 * and nobody else can write it?
 */
export function trusted(st: Pick<Stats, 'uid' | 'mode'> & { isDirectory(): boolean; isFile(): boolean; isSymbolicLink(): boolean }, kind: 'dir' | 'file', uid: number): boolean {
  if (st.isSymbolicLink()) return false;
  if (kind === 'dir' ? !st.isDirectory() : !st.isFile()) return false;
  return st.uid === uid && (st.mode & 0o022) === 0;
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/** The directory, made 0700 where missing, if it can be trusted. */
function ensureDir(dir: string, uid: number): boolean {
  let st = lstatOrUndefined(dir);
  if (!st) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch {
      return false;
    }
    st = lstatOrUndefined(dir);
  }
  return st !== undefined && trusted(st, 'dir', uid);
}

/**
 * Compiles and runs the CommonJS bundle `file` with the code cache of this environment;
 * returns its exports.
 */
export function runBundle<T>(file: string, env: NodeJS.ProcessEnv = process.env): Bundle<T> {
  const source = readFileSync(file);
  const uid = process.geteuid?.() ?? -1;
  const dir = cacheDir(env);
  const name = dir !== undefined ? cacheFileName(source, process.version, process.arch, process.execArgv) : undefined;
  const path = dir !== undefined && name !== undefined ? join(dir, name) : undefined;

  let cached: Buffer | undefined;
  let state: CacheState = 'off';
  if (path !== undefined && dir !== undefined) {
    state = 'miss';
    const dst = lstatOrUndefined(dir);
    const fst = dst && trusted(dst, 'dir', uid) ? lstatOrUndefined(path) : undefined;
    if (dst && !trusted(dst, 'dir', uid)) state = 'off';
    else if (fst && trusted(fst, 'file', uid)) {
      try {
        cached = readFileSync(path);
      } catch {
        cached = undefined;
      }
    }
  }

  const script = new Script(`(function (exports, require, module, __filename, __dirname) { ${source.toString('utf8')}\n});`, { filename: file, ...(cached ? { cachedData: cached } : {}) });
  if (cached) state = script.cachedDataRejected ? 'rejected' : 'hit';
  const module = { exports: {} as T };
  const fn = script.runInThisContext() as (exports: T, require: NodeJS.Require, module: { exports: T }, filename: string, dirname: string) => void;
  fn.call(module.exports, module.exports, createRequire(file), module, file, dirname(file));

  const save = (): void => {
    if ((state !== 'miss' && state !== 'rejected') || path === undefined || dir === undefined || name === undefined) return;
    state = 'hit'; // once
    if (!ensureDir(dir, uid)) return;
    const tmp = join(dir, `.${name}.${process.pid}.tmp`);
    try {
      const data = script.createCachedData();
      const fd = openSync(tmp, 'wx', 0o600);
      try {
        writeFileSync(fd, data);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, path);
      for (const other of readdirSync(dir)) {
        if (other !== name && isCacheFileName(other)) unlinkSync(join(dir, other));
      }
    } catch {
      // a start without the cache next time
      try {
        unlinkSync(tmp);
      } catch {
        // not there
      }
    }
  };
  return { exports: module.exports, state, save };
}
