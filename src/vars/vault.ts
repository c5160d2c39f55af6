/**
 * Ansible Vault, read and written with node:crypto only, compatible with ansible-core's
 * lib/ansible/parsing/vault/__init__.py (VaultLib, VaultAES256):
 *
 *   $ANSIBLE_VAULT;1.1;AES256            or   $ANSIBLE_VAULT;1.2;AES256;vault-id
 *   hex( hex(salt) "\n" hex(hmac) "\n" hex(ciphertext) )   in lines of 80 characters
 *
 * - keys: PBKDF2-HMAC-SHA256(password, salt, 10000 iterations) -> 80 bytes:
 *   32 bytes AES key, 32 bytes HMAC key, 16 bytes initial CTR counter;
 * - the HMAC-SHA256 of the ciphertext is verified (in constant time) before decrypting;
 * - AES-256-CTR, with PKCS#7 padding to 16 bytes.
 *
 * As in Ansible, the vault id in a 1.2 header is a hint, not authenticated: the password
 * with that id is tried first, then every other password (`vault_id_match` off).
 *
 * Passwords come from `UNDERLAY_VAULT_PASSWORD` (the password itself),
 * `UNDERLAY_VAULT_PASSWORD_FILE`, password files and `id@file` vault ids. A password file
 * is read as Ansible reads one: the whole content with surrounding whitespace stripped.
 * An executable password file is run and its output, without trailing newlines, is the
 * password; a script named `*-client` (or `*-client.ext`) gets `--vault-id ID`, as in
 * Ansible.
 */
import { spawnSync } from 'node:child_process';
import { createCipheriv, createDecipheriv, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { VaultError, type SourceLoc } from '../errors.js';
import { isPlainObject, copyLoc, VaultText } from '../yamlsrc.js';

const HEADER = '$ANSIBLE_VAULT';
const ITERATIONS = 10000;
const KEY_LEN = 32;
const IV_LEN = 16;
const DEFAULT_ID = 'default';
/** How long a vault password script may run (it may prompt on the terminal). */
const SCRIPT_TIMEOUT_MS = 120_000;

const HOW_TO =
  'give a vault password with --vault-password-file FILE, --vault-id ID@FILE, or the UNDERLAY_VAULT_PASSWORD environment variable';

/** Whether text is vault-encrypted data (ASCII, starting with `$ANSIBLE_VAULT`). */
export function isVaultText(text: string): boolean {
  // eslint-disable-next-line no-control-regex
  return text.startsWith(HEADER) && /^[\x00-\x7f]*$/.test(text);
}

interface Envelope {
  version: string;
  cipher: string;
  vaultId: string | undefined;
  body: string;
}

function parseEnvelope(text: string, loc: SourceLoc | undefined): Envelope {
  const lines = text.split(/\r?\n|\r/);
  const header = (lines[0] ?? '').trim().split(';');
  if (header[0] !== HEADER || header.length < 3) {
    throw new VaultError('corrupt vault data: bad header (expected $ANSIBLE_VAULT;VERSION;CIPHER)', loc);
  }
  const version = header[1]!.trim();
  const cipher = header[2]!.trim();
  if (cipher !== 'AES256') throw new VaultError(`unsupported vault cipher '${cipher}' (only AES256 exists)`, loc);
  if (version !== '1.1' && version !== '1.2') {
    throw new VaultError(`unsupported vault format version '${version}' (1.1 and 1.2 are read)`, loc);
  }
  const vaultId = header.length >= 4 ? header[3]!.trim() || undefined : undefined;
  return { version, cipher, vaultId, body: lines.slice(1).map((l) => l.trim()).join('') };
}

const HEX = /^(?:[0-9a-fA-F]{2})*$/;

function unhex(hex: string, what: string, loc: SourceLoc | undefined): Buffer {
  if (!HEX.test(hex)) throw new VaultError(`corrupt vault data: the ${what} is not hexadecimal`, loc);
  return Buffer.from(hex, 'hex');
}

interface Parts {
  salt: Buffer;
  hmac: Buffer;
  ciphertext: Buffer;
}

function parseBody(body: string, loc: SourceLoc | undefined): Parts {
  const inner = unhex(body, 'body', loc).toString('latin1');
  const first = inner.indexOf('\n');
  const second = first < 0 ? -1 : inner.indexOf('\n', first + 1);
  if (first < 0 || second < 0) throw new VaultError('corrupt vault data: expected salt, HMAC and ciphertext', loc);
  return {
    salt: unhex(inner.slice(0, first), 'salt', loc),
    hmac: unhex(inner.slice(first + 1, second), 'HMAC', loc),
    ciphertext: unhex(inner.slice(second + 1), 'ciphertext', loc),
  };
}

function deriveKeys(password: string, salt: Buffer): { key: Buffer; hmacKey: Buffer; iv: Buffer } {
  const d = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, ITERATIONS, 2 * KEY_LEN + IV_LEN, 'sha256');
  return { key: d.subarray(0, KEY_LEN), hmacKey: d.subarray(KEY_LEN, 2 * KEY_LEN), iv: d.subarray(2 * KEY_LEN) };
}

/** Decrypts with one password: null when the HMAC does not match (wrong password). */
function tryDecrypt(parts: Parts, password: string, loc: SourceLoc | undefined): Buffer | null {
  const { key, hmacKey, iv } = deriveKeys(password, parts.salt);
  const mac = createHmac('sha256', hmacKey).update(parts.ciphertext).digest();
  if (mac.length !== parts.hmac.length || !timingSafeEqual(mac, parts.hmac)) return null;
  const decipher = createDecipheriv('aes-256-ctr', key, iv);
  const padded = Buffer.concat([decipher.update(parts.ciphertext), decipher.final()]);
  const pad = padded.length > 0 ? padded[padded.length - 1]! : 0;
  if (padded.length === 0 || padded.length % 16 !== 0 || pad < 1 || pad > 16) {
    throw new VaultError('corrupt vault data: bad padding', loc);
  }
  for (let i = padded.length - pad; i < padded.length; i++) {
    if (padded[i] !== pad) throw new VaultError('corrupt vault data: bad padding', loc);
  }
  return padded.subarray(0, padded.length - pad);
}

function encryptWith(plaintext: Buffer, password: string, salt: Buffer): string {
  const { key, hmacKey, iv } = deriveKeys(password, salt);
  const pad = 16 - (plaintext.length % 16);
  const padded = Buffer.concat([plaintext, Buffer.alloc(pad, pad)]);
  const cipher = createCipheriv('aes-256-ctr', key, iv);
  const ciphertext = Buffer.concat([cipher.update(padded), cipher.final()]);
  const mac = createHmac('sha256', hmacKey).update(ciphertext).digest();
  const inner = `${salt.toString('hex')}\n${mac.toString('hex')}\n${ciphertext.toString('hex')}`;
  return Buffer.from(inner, 'latin1').toString('hex');
}

export interface VaultSecret {
  /** The vault id (label); `default` when not given. */
  id?: string;
  password: string;
}

export interface VaultSources {
  /** Password files (`--vault-password-file`), as Ansible reads them. */
  passwordFiles?: string[];
  /** `ID@FILE` (`--vault-id`); a bare `FILE` is the default id. */
  vaultIds?: string[];
  /** Where UNDERLAY_VAULT_PASSWORD / UNDERLAY_VAULT_PASSWORD_FILE are looked up. */
  env?: NodeJS.ProcessEnv;
}

function isExecutable(file: string): boolean {
  try {
    return (statSync(file).mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** Reads one password source as Ansible does (file, or executable script). */
export function readPasswordFile(file: string, id?: string): string {
  let st;
  try {
    st = statSync(file);
  } catch (e) {
    throw new VaultError(`cannot read vault password file ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  if (!st.isFile()) throw new VaultError(`vault password file ${file} is not a regular file`);
  let password: string;
  if (isExecutable(file)) {
    // a `*-client` script is asked for a vault id and may answer 2: "no such id"
    const client = basename(file, extname(file)).endsWith('-client');
    const r = spawnSync(file, client ? ['--vault-id', id ?? DEFAULT_ID] : [], {
      // a plain script's stderr goes to the terminal, so it can prompt (as in Ansible)
      stdio: ['inherit', 'pipe', client ? 'pipe' : 'inherit'],
      timeout: SCRIPT_TIMEOUT_MS,
      maxBuffer: 1024 * 1024,
    });
    if (r.error) throw new VaultError(`cannot run vault password script ${file}: ${r.error.message}`);
    if (client && r.status === 2) {
      throw new VaultError(`vault password client script ${file} has no password for vault id '${id ?? DEFAULT_ID}'`);
    }
    if (r.status !== 0) {
      const err = r.stderr ? r.stderr.toString('utf8').trim() : '';
      const how = r.signal ? `was killed by ${r.signal}` : `exited with status ${r.status}`;
      throw new VaultError(`vault password script ${file} ${how}${err ? `: ${err}` : ''}`);
    }
    password = r.stdout.toString('utf8').replace(/^[\r\n]+|[\r\n]+$/g, '');
  } else {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new VaultError(`cannot read vault password file ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    // Python's bytes.strip(): ASCII whitespace only
    password = text.replace(/^[ \t\n\r\v\f]+|[ \t\n\r\v\f]+$/g, '');
    if (isVaultText(password)) {
      throw new VaultError(`vault password file ${file} is itself vault-encrypted, which is not supported`);
    }
  }
  if (password === '') throw new VaultError(`the vault password from ${file} is empty`);
  return password;
}

/** The vault passwords known to a run, each with its vault id. */
export class VaultKeyring {
  private readonly secrets: { id: string; password: string }[];

  constructor(secrets: VaultSecret[]) {
    this.secrets = secrets.map((s) => {
      if (s.password === '') throw new VaultError('a vault password cannot be empty');
      return { id: s.id ?? DEFAULT_ID, password: s.password };
    });
  }

  /**
   * Collects passwords from the environment (`UNDERLAY_VAULT_PASSWORD`,
   * `UNDERLAY_VAULT_PASSWORD_FILE`), password files and `ID@FILE` vault ids, in that order.
   */
  static fromSources(opts: VaultSources): VaultKeyring {
    const env = opts.env ?? process.env;
    const secrets: VaultSecret[] = [];
    const envPassword = env['UNDERLAY_VAULT_PASSWORD'];
    if (envPassword) secrets.push({ password: envPassword });
    const envFile = env['UNDERLAY_VAULT_PASSWORD_FILE'];
    if (envFile) secrets.push({ password: readPasswordFile(envFile) });
    for (const f of opts.passwordFiles ?? []) secrets.push({ password: readPasswordFile(f) });
    for (const spec of opts.vaultIds ?? []) {
      const at = spec.indexOf('@');
      const id = at > 0 ? spec.slice(0, at) : DEFAULT_ID;
      const file = at > 0 ? spec.slice(at + 1) : spec;
      if (file === 'prompt') throw new VaultError(`vault id '${spec}': prompting for a vault password is not supported; use a password file`);
      secrets.push({ id, password: readPasswordFile(file, id) });
    }
    return new VaultKeyring(secrets);
  }

  /** No password is known. */
  get empty(): boolean {
    return this.secrets.length === 0;
  }

  /** The vault ids known, in order (for messages). */
  get ids(): string[] {
    return this.secrets.map((s) => s.id);
  }

  /** Decrypts vault text to bytes. `loc` is where the vault text stands, for errors. */
  decryptBytes(text: string, loc?: SourceLoc): Buffer {
    if (!isVaultText(text.trimStart())) throw new VaultError('not vault-encrypted data (no $ANSIBLE_VAULT header)', loc);
    const env = parseEnvelope(text.trimStart(), loc);
    if (this.secrets.length === 0) throw new VaultError(`cannot decrypt vault: no vault password given; ${HOW_TO}`, loc);
    const parts = parseBody(env.body, loc);
    const ordered = env.vaultId
      ? [...this.secrets.filter((s) => s.id === env.vaultId), ...this.secrets.filter((s) => s.id !== env.vaultId)]
      : this.secrets;
    for (const s of ordered) {
      const plain = tryDecrypt(parts, s.password, loc);
      if (plain) return plain;
    }
    const which = env.vaultId && env.vaultId !== DEFAULT_ID ? ` with vault id '${env.vaultId}'` : '';
    throw new VaultError(`cannot decrypt vault${which} (wrong password?)`, loc);
  }

  /** Decrypts vault text to a UTF-8 string. */
  decrypt(text: string, loc?: SourceLoc): string {
    const bytes = this.decryptBytes(text, loc);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new VaultError('the decrypted vault data is not UTF-8 text', loc);
    }
  }

  /**
   * Encrypts text in Ansible's format. With `id` (or a keyring whose first password has a
   * vault id other than `default`) the header is 1.2 and names the id; otherwise 1.1.
   */
  encrypt(plaintext: string | Buffer, opts: { id?: string; salt?: Buffer } = {}): string {
    if (this.secrets.length === 0) throw new VaultError(`cannot encrypt: no vault password given; ${HOW_TO}`);
    const secret = opts.id === undefined ? this.secrets[0]! : this.secrets.find((s) => s.id === opts.id);
    if (!secret) {
      throw new VaultError(`no vault password with id '${opts.id}' (known: ${this.ids.join(', ')})`);
    }
    const bytes = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
    if (isVaultText(bytes.toString('latin1'))) throw new VaultError('the input is already vault-encrypted');
    const salt = opts.salt ?? randomBytes(32);
    if (salt.length === 0) throw new VaultError('the salt cannot be empty');
    const body = encryptWith(bytes, secret.password, salt);
    const id = opts.id ?? secret.id;
    const header = id && id !== DEFAULT_ID ? `${HEADER};1.2;AES256;${id}` : `${HEADER};1.1;AES256`;
    const lines = [header];
    for (let i = 0; i < body.length; i += 80) lines.push(body.slice(i, i + 80));
    return `${lines.join('\n')}\n`;
  }

  /**
   * A copy of `value` with every `!vault` string (VaultText) decrypted; `onSecret` is told
   * each plaintext (to register it for masking). Lists and mappings keep their positions.
   */
  decryptDeep(value: unknown, onSecret?: (plaintext: string) => void): unknown {
    if (value instanceof VaultText) {
      const plain = this.decrypt(value.ciphertext, value.loc);
      onSecret?.(plain);
      return plain;
    }
    if (Array.isArray(value)) {
      const out = value.map((v) => this.decryptDeep(v, onSecret));
      copyLoc(value, out);
      return out;
    }
    if (isPlainObject(value)) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = this.decryptDeep(v, onSecret);
      copyLoc(value, out);
      return out;
    }
    return value;
  }
}
