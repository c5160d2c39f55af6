import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { editSysctlConf, normalizeSysctlValue, parseSysctlConf, parseSysctlFileResult, parseSysctlValue, sameSysctlName, SYSCTL_NAME, sysctlFileCommand, sysctlValueCommand } from './sysctl.js';

describe('sysctl value fact', () => {
  // Captured in a fresh network namespace.
  it('normalises the tab of a multi-value key', () => {
    expect(parseSysctlValue({ exitCode: 0, stdout: '32768\t60999\n', stderr: '' })).toEqual({ exists: true, value: '32768 60999' });
    expect(parseSysctlValue({ exitCode: 0, stdout: '4096\t131072\t33554432\n', stderr: '' })).toEqual({ exists: true, value: '4096 131072 33554432' });
    expect(normalizeSysctlValue('  1 \t 2\n')).toBe('1 2');
  });

  it('an unknown key is reported with sysctl\'s own message', () => {
    const r = { exitCode: 1, stdout: '', stderr: 'sysctl: cannot stat /proc/sys/net/ipv4/nope: No such file or directory\n' };
    expect(parseSysctlValue(r)).toEqual({ exists: false, error: 'sysctl: cannot stat /proc/sys/net/ipv4/nope: No such file or directory' });
  });

  it('the command reads a real key on this machine (read only)', () => {
    const out = execFileSync('/bin/sh', ['-c', sysctlValueCommand('net.ipv4.ip_local_port_range').text], { encoding: 'utf8' });
    const v = parseSysctlValue({ exitCode: 0, stdout: out, stderr: '' });
    expect(v.exists && /^\d+ \d+$/.test(v.value)).toBe(true);
    expect(sysctlValueCommand("a'b").text).toBe("LC_ALL=C sysctl -n -- 'a'\\''b'");
  });

  it('names', () => {
    expect(SYSCTL_NAME.test('net.ipv4.conf.eth0/100.forwarding')).toBe(true);
    expect(SYSCTL_NAME.test('net.ipv4 x')).toBe(false);
    expect(SYSCTL_NAME.test('-x')).toBe(false);
    expect(sameSysctlName('net/ipv4/ip_forward', 'net.ipv4.ip_forward')).toBe(true);
  });
});

describe('sysctl file', () => {
  const FILE = '# kept\nnet.ipv4.ip_forward = 0\n; also kept\n\nvm.swappiness=10\n-net.ipv6.conf.all.forwarding = 1\nnet.ipv4.ip_forward=1\n';

  it('parses key = value lines, skipping comments and blanks', () => {
    expect(parseSysctlConf(FILE)).toEqual([
      { index: 1, key: 'net.ipv4.ip_forward', value: '0' },
      { index: 4, key: 'vm.swappiness', value: '10' },
      { index: 5, key: 'net.ipv6.conf.all.forwarding', value: '1' },
      { index: 6, key: 'net.ipv4.ip_forward', value: '1' },
    ]);
  });

  it('sets a key in place of its first line and drops duplicates', () => {
    expect(editSysctlConf(FILE, 'net.ipv4.ip_forward', '1')).toBe('# kept\nnet.ipv4.ip_forward=1\n; also kept\n\nvm.swappiness=10\n-net.ipv6.conf.all.forwarding = 1\n');
  });

  it('appends a new key; creates a new file', () => {
    expect(editSysctlConf('a.b=1', 'c.d', '2 3')).toBe('a.b=1\nc.d=2 3\n');
    expect(editSysctlConf('', 'c.d', '2\t3')).toBe('c.d=2 3\n');
  });

  it('removes a key', () => {
    expect(editSysctlConf(FILE, 'net.ipv4.ip_forward', null)).toBe('# kept\n; also kept\n\nvm.swappiness=10\n-net.ipv6.conf.all.forwarding = 1\n');
    expect(editSysctlConf('x.y=1\n', 'x.y', null)).toBe('');
  });

  it('leaves the text alone when it already says so (whitespace-normalised)', () => {
    const t = 'net.ipv4.ip_local_port_range = 32768\t60999\n';
    expect(editSysctlConf(t, 'net.ipv4.ip_local_port_range', '32768 60999')).toBe(t);
    expect(editSysctlConf(t, 'other.key', null)).toBe(t);
  });

  it('the file command tells absent (3) from present, through a real shell', () => {
    const run = (path: string) => {
      try {
        return { exitCode: 0, stdout: execFileSync('/bin/sh', ['-c', sysctlFileCommand(path).text], { encoding: 'utf8' }), stderr: '' };
      } catch (e) {
        const x = e as { status: number; stdout: string; stderr: string };
        return { exitCode: x.status, stdout: x.stdout, stderr: x.stderr };
      }
    };
    expect(parseSysctlFileResult(run('/nonexistent/underlay/x.conf'))).toEqual({ exists: false, text: '', entries: [] });
    const hostname = parseSysctlFileResult(run('/etc/passwd'));
    expect('exists' in hostname && hostname.exists).toBe(true);
    expect(parseSysctlFileResult({ exitCode: 1, stdout: '', stderr: 'cat: x: Permission denied' })).toEqual({ error: 'cat: x: Permission denied' });
  });
});
