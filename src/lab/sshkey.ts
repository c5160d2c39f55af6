/**
 * Ed25519 key pairs in OpenSSH's own formats, made in-process (no ssh-keygen per host):
 * the private key as an unencrypted `openssh-key-v1` PEM block (PROTOCOL.key), the public
 * key as an `ssh-ed25519 AAAA... comment` line.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';

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

export function generateEd25519(comment: string): SshKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pubJwk = publicKey.export({ format: 'jwk' });
  const privJwk = privateKey.export({ format: 'jwk' });
  if (!pubJwk.x || !privJwk.d) throw new TypeError('ed25519 key export gave no key material');
  const pub = Buffer.from(pubJwk.x, 'base64url');
  const seed = Buffer.from(privJwk.d, 'base64url');
  return fromRaw(seed, pub, comment, randomBytes(4).readUInt32BE());
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
