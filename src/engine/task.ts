/**
 * One task on one host: `when`, `loop`, templating of the parameters, the module's
 * observe -> decide, the engine applying the decided actions (never in check mode),
 * `retries`/`until`, `changed_when`/`failed_when`, `register`, `notify`, and the events.
 */
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { isAbsolute, join, resolve as resolvePath } from 'node:path';
import { formatLoc, inputErrorsOf, TaskError, UnderlayError, UnreachableError } from '../errors.js';
import { evaluateCondition } from '../expr/index.js';
import type { Inventory } from '../inventory/index.js';
import { checkParams } from '../modules/params.js';
import { lookupModule } from '../modules/registry.js';
import type { Decision, ExecResult, ModuleDef, ObserveContext } from '../modules/types.js';
import type { Condition, Play, Task } from '../playbook/model.js';
import { renderValue } from '../vars/precedence.js';
import type { Secrets } from '../vars/secrets.js';
import { renderTemplateFile } from '../vars/template.js';
import { isPlainObject } from '../yamlsrc.js';
import { runSequence, type HostChannel } from './channel.js';
import type { ShellCommand } from '../transport/quote.js';
import type { EventBus, HostStatus } from './events.js';
import { OMIT } from './hostvars.js';
import { observationKey, type HostPipeline, type Speculation, type VarsClock } from './pipeline.js';
import { applySteps } from './steps.js';
import { pendingCheck, settleChecks, type PendingCheck } from './followup.js';

export interface HostState {
  /** Registered results and set_fact values: the "host facts" precedence layer. */
  facts: Record<string, unknown>;
  failed: boolean;
  unreachable: boolean;
  /** `meta: end_host` for the current play. */
  ended: boolean;
  /** Handler names/topics notified and not yet run. */
  notified: Set<string>;
  /** Check mode: changes reported (and not applied) so far on this host. */
  pendingChanges?: number;
  /** Follow-up checks of applied actions, not run yet (followup.ts). */
  checks?: PendingCheck[];
}

export interface TaskOutcome {
  status: HostStatus;
  changed: boolean;
  registered?: unknown;
  facts?: Record<string, unknown>;
}

export interface ExecInput {
  play: Play;
  task: Task;
  title: string;
  host: string;
  vars: Record<string, unknown>;
  state: HostState;
  check: boolean;
  diff: boolean;
  secrets: Secrets;
  channel: (host: string) => Promise<HostChannel>;
  /** A new connection, not shared (the caller closes it). */
  openFresh: (host: string) => Promise<HostChannel>;
  inventory: Inventory;
  bus: EventBus;
  /** Observation pipelining (src/engine/pipeline.ts); absent: each task observes on its own. */
  pipeline?: {
    host: (host: string) => HostPipeline;
    /** The tasks this host would run after this one (same section), lazily, with their variables. */
    ahead: () => Iterable<{ task: Task; vars: Record<string, unknown>; check: boolean }>;
    clock: VarsClock;
  };
}

interface Attempt {
  status: HostStatus;
  result: Record<string, unknown>;
  changed: boolean;
  facts?: Record<string, unknown>;
  unpredictable?: boolean;
  diff?: Decision['diff'];
  msg?: string;
}

const TAIL = 20;

function tail(text: string, lines = TAIL): string {
  const all = text.replace(/\n$/, '').split('\n');
  return all.slice(-lines).join('\n');
}

function errMessage(e: unknown): string {
  const inputs = inputErrorsOf(e);
  if (inputs.length > 0) return inputs.map((x) => x.message).join('\n');
  if (e instanceof UnderlayError) return e.message;
  return e instanceof Error ? e.message : String(e);
}

/** Layers extra names over a vars view without copying it. */
function overlay(vars: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  return new Proxy(vars, {
    get(target, key) {
      if (typeof key === 'string' && Object.prototype.hasOwnProperty.call(extra, key)) return extra[key];
      return Reflect.get(target, key);
    },
    has(target, key) {
      return (typeof key === 'string' && key in extra) || Reflect.has(target, key);
    },
    getOwnPropertyDescriptor(target, key) {
      if (typeof key === 'string' && Object.prototype.hasOwnProperty.call(extra, key)) {
        return { value: extra[key], writable: false, enumerable: true, configurable: true };
      }
      return Reflect.getOwnPropertyDescriptor(target, key);
    },
    ownKeys(target) {
      return [...new Set([...Reflect.ownKeys(target), ...Object.keys(extra)])];
    },
  });
}

function conditionsHold(conds: Condition[], vars: Record<string, unknown>): { ok: true; value: boolean; failed?: Condition } | { ok: false; error: string } {
  for (const c of conds) {
    try {
      if (!evaluateCondition(c.expr, vars)) return { ok: true, value: false, failed: c };
    } catch (e) {
      return { ok: false, error: `${c.loc ? formatLoc(c.loc) + ': ' : ''}error evaluating '${c.src}': ${errMessage(e)}` };
    }
  }
  return { ok: true, value: true };
}

function stripOmit(v: unknown): unknown {
  if (Array.isArray(v)) return v.filter((x) => x !== OMIT).map(stripOmit);
  if (isPlainObject(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== OMIT) out[k] = stripOmit(x);
    return out;
  }
  return v;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function executeTask(x: ExecInput): Promise<TaskOutcome> {
  const { task, state } = x;
  const started = Date.now();
  const def = lookupModule(task.module)!;
  const emit = (status: HostStatus, a: Partial<Attempt> & { result?: Record<string, unknown> }, extra: { item?: string; durationMs: number; ignored?: boolean }) => {
    const hidden = task.noLog || x.play.noLog;
    const result = hidden ? undefined : (x.secrets.maskDeep(a.result ?? {}) as Record<string, unknown>);
    const msg = hidden ? (status === 'failed' ? 'the output has been hidden due to no_log: true' : undefined) : a.msg !== undefined ? x.secrets.mask(a.msg) : undefined;
    x.bus.emit({
      type: 'host_result',
      play: x.play.name,
      task: x.title,
      taskId: task.id,
      host: x.host,
      ...(task.delegateTo !== undefined ? { delegatedTo: String(renderSafe(task.delegateTo, x.vars)) } : {}),
      status,
      changed: Boolean(a.changed),
      ...(extra.ignored ? { ignored: true } : {}),
      ...(msg !== undefined ? { msg } : {}),
      ...(x.diff && a.diff && a.diff.length > 0 && !hidden ? { diff: x.secrets.maskDeep(a.diff) } : {}),
      ...(extra.item !== undefined ? { item: x.secrets.mask(extra.item) } : {}),
      durationMs: extra.durationMs,
      ...(result ? { result } : {}),
      ...(a.unpredictable ? { unpredictable: true } : {}),
    });
  };

  // The host's follow-up checks this task must wait for: a failed one fails the task. The
  // others wait for the end of the section (run.ts), all in one round trip: a round trip
  // before each task would cost more than it saves where the lab is busy.
  const waitFor = state.checks && state.checks.length > 0 ? checksToWaitFor(def, task, x.vars) : undefined;
  if (waitFor) {
    const { failure: msg } = await settleChecks({ host: x.host, state, channel: x.channel, bus: x.bus, secrets: x.secrets }, waitFor);
    if (msg !== undefined) {
      const registered = { failed: true, changed: false, msg };
      emit('failed', { msg, result: registered }, { durationMs: Date.now() - started });
      return { status: 'failed', changed: false, registered };
    }
  }

  let outcome: { status: HostStatus; changed: boolean; registered: Record<string, unknown>; facts?: Record<string, unknown> };
  if (task.loop !== undefined) {
    // when is evaluated per item, as in Ansible
    let items: unknown;
    try {
      items = renderValue(task.loop, x.vars);
    } catch (e) {
      items = e;
    }
    if (!Array.isArray(items)) {
      const msg = items instanceof Error ? errMessage(items) : `${formatLoc(task.loc)}: loop must give a list, got ${typeof items}`;
      outcome = { status: 'failed', changed: false, registered: { failed: true, changed: false, msg } };
      emit('failed', { msg, result: outcome.registered }, { durationMs: Date.now() - started });
    } else {
      const results: Record<string, unknown>[] = [];
      let anyChanged = false;
      let anyFailed = false;
      let allSkipped = items.length > 0;
      let unreachable = false;
      const facts: Record<string, unknown> = {};
      for (let i = 0; i < items.length; i++) {
        const item = items[i];
        const itemVars = overlay(x.vars, { [task.loopVar]: item, ansible_loop_var: task.loopVar, ansible_loop: { index: i + 1, index0: i, first: i === 0, last: i === items.length - 1, length: items.length }, ...facts });
        const t0 = Date.now();
        const a = await once(x, def, itemVars);
        const label = task.loopLabel !== undefined ? String(renderSafe(task.loopLabel, itemVars)) : typeof item === 'string' ? item : JSON.stringify(item);
        results.push({ ...a.result, [task.loopVar]: item, ansible_loop_var: task.loopVar });
        if (a.facts) Object.assign(facts, a.facts);
        emit(a.status, a, { item: label, durationMs: Date.now() - t0, ...(a.status === 'failed' && task.ignoreErrors ? { ignored: true } : {}) });
        if (a.changed) anyChanged = true;
        if (a.status === 'failed') anyFailed = true;
        if (a.status !== 'skipped') allSkipped = false;
        if (a.status === 'unreachable') {
          unreachable = true;
          break;
        }
      }
      const status: HostStatus = unreachable ? 'unreachable' : anyFailed ? 'failed' : allSkipped ? 'skipped' : anyChanged ? 'changed' : 'ok';
      const registered: Record<string, unknown> = {
        changed: anyChanged,
        failed: anyFailed,
        ...(allSkipped ? { skipped: true } : {}),
        msg: anyFailed ? 'One or more items failed' : 'All items completed',
        results,
      };
      outcome = { status, changed: anyChanged, registered, ...(Object.keys(facts).length > 0 ? { facts } : {}) };
      emit(status, { changed: anyChanged, result: { changed: anyChanged, failed: anyFailed, msg: registered['msg'] }, msg: String(registered['msg']) }, { durationMs: Date.now() - started, ...(anyFailed && task.ignoreErrors ? { ignored: true } : {}) });
    }
  } else {
    const a = await once(x, def, x.vars);
    outcome = { status: a.status, changed: a.changed, registered: a.result, ...(a.facts ? { facts: a.facts } : {}) };
    emit(a.status, a, { durationMs: Date.now() - started, ...(a.status === 'failed' && task.ignoreErrors ? { ignored: true } : {}) });
  }

  // fold into the host's state
  if (x.check && outcome.changed) state.pendingChanges = (state.pendingChanges ?? 0) + 1;
  if (task.register) state.facts[task.register] = outcome.registered;
  if (outcome.facts) Object.assign(state.facts, outcome.facts);
  if (task.register || outcome.facts) x.pipeline?.clock.tick();
  if (outcome.changed && outcome.status !== 'failed') for (const n of task.notify) state.notified.add(String(renderSafe(n, x.vars)));
  if (outcome.status === 'unreachable') state.unreachable = true;
  else if (outcome.status === 'failed' && !task.ignoreErrors) state.failed = true;
  return { status: outcome.status, changed: outcome.changed, registered: outcome.registered, ...(outcome.facts ? { facts: outcome.facts } : {}) };
}

/**
 * Which of the host's pending follow-up checks `task` must wait for: those of its module's
 * key, or all of them when the key is not known before the task runs (a parameter that
 * renders only then, e.g. from the loop item); none when its module has no key or its
 * `when` skips it (a loop's `when` is per item: it may run).
 */
function checksToWaitFor(def: ModuleDef, task: Task, vars: Record<string, unknown>): ((c: PendingCheck) => boolean) | undefined {
  if (!def.followUpKey) return undefined;
  if (task.loop === undefined && task.when.length > 0) {
    const w = conditionsHold(task.when, vars);
    if (w.ok && !w.value) return undefined;
  }
  const args = renderSafe(task.args, vars);
  if (!isPlainObject(args)) return () => true;
  const key = def.followUpKey(args);
  if (key === undefined) return undefined;
  return key.includes('{{') ? () => true : (c) => c.key === key;
}

function renderSafe(v: unknown, vars: Record<string, unknown>): unknown {
  try {
    return renderValue(v, vars);
  } catch {
    return v;
  }
}

/** A templated `retries` or `delay`, rendered: an integer >= 0. */
function renderCount(template: string, vars: Record<string, unknown>, key: string): number {
  const v = renderValue(template, vars);
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 0) throw new TaskError(`'${key}' must be an integer >= 0, got ${JSON.stringify(v)} from "${template}"`);
  return n;
}

/** `when`, then the attempts (`until`/`retries`). */
async function once(x: ExecInput, def: ModuleDef, vars: Record<string, unknown>): Promise<Attempt> {
  const { task } = x;
  if (task.when.length > 0) {
    const w = conditionsHold(task.when, vars);
    if (!w.ok) return { status: 'failed', changed: false, msg: w.error, result: { failed: true, changed: false, msg: w.error } };
    if (!w.value) {
      return {
        status: 'skipped',
        changed: false,
        msg: `skipped: ${w.failed?.src} is false`,
        result: { changed: false, skipped: true, skip_reason: 'Conditional result was False', false_condition: w.failed?.src },
      };
    }
  }
  let retries = task.retries;
  let delaySeconds = task.delaySeconds;
  try {
    if (task.until && task.retriesTemplate !== undefined) retries = renderCount(task.retriesTemplate, vars, 'retries');
    if (task.until && task.delayTemplate !== undefined) delaySeconds = renderCount(task.delayTemplate, vars, 'delay');
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    return { status: 'failed', changed: false, msg, result: { failed: true, changed: false, msg } };
  }
  const attempts = task.until ? retries + 1 : 1;
  let last: Attempt | undefined;
  for (let n = 1; n <= attempts; n++) {
    last = await attempt(x, def, vars);
    if (last.status === 'unreachable' || !task.until) return last;
    const scope = task.register ? overlay(vars, { [task.register]: last.result }) : vars;
    const u = conditionsHold(task.until, scope);
    if (!u.ok) return { ...last, status: 'failed', msg: u.error, result: { ...last.result, failed: true, msg: u.error } };
    last.result['attempts'] = n;
    if (u.value) return last;
    if (n < attempts) await sleep(delaySeconds * 1000);
  }
  const msg = `${task.until?.map((c) => c.src).join(' and ')} still false after ${attempts} attempts${last?.msg ? `: ${last.msg}` : ''}`;
  return { ...(last as Attempt), status: 'failed', msg, result: { ...last!.result, failed: true, msg } };
}

function searchPath(x: ExecInput, kind: 'files' | 'templates'): string[] {
  const dirs = [join(x.task.baseDir, kind), join(x.play.baseDir, kind), join(x.play.baseDir, '..', kind)];
  return [...new Set(dirs.map((d) => resolvePath(d)))];
}

function findLocal(x: ExecInput, kind: 'files' | 'templates', path: string): string {
  if (isAbsolute(path)) return path;
  const dirs = searchPath(x, kind);
  for (const d of dirs) {
    const p = join(d, path);
    if (existsSync(p)) return p;
  }
  const fromPlaybook = join(x.play.baseDir, path);
  if (existsSync(fromPlaybook)) return fromPlaybook;
  throw new Error(`${kind.slice(0, -1)} '${path}' not found (looked in ${dirs.join(', ')})`);
}

/** One attempt: template the parameters, observe, decide, apply. */
async function attempt(x: ExecInput, def: ModuleDef, vars: Record<string, unknown>): Promise<Attempt> {
  const { task } = x;
  const fail = (msg: string, result: Record<string, unknown> = {}): Attempt => ({ status: 'failed', changed: false, msg, result: { ...result, failed: true, changed: false, msg } });
  let params: Record<string, unknown>;
  let target = x.host;
  try {
    const rendered = stripOmit(renderValue(task.args, vars)) as Record<string, unknown>;
    if (def.name === 'set_fact') params = rendered;
    else {
      const checked = checkParams(def, rendered, { loadTime: false, loc: task.loc });
      if (checked.errors.length > 0) return fail(checked.errors.map((e) => e.message).join('\n'));
      params = checked.params;
      // parameters a module declares secret (e.g. a password) are masked wherever printed
      for (const [k, spec] of Object.entries(def.schema.params)) if (spec.secret && params[k] !== undefined) x.secrets.add(params[k]);
    }
    if (task.delegateTo !== undefined) target = String(renderValue(task.delegateTo, vars));
  } catch (e) {
    return fail(errMessage(e));
  }
  const become = task.become ?? x.play.become;
  let channel: HostChannel | undefined;
  const getChannel = async (): Promise<HostChannel> => {
    if (!channel) channel = await x.channel(target);
    return channel;
  };
  try {
    let observed: unknown;
    if (!def.local && def.observe) {
      const ch = await getChannel();
      const ctx = observeContext(x, task, ch, target, become, vars, x.check);
      const pipe = x.pipeline && pipelinable(task, def) ? x.pipeline.host(target) : undefined;
      observed = pipe
        ? // nothing is taken ahead of a task that usually acts: it would be stale
          await pipe.observe(task, def, params, observationKey(def.name, params, become, x.check), become, ctx, (window) => (def.pipelineBarrier ? [] : speculate(x, ch, window)))
        : await def.observe(ctx, params);
    }
    const decision = def.decide(params, observed, { checkMode: x.check, vars });
    if (decision.failed !== undefined) {
      // In check mode the host lacks what earlier (unapplied) changes would have made: the
      // module cannot know whether it would fail for real, so it is not a failure.
      if (x.check && (x.state.pendingChanges ?? 0) > 0) {
        return {
          status: 'skipped',
          changed: false,
          unpredictable: true,
          msg: `check mode: cannot predict (${decision.failed}); earlier changes of this run were not applied`,
          result: { changed: false, skipped: true, msg: 'check mode: not predictable' },
        };
      }
      return { ...fail(decision.failed, decision.result ?? {}), ...(decision.diff ? { diff: decision.diff } : {}) };
    }
    let result: Record<string, unknown> = { ...(decision.result ?? {}) };
    let changed = decision.changed;
    if (x.check && decision.unpredictable && decision.actions.length > 0) {
      return {
        status: 'skipped',
        changed: false,
        unpredictable: true,
        msg: `check mode: cannot predict the outcome of ${def.name} (${decision.msg ?? 'it would run'})`,
        result: { ...result, changed: false, skipped: true, msg: 'check mode: not run' },
      };
    }
    if (!x.check && decision.actions.length > 0) {
      const ch = await getChannel();
      const outs: ExecResult[] = [];
      // what was observed ahead on the target is stale from now on (and after: see the finally)
      const pipe = x.pipeline?.host(target);
      pipe?.bump();
      let succeeded = false;
      try {
        const steps = applySteps(decision.actions);
        for (const [n, step] of steps.entries()) {
          if (step.kind === 'uploads') {
            // consecutive uploads go out together (steps.ts); the first failure fails the task
            const done = await Promise.allSettled(
              step.uploads.map((u) =>
                ch.upload(u.path, u.content, { become, ...(u.mode !== undefined ? { mode: u.mode } : {}), ...(u.owner !== undefined ? { owner: u.owner } : {}), ...(u.group !== undefined ? { group: u.group } : {}) }),
              ),
            );
            const failed = done.find((d): d is PromiseRejectedResult => d.status === 'rejected');
            if (failed) throw failed.reason;
            continue;
          }
          if (step.kind === 'action') {
            const action = step.action;
            const r = await confirmOverNewConnection(x, target, action.cmd, action.timeoutMs, become);
            outs.push(r);
            if (r.exitCode !== 0) {
              const msg = `${action.describe}: not confirmed over a new connection within ${action.timeoutMs} ms${r.stderr ? `\n${tail(r.stderr)}` : ''}`;
              return { status: 'failed', changed: true, msg, result: { ...result, changed: true, failed: true, msg } };
            }
            continue;
          }
          // consecutive commands go in one round trip, stopping at the first failure (steps.ts)
          const items = step.runs.map((a) => {
            const timeoutMs = a.timeoutMs ?? (task.timeoutSeconds !== undefined ? task.timeoutSeconds * 1000 : undefined);
            return { cmd: a.cmd, okCodes: a.okCodes ?? [0], ...(a.stdin !== undefined ? { stdin: a.stdin } : {}), ...(timeoutMs !== undefined ? { timeoutMs } : {}) };
          });
          // The task's last commands take the next task's observation along, run after them
          // in the same round trip (pipeline.ts, actThenObserve): a first run, where every
          // task acts, then costs about one round trip per task. Not behind commands with a
          // time limit: the shell's backstop for the write would not cover the observation.
          const ride = pipe && n === steps.length - 1 && target === x.host && task.loop === undefined && !task.until && items.every((it) => it.timeoutMs === undefined);
          const ahead = ride ? speculate(x, ch, 1) : [];
          const results = pipe && ahead.length > 0 ? pipe.actThenObserve(items, become, ahead) : runSequence(ch, items, { become });
          for (const [i, action] of step.runs.entries()) {
            const r = await results[i]!;
            outs.push(r);
            const okCodes = action.okCodes ?? [0];
            if (!okCodes.includes(r.exitCode)) {
              const timeoutMs = items[i]!.timeoutMs;
              const finished = decision.finish ? decision.finish(outs) : {};
              const why = r.timedOut ? `timed out after ${timeoutMs} ms` : `exit code ${r.exitCode}`;
              const stderrTail = tail(r.stderr || r.stdout);
              const msg = `${action.describe}: ${why}${stderrTail ? `\n${stderrTail}` : ''}`;
              result = { ...result, ...finished, rc: r.exitCode, cmd: action.describe, stderr: r.stderr, stdout: r.stdout };
              return applyOverrides(x, vars, { status: 'failed', changed: true, msg, result: { ...result, changed: true, failed: true, msg } });
            }
          }
        }
        succeeded = true;
        if (decision.finish) result = { ...result, ...decision.finish(outs) };
        if (decision.followUp) (x.state.checks ??= []).push(pendingCheck(decision.followUp, { target, become, title: x.title, now: Date.now(), ignoreErrors: Boolean(task.ignoreErrors) }));
      } finally {
        pipe?.afterActions(succeeded);
      }
    }
    const msg = decision.msg;
    result = { ...result, changed, failed: false, ...(msg !== undefined && result['msg'] === undefined ? { msg } : {}) };
    if (x.diff && decision.diff) result['diff'] = decision.diff;
    return applyOverrides(x, vars, {
      status: changed ? 'changed' : 'ok',
      changed,
      result,
      ...(msg !== undefined ? { msg } : {}),
      ...(decision.facts ? { facts: decision.facts } : {}),
      ...(decision.diff ? { diff: decision.diff } : {}),
    });
  } catch (e) {
    if (e instanceof UnreachableError) {
      return { status: 'unreachable', changed: false, msg: e.message, result: { unreachable: true, changed: false, msg: e.message } };
    }
    return fail(errMessage(e));
  }
}

/** What a module may use while observing `task` on `target`. */
function observeContext(x: ExecInput, task: Task, ch: HostChannel, target: string, become: boolean, vars: Record<string, unknown>, check: boolean): ObserveContext {
  const at = { ...x, task };
  return {
    host: target,
    run: (cmd, o) => ch.run(cmd, { become, ...(o?.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}) }),
    runBatch: (cmds) => ch.runBatch(cmds, { become }),
    readFile: (path, o) => ch.readFile(path, { become, ...(o ?? {}) }),
    readLocal: async (kind, path) => {
      const p = findLocal(at, kind, path);
      return { path: p, content: await readFile(p) };
    },
    renderTemplate: async (path) => {
      const p = findLocal(at, 'templates', path);
      return { path: p, content: renderTemplateFile(p, vars) };
    },
    checkMode: check,
    vars,
  };
}

/** A task whose observation may go through the pipeline (its own or taken ahead). */
function pipelinable(task: Task, def: ModuleDef): boolean {
  return !def.local && def.observe !== undefined && def.pipelined !== false && task.loop === undefined && task.delegateTo === undefined;
}

/** The next tasks of this host whose observations can be taken now (see pipeline.ts). */
function speculate(x: ExecInput, ch: HostChannel, window: number): Speculation[] {
  const out: Speculation[] = [];
  if (!x.pipeline) return out;
  let looked = 0;
  for (const next of x.pipeline.ahead()) {
    if (out.length >= window || looked++ >= window * 2 + 8) break;
    const t = next.task;
    const def = lookupModule(t.module);
    if (!def) continue;
    // what follows a task that usually acts would be stale: taken after it ran
    if (def.pipelineBarrier) break;
    if (!pipelinable(t, def)) continue;
    try {
      if (t.when.length > 0) {
        const w = conditionsHold(t.when, next.vars);
        if (!w.ok || !w.value) continue;
      }
      const rendered = stripOmit(renderValue(t.args, next.vars)) as Record<string, unknown>;
      const checked = checkParams(def, rendered, { loadTime: false, loc: t.loc });
      if (checked.errors.length > 0) continue;
      const become = t.become ?? x.play.become;
      out.push({ task: t, def, params: checked.params, become, key: observationKey(def.name, checked.params, become, next.check), ctx: observeContext(x, t, ch, x.host, become, next.vars, next.check) });
    } catch {
      // not renderable yet (it needs what an earlier task registers): observed in its turn
    }
  }
  return out;
}

/** Opens a fresh connection (retrying until the deadline) and runs `cmd` on it. */
async function confirmOverNewConnection(x: ExecInput, target: string, cmd: ShellCommand, timeoutMs: number, become: boolean): Promise<ExecResult> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (let i = 0; i < 1000 && Date.now() < deadline; i++) {
    let ch: HostChannel | undefined;
    try {
      ch = await x.openFresh(target);
      const left = Math.max(1000, deadline - Date.now());
      return await ch.run(cmd, { become, timeoutMs: left });
    } catch (e) {
      lastError = errMessage(e);
      await sleep(Math.min(500, Math.max(0, deadline - Date.now())));
    } finally {
      if (ch) await ch.close().catch(() => undefined);
    }
  }
  return { command: cmd.text, exitCode: 255, stdout: '', stderr: lastError || 'no connection', durationMs: timeoutMs };
}

/** changed_when / failed_when, seeing the result under the register name. */
function applyOverrides(x: ExecInput, vars: Record<string, unknown>, a: Attempt): Attempt {
  const { task } = x;
  if (!task.changedWhen && !task.failedWhen) return a;
  const scope = overlay(vars, task.register ? { [task.register]: a.result } : {});
  let { changed, status } = a;
  let msg = a.msg;
  if (task.changedWhen) {
    const c = conditionsHold(task.changedWhen, scope);
    if (!c.ok) return { ...a, status: 'failed', msg: c.error, result: { ...a.result, failed: true, msg: c.error } };
    changed = c.value;
  }
  if (task.failedWhen) {
    const f = conditionsHold(task.failedWhen, scope);
    if (!f.ok) return { ...a, status: 'failed', msg: f.error, result: { ...a.result, failed: true, msg: f.error } };
    if (f.value) {
      status = 'failed';
      msg = `failed_when: ${task.failedWhen.map((c) => c.src).join(' and ')}${a.msg ? ` (${a.msg})` : ''}`;
    } else if (status === 'failed') {
      status = 'ok';
      msg = undefined;
    }
  }
  if (status !== 'failed') status = changed ? 'changed' : 'ok';
  return { ...a, status, changed, ...(msg !== undefined ? { msg } : { msg: undefined }), result: { ...a.result, changed, failed: status === 'failed' } };
}
