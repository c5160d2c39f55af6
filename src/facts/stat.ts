/**
 * What is at a path: one `stat` command and one pure parser (plus, on request, the
 * sha256 of a regular file and the target of a symbolic link, in the same command).
 *
 * The output is line-tagged so it parses without ambiguity whatever the path holds (the
 * path itself is never printed):
 *
 *     L:regular file|644|root|root|0|0|12|1700000000|1     lstat of the path
 *     T:directory|755|root|root|0|0|4096|1700000000|2     stat -L, only for a symlink
 *     T:DANGLING                                          ... whose target is missing
 *     H:<sha256>  -                                       sha256sum, only when asked
 *     H:ERROR                                             ... when unreadable
 *     K:<link target>                                     readlink, last (may hold newlines)
 *
 * or `ABSENT` when nothing (not even a dangling link) is at the path.
 *
 * statsCommand + parseStats: the same for several paths at once, with which paths exist or
 * are directories, the effective uid and the backup stamp, in one command (one subshell of the host's
 * shell, one `stat` process for all the paths there), NUL-framed; the values are those
 * parseStat, parseEffectiveUid and parseBackupStamp give.
 */
import { CommandError } from '../errors.js';
import type { ExecResult } from '../modules/types.js';
import { contained, join, raw, sh, type ShellCommand } from '../transport/quote.js';
import { backupStampCommand, effectiveUidCommand, parseBackupStamp, parseEffectiveUid } from './content.js';

export type FileType = 'file' | 'directory' | 'link' | 'fifo' | 'socket' | 'char' | 'block' | 'other';

export interface StatInfo {
  type: FileType;
  /** Permission bits including set-id and sticky (0o7777). */
  mode: number;
  /** User name (`UNKNOWN` when the uid has no name). */
  owner: string;
  group: string;
  uid: number;
  gid: number;
  size: number;
  /** Modification time, seconds since the epoch. */
  mtime: number;
  nlink: number;
}

export interface Stat extends StatInfo {
  /** For a symlink: where it points (readlink, unresolved). */
  linkTarget?: string;
  /** For a symlink: what it resolves to; null when the target does not exist. */
  target?: StatInfo | null;
  /** sha256 (hex) of the content, when asked for and the path (followed) is a regular file. */
  sha256?: string;
  /** Asked for a checksum but the file could not be read. */
  checksumError?: boolean;
}

const FMT = '%F|%a|%U|%G|%u|%g|%s|%Y|%h';

/**
 * Shell function `__ul_d PATH CHECKSUM`: what follows the lstat line of a PATH that is
 * there (T: for a symlink's target, H: the sha256 when CHECKSUM is 1, K: where a symlink
 * points). statCommand and statsCommand both describe a path with it.
 */
const DESCRIBE_FN = raw(
  `__ul_d() { if [ -L "$1" ]; then LC_ALL=C stat -L -c 'T:${FMT}' -- "$1" 2>/dev/null || echo T:DANGLING; fi; ` +
    `if [ "$2" = 1 ] && [ -f "$1" ]; then printf 'H:'; sha256sum < "$1" || echo ERROR; fi; ` +
    `if [ -L "$1" ]; then printf 'K:'; readlink -- "$1" || return 1; fi; }`,
);

/** One command describing `path` (not following a final symlink, but describing its target too). */
export function statCommand(path: string, opts: { checksum?: boolean } = {}): ShellCommand {
  const p = path;
  return contained(sh`${DESCRIBE_FN}; if [ -e ${p} ] || [ -L ${p} ]; then LC_ALL=C stat -c ${'L:' + FMT} -- ${p} || return 1; __ul_d ${p} ${opts.checksum ? 1 : 0} || return 1; else echo ABSENT; fi`);
}

const TYPES: Record<string, FileType> = {
  'regular file': 'file',
  'regular empty file': 'file',
  directory: 'directory',
  'symbolic link': 'link',
  fifo: 'fifo',
  socket: 'socket',
  'character special file': 'char',
  'block special file': 'block',
};

function fail(r: Pick<ExecResult, 'command' | 'exitCode' | 'stdout' | 'stderr'>, why: string): CommandError {
  return new CommandError(`stat: ${why}`, { command: r.command, exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr });
}

function parseInfo(line: string): StatInfo | undefined {
  const f = line.split('|');
  if (f.length !== 9) return undefined;
  const [kind, mode, owner, group, uid, gid, size, mtime, nlink] = f as [string, string, string, string, string, string, string, string, string];
  if (!/^[0-7]{1,5}$/.test(mode)) return undefined;
  const nums = [uid, gid, size, mtime, nlink];
  if (!nums.every((n) => /^-?\d+$/.test(n))) return undefined;
  return {
    type: TYPES[kind] ?? 'other',
    mode: Number.parseInt(mode, 8),
    owner,
    group,
    uid: Number(uid),
    gid: Number(gid),
    size: Number(size),
    mtime: Number(mtime),
    nlink: Number(nlink),
  };
}

/** Parses the output of statCommand: null when nothing is at the path. Throws CommandError on failure. */
export function parseStat(r: Pick<ExecResult, 'command' | 'exitCode' | 'stdout' | 'stderr'>): Stat | null {
  if (r.exitCode !== 0) throw fail(r, (r.stderr || r.stdout).trim() || `exit code ${r.exitCode}`);
  const out = r.stdout;
  if (out === 'ABSENT\n') return null;
  // The link target comes last and may contain newlines: cut it off first.
  let head = out;
  let linkTarget: string | undefined;
  const k = out.startsWith('K:') ? 0 : out.indexOf('\nK:');
  if (k >= 0) {
    head = out.slice(0, k === 0 ? 0 : k + 1);
    linkTarget = out.slice(k === 0 ? 2 : k + 3).replace(/\n$/, '');
  }
  let info: StatInfo | undefined;
  let target: StatInfo | null | undefined;
  let sha256: string | undefined;
  let checksumError = false;
  for (const line of head.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('L:')) info = parseInfo(line.slice(2));
    else if (line === 'T:DANGLING') target = null;
    else if (line.startsWith('T:')) {
      target = parseInfo(line.slice(2));
      if (target === undefined) throw fail(r, `cannot parse ${JSON.stringify(line)}`);
    } else if (line.startsWith('H:')) {
      const m = /^H:([0-9a-f]{64}) {2}-$/.exec(line);
      if (m) sha256 = m[1];
      else checksumError = true;
    } else throw fail(r, `unexpected output ${JSON.stringify(line)}`);
  }
  if (!info) throw fail(r, `cannot parse ${JSON.stringify(out.slice(0, 200))}`);
  return {
    ...info,
    ...(linkTarget !== undefined ? { linkTarget } : {}),
    ...(target !== undefined ? { target } : {}),
    ...(sha256 !== undefined ? { sha256 } : {}),
    ...(checksumError ? { checksumError } : {}),
  };
}

type Output = Pick<ExecResult, 'command' | 'exitCode' | 'stdout' | 'stderr'>;

/** One path for statsCommand: described as statCommand does, with the sha256 when asked. */
export interface StatRequest {
  path: string;
  checksum?: boolean;
}

/** What statsCommand observes, in one command. */
export interface StatsRequest {
  /** Paths described as statCommand describes them. */
  paths: readonly StatRequest[];
  /** Paths asked only whether they exist, following symlinks (`test -e`). */
  exists?: readonly string[];
  /**
   * Paths asked only whether they are a directory, following symlinks (`test -d`): a
   * destination's directory, needed only when the destination is not there yet. Shell
   * builtins answer it, so a path that is not there costs no `stat` process.
   */
  dirs?: readonly string[];
  /** The effective uid (effectiveUidCommand). */
  uid?: boolean;
  /** The host's clock as a backup suffix (backupStampCommand). */
  stamp?: boolean;
}

export interface Stats {
  /** One per requested path, in order: what parseStat gives (null: nothing there). */
  stats: (Stat | null)[];
  /** One per `exists` path, in order. */
  exists: boolean[];
  /** One per `dirs` path, in order: a directory (true), something else (false), nothing (null). */
  dirs: (boolean | null)[];
  uid?: number;
  stamp?: string;
}

/** `printf` of a NUL-led section header: paths and link targets never hold a NUL byte. */
function header(h: string): ShellCommand {
  return sh`printf ${`\\000${h}\\n`}`;
}

/**
 * One command observing several paths (each as statCommand, with or without checksum),
 * which paths exist, and optionally the effective uid and the backup stamp. It runs in the
 * caller's one shell: no subshell per path, and one `stat` process for the lstat of every
 * path there; the other programs are those statCommand, effectiveUidCommand and
 * backupStampCommand run. Its output is NUL-framed (a NUL byte, a header line, a body):
 *
 *     \0S:<i>\n  <T:/H:/K: lines of path i, as statCommand prints them>   or  ABSENT\n
 *     \0L\n     <one L: line per path there, in the order of the paths>
 *     \0E:<i>\n 1\n or 0\n                                   exists[i]
 *     \0P:<i>\n 1\n, 0\n or -\n                            dirs[i]: a directory, other, nothing
 *     \0U\n     <id -u>
 *     \0D\n     <date>
 *
 * A failing `stat` (or readlink, id, date) ends it with exit code 1: parseStats throws.
 */
export function statsCommand(req: StatsRequest): ShellCommand {
  const parts: ShellCommand[] = [];
  if (req.paths.length > 0) {
    parts.push(raw('set --'), DESCRIBE_FN);
    req.paths.forEach((r, i) => {
      parts.push(header(`S:${i}`), sh`if [ -e ${r.path} ] || [ -L ${r.path} ]; then set -- "$@" ${r.path}; __ul_d ${r.path} ${r.checksum ? 1 : 0} || return 1; else echo ABSENT; fi`);
    });
    parts.push(sh`if [ $# -gt 0 ]; then ${header('L')}; LC_ALL=C stat -c ${'L:' + FMT} -- "$@" || return 1; fi`);
  }
  (req.exists ?? []).forEach((p, i) => {
    parts.push(header(`E:${i}`), sh`if [ -e ${p} ]; then echo 1; else echo 0; fi`);
  });
  (req.dirs ?? []).forEach((p, i) => {
    parts.push(header(`P:${i}`), sh`if [ -d ${p} ]; then echo 1; elif [ -e ${p} ] || [ -L ${p} ]; then echo 0; else echo -; fi`);
  });
  if (req.uid) parts.push(header('U'), sh`${effectiveUidCommand()} || return 1`);
  if (req.stamp) parts.push(header('D'), sh`${backupStampCommand()} || return 1`);
  return parts.length > 0 ? contained(join(parts, ';')) : raw('true');
}

/** A part of statsCommand's output parsed as the output of its own command, failures reported on the whole. */
function within<T>(r: Output, stdout: string, parse: (part: Output) => T, what: string): T {
  try {
    return parse({ ...r, exitCode: 0, stdout });
  } catch (e) {
    if (!(e instanceof CommandError)) throw e;
    return failWhole(r, `${e.message} (${what})`);
  }
}

function failWhole(r: Output, message: string): never {
  throw new CommandError(message, { command: r.command, exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr });
}

/**
 * Parses statsCommand's output into the values parseStat, parseEffectiveUid and
 * parseBackupStamp give for the same paths. Throws CommandError when a command in it
 * failed (the message names it) or the output is not what the request makes.
 */
export function parseStats(req: StatsRequest, r: Output): Stats {
  const [lead, ...rest] = r.stdout.split('\0');
  const sections = rest.map((s) => {
    const nl = s.indexOf('\n');
    return nl < 0 ? { head: s, body: '' } : { head: s.slice(0, nl), body: s.slice(nl + 1) };
  });
  if (r.exitCode !== 0) {
    const last = sections.at(-1)?.head ?? '';
    const what = last === 'U' ? 'id -u' : last === 'D' ? 'date' : 'stat';
    const path = last.startsWith('S:') ? req.paths[Number(last.slice(2))]?.path : undefined;
    const why = (r.stderr || r.stdout.replaceAll('\0', '\n')).trim() || `exit code ${r.exitCode}`;
    failWhole(r, `${what}: ${why}${path !== undefined ? ` (describing ${JSON.stringify(path)})` : ''}`);
  }
  const unexpected = (why: string): never => failWhole(r, `stat: ${why}, in ${JSON.stringify(r.stdout.slice(0, 200))}`);
  if (lead !== '') unexpected('output before the first section');
  // The sections, in the order the command prints them (L only when a path is there).
  const body = (i: number, head: string): string => {
    const s = sections[i];
    if (s?.head !== head) unexpected(`section ${JSON.stringify(s?.head ?? 'end')} where ${JSON.stringify(head)} was expected`);
    return s!.body;
  };
  let i = 0;
  const described = req.paths.map((p, j) => ({ path: p.path, body: body(i++, `S:${j}`) }));
  const there = described.filter((d) => d.body !== 'ABSENT\n');
  const lines = there.length > 0 ? body(i++, 'L').split('\n') : [];
  if (lines.at(-1) === '') lines.pop();
  if (lines.length !== there.length || lines.some((l) => !l.startsWith('L:'))) unexpected(`${lines.length} stat lines for ${there.length} paths there`);
  const exists = (req.exists ?? []).map((p, j) => {
    const b = body(i++, `E:${j}`);
    if (b !== '1\n' && b !== '0\n') unexpected(`bad existence of ${JSON.stringify(p)}`);
    return b === '1\n';
  });
  const dirs = (req.dirs ?? []).map((p, j) => {
    const b = body(i++, `P:${j}`);
    if (b !== '1\n' && b !== '0\n' && b !== '-\n') unexpected(`bad answer for the directory ${JSON.stringify(p)}`);
    return b === '-\n' ? null : b === '1\n';
  });
  const uid = req.uid ? body(i++, 'U') : undefined;
  const stamp = req.stamp ? body(i++, 'D') : undefined;
  if (i !== sections.length) unexpected(`section ${JSON.stringify(sections[i]!.head)} not asked for`);
  // Each path's lstat line and its section are what statCommand prints for it.
  let n = 0;
  const stats = described.map((d) => (d.body === 'ABSENT\n' ? null : within(r, `${lines[n++]}\n${d.body}`, parseStat, JSON.stringify(d.path))));
  return {
    stats,
    exists,
    dirs,
    ...(uid !== undefined ? { uid: within(r, uid, parseEffectiveUid, 'the effective uid') } : {}),
    ...(stamp !== undefined ? { stamp: within(r, stamp, parseBackupStamp, "the host's clock") } : {}),
  };
}

/** What the path resolves to: the stat itself, or a symlink's target (null when dangling or absent). */
export function followed(s: Stat | null): StatInfo | null {
  if (!s) return null;
  if (s.type !== 'link') return s;
  return s.target ?? null;
}

/** `0644`-style text of a mode, as Ansible prints it. */
export function modeText(mode: number): string {
  return '0' + mode.toString(8).padStart(3, '0');
}

/**
 * Whether anything in the directory tree at `path` (the directory included; a symlink to
 * a directory is followed at the top only) differs from the wanted mode, owner or group:
 * one `find` per attribute, in one command. Prints `mode`, `owner`, `group` lines for those
 * that differ somewhere, or `NOTDIR` when `path` is not a directory.
 */
export function treeDriftCommand(path: string, want: { mode?: number; owner?: string; group?: string }): ShellCommand {
  // `P/.` starts find at the directory itself even when P is a symlink to it, and can never
  // be read as an option.
  const top = `${path}/.`;
  const parts: ShellCommand[] = [];
  // Symlinks have no mode of their own (chmod -R leaves them alone): skip them for mode.
  if (want.mode !== undefined) parts.push(sh`__ul_m=$(find ${top} ! -type l ! -perm ${modeText(want.mode)} -print -quit) || exit 1; [ -z "$__ul_m" ] || echo mode; `);
  if (want.owner !== undefined) parts.push(sh`__ul_o=$(find ${top} ! -user ${want.owner} -print -quit) || exit 1; [ -z "$__ul_o" ] || echo owner; `);
  if (want.group !== undefined) parts.push(sh`__ul_g=$(find ${top} ! -group ${want.group} -print -quit) || exit 1; [ -z "$__ul_g" ] || echo group; `);
  return sh`if [ -d ${path} ]; then ${parts}true; else echo NOTDIR; fi`;
}

export interface TreeDrift {
  mode: boolean;
  owner: boolean;
  group: boolean;
}

/**
 * Parses treeDriftCommand's output: null when the path is not a directory. Throws
 * CommandError when find failed (an unknown user or group, an unreadable directory).
 */
export function parseTreeDrift(r: Pick<ExecResult, 'command' | 'exitCode' | 'stdout' | 'stderr'>): TreeDrift | null {
  if (r.exitCode !== 0) {
    throw new CommandError(`find: ${(r.stderr || r.stdout).trim() || `exit code ${r.exitCode}`}`, { command: r.command, exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr });
  }
  if (r.stdout === 'NOTDIR\n') return null;
  const lines = new Set(r.stdout.split('\n'));
  return { mode: lines.has('mode'), owner: lines.has('owner'), group: lines.has('group') };
}

/** The canonical path (every symlink resolved; the last component need not exist). */
export function realpathCommand(path: string): ShellCommand {
  return sh`readlink -f -- ${path}`;
}

/** Parses realpathCommand's output: null when the path cannot be resolved (a missing directory on the way). */
export function parseRealpath(r: Pick<ExecResult, 'exitCode' | 'stdout'>): string | null {
  if (r.exitCode !== 0 || !r.stdout.endsWith('\n') || r.stdout === '\n') return null;
  return r.stdout.slice(0, -1);
}
