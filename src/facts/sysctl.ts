/**
 * Kernel parameters: the runtime value (`sysctl -n NAME`) and the lines of a sysctl.d file,
 * each one command and one pure parser, plus the pure edit of such a file.
 *
 * Values are compared whitespace-normalised: `sysctl -n net.ipv4.ip_local_port_range`
 * prints `32768\t60999`, a playbook writes `32768 60999`.
 */
import { contained, sh, type ShellCommand } from '../transport/quote.js';
import type { ExecResult } from '../modules/types.js';

/** A sysctl name: dotted or slashed words (`net.ipv4.ip_forward`, `net/ipv4/conf/eth0.1/rp_filter`). */
export const SYSCTL_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.\/:@-]*$/;

export function normalizeSysctlValue(v: string): string {
  return v.trim().split(/\s+/).join(' ');
}

/** `sysctl -n NAME`; stderr is kept to tell an unknown key from other failures. */
export function sysctlValueCommand(name: string): ShellCommand {
  return sh`LC_ALL=C sysctl -n -- ${name}`;
}

export type SysctlValue = { exists: true; value: string } | { exists: false; error: string };

export function parseSysctlValue(r: Pick<ExecResult, 'exitCode' | 'stdout' | 'stderr'>): SysctlValue {
  if (r.exitCode === 0) return { exists: true, value: normalizeSysctlValue(r.stdout) };
  const error = (r.stderr || r.stdout).trim() || `exit code ${r.exitCode}`;
  return { exists: false, error };
}

/** Prints the file; exit code 3 when it does not exist. */
export function sysctlFileCommand(path: string): ShellCommand {
  return contained(sh`if [ -e ${path} ]; then cat -- ${path}; else return 3; fi`);
}

export interface SysctlLine {
  /** 0-based index among the file's lines. */
  index: number;
  key: string;
  value: string;
}

export interface SysctlFile {
  exists: boolean;
  text: string;
  entries: SysctlLine[];
}

/** Parses the output of sysctlFileCommand. */
export function parseSysctlFileResult(r: Pick<ExecResult, 'exitCode' | 'stdout' | 'stderr'>): SysctlFile | { error: string } {
  if (r.exitCode === 3) return { exists: false, text: '', entries: [] };
  if (r.exitCode !== 0) return { error: (r.stderr || r.stdout).trim() || `exit code ${r.exitCode}` };
  return { exists: true, text: r.stdout, entries: parseSysctlConf(r.stdout) };
}

/** The `key = value` lines of a sysctl.conf(5) file; comments (`#`, `;`) and blanks skipped. */
export function parseSysctlConf(text: string): SysctlLine[] {
  const out: SysctlLine[] = [];
  const lines = text.split('\n');
  lines.forEach((line, index) => {
    const t = line.trim();
    if (t === '' || t.startsWith('#') || t.startsWith(';')) return;
    const eq = t.indexOf('=');
    if (eq < 0) return;
    // A leading '-' means "ignore errors for this key" to systemd-sysctl and procps.
    const key = t.slice(0, eq).trim().replace(/^-/, '');
    out.push({ index, key, value: normalizeSysctlValue(t.slice(eq + 1)) });
  });
  return out;
}

/** Names compare with `/` and `.` as the same separator, as sysctl itself treats them. */
export function sameSysctlName(a: string, b: string): boolean {
  return a.replaceAll('/', '.') === b.replaceAll('/', '.');
}

/**
 * The file with `name` set to `value` (null: removed). The first line of the key is
 * replaced in place, later duplicates dropped; a new key is appended. Other lines stay as
 * they are. Returns the same text when nothing needs to change.
 */
export function editSysctlConf(text: string, name: string, value: string | null): string {
  const entries = parseSysctlConf(text).filter((e) => sameSysctlName(e.key, name));
  const want = value === null ? null : normalizeSysctlValue(value);
  if (want === null && entries.length === 0) return text;
  if (want !== null && entries.length === 1 && entries[0]!.value === want) return text;
  const lines = text === '' ? [] : text.split('\n');
  const trailingNewline = text.endsWith('\n');
  if (trailingNewline) lines.pop();
  const drop = new Set(entries.map((e) => e.index));
  const out: string[] = [];
  let placed = false;
  lines.forEach((line, i) => {
    if (!drop.has(i)) {
      out.push(line);
      return;
    }
    if (want !== null && !placed) {
      out.push(`${name}=${want}`);
      placed = true;
    }
  });
  if (want !== null && !placed) out.push(`${name}=${want}`);
  if (out.length === 0) return '';
  return out.join('\n') + '\n';
}
