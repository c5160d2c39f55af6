import { describe, expect, it } from 'vitest';
import { loadFixtures, MAC } from '../../test/support/net-fixtures.js';
import type { ExecResult } from '../modules/types.js';
import { badIfname, bridgeLinkCommand, ipLinkCommand, isNoDevice, linksByName, parseBridgeLink, parseIpLink } from './iplink.js';

/** A captured result of `scenario` for the command text `cmd`. */
function captured(scenario: string, cmd: string): ExecResult {
  const r = loadFixtures().scenarios[scenario]?.host.runs[cmd];
  if (!r) throw new Error(`not captured: ${scenario}: ${cmd}`);
  return { command: cmd, durationMs: 0, ...r };
}

describe('ip -j -d link show', () => {
  it('builds the command', () => {
    expect(ipLinkCommand().text).toBe('ip -j -d link show');
    expect(ipLinkCommand('breth1').text).toBe('ip -j -d link show dev breth1');
    expect(ipLinkCommand("we'ird").text).toBe(`ip -j -d link show dev 'we'\\''ird'`);
  });

  it('parses a bridge with kernel defaults (ageing in centiseconds), a veth whose peer is in another namespace', () => {
    const links = linksByName(parseIpLink(captured('bridge-default', ipLinkCommand().text)));
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
    const links = linksByName(parseIpLink(captured('bridge-ready', ipLinkCommand().text)));
    expect(links.get('breth1')).toMatchObject({ address: MAC.eth1, adminUp: true, bridge: { stpState: 0, ageingTime: 0 } });
    expect(links.get('breth1-veth')).toMatchObject({ master: 'breth1', slaveKind: 'bridge', link: 'br-int-veth', brport: { hairpin: true, state: 'forwarding' } });
    expect(links.get('br-int-veth')).toMatchObject({ kind: 'veth', link: 'breth1-veth' });
    expect(links.get('br-int-veth')!.master).toBeUndefined();
  });

  it('gives [] for a device that does not exist, and throws on other failures', () => {
    const r = captured('empty', ipLinkCommand('breth1').text);
    expect(isNoDevice(r)).toBe(true);
    expect(parseIpLink(r)).toEqual([]);
    expect(() => parseIpLink({ ...r, stderr: 'RTNETLINK answers: Operation not permitted' })).toThrow(/exit code 1/);
    expect(() => parseIpLink({ ...r, exitCode: 0, stderr: '', stdout: 'not json' })).toThrow(/not JSON/);
  });
});

describe('bridge -j -d link show', () => {
  it('parses hairpin on and off', () => {
    expect(bridgeLinkCommand().text).toBe('bridge -j -d link show');
    const ready = parseBridgeLink(captured('bridge-ready', bridgeLinkCommand().text));
    expect(ready.map((p) => [p.ifname, p.master, p.hairpin])).toEqual([['breth1-veth', 'breth1', true]]);
    const moved = parseBridgeLink(captured('moved', bridgeLinkCommand().text));
    expect(moved.map((p) => [p.ifname, p.master, p.hairpin]).sort()).toEqual([
      ['breth1-veth', 'breth1', false],
      ['eth1', 'breth1', false],
    ]);
    expect(parseBridgeLink(captured('empty', bridgeLinkCommand().text))).toEqual([]);
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
