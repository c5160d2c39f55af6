/**
 * OpenSSH known_hosts files: parse, verify a host key, record a new one.
 *
 * Supported: plain names and patterns (`*`, `?`, negation `!`), `[host]:port` for
 * non-default ports, comma lists, hashed entries (`|1|salt|hmac-sha1`), `@revoked`,
 * comments. `@cert-authority` lines are read and ignored (host certificates are not
 * used), as are lines that cannot be parsed (they are listed in `warnings`).
 *
 * Lookup follows OpenSSH: the name looked up is the address actually connected to,
 * lowercased, as `host` on port 22 and `[host]:port` otherwise (on port 22 an entry
 * written as `[host]:22` is accepted too).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

export type HostKeyStatus = 'ok' | 'unknown' | 'changed' | 'revoked';

export type HostMatcher =
  | { kind: 'patterns'; patterns: string[] }
  | { kind: 'hashed'; salt: Buffer; hash: Buffer };

export interface KnownHostEntry {
  file: string;
  line: number;
  marker: 'revoked' | 'cert-authority' | null;
  hosts: HostMatcher;
  keyType: string;
  keyBlob: Buffer;
}

export interface KnownHostsWarning {
  file: string;
  line: number;
  reason: string;
}

/** The outcome of a lookup, with what was found (for messages). */
export interface HostKeyCheck {
  status: HostKeyStatus;
  /** The entry that decided `ok` / `revoked`, or the first conflicting one for `changed`. */
  entry?: KnownHostEntry;
  /** Keys of the same type recorded for this host that differ from the presented one. */
  conflicting: KnownHostEntry[];
  /** Key types recorded for this host other than the presented one. */
  otherTypes: string[];
}

/** The SSH wire-format type string at the start of a key blob (`ssh-ed25519`, ...). */
export function keyTypeOf(blob: Buffer): string | null {
  if (blob.length < 4) return null;
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || 4 + len > blob.length) return null;
  const type = blob.subarray(4, 4 + len).toString('latin1');
  return /^[\x21-\x7e]+$/.test(type) ? type : null;
}

/** `SHA256:...` as `ssh-keygen -l` prints it (base64 without padding). */
export function fingerprint(keyBlob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '');
}

/** The name OpenSSH looks up for a host and port. */
export function knownHostName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

/** `|1|salt|hash` for a name, as `ssh-keygen -H` writes it. */
export function hashHostName(name: string, salt: Buffer = randomBytes(20)): string {
  const hash = createHmac('sha1', salt).update(name).digest();
  return `|1|${salt.toString('base64')}|${hash.toString('base64')}`;
}

/** Glob match with `*` and `?`, case-insensitive (OpenSSH's match_pattern on lowercased names). */
export function wildcardMatch(text: string, pattern: string): boolean {
  const t = text.toLowerCase();
  const p = pattern.toLowerCase();
  // Iterative matcher with backtracking on the last `*`: linear in practice, no regex.
  let ti = 0;
  let pi = 0;
  let star = -1;
  let mark = 0;
  let steps = 0;
  const limit = (t.length + 1) * (p.length + 1) + 16;
  while (ti < t.length) {
    if (++steps > limit) return false;
    if (pi < p.length && (p[pi] === '?' || p[pi] === t[ti])) {
      ti++;
      pi++;
    } else if (pi < p.length && p[pi] === '*') {
      star = pi++;
      mark = ti;
    } else if (star >= 0) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}

/**
 * A pattern list (comma-separated in known_hosts, space-separated in ssh_config):
 * matches when some positive pattern matches and no negated one does.
 */
export function matchPatternList(name: string, patterns: readonly string[]): boolean {
  let matched = false;
  for (const raw of patterns) {
    if (raw === '') continue;
    if (raw.startsWith('!')) {
      if (wildcardMatch(name, raw.slice(1))) return false;
    } else if (wildcardMatch(name, raw)) {
      matched = true;
    }
  }
  return matched;
}

export function parseKnownHosts(text: string, file: string): { entries: KnownHostEntry[]; warnings: KnownHostsWarning[] } {
  const entries: KnownHostEntry[] = [];
  const warnings: KnownHostsWarning[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((rawLine, i) => {
    const line = i + 1;
    const trimmed = rawLine.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const fields = trimmed.split(/[ \t]+/);
    let marker: KnownHostEntry['marker'] = null;
    if (fields[0]?.startsWith('@')) {
      const m = fields.shift();
      if (m === '@revoked') marker = 'revoked';
      else if (m === '@cert-authority') marker = 'cert-authority';
      else {
        warnings.push({ file, line, reason: `unknown marker ${m}` });
        return;
      }
    }
    const [hostField, keyType, b64] = fields;
    if (hostField === undefined || keyType === undefined || b64 === undefined) {
      warnings.push({ file, line, reason: 'expected: hosts key-type base64-key' });
      return;
    }
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) {
      warnings.push({ file, line, reason: 'the key is not base64' });
      return;
    }
    const keyBlob = Buffer.from(b64, 'base64');
    const embedded = keyTypeOf(keyBlob);
    if (embedded === null || embedded !== keyType) {
      warnings.push({ file, line, reason: `the key does not decode as ${keyType}` });
      return;
    }
    let hosts: HostMatcher;
    if (hostField.startsWith('|1|')) {
      const [, , salt64, hash64, ...extra] = hostField.split('|');
      const salt = Buffer.from(salt64 ?? '', 'base64');
      const hash = Buffer.from(hash64 ?? '', 'base64');
      if (extra.length > 0 || salt.length === 0 || hash.length !== 20) {
        warnings.push({ file, line, reason: 'malformed hashed host name' });
        return;
      }
      hosts = { kind: 'hashed', salt, hash };
    } else if (hostField.startsWith('|')) {
      warnings.push({ file, line, reason: 'unsupported host name hash' });
      return;
    } else {
      hosts = { kind: 'patterns', patterns: hostField.split(',').filter((p) => p !== '') };
    }
    entries.push({ file, line, marker, hosts, keyType, keyBlob });
  });
  return { entries, warnings };
}

function matchesName(hosts: HostMatcher, names: readonly string[]): boolean {
  if (hosts.kind === 'hashed') {
    return names.some((n) => {
      const h = createHmac('sha1', hosts.salt).update(n).digest();
      return h.length === hosts.hash.length && timingSafeEqual(h, hosts.hash);
    });
  }
  return names.some((n) => matchPatternList(n, hosts.patterns));
}

const parsedFiles = new Map<string, { version: string; parsed: ReturnType<typeof parseKnownHosts> }>();

/** One known_hosts file, parsed (from the cache while unchanged); null when it does not exist. */
function loadFile(f: string): ReturnType<typeof parseKnownHosts> | null {
  const st = statSync(f, { throwIfNoEntry: false, bigint: true });
  if (!st) {
    parsedFiles.delete(f);
    return null;
  }
  const version = `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  const hit = parsedFiles.get(f);
  if (hit && hit.version === version) return hit.parsed;
  const parsed = parseKnownHosts(readFileSync(f, 'utf8'), f);
  parsedFiles.set(f, { version, parsed });
  return parsed;
}

export class KnownHosts {
  constructor(
    readonly entries: readonly KnownHostEntry[],
    readonly warnings: readonly KnownHostsWarning[] = [],
  ) {}

  /**
   * Reads the files; a missing file is empty. A file is parsed again only when it changed
   * (its inode, size or modification time), so the connections of a run share one parse
   * of each file instead of holding one each.
   */
  static load(files: readonly string[]): KnownHosts {
    const entries: KnownHostEntry[] = [];
    const warnings: KnownHostsWarning[] = [];
    for (const f of files) {
      const parsed = loadFile(f);
      if (!parsed) continue;
      entries.push(...parsed.entries);
      warnings.push(...parsed.warnings);
    }
    return new KnownHosts(entries, warnings);
  }

  static parse(text: string, file = 'known_hosts'): KnownHosts {
    const p = parseKnownHosts(text, file);
    return new KnownHosts(p.entries, p.warnings);
  }

  /** Entries (any marker) recorded for this host and port. */
  entriesFor(host: string, port: number): KnownHostEntry[] {
    const names = [knownHostName(host, port)];
    if (port === 22) names.push(`[${host.toLowerCase()}]:22`);
    return this.entries.filter((e) => matchesName(e.hosts, names));
  }

  check(host: string, port: number, keyType: string, keyBlob: Buffer): HostKeyCheck {
    const found = this.entriesFor(host, port).filter((e) => e.marker !== 'cert-authority');
    const same = (e: KnownHostEntry) => e.keyBlob.equals(keyBlob);
    const revoked = found.find((e) => e.marker === 'revoked' && same(e));
    const plain = found.filter((e) => e.marker === null);
    const otherTypes = [...new Set(plain.filter((e) => e.keyType !== keyType).map((e) => e.keyType))];
    if (revoked) return { status: 'revoked', entry: revoked, conflicting: [], otherTypes };
    const ok = plain.find((e) => same(e));
    if (ok) return { status: 'ok', entry: ok, conflicting: [], otherTypes };
    const conflicting = plain.filter((e) => e.keyType === keyType);
    if (conflicting.length > 0) return { status: 'changed', entry: conflicting[0], conflicting, otherTypes };
    return { status: 'unknown', conflicting: [], otherTypes };
  }

  verify(host: string, port: number, keyType: string, keyBlob: Buffer): HostKeyStatus {
    return this.check(host, port, keyType, keyBlob).status;
  }

  /** Key types recorded for the host (to prefer them when negotiating, as OpenSSH does). */
  keyTypesFor(host: string, port: number): string[] {
    return [...new Set(this.entriesFor(host, port).filter((e) => e.marker === null).map((e) => e.keyType))];
  }
}

/** Verifies against the given files (read now). */
export function verify(
  files: readonly string[],
  host: string,
  port: number,
  keyType: string,
  keyBlob: Buffer,
): HostKeyStatus {
  return KnownHosts.load(files).verify(host, port, keyType, keyBlob);
}

/**
 * Records a host key (the explicit opt-in `acceptNewHostKeys`). Written plain by default,
 * `[host]:port key-type base64`, which is what `ssh-keyscan` prints and `ssh-keygen -H`
 * can hash later; `{ hashed: true }` writes the `|1|salt|hash` form instead.
 * The directory is created (0700) and a new file is made 0600.
 */
export function appendKnownHost(
  file: string,
  host: string,
  port: number,
  keyType: string,
  keyBlob: Buffer,
  opts: { hashed?: boolean } = {},
): void {
  const name = knownHostName(host, port);
  const hostField = opts.hashed ? hashHostName(name) : name;
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  let prefix = '';
  if (existsSync(file) && statSync(file).size > 0) {
    const text = readFileSync(file);
    if (text[text.length - 1] !== 0x0a) prefix = '\n';
  }
  appendFileSync(file, `${prefix}${hostField} ${keyType} ${keyBlob.toString('base64')}\n`, { mode: 0o600 });
}
