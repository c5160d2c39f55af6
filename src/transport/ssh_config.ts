/**
 * OpenSSH client configuration (`~/.ssh/config`): a pure parser, a pure resolver, and a
 * small loader that reads files.
 *
 * Resolution follows ssh_config(5): blocks are read top to bottom, `Host` patterns
 * (`*`, `?`, `!negation`) are matched against the name given (the inventory name), and for
 * each keyword the first value obtained wins, except `IdentityFile`, which accumulates.
 * `Match` is supported for `all`, `host` and `originalhost`; other criteria never match
 * (listed in `warnings`). `Include` takes glob patterns; relative ones are under ~/.ssh
 * as in OpenSSH.
 *
 * Keywords read: HostName (%h, %%), User, Port, IdentityFile (~ and %d %u %h %n %p %r %l %i
 * %%), IdentitiesOnly, ProxyJump, UserKnownHostsFile, StrictHostKeyChecking,
 * ConnectTimeout, ServerAliveInterval. Others are ignored.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir, hostname, userInfo } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { InputError, type SourceLoc } from '../errors.js';
import { matchPatternList, wildcardMatch } from './known_hosts.js';

export type SshConfigItem =
  | { kind: 'host'; patterns: string[]; loc: SourceLoc }
  | { kind: 'match'; args: string[]; loc: SourceLoc }
  | { kind: 'include'; args: string[]; loc: SourceLoc }
  | { kind: 'option'; keyword: string; args: string[]; loc: SourceLoc };

export interface SshHostConfig {
  /** The name resolved (as given). */
  host: string;
  /** HostName with tokens expanded, or the name itself. */
  hostName: string;
  user?: string;
  port?: number;
  /** Expanded paths, in order (files may not exist). */
  identityFiles: string[];
  identitiesOnly?: boolean;
  /** Raw ProxyJump value; absent when unset or `none`. Parse with parseProxyJump. */
  proxyJump?: string;
  proxyJumpLoc?: SourceLoc;
  /** Expanded paths; an empty list for `none`. */
  userKnownHostsFiles?: string[];
  /** Lowercased value (yes, no, ask, accept-new, off). */
  strictHostKeyChecking?: string;
  connectTimeoutMs?: number;
  serverAliveIntervalMs?: number;
  warnings: string[];
}

export interface JumpSpec {
  user?: string;
  host: string;
  port?: number;
}

export interface ResolveEnv {
  homeDir: string;
  localUser: string;
  localHost?: string;
  uid?: number;
  /** Returns the parsed files an Include pattern names (in order). */
  include?: (pattern: string, loc: SourceLoc) => { file: string; items: SshConfigItem[] }[];
}

// ---------------------------------------------------------------------------------------
// Parsing

/** Splits a line's arguments like OpenSSH: double or single quotes, backslash escapes, `#` ends. */
function splitArgs(text: string, loc: SourceLoc): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /[ \t]/.test(text[i] ?? '')) i++;
    if (i >= text.length) break;
    if (text[i] === '#') break;
    let word = '';
    let quoted = false;
    while (i < text.length && !/[ \t]/.test(text[i] ?? '')) {
      const c = text[i] ?? '';
      if (c === '"' || c === "'") {
        quoted = true;
        const end = text.indexOf(c, i + 1);
        if (end < 0) throw new InputError('unterminated quote', { ...loc, col: loc.col + i });
        word += text.slice(i + 1, end);
        i = end + 1;
      } else if (c === '\\' && i + 1 < text.length) {
        word += text[i + 1];
        i += 2;
      } else {
        word += c;
        i++;
      }
    }
    if (word !== '' || quoted) out.push(word);
  }
  return out;
}

export function parseSshConfig(text: string, file: string): SshConfigItem[] {
  const items: SshConfigItem[] = [];
  text.split(/\r?\n/).forEach((rawLine, idx) => {
    const line = idx + 1;
    const lead = rawLine.length - rawLine.trimStart().length;
    const body = rawLine.trim();
    if (body === '' || body.startsWith('#')) return;
    const m = /^([^\s=]+)(?:\s*=\s*|\s+|$)(.*)$/.exec(body);
    if (!m) throw new InputError('cannot read this line', { file, line, col: lead + 1 });
    const keyword = (m[1] ?? '').toLowerCase();
    const rest = m[2] ?? '';
    const argCol = lead + 1 + body.length - rest.length;
    const loc: SourceLoc = { file, line, col: lead + 1 };
    const args = splitArgs(rest, { file, line, col: argCol });
    if (args.length === 0) throw new InputError(`${m[1]} needs an argument`, loc);
    if (keyword === 'host') items.push({ kind: 'host', patterns: args, loc });
    else if (keyword === 'match') items.push({ kind: 'match', args, loc });
    else if (keyword === 'include') items.push({ kind: 'include', args, loc });
    else items.push({ kind: 'option', keyword, args, loc: { file, line, col: argCol } });
  });
  return items;
}

// ---------------------------------------------------------------------------------------
// Resolution

interface Raw {
  hostName?: string;
  user?: string;
  port?: number;
  identityFiles: string[];
  identitiesOnly?: boolean;
  proxyJump?: { value: string; loc: SourceLoc };
  userKnownHostsFiles?: string[];
  strictHostKeyChecking?: string;
  connectTimeoutMs?: number;
  serverAliveIntervalMs?: number;
}

function yesNo(v: string, loc: SourceLoc): boolean {
  const s = v.toLowerCase();
  if (s === 'yes' || s === 'true') return true;
  if (s === 'no' || s === 'false') return false;
  throw new InputError(`expected yes or no, got ${JSON.stringify(v)}`, loc);
}

function seconds(v: string, loc: SourceLoc): number {
  if (!/^\d+$/.test(v)) throw new InputError(`expected a number of seconds, got ${JSON.stringify(v)}`, loc);
  return Number(v) * 1000;
}

function parsePort(v: string, loc: SourceLoc): number {
  const n = /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InputError(`bad port ${JSON.stringify(v)}`, loc);
  return n;
}

const MAX_INCLUDE_DEPTH = 16;

/** Resolves the configuration for one host name. Pure unless env.include reads files. */
export function resolveSshConfig(host: string, items: readonly SshConfigItem[], env: ResolveEnv): SshHostConfig {
  const raw: Raw = { identityFiles: [] };
  const warnings: string[] = [];

  const matchActive = (args: string[], loc: SourceLoc): boolean => {
    let result = true;
    for (let i = 0; i < args.length; i++) {
      const crit = (args[i] ?? '').toLowerCase();
      const negate = crit.startsWith('!');
      const name = negate ? crit.slice(1) : crit;
      let ok: boolean;
      if (name === 'all') {
        ok = true;
      } else if (name === 'host' || name === 'originalhost') {
        const arg = args[++i];
        if (arg === undefined) throw new InputError(`Match ${name} needs patterns`, loc);
        const subject = name === 'host' ? (raw.hostName !== undefined ? expandHostName(raw.hostName, host) : host) : host;
        ok = matchPatternList(subject, arg.split(','));
      } else {
        warnings.push(`${loc.file}:${loc.line}: Match ${name} is not supported; the block is skipped`);
        return false;
      }
      if (negate) ok = !ok;
      result = result && ok;
    }
    return result;
  };

  const walk = (list: readonly SshConfigItem[], active: boolean, depth: number): void => {
    for (const it of list) {
      switch (it.kind) {
        case 'host':
          active = matchPatternList(host, it.patterns);
          break;
        case 'match':
          active = matchActive(it.args, it.loc);
          break;
        case 'include':
          if (!active) break;
          if (depth >= MAX_INCLUDE_DEPTH) throw new InputError('Include nested too deeply', it.loc);
          for (const pattern of it.args) {
            for (const inc of env.include?.(pattern, it.loc) ?? []) walk(inc.items, active, depth + 1);
          }
          break;
        case 'option':
          if (active) apply(it);
          break;
      }
    }
  };

  const apply = (it: Extract<SshConfigItem, { kind: 'option' }>): void => {
    const v = it.args[0] ?? '';
    switch (it.keyword) {
      case 'hostname':
        raw.hostName ??= v;
        break;
      case 'user':
        raw.user ??= v;
        break;
      case 'port':
        if (raw.port === undefined) raw.port = parsePort(v, it.loc);
        break;
      case 'identityfile':
        raw.identityFiles.push(v);
        break;
      case 'identitiesonly':
        if (raw.identitiesOnly === undefined) raw.identitiesOnly = yesNo(v, it.loc);
        break;
      case 'proxyjump':
        if (raw.proxyJump === undefined) {
          parseProxyJump(v, it.loc); // validate now, where the location is known
          raw.proxyJump = { value: v, loc: it.loc };
        }
        break;
      case 'userknownhostsfile':
        raw.userKnownHostsFiles ??= v.toLowerCase() === 'none' ? [] : [...it.args];
        break;
      case 'stricthostkeychecking':
        raw.strictHostKeyChecking ??= v.toLowerCase();
        break;
      case 'connecttimeout':
        if (raw.connectTimeoutMs === undefined) raw.connectTimeoutMs = seconds(v, it.loc);
        break;
      case 'serveraliveinterval':
        if (raw.serverAliveIntervalMs === undefined) raw.serverAliveIntervalMs = seconds(v, it.loc);
        break;
      default:
        break;
    }
  };

  walk(items, true, 0);

  const hostName = raw.hostName !== undefined ? expandHostName(raw.hostName, host) : host;
  const tokens: Record<string, string> = {
    '%': '%',
    d: env.homeDir,
    u: env.localUser,
    h: hostName,
    n: host,
    p: String(raw.port ?? 22),
    r: raw.user ?? env.localUser,
    l: env.localHost ?? '',
    i: String(env.uid ?? ''),
  };
  const path = (p: string) => expandTilde(expandTokens(p, tokens), env.homeDir);
  const out: SshHostConfig = { host, hostName, identityFiles: raw.identityFiles.map(path), warnings };
  if (raw.user !== undefined) out.user = raw.user;
  if (raw.port !== undefined) out.port = raw.port;
  if (raw.identitiesOnly !== undefined) out.identitiesOnly = raw.identitiesOnly;
  if (raw.proxyJump !== undefined && raw.proxyJump.value.toLowerCase() !== 'none') {
    out.proxyJump = raw.proxyJump.value;
    out.proxyJumpLoc = raw.proxyJump.loc;
  }
  if (raw.userKnownHostsFiles !== undefined) out.userKnownHostsFiles = raw.userKnownHostsFiles.map(path);
  if (raw.strictHostKeyChecking !== undefined) out.strictHostKeyChecking = raw.strictHostKeyChecking;
  if (raw.connectTimeoutMs !== undefined) out.connectTimeoutMs = raw.connectTimeoutMs;
  if (raw.serverAliveIntervalMs !== undefined) out.serverAliveIntervalMs = raw.serverAliveIntervalMs;
  return out;
}

function expandHostName(value: string, host: string): string {
  return expandTokens(value, { '%': '%', h: host });
}

function expandTokens(value: string, tokens: Record<string, string>): string {
  return value.replace(/%(.)/g, (whole, c: string) => tokens[c] ?? whole);
}

export function expandTilde(p: string, home: string): string {
  if (p === '~') return home;
  if (p.startsWith('~/')) return join(home, p.slice(2));
  return p;
}

/**
 * Parses a ProxyJump value: `[user@]host[:port]` or `ssh://[user@]host[:port]`, several
 * separated by commas (connected in order); IPv6 addresses in brackets.
 */
export function parseProxyJump(value: string, loc?: SourceLoc): JumpSpec[] {
  if (value.toLowerCase() === 'none') return [];
  return value.split(',').map((part) => {
    let s = part.trim();
    if (s.startsWith('ssh://')) s = s.slice(6).replace(/\/$/, '');
    const spec: JumpSpec = { host: '' };
    const at = s.lastIndexOf('@');
    if (at >= 0) {
      spec.user = s.slice(0, at);
      s = s.slice(at + 1);
      if (spec.user === '') throw new InputError(`bad ProxyJump ${JSON.stringify(value)}: empty user`, loc);
    }
    let portText: string | undefined;
    if (s.startsWith('[')) {
      const close = s.indexOf(']');
      if (close < 0) throw new InputError(`bad ProxyJump ${JSON.stringify(value)}: missing ]`, loc);
      spec.host = s.slice(1, close);
      const after = s.slice(close + 1);
      if (after.startsWith(':')) portText = after.slice(1);
      else if (after !== '') throw new InputError(`bad ProxyJump ${JSON.stringify(value)}`, loc);
    } else {
      const colon = s.indexOf(':');
      if (colon >= 0 && s.indexOf(':', colon + 1) < 0) {
        spec.host = s.slice(0, colon);
        portText = s.slice(colon + 1);
      } else {
        spec.host = s;
      }
    }
    if (spec.host === '' || /\s/.test(spec.host)) throw new InputError(`bad ProxyJump ${JSON.stringify(value)}: no host`, loc);
    if (portText !== undefined) spec.port = parsePort(portText, loc ?? { file: 'ProxyJump', line: 1, col: 1 });
    return spec;
  });
}

// ---------------------------------------------------------------------------------------
// Files

/** Expands a glob whose `*`/`?` may appear in any path component. */
function globFiles(pattern: string): string[] {
  const parts = pattern.split('/');
  let bases = [parts[0] === '' ? '/' : parts[0] ?? ''];
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i] ?? '';
    if (part === '') continue;
    const next: string[] = [];
    for (const b of bases) {
      if (!/[*?]/.test(part)) {
        next.push(join(b, part));
        continue;
      }
      let names: string[] = [];
      try {
        names = readdirSync(b).sort();
      } catch {
        names = [];
      }
      for (const n of names) if (!n.startsWith('.') && wildcardMatch(n, part)) next.push(join(b, n));
    }
    bases = next;
  }
  return bases.filter((f) => {
    try {
      return statSync(f).isFile();
    } catch {
      return false;
    }
  });
}

export function defaultSshConfigFile(): string {
  return join(homedir(), '.ssh', 'config');
}

/**
 * Reads a config file (default ~/.ssh/config) and resolves `host`. A missing file gives
 * an empty configuration; a malformed one throws InputError with its location.
 */
export function loadSshConfig(host: string, file: string = defaultSshConfigFile()): SshHostConfig {
  const home = homedir();
  let info: { username: string; uid: number };
  try {
    info = userInfo();
  } catch {
    info = { username: process.env['USER'] ?? 'root', uid: process.getuid?.() ?? 0 };
  }
  const readItems = (f: string): SshConfigItem[] => parseSshConfig(readFileSync(f, 'utf8'), f);
  const items = existsSync(file) ? readItems(file) : [];
  return resolveSshConfig(host, items, {
    homeDir: home,
    localUser: info.username,
    localHost: hostname(),
    uid: info.uid,
    include: (pattern) => {
      const expanded = expandTilde(pattern, home);
      const abs = isAbsolute(expanded) ? expanded : join(home, '.ssh', expanded);
      return globFiles(abs).map((f) => ({ file: f, items: readItems(f) }));
    },
  });
}

