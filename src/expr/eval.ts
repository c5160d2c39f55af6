/**
 * A pure evaluator over plain data with Jinja2's semantics as Ansible configures it:
 * undefined values are errors when used, except under `is defined` / `is undefined` /
 * `default(...)`; attribute lookups on an undefined value stay undefined and keep the first
 * failure's message (`'result' is undefined`).
 */
import type { Expr, Kwarg } from './ast.js';
import { canonicalTest, testDef } from './checks.js';
import { ExprEvalError } from './errors.js';
import { canonicalFilter, filterDef } from './filters.js';
import { callMethod } from './methods.js';
import { bindArgs } from './signature.js';
import {
  asInt,
  chars,
  dictKey,
  getItem,
  makeDict,
  need,
  pyContains,
  pyEquals,
  pyOrder,
  pySlice,
  pyStr,
  pyType,
  truthy,
  Undef,
  readValue,
} from './values.js';

/** Longest string or list `*` may build. */
const MAX_REPEAT = 10_000_000;

type Vars = Record<string, unknown>;

function lookup(vars: Vars, name: string): unknown {
  const v = readValue(vars, name);
  if (v !== undefined) return v;
  return new Undef(`'${name}' is undefined`);
}

const isNum = (v: unknown): v is number | boolean => typeof v === 'number' || typeof v === 'boolean';

function unsupported(op: string, a: unknown, b: unknown): never {
  throw new ExprEvalError(`unsupported operand type(s) for ${op}: '${pyType(a)}' and '${pyType(b)}'`);
}

function repeat<T>(seq: T[], times: unknown): T[] {
  const n = asInt(times, 'repeat count');
  if (n <= 0) return [];
  if (seq.length * n > MAX_REPEAT) throw new ExprEvalError(`result of * too large (over ${MAX_REPEAT} items)`);
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(...seq);
  return out;
}

function pyMod(a: number, b: number): number {
  if (b === 0) throw new ExprEvalError('integer division or modulo by zero');
  let r = a % b;
  if (r !== 0 && r < 0 !== b < 0) r += b;
  return r;
}

function arith(op: string, a: unknown, b: unknown): unknown {
  switch (op) {
    case '+':
      if (isNum(a) && isNum(b)) return Number(a) + Number(b);
      if (typeof a === 'string' && typeof b === 'string') return a + b;
      if (Array.isArray(a) && Array.isArray(b)) return [...a, ...b];
      if (typeof a === 'string') throw new ExprEvalError(`can only concatenate str (not "${pyType(b)}") to str`);
      if (Array.isArray(a)) throw new ExprEvalError(`can only concatenate list (not "${pyType(b)}") to list`);
      return unsupported('+', a, b);
    case '-':
      if (isNum(a) && isNum(b)) return Number(a) - Number(b);
      return unsupported('-', a, b);
    case '*':
      if (isNum(a) && isNum(b)) return Number(a) * Number(b);
      if (typeof a === 'string' && isNum(b)) return repeat(chars(a), b).join('');
      if (isNum(a) && typeof b === 'string') return repeat(chars(b), a).join('');
      if (Array.isArray(a) && isNum(b)) return repeat(a, b);
      if (isNum(a) && Array.isArray(b)) return repeat(b, a);
      if ((typeof a === 'string' || Array.isArray(a)) && typeof b === 'number') throw new ExprEvalError(`can't multiply sequence by non-int of type '${pyType(b)}'`);
      return unsupported('*', a, b);
    case '/':
      if (isNum(a) && isNum(b)) {
        if (Number(b) === 0) throw new ExprEvalError('division by zero');
        return Number(a) / Number(b);
      }
      return unsupported('/', a, b);
    case '//':
      if (isNum(a) && isNum(b)) {
        if (Number(b) === 0) throw new ExprEvalError('integer division or modulo by zero');
        return Math.floor(Number(a) / Number(b));
      }
      return unsupported('//', a, b);
    case '%':
      if (isNum(a) && isNum(b)) return pyMod(Number(a), Number(b));
      if (typeof a === 'string') throw new ExprEvalError("string formatting with % is not supported; use ~ or the format of a message");
      return unsupported('%', a, b);
    case '**':
      if (isNum(a) && isNum(b)) {
        if (Number(a) === 0 && Number(b) < 0) throw new ExprEvalError('0.0 cannot be raised to a negative power');
        return Number(a) ** Number(b);
      }
      return unsupported('** or pow()', a, b);
    case '~':
      return pyStr(a) + pyStr(b);
  }
  throw new ExprEvalError(`unknown operator ${op}`);
}

function compare(op: string, a: unknown, b: unknown): boolean {
  switch (op) {
    case '==':
      return pyEquals(a, b);
    case '!=':
      return !pyEquals(a, b);
    case '<':
    case '<=':
    case '>':
    case '>=':
      return pyOrder(op, a, b);
    case 'in':
      return pyContains(b, a);
    case 'not in':
      return !pyContains(b, a);
  }
  throw new ExprEvalError(`unknown comparison ${op}`);
}

function sliceBound(v: unknown): number | null {
  if (v === null) return null;
  return asInt(v, 'slice index');
}

/** The expression given for a parameter, positionally or by keyword. */
function argExpr(args: readonly Expr[], kwargs: readonly Kwarg[], pos: number, name: string): Expr | undefined {
  return args[pos] ?? kwargs.find((k) => k.name === name)?.value;
}

class Evaluator {
  constructor(private readonly vars: Vars) {}

  all(es: readonly Expr[]): unknown[] {
    return es.map((x) => need(this.ev(x)));
  }

  kw(ks: readonly Kwarg[]): [string, unknown][] {
    return ks.map((k) => [k.name, need(this.ev(k.value))]);
  }

  ev(e: Expr): unknown {
    switch (e.kind) {
      case 'literal':
        return e.value;
      case 'name':
        return lookup(this.vars, e.name);
      case 'list':
        return this.all(e.items);
      case 'dict':
        return makeDict(
          e.entries.map((x) => {
            const key = need(this.ev(x.key));
            const k = dictKey(key);
            if (k === undefined) throw new ExprEvalError(`a dict key must be a string or a number, not ${pyType(key)}`);
            return [k, need(this.ev(x.value))];
          }),
        );
      case 'attr':
        return getItem(this.ev(e.object), e.name);
      case 'index': {
        const obj = this.ev(e.object);
        if (obj instanceof Undef) return obj;
        return getItem(obj, need(this.ev(e.index)));
      }
      case 'slice': {
        const obj = need(this.ev(e.object));
        const [a, b, c] = [e.start, e.stop, e.step].map((x) => (x ? sliceBound(need(this.ev(x))) : null)) as [number | null, number | null, number | null];
        if (typeof obj === 'string') return pySlice(chars(obj), a, b, c).join('');
        if (Array.isArray(obj)) return pySlice(obj, a, b, c);
        throw new ExprEvalError(`'${pyType(obj)}' object is not subscriptable`);
      }
      case 'call': {
        const recv = need(this.ev(e.object));
        return callMethod(recv, e.method, this.all(e.args), this.kw(e.kwargs));
      }
      case 'unary': {
        const v = this.ev(e.operand);
        if (e.op === 'not') return !truthy(v);
        need(v);
        if (!isNum(v)) throw new ExprEvalError(`bad operand type for unary ${e.op}: '${pyType(v)}'`);
        return e.op === '-' ? -Number(v) : Number(v);
      }
      case 'binary': {
        if (e.op === 'and' || e.op === 'or') {
          const l = this.ev(e.left);
          const t = truthy(l);
          if (e.op === 'and') return t ? this.ev(e.right) : l;
          return t ? l : this.ev(e.right);
        }
        const l = need(this.ev(e.left));
        const r = need(this.ev(e.right));
        return arith(e.op, l, r);
      }
      case 'compare': {
        let left = need(this.ev(e.first));
        for (const r of e.rest) {
          const right = need(this.ev(r.operand));
          if (!compare(r.op, left, right)) return false;
          left = right;
        }
        return true;
      }
      case 'filter':
        return this.filter(e);
      case 'test': {
        const canon = canonicalTest(e.name);
        if (!canon) throw new ExprEvalError(`no test named '${e.name}'`);
        const def = testDef(canon);
        const v = this.ev(e.operand);
        if (!def.acceptsUndefined) need(v);
        const r = def.fn(v, bindArgs(def.sig, this.all(e.args), this.kw(e.kwargs)));
        return e.negated ? !r : r;
      }
      case 'cond':
        if (truthy(this.ev(e.test))) return this.ev(e.then);
        if (e.otherwise) return this.ev(e.otherwise);
        return new Undef('the inline if-expression evaluated to false and no else section was defined.');
    }
  }

  filter(e: Extract<Expr, { kind: 'filter' }>): unknown {
    const canon = canonicalFilter(e.name);
    if (!canon) throw new ExprEvalError(`no filter named '${e.name}'`);
    const def = filterDef(canon);
    if (def.special === 'default') {
      // default(default_value='', boolean=false): the fallback is evaluated only when used
      const v = this.ev(e.operand);
      const boolExpr = argExpr(e.args, e.kwargs, 1, 'boolean');
      const byTruth = boolExpr ? truthy(this.ev(boolExpr)) : false;
      if (!(v instanceof Undef) && !(byTruth && !truthy(v))) return v;
      const dflt = argExpr(e.args, e.kwargs, 0, 'default_value');
      return dflt ? this.ev(dflt) : '';
    }
    if (def.special === 'ternary') {
      // ternary(true_val, false_val, none_val=None): only the chosen branch is evaluated
      const v = need(this.ev(e.operand));
      const noneExpr = argExpr(e.args, e.kwargs, 2, 'none_val');
      if (v === null && noneExpr) {
        const nv = this.ev(noneExpr);
        if (nv !== null) return nv;
      }
      const branch = argExpr(e.args, e.kwargs, truthy(v) ? 0 : 1, truthy(v) ? 'true_val' : 'false_val');
      return branch ? this.ev(branch) : null;
    }
    const v = this.ev(e.operand);
    if (!def.acceptsUndefined) need(v);
    return def.fn(v, bindArgs(def.sig, this.all(e.args), this.kw(e.kwargs)));
  }
}

/** Evaluates an expression against variables. Throws ExprEvalError (UndefinedError for undefined values). */
export function evaluate(expr: Expr, vars: Record<string, unknown>): unknown {
  return need(new Evaluator(vars).ev(expr));
}

/** Evaluates an expression as a condition: Python truthiness of its value. */
export function evaluateCondition(expr: Expr, vars: Record<string, unknown>): boolean {
  return truthy(evaluate(expr, vars));
}
