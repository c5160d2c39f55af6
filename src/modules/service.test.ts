/**
 * The service module's decisions, data-driven: parameters + facts parsed from real output
 * of the service fact command (captured in a private mount namespace) -> exact actions.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseServiceFacts, type ServiceFacts } from '../facts/service.js';
import { containedProblem } from '../transport/contained.js';
import { checkParams } from './params.js';
import { BOOT_ORDER_LIB, bootScript, definitionText, launcherText, legacyLauncherText, service, SERVICE_LIB, unitText, type ServiceParams } from './service.js';
import type { Action, Decision, ModuleDef } from './types.js';

// Captured inside a private mount namespace: serviceFactCommand('ul-demo') with nothing defined;
// defined (exec sleep 300, env A='b c') and enabled but not running; running (pid 8681);
// and after a SIGKILL (a zombie: nobody had reaped it yet).
const UNDEFINED = "init=supervised\n";
const LEGACY_STOPPED = "init=supervised\ndef=ewogICJuYW1lIjogInVsLWRlbW8iLAogICJleGVjIjogWwogICAgInNsZWVwIiwKICAgICIzMDAiCiAgXSwKICAiZW52IjogewogICAgIkEiOiAiYiBjIgogIH0sCiAgIndvcmtkaXIiOiAiLyIKfQo=\nlauncher=IyEvYmluL3NoCiMgU2VydmljZSB1bC1kZW1vLCBzdXBlcnZpc2VkIGJ5IHVuZGVybGF5OiBnZW5lcmF0ZWQgZnJvbSB1bC1kZW1vLmpzb24sIGRvIG5vdCBlZGl0Lgp1bWFzayAwMjIKY2QgLS0gLyB8fCBleGl0IDEKUEFUSD0vdXNyL2xvY2FsL3NiaW46L3Vzci9sb2NhbC9iaW46L3Vzci9zYmluOi91c3IvYmluOi9zYmluOi9iaW47IGV4cG9ydCBQQVRICmV4cG9ydCBBPSdiIGMnCnVsX3M9JChjYXQgL3Byb2MvJCQvc3RhdCkgJiYgdWxfcz0ke3VsX3MjIyoiKSAifSAmJiBzZXQgLS0gJHVsX3MgJiYgZWNobyAiJHsyMH0iID4gL3J1bi91bmRlcmxheS91bC1kZW1vLnN0YXJ0IHx8IGV4aXQgMQplY2hvICQkID4gL3J1bi91bmRlcmxheS91bC1kZW1vLnBpZC5uZXcgJiYgbXYgLWYgLS0gL3J1bi91bmRlcmxheS91bC1kZW1vLnBpZC5uZXcgL3J1bi91bmRlcmxheS91bC1kZW1vLnBpZCB8fCBleGl0IDEKZXhlYyBzbGVlcCAzMDAK\nenabled_flag=1\n";
const LEGACY_RUNNING = "init=supervised\ndef=ewogICJuYW1lIjogInVsLWRlbW8iLAogICJleGVjIjogWwogICAgInNsZWVwIiwKICAgICIzMDAiCiAgXSwKICAiZW52IjogewogICAgIkEiOiAiYiBjIgogIH0sCiAgIndvcmtkaXIiOiAiLyIKfQo=\nlauncher=IyEvYmluL3NoCiMgU2VydmljZSB1bC1kZW1vLCBzdXBlcnZpc2VkIGJ5IHVuZGVybGF5OiBnZW5lcmF0ZWQgZnJvbSB1bC1kZW1vLmpzb24sIGRvIG5vdCBlZGl0Lgp1bWFzayAwMjIKY2QgLS0gLyB8fCBleGl0IDEKUEFUSD0vdXNyL2xvY2FsL3NiaW46L3Vzci9sb2NhbC9iaW46L3Vzci9zYmluOi91c3IvYmluOi9zYmluOi9iaW47IGV4cG9ydCBQQVRICmV4cG9ydCBBPSdiIGMnCnVsX3M9JChjYXQgL3Byb2MvJCQvc3RhdCkgJiYgdWxfcz0ke3VsX3MjIyoiKSAifSAmJiBzZXQgLS0gJHVsX3MgJiYgZWNobyAiJHsyMH0iID4gL3J1bi91bmRlcmxheS91bC1kZW1vLnN0YXJ0IHx8IGV4aXQgMQplY2hvICQkID4gL3J1bi91bmRlcmxheS91bC1kZW1vLnBpZC5uZXcgJiYgbXYgLWYgLS0gL3J1bi91bmRlcmxheS91bC1kZW1vLnBpZC5uZXcgL3J1bi91bmRlcmxheS91bC1kZW1vLnBpZCB8fCBleGl0IDEKZXhlYyBzbGVlcCAzMDAK\nenabled_flag=1\nstart_ticks=789605\npid=8681\nstat=ODY4MSAoc2xlZXApIFMgMSA4NjgxIDg2ODEgMCAtMSA0MTk0MzA0IDI0OCAyMTIgMCAwIDAgMCAwIDAgMjAgMCAxIDAgNzg5NjA1IDI5OTAwODAgNDI0IDE4NDQ2NzQ0MDczNzA5NTUxNjE1IDk0MzM4NzkxOTUyMzg0IDk0MzM4NzkxOTcwMzEzIDE0MDcyNTM5NTcyMjM4NCAwIDAgMCAwIDYgMCAxIDAgMCAxNyAwIDAgMCAwIDAgMCA5NDMzODc5MTk4NDQwMCA5NDMzODc5MTk4NTY2NCA5NDMzOTc0NTk3NjMyMCAxNDA3MjUzOTU3MjgwNTUgMTQwNzI1Mzk1NzI4MDY1IDE0MDcyNTM5NTcyODA2NSAxNDA3MjUzOTU3MzA0MDkgMAo=\ncmdline=c2xlZXAAMzAwAA==\n";
const LEGACY_ZOMBIE = "init=supervised\ndef=ewogICJuYW1lIjogInVsLWRlbW8iLAogICJleGVjIjogWwogICAgInNsZWVwIiwKICAgICIzMDAiCiAgXSwKICAiZW52IjogewogICAgIkEiOiAiYiBjIgogIH0sCiAgIndvcmtkaXIiOiAiLyIKfQo=\nlauncher=IyEvYmluL3NoCiMgU2VydmljZSB1bC1kZW1vLCBzdXBlcnZpc2VkIGJ5IHVuZGVybGF5OiBnZW5lcmF0ZWQgZnJvbSB1bC1kZW1vLmpzb24sIGRvIG5vdCBlZGl0Lgp1bWFzayAwMjIKY2QgLS0gLyB8fCBleGl0IDEKUEFUSD0vdXNyL2xvY2FsL3NiaW46L3Vzci9sb2NhbC9iaW46L3Vzci9zYmluOi91c3IvYmluOi9zYmluOi9iaW47IGV4cG9ydCBQQVRICmV4cG9ydCBBPSdiIGMnCnVsX3M9JChjYXQgL3Byb2MvJCQvc3RhdCkgJiYgdWxfcz0ke3VsX3MjIyoiKSAifSAmJiBzZXQgLS0gJHVsX3MgJiYgZWNobyAiJHsyMH0iID4gL3J1bi91bmRlcmxheS91bC1kZW1vLnN0YXJ0IHx8IGV4aXQgMQplY2hvICQkID4gL3J1bi91bmRlcmxheS91bC1kZW1vLnBpZC5uZXcgJiYgbXYgLWYgLS0gL3J1bi91bmRlcmxheS91bC1kZW1vLnBpZC5uZXcgL3J1bi91bmRlcmxheS91bC1kZW1vLnBpZCB8fCBleGl0IDEKZXhlYyBzbGVlcCAzMDAK\nenabled_flag=1\nstart_ticks=789605\npid=8681\nstat=ODY4MSAoc2xlZXApIFogMSA4NjgxIDg2ODEgMCAtMSA0MjI4MTA4IDI0OCAyMTIgMCAwIDAgMCAwIDAgMjAgMCAxIDAgNzg5NjA1IDAgMCAxODQ0Njc0NDA3MzcwOTU1MTYxNSAwIDAgMCAwIDAgMCAwIDYgMCAxIDAgMCAxNyAwIDAgMCAwIDAgMCAwIDAgMCAwIDAgMCAwIDkK\ncmdline=\n";

// The captures hold the launcher as earlier builds wrote it (legacyLauncherText); the same
// facts with today's launcher:
const DEMO_DEFINITION = { name: 'ul-demo', exec: ['sleep', '300'], env: { A: 'b c' }, workdir: '/' };
const withLauncher = (facts: string, launcher: string): string => facts.replace(/^launcher=.*$/m, `launcher=${Buffer.from(launcher).toString('base64')}`);
const STOPPED = withLauncher(LEGACY_STOPPED, launcherText(DEMO_DEFINITION));
const RUNNING = withLauncher(LEGACY_RUNNING, launcherText(DEMO_DEFINITION));
const ZOMBIE = withLauncher(LEGACY_ZOMBIE, launcherText(DEMO_DEFINITION));

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

describe('the bench peers', () => {
  it("the Ansible peer's ul-service.sh carries the module's shell functions as they are (the floor gets them from SERVICE_LIB itself)", () => {
    const peer = readFileSync(join(__dirname, '..', '..', 'bench', 'peers', 'ansible', 'roles', 'worker', 'files', 'ul-service.sh'), 'utf8');
    expect(peer).toContain(SERVICE_LIB.text);
  });
});

describe('service (supervised): decide from captured facts', () => {
  it('its commands run in the remote shell itself (contained.ts): start, stop, reload, enable, the definition directory', () => {
    const decisions = [
      decide({ ...DEMO, state: 'started', enabled: true }, sup(UNDEFINED)),
      decide({ name: 'ul-demo', state: 'restarted' }, sup(RUNNING)),
      decide({ name: 'ul-demo', state: 'reloaded' }, sup(RUNNING)),
    ];
    const runs = decisions.flatMap((d) => d.actions.flatMap((a) => (a.kind === 'run' ? [a] : [])));
    expect(runs.map((a) => a.describe)).toEqual([
      'mkdir -p /etc/underlay/services',
      'enable ul-demo at boot (/etc/underlay/services/ul-demo.enabled)',
      'start ul-demo',
      'stop ul-demo (pid 8681)',
      'start ul-demo',
      'reload ul-demo (SIGHUP to pid 8681)',
    ]);
    for (const a of runs) expect([a.describe, a.cmd.contained, containedProblem(a.cmd.text)]).toEqual([a.describe, true, undefined]);
  });

  it('nothing defined + started: define, then start', () => {
    const d = decide({ ...DEMO, state: 'started' }, sup(UNDEFINED));
    expect(d.changed).toBe(true);
    expect(described(d)).toEqual(['mkdir -p /etc/underlay/services', 'write /etc/underlay/services/ul-demo.json', 'write /etc/underlay/services/ul-demo.run', 'start ul-demo']);
    expect(d.actions[2]).toMatchObject({ kind: 'upload', mode: 0o755 });
    expect(runText(d, 3)).toContain('ul_start ul-demo\nif ul_running ul-demo; then');
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

  it('started and restarted say what this run does to the service (also in check mode: same decision)', () => {
    const cases: [Record<string, unknown>, string, boolean, boolean][] = [
      [{ ...DEMO, state: 'started' }, UNDEFINED, true, false],
      [{ ...DEMO, state: 'started' }, STOPPED, true, false],
      [{ ...DEMO, state: 'started' }, RUNNING, false, false],
      [{ ...DEMO, state: 'started' }, ZOMBIE, true, false],
      [{ ...DEMO, env: { A: 'other' }, state: 'started' }, RUNNING, true, true],
      [{ ...DEMO, env: { A: 'other' }, state: 'stopped' }, RUNNING, false, false],
      [{ ...DEMO, env: { A: 'other' }, state: 'started' }, STOPPED, true, false],
      [{ name: 'ul-demo', state: 'restarted' }, RUNNING, true, true],
      [{ name: 'ul-demo', state: 'restarted' }, STOPPED, true, false],
      [{ name: 'ul-demo', state: 'reloaded' }, RUNNING, false, false],
      [{ name: 'ul-demo', state: 'reloaded' }, STOPPED, true, false],
      [{ name: 'ul-demo', state: 'stopped' }, RUNNING, false, false],
      [{ name: 'ul-demo', state: 'stopped' }, UNDEFINED, false, false],
      [{ name: 'ul-demo', enabled: true }, STOPPED, false, false],
    ];
    for (const [args, facts, started, restarted] of cases) {
      const d = decide(args, sup(facts));
      expect(d.failed).toBeUndefined();
      expect(d.result, JSON.stringify(args)).toMatchObject({ started, restarted });
      expect(/started/.test(d.msg ?? ''), JSON.stringify(args)).toBe(started);
    }
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
    expect(decide({ ...DEMO, settle: 61, state: 'started' }, sup(UNDEFINED)).failed).toBe('service ul-demo: settle must be between 0 and 60 seconds (got 61)');
    expect(decide({ ...DEMO, settle: -1, state: 'started' }, sup(UNDEFINED)).failed).toMatch(/settle must be between 0 and 60/);
    // the start checks at once; `settle` later, the follow-up check (none with 0)
    const later = decide({ ...DEMO, settle: 2.5, state: 'started' }, sup(STOPPED));
    expect(runText(later, 0)).toContain('ul_start ul-demo\nif ul_running ul-demo; then');
    expect(runText(later, 0)).not.toContain('sleep 2.5');
    expect(later.followUp).toMatchObject({ afterMs: 2500, describe: 'ul-demo still runs 2.5 s after its start', key: 'service:ul-demo' });
    expect(later.followUp!.cmd.text).toContain('if ! ul_running ul-demo; then');
    expect(decide({ ...DEMO, state: 'started' }, sup(STOPPED)).followUp).toMatchObject({ afterMs: 250, describe: 'ul-demo still runs 0.25 s after its start' });
    expect(decide({ ...DEMO, settle: 0, state: 'started' }, sup(STOPPED)).followUp).toBeUndefined();
    // nothing started: no check
    expect(decide({ ...DEMO, state: 'stopped' }, sup(STOPPED)).followUp).toBeUndefined();
    expect(service.followUpKey!({ name: 'kubelet.service' })).toBe('service:kubelet');
    const { errors } = checkParams(service as unknown as ModuleDef, { name: 'x' }, { loadTime: false });
    expect(errors.map((e) => e.message)).toEqual(["module 'service': one of state, enabled, exec is required"]);
  });

  it("a launcher of the earlier form (it recorded its own PID and start time) is rewritten, and the service it started is not restarted", () => {
    expect(sup(LEGACY_RUNNING).launcher).toBe(legacyLauncherText(DEMO_DEFINITION));
    const d = decide({ ...DEMO, state: 'started', enabled: true }, sup(LEGACY_RUNNING));
    expect(described(d)).toEqual(['mkdir -p /etc/underlay/services', 'write /etc/underlay/services/ul-demo.json', 'write /etc/underlay/services/ul-demo.run']);
    expect(d.actions[2]).toMatchObject({ kind: 'upload', content: launcherText(DEMO_DEFINITION) });
    expect(d.result).toMatchObject({ state: 'started', started: false, restarted: false, pid: 8681 });
    // but a launcher that runs something else still restarts it
    const other = withLauncher(LEGACY_RUNNING, legacyLauncherText({ ...DEMO_DEFINITION, exec: ['sleep', '301'] }));
    expect(described(decide({ ...DEMO, state: 'started' }, sup(other)))).toContain('stop ul-demo (pid 8681)');
    // and with today's launcher nothing is written
    expect(decide({ ...DEMO, state: 'started', enabled: true }, sup(RUNNING)).actions).toEqual([]);
  });

  it('the launcher quotes hostile values and execs the argv', () => {
    const t = launcherText({ name: 'x', exec: ['prog', "it's", '$(id)'], env: { V: '"$HOME" `id`', PATH: '/opt/bin' }, workdir: '/srv/my dir' });
    expect(t).toContain("cd -- '/srv/my dir' || exit 1\n");
    expect(t).not.toContain('PATH=/usr/local/sbin');
    expect(t).toContain("export PATH=/opt/bin\nexport V='\"$HOME\" `id`'\n");
    expect(t.endsWith("exec prog 'it'\\''s' '$(id)'\n")).toBe(true);
    // no program of its own: the start records the PID and start time
    expect(t.split('\n').filter((l) => !l.startsWith('#') && /\b(cat|mv|echo)\b/.test(l))).toEqual([]);
  });

  it('the boot script is POSIX sh (dash -n) and starts the enabled services in boot order', () => {
    execFileSync('dash', ['-n'], { input: bootScript() });
    expect(bootScript()).toContain(BOOT_ORDER_LIB);
    expect(bootScript()).toContain('for ul_name in $(ul_boot_order /etc/underlay/services); do\n');
    expect(BOOT_ORDER_LIB).toContain('for ul_o_f in "$ul_o_dir"/*.enabled; do\n');
  });
});

describe('service (supervised): after', () => {
  const sleeper = { name: 'ul-demo', exec: ['sleep', '300'], env: { A: 'b c' }, workdir: '/' };
  // The definition as this module has always written it, byte for byte (the captured facts hold it too).
  const RECORDED = '{\n  "name": "ul-demo",\n  "exec": [\n    "sleep",\n    "300"\n  ],\n  "env": {\n    "A": "b c"\n  },\n  "workdir": "/"\n}\n';

  it('a service without after is recorded exactly as before: nothing is rewritten or restarted', () => {
    expect(definitionText(sleeper)).toBe(RECORDED);
    expect(sup(RUNNING).def).toBe(RECORDED);
    for (const args of [DEMO, { ...DEMO, after: [] }, { ...DEMO, after: ['network-online.target'] }]) {
      const d = decide({ ...args, state: 'started', enabled: true }, sup(RUNNING));
      expect(d.actions).toEqual([]);
      expect(d.changed).toBe(false);
    }
  });

  it('after is recorded last, as service names (NAME.service is NAME; other units and repeats are left out)', () => {
    const d = decide({ ...DEMO, after: ['etcd', 'docker.service', 'network-online.target', 'etcd'], state: 'stopped' }, sup(UNDEFINED));
    const written = d.actions[1];
    expect(written).toMatchObject({ kind: 'upload', path: '/etc/underlay/services/ul-demo.json' });
    expect(written?.kind === 'upload' && written.content).toBe(RECORDED.replace('"workdir": "/"\n}', '"workdir": "/",\n  "after": [\n    "etcd",\n    "docker"\n  ]\n}'));
  });

  it('a change of after alone rewrites the definition without a restart; the recorded after is kept when exec is not given', () => {
    const d = decide({ ...DEMO, after: 'etcd', state: 'started' }, sup(RUNNING));
    expect(described(d)).toEqual(['mkdir -p /etc/underlay/services', 'write /etc/underlay/services/ul-demo.json', 'write /etc/underlay/services/ul-demo.run']);
    expect(d.msg).toBe('ul-demo: definition updated');
    expect(d.result).toMatchObject({ state: 'started', started: false, restarted: false, pid: 8681 });
    const withAfter = { ...sup(RUNNING), def: definitionText({ ...sleeper, after: ['etcd'] }) };
    expect(decide({ name: 'ul-demo', state: 'started' }, withAfter).actions).toEqual([]);
    expect(decide({ ...DEMO, after: ['etcd'], state: 'started' }, withAfter).actions).toEqual([]);
    // exec without after: the definition no longer has one
    expect(described(decide({ ...DEMO, state: 'started' }, withAfter))).toEqual(['mkdir -p /etc/underlay/services', 'write /etc/underlay/services/ul-demo.json', 'write /etc/underlay/services/ul-demo.run']);
  });

  it('refusals: a bad unit name; after, wants and requires without exec', () => {
    expect(decide({ ...DEMO, after: ['etcd\nExecStartPre=/bin/evil'], state: 'started' }, sup(UNDEFINED)).failed).toBe(
      "service ul-demo: bad unit name 'etcd\nExecStartPre=/bin/evil' in after (letters, digits, _ . @ : -; no slash)",
    );
    expect(decide({ ...DEMO, requires: ['../x'], state: 'started' }, sup(UNDEFINED)).failed).toMatch(/bad unit name '..\/x' in requires/);
    expect(decide({ name: 'ul-demo', after: ['etcd'], state: 'started' }, sup(STOPPED)).failed).toBe('service ul-demo: after, wants and requires need exec');
    expect(decide({ name: 'ul-demo', wants: ['etcd'], state: 'started' }, sup(STOPPED)).failed).toBe('service ul-demo: after, wants and requires need exec');
  });

  describe('the boot order (BOOT_ORDER_LIB run by a real shell over a directory of definitions)', () => {
    const shells = ['dash', 'bash'].filter((sh) => {
      try {
        execFileSync(sh, ['-c', 'true']);
        return true;
      } catch {
        return false;
      }
    });
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'ul-boot-order-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    /** Defines NAME (NAME.json with `after`), enabled unless told otherwise. */
    function define(name: string, after: string[] = [], enabled = true) {
      writeFileSync(join(dir, `${name}.json`), definitionText({ name, exec: ['sleep', '1'], env: { X: 'a "after": [\\"z\\"]' }, workdir: '/', after }));
      if (enabled) writeFileSync(join(dir, `${name}.enabled`), '');
    }
    function order(shell: string): { names: string[]; stderr: string } {
      const r = spawnSync(shell, ['-c', `${BOOT_ORDER_LIB}\nul_boot_order "$1"`, 'sh', dir], { encoding: 'utf8', timeout: 10_000 });
      expect(r.status).toBe(0);
      return { names: r.stdout.split('\n').filter((l) => l !== ''), stderr: r.stderr };
    }

    it.each(shells)('%s: after between enabled services, then name order; unknown and disabled names ignored; a cycle in name order', (shell) => {
      define('kube-apiserver', ['etcd']);
      define('kube-scheduler', ['kube-apiserver']);
      define('kube-controller-manager', ['kube-apiserver', 'kube-apiserver']);
      define('etcd', ['network-probe']); // not enabled: ignored
      define('network-probe', [], false);
      define('kubelet', ['docker']); // unknown: ignored
      define('a-first');
      define('z-self', ['z-self']);
      define('cyc-b', ['cyc-a']);
      define('cyc-a', ['cyc-b']);
      define('after-cyc', ['cyc-b']);
      writeFileSync(join(dir, 'no-json.enabled'), '');
      const { names, stderr } = order(shell);
      // after-cyc waits for the cycle: once only the cycle and it are left, name order
      expect(names).toEqual(['a-first', 'etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubelet', 'no-json', 'z-self', 'after-cyc', 'cyc-a', 'cyc-b']);
      expect(stderr).toBe(
        'underlay-boot: a cycle in the after of after-cyc cyc-a cyc-b: starting after-cyc first (name order)\n' +
          'underlay-boot: a cycle in the after of cyc-a cyc-b: starting cyc-a first (name order)\n',
      );
    });

    it.each(shells)('%s: a chain given in reverse name order starts from its root; nothing enabled prints nothing', (shell) => {
      expect(order(shell)).toEqual({ names: [], stderr: '' });
      define('a', ['b']);
      define('b', ['c']);
      define('c', ['d.service']);
      define('d');
      expect(order(shell)).toEqual({ names: ['d', 'c', 'b', 'a'], stderr: '' });
    });
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

  it('the unit: exact text without dependencies', () => {
    expect(unit).toBe(
      [
        '# Written by underlay: changes made here are overwritten.',
        '[Unit]',
        'Description=web (managed by underlay)',
        'After=network.target',
        'StartLimitIntervalSec=0',
        '',
        '[Service]',
        'Type=simple',
        'ExecStart=/usr/bin/python3 -m http.server 8080',
        'WorkingDirectory=/srv',
        'Environment="MSG=a \\"b\\" 100%%"',
        'Restart=on-failure',
        'RestartSec=5',
        '',
        '[Install]',
        'WantedBy=multi-user.target',
        '',
      ].join('\n'),
    );
  });

  it('the unit: exact text with after, wants and requires (NAME means NAME.service; network-online.target in After and Wants)', () => {
    const d = decide(
      { name: 'kube-apiserver', exec: '/opt/bin/kube-apiserver --etcd-servers=http://127.0.0.1:4001', after: ['etcd', 'network-online.target', 'etcd.service'], wants: 'docker.socket', requires: ['etcd'], state: 'started' },
      sd('inactive', 'not-found'),
    );
    const written = d.actions[0];
    expect(written?.kind === 'upload' && written.content).toBe(
      [
        '# Written by underlay: changes made here are overwritten.',
        '[Unit]',
        'Description=kube-apiserver (managed by underlay)',
        'After=network.target etcd.service network-online.target',
        'Wants=docker.socket network-online.target',
        'Requires=etcd.service',
        'StartLimitIntervalSec=0',
        '',
        '[Service]',
        'Type=simple',
        'ExecStart=/opt/bin/kube-apiserver --etcd-servers=http://127.0.0.1:4001',
        'Restart=on-failure',
        'RestartSec=5',
        '',
        '[Install]',
        'WantedBy=multi-user.target',
        '',
      ].join('\n'),
    );
    // network-online.target listed in wants only: in After too; nothing about it otherwise
    const wantsOnly = unitText({ name: 'x', exec: ['x'], env: {}, workdir: '/' }, false, { wants: ['network-online.target'] });
    expect(wantsOnly).toContain('\nAfter=network.target network-online.target\nWants=network-online.target\nStartLimitIntervalSec=0\n');
    expect(unitText({ name: 'x', exec: ['x'], env: {}, workdir: '/' }, false, { after: ['docker'] })).toContain('\nAfter=network.target docker.service\nStartLimitIntervalSec=0\n');
  });

  it('a unit whose dependencies or restart settings changed is rewritten and reloaded, not restarted', () => {
    // the unit as written before RestartSec and StartLimitIntervalSec existed
    const before = unit.replace('StartLimitIntervalSec=0\n', '').replace('RestartSec=5\n', '');
    const args = { name: 'web', exec: def.exec, env: def.env, workdir: '/srv', state: 'started' };
    const upgrade = decide(args, sd('active', 'enabled', before));
    expect(described(upgrade)).toEqual(['write /etc/systemd/system/web.service', 'systemctl daemon-reload']);
    expect(upgrade.msg).toBe('web.service: unit updated');
    expect(upgrade.result).toMatchObject({ state: 'started', started: false, restarted: false });
    const deps = decide({ ...args, after: ['etcd'] }, sd('active', 'enabled', unit));
    expect(described(deps)).toEqual(['write /etc/systemd/system/web.service', 'systemctl daemon-reload']);
    expect(deps.diff?.[0]?.after).toContain('\nAfter=network.target etcd.service\n');
    // a stopped service is started with the new unit
    expect(described(decide(args, sd('failed', 'enabled', before)))).toEqual(['write /etc/systemd/system/web.service', 'systemctl daemon-reload', 'systemctl start web.service']);
  });

  it('started and restarted say what this run does to the service', () => {
    const cases: [Record<string, unknown>, ServiceFacts, boolean, boolean][] = [
      [{ name: 'ssh', state: 'started' }, sd('inactive', 'enabled'), true, false],
      [{ name: 'ssh', state: 'started' }, sd('active', 'enabled'), false, false],
      [{ name: 'web', exec: def.exec, state: 'started' }, sd('active', 'enabled', unit), true, true], // exec changed
      [{ name: 'ssh', state: 'restarted' }, sd('active', 'enabled'), true, true],
      [{ name: 'ssh', state: 'restarted' }, sd('inactive', 'enabled'), true, false],
      [{ name: 'ssh', state: 'reloaded' }, sd('active', 'enabled'), false, false],
      [{ name: 'ssh', state: 'reloaded' }, sd('failed', 'enabled'), true, false],
      [{ name: 'ssh', state: 'stopped' }, sd('active', 'enabled'), false, false],
      [{ name: 'ssh', enabled: false }, sd('active', 'enabled'), false, false],
    ];
    for (const [args, facts, started, restarted] of cases) {
      const d = decide(args, facts);
      expect(d.result, JSON.stringify([args, facts])).toMatchObject({ started, restarted });
      // the message says the same: the texts handlers used to search
      expect(/started/.test(d.msg ?? ''), JSON.stringify(args)).toBe(started);
    }
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

describe('ul_alive (the shell library, in a real sh)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ul-alive-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Starts `sleep` under the name `name` (its command name in /proc/PID/stat); returns its PID and start time. */
  function sleeper(name: string): { pid: number; start: string; stop: () => void } {
    const link = join(dir, name);
    execFileSync('ln', ['-s', execFileSync('sh', ['-c', 'command -v sleep'], { encoding: 'utf8' }).trim(), link]);
    const out = execFileSync('sh', ['-c', '"$1" 30 </dev/null >/dev/null 2>&1 & echo $!', 'sh', link], { encoding: 'utf8' });
    const pid = Number(out.trim());
    const stat = execFileSync('cat', [`/proc/${pid}/stat`], { encoding: 'utf8' });
    const start = stat.slice(stat.lastIndexOf(') ') + 2).split(' ')[19]!;
    return { pid, start, stop: () => process.kill(pid, 'SIGKILL') };
  }

  const alive = (pid: number | string, start: string): number =>
    spawnSync('sh', ['-c', `${SERVICE_LIB.text}\nul_alive "$1" "$2"`, 'sh', String(pid), start]).status ?? -1;

  it('is true for the process started at that time, false for another start time, a gone process or no start time', () => {
    const p = sleeper('plain');
    try {
      expect(alive(p.pid, p.start)).toBe(0);
      expect(alive(p.pid, String(Number(p.start) + 1))).toBe(1);
      expect(alive(p.pid, '')).toBe(1);
    } finally {
      p.stop();
    }
    expect(alive(999999999, p.start)).toBe(1);
  });

  it('reads a command name holding a newline and ") " right (the whole stat line)', () => {
    const p = sleeper('a) b\nc) ');
    try {
      expect(execFileSync('cat', [`/proc/${p.pid}/stat`], { encoding: 'utf8' }).slice(0, -1)).toContain('\n');
      expect(alive(p.pid, p.start)).toBe(0);
      expect(alive(p.pid, String(Number(p.start) + 1))).toBe(1);
    } finally {
      p.stop();
    }
  });
});
