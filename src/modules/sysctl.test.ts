/**
 * The sysctl module's decisions, data-driven: parameters + facts parsed from real output
 * (sysctl -n in a fresh network namespace; sysctl.d file text) -> exact actions.
 */
import { describe, expect, it } from 'vitest';
import { parseSysctlFileResult, parseSysctlValue } from '../facts/sysctl.js';
import { containedProblem } from '../transport/contained.js';
import { checkParams } from './params.js';
import { sysctl, type SysctlObserved, type SysctlParams } from './sysctl.js';
import type { Decision, ModuleDef } from './types.js';

// `sysctl -n net.ipv4.ip_local_port_range` in a fresh network namespace
const RANGE = { exitCode: 0, stdout: '32768\t60999\n', stderr: '' };
const FORWARD_OFF = { exitCode: 0, stdout: '0\n', stderr: '' };
const UNKNOWN = { exitCode: 1, stdout: '', stderr: 'sysctl: cannot stat /proc/sys/net/ipv4/nope: No such file or directory\n' };
const NO_FILE = { exitCode: 3, stdout: '', stderr: '' };
const file = (text: string) => ({ exitCode: 0, stdout: text, stderr: '' });

function decide(args: Record<string, unknown>, value: typeof RANGE, f: typeof RANGE): Decision {
  const { params, errors } = checkParams(sysctl as unknown as ModuleDef, args, { loadTime: false });
  expect(errors.map((e) => e.message)).toEqual([]);
  const o: SysctlObserved = { runtime: parseSysctlValue(value), file: parseSysctlFileResult(f) };
  return sysctl.decide(params as SysctlParams, o, { checkMode: false, vars: {} });
}
const described = (d: Decision) => d.actions.map((a) => a.describe);

describe('sysctl: decide', () => {
  it('new setting: sysctl -w, then the file (mkdir for a new file), then sysctl -p', () => {
    const d = decide({ name: 'net.ipv4.ip_local_port_range', value: '20000 40000' }, RANGE, NO_FILE);
    expect(d.changed).toBe(true);
    expect(described(d)).toEqual([
      'sysctl -w net.ipv4.ip_local_port_range=20000 40000',
      'mkdir -p /etc/sysctl.d',
      'write /etc/sysctl.d/99-underlay.conf',
      'sysctl -p /etc/sysctl.d/99-underlay.conf',
    ]);
    expect(d.actions[0]).toMatchObject({ kind: 'run' });
    expect(d.actions[0]!.kind === 'run' && d.actions[0]!.cmd.text).toBe("sysctl -w -- 'net.ipv4.ip_local_port_range=20000 40000'");
    expect(d.actions[2]).toMatchObject({ kind: 'upload', path: '/etc/sysctl.d/99-underlay.conf', content: 'net.ipv4.ip_local_port_range=20000 40000\n' });
    expect(d.diff).toEqual([{ path: '/etc/sysctl.d/99-underlay.conf', before: '', after: 'net.ipv4.ip_local_port_range=20000 40000\n' }]);
    expect(d.result).toMatchObject({ runtime_before: '32768 60999', file_before: null, value: '20000 40000' });
  });

  it('already in the desired state: no actions (tab vs space, = with spaces)', () => {
    const d = decide({ name: 'net.ipv4.ip_local_port_range', value: '32768 60999' }, RANGE, file('# x\nnet.ipv4.ip_local_port_range = 32768\t60999\n'));
    expect(d.actions).toEqual([]);
    expect(d.changed).toBe(false);
    expect(d.msg).toBe('net.ipv4.ip_local_port_range is 32768 60999');
    const absent = decide({ name: 'net.ipv4.ip_forward', state: 'absent' }, FORWARD_OFF, file('vm.swappiness=10\n'));
    expect(absent.actions).toEqual([]);
    expect(absent.msg).toBe('net.ipv4.ip_forward is not in /etc/sysctl.d/99-underlay.conf');
  });

  it('booleans and numbers are text; only the differing half acts', () => {
    const runtimeOnly = decide({ name: 'net.ipv4.ip_forward', value: true, sysctl_file: '/tmp/x.conf' }, FORWARD_OFF, file('net.ipv4.ip_forward=1\n'));
    expect(described(runtimeOnly)).toEqual(['sysctl -w net.ipv4.ip_forward=1']);
    expect(runtimeOnly.diff).toBeUndefined();
    const fileOnly = decide({ name: 'net.ipv4.ip_forward', value: 0, reload: false }, FORWARD_OFF, file('a.b = 1\nnet.ipv4.ip_forward=1\n'));
    expect(described(fileOnly)).toEqual(['write /etc/sysctl.d/99-underlay.conf']);
    expect(fileOnly.actions[0]).toMatchObject({ content: 'a.b = 1\nnet.ipv4.ip_forward=0\n' });
  });

  it('sysctl_set false leaves the runtime alone', () => {
    const d = decide({ name: 'net.ipv4.ip_forward', value: 1, sysctl_set: false }, FORWARD_OFF, file('net.ipv4.ip_forward=1\n'));
    expect(d.actions).toEqual([]);
  });

  it('absent removes the line and keeps the rest; the runtime value stays', () => {
    const d = decide({ name: 'net.ipv4.ip_forward', state: 'absent' }, FORWARD_OFF, file('# keep\nnet.ipv4.ip_forward = 1\nvm.swappiness=10\n'));
    expect(described(d)).toEqual(['write /etc/sysctl.d/99-underlay.conf', 'sysctl -p /etc/sysctl.d/99-underlay.conf']);
    expect(d.actions[0]).toMatchObject({ content: '# keep\nvm.swappiness=10\n' });
  });

  it('an unknown key fails, unless ignoreerrors (file only)', () => {
    expect(decide({ name: 'net.ipv4.nope', value: 1 }, UNKNOWN, NO_FILE).failed).toBe('sysctl net.ipv4.nope: sysctl: cannot stat /proc/sys/net/ipv4/nope: No such file or directory');
    const d = decide({ name: 'net.ipv4.nope', value: 1, ignoreerrors: true }, UNKNOWN, NO_FILE);
    expect(described(d)).toEqual(['mkdir -p /etc/sysctl.d', 'write /etc/sysctl.d/99-underlay.conf', 'sysctl -p /etc/sysctl.d/99-underlay.conf']);
    const reload = d.actions[2]!;
    // with its redirection, run in the remote shell itself (contained.ts)
    expect(reload.kind === 'run' && [reload.cmd.contained, containedProblem(reload.cmd.text)]).toEqual([true, undefined]);
    expect(d.actions[2]!.kind === 'run' && d.actions[2]!.cmd.text).toBe('sysctl -e -p -- /etc/sysctl.d/99-underlay.conf >/dev/null');
  });

  it('refusals: bad names, relative files, missing value, unreadable file', () => {
    expect(decide({ name: 'a;b', value: 1 }, FORWARD_OFF, NO_FILE).failed).toBe("sysctl: bad name 'a;b'");
    expect(decide({ name: 'a.b', value: 1, sysctl_file: 'x.conf' }, FORWARD_OFF, NO_FILE).failed).toMatch(/absolute path/);
    expect(decide({ name: 'a.b', value: { x: 1 } }, FORWARD_OFF, NO_FILE).failed).toMatch(/value must be/);
    expect(decide({ name: 'a.b', value: 1 }, FORWARD_OFF, { exitCode: 1, stdout: '', stderr: 'cat: Permission denied' }).failed).toBe('sysctl: cannot read /etc/sysctl.d/99-underlay.conf: cat: Permission denied');
    const { errors } = checkParams(sysctl as unknown as ModuleDef, { name: 'a.b' }, { loadTime: false });
    expect(errors.map((e) => e.message)).toEqual(["module 'sysctl': state=present requires parameter 'value'"]);
  });
});
