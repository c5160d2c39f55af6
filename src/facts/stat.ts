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
 */
import { CommandError } from '../errors.js';
import type { ExecResult } from '../modules/types.js';
import { sh, type ShellCommand } from '../transport/quote.js';

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

/** One command describing `path` (not following a final symlink, but describing its target too). */
export function statCommand(path: string, opts: { checksum?: boolean } = {}): ShellCommand {
  const p = path;
  const hash = opts.checksum ? sh`if [ -f ${p} ]; then printf 'H:'; sha256sum < ${p} || echo ERROR; fi; ` : sh``;
  return sh`if [ -e ${p} ] || [ -L ${p} ]; then LC_ALL=C stat -c ${'L:' + FMT} -- ${p} || exit 1; if [ -L ${p} ]; then LC_ALL=C stat -L -c ${'T:' + FMT} -- ${p} 2>/dev/null || echo T:DANGLING; fi; ${hash}if [ -L ${p} ]; then printf 'K:'; readlink -- ${p}; fi; else echo ABSENT; fi`;
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
