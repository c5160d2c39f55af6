import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { InputError } from '../errors.js';
import {
  broadcast,
  cidrContains,
  deepEqual,
  firstHost,
  formatAddress,
  HELPERS,
  hostCidr,
  lastHost,
  netmask,
  network,
  nthHost,
  parseCidr,
  prefix,
  truthy,
  Undefined,
} from './helpers.js';

function reason(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof InputError) return e.reason;
    throw e;
  }
  throw new Error('expected an InputError');
}

const call = (name: string, ...args: unknown[]): unknown => HELPERS[name]!.fn(...args);

describe('network functions (IPv4)', () => {
  it('a /24, with host bits set', () => {
    expect(network('192.168.1.77/24')).toBe('192.168.1.0');
    expect(netmask('192.168.1.77/24')).toBe('255.255.255.0');
    expect(prefix('192.168.1.77/24')).toBe(24);
    expect(broadcast('192.168.1.77/24')).toBe('192.168.1.255');
    expect(firstHost('192.168.1.77/24')).toBe('192.168.1.1');
    expect(lastHost('192.168.1.77/24')).toBe('192.168.1.254');
    expect(nthHost('192.168.1.0/24', 0)).toBe('192.168.1.0');
    expect(nthHost('192.168.1.0/24', 10)).toBe('192.168.1.10');
    expect(nthHost('192.168.1.0/24', -1)).toBe('192.168.1.255');
    expect(nthHost('192.168.1.0/24', '-2')).toBe('192.168.1.254');
    expect(hostCidr('192.168.1.0/29', 1)).toBe('192.168.1.1/29');
    expect(hostCidr('192.168.1.1/29')).toBe('192.168.1.1/29');
  });

  it('odd masks', () => {
    expect(netmask('10.0.0.0/29')).toBe('255.255.255.248');
    expect(netmask('10.0.0.0/1')).toBe('128.0.0.0');
    expect(netmask('172.16.5.4/12')).toBe('255.240.0.0');
    expect(network('172.31.255.255/12')).toBe('172.16.0.0');
    expect(lastHost('10.0.0.0/29')).toBe('10.0.0.6');
  });

  it('/32: the address is the only host', () => {
    expect(network('10.1.2.3/32')).toBe('10.1.2.3');
    expect(netmask('10.1.2.3/32')).toBe('255.255.255.255');
    expect(firstHost('10.1.2.3/32')).toBe('10.1.2.3');
    expect(lastHost('10.1.2.3/32')).toBe('10.1.2.3');
    expect(nthHost('10.1.2.3/32', 0)).toBe('10.1.2.3');
    expect(reason(() => nthHost('10.1.2.3/32', 1))).toBe('index 1 is outside "10.1.2.3/32", which has 1 addresses');
    // a bare address is a /32
    expect(prefix('10.1.2.3')).toBe(32);
    expect(hostCidr('10.1.2.3')).toBe('10.1.2.3/32');
  });

  it('/31: both addresses are hosts (RFC 3021)', () => {
    expect(firstHost('10.0.0.4/31')).toBe('10.0.0.4');
    expect(lastHost('10.0.0.5/31')).toBe('10.0.0.5');
    expect(network('10.0.0.5/31')).toBe('10.0.0.4');
    expect(netmask('10.0.0.5/31')).toBe('255.255.255.254');
    expect(hostCidr('10.0.0.4/31', 1)).toBe('10.0.0.5/31');
  });

  it('/30 excludes network and broadcast', () => {
    expect(firstHost('10.0.0.0/30')).toBe('10.0.0.1');
    expect(lastHost('10.0.0.0/30')).toBe('10.0.0.2');
  });

  it('/0: the whole space', () => {
    expect(network('1.2.3.4/0')).toBe('0.0.0.0');
    expect(netmask('1.2.3.4/0')).toBe('0.0.0.0');
    expect(broadcast('0.0.0.0/0')).toBe('255.255.255.255');
    expect(firstHost('0.0.0.0/0')).toBe('0.0.0.1');
    expect(lastHost('0.0.0.0/0')).toBe('255.255.255.254');
    expect(nthHost('0.0.0.0/0', -1)).toBe('255.255.255.255');
    expect(cidrContains('0.0.0.0/0', '203.0.113.9')).toBe(true);
  });

  it('containment', () => {
    expect(cidrContains('10.0.0.0/8', '10.20.30.40')).toBe(true);
    expect(cidrContains('10.0.0.0/8', '10.20.0.0/16')).toBe(true);
    expect(cidrContains('10.0.0.0/16', '10.0.0.0/8')).toBe(false);
    expect(cidrContains('10.0.0.0/8', '11.0.0.0')).toBe(false);
    expect(cidrContains('10.0.0.0/8', '10.0.0.0/8')).toBe(true);
    expect(cidrContains('10.0.0.0/8', '10.255.255.255')).toBe(true);
    expect(cidrContains('10.0.0.0/8', '2001:db8::1')).toBe(false);
  });

  it('surrounding whitespace is ignored (values read from command output)', () => {
    expect(network(' 10.0.0.9/24\n')).toBe('10.0.0.0');
  });
});

describe('network functions (IPv6)', () => {
  it('compressed output (RFC 5952)', () => {
    expect(network('2001:db8::1/64')).toBe('2001:db8::');
    expect(netmask('2001:db8::1/64')).toBe('ffff:ffff:ffff:ffff::');
    expect(prefix('2001:DB8::1/64')).toBe(64);
    expect(firstHost('2001:db8::/64')).toBe('2001:db8::1');
    expect(lastHost('2001:db8::/64')).toBe('2001:db8::ffff:ffff:ffff:fffe');
    expect(nthHost('2001:db8::/64', 16)).toBe('2001:db8::10');
    expect(hostCidr('fd00:1::/64', 1)).toBe('fd00:1::1/64');
    expect(firstHost('fd00::/127')).toBe('fd00::');
    expect(lastHost('fd00::/127')).toBe('fd00::1');
    expect(firstHost('::1/128')).toBe('::1');
    expect(network('::/0')).toBe('::');
    expect(cidrContains('2001:db8::/32', '2001:db8:ffff::1')).toBe(true);
    expect(cidrContains('2001:db8::/32', '2001:db9::1')).toBe(false);
  });

  it('formatting: longest zero run, first on a tie, no single-group compression', () => {
    const v6 = (s: string): bigint => parseCidr(s).address;
    expect(formatAddress(6, v6('2001:db8:0:0:1:0:0:1'))).toBe('2001:db8::1:0:0:1');
    expect(formatAddress(6, v6('2001:0:0:1:0:0:0:1'))).toBe('2001:0:0:1::1');
    expect(formatAddress(6, v6('2001:db8:0:1:1:1:1:1'))).toBe('2001:db8:0:1:1:1:1:1');
    expect(formatAddress(6, v6('::'))).toBe('::');
    expect(formatAddress(6, v6('1::'))).toBe('1::');
    expect(formatAddress(6, v6('FE80::ABCD'))).toBe('fe80::abcd');
  });

  it('has no broadcast', () => {
    expect(reason(() => broadcast('2001:db8::/64'))).toMatch(/IPv6 networks have no broadcast/);
  });
});

describe('bad input', () => {
  const bad: [unknown, RegExp][] = [
    ['10.0.0.0/33', /prefix length must be 0\.\.32/],
    ['2001:db8::/129', /prefix length must be 0\.\.128/],
    ['10.0.0.0/', /prefix length/],
    ['10.0.0.0/08', /prefix length/],
    ['10.0.0.0/-1', /prefix length/],
    ['10.0.0.0/8/8', /prefix length/],
    ['10.0.0/8', /invalid IP network/],
    ['10.0.0.256/8', /octet is out of range/],
    ['010.0.0.1/8', /leading zero/],
    ['a.b.c.d/8', /invalid IP network/],
    ['', /invalid IP network/],
    ['10.0.0.0 /8', /invalid IP network/],
    ['gggg::/64', /invalid IP network/],
    ['1:2:3:4:5:6:7:8:9/64', /not a valid IPv6 address/],
    ['fe80::1%eth0/64', /invalid IP network/],
    [24, /expected an IP network \(CIDR\) as a string, got integer/],
    [null, /got null/],
    [['10.0.0.0/8'], /got list/],
  ];
  for (const [input, re] of bad) {
    it(`rejects ${JSON.stringify(input)}`, () => {
      expect(reason(() => netmask(input as string))).toMatch(re);
    });
  }

  it('names the value in the message', () => {
    expect(reason(() => network('10.0.0.0/33'))).toBe('invalid IP network (CIDR): the prefix length must be 0..32: "10.0.0.0/33"');
  });

  it('rejects out-of-range and non-integer indexes', () => {
    expect(reason(() => nthHost('10.0.0.0/30', 4))).toMatch(/index 4 is outside "10.0.0.0\/30", which has 4 addresses/);
    expect(reason(() => nthHost('10.0.0.0/30', -5))).toMatch(/index -5 is outside/);
    expect(reason(() => nthHost('10.0.0.0/30', 1.5))).toMatch(/expected an integer index, got number/);
    expect(reason(() => nthHost('10.0.0.0/30', 'one'))).toMatch(/expected an integer index, got string/);
    expect(reason(() => hostCidr('10.0.0.0/30', 9))).toMatch(/outside/);
  });
});

describe('generic helpers', () => {
  it('default', () => {
    expect(call('default', new Undefined('x'), 'fb')).toBe('fb');
    expect(call('default', undefined, 'fb')).toBe('fb');
    expect(call('default', '', 'fb')).toBe('');
    expect(call('default', '', 'fb', true)).toBe('fb');
    expect(call('default', [], 'fb', true)).toBe('fb');
    expect(call('default', 0, 5)).toBe(0);
    expect(call('default', null, 5)).toBe(null);
    expect(call('default', 'v', 'fb', true)).toBe('v');
  });

  it('defined', () => {
    expect(call('defined', new Undefined('x'))).toBe(false);
    expect(call('defined', null)).toBe(true);
    expect(call('defined', '')).toBe(true);
  });

  it('join', () => {
    expect(call('join', ['a', 'b', 3], ',')).toBe('a,b,3');
    expect(call('join', ['a', 'b'])).toBe('ab');
    expect(call('join', [], ',')).toBe('');
    expect(call('join', [null, { a: 1 }], ' ')).toBe(' {"a":1}');
    expect(reason(() => call('join', 'abc', ','))).toBe('join expects a list, got string');
    expect(reason(() => call('join', ['a'], ['x']))).toBe('join separator expects a string, got list');
  });

  it('eq, ne (structural, typed)', () => {
    expect(call('eq', 1, 1)).toBe(true);
    expect(call('eq', 1, '1')).toBe(false);
    expect(call('eq', [1, { a: [2] }], [1, { a: [2] }])).toBe(true);
    expect(call('eq', { a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(call('ne', 'a', 'b')).toBe(true);
    expect(call('ne', null, null)).toBe(false);
    expect(deepEqual(Number.NaN, Number.NaN)).toBe(true);
    expect(deepEqual([1], { 0: 1 })).toBe(false);
  });

  it('and, or, not with Jinja truthiness; short-circuit past undefined', () => {
    expect(call('and', 1, 'x', [0])).toBe(true);
    expect(call('and', 1, [])).toBe(false);
    expect(call('and', {}, 1)).toBe(false);
    expect(call('or', 0, '', null, 'x')).toBe(true);
    expect(call('or', 0, '')).toBe(false);
    expect(call('not', '')).toBe(true);
    expect(call('not', 'false')).toBe(false);
    const u = new Undefined("undefined variable 'x'", 1, 2);
    expect(call('and', false, u)).toBe(false);
    expect(call('or', true, u)).toBe(true);
    expect(() => call('and', true, u)).toThrow(u as unknown as Error);
    expect(() => call('or', false, u)).toThrow(u as unknown as Error);
    expect([0, '', null, [], {}, false, Number.NaN].map(truthy)).toEqual([false, false, false, false, false, false, false]);
    expect([1, 'a', [0], { a: 0 }, true, -1].map(truthy)).toEqual([true, true, true, true, true, true]);
  });

  it('quote gives words a real sh reads back', () => {
    const hostile = ["it's", '$(id)', 'a b', '', '"\\', '*'];
    for (const w of hostile) {
      const out = execFileSync('/bin/sh', ['-c', `printf '%s' ${call('quote', w) as string}`], { encoding: 'utf8' });
      expect(out).toBe(w);
    }
    const words = call('quote', ['a b', "c'd", 3]) as string;
    const out = execFileSync('/bin/sh', ['-c', `for w in ${words}; do printf '[%s]' "$w"; done`], { encoding: 'utf8' });
    expect(out).toBe("[a b][c'd][3]");
    expect(reason(() => call('quote', { a: 1 }))).toBe('quote expects a string, got mapping');
  });

  it('json, lower, upper, length', () => {
    expect(call('json', { a: [1, 'x'] })).toBe('{"a":[1,"x"]}');
    expect(call('json', { a: 1 }, 2)).toBe('{\n  "a": 1\n}');
    expect(call('json', 'x"y')).toBe('"x\\"y"');
    expect(call('json', undefined)).toBe('null');
    expect(reason(() => call('json', 1, 'x'))).toMatch(/indent/);
    expect(call('lower', 'ÄbC')).toBe('äbc');
    expect(call('upper', 'abc')).toBe('ABC');
    expect(call('upper', 5)).toBe('5');
    expect(reason(() => call('lower', null))).toBe('lower expects a string, got null');
    expect(call('length', [1, 2])).toBe(2);
    expect(call('length', 'abc')).toBe(3);
    expect(call('length', { a: 1 })).toBe(1);
    expect(reason(() => call('length', 3))).toMatch(/length expects/);
  });

  it('every helper declares a usage and a sane arity', () => {
    for (const [name, spec] of Object.entries(HELPERS)) {
      expect(spec.usage, name).toContain(name);
      expect(spec.min, name).toBeLessThanOrEqual(spec.max);
    }
  });
});
