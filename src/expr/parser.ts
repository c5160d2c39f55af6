/**
 * Recursive-descent parser for expressions, following Jinja2's grammar and precedence
 * (see PREC in ast.ts). Filter, test and method names, their argument counts and literal
 * regular expressions are checked here, so mistakes are reported at load time with a
 * file position.
 */
import type { SourceLoc } from '../errors.js';
import type { BinaryOp, CompareOp, Expr, Kwarg } from './ast.js';
import { canonicalTest, testDef } from './checks.js';
import { ExprSyntaxError } from './errors.js';
import { canonicalFilter, filterDef } from './filters.js';
import { LexError, tokenize, type Token } from './lexer.js';
import { METHOD_NAMES } from './methods.js';
import { checkPattern } from './regex.js';
import { checkCall } from './signature.js';

/** Nesting deeper than this is rejected (brackets, operators, chains): evaluation never risks the stack. */
export const MAX_NESTING = 100;

const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'is', 'if', 'else']);
const CONSTANTS: Record<string, boolean | null> = { true: true, True: true, false: false, False: false, none: null, None: null, null: null };
const isConstant = (s: string) => Object.prototype.hasOwnProperty.call(CONSTANTS, s);

/** Which argument is a regular expression, for load-time checks of literal patterns. */
const REGEX_ARG: Record<string, { pos: number; kw: string }> = {
  'test:match': { pos: 0, kw: 'pattern' },
  'test:search': { pos: 0, kw: 'pattern' },
  'test:regex': { pos: 0, kw: 'pattern' },
  'filter:regex_search': { pos: 0, kw: 'regex' },
  'filter:regex_replace': { pos: 0, kw: 'pattern' },
  'filter:regex_findall': { pos: 0, kw: 'regex' },
};

interface Args {
  args: Expr[];
  kwargs: Kwarg[];
  /** source offset of each positional argument, then of each keyword argument's value */
  argAt: number[];
  kwAt: number[];
}

/** Where the `{{ ... }}` wrapper, if any, leaves the expression: [from, to). */
function unwrap(src: string): [number, number] {
  let from = 0;
  let to = src.length;
  while (from < to && /\s/.test(src[from]!)) from++;
  while (to > from && /\s/.test(src[to - 1]!)) to--;
  if (to - from >= 4 && src.startsWith('{{', from) && src.endsWith('}}', to)) return [from + 2, to - 2];
  return [from, to];
}

class Parser {
  private readonly toks: Token[];
  private i = 0;
  /** Open brackets and operator chains around the current point (the top level is 0). */
  private depth = -1;
  private readonly heights = new WeakMap<Expr, number>();

  constructor(
    private readonly src: string,
    private readonly loc: SourceLoc | undefined,
    private readonly from: number,
    private readonly to: number,
  ) {
    try {
      this.toks = tokenize(src, from, to);
    } catch (e) {
      if (e instanceof LexError) this.fail(e.message, e.offset);
      throw e;
    }
  }

  fail(reason: string, offset: number): never {
    // long expressions are shown around the offending place
    let display = this.src;
    if (display.length > 200) {
      const a = Math.max(0, offset - 100);
      display = (a > 0 ? '...' : '') + display.slice(a, a + 200) + (a + 200 < display.length ? '...' : '');
    }
    display = display.replace(/\r?\n/g, ' ');
    let where = '';
    let loc = this.loc;
    const before = this.src.slice(0, offset);
    if (this.src.includes('\n')) {
      const line = before.split('\n').length;
      const col = offset - before.lastIndexOf('\n');
      where = ` (line ${line}, column ${col} of the expression)`;
    } else if (loc) {
      loc = { ...loc, col: loc.col + offset };
    }
    if (/\{\{|\}\}|\{%/.test(this.src.slice(this.from, this.to))) where += ' (write the expression without {{ }} or {% %}: conditions are expressions already)';
    throw new ExprSyntaxError(`bad expression: ${reason} in \`${display}\`${where}`, loc, offset, this.src);
  }

  private get tok(): Token {
    return this.toks[this.i]!;
  }

  private atEnd(): boolean {
    return this.tok.type === 'eof';
  }

  private peek(n = 1): Token {
    return this.toks[Math.min(this.i + n, this.toks.length - 1)]!;
  }

  private next(): Token {
    const t = this.tok;
    if (this.i < this.toks.length - 1) this.i++;
    return t;
  }

  private isOp(v: string, t = this.tok): boolean {
    return t.type === 'op' && t.value === v;
  }

  private isKw(v: string, t = this.tok): boolean {
    return t.type === 'name' && t.value === v;
  }

  private describe(t: Token): string {
    return t.type === 'eof' ? 'end of expression' : `'${this.src.slice(t.start, t.end)}'`;
  }

  private unexpected(t = this.tok): never {
    this.fail(`unexpected ${this.describe(t)}`, t.start);
  }

  private expectOp(v: string): Token {
    if (!this.isOp(v)) this.fail(`expected '${v}', got ${this.describe(this.tok)}`, this.tok.start);
    return this.next();
  }

  private expectName(what: string): Token {
    if (this.tok.type !== 'name') this.fail(`expected ${what}, got ${this.describe(this.tok)}`, this.tok.start);
    return this.next();
  }

  /** Records a node's height; too deep a tree is an error (at `at`). */
  private mk<T extends Expr>(node: T, at: number, ...children: (Expr | null)[]): T {
    let h = 0;
    for (const c of children) if (c) h = Math.max(h, this.heights.get(c) ?? 1);
    if (h > MAX_NESTING) this.fail(`expression nested too deeply (more than ${MAX_NESTING} levels)`, at);
    this.heights.set(node, h + 1);
    return node;
  }

  private enter(at: number): void {
    if (++this.depth > MAX_NESTING) this.fail(`expression nested too deeply (more than ${MAX_NESTING} levels)`, at);
  }

  private leave(): void {
    this.depth--;
  }

  parseTop(): Expr {
    if (this.atEnd()) this.fail('empty expression', this.tok.start);
    const e = this.parseExpr();
    if (!this.atEnd()) this.unexpected();
    return e;
  }

  /** A full expression, including `a if b else c`. */
  parseExpr(): Expr {
    const at = this.tok.start;
    this.enter(at);
    let e = this.parseOr();
    while (this.isKw('if')) {
      const ifAt = this.next().start;
      const test = this.parseOr();
      let otherwise: Expr | null = null;
      if (this.isKw('else')) {
        this.next();
        otherwise = this.parseExpr();
      }
      e = this.mk({ kind: 'cond', test, then: e, otherwise }, ifAt, test, e, otherwise);
    }
    this.leave();
    return e;
  }

  private parseBinaryChain(ops: readonly string[], kw: boolean, sub: () => Expr): Expr {
    let left = sub();
    for (;;) {
      const t = this.tok;
      const hit = kw ? t.type === 'name' && ops.includes(t.value) : t.type === 'op' && ops.includes(t.value);
      if (!hit) return left;
      this.next();
      const right = sub();
      left = this.mk({ kind: 'binary', op: t.value as BinaryOp, left, right }, t.start, left, right);
    }
  }

  private parseOr(): Expr {
    return this.parseBinaryChain(['or'], true, () => this.parseAnd());
  }

  private parseAnd(): Expr {
    return this.parseBinaryChain(['and'], true, () => this.parseNot());
  }

  private parseNot(): Expr {
    if (this.isKw('not')) {
      const at = this.next().start;
      this.enter(at);
      const operand = this.parseNot();
      this.leave();
      return this.mk({ kind: 'unary', op: 'not', operand }, at, operand);
    }
    return this.parseCompare();
  }

  private parseCompare(): Expr {
    const first = this.parseMath1();
    const rest: { op: CompareOp; operand: Expr }[] = [];
    const at = this.tok.start;
    for (;;) {
      const t = this.tok;
      let op: CompareOp;
      if (t.type === 'op' && ['==', '!=', '<', '<=', '>', '>='].includes(t.value)) {
        op = t.value as CompareOp;
        this.next();
      } else if (this.isKw('in')) {
        op = 'in';
        this.next();
      } else if (this.isKw('not') && this.isKw('in', this.peek())) {
        op = 'not in';
        this.next();
        this.next();
      } else break;
      rest.push({ op, operand: this.parseMath1() });
    }
    if (rest.length === 0) return first;
    return this.mk({ kind: 'compare', first, rest }, at, first, ...rest.map((r) => r.operand));
  }

  private parseMath1(): Expr {
    return this.parseBinaryChain(['+', '-'], false, () => this.parseConcat());
  }

  private parseConcat(): Expr {
    return this.parseBinaryChain(['~'], false, () => this.parseMath2());
  }

  private parseMath2(): Expr {
    return this.parseBinaryChain(['*', '/', '//', '%'], false, () => this.parsePow());
  }

  private parsePow(): Expr {
    return this.parseBinaryChain(['**'], false, () => this.parseUnary(true));
  }

  private parseUnary(withFilters: boolean): Expr {
    let node: Expr;
    const t = this.tok;
    if (this.isOp('-') || this.isOp('+')) {
      this.next();
      this.enter(t.start);
      const operand = this.parseUnary(false);
      this.leave();
      node = this.mk({ kind: 'unary', op: t.value as '-' | '+', operand }, t.start, operand);
    } else {
      node = this.parsePostfix(this.parsePrimary());
    }
    return withFilters ? this.parseFilters(node) : node;
  }

  private parsePrimary(): Expr {
    const t = this.tok;
    if (t.type === 'name') {
      if (isConstant(t.value)) {
        this.next();
        return this.mk({ kind: 'literal', value: CONSTANTS[t.value]! }, t.start);
      }
      if (KEYWORDS.has(t.value)) this.unexpected();
      this.next();
      return this.mk({ kind: 'name', name: t.value }, t.start);
    }
    if (t.type === 'string') {
      let value = '';
      while (this.tok.type === 'string') value += this.next().value; // 'a' 'b' is 'ab', as in Jinja2
      return this.mk({ kind: 'literal', value }, t.start);
    }
    if (t.type === 'int' || t.type === 'float') {
      this.next();
      return this.mk({ kind: 'literal', value: t.num }, t.start);
    }
    if (this.isOp('(')) {
      this.next();
      let e: Expr;
      if (this.isOp(')')) {
        e = this.mk({ kind: 'list', items: [], tuple: true }, t.start);
      } else {
        const first = this.parseExpr();
        if (this.isOp(',')) {
          const items = [first];
          while (this.isOp(',')) {
            this.next();
            if (this.isOp(')')) break;
            items.push(this.parseExpr());
          }
          e = this.mk({ kind: 'list', items, tuple: true }, t.start, ...items);
        } else e = first;
      }
      this.expectOp(')');
      return e;
    }
    if (this.isOp('[')) {
      this.next();
      const items: Expr[] = [];
      while (!this.isOp(']')) {
        items.push(this.parseExpr());
        if (!this.isOp(',')) break;
        this.next();
      }
      this.expectOp(']');
      return this.mk({ kind: 'list', items, tuple: false }, t.start, ...items);
    }
    if (this.isOp('{')) {
      this.next();
      const entries: { key: Expr; value: Expr }[] = [];
      while (!this.isOp('}')) {
        const key = this.parseExpr();
        this.expectOp(':');
        const value = this.parseExpr();
        entries.push({ key, value });
        if (!this.isOp(',')) break;
        this.next();
      }
      this.expectOp('}');
      return this.mk({ kind: 'dict', entries }, t.start, ...entries.flatMap((x) => [x.key, x.value]));
    }
    this.unexpected();
  }

  private parsePostfix(node: Expr): Expr {
    for (;;) {
      const t = this.tok;
      if (this.isOp('.')) {
        this.next();
        const n = this.tok;
        if (n.type === 'name') {
          this.next();
          if (this.isOp('(')) {
            if (!METHOD_NAMES.has(n.value)) this.fail(`unknown method '${n.value}' (callable: ${[...METHOD_NAMES].sort().join(', ')})`, n.start);
            this.next();
            const a = this.parseArgs();
            node = this.mk({ kind: 'call', object: node, method: n.value, args: a.args, kwargs: a.kwargs }, n.start, node, ...a.args, ...a.kwargs.map((k) => k.value));
          } else {
            node = this.mk({ kind: 'attr', object: node, name: n.value }, n.start, node);
          }
        } else if (n.type === 'int') {
          this.next();
          const index = this.mk({ kind: 'literal', value: n.num }, n.start);
          node = this.mk({ kind: 'index', object: node, index }, n.start, node, index);
        } else {
          this.fail(`expected an attribute name after '.', got ${this.describe(n)}`, n.start);
        }
      } else if (this.isOp('[')) {
        this.next();
        node = this.parseSubscript(node, t.start);
      } else if (this.isOp('(')) {
        this.fail('only methods such as .startswith() can be called', t.start);
      } else return node;
    }
  }

  private parseSubscript(object: Expr, at: number): Expr {
    const part = (): Expr | null => (this.isOp(':') || this.isOp(']') ? null : this.parseExpr());
    const start = part();
    if (!this.isOp(':')) {
      if (!start) this.unexpected();
      this.expectOp(']');
      return this.mk({ kind: 'index', object, index: start }, at, object, start);
    }
    this.next();
    const stop = part();
    let step: Expr | null = null;
    if (this.isOp(':')) {
      this.next();
      step = part();
    }
    this.expectOp(']');
    return this.mk({ kind: 'slice', object, start, stop, step }, at, object, start, stop, step);
  }

  /** Arguments after an opening parenthesis, up to and including the closing one. */
  private parseArgs(): Args {
    const out: Args = { args: [], kwargs: [], argAt: [], kwAt: [] };
    while (!this.isOp(')')) {
      if (this.tok.type === 'name' && this.isOp('=', this.peek())) {
        const name = this.next().value;
        this.next();
        out.kwAt.push(this.tok.start);
        out.kwargs.push({ name, value: this.parseExpr() });
      } else {
        if (out.kwargs.length > 0) this.fail('positional argument follows keyword argument', this.tok.start);
        out.argAt.push(this.tok.start);
        out.args.push(this.parseExpr());
      }
      if (!this.isOp(',')) break;
      this.next();
    }
    this.expectOp(')');
    return out;
  }

  private dottedName(what: string): { name: string; at: number } {
    const first = this.expectName(what);
    let name = first.value;
    while (this.isOp('.') && this.peek().type === 'name') {
      this.next();
      name += '.' + this.next().value;
    }
    return { name, at: first.start };
  }

  private checkRegexArg(key: string, a: Args): void {
    const spec = REGEX_ARG[key];
    if (!spec) return;
    let arg: Expr | undefined = a.args[spec.pos];
    let at = a.argAt[spec.pos];
    if (!arg) {
      const k = a.kwargs.findIndex((x) => x.name === spec.kw);
      arg = a.kwargs[k]?.value;
      at = a.kwAt[k];
    }
    if (arg && arg.kind === 'literal' && typeof arg.value === 'string') {
      const err = checkPattern(arg.value);
      if (err) this.fail(err, at ?? 0);
    }
  }

  private parseFilters(node: Expr): Expr {
    for (;;) {
      if (this.isOp('|')) {
        this.next();
        const { name, at } = this.dottedName('a filter name');
        const canon = canonicalFilter(name);
        if (!canon) this.fail(`unknown filter '${name}'`, at);
        let a: Args = { args: [], kwargs: [], argAt: [], kwAt: [] };
        if (this.isOp('(')) {
          this.next();
          a = this.parseArgs();
        }
        const err = checkCall(filterDef(canon).sig, `filter '${name}'`, a.args.length, a.kwargs.map((k) => k.name));
        if (err) this.fail(err, at);
        this.checkRegexArg(`filter:${canon}`, a);
        node = this.mk({ kind: 'filter', operand: node, name, args: a.args, kwargs: a.kwargs }, at, node, ...a.args, ...a.kwargs.map((k) => k.value));
      } else if (this.isKw('is')) {
        this.next();
        let negated = false;
        if (this.isKw('not')) {
          this.next();
          negated = true;
        }
        const { name, at } = this.dottedName('a test name');
        const canon = canonicalTest(name);
        if (!canon) this.fail(`unknown test '${name}'`, at);
        let a: Args = { args: [], kwargs: [], argAt: [], kwAt: [] };
        const t = this.tok;
        if (this.isOp('(')) {
          this.next();
          a = this.parseArgs();
        } else if (
          t.type === 'string' ||
          t.type === 'int' ||
          t.type === 'float' ||
          this.isOp('[') ||
          this.isOp('{') ||
          (t.type === 'name' && (!KEYWORDS.has(t.value) || isConstant(t.value)))
        ) {
          // `x is divisibleby 3`, `x is sameas false`: one argument without parentheses
          this.enter(t.start);
          a = { args: [this.parsePostfix(this.parsePrimary())], kwargs: [], argAt: [t.start], kwAt: [] };
          this.leave();
        }
        if (this.isKw('is')) this.fail('tests cannot be chained with is; use and', this.tok.start);
        const err = checkCall(testDef(canon).sig, `test '${name}'`, a.args.length, a.kwargs.map((k) => k.name));
        if (err) this.fail(err, at);
        this.checkRegexArg(`test:${canon}`, a);
        node = this.mk({ kind: 'test', operand: node, name, negated, args: a.args, kwargs: a.kwargs }, at, node, ...a.args, ...a.kwargs.map((k) => k.value));
      } else return node;
    }
  }
}

/**
 * Parses an expression. A whole expression wrapped in `{{ ... }}` is accepted (the braces
 * are dropped, as Ansible does with a warning). Syntax errors throw ExprSyntaxError (an
 * InputError) located at `loc` moved to the offending token's column when the expression
 * is on one line.
 */
export function parseExpression(src: string, loc?: SourceLoc): Expr {
  const [from, to] = unwrap(src);
  const p = new Parser(src, loc, from, to);
  return p.parseTop();
}
