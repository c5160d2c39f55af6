import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CAPTURE_ARMED, decideWith, loadFixtures } from '../../test/support/net-fixtures.js';
import { fixtureContext, paramsOf } from '../../test/support/netns.js';
import { IPADDR_FIXTURES, type IpAddrFixtureName } from '../facts/ipaddr.fixtures.js';
import { ipLinksCommand } from '../facts/iplink.js';
import { containedProblem } from '../transport/contained.js';
import type { Decision } from './types.js';
import { DEFAULT_STATE_DIR, ip_move, leasedMessage, parseTimerCheck, removeAny } from './ip_move.js';

const MOVE = { from: 'eth1', to: 'breth1' };
const D = DEFAULT_STATE_DIR;

function uploads(d: Awaited<ReturnType<typeof decideWith>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of d.actions) if (a.kind === 'upload') out[a.path] = String(a.content);
  return out;
}

describe('ip_move (decisions on real ip -j output)', () => {
  it('plans the whole transaction: record, scripts, arm, detached apply, confirm over a new connection', async () => {
    const d = await decideWith(ip_move, 'bridge-ready', MOVE);
    expect(d.changed).toBe(true);
    expect(d.actions.map((a) => [a.kind, a.kind === 'upload' ? `${a.path} ${a.mode?.toString(8)}` : a.describe])).toEqual([
      ['run', `create ${D}`],
      ['upload', `${D}/eth1.state 600`],
      ['upload', `${D}/eth1.rollback 700`],
      ['upload', `${D}/eth1.apply 700`],
      ['upload', `${D}/eth1.timer 700`],
      ['run', 'arm the rollback timer (30 s)'],
      ['run', 'move the addresses and routes of eth1 to breth1 (detached)'],
      ['confirm', 'confirm the move of eth1 to breth1 over a new connection'],
    ]);
    const confirm = d.actions[7]!;
    expect(confirm.kind === 'confirm' && confirm.timeoutMs).toBe(20_000);
    // the state directory is made in the remote shell itself (contained.ts)
    const mkdir = d.actions[0]!;
    expect(mkdir.kind === 'run' && [mkdir.cmd.contained, containedProblem(mkdir.cmd.text)]).toEqual([true, undefined]);
    expect(d.msg).toBe('move 10.77.0.2/24, 10.77.0.9/24, 2001:db8:77::2/64 and 3 route(s) from eth1 to breth1');
    expect(d.result).toEqual({
      from: 'eth1',
      to: 'breth1',
      state_dir: D,
      addresses: ['10.77.0.2/24', '10.77.0.9/24', '2001:db8:77::2/64'],
      routes: ['default via 10.77.0.1 metric 100', '10.99.0.0/16 via 10.77.0.1 proto static', '2001:db8:99::/48 via 2001:db8:77::1 metric 1024'],
    });
  });

  it('generates the apply script from the observed addresses and routes (kernel, link-local and local-table routes left out)', async () => {
    const apply = uploads(await decideWith(ip_move, 'bridge-ready', MOVE))[`${D}/eth1.apply`]!;
    const steps = apply.split('\n').filter((l) => l.startsWith('ip '));
    expect(steps).toEqual([
      "ip link set dev breth1 up || fail 'ip link set dev breth1 up'",
      "ip link set dev eth1 master breth1 || fail 'ip link set dev eth1 master breth1'",
      "ip addr replace 10.77.0.2/24 brd 10.77.0.255 dev breth1 || fail 'ip addr replace 10.77.0.2/24 brd 10.77.0.255 dev breth1'",
      "ip addr replace 10.77.0.9/24 dev breth1 || fail 'ip addr replace 10.77.0.9/24 dev breth1'",
      "ip -6 addr replace 2001:db8:77::2/64 dev breth1 nodad || fail 'ip -6 addr replace 2001:db8:77::2/64 dev breth1 nodad'",
      "ip route replace default via 10.77.0.1 dev breth1 metric 100 || fail 'ip route replace default via 10.77.0.1 dev breth1 metric 100'",
      "ip route replace 10.99.0.0/16 via 10.77.0.1 dev breth1 proto static || fail 'ip route replace 10.99.0.0/16 via 10.77.0.1 dev breth1 proto static'",
      "ip -6 route replace 2001:db8:99::/48 via 2001:db8:77::1 dev breth1 metric 1024 || fail 'ip -6 route replace 2001:db8:99::/48 via 2001:db8:77::1 dev breth1 metric 1024'",
      'ip -6 addr del 2001:db8:77::2/64 dev eth1 2>/dev/null || true',
      'ip addr del 10.77.0.9/24 dev eth1 2>/dev/null || true',
      'ip addr del 10.77.0.2/24 dev eth1 2>/dev/null || true',
    ]);
    expect(apply).toContain(`: > ${D}/eth1.applied\n`);
  });

  it('generates a rollback that claims the pidfile first, then restores eth1 exactly as recorded', async () => {
    const rollback = uploads(await decideWith(ip_move, 'bridge-ready', MOVE))[`${D}/eth1.rollback`]!;
    const lines = rollback.split('\n');
    expect(lines[4]).toBe(
      `if ! mv -f ${D}/eth1.pid ${D}/eth1.pid.fired 2>/dev/null; then echo "ip_move rollback: the timer was disarmed or has fired already: nothing to do"; exit 0; fi`,
    );
    expect(lines.filter((l) => l.startsWith('ip '))).toEqual([
      'ip link set dev eth1 nomaster || rc=1',
      'ip link set dev eth1 up || rc=1',
      'ip addr replace 10.77.0.2/24 brd 10.77.0.255 dev eth1 || rc=1',
      'ip addr replace 10.77.0.9/24 dev eth1 || rc=1',
      'ip -6 addr replace 2001:db8:77::2/64 dev eth1 nodad || rc=1',
      'ip route replace default via 10.77.0.1 dev eth1 metric 100 || rc=1',
      'ip route replace 10.99.0.0/16 via 10.77.0.1 dev eth1 proto static || rc=1',
      'ip -6 route replace 2001:db8:99::/48 via 2001:db8:77::1 dev eth1 metric 1024 || rc=1',
      'ip -6 addr del 2001:db8:77::2/64 dev breth1 2>/dev/null || true',
      'ip addr del 10.77.0.9/24 dev breth1 2>/dev/null || true',
      'ip addr del 10.77.0.2/24 dev breth1 2>/dev/null || true',
    ]);
  });

  it('records the state as JSON and arms a timer that sleeps in the background and can be disarmed by TERM', async () => {
    const files = uploads(await decideWith(ip_move, 'bridge-ready', { ...MOVE, confirm_timeout: 5, rollback_after: 12 }));
    const state = JSON.parse(files[`${D}/eth1.state`]!);
    expect(state.addresses.map((a: { local: string }) => a.local)).toEqual(['10.77.0.2', '10.77.0.9', '2001:db8:77::2']);
    expect(state.routes[0]).toEqual({ family: 4, dst: 'default', gateway: '10.77.0.1', metric: 100, protocol: 'boot', scope: 'global', prefsrc: null, table: 'main' });
    expect(state.rollback_after).toBe(12);
    const timer = files[`${D}/eth1.timer`]!;
    expect(timer).toContain('sleep 12 &\ns=$!\nwait "$s"\n');
    expect(timer).toContain(`exec /bin/sh ${D}/eth1.rollback\n`);
  });

  it('confirms with the default check (addresses on breth1, eth1 its port) then disarms; a custom confirm_command replaces the check', async () => {
    const d = await decideWith(ip_move, 'bridge-ready', MOVE);
    const confirm = d.actions.at(-1)!;
    expect(confirm.kind).toBe('confirm');
    const text = confirm.kind === 'confirm' ? confirm.cmd.text : '';
    expect(text.startsWith("if sh -c 'out=$(ip -o addr show dev breth1) || exit 1\n")).toBe(true);
    expect(text).toContain(`then if mv -f ${D}/eth1.pid ${D}/eth1.pid.disarmed 2>/dev/null; then read -r pid <${D}/eth1.pid.disarmed;`);
    const custom = (await decideWith(ip_move, 'bridge-ready', { ...MOVE, confirm_command: 'test -e /nonexistent' })).actions.at(-1)!;
    expect(custom.kind === 'confirm' && custom.cmd.text.startsWith("if sh -c 'test -e /nonexistent'; then if mv -f")).toBe(true);
  });

  it('also moves from a bridge made with kernel defaults (the bridge settings are linux_bridge business)', async () => {
    const d = await decideWith(ip_move, 'bridge-default', MOVE);
    expect(d.changed).toBe(true);
    expect(d.actions).toHaveLength(8);
  });

  it('does nothing when eth1 is a port of breth1 and carries no addresses', async () => {
    const d = await decideWith(ip_move, 'moved', MOVE);
    expect(d).toMatchObject({ changed: false, actions: [] });
    expect(d.msg).toBe('eth1 is a port of breth1 and carries no addresses');
  });

  it('finishes a move left unconfirmed (the timer still armed): confirm and disarm only', async () => {
    const d = await decideWith(ip_move, 'moved', { ...MOVE, state_dir: CAPTURE_ARMED });
    expect(d.changed).toBe(true);
    expect(d.actions.map((a) => a.kind)).toEqual(['confirm']);
    expect(d.msg).toMatch(/^eth1 is on breth1 but a rollback timer \(pid \d+\) is still armed: confirm and disarm it$/);
  });

  it('refuses to start while an earlier rollback timer is armed', async () => {
    const d = await decideWith(ip_move, 'bridge-ready', { ...MOVE, state_dir: CAPTURE_ARMED });
    expect(d.failed).toMatch(/^a rollback timer of an earlier ip_move of eth1 is armed \(pid \d+\): it restores eth1 when it fires; run again after that$/);
  });

  it('needs the bridge (a predicted change in check mode) and the interface', async () => {
    expect((await decideWith(ip_move, 'eth1', MOVE)).failed).toBe('bridge breth1 does not exist: create it first (linux_bridge)');
    const check = await decideWith(ip_move, 'eth1', MOVE, { check: true });
    expect(check).toMatchObject({ changed: true, actions: [] });
    expect((await decideWith(ip_move, 'empty', MOVE)).failed).toBe('interface eth1 does not exist');
    expect((await decideWith(ip_move, 'bridge-ready', { from: 'eth1', to: 'br-int-veth' })).failed).toBe('br-int-veth is a veth interface, not a bridge');
  });

  it('requires the rollback to come after the confirmation window', async () => {
    expect((await decideWith(ip_move, 'bridge-ready', { ...MOVE, confirm_timeout: 5, rollback_after: 5 })).failed).toBe('rollback_after (5 s) must exceed confirm_timeout (5 s)');
  });

  it('reads the timer check', () => {
    expect(parseTimerCheck('armed 123\n')).toEqual({ state: 'armed', pid: 123 });
    expect(parseTimerCheck('stale 9\n')).toEqual({ state: 'stale', pid: 9 });
    expect(parseTimerCheck('none\n')).toEqual({ state: 'none' });
  });
});

/**
 * Decides on a captured scenario whose addresses are those of a recorded lease state
 * (src/facts/ipaddr.fixtures.ts): the links, routes and timer of `scenario`, each link's
 * addresses (`addr_info`) taken from the real `ip -j addr show` output of `addrs` (same
 * interface names; none for a link that output does not list).
 */
async function decideLeased(scenario: 'bridge-ready' | 'moved', addrs: IpAddrFixtureName, args: Record<string, unknown>, check = false): Promise<Decision> {
  const host = loadFixtures().scenarios[scenario]!.host;
  const cmd = ipLinksCommand().text;
  const leased = new Map((JSON.parse(IPADDR_FIXTURES[addrs].stdout) as { ifname: string; addr_info: unknown[] }[]).map((l) => [l.ifname, l.addr_info]));
  const links = (JSON.parse(host.runs[cmd]!.stdout) as { ifname: string; addr_info: unknown[] }[]).map((l) => ({ ...l, addr_info: leased.get(l.ifname) ?? [] }));
  const runs = { ...host.runs, [cmd]: { exitCode: 0, stdout: JSON.stringify(links), stderr: '' } };
  const params = paramsOf(ip_move, args);
  const observed = await ip_move.observe!(fixtureContext({ ...host, runs }, check), params);
  return ip_move.decide(params, observed, { checkMode: check, vars: {} });
}

describe('ip_move with a leased (DHCP) address on the interface', () => {
  it('fails before doing anything, naming the interface and the leased address, and says how to bridge a DHCP uplink or proceed', async () => {
    const d = await decideLeased('bridge-ready', 'leased', MOVE);
    expect(d).toMatchObject({ changed: false, actions: [] });
    expect(d.failed).toBe(
      'eth1 holds 10.77.0.2/24 (dynamic, valid 300 s more) from a lease: a DHCP client (systemd-networkd/netplan, dhclient or NetworkManager) manages eth1; ' +
        'it would renew the lease on eth1, re-adding the address on what is then a port of breth1, while nothing renews the copy moved to breth1. ' +
        "A DHCP-managed uplink must be bridged by the host's own network configuration, e.g. netplan `bridges: {breth1: {interfaces: [eth1], dhcp4: true}}` (the bridge takes the lease), " +
        'or given a static address instead of DHCP; then this task finds eth1 a port of breth1 without addresses and does nothing, or moves a static address. ' +
        'To move the address anyway as static (without lease; stop the DHCP client of eth1 yourself), set allow_dynamic: true.',
    );
  });

  it('fails in check mode too, even before the bridge exists (the real run would fail)', async () => {
    const d = await decideLeased('bridge-ready', 'leased', { ...MOVE, to: 'br-absent' }, true);
    expect(d.failed).toMatch(/^eth1 holds 10\.77\.0\.2\/24 \(dynamic, valid 300 s more\) from a lease: .* set allow_dynamic: true\.$/);
  });

  it('with allow_dynamic: true, moves the leased address as a static one (no lifetime on breth1) and says so', async () => {
    const d = await decideLeased('bridge-ready', 'leased', { ...MOVE, allow_dynamic: true });
    expect(d.failed).toBeUndefined();
    expect(d.changed).toBe(true);
    // The IPv6 address with lifetimes (2001:db8:77::7) is learnt, not configured: it never moves.
    expect(d.msg).toBe('move 10.77.0.2/24, 10.77.0.9/24, 2001:db8:77::2/64 and 3 route(s) from eth1 to breth1; 10.77.0.2/24 (dynamic, valid 300 s more) moved as static (allow_dynamic): no lease on breth1');
    expect(d.result).toMatchObject({ addresses: ['10.77.0.2/24', '10.77.0.9/24', '2001:db8:77::2/64'], dynamic_as_static: ['10.77.0.2/24'] });
    const apply = uploads(d)[`${D}/eth1.apply`]!;
    expect(apply).toContain("\nip addr replace 10.77.0.2/24 brd 10.77.0.255 dev breth1 || fail 'ip addr replace 10.77.0.2/24 brd 10.77.0.255 dev breth1'\n");
    expect(apply).not.toContain('lft');
    expect(d.diff?.[0]?.before).toContain('eth1: master -, up\n  addr inet 10.77.0.2/24 brd 10.77.0.255 dynamic valid_lft 300sec\n');
    expect(d.diff?.[0]?.after).toContain('  addr inet 10.77.0.2/24 brd 10.77.0.255\n');
  });

  it('takes "true"/"false" strings for allow_dynamic (a templated variable) as booleans', async () => {
    expect((await decideLeased('bridge-ready', 'leased', { ...MOVE, allow_dynamic: 'true' })).failed).toBeUndefined();
    expect((await decideLeased('bridge-ready', 'leased', { ...MOVE, allow_dynamic: 'false' })).failed).toMatch(/^eth1 holds 10\.77\.0\.2\/24 /);
  });

  it('an uplink already bridged (by the host, the lease on the bridge) is never an error, whatever the lifetimes', async () => {
    for (const allow_dynamic of [false, true]) {
      const d = await decideLeased('moved', 'bridged', { ...MOVE, allow_dynamic });
      expect(d).toMatchObject({ changed: false, actions: [], msg: 'eth1 is a port of breth1 and carries no addresses' });
      expect(d.failed).toBeUndefined();
    }
    const armed = await decideLeased('moved', 'bridged', { ...MOVE, state_dir: CAPTURE_ARMED });
    expect(armed.failed).toBeUndefined();
    expect(armed.actions.map((a) => a.kind)).toEqual(['confirm']);
  });

  it('a lease renewed on the port after a move is named as such', async () => {
    const d = await decideLeased('moved', 'renewed', MOVE);
    expect(d.failed).toMatch(/^eth1 is a port of breth1 but holds 10\.77\.0\.2\/24 \(dynamic, valid 300 s more\) again: a DHCP client still manages eth1 and renews its lease there\. A DHCP-managed uplink must be bridged by the host's own network configuration/);
    const again = await decideLeased('moved', 'renewed', { ...MOVE, allow_dynamic: true });
    expect(again.changed).toBe(true);
    expect(again.result).toMatchObject({ addresses: ['10.77.0.2/24'], dynamic_as_static: ['10.77.0.2/24'] });
  });

  it('lists every leased address', () => {
    const a = { family: 'inet', prefixlen: 24, scope: 'global', secondary: false, dynamic: true } as const;
    const msg = leasedMessage('eth1', 'breth1', [{ ...a, local: '10.0.0.2', validLifeTime: 60 }, { ...a, local: '10.0.0.3' }], false);
    expect(msg.startsWith('eth1 holds 10.0.0.2/24 (dynamic, valid 60 s more), 10.0.0.3/24 (dynamic) from a lease: ')).toBe(true);
    expect(msg).toContain('re-adding the addresses on what is then a port of breth1');
    expect(msg.endsWith('To move the addresses anyway as static (without lease; stop the DHCP client of eth1 yourself), set allow_dynamic: true.')).toBe(true);
  });
});

describe('removeAny', () => {
  it('removes what is there (a dangling link too), starts no rm when nothing is, and keeps hostile names as words', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ul-rm-'));
    try {
      const odd = join(dir, "a b'$(touch x)");
      const file = join(dir, 'f');
      const link = join(dir, 'l');
      writeFileSync(odd, '');
      writeFileSync(file, '');
      symlinkSync(join(dir, 'nowhere'), link);
      const run = (paths: string[]) => spawnSync('/bin/sh', ['-c', `${removeAny(paths).text} || exit 9; echo rc=$?`], { encoding: 'utf8', cwd: dir, env: { PATH: '/usr/bin:/bin' } });
      expect(run([odd, file, link, join(dir, 'missing')]).stdout).toBe('rc=0\n');
      expect(readdirSync(dir)).toEqual([]);
      // nothing there: the shell's own tests only, rm not even found on an empty PATH
      const none = spawnSync('/bin/sh', ['-c', `PATH=/nonexistent; ${removeAny([file, link]).text} || exit 9; echo rc=$?`], { encoding: 'utf8' });
      expect(none.stdout).toBe('rc=0\n');
      expect(removeAny(['/run/x', '/run/y']).text).toBe("if [ -e /run/x ] || [ -L /run/x ] || [ -e /run/y ] || [ -L /run/y ]; then rm -f -- /run/x /run/y; fi");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
