/**
 * Ed25519 key pairs in OpenSSH's own formats, made in-process (no ssh-keygen per host):
 * the private key as an unencrypted `openssh-key-v1` PEM block (PROTOCOL.key), the public
 * key as an `ssh-ed25519 AAAA... comment` line.
 */
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';

export interface SshKeyPair {
  /** `-----BEGIN OPENSSH PRIVATE KEY-----` ... (write with mode 0600). */
  privateKey: string;
  /** `ssh-ed25519 AAAA... comment` */
  publicKey: string;
  /** The key type and base64 blob only: `ssh-ed25519 AAAA...` (for known_hosts). */
  publicKeyNoComment: string;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

function str(s: Buffer | string): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  return Buffer.concat([u32(b.length), b]);
}

/** PKCS#8 DER of an Ed25519 private key, up to its 32-byte seed (RFC 8410). */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
/** SubjectPublicKeyInfo DER of an Ed25519 public key, up to its 32 bytes (RFC 8410). */
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/**
 * A new key pair: the seed is 32 random bytes, the public key is derived from it by
 * OpenSSL (exported as SubjectPublicKeyInfo DER). Neither generateKeyPair nor a JWK export
 * is used: in Node 20, exporting a generated Ed25519 key as JWK holds the key's mutex while
 * allocating, and a garbage collection there that finalizes the finished key-generation
 * job takes the same mutex: the process hangs for ever (seen in `lab up`).
 */
export function generateEd25519(comment: string): SshKeyPair {
  return fromSeed(randomBytes(32), comment, randomBytes(4).readUInt32BE());
}

/** The key pair of a 32-byte seed; `check` is the random checkint. */
export function fromSeed(seed: Buffer, comment: string, check: number): SshKeyPair {
  if (seed.length !== 32) throw new TypeError('an ed25519 seed is 32 bytes');
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  if (spki.length !== SPKI_ED25519_PREFIX.length + 32 || !spki.subarray(0, SPKI_ED25519_PREFIX.length).equals(SPKI_ED25519_PREFIX)) {
    throw new TypeError('ed25519 public key export gave an unexpected encoding');
  }
  return fromRaw(seed, Buffer.from(spki.subarray(SPKI_ED25519_PREFIX.length)), comment, check);
}

/** Encodes raw key material (32-byte seed and public key); `check` is the random checkint. */
export function fromRaw(seed: Buffer, pub: Buffer, comment: string, check: number): SshKeyPair {
  if (seed.length !== 32 || pub.length !== 32) throw new TypeError('ed25519 seed and public key are 32 bytes each');
  const type = 'ssh-ed25519';
  const pubBlob = Buffer.concat([str(type), str(pub)]);
  let priv = Buffer.concat([u32(check), u32(check), str(type), str(pub), str(Buffer.concat([seed, pub])), str(comment)]);
  const pad: number[] = [];
  for (let i = 1; (priv.length + pad.length) % 8 !== 0; i++) pad.push(i);
  priv = Buffer.concat([priv, Buffer.from(pad)]);
  const blob = Buffer.concat([Buffer.from('openssh-key-v1\0', 'latin1'), str('none'), str('none'), str(''), u32(1), str(pubBlob), str(priv)]);
  const b64 = blob.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 70) lines.push(b64.slice(i, i + 70));
  const publicKeyNoComment = `${type} ${pubBlob.toString('base64')}`;
  return {
    privateKey: `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`,
    publicKey: comment ? `${publicKeyNoComment} ${comment}` : publicKeyNoComment,
    publicKeyNoComment,
  };
}
