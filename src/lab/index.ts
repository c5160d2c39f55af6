/**
 * `underlay lab`: a lab of real hosts on this one Linux machine.
 *
 * A host is a network namespace on one Linux bridge of the root namespace, whose init
 * (src/lab/host-init.sh) runs as PID 1 of a PID namespace of its own with private
 * mounts: copy-on-write overlays over /etc /usr /opt /var and fresh /root /run /tmp
 * /home /srv /mnt, so whatever a playbook writes there belongs to that host alone. Every
 * host runs sshd (as its PID 1: the handle recorded for health and teardown) and Open
 * vSwitch in userspace; the `central` host runs OVN central; `master` and `workerN` are
 * the VMs of the original procedure. What OpenStack and Kubernetes would have provided is
 * made by labelled stand-ins (see README "The lab").
 *
 * Nothing here writes to the terminal: progress goes to `opts.log`.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  accessSync,
  chmodSync,
  closeSync,
  constants,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IPv4, IPv4CidrRange } from 'ip-num';
import { EnvironmentError, InputError } from '../errors.js';
import { INVENTORY_MARK, renderInventory } from './inventory.js';
import { ovsRootRowRecord } from './ovsdbfile.js';
import {
  DEFAULT_LAB_NAME,
  etcHosts,
  gatewayOf,
  FRESH_DIRS,
  fstab,
  hostOfLink,
  hostOfNetns,
  linkName,
  isLabLink,
  isLabNetns,
  netBatch,
  OVERLAY_DIRS,
  planLab,
  rootBatchCreate,
  sshdConfig,
  uuidV5,
  validateLabName,
  checkStateDir,
  type HostPlan,
  type LabPlan,
  type LabRole,
} from './plan.js';
import {
  daemonAnswers,
  isHostPid,
  labEnv,
  netnsInode,
  ovsdbAnswers,
  pidAlive,
  poll,
  run,
  runOk,
  signal,
  sshBanner,
  waitGone,
  zombieParent,
} from './proc.js';
import { generateEd25519 } from './sshkey.js';
import { tarGz, type TarEntry } from './tar.js';

export interface LabOptions {
  name?: string;
  workers?: number;
  subnet?: string;
  stateDir?: string;
  inventoryPath?: string;
  /**
   * Hosts run Open vSwitch (ovsdb-server, ovs-vswitchd): the default. `false` makes hosts
   * without it (`lab up --without-ovs`), for runs that leave the OVS tasks out
   * (`--skip-tags ovs`): a large lab then costs the machine no OVS daemon per host. A kept
   * host that differs is rebuilt.
   */
  openvswitch?: boolean;
  concurrency?: number;
  log?: (line: string) => void;
}

export interface LabHost {
  name: string;
  role: LabRole;
  address: string;
  netns: string;
  pid: number;
  mac: string;
  vifId: string;
  /** Runs Open vSwitch (false: made with `--without-ovs`). */
  openvswitch: boolean;
}

export interface LabState {
  name: string;
  stateDir: string;
  inventoryPath: string;
  knownHostsFile: string;
  keyFile: string;
  hosts: LabHost[];
  subnet: string;
  bridge: string;
}

export interface LabHostStatus extends LabHost {
  sshd: boolean;
  ovs: boolean;
  ovnCentral?: boolean;
}

/** What lab.json in the state directory holds. */
interface StoredState extends LabState {
  version: 1;
  /** PID of each host's launcher (`ip netns exec ... unshare`, the parent of the host's PID 1). */
  launchers: Record<string, number>;
}

const STATE_FILE = 'lab.json';
const KEY_FILE = 'id_ed25519';
const SECRET_FILE = 'secret.json';
const KNOWN_HOSTS = 'known_hosts';
const RELEASE_FILE = 'kubernetes-server-linux-amd64.tar.gz';
const PLUGIN_FILE = 'ovn-k8-underlay.py';
const INIT_FILE = 'host-init.sh';
const KUBE_BINARIES = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubelet', 'kube-proxy', 'kubectl'];
const ETCD_BINARY = '/usr/bin/etcd';
const SSHD = '/usr/sbin/sshd';
const DEFAULT_CONCURRENCY = 8;
/** Bounds of waiting for a new host's sshd to answer. */
const HOST_READY = { attempts: 1200, timeoutMs: 90_000 };
const PROBE_TIMEOUT_MS = 3000;

// ---------------------------------------------------------------------------------------
// Prerequisites

interface Requirement {
  path: string;
  pkg: string;
}

const REQUIREMENTS: Requirement[] = [
  { path: 'ip', pkg: 'iproute2' },
  { path: 'unshare', pkg: 'util-linux' },
  { path: 'mount', pkg: 'mount' },
  { path: 'umount', pkg: 'mount' },
  { path: SSHD, pkg: 'openssh-server' },
  { path: 'ovsdb-tool', pkg: 'openvswitch-switch' },
  { path: 'ovsdb-server', pkg: 'openvswitch-switch' },
  { path: 'ovs-vswitchd', pkg: 'openvswitch-switch' },
  { path: 'ovs-vsctl', pkg: 'openvswitch-switch' },
  { path: '/usr/share/openvswitch/vswitch.ovsschema', pkg: 'openvswitch-switch' },
  { path: 'ovn-nbctl', pkg: 'ovn-central' },
  { path: 'ovn-northd', pkg: 'ovn-central' },
  { path: '/usr/share/ovn/ovn-nb.ovsschema', pkg: 'ovn-central' },
  { path: '/usr/share/ovn/ovn-sb.ovsschema', pkg: 'ovn-central' },
  { path: 'ovn-controller', pkg: 'ovn-host' },
  { path: ETCD_BINARY, pkg: 'etcd-server' },
  // the worker role's load-balancing step adds a FORWARD rule in each host's namespace
  { path: 'iptables', pkg: 'iptables' },
];

function findProgram(name: string): string | undefined {
  if (name.startsWith('/')) return existsSync(name) ? name : undefined;
  for (const dir of labEnv().PATH!.split(':')) {
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** Throws EnvironmentError unless this is Linux, as root, with every program the lab needs. */
export function checkLabPrerequisites(): void {
  checkPrerequisitesOf({
    platform: process.platform,
    uid: typeof process.getuid === 'function' ? process.getuid() : undefined,
    find: findProgram,
  });
  nodeForHosts();
}

/** The checks of checkLabPrerequisites over given facts (for tests). */
export function checkPrerequisitesOf(facts: { platform: string; uid: number | undefined; find: (path: string) => string | undefined }): void {
  if (facts.platform !== 'linux') throw new EnvironmentError(`lab: needs Linux (network namespaces); this is ${facts.platform}`);
  if (facts.uid !== 0) {
    throw new EnvironmentError('lab: must run as root (it creates network namespaces, a bridge and mounts); run it with sudo or as root');
  }
  const missing = REQUIREMENTS.filter((r) => facts.find(r.path) === undefined);
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((m) => m.pkg))];
    throw new EnvironmentError(
      `lab: missing ${missing.map((m) => m.path).join(', ')}; install with:\n  apt-get install -y ${pkgs.join(' ')}`,
    );
  }
}

/** The node binary the stand-ins run with: it must be visible inside the hosts (under /usr or /opt). */
function nodeForHosts(): string {
  const visible = (p: string): boolean => /^\/(usr|opt|bin|sbin|lib)\//.test(p) && existsSync(p);
  if (visible(process.execPath)) return process.execPath;
  for (const p of ['/usr/bin/node', '/usr/local/bin/node', '/usr/bin/nodejs']) if (visible(p)) return p;
  throw new EnvironmentError(
    `lab: the node binary (${process.execPath}) is not under /usr or /opt, so lab hosts cannot run the Kubernetes stand-ins; install one with:\n  apt-get install -y nodejs`,
  );
}

// ---------------------------------------------------------------------------------------
// Context, state and lock

interface Ctx {
  name: string;
  stateDir: string;
  log: (line: string) => void;
  concurrency: number;
}

function context(opts: LabOptions): Ctx {
  const name = validateLabName(opts.name ?? DEFAULT_LAB_NAME);
  const stateDir = resolve(opts.stateDir ?? join('.lab', name));
  checkStateDir(stateDir);
  const concurrency = opts.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) throw new InputError(`lab: concurrency must be an integer from 1 to 64, got ${concurrency}`);
  return { name, stateDir, log: opts.log ?? (() => {}), concurrency };
}

const hostDirOf = (ctx: Ctx, host: string): string => join(ctx.stateDir, 'hosts', host);

function readState(ctx: Ctx): StoredState | undefined {
  const file = join(ctx.stateDir, STATE_FILE);
  if (!existsSync(file)) return undefined;
  try {
    const s = JSON.parse(readFileSync(file, 'utf8')) as StoredState;
    if (s.version !== 1 || s.name !== ctx.name || !Array.isArray(s.hosts)) return undefined;
    // state written before hosts could be made without Open vSwitch: all had it
    for (const h of s.hosts) h.openvswitch ??= true;
    return s;
  } catch {
    return undefined;
  }
}

function writeFileAtomic(file: string, content: string | Buffer, mode = 0o644): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, content, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, file);
}

async function withLock<T>(ctx: Ctx, fn: () => Promise<T>): Promise<T> {
  mkdirSync(dirname(ctx.stateDir), { recursive: true });
  mkdirSync(ctx.stateDir, { recursive: true, mode: 0o700 });
  const lock = join(ctx.stateDir, 'lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lock, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = Number(readFileSync(lock, 'utf8').trim());
      if (holder !== process.pid && pidAlive(holder)) {
        throw new EnvironmentError(`lab '${ctx.name}' is busy: another 'underlay lab' (pid ${holder}) works on ${ctx.stateDir}`);
      }
      rmSync(lock, { force: true }); // left by a process that ended
      if (attempt === 1) throw new EnvironmentError(`lab '${ctx.name}': cannot take the lock ${lock}`);
    }
  }
  try {
    return await fn();
  } finally {
    try {
      if (readFileSync(lock, 'utf8').trim() === String(process.pid)) unlinkSync(lock);
    } catch {
      /* gone */
    }
  }
}

/** Runs `fn` over items with at most `limit` at once; rejects with the first failure after all settled. */
async function pool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  const errors: unknown[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      try {
        results[i] = await fn(items[i]!);
      } catch (e) {
        errors.push(e);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (errors.length > 0) throw errors[0];
  return results;
}

// ---------------------------------------------------------------------------------------
// Machine facts (no processes: /run/netns, /sys/class/net, /proc)

function labNetnsPresent(name: string): string[] {
  let entries: string[] = [];
  try {
    entries = readdirSync('/run/netns');
  } catch {
    return [];
  }
  return entries.filter((n) => isLabNetns(name, n)).sort();
}

function linksPresent(): Set<string> {
  try {
    return new Set(readdirSync('/sys/class/net'));
  } catch {
    return new Set();
  }
}

/** Mount points at or below `dir` in this (the root) mount namespace, deepest first. */
function mountsUnder(dir: string): string[] {
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    const mp = f[4]?.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (mp && (mp === dir || mp.startsWith(`${dir}/`))) out.push(mp);
  }
  return out.sort((a, b) => b.length - a.length);
}

// ---------------------------------------------------------------------------------------
// Bridge

interface IpAddrJson {
  ifname: string;
  addr_info?: Array<{ family: string; local: string; prefixlen: number }>;
}
interface IpRouteJson {
  dst: string;
  dev?: string;
}

async function ensureBridge(ctx: Ctx, plan: LabPlan): Promise<boolean> {
  const subnet = IPv4CidrRange.fromCidr(plan.subnet);
  const addrs = JSON.parse((await runOk('listing addresses', 'ip', ['-j', 'addr', 'show'])).stdout) as IpAddrJson[];
  const routes = JSON.parse((await runOk('listing routes', 'ip', ['-j', 'route', 'show'])).stdout) as IpRouteJson[];
  for (const a of addrs) {
    if (a.ifname === plan.bridge) continue;
    for (const i of a.addr_info ?? []) {
      if (i.family !== 'inet') continue;
      const theirs = IPv4CidrRange.fromCidr(`${networkOf(i.local, i.prefixlen)}/${i.prefixlen}`);
      if (theirs.isOverlapping(subnet)) {
        throw new EnvironmentError(`lab: subnet ${plan.subnet} clashes with ${i.local}/${i.prefixlen} on ${a.ifname}; choose another with --subnet (another lab may use it)`);
      }
    }
  }
  for (const r of routes) {
    if (r.dev === plan.bridge || r.dst === 'default' || !/^\d/.test(r.dst)) continue;
    const dst = IPv4CidrRange.fromCidr(r.dst.includes('/') ? r.dst : `${r.dst}/32`);
    if (subnet.contains(dst)) throw new EnvironmentError(`lab: subnet ${plan.subnet} clashes with the route to ${r.dst} via ${r.dev ?? '?'}; choose another with --subnet`);
  }
  const mine = addrs.find((a) => a.ifname === plan.bridge);
  const want = `${plan.gateway}/${plan.prefixLength}`;
  if (mine) {
    const have = (mine.addr_info ?? []).filter((i) => i.family === 'inet').map((i) => `${i.local}/${i.prefixlen}`);
    const batch: string[] = [];
    if (have.length !== 1 || have[0] !== want) {
      batch.push(`addr flush dev ${plan.bridge}`, `addr add ${want} dev ${plan.bridge}`);
    }
    batch.push(`link set ${plan.bridge} up`);
    await runOk(`configuring bridge ${plan.bridge}`, 'ip', ['-batch', '-'], { input: batch.join('\n') + '\n' });
    return false;
  }
  await runOk(`creating bridge ${plan.bridge}`, 'ip', ['-batch', '-'], {
    input: [
      `link add ${plan.bridge} address ${plan.bridgeMac} type bridge`,
      `addr add ${want} dev ${plan.bridge}`,
      `link set ${plan.bridge} up`,
      '',
    ].join('\n'),
  });
  ctx.log(`bridge ${plan.bridge} ${want} created`);
  return true;
}

function networkOf(address: string, prefix: number): string {
  const v = new IPv4(address).getValue();
  const mask = prefix === 0 ? 0n : ((1n << 32n) - 1n) ^ ((1n << BigInt(32 - prefix)) - 1n);
  return new IPv4(v & mask).toString();
}

// ---------------------------------------------------------------------------------------
// Lab-wide artifacts

interface Artifacts {
  keyFile: string;
  publicKey: string;
  knownHostsFile: string;
  osPassword: string;
  kubeRelease: string;
  kubeReleaseSha256: string;
  pluginSrc: string;
  initScript: string;
  confDbTemplate: string;
  nbTemplate: string;
  sbTemplate: string;
  dbVersion: string;
  ovsVersion: string;
}

/** A file shipped beside this module (src/lab/...), also found from dist/lab/ in a checkout. */
function asset(rel: string): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const p of [join(here, rel), join(here, '..', '..', 'src', 'lab', rel)]) if (existsSync(p)) return p;
  throw new EnvironmentError(`lab: ${rel} not found beside ${here} (underlay installation incomplete)`);
}

function writeIfChanged(file: string, content: string | Buffer, mode: number): void {
  const buf = typeof content === 'string' ? Buffer.from(content) : content;
  let same = false;
  try {
    same = readFileSync(file).equals(buf) && (statSync(file).mode & 0o7777) === mode;
  } catch {
    same = false;
  }
  if (!same) writeFileAtomic(file, buf, mode);
}

/** The Kubernetes server release stand-in: same layout as the real tarball, stand-in executables. */
export function kubeReleaseTarball(nodePath: string, template: string): Buffer {
  const entries: TarEntry[] = [
    { path: 'kubernetes/', mode: 0o755 },
    { path: 'kubernetes/server/', mode: 0o755 },
    { path: 'kubernetes/server/bin/', mode: 0o755 },
  ];
  for (const b of KUBE_BINARIES) {
    entries.push({ path: `kubernetes/server/bin/${b}`, mode: 0o755, content: template.replaceAll('@NODE@', nodePath).replaceAll('@NAME@', b) });
  }
  return tarGz(entries);
}

async function ensureArtifacts(ctx: Ctx): Promise<Artifacts> {
  const dir = ctx.stateDir;
  const keyFile = join(dir, KEY_FILE);
  if (!existsSync(keyFile) || !existsSync(`${keyFile}.pub`)) {
    const k = generateEd25519(`underlay-lab-${ctx.name}`);
    writeFileAtomic(keyFile, k.privateKey, 0o600);
    writeFileAtomic(`${keyFile}.pub`, `${k.publicKey}\n`, 0o644);
    ctx.log(`SSH key ${keyFile} created`);
  }
  chmodSync(keyFile, 0o600);
  const publicKey = readFileSync(`${keyFile}.pub`, 'utf8').trim();

  const secretFile = join(dir, SECRET_FILE);
  let osPassword: string | undefined;
  try {
    osPassword = (JSON.parse(readFileSync(secretFile, 'utf8')) as { osPassword?: string }).osPassword;
  } catch {
    osPassword = undefined;
  }
  if (!osPassword) {
    osPassword = randomBytes(18).toString('base64url');
    writeFileAtomic(secretFile, JSON.stringify({ osPassword }) + '\n', 0o600);
  }

  const tdir = join(dir, 'templates');
  mkdirSync(tdir, { recursive: true });
  const confDbTemplate = join(tdir, 'conf.db');
  const nbTemplate = join(tdir, 'ovnnb_db.db');
  const sbTemplate = join(tdir, 'ovnsb_db.db');
  const vswitchSchema = '/usr/share/openvswitch/vswitch.ovsschema';
  for (const [file, schema] of [
    [confDbTemplate, vswitchSchema],
    [nbTemplate, '/usr/share/ovn/ovn-nb.ovsschema'],
    [sbTemplate, '/usr/share/ovn/ovn-sb.ovsschema'],
  ] as const) {
    if (!existsSync(file)) {
      rmSync(`${file}.new`, { force: true });
      await runOk(`creating ${file}`, 'ovsdb-tool', ['create', `${file}.new`, schema]);
      renameSync(`${file}.new`, file);
    }
  }
  const dbVersion = String((JSON.parse(readFileSync(vswitchSchema, 'utf8')) as { version?: string }).version ?? '');
  const versionsFile = join(tdir, 'versions.json');
  let ovsVersion = '';
  try {
    ovsVersion = (JSON.parse(readFileSync(versionsFile, 'utf8')) as { ovs?: string }).ovs ?? '';
  } catch {
    ovsVersion = '';
  }
  if (!ovsVersion) {
    const v = await runOk('reading the Open vSwitch version', 'ovs-vswitchd', ['--version']);
    ovsVersion = /(\d+\.\d+\.\d+)/.exec(v.stdout)?.[1] ?? '';
    writeFileAtomic(versionsFile, JSON.stringify({ ovs: ovsVersion }) + '\n');
  }

  const initScript = join(dir, INIT_FILE);
  writeIfChanged(initScript, readFileSync(asset('host-init.sh')), 0o755);

  const kubeRelease = join(dir, RELEASE_FILE);
  const tarball = kubeReleaseTarball(nodeForHosts(), readFileSync(asset('standins/kube.cjs'), 'utf8'));
  writeIfChanged(kubeRelease, tarball, 0o644);
  const kubeReleaseSha256 = createHash('sha256').update(tarball).digest('hex');

  const pluginSrc = join(dir, PLUGIN_FILE);
  writeIfChanged(pluginSrc, readFileSync(asset('standins/ovn-k8-underlay.sh')), 0o755);

  return {
    keyFile,
    publicKey,
    knownHostsFile: join(dir, KNOWN_HOSTS),
    osPassword,
    kubeRelease,
    kubeReleaseSha256,
    pluginSrc,
    initScript,
    confDbTemplate,
    nbTemplate,
    sbTemplate,
    dbVersion,
    ovsVersion,
  };
}

/** The host's SSH host key, kept for the lab's lifetime (a rebuilt host keeps its key). */
function hostKey(ctx: Ctx, host: string): { privateKey: string; publicKey: string } {
  const dir = join(ctx.stateDir, 'hostkeys');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, host);
  if (!existsSync(file) || !existsSync(`${file}.pub`)) {
    const k = generateEd25519(`root@${host}`);
    writeFileAtomic(file, k.privateKey, 0o600);
    writeFileAtomic(`${file}.pub`, `${k.publicKey}\n`, 0o644);
  }
  return { privateKey: readFileSync(file, 'utf8'), publicKey: readFileSync(`${file}.pub`, 'utf8').trim() };
}

// ---------------------------------------------------------------------------------------
// One host

function prepareHostDir(ctx: Ctx, plan: LabPlan, h: HostPlan, art: Artifacts): void {
  const dir = hostDirOf(ctx, h.name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const mk = (rel: string, mode = 0o755): string => {
    const p = join(dir, rel);
    mkdirSync(p, { recursive: true });
    chmodSync(p, mode);
    return p;
  };
  const put = (rel: string, content: string | Buffer, mode = 0o644): void => {
    const p = join(dir, rel);
    mkdirSync(dirname(p), { recursive: true, mode: 0o755 });
    writeFileSync(p, content, { mode });
    chmodSync(p, mode);
  };
  for (const d of OVERLAY_DIRS) {
    mk(`${d}.upper`);
    mk(`${d}.work`);
  }
  for (const d of FRESH_DIRS) mk(d, d === 'tmp' ? 0o1777 : d === 'root' ? 0o700 : 0o755);
  mk('run/sshd');
  mk('run/openvswitch');
  mk('run/lock', 0o1777);
  mk('root/.ssh', 0o700);
  put('fstab', fstab());
  put('net.batch', netBatch(plan, h));

  const key = hostKey(ctx, h.name);
  mk('etc.upper/ssh');
  put('etc.upper/ssh/sshd_config', sshdConfig(h));
  put('etc.upper/ssh/ssh_host_ed25519_key', key.privateKey, 0o600);
  put('etc.upper/ssh/ssh_host_ed25519_key.pub', `${key.publicKey}\n`);
  put('etc.upper/hostname', `${h.name}\n`);
  put('etc.upper/hosts', etcHosts(plan, h));
  put('root/.ssh/authorized_keys', `${art.publicKey}\n`, 0o600);

  mk('var.upper/lib');
  mk('var.upper/lib/openvswitch');
  const confDb = Buffer.concat([
    readFileSync(art.confDbTemplate),
    Buffer.from(
      ovsRootRowRecord({ rowUuid: uuidV5(`${plan.name}/${h.name}/ovs-root`), systemId: h.systemId, hostname: h.name, dbVersion: art.dbVersion, ovsVersion: art.ovsVersion }),
    ),
  ]);
  put('var.upper/lib/openvswitch/conf.db', confDb);
  if (h.role === 'central') {
    mk('run/ovn');
    mk('var.upper/lib/ovn');
    copyFileSync(art.nbTemplate, join(dir, 'var.upper/lib/ovn/ovnnb_db.db'));
    copyFileSync(art.sbTemplate, join(dir, 'var.upper/lib/ovn/ovnsb_db.db'));
  }
}

interface Started {
  host: HostPlan;
  pid: number;
  launcher: number;
}

function initLogTail(ctx: Ctx, host: string): string {
  try {
    const text = readFileSync(join(hostDirOf(ctx, host), 'init.log'), 'utf8').trim();
    return text ? `\n--- ${host} init.log ---\n${text.split('\n').slice(-20).join('\n')}` : '';
  } catch {
    return '';
  }
}

/** Starts the host's init and waits (bounded) until its sshd answers and its OVS (if any) serves. */
async function startHost(ctx: Ctx, h: HostPlan, art: Artifacts, net: LabNet, openvswitch: boolean): Promise<Started> {
  const dir = hostDirOf(ctx, h.name);
  const started = Date.now();
  const logFd = openSync(join(dir, 'init.log'), 'w');
  let exited: string | undefined;
  let launcher: number | undefined;
  try {
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        h.netns,
        'unshare',
        '--mount',
        '--uts',
        '--ipc',
        '--pid',
        '--fork',
        '--kill-child',
        '--propagation',
        'slave',
        '/bin/sh',
        art.initScript,
        dir,
        h.role,
        h.name,
        h.address,
        openvswitch ? 'ovs' : 'no-ovs',
      ],
      { cwd: dir, detached: true, stdio: ['ignore', logFd, logFd], env: labEnv() },
    );
    launcher = child.pid;
    child.once('error', (e) => {
      exited = `could not start: ${e.message}`;
    });
    child.once('exit', (code, sig) => {
      exited = `its init ended (${sig ?? `exit ${code}`})`;
    });
    child.unref();
  } finally {
    closeSync(logFd);
  }
  // Ready when the init has become sshd (cheap /proc reads; probing TCP before eth1 has
  // its address would wait on ARP) and sshd answers on eth1's address.
  let pid = 0;
  const ready = await poll(
    async () => {
      if (exited) throw new EnvironmentError(`lab: host ${h.name}: ${exited}${initLogTail(ctx, h.name)}`);
      if (!pid) pid = readPid(join(dir, 'pid'));
      if (!pid || exeOf(pid) !== SSHD) return undefined;
      return (await sshBanner(h.address, 22, 1000, net.gateway)) ? true : undefined;
    },
    { ...HOST_READY, intervalMs: 5, maxIntervalMs: 50 },
  );
  if (!ready) throw new EnvironmentError(`lab: host ${h.name}: sshd on ${h.address}:22 did not answer within ${HOST_READY.timeoutMs / 1000}s${initLogTail(ctx, h.name)}`);
  if (!isHostPid(pid, h.netns)) throw new EnvironmentError(`lab: host ${h.name}: recorded PID ${pid} is not the host's PID 1${initLogTail(ctx, h.name)}`);
  const health = await hostHealth(ctx, { ...h, pid, openvswitch }, net);
  if (!healthy(health, openvswitch)) {
    throw new EnvironmentError(`lab: host ${h.name}: ${openvswitch && !health.ovs ? 'Open vSwitch' : 'OVN central'} does not answer${initLogTail(ctx, h.name)}`);
  }
  ctx.log(`${h.name}: up at ${h.address} (pid ${pid}) in ${((Date.now() - started) / 1000).toFixed(2)}s`);
  return { host: h, pid, launcher: launcher ?? 0 };
}

function readPid(file: string): number {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 1 ? n : 0;
  } catch {
    return 0;
  }
}

function exeOf(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return undefined;
  }
}

interface Health {
  sshd: boolean;
  /** Open vSwitch answers (always false on a host without it: not asked). */
  ovs: boolean;
  ovnCentral?: boolean;
}

interface LabNet {
  bridge: string;
  gateway: string;
}

/** Is the host's veth end attached to the lab bridge (/sys/class/net/LINK/master)? */
function onBridge(ctx: Ctx, host: string, bridge: string): boolean {
  try {
    return basename(readlinkSync(`/sys/class/net/${linkName(`ul-${ctx.name}-`, host)}/master`)) === bridge;
  } catch {
    return false;
  }
}

async function hostHealth(ctx: Ctx, h: { name: string; role: LabRole; address: string; netns: string; pid: number; openvswitch: boolean }, net: LabNet): Promise<Health> {
  const dir = hostDirOf(ctx, h.name);
  const alive = isHostPid(h.pid, h.netns);
  const reachable = alive && onBridge(ctx, h.name, net.bridge);
  const [banner, db, vswitchd] = alive
    ? await Promise.all([
        reachable ? sshBanner(h.address, 22, PROBE_TIMEOUT_MS, net.gateway) : false,
        h.openvswitch && ovsdbAnswers(join(dir, 'run/openvswitch/db.sock'), PROBE_TIMEOUT_MS),
        h.openvswitch && daemonAnswers(join(dir, 'run/openvswitch'), 'ovs-vswitchd', PROBE_TIMEOUT_MS),
      ])
    : [false, false, false];
  const health: Health = { sshd: alive && banner, ovs: alive && db && vswitchd };
  if (h.role === 'central') {
    const [nb, sb, northd] = alive
      ? await Promise.all([
          ovsdbAnswers(join(dir, 'run/ovn/ovnnb_db.sock'), PROBE_TIMEOUT_MS),
          ovsdbAnswers(join(dir, 'run/ovn/ovnsb_db.sock'), PROBE_TIMEOUT_MS),
          daemonAnswers(join(dir, 'run/ovn'), 'ovn-northd', PROBE_TIMEOUT_MS),
        ])
      : [false, false, false];
    health.ovnCentral = nb && sb && northd;
  }
  return health;
}

/** Everything the host should run answers (Open vSwitch only where it has it). */
const healthy = (x: Health, openvswitch: boolean): boolean => x.sshd && (x.ovs || !openvswitch) && x.ovnCentral !== false;

// ---------------------------------------------------------------------------------------
// Teardown

interface Victim {
  name: string;
  netns: string;
  link: string;
  pid?: number;
  launcher?: number;
}

/**
 * Ends hosts and removes what they were made of: their processes (the recorded PID 1
 * first, which ends the host's PID namespace, then whatever else is in the host's network
 * namespace: the launcher, anything entered with `ip netns exec`), their netns (the kernel
 * then frees each namespace with its veth pair, in one batch: much faster than deleting
 * links one by one), and their directories.
 */
async function teardownHosts(ctx: Ctx, victims: Victim[], removed: string[]): Promise<void> {
  if (victims.length === 0) return;
  // 1. Each host's PID 1 (verified to still be that host): the kernel ends its whole PID
  //    namespace; the launcher then reaps it and exits by itself. (Killing the launcher
  //    first would leave the PID 1 a zombie for the machine's init to reap.)
  const firsts: number[] = [];
  for (const v of victims) {
    if (v.pid !== undefined && isHostPid(v.pid, v.netns)) {
      signal(v.pid, 'SIGKILL');
      firsts.push(v.pid);
      removed.push(`process ${v.pid} (${v.name}: PID 1)`);
    }
  }
  let stuck = await waitGone(firsts, 10_000);
  // 2. Whatever still runs in the hosts' network namespaces: launchers on their way out,
  //    processes entered with `ip netns exec` (the namespaces are the lab's own).
  const byInode = new Map<bigint, Victim>();
  for (const v of victims) {
    const ino = netnsInode(`/run/netns/${v.netns}`);
    if (ino !== undefined) byInode.set(ino, v);
  }
  const others: number[] = [];
  if (byInode.size > 0) {
    for (const e of readdirSync('/proc')) {
      if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
      const ino = netnsInode(`/proc/${e}/ns/net`);
      const v = ino === undefined ? undefined : byInode.get(ino);
      if (v && pidAlive(Number(e)) && signal(Number(e), 'SIGKILL')) {
        others.push(Number(e));
        if (Number(e) !== v.launcher) removed.push(`process ${e} (${v.name})`);
      }
    }
  }
  // Launchers that have ended already but are this process's children: wait until reaped.
  for (const v of victims) if (v.launcher !== undefined && zombieParent(v.launcher) === process.pid) others.push(v.launcher);
  stuck = [...stuck, ...(await waitGone(others, 10_000))];
  if (stuck.length > 0) throw new EnvironmentError(`lab: processes ${stuck.join(', ')} did not end after SIGKILL`);

  const netns = new Set(labNetnsPresent(ctx.name));
  const linksBefore = linksPresent();
  const batch: string[] = [];
  for (const v of victims) {
    if (netns.has(v.netns)) {
      batch.push(`netns del ${v.netns}`);
      removed.push(`netns ${v.netns}`);
    }
    if (linksBefore.has(v.link)) removed.push(`link ${v.link}`);
  }
  if (batch.length) await runOk('removing network namespaces', 'ip', ['-force', '-batch', '-'], { input: batch.join('\n') + '\n' });
  // The veth ends go with their namespaces; a namespace still pinned elsewhere keeps its
  // pair, which is then deleted explicitly.
  const wanted = victims.map((v) => v.link);
  const gone = await poll(() => (wanted.some((l) => linksPresent().has(l)) ? undefined : true), { attempts: 200, timeoutMs: 3000, intervalMs: 5, maxIntervalMs: 50 });
  if (!gone) {
    const left = wanted.filter((l) => linksPresent().has(l));
    await runOk('removing links', 'ip', ['-force', '-batch', '-'], { input: left.map((l) => `link del ${l}`).join('\n') + '\n' });
  }
  for (const v of victims) {
    const dir = hostDirOf(ctx, v.name);
    for (const mp of mountsUnder(dir)) await runOk(`unmounting ${mp}`, 'umount', ['-l', mp]);
    if (existsSync(dir)) {
      rmSync(dir, { recursive: true, force: true });
      removed.push(`dir ${dir}`);
    }
  }
}

function victimsFromState(ctx: Ctx, prev: StoredState | undefined, keep: (name: string) => boolean): Victim[] {
  const out = new Map<string, Victim>();
  const prefix = `ul-${ctx.name}-`;
  for (const h of prev?.hosts ?? []) {
    if (keep(h.name)) continue;
    const v: Victim = { name: h.name, netns: h.netns, link: linkName(prefix, h.name), pid: h.pid };
    const launcher = prev?.launchers?.[h.name];
    if (launcher !== undefined) v.launcher = launcher;
    out.set(h.name, v);
  }
  for (const ns of labNetnsPresent(ctx.name)) {
    const host = hostOfNetns(ctx.name, ns);
    if (!host || keep(host) || out.has(host)) continue;
    out.set(host, { name: host, netns: ns, link: linkName(prefix, host) });
  }
  // veth ends whose netns is already gone
  for (const link of linksPresent()) {
    if (!isLabLink(ctx.name, link) || link === `${prefix}br`) continue;
    const host = hostOfLink(prefix, link);
    if (!host || keep(host) || out.has(host)) continue;
    out.set(host, { name: host, netns: `${prefix}${host}`, link });
  }
  return [...out.values()];
}

// ---------------------------------------------------------------------------------------
// OpenStack stand-in: what Neutron would have made in OVN NB

async function ensureNorthbound(ctx: Ctx, plan: LabPlan, removedHosts: LabHost[]): Promise<void> {
  const central = plan.hosts.find((h) => h.role === 'central')!;
  const args = [`--db=tcp:${central.address}:6641`, '--timeout=30', '--', '--may-exist', 'ls-add', 'ls-kube-mgmt', '--', '--may-exist', 'ls-add', 'ls-master'];
  for (const h of plan.hosts) {
    if (h.role === 'central') continue;
    args.push('--', '--may-exist', 'lsp-add', 'ls-kube-mgmt', h.vifId);
    args.push('--', 'lsp-set-addresses', h.vifId, `${h.mac} ${h.address}`);
    args.push('--', 'set', 'Logical_Switch_Port', h.vifId, `external_ids:underlay-lab-host=${h.name}`);
    if (h.lsMasterVifId && h.lsMasterMac) {
      args.push('--', '--may-exist', 'lsp-add', 'ls-master', h.lsMasterVifId);
      args.push('--', 'lsp-set-addresses', h.lsMasterVifId, h.lsMasterMac);
      args.push('--', 'set', 'Logical_Switch_Port', h.lsMasterVifId, `external_ids:underlay-lab-host=${h.name}`);
    }
  }
  for (const h of removedHosts) args.push('--', '--if-exists', 'lsp-del', h.vifId);
  await runOk('creating the OpenStack stand-in objects in OVN NB', 'ovn-nbctl', args, { timeoutMs: 60_000 });
  ctx.log(`OVN NB on central: ls-kube-mgmt, ls-master and ${plan.hosts.length - 1} VM ports in place`);
}

// ---------------------------------------------------------------------------------------
// API

function toLabHost(h: HostPlan, pid: number, openvswitch: boolean): LabHost {
  return { name: h.name, role: h.role, address: h.address, netns: h.netns, pid, mac: h.mac, vifId: h.vifId, openvswitch };
}

export async function labUp(opts: LabOptions): Promise<LabState & { created: string[]; kept: string[]; durationMs: number }> {
  const t0 = Date.now();
  const ctx = context(opts);
  const plan = planLab({ name: ctx.name, workers: opts.workers, subnet: opts.subnet });
  checkLabPrerequisites();
  const inventoryPath = resolve(opts.inventoryPath ?? join('inventory', `${ctx.name}.yml`));
  const openvswitch = opts.openvswitch ?? true;
  return withLock(ctx, async () => {
    let prev = readState(ctx);
    const removed: string[] = [];
    if (prev && prev.subnet !== plan.subnet) {
      ctx.log(`subnet changes from ${prev.subnet} to ${plan.subnet}: rebuilding every host`);
      await teardownHosts(ctx, victimsFromState(ctx, prev, () => false), removed);
      if (linksPresent().has(plan.bridge)) await runOk(`removing bridge ${plan.bridge}`, 'ip', ['link', 'del', plan.bridge]);
      prev = undefined;
    }
    await ensureBridge(ctx, plan);
    const art = await ensureArtifacts(ctx);

    // Which hosts run healthy already (kept), which are to be (re)built.
    const wanted = new Set(plan.hosts.map((h) => h.name));
    const prevByName = new Map((prev?.hosts ?? []).map((h) => [h.name, h] as const));
    const launchers: Record<string, number> = {};
    const kept: LabHost[] = [];
    const toBuild: HostPlan[] = [];
    await pool(plan.hosts, ctx.concurrency, async (h) => {
      const p = prevByName.get(h.name);
      if (p && p.address === h.address && p.mac === h.mac) {
        if (p.openvswitch !== openvswitch) {
          ctx.log(`${h.name}: ${openvswitch ? 'Open vSwitch wanted' : 'Open vSwitch not wanted (--without-ovs)'}: rebuilding`);
          toBuild.push(h);
          return;
        }
        const health = await hostHealth(ctx, { ...h, pid: p.pid, openvswitch }, plan);
        if (healthy(health, openvswitch)) {
          kept.push(toLabHost(h, p.pid, openvswitch));
          const l = prev?.launchers?.[h.name];
          if (l !== undefined) launchers[h.name] = l;
          return;
        }
        const down = Object.entries(health)
          .filter(([k, ok]) => ok === false && (k !== 'ovs' || openvswitch))
          .map(([k]) => k);
        ctx.log(`${h.name}: unhealthy (${down.join(', ')} down): rebuilding`);
      }
      toBuild.push(h);
    });

    // Tear down what is not wanted (workers beyond --workers) and the remains of hosts to rebuild.
    const extraHosts = (prev?.hosts ?? []).filter((h) => !wanted.has(h.name));
    const rebuild = new Set(toBuild.map((h) => h.name));
    const victims = victimsFromState(ctx, prev, (name) => wanted.has(name) && !rebuild.has(name));
    await teardownHosts(ctx, victims, removed);
    for (const h of extraHosts) ctx.log(`${h.name}: removed (not part of a lab with ${plan.hosts.length - 2} workers)`);

    // Build: directories (in-process), netns + veths (one `ip` for all), then the inits in parallel.
    toBuild.sort((a, b) => a.index - b.index);
    for (const h of toBuild) prepareHostDir(ctx, plan, h, art);
    if (toBuild.length > 0) await runOk('creating namespaces and links', 'ip', ['-batch', '-'], { input: rootBatchCreate(plan, toBuild) });
    const started = await pool(toBuild, ctx.concurrency, (h) => startHost(ctx, h, art, plan, openvswitch));
    const byName = new Map<string, LabHost>(kept.map((h) => [h.name, h]));
    for (const s of started) {
      byName.set(s.host.name, toLabHost(s.host, s.pid, openvswitch));
      launchers[s.host.name] = s.launcher;
    }
    const hosts = plan.hosts.map((h) => byName.get(h.name)!);

    await ensureNorthbound(ctx, plan, extraHosts);

    // known_hosts, inventory, state.
    // (written only when they change: a `lab up` that keeps everything touches nothing)
    writeIfChanged(art.knownHostsFile, hosts.map((h) => `${h.address} ${publicKeyNoComment(hostKey(ctx, h.name).publicKey)}\n`).join(''), 0o644);
    mkdirSync(dirname(inventoryPath), { recursive: true });
    writeIfChanged(
      inventoryPath,
      renderInventory({
        plan,
        keyFile: art.keyFile,
        knownHostsFile: art.knownHostsFile,
        kubeRelease: art.kubeRelease,
        kubeReleaseSha256: art.kubeReleaseSha256,
        pluginSrc: art.pluginSrc,
        etcdBinary: ETCD_BINARY,
        osPassword: art.osPassword,
      }),
      0o600,
    );
    if (prev && prev.inventoryPath !== inventoryPath) removeInventory(ctx.name, prev.inventoryPath, removed);
    const state: StoredState = {
      version: 1,
      name: ctx.name,
      stateDir: ctx.stateDir,
      inventoryPath,
      knownHostsFile: art.knownHostsFile,
      keyFile: art.keyFile,
      hosts,
      subnet: plan.subnet,
      bridge: plan.bridge,
      launchers,
    };
    writeIfChanged(join(ctx.stateDir, STATE_FILE), JSON.stringify(state, null, 2) + '\n', 0o644);
    const durationMs = Date.now() - t0;
    ctx.log(`lab '${ctx.name}': ${hosts.length} hosts, ${started.length} created, ${kept.length} kept, in ${(durationMs / 1000).toFixed(2)}s; inventory ${inventoryPath}`);
    const { version: _v, launchers: _l, ...pub } = state;
    return { ...pub, created: started.map((s) => s.host.name), kept: kept.map((h) => h.name).sort((a, b) => order(plan, a) - order(plan, b)), durationMs };
  });
}

function order(plan: LabPlan, name: string): number {
  return plan.hosts.find((h) => h.name === name)?.index ?? 0;
}

function publicKeyNoComment(line: string): string {
  return line.split(/\s+/).slice(0, 2).join(' ');
}

/** Removes an inventory only if `lab up` wrote it for this lab (its first line says so). */
function removeInventory(lab: string, path: string, removed: string[]): void {
  try {
    if (readFileSync(path, 'utf8').startsWith(`${INVENTORY_MARK} '${lab}'`)) {
      unlinkSync(path);
      removed.push(`file ${path}`);
    }
  } catch {
    /* absent */
  }
}

/**
 * Removes the lab: every host (processes, netns, veth), the bridge, and the state
 * directory's runtime parts. Kept: the lab's SSH key pair (id_ed25519, id_ed25519.pub),
 * so a user's SSH configuration that names it stays valid. The inventory is removed when
 * it is one `lab up` wrote.
 */
export async function labDown(opts: LabOptions): Promise<{ removed: string[] }> {
  const ctx = context(opts);
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) throw new EnvironmentError('lab: must run as root');
  if (!existsSync(ctx.stateDir) && labNetnsPresent(ctx.name).length === 0 && !linksPresent().has(`ul-${ctx.name}-br`)) return { removed: [] };
  const hadStateDir = existsSync(ctx.stateDir);
  const result = await withLock(ctx, async () => {
    const removed: string[] = [];
    const prev = readState(ctx);
    await teardownHosts(ctx, victimsFromState(ctx, prev, () => false), removed);
    const bridge = `ul-${ctx.name}-br`;
    if (linksPresent().has(bridge)) {
      await runOk(`removing bridge ${bridge}`, 'ip', ['link', 'del', bridge]);
      removed.push(`link ${bridge}`);
    }
    removeInventory(ctx.name, opts.inventoryPath ? resolve(opts.inventoryPath) : (prev?.inventoryPath ?? resolve('inventory', `${ctx.name}.yml`)), removed);
    for (const mp of mountsUnder(ctx.stateDir)) await runOk(`unmounting ${mp}`, 'umount', ['-l', mp]);
    for (const entry of [STATE_FILE, SECRET_FILE, KNOWN_HOSTS, RELEASE_FILE, PLUGIN_FILE, INIT_FILE, 'templates', 'hostkeys', 'hosts']) {
      const p = join(ctx.stateDir, entry);
      if (existsSync(p)) {
        rmSync(p, { recursive: true, force: true });
        removed.push(`file ${p}`);
      }
    }
    ctx.log(`lab '${ctx.name}' down: ${removed.length} items removed${existsSync(join(ctx.stateDir, KEY_FILE)) ? `; kept ${join(ctx.stateDir, KEY_FILE)}` : ''}`);
    return { removed };
  });
  // A state directory made only to hold the lock goes again.
  if (!hadStateDir) rmSync(ctx.stateDir, { recursive: true, force: true });
  return result;
}

export async function labStatus(opts: LabOptions): Promise<{ hosts: LabHostStatus[] }> {
  const ctx = context(opts);
  const prev = readState(ctx);
  if (!prev) return { hosts: [] };
  const net: LabNet = { bridge: prev.bridge, gateway: gatewayOf(prev.subnet) };
  const hosts = await pool(prev.hosts, ctx.concurrency, async (h) => {
    const health = await hostHealth(ctx, h, net);
    const s: LabHostStatus = { ...h, sshd: health.sshd, ovs: health.ovs };
    if (health.ovnCentral !== undefined) s.ovnCentral = health.ovnCentral;
    return s;
  });
  return { hosts };
}

/** Does every host run what it should (`lab status` exits 0)? */
export const labHealthy = (status: { hosts: LabHostStatus[] }): boolean => status.hosts.every((h) => healthy(h, h.openvswitch));

/** `lab status` as text, one line per host. */
export function formatLabStatus(status: { hosts: LabHostStatus[] }): string {
  if (status.hosts.length === 0) return 'no lab hosts\n';
  return status.hosts
    .map((h) => {
      const parts = [`sshd ${h.sshd ? 'up' : 'DOWN'} (pid ${h.pid})`, `ovs ${!h.openvswitch ? 'not run (--without-ovs)' : h.ovs ? 'up' : 'DOWN'}`];
      if (h.ovnCentral !== undefined) parts.push(`ovn-central ${h.ovnCentral ? 'up' : 'DOWN'}`);
      return `  ${h.name.padEnd(10)} ${h.role.padEnd(8)} ${h.address.padEnd(15)} ${parts.join(', ')}\n`;
    })
    .join('');
}
