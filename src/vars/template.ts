/**
 * Templates: Handlebars, compiled with `{ noEscape: true, strict: true }` in an environment
 * of our own (`Handlebars.create()`), with the helpers of ./helpers.ts.
 *
 * For Ansible users:
 * - `{{ var }}`, `{{ result.stdout_lines }}`: a path. List items are `items.[0]`.
 * - A string that is exactly one `{{ ... }}` gives the value itself (a list stays a list, a
 *   number a number), as Ansible does; any other string is rendered to a string, where
 *   null is empty and lists and mappings are written as JSON.
 * - Filters are helpers: `{{ x | default('y') }}` is `{{default x "y"}}`;
 *   `{{ subnet | ansible.utils.ipaddr('netmask') }}` is `{{netmask subnet}}`. Helpers nest
 *   with parentheses: `{{join (default dns_servers (lookup defaults "dns")) ","}}`.
 * - Undefined variables are errors everywhere, as in Ansible, naming the file, line,
 *   column and variable. Only `default` and `defined` accept them:
 *   `{{default mtu 1500}}`, `{{#if (defined "vlan")}}...{{/if}}` (or `(defined vlan)`).
 *   `#if`, `#unless`, `#each` and `#with` on an undefined variable are errors.
 * - `#if`/`#unless`/`and`/`or`/`not` use Jinja's truthiness: false, 0, "", null, an empty
 *   list and an empty mapping are false.
 * - Inside `#each`/`#with` the context is the item: reach the play's variables with
 *   `@root.name` or `../name`, or name the item: `{{#each ports as |port|}}`.
 * - Literal braces: `\{{` or a raw block `{{{{raw}}}} {{.Names}} {{{{/raw}}}}`.
 * - Partials, decorators and helpers not listed in ./helpers.ts are rejected when the
 *   template is checked, before anything runs.
 *
 * How undefined variables work: before compiling, every variable reference in the parsed
 * template is rewritten into a call to an internal helper that walks the path over own
 * properties only and yields an `Undefined` (carrying the variable name and its position)
 * for anything missing. Every helper refuses an `Undefined` argument except `default` and
 * `defined`, so the error names the variable where it was written. Internal helper names
 * contain a space, which template syntax cannot produce.
 *
 * Error positions: Handlebars knows the line and column inside the template. For a YAML
 * scalar, the source file is read (only when reporting an error) to see how the scalar is
 * written: after an opening quote the column is `loc.col + 1 + offset`; for a plain scalar
 * `loc.col + offset`; for a literal block (`|`) the template's line n is the file's line
 * `loc.line + n` at the block's indentation. Each of these is checked against the file's
 * text; when it does not match (escape sequences, folded lines) the error points at the
 * start of the value. When the file cannot be read, a one-line template is assumed to be
 * quoted (`loc.col + 1 + offset`).
 */
import { readFileSync } from 'node:fs';
import Handlebars from 'handlebars';
import { InputError, TemplateError, UndefinedVariableError, type SourceLoc } from '../errors.js';
import { copyLoc, locOf, VaultText } from '../yamlsrc.js';
import { HELPERS, truthy, Undefined, type HelperSpec } from './helpers.js';

/** A mapping made of data (object literal, YAML mapping), not a class instance. */
function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

// ---------------------------------------------------------------------------------------
// AST shapes (the parts of Handlebars 4's AST this module reads and builds)

interface Pos {
  line: number;
  column: number;
}
interface Loc {
  source?: string;
  start: Pos;
  end: Pos;
}
interface Node {
  type: string;
  loc?: Loc;
}
interface PathExpr extends Node {
  type: 'PathExpression';
  data: boolean;
  depth: number;
  parts: string[];
  original: string;
}
interface SubExpr extends Node {
  type: 'SubExpression';
  path: PathExpr;
  params: Node[];
  hash?: HashNode;
}
interface HashNode extends Node {
  type: 'Hash';
  pairs: { key: string; value: Node }[];
}
interface StringLit extends Node {
  type: 'StringLiteral';
  value: string;
  original: string;
}
interface NumberLit extends Node {
  type: 'NumberLiteral';
  value: number;
  original: number;
}
interface Mustache extends Node {
  type: 'MustacheStatement';
  path: Node;
  params: Node[];
  hash?: HashNode;
  escaped: boolean;
  strip?: unknown;
}
interface Program extends Node {
  type: 'Program';
  body: Node[];
  blockParams?: string[];
}
interface Block extends Node {
  type: 'BlockStatement';
  path: Node;
  params: Node[];
  hash?: HashNode;
  program?: Program;
  inverse?: Program;
}

// ---------------------------------------------------------------------------------------
// Failures inside a template, positioned in the template's own coordinates

/** An error at a line (1-based) and column (0-based) of the template text. */
class TemplateFailure {
  constructor(
    readonly reason: string,
    readonly line: number | undefined,
    readonly column: number | undefined,
    readonly cause?: unknown,
    /** The failure is the use of an undefined value. */
    readonly undefinedValue = false,
  ) {}
}

function failAt(reason: string, node: Node | undefined, cause?: unknown): TemplateFailure {
  return new TemplateFailure(reason, node?.loc?.start.line, node?.loc?.start.column, cause);
}

// ---------------------------------------------------------------------------------------
// The environment

const GET = ' get';
const OUT = ' out';
const RET = ' ret';
const BOX = ' box';

/** Block helpers: name -> number of block params allowed. */
const BLOCK_HELPERS: Record<string, number> = { if: 0, unless: 0, each: 2, with: 1, raw: 0 };
const BLOCK_ARITY: Record<string, number> = { if: 1, unless: 1, each: 1, with: 1, raw: 0 };

interface HelperOptions {
  fn: (ctx: unknown, opts?: unknown) => string;
  inverse: (ctx: unknown, opts?: unknown) => string;
  loc?: Loc;
  data?: Record<string, unknown>;
  hash?: Record<string, unknown>;
}

function undefinedFailure(u: Undefined, fallback: Loc | undefined): TemplateFailure {
  return new TemplateFailure(u.description, u.line ?? fallback?.start.line, u.column ?? fallback?.start.column, undefined, true);
}

/** A thrown value from a helper, as a failure at the helper's position. */
function helperFailure(name: string, e: unknown, loc: Loc | undefined): TemplateFailure {
  if (e instanceof TemplateFailure) return e;
  if (e instanceof Undefined) return undefinedFailure(e, loc);
  // a variable whose own template uses an undefined variable
  if (e instanceof UndefinedVariableError) return new TemplateFailure(e.reason, loc?.start.line, loc?.start.column, e, true);
  const reason =
    e instanceof InputError ? `${name}: ${e.reason}` : `${name} failed: ${e instanceof Error ? e.message : String(e)}`;
  return new TemplateFailure(reason, loc?.start.line, loc?.start.column, e);
}

function checkArgs(args: unknown[], loc: Loc | undefined, acceptsUndefined: boolean): void {
  if (acceptsUndefined) return;
  for (const a of args) if (a instanceof Undefined) throw undefinedFailure(a, loc);
}

/** Own-property step of a path: arrays by index (and `length`), mappings by key. */
function step(v: unknown, key: string): { ok: true; value: unknown } | { ok: false } {
  if (Array.isArray(v)) {
    if (key === 'length') return { ok: true, value: v.length };
    if (/^(?:0|[1-9]\d*)$/.test(key) && Number(key) < v.length) return { ok: true, value: v[Number(key)] };
    return { ok: false };
  }
  if (typeof v === 'string') return key === 'length' ? { ok: true, value: v.length } : { ok: false };
  if (v !== null && typeof v === 'object' && !(v instanceof VaultText) && Object.hasOwn(v, key)) {
    const value = (v as Record<string, unknown>)[key];
    return value === undefined ? { ok: false } : { ok: true, value };
  }
  return { ok: false };
}

function describeKind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `a ${typeof v}`;
}

function stringify(value: unknown, loc: Loc | undefined): string {
  if (value instanceof Undefined) throw undefinedFailure(value, loc);
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (value instanceof VaultText) {
    throw new TemplateFailure('a vault-encrypted value was not decrypted', loc?.start.line, loc?.start.column);
  }
  if (typeof value === 'object') return JSON.stringify(value, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
  return String(value);
}

function createEnv(): typeof Handlebars {
  const env = Handlebars.create();
  // templates never write to the terminal
  env.unregisterHelper('log');
  const builtinEach = env.helpers['each']!;
  const builtinWith = env.helpers['with']!;

  // path lookup: ( get) base "original" "head" line column part1 part2 ...
  // `head` names the base when it is a block param or data (`item`, `@root`), else ''.
  env.registerHelper(GET, (...args: unknown[]) => {
    const [base, original, head, line, column, ...rest] = args;
    const parts = rest.slice(0, -1) as string[];
    const at = (desc: string): Undefined => new Undefined(desc, line as number, column as number);
    if (base instanceof Undefined) return base;
    if (base === undefined) return at(`undefined variable '${String(original)}'`);
    let v: unknown = base;
    for (let i = 0; i < parts.length; i++) {
      const key = parts[i]!;
      const r = step(v, key);
      if (!r.ok) {
        if (i === 0 && (head === '' || head === '@root') && isPlainObject(v)) return at(`undefined variable '${key}'`);
        const done = [head as string, ...parts.slice(0, i)].filter((x) => x !== '').join('.');
        const what = done === '' ? 'the current context' : `'${done}'`;
        const why = v !== null && typeof v === 'object' ? `has no key '${key}'` : `is ${describeKind(v)}`;
        return at(`undefined variable '${String(original)}' (${what} ${why})`);
      }
      v = r.value;
    }
    return v;
  });
  env.registerHelper(OUT, (value: unknown, options: HelperOptions) => stringify(value, options.loc));
  env.registerHelper(RET, (value: unknown, options: HelperOptions) => {
    if (value instanceof Undefined) throw undefinedFailure(value, options.loc);
    const box = options.data?.[BOX] as { value: unknown } | undefined;
    if (box) box.value = value;
    return '';
  });

  env.registerHelper('if', function (this: unknown, cond: unknown, options: HelperOptions) {
    if (cond instanceof Undefined) throw undefinedFailure(cond, options.loc);
    return truthy(cond) ? options.fn(this) : options.inverse(this);
  });
  env.registerHelper('unless', function (this: unknown, cond: unknown, options: HelperOptions) {
    if (cond instanceof Undefined) throw undefinedFailure(cond, options.loc);
    return truthy(cond) ? options.inverse(this) : options.fn(this);
  });
  env.registerHelper('each', function (this: unknown, list: unknown, options: HelperOptions) {
    if (list instanceof Undefined) throw undefinedFailure(list, options.loc);
    return (builtinEach as (...a: unknown[]) => unknown).call(this, list, options);
  });
  env.registerHelper('with', function (this: unknown, ctx: unknown, options: HelperOptions) {
    if (ctx instanceof Undefined) throw undefinedFailure(ctx, options.loc);
    return (builtinWith as (...a: unknown[]) => unknown).call(this, ctx, options);
  });
  env.registerHelper('raw', function (this: unknown, options: HelperOptions) {
    return options.fn(this);
  });
  env.registerHelper('lookup', (obj: unknown, key: unknown, options: HelperOptions) => {
    checkArgs([obj, key], options.loc, false);
    const k = typeof key === 'number' ? String(key) : key;
    if (typeof k !== 'string') throw helperFailure('lookup', new InputError('the key must be a string or number'), options.loc);
    const r = step(obj, k);
    if (r.ok) return r.value;
    return new Undefined(`lookup: no key '${k}' in ${describeKind(obj)}`, options.loc?.start.line, options.loc?.start.column);
  });

  for (const [name, spec] of Object.entries(HELPERS)) {
    env.registerHelper(name, (...args: unknown[]) => {
      const options = args.pop() as HelperOptions;
      checkArgs(args, options.loc, spec.acceptsUndefined === true);
      try {
        return spec.fn(...args);
      } catch (e) {
        throw helperFailure(name, e, options.loc);
      }
    });
  }
  return env;
}

const env = createEnv();

const KNOWN: Record<string, boolean> = Object.fromEntries(
  [...Object.keys(HELPERS), ...Object.keys(BLOCK_HELPERS), 'lookup', GET, OUT, RET].map((n) => [n, true]),
);

/** Arity of every helper a template may call (block helpers separately). */
function specOf(name: string): Pick<HelperSpec, 'min' | 'max' | 'usage'> | undefined {
  if (name === 'lookup') return { min: 2, max: 2, usage: '{{lookup mapping key}}' };
  return Object.hasOwn(HELPERS, name) ? HELPERS[name] : undefined;
}

// ---------------------------------------------------------------------------------------
// Parsing

interface HbParser {
  lexer: { yylloc?: { first_line: number; first_column: number }; match?: string; matched?: string };
}

function parseTemplate(source: string): Program {
  try {
    return env.parse(source) as unknown as Program;
  } catch (e) {
    throw syntaxFailure(source, e);
  }
}

function syntaxFailure(source: string, e: unknown): TemplateFailure {
  const ex = e as { message?: string; lineNumber?: number; column?: number };
  const msg = String(ex.message ?? e);
  if (typeof ex.lineNumber === 'number') {
    return new TemplateFailure(`template error: ${msg.replace(/ - \d+:\d+$/, '')}`, ex.lineNumber, ex.column ?? 0, e);
  }
  const lexer = (env as unknown as { Parser: HbParser }).Parser.lexer;
  const yl = lexer.yylloc;
  let line = yl?.first_line;
  let column = yl?.first_column;
  let reason: string;
  const got = /got '([^']+)'\s*$/.exec(msg)?.[1];
  const open = source.lastIndexOf('{{');
  if (open >= 0 && !source.includes('}', open)) {
    // `{{ foo` at the very end: the lexer reports the name, not the missing braces
    const before = source.slice(0, open).split('\n');
    line = before.length;
    column = before[before.length - 1]!.length;
    reason = "template syntax error: '{{' is not closed by '}}'";
  } else if (msg.startsWith('Parse error')) {
    const text = lexer.match ?? '';
    reason =
      got === 'EOF'
        ? 'template syntax error: unexpected end of template (is a block not closed, like {{#if}} without {{/if}}?)'
        : `template syntax error: unexpected ${text ? JSON.stringify(text) : (got ?? 'token')}`;
  } else {
    // a lexical error: the text that could not be read starts after what was matched
    const offset = lexer.matched?.length ?? 0;
    const before = source.slice(0, offset).split('\n');
    line = before.length;
    column = before[before.length - 1]!.length;
    reason = 'template syntax error: unrecognized text';
  }
  if (/\{\{[^}]*\|\s*[A-Za-z_][\w.]*\s*(?:\(|\}\})/.test(source)) {
    reason += `; filters are helpers here: write {{default x "y"}} rather than {{ x | default('y') }}`;
  } else if (got === 'NUMBER' && /\.\d/.test(source)) {
    reason += '; index a list as items.[0]';
  }
  return new TemplateFailure(reason, line, column, e);
}

// ---------------------------------------------------------------------------------------
// Validation and rewriting of the parsed template

function loc0(node: Node): Loc | undefined {
  return node.loc;
}

function str(value: string, at: Node): StringLit {
  return { type: 'StringLiteral', value, original: value, loc: loc0(at) } as StringLit;
}

function num(value: number, at: Node): NumberLit {
  return { type: 'NumberLiteral', value, original: value, loc: loc0(at) } as NumberLit;
}

function helperPath(name: string, at: Node): PathExpr {
  return { type: 'PathExpression', data: false, depth: 0, parts: [name], original: name, loc: loc0(at) };
}

function isPath(n: Node): n is PathExpr {
  return n.type === 'PathExpression';
}

function helperName(path: Node): string | undefined {
  if (!isPath(path) || path.data || path.depth !== 0 || path.parts.length !== 1) return undefined;
  if (/^(?:this\b|\.)/.test(path.original)) return undefined;
  return path.parts[0];
}

class Rewriter {
  /** Block params of the enclosing blocks, innermost last. */
  private blockParams: string[][] = [];

  constructor(private readonly native: boolean) {}

  program(p: Program): void {
    if (p.blockParams?.length) this.blockParams.push(p.blockParams);
    try {
      p.body = p.body.map((s) => this.statement(s, p));
    } finally {
      if (p.blockParams?.length) this.blockParams.pop();
    }
  }

  private isBlockParam(name: string): boolean {
    return this.blockParams.some((l) => l.includes(name));
  }

  private statement(s: Node, parent: Program): Node {
    switch (s.type) {
      case 'ContentStatement':
      case 'CommentStatement':
        return s;
      case 'MustacheStatement':
        return this.mustache(s as Mustache, parent);
      case 'BlockStatement':
        return this.block(s as Block);
      case 'PartialStatement':
      case 'PartialBlockStatement':
        throw failAt('partials ({{> name}}) are not supported', s);
      case 'Decorator':
      case 'DecoratorBlock':
        throw failAt('decorators ({{* name}}) are not supported', s);
      default:
        throw failAt(`unsupported template construct ${s.type}`, s);
    }
  }

  private mustache(m: Mustache, parent: Program): Node {
    let value: Node;
    const simple = m.params.length === 0 && !m.hash;
    if (simple && isPath(m.path)) {
      value = this.variable(m.path);
    } else if (simple && m.path.type !== 'PathExpression' && m.path.type !== 'SubExpression') {
      value = m.path; // a literal: {{ "text" }}, {{ 1 }}
    } else {
      value = this.call(m.path, m.params, m.hash, m);
    }
    const wrapper = this.native && parent.body.length === 1 ? RET : OUT;
    return { ...m, path: helperPath(wrapper, m), params: [value], hash: undefined } as Mustache;
  }

  private block(b: Block): Node {
    const name = helperName(b.path);
    if (name === undefined || !Object.hasOwn(BLOCK_HELPERS, name)) {
      const shown = isPath(b.path) ? b.path.original : 'expression';
      const hint = name && !specOf(name) ? ` (to loop over a list write {{#each ${name}}})` : '';
      throw failAt(`unknown block helper '${shown}'; blocks are #if, #unless, #each, #with and raw${hint}`, b.path);
    }
    if (b.hash?.pairs.length) throw failAt(`#${name} takes no named arguments`, b.hash);
    const arity = BLOCK_ARITY[name]!;
    if (b.params.length !== arity) {
      throw failAt(`#${name} takes ${arity === 1 ? 'one argument' : 'no arguments'}, got ${b.params.length}`, b);
    }
    const maxParams = BLOCK_HELPERS[name]!;
    const declared = b.program?.blockParams?.length ?? 0;
    if (declared > maxParams) {
      throw failAt(`#${name} takes ${maxParams === 0 ? 'no block params' : `at most ${maxParams} block params`}`, b);
    }
    b.params = b.params.map((p) => this.value(p, name, 0));
    if (b.program) this.program(b.program);
    if (b.inverse) this.program(b.inverse);
    return b;
  }

  /** A helper call (as a mustache or subexpression), checked and rewritten. */
  private call(path: Node, params: Node[], hash: HashNode | undefined, at: Node): SubExpr {
    const name = helperName(path);
    const shown = isPath(path) ? path.original : JSON.stringify((path as StringLit).value ?? path.type);
    if (name !== undefined && Object.hasOwn(BLOCK_HELPERS, name)) {
      throw failAt(`${name} is a block helper: write {{#${name} ...}}...{{/${name}}}`, path);
    }
    const spec = name === undefined ? undefined : specOf(name);
    if (!spec) {
      throw failAt(
        `unknown helper '${shown}' (helpers: ${[...Object.keys(HELPERS), 'lookup'].sort().join(', ')})`,
        path,
      );
    }
    if (hash?.pairs.length) throw failAt(`${name} takes no named arguments: ${spec.usage}`, hash);
    if (params.length < spec.min || params.length > spec.max) {
      const n = spec.min === spec.max ? `${spec.min}` : spec.max === Infinity ? `at least ${spec.min}` : `${spec.min} to ${spec.max}`;
      throw failAt(`${name} takes ${n} argument${n === '1' ? '' : 's'}, got ${params.length}: ${spec.usage}`, path);
    }
    return {
      type: 'SubExpression',
      path: helperPath(name!, path),
      params: params.map((p, i) => this.value(p, name!, i)),
      loc: loc0(path) ?? loc0(at),
    } as SubExpr;
  }

  /** An argument: variables become lookups, subexpressions are checked, literals stay. */
  private value(n: Node, helper: string, index: number): Node {
    if (isPath(n)) return this.variable(n);
    if (n.type === 'SubExpression') {
      const s = n as SubExpr;
      return this.call(s.path, s.params, s.hash, s);
    }
    if (helper === 'defined' && index === 0 && n.type === 'StringLiteral') {
      return this.variable(namePath((n as StringLit).value, n));
    }
    return n;
  }

  /** `( get) base "original" line column parts...` */
  private variable(p: PathExpr): SubExpr {
    const line = p.loc?.start.line ?? 0;
    const column = p.loc?.start.column ?? 0;
    const scoped = /^(?:this\b|\.)/.test(p.original);
    let base: PathExpr;
    let head: string;
    let rest: string[];
    if (p.data) {
      head = `@${p.parts[0] ?? ''}`;
      base = { ...p, parts: p.parts.slice(0, 1), original: head };
      rest = p.parts.slice(1);
    } else if (!scoped && p.depth === 0 && p.parts.length > 0 && this.isBlockParam(p.parts[0]!)) {
      head = p.parts[0]!;
      base = { ...p, parts: p.parts.slice(0, 1), original: head };
      rest = p.parts.slice(1);
    } else {
      // the context object at the path's depth; every part is walked by ( get)
      head = '';
      base = { ...p, parts: [], original: p.depth ? '..' : 'this' };
      rest = p.parts;
    }
    return {
      type: 'SubExpression',
      path: helperPath(GET, p),
      params: [base, str(p.original, p), str(head, p), num(line, p), num(column, p), ...rest.map((r) => str(r, p))],
      loc: loc0(p),
    } as SubExpr;
  }
}

/** `defined "a.b"`: the string names a path; parse it as one. */
function namePath(name: string, at: Node): PathExpr {
  let prog: Program | undefined;
  try {
    prog = env.parse(`{{${name}}}`) as unknown as Program;
  } catch {
    prog = undefined;
  }
  const m = prog?.body.length === 1 ? (prog.body[0] as Mustache) : undefined;
  if (!m || m.type !== 'MustacheStatement' || !isPath(m.path) || m.params.length || m.hash) {
    throw failAt(`defined expects a variable name, got ${JSON.stringify(name)}`, at);
  }
  // positions point at the string argument
  return { ...m.path, loc: at.loc };
}

/** Root variable names a template reads (not those only tested by default/defined). */
function collectVariables(prog: Program): string[] {
  const found = new Set<string>();
  const blockParams: string[][] = [];
  // context frames: true for the root context, false inside #each/#with
  const frames: boolean[] = [true];

  const path = (p: PathExpr): void => {
    if (p.data) {
      if (p.parts[0] === 'root' && p.parts[1] !== undefined) found.add(p.parts[1]);
      return;
    }
    const head = p.parts[0];
    if (head === undefined) return;
    const scoped = /^(?:this\b|\.)/.test(p.original);
    if (!scoped && p.depth === 0 && blockParams.some((l) => l.includes(head))) return;
    const frame = frames.length - 1 - p.depth;
    if (frame >= 0 && frames[frame]) found.add(head);
  };
  const expr = (n: Node, helper?: string, index?: number): void => {
    if (isPath(n)) {
      if ((helper === 'default' || helper === 'defined') && index === 0) return;
      path(n);
    } else if (n.type === 'SubExpression') {
      const s = n as SubExpr;
      const name = helperName(s.path);
      s.params.forEach((x, i) => expr(x, name, i));
      s.hash?.pairs.forEach((pair) => expr(pair.value));
    }
  };
  const program = (p: Program | undefined, changesContext: boolean): void => {
    if (!p) return;
    if (p.blockParams?.length) blockParams.push(p.blockParams);
    if (changesContext) frames.push(false);
    for (const s of p.body) {
      if (s.type === 'MustacheStatement') {
        const m = s as Mustache;
        if (m.params.length === 0 && !m.hash) {
          if (isPath(m.path)) path(m.path);
        } else {
          const name = helperName(m.path);
          m.params.forEach((x, i) => expr(x, name, i));
          m.hash?.pairs.forEach((pair) => expr(pair.value));
        }
      } else if (s.type === 'BlockStatement') {
        const b = s as Block;
        const name = helperName(b.path);
        b.params.forEach((x) => expr(x, name));
        const ctx = name === 'each' || name === 'with';
        program(b.program, ctx);
        program(b.inverse, false);
      }
    }
    if (changesContext) frames.pop();
    if (p.blockParams?.length) blockParams.pop();
  };
  program(prog, false);
  return [...found];
}

// ---------------------------------------------------------------------------------------
// Compilation and cache

type TemplateFn = (ctx: unknown, opts?: { data?: Record<string, unknown> }) => string;

interface Compiled {
  /** The template function, made from `spec` when first rendered. */
  fn: TemplateFn | undefined;
  /** What Handlebars' first compiler phase made of the template (checked already), and its options. */
  spec: unknown;
  options: Record<string, unknown> | undefined;
  native: boolean;
}

interface CompilerCtor {
  new (): { compile(ast: unknown, options: unknown): unknown };
}
interface JsCompilerCtor {
  new (): { compile(env: unknown, options: unknown, context: unknown, asObject: boolean): unknown };
}

const CACHE_LIMIT = 5000;
const cache = new Map<string, Compiled>();
const varsCache = new Map<string, string[]>();

function compileOptions(): Record<string, unknown> {
  return { noEscape: true, strict: true, data: true, knownHelpers: { ...KNOWN }, knownHelpersOnly: true };
}

/** Compiles a template (native: a lone `{{ }}` yields its value). Throws TemplateFailure. */
function compile(source: string, native: boolean): Compiled {
  const key = `${native ? 'n' : 's'}${source}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const ast = parseTemplate(source);
  const isNative = native && ast.body.length === 1 && ast.body[0]!.type === 'MustacheStatement';
  new Rewriter(isNative).program(ast);
  let spec: unknown;
  const options = compileOptions();
  try {
    // Handlebars' first phase (what Handlebars.compile does first), eagerly, so that its
    // errors (unknown helpers among them) surface at check time. The second phase, the
    // JavaScript of the template, is made when the template is first rendered: it cannot
    // fail on what the first phase accepted, and it is most of the time compiling takes.
    const e = env as unknown as { Compiler: CompilerCtor };
    spec = new e.Compiler().compile(ast, options);
  } catch (err) {
    throw compileFailure(err);
  }
  const compiled: Compiled = { fn: undefined, spec, options, native: isNative };
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  cache.set(key, compiled);
  return compiled;
}

function compileFailure(err: unknown): TemplateFailure {
  const ex = err as { message?: string; lineNumber?: number; column?: number };
  return new TemplateFailure(`template error: ${String(ex.message ?? err).replace(/ - \d+:\d+$/, '')}`, ex.lineNumber, ex.column, err);
}

/**
 * Handlebars sets a template up at every call (`_setup`): it wraps every helper of the
 * environment in a new closure, some seventy here, for each rendering of each value. Our
 * calls never pass helpers, partials, decorators or prototype-access options, so what it
 * sets up is the same every time: it is done at the first call only. A call that does pass
 * any of those is set up as Handlebars does.
 */
export function setupOnce(fn: TemplateFn): TemplateFn {
  const f = fn as TemplateFn & { _setup?: (o: Record<string, unknown>) => void };
  const setup = f._setup;
  if (typeof setup !== 'function') return fn;
  const own = ['partial', 'helpers', 'partials', 'decorators', 'allowedProtoProperties', 'allowedProtoMethods', 'allowProtoPropertiesByDefault', 'allowProtoMethodsByDefault', 'allowCallsToHelperMissing'];
  let done = false;
  f._setup = function (this: unknown, o: Record<string, unknown>) {
    if (own.some((k) => o[k] !== undefined)) {
      done = false;
      return setup.call(this, o);
    }
    if (!done) {
      setup.call(this, o);
      done = true;
    }
  };
  return fn;
}

/** The template function of a compiled template (Handlebars' second phase, once). */
function templateFn(compiled: Compiled): TemplateFn {
  if (compiled.fn) return compiled.fn;
  try {
    const e = env as unknown as { JavaScriptCompiler: JsCompilerCtor };
    // the options object the first phase saw (and completed), as Handlebars.compile does
    const code = new e.JavaScriptCompiler().compile(compiled.spec, compiled.options, undefined, true);
    compiled.fn = setupOnce(env.template(code as TemplateSpecification) as unknown as TemplateFn);
  } catch (err) {
    throw compileFailure(err);
  }
  compiled.spec = undefined;
  compiled.options = undefined;
  return compiled.fn;
}

function run(compiled: Compiled, vars: Record<string, unknown>): unknown {
  const box: { value: unknown } = { value: undefined };
  const fn = templateFn(compiled);
  try {
    const out = fn(vars, { data: { [BOX]: box } });
    return compiled.native ? box.value : out;
  } catch (e) {
    if (e instanceof TemplateFailure) throw e;
    // a variable whose own template uses an undefined variable
    if (e instanceof UndefinedVariableError) throw new TemplateFailure(e.reason, undefined, undefined, e, true);
    const ex = e as { message?: string; lineNumber?: number; column?: number };
    if (typeof ex.lineNumber === 'number') {
      throw new TemplateFailure(`template error: ${String(ex.message).replace(/ - \d+:\d+$/, '')}`, ex.lineNumber, ex.column, e);
    }
    throw new TemplateFailure(`cannot render template: ${e instanceof Error ? e.message : String(e)}`, undefined, undefined, e);
  }
}

// ---------------------------------------------------------------------------------------
// Positions and errors

type Origin = { kind: 'scalar'; loc: SourceLoc | undefined } | { kind: 'file'; file: string };

function readLines(file: string): string[] | undefined {
  try {
    return readFileSync(file, 'utf8').split(/\r?\n/);
  } catch {
    return undefined;
  }
}

function indentOf(s: string): number {
  return s.length - s.trimStart().length;
}

/**
 * Where a position inside a YAML scalar's template (line 1-based, column 0-based) stands
 * in the YAML file whose value starts at `loc`. See the module notes.
 */
export function scalarPosition(loc: SourceLoc, template: string, line: number, column: number): SourceLoc {
  const tLines = template.split('\n');
  const tLine = tLines[line - 1] ?? '';
  const before = tLine.slice(0, column);
  const lines = readLines(loc.file);
  if (!lines) {
    return template.includes('\n') ? loc : { ...loc, col: loc.col + 1 + column };
  }
  const src = lines[loc.line - 1];
  if (src === undefined) return loc;
  const lead = src[loc.col - 1];
  if (lead === '|') {
    // literal block: template line n is file line loc.line + n, at the block's indentation
    const firstContent = tLines.findIndex((l) => l.trim() !== '');
    if (firstContent < 0) return loc;
    const fileFirst = lines[loc.line + firstContent];
    if (fileFirst === undefined) return loc;
    const blockIndent = indentOf(fileFirst) - indentOf(tLines[firstContent]!);
    const target = lines[loc.line - 1 + line];
    if (blockIndent >= 0 && target !== undefined && target.startsWith(before, blockIndent)) {
      return { file: loc.file, line: loc.line + line, col: blockIndent + column + 1 };
    }
    return loc;
  }
  if (line !== 1 || template.includes('\n')) return loc;
  const start = lead === '"' || lead === "'" ? loc.col : loc.col - 1;
  if (src.startsWith(before, start)) return { file: loc.file, line: loc.line, col: start + column + 1 };
  return loc;
}

function excerpt(template: string, origin: Origin, line: number | undefined): string {
  let text = origin.kind === 'file' || template.includes('\n') ? (template.split('\n')[(line ?? 1) - 1] ?? '') : template;
  if (origin.kind === 'file' || template.includes('\n')) text = text.trim();
  if (text.length > 120) text = `${text.slice(0, 117)}...`;
  return JSON.stringify(text);
}

function toError(f: TemplateFailure, template: string, origin: Origin): TemplateError {
  let loc: SourceLoc | undefined;
  if (origin.kind === 'file') {
    loc = { file: origin.file, line: f.line ?? 1, col: (f.column ?? 0) + 1 };
  } else if (origin.loc) {
    loc = f.line !== undefined ? scalarPosition(origin.loc, template, f.line, f.column ?? 0) : origin.loc;
  }
  const Kind = f.undefinedValue ? UndefinedVariableError : TemplateError;
  return new Kind(`${f.reason} in ${excerpt(template, origin, f.line)}`, loc, { cause: f.cause });
}

function guarded<T>(template: string, origin: Origin, work: () => T): T {
  try {
    return work();
  } catch (e) {
    if (e instanceof TemplateFailure) throw toError(e, template, origin);
    throw e;
  }
}

// ---------------------------------------------------------------------------------------
// Public API

/**
 * Renders one string. Without `{{` it is returned as it is. A string that is exactly one
 * `{{ ... }}` yields the expression's own value (list, number, mapping, ...); any other
 * string renders to a string. Errors are TemplateErrors at `loc` (the scalar's position).
 */
export function renderString(template: string, vars: Record<string, unknown>, loc?: SourceLoc): unknown {
  if (!template.includes('{{')) return template;
  const origin: Origin = { kind: 'scalar', loc };
  return guarded(template, origin, () => run(compile(template, true), vars));
}

/**
 * Renders every string inside a value (lists and mappings, recursively), each with its own
 * source position (`locOf(owner, key)`). Returns new lists and mappings, which keep the
 * positions of the ones they replace; the input is never changed.
 */
export function renderDeep(value: unknown, vars: Record<string, unknown>, owner?: object, key?: string | number): unknown {
  if (typeof value === 'string') {
    return renderString(value, vars, owner !== undefined && key !== undefined ? locOf(owner, key) : locOf(owner));
  }
  if (Array.isArray(value)) {
    const out = value.map((item, i) => renderDeep(item, vars, value, i));
    copyLoc(value, out);
    return out;
  }
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = renderDeep(v, vars, value, k);
    copyLoc(value, out);
    return out;
  }
  return value;
}

/** Reads and renders a template file; errors name the file, line and column. */
export function renderTemplateFile(file: string, vars: Record<string, unknown>): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new TemplateError(`cannot read template ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  return renderTemplateText(text, file, vars);
}

/** Renders template text read from `file` (for callers that already hold the text). */
export function renderTemplateText(text: string, file: string, vars: Record<string, unknown>): string {
  if (!text.includes('{{')) return text;
  const origin: Origin = { kind: 'file', file };
  return guarded(text, origin, () => run(compile(text, false), vars) as string);
}

/**
 * Checks a template's syntax, helpers and their argument counts without rendering it (for
 * load-time validation). Throws a TemplateError at the offending position.
 */
export function checkTemplate(template: string, loc?: SourceLoc): void {
  if (!template.includes('{{')) return;
  guarded(template, { kind: 'scalar', loc }, () => compile(template, true));
}

/** Checks a template file's text (positions are in the file itself). */
export function checkTemplateText(text: string, file: string): void {
  if (!text.includes('{{')) return;
  guarded(text, { kind: 'file', file }, () => compile(text, false));
}

/**
 * The root variable names a template reads, in order of first use: not helper names, not
 * `this`, `@index` and other data, not block params, not paths inside `#each`/`#with`
 * that refer to the item, and not the variables only given to `default` or `defined`
 * (which may be undefined). For warning about undefined variables before running.
 */
export function referencedVariables(template: string): string[] {
  if (!template.includes('{{')) return [];
  const hit = varsCache.get(template);
  if (hit) return [...hit];
  const vars = guarded(template, { kind: 'scalar', loc: undefined }, () => collectVariables(parseTemplate(template)));
  if (varsCache.size >= CACHE_LIMIT) varsCache.delete(varsCache.keys().next().value!);
  varsCache.set(template, vars);
  return [...vars];
}
