/**
 * The module registry: every module underlay knows, by name. The loader validates each
 * task against these schemas; the engine runs them; the JSON Schema of the playbook format
 * is generated from them.
 */
import { assert } from './assert.js';
import { command, shell } from './command.js';
import { copy } from './copy.js';
import { debug } from './debug.js';
import { fail } from './fail.js';
import { file } from './file.js';
import { get_url } from './get_url.js';
import { hairpin_guard } from './hairpin_guard.js';
import { ip_move } from './ip_move.js';
import { lineinfile } from './lineinfile.js';
import { linux_bridge } from './linux_bridge.js';
import { neighbor } from './neighbor.js';
import { ovs_bridge } from './ovs_bridge.js';
import { ovs_port } from './ovs_port.js';
import { ovs_set } from './ovs_set.js';
import { route } from './route.js';
import { veth } from './veth.js';
import { meta } from './meta.js';
import { pkg } from './package.js';
import { service } from './service.js';
import { set_fact } from './set_fact.js';
import { sysctl } from './sysctl.js';
import { template } from './template.js';
import type { ModuleDef } from './types.js';
import { unarchive } from './unarchive.js';
import { wait_for } from './wait_for.js';

const all: ModuleDef<any, any>[] = [
  assert, command, copy, debug, fail, file, get_url, hairpin_guard, ip_move, lineinfile, linux_bridge,
  meta, neighbor, ovs_bridge, ovs_port, ovs_set, pkg, route, service, set_fact, shell, sysctl,
  template, unarchive, veth, wait_for,
];

const byName = new Map<string, ModuleDef>();
for (const m of all) byName.set(m.name, m as ModuleDef);

/** Prefixes Ansible users write before a module name (`ansible.builtin.command`). */
const PREFIXES = ['ansible.builtin.', 'ansible.legacy.', 'underlay.'];

export function lookupModule(name: string): ModuleDef | undefined {
  const direct = byName.get(name);
  if (direct) return direct;
  for (const p of PREFIXES) {
    if (name.startsWith(p)) return byName.get(name.slice(p.length));
  }
  return undefined;
}

export function moduleNames(): string[] {
  return [...byName.keys()].sort();
}

export function allModules(): ModuleDef[] {
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** Adds modules (used as modules grow; names must be unique). */
export function registerModule(def: ModuleDef<any, any>): void {
  if (byName.has(def.name)) throw new Error(`module ${def.name} registered twice`);
  byName.set(def.name, def as ModuleDef);
}
