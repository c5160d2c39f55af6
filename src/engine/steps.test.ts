import { describe, expect, it } from 'vitest';
import type { Action } from '../modules/types.js';
import { sh } from '../transport/quote.js';
import { applySteps, type Step } from './steps.js';

const up = (path: string): Action => ({ kind: 'upload', path, content: path, describe: `write ${path}` });
const run = (text: string): Action => ({ kind: 'run', cmd: sh`${text}`, describe: text });
const confirm: Action = { kind: 'confirm', cmd: sh`true`, describe: 'confirm', timeoutMs: 1000 };
const shape = (actions: Action[]) =>
  applySteps(actions).map((s) => (s.kind === 'uploads' ? s.uploads.map((u) => u.path) : s.kind === 'runs' ? s.runs.map((r) => r.describe).join('+') : s.action.describe));
const flat = (steps: Step[]) => steps.flatMap((s) => (s.kind === 'uploads' ? s.uploads : s.kind === 'runs' ? s.runs : [s.action]));

describe('applySteps', () => {
  it('groups consecutive uploads, in order, between the other actions', () => {
    expect(shape([run('mkdir'), up('/a'), up('/b'), up('/c'), run('start'), up('/d')])).toEqual(['mkdir', ['/a', '/b', '/c'], 'start', ['/d']]);
  });

  it('never puts two uploads of the same file in one step', () => {
    expect(shape([up('/a'), up('/b'), up('/a'), up('/c')])).toEqual([
      ['/a', '/b'],
      ['/a', '/c'],
    ]);
  });

  it('groups consecutive commands into one sequence; an upload or a confirmation ends it', () => {
    expect(shape([run('add'), run('set'), run('up'), up('/a'), run('start'), run('check'), confirm, run('after')])).toEqual(['add+set+up', ['/a'], 'start+check', 'confirm', 'after']);
  });

  it('does not mix commands with a time limit of their own and commands without one', () => {
    const timed = (text: string): Action => ({ kind: 'run', cmd: sh`${text}`, describe: text, timeoutMs: 1000 });
    expect(shape([run('a'), timed('b'), timed('c'), run('d'), run('e')])).toEqual(['a', 'b+c', 'd+e']);
  });

  it('keeps every action once, in its order', () => {
    const actions = [up('/x'), run('one'), run('two'), confirm, up('/y'), up('/z'), run('three')];
    expect(flat(applySteps(actions))).toEqual(actions);
    expect(applySteps([])).toEqual([]);
  });
});
