/**
 * Observation pipelining against a real shell on this machine (LocalChannel runs /bin/sh):
 * batching into one round trip, use of what was observed ahead, and every reason to
 * observe again.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ModuleDef, ObserveContext } from '../modules/types.js';
import type { Task } from '../playbook/model.js';
import { sh, type ShellCommand } from '../transport/quote.js';
import { LocalChannel, runSequence, SKIPPED, type ChannelRunOptions, type SequenceItem } from './channel.js';
import { HostPipeline, observationKey, VarsClock, WINDOW_MAX, WINDOW_START, type Speculation } from './pipeline.js';

/** A real channel that counts its round trips (runBatch goes through runEach). */
class CountingChannel extends LocalChannel {
  batches: string[][] = [];
  override runEach(cmds: ShellCommand[], opts?: ChannelRunOptions) {
    this.batches.push(cmds.map((c) => c.text));
    return super.runEach(cmds, opts);
  }
}

/** A test module: `observe` is its observation; it never acts. */
function testModule<O>(name: string, observe: (ctx: ObserveContext, p: { path: string }) => Promise<O>): ModuleDef<{ path: string }, O> {
  return {
    name,
    description: `test module ${name}`,
    schema: { params: { path: { type: 'path', required: true } } },
    observe,
    decide: () => ({ changed: false, actions: [] }),
  };
}

/** A module reading one file: its observation is the file's content (or null). */
const readMod = testModule<string | null>('read_test', async (ctx, p) => {
  const r = await ctx.run(sh`cat -- ${p.path} 2>/dev/null || echo ABSENT`);
  const out = r.stdout.trim();
  return out === 'ABSENT' ? null : out;
});

/** A module whose observation renders a template on the controller. */
const templateMod = testModule<string>('template_test', async (ctx, p) => {
  const t = await ctx.renderTemplate('t');
  const r = await ctx.run(sh`printf %s ${t.content}`);
  return `${p.path}:${r.stdout}`;
});

const failing = testModule<string>('failing_test', async (ctx) => {
  const r = await ctx.run(sh`exit 3`);
  if (r.exitCode !== 0) throw new Error('cannot observe');
  return 'never';
});

const task = (name: string) => ({ name }) as unknown as Task;

let dir: string;
let ch: CountingChannel;
let clock: VarsClock;
let pipe: HostPipeline;
let template: string;

function ctxFor(): ObserveContext {
  return {
    host: 'local',
    run: (cmd) => ch.run(cmd),
    runBatch: (cmds) => ch.runBatch(cmds),
    readFile: (p) => ch.readFile(p),
    readLocal: async () => ({ path: 't', content: Buffer.from('') }),
    renderTemplate: async () => ({ path: 't', content: template }),
    checkMode: false,
    vars: {},
  };
}

function spec(t: Task, def: ModuleDef, path: string): Speculation {
  const params = { path };
  return { task: t, def, params, become: false, key: observationKey(def.name, params, false, false), ctx: ctxFor() };
}

async function observe(t: Task, def: ModuleDef, path: string, ahead: Speculation[] = []): Promise<unknown> {
  const params = { path };
  return pipe.observe(t, def, params, observationKey(def.name, params, false, false), false, ctxFor(), (w) => ahead.slice(0, w));
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ul-pipeline-'));
  ch = new CountingChannel();
  clock = new VarsClock();
  pipe = new HostPipeline(async () => ch, clock);
  template = 'v1';
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('observation pipelining', () => {
  it("sends the current task's observation and those taken ahead in one round trip, and uses them", async () => {
    const [a, b, c] = [task('a'), task('b'), task('c')];
    pipe.window = 4;
    writeFileSync(join(dir, 'a'), 'A');
    writeFileSync(join(dir, 'b'), 'B');
    expect(await observe(a, readMod, join(dir, 'a'), [spec(b, readMod, join(dir, 'b')), spec(c, readMod, join(dir, 'c'))])).toBe('A');
    expect(ch.batches).toHaveLength(1);
    expect(ch.batches[0]).toHaveLength(3);
    expect(await observe(b, readMod, join(dir, 'b'))).toBe('B');
    expect(await observe(c, readMod, join(dir, 'c'))).toBeNull();
    expect(ch.batches).toHaveLength(1);
    expect(pipe.stats).toMatchObject({ hits: 2, misses: 1, speculated: 2, discarded: 0 });
    expect(pipe.window).toBe(Math.min(WINDOW_MAX, 16));
  });

  it('the same command asked for by several tasks in one round trip is sent once; each task gets its result', async () => {
    const [a, b, c] = [task('a'), task('b'), task('c')];
    pipe.window = 4;
    writeFileSync(join(dir, 'same'), 'S');
    writeFileSync(join(dir, 'other'), 'O');
    const path = join(dir, 'same');
    expect(await observe(a, readMod, path, [spec(b, readMod, path), spec(c, readMod, join(dir, 'other'))])).toBe('S');
    expect(ch.batches).toHaveLength(1);
    expect(ch.batches[0]).toHaveLength(2);
    expect(await observe(b, readMod, path)).toBe('S');
    expect(await observe(c, readMod, join(dir, 'other'))).toBe('O');
    expect(ch.batches).toHaveLength(1);
    expect(pipe.stats).toMatchObject({ hits: 2, speculated: 2 });
  });

  it('an action applied to the host in between makes what was observed ahead stale: observed again', async () => {
    const [a, b] = [task('a'), task('b')];
    writeFileSync(join(dir, 'b'), 'old');
    await observe(a, readMod, join(dir, 'a'), [spec(b, readMod, join(dir, 'b'))]);
    pipe.bump();
    writeFileSync(join(dir, 'b'), 'new'); // what the action did
    pipe.bump();
    expect(await observe(b, readMod, join(dir, 'b'))).toBe('new');
    expect(ch.batches).toHaveLength(2);
    expect(pipe.stats.discarded).toBe(1);
    expect(pipe.window).toBe(Math.floor(WINDOW_START / 2));
  });

  it('other parameters than those observed ahead: observed again', async () => {
    const [a, b] = [task('a'), task('b')];
    writeFileSync(join(dir, 'b'), 'B');
    writeFileSync(join(dir, 'b2'), 'B2');
    await observe(a, readMod, join(dir, 'a'), [spec(b, readMod, join(dir, 'b'))]);
    expect(await observe(b, readMod, join(dir, 'b2'))).toBe('B2');
    expect(pipe.stats).toMatchObject({ hits: 0, discarded: 1 });
  });

  it('a template that renders differently now: observed again', async () => {
    const [a, b] = [task('a'), task('b')];
    await observe(a, readMod, join(dir, 'a'), [spec(b, templateMod, 'x')]);
    template = 'v2'; // a registered value changed what the template gives
    expect(await observe(b, templateMod, 'x')).toBe('x:v2');
    expect(pipe.stats.discarded).toBe(1);
    // the same rendering: used
    const c = task('c');
    await observe(a, readMod, join(dir, 'a'), [spec(c, templateMod, 'y')]);
    expect(await observe(c, templateMod, 'y')).toBe('y:v2');
    expect(pipe.stats.hits).toBe(1);
  });

  it('starts by taking one ahead; an observation taken ahead and stale before its next command does not send it', async () => {
    expect(pipe.window).toBe(WINDOW_START);
    const twoSteps = testModule<string>('two_steps_test', async (ctx) => {
      await ctx.run(sh`echo one`);
      await new Promise((r) => setTimeout(r, 50));
      return (await ctx.run(sh`echo two`)).stdout.trim();
    });
    const [a, b] = [task('a'), task('b')];
    await observe(a, readMod, join(dir, 'a'), [spec(b, twoSteps, 'p')]);
    pipe.bump(); // the first task acts while the second's observation is between its steps
    await new Promise((r) => setTimeout(r, 100));
    expect(ch.batches.flat().filter((c) => c === 'echo two')).toHaveLength(0);
    expect(await observe(b, twoSteps, 'p')).toBe('two');
    expect(ch.batches.flat().filter((c) => c === 'echo two')).toHaveLength(1);
  });

  it("the current task's observation does not wait for a slow one taken ahead in the same round trip", async () => {
    let slowDone = false;
    const slow = testModule<string>('slow_test', async (ctx) => {
      const r = await ctx.run(sh`sleep 0.5; echo slow`);
      slowDone = true;
      return r.stdout.trim();
    });
    const [a, b] = [task('a'), task('b')];
    writeFileSync(join(dir, 'a'), 'A');
    expect(await observe(a, readMod, join(dir, 'a'), [spec(b, slow, 'p')])).toBe('A');
    expect(slowDone).toBe(false);
    expect(ch.batches).toHaveLength(1);
    expect(await observe(b, slow, 'p')).toBe('slow');
  });

  it('an observation taken ahead that failed is dropped: the task observes itself (and fails itself)', async () => {
    const [a, b] = [task('a'), task('b')];
    await observe(a, readMod, join(dir, 'a'), [spec(b, failing, 'p')]);
    await expect(observe(b, failing, 'p')).rejects.toThrow('cannot observe');
    expect(ch.batches).toHaveLength(2);
  });

  it('a task observed ahead is used once (a retry observes again)', async () => {
    const [a, b] = [task('a'), task('b')];
    writeFileSync(join(dir, 'b'), '1');
    await observe(a, readMod, join(dir, 'a'), [spec(b, readMod, join(dir, 'b'))]);
    expect(await observe(b, readMod, join(dir, 'b'))).toBe('1');
    writeFileSync(join(dir, 'b'), '2'); // changed by something else while the task retries
    expect(await observe(b, readMod, join(dir, 'b'))).toBe('2');
  });

  it('takes none ahead after its window shrank to 0, and again once a task changed nothing', async () => {
    const ts = Array.from({ length: 6 }, (_, i) => task(`t${i}`));
    // every task acts: each time what was observed ahead is thrown away
    for (let i = 0; i < 3; i++) {
      await observe(ts[i]!, readMod, join(dir, 'x'), [spec(ts[i + 1]!, readMod, join(dir, 'y'))]);
      pipe.bump();
    }
    expect(pipe.window).toBe(0);
    const before = pipe.stats.speculated;
    await observe(ts[3]!, readMod, join(dir, 'x'), [spec(ts[4]!, readMod, join(dir, 'y'))]);
    expect(pipe.stats.speculated).toBe(before);
    // that task changed nothing (no bump): the next one takes one ahead again
    await observe(ts[4]!, readMod, join(dir, 'x'), [spec(ts[5]!, readMod, join(dir, 'y'))]);
    expect(pipe.stats.speculated).toBe(before + 1);
  });

  it('reading the variables directly ties the observation to them', async () => {
    const varsMod = testModule<string>('vars_test', async (ctx) => {
      void ctx.vars;
      return (await ctx.run(sh`echo ok`)).stdout.trim();
    });
    const [a, b, c] = [task('a'), task('b'), task('c')];
    pipe.window = 4;
    await observe(a, readMod, join(dir, 'a'), [spec(b, varsMod, 'p'), spec(c, varsMod, 'q')]);
    expect(await observe(b, varsMod, 'p')).toBe('ok');
    expect(pipe.stats.hits).toBe(1);
    clock.tick(); // a task registered a value
    await observe(c, varsMod, 'q');
    expect(pipe.stats.discarded).toBe(1);
  });
});

describe('observations riding behind an action (actThenObserve)', () => {
  /** Records each sequence it is given, and runs it on this machine. */
  class SequenceChannel extends CountingChannel {
    sequences: string[][] = [];
    runSequence(items: SequenceItem[], opts?: { become?: boolean }) {
      this.sequences.push(items.map((i) => i.cmd.text));
      return runSequence(new LocalChannel(), items, opts);
    }
  }

  /** Reads the file after a pause of its own: its command comes in a later turn. */
  const lateRead = testModule<string | null>('late_read_test', async (ctx, p) => {
    await new Promise((r) => setTimeout(r, 30));
    const out = (await ctx.run(sh`cat -- ${p.path} 2>/dev/null || echo ABSENT`)).stdout.trim();
    return out === 'ABSENT' ? null : out;
  });

  it("goes in the action's round trip, after its commands, and is used by the next task", async () => {
    const sch = new SequenceChannel();
    const p = new HostPipeline(async () => sch, clock);
    const b = task('b');
    const f = join(dir, 'made');
    p.bump();
    const rs = p.actThenObserve([{ cmd: sh`printf made > ${f}` }], false, [spec(b, readMod, f)]);
    expect((await rs[0]!).exitCode).toBe(0);
    p.afterActions(true);
    expect(sch.sequences).toEqual([[sh`printf made > ${f}`.text, sh`cat -- ${f} 2>/dev/null || echo ABSENT`.text]]);
    const params = { path: f };
    expect(await p.observe(b, readMod, params, observationKey(readMod.name, params, false, false), false, ctxFor(), () => [])).toBe('made');
    expect(p.stats).toMatchObject({ hits: 1, misses: 0 });
    // it says nothing of whether the host stays as it is: the window does not grow
    expect(p.window).toBe(WINDOW_START);
  });

  /** Reads the file with ctx.readFile: not a command of the round trip. */
  const fileReader = testModule<string | null>('read_file_test', async (ctx, p) => (await ctx.readFile(p.path))?.toString() ?? null);

  it.each([
    ['a command it sends in a later turn', 'slow', lateRead],
    ['a file it reads', 'read', fileReader],
  ] as const)('%s waits for the action to end', async (_what, name, mod) => {
    const b = task('b');
    const f = join(dir, name);
    writeFileSync(f, 'old');
    pipe.bump();
    const rs = pipe.actThenObserve([{ cmd: sh`sleep 0.3; printf new > ${f}` }], false, [spec(b, mod, f)]);
    await Promise.all(rs);
    pipe.afterActions(true);
    expect(await observe(b, mod, f)).toBe('new');
    expect(pipe.stats.hits).toBe(1);
  });

  it('behind commands that failed, it is never used: the task observes again', async () => {
    const b = task('b');
    const f = join(dir, 'kept');
    writeFileSync(f, 'before');
    pipe.bump();
    const rs = pipe.actThenObserve([{ cmd: sh`exit 4` }, { cmd: sh`printf after > ${f}` }], false, [spec(b, readMod, f)]);
    expect((await rs[0]!).exitCode).toBe(4);
    expect((await rs[1]!).exitCode).toBe(SKIPPED);
    pipe.afterActions(false);
    expect(await observe(b, readMod, f)).toBe('before');
    expect(pipe.stats).toMatchObject({ hits: 0, misses: 1 });
  });

  it('is not merged with the same command asked for before the action in the same round trip', async () => {
    const [a, b] = [task('a'), task('b')];
    const f = join(dir, 'same');
    writeFileSync(f, 'old');
    // an observation whose command is queued in the same turn, before the action
    const before = pipe.observe(a, readMod, { path: f }, observationKey(readMod.name, { path: f }, false, false), false, ctxFor(), () => []);
    pipe.bump();
    const rs = pipe.actThenObserve([{ cmd: sh`printf new > ${f}` }], false, [spec(b, readMod, f)]);
    expect(await before).toBe('old');
    await Promise.all(rs);
    pipe.afterActions(true);
    expect(await observe(b, readMod, f)).toBe('new');
    expect(pipe.stats.hits).toBe(1);
  });

  it('another action on the host before the task comes makes it stale', async () => {
    const b = task('b');
    const f = join(dir, 'twice');
    pipe.bump();
    await Promise.all(pipe.actThenObserve([{ cmd: sh`printf one > ${f}` }], false, [spec(b, readMod, f)]));
    pipe.afterActions(true);
    pipe.bump(); // a task delegated to this host acted
    writeFileSync(f, 'two');
    pipe.bump();
    expect(await observe(b, readMod, f)).toBe('two');
    expect(pipe.stats.hits).toBe(0);
  });

  it('takes none of another become level (another shell: nothing orders it after the action)', async () => {
    const b = task('b');
    pipe.bump();
    const s = { ...spec(b, readMod, join(dir, 'x')), become: true };
    await Promise.all(pipe.actThenObserve([{ cmd: sh`true` }], false, [s]));
    pipe.afterActions(true);
    expect(pipe.stats.speculated).toBe(0);
  });
});
