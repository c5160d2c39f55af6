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
 * function's own positional parameters. What a script must not do there, since it would
 * end or change the shell that runs every later command, is what `containedProblem`
 * looks for, a lint of our own scripts (not a sandbox for text from elsewhere): a
 * script it finds a problem in runs in a subshell as before, so a slip costs a fork, not
 * a broken shell. It refuses, outside quotes, `$(...)` and `${...}`:
 * - the command words that end or change the shell: exit, exec, cd, export, trap, umask,
 *   readonly, unset, eval, `.`, source, alias, unalias, ulimit, hash, wait, jobs, fg,
 *   bg, getopts, local, `command` other than `command -v`, and `set` other than `set --`
 *   and `set +m`;
 * - assignments that stay: of a name not starting with `ul_` or `__ul_` and not in front
 *   of a command word (in front of a special builtin they stay too), `read` and `for`
 *   into such a name, `${NAME=...}` and `${NAME:=...}`, an assignment in `$((...))`;
 * - functions named other than `ul_*` or `__ul_*`;
 * - here-documents and backquotes, which the lint does not follow.
 * What runs in `$(...)` runs in a subshell anyway and is not looked at. The script must
 * also parse, as every template of ours does whatever values it quotes: a syntax error
 * would end the shell it runs in.
 *
 * Kept by the shell after such a script: its `ul_*` variables and functions (each script
 * sets what it reads), and the programs it started in the background (a supervised
 * service's start), whose parent is the shell until it ends.
 */

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

/** Why `script` cannot run in the persistent shell itself, or undefined when it can. */
export function containedProblem(script: string): string | undefined {
  let tokens: Token[];
  try {
    tokens = tokenize(script);
  } catch (e) {
    return (e as Error).message;
  }
  let prefix: string[] = [];
  let cmd: string | undefined;
  let args: string[] = [];
  let inCasePatterns = false;
  const end = (): string | undefined => {
    if (cmd === undefined) {
      const stays = prefix.find((n) => !OWN.test(n));
      if (stays) return `an assignment to ${stays} stays in the shell`;
    } else {
      if (SPECIAL.has(cmd)) {
        const stays = prefix.find((n) => !OWN.test(n));
        if (stays) return `an assignment to ${stays} in front of ${cmd} stays in the shell`;
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
        continue;
      }
      if (t.text === '<' || t.text === '>') {
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
      if (t.text === ')' && inCasePatterns) inCasePatterns = false;
      continue;
    }
    const w = t.text;
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
      const arith = s[i + 2] === '(';
      const j = skipParens(s, i + 1);
      if (arith && /(^|[^=!<>])=($|[^=])/.test(s.slice(i + 3, j - 2))) throw new Error('an assignment in $((...))');
      word += s.slice(i, j);
      i = j;
      continue;
    }
    if (c === '$' && s[i + 1] === '{') {
      const j = skipBraces(s, i + 1);
      const m = /^\$\{([A-Za-z_][A-Za-z0-9_]*):?=/.exec(s.slice(i, j));
      if (m && !OWN.test(m[1] as string)) throw new Error(`\${${m[1]}=...} assigns`);
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

/** The index after the double-quoted string starting at `i`. */
function skipDouble(s: string, i: number): number {
  let j = i + 1;
  while (j < s.length) {
    const c = s[j];
    if (c === '\\') j += 2;
    else if (c === '"') return j + 1;
    else if (c === '$' && s[j + 1] === '(') j = skipParens(s, j + 1);
    else if (c === '$' && s[j + 1] === '{') j = skipBraces(s, j + 1);
    else if (c === '`') throw new Error('a backquote');
    else j++;
  }
  throw new Error('an unterminated quote');
}

/** The index after the parenthesis that closes the one at `i` (quotes followed). */
function skipParens(s: string, i: number): number {
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
    else if (c === '(') {
      depth++;
      j++;
    } else if (c === ')') {
      depth--;
      j++;
      if (depth === 0) return j;
    } else j++;
  }
  throw new Error('an unterminated $(');
}

/** The index after the brace that closes the `{` at `i` (quotes followed). */
function skipBraces(s: string, i: number): number {
  let j = i + 1;
  while (j < s.length) {
    const c = s[j];
    if (c === '\\') j += 2;
    else if (c === "'") {
      const k = s.indexOf("'", j + 1);
      if (k < 0) throw new Error('an unterminated quote');
      j = k + 1;
    } else if (c === '"') j = skipDouble(s, j);
    else if (c === '$' && s[j + 1] === '(') j = skipParens(s, j + 1);
    else if (c === '$' && s[j + 1] === '{') j = skipBraces(s, j + 1);
    else if (c === '}') return j + 1;
    else j++;
  }
  throw new Error('an unterminated ${');
}
