/**
 * Loads a playbook with everything it brings in (import_playbook, roles, import_tasks,
 * include_tasks, vars_files), validates every play and task against the keyword lists
 * and the module schemas, parses every expression and checks every template's syntax,
 * and reports ALL errors at once with file:line:col, before any host is contacted.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { ErrorSink, InputError, inputErrorsOf, type SourceLoc } from '../errors.js';
import { parseExpression } from '../expr/index.js';
import { checkParams, parseKeyValues, suggest } from '../modules/params.js';
import { lookupModule, moduleNames } from '../modules/registry.js';
import { checkTemplate } from '../vars/template.js';
import { contentLoc, isPlainObject, keyLocOf, locOf, parseYaml, typeName, VaultText } from '../yamlsrc.js';
import type { Condition, Play, Playbook, RoleContext, Task } from './model.js';

export interface Keyring {
  decrypt(text: string, loc?: SourceLoc): string;
}

export interface LoadOptions {
  keyring?: Keyring;
  /** Extra directories searched for roles after `<playbook dir>/roles`. */
  rolesPath?: string[];
}

export const PLAY_KEYWORDS = [
  'name', 'hosts', 'vars', 'vars_files', 'gather_facts', 'serial', 'strategy', 'any_errors_fatal',
  'max_fail_percentage', 'become', 'become_user', 'tags', 'pre_tasks', 'tasks', 'post_tasks',
  'handlers', 'roles', 'secret_vars', 'no_log',
] as const;

export const TASK_KEYWORDS = [
  'name', 'when', 'loop', 'with_items', 'loop_control', 'register', 'notify', 'tags', 'become',
  'become_user', 'ignore_errors', 'changed_when', 'failed_when', 'retries', 'until', 'delay',
  'timeout', 'run_once', 'delegate_to', 'no_log', 'vars', 'args', 'check_mode', 'diff',
] as const;

/** Keywords only handlers take. */
export const HANDLER_KEYWORDS = ['listen'] as const;

/** Keywords that include other task files or roles (only with `when`, `tags`, `vars`, `name`). */
const INCLUDE_KEYS = ['import_tasks', 'include_tasks', 'ansible.builtin.import_tasks', 'ansible.builtin.include_tasks'];
const INCLUDE_ALLOWED = new Set(['name', 'when', 'tags', 'vars']);

const taskKeywordSet = new Set<string>(TASK_KEYWORDS);
const playKeywordSet = new Set<string>(PLAY_KEYWORDS);

/** Expression keywords whose value is parsed at load time. */
const EXPR_KEYS = ['when', 'changed_when', 'failed_when', 'until'] as const;

class Loader {
  readonly sink = new ErrorSink();
  readonly varsFileValues = new Map<string, Record<string, unknown>>();
  readonly secretVarNames = new Set<string>();
  private readonly roleCache = new Map<string, { ctx: RoleContext; tasks: Task[]; handlers: Task[] } | null>();
  private readonly stack: string[] = [];

  constructor(private readonly opts: LoadOptions) {}

  err(reason: string, loc: SourceLoc | undefined): void {
    this.sink.add(new InputError(reason, loc));
  }

  /** Reads a YAML file, decrypting a vault-encrypted one. Errors go to the sink. */
  readYaml(file: string, from: SourceLoc | undefined, secret = false): unknown {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      this.err(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, from);
      return undefined;
    }
    let vaulted = false;
    if (text.startsWith('$ANSIBLE_VAULT;')) {
      vaulted = true;
      if (!this.opts.keyring) {
        this.err(`${file} is vault-encrypted: give --vault-password-file FILE or set UNDERLAY_VAULT_PASSWORD`, from ?? { file, line: 1, col: 1 });
        return undefined;
      }
      try {
        text = this.opts.keyring.decrypt(text, { file, line: 1, col: 1 });
      } catch (e) {
        for (const ie of inputErrorsOf(e)) this.sink.add(ie);
        if (inputErrorsOf(e).length === 0) throw e;
        return undefined;
      }
    }
    try {
      const value = parseYaml(text, file);
      if (vaulted || secret) this.markSecret(value);
      return value;
    } catch (e) {
      const errs = inputErrorsOf(e);
      if (errs.length === 0) throw e;
      for (const ie of errs) this.sink.add(ie);
      return undefined;
    }
  }

  private markSecret(value: unknown): void {
    if (isPlainObject(value)) for (const k of Object.keys(value)) this.secretVarNames.add(k);
  }

  /** Decrypts `!vault` values in a vars mapping, marking their names secret. */
  vars(value: unknown, owner: object, key: string, what: string): Record<string, unknown> {
    if (value === undefined || value === null) return {};
    if (!isPlainObject(value)) {
      this.err(`${what} must be a mapping, got ${typeName(value)}`, locOf(owner, key));
      return {};
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) {
        this.err(`invalid variable name '${k}' in ${what}: use letters, digits and underscores, not starting with a digit`, keyLocOf(value, k));
        continue;
      }
      out[k] = this.devault(v, value, k);
    }
    return out;
  }

  private devault(v: unknown, owner: object, key: string | number, topName?: string): unknown {
    const name = topName ?? String(key);
    if (v instanceof VaultText) {
      this.secretVarNames.add(name);
      if (!this.opts.keyring) {
        this.err(`'${name}' is vault-encrypted: give --vault-password-file FILE or set UNDERLAY_VAULT_PASSWORD`, v.loc ?? locOf(owner, key));
        return '';
      }
      try {
        return this.opts.keyring.decrypt(v.ciphertext, v.loc ?? locOf(owner, key));
      } catch (e) {
        for (const ie of inputErrorsOf(e)) this.sink.add(ie);
        if (inputErrorsOf(e).length === 0) throw e;
        return '';
      }
    }
    if (Array.isArray(v)) {
      let changed = false;
      const out = v.map((item, i) => {
        const r = this.devault(item, v, i, name);
        if (r !== item) changed = true;
        return r;
      });
      return changed ? out : v;
    }
    if (isPlainObject(v)) {
      let changed = false;
      const out: Record<string, unknown> = {};
      for (const [k, item] of Object.entries(v)) {
        out[k] = this.devault(item, v, k, name);
        if (out[k] !== item) changed = true;
      }
      return changed ? out : v;
    }
    return v;
  }

  bool(owner: Record<string, unknown>, key: string, dflt: boolean | undefined): boolean | undefined {
    const v = owner[key];
    if (v === undefined || v === null) return dflt;
    if (typeof v === 'boolean') return v;
    if (typeof v === 'string' && /^(yes|true|on|1)$/i.test(v)) return true;
    if (typeof v === 'string' && /^(no|false|off|0)$/i.test(v)) return false;
    if (typeof v === 'string' && v.includes('{{')) {
      this.err(`'${key}' must be a literal boolean here (templating it is not supported)`, locOf(owner, key));
      return dflt;
    }
    this.err(`'${key}' must be a boolean, got ${typeName(v)}`, locOf(owner, key));
    return dflt;
  }

  int(owner: Record<string, unknown>, key: string, min: number): number | undefined {
    const v = owner[key];
    if (v === undefined || v === null) return undefined;
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
    if (!Number.isInteger(n) || n < min) {
      this.err(`'${key}' must be an integer >= ${min}, got ${typeName(v)}${typeof v === 'string' ? ` '${v}'` : ''}`, locOf(owner, key));
      return undefined;
    }
    return n;
  }

  str(owner: Record<string, unknown>, key: string): string | undefined {
    const v = owner[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string') return v;
    if (typeof v === 'number') return String(v);
    this.err(`'${key}' must be a string, got ${typeName(v)}`, locOf(owner, key));
    return undefined;
  }

  strList(owner: Record<string, unknown>, key: string): string[] {
    const v = owner[key];
    if (v === undefined || v === null) return [];
    if (typeof v === 'string') return v.split(',').map((s) => s.trim()).filter(Boolean);
    if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number')) return v.map(String);
    this.err(`'${key}' must be a string or a list of strings, got ${typeName(v)}`, locOf(owner, key));
    return [];
  }

  conditions(owner: Record<string, unknown>, key: string): Condition[] | undefined {
    const v = owner[key];
    if (v === undefined || v === null) return undefined;
    const items: { src: string; loc: SourceLoc | undefined }[] = [];
    if (Array.isArray(v)) {
      v.forEach((item, i) => {
        if (typeof item === 'boolean' || typeof item === 'number') items.push({ src: String(item), loc: locOf(v, i) });
        else if (typeof item === 'string') items.push({ src: item, loc: locOf(v, i) });
        else this.err(`'${key}' items must be expressions (strings), got ${typeName(item)}`, locOf(v, i));
      });
    } else if (typeof v === 'string' || typeof v === 'boolean' || typeof v === 'number') {
      items.push({ src: String(v), loc: locOf(owner, key) });
    } else {
      this.err(`'${key}' must be an expression or a list of expressions, got ${typeName(v)}`, locOf(owner, key));
      return undefined;
    }
    const out: Condition[] = [];
    for (const it of items) {
      try {
        out.push({ src: it.src, expr: parseExpression(it.src, contentLoc(it.loc)), loc: it.loc });
      } catch (e) {
        const errs = inputErrorsOf(e);
        if (errs.length === 0) throw e;
        for (const ie of errs) this.sink.add(ie);
      }
    }
    return out;
  }

  /** Syntax-checks every template string inside a value. */
  templates(value: unknown, owner: object, key: string | number): void {
    if (typeof value === 'string') {
      if (value.includes('{{')) {
        try {
          checkTemplate(value, locOf(owner, key));
        } catch (e) {
          const errs = inputErrorsOf(e);
          if (errs.length === 0) throw e;
          for (const ie of errs) this.sink.add(ie);
        }
      }
    } else if (Array.isArray(value)) {
      value.forEach((v, i) => this.templates(v, value, i));
    } else if (isPlainObject(value)) {
      for (const [k, v] of Object.entries(value)) this.templates(v, value, k);
    }
  }

  unknownKey(key: string, owner: object, allowed: Iterable<string>, what: string): void {
    this.err(`unknown ${what} keyword '${key}'${suggest(key, allowed)}`, keyLocOf(owner, key));
  }

  // ---------------------------------------------------------------- playbooks

  playbook(file: string, from: SourceLoc | undefined): Play[] {
    const abs = resolve(file);
    if (this.stack.includes(abs)) {
      this.err(`import_playbook loop: ${[...this.stack, abs].join(' -> ')}`, from);
      return [];
    }
    const doc = this.readYaml(abs, from);
    if (doc === undefined) return [];
    if (!Array.isArray(doc)) {
      this.err(`a playbook must be a list of plays, got ${typeName(doc)}`, locOf(doc) ?? { file: abs, line: 1, col: 1 });
      return [];
    }
    this.stack.push(abs);
    const plays: Play[] = [];
    doc.forEach((entry, i) => {
      const loc = locOf(doc, i) ?? { file: abs, line: 1, col: 1 };
      if (!isPlainObject(entry)) {
        this.err(`a play must be a mapping, got ${typeName(entry)}`, loc);
        return;
      }
      const imp = entry['import_playbook'] ?? entry['ansible.builtin.import_playbook'];
      if (imp !== undefined) {
        for (const k of Object.keys(entry)) {
          if (!['import_playbook', 'ansible.builtin.import_playbook', 'name'].includes(k)) this.unknownKey(k, entry, ['import_playbook', 'name'], 'import_playbook');
        }
        if (typeof imp !== 'string') {
          this.err(`import_playbook takes a file path, got ${typeName(imp)}`, locOf(entry, 'import_playbook'));
          return;
        }
        const target = isAbsolute(imp) ? imp : join(dirname(abs), imp);
        plays.push(...this.playbook(target, locOf(entry, 'import_playbook')));
        return;
      }
      const play = this.play(entry, abs, loc);
      if (play) plays.push(play);
    });
    this.stack.pop();
    return plays;
  }

  play(p: Record<string, unknown>, file: string, loc: SourceLoc): Play | undefined {
    for (const k of Object.keys(p)) if (!playKeywordSet.has(k)) this.unknownKey(k, p, PLAY_KEYWORDS, 'play');
    const baseDir = dirname(file);
    const hosts = p['hosts'];
    let hostPattern = '';
    if (hosts === undefined || hosts === null) this.err(`play has no 'hosts'`, loc);
    else if (typeof hosts === 'string') hostPattern = hosts;
    else if (Array.isArray(hosts) && hosts.every((h) => typeof h === 'string')) hostPattern = hosts.join(':');
    else this.err(`'hosts' must be a pattern or a list of patterns, got ${typeName(hosts)}`, locOf(p, 'hosts'));
    this.templates(p['name'], p, 'name');
    const vars = this.vars(p['vars'], p, 'vars', 'play vars');
    this.templates(p['vars'], p, 'vars');
    const varsFiles = this.strList(p, 'vars_files').map((f) => (isAbsolute(f) ? f : join(baseDir, f)));
    const vfList = p['vars_files'];
    varsFiles.forEach((f, i) => {
      if (f.includes('{{')) return; // rendered when the play starts
      if (this.varsFileValues.has(f)) return;
      const at = Array.isArray(vfList) ? locOf(vfList, i) : locOf(p, 'vars_files');
      const v = this.readYaml(f, at);
      if (v === undefined) return;
      if (v === null) {
        this.varsFileValues.set(f, {});
        return;
      }
      if (!isPlainObject(v)) {
        this.err(`a vars file must be a mapping, got ${typeName(v)}`, locOf(v) ?? { file: f, line: 1, col: 1 });
        return;
      }
      const vv = this.vars(v, v, '', `vars file ${f}`);
      this.varsFileValues.set(f, vv);
    });
    const strategy = this.str(p, 'strategy') ?? 'linear';
    if (strategy !== 'linear' && strategy !== 'free') this.err(`'strategy' must be linear or free, got '${strategy}'`, locOf(p, 'strategy'));
    let serial: (number | string)[] | undefined;
    const s = p['serial'];
    if (s !== undefined && s !== null) {
      const list = Array.isArray(s) ? s : [s];
      serial = [];
      for (const [i, item] of list.entries()) {
        const at = Array.isArray(s) ? locOf(s, i) : locOf(p, 'serial');
        if (typeof item === 'number' && Number.isInteger(item) && item > 0) serial.push(item);
        else if (typeof item === 'string' && /^\d+%$/.test(item) && Number.parseInt(item, 10) > 0 && Number.parseInt(item, 10) <= 100) serial.push(item);
        else if (typeof item === 'string' && /^\d+$/.test(item) && Number(item) > 0) serial.push(Number(item));
        else this.err(`'serial' must be a positive integer or a percentage like '30%', got ${typeName(item)}${typeof item === 'string' ? ` '${item}'` : ''}`, at);
      }
    }
    let maxFail: number | undefined;
    if (p['max_fail_percentage'] !== undefined) {
      const m = p['max_fail_percentage'];
      if (typeof m === 'number' && m >= 0 && m <= 100) maxFail = m;
      else this.err(`'max_fail_percentage' must be a number from 0 to 100, got ${typeName(m)}`, locOf(p, 'max_fail_percentage'));
    }
    const playTags = this.strList(p, 'tags');
    const become = this.bool(p, 'become', false) ?? false;
    const becomeUser = this.str(p, 'become_user');
    const ctx: TaskCtx = { file, baseDir, role: undefined, tags: playTags, when: [], vars: {}, handler: false, depth: 0 };
    const sections: Play['sections'] = [];
    const handlers: Task[] = [];
    sections.push({ name: 'pre_tasks', tasks: this.taskList(p['pre_tasks'], p, 'pre_tasks', ctx) });
    const roleTasks: Task[] = [];
    const roles = p['roles'];
    if (roles !== undefined && roles !== null) {
      if (!Array.isArray(roles)) this.err(`'roles' must be a list, got ${typeName(roles)}`, locOf(p, 'roles'));
      else
        roles.forEach((r, i) => {
          const got = this.roleUse(r, roles, i, baseDir, ctx);
          if (got) {
            roleTasks.push(...got.tasks);
            handlers.push(...got.handlers);
          }
        });
    }
    sections.push({ name: 'roles', tasks: roleTasks });
    sections.push({ name: 'tasks', tasks: this.taskList(p['tasks'], p, 'tasks', ctx) });
    sections.push({ name: 'post_tasks', tasks: this.taskList(p['post_tasks'], p, 'post_tasks', ctx) });
    handlers.push(...this.taskList(p['handlers'], p, 'handlers', { ...ctx, handler: true }));
    const all = sections.flatMap((x) => x.tasks);
    this.checkNotify(all, handlers);
    const name = this.str(p, 'name') ?? hostPattern;
    const secretVars = this.strList(p, 'secret_vars');
    return {
      name,
      hosts: hostPattern,
      vars,
      varsFiles,
      gatherFacts: this.bool(p, 'gather_facts', false) ?? false,
      serial,
      strategy: strategy === 'free' ? 'free' : 'linear',
      anyErrorsFatal: this.bool(p, 'any_errors_fatal', false) ?? false,
      maxFailPercentage: maxFail,
      become,
      becomeUser,
      tags: playTags,
      sections,
      handlers,
      secretVars,
      noLog: this.bool(p, 'no_log', false) ?? false,
      baseDir,
      file,
      loc,
    };
  }

  private checkNotify(tasks: Task[], handlers: Task[]): void {
    const known = new Set<string>();
    for (const h of handlers) {
      if (h.name) known.add(h.name);
      for (const l of h.listen) known.add(l);
    }
    for (const t of [...tasks, ...handlers]) {
      for (const n of t.notify) {
        if (!n.includes('{{') && !known.has(n)) {
          this.err(`notify: no handler named or listening to '${n}'${suggest(n, known)}`, t.loc);
        }
      }
    }
  }

  // ---------------------------------------------------------------- roles

  private roleUse(r: unknown, list: unknown[], i: number, baseDir: string, ctx: TaskCtx): { tasks: Task[]; handlers: Task[] } | undefined {
    const at = locOf(list, i);
    let name: string | undefined;
    let params: Record<string, unknown> = {};
    let tags: string[] = [];
    let when: Condition[] = [];
    if (typeof r === 'string') name = r;
    else if (isPlainObject(r)) {
      for (const k of Object.keys(r)) {
        if (!['role', 'name', 'vars', 'tags', 'when'].includes(k)) this.unknownKey(k, r, ['role', 'name', 'vars', 'tags', 'when'], 'role');
      }
      name = this.str(r, 'role') ?? this.str(r, 'name');
      params = this.vars(r['vars'], r, 'vars', 'role vars');
      this.templates(r['vars'], r, 'vars');
      tags = this.strList(r, 'tags');
      when = this.conditions(r, 'when') ?? [];
    }
    if (!name) {
      this.err(`a role entry needs a role name, got ${typeName(r)}`, at);
      return undefined;
    }
    const role = this.loadRole(name, baseDir, at);
    if (!role) return undefined;
    const ctxRole: RoleContext = { ...role.ctx, params };
    const wrap = (t: Task): Task => ({
      ...t,
      role: ctxRole,
      tags: unique([...ctx.tags, ...tags, ...t.tags]),
      when: [...when, ...t.when],
    });
    return { tasks: role.tasks.map(wrap), handlers: role.handlers.map((h) => ({ ...h, role: ctxRole })) };
  }

  private loadRole(name: string, baseDir: string, at: SourceLoc | undefined) {
    const candidates = [join(baseDir, 'roles', name), ...(this.opts.rolesPath ?? []).map((d) => join(d, name))];
    const path = candidates.find((c) => existsSync(c) && statSync(c).isDirectory());
    if (!path) {
      this.err(`role '${name}' not found (looked in ${candidates.join(', ')})`, at);
      return undefined;
    }
    if (this.roleCache.has(path)) return this.roleCache.get(path) ?? undefined;
    this.roleCache.set(path, null);
    const mainOf = (sub: string) => ['main.yml', 'main.yaml'].map((f) => join(path, sub, f)).find((f) => existsSync(f));
    const readVars = (sub: string): Record<string, unknown> => {
      const f = mainOf(sub);
      if (!f) return {};
      const v = this.readYaml(f, at);
      if (v === null || v === undefined) return {};
      if (!isPlainObject(v)) {
        this.err(`${sub}/main.yml must be a mapping, got ${typeName(v)}`, locOf(v) ?? { file: f, line: 1, col: 1 });
        return {};
      }
      const out = this.vars(v, v, '', `role ${name} ${sub}`);
      this.templates(v, v, '');
      return out;
    };
    const ctx: RoleContext = { name, path, defaults: readVars('defaults'), vars: readVars('vars'), params: {} };
    const taskCtx: TaskCtx = { file: '', baseDir: path, role: ctx, tags: [], when: [], vars: {}, handler: false, depth: 0 };
    const tasksFile = mainOf('tasks');
    const tasks = tasksFile ? this.taskFile(tasksFile, { ...taskCtx, file: tasksFile }, at) : [];
    const handlersFile = mainOf('handlers');
    const handlers = handlersFile ? this.taskFile(handlersFile, { ...taskCtx, file: handlersFile, handler: true }, at) : [];
    const loaded = { ctx, tasks, handlers };
    this.roleCache.set(path, loaded);
    return loaded;
  }

  // ---------------------------------------------------------------- tasks

  private taskFile(file: string, ctx: TaskCtx, from: SourceLoc | undefined): Task[] {
    if (ctx.depth > 20) {
      this.err(`task files nested more than 20 deep (an include loop?)`, from);
      return [];
    }
    const doc = this.readYaml(file, from);
    if (doc === undefined || doc === null) return [];
    if (!Array.isArray(doc)) {
      this.err(`a task file must be a list of tasks, got ${typeName(doc)}`, locOf(doc) ?? { file, line: 1, col: 1 });
      return [];
    }
    return this.tasksOf(doc, { ...ctx, file });
  }

  taskList(v: unknown, owner: Record<string, unknown>, key: string, ctx: TaskCtx): Task[] {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      this.err(`'${key}' must be a list of tasks, got ${typeName(v)}`, locOf(owner, key));
      return [];
    }
    return this.tasksOf(v, ctx);
  }

  private tasksOf(list: unknown[], ctx: TaskCtx): Task[] {
    const out: Task[] = [];
    list.forEach((t, i) => {
      const at = locOf(list, i) ?? { file: ctx.file, line: 1, col: 1 };
      if (!isPlainObject(t)) {
        this.err(`a task must be a mapping, got ${typeName(t)}`, at);
        return;
      }
      const incKey = INCLUDE_KEYS.find((k) => k in t);
      if (incKey) {
        out.push(...this.include(t, incKey, ctx, at));
        return;
      }
      const task = this.task(t, ctx, at);
      if (task) out.push(task);
    });
    return out;
  }

  private include(t: Record<string, unknown>, key: string, ctx: TaskCtx, at: SourceLoc): Task[] {
    for (const k of Object.keys(t)) {
      if (k !== key && !INCLUDE_ALLOWED.has(k)) this.err(`'${k}' is not supported on ${key} (it takes: name, when, tags, vars)`, keyLocOf(t, k));
    }
    const target = t[key];
    if (typeof target !== 'string' || target.includes('{{')) {
      this.err(`${key} takes a literal file path, got ${typeof target === 'string' ? `'${target}'` : typeName(target)}`, locOf(t, key));
      return [];
    }
    const base = ctx.role ? join(ctx.role.path, 'tasks') : dirname(ctx.file);
    const file = isAbsolute(target) ? target : join(base, target);
    const vars = this.vars(t['vars'], t, 'vars', `${key} vars`);
    this.templates(t['vars'], t, 'vars');
    const when = this.conditions(t, 'when') ?? [];
    return this.taskFile(
      file,
      { ...ctx, file, tags: unique([...ctx.tags, ...this.strList(t, 'tags')]), when: [...ctx.when, ...when], vars: { ...ctx.vars, ...vars }, depth: ctx.depth + 1 },
      locOf(t, key) ?? at,
    );
  }

  private task(t: Record<string, unknown>, ctx: TaskCtx, at: SourceLoc): Task | undefined {
    const allowed = ctx.handler ? new Set<string>([...taskKeywordSet, ...HANDLER_KEYWORDS]) : taskKeywordSet;
    const moduleKeys = Object.keys(t).filter((k) => !allowed.has(k));
    if (moduleKeys.length === 0) {
      this.err(`task has no module: give exactly one (e.g. command, copy, template, service; \`underlay schema\` lists them all)`, at);
      return undefined;
    }
    if (moduleKeys.length > 1) {
      const known = moduleKeys.filter((k) => lookupModule(k));
      if (known.length > 1) {
        this.err(`task has several modules (${known.join(', ')}): give exactly one`, keyLocOf(t, known[1]!));
        return undefined;
      }
      for (const k of moduleKeys) {
        if (!lookupModule(k)) {
          if (known.length === 1) this.unknownKey(k, t, allowed, ctx.handler ? 'handler' : 'task');
          else this.err(`unknown module or task keyword '${k}'${suggest(k, [...moduleNames(), ...allowed])}`, keyLocOf(t, k));
        }
      }
      if (known.length === 0) return undefined;
    }
    const moduleKey = moduleKeys.find((k) => lookupModule(k)) ?? moduleKeys[0]!;
    const def = lookupModule(moduleKey);
    if (!def) {
      if (moduleKey === 'block' || moduleKey === 'rescue' || moduleKey === 'always') {
        this.err(`'${moduleKey}' is not supported yet: list the tasks directly (with their own 'when')`, keyLocOf(t, moduleKey));
      } else {
        this.err(`unknown module '${moduleKey}'${suggest(moduleKey, moduleNames())}`, keyLocOf(t, moduleKey));
      }
      return undefined;
    }
    // Parameters: a mapping, or a free-form / key=value string; `args:` merges under them.
    const raw = t[moduleKey];
    let args: Record<string, unknown> = {};
    let argsOwner: object = t;
    if (isPlainObject(raw)) {
      args = { ...raw };
      argsOwner = raw;
    } else if (typeof raw === 'string' || typeof raw === 'number') {
      const text = String(raw);
      if (def.schema.freeForm) {
        const keys = new Set(Object.keys(def.schema.params).filter((k) => k !== def.schema.freeForm));
        const { kv, free } = parseKeyValues(text, keys);
        args = { ...kv };
        if (free !== '') args[def.schema.freeForm] = free;
      } else {
        const { kv, free } = parseKeyValues(text);
        if (free !== '') this.err(`module '${def.name}' takes key=value parameters or a mapping, not '${free}'`, locOf(t, moduleKey));
        args = { ...kv };
      }
    } else if (raw !== null && raw !== undefined) {
      this.err(`parameters of '${moduleKey}' must be a mapping or a string, got ${typeName(raw)}`, locOf(t, moduleKey));
      return undefined;
    }
    if (t['args'] !== undefined) {
      if (!isPlainObject(t['args'])) this.err(`'args' must be a mapping`, locOf(t, 'args'));
      else {
        args = { ...t['args'], ...args };
        if (argsOwner === t) argsOwner = t['args'];
      }
    }
    // set_fact takes free keys: check names only.
    if (def.name === 'set_fact') {
      for (const k of Object.keys(args)) {
        if (k !== 'cacheable' && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) this.err(`set_fact: invalid variable name '${k}'`, keyLocOf(argsOwner, k) ?? at);
      }
    } else {
      const { errors } = checkParams(def, args, { loadTime: true, loc: locOf(t, moduleKey) ?? at, ...(argsOwner !== t ? { owner: argsOwner } : {}) });
      for (const e of errors) this.sink.add(e);
    }
    this.templates(t[moduleKey], t, moduleKey);
    if (t['args'] !== undefined) this.templates(t['args'], t, 'args');

    const name = this.str(t, 'name');
    this.templates(name, t, 'name');
    let loop: unknown = undefined;
    if (t['loop'] !== undefined && t['with_items'] !== undefined) this.err(`use either 'loop' or 'with_items', not both`, keyLocOf(t, 'with_items'));
    const loopKey = t['loop'] !== undefined ? 'loop' : t['with_items'] !== undefined ? 'with_items' : undefined;
    if (loopKey) {
      loop = t[loopKey];
      if (!(Array.isArray(loop) || (typeof loop === 'string' && loop.includes('{{')))) {
        this.err(`'${loopKey}' must be a list or a template giving one, got ${typeName(loop)}`, locOf(t, loopKey));
      }
      this.templates(loop, t, loopKey);
    }
    let loopVar = 'item';
    let loopLabel: string | undefined;
    const lc = t['loop_control'];
    if (lc !== undefined) {
      if (!isPlainObject(lc)) this.err(`'loop_control' must be a mapping`, locOf(t, 'loop_control'));
      else {
        for (const k of Object.keys(lc)) if (!['loop_var', 'label'].includes(k)) this.unknownKey(k, lc, ['loop_var', 'label'], 'loop_control');
        loopVar = this.str(lc, 'loop_var') ?? 'item';
        loopLabel = this.str(lc, 'label');
      }
    }
    const register = this.str(t, 'register');
    if (register !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(register)) this.err(`'register' must be a variable name, got '${register}'`, locOf(t, 'register'));
    const vars = this.vars(t['vars'], t, 'vars', 'task vars');
    this.templates(t['vars'], t, 'vars');
    const retriesGiven = t['retries'] !== undefined;
    const until = this.conditions(t, 'until');
    // retries and delay: integers, or templates rendered on each host
    const templated = (key: string): string | undefined => {
      const v = t[key];
      if (typeof v !== 'string' || !v.includes('{{')) return undefined;
      this.templates(v, t, key);
      return v;
    };
    const retriesTemplate = templated('retries');
    const delayTemplate = templated('delay');
    const retries = (retriesTemplate === undefined ? this.int(t, 'retries', 0) : undefined) ?? (until ? 3 : 0);
    if (retriesGiven && !until) this.err(`'retries' needs 'until'`, keyLocOf(t, 'retries'));
    const delay = (delayTemplate === undefined ? this.int(t, 'delay', 0) : undefined) ?? 5;
    const timeout = this.int(t, 'timeout', 1);
    const delegateTo = this.str(t, 'delegate_to');
    this.templates(delegateTo, t, 'delegate_to');
    const notify = this.strList(t, 'notify');
    const listen = ctx.handler ? this.strList(t, 'listen') : [];
    const when = this.conditions(t, 'when') ?? [];
    const task: Task = {
      id: `${at.file}:${at.line}:${at.col}`,
      name,
      module: def.name,
      args,
      argsOwner,
      argsLoc: locOf(t, moduleKey),
      when: [...ctx.when, ...when],
      loop,
      loopVar,
      loopLabel,
      register,
      notify,
      listen,
      tags: unique([...ctx.tags, ...this.strList(t, 'tags')]),
      become: this.bool(t, 'become', undefined),
      becomeUser: this.str(t, 'become_user'),
      ignoreErrors: this.bool(t, 'ignore_errors', false) ?? false,
      changedWhen: this.conditions(t, 'changed_when'),
      failedWhen: this.conditions(t, 'failed_when'),
      until,
      retries,
      delaySeconds: delay,
      ...(retriesTemplate !== undefined ? { retriesTemplate } : {}),
      ...(delayTemplate !== undefined ? { delayTemplate } : {}),
      timeoutSeconds: timeout,
      runOnce: this.bool(t, 'run_once', false) ?? false,
      delegateTo,
      noLog: this.bool(t, 'no_log', false) ?? false,
      checkMode: this.bool(t, 'check_mode', undefined),
      diff: this.bool(t, 'diff', undefined),
      vars: { ...ctx.vars, ...vars },
      role: ctx.role,
      baseDir: ctx.role ? ctx.role.path : ctx.baseDir,
      loc: at,
    };
    if (ctx.handler && !task.name && task.listen.length === 0) this.err(`a handler needs a 'name' (or 'listen') to be notified by`, at);
    return task;
  }
}

interface TaskCtx {
  file: string;
  baseDir: string;
  role: RoleContext | undefined;
  tags: string[];
  when: Condition[];
  vars: Record<string, unknown>;
  handler: boolean;
  depth: number;
}

function unique<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}

/** Loads and validates a playbook; throws InputError(s) listing every problem found. */
export function loadPlaybook(file: string, opts: LoadOptions = {}): Playbook {
  const loader = new Loader(opts);
  const plays = loader.playbook(file, undefined);
  loader.sink.throwIfAny();
  return { file: resolve(file), plays, varsFileValues: loader.varsFileValues, secretVarNames: loader.secretVarNames };
}

/** Reads a vars file given with `-e @file.yml` (YAML or JSON, vault allowed). */
export function loadVarsFile(file: string, opts: LoadOptions = {}): { vars: Record<string, unknown>; secretNames: Set<string> } {
  const loader = new Loader(opts);
  const v = loader.readYaml(resolve(file), undefined);
  let vars: Record<string, unknown> = {};
  if (v !== undefined && v !== null) {
    if (!isPlainObject(v)) loader.err(`a vars file must be a mapping, got ${typeName(v)}`, locOf(v) ?? { file, line: 1, col: 1 });
    else vars = loader.vars(v, v, '', `vars file ${file}`);
  }
  loader.sink.throwIfAny();
  return { vars, secretNames: loader.secretVarNames };
}
