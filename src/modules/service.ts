/**
 * The `service` module: a long-running program, started/stopped/enabled idempotently.
 *
 * Two ways, chosen by what the host runs (observed: `[ -d /run/systemd/system ]`):
 *
 * systemd: `systemctl is-active`/`is-enabled` are observed; start, stop, restart, reload,
 * enable and disable go through systemctl. With `exec`, the module writes the unit
 * /etc/systemd/system/NAME.service itself (then `systemctl daemon-reload`); a changed unit
 * restarts a running service when `state: started`.
 *
 * supervised (no systemd: lab hosts, containers): underlay is the supervisor.
 * - /etc/underlay/services/NAME.json   the definition (exec argv, env, workdir), compared
 *                                      on every run: a change restarts a started service;
 * - /etc/underlay/services/NAME.run    the launcher generated from it (POSIX sh): sets
 *                                      umask 022, PATH (unless env gives one), env,
 *                                      workdir, records its start time and PID, then execs
 *                                      the program (so the PID is the program's);
 * - /etc/underlay/services/NAME.enabled  present when `enabled: true`: the script of
 *                                      bootScript() starts these at boot;
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
 * - start: launch, wait (bounded) for the pidfile, wait 1 s, check once: a program that
 *   died fails the task with the end of its log.
 * - restarted: stop + start, always changed; reloaded: SIGHUP (start when not running),
 *   always changed.
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
import { quote, sh, type ShellCommand } from '../transport/quote.js';
import type { Action, Decision, Diff, ExecResult, ModuleDef } from './types.js';

export interface ServiceParams extends Record<string, unknown> {
  name: string;
  state?: 'started' | 'stopped' | 'restarted' | 'reloaded';
  enabled?: boolean;
  exec?: unknown;
  env?: Record<string, unknown>;
  workdir?: string;
}

export type ServiceObserved = ServiceFacts;

/** What a supervised service runs; recorded as NAME.json. */
export interface ServiceDefinition {
  name: string;
  exec: string[];
  env: Record<string, string>;
  workdir: string;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const ENABLED_STATES = new Set(['enabled', 'enabled-runtime', 'static', 'alias', 'indirect', 'generated']);
const ACTIVE_STATES = new Set(['active', 'activating', 'reloading']);

/**
 * Shell functions shared by the module's actions and the boot script (POSIX sh):
 * ul_alive PID START: the process runs (not a zombie) and started at START;
 * ul_running NAME: the recorded process of NAME runs;
 * ul_start NAME: launches NAME detached and waits (at most 2 s) for its pidfile.
 */
const LIB = sh`ul_alive() {
  ul_want=$2
  [ -n "$ul_want" ] || return 1
  ul_s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$ul_s" ] || return 1
  ul_s=\${ul_s##*") "}
  set -- $ul_s
  case $1 in Z|X|x) return 1 ;; esac
  [ "\${20}" = "$ul_want" ]
}
ul_running() {
  ul_p=$(head -c 32 "${RUN_DIR}/$1.pid" 2>/dev/null)
  case $ul_p in ''|*[!0-9]*) return 1 ;; esac
  ul_alive "$ul_p" "$(cat "${RUN_DIR}/$1.start" 2>/dev/null)"
}
ul_start() {
  ul_n=$1
  mkdir -p ${RUN_DIR} ${LOG_DIR} || return 1
  rm -f "${RUN_DIR}/$ul_n.pid" "${RUN_DIR}/$ul_n.start"
  echo "$(date '+%Y-%m-%dT%H:%M:%S%z') underlay: starting $ul_n" >>"${LOG_DIR}/$ul_n.log"
  setsid sh "${DEF_DIR}/$ul_n.run" </dev/null >>"${LOG_DIR}/$ul_n.log" 2>&1 &
  ul_i=0
  while [ "$ul_i" -lt 100 ] && [ ! -s "${RUN_DIR}/$ul_n.pid" ]; do sleep 0.02; ul_i=$((ul_i + 1)); done
}`;

/**
 * The boot step for supervised services: a POSIX sh script that starts every service
 * with a NAME.enabled flag in /etc/underlay/services (those already running are left
 * alone), then checks after 1 s that each is still running. Exit code 1 when one is not.
 */
export function bootScript(): string {
  return `#!/bin/sh
# Starts the services supervised by underlay that are enabled
# (${DEF_DIR}/NAME.enabled; NAME.run is the launcher). Generated by underlay.
${LIB.text}
ul_started=
for ul_flag in ${DEF_DIR}/*.enabled; do
  [ -e "$ul_flag" ] || continue
  ul_name=\${ul_flag##*/}
  ul_name=\${ul_name%.enabled}
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
    echo "underlay-boot: $ul_name: started (pid $(cat "${RUN_DIR}/$ul_name.pid"))"
  else
    echo "underlay-boot: $ul_name: exited right after start; see ${LOG_DIR}/$ul_name.log" >&2
    ul_rc=1
  fi
done
exit $ul_rc
`;
}

/** The definition as recorded (stable: env keys sorted). */
export function definitionText(d: ServiceDefinition): string {
  const env: Record<string, string> = {};
  for (const k of Object.keys(d.env).sort()) env[k] = d.env[k]!;
  return JSON.stringify({ name: d.name, exec: d.exec, env, workdir: d.workdir }, null, 2) + '\n';
}

function parseDefinition(text: string | null): ServiceDefinition | null {
  if (text === null) return null;
  try {
    const v = JSON.parse(text) as Partial<ServiceDefinition>;
    if (typeof v.name !== 'string' || !Array.isArray(v.exec) || v.exec.some((w) => typeof w !== 'string') || v.exec.length === 0) return null;
    const env: Record<string, string> = {};
    for (const [k, x] of Object.entries(v.env ?? {})) if (ENV_NAME.test(k) && typeof x === 'string') env[k] = x;
    return { name: v.name, exec: v.exec, env, workdir: typeof v.workdir === 'string' ? v.workdir : '/' };
  } catch {
    return null;
  }
}

/** The launcher NAME.run: environment, workdir, start time and PID, then exec. */
export function launcherText(d: ServiceDefinition): string {
  const p = servicePaths(d.name);
  const lines = [
    '#!/bin/sh',
    `# Service ${d.name}, supervised by underlay: generated from ${d.name}.json, do not edit.`,
    'umask 022',
    sh`cd -- ${d.workdir} || exit 1`.text,
  ];
  if (!('PATH' in d.env)) lines.push(sh`PATH=${DEFAULT_PATH}; export PATH`.text);
  for (const k of Object.keys(d.env).sort()) lines.push(`export ${k}=${quote(d.env[k]!)}`);
  lines.push(
    // The start time first, the PID last: a pidfile means both are there.
    sh`ul_s=$(cat /proc/$$/stat) && ul_s=\${ul_s##*") "} && set -- $ul_s && echo "\${20}" > ${p.startfile} || exit 1`.text,
    sh`echo $$ > ${p.pidfile + '.new'} && mv -f -- ${p.pidfile + '.new'} ${p.pidfile} || exit 1`.text,
    sh`exec ${d.exec}`.text,
  );
  return lines.join('\n') + '\n';
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

/** The unit file written for `exec` where systemd runs. */
export function unitText(d: ServiceDefinition, workdirGiven: boolean): string {
  const lines = ['# Written by underlay: changes made here are overwritten.', '[Unit]', `Description=${d.name.replace(/%/g, '%%')} (managed by underlay)`, 'After=network.target', '', '[Service]', 'Type=simple'];
  lines.push(`ExecStart=${d.exec.map(systemdWord).join(' ')}`);
  if (workdirGiven) lines.push(`WorkingDirectory=${d.workdir.replace(/%/g, '%%')}`);
  for (const k of Object.keys(d.env).sort()) lines.push(`Environment=${systemdQuoted(`${k}=${d.env[k]}`)}`);
  lines.push('Restart=on-failure', '', '[Install]', 'WantedBy=multi-user.target');
  return lines.join('\n') + '\n';
}

function startCmd(name: string): ShellCommand {
  const p = servicePaths(name);
  return sh`${LIB}
ul_start ${name}
sleep 1
if ul_running ${name}; then
  echo "pid=$(cat ${p.pidfile})"
else
  echo ${`service ${name} exited right after it was started; the end of ${p.log}:`} >&2
  tail -n 20 ${p.log} >&2
  exit 1
fi`;
}

function stopCmd(name: string, pid: number, starttime: string, groupLeader: boolean): ShellCommand {
  const p = servicePaths(name);
  const target = groupLeader ? `-${pid}` : String(pid);
  return sh`${LIB}
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
  if ul_alive ${pid} ${starttime}; then echo ${`service ${name} (pid ${pid}) did not stop`} >&2; exit 1; fi
fi
rm -f -- ${p.pidfile} ${p.startfile}`;
}

function hupCmd(pid: number, starttime: string): ShellCommand {
  return sh`${LIB}
ul_alive ${pid} ${starttime} && kill -s HUP ${pid}`;
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

function run(cmd: ShellCommand, describe: string, timeoutMs?: number): Action {
  return { kind: 'run', cmd, describe, ...(timeoutMs !== undefined ? { timeoutMs } : {}) };
}

function decideSystemd(p: ServiceParams, f: Extract<ServiceFacts, { init: 'systemd' }>, def: ServiceDefinition | null): Decision {
  const unit = `${p.name}.service`;
  const actions: Action[] = [];
  const diff: Diff[] = [];
  const done: string[] = [];
  const paths = servicePaths(p.name);
  let unitChanged = false;
  if (def) {
    if (/^[@\-:+!]/.test(def.exec[0]!)) return { changed: false, actions: [], failed: `service ${p.name}: the program of exec must not start with @ - : + or ! under systemd` };
    const want = unitText(def, p.workdir !== undefined);
    if (f.unit !== want) {
      unitChanged = true;
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
  switch (p.state) {
    case 'started':
      if (!active) {
        actions.push(run(sh`systemctl start -- ${unit}`, `systemctl start ${unit}`));
        done.push('started');
      } else if (unitChanged) {
        actions.push(run(sh`systemctl restart -- ${unit}`, `systemctl restart ${unit}`));
        done.push('restarted (unit changed)');
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
      always = true;
      after = true;
      break;
    case 'reloaded':
      actions.push(active ? run(sh`systemctl reload -- ${unit}`, `systemctl reload ${unit}`) : run(sh`systemctl start -- ${unit}`, `systemctl start ${unit}`));
      done.push(active ? 'reloaded' : 'started');
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
    result: { name: p.name, init: 'systemd', state: after ? 'started' : 'stopped', enabled: enabledAfter, status: { ActiveState: f.active, UnitFileState: f.enabled } },
  };
}

function decideSupervised(p: ServiceParams, f: Extract<ServiceFacts, { init: 'supervised' }>, given: ServiceDefinition | null): Decision {
  const paths = servicePaths(p.name);
  const recorded = parseDefinition(f.def);
  const def = given ?? recorded;
  const proc = runningProcess(f, recorded);
  const result = (state: 'started' | 'stopped', enabled: boolean) => ({
    name: p.name,
    init: 'supervised',
    state,
    enabled,
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
  if (defChanged) {
    actions.push(run(sh`mkdir -p -- ${DEF_DIR}`, `mkdir -p ${DEF_DIR}`));
    actions.push({ kind: 'upload', path: paths.def, content: wantDef, mode: 0o644, describe: `write ${paths.def}` });
    actions.push({ kind: 'upload', path: paths.launcher, content: wantLauncher, mode: 0o755, describe: `write ${paths.launcher}` });
    diff.push({ path: paths.def, before: f.def ?? '', after: wantDef });
    done.push(f.def === null ? 'defined' : 'definition updated');
  }
  if (p.enabled === true && !f.enabledFlag) {
    actions.push(run(sh`mkdir -p -- ${DEF_DIR} && : > ${paths.enabledFlag}`, `enable ${p.name} at boot (${paths.enabledFlag})`));
    done.push('enabled');
  } else if (p.enabled === false && f.enabledFlag) {
    actions.push(run(sh`rm -f -- ${paths.enabledFlag}`, `disable ${p.name} at boot (rm ${paths.enabledFlag})`));
    done.push('disabled');
  }
  // Starting waits ~1 s, stopping up to 7 s: bounded well below these.
  const stop = proc ? run(stopCmd(p.name, proc.pid, proc.starttime, proc.groupLeader), `stop ${p.name} (pid ${proc.pid})`, 30_000) : undefined;
  const start = run(startCmd(p.name), `start ${p.name}`, 30_000);
  let always = false;
  let after: 'started' | 'stopped' = proc ? 'started' : 'stopped';
  switch (p.state) {
    case 'started':
      if (!proc) {
        actions.push(start);
        done.push('started');
      } else if (defChanged && f.def !== null && stop) {
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
  return {
    changed,
    actions,
    ...(diff.length > 0 ? { diff } : {}),
    msg: changed ? `${p.name}: ${done.join(', ')}` : `${p.name} is ${proc ? `running (pid ${proc.pid})` : 'stopped'}${p.enabled !== undefined ? `, ${enabled ? 'enabled' : 'disabled'}` : ''}`,
    result: result(after, enabled),
    ...(starts ? { finish: pidFinish } : {}),
  };
}

export const service: ModuleDef<ServiceParams, ServiceObserved> = {
  name: 'service',
  description:
    'Manage a service: systemd units where systemd runs (writing the unit from `exec` when given), otherwise a process supervised by underlay (pidfile, log, definition under /etc/underlay/services, `enabled` honoured by the boot script).',
  schema: {
    params: {
      name: { type: 'str', required: true, description: 'The service name (the unit is NAME.service under systemd).' },
      state: { type: 'str', choices: ['started', 'stopped', 'restarted', 'reloaded'], description: '`started`/`stopped` are idempotent; `restarted` and `reloaded` always act.' },
      enabled: { type: 'bool', description: 'Start at boot (systemctl enable; supervised: the NAME.enabled flag read by the boot script).' },
      exec: { type: 'raw', description: 'The program and its arguments: a command line (split like a shell, no shell features) or a list of words. Defines the service (unit file or supervised definition).' },
      env: { type: 'dict', description: 'Environment variables of the service (needs exec).' },
      workdir: { type: 'path', description: 'Working directory of the service (needs exec; default /).' },
    },
    requiredOneOf: [['state', 'enabled', 'exec']],
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
      def = { name, exec: argv, env, workdir };
    } else if (p.env !== undefined || p.workdir !== undefined) {
      return { changed: false, actions: [], failed: `service ${name}: env and workdir need exec` };
    }
    return f.init === 'systemd' ? decideSystemd(params, f, def) : decideSupervised(params, f, def);
  },
};

