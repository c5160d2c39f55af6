/** Tokens of the expression language, with Jinja2's lexical rules for names, numbers and strings. */

export type TokenType = 'name' | 'string' | 'int' | 'float' | 'op' | 'eof';

export interface Token {
  type: TokenType;
  /** name / operator text, or the decoded text of a string */
  value: string;
  /** numeric value of int / float tokens */
  num: number;
  /** 0-based offsets in the source */
  start: number;
  end: number;
}

export class LexError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

const OPERATORS = ['//', '**', '==', '!=', '<=', '>=', '<', '>', '+', '-', '*', '/', '%', '~', '|', '.', ',', ':', '(', ')', '[', ']', '{', '}', '='];

const NAME = /[A-Za-z_][A-Za-z0-9_]*/y;
// Jinja2's number syntax: underscores between digits, 0b / 0o / 0x integers, floats need digits after the dot.
const FLOAT = /(?:\d+_)*\d+(?:(?:\.(?:\d+_)*\d+)?[eE][+-]?(?:\d+_)*\d+|\.(?:\d+_)*\d+)/y;
const INT = /0[bB](?:_?[01])+|0[oO](?:_?[0-7])+|0[xX](?:_?[0-9a-fA-F])+|[1-9](?:_?\d)*|0(?:_?0)*/y;
const DIGITS = /\d+/y;
const STRING = /'([^'\\]*(?:\\[\s\S][^'\\]*)*)'|"([^"\\]*(?:\\[\s\S][^"\\]*)*)"/y;

function match(re: RegExp, src: string, at: number): string | undefined {
  re.lastIndex = at;
  const m = re.exec(src);
  return m ? m[0] : undefined;
}

/** Tokenizes src[from, to). Offsets are into the whole src. */
export function tokenize(src: string, from = 0, to = src.length): Token[] {
  const toks: Token[] = [];
  let i = from;
  while (i < to) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const text = match(NAME, src, i)!;
      toks.push({ type: 'name', value: text, num: 0, start: i, end: i + text.length });
      i += text.length;
      continue;
    }
    if (/[0-9]/.test(c)) {
      let text: string | undefined;
      let type: TokenType;
      if (i > 0 && src[i - 1] === '.') {
        // `x.0.1` is x[0][1]: after a dot only an integer is read
        text = match(DIGITS, src, i)!;
        type = 'int';
      } else if ((text = match(FLOAT, src, i)) !== undefined) type = 'float';
      else {
        text = match(INT, src, i)!;
        type = 'int';
      }
      const end = i + text.length;
      if (end < to && /[A-Za-z0-9_]/.test(src[end]!)) throw new LexError(`invalid number '${src.slice(i, end + 1)}'`, i);
      const clean = text.replace(/_/g, '');
      let num: number;
      if (type === 'float') num = Number(clean);
      else if (/^0[bB]/.test(clean)) num = parseInt(clean.slice(2), 2);
      else if (/^0[oO]/.test(clean)) num = parseInt(clean.slice(2), 8);
      else if (/^0[xX]/.test(clean)) num = parseInt(clean.slice(2), 16);
      else num = Number(clean);
      toks.push({ type, value: text, num, start: i, end });
      i = end;
      continue;
    }
    if (c === "'" || c === '"') {
      STRING.lastIndex = i;
      const m = STRING.exec(src);
      if (!m || i + m[0].length > to) throw new LexError('unterminated string', i);
      const body = m[1] ?? m[2] ?? '';
      toks.push({ type: 'string', value: unescape(body, i + 1), num: 0, start: i, end: i + m[0].length });
      i += m[0].length;
      continue;
    }
    const op = OPERATORS.find((o) => src.startsWith(o, i) && i + o.length <= to);
    if (op) {
      toks.push({ type: 'op', value: op, num: 0, start: i, end: i + op.length });
      i += op.length;
      continue;
    }
    throw new LexError(`unexpected character ${JSON.stringify(c)}`, i);
  }
  toks.push({ type: 'eof', value: '', num: 0, start: to, end: to });
  return toks;
}

const SIMPLE_ESCAPES: Record<string, string> = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\n': '',
};

/** Python's string-literal escapes (Jinja2 decodes literals with `unicode-escape`); unknown escapes such as `\d` are kept as written. */
function unescape(body: string, offset: number): string {
  if (!body.includes('\\')) return body;
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const d = body[i + 1] ?? '';
    if (d in SIMPLE_ESCAPES) {
      out += SIMPLE_ESCAPES[d];
      i++;
    } else if (/[0-7]/.test(d)) {
      const m = /^[0-7]{1,3}/.exec(body.slice(i + 1))!;
      out += String.fromCodePoint(parseInt(m[0], 8));
      i += m[0].length;
    } else if (d === 'x' || d === 'u' || d === 'U') {
      const len = d === 'x' ? 2 : d === 'u' ? 4 : 8;
      const hex = body.slice(i + 2, i + 2 + len);
      if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(hex)) throw new LexError(`truncated \\${d} escape`, offset + i);
      const cp = parseInt(hex, 16);
      if (cp > 0x10ffff) throw new LexError(`illegal Unicode character \\${d}${hex}`, offset + i);
      out += String.fromCodePoint(cp);
      i += 1 + len;
    } else if (d === 'N') {
      throw new LexError('\\N{...} escapes are not supported', offset + i);
    } else {
      out += c;
    }
  }
  return out;
}
