import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { argv, isSimpleCommand, join, quote, raw, sh, subshell } from './quote.js';

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
