/**
 * The service module's decisions, data-driven: parameters + facts parsed from real output
 * of the service fact command (captured in a private mount namespace) -> exact actions.
 */
import { describe, expect, it } from 'vitest';
import { parseServiceFacts, type ServiceFacts } from '../facts/service.js';
import { checkParams } from './params.js';
import { bootScript, launcherText, service, unitText, type ServiceParams } from './service.js';
import type { Action, Decision, ModuleDef } from './types.js';

// Captured inside a private mount namespace: serviceFactCommand('ul-demo') with nothing defined;
// defined (exec sleep 300, env A='b c') and enabled but not running; running (pid 8681);
// and after a SIGKILL (a zombie: nobody had reaped it yet).
const UNDEFINED = "init=supervised\n";
const STOPPED = "init=supervised\ndef=ewogICJuYW1lIjogInVsLWRlbW8iLAogICJleGVjIjogWwogICAgInNsZWVwIiwKICAgICIzMDAiCiAgXSwKICAiZW52IjogewogICAgIkEiOiAiYiBjIgogIH0sCiAgIndvcmtkaXIiOiAiLyIKfQo=\nlauncher=IyEvYmluL3NoCiMgU2VydmljZSB1bC1kZW1vLCBzdXBlcnZpc2VkIGJ5IHVuZGVybGF5OiBnZW5lcmF0ZWQgZnJvbSB1bC1kZW1vLmpzb24sIGRvIG5vdCBlZGl0Lgp1bWFzayAwMjIKY2QgLS0gLyB8fCBleGl0IDEKUEFUSD0vdXNyL2xvY2FsL3NiaW46L3Vzci9sb2NhbC9iaW46L3Vzci9zYmluOi91c3IvYmluOi9zYmluOi9iaW47IGV4cG9ydCBQQVRICmV4cG9ydCBBPSdiIGMnCnVsX3M9JChjYXQgL3Byb2MvJCQvc3RhdCkgJiYgdWxfcz0ke3VsX3MjIyoiKSAifSAmJiBzZXQgLS0gJHVsX3MgJiYgZWNobyAiJHsyMH0iID4gL3J1bi91bmRlcmxheS91bC1kZW1vLnN0YXJ0IHx8IGV4aXQgMQplY2hvICQkID4gL3J1bi91bmRlcmxheS91bC1kZW1vLnBpZC5uZXcgJiYgbXYgLWYgLS0gL3J1bi91bmRlcmxheS91bC1kZW1vLnBpZC5uZXcgL3J1bi91bmRlcmxheS91bC1kZW1vLnBpZCB8fCBleGl0IDEKZXhlYyBzbGVlcCAzMDAK\nenabled_flag=1\n";
const RUNNING = "init=supervised\ndef=ewogICJuYW1lIjogInVsLWRlbW8iLAogICJleGVjIjogWwogICAgInNsZWVwIiwKICAgICIzMDAiCiAgXSwKICAiZW52IjogewogICAgIkEiOiAiYiBjIgogIH0sCiAgIndvcmtkaXIiOiAiLyIKfQo=\nlauncher=IyEvYmluL3NoCiMgU2VydmljZSB1bC1kZW1vLCBzdXBlcnZpc2VkIGJ5IHVuZGVybGF5OiBnZW5lcmF0ZWQgZnJvbSB1bC1kZW1vLmpzb24sIGRvIG5vdCBlZGl0Lgp1bWFzayAwMjIKY2QgLS0gLyB8fCBleGl0IDEKUEFUSD0vdXNyL2xvY2FsL3NiaW46L3Vzci9sb2NhbC9iaW46L3Vzci9zYmluOi91c3IvYmluOi9zYmluOi9iaW47IGV4cG9ydCBQQVRICmV4cG9ydCBBPSdiIGMnCnVsX3M9JChjYXQgL3Byb2MvJCQvc3RhdCkgJiYgdWxfcz0ke3VsX3MjIyoiKSAifSAmJiBzZXQgLS0gJHVsX3MgJiYgZWNobyAiJHsyMH0iID4gL3J1bi91bmRlcmxheS91bC1kZW1vLnN0YXJ0IHx8IGV4aXQgMQplY2hvICQkID4gL3J1bi91bmRlcmxheS91bC1kZW1vLnBpZC5uZXcgJiYgbXYgLWYgLS0gL3J1bi91bmRlcmxheS91bC1kZW1vLnBpZC5uZXcgL3J1bi91bmRlcmxheS91bC1kZW1vLnBpZCB8fCBleGl0IDEKZXhlYyBzbGVlcCAzMDAK\nenabled_flag=1\nstart=Nzg5NjA1Cg==\npid=8681\nstat=ODY4MSAoc2xlZXApIFMgMSA4NjgxIDg2ODEgMCAtMSA0MTk0MzA0IDI0OCAyMTIgMCAwIDAgMCAwIDAgMjAgMCAxIDAgNzg5NjA1IDI5OTAwODAgNDI0IDE4NDQ2NzQ0MDczNzA5NTUxNjE1IDk0MzM4NzkxOTUyMzg0IDk0MzM4NzkxOTcwMzEzIDE0MDcyNTM5NTcyMjM4NCAwIDAgMCAwIDYgMCAxIDAgMCAxNyAwIDAgMCAwIDAgMCA5NDMzODc5MTk4NDQwMCA5NDMzODc5MTk4NTY2NCA5NDMzOTc0NTk3NjMyMCAxNDA3MjUzOTU3MjgwNTUgMTQwNzI1Mzk1NzI4MDY1IDE0MDcyNTM5NTcyODA2NSAxNDA3MjUzOTU3MzA0MDkgMAo=\ncmdline=c2xlZXAAMzAwAA==\n";
const ZOMBIE = "init=supervised\ndef=ewogICJuYW1lIjogInVsLWRlbW8iLAogICJleGVjIjogWwogICAgInNsZWVwIiwKICAgICIzMDAiCiAgXSwKICAiZW52IjogewogICAgIkEiOiAiYiBjIgogIH0sCiAgIndvcmtkaXIiOiAiLyIKfQo=\nlauncher=IyEvYmluL3NoCiMgU2VydmljZSB1bC1kZW1vLCBzdXBlcnZpc2VkIGJ5IHVuZGVybGF5OiBnZW5lcmF0ZWQgZnJvbSB1bC1kZW1vLmpzb24sIGRvIG5vdCBlZGl0Lgp1bWFzayAwMjIKY2QgLS0gLyB8fCBleGl0IDEKUEFUSD0vdXNyL2xvY2FsL3NiaW46L3Vzci9sb2NhbC9iaW46L3Vzci9zYmluOi91c3IvYmluOi9zYmluOi9iaW47IGV4cG9ydCBQQVRICmV4cG9ydCBBPSdiIGMnCnVsX3M9JChjYXQgL3Byb2MvJCQvc3RhdCkgJiYgdWxfcz0ke3VsX3MjIyoiKSAifSAmJiBzZXQgLS0gJHVsX3MgJiYgZWNobyAiJHsyMH0iID4gL3J1bi91bmRlcmxheS91bC1kZW1vLnN0YXJ0IHx8IGV4aXQgMQplY2hvICQkID4gL3J1bi91bmRlcmxheS91bC1kZW1vLnBpZC5uZXcgJiYgbXYgLWYgLS0gL3J1bi91bmRlcmxheS91bC1kZW1vLnBpZC5uZXcgL3J1bi91bmRlcmxheS91bC1kZW1vLnBpZCB8fCBleGl0IDEKZXhlYyBzbGVlcCAzMDAK\nenabled_flag=1\nstart=Nzg5NjA1Cg==\npid=8681\nstat=ODY4MSAoc2xlZXApIFogMSA4NjgxIDg2ODEgMCAtMSA0MjI4MTA4IDI0OCAyMTIgMCAwIDAgMCAwIDAgMjAgMCAxIDAgNzg5NjA1IDAgMCAxODQ0Njc0NDA3MzcwOTU1MTYxNSAwIDAgMCAwIDAgMCAwIDYgMCAxIDAgMCAxNyAwIDAgMCAwIDAgMCAwIDAgMCAwIDAgMCAwIDkK\ncmdline=\n";

type Supervised = Extract<ServiceFacts, { init: 'supervised' }>;

function decide(args: Record<string, unknown>, facts: ServiceFacts): Decision {
  const { params, errors } = checkParams(service as unknown as ModuleDef, args, { loadTime: false });
  expect(errors.map((e) => e.message)).toEqual([]);
  return service.decide(params as ServiceParams, facts, { checkMode: false, vars: {} });
}
const sup = (text: string): Supervised => parseServiceFacts(text) as Supervised;
const described = (d: Decision) => d.actions.map((a: Action) => a.describe);
const runText = (d: Decision, i: number) => {
  const a = d.actions[i];
  if (a?.kind !== 'run') throw new Error(`action ${i} is not a run action`);
  return a.cmd.text;
};

const DEMO = { name: 'ul-demo', exec: 'sleep 300', env: { A: 'b c' } };

describe('service (supervised): decide from captured facts', () => {
  it('nothing defined + started: define, then start', () => {
    const d = decide({ ...DEMO, state: 'started' }, sup(UNDEFINED));
    expect(d.changed).toBe(true);
    expect(described(d)).toEqual(['mkdir -p /etc/underlay/services', 'write /etc/underlay/services/ul-demo.json', 'write /etc/underlay/services/ul-demo.run', 'start ul-demo']);
    expect(d.actions[2]).toMatchObject({ kind: 'upload', mode: 0o755 });
    expect(runText(d, 3)).toContain('ul_start ul-demo\nsleep 1\nif ul_running ul-demo; then');
    expect(d.msg).toBe('ul-demo: defined, started');
    expect(d.diff?.[0]?.path).toBe('/etc/underlay/services/ul-demo.json');
    expect(d.finish?.([{ command: '', exitCode: 0, stdout: 'pid=4242\n', stderr: '', durationMs: 1 }])).toEqual({ pid: 4242 });
  });

  it('defined, not running + started: only start (the recorded definition is unchanged)', () => {
    const d = decide({ ...DEMO, state: 'started' }, sup(STOPPED));
    expect(described(d)).toEqual(['start ul-demo']);
    expect(d.msg).toBe('ul-demo: started');
  });

  it('already in the desired state: no actions (running; stopped; enabled)', () => {
    for (const [args, facts, msg] of [
      [{ ...DEMO, state: 'started' }, RUNNING, 'ul-demo is running (pid 8681)'],
      [{ name: 'ul-demo', state: 'started' }, RUNNING, 'ul-demo is running (pid 8681)'],
      [{ ...DEMO, state: 'stopped' }, STOPPED, 'ul-demo is stopped'],
      [{ name: 'ul-demo', enabled: true }, STOPPED, 'ul-demo is stopped, enabled'],
      [{ name: 'ul-demo', state: 'stopped' }, UNDEFINED, 'service ul-demo is not defined on this host'],
      [{ name: 'ul-demo', state: 'stopped' }, ZOMBIE, 'ul-demo is stopped'],
    ] as const) {
      const d = decide(args, sup(facts));
      expect(d.failed).toBeUndefined();
      expect(d.actions).toEqual([]);
      expect(d.changed).toBe(false);
      expect(d.msg).toBe(msg);
    }
  });

  it('running + stopped: TERM to its process group, checked by start time, then KILL', () => {
    const d = decide({ name: 'ul-demo', state: 'stopped' }, sup(RUNNING));
    expect(d.changed).toBe(true);
    expect(described(d)).toEqual(['stop ul-demo (pid 8681)']);
    const t = runText(d, 0);
    expect(t).toContain('ul_kill() { kill -s "$1" -- -8681 2>/dev/null || kill -s "$1" 8681 2>/dev/null; }');
    expect(t).toContain('if ul_alive 8681 789605; then\n  ul_kill TERM');
    expect(t).toContain('while [ "$ul_i" -lt 100 ] && ul_alive 8681 789605; do sleep 0.05;');
    expect(t).toContain('ul_kill KILL');
    expect(t).toContain('rm -f -- /run/underlay/ul-demo.pid /run/underlay/ul-demo.start');
    expect(d.result).toMatchObject({ state: 'stopped', init: 'supervised' });
  });

  it('a zombie is not running: started starts it again', () => {
    expect(described(decide({ name: 'ul-demo', state: 'started' }, sup(ZOMBIE)))).toEqual(['start ul-demo']);
  });

  it('a reused PID (another start time) is not ours: never signalled, started anew', () => {
    const reused = { ...sup(RUNNING), recordedStart: '1' };
    expect(described(decide({ name: 'ul-demo', state: 'stopped' }, reused))).toEqual([]);
    expect(described(decide({ name: 'ul-demo', state: 'started' }, reused))).toEqual(['start ul-demo']);
  });

  it('without a recorded start time, the cmdline decides', () => {
    const noStart = { ...sup(RUNNING), recordedStart: null };
    expect(decide({ name: 'ul-demo', state: 'started' }, noStart).actions).toEqual([]);
    expect(described(decide({ name: 'ul-demo', state: 'started' }, { ...noStart, cmdline: ['sleep', '301'] }))).toEqual(['start ul-demo']);
  });

  it('a changed env restarts a running service', () => {
    const d = decide({ ...DEMO, env: { A: 'other' }, state: 'started' }, sup(RUNNING));
    expect(described(d)).toEqual([
      'mkdir -p /etc/underlay/services',
      'write /etc/underlay/services/ul-demo.json',
      'write /etc/underlay/services/ul-demo.run',
      'stop ul-demo (pid 8681)',
      'start ul-demo',
    ]);
    expect(d.msg).toBe('ul-demo: definition updated, restarted (definition changed)');
    expect(d.diff?.[0]?.before).toContain('"A": "b c"');
    expect(d.diff?.[0]?.after).toContain('"A": "other"');
    // a changed definition of a stopped service: written, not started
    expect(described(decide({ ...DEMO, exec: 'sleep 301', state: 'stopped' }, sup(STOPPED)))).toEqual(['mkdir -p /etc/underlay/services', 'write /etc/underlay/services/ul-demo.json', 'write /etc/underlay/services/ul-demo.run']);
  });

  it('restarted and reloaded always act', () => {
    expect(described(decide({ name: 'ul-demo', state: 'restarted' }, sup(RUNNING)))).toEqual(['stop ul-demo (pid 8681)', 'start ul-demo']);
    expect(described(decide({ name: 'ul-demo', state: 'restarted' }, sup(STOPPED)))).toEqual(['start ul-demo']);
    const hup = decide({ name: 'ul-demo', state: 'reloaded' }, sup(RUNNING));
    expect(hup.changed).toBe(true);
    expect(runText(hup, 0)).toContain('ul_alive 8681 789605 && kill -s HUP 8681');
  });

  it('enabled: the boot flag', () => {
    const off = decide({ name: 'ul-demo', enabled: false }, sup(STOPPED));
    expect(described(off)).toEqual(['disable ul-demo at boot (rm /etc/underlay/services/ul-demo.enabled)']);
    const on = decide({ ...DEMO, enabled: true }, sup(UNDEFINED));
    expect(described(on)).toEqual(['mkdir -p /etc/underlay/services', 'write /etc/underlay/services/ul-demo.json', 'write /etc/underlay/services/ul-demo.run', 'enable ul-demo at boot (/etc/underlay/services/ul-demo.enabled)']);
  });

  it('refusals', () => {
    expect(decide({ name: 'ul-demo', state: 'started' }, sup(UNDEFINED)).failed).toBe('service ul-demo is not defined on this host (no systemd here): give exec to define it');
    expect(decide({ name: 'ul-demo', env: { A: '1' }, state: 'started' }, sup(STOPPED)).failed).toBe('service ul-demo: env and workdir need exec');
    expect(decide({ name: '../etc', state: 'started' }, sup(UNDEFINED)).failed).toMatch(/bad name/);
    expect(decide({ ...DEMO, env: { 'A-B': 'x' }, state: 'started' }, sup(UNDEFINED)).failed).toBe("service ul-demo: bad environment variable name 'A-B'");
    expect(decide({ ...DEMO, exec: 'sleep "300', state: 'started' }, sup(UNDEFINED)).failed).toMatch(/unclosed/);
    expect(decide({ ...DEMO, workdir: 'rel', state: 'started' }, sup(UNDEFINED)).failed).toBe('service ul-demo: workdir must be an absolute path');
    const { errors } = checkParams(service as unknown as ModuleDef, { name: 'x' }, { loadTime: false });
    expect(errors.map((e) => e.message)).toEqual(["module 'service': one of state, enabled, exec is required"]);
  });

  it('the launcher quotes hostile values and execs the argv', () => {
    const t = launcherText({ name: 'x', exec: ['prog', "it's", '$(id)'], env: { V: '"$HOME" `id`', PATH: '/opt/bin' }, workdir: '/srv/my dir' });
    expect(t).toContain("cd -- '/srv/my dir' || exit 1\n");
    expect(t).not.toContain('PATH=/usr/local/sbin');
    expect(t).toContain("export PATH=/opt/bin\nexport V='\"$HOME\" `id`'\n");
    expect(t.endsWith("exec prog 'it'\\''s' '$(id)'\n")).toBe(true);
  });

  it('the boot script is POSIX sh (dash -n) and reads the enabled flags', async () => {
    const { execFileSync } = await import('node:child_process');
    execFileSync('dash', ['-n'], { input: bootScript() });
    expect(bootScript()).toContain('for ul_flag in /etc/underlay/services/*.enabled; do');
  });
});

describe('service (systemd): decide from systemctl words', () => {
  const sd = (active: string, enabled: string, unit: string | null = null): ServiceFacts => ({ init: 'systemd', active, enabled, unit });
  const def = { name: 'web', exec: ['/usr/bin/python3', '-m', 'http.server', '8080'], env: { MSG: 'a "b" 100%' }, workdir: '/srv' };
  const unit = unitText(def, true);

  it('writes the unit from exec, reloads systemd, enables and starts', () => {
    const d = decide({ name: 'web', exec: def.exec, env: def.env, workdir: '/srv', state: 'started', enabled: true }, sd('inactive', 'not-found'));
    expect(described(d)).toEqual(['write /etc/systemd/system/web.service', 'systemctl daemon-reload', 'systemctl enable web.service', 'systemctl start web.service']);
    expect(d.actions[0]).toMatchObject({ kind: 'upload', content: unit, mode: 0o644 });
    expect(unit).toContain('ExecStart=/usr/bin/python3 -m http.server 8080\n');
    expect(unit).toContain('WorkingDirectory=/srv\n');
    expect(unit).toContain('Environment="MSG=a \\"b\\" 100%%"\n');
  });

  it('already in the desired state: no actions', () => {
    for (const [args, facts] of [
      [{ name: 'web', exec: def.exec, env: def.env, workdir: '/srv', state: 'started', enabled: true }, sd('active', 'enabled', unit)],
      [{ name: 'ssh', state: 'started', enabled: true }, sd('active', 'enabled')],
      [{ name: 'ssh.service', state: 'stopped', enabled: false }, sd('inactive', 'disabled')],
      [{ name: 'systemd-journald', enabled: true }, sd('active', 'static')],
    ] as const) {
      const d = decide(args, facts);
      expect(d.failed).toBeUndefined();
      expect(d.actions).toEqual([]);
      expect(d.changed).toBe(false);
    }
  });

  it('a changed unit restarts a running service', () => {
    const d = decide({ name: 'web', exec: def.exec, state: 'started' }, sd('active', 'enabled', unit));
    expect(described(d)).toEqual(['write /etc/systemd/system/web.service', 'systemctl daemon-reload', 'systemctl restart web.service']);
    expect(d.diff?.[0]?.before).toBe(unit);
  });

  it('stop, restart, reload; masked and unknown units refuse', () => {
    expect(described(decide({ name: 'ssh', state: 'stopped' }, sd('active', 'enabled')))).toEqual(['systemctl stop ssh.service']);
    expect(described(decide({ name: 'ssh', state: 'restarted' }, sd('active', 'enabled')))).toEqual(['systemctl restart ssh.service']);
    expect(described(decide({ name: 'ssh', state: 'reloaded' }, sd('inactive', 'enabled')))).toEqual(['systemctl start ssh.service']);
    expect(described(decide({ name: 'ssh', enabled: false }, sd('active', 'enabled')))).toEqual(['systemctl disable ssh.service']);
    expect(decide({ name: 'x', state: 'started' }, sd('inactive', 'masked')).failed).toBe('service x: x.service is masked (systemctl unmask x.service)');
    expect(decide({ name: 'x', state: 'started' }, sd('inactive', 'not-found')).failed).toBe('service x: no unit x.service on this host (give exec to define it)');
  });
});
