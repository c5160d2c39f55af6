/**
 * The lab as data: names, addresses, MACs and ids of every host, and the text of every
 * file a host is given before it starts. Pure and deterministic: the same lab name,
 * subnet and worker count always give the same plan, so `lab up` can compare what runs
 * with what is asked for, and a re-run gives every host the same address, MAC and
 * OpenStack port id (OS_VIF_ID).
 */
import { createHash } from 'node:crypto';
import { isAbsolute, relative, resolve } from 'node:path';
import { IPv4, IPv4CidrRange } from 'ip-num';
import { InputError } from '../errors.js';

export type LabRole = 'central' | 'master' | 'worker';

export const DEFAULT_LAB_NAME = 'lab';
export const DEFAULT_SUBNET = '10.213.0.0/24';
export const DEFAULT_WORKERS = 2;
export const MAX_WORKERS = 250;
/** Lab names make link names (`ul-NAME-w250`), which Linux caps at 15 characters. */
export const LAB_NAME_RE = /^[a-z](?:[a-z0-9-]{0,5}[a-z0-9])?$/;
export const NB_PORT = 6641;
export const SB_PORT = 6642;

/** The machine directories a host gets a copy-on-write overlay of. */
export const OVERLAY_DIRS = ['etc', 'usr', 'opt', 'var'] as const;
/** The machine directories a host gets an empty directory of its own over. */
export const FRESH_DIRS = ['root', 'run', 'tmp', 'home', 'srv', 'mnt'] as const;

export interface HostPlan {
  name: string;
  role: LabRole;
  /** Offset of the host's address in the subnet (central 2, master 3, workerN 3+N). */
  index: number;
  address: string;
  netns: string;
  /** Root-namespace end of the host's veth pair (the host end is `eth1`). */
  link: string;
  mac: string;
  /** The OpenStack port id of the host's eth1 (its OS_VIF_ID); central has none in use. */
  vifId: string;
  /** Open vSwitch `external_ids:system-id`. */
  systemId: string;
  /** master only: its port on `ls-master`. */
  lsMasterVifId?: string;
  lsMasterMac?: string;
}

export interface LabPlan {
  name: string;
  /** Network address and prefix, e.g. 10.213.0.0/24. */
  subnet: string;
  prefixLength: number;
  /** The bridge's (controller's) address: the first host address of the subnet. */
  gateway: string;
  bridge: string;
  bridgeMac: string;
  /** Every lab-made name starts with this (`ul-NAME-`). */
  prefix: string;
  hosts: HostPlan[];
}

export interface PlanInput {
  name?: string | undefined;
  workers?: number | undefined;
  subnet?: string | undefined;
}

export function validateLabName(name: string): string {
  if (!LAB_NAME_RE.test(name)) {
    throw new InputError(
      `lab: invalid lab name '${name}': use 1 to 7 characters a-z, 0-9 and '-', starting with a letter and not ending with '-' (it becomes part of interface names, at most 15 characters)`,
    );
  }
  return name;
}

/** Parses and checks a CIDR: an IPv4 network address with a prefix from /8 to /29. */
export function parseSubnet(cidr: string): { range: IPv4CidrRange; network: string; prefixLength: number } {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(cidr.trim());
  let range: IPv4CidrRange | undefined;
  if (m) {
    try {
      range = IPv4CidrRange.fromCidr(cidr.trim());
    } catch {
      range = undefined;
    }
  }
  if (!m || !range) throw new InputError(`lab: --subnet must be an IPv4 network in CIDR form like ${DEFAULT_SUBNET}, got '${cidr}'`);
  const prefixLength = Number(range.cidrPrefix.getValue());
  if (prefixLength < 8 || prefixLength > 29) throw new InputError(`lab: --subnet ${cidr}: the prefix must be between /8 and /29`);
  const network = range.getFirst().toString();
  if (network !== m[1]) throw new InputError(`lab: --subnet ${cidr} is not a network address; did you mean ${network}/${prefixLength}?`);
  if (!isPrivate(range)) throw new InputError(`lab: --subnet ${cidr} is not a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)`);
  return { range, network, prefixLength };
}

function isPrivate(range: IPv4CidrRange): boolean {
  return ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'].some((p) => IPv4CidrRange.fromCidr(p).contains(range));
}

function sha(algo: 'sha1' | 'sha256', ...parts: string[]): Buffer {
  return createHash(algo).update(parts.join('\0')).digest();
}

/** A name-based UUID (RFC 4122 version 5, SHA-1), by default in the lab's namespace. */
export function uuidV5(name: string, namespace: string = LAB_UUID_NAMESPACE): string {
  const b = createHash('sha1').update(Buffer.from(namespace.replace(/-/g, ''), 'hex')).update(name, 'utf8').digest().subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x50;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
/** The namespace of the lab's name-based UUIDs (a fixed random UUID). */
export const LAB_UUID_NAMESPACE = '6f1d2c3e-8b0a-4c55-9a47-2e3b5d7f9c10';

/** A locally administered unicast MAC derived from the lab name and a key. */
export function labMac(lab: string, key: string): string {
  const b = sha('sha256', 'underlay-lab-mac', lab, key).subarray(0, 5);
  return ['02', ...[...b].map((x) => x.toString(16).padStart(2, '0'))].join(':');
}

/** OpenStack tenant id of the lab (32 hex digits, as Keystone v2 writes them). */
export function tenantId(lab: string): string {
  return sha('sha256', 'underlay-lab-tenant', lab).subarray(0, 16).toString('hex');
}

export function hostNames(workers: number): Array<{ name: string; role: LabRole; index: number }> {
  const out: Array<{ name: string; role: LabRole; index: number }> = [
    { name: 'central', role: 'central', index: 2 },
    { name: 'master', role: 'master', index: 3 },
  ];
  for (let i = 1; i <= workers; i++) out.push({ name: `worker${i}`, role: 'worker', index: 3 + i });
  return out;
}

/** Root-namespace end of a host's veth pair: `PREFIXc`, `PREFIXm`, `PREFIXwN`. */
export function linkName(prefix: string, host: string): string {
  if (host === 'central') return `${prefix}c`;
  if (host === 'master') return `${prefix}m`;
  return `${prefix}w${host.slice('worker'.length)}`;
}

/** The host a veth end (see linkName) stands for. */
export function hostOfLink(prefix: string, link: string): string | undefined {
  if (!link.startsWith(prefix)) return undefined;
  const s = link.slice(prefix.length);
  if (s === 'c') return 'central';
  if (s === 'm') return 'master';
  if (/^w[1-9]\d*$/.test(s)) return `worker${s.slice(1)}`;
  return undefined;
}

/** Builds the plan; every input problem is an InputError. */
export function planLab(input: PlanInput): LabPlan {
  const name = validateLabName(input.name ?? DEFAULT_LAB_NAME);
  const workers = input.workers ?? DEFAULT_WORKERS;
  if (!Number.isInteger(workers) || workers < 0 || workers > MAX_WORKERS) {
    throw new InputError(`lab: --workers must be an integer from 0 to ${MAX_WORKERS}, got ${workers}`);
  }
  const { range, network, prefixLength } = parseSubnet(input.subnet ?? DEFAULT_SUBNET);
  const size = Number(range.getSize());
  const needed = 3 + workers; // highest offset used
  if (needed > size - 2) {
    throw new InputError(`lab: --subnet ${network}/${prefixLength} has room for ${Math.max(0, size - 5)} workers, not ${workers}`);
  }
  const base = range.getFirst().getValue();
  const at = (offset: number): string => new IPv4(base + BigInt(offset)).toString();
  const prefix = `ul-${name}-`;
  const hosts: HostPlan[] = hostNames(workers).map(({ name: host, role, index }) => {
    const h: HostPlan = {
      name: host,
      role,
      index,
      address: at(index),
      netns: `${prefix}${host}`,
      link: linkName(prefix, host),
      mac: labMac(name, host),
      vifId: uuidV5(`${name}/${host}`),
      systemId: uuidV5(`${name}/${host}/system-id`),
    };
    if (role === 'master') {
      h.lsMasterVifId = uuidV5(`${name}/${host}/ls-master`);
      h.lsMasterMac = labMac(name, `${host}/ls-master`);
    }
    return h;
  });
  return {
    name,
    subnet: `${network}/${prefixLength}`,
    prefixLength,
    gateway: at(1),
    bridge: `${prefix}br`,
    bridgeMac: labMac(name, 'bridge'),
    prefix,
    hosts,
  };
}

/** The bridge's (controller's) address in a lab subnet: its first host address. */
export function gatewayOf(subnet: string): string {
  const { range } = parseSubnet(subnet);
  return new IPv4(range.getFirst().getValue() + 1n).toString();
}

/** Is this netns name one a lab of this name makes? (Exact: lab `e2e` does not own `ul-e2e-td-*`.) */
export function isLabNetns(lab: string, netns: string): boolean {
  const p = `ul-${lab}-`;
  return netns.startsWith(p) && /^(?:central|master|worker[1-9][0-9]*)$/.test(netns.slice(p.length));
}

/** Is this link name one a lab of this name makes (its bridge or a host's veth end)? */
export function isLabLink(lab: string, link: string): boolean {
  const p = `ul-${lab}-`;
  return link.startsWith(p) && /^(?:br|c|m|w[1-9][0-9]*)$/.test(link.slice(p.length));
}

/** The host name a lab netns stands for. */
export function hostOfNetns(lab: string, netns: string): string | undefined {
  return isLabNetns(lab, netns) ? netns.slice(`ul-${lab}-`.length) : undefined;
}

const FORBIDDEN_STATE_PARENTS = ['/etc', '/usr', '/opt', '/var', '/proc', '/sys', '/dev', '/boot'];

/**
 * The state directory holds each host's overlay layers, so it cannot live inside a
 * directory the hosts overlay (the kernel refuses overlapping layers).
 */
export function checkStateDir(stateDir: string): void {
  const abs = resolve(stateDir);
  for (const p of FORBIDDEN_STATE_PARENTS) {
    const r = relative(p, abs);
    if (r === '' || (!r.startsWith('..') && !isAbsolute(r))) {
      throw new InputError(`lab: --state ${stateDir}: the state directory cannot be under ${p} (the lab hosts overlay ${p}); use e.g. .lab/NAME in the working directory`);
    }
  }
  if (abs === '/') throw new InputError('lab: --state cannot be /');
}

// ---------------------------------------------------------------------------------------
// Files a host is given before it starts

/** The mounts the host's init makes (paths relative to the host directory). */
export function fstab(): string {
  const lines = [
    '# underlay lab host: mounted by host-init.sh with `mount --no-canonicalize -a -T ./fstab`',
    '# from the host directory; relative paths are relative to it.',
  ];
  for (const d of OVERLAY_DIRS) lines.push(`ul-${d} /${d} overlay lowerdir=/${d},upperdir=${d}.upper,workdir=${d}.work 0 0`);
  for (const d of FRESH_DIRS) lines.push(`${d} /${d} none bind 0 0`);
  lines.push('ul-proc /proc proc nosuid,nodev,noexec 0 0');
  lines.push('ul-shm /dev/shm tmpfs nosuid,nodev,mode=1777,size=64m 0 0');
  return lines.join('\n') + '\n';
}

/** `ip -batch` input run inside the host's netns: eth1's address, links up, default route. */
export function netBatch(lab: LabPlan, host: HostPlan): string {
  return [
    `link set lo up`,
    `addr add ${host.address}/${lab.prefixLength} dev eth1`,
    `link set eth1 up`,
    `route add default via ${lab.gateway} dev eth1`,
    '',
  ].join('\n');
}

/** `ip -batch` input run in the root namespace to create hosts' netns and veth pairs. */
export function rootBatchCreate(lab: LabPlan, hosts: HostPlan[]): string {
  const lines: string[] = [];
  for (const h of hosts) {
    lines.push(`netns add ${h.netns}`);
    lines.push(`link add ${h.link} type veth peer name eth1 address ${h.mac} netns ${h.netns}`);
    lines.push(`link set ${h.link} master ${lab.bridge} up`);
  }
  return lines.join('\n') + '\n';
}

export function sshdConfig(host: HostPlan): string {
  return [
    '# underlay lab host sshd (written by `underlay lab up`)',
    'Port 22',
    `ListenAddress ${host.address}`,
    'HostKey /etc/ssh/ssh_host_ed25519_key',
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'AuthorizedKeysFile .ssh/authorized_keys',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'UseDNS no',
    'PrintMotd no',
    'PidFile /run/sshd.pid',
    'AcceptEnv LANG LC_*',
    'Subsystem sftp /usr/lib/openssh/sftp-server',
    '',
  ].join('\n');
}

export function etcHosts(lab: LabPlan, host: HostPlan): string {
  const central = lab.hosts.find((h) => h.role === 'central');
  const master = lab.hosts.find((h) => h.role === 'master');
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', `${host.address}\t${host.name}`];
  for (const other of [central, master]) if (other && other.name !== host.name) lines.push(`${other.address}\t${other.name}`);
  return lines.join('\n') + '\n';
}
