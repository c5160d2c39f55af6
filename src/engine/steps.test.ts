import { describe, expect, it } from 'vitest';
import type { Action } from '../modules/types.js';
import { sh } from '../transport/quote.js';
import { applySteps } from './steps.js';

const up = (path: string): Action => ({ kind: 'upload', path, content: path, describe: `write ${path}` });
const run = (text: string): Action => ({ kind: 'run', cmd: sh`${text}`, describe: text });
const shape = (actions: Action[]) =>
  applySteps(actions).map((s) => (s.kind === 'uploads' ? s.uploads.map((u) => u.path) : s.action.describe));

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

  it('keeps every action once, in its order', () => {
    const actions = [up('/x'), run('one'), { kind: 'confirm', cmd: sh`true`, describe: 'confirm', timeoutMs: 1000 } as Action, up('/y'), up('/z')];
    const flat = applySteps(actions).flatMap((s) => (s.kind === 'uploads' ? s.uploads : [s.action]));
    expect(flat).toEqual(actions);
    expect(applySteps([])).toEqual([]);
  });
});
