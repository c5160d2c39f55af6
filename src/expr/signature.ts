/** Parameter lists of filters, tests and methods, checked at parse time and bound at evaluation. */

export interface Signature {
  /** Positional-or-keyword parameters after the input value, in order. */
  readonly params: readonly string[];
  /** How many of `params` must be given. */
  readonly required: number;
  /** Further positional arguments are accepted (they land in `rest`). */
  readonly varargs?: boolean;
  /** Keyword-only parameters. */
  readonly kwonly?: readonly string[];
}

export interface Bound {
  /** One slot per declared param; JS undefined when not given (an explicit `none` is null). */
  readonly p: unknown[];
  readonly rest: unknown[];
  readonly kw: Record<string, unknown>;
}

export const sig = (params: string[] = [], required = 0, extra: { varargs?: boolean; kwonly?: string[] } = {}): Signature => ({
  params,
  required,
  ...extra,
});

/** An error text when a call with `nArgs` positional and `kwNames` keyword arguments does not fit; else undefined. */
export function checkCall(s: Signature, what: string, nArgs: number, kwNames: readonly string[]): string | undefined {
  if (!s.varargs && nArgs > s.params.length) {
    const n = s.params.length;
    return `${what} takes ${n === 0 ? 'no' : `at most ${n}`} argument${n === 1 ? '' : 's'} (${nArgs} given)`;
  }
  const seen = new Set<string>();
  for (const k of kwNames) {
    const at = s.params.indexOf(k);
    if (at < 0 && !(s.kwonly ?? []).includes(k)) return `${what} got an unexpected keyword argument '${k}'`;
    if (at >= 0 && at < nArgs) return `${what} got multiple values for argument '${k}'`;
    if (seen.has(k)) return `${what} got keyword argument '${k}' twice`;
    seen.add(k);
  }
  for (let i = nArgs; i < s.required; i++) {
    const name = s.params[i]!;
    if (!seen.has(name)) return `${what} is missing required argument '${name}'`;
  }
  return undefined;
}

/** Binds checked arguments to the signature's slots. */
export function bindArgs(s: Signature, args: readonly unknown[], kwargs: readonly (readonly [string, unknown])[]): Bound {
  const p: unknown[] = s.params.map((_, i) => (i < args.length ? args[i] : undefined));
  const rest = args.slice(s.params.length);
  const kw: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [k, v] of kwargs) {
    const at = s.params.indexOf(k);
    if (at >= 0) p[at] = v;
    else kw[k] = v;
  }
  return { p, rest, kw };
}
