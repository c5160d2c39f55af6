import { describe, expect, it } from 'vitest';
import { actionTexts, decideWith } from '../../test/support/net-fixtures.js';
import { badDest, route } from './route.js';

describe('route (decisions on real ip -j route show exact output)', () => {
  it('adds a missing route with ip route replace', async () => {
    const d = await decideWith(route, 'empty', { dest: '192.168.1.0/29', dev: 'breth1' });
    expect(d.changed).toBe(true);
    expect(actionTexts(d)).toEqual(['ip route replace 192.168.1.0/29 dev breth1']);
  });

  it('does nothing for the W12 routes in place (host route printed without /32, link scope, gateway)', async () => {
    for (const args of [
      { dest: '192.168.1.1', dev: 'breth1' },
      { dest: '192.168.1.0/29', dev: 'breth1' },
      { dest: '192.168.0.0/16', via: '192.168.1.1', dev: 'breth1' },
      { dest: 'default', via: '10.77.0.1', dev: 'breth1' },
      { dest: 'default', via: '10.77.0.1', dev: 'breth1', metric: 100 },
      { dest: '192.168.1.0/29', dev: 'breth1', scope: 'link' },
    ]) {
      const d = await decideWith(route, 'moved', args);
      expect(d, JSON.stringify(args)).toMatchObject({ changed: false, actions: [] });
    }
  });

  it('replaces a route whose gateway, device or metric differ', async () => {
    expect(actionTexts(await decideWith(route, 'moved', { dest: '192.168.0.0/16', via: '192.168.1.2', dev: 'breth1' }))).toEqual(['ip route replace 192.168.0.0/16 via 192.168.1.2 dev breth1']);
    expect(actionTexts(await decideWith(route, 'moved', { dest: '192.168.0.0/16', via: '192.168.1.1', dev: 'breth1', metric: 50 }))).toEqual(['ip route replace 192.168.0.0/16 via 192.168.1.1 dev breth1 metric 50']);
    expect(actionTexts(await decideWith(route, 'eth1', { dest: 'default', via: '10.77.0.1', dev: 'breth1', metric: 100 }))).toEqual(['ip route replace default via 10.77.0.1 dev breth1 metric 100']);
  });

  it('handles IPv6 routes with ip -6', async () => {
    expect(await decideWith(route, 'eth1', { dest: '2001:db8:99::/48', via: '2001:db8:77::1', dev: 'eth1' })).toMatchObject({ changed: false, actions: [] });
    expect(actionTexts(await decideWith(route, 'eth1', { dest: '2001:db8:99::/48', via: '2001:db8:77::1', dev: 'eth1', metric: 10 }))).toEqual(['ip -6 route replace 2001:db8:99::/48 via 2001:db8:77::1 dev eth1 metric 10']);
  });

  it('deletes the matching routes, each exactly', async () => {
    expect(actionTexts(await decideWith(route, 'eth1', { dest: '10.99.0.0/16', state: 'absent' }))).toEqual(['ip route del 10.99.0.0/16 via 10.77.0.1 dev eth1']);
    expect(actionTexts(await decideWith(route, 'eth1', { dest: 'default', state: 'absent', via: '10.77.0.1' }))).toEqual(['ip route del default via 10.77.0.1 dev eth1 metric 100']);
    expect(await decideWith(route, 'eth1', { dest: 'default', state: 'absent', via: '10.77.0.254' })).toMatchObject({ changed: false, actions: [] });
    expect(await decideWith(route, 'empty', { dest: '192.168.1.0/29', state: 'absent' })).toMatchObject({ changed: false, actions: [] });
  });

  it('validates dest and via before anything runs', async () => {
    expect(badDest('192.168.1.5/29')).toBe("dest '192.168.1.5/29' has host bits set (the network is 192.168.1.0/29)");
    expect(badDest('192.168.1.0/33')).toMatch(/bad prefix length/);
    expect(badDest('breth1')).toMatch(/is not 'default'/);
    expect(badDest('0.0.0.0/0')).toBeUndefined();
    expect((await decideWith(route, 'empty', { dest: '192.168.1.5/29', dev: 'breth1' })).failed).toMatch(/host bits set/);
    expect(badDest('2001:db8::/32')).toBeUndefined();
    expect((await decideWith(route, 'empty', { dest: '192.168.1.0/29', via: 'gw', dev: 'breth1' })).failed).toBe("via 'gw' is not an IP address");
    expect((await decideWith(route, 'empty', { dest: '192.168.1.0/29' })).failed).toBe('a route needs dev, via, or both');
  });
});
