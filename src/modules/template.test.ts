import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dirAnswer, STAT_FIXTURES, statsOutput, type StatFixtureName } from '../facts/stat.fixtures.js';
import { renderTemplateFile } from '../vars/template.js';
import { copy, parseWrite, writeCommands, type WriteTarget } from './copy.js';
import { checkParams } from './params.js';
import { template, type TemplateObserved } from './template.js';
import type { Decision, ExecResult } from './types.js';

/**
 * template's decisions: the rendered text + what observing printed (recorded statCommand
 * output of real files, STAT_FIXTURES) -> actions. Rendering itself is src/vars/template.ts.
 */
const dir = mkdtempSync(join(tmpdir(), 'ul-tpl-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const res = (stdout: string): ExecResult => ({ command: 'x', exitCode: 0, stdout, stderr: '', durationMs: 1 });

/** The output of writeCommands (one command) for what is there. */
function outputs(t: WriteTarget, dest: StatFixtureName, inside: StatFixtureName = 'nothing'): ExecResult[] {
  const stats: string[] = [STAT_FIXTURES[dest]];
  if (t.source !== undefined && !t.dest.endsWith('/')) stats.push(STAT_FIXTURES[inside]);
  return [res(statsOutput({ stats, dirs: [dirAnswer('plain')], uid: 1000, ...(t.backup ? { stamp: '2024-05-06@07:08:09' } : {}) }))];
}

function decide(args: Record<string, unknown>, rendered: string, dest: StatFixtureName, inside?: StatFixtureName, before?: string): Decision {
  const { params, errors } = checkParams(template, args, { loadTime: false });
  if (errors.length > 0) throw errors[0];
  const p = params as Parameters<typeof template.decide>[0];
  const t: WriteTarget = { dest: p.dest, source: p.src, backup: p.backup };
  const w = parseWrite(t, outputs(t, dest, inside));
  if (before !== undefined) w.facts.before = Buffer.from(before);
  const o: TemplateObserved = { ...w, source: `/play/templates/${p.src}`, content: Buffer.from(rendered) };
  expect(writeCommands(t)).toHaveLength(outputs(t, dest, inside).length);
  return template.decide(p, o, { checkMode: false, vars: {} });
}

describe('template: decide', () => {
  it('rendered text equal to the file: no actions, not changed', () => {
    const d = decide({ src: 'motd.hbs', dest: '/etc/motd' }, 'hello\n', 'a file');
    expect(d).toMatchObject({ changed: false, actions: [] });
    expect(d.result).toMatchObject({ dest: '/etc/motd', src: '/play/templates/motd.hbs', checksum_sha256: '5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03' });
  });

  it('other text: one upload keeping the mode, with the diff', () => {
    const d = decide({ src: 'motd.hbs', dest: '/etc/motd' }, 'hello web\n', 'a file', undefined, 'hello\n');
    expect(d.changed).toBe(true);
    expect(d.actions).toEqual([{ kind: 'upload', path: '/etc/motd', content: Buffer.from('hello web\n'), mode: 0o644, describe: 'upload /etc/motd (10 bytes)' }]);
    expect(d.diff).toEqual([{ path: '/etc/motd', before: 'hello\n', after: 'hello web\n' }]);
  });

  it('into a directory: DEST/basename(src)', () => {
    const d = decide({ src: 'sub/app.conf', dest: '/etc/app' }, 'x', 'plain', 'nothing');
    expect(d.actions.map((a) => (a.kind === 'upload' ? a.path : a.kind))).toEqual(['/etc/app/app.conf']);
  });

  it('plans exactly as copy does for the same content (backup, validate, mode)', () => {
    const args = { dest: '/etc/motd', backup: true, validate: 'test -s %s', mode: '0600' };
    const t = decide({ src: 'motd.hbs', ...args }, 'new\n', 'a file', undefined, 'hello\n');
    const { params } = checkParams(copy, { content: 'new\n', ...args }, { loadTime: false });
    const ct: WriteTarget = { dest: '/etc/motd', backup: true };
    const c = copy.decide(params as Parameters<typeof copy.decide>[0], { ...parseWrite(ct, outputs(ct, 'a file')), content: Buffer.from('new\n') }, { checkMode: false, vars: {} });
    expect(t.actions).toEqual(c.actions);
    expect(t.actions.map((a) => a.kind)).toEqual(['run', 'upload', 'run', 'run']);
  });

  it('src and dest are required', () => {
    expect(checkParams(template, { dest: '/x' }, { loadTime: false }).errors[0]?.message).toMatch(/missing required parameter 'src'/);
    expect(checkParams(template, { src: 'x' }, { loadTime: false }).errors[0]?.message).toMatch(/missing required parameter 'dest'/);
  });
});

describe('template: rendering used by observe', () => {
  it('is strict: an undefined variable names the file and line', () => {
    const f = join(dir, 'app.conf.hbs');
    writeFileSync(f, 'a = {{ a }}\nb = {{ b }}\n');
    expect(renderTemplateFile(f, { a: 1, b: 'x' })).toBe('a = 1\nb = x\n');
    expect(() => renderTemplateFile(f, { a: 1 })).toThrow(new RegExp(`${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2`));
  });
});
