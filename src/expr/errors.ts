/**
 * Errors of the expression language. Syntax errors are bad input (InputError, found at
 * load time, with a file position); evaluation errors happen on a host while a task runs
 * (TaskError).
 */
import { InputError, TaskError, type SourceLoc } from '../errors.js';

/** An expression could not be evaluated: wrong types, bad regex, division by zero, ... */
export class ExprEvalError extends TaskError {}

/**
 * An undefined variable or attribute was used, e.g. `'result' is undefined` or
 * `'dict object' has no attribute 'rcc'` (the messages Ansible gives).
 */
export class UndefinedError extends ExprEvalError {}

/** An expression that does not parse. `offset` is the 0-based index of the offending token in the source. */
export class ExprSyntaxError extends InputError {
  constructor(
    reason: string,
    loc: SourceLoc | undefined,
    readonly offset: number,
    readonly src: string,
  ) {
    super(reason, loc);
  }
}
