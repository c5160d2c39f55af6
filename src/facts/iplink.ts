/**
 * Links: `ip -j -d addr show`, every link with its details and addresses (the addresses are
 * parsed by ipaddr.ts), and the bridge ports among them. One command and pure parsers.
 */
import { CommandError } from '../errors.js';
import type { ExecResult } from '../modules/types.js';
import { sh, type ShellCommand } from '../transport/quote.js';

/** One link as `ip -j -d addr show` reports it (the fields underlay uses, plus the raw object). */
export interface IpLink {
  ifindex: number;
  ifname: string;
  flags: string[];
  /** Administratively up (`UP` in flags). */
  adminUp: boolean;
  operstate: string;
  mtu: number;
  /** MAC address (lower case), when the link has one. */
  address?: string;
  /** The bridge (or bond, ...) this link is enslaved to. */
  master?: string;
  /** The peer of a veth in the same namespace (`link`). */
  link?: string;
  /** The peer's ifindex when it lives in another namespace (`link_index` with `link_netnsid`). */
  linkIndex?: number;
  linkNetnsid?: number;
  /** `linkinfo.info_kind`: bridge, veth, tun, openvswitch, ... (absent for plain devices). */
  kind?: string;
  /** `linkinfo.info_slave_kind`: `bridge` for a bridge port. */
  slaveKind?: string;
  /** For a bridge: its settings. `ageingTime` is in centiseconds, as the kernel reports it. */
  bridge?: { stpState: number; ageingTime: number };
  /** For a bridge port. */
  brport?: { hairpin: boolean; state?: string };
  raw: Record<string, unknown>;
}

/** One bridge port (what `bridge -j -d link show` reports of it). */
export interface BridgePort {
  ifindex: number;
  ifname: string;
  master?: string;
  hairpin: boolean;
  state?: string;
  flags: string[];
}

const NO_DEVICE = /does not exist|Cannot find device/;

/** True when a failed `ip`/`bridge` command failed only because the device does not exist. */
export function isNoDevice(r: ExecResult): boolean {
  return r.exitCode !== 0 && NO_DEVICE.test(r.stderr);
}

/** Parses the JSON an iproute2 or ovs-vsctl command printed; a CommandError when it is not JSON. */
export function parseJsonOutput(r: ExecResult, what: string): unknown {
  if (r.exitCode !== 0) {
    throw new CommandError(`${what}: exit code ${r.exitCode}: ${r.stderr.trim() || r.stdout.trim()}`, r);
  }
  const text = r.stdout.trim();
  if (text === '') return [];
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new CommandError(`${what}: output is not JSON: ${text.slice(0, 200)}`, r, { cause: e });
  }
}

function asArray(v: unknown, r: ExecResult, what: string): Record<string, unknown>[] {
  if (!Array.isArray(v)) throw new CommandError(`${what}: expected a JSON array`, r);
  return v.filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x));
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
const obj = (v: unknown): Record<string, unknown> | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

/**
 * Every link with its details and its addresses: `ip -j -d addr show`. One process answers
 * what `ip -j -d link show` and `ip -j addr show` answer together (parseIpLink and
 * parseIpAddr both read its output), and the modules that observe links (linux_bridge, veth,
 * hairpin_guard, ip_move) all ask it, so a round trip that carries several of their
 * observations runs it once.
 */
export function ipLinksCommand(): ShellCommand {
  return sh`ip -j -d addr show`;
}

/** Parses `ip -j -d addr show` (or `ip -j [-d] link show`). */
export function parseIpLink(r: ExecResult): IpLink[] {
  const what = r.command;
  return asArray(parseJsonOutput(r, what), r, what).map((o): IpLink => {
    const flags = Array.isArray(o['flags']) ? (o['flags'] as unknown[]).filter((f): f is string => typeof f === 'string') : [];
    const info = obj(o['linkinfo']);
    const data = obj(info?.['info_data']);
    const slave = obj(info?.['info_slave_data']);
    const kind = str(info?.['info_kind']);
    const slaveKind = str(info?.['info_slave_kind']);
    const link: IpLink = {
      ifindex: num(o['ifindex']) ?? -1,
      ifname: str(o['ifname']) ?? '',
      flags,
      adminUp: flags.includes('UP'),
      operstate: str(o['operstate']) ?? 'UNKNOWN',
      mtu: num(o['mtu']) ?? 0,
      raw: o,
    };
    const address = str(o['address']);
    if (address !== undefined) link.address = address.toLowerCase();
    const master = str(o['master']);
    if (master !== undefined) link.master = master;
    const peer = str(o['link']);
    if (peer !== undefined) link.link = peer;
    const linkIndex = num(o['link_index']);
    if (linkIndex !== undefined) link.linkIndex = linkIndex;
    const netnsid = num(o['link_netnsid']);
    if (netnsid !== undefined) link.linkNetnsid = netnsid;
    if (kind !== undefined) link.kind = kind;
    if (slaveKind !== undefined) link.slaveKind = slaveKind;
    if (kind === 'bridge' && data) link.bridge = { stpState: num(data['stp_state']) ?? 0, ageingTime: num(data['ageing_time']) ?? -1 };
    if (slaveKind === 'bridge' && slave) {
      const state = str(slave['state']);
      link.brport = { hairpin: slave['hairpin'] === true, ...(state !== undefined ? { state } : {}) };
    }
    return link;
  });
}

/** The links by name. */
export function linksByName(links: readonly IpLink[]): Map<string, IpLink> {
  return new Map(links.map((l) => [l.ifname, l]));
}

/**
 * The bridge ports among `links`, as `bridge -j -d link show` lists them: the links with a
 * master whose `-d` details are a bridge port's.
 */
export function bridgePorts(links: readonly IpLink[]): BridgePort[] {
  const out: BridgePort[] = [];
  for (const l of links) {
    if (l.slaveKind !== 'bridge' || l.brport === undefined) continue;
    const port: BridgePort = { ifindex: l.ifindex, ifname: l.ifname, hairpin: l.brport.hairpin, flags: l.flags };
    if (l.master !== undefined) port.master = l.master;
    if (l.brport.state !== undefined) port.state = l.brport.state;
    out.push(port);
  }
  return out;
}

/**
 * Why `name` cannot be a Linux interface name (at most 15 bytes, no `/`, `:` or white
 * space, not `.` or `..`), or undefined when it can.
 */
export function badIfname(name: string): string | undefined {
  if (name === '') return 'an interface name cannot be empty';
  if (Buffer.byteLength(name) > 15) return `interface name '${name}' is longer than 15 bytes`;
  if (name === '.' || name === '..' || /[\s/:]/.test(name)) return `'${name}' is not a valid interface name`;
  return undefined;
}
