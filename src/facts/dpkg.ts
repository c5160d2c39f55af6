/**
 * Debian package facts, each one command and one pure parser:
 * - what dpkg knows of some packages (`dpkg-query -W`),
 * - the candidate versions apt would install (`apt-cache policy`),
 * - how old the apt cache is,
 * and the fields of a .deb file read on the controller (ar + control.tar, gzip or plain;
 * `dpkg-deb -f` for the xz/zstd control archives that recent dpkg writes).
 */
import { execFile } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { EnvironmentError, InputError } from '../errors.js';
import { raw, sh, type ShellCommand } from '../transport/quote.js';

/** `name`, `name:arch`. Debian policy: lower case, digits, `+ - .`, at least two characters. */
export const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?$/;
/** A Debian version, optionally with a trailing `*` (apt's prefix match). */
export const PACKAGE_VERSION = /^[A-Za-z0-9.+~:-]+\*?$/;

export interface DpkgPackage {
  name: string;
  /** `db:Status-Abbrev`: desired, status, error flag (`ii `, `rc `, `iU `...). */
  status: string;
  /** Installed and configured (status letter `i`). */
  installed: boolean;
  /** The installed (or last known) version; '' when none. */
  version: string;
}

const QUERY_FORMAT = '${Package}\\t${db:Status-Abbrev}\\t${Version}\\n';

/**
 * Exit code 0 when every name is known to dpkg, 1 when some are not (the known ones are
 * still printed): both are answers. Anything else is a failure.
 */
export function dpkgQueryCommand(names: readonly string[]): ShellCommand {
  return sh`LC_ALL=C dpkg-query -W -f=${QUERY_FORMAT} -- ${names}`;
}

/** Parses dpkg-query's output, by package name (arch qualifiers are not part of the name). */
export function parseDpkgQuery(stdout: string): Map<string, DpkgPackage> {
  const out = new Map<string, DpkgPackage>();
  for (const line of stdout.split('\n')) {
    if (line.trim() === '') continue;
    const [name, status = '', version = ''] = line.split('\t');
    if (!name) continue;
    const pkg: DpkgPackage = { name, status, installed: status[1] === 'i', version: version.trim() };
    // A package installed for several architectures appears once per architecture.
    const prev = out.get(name);
    if (!prev || (!prev.installed && pkg.installed)) out.set(name, pkg);
  }
  return out;
}

export interface AptPolicy {
  installed: string | null;
  candidate: string | null;
}

export function aptPolicyCommand(names: readonly string[]): ShellCommand {
  return sh`LC_ALL=C apt-cache policy -- ${names}`;
}

/** Parses `apt-cache policy` (C locale): `(none)` becomes null. Unknown names are absent. */
export function parseAptPolicy(stdout: string): Map<string, AptPolicy> {
  const out = new Map<string, AptPolicy>();
  let cur: AptPolicy | undefined;
  for (const line of stdout.split('\n')) {
    const head = /^(\S+):$/.exec(line);
    if (head) {
      cur = { installed: null, candidate: null };
      out.set(head[1]!.replace(/:[a-z0-9-]+$/, ''), cur);
      continue;
    }
    const m = /^\s+(Installed|Candidate):\s*(\S+)\s*$/.exec(line);
    if (m && cur) {
      const v = m[2] === '(none)' ? null : m[2]!;
      if (m[1] === 'Installed') cur.installed = v;
      else cur.candidate = v;
    }
  }
  return out;
}

/** Prints the remote time, then the modification times of apt's update stamp and lists. */
export function aptCacheAgeCommand(): ShellCommand {
  return raw('date +%s; stat -c %Y -- /var/lib/apt/periodic/update-success-stamp /var/lib/apt/lists 2>/dev/null; true');
}

/** Seconds since the apt cache was last updated; null when it never was. */
export function parseAptCacheAge(stdout: string): { now: number; updated: number | null; ageSeconds: number | null } {
  const nums = stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^\d+$/.test(l))
    .map(Number);
  const now = nums[0] ?? 0;
  const times = nums.slice(1);
  const updated = times.length > 0 ? Math.max(...times) : null;
  return { now, updated, ageSeconds: updated === null ? null : Math.max(0, now - updated) };
}

/** The control fields of a .deb. */
export interface DebInfo {
  package: string;
  version: string;
  architecture?: string;
}

/** Parses a deb-control(5) paragraph: `Field: value` with continuation lines. */
export function parseControl(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let last: string | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      if (Object.keys(out).length > 0) break;
      continue;
    }
    if (/^[ \t]/.test(line)) {
      if (last !== undefined) out[last] += '\n' + line.trim();
      continue;
    }
    const i = line.indexOf(':');
    if (i <= 0) continue;
    last = line.slice(0, i).trim();
    out[last] = line.slice(i + 1).trim();
  }
  return out;
}

/** The members of an ar archive (the container of a .deb). */
export function arMembers(buf: Buffer): { name: string; data: Buffer }[] {
  if (buf.subarray(0, 8).toString('latin1') !== '!<arch>\n') throw new InputError('not a Debian package (no ar header)');
  const out: { name: string; data: Buffer }[] = [];
  let off = 8;
  for (let n = 0; n < 1000 && off + 60 <= buf.length; n++) {
    const name = buf.subarray(off, off + 16).toString('latin1').trim().replace(/\/$/, '');
    const size = Number.parseInt(buf.subarray(off + 48, off + 58).toString('latin1').trim(), 10);
    if (!Number.isFinite(size) || size < 0 || off + 60 + size > buf.length) throw new InputError('corrupt ar archive');
    out.push({ name, data: buf.subarray(off + 60, off + 60 + size) });
    off += 60 + size + (size % 2);
  }
  return out;
}

/** The content of `./control` in a tar archive. */
export function controlFromTar(tar: Buffer): string | undefined {
  let off = 0;
  let longName: string | undefined;
  for (let n = 0; n < 10000 && off + 512 <= tar.length; n++) {
    const h = tar.subarray(off, off + 512);
    if (h.every((b) => b === 0)) return undefined;
    const field = (a: number, b: number) => h.subarray(a, b).toString('latin1').replace(/\0.*$/s, '');
    const size = Number.parseInt(field(124, 136).trim() || '0', 8);
    const type = field(156, 157);
    const prefix = field(345, 500);
    let name = longName ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100));
    longName = undefined;
    const data = tar.subarray(off + 512, off + 512 + size);
    if (type === 'L') longName = data.toString('latin1').replace(/\0.*$/s, '');
    else {
      name = name.replace(/^\.\//, '');
      if (name === 'control' && (type === '0' || type === '')) return data.toString('utf8');
    }
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return undefined;
}

/**
 * Package and Version of a .deb, read in-process when its control archive is gzip or
 * plain tar; otherwise (xz, zstd) null: ask `dpkg-deb` (debInfoWithDpkgDeb).
 */
export function parseDeb(buf: Buffer): DebInfo | null {
  const members = arMembers(buf);
  if (members[0]?.name !== 'debian-binary') throw new InputError('not a Debian package (no debian-binary member)');
  const control = members.find((m) => m.name.startsWith('control.tar'));
  if (!control) throw new InputError('not a Debian package (no control archive)');
  let tar: Buffer;
  if (control.name === 'control.tar') tar = control.data;
  else if (control.name === 'control.tar.gz') tar = gunzipSync(control.data);
  else return null;
  const text = controlFromTar(tar);
  if (text === undefined) throw new InputError('not a Debian package (no control file)');
  return debInfoOf(parseControl(text));
}

function debInfoOf(fields: Record<string, string>): DebInfo {
  const pkg = fields['Package'];
  const version = fields['Version'];
  if (!pkg || !version) throw new InputError('the package has no Package or Version field');
  return { package: pkg, version, ...(fields['Architecture'] ? { architecture: fields['Architecture'] } : {}) };
}

/** `dpkg-deb -f FILE Package Version Architecture` on the controller. */
export function debInfoWithDpkgDeb(file: string): Promise<DebInfo> {
  return new Promise((resolve, reject) => {
    execFile('dpkg-deb', ['-f', '--', file, 'Package', 'Version', 'Architecture'], { encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') reject(new EnvironmentError(`${file}: its control archive is not gzip, and dpkg-deb (to read it) is not installed on the controller`));
        else reject(new InputError(`${file}: ${stderr.trim() || err.message}`));
        return;
      }
      try {
        resolve(debInfoOf(parseControl(stdout)));
      } catch (e) {
        reject(e);
      }
    });
  });
}

/** Package and Version of a .deb on the controller: in-process when possible, else dpkg-deb. */
export async function readDebInfo(file: string, content: Buffer): Promise<DebInfo> {
  let info: DebInfo | null;
  try {
    info = parseDeb(content);
  } catch (e) {
    if (e instanceof InputError) throw new InputError(`${file}: ${e.reason}`, undefined, { cause: e });
    throw e;
  }
  return info ?? (await debInfoWithDpkgDeb(file));
}
