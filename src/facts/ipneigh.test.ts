import { describe, expect, it } from 'vitest';
import { capturedResult as captured } from '../../test/support/net-fixtures.js';
import { ipNeighCommand, parseIpNeigh } from './ipneigh.js';

describe('ip -j neigh show', () => {
  it('builds the command', () => {
    expect(ipNeighCommand({ to: '192.168.1.1', dev: 'breth1' }).text).toBe('ip -j neigh show to 192.168.1.1 dev breth1');
    expect(ipNeighCommand().text).toBe('ip -j neigh show');
  });

  it('parses permanent and reachable entries, none, and a missing device', () => {
    const cmd = (ip: string) => ipNeighCommand({ to: ip, dev: 'breth1' }).text;
    expect(parseIpNeigh(captured('moved', cmd('192.168.1.1')))).toEqual([{ dst: '192.168.1.1', lladdr: '0a:58:c0:a8:01:01', state: ['PERMANENT'], router: false }]);
    expect(parseIpNeigh(captured('moved', cmd('192.168.1.2')))).toEqual([{ dst: '192.168.1.2', lladdr: '0a:58:c0:a8:01:02', state: ['REACHABLE'], router: false }]);
    expect(parseIpNeigh(captured('moved', cmd('192.168.1.3')))).toEqual([]);
    expect(parseIpNeigh(captured('empty', cmd('192.168.1.1')))).toBeNull();
  });
});
