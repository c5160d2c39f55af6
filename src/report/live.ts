/**
 * The live terminal view (TTY): listr2 shows each play, its tasks, and each host's state of
 * the running task. It only subscribes to engine events: the engine runs on its own and
 * this view follows it.
 *
 * The rows are known in advance (the play's tasks and handlers, after tag selection); a
 * row that never starts (its `when` or tag did not select it, or the play ended) is shown
 * as skipped when a later row starts or the play ends. With `strategy: free` tasks of
 * different hosts overlap, so such a play is one row with a line per host instead.
 */
import { Listr, type ListrTaskWrapper } from 'listr2';
import type { EngineEvent, HostResultEvent, HostStatus } from '../engine/events.js';
import { tagSelected } from '../engine/tags.js';
import type { Play, Task } from '../playbook/model.js';
import { formatDiff, formatRecap } from './plain.js';

type Wrapper = ListrTaskWrapper<unknown, any, any>;

interface Deferred<T = void> {
  promise: Promise<T>;
  resolve: (v: T) => void;
  done: boolean;
}

function deferred<T = void>(): Deferred<T> {
  let resolve!: (v: T) => void;
  const d: Deferred<T> = { promise: new Promise<T>((r) => (resolve = r)), resolve: (v) => { if (!d.done) { d.done = true; resolve(v); } }, done: false };
  return d;
}

const LABEL: Record<HostStatus, string> = { ok: 'ok', changed: 'changed', failed: 'FAILED', skipped: 'skipped', unreachable: 'UNREACHABLE' };

interface Row {
  id: string;
  title: string;
  /** 'run' when it starts, 'skip' when it is passed over. */
  start: Deferred<'run' | 'skip'>;
  end: Deferred;
  hosts: Map<string, string>;
  counts: Partial<Record<HostStatus, number>>;
  wrapper?: Wrapper;
}

interface PlayView {
  play: Play;
  started: Deferred<'run' | 'skip'>;
  ended: Deferred;
  rows: Row[];
  /** free strategy: host -> current line */
  hostLines: Map<string, string>;
  wrapper?: Wrapper;
}

function rowTitle(t: Task, handler: boolean): string {
  const name = t.name ?? t.module;
  return `${handler ? 'HANDLER' : 'TASK'} [${t.role ? `${t.role.name} : ` : ''}${name}]`;
}

function outputOf(hosts: Map<string, string>): string {
  const w = Math.max(0, ...[...hosts.keys()].map((h) => h.length));
  return [...hosts.entries()].map(([h, s]) => `${h.padEnd(w)}  ${s}`).join('\n');
}

function countsText(c: Row['counts']): string {
  return (Object.entries(c) as [HostStatus, number][]).map(([k, v]) => `${k}=${v}`).join(' ');
}

function hostLine(e: HostResultEvent): string {
  const label = e.ignored ? 'failed (ignored)' : LABEL[e.status];
  const msg = e.status === 'failed' || e.status === 'unreachable' ? `: ${(e.msg ?? '').split('\n')[0]}` : '';
  return `${label}${msg}`;
}

export function liveReporter(
  plays: Play[],
  opts: { diff: boolean; write: (s: string) => void; tags?: string[]; skipTags?: string[] },
): { listener: (e: EngineEvent) => void; done: Promise<void> } {
  const views: PlayView[] = plays.map((play) => {
    const rows: Row[] = [];
    if (play.strategy !== 'free') {
      const add = (t: Task, handler: boolean) => {
        if (t.module === 'meta') return;
        if (!handler && !tagSelected(t.tags, opts.tags ?? [], opts.skipTags ?? [])) return;
        rows.push({ id: t.id, title: rowTitle(t, handler), start: deferred(), end: deferred(), hosts: new Map(), counts: {} });
      };
      for (const s of play.sections) for (const t of s.tasks) add(t, false);
      for (const h of play.handlers) add(h, true);
    }
    return { play, started: deferred(), ended: deferred(), rows, hostLines: new Map() };
  });
  let current = -1;
  let active: Row | undefined;
  const diffs: string[] = [];
  let recap = '';

  const listr = new Listr(
    views.map((v) => ({
      title: `PLAY [${v.play.name}]`,
      task: async (_ctx: unknown, t: Wrapper) => {
        const how = await v.started.promise;
        if (how === 'skip') {
          t.skip(`PLAY [${v.play.name}]: no hosts`);
          return;
        }
        v.wrapper = t;
        if (v.play.strategy === 'free') {
          t.output = 'starting';
          await v.ended.promise;
          return;
        }
        return t.newListr(
          v.rows.map((row) => ({
            title: row.title,
            task: async (_c: unknown, rt: Wrapper) => {
              const s = await row.start.promise;
              if (s === 'skip') {
                rt.skip();
                return;
              }
              row.wrapper = rt;
              rt.output = outputOf(row.hosts);
              await row.end.promise;
              rt.title = `${row.title}  ${countsText(row.counts)}`;
              // keep only the failures on screen once the task is done
              const failures = [...row.hosts].filter(([, s2]) => s2.startsWith('FAILED') || s2.startsWith('UNREACHABLE'));
              rt.output = failures.length > 0 ? outputOf(new Map(failures)) : '';
            },
            rendererOptions: { persistentOutput: true, outputBar: 1 },
          })),
          { concurrent: false, exitOnError: false, rendererOptions: { collapseSubtasks: false } },
        );
      },
    })),
    { concurrent: false, exitOnError: false, rendererOptions: { collapseSubtasks: false, showErrorMessage: true, collapseSkips: false } },
  );
  const done = listr.run().then(() => {
    if (diffs.length > 0) opts.write(diffs.join(''));
    opts.write(recap);
  });

  const skipUnstarted = (view: PlayView, uptoIndex: number) => {
    for (let i = 0; i < uptoIndex; i++) {
      const r = view.rows[i]!;
      if (!r.start.done) r.start.resolve('skip');
    }
  };

  const listener = (e: EngineEvent): void => {
    const view = views[current];
    switch (e.type) {
      case 'play_start': {
        current++;
        const v = views[current];
        if (!v) break;
        v.started.resolve(e.hosts.length > 0 ? 'run' : 'skip');
        for (const h of e.hosts) v.hostLines.set(h, 'waiting');
        break;
      }
      case 'task_start': {
        if (!view) break;
        if (view.play.strategy === 'free') break;
        const idx = view.rows.findIndex((r) => r.id === e.taskId && !r.start.done);
        if (idx < 0) {
          active = undefined;
          break;
        }
        skipUnstarted(view, idx);
        active = view.rows[idx]!;
        for (const h of e.hosts) active.hosts.set(h, 'running');
        active.start.resolve('run');
        if (active.wrapper) active.wrapper.output = outputOf(active.hosts);
        break;
      }
      case 'host_result': {
        if (opts.diff && e.diff && e.item === undefined) diffs.push(`[${e.host}] ${e.task}\n${formatDiff(e.diff)}`);
        if (e.item !== undefined || !view) break;
        if (view.play.strategy === 'free') {
          view.hostLines.set(e.host, `${e.task}: ${hostLine(e)}`);
          if (view.wrapper) view.wrapper.output = outputOf(view.hostLines);
          break;
        }
        if (!active || active.id !== e.taskId) break;
        active.hosts.set(e.host, hostLine(e));
        active.counts[e.ignored ? 'ok' : e.status] = (active.counts[e.ignored ? 'ok' : e.status] ?? 0) + 1;
        if (active.wrapper) active.wrapper.output = outputOf(active.hosts);
        break;
      }
      case 'task_end':
        if (active && active.id === e.taskId) {
          active.end.resolve();
          active = undefined;
        }
        break;
      case 'play_end':
        if (view) {
          skipUnstarted(view, view.rows.length);
          view.ended.resolve();
        }
        break;
      case 'recap':
        for (const v of views) {
          v.started.resolve('skip');
          skipUnstarted(v, v.rows.length);
          for (const r of v.rows) r.end.resolve();
          v.ended.resolve();
        }
        recap = `\nRECAP (${(e.durationMs / 1000).toFixed(2)}s)\n${formatRecap(e.hosts)}`;
        break;
      default:
        break;
    }
  };
  return { listener, done };
}
