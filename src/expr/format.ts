/** Canonical text of an expression (for messages): parses back to the same tree. */
import { PREC, precOf, type Expr, type Kwarg } from './ast.js';
import { pyNumber, pyStrRepr } from './values.js';

function literal(v: string | number | boolean | null): string {
  if (v === null) return 'none';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'string') return pyStrRepr(v);
  if (Number.isNaN(v)) return "('nan' | float)";
  if (!Number.isFinite(v)) return v > 0 ? '1e999' : '-1e999';
  return pyNumber(v);
}

function args(a: readonly Expr[], kw: readonly Kwarg[]): string {
  return [...a.map((x) => fmt(x, PREC.cond)), ...kw.map((k) => `${k.name}=${fmt(k.value, PREC.cond)}`)].join(', ');
}

function fmt(e: Expr, min: number): string {
  const s = raw(e);
  return precOf(e) < min ? `(${s})` : s;
}

function raw(e: Expr): string {
  switch (e.kind) {
    case 'literal':
      return literal(e.value);
    case 'name':
      return e.name;
    case 'list': {
      const items = e.items.map((x) => fmt(x, PREC.cond));
      if (!e.tuple) return `[${items.join(', ')}]`;
      return items.length === 1 ? `(${items[0]},)` : `(${items.join(', ')})`;
    }
    case 'dict':
      return `{${e.entries.map((x) => `${fmt(x.key, PREC.cond)}: ${fmt(x.value, PREC.cond)}`).join(', ')}}`;
    case 'attr':
      return `${fmt(e.object, PREC.postfix)}.${e.name}`;
    case 'index':
      return `${fmt(e.object, PREC.postfix)}[${fmt(e.index, PREC.cond)}]`;
    case 'slice': {
      const part = (x: Expr | null) => (x ? fmt(x, PREC.cond) : '');
      return `${fmt(e.object, PREC.postfix)}[${part(e.start)}:${part(e.stop)}${e.step ? ':' + part(e.step) : ''}]`;
    }
    case 'call':
      return `${fmt(e.object, PREC.postfix)}.${e.method}(${args(e.args, e.kwargs)})`;
    case 'unary':
      return e.op === 'not' ? `not ${fmt(e.operand, PREC.not)}` : `${e.op}${fmt(e.operand, PREC.postfix)}`;
    case 'binary': {
      const p = precOf(e);
      return `${fmt(e.left, p)} ${e.op} ${fmt(e.right, p + 1)}`;
    }
    case 'compare':
      return [fmt(e.first, PREC.add), ...e.rest.map((r) => `${r.op} ${fmt(r.operand, PREC.add)}`)].join(' ');
    case 'filter': {
      const a = e.args.length + e.kwargs.length > 0 ? `(${args(e.args, e.kwargs)})` : '';
      return `${fmt(e.operand, PREC.filter)} | ${e.name}${a}`;
    }
    case 'test': {
      const a = e.args.length + e.kwargs.length > 0 ? `(${args(e.args, e.kwargs)})` : '';
      return `${fmt(e.operand, PREC.filter)} is ${e.negated ? 'not ' : ''}${e.name}${a}`;
    }
    case 'cond':
      return `${fmt(e.then, PREC.or)} if ${fmt(e.test, PREC.or)}${e.otherwise ? ` else ${fmt(e.otherwise, PREC.cond)}` : ''}`;
  }
}

export function formatExpression(expr: Expr): string {
  return raw(expr);
}
