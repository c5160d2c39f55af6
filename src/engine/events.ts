/**
 * What the engine tells its subscribers (the terminal view, the JSON output, the recap).
 * Every value in an event has already been masked: subscribers cannot leak a secret.
 */
import type { Diff } from '../modules/types.js';

export type HostStatus = 'ok' | 'changed' | 'failed' | 'skipped' | 'unreachable';

export interface HostResultEvent {
  type: 'host_result';
  play: string;
  task: string;
  taskId: string;
  host: string;
  /** Set when the task ran on another host (`delegate_to`). */
  delegatedTo?: string;
  status: HostStatus;
  changed: boolean;
  /** A failure that `ignore_errors` turned into a pass. */
  ignored?: boolean;
  msg?: string;
  diff?: Diff[];
  /** The loop item's label, for one item of a loop. */
  item?: string;
  durationMs: number;
  /** The module's result (rc, stdout, ...): masked. Omitted under no_log. */
  result?: Record<string, unknown>;
  /** check mode could not predict the outcome (e.g. a `command` without `creates`). */
  unpredictable?: boolean;
}

export type EngineEvent =
  | { type: 'run_start'; playbook: string; check: boolean; diff: boolean; time: string }
  | { type: 'play_start'; play: string; hosts: string[]; file: string; line: number }
  | { type: 'task_start'; play: string; task: string; taskId: string; hosts: string[]; handler: boolean; file: string; line: number }
  | HostResultEvent
  | { type: 'task_end'; play: string; task: string; taskId: string; durationMs: number }
  | { type: 'play_end'; play: string; durationMs: number }
  | { type: 'warning'; host?: string; msg: string }
  | { type: 'recap'; hosts: Record<string, HostStats>; durationMs: number; exitCode: number };

export interface HostStats {
  ok: number;
  changed: number;
  failed: number;
  skipped: number;
  unreachable: number;
  ignored: number;
  durationMs: number;
}

export type Listener = (e: EngineEvent) => void;

/** A synchronous event bus: listeners run in subscription order. */
export class EventBus {
  private readonly listeners: Listener[] = [];
  on(l: Listener): () => void {
    this.listeners.push(l);
    return () => {
      const i = this.listeners.indexOf(l);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }
  emit(e: EngineEvent): void {
    for (const l of this.listeners) l(e);
  }
}

/** The recap as a pure fold of host results. */
export function foldRecap(events: Iterable<EngineEvent>, hosts: readonly string[] = []): Record<string, HostStats> {
  const stats: Record<string, HostStats> = {};
  const get = (h: string): HostStats => (stats[h] ??= { ok: 0, changed: 0, failed: 0, skipped: 0, unreachable: 0, ignored: 0, durationMs: 0 });
  for (const h of hosts) get(h);
  for (const e of events) {
    if (e.type !== 'host_result' || e.item !== undefined) continue;
    const s = get(e.host);
    s.durationMs += e.durationMs;
    if (e.ignored) {
      s.ignored++;
      s.ok++;
      continue;
    }
    switch (e.status) {
      case 'ok':
        s.ok++;
        break;
      case 'changed':
        s.ok++;
        s.changed++;
        break;
      case 'failed':
        s.failed++;
        break;
      case 'skipped':
        s.skipped++;
        break;
      case 'unreachable':
        s.unreachable++;
        break;
    }
  }
  return stats;
}
