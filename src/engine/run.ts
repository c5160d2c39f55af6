/**
 * Runs a loaded playbook against an inventory: plays, serial batches, the strategy across
 * hosts (linear or free), handlers, and the recap. One task on one host is executed by
 * src/engine/task.ts. Nothing here writes to the terminal: everything is an event.
 */
import { EXIT, UnreachableError } from '../errors.js';
import type { Inventory } from '../inventory/index.js';
import type { Play, Playbook, Task } from '../playbook/model.js';
import { renderString } from '../vars/template.js';
import type { Secrets } from '../vars/secrets.js';
import type { HostChannel } from './channel.js';
import { EventBus, foldRecap, type EngineEvent, type HostStats } from './events.js';
import { HostVars } from './hostvars.js';
import { settleChecks } from './followup.js';
import { HostPipeline, VarsClock } from './pipeline.js';
import { tagSelected } from './tags.js';
import { executeTask, type HostState, type TaskOutcome } from './task.js';

export interface EngineOptions {
  playbook: Playbook;
  inventory: Inventory;
  limit?: string | undefined;
  tags?: string[];
  skipTags?: string[];
  check?: boolean;
  diff?: boolean;
  forks?: number;
  extraVars?: Record<string, unknown>;
  /** Host variables computed before the run (the network plan). */
  plannedVars?: Map<string, Record<string, unknown>>;
  startAtTask?: string | undefined;
  /** Take the observations of a host's next tasks ahead (src/engine/pipeline.ts); default true. */
  pipelining?: boolean;
  secrets: Secrets;
  /** Opens the channel to a host (the engine calls it at most once per host per run). */
  connect: (host: string) => Promise<HostChannel>;
  bus: EventBus;
}

export interface RunResult {
  stats: Record<string, HostStats>;
  exitCode: number;
  /** Tasks that reported `changed` (for --verify-idempotent). */
  changed: { host: string; task: string; taskId: string }[];
  durationMs: number;
}

/** A counting semaphore (forks). */
export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly size: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.size) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

export async function runPlaybook(opts: EngineOptions): Promise<RunResult> {
  const started = Date.now();
  const events: EngineEvent[] = [];
  const changed: RunResult['changed'] = [];
  const off = opts.bus.on((e) => {
    events.push(e);
    if (e.type === 'host_result' && e.item === undefined && e.status === 'changed') changed.push({ host: e.host, task: e.task, taskId: e.taskId });
  });
  const channels = new Map<string, Promise<HostChannel>>();
  const run = new Run(opts, channels);
  opts.bus.emit({ type: 'run_start', playbook: opts.playbook.file, check: Boolean(opts.check), diff: Boolean(opts.diff), time: new Date().toISOString() });
  try {
    for (const play of opts.playbook.plays) {
      if (run.endedAll) break;
      await run.play(play);
    }
  } finally {
    await Promise.allSettled(
      [...channels.values()].map(async (p) => {
        const c = await p;
        await c.close();
      }),
    );
  }
  const allHosts = run.touchedHosts;
  const stats = foldRecap(events, allHosts);
  const anyFailed = Object.values(stats).some((s) => s.failed > 0);
  const anyUnreachable = Object.values(stats).some((s) => s.unreachable > 0);
  const exitCode = anyFailed ? EXIT.HOST_FAILED : anyUnreachable ? EXIT.HOST_UNREACHABLE : EXIT.OK;
  const durationMs = Date.now() - started;
  opts.bus.emit({ type: 'recap', hosts: stats, durationMs, exitCode });
  off();
  return { stats, exitCode, changed, durationMs };
}

class Run {
  readonly hostState = new Map<string, HostState>();
  readonly sem: Semaphore;
  touchedHosts: string[] = [];
  endedAll = false;
  private startAt: string | undefined;
  private readonly clock = new VarsClock();
  private readonly pipelines = new Map<string, HostPipeline>();

  constructor(
    readonly opts: EngineOptions,
    readonly channels: Map<string, Promise<HostChannel>>,
  ) {
    this.sem = new Semaphore(Math.max(1, opts.forks ?? 50));
    this.startAt = opts.startAtTask;
  }

  state(host: string): HostState {
    let s = this.hostState.get(host);
    if (!s) {
      s = { facts: {}, failed: false, unreachable: false, ended: false, notified: new Set() };
      this.hostState.set(host, s);
    }
    return s;
  }

  channel(host: string): Promise<HostChannel> {
    let p = this.channels.get(host);
    if (!p) {
      p = this.opts.connect(host);
      this.channels.set(host, p);
      // an unhandled rejection would crash: the caller awaits and handles it
      p.catch(() => undefined);
    }
    return p;
  }

  pipeline(host: string): HostPipeline {
    let p = this.pipelines.get(host);
    if (!p) {
      p = new HostPipeline(() => this.channel(host), this.clock);
      this.pipelines.set(host, p);
    }
    return p;
  }

  /** The tasks host `h` would run after tasks[index] of a section (up to a meta task). */
  private *following(tasks: Task[], index: number, h: string, hv: HostVars): Generator<{ task: Task; vars: Record<string, unknown>; check: boolean }> {
    for (let i = index + 1; i < tasks.length; i++) {
      const t = tasks[i]!;
      if (t.module === 'meta' || this.startAt !== undefined) return;
      if (!this.taskSelected(t)) continue;
      yield { task: t, vars: hv.forTask(h, t), check: t.checkMode ?? Boolean(this.opts.check) };
    }
  }

  private taskSelected(t: Task): boolean {
    return tagSelected(t.tags, this.opts.tags ?? [], this.opts.skipTags ?? []);
  }

  async play(play: Play): Promise<void> {
    const started = Date.now();
    const inv = this.opts.inventory;
    let hosts: string[];
    hosts = inv.selectHosts(play.hosts, this.opts.limit);
    for (const h of hosts) if (!this.touchedHosts.includes(h)) this.touchedHosts.push(h);
    hosts = hosts.filter((h) => {
      const s = this.state(h);
      return !s.failed && !s.unreachable;
    });
    this.opts.bus.emit({ type: 'play_start', play: play.name, hosts, file: play.file, line: play.loc.line });
    const hv = new HostVars(play, this.opts, (h) => this.state(h).facts, hosts);
    for (const s of this.hostState.values()) s.ended = false;
    for (const batch of batches(hosts, play.serial)) {
      const ok = await this.batch(play, batch, hv);
      if (!ok) break;
    }
    this.opts.bus.emit({ type: 'play_end', play: play.name, durationMs: Date.now() - started });
  }

  /** Runs the play's sections on one batch; false when the play must stop. */
  private async batch(play: Play, hosts: string[], hv: HostVars): Promise<boolean> {
    const active = () => hosts.filter((h) => {
      const s = this.state(h);
      return !s.failed && !s.unreachable && !s.ended;
    });
    let stopPlay = false;
    const afterTask = (): void => {
      const failed = hosts.filter((h) => this.state(h).failed).length;
      if (failed > 0 && play.anyErrorsFatal) stopPlay = true;
      if (play.maxFailPercentage !== undefined && hosts.length > 0 && (failed / hosts.length) * 100 > play.maxFailPercentage) stopPlay = true;
    };
    for (const section of play.sections) {
      if (stopPlay) break;
      if (play.strategy === 'free') {
        await Promise.all(
          active().map(async (h) => {
            for (const [i, task] of section.tasks.entries()) {
              if (stopPlay || this.state(h).failed || this.state(h).unreachable || this.state(h).ended) break;
              if (task.module === 'meta') {
                await this.meta(play, task, [h], hv);
                continue;
              }
              if (!this.shouldRun(task)) continue;
              await this.runTask(play, task, [h], hv, false, { tasks: section.tasks, index: i });
              afterTask();
            }
          }),
        );
      } else {
        for (const [i, task] of section.tasks.entries()) {
          if (stopPlay) break;
          const targets = active();
          if (targets.length === 0) break;
          if (task.module === 'meta') {
            const end = await this.meta(play, task, targets, hv);
            if (end) stopPlay = true;
            continue;
          }
          if (!this.shouldRun(task)) continue;
          await this.runTask(play, task, targets, hv, false, { tasks: section.tasks, index: i });
          afterTask();
        }
      }
      // what the section started, checked once due (followup.ts), then its handlers
      await this.finishChecks(play, hosts);
      afterTask();
      if (!stopPlay || !play.anyErrorsFatal) {
        await this.flushHandlers(play, active(), hv);
        await this.finishChecks(play, hosts);
        afterTask();
      }
    }
    if (stopPlay) {
      this.opts.bus.emit({ type: 'warning', msg: `play '${play.name}' stopped: ${play.anyErrorsFatal ? 'any_errors_fatal' : 'max_fail_percentage'} reached` });
      return false;
    }
    return true;
  }

  /**
   * Runs the hosts' follow-up checks still pending (waiting until they are due) as a task
   * line of its own: `ok` where they hold; where one does not, the host fails.
   */
  private async finishChecks(play: Play, hosts: string[]): Promise<void> {
    const pending = hosts.filter((h) => {
      const s = this.state(h);
      return !s.failed && !s.unreachable && (s.checks?.length ?? 0) > 0;
    });
    if (pending.length === 0) return;
    const started = Date.now();
    const task = 'follow-up checks';
    const taskId = `${play.file}:${play.loc.line}#follow-up`;
    this.opts.bus.emit({ type: 'task_start', play: play.name, task, taskId, hosts: pending, handler: false, file: play.file, line: play.loc.line });
    await Promise.all(
      pending.map((h) =>
        this.sem.run(async () => {
          const t0 = Date.now();
          const { checked, failure } = await settleChecks({ host: h, state: this.state(h), channel: (target) => this.channel(target), bus: this.opts.bus, secrets: this.opts.secrets }, () => true);
          const failed = failure !== undefined;
          const msg = failure ?? checked.join('; ');
          this.opts.bus.emit({
            type: 'host_result',
            play: play.name,
            task,
            taskId,
            host: h,
            status: failed ? 'failed' : 'ok',
            changed: false,
            msg,
            durationMs: Date.now() - t0,
            result: { changed: false, failed, msg },
          });
        }),
      ),
    );
    this.opts.bus.emit({ type: 'task_end', play: play.name, task, taskId, durationMs: Date.now() - started });
  }

  private shouldRun(task: Task): boolean {
    if (this.startAt !== undefined) {
      if (task.name !== this.startAt) return false;
      this.startAt = undefined;
    }
    return this.taskSelected(task);
  }

  /** meta directives; returns true when the play must end. */
  private async meta(play: Play, task: Task, hosts: string[], hv: HostVars): Promise<boolean> {
    const action = String(task.args['action'] ?? '');
    if (!this.taskSelected(task) && action !== 'flush_handlers') return false;
    switch (action) {
      case 'flush_handlers':
        await this.flushHandlers(play, hosts, hv);
        return false;
      case 'end_host':
      case 'end_play': {
        const ended: string[] = [];
        for (const h of hosts) {
          const vars = hv.forTask(h, task);
          const when = task.when.length === 0 ? true : await import('../expr/index.js').then((m) => task.when.every((c) => m.evaluateCondition(c.expr, vars)));
          if (when) {
            this.state(h).ended = true;
            ended.push(h);
          }
        }
        return action === 'end_play' && ended.length > 0;
      }
      default:
        return false;
    }
  }

  async flushHandlers(play: Play, hosts: string[], hv: HostVars): Promise<void> {
    for (const handler of play.handlers) {
      const names = [handler.name, ...handler.listen].filter((n): n is string => n !== undefined);
      const targets = hosts.filter((h) => {
        const s = this.state(h);
        return !s.failed && !s.unreachable && names.some((n) => s.notified.has(n));
      });
      if (targets.length === 0) continue;
      await this.runTask(play, handler, targets, hv, true);
    }
    for (const h of hosts) {
      // handlers notified by handlers run in the same flush only if defined later; clear the rest
      this.state(h).notified.clear();
    }
  }

  /** One task on a set of hosts (linear: all at once; free: one host). */
  private async runTask(play: Play, task: Task, hosts: string[], hv: HostVars, handler: boolean, at?: { tasks: Task[]; index: number }): Promise<void> {
    const started = Date.now();
    const title = this.taskTitle(task, hv, hosts[0]);
    this.opts.bus.emit({ type: 'task_start', play: play.name, task: title, taskId: task.id, hosts, handler, file: task.loc.file, line: task.loc.line });
    const runOn = task.runOnce ? hosts.slice(0, 1) : hosts;
    const outcomes = await Promise.all(
      runOn.map((h) =>
        this.sem.run(async () => {
          const outcome = await executeTask({
            play,
            task,
            title,
            host: h,
            vars: hv.forTask(h, task),
            state: this.state(h),
            check: task.checkMode ?? Boolean(this.opts.check),
            diff: task.diff ?? Boolean(this.opts.diff),
            secrets: this.opts.secrets,
            channel: (target) => this.channel(target),
            openFresh: (target) => this.opts.connect(target),
            inventory: this.opts.inventory,
            bus: this.opts.bus,
            // every action bumps its target's pipeline, also where nothing is taken ahead
            pipeline: {
              host: (target) => this.pipeline(target),
              ahead: () => (at && this.opts.pipelining !== false && !task.runOnce ? this.following(at.tasks, at.index, h, hv) : []),
              clock: this.clock,
            },
          });
          return [h, outcome] as const;
        }),
      ),
    );
    if (task.runOnce) {
      const first = outcomes[0];
      if (first) {
        const [, outcome] = first;
        for (const h of hosts.slice(1)) applyShared(this.state(h), task, outcome);
      }
    }
    this.opts.bus.emit({ type: 'task_end', play: play.name, task: title, taskId: task.id, durationMs: Date.now() - started });
  }

  private taskTitle(task: Task, hv: HostVars, host: string | undefined): string {
    const raw = task.name ?? `${task.module}${task.role ? '' : ''}`;
    const prefix = task.role ? `${task.role.name} : ` : '';
    if (!raw.includes('{{') || host === undefined) return prefix + raw;
    try {
      return prefix + String(renderString(raw, hv.forTask(host, task)));
    } catch {
      return prefix + raw;
    }
  }
}

/** A run_once task's outcome shared with the other hosts: its registered value and facts. */
function applyShared(state: HostState, task: Task, outcome: TaskOutcome): void {
  if (task.register && outcome.registered !== undefined) state.facts[task.register] = outcome.registered;
  if (outcome.facts) Object.assign(state.facts, outcome.facts);
  if (outcome.changed) for (const n of task.notify) state.notified.add(n);
}

/** Splits hosts into serial batches (numbers or percentages, the last one repeating). */
export function batches(hosts: string[], serial: (number | string)[] | undefined): string[][] {
  if (!serial || serial.length === 0) return [hosts];
  const out: string[][] = [];
  let i = 0;
  let k = 0;
  while (i < hosts.length) {
    const s = serial[Math.min(k, serial.length - 1)]!;
    const size = typeof s === 'number' ? s : Math.max(1, Math.floor((hosts.length * Number.parseInt(s, 10)) / 100));
    out.push(hosts.slice(i, i + size));
    i += size;
    k++;
  }
  return out;
}

export { UnreachableError };
