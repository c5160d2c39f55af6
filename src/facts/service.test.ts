import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { scriptText } from '../transport/contained.js';
import { parseProcStat, parseServiceFacts, serviceFactCommand, SERVICE_NAME } from './service.js';

// Captured inside a private mount namespace: serviceFactCommand('ul-demo') with nothing defined;
// defined (exec sleep 300, env A='b c') and enabled but not running; running (pid 8681);
// and after a SIGKILL (a zombie: nobody had reaped it yet).
const UNDEFINED = "init=supervised\n";
const STOPPED = "init=supervised\ndef=ewogICJuYW1lIjogInVsLWRlbW8iLAogICJleGVjIjogWwogICAgInNsZWVwIiwKICAgICIzMDAiCiAgXSwKICAiZW52IjogewogICAgIkEiOiAiYiBjIgogIH0sCiAgIndvcmtkaXIiOiAiLyIKfQo=\nlauncher=IyEvYmluL3NoCiMgU2VydmljZSB1bC1kZW1vLCBzdXBlcnZpc2VkIGJ5IHVuZGVybGF5OiBnZW5lcmF0ZWQgZnJvbSB1bC1kZW1vLmpzb24sIGRvIG5vdCBlZGl0Lgp1bWFzayAwMjIKY2QgLS0gLyB8fCBleGl0IDEKUEFUSD0vdXNyL2xvY2FsL3NiaW46L3Vzci9sb2NhbC9iaW46L3Vzci9zYmluOi91c3IvYmluOi9zYmluOi9iaW47IGV4cG9ydCBQQVRICmV4cG9ydCBBPSdiIGMnCnVsX3M9JChjYXQgL3Byb2MvJCQvc3RhdCkgJiYgdWxfcz0ke3VsX3MjIyoiKSAifSAmJiBzZXQgLS0gJHVsX3MgJiYgZWNobyAiJHsyMH0iID4gL3J1bi91bmRlcmxheS91bC1kZW1vLnN0YXJ0IHx8IGV4aXQgMQplY2hvICQkID4gL3J1bi91bmRlcmxheS91bC1kZW1vLnBpZC5uZXcgJiYgbXYgLWYgLS0gL3J1bi91bmRlcmxheS91bC1kZW1vLnBpZC5uZXcgL3J1bi91bmRlcmxheS91bC1kZW1vLnBpZCB8fCBleGl0IDEKZXhlYyBzbGVlcCAzMDAK\nenabled_flag=1\n";
const RUNNING = "init=supervised\ndef=ewogICJuYW1lIjogInVsLWRlbW8iLAogICJleGVjIjogWwogICAgInNsZWVwIiwKICAgICIzMDAiCiAgXSwKICAiZW52IjogewogICAgIkEiOiAiYiBjIgogIH0sCiAgIndvcmtkaXIiOiAiLyIKfQo=\nlauncher=IyEvYmluL3NoCiMgU2VydmljZSB1bC1kZW1vLCBzdXBlcnZpc2VkIGJ5IHVuZGVybGF5OiBnZW5lcmF0ZWQgZnJvbSB1bC1kZW1vLmpzb24sIGRvIG5vdCBlZGl0Lgp1bWFzayAwMjIKY2QgLS0gLyB8fCBleGl0IDEKUEFUSD0vdXNyL2xvY2FsL3NiaW46L3Vzci9sb2NhbC9iaW46L3Vzci9zYmluOi91c3IvYmluOi9zYmluOi9iaW47IGV4cG9ydCBQQVRICmV4cG9ydCBBPSdiIGMnCnVsX3M9JChjYXQgL3Byb2MvJCQvc3RhdCkgJiYgdWxfcz0ke3VsX3MjIyoiKSAifSAmJiBzZXQgLS0gJHVsX3MgJiYgZWNobyAiJHsyMH0iID4gL3J1bi91bmRlcmxheS91bC1kZW1vLnN0YXJ0IHx8IGV4aXQgMQplY2hvICQkID4gL3J1bi91bmRlcmxheS91bC1kZW1vLnBpZC5uZXcgJiYgbXYgLWYgLS0gL3J1bi91bmRlcmxheS91bC1kZW1vLnBpZC5uZXcgL3J1bi91bmRlcmxheS91bC1kZW1vLnBpZCB8fCBleGl0IDEKZXhlYyBzbGVlcCAzMDAK\nenabled_flag=1\nstart_ticks=789605\npid=8681\nstat=ODY4MSAoc2xlZXApIFMgMSA4NjgxIDg2ODEgMCAtMSA0MTk0MzA0IDI0OCAyMTIgMCAwIDAgMCAwIDAgMjAgMCAxIDAgNzg5NjA1IDI5OTAwODAgNDI0IDE4NDQ2NzQ0MDczNzA5NTUxNjE1IDk0MzM4NzkxOTUyMzg0IDk0MzM4NzkxOTcwMzEzIDE0MDcyNTM5NTcyMjM4NCAwIDAgMCAwIDYgMCAxIDAgMCAxNyAwIDAgMCAwIDAgMCA5NDMzODc5MTk4NDQwMCA5NDMzODc5MTk4NTY2NCA5NDMzOTc0NTk3NjMyMCAxNDA3MjUzOTU3MjgwNTUgMTQwNzI1Mzk1NzI4MDY1IDE0MDcyNTM5NTcyODA2NSAxNDA3MjUzOTU3MzA0MDkgMAo=\ncmdline=c2xlZXAAMzAwAA==\n";
const ZOMBIE = "init=supervised\ndef=ewogICJuYW1lIjogInVsLWRlbW8iLAogICJleGVjIjogWwogICAgInNsZWVwIiwKICAgICIzMDAiCiAgXSwKICAiZW52IjogewogICAgIkEiOiAiYiBjIgogIH0sCiAgIndvcmtkaXIiOiAiLyIKfQo=\nlauncher=IyEvYmluL3NoCiMgU2VydmljZSB1bC1kZW1vLCBzdXBlcnZpc2VkIGJ5IHVuZGVybGF5OiBnZW5lcmF0ZWQgZnJvbSB1bC1kZW1vLmpzb24sIGRvIG5vdCBlZGl0Lgp1bWFzayAwMjIKY2QgLS0gLyB8fCBleGl0IDEKUEFUSD0vdXNyL2xvY2FsL3NiaW46L3Vzci9sb2NhbC9iaW46L3Vzci9zYmluOi91c3IvYmluOi9zYmluOi9iaW47IGV4cG9ydCBQQVRICmV4cG9ydCBBPSdiIGMnCnVsX3M9JChjYXQgL3Byb2MvJCQvc3RhdCkgJiYgdWxfcz0ke3VsX3MjIyoiKSAifSAmJiBzZXQgLS0gJHVsX3MgJiYgZWNobyAiJHsyMH0iID4gL3J1bi91bmRlcmxheS91bC1kZW1vLnN0YXJ0IHx8IGV4aXQgMQplY2hvICQkID4gL3J1bi91bmRlcmxheS91bC1kZW1vLnBpZC5uZXcgJiYgbXYgLWYgLS0gL3J1bi91bmRlcmxheS91bC1kZW1vLnBpZC5uZXcgL3J1bi91bmRlcmxheS91bC1kZW1vLnBpZCB8fCBleGl0IDEKZXhlYyBzbGVlcCAzMDAK\nenabled_flag=1\nstart_ticks=789605\npid=8681\nstat=ODY4MSAoc2xlZXApIFogMSA4NjgxIDg2ODEgMCAtMSA0MjI4MTA4IDI0OCAyMTIgMCAwIDAgMCAwIDAgMjAgMCAxIDAgNzg5NjA1IDAgMCAxODQ0Njc0NDA3MzcwOTU1MTYxNSAwIDAgMCAwIDAgMCAwIDYgMCAxIDAgMCAxNyAwIDAgMCAwIDAgMCAwIDAgMCAwIDAgMCAwIDkK\ncmdline=\n";

describe('service fact parser', () => {
  it('nothing defined', () => {
    expect(parseServiceFacts(UNDEFINED)).toEqual({ init: 'supervised', def: null, launcher: null, enabledFlag: false, pid: null, recordedStart: null, stat: null, cmdline: null });
  });

  it('defined and enabled, not running', () => {
    const f = parseServiceFacts(STOPPED);
    if (f.init !== 'supervised') throw new Error('supervised expected');
    expect(JSON.parse(f.def!)).toEqual({ name: 'ul-demo', exec: ['sleep', '300'], env: { A: 'b c' }, workdir: '/' });
    expect(f.launcher).toMatch(/^#!\/bin\/sh\n/);
    expect(f.enabledFlag).toBe(true);
    expect(f.pid).toBeNull();
  });

  it('running: pid, /proc/PID/stat and cmdline', () => {
    const f = parseServiceFacts(RUNNING);
    if (f.init !== 'supervised') throw new Error('supervised expected');
    expect(f.pid).toBe(8681);
    expect(f.recordedStart).toBe('789605');
    expect(f.stat).toEqual({ pid: 8681, state: 'S', pgrp: 8681, starttime: '789605' });
    expect(f.cmdline).toEqual(['sleep', '300']);
  });

  it('a zombie keeps its stat (state Z) and has an empty cmdline', () => {
    const f = parseServiceFacts(ZOMBIE);
    if (f.init !== 'supervised') throw new Error('supervised expected');
    expect(f.stat?.state).toBe('Z');
    expect(f.cmdline).toEqual(['']);
  });

  it('systemd output (systemctl is-active / is-enabled words)', () => {
    expect(parseServiceFacts('init=systemd\nactive=inactive\nenabled=\n')).toEqual({ init: 'systemd', active: 'inactive', enabled: 'not-found', unit: null });
    const unit = Buffer.from('[Service]\nExecStart=/bin/true\n').toString('base64');
    expect(parseServiceFacts(`init=systemd\nactive=active\nenabled=enabled\nunit=${unit}\n`)).toEqual({ init: 'systemd', active: 'active', enabled: 'enabled', unit: '[Service]\nExecStart=/bin/true\n' });
    expect(() => parseServiceFacts('garbage')).toThrow(/unexpected output/);
  });

  it('/proc/PID/stat with spaces and parentheses in the command name', () => {
    expect(parseProcStat('42 (a) b (c)) R 1 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 12345 0 0')).toEqual({ pid: 42, state: 'R', pgrp: 42, starttime: '12345' });
    expect(parseProcStat('garbage')).toBeNull();
    // this very process, read the way the fact reads it
    const self = parseProcStat(execFileSync('cat', [`/proc/${process.pid}/stat`], { encoding: 'utf8' }));
    expect(self?.pid).toBe(process.pid);
    expect(self?.starttime).toMatch(/^\d+$/);
  });

  it('the command runs under dash on a host without the service (read only)', () => {
    const out = execFileSync('/bin/sh', ['-c', scriptText(serviceFactCommand('ul-no-such-service-here'))], { encoding: 'utf8' });
    const f = parseServiceFacts(out);
    expect(f.init === 'systemd' ? f.enabled : f.def).toBe(f.init === 'systemd' ? 'not-found' : null);
  });

  it('names become file names: no slash, no leading dot or dash', () => {
    expect(['web', 'ovs-vswitchd', 'getty@tty1', 'a.b_c'].every((n) => SERVICE_NAME.test(n))).toBe(true);
    expect(['../x', 'a/b', '-x', '.hidden', 'a b', ''].some((n) => SERVICE_NAME.test(n))).toBe(false);
  });
});
