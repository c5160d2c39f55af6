import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { VaultError } from '../errors.js';
import { parseYaml, VaultText } from '../yamlsrc.js';
import { isVaultText, readPasswordFile, VaultKeyring } from './vault.js';

const FIX = join(import.meta.dirname, '../../test/fixtures/vault');
const fx = (name: string): string => join(FIX, name);
const read = (name: string): string => readFileSync(fx(name), 'utf8');

const PASSWORD = 'underlay-test-password';
const PROD_PASSWORD = 'pr0d p@ss; with $pecial "chars"';
const PLAIN = read('plain.yml');

const tmp = mkdtempSync(join(tmpdir(), 'underlay-vault-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function hasAnsibleVault(): boolean {
  return spawnSync('ansible-vault', ['--version'], { stdio: 'ignore' }).status === 0;
}
const ANSIBLE = hasAnsibleVault();
if (!ANSIBLE) {
  if (process.env['CI'] === 'true') throw new Error('ansible-vault is required under CI=true (install ansible-core)');
  console.warn('ansible-vault is not on PATH: the round-trip tests against it are skipped');
}

function catchError(f: () => unknown): VaultError {
  try {
    f();
  } catch (e) {
    if (e instanceof VaultError) return e;
    throw e;
  }
  throw new Error('expected a VaultError');
}

describe('isVaultText', () => {
  it('recognizes the header, and only ASCII text', () => {
    expect(isVaultText(read('vars-1.1.yml'))).toBe(true);
    expect(isVaultText(read('vars-1.2-prod.yml'))).toBe(true);
    expect(isVaultText(PLAIN)).toBe(false);
    expect(isVaultText('$ANSIBLE_VAULT;1.1;AES256\nabcé')).toBe(false);
    expect(isVaultText('x$ANSIBLE_VAULT;1.1;AES256')).toBe(false);
  });
});

describe('decrypting files made by ansible-vault', () => {
  const kr = new VaultKeyring([{ password: PASSWORD }, { id: 'prod', password: PROD_PASSWORD }]);

  it('reads format 1.1', () => {
    expect(kr.decrypt(read('vars-1.1.yml'))).toBe(PLAIN);
  });

  it('reads format 1.2 with a vault id', () => {
    expect(read('vars-1.2-prod.yml').startsWith('$ANSIBLE_VAULT;1.2;AES256;prod\n')).toBe(true);
    expect(kr.decrypt(read('vars-1.2-prod.yml'))).toBe(PLAIN);
  });

  it('tries every password when the id does not match (the id is only a hint)', () => {
    const onlyProd = new VaultKeyring([{ id: 'other', password: PROD_PASSWORD }]);
    expect(onlyProd.decrypt(read('vars-1.2-prod.yml'))).toBe(PLAIN);
    expect(new VaultKeyring([{ id: 'x', password: 'nope' }, { password: PASSWORD }]).decrypt(read('vars-1.1.yml'))).toBe(PLAIN);
  });

  it('decrypts inline !vault strings parsed from YAML', () => {
    const doc = parseYaml(read('inline.yml'), fx('inline.yml')) as Record<string, unknown>;
    const expected = JSON.parse(read('inline.expected.json')) as Record<string, string>;
    expect(Object.keys(doc).sort()).toEqual(Object.keys(expected).sort());
    for (const [k, want] of Object.entries(expected)) {
      const v = doc[k];
      expect(v).toBeInstanceOf(VaultText);
      expect(kr.decrypt((v as VaultText).ciphertext, (v as VaultText).loc)).toBe(want);
    }
  });

  it('decryptDeep replaces every VaultText and reports each plaintext', () => {
    const doc = parseYaml(`a: 1\nlist:\n  - plain\n  - ${read('inline.yml').split('db_password: ')[1]!.split('\nsixteen')[0]!.replace(/\n/g, '\n    ')}\n`, 'x.yml');
    const seen: string[] = [];
    const out = kr.decryptDeep(doc, (s) => seen.push(s)) as { a: number; list: string[] };
    expect(out).toEqual({ a: 1, list: ['plain', 'inline-secret-value'] });
    expect(seen).toEqual(['inline-secret-value']);
    expect((doc as { list: unknown[] }).list[1]).toBeInstanceOf(VaultText);
  });
});

describe('errors', () => {
  const loc = { file: 'group_vars/all/vault.yml', line: 3, col: 7 };

  it('a wrong password names the place', () => {
    const e = catchError(() => new VaultKeyring([{ password: 'wrong' }]).decrypt(read('vars-1.1.yml'), loc));
    expect(e.message).toBe('group_vars/all/vault.yml:3:7: cannot decrypt vault (wrong password?)');
    expect(e.loc).toEqual(loc);
    const e2 = catchError(() => new VaultKeyring([{ password: 'wrong' }]).decrypt(read('vars-1.2-prod.yml'), loc));
    expect(e2.reason).toBe("cannot decrypt vault with vault id 'prod' (wrong password?)");
  });

  it('no password says how to give one', () => {
    const e = catchError(() => new VaultKeyring([]).decrypt(read('vars-1.1.yml'), loc));
    expect(e.reason).toMatch(/no vault password given; give a vault password with --vault-password-file FILE.*UNDERLAY_VAULT_PASSWORD/);
    expect(e.loc).toEqual(loc);
  });

  it('a corrupted HMAC is refused, not decrypted', () => {
    const kr = new VaultKeyring([{ password: PASSWORD }]);
    const text = read('vars-1.1.yml');
    const lines = text.split('\n');
    const body = Buffer.from(lines.slice(1).join(''), 'hex').toString('latin1');
    const [salt, hmac, ct] = body.split('\n') as [string, string, string];
    const flipped = (hmac[0] === '0' ? '1' : '0') + hmac.slice(1);
    const bad = `${lines[0]}\n${Buffer.from(`${salt}\n${flipped}\n${ct}`, 'latin1').toString('hex')}\n`;
    expect(catchError(() => kr.decrypt(bad, loc)).reason).toBe('cannot decrypt vault (wrong password?)');
    // a flipped ciphertext byte fails the HMAC as well
    const ct2 = (ct[0] === '0' ? '1' : '0') + ct.slice(1);
    const bad2 = `${lines[0]}\n${Buffer.from(`${salt}\n${hmac}\n${ct2}`, 'latin1').toString('hex')}\n`;
    expect(catchError(() => kr.decrypt(bad2, loc)).reason).toBe('cannot decrypt vault (wrong password?)');
  });

  it('malformed envelopes are corrupt-data errors', () => {
    const kr = new VaultKeyring([{ password: PASSWORD }]);
    expect(catchError(() => kr.decrypt('$ANSIBLE_VAULT;1.1\nabcd')).reason).toMatch(/bad header/);
    expect(catchError(() => kr.decrypt('$ANSIBLE_VAULT;1.1;AES128\nabcd')).reason).toMatch(/unsupported vault cipher 'AES128'/);
    expect(catchError(() => kr.decrypt('$ANSIBLE_VAULT;9.9;AES256\nabcd')).reason).toMatch(/unsupported vault format version '9.9'/);
    expect(catchError(() => kr.decrypt('$ANSIBLE_VAULT;1.1;AES256\nzz')).reason).toMatch(/not hexadecimal/);
    expect(catchError(() => kr.decrypt('$ANSIBLE_VAULT;1.1;AES256\nabc')).reason).toMatch(/not hexadecimal/);
    const noParts = Buffer.from('00ff\n00', 'latin1').toString('hex');
    expect(catchError(() => kr.decrypt(`$ANSIBLE_VAULT;1.1;AES256\n${noParts}`)).reason).toMatch(/expected salt, HMAC and ciphertext/);
    expect(catchError(() => kr.decrypt('hello')).reason).toMatch(/not vault-encrypted/);
  });
});

describe('encrypt', () => {
  const kr = new VaultKeyring([{ password: PASSWORD }]);

  it('round-trips, including empty, block-sized and non-ASCII text', () => {
    for (const s of ['', 'x', '0123456789abcdef', '0123456789abcdef0', 'pässwörd ✓\n\nmore']) {
      const v = kr.encrypt(s);
      expect(v.startsWith('$ANSIBLE_VAULT;1.1;AES256\n')).toBe(true);
      expect(v.endsWith('\n')).toBe(true);
      for (const line of v.split('\n').slice(1, -1)) expect(line.length).toBeLessThanOrEqual(80);
      expect(kr.decrypt(v)).toBe(s);
    }
  });

  it('is deterministic for a given salt and differs otherwise', () => {
    const salt = Buffer.alloc(32, 7);
    expect(kr.encrypt('abc', { salt })).toBe(kr.encrypt('abc', { salt }));
    expect(kr.encrypt('abc')).not.toBe(kr.encrypt('abc'));
  });

  it('writes 1.2 with a vault id, picking that id’s password', () => {
    const two = new VaultKeyring([{ password: PASSWORD }, { id: 'prod', password: PROD_PASSWORD }]);
    const v = two.encrypt('s', { id: 'prod' });
    expect(v.startsWith('$ANSIBLE_VAULT;1.2;AES256;prod\n')).toBe(true);
    expect(new VaultKeyring([{ password: PROD_PASSWORD }]).decrypt(v)).toBe('s');
    expect(() => new VaultKeyring([{ password: PASSWORD }]).decrypt(v)).toThrow(VaultError);
    expect(catchError(() => two.encrypt('s', { id: 'nope' })).reason).toMatch(/no vault password with id 'nope'/);
  });

  it('refuses to encrypt twice, without a password, or with an empty salt', () => {
    expect(catchError(() => kr.encrypt(kr.encrypt('a'))).reason).toMatch(/already vault-encrypted/);
    expect(catchError(() => new VaultKeyring([]).encrypt('a')).reason).toMatch(/no vault password given/);
    expect(catchError(() => kr.encrypt('a', { salt: Buffer.alloc(0) })).reason).toMatch(/salt/);
  });

  it.skipIf(!ANSIBLE)('ansible-vault decrypts what we encrypt (1.1 and 1.2)', () => {
    const pw = fx('password.txt');
    const f = join(tmp, 'ours.yml');
    writeFileSync(f, kr.encrypt(PLAIN));
    expect(execFileSync('ansible-vault', ['view', '--vault-password-file', pw, f], { encoding: 'utf8' })).toBe(PLAIN);
    const prod = new VaultKeyring([{ id: 'prod', password: PROD_PASSWORD }]);
    writeFileSync(f, prod.encrypt('línea 1\nline 2\n'));
    expect(readFileSync(f, 'utf8').startsWith('$ANSIBLE_VAULT;1.2;AES256;prod\n')).toBe(true);
    const out = execFileSync('ansible-vault', ['view', '--vault-id', `prod@${fx('prod-password.txt')}`, f], { encoding: 'utf8' });
    expect(out).toBe('línea 1\nline 2\n');
  });

  it.skipIf(!ANSIBLE)('we decrypt what ansible-vault encrypts now (fresh salt)', () => {
    const f = join(tmp, 'theirs.txt');
    writeFileSync(f, 'fresh secret ✓\n');
    execFileSync('ansible-vault', ['encrypt', '--vault-password-file', fx('password.txt'), f], { stdio: 'ignore' });
    expect(kr.decrypt(readFileSync(f, 'utf8'))).toBe('fresh secret ✓\n');
  });
});

describe('password sources', () => {
  it('reads a password file as ansible does: whole content, surrounding whitespace stripped', () => {
    expect(readPasswordFile(fx('password.txt'))).toBe(PASSWORD);
    const f = join(tmp, 'pw-ws.txt');
    writeFileSync(f, '  \t spaced pass \r\n\n');
    expect(readPasswordFile(f)).toBe('spaced pass');
  });

  it('runs an executable password file and uses its output', () => {
    expect(readPasswordFile(fx('password-script.sh'))).toBe(PASSWORD);
    const kr = VaultKeyring.fromSources({ passwordFiles: [fx('password-script.sh')], env: {} });
    expect(kr.decrypt(read('vars-1.1.yml'))).toBe(PLAIN);
  });

  it('reports a failing password script', () => {
    const e = catchError(() => readPasswordFile(fx('password-failing.sh')));
    expect(e.message).toMatch(/password-failing\.sh exited with status 3/);
  });

  it('passes --vault-id to a *-client script', () => {
    const f = join(tmp, 'vault-client.sh');
    writeFileSync(f, '#!/bin/sh\n[ "$1" = --vault-id ] || exit 9\n[ "$2" = prod ] || exit 2\nprintf "%s\\n" "pw-for-$2"\n');
    chmodSync(f, 0o755);
    expect(readPasswordFile(f, 'prod')).toBe('pw-for-prod');
    expect(catchError(() => readPasswordFile(f, 'dev')).reason).toMatch(/has no password for vault id 'dev'/);
  });

  it('refuses empty and missing password files', () => {
    const f = join(tmp, 'empty.txt');
    writeFileSync(f, ' \n');
    expect(catchError(() => readPasswordFile(f)).reason).toMatch(/is empty/);
    expect(catchError(() => readPasswordFile(join(tmp, 'missing.txt'))).reason).toMatch(/cannot read vault password file .*ENOENT/);
  });

  it('collects UNDERLAY_VAULT_PASSWORD, UNDERLAY_VAULT_PASSWORD_FILE, files and ids', () => {
    expect(VaultKeyring.fromSources({ env: {} }).empty).toBe(true);
    const kr = VaultKeyring.fromSources({
      env: { UNDERLAY_VAULT_PASSWORD: 'from-env', UNDERLAY_VAULT_PASSWORD_FILE: fx('password.txt') },
      passwordFiles: [fx('password.txt')],
      vaultIds: [`prod@${fx('prod-password.txt')}`],
    });
    expect(kr.empty).toBe(false);
    expect(kr.ids).toEqual(['default', 'default', 'default', 'prod']);
    expect(kr.decrypt(read('vars-1.1.yml'))).toBe(PLAIN);
    expect(kr.decrypt(read('vars-1.2-prod.yml'))).toBe(PLAIN);
    const envOnly = VaultKeyring.fromSources({ env: { UNDERLAY_VAULT_PASSWORD: PASSWORD } });
    expect(envOnly.decrypt(read('vars-1.1.yml'))).toBe(PLAIN);
    expect(() => VaultKeyring.fromSources({ vaultIds: ['x@prompt'], env: {} })).toThrow(/prompting/);
  });
});
