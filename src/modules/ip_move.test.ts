import { describe, expect, it } from 'vitest';
import { CAPTURE_ARMED, decideWith } from '../../test/support/net-fixtures.js';
import { DEFAULT_STATE_DIR, ip_move, parseTimerCheck } from './ip_move.js';

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
    expect(text).toContain(`then if mv -f ${D}/eth1.pid ${D}/eth1.pid.disarmed 2>/dev/null; then pid=$(cat ${D}/eth1.pid.disarmed);`);
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
