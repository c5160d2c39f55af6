/**
 * hairpin_guard: hairpin mode off on a bridge's ports, now and for good.
 *
 * Now: `bridge link set dev PORT hairpin off` for each port of the bridge that
 * `ip -j -d addr show` reports with hairpin on (its bridge port details). For good: writes
 * a guard script (run as a service by the `service` module) that turns hairpin off at
 * start, then blocks on `bridge monitor link` and re-checks only the port an event is
 * about. It polls nothing: while no link changes, it sleeps in read(2) and uses no CPU
 * (the seed's `while true; do brctl hairpin ...; done` kept a core busy).
 */
import { badIfname, bridgePorts, ipLinksCommand, parseIpLink, type BridgePort } from '../facts/iplink.js';
import { contained, quote, sh } from '../transport/quote.js';
import type { Action, ModuleDef } from './types.js';

export interface HairpinGuardParams extends Record<string, unknown> {
  bridge: string;
  ports?: string[];
  script_path: string;
}

export interface HairpinGuardObserved {
  bridgeExists: boolean;
  ports: BridgePort[];
  /** The guard script as it is on the host (null: absent). */
  script: string | null;
  /** Its permission bits (null: absent). */
  mode: number | null;
}

export const DEFAULT_GUARD_PATH = '/usr/local/lib/underlay/hairpin-guard';
const SCRIPT_MODE = 0o755;

/**
 * The guard program (POSIX sh) for `bridge`: with `ports`, only those ports are guarded;
 * without, every port of the bridge, including ports enslaved later. Pure: the same input
 * gives the same text, so the module can tell whether the host's copy is current.
 */
export function hairpinGuardScript(opts: { bridge: string; ports?: readonly string[] }): string {
  const ports = opts.ports ?? [];
  return `#!/bin/sh
# Hairpin guard for bridge ${opts.bridge} (written by underlay's hairpin_guard module).
#
# Keeps hairpin mode off on the bridge's ports: turns it off once at start, then waits for
# link events from \`bridge monitor link\` and re-checks only the port an event is about.
# It polls nothing: while no link changes, it is blocked reading the monitor's output.
# Exits (status 1) if the monitor ends, so that its service manager restarts it.
set -uf
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
BRIDGE=${quote(opts.bridge)}
# The guarded ports; empty: every port of the bridge.
PORTS=${quote(ports.join(' '))}

log() { echo "hairpin-guard[$BRIDGE]: $*"; }

watched() {
  [ -z "$PORTS" ] && return 0
  for w in $PORTS; do
    [ "$w" = "$1" ] && return 0
  done
  return 1
}

# Turns hairpin off on $1 when it is a port of the bridge with hairpin on.
fix() {
  info=$(bridge -j -d link show dev "$1" 2>/dev/null) || return 0
  case $info in
    *"\\"master\\":\\"$BRIDGE\\""*) ;;
    *) return 0 ;;
  esac
  case $info in
    *'"hairpin":true'*)
      if bridge link set dev "$1" hairpin off; then log "hairpin turned off on $1"; fi ;;
  esac
  return 0
}

sweep() {
  if [ -n "$PORTS" ]; then
    for p in $PORTS; do fix "$p"; done
  else
    ip -o link show master "$BRIDGE" 2>/dev/null | while read -r _ name _; do
      name=\${name%:}
      fix "\${name%%@*}"
    done
  fi
}

dir=$(mktemp -d "\${TMPDIR:-/tmp}/hairpin-guard.XXXXXX") || exit 1
mkfifo "$dir/events" || { rm -rf "$dir"; exit 1; }
bridge monitor link >"$dir/events" &
monitor=$!
trap 'kill "$monitor" 2>/dev/null; rm -rf "$dir"' EXIT
trap 'exit 143' TERM
trap 'exit 130' INT HUP
exec 3<"$dir/events"
rm -rf "$dir"

# Wait (bounded) until the monitor has its netlink socket, so no change made after the
# sweep below can be missed.
i=0
while [ "$i" -lt 100 ]; do
  if ls -l "/proc/$monitor/fd" 2>/dev/null | grep -q 'socket:'; then break; fi
  kill -0 "$monitor" 2>/dev/null || break
  sleep 0.05
  i=$((i + 1))
done

sweep
log "watching \${PORTS:-every port}"

while IFS= read -r line <&3; do
  case $line in Deleted*) continue ;; esac
  case "$line " in *" master $BRIDGE "*) ;; *) continue ;; esac
  name=\${line#*: }
  name=\${name%%:*}
  name=\${name%%@*}
  if watched "$name"; then fix "$name"; fi
done
log "bridge monitor ended"
exit 1
`;
}

export const hairpin_guard: ModuleDef<HairpinGuardParams, HairpinGuardObserved> = {
  name: 'hairpin_guard',
  description:
    'Hairpin mode off on the ports of a Linux bridge (`bridge link set dev PORT hairpin off`), and the event-driven guard script (`bridge monitor link`, no polling) that keeps it off, for the `service` module to run.',
  schema: {
    params: {
      bridge: { type: 'str', required: true, description: 'The Linux bridge whose ports are guarded, e.g. `breth1`.' },
      ports: {
        type: 'list',
        elements: 'str',
        description: 'The ports to guard (e.g. `[eth1, breth1-veth]`). Default: every port of the bridge, including ports enslaved later.',
      },
      script_path: { type: 'path', default: DEFAULT_GUARD_PATH, description: 'Where the guard script is written (mode 0755).' },
    },
  },
  async observe(ctx, p) {
    // the script's mode, by `stat` only when it is there (the shell's own test first), and
    // its text only then
    const [linksOut, mode] = await ctx.runBatch([ipLinksCommand(), contained(sh`if [ -e ${p.script_path} ]; then stat -c %a -- ${p.script_path}; else return 1; fi`)]);
    const script = mode!.exitCode === 0 ? await ctx.readFile(p.script_path) : null;
    const links = parseIpLink(linksOut!);
    return {
      bridgeExists: links.some((l) => l.ifname === p.bridge),
      ports: bridgePorts(links),
      script: script === null ? null : script.toString('utf8'),
      mode: mode!.exitCode === 0 && /^[0-7]+\s*$/.test(mode!.stdout) ? Number.parseInt(mode!.stdout.trim(), 8) : null,
    };
  },
  decide(p, o) {
    for (const n of [p.bridge, ...(p.ports ?? [])]) {
      const bad = badIfname(n);
      if (bad) return { changed: false, actions: [], failed: bad };
    }
    if (!p.script_path.startsWith('/')) return { changed: false, actions: [], failed: `script_path must be absolute, got ${p.script_path}` };
    const mine = o.ports.filter((x) => x.master === p.bridge);
    const targets = p.ports ? mine.filter((x) => p.ports!.includes(x.ifname)) : mine;
    const actions: Action[] = [];
    const changes: string[] = [];
    for (const port of targets) {
      if (!port.hairpin) continue;
      actions.push({ kind: 'run', cmd: sh`bridge link set dev ${port.ifname} hairpin off`, describe: `hairpin off on ${port.ifname}` });
      changes.push(`hairpin off on ${port.ifname}`);
    }
    const text = hairpinGuardScript({ bridge: p.bridge, ...(p.ports ? { ports: p.ports } : {}) });
    const diff = [];
    if (o.script !== text || o.mode !== SCRIPT_MODE) {
      const dir = p.script_path.replace(/\/[^/]*$/, '') || '/';
      actions.push({ kind: 'run', cmd: sh`mkdir -p ${dir}`, describe: `create ${dir}` });
      actions.push({ kind: 'upload', path: p.script_path, content: text, mode: SCRIPT_MODE, describe: `write the hairpin guard script ${p.script_path}` });
      changes.push(o.script === null ? `write ${p.script_path}` : o.script !== text ? `update ${p.script_path}` : `mode 0755 on ${p.script_path}`);
      diff.push({ path: p.script_path, before: o.script ?? '', after: text });
    }
    const hairpinOn = targets.filter((x) => x.hairpin).map((x) => x.ifname);
    const result = { script_path: p.script_path, bridge: p.bridge, ports: targets.map((x) => x.ifname) };
    const note = o.bridgeExists ? '' : ` (bridge ${p.bridge} does not exist yet)`;
    if (actions.length === 0) return { changed: false, actions: [], msg: `hairpin is off on ${targets.map((x) => x.ifname).join(', ') || 'no port'} and the guard script is current${note}`, result };
    if (hairpinOn.length > 0) diff.push({ before: hairpinOn.map((n) => `${n} hairpin on\n`).join(''), after: hairpinOn.map((n) => `${n} hairpin off\n`).join('') });
    return { changed: true, actions, msg: `${changes.join('; ')}${note}`, result, diff };
  },
};
