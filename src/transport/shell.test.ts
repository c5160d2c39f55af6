import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { contained, raw, sh } from './quote.js';
import { frameCommand } from './shell.js';

const MARK = 'UL_m:1:';
const DELIM = 'UL_D';
/** Runs framed commands one after another in one real sh, as the persistent remote shell does. */
function persistent(script: string, env: Record<string, string> = {}, args: string[] = []): string {
  return execFileSync('/bin/sh', ['-s', ...args], { input: script, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: '/usr/bin:/bin', ...env } });
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

  it('runs a contained script (contained.ts) as a function in the shell itself, anything it may not do in a subshell', () => {
    const ok = contained(raw('if [ -d / ]; then return 3; fi'));
    expect(frameCommand(ok, MARK, DELIM, {})).toMatch(/^__ul_c\(\) \{\nif \[ -d \/ \]; then return 3; fi\n\}; __ul_c <\/dev\/null; __ul_rc=\$\?; hash -r;/);
    // elsewhere than in the shell itself it is still a function (it ends with return)
    expect(frameCommand(ok, MARK, DELIM, { timeoutMs: 1000 })).toMatch(/^timeout -k 2 1\.000 sh -c '__ul_c\(\) \{\n.*\n\}; __ul_c' <\/dev\/null;/);
    expect(frameCommand(ok, MARK, DELIM, { cwd: '/tmp' })).toMatch(/^\( cd -- \/tmp \|\| exit ; eval '__ul_c\(\) \{\n.*\n\}; __ul_c' \) <\/dev\/null;/);
    // what the lint refuses runs in a subshell, still as a function
    expect(frameCommand(contained(raw('cd /; exit 4')), MARK, DELIM, {})).toMatch(/^\( eval '__ul_c\(\) \{\ncd \/; exit 4\n\}; __ul_c' \) <\/dev\/null;/);
  });

  it('in a real sh: a contained script starts its programs from the shell itself, returns its code, reads no stdin and leaves the shell as it was', () => {
    const script = [
      frameCommand(raw('echo "[$#:${1-}]"'), MARK, DELIM, {}),
      // the program's parent is the persistent shell ($$): no subshell in between
      frameCommand(contained(raw('ul_parent=$(echo "$$"); sh -c \'echo "$PPID"\'; echo "$ul_parent"')), MARK, DELIM, {}),
      // the same in a subshell, for contrast: the parent is the subshell
      frameCommand(raw('sh -c \'echo "$PPID"\'; echo "$$"'), MARK, DELIM, {}),
      frameCommand(contained(raw('set -- a b c; if [ $# -eq 3 ]; then return 3; fi; echo not here')), MARK, DELIM, {}),
      // its stdin is /dev/null, not the rest of the script
      frameCommand(contained(raw('if read -r ul_line; then echo "read [$ul_line]"; else echo "no stdin"; fi')), MARK, DELIM, {}),
      frameCommand(contained(raw('cd /; exit 4')), MARK, DELIM, {}),
      // a failing redirection: of a regular builtin in place, of a special one (which would
      // end the shell) refused by the lint, so in a subshell
      frameCommand(contained(raw('true > /nonexistent/ul-dir/f')), MARK, DELIM, {}),
      frameCommand(contained(raw(': > /nonexistent/ul-dir/f')), MARK, DELIM, {}),
      frameCommand(raw('echo "[$#:${1-}][$PWD]"'), MARK, DELIM, {}),
    ].join('');
    const out = persistent(script, {}, ['kept']).split('\n').filter((l) => l !== '');
    expect(out.slice(0, 2)).toEqual(['[1:kept]', `${MARK}0`]);
    const [inPlaceChild, shellPid] = [out[2], out[3]];
    expect(inPlaceChild).toMatch(/^\d+$/);
    expect(inPlaceChild).toBe(shellPid);
    expect(out[4]).toBe(`${MARK}0`);
    expect(out[5]).not.toBe(out[6]); // from a subshell: the child's parent is not the shell
    expect(out.slice(7)).toEqual([`${MARK}0`, `${MARK}3`, 'no stdin', `${MARK}0`, `${MARK}4`, `${MARK}2`, `${MARK}2`, `[1:kept][${process.cwd()}]`, `${MARK}0`]);
  });
});
