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
 * Taken behind an action (actThenObserve): a task's last commands carry the next task's
 * observation in their round trip, after them, run only if they all succeeded. It is
 * valid from the end of that action (the generation the bump after it gives), as if the
 * task had observed in its own turn; a command of it that does not join that round trip
 * (one asked for after the round trip was sent, a file read, a command with its own time
 * limit) waits for the action to end, and nothing behind the action is merged with the
 * same command asked for before it. A first run, where every task acts and nothing is
 * taken ahead before the actions, then costs about one round trip per task instead of two.
 *
 * The commands of the observations started in the same turn of the event loop are sent as
 * one batch (HostChannel.runBatch: one round trip on one shell).
 */
import type { ExecResult, ModuleDef, ObserveContext } from '../modules/types.js';
import type { Task } from '../playbook/model.js';
import type { ShellCommand } from '../transport/quote.js';
import { runSequence, type HostChannel, type SequenceItem } from './channel.js';

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
  /** Taken behind an action in flight (actThenObserve). */
  riding?: boolean;
  /** Riding, and its commands still join the action's round trip (not sent yet). */
  joinable?: boolean;
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
 * first, never wait for those of the tasks observed ahead. Observations (read-only
 * commands) come here, so the same command text queued twice in one batch is sent once and
 * its result given to both; and a task's last commands (`sequence`), which go first and
 * stop at the first failure: the observations queued after them in the same turn run
 * only if they all succeeded (HostChannel.runSequence).
 */
class Batcher {
  private queues = new Map<boolean, Queued[]>();
  private scheduled = false;

  constructor(private readonly channel: () => Promise<HostChannel>) {}

  run(cmd: ShellCommand, become: boolean): Promise<ExecResult> {
    return this.queue(cmd, become);
  }

  /**
   * Commands of a sequence (each runs only if the ones before it succeeded), queued now.
   * `onSent` is called when the batch holding them is taken to be sent: a command queued
   * after that goes in another round trip.
   */
  sequence(items: SequenceItem[], become: boolean, onSent?: () => void): Promise<ExecResult>[] {
    return items.map((item, i) => this.queue(item.cmd, become, item, i === 0 ? onSent : undefined));
  }

  private queue(cmd: ShellCommand, become: boolean, item?: SequenceItem, onSent?: () => void): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      let q = this.queues.get(become);
      if (!q) {
        q = [];
        this.queues.set(become, q);
      }
      q.push({ cmd, resolve, reject, ...(item ? { item } : {}), ...(onSent ? { onSent } : {}) });
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
    for (const [, q] of queues) for (const x of q) x.onSent?.();
    for (const [become, q] of queues) {
      void (async () => {
        try {
          const ch = await this.channel();
          // The same read-only command asked for twice in one batch (two tasks observing
          // the same link table, say) is sent once: both would see the same state. A
          // command of a sequence is never merged.
          const unique = new Map<string, { cmd: ShellCommand; item?: SequenceItem; waiters: Queued[] }>();
          const sent: { cmd: ShellCommand; item?: SequenceItem; waiters: Queued[] }[] = [];
          for (const x of q) {
            // nothing after a command of a sequence is merged with what came before it:
            // the sequence may change what it reads
            if (x.item) unique.clear();
            const u = x.item ? undefined : unique.get(x.cmd.text);
            if (u) {
              u.waiters.push(x);
              continue;
            }
            const entry = { cmd: x.cmd, ...(x.item ? { item: x.item } : {}), waiters: [x] };
            if (!x.item) unique.set(x.cmd.text, entry);
            sent.push(entry);
          }
          const results = sent.some((u) => u.item)
            ? runSequence(
                ch,
                sent.map((u) => u.item ?? { cmd: u.cmd, okCodes: 'any' }),
                { become },
              )
            : ch.runEach(
                sent.map((u) => u.cmd),
                { become },
              );
          results.forEach((p, i) =>
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

interface Queued {
  cmd: ShellCommand;
  item?: SequenceItem;
  onSent?: () => void;
  resolve: (r: ExecResult) => void;
  reject: (e: unknown) => void;
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
  private waiting: { g: number; resolve: () => void }[] = [];
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

  /**
   * An action is about to be applied to the host, or was: what was observed ahead is stale,
   * except what was taken after the action in flight (actThenObserve), which is valid from
   * the bump that follows it.
   */
  bump(): void {
    this.generation++;
    const due = this.waiting.filter((w) => w.g <= this.generation);
    this.waiting = this.waiting.filter((w) => w.g > this.generation);
    for (const w of due) w.resolve();
    let dropped = 0;
    for (const [t, e] of this.entries) {
      if (e.generation === this.generation) continue;
      this.entries.delete(t);
      dropped++;
    }
    if (dropped > 0) {
      this.stats.discarded += dropped;
      this.window = Math.floor(this.window / 2);
    }
  }

  /**
   * A task's last commands, with the observations of the tasks after it riding behind them
   * in the same round trip: the commands go first and stop at the first failure
   * (HostChannel.runSequence), the observations run after them, and only if they all
   * succeeded. Call between the bump before the action and the one after it: what is
   * observed so is valid from that second bump on, unless `afterActions(false)` says the
   * commands failed. On a first run, where every task acts, this takes the next task's
   * observation in its predecessor's round trip instead of one of its own.
   */
  actThenObserve(items: SequenceItem[], become: boolean, ahead: Speculation[]): Promise<ExecResult>[] {
    const riders: Entry[] = [];
    // once the batch holding the commands is taken to be sent, later commands of the
    // riders no longer join it: they wait for the action to end
    const results = this.batcher.sequence(items, become, () => {
      for (const e of riders) e.joinable = false;
    });
    for (const s of ahead) {
      // another become level is another shell: nothing would order it after the commands
      if (s.become !== become || this.entries.has(s.task)) continue;
      const entry: Entry = { key: s.key, generation: this.generation + 1, riding: true, joinable: true, varsGeneration: this.clock.generation, usedVars: false, templates: [], promise: Promise.resolve() };
      riders.push(entry);
      entry.promise = this.start(s.def, s.params, s.become, s.ctx, entry).catch(() => FAILED);
      this.entries.set(s.task, entry);
      this.stats.speculated++;
    }
    for (const p of results) p.catch(() => undefined);
    return results;
  }

  /** The actions of a task are done: stale from now on is what was observed before them (see bump). */
  afterActions(succeeded: boolean): void {
    this.bump();
    // what rode behind commands that failed saw no finished action: never used
    if (!succeeded) this.bump();
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
        // taken behind an action, it says nothing of whether the host stays as it is
        if (!e.riding) this.window = Math.min(WINDOW_MAX, Math.max(1, this.window * 2));
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
    const stale = () => entry !== undefined && entry.generation < this.generation;
    // What does not go through the batch (a file read, a command with its own time limit)
    // is not ordered after an action in flight: an observation riding behind one waits
    // for it to end.
    const unordered = async <T>(f: () => Promise<T>): Promise<T> => {
      if (entry) await this.reached(entry.generation);
      if (stale()) throw new Error('stale');
      return f();
    };
    // A command of an observation riding behind an action joins the action's round trip
    // only in the turn the action was queued in; later, it waits for the action to end.
    const ordered = <T>(f: () => Promise<T>): Promise<T> => (entry?.riding && !entry.joinable ? unordered(f) : f());
    const ctx: ObserveContext = {
      host: base.host,
      checkMode: base.checkMode,
      readFile: (path, o) => unordered(() => base.readFile(path, o)),
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
      // taken ahead and already stale (something was applied since it started): not sent
      run: (cmd, o) => (stale() ? Promise.reject(new Error('stale')) : o?.timeoutMs !== undefined ? unordered(() => base.run(cmd, o)) : ordered(() => batcher.run(cmd, become))),
      runBatch: (cmds) => (stale() ? Promise.reject(new Error('stale')) : ordered(() => Promise.all(cmds.map((c) => batcher.run(c, become))))),
    };
    return def.observe!(ctx, params);
  }

  /** Resolves once the generation is at least `g` (at once if it is). */
  private reached(g: number): Promise<void> {
    if (this.generation >= g) return Promise.resolve();
    return new Promise((resolve) => this.waiting.push({ g, resolve }));
  }
}
