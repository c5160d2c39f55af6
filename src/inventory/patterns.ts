/**
 * Host patterns, selected exactly as Ansible's `InventoryManager.get_hosts` does:
 *
 * - `a,b` or `a:b` union (`:` only when the whole is not one host address or range),
 *   `&x` intersection, `!x` exclusion; the parts are applied regular first, then `&`,
 *   then `!`, and a pattern of only `&`/`!` parts starts from `all`;
 * - each part matches group names first (globs `*`, `?`, `[...]` as Python's fnmatch,
 *   `~regex` as a regex anchored at the start), taking every host of the matching groups;
 *   host names are matched too when no group matched or the part has `~ . ? * [`;
 * - `part[i]`, `part[i:j]` (inclusive end), `part[i:]`, `part[-i]` subscripts pick from the
 *   part's hosts before duplicates are removed, as Ansible does;
 * - `localhost`, `127.0.0.1` and `::1` select an implicit local host when the inventory has
 *   none;
 * - `@file` reads one pattern per line (a retry file); Ansible takes it only in `--limit`,
 *   here it works in both.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { PatternError } from '../errors.js';
import { LOCALHOST_NAMES, type Host, type InventoryData } from './model.js';
import { parseAddress } from './ranges.js';

/** `split_host_pattern`: a pattern string into its parts. */
export function splitHostPattern(pattern: string): string[] {
  let parts: string[];
  if (pattern.includes(',')) {
    parts = pattern.split(',');
  } else {
    let single = false;
    try {
      parseAddress(pattern, true);
      single = true;
    } catch {
      single = false;
    }
    parts = single ? [pattern] : (pattern.match(/(?:[^\s:[\]]|\[[^\]]*\])+/g) ?? []);
  }
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

/** `order_patterns`: regular parts, then `&` parts, then `!` parts; `all` if no regular part. */
export function orderPatterns(patterns: string[]): string[] {
  const regular: string[] = [];
  const inter: string[] = [];
  const excl: string[] = [];
  for (const p of patterns) {
    if (!p) continue;
    if (p[0] === '!') excl.push(p);
    else if (p[0] === '&') inter.push(p);
    else regular.push(p);
  }
  if (regular.length === 0) regular.push('all');
  return [...regular, ...inter, ...excl];
}

const REGEX_SPECIALS = /[\\^$.*+?()[\]{}|/]/;

/** Python's `fnmatch.translate`, as a JS regex source (anchored at both ends). */
export function fnmatchTranslate(pat: string): string {
  const res: string[] = [];
  let i = 0;
  const n = pat.length;
  while (i < n) {
    const c = pat[i]!;
    i++;
    if (c === '*') {
      if (res[res.length - 1] !== '.*') res.push('.*');
    } else if (c === '?') {
      res.push('.');
    } else if (c === '[') {
      let j = i;
      if (j < n && pat[j] === '!') j++;
      if (j < n && pat[j] === ']') j++;
      while (j < n && pat[j] !== ']') j++;
      if (j >= n) {
        res.push('\\[');
        continue;
      }
      let stuff = pat.slice(i, j);
      if (!stuff.includes('-')) {
        stuff = stuff.replace(/\\/g, '\\\\');
      } else {
        const chunks: string[] = [];
        let k = pat[i] === '!' ? i + 2 : i + 1;
        for (;;) {
          k = pat.indexOf('-', k);
          if (k < 0 || k >= j) break;
          chunks.push(pat.slice(i, k));
          i = k + 1;
          k = k + 3;
        }
        const chunk = pat.slice(i, j);
        if (chunk) chunks.push(chunk);
        else chunks[chunks.length - 1] += '-';
        for (let m = chunks.length - 1; m > 0; m--) {
          const prev = chunks[m - 1]!;
          const cur = chunks[m]!;
          if (prev[prev.length - 1]! > cur[0]!) {
            chunks[m - 1] = prev.slice(0, -1) + cur.slice(1);
            chunks.splice(m, 1);
          }
        }
        stuff = chunks.map((s) => s.replace(/\\/g, '\\\\').replace(/-/g, '\\-')).join('-');
      }
      stuff = stuff.replace(/([&~|])/g, '\\$1');
      i = j + 1;
      if (!stuff) res.push('(?!)');
      else if (stuff === '!') res.push('.');
      else {
        if (stuff[0] === '!') stuff = '^' + stuff.slice(1);
        else if (stuff[0] === '^' || stuff[0] === '[') stuff = '\\' + stuff;
        // a `]` can only be the first member (Python's `[]]`); JS needs it escaped
        res.push(`[${stuff.replace(/]/g, '\\]')}]`);
      }
    } else {
      res.push(REGEX_SPECIALS.test(c) ? '\\' + c : c);
    }
  }
  return `^(?:${res.join('')})$`;
}

/** A Python regular expression (as written after `~`) as a JS RegExp, matched from the start. */
export function pythonRegex(src: string): RegExp {
  let flags = '';
  let body = src;
  const lead = /^\(\?([aiLmsux]+)\)/.exec(body);
  if (lead) {
    body = body.slice(lead[0].length);
    for (const f of lead[1]!) {
      if (f === 'i' || f === 'm' || f === 's') flags += f;
      else if (f === 'x' || f === 'L') throw new Error(`unsupported regex flag (?${f})`);
    }
  }
  body = body
    .replace(/\(\?P<([A-Za-z_]\w*)>/g, '(?<$1>')
    .replace(/\(\?P=([A-Za-z_]\w*)\)/g, '\\k<$1>')
    .replace(/\\A/g, '^')
    .replace(/\\Z/g, '$');
  return new RegExp(`^(?:${body})`, flags);
}

function compilePattern(pattern: string): RegExp {
  try {
    if (pattern[0] !== '~') return new RegExp(fnmatchTranslate(pattern), 's');
    return pythonRegex(pattern.slice(1));
  } catch {
    throw new PatternError(`Invalid host list pattern: ${pattern}`);
  }
}

const SUBSCRIPT = /^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$/;

export type Subscript = [number, number | undefined];

/** `_split_subscript`: `web[1:3]` into `web` and (1, 3); regexes never take a subscript. */
export function splitSubscript(pattern: string): { expr: string; sub: Subscript | undefined } {
  if (pattern[0] === '~') return { expr: pattern, sub: undefined };
  const m = SUBSCRIPT.exec(pattern);
  if (!m) return { expr: pattern, sub: undefined };
  const [, expr, idx, start, , end] = m;
  if (idx !== undefined) return { expr: expr!, sub: [parseInt(idx, 10), undefined] };
  return { expr: expr!, sub: [parseInt(start!, 10), end ? parseInt(end, 10) : -1] };
}

/** `_apply_subscript`: Python slicing with an inclusive end; a bad single index is an error. */
export function applySubscript<T>(hosts: T[], sub: Subscript | undefined, pattern: string): T[] {
  if (hosts.length === 0 || !sub) return hosts;
  const [start, endRaw] = sub;
  let end = endRaw;
  if (end) {
    if (end === -1) end = hosts.length - 1;
    return pySlice(hosts, start, end + 1);
  }
  const i = start < 0 ? hosts.length + start : start;
  const h = hosts[i];
  if (i < 0 || h === undefined) throw new PatternError(`No hosts matched the subscripted pattern '${pattern}'`);
  return [h];
}

function pySlice<T>(a: T[], start: number, stop: number): T[] {
  const n = a.length;
  const norm = (x: number): number => (x < 0 ? Math.max(0, n + x) : Math.min(x, n));
  return a.slice(norm(start), norm(stop));
}

/** Reads a `@file` of patterns: one per line, as `--limit @retry-file` does. */
export function readPatternFile(file: string): string[] {
  if (!existsSync(file)) throw new PatternError(`Unable to find limit file ${file}`);
  if (!statSync(file).isFile()) throw new PatternError(`Limit starting with "@" must be a file, not a directory: ${file}`);
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim());
}

/** Splits a pattern string and expands `@file` parts. */
export function patternParts(pattern: string): string[] {
  const out: string[] = [];
  for (const p of splitHostPattern(pattern)) {
    if (p[0] === '@') out.push(...readPatternFile(p.slice(1)));
    else out.push(p);
  }
  return out;
}

/** Host selection over one inventory, with Ansible's per-part cache. */
export class PatternMatcher {
  private readonly cache = new Map<string, Host[]>();
  private readonly regexCache = new Map<string, RegExp>();
  /** Parts that matched no group and no host (Ansible warns about these), since last cleared. */
  readonly unmatched = new Set<string>();
  private readonly knownUnmatched = new Set<string>();

  constructor(
    private readonly inv: InventoryData,
    private readonly implicitHost: (name: string) => Host,
  ) {}

  /** `get_hosts(pattern)` with an optional `--limit`, duplicates removed. */
  select(pattern: string, limit?: string): Host[] {
    let hosts = this.evaluate(patternParts(pattern));
    if (limit !== undefined) {
      const subset = new Set(this.evaluate(patternParts(limit)));
      hosts = hosts.filter((h) => subset.has(h));
    }
    return [...new Set(hosts)];
  }

  /** `_evaluate_patterns`. */
  evaluate(patterns: string[]): Host[] {
    let hosts: Host[] = [];
    for (const p of orderPatterns(patterns)) {
      const direct = this.inv.hosts.get(p);
      if (direct) {
        hosts.push(direct);
        continue;
      }
      const that = this.matchOne(p);
      if (p[0] === '!') {
        const s = new Set(that);
        hosts = hosts.filter((h) => !s.has(h));
      } else if (p[0] === '&') {
        const s = new Set(that);
        hosts = hosts.filter((h) => s.has(h));
      } else {
        const existing = new Set(hosts.map((h) => h.name));
        for (const h of that) if (!existing.has(h.name)) hosts.push(h);
      }
    }
    return hosts;
  }

  /** `_match_one_pattern`: one part, without its `&`/`!`. */
  matchOne(pattern: string): Host[] {
    if (pattern[0] === '&' || pattern[0] === '!') pattern = pattern.slice(1);
    const { expr, sub } = splitSubscript(pattern);
    let hosts = this.cache.get(pattern);
    if (!hosts) {
      hosts = applySubscript(this.enumerate(expr), sub, pattern);
      this.cache.set(pattern, hosts);
    }
    if (this.knownUnmatched.has(expr)) this.unmatched.add(expr);
    return hosts;
  }

  private regex(pattern: string): RegExp {
    let re = this.regexCache.get(pattern);
    if (!re) {
      re = compilePattern(pattern);
      this.regexCache.set(pattern, re);
    }
    return re;
  }

  /** `_enumerate_matches`. */
  private enumerate(pattern: string): Host[] {
    const results: Host[] = [];
    const re = this.regex(pattern);
    const matchingGroups: string[] = [];
    for (const name of this.inv.groups.keys()) if (re.test(name)) matchingGroups.push(name);
    for (const g of matchingGroups) results.push(...this.inv.groups.get(g)!.getHosts());
    if (matchingGroups.length === 0 || pattern[0] === '~' || /[.?*[]/.test(pattern)) {
      for (const [name, h] of this.inv.hosts) if (re.test(name)) results.push(h);
    }
    if (results.length === 0 && LOCALHOST_NAMES.includes(pattern)) {
      results.push(this.implicitHost(pattern));
    }
    if (results.length === 0 && matchingGroups.length === 0 && pattern !== 'all') this.knownUnmatched.add(pattern);
    return results;
  }
}
