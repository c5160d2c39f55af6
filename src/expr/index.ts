/**
 * The expression language of `when`, `changed_when`, `failed_when`, `until` and
 * `assert.that`: Jinja2 test expressions as Ansible users write them, parsed by a
 * hand-written tokenizer and recursive-descent parser into a plain tree, and evaluated by
 * a pure interpreter. No JavaScript is ever evaluated; only own properties of plain data
 * (and indices of arrays) are read, and only a whitelist of filters, tests and string / list /
 * dict methods can be called.
 *
 * Supported: literals (`'a'`, `"b"`, `1`, `1.5`, `true`/`True`, `none`/`None`/`null`,
 * lists, tuples, dicts); `a.b`, `a['b']`, `a[0]`, `a[-1]`, `a[1:3]`; `== != < <= > >=`
 * (chained as in Python), `in`, `not in`, `and`, `or`, `not`, `+ - * / // % **`, `~`,
 * `x if c else y`; tests (`is defined`, `is changed`, `is match('re')`, `is version('1.2',
 * '>=')`, ...), filters (`| bool`, `| int`, `| default(x)`, `| regex_search('re')`, ...) and
 * methods (`x.startswith('a')`, `x.split(',')`, `d.get('k')`, ...). A whole expression in
 * `{{ ... }}` is accepted.
 *
 * Known differences from Jinja2/Python, all rare in conditions:
 * - numbers are JS numbers: `4 / 2` prints as `2`, not `2.0`; `1.0 is float` is false;
 *   integers beyond 2**53 lose precision;
 * - `null` is a literal (none), not a variable name;
 * - `d.items` / `d.keys` without a call read the keys 'items' / 'keys' of the mapping;
 * - tuples evaluate to lists (`(1, 2) == [1, 2]` is true);
 * - tests other than defined/undefined fail on an undefined value (Jinja2's `none`,
 *   `string`, ... answer false);
 * - an undefined value inside a list or dict literal is an error when the literal is built;
 * - `| bool` on none is false (ansible-core 2.14 returns none);
 * - `is failed` / `is succeeded` / `is skipped` on a loop's result that has no top-level
 *   flag look at the items (any failed; all skipped), as `is changed` does in Ansible;
 * - `%` string formatting is not supported;
 * - `"{{ x }}"` is just `x`: Ansible evaluates a templated condition a second time, so
 *   with x = 'false' it is false there and true (a non-empty string) here;
 * - regular expressions: see regex.ts (Python syntax translated; patterns over 1000
 *   characters rejected).
 */
export type { BinaryOp, CompareOp, Expr, Kwarg } from './ast.js';
export { ExprEvalError, ExprSyntaxError, UndefinedError } from './errors.js';
export { evaluate, evaluateCondition } from './eval.js';
export { formatExpression } from './format.js';
export { MAX_NESTING, parseExpression } from './parser.js';
export { MAX_PATTERN_LENGTH } from './regex.js';
export { referencedNames } from './names.js';
export { truthy } from './values.js';
