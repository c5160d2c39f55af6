/**
 * Variable precedence, low to high (a later layer replaces a variable of an earlier one,
 * whole values, as Ansible's default `hash_behaviour: replace`):
 *
 *   1. role defaults          (roles/NAME/defaults/main.yml)
 *   2. inventory vars         (all < parent group < child group < host; group_vars/host_vars files)
 *   3. play vars              (`vars:` of the play)
 *   4. play vars_files        (`vars_files:` of the play, in order)
 *   5. role vars              (roles/NAME/vars/main.yml)
 *   6. role params            (`roles: [{ role: x, vars: {...} }]`)
 *   7. task vars              (`vars:` of import_tasks, then of the task)
 *   8. host facts             (registered results and set_fact)
 *   9. extra vars             (`-e key=value`, `-e @file.yml`): always win
 *
 * Magic variables (inventory_hostname, group_names, groups, hostvars, play_hosts,
 * ansible_check_mode, role_name, role_path, playbook_dir) are set by the engine and cannot
 * be overridden.
 *
 * Values are templated lazily, when used: `a: "{{ b }}"` resolves `b` at the moment `a` is
 * read, in the same variable scope, so a later layer's `b` is honoured (as in Ansible).
 */
import { TemplateError } from '../errors.js';
import { isPlainObject } from '../yamlsrc.js';
import { renderString } from './template.js';

export const PRECEDENCE = [
  'role defaults',
  'inventory',
  'play vars',
  'play vars_files',
  'role vars',
  'role params',
  'task vars',
  'host facts',
  'extra vars',
] as const;

export type Layer = (typeof PRECEDENCE)[number];

export type VarLayers = Partial<Record<Layer, Record<string, unknown> | Record<string, unknown>[]>>;

/** Merges layers in precedence order (whole-value replace). */
export function mergeLayers(layers: VarLayers, magic: Record<string, unknown> = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of PRECEDENCE) {
    const l = layers[name];
    if (!l) continue;
    for (const part of Array.isArray(l) ? l : [l]) Object.assign(out, part);
  }
  return Object.assign(out, magic);
}

/** Which layer a variable's value comes from (for `underlay` debugging output and tests). */
export function originOf(layers: VarLayers, name: string): Layer | undefined {
  let found: Layer | undefined;
  for (const l of PRECEDENCE) {
    const v = layers[l];
    if (!v) continue;
    for (const part of Array.isArray(v) ? v : [v]) if (Object.prototype.hasOwnProperty.call(part, name)) found = l;
  }
  return found;
}

const MAX_DEPTH = 50;

/**
 * Views that render their own values when read (lazyVars views, the `hostvars` view): they
 * are never walked nor copied by containsTemplate/renderValue. Walking one would render
 * every variable behind it, and `hostvars` leads back to itself through every host.
 */
const selfRendering = new WeakSet<object>();

/** Marks a view as rendering its own values (see selfRendering). */
export function markSelfRendering<T extends object>(view: T): T {
  selfRendering.add(view);
  return view;
}

/**
 * A read-only view of `vars` in which strings containing `{{` are rendered when read,
 * recursively (a variable may refer to another), with loops detected.
 */
export function lazyVars(vars: Record<string, unknown>): Record<string, unknown> {
  const cache = new Map<string, unknown>();
  const resolving: string[] = [];
  let view: Record<string, unknown>;
  const resolve = (key: string): unknown => {
    if (cache.has(key)) return cache.get(key);
    const raw = vars[key];
    if (!containsTemplate(raw)) return raw;
    if (resolving.includes(key)) {
      throw new TemplateError(`variable loop: ${[...resolving, key].join(' -> ')}`);
    }
    if (resolving.length > MAX_DEPTH) throw new TemplateError(`variables nested more than ${MAX_DEPTH} deep while resolving '${key}'`);
    resolving.push(key);
    try {
      const value = renderValue(raw, view);
      cache.set(key, value);
      return value;
    } finally {
      resolving.pop();
    }
  };
  view = new Proxy(vars, {
    get(target, key) {
      if (typeof key !== 'string') return undefined;
      if (!Object.prototype.hasOwnProperty.call(target, key)) return undefined;
      return resolve(key);
    },
    getOwnPropertyDescriptor(target, key) {
      if (typeof key !== 'string' || !Object.prototype.hasOwnProperty.call(target, key)) return undefined;
      return { value: resolve(key), writable: false, enumerable: true, configurable: true };
    },
    set() {
      return false;
    },
    defineProperty() {
      return false;
    },
    deleteProperty() {
      return false;
    },
  });
  return markSelfRendering(view);
}

function containsTemplate(v: unknown): boolean {
  if (typeof v === 'string') return v.includes('{{');
  if (typeof v === 'object' && v !== null && selfRendering.has(v)) return false;
  if (Array.isArray(v)) return v.some(containsTemplate);
  if (isPlainObject(v)) return Object.values(v).some(containsTemplate);
  return false;
}

/** Renders every string inside a value (returns new values, never mutates). */
export function renderValue(v: unknown, vars: Record<string, unknown>): unknown {
  if (typeof v === 'string') return v.includes('{{') ? renderString(v, vars) : v;
  if (typeof v === 'object' && v !== null && selfRendering.has(v)) return v;
  if (Array.isArray(v)) return v.map((x) => renderValue(x, vars));
  if (isPlainObject(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = renderValue(x, vars);
    return out;
  }
  return v;
}
