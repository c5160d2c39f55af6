/**
 * The module contract. A module declares its parameters (the registry validates every task
 * against them before anything runs), observes a host read-only, decides purely, and
 * returns actions. The engine applies the actions, never the module, so check mode and
 * diff hold for every module by construction.
 */
import type { ShellCommand } from '../transport/quote.js';

export type ParamType = 'str' | 'int' | 'bool' | 'list' | 'dict' | 'path' | 'mode' | 'raw' | 'float';

export interface ParamSpec {
  type: ParamType;
  description: string;
  required?: boolean;
  default?: unknown;
  choices?: readonly string[];
  /** Element type of a list. */
  elements?: ParamType;
  aliases?: readonly string[];
  /** The value is a secret: it is masked wherever it would be printed. */
  secret?: boolean;
}

export interface ModuleSchema {
  params: Record<string, ParamSpec>;
  /**
   * For modules that take a free-form string (`command: ls -l`), the parameter it fills.
   */
  freeForm?: string;
  /** At least one of each group must be given. */
  requiredOneOf?: readonly (readonly string[])[];
  /** At most one of each group may be given. */
  mutuallyExclusive?: readonly (readonly string[])[];
  /** [param, value, [params required when param == value]] */
  requiredIf?: readonly (readonly [string, unknown, readonly string[]])[];
}

/** One result of a remote command, success or not (judge by exitCode). */
export interface ExecResult {
  command: string;
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut?: boolean;
}

/** What a module asks the engine to do. Applied in order; the first failure stops. */
export type Action =
  | {
      kind: 'run';
      cmd: ShellCommand;
      /** Shown in check mode and in failures (masked). */
      describe: string;
      /** Exit codes that count as success (default [0]). */
      okCodes?: readonly number[];
      stdin?: string;
      timeoutMs?: number;
    }
  | {
      /**
       * Runs `cmd` over a NEW connection to the host (not the one the task used): proof
       * that the host is still reachable after a change to its network (e.g. ip_move).
       * The engine retries opening the connection until `timeoutMs`; failure fails the task.
       */
      kind: 'confirm';
      cmd: ShellCommand;
      describe: string;
      timeoutMs: number;
    }
  | {
      kind: 'upload';
      path: string;
      content: string | Buffer;
      mode?: number;
      owner?: string;
      group?: string;
      describe: string;
    };

export interface Diff {
  path?: string;
  before: string;
  after: string;
}

/** The pure decision of a module: what to change and what the result will say. */
export interface Decision {
  changed: boolean;
  actions: Action[];
  diff?: Diff[];
  /** Why nothing needed doing, or what will change. */
  msg?: string;
  /** Extra result fields (e.g. `stat`, `path`). */
  result?: Record<string, unknown>;
  /** The module refuses: task fails with this message. */
  failed?: string;
  /** True when check mode cannot predict the outcome (e.g. `command` without `creates`). */
  unpredictable?: boolean;
  /** Variables the task sets on the host (set_fact). */
  facts?: Record<string, unknown>;
  /**
   * Turns the outcome of the applied actions into the final result fields (e.g. the
   * command module's rc/stdout). Called with one ExecResult per `run` action applied.
   */
  finish?: (results: ExecResult[]) => Record<string, unknown>;
  /**
   * A read-only check of what the applied actions did, to run on the host `afterMs` after
   * them (e.g. that a started program still runs a moment later). The engine goes on with
   * the host's next tasks meanwhile and runs the check once it is due: at the end of the
   * play's section (and after its handlers), or before a later task whose `followUpKey` is
   * `key`, which waits for it. A check that exits non-zero fails the host. Not in check
   * mode (src/engine/followup.ts).
   */
  followUp?: FollowUp;
}

export interface FollowUp {
  cmd: ShellCommand;
  afterMs: number;
  /** What it checks, as its result line says it: `kubelet still runs 0.25 s after its start`. */
  describe: string;
  /** Later tasks with this key wait for the check first (see ModuleDef.followUpKey). */
  key: string;
}

/** What a module may do while observing: read-only commands and reads. */
export interface ObserveContext {
  host: string;
  /** Runs a read-only command on the host. */
  run(cmd: ShellCommand, opts?: { timeoutMs?: number }): Promise<ExecResult>;
  /** Runs several read-only commands in one round trip. */
  runBatch(cmds: ShellCommand[]): Promise<ExecResult[]>;
  /** Reads a remote file; null when absent. */
  readFile(path: string, opts?: { maxBytes?: number }): Promise<Buffer | null>;
  /** Reads a file on the controller, relative to the task's role/playbook search path. */
  readLocal(kind: 'files' | 'templates', path: string): Promise<{ path: string; content: Buffer }>;
  /** Renders a Handlebars template file of the controller with the task's variables. */
  renderTemplate(path: string): Promise<{ path: string; content: string }>;
  checkMode: boolean;
  /** The host's variables (rendered parameters are given separately). */
  vars: Record<string, unknown>;
}

export interface ModuleDef<P extends Record<string, unknown> = Record<string, unknown>, O = unknown> {
  name: string;
  description: string;
  schema: ModuleSchema;
  /** Runs on the controller only (debug, set_fact, assert, fail): no observe round trip. */
  local?: boolean;
  /** Read-only: gathers what decide needs. */
  observe?(ctx: ObserveContext, params: P): Promise<O>;
  /**
   * false: the observation must not be taken ahead of the task's turn (src/engine/pipeline.ts),
   * e.g. because it waits for something (wait_for). Default: it may be.
   */
  pipelined?: boolean;
  /**
   * true: the task usually acts (command, shell), which makes what was observed ahead of it
   * stale: the observations of the tasks after it are not taken before it ran.
   */
  pipelineBarrier?: boolean;
  /**
   * The key of the follow-up checks (Decision.followUp) a task of this module must wait
   * for before it runs, from its rendered parameters (e.g. `service:kubelet`).
   */
  followUpKey?(params: Record<string, unknown>): string | undefined;
  /** Pure: given the parameters and what was observed, what must change. */
  decide(params: P, observed: O, env: { checkMode: boolean; vars: Record<string, unknown> }): Decision;
}
