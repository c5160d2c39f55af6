/**
 * Fixtures of real `ip -j`, `bridge -j` and `ovs-vsctl --format=json` output for the unit
 * tests of the network modules, captured on a real machine inside network namespaces.
 *
 * Each scenario is a namespace state built by shell lines (`$PEER` is a second namespace
 * for the far end of eth1, `$DB` the scenario's own OVSDB socket); the capture runs the
 * listed modules' observe() there through a RecordingChannel, and stores every command
 * and its exact output in test/fixtures/net/captured.json. The unit tests replay them with
 * fixtureContext(), which fails loudly on a command that was not captured.
 *
 * Re-capture (root, iproute2, Open vSwitch): UL_CAPTURE_NET=1 npx vitest run --project unit src/modules/network.local.test.ts
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hairpinGuardScript } from '../../src/modules/hairpin_guard.js';
import { ip_move, ipMoveScripts } from '../../src/modules/ip_move.js';
import { linux_bridge } from '../../src/modules/linux_bridge.js';
import { neighbor } from '../../src/modules/neighbor.js';
import { ovs_bridge } from '../../src/modules/ovs_bridge.js';
import { ovs_port } from '../../src/modules/ovs_port.js';
import { ovs_set } from '../../src/modules/ovs_set.js';
import { route } from '../../src/modules/route.js';
import { veth } from '../../src/modules/veth.js';
import { hairpin_guard } from '../../src/modules/hairpin_guard.js';
import type { Decision, ExecResult, ModuleDef } from '../../src/modules/types.js';
import { sh } from '../../src/transport/quote.js';
import {
  channelContext,
  createNetns,
  deleteNetns,
  fixtureContext,
  NetnsChannel,
  paramsOf,
  RecordingChannel,
  startOvs,
  type CapturedHost,
} from './netns.js';

export const FIXTURE_FILE = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'net', 'captured.json');

/** Fixed paths used while capturing (they appear in the captured command lines). */
export const CAPTURE_DIR = '/tmp/ul-capture-net';
export const CAPTURE_OVS_DB = `unix:${CAPTURE_DIR}/ovs/db.sock`;
export const CAPTURE_GUARD = `${CAPTURE_DIR}/hairpin-guard`;
/** A state_dir whose rollback timer is armed (a real timer process) while capturing. */
export const CAPTURE_ARMED = `${CAPTURE_DIR}/armed`;

const ARMED_TIMER = ipMoveScripts(
  { from: 'eth1', to: 'breth1', fromUp: true, addrs: [], routes: [], toAddrs: [], rollbackAfter: 60, confirmTimeout: 20 },
  CAPTURE_ARMED,
).timer;
const ARM = `setsid /bin/sh ${CAPTURE_ARMED}/eth1.timer </dev/null >/dev/null 2>&1 & i=0; while [ ! -s ${CAPTURE_ARMED}/eth1.pid ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done`;
const DISARM = `kill "$(cat ${CAPTURE_ARMED}/eth1.pid)"`;

/**
 * Commands no module runs, captured in every scenario as well, so that the unit tests can
 * check what the parsers derive against the tools' own view: the bridge ports that
 * bridgePorts() finds in `ip -j -d addr show`, against `bridge -j -d link show`; the
 * families routeFamily() gives the routes of `ip -j route show table all`, against the
 * listings of one family.
 */
export const REFERENCE_COMMANDS = [sh`bridge -j -d link show`, sh`ip -j -4 route show table all`, sh`ip -j -6 route show table all`];

export const MAC = {
  eth1: '02:00:0a:4d:00:02',
  peer: '02:00:0a:4d:00:01',
  brIntVeth: '02:00:00:00:0b:01',
  breth1Veth: '02:00:00:00:0b:02',
  gw: '0a:58:c0:a8:01:01',
} as const;

type Obs = [ModuleDef<any, any>, Record<string, unknown>];

interface Scenario {
  name: string;
  about: string;
  setup: string[];
  ovs?: boolean;
  files?: Record<string, { content: string; mode: number }>;
  observe: Obs[];
  /** Run after observing (e.g. to stop a process the set-up started, by its pidfile). */
  teardown?: string[];
}

const ETH1 = [
  `ip link add eth1 address ${MAC.eth1} type veth peer name p0 address ${MAC.peer} netns "$PEER"`,
  'ip -n "$PEER" link set p0 up',
  'ip link set eth1 up',
  'ip addr add 10.77.0.2/24 brd + dev eth1',
  'ip addr add 10.77.0.9/24 dev eth1',
  'ip -6 addr add 2001:db8:77::2/64 dev eth1 nodad',
  'ip route add default via 10.77.0.1 dev eth1 metric 100',
  'ip route add 10.99.0.0/16 via 10.77.0.1 dev eth1 proto static',
  'ip -6 route add 2001:db8:99::/48 via 2001:db8:77::1 dev eth1',
];

const BRIDGE_READY = [
  ...ETH1,
  'ip link add breth1 type bridge stp_state 0 ageing_time 0',
  `ip link set dev breth1 address ${MAC.eth1}`,
  'ip link set dev breth1 up',
  `ip link add br-int-veth address ${MAC.brIntVeth} type veth peer name breth1-veth address ${MAC.breth1Veth}`,
  'ip link set dev br-int-veth up',
  'ip link set dev breth1-veth up',
  'ip link set dev breth1-veth master breth1',
  'bridge link set dev breth1-veth hairpin on',
];

const MOVED = [
  ...BRIDGE_READY.filter((l) => !l.startsWith('bridge link set')),
  'ip link set dev eth1 master breth1',
  'ip addr replace 10.77.0.2/24 brd 10.77.0.255 dev breth1',
  'ip addr replace 10.77.0.9/24 dev breth1',
  'ip -6 addr replace 2001:db8:77::2/64 dev breth1 nodad',
  'ip route replace default via 10.77.0.1 dev breth1 metric 100',
  'ip route replace 10.99.0.0/16 via 10.77.0.1 dev breth1 proto static',
  'ip -6 route replace 2001:db8:99::/48 via 2001:db8:77::1 dev breth1 metric 1024',
  'ip addr del 10.77.0.9/24 dev eth1',
  'ip addr del 10.77.0.2/24 dev eth1',
  'ip -6 addr del 2001:db8:77::2/64 dev eth1',
  `ip neigh replace 192.168.1.1 lladdr ${MAC.gw} dev breth1 nud permanent`,
  'ip neigh replace 192.168.1.2 lladdr 0a:58:c0:a8:01:02 dev breth1 nud reachable',
  'ip route replace 192.168.1.1 dev breth1',
  'ip route replace 192.168.1.0/29 dev breth1',
  'ip route replace 192.168.0.0/16 via 192.168.1.1 dev breth1',
];

const OVS = { db: CAPTURE_OVS_DB };
const MOVE = { from: 'eth1', to: 'breth1' };

export const SCENARIOS: Scenario[] = [
  {
    name: 'empty',
    about: 'a fresh namespace: only lo',
    setup: [],
    observe: [
      [linux_bridge, { name: 'breth1' }],
      [veth, { name: 'br-int-veth', peer: 'breth1-veth' }],
      [neighbor, { ip: '192.168.1.1', lladdr: MAC.gw, dev: 'breth1' }],
      [route, { dest: '192.168.1.0/29', dev: 'breth1' }],
      [hairpin_guard, { bridge: 'breth1', script_path: CAPTURE_GUARD }],
      [ip_move, MOVE],
    ],
  },
  {
    name: 'eth1',
    about: 'eth1 (a veth to a peer namespace) with two IPv4 addresses, one IPv6 address, a default route (metric 100), a static route and an IPv6 route',
    setup: ETH1,
    observe: [
      [linux_bridge, { name: 'breth1', mac_from: 'eth1' }],
      [ip_move, MOVE],
      [route, { dest: 'default', via: '10.77.0.1', dev: 'eth1' }],
      [route, { dest: '10.99.0.0/16', state: 'absent' }],
      [route, { dest: '2001:db8:99::/48', via: '2001:db8:77::1', dev: 'eth1' }],
    ],
  },
  {
    name: 'bridge-default',
    about: 'eth1 as above plus breth1 made by `ip link add breth1 type bridge` (kernel defaults: ageing 300 s, down, a random MAC)',
    setup: [...ETH1, 'ip link add breth1 type bridge'],
    observe: [
      [linux_bridge, { name: 'breth1', mac_from: 'eth1' }],
      [ip_move, MOVE],
    ],
  },
  {
    name: 'bridge-ready',
    about: "eth1 as above; breth1 (stp off, ageing 0, eth1's MAC, up) with port breth1-veth (hairpin on) of the veth pair br-int-veth/breth1-veth",
    setup: [...BRIDGE_READY, ARM],
    files: { [`${CAPTURE_ARMED}/eth1.timer`]: { content: ARMED_TIMER, mode: 0o700 } },
    observe: [
      [linux_bridge, { name: 'breth1', mac_from: 'eth1', ports: ['breth1-veth'] }],
      [veth, { name: 'br-int-veth', peer: 'breth1-veth' }],
      [ip_move, MOVE],
      [ip_move, { ...MOVE, state_dir: CAPTURE_ARMED }],
      [hairpin_guard, { bridge: 'breth1', script_path: CAPTURE_GUARD }],
    ],
    teardown: [DISARM],
  },
  {
    name: 'moved',
    about:
      "bridge-ready after the move: eth1 a port of breth1 with no addresses, breth1 carrying eth1's addresses and routes; hairpin off; the W12 neighbour (permanent) and routes; another neighbour 192.168.1.2 (reachable); the guard script written",
    setup: [...MOVED, ARM],
    files: {
      [CAPTURE_GUARD]: { content: hairpinGuardScript({ bridge: 'breth1', ports: ['eth1', 'breth1-veth'] }), mode: 0o755 },
      [`${CAPTURE_ARMED}/eth1.timer`]: { content: ARMED_TIMER, mode: 0o700 },
    },
    teardown: [DISARM],
    observe: [
      [ip_move, MOVE],
      [ip_move, { ...MOVE, state_dir: CAPTURE_ARMED }],
      [linux_bridge, { name: 'breth1', mac_from: 'eth1', ports: ['eth1', 'breth1-veth'] }],
      [hairpin_guard, { bridge: 'breth1', ports: ['eth1', 'breth1-veth'], script_path: CAPTURE_GUARD }],
      [route, { dest: '192.168.1.1', dev: 'breth1' }],
      [route, { dest: '192.168.1.0/29', dev: 'breth1' }],
      [route, { dest: '192.168.0.0/16', via: '192.168.1.1', dev: 'breth1' }],
      [route, { dest: 'default', via: '10.77.0.1', dev: 'breth1' }],
      [neighbor, { ip: '192.168.1.1', lladdr: MAC.gw, dev: 'breth1' }],
      [neighbor, { ip: '192.168.1.2', lladdr: MAC.gw, dev: 'breth1' }],
      [neighbor, { ip: '192.168.1.3', lladdr: MAC.gw, dev: 'breth1' }],
    ],
  },
  {
    name: 'mixed',
    about:
      'bridge-ready plus routes of every kind a host may list: an IPv6 default route without a gateway, an IPv4 route via an IPv6 nexthop, multipath routes of both families, unreachable routes, routes in table 100; and a second bridge br2 whose port p2a is down (state disabled)',
    setup: [
      ...BRIDGE_READY,
      'ip -6 route add default dev eth1 metric 2048',
      'ip route add 198.51.100.0/24 via inet6 fe80::1 dev eth1',
      'ip route add 203.0.113.0/24 nexthop via 10.77.0.1 dev eth1 nexthop via 10.77.0.3 dev eth1',
      'ip -6 route add 2001:db8:aa::/48 nexthop via 2001:db8:77::1 dev eth1 nexthop via 2001:db8:77::3 dev eth1',
      'ip route add unreachable 192.0.2.0/24',
      'ip -6 route add unreachable 2001:db8:dead::/48',
      'ip route add 192.0.2.128/25 dev eth1 table 100',
      'ip -6 route add 2001:db8:100::/48 dev eth1 table 100',
      'ip link add br2 type bridge',
      'ip link add p2a type veth peer name p2b',
      'ip link set dev p2a master br2',
      'ip link set dev br2 up',
    ],
    observe: [
      [ip_move, MOVE],
      [hairpin_guard, { bridge: 'breth1', script_path: CAPTURE_GUARD }],
    ],
  },
  {
    name: 'ovs',
    about:
      'ovsdb-server + ovs-vswitchd in the namespace (no kernel module): br-int (netdev, fail_mode secure) with port br-int-veth and a port ghost0 whose device does not exist; brbad made by a bare `add-br` (a row without a datapath); external_ids neutron-config and a value with quotes, a backslash and a non-ASCII letter',
    ovs: true,
    setup: [
      'ovs-vsctl --db="$DB" --may-exist add-br br-int -- set bridge br-int datapath_type=netdev fail_mode=secure',
      `ip link add br-int-veth address ${MAC.brIntVeth} type veth peer name breth1-veth address ${MAC.breth1Veth}`,
      'ip link set dev br-int-veth up',
      'ovs-vsctl --db="$DB" add-port br-int br-int-veth',
      'ovs-vsctl --db="$DB" add-port br-int ghost0 || true',
      'ovs-vsctl --db="$DB" add-br brbad || true',
      'ovs-vsctl --db="$DB" set open_vswitch . external_ids:neutron-config=/root/openrc',
      `ovs-vsctl --db="$DB" set open_vswitch . 'external_ids:tricky="say \\"hi\\" C:\\\\dir é"'`,
    ],
    observe: [
      [ovs_bridge, { name: 'br-int', datapath_type: 'netdev', ...OVS }],
      [ovs_bridge, { name: 'brbad', datapath_type: 'netdev', ...OVS }],
      [ovs_bridge, { name: 'br-new', datapath_type: 'netdev', ...OVS }],
      [ovs_port, { bridge: 'br-int', port: 'br-int-veth', ...OVS }],
      [ovs_port, { bridge: 'br-int', port: 'ghost0', ...OVS }],
      [ovs_port, { bridge: 'br-int', port: 'newport', ...OVS }],
      [ovs_port, { bridge: 'brbad', port: 'br-int-veth', ...OVS }],
      [ovs_port, { bridge: 'br-int', port: 'brbad', ...OVS }],
      [ovs_set, { table: 'open_vswitch', record: '.', column: 'external_ids', key: 'neutron-config', value: '/root/openrc', ...OVS }],
      [ovs_set, { table: 'bridge', record: 'br-int', column: 'fail_mode', value: 'secure', ...OVS }],
      [ovs_set, { table: 'bridge', record: 'nothere', column: 'fail_mode', value: 'secure', ...OVS }],
    ],
  },
];

export interface Fixtures {
  about: string;
  versions: Record<string, string>;
  scenarios: Record<string, { about: string; setup: string[]; host: CapturedHost }>;
}

let cache: Fixtures | undefined;

export function loadFixtures(): Fixtures {
  cache ??= JSON.parse(readFileSync(FIXTURE_FILE, 'utf8')) as Fixtures;
  return cache;
}

/** The captured result of the command text `cmd` in `scenario` (throws when it was not captured). */
export function capturedResult(scenario: string, cmd: string): ExecResult {
  const r = loadFixtures().scenarios[scenario]?.host.runs[cmd];
  if (!r) throw new Error(`not captured: ${scenario}: ${cmd}`);
  return { command: cmd, durationMs: 0, ...r };
}

/** The scenarios in which every one of the command texts `cmds` was captured. */
export function scenariosWith(...cmds: string[]): string[] {
  return Object.entries(loadFixtures().scenarios)
    .filter(([, s]) => cmds.every((c) => c in s.host.runs))
    .map(([name]) => name);
}

/** Observes with captured output of `scenario` and decides, as the engine would. */
export async function decideWith<P extends Record<string, unknown>>(
  def: ModuleDef<P, any>,
  scenario: string,
  args: Record<string, unknown>,
  opts: { check?: boolean } = {},
): Promise<Decision> {
  const s = loadFixtures().scenarios[scenario];
  if (!s) throw new Error(`no fixture scenario ${scenario}`);
  const params = paramsOf(def, args);
  const ctx = fixtureContext(s.host, opts.check ?? false);
  const observed = def.observe ? await def.observe(ctx, params) : undefined;
  return def.decide(params, observed, { checkMode: opts.check ?? false, vars: {} });
}

/** Observes with captured output of `scenario`; also gives the text of every command observe() ran. */
export async function observeWith<P extends Record<string, unknown>, O>(def: ModuleDef<P, O>, scenario: string, args: Record<string, unknown>): Promise<{ observed: O; ran: string[] }> {
  const s = loadFixtures().scenarios[scenario];
  if (!s) throw new Error(`no fixture scenario ${scenario}`);
  if (!def.observe) throw new Error(`${def.name} does not observe`);
  const ctx = fixtureContext(s.host, false);
  const ran: string[] = [];
  const observed = await def.observe(
    {
      ...ctx,
      run: (cmd, opts) => (ran.push(cmd.text), ctx.run(cmd, opts)),
      runBatch: (cmds) => (ran.push(...cmds.map((c) => c.text)), ctx.runBatch(cmds)),
    },
    paramsOf(def, args),
  );
  return { observed, ran };
}

/** The shell text of a decision's actions (`upload` as `upload PATH MODE`). */
export function actionTexts(d: Decision): string[] {
  return d.actions.map((a) => (a.kind === 'upload' ? `upload ${a.path} ${a.mode?.toString(8) ?? ''}`.trim() : a.kind === 'confirm' ? `confirm ${a.cmd.text}` : a.cmd.text));
}

function version(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8' }).split('\n')[0]!.trim();
  } catch {
    return 'unknown';
  }
}

/** Builds every scenario in fresh namespaces and records what observe() sees. */
export async function captureFixtures(file = FIXTURE_FILE): Promise<Fixtures> {
  const out: Fixtures = {
    about: 'Real output captured inside network namespaces by test/support/net-fixtures.ts (captureFixtures). Do not edit by hand: re-capture.',
    versions: { iproute2: version('ip', ['-V']), 'ovs-vsctl': version('ovs-vsctl', ['--version']), kernel: version('uname', ['-r']) },
    scenarios: {},
  };
  for (const s of SCENARIOS) {
    rmSync(CAPTURE_DIR, { recursive: true, force: true });
    mkdirSync(CAPTURE_DIR, { recursive: true });
    const ns = createNetns('ul-t');
    const peer = createNetns('ul-t');
    const ovs = s.ovs ? startOvs(ns, join(CAPTURE_DIR, 'ovs')) : undefined;
    try {
      for (const [path, f] of Object.entries(s.files ?? {})) {
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, f.content);
        chmodSync(path, f.mode);
      }
      const inNs = (line: string) => execFileSync('ip', ['netns', 'exec', ns, 'env', `PEER=${peer}`, `DB=${CAPTURE_OVS_DB}`, 'sh', '-c', line], { stdio: 'pipe' });
      for (const line of s.setup) inNs(line);
      const rec = new RecordingChannel(new NetnsChannel(ns));
      try {
        for (const [def, args] of s.observe) {
          await def.observe!(channelContext(rec), paramsOf(def, args));
        }
        for (const cmd of REFERENCE_COMMANDS) await rec.run(cmd);
      } finally {
        for (const line of s.teardown ?? []) inNs(line);
      }
      out.scenarios[s.name] = { about: s.about, setup: s.setup, host: rec.captured };
    } finally {
      ovs?.stop();
      deleteNetns(ns);
      deleteNetns(peer);
      rmSync(CAPTURE_DIR, { recursive: true, force: true });
    }
  }
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(out, null, 1)}\n`);
  cache = out;
  return out;
}
