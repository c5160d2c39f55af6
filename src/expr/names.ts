import { childrenOf, type Expr } from './ast.js';

/**
 * Root variable names an expression reads, in order of first use, without duplicates.
 * Names guarded by `is defined` / `default(...)` are included too: the caller decides what
 * an absent name means.
 */
export function referencedNames(expr: Expr): string[] {
  const out = new Set<string>();
  const stack: Expr[] = [expr];
  while (stack.length > 0) {
    const e = stack.pop()!;
    if (e.kind === 'name') out.add(e.name);
    const kids = childrenOf(e);
    for (let i = kids.length - 1; i >= 0; i--) stack.push(kids[i]!);
  }
  return [...out];
}
