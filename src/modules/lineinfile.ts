/**
 * The `lineinfile` module: Ansible's algorithm (ansible/modules/lineinfile.py), as a pure
 * function over the file's text (`editLines`), and the whole new content written as one
 * upload (temporary file + rename: atomic), keeping the file's mode and owner.
 *
 * Like Ansible, the file is handled as bytes: lines end at `\n` only and keep it while
 * they are matched (Python's `$` matches before that final newline). To match byte for
 * byte, the text, the line and the patterns are given to editLines as one character per
 * byte (latin1), so non-UTF-8 files are edited exactly. Patterns are Python `re` syntax
 * (translated by src/expr/regex.ts); backrefs use Python's template syntax
 * (`\1`, `\g<1>`, `\g<name>`).
 *
 * One round trip observes the file (stat + content), its directory, the effective uid and,
 * with `backup`, the host's clock: three commands (the stats, uid and clock in one).
 */
import { fileContentCommand, parseFileContent, type FileContent } from '../facts/content.js';
import { parseRealpath, parseStats, realpathCommand, statsCommand, type StatsRequest } from '../facts/stat.js';
import { compileRegex, pyReSub } from '../expr/regex.js';
import type { ShellCommand } from '../transport/quote.js';
import { planFile, sha256Of, type DestFacts } from './copy.js';
import { attrParams, dirnameOf } from './file.js';
import type { ExecResult, ModuleDef } from './types.js';

export interface LineParams {
  state?: 'present' | 'absent';
  line?: string;
  regexp?: string;
  search_string?: string;
  insertafter?: string;
  insertbefore?: string;
  backrefs?: boolean;
  firstmatch?: boolean;
}

export interface LineEdit {
  content: string;
  changed: boolean;
  /** Ansible's message: 'line added', 'line replaced', 'N line(s) removed', 'file not present' or ''. */
  msg: string;
  /** state=absent: how many lines were removed. */
  found?: number;
}

/** Python's `readlines()` on bytes: lines split after each `\n`, which they keep. */
export function splitLines(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (;;) {
    const i = text.indexOf('\n', start);
    if (i < 0) break;
    out.push(text.slice(start, i + 1));
    start = i + 1;
  }
  if (start < text.length) out.push(text.slice(start));
  return out;
}

const rstripEol = (s: string) => s.replace(/[\r\n]+$/, '');

function search(pattern: string, text: string): RegExpExecArray | null {
  const re = compileRegex(pattern, {}, 'search');
  re.lastIndex = 0;
  return re.exec(text);
}

/** Python's `match.expand(template)`, through re.sub on the matched line (same first match). */
function expand(pattern: string, template: string, text: string, m: RegExpExecArray): string {
  const replaced = pyReSub(pattern, template, text, {}, 1);
  const tail = text.length - (m.index + m[0].length);
  return replaced.slice(m.index, replaced.length - tail);
}

/**
 * Ansible's lineinfile on a file's text (null: the file does not exist). Pure. Throws
 * ExprEvalError for a bad regular expression or backreference.
 */
export function editLines(content: string | null, p: LineParams): LineEdit {
  if ((p.state ?? 'present') === 'absent') return absent(content, p);
  return present(content ?? '', p);
}

function present(content: string, p: LineParams): LineEdit {
  const lines = splitLines(content);
  const line = p.line ?? '';
  let insAft = p.insertafter;
  const insBef = p.insertbefore;
  if (insAft === undefined && insBef === undefined) insAft = 'EOF';
  let insPattern: string | undefined;
  if (insAft !== undefined && insAft !== 'BOF' && insAft !== 'EOF') insPattern = insAft;
  else if (insBef !== undefined && insBef !== 'BOF') insPattern = insBef;

  // index0: the line matched by regexp/search_string (or equal to line); index1: where to insert
  let index0 = -1;
  let index1 = -1;
  let match: RegExpExecArray | true | null = null;

  // 1. the last line matching regexp (the first with firstmatch)
  if (p.regexp !== undefined) {
    for (let i = 0; i < lines.length; i++) {
      const m = search(p.regexp, lines[i]!);
      if (m) {
        index0 = i;
        match = m;
        if (p.firstmatch) break;
      }
    }
  }
  // 2. the same for search_string
  if (p.search_string !== undefined) {
    for (let i = 0; i < lines.length; i++) {
      if (lines[i]!.includes(p.search_string)) {
        index0 = i;
        match = true;
        if (p.firstmatch) break;
      }
    }
  }
  // 3. no match: the line itself, else where insertafter/insertbefore match
  if (match === null) {
    for (let i = 0; i < lines.length; i++) {
      const cur = lines[i]!;
      if (line === rstripEol(cur)) {
        index0 = i;
      } else if (insPattern !== undefined && search(insPattern, cur)) {
        if (insAft) {
          index1 = i + 1;
          if (p.firstmatch) break;
        }
        if (insBef) {
          index1 = i;
          if (p.firstmatch) break;
        }
      }
    }
  }

  let changed = false;
  let msg = '';
  const added = () => {
    changed = true;
    msg = 'line added';
  };
  if (index0 !== -1) {
    // (Ansible's branch for "no regexp, no search_string and no exact match" is not
    // reachable: index0 is only ever set by one of those.)
    let newLine = p.backrefs && match !== null && match !== true ? expand(p.regexp!, line, lines[index0]!, match) : line;
    if (!newLine.endsWith('\n')) newLine += '\n';
    if (lines[index0] !== newLine) {
      lines[index0] = newLine;
      changed = true;
      msg = 'line replaced';
    }
  } else if (p.backrefs) {
    // no match: nothing safe to write without the groups
  } else if (insBef === 'BOF' || insAft === 'BOF') {
    lines.unshift(line + '\n');
    added();
  } else if (insAft === 'EOF' || index1 === -1) {
    const last = lines[lines.length - 1];
    if (last !== undefined && !/[\n\r]$/.test(last)) lines.push('\n');
    lines.push(line + '\n');
    added();
  } else if (insAft && index1 !== -1) {
    if (lines.length === index1) {
      if (rstripEol(lines[index1 - 1]!) !== line) {
        lines.push(line + '\n');
        added();
      }
    } else if (line !== rstripEol(lines[index1]!)) {
      lines.splice(index1, 0, line + '\n');
      added();
    }
  } else {
    lines.splice(index1, 0, line + '\n');
    added();
  }
  return { content: lines.join(''), changed, msg };
}

function absent(content: string | null, p: LineParams): LineEdit {
  if (content === null) return { content: '', changed: false, msg: 'file not present' };
  const kept: string[] = [];
  let found = 0;
  for (const cur of splitLines(content)) {
    let hit: boolean;
    if (p.regexp !== undefined) hit = search(p.regexp, cur) !== null;
    else if (p.search_string !== undefined) hit = cur.includes(p.search_string);
    else hit = (p.line ?? '') === rstripEol(cur);
    if (hit) found++;
    else kept.push(cur);
  }
  return { content: kept.join(''), changed: found > 0, msg: found > 0 ? `${found} line(s) removed` : '', found };
}

export interface LineinfileParams extends Record<string, unknown> {
  path: string;
  state: 'present' | 'absent';
  line?: string;
  regexp?: string;
  search_string?: string;
  insertafter?: string;
  insertbefore?: string;
  backrefs: boolean;
  firstmatch: boolean;
  create: boolean;
  backup: boolean;
  validate?: string;
  mode?: number;
  owner?: string;
  group?: string;
}

export interface LineinfileObserved {
  file: FileContent;
  /** Where the file is written: path, or what it resolves to when path is a symlink (as Ansible). */
  dest: string;
  /** Of dest (a symlink's target). */
  facts: DestFacts;
  /** path is a symlink that cannot be resolved to a file. */
  dangling?: boolean;
}

function statsRequest(p: Pick<LineinfileParams, 'path' | 'backup'>): StatsRequest {
  return { paths: [{ path: p.path }], dirs: [dirnameOf(p.path)], uid: true, stamp: p.backup };
}

/** The read-only commands of lineinfile, run in one round trip. */
export function lineinfileCommands(p: Pick<LineinfileParams, 'path' | 'backup'>): ShellCommand[] {
  return [statsCommand(statsRequest(p)), fileContentCommand(p.path), realpathCommand(p.path)];
}

/** What lineinfile observed, from the results of lineinfileCommands (pure). */
export function parseLineinfileObserved(p: Pick<LineinfileParams, 'path' | 'backup'>, res: ExecResult[]): LineinfileObserved {
  const seen = parseStats(statsRequest(p), res[0]!);
  let stat = seen.stats[0] ?? null;
  const parentDir = seen.dirs[0] ?? null;
  const file = parseFileContent(res[1]!);
  let dest = p.path;
  let dangling = false;
  if (stat?.type === 'link') {
    // Ansible writes to the file the link points to, keeping the link.
    const real = parseRealpath(res[2]!);
    if (real === null || !stat.target) dangling = true;
    else {
      dest = real;
      stat = { ...stat.target };
    }
  }
  const facts: DestFacts = { stat, parentDir, uid: seen.uid! };
  if (seen.stamp !== undefined) facts.stamp = seen.stamp;
  if (file.kind === 'file' && stat) {
    facts.stat = { ...stat, sha256: sha256Of(file.content) };
    facts.before = file.content;
  }
  return { file, dest, facts, ...(dangling ? { dangling } : {}) };
}

/** Text as one character per byte, as Python's bytes are. */
const bin = (s: string) => Buffer.from(s, 'utf8').toString('latin1');
const binOpt = (s: string | undefined) => (s === undefined ? undefined : bin(s));

export const lineinfile: ModuleDef<LineinfileParams, LineinfileObserved> = {
  name: 'lineinfile',
  description:
    'Ensure a line is in a file (replacing the last line matching regexp, or inserted after/before a matching line) or is not (every match removed): Ansible\'s algorithm; the file is rewritten atomically, keeping its mode and owner.',
  schema: {
    params: {
      path: { type: 'path', required: true, aliases: ['dest', 'destfile', 'name'], description: 'The file to edit.' },
      state: { type: 'str', default: 'present', choices: ['present', 'absent'], description: 'present: the line is there; absent: every line matching regexp, search_string or line is removed.' },
      line: { type: 'str', aliases: ['value'], description: 'The line (without newline). Required with state=present; with backrefs it may use \\1, \\g<name> of regexp.' },
      regexp: {
        type: 'str',
        aliases: ['regex'],
        description: 'A Python regular expression searched in each line: with state=present the last matching line is replaced (the first with firstmatch); with state=absent every matching line is removed.',
      },
      search_string: { type: 'str', description: 'A literal string searched in each line, instead of regexp.' },
      insertafter: {
        type: 'str',
        description: "Where to insert when no line matches: after the last line matching this regular expression (the first with firstmatch), or 'EOF' (the default) or 'BOF'. At the end when nothing matches.",
      },
      insertbefore: { type: 'str', description: "Where to insert when no line matches: before the last line matching this regular expression (the first with firstmatch), or 'BOF'." },
      backrefs: { type: 'bool', default: false, description: 'Expand \\1 and \\g<name> of regexp in line; when regexp matches nothing the file is left as it is.' },
      firstmatch: { type: 'bool', default: false, description: 'Use the first line matching regexp or insertafter/insertbefore instead of the last.' },
      create: { type: 'bool', default: false, description: 'Create the file (and its directory) when missing; else a missing file is an error.' },
      backup: { type: 'bool', default: false, description: 'Keep the file as PATH.YYYY-MM-DD@HH:MM:SS~ (host time) before changing it.' },
      validate: { type: 'str', description: "A command to check the new file before it replaces the old one, with %s for the file's path. Run without a shell." },
      ...attrParams,
    },
    mutuallyExclusive: [
      ['insertbefore', 'insertafter'],
      ['regexp', 'search_string'],
      ['backrefs', 'search_string'],
    ],
  },
  async observe(ctx, p) {
    return parseLineinfileObserved(p, await ctx.runBatch(lineinfileCommands(p)));
  },
  decide(p, o, env) {
    const path = p.path;
    const fail = (msg: string) => ({ changed: false, actions: [], failed: msg, result: { path } });
    if (o.dangling) return fail(`${path} is a symlink to a missing file (${o.facts.stat?.linkTarget ?? '?'})`);
    if (o.file.kind === 'notfile') return fail(o.facts.stat?.type === 'directory' ? `Path ${path} is a directory !` : `${path} is not a regular file`);
    const exists = o.file.kind === 'file';
    if (p.state === 'present') {
      if (p.backrefs && p.regexp === undefined) return fail('regexp is required with backrefs=true');
      if (p.line === undefined) return fail('line is required with state=present');
      if (!exists && !p.create) return fail(`Destination ${path} does not exist !`);
    } else {
      if (p.line === undefined && p.regexp === undefined && p.search_string === undefined) return fail('one of line, search_string, or regexp is required with state=absent');
      if (!exists) return { changed: false, actions: [], msg: 'file not present', result: { path, found: 0 } };
    }
    const before = o.file.kind === 'file' ? o.file.content.toString('latin1') : null;
    let edit: LineEdit;
    try {
      edit = editLines(before, {
        state: p.state,
        line: binOpt(p.line),
        regexp: binOpt(p.regexp),
        search_string: binOpt(p.search_string),
        insertafter: binOpt(p.insertafter),
        insertbefore: binOpt(p.insertbefore),
        backrefs: p.backrefs,
        firstmatch: p.firstmatch,
      });
    } catch (e) {
      return fail(`lineinfile: ${(e as Error).message}`);
    }
    if (!exists && !edit.changed) return { changed: false, actions: [], msg: edit.msg, result: { path } };
    const content = edit.changed ? Buffer.from(edit.content, 'latin1') : (o.file.kind === 'file' ? o.file.content : Buffer.alloc(0));
    const plan = planFile({
      module: 'lineinfile',
      checkMode: env.checkMode,
      dest: o.dest,
      content,
      facts: o.facts,
      backup: p.backup,
      createParent: true,
      ...(p.validate !== undefined ? { validate: p.validate } : {}),
      ...(p.mode !== undefined ? { mode: p.mode } : {}),
      ...(p.owner !== undefined ? { owner: p.owner } : {}),
      ...(p.group !== undefined ? { group: p.group } : {}),
    });
    const d = plan.decision;
    if (d.failed !== undefined) return d;
    let msg = edit.msg;
    if (plan.attrsChanged) msg = `${msg}${msg ? ' and ' : ''}ownership, perms or SE linux context changed`;
    const { backup_file, ...rest } = d.result ?? {};
    return {
      ...d,
      msg: d.changed ? msg : d.msg ?? '',
      result: { ...rest, path, ...(backup_file !== undefined ? { backup: backup_file } : {}), ...(edit.found !== undefined ? { found: edit.found } : {}) },
    };
  },
};
