/** The syntax tree of an expression. Plain readonly data: safe to share, compare and serialise. */

export type CompareOp = '==' | '!=' | '<' | '<=' | '>' | '>=' | 'in' | 'not in';
export type BinaryOp = 'or' | 'and' | '+' | '-' | '*' | '/' | '//' | '%' | '**' | '~';

export interface Kwarg {
  readonly name: string;
  readonly value: Expr;
}

export type Expr =
  /** `'text'`, `42`, `1.5`, `true`, `none` */
  | { readonly kind: 'literal'; readonly value: string | number | boolean | null }
  /** A root variable: `result` */
  | { readonly kind: 'name'; readonly name: string }
  /** `[a, b]`, or `(a, b)` when `tuple` (evaluates to a list too) */
  | { readonly kind: 'list'; readonly items: readonly Expr[]; readonly tuple: boolean }
  /** `{'k': v}` */
  | { readonly kind: 'dict'; readonly entries: readonly { readonly key: Expr; readonly value: Expr }[] }
  /** `obj.name` (Jinja2: attribute, then item) */
  | { readonly kind: 'attr'; readonly object: Expr; readonly name: string }
  /** `obj[index]`, and `obj.0` */
  | { readonly kind: 'index'; readonly object: Expr; readonly index: Expr }
  /** `obj[start:stop:step]` */
  | { readonly kind: 'slice'; readonly object: Expr; readonly start: Expr | null; readonly stop: Expr | null; readonly step: Expr | null }
  /** `obj.method(args)`: only whitelisted methods of strings, lists and dicts */
  | { readonly kind: 'call'; readonly object: Expr; readonly method: string; readonly args: readonly Expr[]; readonly kwargs: readonly Kwarg[] }
  /** `not x`, `-x`, `+x` */
  | { readonly kind: 'unary'; readonly op: 'not' | '-' | '+'; readonly operand: Expr }
  | { readonly kind: 'binary'; readonly op: BinaryOp; readonly left: Expr; readonly right: Expr }
  /** `a < b <= c`: Python's chained comparison */
  | { readonly kind: 'compare'; readonly first: Expr; readonly rest: readonly { readonly op: CompareOp; readonly operand: Expr }[] }
  /** `x | name(args)` */
  | { readonly kind: 'filter'; readonly operand: Expr; readonly name: string; readonly args: readonly Expr[]; readonly kwargs: readonly Kwarg[] }
  /** `x is [not] name(args)` */
  | { readonly kind: 'test'; readonly operand: Expr; readonly name: string; readonly negated: boolean; readonly args: readonly Expr[]; readonly kwargs: readonly Kwarg[] }
  /** `then if test else otherwise` (`otherwise` null when no else was written) */
  | { readonly kind: 'cond'; readonly test: Expr; readonly then: Expr; readonly otherwise: Expr | null };

/**
 * Binding strength, loosest first, as in Jinja2's parser. Filters and tests apply to a
 * unary operand (`-x | abs` is `(-x) | abs`, `not x is defined` is `not (x is defined)`,
 * `x | length > 2` is `(x | length) > 2`).
 */
export const PREC = {
  cond: 0,
  or: 1,
  and: 2,
  not: 3,
  compare: 4,
  add: 5,
  concat: 6,
  mul: 7,
  pow: 8,
  filter: 9,
  unary: 10,
  postfix: 11,
  atom: 12,
} as const;

export function precOf(e: Expr): number {
  switch (e.kind) {
    case 'cond':
      return PREC.cond;
    case 'binary':
      switch (e.op) {
        case 'or':
          return PREC.or;
        case 'and':
          return PREC.and;
        case '+':
        case '-':
          return PREC.add;
        case '~':
          return PREC.concat;
        case '**':
          return PREC.pow;
        default:
          return PREC.mul;
      }
    case 'unary':
      return e.op === 'not' ? PREC.not : PREC.unary;
    case 'compare':
      return PREC.compare;
    case 'filter':
    case 'test':
      return PREC.filter;
    case 'attr':
    case 'index':
    case 'slice':
    case 'call':
      return PREC.postfix;
    case 'literal':
      return typeof e.value === 'number' && (e.value < 0 || Object.is(e.value, -0)) ? PREC.unary : PREC.atom;
    default:
      return PREC.atom;
  }
}

/** Direct children, in source order. */
export function childrenOf(e: Expr): Expr[] {
  switch (e.kind) {
    case 'literal':
    case 'name':
      return [];
    case 'list':
      return [...e.items];
    case 'dict':
      return e.entries.flatMap((x) => [x.key, x.value]);
    case 'attr':
      return [e.object];
    case 'index':
      return [e.object, e.index];
    case 'slice':
      return [e.object, e.start, e.stop, e.step].filter((x): x is Expr => x !== null);
    case 'call':
    case 'filter':
    case 'test': {
      const head = e.kind === 'call' ? e.object : e.operand;
      return [head, ...e.args, ...e.kwargs.map((k) => k.value)];
    }
    case 'unary':
      return [e.operand];
    case 'binary':
      return [e.left, e.right];
    case 'compare':
      return [e.first, ...e.rest.map((r) => r.operand)];
    case 'cond':
      return [e.then, e.test, ...(e.otherwise ? [e.otherwise] : [])];
  }
}
