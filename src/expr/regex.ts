/**
 * Python (`re`) regular expressions run on JS RegExp.
 *
 * Users write Python syntax (Ansible's `match`, `search`, `regex_search`, ...). The pattern
 * is translated so the common constructs mean what they mean in Python:
 * - `(?P<name>...)` and `(?P=name)` become `(?<name>...)` and `\k<name>`;
 * - leading global flags `(?i)`, `(?m)`, `(?s)` are applied; `(?#...)` comments dropped;
 * - `$` matches at the end or before a final newline (or before any newline with
 *   multiline), `^` with multiline matches after `\n` only, `.` does not match `\n` only
 *   (JS also excludes `\r`, U+2028 and U+2029), `\A` and `\Z` anchor the whole text;
 * - `]` first in a class is a literal, as in Python.
 * Not supported (an error, never a silent change of meaning): verbose mode `(?x)`, scoped
 * flags `(?i:...)`, conditionals `(?(1)...)`, possessive quantifiers and atomic groups.
 * `\d`, `\w`, `\s` and `\b` are ASCII in JS, Unicode-aware in Python.
 *
 * Time bound: a JS RegExp cannot be interrupted once running, so the bound is on the input
 * we accept: patterns longer than MAX_PATTERN_LENGTH (1000) characters are rejected. A short
 * pattern can still backtrack badly on a long text; patterns come from the playbook's author,
 * not from the hosts.
 */
import { ExprEvalError } from './errors.js';

export const MAX_PATTERN_LENGTH = 1000;

export interface RegexFlags {
  ignorecase?: boolean;
  multiline?: boolean;
  dotall?: boolean;
}

/** Thrown by translatePattern; callers turn it into an InputError (load time) or ExprEvalError (run time). */
export class RegexSyntaxError extends Error {}

export interface Translated {
  source: string;
  ignorecase: boolean;
}

/** Python pattern -> JS source. Throws RegexSyntaxError. */
export function translatePattern(pattern: string, flags: RegexFlags = {}): Translated {
  if (pattern.length > MAX_PATTERN_LENGTH) {
    throw new RegexSyntaxError(`regular expression longer than ${MAX_PATTERN_LENGTH} characters (${pattern.length})`);
  }
  let ignorecase = Boolean(flags.ignorecase);
  let multiline = Boolean(flags.multiline);
  let dotall = Boolean(flags.dotall);
  let i = 0;
  // leading global inline flags, e.g. (?i) or (?ms)
  for (;;) {
    const m = /^\(\?([aiLmsux]+)\)/.exec(pattern.slice(i));
    if (!m) break;
    for (const f of m[1]!) {
      if (f === 'i') ignorecase = true;
      else if (f === 'm') multiline = true;
      else if (f === 's') dotall = true;
      else if (f === 'x') throw new RegexSyntaxError('verbose mode (?x) is not supported');
    }
    i += m[0].length;
  }
  let out = '';
  let inClass = false;
  let classStart = -1;
  const n = pattern.length;
  while (i < n) {
    const c = pattern[i]!;
    if (c === '\\') {
      const d = pattern[i + 1];
      if (d === undefined) throw new RegexSyntaxError('bad escape (end of pattern)');
      if (!inClass && d === 'A') out += '(?<![\\s\\S])';
      else if (!inClass && d === 'Z') out += '(?![\\s\\S])';
      else if (d === 'U') {
        const hex = pattern.slice(i + 2, i + 10);
        if (!/^[0-9a-fA-F]{8}$/.test(hex)) throw new RegexSyntaxError(`incomplete escape \\U${hex}`);
        const cp = parseInt(hex, 16);
        if (cp > 0x10ffff) throw new RegexSyntaxError(`bad escape \\U${hex}`);
        const s = String.fromCodePoint(cp);
        if (inClass && s.length > 1) throw new RegexSyntaxError(`\\U${hex} inside a character class is not supported`);
        out += s.length > 1 ? `(?:${s.replace(/[\s\S]/g, (u) => '\\u' + u.charCodeAt(0).toString(16).padStart(4, '0'))})` : '\\u' + cp.toString(16).padStart(4, '0');
        i += 10;
        continue;
      } else out += c + d;
      i += 2;
      continue;
    }
    if (inClass) {
      if (c === ']' && i !== classStart) {
        inClass = false;
        out += ']';
      } else if (c === ']' || c === '[') out += '\\' + c;
      else out += c;
      i++;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += '[';
      i++;
      if (pattern[i] === '^') {
        out += '^';
        i++;
      }
      classStart = i; // a ']' here is a literal
      continue;
    }
    if (c === '(' && pattern[i + 1] === '?') {
      const rest = pattern.slice(i + 2);
      if (rest.startsWith('P<')) {
        out += '(?<';
        i += 4;
        continue;
      }
      const back = /^P=(\w+)\)/.exec(rest);
      if (back) {
        out += `\\k<${back[1]}>`;
        i += 2 + back[0].length;
        continue;
      }
      if (rest.startsWith('#')) {
        const end = pattern.indexOf(')', i);
        if (end < 0) throw new RegexSyntaxError('missing ), unterminated comment');
        i = end + 1;
        continue;
      }
      if (/^[aiLmsux-]+[:)]/.test(rest)) throw new RegexSyntaxError('inline flags are only supported at the start of the pattern, e.g. (?i)');
      if (rest.startsWith('(')) throw new RegexSyntaxError('conditional groups (?(...)...) are not supported');
      if (rest.startsWith('>')) throw new RegexSyntaxError('atomic groups (?>...) are not supported');
      out += '(?';
      i += 2;
      continue;
    }
    if (c === '$') out += multiline ? '(?=\\n|(?![\\s\\S]))' : '(?=\\n?(?![\\s\\S]))';
    else if (c === '^') out += multiline ? '(?<![^\\n])' : '^';
    else if (c === '.') out += dotall ? '[\\s\\S]' : '[^\\n]';
    else if ((c === '+' || c === '*' || c === '?' || c === '}') && pattern[i + 1] === '+') {
      throw new RegexSyntaxError('possessive quantifiers are not supported');
    } else out += c;
    i++;
  }
  if (inClass) throw new RegexSyntaxError(`unterminated character set at position ${classStart - 1}`);
  return { source: out, ignorecase };
}

const cache = new Map<string, RegExp>();
const CACHE_MAX = 256;

/**
 * A compiled JS RegExp for a Python pattern. `mode`: 'search' (unanchored), 'match'
 * (anchored at the start: sticky) or 'global' (for findall / sub). Throws ExprEvalError.
 */
export function compileRegex(pattern: string, flags: RegexFlags, mode: 'search' | 'match' | 'global'): RegExp {
  const key = `${mode}\0${flags.ignorecase ? 1 : 0}${flags.multiline ? 1 : 0}${flags.dotall ? 1 : 0}\0${pattern}`;
  const hit = cache.get(key);
  if (hit) {
    hit.lastIndex = 0;
    return hit;
  }
  let re: RegExp;
  try {
    const t = translatePattern(pattern, flags);
    re = new RegExp(t.source, (t.ignorecase ? 'i' : '') + (mode === 'match' ? 'y' : mode === 'global' ? 'g' : ''));
  } catch (e) {
    throw new ExprEvalError(`bad regular expression ${JSON.stringify(shorten(pattern))}: ${(e as Error).message}`);
  }
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
  cache.set(key, re);
  return re;
}

/** Checks a pattern without running it (for load-time checks of literal patterns); returns an error text or undefined. */
export function checkPattern(pattern: string): string | undefined {
  try {
    const t = translatePattern(pattern);
    new RegExp(t.source, t.ignorecase ? 'i' : '');
    return undefined;
  } catch (e) {
    return `bad regular expression ${JSON.stringify(shorten(pattern))}: ${(e as Error).message}`;
  }
}

function shorten(s: string): string {
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

/** Python re.search / re.match: the match or null. */
export function pyReSearch(pattern: string, text: string, flags: RegexFlags, anchored: boolean): RegExpExecArray | null {
  const re = compileRegex(pattern, flags, anchored ? 'match' : 'search');
  re.lastIndex = 0;
  return re.exec(text);
}

/** Number of capturing groups in a compiled expression. */
function groupCount(re: RegExp): number {
  return new RegExp(re.source + '|').exec('')!.length - 1;
}

/** Python re.findall: strings when the pattern has 0 or 1 group, lists of group strings otherwise. */
export function pyReFindall(pattern: string, text: string, flags: RegexFlags): unknown[] {
  const re = compileRegex(pattern, flags, 'global');
  const groups = groupCount(re);
  const out: unknown[] = [];
  for (const m of text.matchAll(re)) {
    if (groups === 0) out.push(m[0]);
    else if (groups === 1) out.push(m[1] ?? '');
    else out.push(m.slice(1).map((g) => g ?? ''));
  }
  return out;
}

/**
 * Python re.sub(pattern, repl, text, count): `repl` uses Python's template syntax
 * (`\1`, `\g<1>`, `\g<name>`, `\n`, `\\`).
 */
export function pyReSub(pattern: string, repl: string, text: string, flags: RegexFlags, count = 0): string {
  const re = compileRegex(pattern, flags, 'global');
  const parts = parseReplacement(repl);
  let done = 0;
  return text.replace(re, (...args: unknown[]) => {
    const m0 = args[0] as string;
    if (count > 0 && done >= count) return m0;
    done++;
    const last = args[args.length - 1];
    const named = typeof last === 'object' && last !== null ? (last as Record<string, string | undefined>) : undefined;
    const nGroups = args.length - (named ? 4 : 3);
    let s = '';
    for (const p of parts) {
      if (typeof p === 'string') s += p;
      else if (typeof p.group === 'number') {
        if (p.group > nGroups) throw new ExprEvalError(`invalid group reference ${p.group}`);
        s += (p.group === 0 ? m0 : (args[p.group] as string | undefined)) ?? '';
      } else {
        if (!named || !(p.group in named)) throw new ExprEvalError(`unknown group name '${p.group}'`);
        s += named[p.group] ?? '';
      }
    }
    return s;
  });
}

type ReplPart = string | { group: number | string };

function parseReplacement(repl: string): ReplPart[] {
  const parts: ReplPart[] = [];
  let lit = '';
  const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', f: '\f', v: '\v', '\\': '\\' };
  for (let i = 0; i < repl.length; i++) {
    const c = repl[i]!;
    if (c !== '\\') {
      lit += c;
      continue;
    }
    const d = repl[i + 1];
    if (d === undefined) throw new ExprEvalError('bad escape (end of replacement)');
    if (d in simple) {
      lit += simple[d];
      i++;
    } else if (d === 'g') {
      const m = /^g<([^>]*)>/.exec(repl.slice(i + 1));
      if (!m) throw new ExprEvalError('missing group name in \\g<...>');
      const name = m[1]!;
      parts.push(lit, { group: /^\d+$/.test(name) ? Number(name) : name });
      lit = '';
      i += m[0].length;
    } else if (d === '0') {
      const m = /^0[0-7]{0,2}/.exec(repl.slice(i + 1))!;
      lit += String.fromCharCode(parseInt(m[0], 8));
      i += m[0].length;
    } else if (/[0-9]/.test(d)) {
      const m = /^[0-9]{1,2}/.exec(repl.slice(i + 1))!;
      parts.push(lit, { group: Number(m[0]) });
      lit = '';
      i += m[0].length;
    } else if (/[A-Za-z]/.test(d)) {
      throw new ExprEvalError(`bad escape \\${d} in replacement`);
    } else {
      lit += c + d;
      i++;
    }
  }
  parts.push(lit);
  return parts.filter((p) => p !== '');
}
