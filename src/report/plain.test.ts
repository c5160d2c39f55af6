import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatRecap, unifiedDiff } from './plain.js';

/** GNU diff -u as the reference, minus its header lines. */
function gnuDiff(a: string, b: string): string {
  const d = mkdtempSync(join(tmpdir(), 'ul-diff-'));
  writeFileSync(join(d, 'a'), a);
  writeFileSync(join(d, 'b'), b);
  try {
    execFileSync('diff', ['-u', join(d, 'a'), join(d, 'b')], { encoding: 'utf8' });
    return '';
  } catch (e) {
    return String((e as { stdout: string }).stdout).split('\n').slice(2).join('\n');
  }
}

describe('unifiedDiff', () => {
  it.each([
    ['one line changed', 'host a\nextra first\n', 'host a\nextra second\n'],
    ['added at end', 'a\nb\n', 'a\nb\nc\n'],
    ['removed at start', 'x\na\nb\n', 'a\nb\n'],
    ['two hunks', Array.from({ length: 20 }, (_, i) => `l${i}`).join('\n') + '\n', Array.from({ length: 20 }, (_, i) => (i === 2 || i === 17 ? `L${i}` : `l${i}`)).join('\n') + '\n'],
    ['from empty', '', 'new\nfile\n'],
    ['to empty', 'old\n', ''],
  ])('%s: same hunks as GNU diff -u', (_name, a, b) => {
    const ours = unifiedDiff(a, b, 'f', 'f').split('\n').slice(2).join('\n');
    expect(ours).toBe(gnuDiff(a, b));
  });

  it('nothing for equal texts', () => {
    expect(unifiedDiff('a\n', 'a\n', 'x', 'x')).toBe('');
  });
});

describe('formatRecap', () => {
  it('aligns host names and lists every counter', () => {
    expect(formatRecap({ w1: { ok: 3, changed: 1, failed: 0, skipped: 2, unreachable: 0, ignored: 0, durationMs: 1500 }, 'worker-long': { ok: 0, changed: 0, failed: 0, skipped: 0, unreachable: 1, ignored: 0, durationMs: 20 } })).toBe(
      'w1          : ok=3 changed=1 unreachable=0 failed=0 skipped=2 ignored=0  1.50s\nworker-long : ok=0 changed=0 unreachable=1 failed=0 skipped=0 ignored=0  20ms\n',
    );
  });
});
