/** runSequence on a channel without one of its own (LocalChannel: /bin/sh on this machine). */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sh } from '../transport/quote.js';
import { LocalChannel, runSequence, SKIPPED } from './channel.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ul-channel-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('runSequence without a channel of its own (one round trip per command)', () => {
  it('runs each command only while the ones before it succeeded', async () => {
    const f = join(dir, 'seq');
    let runs = 0;
    class Counting extends LocalChannel {
      override run(...a: Parameters<LocalChannel['run']>) {
        runs++;
        return super.run(...a);
      }
    }
    const rs = await Promise.all(
      runSequence(new Counting(), [
        { cmd: sh`printf a > ${f}` },
        { cmd: sh`printf b >> ${f}; exit 2`, okCodes: [0, 2] },
        { cmd: sh`cat -- ${f}; exit 1` },
        { cmd: sh`printf c >> ${f}` },
      ]),
    );
    expect(rs.map((r) => r.exitCode)).toEqual([0, 2, 1, SKIPPED]);
    expect(rs[2]!.stdout).toBe('ab');
    expect(runs).toBe(3);
    expect(readFileSync(f, 'utf8')).toBe('ab');
  });

  it('a command that throws (a lost connection) skips the rest without unhandled rejections', async () => {
    const ch = new LocalChannel();
    ch.run = async () => {
      throw new Error('connection lost');
    };
    const [first, second] = runSequence(ch, [{ cmd: sh`true` }, { cmd: sh`true` }]);
    await expect(first).rejects.toThrow('connection lost');
    expect((await second!).exitCode).toBe(SKIPPED);
  });
});
