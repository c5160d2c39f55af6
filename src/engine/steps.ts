/**
 * How the engine applies a decision's actions: in order, one step at a time, the first
 * failing step failing the task. A step is
 * - a run of consecutive uploads of distinct files, which go out together: SFTP answers
 *   requests in order, so N small files take the three round trips of one (see
 *   Connection.upload). They are files of one task and none depends on another (an upload
 *   creates no directory); when one fails, the task fails, and others of the same step may
 *   have been written, as a rerun would write them anyway;
 * - a run of consecutive commands, sent in one round trip as a sequence that stops at the
 *   first command that fails (HostChannel.runSequence): what runs is what one round trip
 *   per command would run. Commands with a time limit of their own and commands without
 *   one go in separate sequences;
 * - or one other action (a confirmation over a new connection).
 * Pure.
 */
import type { Action } from '../modules/types.js';

export type UploadAction = Extract<Action, { kind: 'upload' }>;

export type RunAction = Extract<Action, { kind: 'run' }>;

export type Step = { kind: 'uploads'; uploads: UploadAction[] } | { kind: 'runs'; runs: RunAction[] } | { kind: 'action'; action: Exclude<Action, UploadAction | RunAction> };

export function applySteps(actions: readonly Action[]): Step[] {
  const steps: Step[] = [];
  for (const a of actions) {
    const last = steps.at(-1);
    if (a.kind === 'run') {
      // commands with and without a time limit of their own are not mixed: the shell's
      // backstop for a write covers its commands only when every one of them has a limit
      if (last?.kind === 'runs' && (last.runs[0]!.timeoutMs === undefined) === (a.timeoutMs === undefined)) last.runs.push(a);
      else steps.push({ kind: 'runs', runs: [a] });
      continue;
    }
    if (a.kind !== 'upload') {
      steps.push({ kind: 'action', action: a });
      continue;
    }
    if (last?.kind === 'uploads' && !last.uploads.some((u) => u.path === a.path)) last.uploads.push(a);
    else steps.push({ kind: 'uploads', uploads: [a] });
  }
  return steps;
}
