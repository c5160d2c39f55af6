/**
 * The `wait_for` module: wait until a port listens (or stops listening), or a file appears
 * (optionally containing a pattern) or disappears; or, with neither, just wait `timeout`
 * seconds.
 *
 * Waiting changes nothing, so it must happen in check mode too, and the engine skips
 * applying actions in check mode. The wait is therefore part of observing: observe runs
 * ONE bounded command on the host (a `while` loop with a deadline from `date +%s%3N`,
 * milliseconds, and an iteration cap), which only reads; decide, pure, fails with a clear message when the
 * condition was not met. It never returns actions and is never changed.
 *
 * Ports of the host itself (host 127.0.0.1, localhost, ::1, 0.0.0.0, ::) are checked in
 * /proc/net/tcp and /proc/net/tcp6: a socket in LISTEN state on a wildcard address or the
 * loopback address asked for (src/facts/proc.ts gives the same test as a pure function and as the ERE the
 * loop uses). Ports of another host are tried with bash's /dev/tcp under `timeout 1`:
 * bash is on every Debian/Ubuntu host; where it is missing the task fails saying so.
 * `search_regex` is a POSIX extended regular expression (`grep -E`), for `path` only.
 */
import { isListening, isLocalHost, listenPattern, parseProcNetTcp, type TcpSocket } from '../facts/proc.js';
import { sh, type ShellCommand } from '../transport/quote.js';
import type { Decision, ModuleDef } from './types.js';

export interface WaitForParams extends Record<string, unknown> {
  host: string;
  port?: number;
  path?: string;
  state: 'started' | 'stopped' | 'present' | 'absent';
  timeout: number;
  delay: number;
  sleep: number;
  search_regex?: string;
  msg?: string;
}

export interface WaitForObserved {
  met: boolean;
  elapsed: number;
  error?: string;
  /** Local port checks: the socket tables at the end of the wait. */
  sockets?: TcpSocket[];
  /** The command did not report (killed by its own time limit). */
  noReport?: string;
}

const MIN_SLEEP = 0.05;
const HOST = /^[A-Za-z0-9._:-]+$/;

function num(n: number): string {
  return String(Math.round(n * 1000) / 1000);
}

/** The one bounded command; prints `underlay-wait: met=0|1 elapsed_ms=N` (and the socket tables). */
export function waitCommand(p: WaitForParams): ShellCommand {
  const pause = Math.max(p.sleep, MIN_SLEEP);
  const maxIter = Math.ceil(p.timeout / pause) + 1;
  const delay = p.delay > 0 ? sh`sleep ${num(p.delay)}` : sh`:`;
  let pre = sh`:`;
  let check: ShellCommand;
  let after = sh`:`;
  if (p.port !== undefined) {
    const wantUp = p.state === 'started' || p.state === 'present';
    if (isLocalHost(p.host)) {
      const probe = sh`cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | grep -Eq ${listenPattern(p.port, p.host)}`;
      check = wantUp ? probe : sh`! { ${probe}; }`;
      after = sh`echo 'underlay-wait: sockets'; cat /proc/net/tcp /proc/net/tcp6 2>/dev/null`;
    } else {
      pre = sh`if ! command -v bash >/dev/null 2>&1; then echo 'underlay-wait: error=bash is not installed on this host: it is needed to test a port of another host (/dev/tcp)'; exit 0; fi`;
      const probe = sh`timeout 1 bash -c 'exec 3<>"/dev/tcp/$0/$1"' ${p.host} ${p.port} >/dev/null 2>&1`;
      check = wantUp ? probe : sh`! ${probe}`;
    }
  } else if (p.path !== undefined) {
    const wantPresent = p.state === 'started' || p.state === 'present';
    if (wantPresent) check = p.search_regex !== undefined ? sh`[ -f ${p.path} ] && grep -Eq -- ${p.search_regex} ${p.path} 2>/dev/null` : sh`[ -e ${p.path} ]`;
    else check = sh`[ ! -e ${p.path} ]`;
  } else {
    return sh`LC_ALL=C; export LC_ALL
${delay}
sleep ${String(p.timeout)}
echo "underlay-wait: met=1 elapsed_ms=${String(p.timeout * 1000)}"`;
  }
  return sh`LC_ALL=C; export LC_ALL
${pre}
ul_check() { ${check}; }
${delay}
ul_t0=$(date +%s%3N)
ul_end=$((ul_t0 + ${String(p.timeout * 1000)}))
ul_i=0
ul_met=0
while [ "$ul_i" -le ${String(maxIter)} ]; do
  if ul_check; then ul_met=1; break; fi
  [ "$(date +%s%3N)" -ge "$ul_end" ] && break
  ul_i=$((ul_i + 1))
  sleep ${num(pause)}
done
echo "underlay-wait: met=$ul_met elapsed_ms=$(($(date +%s%3N) - ul_t0))"
${after}`;
}

export function parseWaitOutput(stdout: string, delay = 0): WaitForObserved {
  const err = /^underlay-wait: error=(.*)$/m.exec(stdout);
  if (err) return { met: false, elapsed: 0, error: err[1]! };
  const m = /^underlay-wait: met=([01]) elapsed_ms=(\d+)$/m.exec(stdout);
  if (!m) return { met: false, elapsed: 0, noReport: stdout.slice(-500) };
  const out: WaitForObserved = { met: m[1] === '1', elapsed: Math.round((Number(m[2]) / 1000 + delay) * 10) / 10 };
  const i = stdout.indexOf('underlay-wait: sockets\n');
  if (i >= 0) out.sockets = parseProcNetTcp(stdout.slice(i));
  return out;
}

function what(p: WaitForParams): string {
  if (p.port !== undefined) return `${p.host}:${p.port}${p.state === 'stopped' || p.state === 'absent' ? ' to stop' : ''}`;
  if (p.path !== undefined) {
    if (p.state === 'stopped' || p.state === 'absent') return `file ${p.path} to be absent`;
    return p.search_regex !== undefined ? `search string ${p.search_regex} in ${p.path}` : `file ${p.path}`;
  }
  return `${p.timeout} s`;
}

function validate(p: WaitForParams): string | undefined {
  if (p.port !== undefined && (p.port < 1 || p.port > 65535)) return `port must be 1-65535, got ${p.port}`;
  if (p.port !== undefined && !HOST.test(p.host)) return `bad host '${p.host}'`;
  if (p.search_regex !== undefined && p.path === undefined) return 'search_regex needs path (reading from a port is not supported)';
  if (p.timeout < 0 || p.delay < 0 || p.sleep < 0) return 'timeout, delay and sleep must not be negative';
  return undefined;
}

export const wait_for: ModuleDef<WaitForParams, WaitForObserved> = {
  name: 'wait_for',
  description: 'Wait for a port to listen or stop, or a file to appear (with a pattern) or disappear, bounded by timeout. Never changes anything; runs in check mode too.',
  schema: {
    params: {
      host: { type: 'str', default: '127.0.0.1', description: 'Whose port: the host itself (127.0.0.1, localhost, ::1) is read from /proc/net/tcp*; another is connected to.' },
      port: { type: 'int', description: 'The TCP port.' },
      path: { type: 'path', description: 'A file on the host.' },
      state: { type: 'str', default: 'started', choices: ['started', 'stopped', 'present', 'absent'], description: 'started/present: listening or existing; stopped/absent: not.' },
      timeout: { type: 'int', default: 300, description: 'Seconds to wait at most.' },
      delay: { type: 'float', default: 0, description: 'Seconds to wait before the first check.' },
      sleep: { type: 'float', default: 1, description: 'Seconds between checks (at least 0.05).' },
      search_regex: { type: 'str', description: 'With path: the file must contain a match (POSIX ERE, grep -E).' },
      msg: { type: 'str', description: 'The failure message instead of the default.' },
    },
    mutuallyExclusive: [['port', 'path']],
  },
  // the observation is the wait: never taken ahead of the task's turn
  pipelined: false,
  async observe(ctx, p) {
    if (validate(p) !== undefined) return { met: false, elapsed: 0 };
    const r = await ctx.run(waitCommand(p), { timeoutMs: Math.ceil((p.delay + p.timeout + 15) * 1000) });
    return parseWaitOutput(r.stdout, p.delay);
  },
  decide(p, o): Decision {
    const bad = validate(p);
    if (bad !== undefined) return { changed: false, actions: [], failed: `wait_for: ${bad}` };
    const result = { elapsed: o.elapsed, state: p.state, ...(p.port !== undefined ? { host: p.host, port: p.port } : {}), ...(p.path !== undefined ? { path: p.path } : {}) };
    if (o.error !== undefined) return { changed: false, actions: [], failed: `wait_for: ${o.error}`, result };
    if (o.noReport !== undefined) return { changed: false, actions: [], failed: `wait_for: the wait on the host did not report: ${o.noReport}`, result };
    if (!o.met) {
      let detail = '';
      if (p.port !== undefined && o.sockets && (p.state === 'started' || p.state === 'present') && !isListening(o.sockets, p.port, p.host)) {
        const elsewhere = o.sockets.filter((s) => s.state === 'LISTEN' && s.localPort === p.port).map((s) => s.localAddress);
        if (elsewhere.length > 0) detail = ` (port ${p.port} listens on ${[...new Set(elsewhere)].join(', ')} only, not on an address through which ${p.host} reaches it)`;
      }
      return { changed: false, actions: [], failed: p.msg ?? `Timeout when waiting for ${what(p)}${detail}`, result };
    }
    return { changed: false, actions: [], msg: p.port === undefined && p.path === undefined ? `waited ${p.timeout} s` : `${what(p)}: ok after ${o.elapsed} s`, result };
  },
};
