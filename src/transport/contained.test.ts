import { describe, expect, it } from 'vitest';
import { statCommand, statsCommand } from '../facts/stat.js';
import { serviceFactCommand } from '../facts/service.js';
import { sysctlFileCommand } from '../facts/sysctl.js';
import { ovsAddCommand } from '../facts/ovs.js';
import { timerCheckCommand } from '../modules/ip_move.js';
import { settleCheckCmd } from '../modules/service.js';
import { unarchiveFactCommand } from '../modules/unarchive.js';
import { containedProblem } from './contained.js';
import { sh, type ShellCommand } from './quote.js';

const HOSTILE = ["/tmp/a b'c", '/tmp/$(exit 3)', '/tmp/x;exit 4', '/tmp/new\nline', '/tmp/`id`', '/tmp/"q"', '/tmp/${X:=1}'];

function expectContained(cmd: ShellCommand): void {
  expect(cmd.contained).toBe(true);
  expect(containedProblem(cmd.text)).toBeUndefined();
}

describe('containedProblem', () => {
  it('accepts what leaves the shell as it was', () => {
    for (const ok of [
      'if [ -e /x ]; then cat -- /x; else return 3; fi',
      'LC_ALL=C stat -c %a -- /x || return 1',
      'ul_s=; { IFS= read -r ul_s </proc/1/stat; } 2>/dev/null; set -- ${ul_s##*") "}',
      'ul_err=$(ovs-vsctl add-br x 2>&1 >/dev/null); ul_rc=$?; [ "$ul_rc" -eq 0 ] || return "$ul_rc"',
      'for ul_m in /x/*; do [ -e "$ul_m" ] && echo "${ul_m##*/}"; done',
      'ul_f() { set -- a; shift; return 0; }; ul_f',
      '__ul_d() { :; }; __ul_d',
      "sh -c 'cd /; exit 3'",
      'echo "$(cd /; exit 2)"',
      'case $ul_x in exit|cd) echo word ;; *) return 1 ;; esac',
      'ul_i=$((ul_i + 1)); [ "$ul_i" -le 3 ]',
      '[ $((ul_i <= 3)) = 1 ] && [ $((ul_i == 3)) = 1 ] || [ $((ul_i != 2)) = 1 ]',
      'set +m; setsid sh /x </dev/null >>/log 2>&1 & ul_p=$!',
      'command -v tar >/dev/null 2>&1',
      'true > /run/flag',
      '{ [ -d /x ] || mkdir -p -- /x; } && true > /x/flag',
      'return 1 >&2',
      '# a comment: exit cd export\necho ok',
      "# the shell's own comment, an apostrophe in it\necho ok",
      // single quotes hold no expansion, also inside $(...) and ${...} in double quotes
      "echo '${X:=1} $((X=2)) ${Y?}'",
      'echo "$(printf \'%s\' \'${X:=1}\')" "${ul_s##*") "}"',
      'IFS=: read -r ul_a ul_b </etc/x',
    ]) {
      expect([ok, containedProblem(ok)]).toEqual([ok, undefined]);
    }
  });

  it('refuses what would end or change the shell that runs every later command', () => {
    const cases: [string, RegExp][] = [
      ['exit 1', /exit/],
      ['if [ -e /x ]; then exec stat /x; fi', /exec/],
      ['cd /tmp', /cd/],
      ['LC_ALL=C; export LC_ALL', /LC_ALL/],
      ['x=1', /assignment to x/],
      ['PATH=/bin', /assignment to PATH/],
      ['X=1 :', /in front of :/],
      ['ul_f() { :; }; LC_ALL=C ul_f', /in front of the function ul_f/],
      ['read -r pid </x', /read into pid/],
      ['for f in a; do :; done', /for loop over f/],
      ['cd() { :; }', /cd/],
      ['f() { :; }', /function named f/],
      ['echo ${X:=1}', /assigns/],
      ['echo ${X=1}', /assigns/],
      ['echo $((X=2))', /\$\(\(/],
      ['set -e', /set -e/],
      ['set -o noglob', /set -o/],
      ['trap "" INT', /trap/],
      ['umask 077', /umask/],
      ['unset ul_x', /unset/],
      ['eval "$ul_x"', /eval/],
      ['. /etc/profile', /\./],
      ['wait', /wait/],
      ['command exit 1', /command/],
      ['cat <<EOF\nx\nEOF', /here-document/],
      ['echo `id`', /backquote/],
      ["echo 'open", /unterminated/],
      ['case $ul_x in a) ;; esac; exit', /exit/],
      ['( exit 1 )', /exit/],
      // quoting does not change what a command word runs
      ["'cd' /", /cd/],
      ['\\exit 1', /exit/],
      ['"export" X', /export/],
      // a failed redirection of a special builtin ends the shell
      [': > /run/flag', /redirection of :/],
      ['set -- a >/x', /redirection of set/],
      // expansions that assign or end the shell, quoted or nested too
      ['echo "${X:=1}"', /assigns/],
      ['echo ${ul_a:-${X=1}}', /assigns/],
      ['echo ${X?unset}', /ends the shell/],
      ['echo "${ul_x:?}"', /ends the shell/],
      ['echo "$((X=2))"', /\$\(\(/],
      ['echo $((ul_x <<= 1))', /\$\(\(/],
      ['echo $((ul_x += 1))', /\$\(\(/],
    ];
    for (const [text, why] of cases) expect([text, containedProblem(text)]).toEqual([text, expect.stringMatching(why)]);
  });

  it('passes the scripts our facts and modules mark as contained, whatever the paths and names hold', () => {
    for (const p of HOSTILE) {
      expectContained(statCommand(p, { checksum: true }));
      expectContained(statsCommand({ paths: [{ path: p, checksum: true }, { path: `${p}2` }], exists: [p], dirs: [p], uid: true, stamp: true }));
      expectContained(sysctlFileCommand(p));
      expectContained(timerCheckCommand(p, 'eth1'));
      expectContained(unarchiveFactCommand({ dest: p, creates: p, remoteSrc: p, algo: 'md5' }));
      expectContained(ovsAddCommand({}, sh`--may-exist add-br ${p}`));
    }
    for (const name of ['kubelet', 'ul-demo', 'a.b@c:d_e']) {
      expectContained(serviceFactCommand(name));
      expectContained(settleCheckCmd(name, 0.25));
    }
  });
});
