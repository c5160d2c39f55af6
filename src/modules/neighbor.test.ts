import { describe, expect, it } from 'vitest';
import { actionTexts, decideWith, MAC } from '../../test/support/net-fixtures.js';
import { neighbor } from './neighbor.js';

describe('neighbor (decisions on real ip -j neigh output)', () => {
  it('does nothing when the permanent entry is in place (MAC compared case-insensitively)', async () => {
    expect(await decideWith(neighbor, 'moved', { ip: '192.168.1.1', lladdr: MAC.gw, dev: 'breth1' })).toMatchObject({ changed: false, actions: [] });
    expect(await decideWith(neighbor, 'moved', { ip: '192.168.1.1', lladdr: MAC.gw.toUpperCase(), dev: 'breth1' })).toMatchObject({ changed: false, actions: [] });
  });

  it('replaces an entry with another MAC or a learnt state, and adds a missing one', async () => {
    expect(actionTexts(await decideWith(neighbor, 'moved', { ip: '192.168.1.2', lladdr: MAC.gw, dev: 'breth1' }))).toEqual([
      `ip neigh replace 192.168.1.2 lladdr ${MAC.gw} dev breth1 nud permanent`,
    ]);
    expect(actionTexts(await decideWith(neighbor, 'moved', { ip: '192.168.1.2', lladdr: '0a:58:c0:a8:01:02', dev: 'breth1' }))).toEqual([
      'ip neigh replace 192.168.1.2 lladdr 0a:58:c0:a8:01:02 dev breth1 nud permanent',
    ]);
    expect(await decideWith(neighbor, 'moved', { ip: '192.168.1.2', lladdr: '0a:58:c0:a8:01:02', dev: 'breth1', nud: 'reachable' })).toMatchObject({ changed: false });
    const add = await decideWith(neighbor, 'moved', { ip: '192.168.1.3', lladdr: MAC.gw, dev: 'breth1' });
    expect(add.changed).toBe(true);
    expect(actionTexts(add)).toEqual([`ip neigh replace 192.168.1.3 lladdr ${MAC.gw} dev breth1 nud permanent`]);
  });

  it('deletes an entry', async () => {
    expect(actionTexts(await decideWith(neighbor, 'moved', { ip: '192.168.1.1', dev: 'breth1', state: 'absent' }))).toEqual(['ip neigh del 192.168.1.1 dev breth1']);
    expect(await decideWith(neighbor, 'moved', { ip: '192.168.1.3', dev: 'breth1', state: 'absent' })).toMatchObject({ changed: false, actions: [] });
  });

  it('fails when the device does not exist (a change in check mode)', async () => {
    expect((await decideWith(neighbor, 'empty', { ip: '192.168.1.1', lladdr: MAC.gw, dev: 'breth1' })).failed).toBe('device breth1 does not exist');
    const check = await decideWith(neighbor, 'empty', { ip: '192.168.1.1', lladdr: MAC.gw, dev: 'breth1' }, { check: true });
    expect(check.changed).toBe(true);
    expect(check.failed).toBeUndefined();
  });

  it('validates its input', async () => {
    expect((await decideWith(neighbor, 'moved', { ip: '192.168.1.1', lladdr: 'zz', dev: 'breth1' })).failed).toMatch(/not a MAC address/);
    expect((await decideWith(neighbor, 'moved', { ip: 'gateway', lladdr: MAC.gw, dev: 'breth1' })).failed).toBe("ip 'gateway' is not an IP address");
    expect((await decideWith(neighbor, 'moved', { ip: '192.168.1.1/32', lladdr: MAC.gw, dev: 'breth1' })).failed).toBe("ip '192.168.1.1/32' is not an IP address");
    await expect(decideWith(neighbor, 'moved', { ip: '192.168.1.1', dev: 'breth1' })).rejects.toThrow(/requires parameter 'lladdr'/);
  });
});
