import { describe, expect, it } from 'vitest';
import { expandHostnameRange, expandHostPattern, HostPatternError, looksLikeIp, parseAddress } from './ranges.js';

describe('host ranges', () => {
  it('expands zero-padded numeric ranges with inclusive ends', () => {
    expect(expandHostnameRange('node[01:04]')).toEqual(['node01', 'node02', 'node03', 'node04']);
    expect(expandHostnameRange('node[8:11]')).toEqual(['node8', 'node9', 'node10', 'node11']);
  });
  it('takes a step', () => {
    expect(expandHostnameRange('node[1:10:2]')).toEqual(['node1', 'node3', 'node5', 'node7', 'node9']);
    expect(expandHostnameRange('node[001:010:4]')).toEqual(['node001', 'node005', 'node009']);
  });
  it('expands letters', () => {
    expect(expandHostnameRange('db-[a:f]')).toEqual(['db-a', 'db-b', 'db-c', 'db-d', 'db-e', 'db-f']);
    expect(expandHostnameRange('x[y:B]')).toEqual(['xy', 'xz', 'xA', 'xB']);
  });
  it('expands several ranges, left to right, with a tail', () => {
    expect(expandHostnameRange('r[1:2]-n[a:b].lab')).toEqual(['r1-na.lab', 'r1-nb.lab', 'r2-na.lab', 'r2-nb.lab']);
  });
  it('takes an empty begin as 0', () => {
    expect(expandHostnameRange('n[:2]')).toEqual(['n0', 'n1', 'n2']);
  });
  const bad: Array<[string, RegExp]> = [
    ['node[3:1]', /begin above its end/],
    ['node[c:a]', /begin <= end/],
    ['node[01:100]', /equal-length/],
    ['node[1:]', /end value/],
    ['node[1:2:3:4]', /begin:end or begin:end:step/],
    ['node[1:5:0]', /step must not be zero/],
    ['node[a:5]', /invalid literal/],
    ['node[1:3', /cannot read the host range/],
    ['node[5:1:-1]', /begin above its end/],
    ['node[1:3:-1]', /expands to no host/],
    ['node[0:99999999]', /more than/],
  ];
  for (const [pattern, msg] of bad) {
    it(`rejects ${pattern}`, () => {
      expect(() => expandHostnameRange(pattern)).toThrow(HostPatternError);
      expect(() => expandHostnameRange(pattern)).toThrow(msg);
    });
  }
});

describe('addresses', () => {
  it('splits host:port and [ipv6]:port', () => {
    expect(parseAddress('web1:2222', true)).toEqual({ host: 'web1', port: 2222 });
    expect(parseAddress('[2001:db8::1]:22', true)).toEqual({ host: '2001:db8::1', port: 22 });
    expect(parseAddress('2001:db8::1', true)).toEqual({ host: '2001:db8::1', port: undefined });
    expect(parseAddress('10.0.0.1:80', true)).toEqual({ host: '10.0.0.1', port: 80 });
    expect(parseAddress('web[1:3].lab:22', true)).toEqual({ host: 'web[1:3].lab', port: 22 });
  });
  it('refuses ranges when asked to, and odd names', () => {
    expect(() => parseAddress('web[1:3]', false)).toThrow(HostPatternError);
    expect(() => parseAddress('web_', true)).toThrow(HostPatternError);
    expect(() => parseAddress('we b', true)).toThrow(HostPatternError);
  });
  it('tells IP addresses from names (inventory_hostname_short)', () => {
    expect(looksLikeIp('10.1.2.3')).toBe(true);
    expect(looksLikeIp('::1')).toBe(true);
    expect(looksLikeIp('web.example.com')).toBe(false);
  });
  it('expands a host pattern with a port, and checks INI-only rules', () => {
    expect(expandHostPattern('web[1:2]:2222', false)).toEqual({ hosts: ['web1', 'web2'], port: 2222 });
    // a name that is no valid address is kept as written
    expect(expandHostPattern('weird_', true)).toEqual({ hosts: ['weird_'], port: undefined });
    expect(() => expandHostPattern('web1:', true)).toThrow(/ending in ':' is not allowed/);
    expect(() => expandHostPattern('---', true)).toThrow(/sign this is a YAML file/);
    expect(expandHostPattern('web1:', false)).toEqual({ hosts: ['web1:'], port: undefined });
  });
});
