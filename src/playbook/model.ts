/** The loaded, validated playbook: plain values the engine runs. */
import type { SourceLoc } from '../errors.js';
import type { Expr } from '../expr/index.js';

export interface Condition {
  src: string;
  expr: Expr;
  loc: SourceLoc | undefined;
}

export interface RoleContext {
  name: string;
  /** playbooks/roles/NAME */
  path: string;
  /** defaults/main.yml: lowest precedence. */
  defaults: Record<string, unknown>;
  /** vars/main.yml: above play vars. */
  vars: Record<string, unknown>;
  /** vars given where the role is used (`roles: [{role: x, vars: {...}}]`): like task vars. */
  params: Record<string, unknown>;
}

export interface Task {
  /** A stable id within the run: file:line:col. */
  id: string;
  name: string | undefined;
  /** Canonical module name (registry name). */
  module: string;
  /** Parameters as written (not yet templated), free-form text already split. */
  args: Record<string, unknown>;
  /** The object the args came from (for positions of templated values). */
  argsOwner: object;
  /** Where the module's parameters start (for free-form text). */
  argsLoc: SourceLoc | undefined;
  when: Condition[];
  loop: unknown;
  loopVar: string;
  loopLabel: string | undefined;
  register: string | undefined;
  notify: string[];
  listen: string[];
  tags: string[];
  become: boolean | undefined;
  becomeUser: string | undefined;
  ignoreErrors: boolean;
  changedWhen: Condition[] | undefined;
  failedWhen: Condition[] | undefined;
  until: Condition[] | undefined;
  retries: number;
  delaySeconds: number;
  /** `retries` / `delay` given as templates (`"{{ n }}"`): rendered on each host, then used instead. */
  retriesTemplate?: string;
  delayTemplate?: string;
  timeoutSeconds: number | undefined;
  runOnce: boolean;
  delegateTo: string | undefined;
  noLog: boolean;
  checkMode: boolean | undefined;
  diff: boolean | undefined;
  /** Task vars (including vars of the import_tasks that brought it in). */
  vars: Record<string, unknown>;
  role: RoleContext | undefined;
  /** Directory against which `files/` and `templates/` are searched (playbook or role). */
  baseDir: string;
  loc: SourceLoc;
}

export interface Play {
  name: string;
  hosts: string;
  vars: Record<string, unknown>;
  varsFiles: string[];
  gatherFacts: boolean;
  serial: (number | string)[] | undefined;
  strategy: 'linear' | 'free';
  anyErrorsFatal: boolean;
  maxFailPercentage: number | undefined;
  become: boolean;
  becomeUser: string | undefined;
  tags: string[];
  /** pre_tasks, then roles' tasks, then tasks, then post_tasks; handlers flushed after each section as Ansible does. */
  sections: { name: 'pre_tasks' | 'roles' | 'tasks' | 'post_tasks'; tasks: Task[] }[];
  handlers: Task[];
  /** Variable names whose values are secrets (the `secret_vars` keyword). */
  secretVars: string[];
  noLog: boolean;
  /** Playbook directory: base for vars_files, roles, files and templates. */
  baseDir: string;
  file: string;
  loc: SourceLoc;
}

export interface Playbook {
  file: string;
  plays: Play[];
  /** Vars files read (with their values), kept so the engine does not read them again. */
  varsFileValues: Map<string, Record<string, unknown>>;
  /** Variable names that came from vault-encrypted files or `!vault` values. */
  secretVarNames: Set<string>;
}

export function allTasks(play: Play): Task[] {
  return play.sections.flatMap((s) => s.tasks);
}
