/**
 * The live terminal view (TTY): listr2 shows the current play, its tasks, and each host's
 * state of the running task. It only subscribes to engine events: the engine runs on its
 * own, and this view follows it.
 */
import { Listr, type ListrTaskWrapper } from 'listr2';
import type { EngineEvent, HostResultEvent } from '../engine/events.js';
import type { Play } from '../playbook/model.js';
import { formatDiff, formatRecap } from './plain.js';

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const ICON: Record<HostResultEvent['status'], string> = {
  ok: 'ok',
  changed: 'changed',
  failed: 'FAILED',
  skipped: 'skipped',
  unreachable: 'UNREACHABLE',
};

/**
 * Returns the event listener and a promise that settles when the view has finished
 * drawing (after the recap).
 */
export function liveReporter(plays: Play[], opts: { diff: boolean; write: (s: string) => void }): { listener: (e: EngineEvent) => void; done: Promise<void> } {
  const playStarted = plays.map(() => deferred());
  const playEnded = plays.map(() => deferred());
  let playIndex = -1;
  type Row = { title: string; started: Deferred; ended: Deferred; hosts: Map<string, string>; task?: ListrTaskWrapper<unknown, any, any>; failed: boolean; ranAny: boolean };
  const rows = new Map<string, Row>();
  let order: string[] = [];
  const recapLines: string[] = [];
  const diffs: string[] = [];

  const playTasks = plays.map((play, pi) => ({
    title: `PLAY [${play.name}]`,
    task: async (_ctx: unknown, task: ListrTaskWrapper<unknown, any, any>) => {
      await playStarted[pi]!.promise;
      task.title = `PLAY [${play.name}]`;
      return task.newListr(
        (parent) => [
          {
            title: 'tasks',
            task: async (_c: unknown, t: ListrTaskWrapper<unknown, any, any>) => {
              // one dynamic row per task as it starts
              const seen = new Set<string>();
              const sub = async (): Promise<void> => {
                for (;;) {
                  const next = order.find((id) => !seen.has(id));
                  if (next === undefined) {
                    const race = await Promise.race([playEnded[pi]!.promise.then(() => 'end' as const), waitForRow()]);
                    if (race === 'end' && order.every((id) => seen.has(id))) return;
                    continue;
                  }
                  seen.add(next);
                  const row = rows.get(next)!;
                  t.title = row.title;
                  await row.ended.promise;
                  t.output = [...row.hosts.entries()].map(([h, s]) => `${h}: ${s}`).join('\n');
                }
              };
              await sub();
              t.title = `${order.length} task${order.length === 1 ? '' : 's'}`;
              parent.title = `PLAY [${play.name}] done`;
            },
            rendererOptions: { persistentOutput: false, outputBar: Infinity },
          },
        ],
        { concurrent: false, exitOnError: false },
      );
    },
  }));

  let rowWaiters: (() => void)[] = [];
  const waitForRow = () => new Promise<'row'>((r) => rowWaiters.push(() => r('row')));
  const wakeRows = () => {
    const w = rowWaiters;
    rowWaiters = [];
    for (const f of w) f();
  };

  const listr = new Listr(playTasks, {
    concurrent: false,
    exitOnError: false,
    rendererOptions: { collapseSubtasks: false, showErrorMessage: true },
  });
  const done = listr.run().then(() => {
    if (diffs.length > 0) opts.write(diffs.join(''));
    opts.write(recapLines.join(''));
  });

  const listener = (e: EngineEvent): void => {
    switch (e.type) {
      case 'play_start':
        playIndex++;
        rows.clear();
        order = [];
        playStarted[playIndex]?.resolve();
        break;
      case 'task_start': {
        const key = `${e.taskId}#${order.length}`;
        const row: Row = { title: `${e.handler ? 'HANDLER' : 'TASK'} [${e.task}]`, started: deferred(), ended: deferred(), hosts: new Map(e.hosts.map((h) => [h, 'running'])), failed: false, ranAny: false };
        rows.set(key, row);
        order.push(key);
        wakeRows();
        break;
      }
      case 'host_result': {
        const key = order[order.length - 1];
        const row = key !== undefined ? rows.get(key) : undefined;
        if (row && e.item === undefined) {
          row.hosts.set(e.host, `${e.ignored ? 'failed (ignored)' : ICON[e.status]}${e.status === 'failed' || e.status === 'unreachable' ? `: ${e.msg ?? ''}` : ''}`);
        }
        if (opts.diff && e.diff && e.item === undefined) diffs.push(`[${e.host}] ${e.task}\n${formatDiff(e.diff)}`);
        break;
      }
      case 'task_end': {
        const key = order[order.length - 1];
        if (key !== undefined) rows.get(key)?.ended.resolve();
        break;
      }
      case 'play_end':
        playEnded[playIndex]?.resolve();
        wakeRows();
        break;
      case 'recap':
        for (let i = 0; i < plays.length; i++) {
          playStarted[i]!.resolve();
          playEnded[i]!.resolve();
        }
        wakeRows();
        recapLines.push(`\nRECAP (${(e.durationMs / 1000).toFixed(2)}s)\n${formatRecap(e.hosts)}`);
        break;
      default:
        break;
    }
  };
  return { listener, done };
}
