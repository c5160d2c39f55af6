/**
 * The variables a task sees on a host, assembled in precedence order (src/vars/precedence.ts)
 * plus the magic variables, as a lazily-templated view.
 */
import { InputError } from '../errors.js';
import type { Inventory } from '../inventory/index.js';
import { loadVarsFile } from '../playbook/load.js';
import type { Play, RoleContext, Task } from '../playbook/model.js';
import { lazyVars, markSelfRendering, mergeLayers } from '../vars/precedence.js';
import { renderString } from '../vars/template.js';

export const OMIT = '__omit_place_holder__underlay__';

interface Opts {
  inventory: Inventory;
  /** Host variables computed before the run (the network plan): part of the inventory layer. */
  plannedVars?: Map<string, Record<string, unknown>>;
  extraVars?: Record<string, unknown>;
  check?: boolean;
  diff?: boolean;
  playbook: { file: string; varsFileValues: Map<string, Record<string, unknown>> };
}

export class HostVars {
  private readonly roleDefaults: Record<string, unknown>[] = [];
  private readonly roleVars: Record<string, unknown>[] = [];
  private readonly filesCache = new Map<string, Record<string, unknown>[]>();
  private readonly groups: Record<string, string[]>;
  private readonly hostvarsView: Record<string, unknown>;

  constructor(
    readonly play: Play,
    readonly opts: Opts,
    readonly factsOf: (host: string) => Record<string, unknown>,
    readonly playHosts: string[],
  ) {
    const seen = new Set<string>();
    const roles: RoleContext[] = [];
    for (const t of [...play.sections.flatMap((s) => s.tasks), ...play.handlers]) {
      if (t.role && !seen.has(t.role.path)) {
        seen.add(t.role.path);
        roles.push(t.role);
      }
    }
    for (const r of roles) {
      this.roleDefaults.push(r.defaults);
      this.roleVars.push(r.vars);
    }
    this.groups = groupsMap(opts.inventory);
    const view: Record<string, unknown> = {};
    for (const h of opts.inventory.hostNames()) {
      Object.defineProperty(view, h, {
        enumerable: true,
        get: () => lazyVars(this.merged(h, undefined)),
      });
    }
    this.hostvarsView = markSelfRendering(view);
  }

  /** vars_files of the play for a host (paths may be templated). */
  private varsFiles(host: string): Record<string, unknown>[] {
    const cached = this.filesCache.get(host);
    if (cached) return cached;
    const out: Record<string, unknown>[] = [];
    for (const f of this.play.varsFiles) {
      let path = f;
      if (f.includes('{{')) {
        const base = mergeLayers({ inventory: this.opts.inventory.hostVars(host), 'play vars': this.play.vars, 'extra vars': this.opts.extraVars ?? {} }, this.magic(host));
        path = String(renderString(f, lazyVars(base), { file: this.play.file, line: this.play.loc.line, col: this.play.loc.col }));
      }
      let v = this.opts.playbook.varsFileValues.get(path);
      if (!v) {
        v = loadVarsFile(path).vars;
        this.opts.playbook.varsFileValues.set(path, v);
      }
      out.push(v);
    }
    this.filesCache.set(host, out);
    return out;
  }

  private magic(host: string): Record<string, unknown> {
    const inv = this.opts.inventory;
    return {
      inventory_hostname: host,
      inventory_hostname_short: host.split('.')[0],
      group_names: inv.groupsOf(host).filter((g) => g !== 'all' && g !== 'ungrouped').sort(),
      groups: this.groups,
      play_hosts: this.playHosts,
      ansible_play_hosts: this.playHosts,
      ansible_play_batch: this.playHosts,
      ansible_check_mode: Boolean(this.opts.check),
      ansible_diff_mode: Boolean(this.opts.diff),
      playbook_dir: this.play.baseDir,
      omit: OMIT,
    };
  }

  private merged(host: string, task: Task | undefined): Record<string, unknown> {
    if (!this.opts.inventory.hasHost(host)) throw new InputError(`no host '${host}' in the inventory`);
    const magic = this.magic(host);
    magic['hostvars'] = this.hostvarsView;
    if (task?.role) {
      magic['role_name'] = task.role.name;
      magic['role_path'] = task.role.path;
    }
    return mergeLayers(
      {
        'role defaults': this.roleDefaults,
        inventory: [this.opts.inventory.hostVars(host), this.opts.plannedVars?.get(host) ?? {}],
        'play vars': this.play.vars,
        'play vars_files': this.varsFiles(host),
        'role vars': this.roleVars,
        'role params': task?.role?.params ?? {},
        'task vars': task?.vars ?? {},
        'host facts': this.factsOf(host),
        'extra vars': this.opts.extraVars ?? {},
      },
      magic,
    );
  }

  /** The variables task `task` sees on `host`, templated when read. */
  forTask(host: string, task: Task): Record<string, unknown> {
    return lazyVars(this.merged(host, task));
  }
}

function groupsMap(inv: Inventory): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const g of inv.groupNames()) out[g] = [];
  for (const h of inv.hostNames()) {
    for (const g of inv.groupsOf(h)) (out[g] ??= []).push(h);
  }
  out['all'] = inv.hostNames();
  return out;
}
