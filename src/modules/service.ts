/**
 * The `service` module: a long-running program, started/stopped/enabled idempotently.
 *
 * Two ways, chosen by what the host runs (observed: `[ -d /run/systemd/system ]`):
 *
 * systemd: `systemctl is-active`/`is-enabled` are observed; start, stop, restart, reload,
 * enable and disable go through systemctl. With `exec`, the module writes the unit
 * /etc/systemd/system/NAME.service itself (then `systemctl daemon-reload`): After=
 * network.target plus `after`, Wants= and Requires= from `wants` and `requires`
 * (network-online.target goes in both After= and Wants= when either lists it), and a
 * daemon whose dependency is late keeps retrying: Restart=on-failure every 5 s
 * (RestartSec=5) without a start limit (StartLimitIntervalSec=0). A changed unit restarts
 * a running service when `state: started` only when what runs changed (its [Service]
 * section apart from Restart=/RestartSec=): dependencies and restart settings take effect
 * with the daemon-reload.
 *
 * supervised (no systemd: lab hosts, containers): underlay is the supervisor.
 * - /etc/underlay/services/NAME.json   the definition (exec argv, env, workdir; `after`
 *                                      only when given), compared on every run: a change
 *                                      of what runs restarts a started service (a change of
 *                                      `after` alone is only written: it orders the boot);
 * - /etc/underlay/services/NAME.run    the launcher generated from it (POSIX sh): sets
 *                                      umask 022, PATH (unless env gives one), env and
 *                                      workdir, then execs the program (so the PID of the
 *                                      launcher, which the start records, is the program's);
 * - /etc/underlay/services/NAME.enabled  present when `enabled: true`: the script of
 *                                      bootScript() starts these at boot, a service after
 *                                      the enabled ones its `after` names;
 * - /run/underlay/NAME.pid             the PID (one line, as other tools expect);
 * - /run/underlay/NAME.start           the process's start time (/proc/PID/stat field 22);
 * - /var/log/underlay/NAME.log         stdout and stderr, appended.
 * Started detached (`setsid`, stdin /dev/null, output to the log) so it outlives the SSH
 * session. "Running" means: the PID in the pidfile exists, is not a zombie, and is the
 * process that was started: its start time equals the recorded one (a reused PID has
 * another), or, where no start time was recorded, its /proc/PID/cmdline equals the
 * definition's argv. The start time is the primary check because a program may rewrite
 * its argv (its title) and stay the same process.
 * - stop: SIGTERM to the recorded process (to its process group: setsid made it the
 *   leader, so its children stop too), up to 5 s in 50 ms steps, then SIGKILL (2 s more).
 *   The PID is checked again right before signalling; nothing is ever killed by name.
 * - start: launch in the background and record the PID (`$!`: a background job of a
 *   shell without job control is no process group leader, so `setsid` execs without a
 *   fork, and so does the launcher) and its start time, read with the `read` builtin: no
 *   process and no polling for a pidfile; then check that the program runs (one that died
 *   already fails the task with the end of its log). At least `settle` seconds later
 *   (default 0.25) it is checked again (Decision.followUp): at the end of the play's
 *   section, or before a later `service` task of the same name, which waits for it. The
 *   host's next tasks go on meanwhile; a program that died by then fails the host with the
 *   end of its log.
 * - restarted: stop + start, always changed; reloaded: SIGHUP (start when not running),
 *   always changed.
 *
 * Besides `state` and `enabled`, the result says what this run did (check mode: what it
 * would do): `started` (it was started: it was not running, or it was restarted) and
 * `restarted` (it was running and was stopped and started: `state: restarted`, or its
 * definition changed). Conditions test these, not the message text.
 */
import { CommandError } from '../errors.js';
import { shlexSplit } from './command.js';
import {
  DEF_DIR,
  LOG_DIR,
  parseServiceFacts,
  RUN_DIR,
  SERVICE_NAME,
  serviceFactCommand,
  servicePaths,
  type ServiceFacts,
} from '../facts/service.js';
import { contained, quote, sh, type ShellCommand } from '../transport/quote.js';
import type { Action, Decision, Diff, ExecResult, ModuleDef } from './types.js';

export interface ServiceParams extends Record<string, unknown> {
  name: string;
  state?: 'started' | 'stopped' | 'restarted' | 'reloaded';
  enabled?: boolean;
  exec?: unknown;
  env?: Record<string, unknown>;
  workdir?: string;
  after?: string[];
  wants?: string[];
  requires?: string[];
  settle?: number;
}

/** Seconds a started supervised program must stay up (checked then, while the host goes on). */
export const DEFAULT_SETTLE = 0.25;

export type ServiceObserved = ServiceFacts;

/** What a supervised service runs; recorded as NAME.json. */
export interface ServiceDefinition {
  name: string;
  exec: string[];
  env: Record<string, string>;
  workdir: string;
  /** Supervised services started before this one at boot (recorded only when not empty). */
  after?: string[];
}

/** The dependencies of a unit written for `exec`, as given (`etcd` means etcd.service). */
export interface UnitDeps {
  after?: readonly string[];
  wants?: readonly string[];
  requires?: readonly string[];
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const ENABLED_STATES = new Set(['enabled', 'enabled-runtime', 'static', 'alias', 'indirect', 'generated']);
const ACTIVE_STATES = new Set(['active', 'activating', 'reloading']);

/**
 * Shell functions shared by the module's actions and the boot script (POSIX sh):
 * ul_stat PID: ul_state and ul_since, the state and start time of PID (/proc/PID/stat
 *   fields 3 and 22); fails when PID is gone;
 * ul_alive PID START: the process runs (not a zombie) and started at START;
 * ul_running NAME: the recorded process of NAME runs;
 * ul_start NAME: launches NAME detached and records its PID and start time (the
 *   launcher's, which execs the program: the same process).
 * The one-line files (pidfile, start time, /proc/PID/stat) are read with the `read`
 * builtin, not `cat`: no process per read. The start line of the log is written by `date`
 * itself, with the name in its format (SERVICE_NAME has no `%`): one process, where
 * `echo "$(date ...) ..."` took a fork of the shell too.
 */
export const SERVICE_LIB = sh`ul_stat() {
  ul_a=$1
  ul_s=
  { IFS= read -r ul_s <"/proc/$ul_a/stat"; } 2>/dev/null
  set -- \${ul_s##*") "}
  if [ $# -lt 20 ]; then
    # a command name holding a newline: the whole file
    ul_s=$(cat "/proc/$ul_a/stat" 2>/dev/null)
    set -- \${ul_s##*") "}
  fi
  [ $# -ge 20 ] || return 1
  ul_state=$1
  ul_since=\${20}
}
ul_alive() {
  [ -n "$2" ] && ul_stat "$1" || return 1
  case $ul_state in Z|X|x) return 1 ;; esac
  [ "$ul_since" = "$2" ]
}
ul_running() {
  ul_p=
  ul_t=
  { IFS= read -r ul_p <"${RUN_DIR}/$1.pid"; } 2>/dev/null
  case $ul_p in ''|*[!0-9]*) return 1 ;; esac
  { IFS= read -r ul_t <"${RUN_DIR}/$1.start"; } 2>/dev/null
  ul_alive "$ul_p" "$ul_t"
}
ul_start() {
  ul_n=$1
  { [ -d ${RUN_DIR} ] && [ -d ${LOG_DIR} ]; } || mkdir -p ${RUN_DIR} ${LOG_DIR} || return 1
  if [ -e "${RUN_DIR}/$ul_n.pid" ] || [ -e "${RUN_DIR}/$ul_n.start" ]; then rm -f "${RUN_DIR}/$ul_n.pid" "${RUN_DIR}/$ul_n.start"; fi
  date "+%Y-%m-%dT%H:%M:%S%z underlay: starting $ul_n" >>"${LOG_DIR}/$ul_n.log"
  # no job control: the job stays in this shell's process group, so setsid does not fork
  set +m
  setsid sh "${DEF_DIR}/$ul_n.run" </dev/null >>"${LOG_DIR}/$ul_n.log" 2>&1 &
  ul_p=$!
  ul_stat "$ul_p" || return 1
  # the start time first, the PID last: a pidfile means both are there
  echo "$ul_since" >"${RUN_DIR}/$ul_n.start" && echo "$ul_p" >"${RUN_DIR}/$ul_n.pid"
}`;

/**
 * Shell functions of the boot script that order the start (POSIX sh), and nothing else:
 * ul_after DIR NAME: the names in the "after" list of DIR/NAME.json (as definitionText
 *   writes it), space-separated (NAME.service counts as NAME);
 * ul_boot_order DIR: the services enabled in DIR (NAME.enabled), one a line, in a stable
 *   topological order of `after` among them: each time, the first in name order (bytes,
 *   LC_ALL=C) whose `after` names no service still to place (names not enabled are
 *   ignored); when there is none (a cycle), the first in name order, with a message on
 *   stderr. Names that are not service names are left out (message on stderr). Runs in a
 *   subshell: its variables, `set -f` and LC_ALL stay there.
 */
export const BOOT_ORDER_LIB = `ul_after() {
  [ -f "$1/$2.json" ] || return 0
  tr -d ' \\t\\r\\n' < "$1/$2.json" | sed -n 's/.*"after":\\[\\([^]]*\\)\\].*/\\1/p' | tr ',"' '  '
}
ul_boot_order() (
  LC_ALL=C
  ul_o_dir=$1
  ul_o_pending=' '
  ul_o_deps=
  for ul_o_f in "$ul_o_dir"/*.enabled; do
    [ -e "$ul_o_f" ] || continue
    ul_o_n=\${ul_o_f##*/}
    ul_o_n=\${ul_o_n%.enabled}
    case $ul_o_n in
      ''|[.-]*|*[!A-Za-z0-9_.@:-]*) echo "underlay-boot: $ul_o_n: not a service name, left out" >&2; continue ;;
    esac
    ul_o_pending="$ul_o_pending$ul_o_n "
    ul_o_deps="$ul_o_deps$ul_o_n $(ul_after "$ul_o_dir" "$ul_o_n")
"
  done
  set -f
  ul_o_k=0
  while [ "$ul_o_pending" != ' ' ] && [ "$ul_o_k" -lt 100000 ]; do
    ul_o_k=$((ul_o_k + 1))
    ul_o_pick=
    for ul_o_c in $ul_o_pending; do
      ul_o_ready=1
      for ul_o_d in $(printf '%s' "$ul_o_deps" | while read -r ul_o_a ul_o_b; do if [ "$ul_o_a" = "$ul_o_c" ]; then echo "$ul_o_b"; break; fi; done); do
        ul_o_d=\${ul_o_d%.service}
        [ "$ul_o_d" = "$ul_o_c" ] && continue
        case $ul_o_pending in *" $ul_o_d "*) ul_o_ready=0; break ;; esac
      done
      if [ "$ul_o_ready" = 1 ]; then ul_o_pick=$ul_o_c; break; fi
    done
    if [ -z "$ul_o_pick" ]; then
      for ul_o_c in $ul_o_pending; do ul_o_pick=$ul_o_c; break; done
      ul_o_list=$(echo $ul_o_pending)
      echo "underlay-boot: a cycle in the after of $ul_o_list: starting $ul_o_pick first (name order)" >&2
    fi
    echo "$ul_o_pick"
    ul_o_rest=' '
    for ul_o_c in $ul_o_pending; do [ "$ul_o_c" = "$ul_o_pick" ] || ul_o_rest="$ul_o_rest$ul_o_c "; done
    ul_o_pending=$ul_o_rest
  done
)`;

/**
 * The boot step for supervised services: a POSIX sh script that starts every service
 * with a NAME.enabled flag in /etc/underlay/services (those already running are left
 * alone), a service after the enabled ones its `after` names (BOOT_ORDER_LIB), then checks
 * after 1 s that each is still running. Exit code 1 when one is not.
 */
export function bootScript(): string {
  return `#!/bin/sh
# Starts the services supervised by underlay that are enabled
# (${DEF_DIR}/NAME.enabled; NAME.run is the launcher), each after the enabled
# ones the "after" of its NAME.json names. Generated by underlay.
${SERVICE_LIB.text}
${BOOT_ORDER_LIB}
ul_started=
for ul_name in $(ul_boot_order ${DEF_DIR}); do
  if [ ! -f "${DEF_DIR}/$ul_name.run" ]; then
    echo "underlay-boot: $ul_name: no launcher ${DEF_DIR}/$ul_name.run" >&2
    continue
  fi
  if ul_running "$ul_name"; then
    echo "underlay-boot: $ul_name: already running"
    continue
  fi
  ul_start "$ul_name" && ul_started="$ul_started $ul_name"
done
[ -n "$ul_started" ] || exit 0
sleep 1
ul_rc=0
for ul_name in $ul_started; do
  if ul_running "$ul_name"; then
    echo "underlay-boot: $ul_name: started (pid $ul_p)"
  else
    echo "underlay-boot: $ul_name: exited right after start; see ${LOG_DIR}/$ul_name.log" >&2
    ul_rc=1
  fi
done
exit $ul_rc
`;
}

/**
 * The definition as recorded (stable: env keys sorted; `after` last and only when not
 * empty, so a service without it is recorded exactly as before `after` existed).
 */
export function definitionText(d: ServiceDefinition): string {
  const env: Record<string, string> = {};
  for (const k of Object.keys(d.env).sort()) env[k] = d.env[k]!;
  const after = d.after !== undefined && d.after.length > 0 ? { after: d.after } : {};
  return JSON.stringify({ name: d.name, exec: d.exec, env, workdir: d.workdir, ...after }, null, 2) + '\n';
}

/** What a definition runs: a change here restarts a running service, a change of `after` does not. */
function runtimeText(d: ServiceDefinition): string {
  return definitionText({ name: d.name, exec: d.exec, env: d.env, workdir: d.workdir });
}

function parseDefinition(text: string | null): ServiceDefinition | null {
  if (text === null) return null;
  try {
    const v = JSON.parse(text) as Partial<ServiceDefinition>;
    if (typeof v.name !== 'string' || !Array.isArray(v.exec) || v.exec.some((w) => typeof w !== 'string') || v.exec.length === 0) return null;
    const env: Record<string, string> = {};
    for (const [k, x] of Object.entries(v.env ?? {})) if (ENV_NAME.test(k) && typeof x === 'string') env[k] = x;
    const after = Array.isArray(v.after) ? v.after.filter((n): n is string => typeof n === 'string' && SERVICE_NAME.test(n)) : [];
    return { name: v.name, exec: v.exec, env, workdir: typeof v.workdir === 'string' ? v.workdir : '/', ...(after.length > 0 ? { after } : {}) };
  } catch {
    return null;
  }
}

/** The launcher NAME.run: umask, environment and workdir, then exec. */
export function launcherText(d: ServiceDefinition): string {
  return launcherLines(d).join('\n') + '\n';
}

/**
 * The launcher as earlier builds wrote it: it recorded its start time and PID itself (a
 * `cat` and a `mv`) while the start polled for the pidfile. A host's launcher of that form
 * runs the same program: it is rewritten, and the service is not restarted for it.
 */
export function legacyLauncherText(d: ServiceDefinition): string {
  const p = servicePaths(d.name);
  const lines = launcherLines(d);
  lines.splice(
    lines.length - 1,
    0,
    sh`ul_s=$(cat /proc/$$/stat) && ul_s=\${ul_s##*") "} && set -- $ul_s && echo "\${20}" > ${p.startfile} || exit 1`.text,
    sh`echo $$ > ${p.pidfile + '.new'} && mv -f -- ${p.pidfile + '.new'} ${p.pidfile} || exit 1`.text,
  );
  return lines.join('\n') + '\n';
}

function launcherLines(d: ServiceDefinition): string[] {
  const lines = [
    '#!/bin/sh',
    `# Service ${d.name}, supervised by underlay: generated from ${d.name}.json, do not edit.`,
    'umask 022',
    sh`cd -- ${d.workdir} || exit 1`.text,
  ];
  if (!('PATH' in d.env)) lines.push(sh`PATH=${DEFAULT_PATH}; export PATH`.text);
  for (const k of Object.keys(d.env).sort()) lines.push(`export ${k}=${quote(d.env[k]!)}`);
  lines.push(sh`exec ${d.exec}`.text);
  return lines;
}

/** Quotes one word for a systemd unit (ExecStart=): specifiers and variables escaped. */
function systemdWord(w: string): string {
  const esc = w.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  if (/^[A-Za-z0-9_@%+=:,./$-]+$/.test(esc)) return esc;
  return '"' + esc.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') + '"';
}

function systemdQuoted(s: string): string {
  return '"' + s.replace(/%/g, '%%').replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') + '"';
}

const UNIT_SUFFIX = /\.(service|socket|target|device|mount|automount|swap|path|timer|slice|scope)$/;
const NETWORK_ONLINE = 'network-online.target';

/** A unit name as systemd wants it: a name without a unit type is NAME.service. */
export function unitName(n: string): string {
  return UNIT_SUFFIX.test(n) ? n : `${n}.service`;
}

/** The supervised service a name of `after` means (NAME or NAME.service); null for other units. */
function supervisedName(n: string): string | null {
  if (n.endsWith('.service')) return n.slice(0, -'.service'.length) || null;
  return UNIT_SUFFIX.test(n) ? null : n;
}

const uniq = (xs: readonly string[]): string[] => [...new Set(xs)];

/**
 * The unit file written for `exec` where systemd runs. [Unit]: After=network.target and
 * the units of `deps.after`; Wants= and Requires= from `deps.wants` and `deps.requires`
 * (network-online.target, when either after or wants lists it, goes in both After= and
 * Wants=, as systemd documents for it); StartLimitIntervalSec=0. [Service]:
 * Restart=on-failure with RestartSec=5, so a daemon started before what it needs is up
 * keeps retrying instead of hitting the start limit.
 */
export function unitText(d: ServiceDefinition, workdirGiven: boolean, deps: UnitDeps = {}): string {
  const after = uniq(['network.target', ...(deps.after ?? []).map(unitName)]);
  const wants = uniq((deps.wants ?? []).map(unitName));
  const requires = uniq((deps.requires ?? []).map(unitName));
  if (after.includes(NETWORK_ONLINE) || wants.includes(NETWORK_ONLINE)) {
    if (!after.includes(NETWORK_ONLINE)) after.push(NETWORK_ONLINE);
    if (!wants.includes(NETWORK_ONLINE)) wants.push(NETWORK_ONLINE);
  }
  const lines = ['# Written by underlay: changes made here are overwritten.', '[Unit]', `Description=${d.name.replace(/%/g, '%%')} (managed by underlay)`, `After=${after.join(' ')}`];
  if (wants.length > 0) lines.push(`Wants=${wants.join(' ')}`);
  if (requires.length > 0) lines.push(`Requires=${requires.join(' ')}`);
  lines.push('StartLimitIntervalSec=0', '', '[Service]', 'Type=simple');
  lines.push(`ExecStart=${d.exec.map(systemdWord).join(' ')}`);
  if (workdirGiven) lines.push(`WorkingDirectory=${d.workdir.replace(/%/g, '%%')}`);
  for (const k of Object.keys(d.env).sort()) lines.push(`Environment=${systemdQuoted(`${k}=${d.env[k]}`)}`);
  lines.push('Restart=on-failure', 'RestartSec=5', '', '[Install]', 'WantedBy=multi-user.target');
  return lines.join('\n') + '\n';
}

/**
 * What a unit runs: the lines of its [Service] section but Restart= and RestartSec=. A
 * change elsewhere (dependencies, start limit, restart settings) takes effect with
 * `systemctl daemon-reload` and does not need a restart.
 */
function unitRuntime(text: string): string {
  let section = '';
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    if (line.startsWith('[')) {
      section = line;
      continue;
    }
    if (section === '[Service]' && !/^Restart(Sec)?=/.test(line)) out.push(line);
  }
  return out.join('\n');
}

function startCmd(name: string): ShellCommand {
  const p = servicePaths(name);
  return contained(sh`${SERVICE_LIB}
ul_start ${name}
if ul_running ${name}; then
  echo "pid=$ul_p"
else
  echo ${`service ${name} exited right after it was started; the end of ${p.log}:`} >&2
  tail -n 20 ${p.log} >&2
  return 1
fi`);
}

function secondsText(s: number): string {
  return s.toFixed(3).replace(/\.?0+$/, '') || '0';
}

/** The check `settle` seconds after a start (read-only): the program still runs. */
export function settleCheckCmd(name: string, settleSeconds: number): ShellCommand {
  const p = servicePaths(name);
  return contained(sh`${SERVICE_LIB}
if ! ul_running ${name}; then
  echo ${`service ${name} exited within ${secondsText(settleSeconds)} s of its start; the end of ${p.log}:`} >&2
  tail -n 20 ${p.log} >&2
  return 1
fi`);
}

function stopCmd(name: string, pid: number, starttime: string, groupLeader: boolean): ShellCommand {
  const p = servicePaths(name);
  const target = groupLeader ? `-${pid}` : String(pid);
  return contained(sh`${SERVICE_LIB}
ul_kill() { kill -s "$1" -- ${target} 2>/dev/null || kill -s "$1" ${pid} 2>/dev/null; }
if ul_alive ${pid} ${starttime}; then
  ul_kill TERM
  ul_i=0
  while [ "$ul_i" -lt 100 ] && ul_alive ${pid} ${starttime}; do sleep 0.05; ul_i=$((ul_i + 1)); done
  if ul_alive ${pid} ${starttime}; then
    ul_kill KILL
    ul_i=0
    while [ "$ul_i" -lt 40 ] && ul_alive ${pid} ${starttime}; do sleep 0.05; ul_i=$((ul_i + 1)); done
  fi
  if ul_alive ${pid} ${starttime}; then echo ${`service ${name} (pid ${pid}) did not stop`} >&2; return 1; fi
fi
rm -f -- ${p.pidfile} ${p.startfile}`);
}

function hupCmd(pid: number, starttime: string): ShellCommand {
  return contained(sh`${SERVICE_LIB}
ul_alive ${pid} ${starttime} && kill -s HUP ${pid}`);
}

/** The process of a supervised service, when it runs (see the file comment). */
export function runningProcess(f: Extract<ServiceFacts, { init: 'supervised' }>, recorded: ServiceDefinition | null): { pid: number; starttime: string; groupLeader: boolean } | null {
  if (f.pid === null || f.stat === null || f.stat.pid !== f.pid) return null;
  if (['Z', 'X', 'x'].includes(f.stat.state)) return null;
  const same =
    f.recordedStart !== null
      ? f.stat.starttime === f.recordedStart
      : recorded !== null && f.cmdline !== null && f.cmdline.length === recorded.exec.length && f.cmdline.every((w, i) => w === recorded.exec[i]);
  return same ? { pid: f.pid, starttime: f.stat.starttime, groupLeader: f.stat.pgrp === f.pid } : null;
}

function execArgv(v: unknown): string[] | string {
  if (typeof v === 'string') {
    try {
      return shlexSplit(v);
    } catch (e) {
      return (e as Error).message;
    }
  }
  if (Array.isArray(v) && v.every((w) => typeof w === 'string' || typeof w === 'number')) return v.map(String);
  return 'exec must be a command line or a list of words';
}

function pidFinish(results: ExecResult[]): Record<string, unknown> {
  for (let i = results.length - 1; i >= 0; i--) {
    const m = /^pid=(\d+)$/m.exec(results[i]!.stdout);
    if (m) return { pid: Number(m[1]) };
  }
  return {};
}

/** The definitions' directory, made only where it is missing (no process when it is there). */
const ensureDefDir = contained(sh`[ -d ${DEF_DIR} ] || mkdir -p -- ${DEF_DIR}`);

function run(cmd: ShellCommand, describe: string): Action {
  return { kind: 'run', cmd, describe };
}

function decideSystemd(p: ServiceParams, f: Extract<ServiceFacts, { init: 'systemd' }>, def: ServiceDefinition | null, deps: UnitDeps): Decision {
  const unit = `${p.name}.service`;
  const actions: Action[] = [];
  const diff: Diff[] = [];
  const done: string[] = [];
  const paths = servicePaths(p.name);
  let unitChanged = false;
  // A unit of ours that changed only outside what runs needs no restart (see unitRuntime).
  let runtimeChanged = false;
  if (def) {
    if (/^[@\-:+!]/.test(def.exec[0]!)) return { changed: false, actions: [], failed: `service ${p.name}: the program of exec must not start with @ - : + or ! under systemd` };
    const want = unitText(def, p.workdir !== undefined, deps);
    if (f.unit !== want) {
      unitChanged = true;
      runtimeChanged = f.unit === null || unitRuntime(f.unit) !== unitRuntime(want);
      actions.push({ kind: 'upload', path: paths.unit, content: want, mode: 0o644, describe: `write ${paths.unit}` });
      actions.push(run(sh`systemctl daemon-reload`, 'systemctl daemon-reload'));
      diff.push({ path: paths.unit, before: f.unit ?? '', after: want });
      done.push(f.unit === null ? 'unit written' : 'unit updated');
    }
  }
  const exists = f.enabled !== 'not-found' || unitChanged;
  if (!exists) return { changed: false, actions: [], failed: `service ${p.name}: no unit ${unit} on this host (give exec to define it)` };
  if (f.enabled === 'masked' && (p.enabled === true || p.state === 'started' || p.state === 'restarted' || p.state === 'reloaded')) {
    return { changed: false, actions: [], failed: `service ${p.name}: ${unit} is masked (systemctl unmask ${unit})` };
  }
  const isEnabled = ENABLED_STATES.has(f.enabled);
  if (p.enabled === true && !isEnabled) {
    actions.push(run(sh`systemctl enable -- ${unit}`, `systemctl enable ${unit}`));
    done.push('enabled');
  } else if (p.enabled === false && isEnabled && f.enabled !== 'static') {
    actions.push(run(sh`systemctl disable -- ${unit}`, `systemctl disable ${unit}`));
    done.push('disabled');
  }
  const active = ACTIVE_STATES.has(f.active);
  let always = false;
  let after = active;
  let started = false;
  switch (p.state) {
    case 'started':
      if (!active) {
        actions.push(run(sh`systemctl start -- ${unit}`, `systemctl start ${unit}`));
        done.push('started');
        started = true;
      } else if (runtimeChanged) {
        actions.push(run(sh`systemctl restart -- ${unit}`, `systemctl restart ${unit}`));
        done.push('restarted (unit changed)');
        started = true;
      }
      after = true;
      break;
    case 'stopped':
      if (active) {
        actions.push(run(sh`systemctl stop -- ${unit}`, `systemctl stop ${unit}`));
        done.push('stopped');
      }
      after = false;
      break;
    case 'restarted':
      actions.push(run(sh`systemctl restart -- ${unit}`, `systemctl restart ${unit}`));
      done.push('restarted');
      started = true;
      always = true;
      after = true;
      break;
    case 'reloaded':
      actions.push(active ? run(sh`systemctl reload -- ${unit}`, `systemctl reload ${unit}`) : run(sh`systemctl start -- ${unit}`, `systemctl start ${unit}`));
      done.push(active ? 'reloaded' : 'started');
      started = !active;
      always = true;
      after = true;
      break;
    case undefined:
      break;
  }
  const enabledAfter = p.enabled ?? isEnabled;
  const changed = always || actions.length > 0;
  return {
    changed,
    actions,
    ...(diff.length > 0 ? { diff } : {}),
    msg: changed ? `${unit}: ${done.join(', ')}` : `${unit} is ${active ? 'running' : 'stopped'}${p.enabled !== undefined ? `, ${isEnabled ? 'enabled' : 'disabled'}` : ''}`,
    result: {
      name: p.name,
      init: 'systemd',
      state: after ? 'started' : 'stopped',
      enabled: enabledAfter,
      started,
      // a restart of a unit that was not active only starts it
      restarted: started && active,
      status: { ActiveState: f.active, UnitFileState: f.enabled },
    },
  };
}

function decideSupervised(p: ServiceParams, f: Extract<ServiceFacts, { init: 'supervised' }>, given: ServiceDefinition | null): Decision {
  const paths = servicePaths(p.name);
  const recorded = parseDefinition(f.def);
  const def = given ?? recorded;
  const proc = runningProcess(f, recorded);
  const result = (state: 'started' | 'stopped', enabled: boolean, started = false, restarted = false) => ({
    name: p.name,
    init: 'supervised',
    state,
    enabled,
    started,
    restarted,
    ...(proc && state === 'started' ? { pid: proc.pid } : {}),
  });
  if (!def) {
    // Nothing recorded: only "stop it" and "do not start it at boot" can be satisfied.
    if ((p.state === undefined || p.state === 'stopped') && p.enabled !== true) {
      const actions: Action[] = f.enabledFlag ? [run(sh`rm -f -- ${paths.enabledFlag}`, `rm ${paths.enabledFlag}`)] : [];
      return { changed: actions.length > 0, actions, msg: `service ${p.name} is not defined on this host`, result: result('stopped', false) };
    }
    return { changed: false, actions: [], failed: `service ${p.name} is not defined on this host (no systemd here): give exec to define it` };
  }
  const actions: Action[] = [];
  const diff: Diff[] = [];
  const done: string[] = [];
  const wantDef = definitionText(def);
  const wantLauncher = launcherText(def);
  const defChanged = f.def !== wantDef || f.launcher !== wantLauncher;
  // What runs changed (not only `after`, which orders the boot): a running service restarts.
  // A launcher of the earlier form (legacyLauncherText) runs the same program.
  const launcherRuns = f.launcher === wantLauncher || f.launcher === legacyLauncherText(def);
  const runtimeChanged = !launcherRuns || recorded === null || runtimeText(recorded) !== runtimeText(def);
  if (defChanged) {
    actions.push(run(ensureDefDir, `mkdir -p ${DEF_DIR}`));
    actions.push({ kind: 'upload', path: paths.def, content: wantDef, mode: 0o644, describe: `write ${paths.def}` });
    actions.push({ kind: 'upload', path: paths.launcher, content: wantLauncher, mode: 0o755, describe: `write ${paths.launcher}` });
    diff.push({ path: paths.def, before: f.def ?? '', after: wantDef });
    done.push(f.def === null ? 'defined' : 'definition updated');
  }
  if (p.enabled === true && !f.enabledFlag) {
    actions.push(run(contained(sh`{ ${ensureDefDir}; } && true > ${paths.enabledFlag}`), `enable ${p.name} at boot (${paths.enabledFlag})`));
    done.push('enabled');
  } else if (p.enabled === false && f.enabledFlag) {
    actions.push(run(sh`rm -f -- ${paths.enabledFlag}`, `disable ${p.name} at boot (rm ${paths.enabledFlag})`));
    done.push('disabled');
  }
  // Starting does not wait; stopping waits at most 7 s for the end, in a bounded loop of
  // shell builtins and `sleep`: no time limit (a `timeout` process and a second `sh`) is put
  // around either.
  const stop = proc ? run(stopCmd(p.name, proc.pid, proc.starttime, proc.groupLeader), `stop ${p.name} (pid ${proc.pid})`) : undefined;
  const start = run(startCmd(p.name), `start ${p.name}`);
  let always = false;
  let after: 'started' | 'stopped' = proc ? 'started' : 'stopped';
  switch (p.state) {
    case 'started':
      if (!proc) {
        actions.push(start);
        done.push('started');
      } else if (defChanged && runtimeChanged && f.def !== null && stop) {
        actions.push(stop, start);
        done.push('restarted (definition changed)');
      }
      after = 'started';
      break;
    case 'stopped':
      if (stop) {
        actions.push(stop);
        done.push(`stopped (pid ${proc!.pid})`);
      }
      after = 'stopped';
      break;
    case 'restarted':
      if (stop) actions.push(stop);
      actions.push(start);
      done.push('restarted');
      always = true;
      after = 'started';
      break;
    case 'reloaded':
      if (proc) actions.push(run(hupCmd(proc.pid, proc.starttime), `reload ${p.name} (SIGHUP to pid ${proc.pid})`));
      else actions.push(start);
      done.push(proc ? 'reloaded' : 'started');
      always = true;
      after = 'started';
      break;
    case undefined:
      break;
  }
  const enabled = p.enabled ?? f.enabledFlag;
  const changed = always || actions.length > 0;
  const starts = actions.includes(start);
  const restarts = starts && stop !== undefined && actions.includes(stop);
  const settle = p.settle ?? DEFAULT_SETTLE;
  const followUp =
    starts && settle > 0
      ? { followUp: { cmd: settleCheckCmd(p.name, settle), afterMs: Math.round(settle * 1000), describe: `${p.name} still runs ${secondsText(settle)} s after its start`, key: serviceKey(p.name) } }
      : {};
  return {
    changed,
    actions,
    ...(diff.length > 0 ? { diff } : {}),
    msg: changed ? `${p.name}: ${done.join(', ')}` : `${p.name} is ${proc ? `running (pid ${proc.pid})` : 'stopped'}${p.enabled !== undefined ? `, ${enabled ? 'enabled' : 'disabled'}` : ''}`,
    result: result(after, enabled, starts, restarts),
    ...(starts ? { finish: pidFinish } : {}),
    ...followUp,
  };
}

/** The follow-up key of a service (Decision.followUp, ModuleDef.followUpKey). */
function serviceKey(name: string): string {
  return `service:${name.replace(/\.service$/, '')}`;
}

export const service: ModuleDef<ServiceParams, ServiceObserved> = {
  name: 'service',
  description:
    'Manage a service: systemd units where systemd runs (writing the unit from `exec` when given), otherwise a process supervised by underlay (pidfile, log, definition under /etc/underlay/services, `enabled` honoured by the boot script). The result says what the run did, for conditions such as a handler\'s `when`: `started` (it was started: it was not running, or it was restarted) and `restarted` (it was running and was stopped and started: `state: restarted`, or its definition changed).',
  schema: {
    params: {
      name: { type: 'str', required: true, description: 'The service name (the unit is NAME.service under systemd).' },
      state: { type: 'str', choices: ['started', 'stopped', 'restarted', 'reloaded'], description: '`started`/`stopped` are idempotent; `restarted` and `reloaded` always act.' },
      enabled: { type: 'bool', description: 'Start at boot (systemctl enable; supervised: the NAME.enabled flag read by the boot script).' },
      exec: { type: 'raw', description: 'The program and its arguments: a command line (split like a shell, no shell features) or a list of words. Defines the service (unit file or supervised definition).' },
      env: { type: 'dict', description: 'Environment variables of the service (needs exec).' },
      workdir: { type: 'path', description: 'Working directory of the service (needs exec; default /).' },
      after: {
        type: 'list',
        elements: 'str',
        description:
          'Units this service starts after (needs exec). systemd: After= (network.target is always there; a name without a unit type means NAME.service). Supervised: the boot script starts it after those of these that are enabled supervised services (NAME or NAME.service; other names are ignored), recorded in NAME.json.',
      },
      wants: { type: 'list', elements: 'str', description: 'Units this service wants (systemd Wants=: started with it, their failure tolerated; needs exec). Ignored by supervised services.' },
      requires: {
        type: 'list',
        elements: 'str',
        description: 'Units this service requires (systemd Requires=: started with it; stopping one stops this service too; with after, it does not start when one fails to; needs exec). Ignored by supervised services.',
      },
      settle: {
        type: 'float',
        description: `Supervised services: seconds a started program must stay up. It is checked again no sooner than that after the start, while the host goes on with its next tasks: at the end of the play's section, or before a later service task of the same name; a program that exited by then fails the host with the end of its log. 0 (no check) to 60, default ${DEFAULT_SETTLE}. Ignored under systemd, whose start waits for the unit's own readiness.`,
      },
    },
    requiredOneOf: [['state', 'enabled', 'exec']],
  },
  followUpKey(params) {
    return typeof params['name'] === 'string' ? serviceKey(params['name']) : undefined;
  },
  async observe(ctx, p) {
    const name = p.name.replace(/\.service$/, '');
    if (!SERVICE_NAME.test(name)) return { init: 'supervised', def: null, launcher: null, enabledFlag: false, pid: null, recordedStart: null, stat: null, cmdline: null };
    const r = await ctx.run(serviceFactCommand(name));
    if (r.exitCode !== 0) throw new CommandError(`service ${name}: cannot read its state: ${(r.stderr || r.stdout).trim()}`, r);
    return parseServiceFacts(r.stdout);
  },
  decide(p, f) {
    const name = p.name.replace(/\.service$/, '');
    if (!SERVICE_NAME.test(name)) return { changed: false, actions: [], failed: `service: bad name '${p.name}' (letters, digits, _ . @ : -; no slash)` };
    const params = { ...p, name };
    if (p.settle !== undefined && !(Number.isFinite(p.settle) && p.settle >= 0 && p.settle <= 60)) {
      return { changed: false, actions: [], failed: `service ${name}: settle must be between 0 and 60 seconds (got ${String(p.settle)})` };
    }
    const deps: UnitDeps = {};
    for (const key of ['after', 'wants', 'requires'] as const) {
      const list = p[key];
      if (list === undefined) continue;
      for (const u of list) {
        if (typeof u !== 'string' || !SERVICE_NAME.test(u)) return { changed: false, actions: [], failed: `service ${name}: bad unit name '${String(u)}' in ${key} (letters, digits, _ . @ : -; no slash)` };
      }
      deps[key] = list;
    }
    let def: ServiceDefinition | null = null;
    if (p.exec !== undefined) {
      const argv = execArgv(p.exec);
      if (typeof argv === 'string') return { changed: false, actions: [], failed: `service ${name}: ${argv}` };
      if (argv.length === 0) return { changed: false, actions: [], failed: `service ${name}: exec is empty` };
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(p.env ?? {})) {
        if (!ENV_NAME.test(k)) return { changed: false, actions: [], failed: `service ${name}: bad environment variable name '${k}'` };
        if (v === null || typeof v === 'object') return { changed: false, actions: [], failed: `service ${name}: env ${k} must be a string` };
        env[k] = String(v);
      }
      const workdir = p.workdir ?? '/';
      if (!workdir.startsWith('/')) return { changed: false, actions: [], failed: `service ${name}: workdir must be an absolute path` };
      const after = uniq((deps.after ?? []).map(supervisedName).filter((n): n is string => n !== null));
      def = { name, exec: argv, env, workdir, ...(after.length > 0 ? { after } : {}) };
    } else if (p.env !== undefined || p.workdir !== undefined) {
      return { changed: false, actions: [], failed: `service ${name}: env and workdir need exec` };
    } else if (p.after !== undefined || p.wants !== undefined || p.requires !== undefined) {
      return { changed: false, actions: [], failed: `service ${name}: after, wants and requires need exec` };
    }
    return f.init === 'systemd' ? decideSystemd(params, f, def, deps) : decideSupervised(params, f, def);
  },
};

