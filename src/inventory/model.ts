/**
 * The inventory data model, kept the way Ansible keeps it (`inventory/data.py`, `group.py`,
 * `host.py`), because the order of hosts, groups and children that Ansible prints and
 * selects falls out of exactly these structures: hosts and groups in the order they were
 * first added, children in the order their edges were made, `all` and `ungrouped` made first,
 * orphan groups hung under `all` at the end (`reconcile`), ungrouped hosts put in `ungrouped`.
 */
import { ErrorSink, formatLoc, InputError, type SourceLoc } from '../errors.js';
import { VaultText } from '../yamlsrc.js';

/** Where a variable's current value was set. */
export interface VarOrigin {
  /** The file (inventory source file or vars file) that set it. */
  file: string;
  loc: SourceLoc | undefined;
  /** The value came from a vault (an encrypted file or a `!vault` value). */
  secret: boolean;
}

/** A variable store that keeps insertion order and is safe for any key (`__proto__` too). */
export type VarMap = Map<string, unknown>;

export class Group {
  depth = 0;
  priority = 1;
  readonly hosts: Host[] = [];
  readonly hostSet = new Set<string>();
  readonly vars: VarMap = new Map();
  readonly varOrigins = new Map<string, VarOrigin>();
  readonly children: Group[] = [];
  readonly parents: Group[] = [];
  /** Where the group was first defined. */
  loc: SourceLoc | undefined;
  private hostsCache: Host[] | undefined;

  constructor(readonly name: string) {}

  /** Every ancestor (not the group itself). */
  ancestors(): Set<Group> {
    const seen = new Set<Group>();
    const stack = [...this.parents];
    while (stack.length) {
      const g = stack.pop()!;
      if (seen.has(g)) continue;
      seen.add(g);
      stack.push(...g.parents);
    }
    return seen;
  }

  /**
   * Descendants level by level, as Ansible's `_walk_relationship(preserve_ordering=True)`:
   * the group, its children in order, then each further level. Ansible walks the levels
   * below the children in set order (not stable between runs); here they follow the order
   * of the level above, which is one of the orders Ansible can produce.
   */
  descendantsOrdered(): Group[] {
    const ordered: Group[] = [this, ...this.children];
    const seen = new Set<Group>(this.children);
    let level: Group[] = [...new Set(this.children)];
    while (level.length) {
      const next: Group[] = [];
      const nextSet = new Set<Group>();
      for (const g of level) {
        for (const c of g.children) {
          if (seen.has(c) || nextSet.has(c)) continue;
          nextSet.add(c);
          next.push(c);
          ordered.push(c);
        }
      }
      for (const c of next) seen.add(c);
      level = next;
    }
    return ordered;
  }

  /** Hosts of the group and all its descendants, in Ansible's order (cached). */
  getHosts(): Host[] {
    if (this.hostsCache) return this.hostsCache;
    const out: Host[] = [];
    const seen = new Set<Host>();
    for (const g of this.descendantsOrdered()) {
      for (const h of g.hosts) {
        if (seen.has(h)) continue;
        seen.add(h);
        if (this.name === 'all' && h.implicit) continue;
        out.push(h);
      }
    }
    this.hostsCache = out;
    return out;
  }

  clearHostsCache(): void {
    this.hostsCache = undefined;
    for (const g of this.ancestors()) g.hostsCache = undefined;
  }
}

export class Host {
  readonly vars: VarMap = new Map();
  readonly varOrigins = new Map<string, VarOrigin>();
  /** Groups holding the host directly (in order of membership). */
  readonly directGroups: Group[] = [];
  implicit = false;
  /** Where the host was first defined. */
  loc: SourceLoc | undefined;

  constructor(readonly name: string) {}

  /** Every group the host belongs to, directly or through a child group, `all` included. */
  groups(): Group[] {
    const out = new Set<Group>();
    for (const g of this.directGroups) {
      for (const a of g.ancestors()) out.add(a);
      out.add(g);
    }
    return [...out];
  }
}

/** Names Ansible treats as the local machine (`C.LOCALHOST`). */
export const LOCALHOST_NAMES: readonly string[] = ['127.0.0.1', 'localhost', '::1'];

/** Deep equality for variable values (used to tell a harmless repeat from a conflict). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === 'number' && typeof b === 'number') return Number.isNaN(a) && Number.isNaN(b);
  if (a instanceof VaultText || b instanceof VaultText) {
    return a instanceof VaultText && b instanceof VaultText && a.ciphertext === b.ciphertext;
  }
  if (a instanceof Date || b instanceof Date) {
    return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => sameValue(x, b[i]));
  }
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    if (ka.length !== kb.length) return false;
    return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && sameValue((a as never)[k], (b as never)[k]));
  }
  return false;
}

/** `InventoryData`: hosts and groups with the relationships Ansible guarantees. */
export class InventoryData {
  readonly groups = new Map<string, Group>();
  readonly hosts = new Map<string, Host>();
  /** The first localhost-like host of the inventory (or the implicit one once made). */
  localhost: Host | undefined;
  /** Conflicting definitions and other problems found while loading; thrown at the end. */
  readonly sink = new ErrorSink();

  constructor() {
    this.addGroup('all');
    this.addGroup('ungrouped');
    this.addChild('all', 'ungrouped');
  }

  addGroup(name: string, loc?: SourceLoc): Group {
    let g = this.groups.get(name);
    if (!g) {
      if (!name) throw new InputError('empty group name', loc);
      g = new Group(name);
      g.loc = loc;
      this.groups.set(name, g);
    }
    return g;
  }

  /**
   * Adds a host (if new) and puts it in `group`. A port written with the host name
   * (`host:2222`) becomes `ansible_port` only when the host is new, as in Ansible.
   */
  addHost(
    name: string,
    group: string | undefined,
    port: number | undefined,
    source: { file: string | null; dir: string | null; origin: VarOrigin },
  ): Host {
    if (!name) throw new InputError('empty host name', source.origin.loc);
    let h = this.hosts.get(name);
    if (!h) {
      h = new Host(name);
      h.loc = source.origin.loc;
      this.hosts.set(name, h);
      if (port !== undefined) this.setHostVar(h, 'ansible_port', port, source.origin);
      h.vars.set('inventory_file', source.file);
      h.vars.set('inventory_dir', source.dir);
      if (LOCALHOST_NAMES.includes(name) && !this.localhost) this.localhost = h;
    } else if (port !== undefined) {
      const prev = h.varOrigins.get('ansible_port');
      if (prev && prev.file === source.origin.file && !sameValue(h.vars.get('ansible_port'), port)) {
        this.conflict(`host '${name}'`, 'ansible_port', prev, source.origin);
      }
    }
    if (group !== undefined) {
      const g = this.groups.get(group);
      if (!g) throw new InputError(`Could not find group ${group} in inventory`, source.origin.loc);
      this.groupAddHost(g, h);
    }
    return h;
  }

  groupAddHost(g: Group, h: Host): boolean {
    if (g.hostSet.has(h.name)) return false;
    g.hosts.push(h);
    g.hostSet.add(h.name);
    if (!h.directGroups.includes(g)) h.directGroups.push(g);
    g.clearHostsCache();
    return true;
  }

  groupRemoveHost(g: Group, h: Host): void {
    if (!g.hostSet.has(h.name)) return;
    g.hosts.splice(g.hosts.indexOf(h), 1);
    g.hostSet.delete(h.name);
    const i = h.directGroups.indexOf(g);
    if (i >= 0) h.directGroups.splice(i, 1);
    g.clearHostsCache();
  }

  /** Makes `child` (a group or a host) a member of `group`. */
  addChild(group: string, child: string, loc?: SourceLoc): void {
    const g = this.groups.get(group);
    if (!g) throw new InputError(`${group} is not a known group`, loc);
    const cg = this.groups.get(child);
    if (cg) {
      this.addChildGroup(g, cg, loc);
      return;
    }
    const h = this.hosts.get(child);
    if (h) {
      this.groupAddHost(g, h);
      return;
    }
    throw new InputError(`${child} is not a known host nor group`, loc);
  }

  addChildGroup(parent: Group, child: Group, loc?: SourceLoc): void {
    if (parent === child) {
      throw new InputError(`group '${parent.name}' cannot be a child of itself`, loc);
    }
    if (parent.children.includes(child)) return;
    if (parent.ancestors().has(child)) {
      const path = this.pathUp(parent, child);
      throw new InputError(
        `adding group '${child.name}' as a child of '${parent.name}' makes a cycle: ${[child.name, ...path.map((g) => g.name), child.name].join(' -> ')}`,
        loc,
      );
    }
    parent.children.push(child);
    if (!child.parents.includes(parent)) child.parents.push(parent);
    this.bumpDepth(parent, child);
    parent.clearHostsCache();
    child.clearHostsCache();
  }

  /** Groups from `target` (an ancestor of `from`) down to `from`, excluding target. */
  private pathUp(from: Group, target: Group): Group[] {
    // breadth-first from target down through children to `from`
    const prev = new Map<Group, Group>();
    const queue = [target];
    const seen = new Set([target]);
    while (queue.length) {
      const g = queue.shift()!;
      if (g === from) break;
      for (const c of g.children) {
        if (seen.has(c)) continue;
        seen.add(c);
        prev.set(c, g);
        queue.push(c);
      }
    }
    const path: Group[] = [];
    for (let g: Group | undefined = from; g && g !== target; g = prev.get(g)) path.unshift(g);
    return path;
  }

  private bumpDepth(parent: Group, child: Group): void {
    if (child.depth >= parent.depth + 1) return;
    child.depth = parent.depth + 1;
    for (const c of child.children) this.bumpDepth(child, c);
  }

  setGroupVar(g: Group, key: string, value: unknown, origin: VarOrigin): void {
    if (key === 'ansible_group_priority') {
      const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*[+-]?\d+\s*$/.test(value) ? parseInt(value, 10) : NaN;
      if (!Number.isInteger(n)) {
        throw new InputError(`ansible_group_priority of group '${g.name}' must be an integer, got ${JSON.stringify(value)}`, origin.loc);
      }
      g.priority = Math.trunc(n);
      return;
    }
    const prev = g.varOrigins.get(key);
    if (prev && prev.file === origin.file && !sameValue(g.vars.get(key), value)) {
      this.conflict(`group '${g.name}'`, key, prev, origin);
    }
    g.vars.set(key, value);
    g.varOrigins.set(key, origin);
  }

  setHostVar(h: Host, key: string, value: unknown, origin: VarOrigin): void {
    const prev = h.varOrigins.get(key);
    if (prev && prev.file === origin.file && !sameValue(h.vars.get(key), value)) {
      this.conflict(`host '${h.name}'`, key, prev, origin);
    }
    h.vars.set(key, value);
    h.varOrigins.set(key, origin);
  }

  private conflict(what: string, key: string, prev: VarOrigin, now: VarOrigin): void {
    this.sink.add(
      `${what}: variable '${key}' is set again with a different value (first set at ${formatLoc(prev.loc) || prev.file})`,
      now.loc,
    );
  }

  /** `reconcile_inventory`: orphan groups under `all`, lone hosts into `ungrouped`. */
  reconcile(): void {
    const all = this.groups.get('all')!;
    const ungrouped = this.groups.get('ungrouped')!;
    for (const g of this.groups.values()) {
      if (g !== all && g.parents.length === 0) this.addChildGroup(all, g, g.loc);
    }
    for (const h of this.hosts.values()) {
      const mine = h.groups();
      if (mine.includes(ungrouped)) {
        if (mine.some((g) => g !== all && g !== ungrouped)) this.groupRemoveHost(ungrouped, h);
      } else if (!h.implicit) {
        if (mine.length === 0 || (mine.length === 1 && mine[0] === all)) this.groupAddHost(ungrouped, h);
      }
    }
  }
}
