/**
 * Which of our own scripts the persistent remote shell may run itself, without a subshell.
 *
 * A subshell costs the host a fork of the shell (on the lab's VMs about as much CPU as
 * starting a program: 1.6–2 ms idle, more under load), and a module's observation or
 * action is usually a small compound script: a first run of the worker role ran about 40
 * of them per host. A script built with `contained()` is run instead as the body of a
 * function in the shell itself (shell.ts), its stdin /dev/null:
 *
 *     __ul_c() {
 *     SCRIPT
 *     }; __ul_c </dev/null; __ul_rc=$?; hash -r
 *
 * Inside a function `return N` ends the script with exit code N, and `set --` changes the
 * function's own positional parameters. Anywhere else (`sh -c` under a time limit, a
 * subshell, the controller's /bin/sh) it runs as the same function too (`scriptText`).
 *
 * What a script must not do in the shell itself, since it would end or change the shell
 * that runs every later command, is what `containedProblem` looks for: a lint of our own
 * scripts, not a sandbox for text from elsewhere. A script it finds a problem in runs in
 * a subshell, so a slip costs a fork, not a broken shell. It refuses:
 * - the command words that end or change the shell, quoted or not: exit, exec, cd,
 *   export, trap, umask, readonly, unset, eval, `.`, source, alias, unalias, ulimit, hash,
 *   wait, jobs, fg, bg, getopts, local, `command` other than `command -v`, and `set`
 *   other than `set --` and `set +m` (job control is off in this shell already);
 * - a redirection of a special builtin (`: > FILE`): where it fails, a non-interactive
 *   shell ends (`true > FILE` does not);
 * - assignments that stay: of a name not starting with `ul_` or `__ul_` and not in front
 *   of a command word (in front of a special builtin they stay too, and in front of a
 *   function call where bash is `sh`), `read` and `for`
 *   into such a name, `${NAME=...}` and `${NAME:=...}`, an assignment in `$((...))`;
 * - `${NAME?...}`, which ends the shell where NAME is unset;
 * - functions named other than `ul_*` or `__ul_*`;
 * - here-documents and backquotes, which the lint does not follow.
 * What runs in `$(...)` runs in a subshell anyway; only the expansions above are looked
 * for there. Two more things would end the shell and are the script's own care: a
 * syntax error (every template of ours parses whatever values it quotes), and arithmetic
 * on a value that is not a number (our scripts compute only on counters they set).
 *
 * Kept by the shell after such a script: its `ul_*` variables and functions (each script
 * sets what it reads), and the programs it started in the background (a supervised
 * service's start), whose parent is the shell until it ends.
 */

import type { ShellCommand } from './quote.js';

/** The command words that end the shell or change what it gives later commands. */
const FORBIDDEN = new Set([
  'exit', 'exec', 'cd', 'chdir', 'export', 'trap', 'umask', 'readonly', 'unset', 'eval', '.', 'source',
  'alias', 'unalias', 'ulimit', 'hash', 'command', 'builtin', 'wait', 'jobs', 'fg', 'bg', 'getopts', 'local',
]);
/** dash's special builtins: assignments in front of them stay in the shell. */
const SPECIAL = new Set([':', '.', 'break', 'continue', 'eval', 'exec', 'exit', 'export', 'readonly', 'return', 'set', 'shift', 'times', 'trap', 'unset']);
/** Words after which the next word is a command word again. */
const KEYWORDS = new Set(['if', 'then', 'else', 'elif', 'fi', 'do', 'done', 'while', 'until', '{', '}', '!', 'esac']);
const OWN = /^_?_?ul_[A-Za-z0-9_]*$/;
const ASSIGN = /^([A-Za-z_][A-Za-z0-9_]*)=/;

type Token = { kind: 'word'; text: string } | { kind: 'op'; text: string };

/**
 * The text to run for `cmd` anywhere but as a framed command of the persistent shell
 * (`sh -c`, a subshell, the controller's own /bin/sh): a contained script defined as the
 * function `__ul_c` and called, since it ends with `return`, which only a function may
 * use (dash would take it for `exit`, bash refuses it); any other command as it is.
 */
export function scriptText(cmd: ShellCommand): string {
  return cmd.contained ? `__ul_c() {\n${cmd.text}\n}; __ul_c` : cmd.text;
}

/** The lint's verdicts by script text: a run sends the same scripts to many hosts. */
const verdicts = new Map<string, boolean>();
const MAX_VERDICTS = 500;

/** Whether `cmd` runs in the persistent shell itself: contained, and the lint finds nothing. */
export function runsAsFunction(cmd: ShellCommand): boolean {
  if (!cmd.contained) return false;
  let ok = verdicts.get(cmd.text);
  if (ok === undefined) {
    if (verdicts.size >= MAX_VERDICTS) verdicts.clear();
    ok = containedProblem(cmd.text) === undefined;
    verdicts.set(cmd.text, ok);
  }
  return ok;
}

/** Why `script` cannot run in the persistent shell itself, or undefined when it can. */
export function containedProblem(script: string): string | undefined {
  // Anywhere but in single quotes, in double quotes and $(...) too (a false refusal costs
  // a fork, nothing more): ${NAME=...} and ${NAME:=...} assign; ${NAME?...} ends the
  // shell where NAME is unset.
  const expanded = withoutSingleQuoted(script);
  if (expanded === undefined) return 'an unterminated quote';
  for (const m of expanded.matchAll(/\$\{#?([A-Za-z_][A-Za-z0-9_]*|[0-9@*#?$!-])(:?)([=?])/g)) {
    if (m[3] === '?') return `\${${m[1]}${m[2]}?...} ends the shell where ${m[1]} is unset`;
    if (!OWN.test(m[1] as string)) return `\${${m[1]}${m[2]}=...} assigns`;
  }
  // an assignment in $((...)) (=, +=, <<=, ...), not a comparison (==, !=, <=, >=)
  for (let i = expanded.indexOf('$(('); i >= 0; i = expanded.indexOf('$((', i + 3)) {
    let inner: string;
    try {
      inner = expanded.slice(i + 3, skipNested(expanded, i + 1) - 2);
    } catch (e) {
      return (e as Error).message;
    }
    if (/(^|[^=!<>])=($|[^=])|<<=|>>=/.test(inner)) return 'an assignment in $((...))';
  }
  let tokens: Token[];
  try {
    tokens = tokenize(script);
  } catch (e) {
    return (e as Error).message;
  }
  let prefix: string[] = [];
  let cmd: string | undefined;
  let args: string[] = [];
  let redirected = false;
  let inCasePatterns = false;
  const end = (): string | undefined => {
    if (cmd === undefined) {
      const stays = prefix.find((n) => !OWN.test(n));
      if (stays) return `an assignment to ${stays} stays in the shell`;
    } else {
      if (OWN.test(cmd)) {
        // a function of ours: bash as sh keeps assignments in front of a function call
        const stays = prefix.find((n) => !OWN.test(n));
        if (stays) return `an assignment to ${stays} in front of the function ${cmd} stays in the shell (bash)`;
      }
      if (SPECIAL.has(cmd)) {
        const stays = prefix.find((n) => !OWN.test(n));
        if (stays) return `an assignment to ${stays} in front of ${cmd} stays in the shell`;
        // a redirection that fails ends the shell there (`true > FILE` does not)
        if (redirected) return `a redirection of ${cmd}`;
      }
      if (cmd === 'set' && !(args[0] === '--' || (args.length === 1 && args[0] === '+m'))) return `set ${args.join(' ')} changes the shell`;
      if (cmd === 'read') {
        const bad = args.filter((a) => !a.startsWith('-')).find((a) => !OWN.test(a));
        if (bad) return `read into ${bad}`;
      }
      if (cmd === 'for' && args[0] !== undefined && !OWN.test(args[0])) return `a for loop over ${args[0]}`;
    }
    return undefined;
  };
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as Token;
    if (t.kind === 'op') {
      if (t.text === '(' && cmd !== undefined && tokens[i + 1]?.text === ')') {
        // NAME() : a function definition
        if (!OWN.test(cmd)) return `a function named ${cmd}`;
        i++;
        cmd = undefined;
        prefix = [];
        args = [];
        redirected = false;
        continue;
      }
      if (t.text === '<' || t.text === '>') {
        redirected = true;
        i++; // the redirection's target
        continue;
      }
      if (t.text === '<<') return 'a here-document';
      const problem = end();
      if (problem) return problem;
      if (t.text === ';;') inCasePatterns = true;
      cmd = undefined;
      prefix = [];
      args = [];
      redirected = false;
      if (t.text === ')' && inCasePatterns) inCasePatterns = false;
      continue;
    }
    // quotes and backslashes do not change what a command word runs (`'cd'`, `\\exit`)
    const w = t.text.replace(/['"\\]/g, '');
    if (inCasePatterns) {
      if (w === 'esac') inCasePatterns = false;
      continue;
    }
    if (cmd === undefined) {
      const a = ASSIGN.exec(w);
      if (a) {
        prefix.push(a[1] as string);
        continue;
      }
      if (KEYWORDS.has(w) && prefix.length === 0) continue;
      if (w === 'case') {
        // case WORD in PATTERN) ... ;; esac: the patterns are not commands
        i += 2;
        inCasePatterns = true;
        continue;
      }
      if (FORBIDDEN.has(w) && !(w === 'command' && tokens[i + 1]?.text === '-v')) return `${w} ends or changes the shell`;
      cmd = w;
      continue;
    }
    args.push(w);
  }
  return end();
}

/**
 * Splits a script into words and operators the way the lint needs: quotes, `$(...)`,
 * `${...}` and `$((...))` stay inside their word (the last two checked for assignments).
 * Throws on what it does not follow.
 */
function tokenize(s: string): Token[] {
  const out: Token[] = [];
  let word = '';
  let i = 0;
  const flush = () => {
    if (word !== '') out.push({ kind: 'word', text: word });
    word = '';
  };
  while (i < s.length) {
    const c = s[i] as string;
    if (c === '#' && word === '') {
      while (i < s.length && s[i] !== '\n') i++;
      continue;
    }
    if (c === ' ' || c === '\t') {
      flush();
      i++;
      continue;
    }
    if (c === '\\') {
      if (s[i + 1] === '\n') {
        i += 2;
        continue;
      }
      word += s.slice(i, i + 2);
      i += 2;
      continue;
    }
    if (c === "'") {
      const j = s.indexOf("'", i + 1);
      if (j < 0) throw new Error('an unterminated quote');
      word += s.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (c === '"') {
      const j = skipDouble(s, i);
      word += s.slice(i, j);
      i = j;
      continue;
    }
    if (c === '`') throw new Error('a backquote');
    if (c === '$' && s[i + 1] === '(') {
      const j = skipNested(s, i + 1);
      word += s.slice(i, j);
      i = j;
      continue;
    }
    if (c === '$' && s[i + 1] === '{') {
      const j = skipNested(s, i + 1);
      word += s.slice(i, j);
      i = j;
      continue;
    }
    if (c === '\n' || c === ';' || c === '&' || c === '|' || c === '(' || c === ')') {
      flush();
      const two = s.slice(i, i + 2);
      if (two === ';;' || two === '&&' || two === '||') {
        out.push({ kind: 'op', text: two });
        i += 2;
      } else {
        out.push({ kind: 'op', text: c });
        i++;
      }
      continue;
    }
    if (c === '<' || c === '>') {
      // a redirection: N>, >&N, >>, <&, <<
      const fd = /^\d+$/.test(word) ? word : '';
      if (fd) word = '';
      flush();
      if (s.slice(i, i + 2) === '<<') {
        out.push({ kind: 'op', text: '<<' });
        i += 2;
        continue;
      }
      let j = i + 1;
      if (s[j] === '>' || s[j] === '&' || s[j] === '|') j++;
      if (s[i + 1] === '&' || s[j - 1] === '&') {
        // >&2, <&0, 2>&1: the target is the fd that follows
        while (j < s.length && /[0-9-]/.test(s[j] as string)) j++;
        i = j;
        continue;
      }
      out.push({ kind: 'op', text: c });
      i = j;
      while (s[i] === ' ') i++;
      continue;
    }
    word += c;
    i++;
  }
  flush();
  return out;
}

/**
 * `s` with what single quotes hold (outside double quotes) blanked out, the quotes kept:
 * the text the shell expands. Undefined for an unterminated single quote.
 */
function withoutSingleQuoted(s: string): string | undefined {
  let out = '';
  let dq = false;
  // $(...) and ${...} quote afresh inside double quotes: for each one open, the
  // double-quote state around it, its brackets and how many are open
  const outer: { dq: boolean; open: string; close: string; depth: number }[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    const top = outer[outer.length - 1];
    if (c === '\\') {
      out += s.slice(i, i + 2);
      i++;
    } else if (c === '$' && (s[i + 1] === '(' || s[i + 1] === '{')) {
      const open = s[i + 1] as string;
      outer.push({ dq, open, close: open === '(' ? ')' : '}', depth: 1 });
      dq = false;
      out += c + open;
      i++;
    } else if (top && !dq && (c === top.open || c === top.close)) {
      top.depth += c === top.open ? 1 : -1;
      if (top.depth === 0) dq = (outer.pop() as { dq: boolean }).dq;
      out += c;
    } else if (c === '#' && !dq && (i === 0 || /[\s;&|()]/.test(s[i - 1] as string))) {
      // a comment, to the end of its line
      const j = s.indexOf('\n', i);
      i = (j < 0 ? s.length : j) - 1;
    } else if (c === '"') {
      dq = !dq;
      out += c;
    } else if (c === "'" && !dq) {
      const j = s.indexOf("'", i + 1);
      if (j < 0) return undefined;
      out += `'${' '.repeat(j - i - 1)}'`;
      i = j;
    } else out += c;
  }
  return out;
}

/** The index after the double-quoted string starting at `i`. */
function skipDouble(s: string, i: number): number {
  let j = i + 1;
  while (j < s.length) {
    const c = s[j];
    if (c === '\\') j += 2;
    else if (c === '"') return j + 1;
    else if (c === '$' && s[j + 1] === '(') j = skipNested(s, j + 1);
    else if (c === '$' && s[j + 1] === '{') j = skipNested(s, j + 1);
    else if (c === '`') throw new Error('a backquote');
    else j++;
  }
  throw new Error('an unterminated quote');
}

/**
 * The index after the bracket that closes the `(` or `{` at `i` (of `$(`, `$((` or `${`):
 * quotes followed, a `$(` or `${` inside skipped whole.
 */
function skipNested(s: string, i: number): number {
  const open = s[i] as string;
  const close = open === '(' ? ')' : '}';
  let depth = 0;
  let j = i;
  while (j < s.length) {
    const c = s[j];
    if (c === '\\') j += 2;
    else if (c === "'") {
      const k = s.indexOf("'", j + 1);
      if (k < 0) throw new Error('an unterminated quote');
      j = k + 1;
    } else if (c === '"') j = skipDouble(s, j);
    else if (c === '$' && (s[j + 1] === '(' || s[j + 1] === '{')) j = skipNested(s, j + 1);
    else if (c === open || c === close) {
      depth += c === open ? 1 : -1;
      j++;
      if (depth === 0) return j;
    } else j++;
  }
  throw new Error(`an unterminated $${open}`);
}
