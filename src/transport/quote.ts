/**
 * The one way a remote command is built. Target shell: POSIX `sh` (dash on Debian/Ubuntu).
 *
 * - `quote(value)` quotes one word: `'...'` with embedded quotes as `'\''`.
 * - `sh\`ip link show ${dev}\`` is a tagged template: every interpolated value is quoted;
 *   an array becomes several quoted words; a `Raw` value (from `raw()`, or another `sh`
 *   command) is inserted as it is.
 * - `join(cmds, op)` joins commands with `&&`, `;`, `||` or `|`.
 */

/** A piece of shell that is already safe (built by `sh`, or a literal operator). */
export class ShellCommand {
  /**
   * @param plain true when the text is known to be words only: literal text of
   * [A-Za-z0-9_@%+=:,./ -] and quoted values, no operators, redirections, expansions or
   * newlines. Such text cannot be a syntax error unless its first word is a reserved word
   * (see `isSimpleCommand`), which lets the remote shell run it without `eval`.
   */
  constructor(
    readonly text: string,
    readonly plain = false,
    /**
     * Written to run in the remote shell itself, as a function body (contained.ts): the
     * shell runs it without a subshell when containedProblem finds nothing in it.
     */
    readonly contained = false,
  ) {}
  toString(): string {
    return this.text;
  }
}

/**
 * Marks one of our own scripts as written for the remote shell itself (contained.ts): it
 * ends with `return`, never `exit`, and changes nothing the shell keeps.
 */
export function contained(cmd: ShellCommand): ShellCommand {
  return new ShellCommand(cmd.text, false, true);
}

/** Marks literal shell text as safe. Only for constants written in our own source. */
export function raw(text: string): ShellCommand {
  return new ShellCommand(text);
}

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;
/** Literal text of a `sh` template that keeps a command plain: words and spaces only. */
const PLAIN_LITERAL = /^[A-Za-z0-9_@%+=:,./ -]*$/;
/** Words that are syntax, not a command, at the start of a command. */
const RESERVED = new Set(['!', '{', '}', 'case', 'do', 'done', 'elif', 'else', 'esac', 'fi', 'for', 'if', 'in', 'then', 'until', 'while']);

/**
 * True when `cmd` is one simple command whose text cannot be a syntax error: plain words
 * (see ShellCommand), not empty, not starting with a reserved word.
 */
export function isSimpleCommand(cmd: ShellCommand): boolean {
  if (!cmd.plain) return false;
  const first = /^ *([^ ]+)/.exec(cmd.text)?.[1];
  return first !== undefined && !RESERVED.has(first);
}

/**
 * dash's builtins that change the shell they run in (its directory, variables, options,
 * traps, limits, functions, positional parameters, command hash) or end it; `:` is a
 * special builtin, after which assignments stay. Any other builtin (test, [, echo,
 * printf, true, false, kill, pwd, type) leaves the shell as it was.
 */
const SHELL_CHANGING = new Set(['.', ':', 'alias', 'bg', 'break', 'cd', 'chdir', 'command', 'continue', 'eval', 'exec', 'exit', 'export', 'fc', 'fg', 'getopts', 'hash', 'jobs', 'local', 'read', 'readonly', 'return', 'set', 'shift', 'source', 'times', 'trap', 'ulimit', 'umask', 'unalias', 'unset', 'wait']);
/** Builtins that leave the shell as it was (see SHELL_CHANGING). */
const HARMLESS_BUILTINS = new Set(['[', 'test', 'echo', 'printf', 'true', 'false', 'kill', 'pwd', 'type']);
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;

/**
 * True when the persistent remote shell may run `cmd` itself, without a subshell: a simple
 * command (isSimpleCommand) whose command word, written out unquoted, is an external
 * program or a builtin that leaves the shell as it was. Assignments in front of it are
 * accepted only before an external program, where they last for that program alone. The
 * shell then starts the program with vfork instead of forking a copy of itself first.
 */
export function runsInPlace(cmd: ShellCommand): boolean {
  if (!isSimpleCommand(cmd)) return false;
  // The words as the shell sees them: each must be unquoted plain text, which the split
  // sees whole (a quoted value may hold spaces).
  const words = cmd.text.split(' ').filter((w) => w !== '');
  let i = 0;
  for (; i < words.length && ASSIGNMENT.test(words[i] as string); i++) if (!SAFE.test(words[i] as string)) return false;
  const word = words[i];
  if (word === undefined || !SAFE.test(word) || SHELL_CHANGING.has(word)) return false;
  return i === 0 || !HARMLESS_BUILTINS.has(word);
}

function plainValue(v: ShellValue): boolean {
  if (v instanceof ShellCommand) return v.plain;
  if (Array.isArray(v)) return v.every((x) => plainValue(x as ShellValue));
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

/** Quotes one word for POSIX sh. Never returns an empty string. */
export function quote(value: string | number | boolean): string {
  const s = String(value);
  if (s === '') return "''";
  if (SAFE.test(s)) return s;
  if (s.includes('\0')) throw new TypeError('a shell word cannot contain a NUL byte');
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export type ShellValue = string | number | boolean | ShellCommand | readonly (string | number | ShellCommand)[];

function render(v: ShellValue): string {
  if (v instanceof ShellCommand) return v.text;
  if (Array.isArray(v)) return v.map((x) => render(x as ShellValue)).join(' ');
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return quote(v);
  throw new TypeError(`cannot put a ${typeof v} into a shell command`);
}

/** Tagged template: `sh\`cmd ${arg}\`` with every value quoted. */
export function sh(strings: TemplateStringsArray, ...values: ShellValue[]): ShellCommand {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += render(v) + (strings[i + 1] ?? '');
  });
  const plain = strings.every((s) => PLAIN_LITERAL.test(s)) && values.every(plainValue);
  return new ShellCommand(out, plain);
}

/** Builds a command from argv words, each quoted. */
export function argv(words: readonly (string | number)[]): ShellCommand {
  return new ShellCommand(words.map((w) => quote(w)).join(' '), true);
}

/** Joins commands with a shell operator. */
export function join(cmds: readonly ShellCommand[], op: '&&' | ';' | '||' | '|' = '&&'): ShellCommand {
  return new ShellCommand(cmds.map((c) => c.text).join(` ${op} `));
}

/** `sh -c 'cmd'` as one quoted word: for running a whole command under sudo or timeout. */
export function subshell(cmd: ShellCommand): ShellCommand {
  return sh`sh -c ${cmd.text}`;
}
