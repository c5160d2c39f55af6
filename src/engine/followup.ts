/**
 * Follow-up checks (Decision.followUp): a read-only command a module asks to run on the
 * host some time after its actions, e.g. that a started program still runs 0.25 s later.
 * The host goes on with its next tasks meanwhile. A check runs once it is due, at the
 * first of:
 * - the start of a later task whose module's followUpKey equals the check's key (e.g. a
 *   later `service` task of the same name), which waits for it;
 * - the end of the play's section, and again after its handlers: the host's checks in
 *   one round trip per target.
 * A failing check fails the host: at the start of a task, that task fails on the host with
 * the check's message; at the end of a section, on a result line of its own. When the task
 * that made it has ignore_errors, a failing check is a warning instead.
 */
import type { FollowUp } from '../modules/types.js';
import type { ShellCommand } from '../transport/quote.js';
import type { Secrets } from '../vars/secrets.js';
import type { HostChannel } from './channel.js';
import type { EventBus } from './events.js';

/** A follow-up check waiting to run. */
export interface PendingCheck {
  /** When it may run (ms since the epoch). */
  due: number;
  cmd: ShellCommand;
  become: boolean;
  /** The host it runs on (the task's delegate_to target, or the host). */
  target: string;
  describe: string;
  key: string;
  /** The title of the task that made it, for messages. */
  title: string;
  /** That task has ignore_errors: a failing check is a warning, not a failure of the host. */
  ignoreErrors: boolean;
}

export interface CheckOutcome {
  check: PendingCheck;
  ok: boolean;
  /** Why it failed: the check, the task that made it, the command's stderr. */
  msg?: string;
}

export function pendingCheck(f: FollowUp, at: { target: string; become: boolean; title: string; now: number; ignoreErrors?: boolean }): PendingCheck {
  return { due: at.now + Math.max(0, f.afterMs), cmd: f.cmd, become: at.become, target: at.target, describe: f.describe, key: f.key, title: at.title, ignoreErrors: at.ignoreErrors ?? false };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const errMessage = (e: unknown) => (e instanceof Error ? e.message : String(e));

/**
 * Takes the checks `pick` selects out of `pending` (the host's list, changed in place),
 * waits until the last of them is due, and runs them: those of one target and become in
 * one round trip. One outcome per check taken.
 */
export async function runFollowUps(
  pending: PendingCheck[],
  channel: (target: string) => Promise<HostChannel>,
  pick: (c: PendingCheck, now: number) => boolean,
): Promise<CheckOutcome[]> {
  const now = Date.now();
  const picked = pending.filter((c) => pick(c, now));
  if (picked.length === 0) return [];
  for (const c of picked) pending.splice(pending.indexOf(c), 1);
  const wait = Math.max(...picked.map((c) => c.due)) - Date.now();
  if (wait > 0) await sleep(wait);
  const groups = new Map<string, PendingCheck[]>();
  for (const c of picked) {
    const k = `${c.become ? 'B' : 'U'}${c.target}`;
    const g = groups.get(k);
    if (g) g.push(c);
    else groups.set(k, [c]);
  }
  const out: CheckOutcome[] = [];
  await Promise.all(
    [...groups.values()].map(async (cs) => {
      try {
        const ch = await channel(cs[0]!.target);
        const rs = await ch.runBatch(
          cs.map((c) => c.cmd),
          { become: cs[0]!.become },
        );
        rs.forEach((r, i) => {
          const c = cs[i]!;
          const why = (r.stderr || r.stdout).trim();
          out.push(r.exitCode === 0 ? { check: c, ok: true } : { check: c, ok: false, msg: `${c.describe}: no (checked after '${c.title}')${why ? `\n${why}` : ''}` });
        });
      } catch (e) {
        for (const c of cs) out.push({ check: c, ok: false, msg: `${c.describe}: cannot check (after '${c.title}'): ${errMessage(e)}` });
      }
    }),
  );
  return out;
}

/** A host's side of its checks: its state, how to reach a target, where to report. */
export interface CheckHost {
  host: string;
  state: { failed: boolean; checks?: PendingCheck[] };
  channel: (target: string) => Promise<HostChannel>;
  bus: EventBus;
  secrets: Secrets;
}

/**
 * Runs the host's checks that `pick` selects (runFollowUps) and folds them into the host: a
 * failed check of a task with ignore_errors is a warning; any other failed check fails the
 * host, and its remaining checks are dropped. Returns what was checked and, when the host
 * failed, why (secrets masked).
 */
export async function settleChecks(h: CheckHost, pick: (c: PendingCheck, now: number) => boolean): Promise<{ checked: string[]; failure?: string }> {
  const outcomes = await runFollowUps(h.state.checks ?? [], h.channel, pick);
  for (const o of outcomes) if (!o.ok && o.check.ignoreErrors) h.bus.emit({ type: 'warning', host: h.host, msg: `${h.secrets.mask(o.msg ?? '')} (ignored: ignore_errors)` });
  const failed = outcomes.filter((o) => !o.ok && !o.check.ignoreErrors);
  const checked = outcomes.map((o) => o.check.describe);
  if (failed.length === 0) return { checked };
  h.state.failed = true;
  h.state.checks = [];
  return { checked, failure: failed.map((o) => h.secrets.mask(o.msg ?? '')).join('\n') };
}
