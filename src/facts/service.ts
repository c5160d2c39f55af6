/**
 * The state of one service, in one command and one pure parser.
 *
 * Where systemd runs (`/run/systemd/system` exists) the command reports `systemctl
 * is-active` / `is-enabled` and the unit file underlay writes; elsewhere it reports the
 * files of a service supervised by underlay (see src/modules/service.ts) and the process
 * its pidfile names: `/proc/PID/stat` and `/proc/PID/cmdline`. File contents travel
 * base64-encoded, one `key=value` line each, so any byte survives.
 */
import { CommandError } from '../errors.js';
import { contained, sh, type ShellCommand } from '../transport/quote.js';

/** Service names: no slash, no leading dot or dash (they become file names). */
export const SERVICE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.@:-]*$/;

export const RUN_DIR = '/run/underlay';
export const LOG_DIR = '/var/log/underlay';
export const DEF_DIR = '/etc/underlay/services';

export interface ServicePaths {
  unit: string;
  def: string;
  launcher: string;
  enabledFlag: string;
  pidfile: string;
  startfile: string;
  log: string;
}

/** Where a service's files are, by mode. `name` must match SERVICE_NAME. */
export function servicePaths(name: string): ServicePaths {
  return {
    unit: `/etc/systemd/system/${name}.service`,
    def: `${DEF_DIR}/${name}.json`,
    launcher: `${DEF_DIR}/${name}.run`,
    enabledFlag: `${DEF_DIR}/${name}.enabled`,
    pidfile: `${RUN_DIR}/${name}.pid`,
    startfile: `${RUN_DIR}/${name}.start`,
    log: `${LOG_DIR}/${name}.log`,
  };
}

export function serviceFactCommand(name: string): ShellCommand {
  const p = servicePaths(name);
  return contained(sh`ul_b64() { if [ -f "$2" ] && [ -r "$2" ]; then printf '%s=' "$1"; base64 -w0 < "$2"; echo; fi; }
if [ -d /run/systemd/system ]; then
  echo init=systemd
  echo "active=$(LC_ALL=C systemctl is-active -- ${`${name}.service`} 2>/dev/null)"
  echo "enabled=$(LC_ALL=C systemctl is-enabled -- ${`${name}.service`} 2>/dev/null)"
  ul_b64 unit ${p.unit}
else
  echo init=supervised
  ul_b64 def ${p.def}
  ul_b64 launcher ${p.launcher}
  if [ -e ${p.enabledFlag} ]; then echo enabled_flag=1; fi
  ul_st=
  { IFS= read -r ul_st <${p.startfile}; } 2>/dev/null
  case $ul_st in ''|*[!0-9]*) ;; *) echo "start_ticks=$ul_st" ;; esac
  ul_pid=
  { IFS= read -r ul_pid <${p.pidfile}; } 2>/dev/null
  case $ul_pid in ''|*[!0-9]*) ul_pid= ;; esac
  if [ -n "$ul_pid" ]; then
    echo "pid=$ul_pid"
    ul_b64 stat "/proc/$ul_pid/stat"
    ul_b64 cmdline "/proc/$ul_pid/cmdline"
  fi
fi`);
}

export interface ProcStat {
  pid: number;
  /** R, S, D, Z, T, X... */
  state: string;
  pgrp: number;
  /** Clock ticks after boot: with the PID, identifies a process (PIDs are reused). */
  starttime: string;
}

/** Parses /proc/PID/stat (the command name may contain spaces and parentheses). */
export function parseProcStat(text: string): ProcStat | null {
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  const pid = Number.parseInt(text, 10);
  const rest = text.slice(close + 1).trim().split(/\s+/);
  // rest[0] is field 3 (state); field 5 is pgrp, field 22 starttime.
  const state = rest[0];
  const pgrp = Number(rest[2]);
  const starttime = rest[19];
  if (!Number.isInteger(pid) || state === undefined || starttime === undefined || !Number.isInteger(pgrp)) return null;
  return { pid, state, pgrp, starttime };
}

export type ServiceFacts =
  | {
      init: 'systemd';
      /** `systemctl is-active`: active, inactive, failed, activating... */
      active: string;
      /** `systemctl is-enabled`: enabled, disabled, static, masked...; 'not-found' when unknown. */
      enabled: string;
      /** The unit file underlay manages, when it exists. */
      unit: string | null;
    }
  | {
      init: 'supervised';
      /** The recorded definition (JSON text). */
      def: string | null;
      launcher: string | null;
      enabledFlag: boolean;
      pid: number | null;
      /** The start time the launcher recorded for `pid`. */
      recordedStart: string | null;
      stat: ProcStat | null;
      /** /proc/PID/cmdline split at NUL bytes. */
      cmdline: string[] | null;
    };

/** Parses the output of serviceFactCommand. */
export function parseServiceFacts(stdout: string): ServiceFacts {
  const kv = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) kv.set(line.slice(0, i), line.slice(i + 1));
  }
  const b64 = (k: string): string | null => {
    const v = kv.get(k);
    return v === undefined ? null : Buffer.from(v, 'base64').toString('utf8');
  };
  const init = kv.get('init');
  if (init === 'systemd') {
    return { init, active: kv.get('active') || 'unknown', enabled: kv.get('enabled') || 'not-found', unit: b64('unit') };
  }
  if (init !== 'supervised') throw new CommandError(`unexpected output of the service fact: ${JSON.stringify(stdout.slice(0, 200))}`, { command: 'service facts', exitCode: 0, stdout, stderr: '' });
  const pidText = kv.get('pid');
  const pid = pidText !== undefined && /^\d+$/.test(pidText) ? Number(pidText) : null;
  const statText = b64('stat');
  const cmdlineText = b64('cmdline');
  const startTicks = kv.get('start_ticks');
  const start = startTicks !== undefined && /^\d+$/.test(startTicks) ? startTicks : null;
  return {
    init,
    def: b64('def'),
    launcher: b64('launcher'),
    enabledFlag: kv.get('enabled_flag') === '1',
    pid,
    recordedStart: start === null ? null : start.trim() || null,
    stat: statText === null ? null : parseProcStat(statText),
    cmdline: cmdlineText === null ? null : cmdlineText.replace(/\0$/, '').split('\0'),
  };
}
