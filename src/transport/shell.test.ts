import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { raw, sh } from './quote.js';
import { frameCommand } from './shell.js';

const MARK = 'UL_m:1:';
const DELIM = 'UL_D';
/** Runs framed commands one after another in one real sh, as the persistent remote shell does. */
function persistent(script: string, env: Record<string, string> = {}): string {
  return execFileSync('/bin/sh', ['-s'], { input: script, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: '/usr/bin:/bin', ...env } });
}

describe('frameCommand', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('runs a command that cannot change the shell in the shell itself, anything else in a subshell', () => {
    expect(frameCommand(sh`ip -j -d addr show`, MARK, DELIM, {})).toMatch(/^ip -j -d addr show <\/dev\/null; __ul_rc=\$\?; hash -r;/);
    expect(frameCommand(sh`test -e ${'/x y'}`, MARK, DELIM, {})).toMatch(/^test -e '\/x y' <\/dev\/null; __ul_rc=\$\?; hash -r;/);
    // under a time limit: timeout in place, the command in its own sh -c
    expect(frameCommand(sh`sleep 1`, MARK, DELIM, { timeoutMs: 1500 })).toMatch(/^timeout -k 2 1\.500 sh -c 'sleep 1' <\/dev\/null; __ul_rc=\$\?; hash -r;/);
    // a builtin that changes the shell, compound text, cwd, env or stdin: a subshell
    expect(frameCommand(sh`cd ${'/'}`, MARK, DELIM, {})).toMatch(/^\( cd \/ \) <\/dev\/null;/);
    expect(frameCommand(raw('ip link; exit 3'), MARK, DELIM, {})).toMatch(/^\( eval 'ip link; exit 3' \) <\/dev\/null;/);
    expect(frameCommand(sh`ip link`, MARK, DELIM, { cwd: '/tmp' })).toMatch(/^\( cd -- \/tmp \|\| exit ; ip link \) <\/dev\/null;/);
    expect(frameCommand(sh`ip link`, MARK, DELIM, { env: { A: 'b' } })).toMatch(/^\( export A=b ; ip link \) <\/dev\/null;/);
    expect(frameCommand(sh`cat`, MARK, DELIM, { stdin: 'x' })).toMatch(/^base64 -d <<'UL_D' \| \( cat \); __ul_rc=\$\?;/);
    expect(frameCommand(sh`cat`, MARK, DELIM, { stdin: 'x', timeoutMs: 1000 })).toMatch(/^base64 -d <<'UL_D' \| \( exec timeout /);
  });

  it('in a real sh: exit codes, nothing leaks, and a program is found along PATH afresh each time', () => {
    const early = mkdtempSync(join(tmpdir(), 'ul-early-'));
    const late = mkdtempSync(join(tmpdir(), 'ul-late-'));
    dirs.push(early, late);
    const probe = (dir: string, word: string) => frameCommand(raw(`printf '#!/bin/sh\\necho ${word}\\n' >${dir}/ul-probe && chmod 755 ${dir}/ul-probe`), MARK, DELIM, {});
    const script = [
      frameCommand(sh`test -e ${'/nonexistent'}`, MARK, DELIM, {}),
      frameCommand(sh`cd ${'/'}`, MARK, DELIM, {}),
      frameCommand(sh`export UL_LEAK=1`, MARK, DELIM, {}),
      frameCommand(raw('echo "[$PWD][${UL_LEAK-}]"'), MARK, DELIM, {}),
      probe(late, 'late'),
      frameCommand(sh`ul-probe`, MARK, DELIM, {}),
      probe(early, 'early'),
      frameCommand(sh`ul-probe`, MARK, DELIM, {}),
      // and where a subshell looks it up after one in place found it
      frameCommand(raw(`rm ${early}/ul-probe`), MARK, DELIM, {}),
      frameCommand(sh`ul-probe`, MARK, DELIM, {}),
      probe(early, 'early again'),
      frameCommand(raw('ul-probe; true'), MARK, DELIM, {}),
      frameCommand(raw('command -v ul-probe'), MARK, DELIM, {}),
      frameCommand(sh`sh -c ${'exit 7'}`, MARK, DELIM, { timeoutMs: 5000 }),
      frameCommand(sh`ul-no-such-program`, MARK, DELIM, {}),
      frameCommand(sh`echo ${'still here'}`, MARK, DELIM, {}),
    ].join('');
    const out = persistent(script, { PATH: `${early}:${late}:/usr/bin:/bin` });
    expect(out.split('\n').filter((l) => l !== '')).toEqual([
      `${MARK}1`,
      `${MARK}0`,
      `${MARK}0`,
      `[${process.cwd()}][]`,
      `${MARK}0`,
      `${MARK}0`,
      'late',
      `${MARK}0`,
      `${MARK}0`,
      'early',
      `${MARK}0`,
      `${MARK}0`,
      'late',
      `${MARK}0`,
      `${MARK}0`,
      'early again',
      `${MARK}0`,
      `${early}/ul-probe`,
      `${MARK}0`,
      `${MARK}7`,
      `${MARK}127`,
      'still here',
      `${MARK}0`,
    ]);
  });
});
