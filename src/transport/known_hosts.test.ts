import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  appendKnownHost,
  fingerprint,
  hashHostName,
  keyTypeOf,
  KnownHosts,
  knownHostName,
  matchPatternList,
  parseKnownHosts,
  verify,
  wildcardMatch,
} from './known_hosts.js';

// Keys and hashed lines below were produced by OpenSSH 9.2 (ssh-keygen -t, -l and -H):
// they are known answers, not values computed by the code under test.
const K1 = 'AAAAC3NzaC1lZDI1NTE5AAAAIHOXYrFe2XWpjHH6p7n6TgGEpvH9F1Zh7GafqrbrSrCA';
const K1_FP = 'SHA256:oh+Ch+sGYJRkIPOt9MlSWJgm8aD2xPMQceLUL5Q20pw';
const K2 = 'AAAAC3NzaC1lZDI1NTE5AAAAIHcfDuzcjulPM3siO5B4gDnmaCvSkquS1iGexVjcVBYy';
const K2_FP = 'SHA256:wnzdMWTnbT6B2aJRYvXC2mJgd4wkOOT9ZPwIUbW4AYY';
const K3 =
  'AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBGov/XSvL6KyU/2SfVmb7zdA+F6Kev1GNwwJtK5tJVS7FaKEOYr0ZAoBAQ7b5jHqy8ClKRoFr7Fa4mybzdnZVmE=';
const K3_FP = 'SHA256:dHMexcEGo75nN51h2JacogodC/hk1Vf0dft67u4yFBk';
// `ssh-keygen -H` of "web1.example.com K1" and "[10.0.0.5]:2222 K2".
const HASHED_WEB1 = '|1|pvanQ3LpSBvUSl9pXtsjrHpOIcs=|FVMD6VfA5KqxhLTDPod2//15+fw=';
const HASHED_10_0_0_5_2222 = '|1|UKzLiLrMYNUxWa3EJaEJ+pbVajg=|6QZE958hU/4B10bpIg4AiqEEklA=';

const b = (s: string) => Buffer.from(s, 'base64');
const ED = 'ssh-ed25519';
const EC = 'ecdsa-sha2-nistp256';

describe('fingerprint and key type', () => {
  it('matches ssh-keygen -l', () => {
    expect(fingerprint(b(K1))).toBe(K1_FP);
    expect(fingerprint(b(K2))).toBe(K2_FP);
    expect(fingerprint(b(K3))).toBe(K3_FP);
  });
  it('reads the type from the blob', () => {
    expect(keyTypeOf(b(K1))).toBe(ED);
    expect(keyTypeOf(b(K3))).toBe(EC);
    expect(keyTypeOf(Buffer.from([0, 0]))).toBeNull();
    expect(keyTypeOf(Buffer.from([0, 0, 0, 200, 1]))).toBeNull();
  });
});

describe('patterns', () => {
  it('matches * and ? case-insensitively', () => {
    expect(wildcardMatch('web1.example.com', '*.example.com')).toBe(true);
    expect(wildcardMatch('WEB1.example.com', 'web?.EXAMPLE.com')).toBe(true);
    expect(wildcardMatch('web10.example.com', 'web?.example.com')).toBe(false);
    expect(wildcardMatch('abc', 'a*b*c*')).toBe(true);
    expect(wildcardMatch('abd', 'a*c')).toBe(false);
    expect(wildcardMatch('', '*')).toBe(true);
    expect(wildcardMatch('x', '')).toBe(false);
  });
  it('negation vetoes a positive match', () => {
    expect(matchPatternList('db1.lan', ['*.lan', '!db*'])).toBe(false);
    expect(matchPatternList('web1.lan', ['*.lan', '!db*'])).toBe(true);
    expect(matchPatternList('web1.lan', ['!db*'])).toBe(false);
  });
  it('knownHostName brackets non-default ports', () => {
    expect(knownHostName('Web1', 22)).toBe('web1');
    expect(knownHostName('10.0.0.5', 2222)).toBe('[10.0.0.5]:2222');
  });
});

describe('parse', () => {
  it('reads every form and reports bad lines without failing', () => {
    const text = [
      '# a comment',
      '',
      `web1,web2,10.0.0.1 ${ED} ${K1} a comment here`,
      `[10.0.0.5]:2222 ${ED} ${K2}`,
      `${HASHED_WEB1} ${ED} ${K1}`,
      `@revoked * ${ED} ${K2}`,
      `@cert-authority *.example.com ${ED} ${K1}`,
      `@weird host ${ED} ${K1}`,
      'only-two fields',
      `host ssh-rsa ${K1}`,
      `host ${ED} not!base64`,
      `|1|bad ${ED} ${K1}`,
      '\tindented ' + `${ED} ${K1}`,
    ].join('\n');
    const { entries, warnings } = parseKnownHosts(text, 'kh');
    expect(entries.map((e) => [e.line, e.marker, e.hosts.kind])).toEqual([
      [3, null, 'patterns'],
      [4, null, 'patterns'],
      [5, null, 'hashed'],
      [6, 'revoked', 'patterns'],
      [7, 'cert-authority', 'patterns'],
      [13, null, 'patterns'],
    ]);
    expect(warnings.map((w) => w.line)).toEqual([8, 9, 10, 11, 12]);
    expect(entries[0]?.hosts).toEqual({ kind: 'patterns', patterns: ['web1', 'web2', '10.0.0.1'] });
  });
});

describe('verify', () => {
  it('accepts a plain entry and a comma list member', () => {
    const kh = KnownHosts.parse(`web1,10.0.0.1 ${ED} ${K1}\n`);
    expect(kh.verify('web1', 22, ED, b(K1))).toBe('ok');
    expect(kh.verify('10.0.0.1', 22, ED, b(K1))).toBe('ok');
    expect(kh.verify('WEB1', 22, ED, b(K1))).toBe('ok');
    expect(kh.verify('web3', 22, ED, b(K1))).toBe('unknown');
  });

  it('distinguishes ports', () => {
    const kh = KnownHosts.parse(`[10.0.0.5]:2222 ${ED} ${K2}\n10.0.0.5 ${ED} ${K1}\n`);
    expect(kh.verify('10.0.0.5', 2222, ED, b(K2))).toBe('ok');
    expect(kh.verify('10.0.0.5', 22, ED, b(K1))).toBe('ok');
    expect(kh.verify('10.0.0.5', 22, ED, b(K2))).toBe('changed');
    expect(kh.verify('10.0.0.5', 2223, ED, b(K2))).toBe('unknown');
  });

  it('accepts [host]:22 for the default port', () => {
    expect(KnownHosts.parse(`[h]:22 ${ED} ${K1}\n`).verify('h', 22, ED, b(K1))).toBe('ok');
  });

  it('matches OpenSSH-hashed entries', () => {
    const kh = KnownHosts.parse(`${HASHED_WEB1} ${ED} ${K1}\n${HASHED_10_0_0_5_2222} ${ED} ${K2}\n`);
    expect(kh.verify('web1.example.com', 22, ED, b(K1))).toBe('ok');
    expect(kh.verify('Web1.Example.com', 22, ED, b(K1))).toBe('ok');
    expect(kh.verify('10.0.0.5', 2222, ED, b(K2))).toBe('ok');
    expect(kh.verify('10.0.0.5', 2222, ED, b(K1))).toBe('changed');
    expect(kh.verify('10.0.0.5', 22, ED, b(K2))).toBe('unknown');
    expect(kh.verify('web2.example.com', 22, ED, b(K1))).toBe('unknown');
  });

  it('our hashing round-trips and matches the OpenSSH form', () => {
    const salt = b(HASHED_WEB1.split('|')[2] ?? '');
    expect(hashHostName('web1.example.com', salt)).toBe(HASHED_WEB1);
  });

  it('reports a changed key with the conflicting entries', () => {
    const kh = KnownHosts.parse(`# x\nweb1 ${ED} ${K1}\n`, 'my_kh');
    const c = kh.check('web1', 22, ED, b(K2));
    expect(c.status).toBe('changed');
    expect(c.conflicting.map((e) => [e.file, e.line, fingerprint(e.keyBlob)])).toEqual([['my_kh', 2, K1_FP]]);
  });

  it('a key of another type is unknown, not changed (the type is listed)', () => {
    const c = KnownHosts.parse(`web1 ${EC} ${K3}\n`).check('web1', 22, ED, b(K1));
    expect(c.status).toBe('unknown');
    expect(c.otherTypes).toEqual([EC]);
  });

  it('refuses a revoked key even when also listed as valid', () => {
    const kh = KnownHosts.parse(`web1 ${ED} ${K1}\n@revoked * ${ED} ${K1}\n`);
    expect(kh.verify('web1', 22, ED, b(K1))).toBe('revoked');
    expect(kh.verify('other', 22, ED, b(K1))).toBe('revoked');
    expect(kh.verify('other', 22, ED, b(K2))).toBe('unknown');
  });

  it('ignores @cert-authority lines', () => {
    const kh = KnownHosts.parse(`@cert-authority * ${ED} ${K1}\n`);
    expect(kh.verify('web1', 22, ED, b(K1))).toBe('unknown');
  });

  it('honours negation in host lists', () => {
    const kh = KnownHosts.parse(`*.lan,!db*.lan ${ED} ${K1}\n`);
    expect(kh.verify('web.lan', 22, ED, b(K1))).toBe('ok');
    expect(kh.verify('db1.lan', 22, ED, b(K1))).toBe('unknown');
  });
});

describe('files', () => {
  let dir = '';
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = '';
  });

  it('appendKnownHost writes plain or hashed lines that verify', () => {
    dir = mkdtempSync(join(tmpdir(), 'kh-'));
    const file = join(dir, 'sub', 'known_hosts');
    expect(verify([file], '10.0.0.9', 2200, ED, b(K1))).toBe('unknown');
    appendKnownHost(file, '10.0.0.9', 2200, ED, b(K1));
    expect(readFileSync(file, 'utf8')).toBe(`[10.0.0.9]:2200 ${ED} ${K1}\n`);
    expect(verify([file], '10.0.0.9', 2200, ED, b(K1))).toBe('ok');
    appendKnownHost(file, 'web9', 22, ED, b(K2), { hashed: true });
    const last = readFileSync(file, 'utf8').trim().split('\n').pop() ?? '';
    expect(last).toMatch(/^\|1\|[A-Za-z0-9+/=]+\|[A-Za-z0-9+/=]+ ssh-ed25519 /);
    expect(last).not.toContain('web9');
    expect(verify([file], 'web9', 22, ED, b(K2))).toBe('ok');
  });

  it('adds a newline before appending to a file that lacks one', () => {
    dir = mkdtempSync(join(tmpdir(), 'kh-'));
    const file = join(dir, 'known_hosts');
    writeFileSync(file, `a ${ED} ${K1}`);
    appendKnownHost(file, 'b', 22, ED, b(K2));
    expect(readFileSync(file, 'utf8')).toBe(`a ${ED} ${K1}\nb ${ED} ${K2}\n`);
    expect(verify([file], 'a', 22, ED, b(K1))).toBe('ok');
  });

  it('a missing file is empty', () => {
    expect(KnownHosts.load(['/nonexistent/known_hosts']).entries).toEqual([]);
  });

  it('connections share one parse of an unchanged file; a changed or removed file is read again', () => {
    dir = mkdtempSync(join(tmpdir(), 'kh-'));
    const file = join(dir, 'known_hosts');
    writeFileSync(file, `a ${ED} ${K1}\n`);
    const first = KnownHosts.load([file]);
    const second = KnownHosts.load([file]);
    expect(second.entries[0]).toBe(first.entries[0]);
    // Appended (as acceptNewHostKeys does): the new key is seen at once.
    appendKnownHost(file, 'b', 22, ED, b(K2));
    expect(KnownHosts.load([file]).verify('b', 22, ED, b(K2))).toBe('ok');
    // Rewritten with the same size: still read again (the modification time changed).
    writeFileSync(file, `a ${ED} ${K2}\nb ${ED} ${K1}\n`);
    const swapped = KnownHosts.load([file]);
    expect(swapped.verify('a', 22, ED, b(K2))).toBe('ok');
    expect(swapped.verify('a', 22, ED, b(K1))).toBe('changed');
    rmSync(file);
    expect(KnownHosts.load([file]).entries).toEqual([]);
  });
});
