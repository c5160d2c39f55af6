/**
 * The one error hierarchy of underlay. Everything thrown on purpose is an UnderlayError;
 * the CLI (src/cli) is the only place that maps these to exit codes.
 */

/** A place in a source file: 1-based line and column. */
export interface SourceLoc {
  file: string;
  line: number;
  col: number;
}

export function formatLoc(loc: SourceLoc | undefined): string {
  if (!loc) return '';
  return `${loc.file}:${loc.line}:${loc.col}`;
}

/** Exit codes, each with exactly one meaning (documented in the README). */
export const EXIT = {
  OK: 0,
  /** An unexpected internal error (a bug in underlay). */
  INTERNAL: 1,
  /** At least one host failed a task. */
  HOST_FAILED: 2,
  /** At least one host was unreachable, and none failed a task. */
  HOST_UNREACHABLE: 3,
  /** Bad input: playbook, inventory, template, vars file, vault or command-line options. */
  BAD_INPUT: 4,
  /** `--verify-idempotent`: the second run changed something. */
  NOT_IDEMPOTENT: 5,
  /** The environment cannot do what was asked (e.g. `lab up` not as root, a package missing). */
  ENVIRONMENT: 6,
  /** Interrupted (SIGINT). */
  INTERRUPTED: 130,
} as const;

export abstract class UnderlayError extends Error {
  abstract readonly exitCode: number;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad input, with the place it came from when known. Printed as `file:line:col: message`. */
export class InputError extends UnderlayError {
  readonly exitCode: number = EXIT.BAD_INPUT;
  readonly loc: SourceLoc | undefined;
  /** The message without the location prefix. */
  readonly reason: string;
  constructor(reason: string, loc?: SourceLoc, options?: { cause?: unknown }) {
    super(loc ? `${formatLoc(loc)}: ${reason}` : reason, options);
    this.reason = reason;
    this.loc = loc;
  }
}

/** Several input errors found in one pass; all are reported at once. */
export class InputErrors extends UnderlayError {
  readonly exitCode: number = EXIT.BAD_INPUT;
  readonly errors: InputError[];
  constructor(errors: InputError[]) {
    super(errors.map((e) => e.message).join('\n'));
    this.errors = errors;
  }
}

/** A template could not be rendered (undefined variable, bad syntax). */
export class TemplateError extends InputError {}

/**
 * A template used a variable that is not defined. Reading a variable whose value is such
 * a template gives an undefined value in expressions (`x is defined` is false, `x |
 * default(...)` takes the default), as in Ansible.
 */
export class UndefinedVariableError extends TemplateError {}

/** A vault file could not be decrypted (wrong password, corrupt file) or no password was given. */
export class VaultError extends InputError {}

/** A host pattern selected nothing, or is malformed. */
export class PatternError extends InputError {}

/** A host could not be reached: connection refused, timeout, authentication. */
export class UnreachableError extends UnderlayError {
  readonly exitCode: number = EXIT.HOST_UNREACHABLE;
  constructor(
    readonly host: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${host}: ${message}`, options);
  }
}

/** The host presented a key that is unknown or differs from known_hosts. */
export class HostKeyError extends UnreachableError {}

/** A remote command failed where the caller needed it to succeed. */
export class CommandError extends UnderlayError {
  readonly exitCode: number = EXIT.HOST_FAILED;
  constructor(
    message: string,
    readonly result: { command: string; exitCode: number | null; stdout: string; stderr: string },
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A task failed on a host (module error, failed_when, assert, fail). */
export class TaskError extends UnderlayError {
  readonly exitCode: number = EXIT.HOST_FAILED;
}

/** The machine cannot do what was asked (not root, package missing, no namespaces). */
export class EnvironmentError extends UnderlayError {
  readonly exitCode: number = EXIT.ENVIRONMENT;
}

/** Collects input errors so a loader can report all of them at once. */
export class ErrorSink {
  readonly errors: InputError[] = [];
  add(reason: string | InputError, loc?: SourceLoc): void {
    this.errors.push(typeof reason === 'string' ? new InputError(reason, loc) : reason);
  }
  get size(): number {
    return this.errors.length;
  }
  /** Throws InputErrors when anything was collected, in file order, then line and column. */
  throwIfAny(): void {
    const fileOrder = new Map<string, number>();
    for (const e of this.errors) if (e.loc && !fileOrder.has(e.loc.file)) fileOrder.set(e.loc.file, fileOrder.size);
    const rank = (e: InputError): [number, number, number] => (e.loc ? [fileOrder.get(e.loc.file)!, e.loc.line, e.loc.col] : [-1, 0, 0]);
    this.errors.sort((a, b) => {
      const x = rank(a);
      const y = rank(b);
      return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
    });
    if (this.errors.length === 1) throw this.errors[0];
    if (this.errors.length > 1) throw new InputErrors(this.errors);
  }
}

/** Flattens an error into the InputErrors it carries (for reporting and tests). */
export function inputErrorsOf(err: unknown): InputError[] {
  if (err instanceof InputErrors) return err.errors;
  if (err instanceof InputError) return [err];
  return [];
}
