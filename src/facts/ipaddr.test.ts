import { describe, expect, it } from 'vitest';
import { loadFixtures } from '../../test/support/net-fixtures.js';
import type { ExecResult } from '../modules/types.js';
import { addrCidr, ipAddrCommand, parseIpAddr } from './ipaddr.js';

function captured(scenario: string, cmd: string): ExecResult {
  const r = loadFixtures().scenarios[scenario]?.host.runs[cmd];
  if (!r) throw new Error(`not captured: ${scenario}: ${cmd}`);
  return { command: cmd, durationMs: 0, ...r };
}

describe('ip -j addr show', () => {
  it('builds the command', () => {
    expect(ipAddrCommand().text).toBe('ip -j addr show');
    expect(ipAddrCommand('eth1').text).toBe('ip -j addr show dev eth1');
  });

  it('parses primary and secondary IPv4 addresses, explicit broadcast, IPv6 global and link-local', () => {
    const eth1 = parseIpAddr(captured('eth1', ipAddrCommand().text)).find((l) => l.ifname === 'eth1')!;
    expect(eth1.addrs.map((a) => [a.family, addrCidr(a), a.scope, a.secondary, a.broadcast ?? null])).toEqual([
      ['inet', '10.77.0.2/24', 'global', false, '10.77.0.255'],
      ['inet', '10.77.0.9/24', 'global', true, null],
      ['inet6', '2001:db8:77::2/64', 'global', false, null],
      ['inet6', 'fe80::aff:fe4d:2/64', 'link', false, null],
    ]);
  });

  it('sees the addresses on breth1 and eth1 a port with only its link-local address after the move', () => {
    const links = parseIpAddr(captured('moved', ipAddrCommand().text));
    expect(links.find((l) => l.ifname === 'eth1')!.master).toBe('breth1');
    expect(links.find((l) => l.ifname === 'eth1')!.addrs.map(addrCidr)).toEqual(['fe80::aff:fe4d:2/64']);
    expect(links.find((l) => l.ifname === 'breth1')!.addrs.map(addrCidr)).toEqual(['10.77.0.2/24', '10.77.0.9/24', '2001:db8:77::2/64', 'fe80::aff:fe4d:2/64']);
  });
});
