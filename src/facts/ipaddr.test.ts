import { describe, expect, it } from 'vitest';
import { capturedResult as captured } from '../../test/support/net-fixtures.js';
import { createNetns, deleteNetns, netnsAvailable, nsExec } from '../../test/support/netns.js';
import type { ExecResult } from '../modules/types.js';
import { IPADDR_FIXTURE_BASE, IPADDR_FIXTURES, type IpAddrFixtureName } from './ipaddr.fixtures.js';
import { ipLinksCommand } from './iplink.js';
import { addrCidr, isLeased, LIFETIME_FOREVER, parseIpAddr, type IpAddrLink } from './ipaddr.js';

describe('addresses from ip -j -d addr show', () => {
  it('parses primary and secondary IPv4 addresses, explicit broadcast, IPv6 global and link-local', () => {
    const eth1 = parseIpAddr(captured('eth1', ipLinksCommand().text)).find((l) => l.ifname === 'eth1')!;
    expect(eth1.addrs.map((a) => [a.family, addrCidr(a), a.scope, a.secondary, a.broadcast ?? null])).toEqual([
      ['inet', '10.77.0.2/24', 'global', false, '10.77.0.255'],
      ['inet', '10.77.0.9/24', 'global', true, null],
      ['inet6', '2001:db8:77::2/64', 'global', false, null],
      ['inet6', 'fe80::aff:fe4d:2/64', 'link', false, null],
    ]);
  });

  it('sees the addresses on breth1 and eth1 a port with only its link-local address after the move', () => {
    const links = parseIpAddr(captured('moved', ipLinksCommand().text));
    expect(links.find((l) => l.ifname === 'eth1')!.master).toBe('breth1');
    expect(links.find((l) => l.ifname === 'eth1')!.addrs.map(addrCidr)).toEqual(['fe80::aff:fe4d:2/64']);
    expect(links.find((l) => l.ifname === 'breth1')!.addrs.map(addrCidr)).toEqual(['10.77.0.2/24', '10.77.0.9/24', '2001:db8:77::2/64', 'fe80::aff:fe4d:2/64']);
  });
});

function out(stdout: string): ExecResult {
  return { command: 'ip -j addr show', exitCode: 0, stdout, stderr: '', durationMs: 0 };
}

/** eth1 and breth1 (the namespace's lo and p0 do not matter). */
function uplink(links: IpAddrLink[]): IpAddrLink[] {
  return links.filter((l) => l.ifname === 'eth1' || l.ifname === 'breth1');
}

/** [ifname, master, [family, cidr, dynamic, lifetime]] of the configured (not link-local) addresses; a finite lifetime as 'finite'. */
function leases(links: IpAddrLink[]): unknown[] {
  return uplink(links).map((l) => [
      l.ifname,
      l.master ?? null,
      l.addrs.filter((a) => a.scope !== 'link').map((a) => [a.family, addrCidr(a), a.dynamic, a.validLifeTime === LIFETIME_FOREVER ? 'forever' : 'finite']),
    ]);
}

describe('ip -j addr show: leases (dynamic addresses, lifetimes)', () => {
  it('reads the dynamic flag and the lifetimes a DHCP client leaves on an address', () => {
    const eth1 = parseIpAddr(out(IPADDR_FIXTURES.leased.stdout)).find((l) => l.ifname === 'eth1')!;
    expect(eth1.addrs.map((a) => [addrCidr(a), a.dynamic, a.validLifeTime, isLeased(a)])).toEqual([
      ['10.77.0.2/24', true, 300, true],
      ['10.77.0.9/24', false, LIFETIME_FOREVER, false],
      ['2001:db8:77::7/64', true, 600, true],
      ['2001:db8:77::2/64', false, LIFETIME_FOREVER, false],
      ['fe80::aff:fe4d:2/64', false, LIFETIME_FOREVER, false],
    ]);
    expect(eth1.addrs[0]).toMatchObject({ broadcast: '10.77.0.255', secondary: false });
  });

  it('sees the lease on the bridge when the host bridged the uplink, and on the port again after a renewal', () => {
    expect(leases(parseIpAddr(out(IPADDR_FIXTURES.bridged.stdout)))).toEqual([
      ['eth1', 'breth1', []],
      ['breth1', null, [['inet', '10.77.0.2/24', true, 'finite'], ['inet6', '2001:db8:77::2/64', false, 'forever']]],
    ]);
    expect(leases(parseIpAddr(out(IPADDR_FIXTURES.renewed.stdout)))).toEqual([
      ['eth1', 'breth1', [['inet', '10.77.0.2/24', true, 'finite']]],
      ['breth1', null, [['inet', '10.77.0.2/24', false, 'forever'], ['inet6', '2001:db8:77::2/64', false, 'forever']]],
    ]);
  });

  it('takes a finite lifetime for a lease even without the dynamic flag, and a missing lifetime for none', () => {
    const base = { family: 'inet', local: '10.0.0.2', prefixlen: 24, scope: 'global', secondary: false } as const;
    expect(isLeased({ ...base, dynamic: false, validLifeTime: 86_400 })).toBe(true);
    expect(isLeased({ ...base, dynamic: false })).toBe(false);
    expect(isLeased({ ...base, dynamic: true })).toBe(true);
  });

  describe.runIf(netnsAvailable())('the recorded output is what ip prints for the same set-up (in a throwaway namespace)', () => {
    for (const name of Object.keys(IPADDR_FIXTURES) as IpAddrFixtureName[]) {
      it(name, () => {
        const ns = createNetns('ul-t-ipaddr');
        try {
          nsExec(ns, `set -e\n${[...IPADDR_FIXTURE_BASE, ...IPADDR_FIXTURES[name].setup].join('\n')}`);
          const live = parseIpAddr(out(nsExec(ns, ipLinksCommand().text)));
          const recorded = parseIpAddr(out(IPADDR_FIXTURES[name].stdout));
          expect(leases(live)).toEqual(leases(recorded));
          // A lifetime counts down from where it was when the output was recorded.
          const lifetimes = (links: IpAddrLink[]) => uplink(links).flatMap((l) => l.addrs.filter((a) => a.scope !== 'link').map((a) => a.validLifeTime));
          const recordedLft = lifetimes(recorded);
          lifetimes(live).forEach((lft, i) => {
            const want = recordedLft[i]!;
            if (want === LIFETIME_FOREVER) {
              expect(lft).toBe(LIFETIME_FOREVER);
            } else {
              expect(lft).toBeGreaterThan(want - 30);
              expect(lft).toBeLessThanOrEqual(want);
            }
          });
        } finally {
          deleteNetns(ns);
        }
      });
    }
  });
});
