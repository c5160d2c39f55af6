/**
 * ip_move: moves an interface's addresses and routes onto a bridge it joins (eth1 ->
 * breth1), safely, when the host may be reached through that very interface.
 *
 * The move is a transaction of actions the engine applies:
 *  1. the state of `from` (addresses, routes) is recorded under `state_dir`, with three
 *     scripts generated from it: apply, rollback and the rollback timer;
 *  2. the rollback timer is armed on the host, detached from the session (setsid, stdin
 *     /dev/null, a pidfile): after `rollback_after` seconds it restores `from`;
 *  3. the apply script runs detached too (it completes even if the session drops), as one
 *     step of idempotent lines: `to` up, `from` enslaved, addresses added to `to`, routes
 *     replaced onto `to`, addresses removed from `from`; then the action reads its
 *     "applied" marker. A failing line rolls back at once;
 *  4. a `confirm` action runs `confirm_command` over a NEW connection and, only if it
 *     succeeds, disarms the timer (kills the recorded PID, removes the pidfile).
 * If confirmation fails, the task fails and the host rolls itself back when the timer
 * fires. The timer and the disarm both claim the pidfile by renaming it (atomic), so a late
 * confirmation and a firing timer cannot both win.
 * Both detached scripts get the write end of a pipe as fd 3, which the action reads to its
 * end: the timer closes it once its pidfile is written, the apply script when it exits. So
 * the action returns the moment they are there, without polling (an apply that hangs is
 * waited for at most `rollback_after` seconds, at most 60, by `timeout`; the arming only
 * for the timer's first two lines, an `echo` and a `mv` in `state_dir`).
 * decide() is pure: the scripts are text generated from the observed state.
 *
 * An address with a lease (`dynamic`, a finite valid lifetime: what a DHCP client adds) is
 * not moved unless `allow_dynamic` says so: the DHCP client keeps managing `from`, renews
 * the lease there (re-adding the address on what is now a bridge port) and nothing renews
 * the copy on `to`. Such an uplink is bridged by the host's own network configuration
 * (the bridge gets the lease); once it is, `from` is a port of `to` without addresses and
 * the module has nothing to do. With `allow_dynamic` the addresses move as static ones.
 */
import { addrCidr, isLeased, LIFETIME_FOREVER, parseIpAddr, type IpAddr, type IpAddrLink } from '../facts/ipaddr.js';
import { badIfname, ipLinksCommand, linksByName, parseIpLink, type IpLink } from '../facts/iplink.js';
import { ipRouteCommand, parseIpRoute, routeFamily, type IpRoute } from '../facts/iproute.js';
import { contained, join, quote, raw, sh, type ShellCommand } from '../transport/quote.js';
import type { Action, Decision, ModuleDef } from './types.js';

export interface IpMoveParams extends Record<string, unknown> {
  from: string;
  to: string;
  confirm_timeout: number;
  rollback_after?: number;
  confirm_command?: string;
  state_dir: string;
  allow_dynamic: boolean;
}

export interface IpMoveTimer {
  state: 'none' | 'armed' | 'stale';
  pid?: number;
}

export interface IpMoveObserved {
  links: IpLink[];
  addrs: IpAddrLink[];
  /** The routes of every family (routeFamily tells them apart). */
  routes: IpRoute[];
  timer: IpMoveTimer;
}

export const DEFAULT_STATE_DIR = '/run/underlay/ip_move';
const PATH_LINE = 'PATH=/usr/sbin:/usr/bin:/sbin:/bin; export PATH';

/** The files of one move, all under state_dir and named after `from`. */
export function ipMovePaths(stateDir: string, from: string) {
  const base = `${stateDir.replace(/\/+$/, '')}/${from}`;
  return {
    dir: stateDir.replace(/\/+$/, '') || '/',
    state: `${base}.state`,
    apply: `${base}.apply`,
    rollback: `${base}.rollback`,
    timer: `${base}.timer`,
    pid: `${base}.pid`,
    applied: `${base}.applied`,
    applyFailed: `${base}.apply-failed`,
    rolledBack: `${base}.rolledback`,
    log: `${base}.log`,
  };
}

/**
 * Addresses that belong to the interface's configuration and move with it: every IPv4
 * address; IPv6 ones except link-local and learnt (dynamic) ones, which `to` learns itself.
 */
export function movableAddrs(link: IpAddrLink | undefined): IpAddr[] {
  if (!link) return [];
  return link.addrs.filter((a) => (a.family === 'inet' ? true : a.scope !== 'link' && a.scope !== 'host' && !a.dynamic));
}

/** Routes through `dev` that were configured (not the kernel's own prefix, local or RA routes). */
export function movableRoutes(routes: readonly IpRoute[], dev: string): IpRoute[] {
  return routes.filter(
    (r) =>
      r.dev === dev &&
      (r.type === undefined || r.type === 'unicast') &&
      r.protocol !== 'kernel' &&
      r.protocol !== 'ra' &&
      r.table !== 'local' &&
      !r.dst.toLowerCase().startsWith('fe80:'),
  );
}

function addrWords(a: IpAddr): string[] {
  return a.peer !== undefined ? [a.local, 'peer', `${a.peer}/${a.prefixlen}`] : [addrCidr(a)];
}

function addrReplace(a: IpAddr, dev: string): ShellCommand {
  const fam = a.family === 'inet6' ? sh`ip -6` : sh`ip`;
  const brd = a.broadcast !== undefined ? sh` brd ${a.broadcast}` : sh``;
  const scope = a.scope !== 'global' ? sh` scope ${a.scope}` : sh``;
  // The address was in use already: no duplicate address detection on the new device.
  const nodad = a.family === 'inet6' ? sh` nodad` : sh``;
  return sh`${fam} addr replace ${addrWords(a)}${brd}${scope} dev ${dev}${nodad}`;
}

function addrDel(a: IpAddr, dev: string): ShellCommand {
  const fam = a.family === 'inet6' ? sh`ip -6` : sh`ip`;
  return sh`${fam} addr del ${addrWords(a)} dev ${dev}`;
}

function routeReplace(r: IpRoute, dev: string, family: 4 | 6): ShellCommand {
  const words: string[] = [r.dst];
  if (r.gateway !== undefined) words.push('via', r.gateway);
  words.push('dev', dev);
  if (r.metric !== undefined) words.push('metric', String(r.metric));
  if (r.protocol !== undefined) words.push('proto', r.protocol);
  if (r.scope !== undefined) words.push('scope', r.scope);
  if (r.prefsrc !== undefined) words.push('src', r.prefsrc);
  if (r.table !== undefined) words.push('table', r.table);
  if (r.flags.includes('onlink')) words.push('onlink');
  return family === 6 ? sh`ip -6 route replace ${words}` : sh`ip route replace ${words}`;
}

function showAddr(a: IpAddr): string {
  const lease = isLeased(a) ? ` dynamic${a.validLifeTime !== undefined && a.validLifeTime !== LIFETIME_FOREVER ? ` valid_lft ${a.validLifeTime}sec` : ''}` : '';
  return `${a.family} ${addrWords(a).join(' ')}${a.broadcast !== undefined ? ` brd ${a.broadcast}` : ''}${a.scope !== 'global' ? ` scope ${a.scope}` : ''}${lease}`;
}

/** `10.77.0.2/24 (dynamic, valid 300 s more)` */
function showLease(a: IpAddr): string {
  const left = a.validLifeTime !== undefined && a.validLifeTime !== LIFETIME_FOREVER ? `, valid ${a.validLifeTime} s more` : '';
  return `${addrCidr(a)} (dynamic${left})`;
}

/**
 * Why leased addresses of `from` are not moved, and the ways on (pure text). `isPort`:
 * `from` is a port of `to` already (the lease came back on the port after a move).
 */
export function leasedMessage(from: string, to: string, leased: readonly IpAddr[], isPort: boolean): string {
  const list = leased.map(showLease).join(', ');
  const them = leased.length === 1 ? 'the address' : 'the addresses';
  const what = isPort
    ? `${from} is a port of ${to} but holds ${list} again: a DHCP client still manages ${from} and renews its lease there.`
    : `${from} holds ${list} from a lease: a DHCP client (systemd-networkd/netplan, dhclient or NetworkManager) manages ${from}; it would renew the lease on ${from}, re-adding ${them} on what is then a port of ${to}, while nothing renews the copy moved to ${to}.`;
  return (
    `${what} A DHCP-managed uplink must be bridged by the host's own network configuration, e.g. netplan \`bridges: {${to}: {interfaces: [${from}], dhcp4: true}}\` ` +
    `(the bridge takes the lease), or given a static address instead of DHCP; then this task finds ${from} a port of ${to} without addresses and does nothing, or moves a static address. ` +
    `To move ${them} anyway as static (without lease; stop the DHCP client of ${from} yourself), set allow_dynamic: true.`
  );
}

function showRoute(r: IpRoute): string {
  return `${r.dst}${r.gateway !== undefined ? ` via ${r.gateway}` : ''}${r.metric !== undefined ? ` metric ${r.metric}` : ''}${r.protocol !== undefined ? ` proto ${r.protocol}` : ''}${r.table !== undefined ? ` table ${r.table}` : ''}`;
}

/** What the transaction records and moves. */
export interface IpMovePlan {
  from: string;
  to: string;
  /** `from`'s master before the move (undefined: none). */
  fromMaster?: string;
  fromUp: boolean;
  addrs: IpAddr[];
  routes: { route: IpRoute; family: 4 | 6 }[];
  /** Addresses `to` had already (kept by a rollback). */
  toAddrs: IpAddr[];
  rollbackAfter: number;
  confirmTimeout: number;
}

/**
 * A condition: the process `$pid` runs the timer script `timer` (its command line names
 * it), not some other process that got that PID since.
 */
function timerRuns(timer: string, pidVar: 'pid' | 'ul_pid' = 'pid'): ShellCommand {
  return sh`case $(tr '\\0' ' ' <"/proc/$${raw(pidVar)}/cmdline" 2>/dev/null) in *${timer}*) true ;; *) false ;; esac`;
}

/** The scripts of a move, generated from the plan (pure). */
export function ipMoveScripts(plan: IpMovePlan, stateDir: string): { state: string; apply: string; rollback: string; timer: string } {
  const f = ipMovePaths(stateDir, plan.from);
  const { from, to } = plan;

  const state = `${JSON.stringify(
    {
      from,
      to,
      from_master: plan.fromMaster ?? null,
      from_up: plan.fromUp,
      addresses: plan.addrs.map((a) => ({ family: a.family, local: a.local, prefixlen: a.prefixlen, broadcast: a.broadcast ?? null, peer: a.peer ?? null, scope: a.scope, secondary: a.secondary })),
      routes: plan.routes.map(({ route: r, family }) => ({ family, dst: r.dst, gateway: r.gateway ?? null, metric: r.metric ?? null, protocol: r.protocol ?? 'boot', scope: r.scope ?? 'global', prefsrc: r.prefsrc ?? null, table: r.table ?? 'main' })),
      to_addresses: plan.toAddrs.map(addrCidr),
      rollback_after: plan.rollbackAfter,
    },
    null,
    2,
  )}\n`;

  const claimAndStopTimer = [
    sh`if ! mv -f ${f.pid} ${`${f.pid}.fired`} 2>/dev/null; then echo "ip_move rollback: the timer was disarmed or has fired already: nothing to do"; exit 0; fi`,
    sh`pid=; { read -r pid <${`${f.pid}.fired`}; } 2>/dev/null`,
    sh`if [ -n "$pid" ] && [ "$pid" != "$$" ] && ${timerRuns(f.timer)}; then kill "$pid" 2>/dev/null; fi`,
  ];
  const keepOnTo = new Set(plan.toAddrs.map(addrCidr));
  const master =
    plan.fromMaster === undefined ? sh`ip link set dev ${from} nomaster` : plan.fromMaster === to ? undefined : sh`ip link set dev ${from} master ${plan.fromMaster}`;
  const restore: ShellCommand[] = [
    ...(master ? [master] : []),
    ...(plan.fromUp ? [sh`ip link set dev ${from} up`] : []),
    ...plan.addrs.map((a) => addrReplace(a, from)),
    ...plan.routes.map(({ route, family }) => routeReplace(route, from, family)),
  ];
  const rollback = [
    '#!/bin/sh',
    `# Rollback of ip_move ${from} -> ${to} (written by underlay): restores ${from} as it was recorded`,
    `# in ${f.state}. Run by the rollback timer, or by the apply script when a step fails.`,
    PATH_LINE,
    ...claimAndStopTimer.map((c) => c.text),
    sh`echo ${`ip_move rollback: restoring ${from}`}`.text,
    'rc=0',
    ...restore.map((c) => `${c.text} || rc=1`),
    ...[...plan.addrs].reverse().filter((a) => !keepOnTo.has(addrCidr(a))).map((a) => `${addrDel(a, to).text} 2>/dev/null || true`),
    sh`rm -f ${`${f.pid}.fired`} ${f.applied}`.text,
    sh`: > ${f.rolledBack}`.text,
    sh`echo "ip_move rollback: done (status $rc)"`.text,
    'exit $rc',
    '',
  ].join('\n');

  const steps: ShellCommand[] = [
    sh`ip link set dev ${to} up`,
    ...(plan.fromMaster !== to ? [sh`ip link set dev ${from} master ${to}`] : []),
    ...plan.addrs.map((a) => addrReplace(a, to)),
    ...plan.routes.map(({ route, family }) => routeReplace(route, to, family)),
  ];
  const apply = [
    '#!/bin/sh',
    `# ip_move ${from} -> ${to} (written by underlay): enslaves ${from} to ${to} and moves its addresses`,
    `# and routes there, as one detached step. A failing step rolls back at once.`,
    PATH_LINE,
    removeAny([f.applied, f.applyFailed]).text,
    `fail() {`,
    sh`  echo "$1" > ${`${f.applyFailed}.tmp`}`.text,
    `  echo "ip_move apply: failed: $1" >&2`,
    sh`  /bin/sh ${f.rollback}`.text,
    sh`  mv -f ${`${f.applyFailed}.tmp`} ${f.applyFailed}`.text,
    '  exit 1',
    '}',
    ...steps.map((c) => `${c.text} || fail ${quote(c.text)}`),
    ...[...plan.addrs].reverse().map((a) => `${addrDel(a, from).text} 2>/dev/null || true`),
    sh`: > ${f.applied}`.text,
    sh`echo ${`ip_move: ${from} moved to ${to}`}`.text,
    '',
  ].join('\n');

  const timer = [
    '#!/bin/sh',
    `# Rollback timer of ip_move ${from} -> ${to} (written by underlay): unless disarmed (its pidfile`,
    `# claimed and this process killed) within ${plan.rollbackAfter} s, runs the rollback script.`,
    PATH_LINE,
    sh`echo $$ > ${`${f.pid}.tmp`} && mv -f ${`${f.pid}.tmp`} ${f.pid} || exit 1`.text,
    '# armed: the end of the pipe the arming action reads (fd 3, when given)',
    'exec 3>&-',
    `trap 'kill "$s" 2>/dev/null; exit 0' TERM`,
    sh`sleep ${plan.rollbackAfter} &`.text,
    's=$!',
    'wait "$s"',
    `trap '' TERM`,
    sh`echo "ip_move: rollback timer fired after ${plan.rollbackAfter} s"`.text,
    sh`exec /bin/sh ${f.rollback}`.text,
    '',
  ].join('\n');
  return { state, apply, rollback, timer };
}

/**
 * `rm -f` of the paths, started only when one of them is there (or is a dangling link):
 * usually none is, and the test is the shell's own, with no program started. Exit status
 * 0 when there was nothing to remove, else rm's.
 */
export function removeAny(paths: string[]): ShellCommand {
  const any = paths.map((x) => sh`[ -e ${x} ] || [ -L ${x} ]`);
  return sh`if ${join(any, '||')}; then rm -f -- ${paths}; fi`;
}

/** The default confirmation: `to` carries every moved address and `from` is its port. */
export function defaultConfirmScript(plan: IpMovePlan): string {
  const lines = [sh`out=$(ip -o addr show dev ${plan.to}) || exit 1`.text];
  for (const a of plan.addrs) {
    const needle = a.peer !== undefined ? ` ${a.family} ${a.local} peer ` : ` ${a.family} ${addrCidr(a)} `;
    lines.push(sh`case $out in *${needle}*) ;; *) echo ${`ip_move: ${plan.to} does not carry ${addrCidr(a)}`} >&2; exit 1 ;; esac`.text);
  }
  lines.push(sh`case "$(ip -o link show dev ${plan.from}) " in *${` master ${plan.to} `}*) ;; *) echo ${`ip_move: ${plan.from} is not a port of ${plan.to}`} >&2; exit 1 ;; esac`.text);
  return lines.join('\n');
}

/** The confirm action's command: the confirmation, then the disarm (only if it succeeded). */
export function confirmCommand(plan: IpMovePlan, stateDir: string, confirm: string): ShellCommand {
  const f = ipMovePaths(stateDir, plan.from);
  const disarm = sh`if mv -f ${f.pid} ${`${f.pid}.disarmed`} 2>/dev/null; then read -r pid <${`${f.pid}.disarmed`}; if ${timerRuns(f.timer)}; then kill "$pid" 2>/dev/null; fi; rm -f ${`${f.pid}.disarmed`}; echo "ip_move: confirmed; rollback timer (pid $pid) disarmed"; else echo ${`ip_move: confirmed too late: the rollback timer had fired and restored ${plan.from}`} >&2; exit 1; fi`;
  const failed = `ip_move: the confirmation failed; the host restores ${plan.from} by itself when the rollback timer fires (${plan.rollbackAfter} s after it was armed)`;
  return sh`if sh -c ${confirm}; then ${disarm}; else echo ${failed} >&2; exit 1; fi`;
}

/** Read-only: is a rollback timer armed (its PID alive and running the timer script)? */
export function timerCheckCommand(stateDir: string, from: string): ShellCommand {
  const f = ipMovePaths(stateDir, from);
  return contained(sh`if [ -s ${f.pid} ]; then read -r ul_pid <${f.pid}; if ${timerRuns(f.timer, 'ul_pid')}; then echo "armed $ul_pid"; else echo "stale $ul_pid"; fi; else echo none; fi`);
}

export function parseTimerCheck(stdout: string): IpMoveTimer {
  const m = /^(armed|stale) (\d+)/.exec(stdout.trim());
  if (m) return { state: m[1] as 'armed' | 'stale', pid: Number(m[2]) };
  return { state: 'none' };
}

function describeSide(name: string, link: IpLink | undefined, addrs: IpAddr[], routes: IpRoute[]): string {
  if (!link) return `${name}: (absent)\n`;
  const lines = [`${name}: master ${link.master ?? '-'}, ${link.adminUp ? 'up' : 'down'}`];
  for (const a of addrs) lines.push(`  addr ${showAddr(a)}`);
  for (const r of routes) lines.push(`  route ${showRoute(r)}`);
  return `${lines.join('\n')}\n`;
}

export const ip_move: ModuleDef<IpMoveParams, IpMoveObserved> = {
  name: 'ip_move',
  description:
    'Enslave an interface to a bridge and move its addresses and routes onto the bridge (eth1 -> breth1) as a safe transaction: state recorded, on-host rollback timer armed, the move applied detached, confirmed over a new connection, then disarmed. Without confirmation the host rolls itself back.',
  schema: {
    params: {
      from: { type: 'str', required: true, description: 'The interface whose addresses and routes move, e.g. `eth1`.' },
      to: { type: 'str', required: true, description: 'The bridge `from` joins and that takes the addresses and routes, e.g. `breth1` (create it first with linux_bridge).' },
      confirm_timeout: { type: 'int', default: 20, description: 'Seconds to open a new connection to the host and confirm after the move.' },
      rollback_after: { type: 'int', description: 'Seconds after which the armed timer restores `from` unless the move was confirmed. Default: confirm_timeout + 10. Must exceed confirm_timeout.' },
      confirm_command: {
        type: 'str',
        description: 'A shell command run over the new connection that must succeed for the move to be kept. Default: check that `to` carries the moved addresses and `from` is its port.',
      },
      state_dir: { type: 'path', default: DEFAULT_STATE_DIR, description: 'Where the recorded state, the scripts, the pidfile and the log of the move are kept on the host.' },
      allow_dynamic: {
        type: 'bool',
        default: false,
        description:
          'Move addresses that have a lease (`dynamic`, a finite valid lifetime: added by a DHCP client) as static ones. Without it the task fails on such an address: a DHCP-managed uplink is bridged by the host\'s own network configuration (e.g. netplan `bridges: {breth1: {interfaces: [eth1], dhcp4: true}}`). An uplink already moved is never an error.',
      },
    },
  },
  async observe(ctx, p) {
    const [links, routes, timer] = await ctx.runBatch([ipLinksCommand(), ipRouteCommand({ table: 'all' }), timerCheckCommand(p.state_dir, p.from)]);
    return {
      links: parseIpLink(links!),
      addrs: parseIpAddr(links!),
      routes: parseIpRoute(routes!),
      timer: parseTimerCheck(timer!.stdout),
    };
  },
  decide(p, o, env): Decision {
    const fail = (failed: string): Decision => ({ changed: false, actions: [], failed });
    for (const n of [p.from, p.to]) {
      const bad = badIfname(n);
      if (bad) return fail(bad);
    }
    if (p.from === p.to) return fail('from and to must differ');
    if (!p.state_dir.startsWith('/')) return fail(`state_dir must be absolute, got ${p.state_dir}`);
    const rollbackAfter = p.rollback_after ?? p.confirm_timeout + 10;
    if (p.confirm_timeout < 1) return fail('confirm_timeout must be at least 1 second');
    if (rollbackAfter <= p.confirm_timeout) return fail(`rollback_after (${rollbackAfter} s) must exceed confirm_timeout (${p.confirm_timeout} s)`);

    const links = linksByName(o.links);
    const from = links.get(p.from);
    const to = links.get(p.to);
    if (!from) return fail(`interface ${p.from} does not exist`);
    const addrOf = (n: string) => o.addrs.find((l) => l.ifname === n);
    const fromAddrs = movableAddrs(addrOf(p.from));
    const toAddrs = movableAddrs(addrOf(p.to));
    const movable = movableRoutes(o.routes, p.from);
    const routes = ([4, 6] as const).flatMap((family) => movable.filter((r) => routeFamily(r) === family).map((route) => ({ route, family })));
    const plan: IpMovePlan = {
      from: p.from,
      to: p.to,
      ...(from.master !== undefined ? { fromMaster: from.master } : {}),
      fromUp: from.adminUp,
      addrs: fromAddrs,
      routes,
      toAddrs,
      rollbackAfter,
      confirmTimeout: p.confirm_timeout,
    };
    const confirm = p.confirm_command ?? defaultConfirmScript(plan);
    const f = ipMovePaths(p.state_dir, p.from);
    const result = { from: p.from, to: p.to, state_dir: p.state_dir };

    const converged = from.master === p.to && fromAddrs.length === 0 && routes.length === 0;
    const leased = fromAddrs.filter(isLeased);
    if (converged) {
      if (o.timer.state === 'armed') {
        // An earlier run moved everything but was not confirmed yet: finish it.
        const keep = { ...plan, addrs: toAddrs };
        return {
          changed: true,
          actions: [{ kind: 'confirm', cmd: confirmCommand(keep, p.state_dir, p.confirm_command ?? defaultConfirmScript(keep)), describe: `confirm the move of ${p.from} to ${p.to} and disarm the pending rollback timer`, timeoutMs: p.confirm_timeout * 1000 }],
          msg: `${p.from} is on ${p.to} but a rollback timer (pid ${o.timer.pid}) is still armed: confirm and disarm it`,
          result,
        };
      }
      return { changed: false, actions: [], msg: `${p.from} is a port of ${p.to} and carries no addresses`, result };
    }
    if (leased.length > 0 && !p.allow_dynamic) return fail(leasedMessage(p.from, p.to, leased, from.master === p.to));
    if (!to) {
      if (env.checkMode) return { changed: true, actions: [], msg: `would move ${p.from} to ${p.to} (${p.to} does not exist yet)`, result };
      return fail(`bridge ${p.to} does not exist: create it first (linux_bridge)`);
    }
    if (to.kind !== 'bridge') return fail(`${p.to} is a ${to.kind ?? 'plain'} interface, not a bridge`);
    if (o.timer.state === 'armed') {
      return fail(`a rollback timer of an earlier ip_move of ${p.from} is armed (pid ${o.timer.pid}): it restores ${p.from} when it fires; run again after that`);
    }

    const scripts = ipMoveScripts(plan, p.state_dir);
    const waitS = Math.min(rollbackAfter, 60);
    const actions: Action[] = [
      { kind: 'run', cmd: contained(sh`if [ -d ${f.dir} ]; then chmod 700 ${f.dir}; else mkdir -p -m 700 ${f.dir}; fi`), describe: `create ${f.dir}` },
      { kind: 'upload', path: f.state, content: scripts.state, mode: 0o600, describe: `record the state of ${p.from} in ${f.state}` },
      { kind: 'upload', path: f.rollback, content: scripts.rollback, mode: 0o700, describe: `write ${f.rollback}` },
      { kind: 'upload', path: f.apply, content: scripts.apply, mode: 0o700, describe: `write ${f.apply}` },
      { kind: 'upload', path: f.timer, content: scripts.timer, mode: 0o700, describe: `write ${f.timer}` },
      {
        kind: 'run',
        // $(...) ends when the timer closes fd 3 (its pidfile written) or exits.
        cmd: sh`${removeAny([f.pid, `${f.pid}.fired`, f.rolledBack])} || exit 1; ul_armed=$(setsid /bin/sh ${f.timer} 3>&1 </dev/null >>${f.log} 2>&1 &); if [ -s ${f.pid} ]; then read -r pid <${f.pid}; echo "rollback timer armed: pid $pid, fires in "${rollbackAfter}" s"; exit 0; fi; echo ${`ip_move: the rollback timer did not start (see ${f.log})`} >&2; exit 1`,
        describe: `arm the rollback timer (${rollbackAfter} s)`,
      },
      {
        kind: 'run',
        // `cat` reads fd 3 of the apply script to its end: until the script exits.
        cmd: sh`${removeAny([f.applied, f.applyFailed])} || exit 1; { setsid /bin/sh ${f.apply} 3>&1 </dev/null >>${f.log} 2>&1 & } | timeout -k 1 ${waitS} cat; ul_rc=$?; if [ -e ${f.applied} ]; then echo applied; exit 0; fi; if [ -e ${f.applyFailed} ]; then echo "ip_move: the move failed at: $(cat ${f.applyFailed}); "${p.from}" was restored" >&2; exit 1; fi; case $ul_rc in 124|137) echo ${`ip_move: the move did not finish within ${waitS} s; the rollback timer restores ${p.from}`} ;; *) echo ${`ip_move: the move ended without a result (see ${f.log}); the rollback timer restores ${p.from}`} ;; esac >&2; exit 1`,
        describe: `move the addresses and routes of ${p.from} to ${p.to} (detached)`,
      },
      { kind: 'confirm', cmd: confirmCommand(plan, p.state_dir, confirm), describe: `confirm the move of ${p.from} to ${p.to} over a new connection`, timeoutMs: p.confirm_timeout * 1000 },
    ];
    const before = describeSide(p.from, from, fromAddrs, routes.map((r) => r.route)) + describeSide(p.to, to, toAddrs, []);
    const asStatic = leased.length > 0 ? `; ${leased.map(showLease).join(', ')} moved as static (allow_dynamic): no lease on ${p.to}` : '';
    // What moves is added without lifetime: static on `to`.
    const afterTo = [...toAddrs, ...fromAddrs.filter((a) => !toAddrs.some((b) => addrCidr(b) === addrCidr(a))).map((a) => ({ ...a, dynamic: false, validLifeTime: LIFETIME_FOREVER }))];
    const after =
      `${p.from}: master ${p.to}, ${from.adminUp ? 'up' : 'down'}\n` +
      describeSide(p.to, { ...to, adminUp: true }, afterTo, routes.map((r) => r.route));
    return {
      changed: true,
      actions,
      msg: `move ${fromAddrs.map(addrCidr).join(', ') || 'no address'} and ${routes.length} route(s) from ${p.from} to ${p.to}${asStatic}`,
      diff: [{ before, after }],
      result: {
        ...result,
        addresses: fromAddrs.map(addrCidr),
        routes: routes.map((r) => showRoute(r.route)),
        ...(leased.length > 0 ? { dynamic_as_static: leased.map(addrCidr) } : {}),
      },
    };
  },
};
