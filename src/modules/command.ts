import { argv, join, sh, type ShellCommand } from '../transport/quote.js';
import type { Decision, ExecResult, ModuleDef, ModuleSchema, ObserveContext } from './types.js';

export interface CommandParams extends Record<string, unknown> {
  cmd?: string;
  argv?: string[];
  creates?: string;
  removes?: string;
  chdir?: string;
  stdin?: string;
  executable?: string;
}

interface Observed {
  createsExists?: boolean;
  removesExists?: boolean;
}

/** Splits a command line into words the way POSIX shlex does (quotes, backslashes). */
export function shlexSplit(text: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unclosed ' in command: ${text}`);
      cur += text.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (ch === '"') {
      i++;
      for (; i < text.length && text[i] !== '"'; i++) {
        if (text[i] === '\\' && i + 1 < text.length && '"\\$`\n'.includes(text[i + 1]!)) i++;
        cur += text[i];
      }
      if (i >= text.length) throw new Error(`unclosed " in command: ${text}`);
      inWord = true;
    } else if (ch === '\\' && i + 1 < text.length) {
      cur += text[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

const commonParams: ModuleSchema['params'] = {
  cmd: { type: 'str', description: 'The command line (the free-form text of the task).' },
  creates: { type: 'path', description: 'A path: when it exists, the command is not run.' },
  removes: { type: 'path', description: 'A path: when it does not exist, the command is not run.' },
  chdir: { type: 'path', description: 'Change into this directory first.' },
  stdin: { type: 'str', description: 'Text given to the command on its standard input (never in argv).' },
};

async function observe(ctx: ObserveContext, p: CommandParams): Promise<Observed> {
  const checks: ShellCommand[] = [];
  if (p.creates !== undefined) checks.push(sh`test -e ${p.creates}`);
  if (p.removes !== undefined) checks.push(sh`test -e ${p.removes}`);
  if (checks.length === 0) return {};
  const res = await ctx.runBatch(checks);
  const out: Observed = {};
  let i = 0;
  if (p.creates !== undefined) out.createsExists = res[i++]!.exitCode === 0;
  if (p.removes !== undefined) out.removesExists = res[i++]!.exitCode === 0;
  return out;
}

function finish(display: string) {
  return (results: ExecResult[]) => {
    const r = results[results.length - 1];
    if (!r) return {};
    const stdout = r.stdout.replace(/\n$/, '');
    const stderr = r.stderr.replace(/\n$/, '');
    return {
      cmd: display,
      rc: r.exitCode,
      stdout,
      stderr,
      stdout_lines: stdout === '' ? [] : stdout.split('\n'),
      stderr_lines: stderr === '' ? [] : stderr.split('\n'),
      delta_ms: r.durationMs,
    };
  };
}

function decideRun(p: CommandParams, o: Observed, cmd: ShellCommand, display: string): Decision {
  if (o.createsExists) return { changed: false, actions: [], msg: `skipped, since ${p.creates} exists`, result: { rc: 0, stdout: '', stderr: '', stdout_lines: [], stderr_lines: [] } };
  if (o.removesExists === false) return { changed: false, actions: [], msg: `skipped, since ${p.removes} does not exist`, result: { rc: 0, stdout: '', stderr: '', stdout_lines: [], stderr_lines: [] } };
  const full = p.chdir !== undefined ? join([sh`cd ${p.chdir}`, cmd]) : cmd;
  return {
    changed: true,
    unpredictable: p.creates === undefined && p.removes === undefined,
    actions: [{ kind: 'run', cmd: full, describe: display, ...(p.stdin !== undefined ? { stdin: p.stdin } : {}) }],
    msg: `run: ${display}`,
    finish: finish(display),
  };
}

/** Runs a program with arguments, no shell: pipes, redirections and variables are not interpreted. */
export const command: ModuleDef<CommandParams, Observed> = {
  name: 'command',
  // it acts on every run (unless creates/removes say otherwise): what follows is observed after it
  pipelineBarrier: true,
  description: 'Run a program with its arguments, without a shell. Changed whenever it runs (use `creates`, `removes` or `changed_when`).',
  schema: {
    freeForm: 'cmd',
    params: {
      ...commonParams,
      argv: { type: 'list', elements: 'str', description: 'The program and its arguments as a list (no splitting).' },
    },
    requiredOneOf: [['cmd', 'argv']],
    mutuallyExclusive: [['cmd', 'argv']],
  },
  observe,
  decide(p, o) {
    const words = p.argv ?? shlexSplit(p.cmd ?? '');
    if (words.length === 0) return { changed: false, actions: [], failed: 'no command given' };
    return decideRun(p, o, argv(words), words.join(' '));
  },
};

/** Runs a command line through `sh` (or `executable`). */
export const shell: ModuleDef<CommandParams, Observed> = {
  name: 'shell',
  // it acts on every run (unless creates/removes say otherwise): what follows is observed after it
  pipelineBarrier: true,
  description: 'Run a command line through a POSIX shell (`/bin/sh`, or `executable`). Changed whenever it runs (use `creates`, `removes` or `changed_when`).',
  schema: {
    freeForm: 'cmd',
    params: {
      ...commonParams,
      cmd: { type: 'str', required: true, description: 'The shell command line (the free-form text of the task).' },
      executable: { type: 'path', description: 'The shell to use instead of /bin/sh.' },
    },
  },
  observe,
  decide(p, o) {
    const text = p.cmd ?? '';
    const cmd = sh`${p.executable ?? '/bin/sh'} -c ${text}`;
    return decideRun(p, o, cmd, text);
  },
};
