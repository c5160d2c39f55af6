/**
 * The small pieces of Python that Ansible's INI inventory relies on, reproduced so values
 * come out exactly as Ansible sees them:
 *
 * - `shlexSplit`: `shlex.split(line, comments=True)` (POSIX mode), used on host lines;
 * - `literalEval`: `ast.literal_eval`, applied to every INI value (`ini.py` `_parse_value`):
 *   numbers, `True`/`False`/`None`, quoted strings, lists, tuples, dicts; anything that is
 *   not a Python literal stays the string it was;
 * - `pyStr`: Python's `str()` of a value, as `ansible-inventory --graph --vars` prints it.
 */

/** One token of a shell-like split, with the column (0-based offset) where it started. */
export interface ShToken {
  value: string;
  start: number;
}

export class ShlexError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

const SH_WHITESPACE = ' \t\r\n';

/**
 * `shlex.split(s, comments=True)` in POSIX mode: whitespace separates words, `'` and `"`
 * quote (backslash escapes only `"` and `\` inside double quotes), backslash escapes outside
 * quotes, and `#` starts a comment wherever a new character of a word would be read.
 */
export function shlexSplit(s: string): ShToken[] {
  const out: ShToken[] = [];
  let i = 0;
  const n = s.length;
  while (i < n) {
    // between words
    const c = s[i]!;
    if (SH_WHITESPACE.includes(c)) {
      i++;
      continue;
    }
    if (c === '#') break;
    const start = i;
    let token = '';
    let quoted = false;
    let ended = false;
    while (i < n && !ended) {
      const ch = s[i]!;
      if (SH_WHITESPACE.includes(ch)) break;
      if (ch === '#') {
        ended = true;
        i = n;
        break;
      }
      if (ch === "'" || ch === '"') {
        quoted = true;
        const q = ch;
        const qstart = i;
        i++;
        for (;;) {
          if (i >= n) throw new ShlexError('No closing quotation', qstart);
          const d = s[i]!;
          if (d === q) {
            i++;
            break;
          }
          if (q === '"' && d === '\\') {
            if (i + 1 >= n) throw new ShlexError('No escaped character', i);
            const e = s[i + 1]!;
            if (e !== '"' && e !== '\\') token += '\\';
            token += e;
            i += 2;
            continue;
          }
          token += d;
          i++;
        }
        continue;
      }
      if (ch === '\\') {
        if (i + 1 >= n) throw new ShlexError('No escaped character', i);
        token += s[i + 1]!;
        i += 2;
        continue;
      }
      token += ch;
      i++;
    }
    if (token !== '' || quoted) out.push({ value: token, start });
    if (ended) break;
  }
  return out;
}

/** A value `literalEval` could not read as a Python literal. */
const NOT_LITERAL = Symbol('not a literal');

/** Raised for Python literals that Python itself rejects with an error other than ValueError/SyntaxError. */
export class LiteralTypeError extends Error {}

/**
 * Python's `ast.literal_eval` on `text`, falling back to `text` itself when it is not a
 * literal (as Ansible's INI plugin does). Python tuples and sets become arrays; complex
 * numbers and byte strings are not literals here.
 */
export function literalEval(text: string): unknown {
  const v = new LiteralParser(text).parseAll();
  return v === NOT_LITERAL ? text : v;
}

class LiteralParser {
  private i = 0;
  /** Depth of open brackets: newlines are whitespace inside them. */
  private depth = 0;
  constructor(private readonly s: string) {}

  parseAll(): unknown {
    // Python 3.10+ strips leading spaces and tabs before parsing
    try {
      this.skip();
      if (this.i >= this.s.length) return NOT_LITERAL;
      const v = this.expr();
      if (v === NOT_LITERAL) return NOT_LITERAL;
      this.skip();
      if (this.i < this.s.length) return NOT_LITERAL;
      return v;
    } catch (e) {
      if (e instanceof LiteralTypeError) throw e;
      return NOT_LITERAL;
    }
  }

  private skip(): void {
    const s = this.s;
    for (;;) {
      const c = s[this.i];
      if (c === ' ' || c === '\t' || c === '\f') this.i++;
      else if (c === '\\' && s[this.i + 1] === '\n') this.i += 2;
      else if (c === '#') {
        while (this.i < s.length && s[this.i] !== '\n') this.i++;
      } else if ((c === '\n' || c === '\r') && this.depth > 0) this.i++;
      else if ((c === '\n' || c === '\r') && this.i === s.length - 1) this.i++;
      else return;
    }
  }

  private peek(): string | undefined {
    return this.s[this.i];
  }

  /** An expression: a literal, or a signed number, or number +/- complex (not supported). */
  private expr(): unknown {
    const first = this.unary();
    if (first === NOT_LITERAL) return NOT_LITERAL;
    this.skip();
    const c = this.peek();
    if (c === '+' || c === '-') return NOT_LITERAL; // only number +/- complex is a literal
    return first;
  }

  private unary(): unknown {
    this.skip();
    const c = this.peek();
    if (c === '-' || c === '+') {
      this.i++;
      // the operand must be an int or float constant: not a bool, not another sign, not a tuple
      let opens = 0;
      this.skip();
      while (this.peek() === '(') {
        this.i++;
        this.depth++;
        opens++;
        this.skip();
      }
      const d = this.peek();
      if (d === undefined || !/[0-9.]/.test(d)) return NOT_LITERAL;
      const v = this.number();
      if (typeof v !== 'number') return NOT_LITERAL;
      for (; opens > 0; opens--) {
        this.skip();
        if (this.peek() !== ')') return NOT_LITERAL;
        this.i++;
        this.depth--;
      }
      return c === '-' ? -v : v;
    }
    return this.atom();
  }

  private atom(): unknown {
    this.skip();
    const s = this.s;
    const c = this.peek();
    if (c === undefined) return NOT_LITERAL;
    if (c === '(') return this.seq('(', ')');
    if (c === '[') return this.seq('[', ']');
    if (c === '{') return this.braces();
    if (/[0-9.]/.test(c)) return this.number();
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(this.i));
    if (m) {
      const word = m[0];
      const next = s[this.i + word.length];
      if (next === "'" || next === '"') {
        return this.strings();
      }
      this.i += word.length;
      if (word === 'True') return true;
      if (word === 'False') return false;
      if (word === 'None') return null;
      if (word === 'set') {
        this.skip();
        if (this.peek() === '(') {
          this.i++;
          this.skip();
          if (this.peek() === ')') {
            this.i++;
            return [];
          }
        }
      }
      return NOT_LITERAL;
    }
    if (c === "'" || c === '"') return this.strings();
    return NOT_LITERAL;
  }

  /** `(...)` or `[...]`: a parenthesised value, a tuple or a list. */
  private seq(open: string, close: string): unknown {
    this.i++;
    this.depth++;
    const items: unknown[] = [];
    let sawComma = false;
    for (;;) {
      this.skip();
      if (this.peek() === close) {
        this.i++;
        break;
      }
      const v = this.expr();
      if (v === NOT_LITERAL) return NOT_LITERAL;
      items.push(v);
      this.skip();
      const c = this.peek();
      if (c === ',') {
        sawComma = true;
        this.i++;
        continue;
      }
      if (c === close) {
        this.i++;
        break;
      }
      return NOT_LITERAL;
    }
    this.depth--;
    if (open === '(' && items.length === 1 && !sawComma) return items[0];
    return items;
  }

  /** `{...}`: a dict or a set. */
  private braces(): unknown {
    this.i++;
    this.depth++;
    this.skip();
    if (this.peek() === '}') {
      this.i++;
      this.depth--;
      return {};
    }
    const first = this.expr();
    if (first === NOT_LITERAL) return NOT_LITERAL;
    this.skip();
    if (this.peek() === ':') {
      const obj: Record<string, unknown> = {};
      let key = first;
      for (;;) {
        this.skip();
        if (this.peek() !== ':') return NOT_LITERAL;
        this.i++;
        const v = this.expr();
        if (v === NOT_LITERAL) return NOT_LITERAL;
        if (key !== null && typeof key === 'object') throw new LiteralTypeError(`unhashable type: '${Array.isArray(key) ? 'list' : 'dict'}'`);
        obj[pyKey(key)] = v;
        this.skip();
        const c = this.peek();
        if (c === ',') {
          this.i++;
          this.skip();
          if (this.peek() === '}') {
            this.i++;
            break;
          }
          const k = this.expr();
          if (k === NOT_LITERAL) return NOT_LITERAL;
          key = k;
          continue;
        }
        if (c === '}') {
          this.i++;
          break;
        }
        return NOT_LITERAL;
      }
      this.depth--;
      return obj;
    }
    // a set
    const items: unknown[] = [first];
    for (;;) {
      this.skip();
      const c = this.peek();
      if (c === '}') {
        this.i++;
        break;
      }
      if (c !== ',') return NOT_LITERAL;
      this.i++;
      this.skip();
      if (this.peek() === '}') {
        this.i++;
        break;
      }
      const v = this.expr();
      if (v === NOT_LITERAL) return NOT_LITERAL;
      items.push(v);
    }
    for (const it of items) {
      if (it !== null && typeof it === 'object') throw new LiteralTypeError(`unhashable type: '${Array.isArray(it) ? 'list' : 'dict'}'`);
    }
    this.depth--;
    const seen = new Set<unknown>();
    return items.filter((x) => (seen.has(x) ? false : (seen.add(x), true)));
  }

  private number(): unknown {
    const rest = this.s.slice(this.i);
    const D = '[0-9](?:_?[0-9])*';
    const patterns: Array<[RegExp, (m: string) => number]> = [
      [/^0[xX](?:_?[0-9a-fA-F])+/, (m) => parseInt(m.slice(2).replace(/_/g, ''), 16)],
      [/^0[oO](?:_?[0-7])+/, (m) => parseInt(m.slice(2).replace(/_/g, ''), 8)],
      [/^0[bB](?:_?[01])+/, (m) => parseInt(m.slice(2).replace(/_/g, ''), 2)],
      [new RegExp(`^(?:(?:${D})?\\.${D}|${D}\\.)(?:[eE][+-]?${D})?|^${D}[eE][+-]?${D}`), (m) => parseFloat(m.replace(/_/g, ''))],
      [new RegExp(`^(?:[1-9](?:_?[0-9])*|0(?:_?0)*)`), (m) => parseInt(m.replace(/_/g, ''), 10)],
    ];
    for (const [re, conv] of patterns) {
      const m = re.exec(rest);
      if (!m) continue;
      const text = m[0];
      const next = rest[text.length];
      // `010`, `1abc`, `1j` (complex) and `1.5.3` are not literals here
      if (next !== undefined && /[A-Za-z0-9_.]/.test(next)) return NOT_LITERAL;
      this.i += text.length;
      return conv(text);
    }
    return NOT_LITERAL;
  }

  /** One or more adjacent string literals (concatenated, as Python does). */
  private strings(): unknown {
    let out = '';
    let any = false;
    let kind: 'str' | 'bytes' | undefined;
    for (;;) {
      this.skip();
      const m = /^([rRuUbBfF]{0,2})(['"])/.exec(this.s.slice(this.i));
      if (!m) break;
      const prefix = m[1]!.toLowerCase();
      if (!/^(?:|r|u|b|br|rb|f|fr|rf)$/.test(prefix)) return NOT_LITERAL;
      if (prefix.includes('f')) return NOT_LITERAL; // an f-string is not a constant
      if (prefix.includes('b')) return NOT_LITERAL; // bytes are not text: keep the value as written
      const k = 'str';
      if (kind && kind !== k) return NOT_LITERAL;
      kind = k;
      this.i += prefix.length;
      const v = this.string(prefix.includes('r'));
      if (v === NOT_LITERAL) return NOT_LITERAL;
      out += v as string;
      any = true;
    }
    return any ? out : NOT_LITERAL;
  }

  private string(raw: boolean): unknown {
    const s = this.s;
    const q = s[this.i]!;
    const triple = s.startsWith(q.repeat(3), this.i);
    const close = triple ? q.repeat(3) : q;
    this.i += close.length;
    let out = '';
    for (;;) {
      if (this.i >= s.length) return NOT_LITERAL;
      if (s.startsWith(close, this.i)) {
        this.i += close.length;
        return out;
      }
      const c = s[this.i]!;
      if (c === '\n' && !triple) return NOT_LITERAL;
      if (c !== '\\') {
        out += c;
        this.i++;
        continue;
      }
      const e = s[this.i + 1];
      if (e === undefined) return NOT_LITERAL;
      if (raw) {
        out += c + e;
        this.i += 2;
        continue;
      }
      this.i += 2;
      switch (e) {
        case '\n':
          break;
        case '\\':
          out += '\\';
          break;
        case "'":
          out += "'";
          break;
        case '"':
          out += '"';
          break;
        case 'a':
          out += '\x07';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'v':
          out += '\v';
          break;
        case 'x': {
          const h = /^[0-9a-fA-F]{2}/.exec(s.slice(this.i));
          if (!h) return NOT_LITERAL;
          out += String.fromCodePoint(parseInt(h[0], 16));
          this.i += 2;
          break;
        }
        case 'u':
        case 'U': {
          const len = e === 'u' ? 4 : 8;
          const h = new RegExp(`^[0-9a-fA-F]{${len}}`).exec(s.slice(this.i));
          if (!h) return NOT_LITERAL;
          const cp = parseInt(h[0], 16);
          if (cp > 0x10ffff) return NOT_LITERAL;
          out += String.fromCodePoint(cp);
          this.i += len;
          break;
        }
        case 'N':
          return NOT_LITERAL;
        default:
          if (/[0-7]/.test(e)) {
            const o = /^[0-7]{0,2}/.exec(s.slice(this.i))![0];
            out += String.fromCodePoint(parseInt(e + o, 8));
            this.i += o.length;
          } else {
            out += '\\' + e;
          }
      }
    }
  }
}

/** How a Python dict key reads as a JSON object key (json.dumps converts keys to strings). */
function pyKey(k: unknown): string {
  if (k === null) return 'null';
  if (k === true) return 'true';
  if (k === false) return 'false';
  if (typeof k === 'number') return pyFloatOrInt(k);
  return String(k);
}

function pyFloatOrInt(n: number): string {
  return Number.isInteger(n) ? String(n) : pyFloatRepr(n);
}

/** Python's `repr(float)`: shortest round-trip digits, exponent outside 1e-4 <= |x| < 1e16. */
export function pyFloatRepr(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (n === Infinity) return 'inf';
  if (n === -Infinity) return '-inf';
  if (n === 0) return Object.is(n, -0) ? '-0.0' : '0.0';
  const [mant, expStr] = n.toExponential().split('e') as [string, string];
  const exp = Number(expStr);
  const neg = mant.startsWith('-');
  const digits = mant.replace('-', '').replace('.', '');
  let body: string;
  if (exp >= -4 && exp < 16) {
    if (exp < 0) body = '0.' + '0'.repeat(-exp - 1) + digits;
    else if (digits.length <= exp + 1) body = digits + '0'.repeat(exp + 1 - digits.length) + '.0';
    else body = digits.slice(0, exp + 1) + '.' + digits.slice(exp + 1);
  } else {
    body = sci(digits, exp);
  }
  return (neg ? '-' : '') + body;
}

function sci(digits: string, exp: number): string {
  const m = digits.length > 1 ? digits[0] + '.' + digits.slice(1) : digits;
  const e = Math.abs(exp);
  return `${m}e${exp < 0 ? '-' : '+'}${e < 10 ? '0' + e : e}`;
}

/** Python's `repr(str)`. */
export function pyReprStr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === quote || ch === '\\') out += '\\' + ch;
    else if (ch === '\t') out += '\\t';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (cp < 0x20 || cp === 0x7f) out += '\\x' + cp.toString(16).padStart(2, '0');
    else if (cp < 0x7f) out += ch;
    else if (ch !== ' ' && /[\p{C}\p{Z}]/u.test(ch)) {
      if (cp < 0x100) out += '\\x' + cp.toString(16).padStart(2, '0');
      else if (cp < 0x10000) out += '\\u' + cp.toString(16).padStart(4, '0');
      else out += '\\U' + cp.toString(16).padStart(8, '0');
    } else out += ch;
  }
  return out + quote;
}

/**
 * Python's `str()` of a value loaded from YAML/INI: strings as they are, the rest as
 * `repr()`. Numbers that are whole print as ints (a YAML `1.0` prints `1`, as the float/int
 * distinction is not kept).
 */
export function pyStr(v: unknown): string {
  if (typeof v === 'string') return v;
  return pyRepr(v);
}

export function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'string') return pyReprStr(v);
  if (typeof v === 'number') return pyFloatOrInt(v);
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Date) return `datetime.date(${v.getUTCFullYear()}, ${v.getUTCMonth() + 1}, ${v.getUTCDate()})`;
  if (Array.isArray(v)) return '[' + v.map(pyRepr).join(', ') + ']';
  if (typeof v === 'object') {
    return (
      '{' +
      Object.entries(v as Record<string, unknown>)
        .map(([k, x]) => `${pyReprStr(k)}: ${pyRepr(x)}`)
        .join(', ') +
      '}'
    );
  }
  return String(v);
}
