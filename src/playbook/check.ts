/**
 * Static checks that need the inventory as well as the playbook, run before any host is
 * contacted: every variable a template refers to must be defined somewhere (inventory,
 * play, vars files, roles, task vars, registered results, set_fact, loop variables, extra
 * vars, or the magic variables). A typo is reported with the place of the template and
 * the variable's column, instead of failing half-way through a run.
 */
import { readFileSync } from 'node:fs';
import { ErrorSink, InputError, type SourceLoc } from '../errors.js';
import type { Inventory } from '../inventory/index.js';
import { referencedVariables } from '../vars/template.js';
import { isPlainObject, locOf } from '../yamlsrc.js';
import type { Expr } from '../expr/ast.js';
import type { Condition, Play, Playbook, Task } from './model.js';
import { suggest } from '../modules/params.js';

export const MAGIC_VARS = [
  'inventory_hostname', 'inventory_hostname_short', 'group_names', 'groups', 'hostvars',
  'play_hosts', 'ansible_play_hosts', 'ansible_play_batch', 'ansible_check_mode',
  'ansible_diff_mode', 'playbook_dir', 'role_name', 'role_path', 'omit', 'item',
  'ansible_loop', 'ansible_loop_var',
];

const lineCache = new Map<string, string[]>();

function lineOf(loc: SourceLoc): string | undefined {
  let lines = lineCache.get(loc.file);
  if (!lines) {
    try {
      lines = readFileSync(loc.file, 'utf8').split('\n');
    } catch {
      return undefined;
    }
    lineCache.set(loc.file, lines);
  }
  return lines[loc.line - 1];
}

/** The column of `name` inside the template string that starts at `loc`. */
function columnOf(loc: SourceLoc, template: string, name: string): SourceLoc {
  const m = new RegExp(`\\{\\{[^}]*?(?<![\\w.])(${name.replace(/[$]/g, '\\$')})(?![\\w])`).exec(template);
  if (!m || template.includes('\n')) return loc;
  const offset = m.index + m[0].length - m[1]!.length;
  const line = lineOf(loc);
  const quoted = line !== undefined && (line[loc.col - 1] === '"' || line[loc.col - 1] === "'");
  // a value written after `key=` in a free-form string starts later than the YAML value
  const start = line !== undefined ? line.indexOf(template.slice(0, Math.min(template.length, 20)), loc.col - 1) : -1;
  const col = start >= 0 ? start + 1 + offset : loc.col + offset + (quoted ? 1 : 0);
  return { file: loc.file, line: loc.line, col };
}

function namesOf(v: unknown, into: Set<string>): void {
  if (isPlainObject(v)) for (const k of Object.keys(v)) into.add(k);
}

function tasksOf(play: Play): Task[] {
  return [...play.sections.flatMap((s) => s.tasks), ...play.handlers];
}

/**
 * The variables a task's conditions require to be defined (`X is defined`,
 * `X is not undefined`, as a whole condition or one side of an `and`): the task runs
 * only where they are, so its templates may use them.
 */
export function definedGuards(when: readonly Condition[]): string[] {
  const names: string[] = [];
  const walk = (e: Expr): void => {
    if (e.kind === 'binary' && e.op === 'and') {
      walk(e.left);
      walk(e.right);
    } else if (e.kind === 'test' && e.operand.kind === 'name' && ((e.name === 'defined' && !e.negated) || (e.name === 'undefined' && e.negated))) {
      names.push(e.operand.name);
    }
  };
  for (const c of when) walk(c.expr);
  return names;
}

export function checkVariables(playbook: Playbook, inventory: Inventory, extraVars: Record<string, unknown>, plannedVars: Iterable<string> = []): void {
  const sink = new ErrorSink();
  const global = new Set<string>([...MAGIC_VARS, ...plannedVars]);
  namesOf(extraVars, global);
  for (const h of inventory.hostNames()) namesOf(inventory.hostVars(h), global);
  // registered results and facts live on across plays
  for (const play of playbook.plays) {
    for (const t of tasksOf(play)) {
      if (t.register) global.add(t.register);
      if (t.module === 'set_fact') for (const k of Object.keys(t.args)) global.add(k);
      global.add(t.loopVar);
    }
  }
  for (const play of playbook.plays) {
    const known = new Set(global);
    namesOf(play.vars, known);
    for (const f of play.varsFiles) namesOf(playbook.varsFileValues.get(f), known);
    for (const t of tasksOf(play)) {
      if (t.role) {
        namesOf(t.role.defaults, known);
        namesOf(t.role.vars, known);
        namesOf(t.role.params, known);
      }
    }
    const check = (value: unknown, owner: object, key: string | number, localNames: Set<string>) => {
      if (typeof value === 'string') {
        if (!value.includes('{{')) return;
        let names: string[];
        try {
          names = referencedVariables(value);
        } catch {
          return; // syntax errors were reported by the loader
        }
        for (const n of names) {
          if (known.has(n) || localNames.has(n)) continue;
          const loc = locOf(owner, key) ?? (owner as { __loc?: SourceLoc }).__loc;
          sink.add(new InputError(`undefined variable '${n}'${suggest(n, [...known, ...localNames])} in "${value}"`, loc ? columnOf(loc, value, n) : undefined));
        }
      } else if (Array.isArray(value)) value.forEach((v, i) => check(v, value, i, localNames));
      else if (isPlainObject(value)) for (const [k, v] of Object.entries(value)) check(v, value, k, localNames);
    };
    check(play.vars, play.vars, '', new Set());
    for (const t of tasksOf(play)) {
      const local = new Set<string>(Object.keys(t.vars));
      // a task that runs only when a variable is defined may use it
      for (const n of definedGuards(t.when)) local.add(n);
      if (t.role) namesOf(t.role.params, local);
      const owner = t.argsOwner;
      for (const [k, v] of Object.entries(t.args)) {
        if (owner !== t && Object.prototype.hasOwnProperty.call(owner, k)) check(v, owner, k, local);
        else if (t.argsLoc) check(v, { [k]: v, __loc: t.argsLoc }, k, local);
      }
      if (t.name) check(t.name, { name: t.name, __loc: t.loc }, 'name', local);
      check(t.vars, t.vars, '', local);
    }
  }
  sink.throwIfAny();
}
