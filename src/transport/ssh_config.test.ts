import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InputError } from '../errors.js';
import { loadSshConfig, parseProxyJump, parseSshConfig, resolveSshConfig, type ResolveEnv, type SshConfigItem } from './ssh_config.js';

const env: ResolveEnv = { homeDir: '/home/ann', localUser: 'ann', localHost: 'ctl', uid: 1000 };

function resolve(text: string, host: string, e: ResolveEnv = env) {
  return resolveSshConfig(host, parseSshConfig(text, 'cfg'), e);
}

describe('parseSshConfig', () => {
  it('reads keywords case-insensitively, with = or spaces, quotes and comments', () => {
    const items = parseSshConfig(
      ['# top', 'Host web*  "db 1"', '  HostName=10.0.0.1', '\tUSER  root # trailing', '  IdentityFile "~/my keys/id"', ''].join('\n'),
      'cfg',
    );
    expect(items).toEqual([
      { kind: 'host', patterns: ['web*', 'db 1'], loc: { file: 'cfg', line: 2, col: 1 } },
      { kind: 'option', keyword: 'hostname', args: ['10.0.0.1'], loc: { file: 'cfg', line: 3, col: 12 } },
      { kind: 'option', keyword: 'user', args: ['root'], loc: { file: 'cfg', line: 4, col: 8 } },
      { kind: 'option', keyword: 'identityfile', args: ['~/my keys/id'], loc: { file: 'cfg', line: 5, col: 16 } },
    ]);
  });

  it('reports an unterminated quote and a missing argument with their place', () => {
    expect(() => parseSshConfig('Host a\n  User "root\n', 'cfg')).toThrow(/cfg:2:8: unterminated quote/);
    expect(() => parseSshConfig('Host a\n  Port\n', 'cfg')).toThrow(InputError);
    expect(() => parseSshConfig('Host a\n  Port\n', 'cfg')).toThrow(/cfg:2:3: Port needs an argument/);
  });
});

describe('resolveSshConfig', () => {
  const text = [
    'Host web1',
    '  HostName 10.0.0.11',
    '  User deploy',
    '  IdentityFile ~/.ssh/web1_key',
    'Host web* !web9',
    '  HostName %h.lan',
    '  Port 2222',
    '  User ignored-because-first-wins',
    '  IdentityFile %d/.ssh/%r@%h',
    'Host *',
    '  User fallback',
    '  Port 22',
    '  IdentityFile ~/.ssh/id_ed25519',
    '  UserKnownHostsFile ~/.ssh/kh1 /etc/kh2',
    '  StrictHostKeyChecking Accept-New',
    '  ConnectTimeout 7',
  ].join('\n');

  it('first obtained value wins, IdentityFile accumulates with tokens and ~ expanded', () => {
    const r = resolve(text, 'web1');
    expect(r.hostName).toBe('10.0.0.11');
    expect(r.user).toBe('deploy');
    expect(r.port).toBe(2222);
    expect(r.identityFiles).toEqual([
      '/home/ann/.ssh/web1_key',
      '/home/ann/.ssh/deploy@10.0.0.11',
      '/home/ann/.ssh/id_ed25519',
    ]);
    expect(r.userKnownHostsFiles).toEqual(['/home/ann/.ssh/kh1', '/etc/kh2']);
    expect(r.strictHostKeyChecking).toBe('accept-new');
    expect(r.connectTimeoutMs).toBe(7000);
  });

  it('expands %h in HostName and honours negated patterns', () => {
    const r = resolve(text, 'web2');
    expect(r.hostName).toBe('web2.lan');
    expect(r.user).toBe('ignored-because-first-wins');
    const r9 = resolve(text, 'web9');
    expect(r9.hostName).toBe('web9');
    expect(r9.port).toBe(22);
    expect(r9.user).toBe('fallback');
  });

  it('an unmatched host gets only the * block; no config means the name itself', () => {
    expect(resolve('Host a\n User x\n', 'b')).toEqual({ host: 'b', hostName: 'b', identityFiles: [], warnings: [] });
  });

  it('options before any Host apply to every host', () => {
    expect(resolve('User top\nHost a\n User x\n', 'a').user).toBe('top');
  });

  it('Match all / host / originalhost; other criteria never match and warn', () => {
    const cfg = [
      'Host short',
      '  HostName full.example.com',
      'Match host *.example.com',
      '  User by-hostname',
      'Match originalhost other',
      '  User by-original',
      'Match exec "true"',
      '  Port 1',
      'Match all',
      '  Port 2',
    ].join('\n');
    const r = resolve(cfg, 'short');
    expect(r.user).toBe('by-hostname');
    expect(r.port).toBe(2);
    expect(r.warnings[0]).toMatch(/Match exec is not supported/);
    expect(resolve(cfg, 'other').user).toBe('by-original');
  });

  it('ProxyJump none clears it; a value is validated where it is written', () => {
    expect(resolve('Host a\n ProxyJump none\nHost *\n ProxyJump j\n', 'a').proxyJump).toBeUndefined();
    expect(resolve('Host *\n ProxyJump admin@jump:2200\n', 'a').proxyJump).toBe('admin@jump:2200');
    expect(() => resolve('Host *\n ProxyJump jump:99999\n', 'a')).toThrow(/cfg:2:12: bad port/);
  });

  it('UserKnownHostsFile none gives no files', () => {
    expect(resolve('UserKnownHostsFile none\n', 'a').userKnownHostsFiles).toEqual([]);
  });

  it('rejects a bad port with its location, only when it applies', () => {
    expect(() => resolve('Host a\n  Port http\n', 'a')).toThrow(/cfg:2:8: bad port "http"/);
    expect(resolve('Host a\n  Port http\n', 'b').port).toBeUndefined();
  });

  it('Include is read in place and only within an active block', () => {
    const files: Record<string, SshConfigItem[]> = {
      inc1: parseSshConfig('User from-include\nHost other\n  Port 9\n', 'inc1'),
      inc2: parseSshConfig('Port 7\n', 'inc2'),
    };
    const e: ResolveEnv = { ...env, include: (p) => (files[p] ? [{ file: p, items: files[p] }] : []) };
    const cfg = 'Host a\n  Include inc1\n  Port 5\nHost b\n  Include inc2\n';
    const r = resolve(cfg, 'a', e);
    expect(r.user).toBe('from-include');
    // the Host line inside inc1 ends the include's block but not the parent's
    expect(r.port).toBe(5);
    expect(resolve(cfg, 'b', e).port).toBe(7);
    expect(resolve(cfg, 'c', e).port).toBeUndefined();
  });

  it('an Include loop is stopped', () => {
    const self: SshConfigItem[] = parseSshConfig('Include self\n', 'self');
    expect(() => resolveSshConfig('a', self, { ...env, include: () => [{ file: 'self', items: self }] })).toThrow(/nested too deeply/);
  });
});

describe('parseProxyJump', () => {
  it('reads user, host, port, IPv6 and several hops', () => {
    expect(parseProxyJump('jump')).toEqual([{ host: 'jump' }]);
    expect(parseProxyJump('admin@jump:2200')).toEqual([{ user: 'admin', host: 'jump', port: 2200 }]);
    expect(parseProxyJump('ssh://a@j1:23,[::1]:2222,root@[fe80::1]')).toEqual([
      { user: 'a', host: 'j1', port: 23 },
      { host: '::1', port: 2222 },
      { user: 'root', host: 'fe80::1' },
    ]);
    expect(parseProxyJump('none')).toEqual([]);
  });
  it('rejects malformed values', () => {
    expect(() => parseProxyJump('@jump')).toThrow(InputError);
    expect(() => parseProxyJump('jump:0')).toThrow(/bad port/);
    expect(() => parseProxyJump('[::1')).toThrow(/missing \]/);
    expect(() => parseProxyJump('a,')).toThrow(/no host/);
  });
});

describe('loadSshConfig', () => {
  let dir = '';
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = '';
  });

  it('reads a file with a glob Include; a missing file is empty', () => {
    dir = mkdtempSync(join(tmpdir(), 'sshcfg-'));
    mkdirSync(join(dir, 'conf.d'));
    writeFileSync(join(dir, 'conf.d', '10-a.conf'), 'Host lab*\n  User from-a\n');
    writeFileSync(join(dir, 'conf.d', '20-b.conf'), 'Host lab*\n  User from-b\n  Port 2201\n');
    writeFileSync(join(dir, 'conf.d', 'skip.txt'), 'Host *\n  Port 1\n');
    writeFileSync(join(dir, 'config'), `Include ${join(dir, 'conf.d', '*.conf')}\nHost *\n  Port 22\n`);
    const r = loadSshConfig('lab1', join(dir, 'config'));
    expect(r.user).toBe('from-a');
    expect(r.port).toBe(2201);
    expect(loadSshConfig('x', join(dir, 'missing'))).toMatchObject({ host: 'x', hostName: 'x', identityFiles: [] });
  });
});
