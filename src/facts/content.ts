/**
 * The bytes of a remote regular file, in a command that can share a round trip with
 * others (runBatch): the content travels base64-encoded, so binary and non-UTF-8 bytes
 * survive the text channel exactly. One command and one pure parser.
 *
 *     B:<base64>     the file's content (following a symlink)
 *     NOTFILE        something other than a regular file is there
 *     ABSENT         nothing is there
 */
import { CommandError } from '../errors.js';
import type { ExecResult } from '../modules/types.js';
import { sh, type ShellCommand } from '../transport/quote.js';

export type FileContent = { kind: 'file'; content: Buffer } | { kind: 'notfile' } | { kind: 'absent' };

export function fileContentCommand(path: string): ShellCommand {
  return sh`if [ -f ${path} ]; then printf 'B:' && base64 -w0 < ${path} && echo; elif [ -e ${path} ] || [ -L ${path} ]; then echo NOTFILE; else echo ABSENT; fi`;
}

/** Parses fileContentCommand's output. Throws CommandError when the file could not be read. */
export function parseFileContent(r: Pick<ExecResult, 'command' | 'exitCode' | 'stdout' | 'stderr'>): FileContent {
  const bad = (why: string) => new CommandError(`read: ${why}`, { command: r.command, exitCode: r.exitCode, stdout: r.stdout.slice(0, 200), stderr: r.stderr });
  if (r.exitCode !== 0) throw bad((r.stderr || r.stdout).trim() || `exit code ${r.exitCode}`);
  if (r.stdout === 'ABSENT\n') return { kind: 'absent' };
  if (r.stdout === 'NOTFILE\n') return { kind: 'notfile' };
  const m = /^B:([A-Za-z0-9+/]*={0,2})\n$/.exec(r.stdout);
  if (!m) throw bad(`unexpected output ${JSON.stringify(r.stdout.slice(0, 80))}`);
  return { kind: 'file', content: Buffer.from(m[1]!, 'base64') };
}

/**
 * The host's local time as a backup suffix, `YYYY-MM-DD@HH:MM:SS` (the form of Ansible's
 * backup files), so a backup is named by the host's clock, not the controller's.
 */
export function backupStampCommand(): ShellCommand {
  return sh`date +%Y-%m-%d@%H:%M:%S`;
}

export function parseBackupStamp(r: Pick<ExecResult, 'command' | 'exitCode' | 'stdout' | 'stderr'>): string {
  const m = /^(\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d)\n?$/.exec(r.stdout);
  if (r.exitCode !== 0 || !m) {
    throw new CommandError(`date: unexpected output ${JSON.stringify(r.stdout.slice(0, 80))}`, { command: r.command, exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr });
  }
  return m[1]!;
}

/**
 * The effective user id the commands run as (become included), on one line. It is the
 * second number of the `Uid:` line of /proc/self/status, read with the `read` builtin:
 * /proc/self is then the shell itself, which runs as the commands do, and no process is
 * started. Where that file cannot be read: `id -u`.
 */
export function effectiveUidCommand(): ShellCommand {
  return sh`__ul_uid=; { while read -r __ul_k __ul_r __ul_e __ul_x; do if [ "$__ul_k" = Uid: ]; then __ul_uid=$__ul_e; break; fi; done </proc/self/status; } 2>/dev/null; if [ -n "$__ul_uid" ]; then echo "$__ul_uid"; else id -u; fi`;
}

export function parseEffectiveUid(r: Pick<ExecResult, 'command' | 'exitCode' | 'stdout' | 'stderr'>): number {
  const m = /^(\d+)\n?$/.exec(r.stdout);
  if (r.exitCode !== 0 || !m) {
    throw new CommandError(`id -u: unexpected output ${JSON.stringify(r.stdout.slice(0, 80))}`, { command: r.command, exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr });
  }
  return Number(m[1]);
}
