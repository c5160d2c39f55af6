/**
 * Output of statCommand(PATH, { checksum: true }) recorded on real files (GNU coreutils
 * 9.1, ext4, as root), for the tests of the modules that decide from it. stat.test.ts
 * re-creates the same files with STAT_FIXTURE_SETUP and checks that the command still
 * prints exactly this, so these strings cannot drift from what hosts print.
 */
import { followed, parseStat } from './stat.js';

/** A shell script creating the recorded files in the current directory (run as root). */
export const STAT_FIXTURE_SETUP = `umask 022
printf 'hello\\n' > 'a file'
: > empty && chown nobody:nogroup empty && chmod 600 empty
mkdir 'sub dir' plain && chmod 2750 'sub dir' && chmod 755 plain
ln -s 'a file' link
ln -s 'missing
target' dangling
mkfifo fifo && chmod 644 fifo
ln -s plain dirlink
printf 'x\\n' > secret && chmod 600 secret
touch -d @1700000000 'a file' empty 'sub dir' plain fifo secret
touch -h -d @1700000000 link dangling dirlink
`;

/** Name in the setup directory -> stdout of statCommand (exit code 0 for all). */
export const STAT_FIXTURES = {
  /** 'hello\n', 0644 root:root */
  'a file': 'L:regular file|644|root|root|0|0|6|1700000000|1\nH:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03  -\n',
  /** empty, 0600 nobody:nogroup */
  empty: 'L:regular empty file|600|nobody|nogroup|65534|65534|0|1700000000|1\nH:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  -\n',
  /** directory 02750 */
  'sub dir': 'L:directory|2750|root|root|0|0|4096|1700000000|2\n',
  /** directory 0755 */
  plain: 'L:directory|755|root|root|0|0|4096|1700000000|2\n',
  /** symlink to 'a file' */
  link: 'L:symbolic link|777|root|root|0|0|6|1700000000|1\nT:regular file|644|root|root|0|0|6|1700000000|1\nH:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03  -\nK:a file\n',
  /** symlink to the directory plain */
  dirlink: 'L:symbolic link|777|root|root|0|0|5|1700000000|1\nT:directory|755|root|root|0|0|4096|1700000000|2\nK:plain\n',
  /** symlink to 'missing\ntarget', which does not exist */
  dangling: 'L:symbolic link|777|root|root|0|0|14|1700000000|1\nT:DANGLING\nK:missing\ntarget\n',
  fifo: 'L:fifo|644|root|root|0|0|0|1700000000|1\n',
  /** nothing there */
  nothing: 'ABSENT\n',
} as const;

/** statCommand on `secret` (0600 root) run as the user nobody: the checksum cannot be read. */
export const STAT_FIXTURE_UNREADABLE = 'L:regular file|600|root|root|0|0|2|1700000000|1\nH:ERROR\n';

export type StatFixtureName = keyof typeof STAT_FIXTURES;

/** What statsCommand's `dirs` answers for a path holding the fixture: a directory (following symlinks), something else, nothing. */
export function dirAnswer(name: StatFixtureName): boolean | null {
  const s = parseStat({ command: 'stat', exitCode: 0, stdout: STAT_FIXTURES[name], stderr: '' });
  return s === null ? null : followed(s)?.type === 'directory';
}

/**
 * What statsCommand prints, made of what statCommand prints for each path (a fixture, or
 * any recorded output), the answers to `exists` and `dirs`, the uid and the stamp. stat.test.ts checks
 * it against the real command on the fixture files.
 */
export function statsOutput(o: { stats?: readonly string[]; exists?: readonly boolean[]; dirs?: readonly (boolean | null)[]; uid?: number; stamp?: string }): string {
  let out = '';
  const lines: string[] = [];
  (o.stats ?? []).forEach((s, i) => {
    if (s === 'ABSENT\n') {
      out += `\0S:${i}\nABSENT\n`;
      return;
    }
    const nl = s.indexOf('\n');
    lines.push(s.slice(0, nl + 1));
    out += `\0S:${i}\n${s.slice(nl + 1)}`;
  });
  if (lines.length > 0) out += `\0L\n${lines.join('')}`;
  (o.exists ?? []).forEach((e, i) => (out += `\0E:${i}\n${e ? 1 : 0}\n`));
  (o.dirs ?? []).forEach((d, i) => (out += `\0P:${i}\n${d === null ? '-' : d ? 1 : 0}\n`));
  if (o.uid !== undefined) out += `\0U\n${o.uid}\n`;
  if (o.stamp !== undefined) out += `\0D\n${o.stamp}\n`;
  return out;
}
