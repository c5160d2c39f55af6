/**
 * The YAML (and JSON) inventory format, read as Ansible's `yaml` inventory plugin reads it:
 * every top-level key is a group; a group has `hosts`, `vars` and `children` (a string
 * stands for a one-entry mapping); host keys may hold ranges and `:port`; groups and
 * sections are processed in file order.
 *
 * Where Ansible only warns and skips (an unknown key in a group, a group that is not a
 * mapping), this is an error: a typo such as `host:` would otherwise drop hosts silently.
 */
import { InputError, type SourceLoc } from '../errors.js';
import { isPlainObject, keyLocOf, locOf, typeName } from '../yamlsrc.js';
import type { InventoryData, VarOrigin } from './model.js';
import { expandHostPattern, HostPatternError } from './ranges.js';
import { containsVault } from './varsfiles.js';

/** What a loader needs to know about the file it reads. */
export interface SourceContext {
  /** The file as it is named in messages. */
  file: string;
  /** `inventory_file` of hosts first defined here (absolute path). */
  inventoryFile: string | null;
  /** `inventory_dir` of hosts first defined here. */
  inventoryDir: string | null;
  /** Everything in the file is secret (the file was vault-encrypted). */
  secret: boolean;
}

const SECTIONS = ['vars', 'children', 'hosts'] as const;

/** Python truthiness of a parsed value. */
export function pyFalsy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return true;
  if (Array.isArray(v)) return v.length === 0;
  if (isPlainObject(v)) return Object.keys(v).length === 0;
  return false;
}

/**
 * Whether the YAML plugin takes this parsed document: a non-empty mapping without a
 * `plugin` key. Otherwise Ansible moves on to the INI plugin.
 */
export function yamlPluginAccepts(data: unknown): boolean {
  return isPlainObject(data) && Object.keys(data).length > 0;
}

export function loadYamlInventory(inv: InventoryData, data: Record<string, unknown>, ctx: SourceContext): void {
  if (!pyFalsy(data['plugin'])) {
    throw new InputError(
      'this is an inventory plugin configuration (it has a `plugin:` key); only YAML and INI inventories are supported',
      keyLocOf(data, 'plugin'),
    );
  }
  const origin = (loc: SourceLoc | undefined, value: unknown): VarOrigin => ({
    file: ctx.file,
    loc,
    secret: ctx.secret || containsVault(value),
  });
  const at = (loc: SourceLoc | undefined): SourceLoc => loc ?? { file: ctx.file, line: 1, col: 1 };
  /** Where a section written as a plain string (`hosts: web1`) stands. */
  const sectionLocs = new WeakMap<object, SourceLoc | undefined>();

  const parseGroup = (name: string, groupData: unknown, nameLoc: SourceLoc | undefined, valueLoc: SourceLoc | undefined): string => {
    if (groupData !== null && !isPlainObject(groupData)) {
      throw new InputError(
        `group '${name}' must be a mapping (with hosts, vars, children) or empty, got ${typeName(groupData)}`,
        at(valueLoc ?? nameLoc),
      );
    }
    const g = inv.addGroup(name, nameLoc);
    if (groupData === null) return g.name;
    const sections: Record<string, Record<string, unknown> | null> = {};
    for (const key of Object.keys(groupData)) {
      if (!(SECTIONS as readonly string[]).includes(key)) {
        throw new InputError(
          `unexpected key '${key}' in group '${name}': only "vars", "children" and "hosts" are valid`,
          at(keyLocOf(groupData, key)),
        );
      }
    }
    for (const section of SECTIONS) {
      if (!(section in groupData)) continue;
      const v = groupData[section];
      if (typeof v === 'string') {
        // a string stands for a one-entry mapping: `hosts: web1` is `hosts: {web1: }`
        const m: Record<string, unknown> = Object.fromEntries([[v, null]]);
        sections[section] = m;
        sectionLocs.set(m, locOf(groupData, section));
        continue;
      }
      if (v !== null && !isPlainObject(v)) {
        const hint = section === 'hosts' && Array.isArray(v) ? ' (write hosts as a mapping: `hosts: {web1: , web2: }`)' : '';
        throw new InputError(
          `Invalid "${section}" entry for "${name}" group, requires a dictionary, found ${typeName(v)} instead${hint}`,
          at(locOf(groupData, section)),
        );
      }
      sections[section] = v as Record<string, unknown> | null;
    }
    for (const key of Object.keys(groupData)) {
      const v = sections[key];
      if (v === null || v === undefined) continue;
      const locFor = (k: string): SourceLoc | undefined => sectionLocs.get(v) ?? locOf(v, k);
      const keyLocFor = (k: string): SourceLoc | undefined => sectionLocs.get(v) ?? keyLocOf(v, k);
      if (key === 'vars') {
        for (const [var_, value] of Object.entries(v)) {
          inv.setGroupVar(g, var_, value, origin(locFor(var_), value));
        }
      } else if (key === 'children') {
        for (const [sub, subData] of Object.entries(v)) {
          const childName = parseGroup(sub, subData, keyLocFor(sub), locFor(sub));
          inv.addChild(g.name, childName, keyLocFor(sub));
        }
      } else if (key === 'hosts') {
        for (const [pattern, hostData] of Object.entries(v)) {
          const ploc = keyLocFor(pattern);
          let expanded: { hosts: string[]; port: number | undefined };
          try {
            expanded = expandHostPattern(pattern, false);
          } catch (e) {
            if (e instanceof HostPatternError) throw new InputError(`bad host pattern '${pattern}': ${e.message}`, at(ploc));
            throw e;
          }
          const hv = pyFalsy(hostData) ? {} : hostData;
          if (!isPlainObject(hv)) {
            throw new InputError(
              `host '${pattern}' must have a mapping of variables (or nothing), got ${typeName(hv)}`,
              at(locFor(pattern)),
            );
          }
          for (const h of expanded.hosts) {
            const host = inv.addHost(h, g.name, expanded.port, {
              file: ctx.inventoryFile,
              dir: ctx.inventoryDir,
              origin: origin(ploc, undefined),
            });
            for (const [var_, value] of Object.entries(hv)) {
              inv.setHostVar(host, var_, value, origin(locOf(hv, var_), value));
            }
          }
        }
      }
    }
    return g.name;
  };
  for (const [name, groupData] of Object.entries(data)) {
    parseGroup(name, groupData, keyLocOf(data, name), locOf(data, name));
  }
}
