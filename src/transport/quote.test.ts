import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { argv, isSimpleCommand, join, quote, raw, runsInPlace, sh, subshell } from './quote.js';

// Round trip through a real POSIX shell (dash on Debian): printf each word on its own line.
function words(cmd: string): string[] {
  const out = execFileSync('/bin/sh', ['-c', `for w in ${cmd}; do :; done; set -- ${cmd}; for w in "$@"; do printf '%s\\0' "$w"; done`], { encoding: 'utf8' });
  return out.split('\0').slice(0, -1);
}

const hostile = [
  '',
  ' ',
  "it's",
  "'",
  "''",
  '"',
  '$(touch /tmp/pwned)',
  '`id`',
  '$HOME',
  '${IFS}',
  'a b\tc\nd',
  '*',
  '?',
  '[a]',
  '~',
  '~root',
  '-n',
  '--',
  ';rm -rf /',
  '&& echo no',
  '| cat',
  '> /tmp/x',
  '\\',
  '\\\'',
  'ünïcødé ✓',
  '#comment',
  '!',
  '%s%n',
  'a=b',
  '{a,b}',
  '\r\n',
  "'\"'\"'",
];

describe('quote', () => {
  it.each(hostile.map((h) => [JSON.stringify(h), h]))('survives a real sh unchanged: %s', (_label, h) => {
    expect(words(quote(h))).toEqual([h]);
  });

  it('leaves safe words bare and quotes the rest', () => {
    expect(quote('eth1')).toBe('eth1');
    expect(quote('192.168.1.0/29')).toBe('192.168.1.0/29');
    expect(quote('a b')).toBe("'a b'");
    expect(quote("it's")).toBe("'it'\\''s'");
    expect(quote('')).toBe("''");
  });

  it('refuses a NUL byte', () => {
    expect(() => quote('a\0b')).toThrow(/NUL/);
  });
});

describe('sh tag', () => {
  it('quotes every interpolated value, and each array element as its own word', () => {
    const cmd = sh`printf '%s\\0' ${hostile}`;
    const out = execFileSync('/bin/sh', ['-c', cmd.text], { encoding: 'utf8' });
    expect(out.split('\0').slice(0, -1)).toEqual(hostile);
  });

  it('inserts nested commands and raw text as they are', () => {
    const inner = sh`echo ${'a b'}`;
    expect(sh`${inner} | tr a x`.text).toBe("echo 'a b' | tr a x");
    expect(join([sh`true`, raw('false')], '||').text).toBe('true || false');
    expect(argv(['ip', 'link', 'show', 'dev x']).text).toBe("ip link show 'dev x'");
  });

  it('subshell survives hostile content', () => {
    const cmd = subshell(sh`printf %s ${"$(id) 'q' \"d\""}`);
    expect(execFileSync('/bin/sh', ['-c', cmd.text], { encoding: 'utf8' })).toBe("$(id) 'q' \"d\"");
  });
});

describe('simple commands (run without eval)', () => {
  it('a sh command of plain literals and quoted values is simple, whatever the values hold', () => {
    const cmd = sh`printf %s\\n ${hostile}`;
    // The literal holds a backslash: not plain.
    expect(isSimpleCommand(cmd)).toBe(false);
    const plain = sh`ip -j -d link show dev ${'eth1'} -- ${hostile}`;
    expect(isSimpleCommand(plain)).toBe(true);
    expect(isSimpleCommand(argv(['ovs-vsctl', '--format=json', ...hostile]))).toBe(true);
    expect(isSimpleCommand(sh`LC_ALL=C sysctl -n -- ${'net.ipv4.ip_forward'}`)).toBe(true);
    // Nested plain commands keep it plain; anything else does not.
    expect(isSimpleCommand(sh`timeout 5 ${argv(['ip', 'link'])}`)).toBe(true);
    expect(isSimpleCommand(sh`timeout 5 ${raw('ip link')}`)).toBe(false);
  });

  it('operators, redirections, expansions, newlines, reserved words and empty text are not simple', () => {
    for (const c of [
      sh`ip link; true`,
      sh`ip link && true`,
      sh`ip link | cat`,
      sh`ip link >/dev/null`,
      sh`echo $HOME`,
      sh`echo ${'x'}
false`,
      sh`if ${'true'}`,
      sh`then`,
      sh`${'while'} true`,
      sh`in x`,
      sh``,
      sh`   `,
      join([sh`true`, sh`false`], '&&'),
      raw('id -u'),
    ]) {
      expect(isSimpleCommand(c), c.text).toBe(false);
    }
  });

  it('every simple command is valid syntax in a real sh, and its values arrive unchanged', () => {
    const cmd = sh`printf %s/ ${hostile}`;
    expect(isSimpleCommand(cmd)).toBe(true);
    // As the remote shell frames it: in a subshell, without eval, followed by more script.
    const out = execFileSync('/bin/sh', ['-c', `( ${cmd.text} ) </dev/null; echo "|rc=$?"`], { encoding: 'utf8' });
    expect(out).toBe(hostile.map((h) => `${h}/`).join('') + '|rc=0\n');
  });
});

describe('runsInPlace', () => {
  it('an external program or a harmless builtin, written out unquoted, runs in the shell itself', () => {
    for (const c of [
      sh`ip -j -d addr show`,
      sh`ip -j link show dev ${'eth1'} -- ${hostile}`,
      argv(['ovs-vsctl', '--format=json', ...hostile]),
      sh`LC_ALL=C sysctl -n -- ${'net.ipv4.ip_forward'}`,
      sh`LC_ALL=C LANG=C stat -c %a ${'/tmp/a b'}`,
      sh`/usr/bin/env true`,
      sh`test -e ${'/proc/sys/net/bridge/x'}`,
      sh`printf %s ${"it's"}`,
      sh`timeout 5 ${argv(['ip', 'link'])}`,
    ]) {
      expect(runsInPlace(c), c.text).toBe(true);
    }
  });

  it('a builtin that changes the shell, an assignment alone, a quoted command word, anything not simple: in a subshell', () => {
    for (const c of [
      sh`cd ${'/'}`,
      sh`${'cd'} /`,
      sh`chdir /`,
      sh`exit 1`,
      sh`exec ip link`,
      sh`eval ${'x=1'}`,
      sh`export A=1`,
      sh`readonly A=1`,
      sh`unset PATH`,
      sh`set -e`,
      sh`shift`,
      sh`: ${'x'}`,
      sh`. /etc/profile`,
      sh`source /etc/profile`,
      sh`read x`,
      sh`trap ${'echo'} EXIT`,
      sh`umask 077`,
      sh`ulimit -n 1`,
      sh`hash -r`,
      sh`alias ip=true`,
      sh`local x`,
      sh`wait`,
      sh`command ip link`,
      sh`getopts ab x`,
      sh`A=1`,
      sh`A=1 B=2`,
      sh`A=1 test -e /`,
      sh`A=1 :`,
      sh`${'ip link'} show`,
      sh`${"i'p"} show`,
      sh`${''} x`,
      sh`ip link; true`,
      sh`ip link >/dev/null`,
      sh`if ${'true'}`,
      raw('ip link'),
    ]) {
      expect(runsInPlace(c), c.text).toBe(false);
    }
  });

  it('in a real sh, what runs in place leaves the shell as it was and gets its values unchanged', () => {
    const cmds = [sh`printf %s/ ${hostile}`, sh`LC_ALL=C env`, sh`test -e ${'/nonexistent'}`, sh`true ${'$(exit 3)'}`, sh`kill -0 ${process.pid}`];
    for (const c of cmds) expect(runsInPlace(c), c.text).toBe(true);
    const state = 'printf "|%s|%s|%s|%s|%s|\\n" "$PWD" "$-" "${LC_ALL-unset}" "$#" "$(umask)"';
    const script = [state, ...cmds.map((c) => `${c.text} </dev/null >/dev/null; echo "rc=$?"; hash -r`), state].join('\n');
    const out = execFileSync('/bin/sh', ['-c', script], { encoding: 'utf8', cwd: '/tmp', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    const lines = out.split('\n').slice(0, -1);
    expect(lines.slice(1, -1)).toEqual(['rc=0', 'rc=0', 'rc=1', 'rc=0', 'rc=0']);
    expect(lines[0]).toMatch(/^\|\/tmp\|[^|]*\|unset\|0\|\d+\|$/);
    expect(lines[lines.length - 1]).toBe(lines[0]);
    // the values arrive unchanged
    const printed = execFileSync('/bin/sh', ['-c', `${sh`printf %s/ ${hostile}`.text} </dev/null; echo "|rc=$?"; hash -r`], { encoding: 'utf8' });
    expect(printed).toBe(hostile.map((h) => `${h}/`).join('') + '|rc=0\n');
  });
});
