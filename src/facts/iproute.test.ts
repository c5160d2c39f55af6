import { describe, expect, it } from 'vitest';
import { capturedResult as captured, scenariosWith } from '../../test/support/net-fixtures.js';
import type { ExecResult } from '../modules/types.js';
import { ipRouteCommand, parseIpRoute, routeFamily } from './iproute.js';

describe('ip -j route show', () => {
  it('builds the command', () => {
    expect(ipRouteCommand({ family: 4, table: 'all' }).text).toBe('ip -j -4 route show table all');
    expect(ipRouteCommand({ family: 6, exact: 'default', table: '100' }).text).toBe('ip -j -6 route show table 100 exact default');
    expect(ipRouteCommand({ dev: 'eth1' }).text).toBe('ip -j route show dev eth1');
  });

  it('parses gateway, metric, protocol, scope, prefsrc and local-table routes', () => {
    const routes = parseIpRoute(captured('eth1', ipRouteCommand({ family: 4, table: 'all' }).text));
    const main = routes.filter((r) => r.table === undefined);
    expect(main.map((r) => [r.dst, r.gateway ?? null, r.dev, r.metric ?? null, r.protocol ?? null, r.scope ?? null])).toEqual([
      ['default', '10.77.0.1', 'eth1', 100, null, null],
      ['10.77.0.0/24', null, 'eth1', null, 'kernel', 'link'],
      ['10.99.0.0/16', '10.77.0.1', 'eth1', null, 'static', null],
    ]);
    expect(routes.find((r) => r.dst === '10.77.0.2')).toMatchObject({ type: 'local', table: 'local', prefsrc: '10.77.0.2' });
    // -4 keeps IPv6 routes out
    expect(routes.some((r) => r.dst.includes(':'))).toBe(false);
  });

  it('parses IPv6 routes', () => {
    const routes = parseIpRoute(captured('eth1', ipRouteCommand({ family: 6, table: 'all' }).text));
    expect(routes.find((r) => r.dst === '2001:db8:99::/48')).toMatchObject({ gateway: '2001:db8:77::1', dev: 'eth1', metric: 1024 });
    expect(routes.find((r) => r.dst === 'ff00::/8')).toMatchObject({ type: 'multicast', table: 'local' });
  });

  it('parses exact queries: host routes print without /32; no route gives []', () => {
    expect(parseIpRoute(captured('moved', ipRouteCommand({ family: 4, exact: '192.168.1.1' }).text)).map((r) => [r.dst, r.dev, r.scope])).toEqual([['192.168.1.1', 'breth1', 'link']]);
    expect(parseIpRoute(captured('empty', ipRouteCommand({ family: 4, exact: '192.168.1.0/29' }).text))).toEqual([]);
  });
});

describe('routeFamily', () => {
  const out = (stdout: string): ExecResult => ({ command: 'ip -j route show table all', exitCode: 0, stdout, stderr: '', durationMs: 0 });

  it('splits a listing of both families as the listings of one family list them', () => {
    const all4and6 = [ipRouteCommand({ table: 'all' }), ipRouteCommand({ family: 4, table: 'all' }), ipRouteCommand({ family: 6, table: 'all' })].map((c) => c.text);
    const scenarios = scenariosWith(...all4and6);
    expect(scenarios).toEqual(expect.arrayContaining(['empty', 'eth1', 'bridge-default', 'bridge-ready', 'moved', 'mixed']));
    for (const s of scenarios) {
      const all = parseIpRoute(captured(s, ipRouteCommand({ table: 'all' }).text));
      for (const family of [4, 6] as const) {
        expect(all.filter((r) => routeFamily(r) === family).map((r) => r.raw), `${s} IPv${family}`).toEqual(parseIpRoute(captured(s, ipRouteCommand({ family, table: 'all' }).text)).map((r) => r.raw));
      }
    }
  });

  it("tells an IPv6 default route without a gateway from an IPv4 one by the kernel's pref", () => {
    // `ip route add default dev d0` and `ip -6 route add default dev d0`, as iproute2 6.1 lists them
    const [v4, v6] = parseIpRoute(
      out('[{"dst":"default","dev":"d0","scope":"link","flags":[]},{"dst":"default","dev":"d0","metric":1024,"flags":[],"pref":"medium"}]'),
    );
    expect([routeFamily(v4!), routeFamily(v6!)]).toEqual([4, 6]);
    const [via6] = parseIpRoute(out('[{"dst":"default","gateway":"fe80::1","dev":"d0","protocol":"ra","metric":1024,"flags":[],"pref":"medium"}]'));
    expect(routeFamily(via6!)).toBe(6);
  });

  it('gives no family for a route of another one (an MPLS label route), which is then in neither listing', () => {
    // `ip -f mpls route add 100 via inet 10.77.0.1 dev eth1`, as a listing of every family shows it
    const [mpls] = parseIpRoute(out('[{"dst":"100","via":{"family":"inet","host":"10.77.0.1"},"dev":"eth1","flags":[]}]'));
    expect(routeFamily(mpls!)).toBeUndefined();
  });

  it('finds the mixed scenario\'s routes of every kind in the right family', () => {
    const all = parseIpRoute(captured('mixed', ipRouteCommand({ table: 'all' }).text));
    const fam = (dst: string, table?: string) => all.filter((r) => r.dst === dst && r.table === table).map(routeFamily);
    expect(fam('default')).toEqual([4, 6]);
    expect(fam('198.51.100.0/24')).toEqual([4]);
    expect(fam('203.0.113.0/24')).toEqual([4]);
    expect(fam('2001:db8:aa::/48')).toEqual([6]);
    expect(fam('192.0.2.0/24')).toEqual([4]);
    expect(fam('2001:db8:dead::/48')).toEqual([6]);
    expect(fam('192.0.2.128/25', '100')).toEqual([4]);
    expect(fam('2001:db8:100::/48', '100')).toEqual([6]);
  });
});
