/**
 * `ansible-inventory --list` and `--graph [--vars]`, reproduced from an Inventory.
 *
 * --list: every group reachable from `all` with its direct `hosts` and its `children`
 * (empty lists left out, a group with neither left out, though still named among its
 * parent's children; `all` never lists hosts), and `_meta.hostvars` with the merged
 * variables of every host that has any (internal variables such as `inventory_file` left
 * out; `!vault` values shown as `{"__ansible_vault": ciphertext}` as Ansible prints them).
 * Keys are sorted, as Ansible sorts them.
 *
 * --graph: the group tree from a group, children first then the group's own hosts; with
 * vars, each host's variables under it and each group's own variables after its members,
 * printed as Python prints values (`True`, `None`, `['a', 'b']`).
 */
import { PatternError } from '../errors.js';
import { VaultText } from '../yamlsrc.js';
import type { Inventory } from './inventory.js';
import type { Group } from './model.js';
import { pyStr } from './pylit.js';

function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A value as Ansible's JSON encoder writes it. */
export function toJsonValue(v: unknown): unknown {
  if (v instanceof VaultText) return { __ansible_vault: v.ciphertext };
  if (v instanceof Date) return isoDate(v);
  if (Array.isArray(v)) return v.map(toJsonValue);
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v).sort(([a], [b]) => byCodePoint(a, b));
    return Object.fromEntries(entries.map(([k, x]) => [k, toJsonValue(x)]));
  }
  if (v === undefined) return null;
  return v;
}

/** Python's isoformat of a YAML timestamp (a date when there is no time of day). */
function isoDate(d: Date): string {
  const iso = d.toISOString();
  if (d.getUTCHours() === 0 && d.getUTCMinutes() === 0 && d.getUTCSeconds() === 0 && d.getUTCMilliseconds() === 0) return iso.slice(0, 10);
  const ms = d.getUTCMilliseconds();
  return iso.slice(0, 19) + (ms ? '.' + String(ms * 1000).padStart(6, '0') : '') + '+00:00';
}

function sortedObject(entries: Iterable<[string, unknown]>): Record<string, unknown> {
  return Object.fromEntries([...entries].sort(([a], [b]) => byCodePoint(a, b)));
}

/** The object `ansible-inventory -i INV --list` prints. */
export function listJson(inv: Inventory): Record<string, unknown> {
  const seen = new Set<string>();
  const results = new Map<string, Record<string, unknown>>();
  const format = (g: Group): void => {
    const entry: Record<string, unknown> = {};
    results.set(g.name, entry);
    if (g.name !== 'all') entry['hosts'] = g.hosts.map((h) => h.name);
    const children: string[] = [];
    entry['children'] = children;
    for (const sub of g.children) {
      children.push(sub.name);
      if (!seen.has(sub.name)) {
        format(sub);
        seen.add(sub.name);
      }
    }
    for (const k of ['hosts', 'children']) {
      const v = entry[k] as unknown[] | undefined;
      if (v && v.length === 0) delete entry[k];
    }
    if (Object.keys(entry).length === 0) results.delete(g.name);
  };
  format(inv.data.groups.get('all')!);
  const hostvars: Array<[string, unknown]> = [];
  for (const name of inv.hostNames()) {
    const vars = inv.listedHostVars(name);
    if (vars.size) hostvars.push([name, toJsonValue(Object.fromEntries(vars))]);
  }
  const out: Array<[string, unknown]> = [...results].map(([k, v]) => [k, sortedObject(Object.entries(v))]);
  out.push(['_meta', { hostvars: sortedObject(hostvars) }]);
  return sortedObject(out);
}

function graphName(name: string, depth: number): string {
  return depth ? '  |'.repeat(depth) + '--' + name : name;
}

function showVars(vars: Map<string, unknown>, depth: number): string[] {
  return [...vars]
    .sort(([a], [b]) => byCodePoint(a, b))
    .map(([k, v]) => graphName(`{${k} = ${pyStr(v)}}`, depth));
}

/**
 * The text `ansible-inventory -i INV --graph [GROUP] [--vars]` prints (with its final
 * line break). A GROUP that is not a group is a PatternError.
 */
export function graph(inv: Inventory, opts: { group?: string; vars?: boolean } = {}): string {
  const start = inv.data.groups.get(opts.group ?? 'all');
  if (!start) throw new PatternError(`Pattern must be valid group name when using --graph: '${opts.group}' is not a group`);
  const withVars = Boolean(opts.vars);
  const reveal = (m: Map<string, unknown>): Map<string, unknown> => new Map([...m].map(([k, v]) => [k, inv.reveal(v)]));
  const walk = (g: Group, depth: number): string[] => {
    const out = [graphName(`@${g.name}:`, depth)];
    depth++;
    for (const kid of g.children) out.push(...walk(kid, depth));
    if (g.name !== 'all') {
      for (const h of g.hosts) {
        out.push(graphName(h.name, depth));
        if (withVars) out.push(...showVars(reveal(inv.listedHostVars(h.name)), depth + 1));
      }
    }
    if (withVars) out.push(...showVars(reveal(inv.groupGraphVars(g.name)), depth));
    return out;
  };
  return walk(start, 0).join('\n') + '\n';
}
