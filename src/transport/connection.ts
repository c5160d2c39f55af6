/**
 * One SSH connection per host (node-ssh over ssh2), with a small pool of persistent remote
 * shells on it (see shell.ts) and one SFTP channel.
 *
 * - Host keys are verified on every connection, jump hosts included, against OpenSSH
 *   known_hosts files (hashed entries too). An unknown key is refused unless
 *   `acceptNewHostKeys` (or `StrictHostKeyChecking accept-new`/`no` in ssh_config), which
 *   records it in the first known_hosts file; a changed or revoked key is always refused.
 *   The name checked is the address connected to, as OpenSSH does.
 * - Authentication: the private key files (the option, then ssh_config IdentityFile, else
 *   ~/.ssh/id_ed25519, id_ecdsa, id_rsa when present), then ssh-agent via SSH_AUTH_SOCK
 *   (unless IdentitiesOnly). Keys with a passphrase are skipped: load them into the agent.
 * - Commands of one host run on at most `maxChannels` persistent shells (default 8, below
 *   OpenSSH's MaxSessions 10 with room for SFTP); a command waits for a free shell. While
 *   every shell is busy, a command first waits up to SHELL_WAIT_MS (400 ms) for one to be
 *   free: a shell is usually busy only with the rest of a round trip, and a new one costs
 *   the host a session, a login shell and a sh.
 * - become: the shell is `sudo -H -S -p PROMPT -u USER -- sh`; the password is written to
 *   sudo's stdin when it prompts, never in argv. When the login user already is the
 *   become user, become runs on the ordinary shells.
 * - A lost connection fails the commands in flight with UnreachableError. The next call
 *   makes one reconnection attempt (once per Connection); if that fails, or the connection
 *   is lost again, every later call fails with UnreachableError.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { homedir, userInfo } from 'node:os';
import { join as pathJoin, posix } from 'node:path';
import { NodeSSH } from 'node-ssh';
import ssh2 from 'ssh2';
import type { AuthMethod, Client, ClientChannel, SFTPWrapper, Stats } from 'ssh2';
import { CommandError, HostKeyError, InputError, UnreachableError } from '../errors.js';
import { coalescingConnect } from './coalesce.js';
import { appendKnownHost, fingerprint, keyTypeOf, KnownHosts, knownHostName } from './known_hosts.js';
import { sh, type ShellCommand } from './quote.js';
import { RemoteShell, type ExecResult, type RunOptions, type SequenceItem, type ShellDeath } from './shell.js';
import { defaultSshConfigFile, loadSshConfig, parseProxyJump, type JumpSpec, type SshHostConfig } from './ssh_config.js';

export type { ExecResult, RunOptions, SequenceItem } from './shell.js';
export { SKIPPED } from './shell.js';
export type { ShellCommand } from './quote.js';

export interface ConnectOptions {
  /** Inventory name (used in messages and ssh_config matching). */
  host: string;
  address?: string;
  port?: number;
  user?: string;
  privateKeyFile?: string;
  /** Default: ssh_config UserKnownHostsFile, else ~/.ssh/known_hosts and known_hosts2, plus /etc/ssh/ssh_known_hosts. */
  knownHostsFiles?: string[];
  /** Record unknown keys into the first known_hosts file; a CHANGED key is always refused. */
  acceptNewHostKeys?: boolean;
  /** Default ~/.ssh/config; null to skip. */
  sshConfigFile?: string | null;
  /** `[user@]host[:port]`, comma-separated for several hops; overrides ssh_config ProxyJump. */
  proxyJump?: string;
  /** Default 10000. */
  connectTimeoutMs?: number;
  /** Default 15000; the connection is declared lost after 3 unanswered keepalives. */
  keepaliveIntervalMs?: number;
  /** Default 8 (< OpenSSH MaxSessions 10). */
  maxChannels?: number;
  /** sudo password, never in argv. */
  becomePassword?: string;
  /** Default root. */
  becomeUser?: string;
}

export interface UploadOptions {
  mode?: number;
  owner?: string;
  group?: string;
  become?: boolean;
}

export interface ConnectionStats {
  channelsOpened: number;
  commands: number;
  roundTrips: number;
  reconnects: number;
}

interface Endpoint {
  /** How the endpoint is named in messages. */
  label: string;
  address: string;
  port: number;
  user: string;
  keyFiles: { path: string; explicit: boolean }[];
  agent: string | undefined;
  knownHostsFiles: string[];
  /** Where accepted keys are written (the first user file). */
  recordFile: string | undefined;
  acceptNew: boolean;
  connectTimeoutMs: number;
  keepaliveIntervalMs: number;
}

interface Session {
  ssh: NodeSSH;
  client: Client;
  jumps: NodeSSH[];
  lastError: Error | undefined;
  closedByUs: boolean;
}

const DEFAULT_KEYS = ['id_ed25519', 'id_ecdsa', 'id_rsa'];
const HOST_KEY_ALGOS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];
const MAX_JUMPS = 8;
const SFTP_NO_SUCH_FILE = 2;
/** Exit code the become readFile uses for "absent". */
const ABSENT = 100;

function localUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env['USER'] ?? 'root';
  }
}

function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Host key algorithms with the ones already known for the host first (as OpenSSH orders them). */
function preferredHostKeyAlgos(knownTypes: string[]): string[] | undefined {
  if (knownTypes.length === 0) return undefined;
  const first: string[] = [];
  for (const t of knownTypes) {
    const algos = t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t];
    for (const a of algos) if (HOST_KEY_ALGOS.includes(a) && !first.includes(a)) first.push(a);
  }
  if (first.length === 0) return undefined;
  return [...first, ...HOST_KEY_ALGOS.filter((a) => !first.includes(a))];
}

function resolveEndpoint(
  label: string,
  name: string,
  cfg: SshHostConfig,
  opts: ConnectOptions,
  over: { address?: string; port?: number; user?: string; privateKeyFile?: string },
): Endpoint {
  const home = homedir();
  const keyFiles: Endpoint['keyFiles'] = [];
  if (over.privateKeyFile !== undefined) keyFiles.push({ path: over.privateKeyFile, explicit: true });
  for (const f of cfg.identityFiles) keyFiles.push({ path: f, explicit: false });
  if (keyFiles.length === 0) for (const k of DEFAULT_KEYS) keyFiles.push({ path: pathJoin(home, '.ssh', k), explicit: false });
  let userFiles: string[];
  let globalFiles: string[] = [];
  if (opts.knownHostsFiles !== undefined) {
    userFiles = opts.knownHostsFiles;
  } else {
    userFiles = cfg.userKnownHostsFiles ?? [pathJoin(home, '.ssh', 'known_hosts'), pathJoin(home, '.ssh', 'known_hosts2')];
    globalFiles = ['/etc/ssh/ssh_known_hosts'];
  }
  const strict = cfg.strictHostKeyChecking;
  const acceptNew = opts.acceptNewHostKeys ?? (strict === 'accept-new' || strict === 'no' || strict === 'off');
  const port = over.port ?? cfg.port ?? 22;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InputError(`${name}: bad port ${port}`);
  const sock = process.env['SSH_AUTH_SOCK'];
  return {
    label,
    address: over.address ?? cfg.hostName ?? name,
    port,
    user: over.user ?? cfg.user ?? localUser(),
    keyFiles,
    agent: cfg.identitiesOnly || !sock ? undefined : sock,
    knownHostsFiles: [...userFiles, ...globalFiles],
    recordFile: userFiles[0],
    acceptNew,
    connectTimeoutMs: opts.connectTimeoutMs ?? cfg.connectTimeoutMs ?? 10_000,
    keepaliveIntervalMs: opts.keepaliveIntervalMs ?? cfg.serverAliveIntervalMs ?? 15_000,
  };
}

function emptyConfig(host: string): SshHostConfig {
  return { host, hostName: host, identityFiles: [], warnings: [] };
}

/** Reads the key files into auth methods; notes what was skipped and why. */
function authMethods(ep: Endpoint, host: string): { methods: AuthMethod[]; tried: string[] } {
  const methods: AuthMethod[] = [];
  const tried: string[] = [];
  for (const k of ep.keyFiles) {
    if (!existsSync(k.path)) {
      if (k.explicit) throw new InputError(`${host}: private key file ${k.path} does not exist`);
      continue;
    }
    let data: Buffer;
    try {
      data = readFileSync(k.path);
    } catch (e) {
      if (k.explicit) throw new InputError(`${host}: cannot read private key file ${k.path}: ${errMessage(e)}`);
      tried.push(`${k.path} (unreadable)`);
      continue;
    }
    const parsed = ssh2.utils.parseKey(data);
    if (parsed instanceof Error) {
      tried.push(`${k.path} (${/passphrase|encrypt/i.test(parsed.message) ? 'has a passphrase: load it into ssh-agent' : parsed.message})`);
      continue;
    }
    const first = Array.isArray(parsed) ? parsed[0] : parsed;
    if (!first || !first.isPrivateKey()) {
      tried.push(`${k.path} (not a private key)`);
      continue;
    }
    tried.push(k.path);
    methods.push({ type: 'publickey', username: ep.user, key: data } as AuthMethod);
  }
  if (ep.agent !== undefined) {
    tried.push(`ssh-agent (${ep.agent})`);
    methods.push({ type: 'agent', username: ep.user, agent: ep.agent } as AuthMethod);
  }
  return { methods, tried };
}

function hostKeyMessage(ep: Endpoint, status: 'unknown' | 'changed' | 'revoked', keyType: string, key: Buffer, kh: KnownHosts): string {
  const name = knownHostName(ep.address, ep.port);
  const fp = `${keyType} ${fingerprint(key)}`;
  const files = ep.knownHostsFiles.join(', ') || '(no known_hosts file)';
  const check = kh.check(ep.address, ep.port, keyType, key);
  const where = (e: { file: string; line: number }) => `${e.file}:${e.line}`;
  switch (status) {
    case 'revoked':
      return `${ep.label} ${name} presents a REVOKED host key ${fp} (${check.entry ? where(check.entry) : files}); refusing to connect`;
    case 'changed': {
      const old = check.conflicting.map((e) => `${e.keyType} ${fingerprint(e.keyBlob)} at ${where(e)}`).join('; ');
      return (
        `${ep.label} ${name}: HOST KEY CHANGED: the server presents ${fp}, known_hosts records ${old}. ` +
        `This may be an attack. If the host was re-installed on purpose, remove the old entry ` +
        `(ssh-keygen -R ${JSON.stringify(name)} -f ${check.entry?.file ?? files}) and verify the new fingerprint`
      );
    }
    case 'unknown': {
      const other = check.otherTypes.length > 0 ? ` (known_hosts has only ${check.otherTypes.join(', ')} keys for it)` : '';
      return (
        `${ep.label} ${name}: host key is not known: ${fp}${other}; checked ${files}. ` +
        `Verify the fingerprint and add the key to ${ep.recordFile ?? files}, ` +
        `or allow recording new keys (acceptNewHostKeys / StrictHostKeyChecking accept-new)`
      );
    }
  }
}

/** Connects to one endpoint, over `sock` when given (a jump host's forwarded channel). */
async function connectEndpoint(host: string, ep: Endpoint, sock?: ClientChannel): Promise<Session> {
  const { methods, tried } = authMethods(ep, host);
  const where = `${ep.user}@${knownHostName(ep.address, ep.port)}`;
  if (methods.length === 0) {
    throw new UnreachableError(
      host,
      `${ep.label} ${where}: no usable private key and no ssh-agent` + (tried.length > 0 ? ` (skipped: ${tried.join(', ')})` : ''),
    );
  }
  const kh = KnownHosts.load(ep.knownHostsFiles);
  let keyProblem: HostKeyError | undefined;
  let keyRecordError: unknown;
  let accepted: Buffer | undefined;
  // Called at the first key exchange and again at each re-key.
  const hostVerifier = (key: Buffer): boolean => {
    if (accepted?.equals(key)) return true;
    const keyType = keyTypeOf(key) ?? 'unknown';
    const status = kh.verify(ep.address, ep.port, keyType, key);
    if (status === 'ok') return true;
    if (status === 'unknown' && ep.acceptNew && ep.recordFile !== undefined && accepted === undefined) {
      try {
        appendKnownHost(ep.recordFile, ep.address, ep.port, keyType, key);
        accepted = Buffer.from(key);
        return true;
      } catch (e) {
        keyRecordError = e;
      }
    }
    let msg = hostKeyMessage(ep, status, keyType, key, kh);
    if (keyRecordError !== undefined) msg += ` (recording it in ${ep.recordFile} failed: ${errMessage(keyRecordError)})`;
    keyProblem = new HostKeyError(host, msg);
    return false;
  };
  const ssh = new NodeSSH();
  const algos = preferredHostKeyAlgos(kh.keyTypesFor(ep.address, ep.port));
  const config: Parameters<NodeSSH['connect']>[0] = {
    host: ep.address,
    port: ep.port,
    username: ep.user,
    authHandler: methods,
    hostVerifier,
    readyTimeout: ep.connectTimeoutMs,
    keepaliveInterval: ep.keepaliveIntervalMs,
    keepaliveCountMax: 3,
  };
  if (algos) config.algorithms = { serverHostKey: algos as never };
  // A direct connection goes through a socket that sends the packets of one turn together
  // (coalesce.ts); over a jump host the stream is an SSH channel.
  let direct: Socket | undefined;
  if (sock) config.sock = sock;
  else {
    direct = coalescingConnect(ep.address, ep.port);
    direct.on('error', () => undefined); // ssh2 reports it
    config.sock = direct;
  }
  let guard: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      ssh.connect(config),
      new Promise<never>((_, reject) => {
        guard = setTimeout(() => reject(new Error(`no answer within ${ep.connectTimeoutMs} ms`)), ep.connectTimeoutMs + 2000);
      }),
    ]);
  } catch (e) {
    try {
      ssh.dispose();
    } catch {
      /* nothing to close */
    }
    direct?.destroy();
    if (keyProblem) throw keyProblem;
    const err = e as Error & { level?: string; code?: string };
    let msg: string;
    if (err.level === 'client-authentication') {
      msg = `authentication failed for ${where} (tried: ${tried.join(', ')})`;
    } else if (err.level === 'client-timeout' || /timed out|no answer/i.test(err.message)) {
      msg = `cannot connect to ${where}: timed out after ${ep.connectTimeoutMs} ms`;
    } else {
      msg = `cannot connect to ${where}: ${err.message}`;
    }
    throw new UnreachableError(host, `${ep.label === 'host' ? '' : `${ep.label}: `}${msg}`, { cause: e });
  } finally {
    if (guard) clearTimeout(guard);
  }
  const client = ssh.connection;
  if (!client) throw new UnreachableError(host, `${ep.label} ${where}: connection closed during setup`);
  const session: Session = { ssh, client, jumps: [], lastError: undefined, closedByUs: false };
  client.on('error', (e: Error) => {
    session.lastError = e;
  });
  return session;
}

function execChannel(client: Client, command: string): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    try {
      client.exec(command, (err, ch) => (err ? reject(err) : resolve(ch)));
    } catch (e) {
      reject(e);
    }
  });
}

/** Bytes per SFTP write request (below the 32 KiB every server accepts, with room for the header). */
const UPLOAD_CHUNK = 32 * 1024 - 1024;
/**
 * How long a command waits for a busy shell before another shell is opened for it. The
 * shell is usually busy with the rest of a round trip: the observations of the next tasks
 * that a task's observation took along, while the task, its own answer in, already acts.
 * On a loaded controller or host that rest takes 50-300 ms; 50 ms here opened a second
 * shell on a third of the hosts of a 10-worker first run (a session, a login shell and a
 * sh each, about 15 ms of the host's CPU), where waiting costs nothing but latency that
 * a new shell's own round trips would cost too.
 */
export const SHELL_WAIT_MS = 400;

function sftpCall<T>(fn: (cb: (err: Error | null | undefined, v?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v as T))));
}

function isNoSuchFile(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === SFTP_NO_SUCH_FILE;
}

/** A command waiting for a shell; `timed`: only for SHELL_WAIT_MS, while a slot may be free. */
type Waiter = { level: string; timed?: boolean; resolve: (shell: RemoteShell | null) => void };

export class Connection {
  readonly host: string;
  private session: Session | null;
  private state: 'open' | 'down' | 'closed' = 'open';
  private downError: UnreachableError | undefined;
  private reconnecting: Promise<Session> | undefined;
  private reconnectsLeft = 1;
  private readonly shells: RemoteShell[] = [];
  private opening = 0;
  private readonly waiters: Waiter[] = [];
  private sftpP: Promise<SFTPWrapper> | undefined;
  private readonly nonce = randomBytes(12).toString('hex');
  private seq = 0;
  private readonly counters: ConnectionStats = { channelsOpened: 0, commands: 0, roundTrips: 0, reconnects: 0 };
  private readonly maxChannels: number;
  private readonly becomeUser: string;

  private constructor(
    private readonly opts: ConnectOptions,
    private readonly target: Endpoint,
    private readonly jumps: Endpoint[],
    session: Session,
  ) {
    this.host = opts.host;
    this.maxChannels = Math.max(1, Math.floor(opts.maxChannels ?? 8));
    this.becomeUser = opts.becomeUser ?? 'root';
    this.session = session;
    this.watch(session);
  }

  /** Connects (through the jump hosts, if any) and verifies every host key. */
  static async open(opts: ConnectOptions): Promise<Connection> {
    const cfgFile = opts.sshConfigFile === undefined ? defaultSshConfigFile() : opts.sshConfigFile;
    const cfgFor = (name: string) => (cfgFile === null ? emptyConfig(name) : loadSshConfig(name, cfgFile));
    const cfg = cfgFor(opts.host);
    const over: Parameters<typeof resolveEndpoint>[4] = {};
    if (opts.address !== undefined) over.address = opts.address;
    if (opts.port !== undefined) over.port = opts.port;
    if (opts.user !== undefined) over.user = opts.user;
    if (opts.privateKeyFile !== undefined) over.privateKeyFile = opts.privateKeyFile;
    const target = resolveEndpoint('host', opts.host, cfg, opts, over);
    const jumpSpec = opts.proxyJump ?? cfg.proxyJump;
    const hops: JumpSpec[] = jumpSpec !== undefined ? parseProxyJump(jumpSpec, opts.proxyJump === undefined ? cfg.proxyJumpLoc : undefined) : [];
    if (hops.length > MAX_JUMPS) throw new InputError(`${opts.host}: more than ${MAX_JUMPS} ProxyJump hops`);
    const jumps = hops.map((hop) => {
      const hc = cfgFor(hop.host);
      const o: Parameters<typeof resolveEndpoint>[4] = {};
      if (hop.port !== undefined) o.port = hop.port;
      if (hop.user !== undefined) o.user = hop.user;
      if (hc.identityFiles.length === 0 && opts.privateKeyFile !== undefined) o.privateKeyFile = opts.privateKeyFile;
      return resolveEndpoint(`jump host ${hop.host}`, hop.host, hc, opts, o);
    });
    const session = await Connection.connectAll(opts.host, target, jumps);
    return new Connection(opts, target, jumps, session);
  }

  private static async connectAll(host: string, target: Endpoint, jumps: Endpoint[]): Promise<Session> {
    const opened: Session[] = [];
    try {
      let sock: ClientChannel | undefined;
      for (const [i, ep] of jumps.entries()) {
        const s = await connectEndpoint(host, ep, sock);
        opened.push(s);
        const next = jumps[i + 1] ?? target;
        sock = await Connection.forward(host, s, ep, next);
      }
      const session = await connectEndpoint(host, target, sock);
      session.jumps = opened.map((s) => s.ssh);
      return session;
    } catch (e) {
      for (const s of opened.reverse()) {
        try {
          s.ssh.dispose();
        } catch {
          /* closing anyway */
        }
      }
      throw e;
    }
  }

  private static async forward(host: string, via: Session, ep: Endpoint, next: Endpoint): Promise<ClientChannel> {
    try {
      return (await via.ssh.forwardOut('127.0.0.1', 0, next.address, next.port)) as ClientChannel;
    } catch (e) {
      throw new UnreachableError(
        host,
        `${ep.label} did not forward to ${next.address}:${next.port}: ${errMessage(e)}`,
        { cause: e },
      );
    }
  }

  private watch(session: Session): void {
    session.client.on('close', () => {
      if (this.session !== session) return;
      this.session = null;
      this.sftpP = undefined;
      if (this.state === 'closed' || session.closedByUs) return;
      this.state = 'down';
      const why = session.lastError ? session.lastError.message : 'closed by the server';
      this.downError = new UnreachableError(this.host, `connection lost: ${why}`, { cause: session.lastError });
      for (const j of session.jumps) {
        try {
          j.dispose();
        } catch {
          /* already gone */
        }
      }
      // Shells notice through their channels; waiters retry (and reach the reconnect).
      for (const w of this.waiters.splice(0)) w.resolve(null);
    });
  }

  /** The live session; after a loss, one reconnection attempt per Connection. */
  private async ensureSession(): Promise<Session> {
    if (this.state === 'closed') throw new UnreachableError(this.host, 'connection closed');
    if (this.session && this.state === 'open') return this.session;
    if (this.reconnecting) return this.reconnecting;
    if (this.reconnectsLeft <= 0) throw this.downError ?? new UnreachableError(this.host, 'connection lost');
    this.reconnectsLeft--;
    this.reconnecting = (async () => {
      try {
        const s = await Connection.connectAll(this.host, this.target, this.jumps);
        if (this.state === 'closed') {
          s.closedByUs = true;
          s.ssh.dispose();
          throw new UnreachableError(this.host, 'connection closed');
        }
        this.counters.reconnects++;
        this.session = s;
        this.state = 'open';
        this.watch(s);
        return s;
      } catch (e) {
        this.downError =
          e instanceof UnreachableError
            ? e
            : new UnreachableError(this.host, `reconnection failed: ${errMessage(e)}`, { cause: e });
        throw this.downError;
      } finally {
        this.reconnecting = undefined;
      }
    })();
    return this.reconnecting;
  }

  private levelFor(become: boolean | undefined): string {
    if (!become || this.becomeUser === this.target.user) return 'user';
    return `become:${this.becomeUser}`;
  }

  private shellDeath(shell: RemoteShell): ShellDeath {
    const i = this.shells.indexOf(shell);
    if (i >= 0) {
      this.shells.splice(i, 1);
      // A slot is free: let a waiter open a shell in it.
      this.waiters.shift()?.resolve(null);
    }
    const lost = this.state !== 'open' || this.session === null;
    const exit = shell.exitStatus;
    return {
      error: (partial) => {
        if (lost) return this.downError ?? new UnreachableError(this.host, 'connection lost');
        if (this.state === 'closed') return new UnreachableError(this.host, 'connection closed');
        const how = exit ? (exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`) : 'no exit status';
        return new CommandError(`${this.host}: the remote shell ended while running the command (${how})`, {
          command: partial.command,
          exitCode: null,
          stdout: partial.stdout,
          stderr: partial.stderr,
        });
      },
    };
  }

  private async openShell(level: string): Promise<RemoteShell> {
    const session = await this.ensureSession();
    const become = level !== 'user';
    const prompt = `[underlay sudo ${this.nonce}] `;
    const ready = `${this.nonce}:ready`;
    const command = become
      ? sh`sudo -H -S -p ${prompt} -u ${this.becomeUser} -- sh -c ${sh`printf '%s\\n' ${ready}; exec sh`.text}`.text
      : 'sh';
    let channel: ClientChannel;
    try {
      channel = await execChannel(session.client, command);
    } catch (e) {
      if (this.state !== 'open') throw this.downError ?? new UnreachableError(this.host, 'connection lost');
      throw new UnreachableError(this.host, `cannot open a session channel: ${errMessage(e)}`, { cause: e });
    }
    this.counters.channelsOpened++;
    const shell = new RemoteShell(level, channel, this.nonce, () => ++this.seq, (s) => this.shellDeath(s));
    if (!become) return shell;

    let prompts = 0;
    const password = this.opts.becomePassword;
    const promptBuf = Buffer.from(prompt);
    const readyBuf = Buffer.from(`${ready}\n`);
    const verdict = await shell.handshake((out, err) => {
      if (out.includes(readyBuf)) return 'ready';
      let n = 0;
      for (let i = err.indexOf(promptBuf); i >= 0; i = err.indexOf(promptBuf, i + 1)) n++;
      if (n > prompts) {
        prompts = n;
        if (password === undefined) return { fail: 'sudo asks for a password and no become password was given' };
        if (prompts > 1) return { fail: 'sudo refused the become password' };
        shell.writeRaw(`${password}\n`);
      }
      return 'more';
    }, this.target.connectTimeoutMs + 5000);
    if (verdict.ok) return shell;
    shell.end();
    const stderr = verdict.stderr.split(prompt).join('').trim();
    const reason =
      verdict.reason === 'ended'
        ? `sudo failed${stderr ? `: ${stderr}` : ''}`
        : verdict.reason === 'timed out'
          ? `sudo did not start a shell${stderr ? `: ${stderr}` : ''}`
          : verdict.reason;
    throw new CommandError(`${this.host}: become ${this.becomeUser} failed: ${reason}`, {
      command: `sudo -u ${this.becomeUser} sh`,
      exitCode: null,
      stdout: '',
      stderr,
    });
  }

  /** A shell of `level`, busy for the caller; waits while all slots are taken. */
  private async acquire(level: string): Promise<RemoteShell> {
    for (let round = 0; ; round++) {
      if (this.state === 'closed') throw new UnreachableError(this.host, 'connection closed');
      if (this.state === 'down') await this.ensureSession();
      const idle = this.shells.find((s) => s.level === level && s.idle);
      if (idle) {
        idle.busy = true;
        return idle;
      }
      // Every shell of this level busy: one usually frees within the rest of a round trip
      // of observations, and a new shell costs the host a session, a login shell and a
      // sh. Wait for it that long (SHELL_WAIT_MS), once, before opening another.
      if (round === 0 && this.opening === 0 && this.shells.some((s) => s.level === level && !s.dead)) {
        const handed = await this.waitForShell(level, SHELL_WAIT_MS);
        if (handed && !handed.dead) return handed;
        continue;
      }
      if (this.shells.length + this.opening < this.maxChannels) {
        this.opening++;
        let shell: RemoteShell;
        try {
          shell = await this.openShell(level);
        } catch (e) {
          this.opening--;
          this.waiters.shift()?.resolve(null);
          throw e;
        }
        this.opening--;
        shell.busy = true;
        this.shells.push(shell);
        return shell;
      }
      const spare = this.shells.find((s) => s.level !== level && s.idle);
      if (spare) {
        this.shells.splice(this.shells.indexOf(spare), 1);
        spare.end();
        continue;
      }
      const handed = await new Promise<RemoteShell | null>((resolve) => this.waiters.push({ level, resolve }));
      if (handed && !handed.dead) return handed;
      if (round > 10_000) throw new UnreachableError(this.host, 'no session channel became free');
    }
  }

  /** A shell of `level` handed over by release() within `ms`, else null. */
  private waitForShell(level: string, ms: number): Promise<RemoteShell | null> {
    return new Promise((resolve) => {
      const w: Waiter = {
        level,
        timed: true,
        resolve: (s) => {
          clearTimeout(timer);
          resolve(s);
        },
      };
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(null);
      }, ms);
      this.waiters.push(w);
    });
  }

  private release(shell: RemoteShell): void {
    shell.busy = false;
    if (shell.dead) {
      const i = this.shells.indexOf(shell);
      if (i >= 0) this.shells.splice(i, 1);
      this.waiters.shift()?.resolve(null);
      return;
    }
    const same = this.waiters.findIndex((w) => w.level === shell.level);
    if (same >= 0) {
      const [w] = this.waiters.splice(same, 1);
      shell.busy = true;
      w?.resolve(shell);
      return;
    }
    // A waiter of the other level that waits for a slot (not one in its short wait while
    // slots are free, which opens its own shell if it must).
    const o = this.waiters.findIndex((w) => !w.timed);
    const other = o >= 0 ? this.waiters.splice(o, 1)[0] : undefined;
    if (other) {
      // Free the slot for a shell of the other level.
      this.shells.splice(this.shells.indexOf(shell), 1);
      shell.end();
      other.resolve(null);
    }
  }

  /** Runs one command. Never throws for a non-zero exit: judge by exitCode. */
  async run(cmd: ShellCommand, opts: RunOptions = {}): Promise<ExecResult> {
    const [r] = await this.runBatch([cmd], opts);
    if (!r) throw new Error('internal: no result');
    return r;
  }

  /** As runBatch, each command's result given as soon as it is in (the shell is kept until all are). */
  runEach(cmds: ShellCommand[], opts: RunOptions = {}): Promise<ExecResult>[] {
    return this.onShell(cmds.length, opts, (shell) => shell.send(cmds, opts));
  }

  /**
   * A sequence in one round trip on one shell: each command runs only if every one before
   * it ended with one of its `okCodes` (default 0); the ones after the first that did not
   * are skipped, with exit code SKIPPED (shell.ts). One result per command, in order.
   */
  runSequence(items: SequenceItem[], opts: { become?: boolean } = {}): Promise<ExecResult>[] {
    return this.onShell(items.length, opts, (shell) => shell.sendSequence(items));
  }

  private onShell(n: number, opts: { become?: boolean }, send: (shell: RemoteShell) => Promise<ExecResult>[]): Promise<ExecResult>[] {
    const sent = (async () => {
      const shell = await this.acquire(this.levelFor(opts.become));
      let promises: Promise<ExecResult>[];
      try {
        promises = send(shell);
      } catch (e) {
        this.release(shell);
        throw e;
      }
      this.counters.commands += n;
      this.counters.roundTrips++;
      void Promise.allSettled(promises).then(() => this.release(shell));
      return promises;
    })();
    sent.catch(() => undefined);
    return Array.from({ length: n }, (_, i) => sent.then((ps) => ps[i]!));
  }

  /** Runs several commands in one write on one shell; one result per command, in order. */
  async runBatch(cmds: ShellCommand[], opts: RunOptions = {}): Promise<ExecResult[]> {
    return cmds.length === 0 ? [] : Promise.all(this.runEach(cmds, opts));
  }

  private sftp(): Promise<SFTPWrapper> {
    if (!this.sftpP) {
      const p = (async () => {
        const session = await this.ensureSession();
        try {
          const s = await session.ssh.requestSFTP();
          this.counters.channelsOpened++;
          s.on('close', () => {
            if (this.sftpP === p) this.sftpP = undefined;
          });
          s.on('error', () => undefined);
          return s;
        } catch (e) {
          if (this.state !== 'open') throw this.downError ?? new UnreachableError(this.host, 'connection lost');
          throw new UnreachableError(this.host, `cannot open SFTP: ${errMessage(e)}`, { cause: e });
        }
      })();
      p.catch(() => {
        if (this.sftpP === p) this.sftpP = undefined;
      });
      this.sftpP = p;
    }
    return this.sftpP;
  }

  private fileError(what: string, path: string, e: unknown): Error {
    if (e instanceof UnreachableError || e instanceof CommandError || e instanceof InputError) return e;
    if (this.state !== 'open') return this.downError ?? new UnreachableError(this.host, 'connection lost');
    return new CommandError(
      `${this.host}: cannot ${what} ${path}: ${errMessage(e)}`,
      { command: `sftp ${what} ${path}`, exitCode: null, stdout: '', stderr: errMessage(e) },
      { cause: e },
    );
  }

  /**
   * Writes a file atomically: the content goes to a temporary file in the same directory
   * (SFTP; or, with become, the become shell's stdin), gets its owner and mode, then is
   * renamed over the target. The content never appears in argv. Without `mode`, an existing
   * file keeps its mode (and, where permitted, its owner); a new file gets 0644.
   */
  async upload(remotePath: string, content: string | Buffer, opts: UploadOptions = {}): Promise<void> {
    if (!remotePath.startsWith('/')) throw new InputError(`${this.host}: upload needs an absolute path, got ${JSON.stringify(remotePath)}`);
    if (opts.mode !== undefined && !(Number.isInteger(opts.mode) && opts.mode >= 0 && opts.mode <= 0o7777)) {
      throw new InputError(`${this.host}: bad mode ${opts.mode}`);
    }
    const data = Buffer.from(content);
    const dir = posix.dirname(remotePath);
    const tmp = posix.join(dir, `.${posix.basename(remotePath)}.underlay-${randomBytes(6).toString('hex')}.tmp`);
    const chownSpec =
      opts.owner !== undefined ? (opts.group !== undefined ? `${opts.owner}:${opts.group}` : opts.owner) : opts.group !== undefined ? `:${opts.group}` : undefined;

    if (this.levelFor(opts.become) !== 'user') {
      const mode = opts.mode !== undefined ? opts.mode.toString(8).padStart(4, '0') : undefined;
      const attrs = sh`${chownSpec !== undefined ? sh`chown -- ${chownSpec} ${tmp} && ` : sh``}${
        mode !== undefined
          ? sh`chmod -- ${mode} ${tmp}`
          : sh`if [ -e ${remotePath} ]; then chown --reference=${remotePath} -- ${tmp} 2>/dev/null; chmod --reference=${remotePath} -- ${tmp}; else chmod 0644 ${tmp}; fi`
      }`;
      const script = sh`umask 077 && cat > ${tmp} && ${attrs} && mv -f -- ${tmp} ${remotePath} || { __ul_up=$?; rm -f -- ${tmp}; exit $__ul_up; }`;
      const r = await this.run(script, { become: true, stdin: data });
      if (r.exitCode !== 0) {
        throw new CommandError(`${this.host}: cannot upload ${remotePath}: ${r.stderr.trim() || `exit code ${r.exitCode}`}`, r);
      }
      return;
    }

    let sftp: SFTPWrapper;
    try {
      sftp = await this.sftp();
    } catch (e) {
      throw this.fileError('upload', remotePath, e);
    }
    // SFTP requests are answered in order, so those that do not depend on each other's
    // answers go out together: three round trips in all (stat + open; write, owner, mode and
    // close; rename). The rename waits for the write's answer: a file that was not written
    // whole never replaces the target.
    const [stat, opened] = await Promise.allSettled([
      sftpCall<Stats>((cb) => sftp.stat(remotePath, cb)).catch((e: unknown) => {
        if (isNoSuchFile(e)) return null;
        throw e;
      }),
      sftpCall<Buffer>((cb) => sftp.open(tmp, 'wx', { mode: 0o600 }, cb)),
    ]);
    if (opened.status === 'rejected') throw this.fileError('upload', remotePath, opened.reason);
    const handle = opened.value;
    const unlinkTmp = () => sftpCall<void>((cb) => sftp.unlink(tmp, (err) => cb(err))).catch(() => undefined);
    try {
      if (stat.status === 'rejected') {
        await sftpCall<void>((cb) => sftp.close(handle, (err) => cb(err))).catch(() => undefined);
        throw stat.reason;
      }
      const existing = stat.value;
      const mode = opts.mode ?? (existing ? existing.mode & 0o7777 : 0o644);
      const sent: Promise<unknown>[] = [];
      for (let off = 0; off < data.length; off += UPLOAD_CHUNK) {
        const len = Math.min(UPLOAD_CHUNK, data.length - off);
        sent.push(sftpCall<void>((cb) => sftp.write(handle, data, off, len, off, (err) => cb(err))));
      }
      // chmod after chown: chown clears set-id bits. A chown by name runs on the host, after
      // the file is closed (below); otherwise the file keeps the owner of the one it replaces,
      // where we may (as root), else it is ours.
      if (chownSpec === undefined) {
        if (existing) sent.push(sftpCall<void>((cb) => sftp.fchown(handle, existing.uid, existing.gid, (err) => cb(err))).catch(() => undefined));
        sent.push(sftpCall<void>((cb) => sftp.fchmod(handle, mode, (err) => cb(err))));
      }
      const closed = sftpCall<void>((cb) => sftp.close(handle, (err) => cb(err)));
      const results = await Promise.allSettled([...sent, closed]);
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
      if (chownSpec !== undefined) {
        const r = await this.run(sh`chown -- ${chownSpec} ${tmp}`);
        if (r.exitCode !== 0) throw new CommandError(`${this.host}: cannot upload ${remotePath}: ${r.stderr.trim()}`, r);
        await sftpCall<void>((cb) => sftp.chmod(tmp, mode, (err) => cb(err)));
      }
      await sftpCall<void>((cb) => sftp.ext_openssh_rename(tmp, remotePath, (err) => cb(err)));
    } catch (e) {
      await unlinkTmp();
      throw this.fileError('upload', remotePath, e);
    }
  }

  /** Reads a remote file; null when it does not exist. Throws when larger than maxBytes. */
  async readFile(remotePath: string, opts: { become?: boolean; maxBytes?: number } = {}): Promise<Buffer | null> {
    const max = opts.maxBytes;
    const tooBig = (size: number) =>
      new CommandError(`${this.host}: ${remotePath} is larger than ${max} bytes (${size})`, {
        command: `read ${remotePath}`,
        exitCode: null,
        stdout: '',
        stderr: '',
      });
    if (this.levelFor(opts.become) !== 'user') {
      const read = max !== undefined ? sh`exec head -c ${max + 1} -- ${remotePath}` : sh`exec cat -- ${remotePath}`;
      const r = await this.run(sh`if [ ! -e ${remotePath} ]; then exit ${ABSENT}; fi; ${read}`, { become: true });
      if (r.exitCode === ABSENT) return null;
      if (r.exitCode !== 0) throw new CommandError(`${this.host}: cannot read ${remotePath}: ${r.stderr.trim()}`, r);
      const buf = r.stdoutBuffer ?? Buffer.from(r.stdout);
      if (max !== undefined && buf.length > max) throw tooBig(buf.length);
      return buf;
    }
    try {
      const sftp = await this.sftp();
      if (max !== undefined) {
        const st = await sftpCall<Stats>((cb) => sftp.stat(remotePath, cb));
        if (st.size > max) throw tooBig(st.size);
      }
      const buf = await sftpCall<Buffer>((cb) => sftp.readFile(remotePath, (err, b) => cb(err, b)));
      if (max !== undefined && buf.length > max) throw tooBig(buf.length);
      return buf;
    } catch (e) {
      if (isNoSuchFile(e)) return null;
      throw this.fileError('read', remotePath, e);
    }
  }

  /** Ends the shells, SFTP and the connection (and its jump hosts). */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.downError = new UnreachableError(this.host, 'connection closed');
    for (const w of this.waiters.splice(0)) w.resolve(null);
    for (const s of this.shells.splice(0)) s.end();
    const session = this.session;
    this.session = null;
    const sftp = this.sftpP;
    this.sftpP = undefined;
    if (sftp) {
      try {
        (await sftp).end();
      } catch {
        /* never opened */
      }
    }
    if (!session) return;
    session.closedByUs = true;
    const closed = new Promise<void>((resolve) => session.client.once('close', () => resolve()));
    session.ssh.dispose();
    // bounded wait for the close; the timer must not keep the process alive afterwards
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closed, new Promise((r) => (timer = setTimeout(r, 2000)))]);
    clearTimeout(timer);
    for (const j of session.jumps) {
      try {
        j.dispose();
      } catch {
        /* already gone */
      }
    }
  }

  stats(): ConnectionStats {
    return { ...this.counters };
  }

  /** Where this connection goes (for messages and tests). */
  describe(): { address: string; port: number; user: string; jumps: string[]; knownHostsFiles: string[] } {
    return {
      address: this.target.address,
      port: this.target.port,
      user: this.target.user,
      jumps: this.jumps.map((j) => `${j.user}@${knownHostName(j.address, j.port)}`),
      knownHostsFiles: [...this.target.knownHostsFiles],
    };
  }
}
