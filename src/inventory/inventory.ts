/**
 * A loaded inventory: hosts and groups, the variables each host sees, host selection by
 * pattern, and how to reach each host.
 *
 * A host's inventory variables are merged as Ansible's VariableManager merges them (with
 * the default `hash_behaviour: replace`: a later layer replaces a whole value), low to high:
 *
 *   1. vars of group `all` written in inventory files
 *   2. vars of the host's other groups written in inventory files, by depth, then
 *      `ansible_group_priority`, then name (a child group beats its parent)
 *   3. `group_vars/all` beside each inventory source, in source order
 *   4. `group_vars/all` beside the playbook
 *   5. `group_vars/GROUP` beside each inventory source: source by source, and within one
 *      source group by group in the order of 2
 *   6. `group_vars/GROUP` beside the playbook
 *   7. host vars written in inventory files
 *   8. `host_vars/HOST` beside each inventory source
 *   9. `host_vars/HOST` beside the playbook
 */
import { userInfo } from 'node:os';
import { InputError, PatternError, type SourceLoc } from '../errors.js';
import { VaultText } from '../yamlsrc.js';
import { type Group, Host, type InventoryData, LOCALHOST_NAMES, type VarMap, type VarOrigin } from './model.js';
import { PatternMatcher } from './patterns.js';
import { looksLikeIp } from './ranges.js';
import { noKeyringMessage, type Keyring, VarsDir, type VarsFile } from './varsfiles.js';

export interface HostConnectionInfo {
  /** `ansible_ssh_host`, else `ansible_host`, else the inventory name. */
  address: string;
  /** `ansible_ssh_port`, else `ansible_port`, else 22. */
  port: number;
  /** `ansible_ssh_user`, else `ansible_user`, else the local user name (as ssh would). */
  user: string;
  /** `ansible_ssh_private_key_file`, else `ansible_private_key_file`. */
  privateKeyFile?: string;
  /** `underlay_known_hosts_file`. */
  knownHostsFile?: string;
  /** `ansible_connection`, when set (`local` for the implicit localhost). */
  connection?: string;
}

/** Variables that `ansible-inventory` leaves out of its output (`INTERNAL_VARS`). */
export const INTERNAL_VARS: ReadonlySet<string> = new Set([
  'ansible_diff_mode',
  'ansible_config_file',
  'ansible_facts',
  'ansible_forks',
  'ansible_inventory_sources',
  'ansible_limit',
  'ansible_playbook_python',
  'ansible_run_tags',
  'ansible_skip_tags',
  'ansible_verbosity',
  'ansible_version',
  'inventory_dir',
  'inventory_file',
  'inventory_hostname',
  'inventory_hostname_short',
  'groups',
  'group_names',
  'omit',
  'playbook_dir',
]);

/** A merged variable: its value and where that value was set. */
export interface MergedVar {
  value: unknown;
  origin: VarOrigin | undefined;
}

/** `sort_groups`: by depth, then priority, then name. */
export function sortGroups(groups: Iterable<Group>): Group[] {
  return [...groups].sort((a, b) => a.depth - b.depth || a.priority - b.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function pyCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export class Inventory {
  private readonly matcher: PatternMatcher;
  private readonly mergedCache = new Map<Host, Map<string, MergedVar>>();
  private readonly hostVarsCache = new Map<Host, Record<string, unknown>>();
  private readonly decrypted = new WeakMap<VaultText, string>();
  private groupsDict: Record<string, string[]> | undefined;

  constructor(
    /** The underlying model (read-only for callers). */
    readonly data: InventoryData,
    private readonly sourceDirs: readonly VarsDir[],
    private readonly playDirs: VarsDir[],
    private readonly keyring: Keyring | undefined,
  ) {
    this.matcher = new PatternMatcher(data, (name) => this.implicitLocalhost(name));
  }

  /** All hosts, in the order Ansible's `all` pattern gives them. */
  hostNames(): string[] {
    return this.data.groups.get('all')!.getHosts().map((h) => h.name);
  }

  /** All groups, in the order they were first defined (`all` and `ungrouped` first). */
  groupNames(): string[] {
    return [...this.data.groups.keys()];
  }

  hasHost(name: string): boolean {
    return this.data.hosts.has(name);
  }

  hasGroup(name: string): boolean {
    return this.data.groups.has(name);
  }

  /** Hosts of a group (and its descendants), in Ansible's order. */
  hostsOfGroup(name: string): string[] {
    const g = this.data.groups.get(name);
    if (!g) throw new PatternError(`no group named '${name}'`);
    return g.getHosts().map((h) => h.name);
  }

  /**
   * Adds a directory whose `group_vars/` and `host_vars/` apply as vars "beside the
   * playbook" (after those beside the inventory, see the precedence above). Its files are
   * read now, so their errors surface here.
   */
  addPlaybookDir(dir: string): void {
    if (this.playDirs.some((d) => d.dir === dir)) return;
    const d = new VarsDir(dir, this.keyring);
    for (const g of this.data.groups.keys()) d.groupVars(g);
    for (const h of this.data.hosts.keys()) d.hostVars(h);
    this.playDirs.push(d);
    this.mergedCache.clear();
    this.hostVarsCache.clear();
  }

  /**
   * The host for a name: an inventory host, or for `localhost`/`127.0.0.1`/`::1` the
   * inventory's first local host or else an implicit one (as Ansible's `get_host`).
   */
  private host(name: string): Host {
    const h = this.data.hosts.get(name);
    if (h) return h;
    if (LOCALHOST_NAMES.includes(name)) return this.implicitLocalhost(name);
    throw new InputError(`unknown host '${name}'`);
  }

  private implicitLocalhost(name: string): Host {
    if (this.data.localhost) return this.data.localhost;
    const h = new Host(name);
    h.implicit = true;
    h.vars.set('ansible_connection', 'local');
    h.varOrigins.set('ansible_connection', { file: '(implicit localhost)', loc: undefined, secret: false });
    this.data.localhost = h;
    return h;
  }

  /** Every group that holds the host, directly or through a child group, `all` first. */
  groupsOf(name: string): string[] {
    return sortGroups(this.host(name).groups()).map((g) => g.name);
  }

  locOfHost(name: string): SourceLoc | undefined {
    return this.data.hosts.get(name)?.loc;
  }

  /** Where a group was first defined. */
  locOfGroup(name: string): SourceLoc | undefined {
    return this.data.groups.get(name)?.loc;
  }

  /** The merged inventory variables of a host, each with where its value came from (cached). */
  mergedVars(name: string): Map<string, MergedVar> {
    const h = this.host(name);
    const hit = this.mergedCache.get(h);
    if (hit) return hit;
    const out = new Map<string, MergedVar>();
    const putMap = (vars: VarMap, origins: Map<string, VarOrigin>): void => {
      for (const [k, v] of vars) out.set(k, { value: v, origin: origins.get(k) });
    };
    const putFiles = (files: VarsFile[]): void => {
      for (const f of files) {
        for (const [k, v] of f.vars) out.set(k, { value: v, origin: { file: f.file, loc: f.locs.get(k), secret: f.secret.has(k) } });
      }
    };
    const all = this.data.groups.get('all')!;
    const groups = sortGroups(h.groups().filter((g) => g !== all));
    putMap(all.vars, all.varOrigins);
    for (const g of groups) putMap(g.vars, g.varOrigins);
    for (const d of this.sourceDirs) putFiles(d.groupVars('all'));
    for (const d of this.playDirs) putFiles(d.groupVars('all'));
    for (const d of this.sourceDirs) for (const g of groups) putFiles(d.groupVars(g.name));
    for (const d of this.playDirs) for (const g of groups) putFiles(d.groupVars(g.name));
    putMap(h.vars, h.varOrigins);
    for (const d of this.sourceDirs) putFiles(d.hostVars(h.name));
    for (const d of this.playDirs) putFiles(d.hostVars(h.name));
    this.mergedCache.set(h, out);
    return out;
  }

  /**
   * The variables a play sees for a host from the inventory: the merged variables (vault
   * values decrypted) plus `inventory_hostname`, `inventory_hostname_short`, `group_names`
   * and `groups`. Do not modify the values: they are shared.
   */
  hostVars(name: string): Record<string, unknown> {
    const h = this.host(name);
    // asked for at every task of every host: made once (frozen: it is shared)
    const hit = this.hostVarsCache.get(h);
    if (hit) return hit;
    const entries: Array<[string, unknown]> = [];
    for (const [k, { value }] of this.mergedVars(name)) entries.push([k, this.reveal(value)]);
    entries.push(['inventory_hostname', h.name]);
    entries.push(['inventory_hostname_short', looksLikeIp(h.name) ? h.name : h.name.split('.')[0]!]);
    entries.push([
      'group_names',
      h
        .groups()
        .map((g) => g.name)
        .filter((n) => n !== 'all')
        .sort(pyCompare),
    ]);
    entries.push(['groups', this.groupsMagic()]);
    const vars = Object.freeze(Object.fromEntries(entries)) as Record<string, unknown>;
    this.hostVarsCache.set(h, vars);
    return vars;
  }

  /** One variable of a host, decrypted; undefined when not set. */
  hostVar(name: string, key: string): unknown {
    const m = this.mergedVars(name).get(key);
    return m === undefined ? undefined : this.reveal(m.value);
  }

  /** The `groups` magic variable: every group with its hosts (shared, frozen). */
  groupsMagic(): Record<string, string[]> {
    if (!this.groupsDict) {
      const entries: Array<[string, string[]]> = [];
      for (const [n, g] of this.data.groups) entries.push([n, Object.freeze(g.getHosts().map((h) => h.name)) as string[]]);
      this.groupsDict = Object.freeze(Object.fromEntries(entries));
    }
    return this.groupsDict;
  }

  /** Replaces `!vault` values (at any depth) with their plaintext. */
  reveal(v: unknown): unknown {
    if (v instanceof VaultText) {
      const hit = this.decrypted.get(v);
      if (hit !== undefined) return hit;
      if (!this.keyring) throw new InputError(noKeyringMessage('this value'), v.loc);
      const plain = this.keyring.decrypt(v.ciphertext, v.loc);
      this.decrypted.set(v, plain);
      return plain;
    }
    if (Array.isArray(v)) {
      return v.some(hasVault) ? v.map((x) => this.reveal(x)) : v;
    }
    if (v !== null && typeof v === 'object' && !(v instanceof Date)) {
      if (!hasVault(v)) return v;
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, this.reveal(x)]));
    }
    return v;
  }

  /**
   * Names of variables whose value came from a vault (an encrypted vars file or a `!vault`
   * value): for one host (the values it sees), or for every host.
   */
  secretVarNames(host?: string): Set<string> {
    const out = new Set<string>();
    const names = host === undefined ? [...this.data.hosts.keys()] : [host];
    for (const n of names) {
      for (const [k, m] of this.mergedVars(n)) if (m.origin?.secret) out.add(k);
    }
    return out;
  }

  /** The hosts a pattern selects (with an optional `--limit`), and the parts that matched nothing. */
  matchHosts(pattern: string, limit?: string): { hosts: string[]; unmatched: string[] } {
    this.matcher.unmatched.clear();
    let hosts = this.matcher.select(pattern, limit).map((h) => h.name);
    // `list_hosts`: a localhost pattern lists itself even when nothing else is left
    if (hosts.length === 0 && LOCALHOST_NAMES.includes(pattern)) hosts = [pattern];
    return { hosts, unmatched: [...this.matcher.unmatched] };
  }

  /**
   * The hosts `ansible PATTERN --limit LIMIT --list-hosts` lists, in the same order.
   * Selecting no host at all is a PatternError (Ansible only warns).
   */
  selectHosts(pattern: string, limit?: string): string[] {
    const { hosts, unmatched } = this.matchHosts(pattern, limit);
    if (hosts.length === 0) {
      const what = limit === undefined ? `host pattern '${pattern}'` : `host pattern '${pattern}' with --limit '${limit}'`;
      const why = unmatched.length ? ` (no group or host matches ${unmatched.map((u) => `'${u}'`).join(', ')})` : '';
      throw new PatternError(`${what} selects no host${why}`);
    }
    return hosts;
  }

  /**
   * How to reach a host. Values may be rendered first by `opts.render` (for templated
   * connection variables); a port that is not a number from 1 to 65535 is an InputError at
   * the place the port was set.
   */
  connectionOf(name: string, opts: { render?: (value: unknown, key: string) => unknown } = {}): HostConnectionInfo {
    const merged = this.mergedVars(name);
    const get = (...keys: string[]): { key: string; value: unknown; loc: SourceLoc | undefined } | undefined => {
      for (const key of keys) {
        const m = merged.get(key);
        if (m === undefined || m.value === null || m.value === undefined) continue;
        let value = this.reveal(m.value);
        if (opts.render) value = opts.render(value, key);
        return { key, value, loc: m.origin?.loc };
      }
      return undefined;
    };
    const str = (x: { key: string; value: unknown; loc: SourceLoc | undefined } | undefined): string | undefined => {
      if (!x) return undefined;
      if (typeof x.value === 'string') return x.value;
      if (typeof x.value === 'number') return String(x.value);
      throw new InputError(`${x.key} of host '${name}' must be a string, got ${JSON.stringify(x.value)}`, x.loc);
    };
    const info: HostConnectionInfo = {
      address: str(get('ansible_ssh_host', 'ansible_host')) ?? this.host(name).name,
      port: 22,
      user: str(get('ansible_ssh_user', 'ansible_user')) ?? localUser(),
    };
    const p = get('ansible_ssh_port', 'ansible_port');
    if (p) {
      const n = typeof p.value === 'number' ? p.value : typeof p.value === 'string' && /^\s*\d+\s*$/.test(p.value) ? Number(p.value) : NaN;
      if (!Number.isInteger(n) || n < 1 || n > 65535) {
        throw new InputError(`${p.key} of host '${name}' must be a port number (1-65535), got ${JSON.stringify(p.value)}`, p.loc);
      }
      info.port = n;
    }
    const key = str(get('ansible_ssh_private_key_file', 'ansible_private_key_file'));
    if (key !== undefined) info.privateKeyFile = key;
    const kh = str(get('underlay_known_hosts_file'));
    if (kh !== undefined) info.knownHostsFile = kh;
    const conn = str(get('ansible_connection'));
    if (conn !== undefined) info.connection = conn;
    return info;
  }

  /** Variables of a group as `ansible-inventory --graph --vars` shows them. */
  groupGraphVars(name: string): Map<string, unknown> {
    const g = this.data.groups.get(name);
    if (!g) throw new PatternError(`no group named '${name}'`);
    const out = new Map<string, unknown>(g.vars);
    for (const d of [...this.sourceDirs, ...this.playDirs]) {
      for (const f of d.groupVars(g.name)) for (const [k, v] of f.vars) out.set(k, v);
    }
    if (g.priority !== 1) out.set('ansible_group_priority', g.priority);
    for (const k of INTERNAL_VARS) out.delete(k);
    return out;
  }

  /** Variables of a host as `ansible-inventory --list` shows them (vault values not decrypted). */
  listedHostVars(name: string): Map<string, unknown> {
    const out = new Map<string, unknown>();
    for (const [k, { value }] of this.mergedVars(name)) if (!INTERNAL_VARS.has(k)) out.set(k, value);
    return out;
  }

  /** Reads every vars file that applies to some host or group now, so errors surface at load. */
  preload(): void {
    for (const d of [...this.sourceDirs, ...this.playDirs]) {
      for (const g of this.data.groups.keys()) d.groupVars(g);
      for (const h of this.data.hosts.keys()) d.hostVars(h);
    }
  }
}

function hasVault(v: unknown): boolean {
  if (v instanceof VaultText) return true;
  if (Array.isArray(v)) return v.some(hasVault);
  if (v !== null && typeof v === 'object' && !(v instanceof Date)) return Object.values(v).some(hasVault);
  return false;
}

function localUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env['USER'] ?? 'root';
  }
}
