import { describe, expect, it } from 'vitest';
import { capturedResult as captured, MAC, scenariosWith } from '../../test/support/net-fixtures.js';
import { parseIpAddr } from './ipaddr.js';
import { badIfname, bridgePorts, ipLinksCommand, isNoDevice, linksByName, parseIpLink } from './iplink.js';

describe('ip -j -d addr show', () => {
  it('is the command', () => {
    expect(ipLinksCommand().text).toBe('ip -j -d addr show');
  });

  it('gives the links with their details and their addresses, from one output', () => {
    const r = captured('eth1', ipLinksCommand().text);
    expect(linksByName(parseIpLink(r)).get('eth1')).toMatchObject({ kind: 'veth', address: MAC.eth1, adminUp: true });
    const eth1 = parseIpAddr(r).find((l) => l.ifname === 'eth1')!;
    expect(eth1.addrs.map((a) => `${a.local}/${a.prefixlen}`)).toEqual(['10.77.0.2/24', '10.77.0.9/24', '2001:db8:77::2/64', expect.stringMatching(/^fe80::/)]);
  });

  it('parses a bridge with kernel defaults (ageing in centiseconds), a veth whose peer is in another namespace', () => {
    const links = linksByName(parseIpLink(captured('bridge-default', ipLinksCommand().text)));
    const br = links.get('breth1')!;
    expect(br.kind).toBe('bridge');
    expect(br.bridge).toEqual({ stpState: 0, ageingTime: 30000 });
    expect(br.adminUp).toBe(false);
    expect(br.operstate).toBe('DOWN');
    const eth1 = links.get('eth1')!;
    expect(eth1).toMatchObject({ kind: 'veth', address: MAC.eth1, adminUp: true, linkNetnsid: 0 });
    expect(eth1.link).toBeUndefined();
    expect(eth1.master).toBeUndefined();
  });

  it('parses bridge ports, hairpin and same-namespace veth peers', () => {
    const links = linksByName(parseIpLink(captured('bridge-ready', ipLinksCommand().text)));
    expect(links.get('breth1')).toMatchObject({ address: MAC.eth1, adminUp: true, bridge: { stpState: 0, ageingTime: 0 } });
    expect(links.get('breth1-veth')).toMatchObject({ master: 'breth1', slaveKind: 'bridge', link: 'br-int-veth', brport: { hairpin: true, state: 'forwarding' } });
    expect(links.get('br-int-veth')).toMatchObject({ kind: 'veth', link: 'breth1-veth' });
    expect(links.get('br-int-veth')!.master).toBeUndefined();
  });

  it('throws on a failure or output that is not JSON, naming the command', () => {
    const r = captured('empty', ipLinksCommand().text);
    expect(() => parseIpLink({ ...r, exitCode: 1, stdout: '', stderr: 'RTNETLINK answers: Operation not permitted' })).toThrow(
      'ip -j -d addr show: exit code 1: RTNETLINK answers: Operation not permitted',
    );
    expect(() => parseIpLink({ ...r, stdout: 'not json' })).toThrow(/^ip -j -d addr show: output is not JSON/);
  });
});

describe('isNoDevice', () => {
  it('tells a command that failed only because its device does not exist', () => {
    const r = captured('empty', 'ip -j neigh show to 192.168.1.1 dev breth1');
    expect(isNoDevice(r)).toBe(true);
    expect(isNoDevice({ ...r, stderr: 'RTNETLINK answers: Operation not permitted' })).toBe(false);
    expect(isNoDevice({ ...r, exitCode: 0 })).toBe(false);
  });
});

describe('bridgePorts', () => {
  /** The ports as `bridge -j -d link show` (captured beside) reports them. */
  const reference = (scenario: string) =>
    (JSON.parse(captured(scenario, 'bridge -j -d link show').stdout || '[]') as { ifname: string; master: string; hairpin: boolean; state: string }[])
      .map((p) => [p.ifname, p.master, p.hairpin, p.state])
      .sort();
  const ports = (scenario: string) =>
    bridgePorts(parseIpLink(captured(scenario, ipLinksCommand().text)))
      .map((p) => [p.ifname, p.master, p.hairpin, p.state])
      .sort();

  it('finds the bridge ports, their hairpin mode and state, as the bridge tool lists them', () => {
    expect(ports('bridge-ready')).toEqual([['breth1-veth', 'breth1', true, 'forwarding']]);
    expect(ports('moved')).toEqual([
      ['breth1-veth', 'breth1', false, 'forwarding'],
      ['eth1', 'breth1', false, 'forwarding'],
    ]);
    expect(ports('empty')).toEqual([]);
    expect(ports('mixed')).toEqual([
      ['breth1-veth', 'breth1', true, 'forwarding'],
      ['p2a', 'br2', false, 'disabled'],
    ]);
    const both = scenariosWith(ipLinksCommand().text, 'bridge -j -d link show');
    expect(both).toEqual(expect.arrayContaining(['empty', 'eth1', 'bridge-default', 'bridge-ready', 'moved', 'mixed']));
    for (const s of both) expect(ports(s), s).toEqual(reference(s));
  });
});

describe('badIfname', () => {
  it('accepts Linux interface names and rejects the others', () => {
    expect(badIfname('breth1-veth')).toBeUndefined();
    expect(badIfname('br-int-veth')).toBeUndefined();
    expect(badIfname('a-name-too-long-x')).toMatch(/longer than 15/);
    expect(badIfname('a/b')).toMatch(/not a valid/);
    expect(badIfname('a b')).toMatch(/not a valid/);
    expect(badIfname('..')).toMatch(/not a valid/);
    expect(badIfname('')).toMatch(/empty/);
  });
});
