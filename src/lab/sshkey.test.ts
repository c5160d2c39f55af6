import { spawnSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fromRaw, fromSeed, generateEd25519 } from './sshkey.js';

/** Splits an openssh-key-v1 PEM into its public blob and private section. */
function parse(pem: string): { pubBlob: Buffer; priv: Buffer; consumed: boolean } {
  const blob = Buffer.from(pem.split('\n').slice(1, -2).join(''), 'base64');
  let off = 15;
  const readStr = (): Buffer => {
    const n = blob.readUInt32BE(off);
    const s = blob.subarray(off + 4, off + 4 + n);
    off += 4 + n;
    return s;
  };
  readStr(); // cipher
  readStr(); // kdf
  readStr(); // kdf options
  off += 4; // number of keys
  const pubBlob = readStr();
  const priv = readStr();
  return { pubBlob, priv, consumed: off === blob.length };
}

const hasKeygen = spawnSync('ssh-keygen', ['-?'], { stdio: 'ignore' }).error === undefined;
const dir = mkdtempSync(join(tmpdir(), 'underlay-sshkey-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('generateEd25519', () => {
  it('writes the openssh-key-v1 layout', () => {
    const k = generateEd25519('root@worker1');
    expect(k.privateKey).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+\n-----END OPENSSH PRIVATE KEY-----\n$/);
    for (const line of k.privateKey.split('\n').slice(1, -2)) expect(line.length).toBeLessThanOrEqual(70);
    expect(k.publicKey).toMatch(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]+=* root@worker1$/);
    expect(k.publicKey.startsWith(k.publicKeyNoComment)).toBe(true);
    const blob = Buffer.from(k.privateKey.split('\n').slice(1, -2).join(''), 'base64');
    expect(blob.subarray(0, 15).toString('latin1')).toBe('openssh-key-v1\0');
  });

  it('derives the public key of RFC 8032 test 1 from its seed', () => {
    const seed = Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex');
    const k = fromSeed(seed, '', 1);
    const { pubBlob } = parse(k.privateKey);
    expect(pubBlob.subarray(-32).toString('hex')).toBe('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
  });

  it('makes a new key each time', () => {
    const keys = new Set(Array.from({ length: 20 }, () => generateEd25519('x').publicKeyNoComment));
    expect(keys.size).toBe(20);
  });

  it('pads the private section to 8 bytes with 1, 2, 3, ...', () => {
    const seed = Buffer.alloc(32, 7);
    const pub = Buffer.alloc(32, 9);
    for (const comment of ['', 'a', 'ab', 'abcdefg']) {
      const k = fromRaw(seed, pub, comment, 0x01020304);
      const { priv, consumed } = parse(k.privateKey);
      expect(consumed).toBe(true);
      expect(priv.length % 8).toBe(0);
      expect(priv.readUInt32BE(0)).toBe(0x01020304);
      expect(priv.readUInt32BE(4)).toBe(0x01020304);
      const padStart = 8 + 4 + 11 + 4 + 32 + 4 + 64 + 4 + Buffer.byteLength(comment);
      expect([...priv.subarray(padStart)]).toEqual(Array.from({ length: priv.length - padStart }, (_, i) => i + 1));
    }
  });

  it.skipIf(!hasKeygen)('is read by OpenSSH: ssh-keygen derives the same public key', () => {
    const k = generateEd25519('lab');
    const file = join(dir, 'id_test');
    writeFileSync(file, k.privateKey, { mode: 0o600 });
    const r = spawnSync('ssh-keygen', ['-y', '-f', file], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split(' ').slice(0, 2).join(' ')).toBe(k.publicKeyNoComment);
  });

  it('the encoded key pair signs and verifies (seed and public key belong together)', () => {
    const k = generateEd25519('x');
    const { pubBlob, priv } = parse(k.privateKey);
    const pub = pubBlob.subarray(-32);
    expect(Buffer.from(k.publicKeyNoComment.split(' ')[1]!, 'base64').equals(pubBlob)).toBe(true);
    // checkint x2, "ssh-ed25519", public key, then the 64-byte seed || public key
    const pair = priv.subarray(8 + 4 + 11 + 4 + 32 + 4, 8 + 4 + 11 + 4 + 32 + 4 + 64);
    const seed = pair.subarray(0, 32);
    expect(pair.subarray(32).equals(pub)).toBe(true);
    const privateKey = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: seed.toString('base64url'), x: pub.toString('base64url') }, format: 'jwk' });
    const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: pub.toString('base64url') }, format: 'jwk' });
    const sig = sign(null, Buffer.from('underlay'), privateKey);
    expect(verify(null, Buffer.from('underlay'), publicKey, sig)).toBe(true);
  });
});
