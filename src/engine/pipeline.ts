/**
 * Observation pipelining: the read-only observations of a host's next tasks travel in the
 * round trip of the current task's observation, so that a run in which little changes
 * costs a few round trips per host instead of one per task.
 *
 * Sound by construction:
 * - an observation is read-only (the module contract), so taking it early changes nothing
 *   on the host;
 * - a task uses an observation taken ahead only if, when its turn comes,
 *   1. no action was applied to the host since the observation started (every action
 *      applied to the host, also by a task delegated to it, bumps the host's generation
 *      before and after it runs; an observation records the generation it started at),
 *   2. its parameters, rendered again then, its `become` and its check mode are the same,
 *   3. the templates the observation rendered on the controller render the same now, and,
 *      where it read the task's variables directly, no registered value or fact changed
 *      on any host since;
 *   otherwise it observes again, exactly as without pipelining;
 * - an observation taken ahead that fails is dropped: the task observes again;
 * - each is used at most once (`until` retries observe again).
 * What is taken ahead: the host's next tasks of the same section (never past a `meta`
 * task), up to a window that doubles while the observations taken ahead are used and
 * halves when an applied action throws them away, so a first run, where every task changes
 * something, soon takes none ahead. Never taken ahead: tasks with a loop or `delegate_to`,
 * tasks whose `when` is not true yet, local modules, and modules that wait in their
 * observation (`pipelined: false`, e.g. wait_for); and nothing past a task whose module
 * usually acts (`pipelineBarrier`: command, shell), which would make it stale.
 *
 * The commands of the observations started in the same turn of the event loop are sent as
 * one batch (HostChannel.runBatch: one round trip on one shell).
 */
import type { ExecResult, ModuleDef, ObserveContext } from '../modules/types.js';
import type { Task } from '../playbook/model.js';
import type { ShellCommand } from '../transport/quote.js';
import type { HostChannel } from './channel.js';

/** What identifies one observation: the module, the rendered parameters, become, check mode. */
export function observationKey(module: string, params: Record<string, unknown>, become: boolean, check: boolean): string {
  return JSON.stringify([module, become, check, params]);
}

/** A task taken ahead: its observation is started now. */
export interface Speculation {
  task: Task;
  def: ModuleDef;
  params: Record<string, unknown>;
  key: string;
  become: boolean;
  /** The observe context for it (run and runBatch without a time limit go to the batcher). */
  ctx: ObserveContext;
}

interface Entry {
  key: string;
  generation: number;
  varsGeneration: number;
  usedVars: boolean;
  /** Templates rendered on the controller while observing, and what they gave. */
  templates: { path: string; content: string }[];
  /** The observation; rejects never (a failure gives FAILED: the task observes again). */
  promise: Promise<unknown>;
}

const FAILED = Symbol('failed');

export const WINDOW_START = 1;
export const WINDOW_MAX = 32;

/** Shared by the hosts of a run: registered values and facts changed (any host). */
export class VarsClock {
  generation = 0;
  tick(): void {
    this.generation++;
  }
}

/**
 * Commands queued in one turn of the event loop, sent together per become level. Each
 * command's result is handed on as soon as it is in: the current task's commands, queued
 * first, never wait for those of the tasks observed ahead. Only observations come here
 * (read-only commands), so the same command text queued twice in one batch is sent once
 * and its result given to both.
 */
class Batcher {
  private queues = new Map<boolean, { cmd: ShellCommand; resolve: (r: ExecResult) => void; reject: (e: unknown) => void }[]>();
  private scheduled = false;

  constructor(private readonly channel: () => Promise<HostChannel>) {}

  run(cmd: ShellCommand, become: boolean): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      let q = this.queues.get(become);
      if (!q) {
        q = [];
        this.queues.set(become, q);
      }
      q.push({ cmd, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const queues = [...this.queues];
    this.queues.clear();
    for (const [become, q] of queues) {
      void (async () => {
        try {
          const ch = await this.channel();
          // The same read-only command asked for twice in one batch (two tasks observing
          // the same link table, say) is sent once: both would see the same state.
          const unique = new Map<string, { cmd: ShellCommand; waiters: typeof q }>();
          for (const x of q) {
            const u = unique.get(x.cmd.text);
            if (u) u.waiters.push(x);
            else unique.set(x.cmd.text, { cmd: x.cmd, waiters: [x] });
          }
          const sent = [...unique.values()];
          ch.runEach(
            sent.map((u) => u.cmd),
            { become },
          ).forEach((p, i) =>
            p.then(
              (r) => {
                for (const w of sent[i]!.waiters) w.resolve({ ...r });
              },
              (e: unknown) => {
                for (const w of sent[i]!.waiters) w.reject(e);
              },
            ),
          );
        } catch (e) {
          for (const x of q) x.reject(e);
        }
      })();
    }
  }
}

/** The templates render now as they did when the observation was taken. */
async function sameTemplates(templates: { path: string; content: string }[], ctx: ObserveContext): Promise<boolean> {
  for (const t of templates) {
    try {
      if ((await ctx.renderTemplate(t.path)).content !== t.content) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/** One host's pipeline. */
export class HostPipeline {
  private generation = 0;
  private generationAtLastObserve = -1;
  private entries = new Map<Task, Entry>();
  private readonly batcher: Batcher;
  window = WINDOW_START;
  /** Counters (the tests read them). */
  readonly stats = { hits: 0, misses: 0, discarded: 0, speculated: 0 };

  constructor(
    channel: () => Promise<HostChannel>,
    private readonly clock: VarsClock,
  ) {
    this.batcher = new Batcher(channel);
  }

  /** An action is about to be applied to the host, or was: what was observed ahead is stale. */
  bump(): void {
    this.generation++;
    if (this.entries.size > 0) {
      this.stats.discarded += this.entries.size;
      this.entries.clear();
      this.window = Math.floor(this.window / 2);
    }
  }

  /**
   * The observation for `task`: the one taken ahead when still valid, else observed now,
   * its commands sent together with those of the observations `ahead()` starts.
   */
  async observe(task: Task, def: ModuleDef, params: Record<string, unknown>, key: string, become: boolean, ctx: ObserveContext, ahead: (window: number) => Speculation[]): Promise<unknown> {
    const e = this.entries.get(task);
    this.entries.delete(task);
    if (e) {
      const valid = () => e.key === key && e.generation === this.generation && (!e.usedVars || e.varsGeneration === this.clock.generation);
      // still on its way: waiting for it costs less than observing again
      const value = valid() ? await e.promise : FAILED;
      if (value !== FAILED && valid() && (await sameTemplates(e.templates, ctx))) {
        this.stats.hits++;
        this.window = Math.min(WINDOW_MAX, Math.max(1, this.window * 2));
        this.generationAtLastObserve = this.generation;
        return value;
      }
      this.stats.discarded++;
    }
    this.stats.misses++;
    // Nothing was applied since the last observation: taking ahead may pay again.
    if (this.window === 0 && this.generationAtLastObserve === this.generation) this.window = 1;
    this.generationAtLastObserve = this.generation;
    const own = this.start(def, params, become, ctx);
    // started after our own so that their first commands join our round trip
    if (this.window > 0) {
      for (const s of ahead(this.window)) {
        if (this.entries.has(s.task) || s.task === task) continue;
        const entry: Entry = { key: s.key, generation: this.generation, varsGeneration: this.clock.generation, usedVars: false, templates: [], promise: Promise.resolve() };
        entry.promise = this.start(s.def, s.params, s.become, s.ctx, entry).catch(() => FAILED);
        this.entries.set(s.task, entry);
        this.stats.speculated++;
      }
    }
    return own;
  }

  private start(def: ModuleDef, params: Record<string, unknown>, become: boolean, base: ObserveContext, entry?: Entry): Promise<unknown> {
    const batcher = this.batcher;
    const ctx: ObserveContext = {
      host: base.host,
      checkMode: base.checkMode,
      readFile: (path, o) => base.readFile(path, o),
      readLocal: (kind, path) => base.readLocal(kind, path),
      renderTemplate: async (path) => {
        const r = await base.renderTemplate(path);
        entry?.templates.push({ path, content: r.content });
        return r;
      },
      get vars() {
        if (entry) entry.usedVars = true;
        return base.vars;
      },
      // a command with its own time limit goes alone; taken ahead and already stale
      // (something was applied since it started): not sent at all
      run: (cmd, o) => (entry && entry.generation !== this.generation ? Promise.reject(new Error('stale')) : o?.timeoutMs !== undefined ? base.run(cmd, o) : batcher.run(cmd, become)),
      runBatch: (cmds) => (entry && entry.generation !== this.generation ? Promise.reject(new Error('stale')) : Promise.all(cmds.map((c) => batcher.run(c, become)))),
    };
    return def.observe!(ctx, params);
  }
}
