import { describe, expect, it } from 'vitest';
import type { ExecResult } from '../modules/types.js';
import { sh } from '../transport/quote.js';
import type { HostChannel } from './channel.js';
import { pendingCheck, runFollowUps, type PendingCheck } from './followup.js';

/** A channel that answers every command with the exit code its text names (`exit N`). */
function fakeChannel(log: { target: string; cmds: string[]; at: number; become: boolean }[], target: string): HostChannel {
  const answer = (text: string): ExecResult => {
    const code = Number(/exit (\d+)/.exec(text)?.[1] ?? 0);
    return { command: text, exitCode: code, stdout: '', stderr: code === 0 ? '' : `it said ${code}`, durationMs: 1 };
  };
  return {
    run: async (cmd) => answer(cmd.text),
    runBatch: async (cmds, opts) => {
      log.push({ target, cmds: cmds.map((c) => c.text), at: Date.now(), become: Boolean(opts?.become) });
      return cmds.map((c) => answer(c.text));
    },
    runEach: (cmds) => cmds.map(async (c) => answer(c.text)),
    upload: async () => undefined,
    readFile: async () => null,
    close: async () => undefined,
  };
}

const check = (name: string, afterMs: number, now: number, extra: Partial<PendingCheck> = {}): PendingCheck => ({
  ...pendingCheck({ cmd: sh`${`check ${name}`}`, afterMs, describe: `${name} still runs`, key: `service:${name}` }, { target: 'h1', become: false, title: `run ${name}`, now }),
  ...extra,
});

describe('runFollowUps', () => {
  it('takes only the picked checks, waits until the last of them is due, one round trip per target and become', async () => {
    const now = Date.now();
    const log: { target: string; cmds: string[]; at: number; become: boolean }[] = [];
    const pending = [check('a', 0, now), check('b', 120, now), check('c', 0, now, { target: 'h2' }), check('d', 0, now, { become: true }), check('e', 5000, now)];
    const out = await runFollowUps(pending, async (t) => fakeChannel(log, t), (c) => c.key !== 'service:e');
    expect(Date.now() - now).toBeGreaterThanOrEqual(115);
    expect(out.map((o) => [o.check.describe, o.ok])).toEqual(expect.arrayContaining([['a still runs', true], ['b still runs', true], ['c still runs', true], ['d still runs', true]]));
    expect(out).toHaveLength(4);
    expect(pending.map((c) => c.key)).toEqual(['service:e']);
    expect(log.map((l) => [l.target, l.become, l.cmds])).toEqual(
      expect.arrayContaining([
        ['h1', false, ["'check a'", "'check b'"]],
        ['h2', false, ["'check c'"]],
        ['h1', true, ["'check d'"]],
      ]),
    );
    expect(log).toHaveLength(3);
  });

  it('a failing check says what, after which task, and why', async () => {
    const now = Date.now();
    const pending = [pendingCheck({ cmd: sh`exit 1`, afterMs: 0, describe: 'kubelet still runs 0.25 s after its start', key: 'service:kubelet' }, { target: 'h1', become: false, title: 'worker : run kubelet', now })];
    const [o] = await runFollowUps(pending, async (t) => fakeChannel([], t), () => true);
    expect(o).toMatchObject({ ok: false, msg: "kubelet still runs 0.25 s after its start: no (checked after 'worker : run kubelet')\nit said 1" });
  });

  it('a host that cannot be reached fails its checks, naming why', async () => {
    const now = Date.now();
    const pending = [check('a', 0, now)];
    const out = await runFollowUps(pending, async () => Promise.reject(new Error('connection lost')), () => true);
    expect(out).toMatchObject([{ ok: false, msg: "a still runs: cannot check (after 'run a'): connection lost" }]);
  });

  it('nothing picked: nothing runs and nothing waits', async () => {
    const now = Date.now();
    const pending = [check('a', 10_000, now)];
    const out = await runFollowUps(pending, async () => Promise.reject(new Error('not called')), (c, t) => c.due <= t);
    expect(out).toEqual([]);
    expect(pending).toHaveLength(1);
    expect(Date.now() - now).toBeLessThan(1000);
  });
});
