/**
 * The `copy` module (Ansible's `copy`): a file's content from `content` or a controller
 * file (`src`), plus its mode, owner and group. Also home of `planFile`, the plan every
 * module writing a whole file shares (copy, template, lineinfile).
 *
 * One command observes the destination (`stat` + `sha256sum`), whether its directory is
 * one, the effective uid and, with `backup`, the host's clock (statsCommand). The content is compared by sha256,
 * so it is read back only to show a diff: when it differs and is small (256 KiB). The
 * content travels as an upload (a temporary file next to the destination, renamed over
 * it), never in a command line. A metadata-only difference becomes chmod/chown, without
 * an upload.
 *
 * `validate`: the content is uploaded to `DEST.underlay-validate-<sha256 prefix>`, the
 * command is run on it (`%s` is that path; no shell, as in Ansible), and only then is it
 * renamed over the destination; a failing check leaves the destination untouched and
 * removes the temporary file.
 */
import { createHash } from 'node:crypto';
import { CommandError } from '../errors.js';
import { followed, modeText, parseStats, statsCommand, type Stat, type StatsRequest } from '../facts/stat.js';
import { argv, sh, type ShellCommand } from '../transport/quote.js';
import { shlexSplit } from './command.js';
import { attrParams, attrText, basenameOf, dirnameOf, planAttrs, type FileAttrs } from './file.js';
import type { Action, Decision, Diff, ExecResult, ModuleDef, ObserveContext, ParamSpec } from './types.js';

/** Largest file whose text is shown in a diff (and read back for it). */
export const DIFF_MAX_BYTES = 256 * 1024;

export function sha256Of(content: Buffer | string): string {
  return createHash('sha256').update(content).digest('hex');
}

/** What is at a destination, observed in one round trip (plus the content, read back for a diff). */
export interface DestFacts {
  /** The destination (lstat; a symlink's target described in `target`), with the sha256 of its content. */
  stat: Stat | null;
  /** Its directory, following symlinks: a directory (true), something else (false), missing (null). */
  parentDir: boolean | null;
  /** The host's clock as a backup suffix, when a backup was asked for. */
  stamp?: string;
  /** The current content, when it was read (for the diff). */
  before?: Buffer;
  /** The effective uid of the commands: as root, a replaced file is given its owner and group explicitly. */
  uid?: number;
}

async function readBeforeForDiff(ctx: ObserveContext, dest: string, content: Buffer, facts: DestFacts): Promise<void> {
  const cur = followed(facts.stat);
  const sha = facts.stat?.sha256;
  if (cur && cur.type === 'file' && sha !== undefined && sha !== sha256Of(content) && cur.size <= DIFF_MAX_BYTES) {
    try {
      const b = await ctx.readFile(dest, { maxBytes: DIFF_MAX_BYTES });
      if (b) facts.before = b;
    } catch (e) {
      // Only for the diff: a file that grew meanwhile is shown as a note instead.
      if (!(e instanceof CommandError)) throw e;
    }
  }
}

/** Text for a diff, or undefined for binary (NUL bytes, invalid UTF-8) or large content. */
export function diffText(b: Buffer): string | undefined {
  if (b.length > DIFF_MAX_BYTES || b.includes(0)) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(b);
  } catch {
    return undefined;
  }
}

/** The one-line stand-in of content a diff cannot show. */
function noteOf(size: number, sha: string | undefined): string {
  return `(binary or larger than ${DIFF_MAX_BYTES / 1024} KiB: ${size} bytes${sha !== undefined ? `, sha256 ${sha}` : ''})\n`;
}

export interface PlanFileInput extends FileAttrs {
  /** The module name, for messages. */
  module: string;
  dest: string;
  /** The wanted content. */
  content: Buffer;
  facts: DestFacts;
  /** Keep a copy `DEST.<YYYY-MM-DD@HH:MM:SS>~` before replacing (needs facts.stamp). */
  backup?: boolean;
  /** false: an existing destination keeps its content (attributes are still managed when the content is the same). Default true. */
  force?: boolean;
  /** A command with `%s` to check the new file before it replaces the destination. */
  validate?: string;
  /** Create the destination's directory when missing (else: fail). */
  createParent?: boolean;
  /**
   * Check mode: a missing destination directory is not a failure, since an earlier task
   * of the same run (not applied in check mode) may be the one that creates it.
   */
  checkMode?: boolean;
}

export interface FilePlan {
  decision: Decision;
  contentChanged: boolean;
  attrsChanged: boolean;
}

function failed(msg: string, dest: string): FilePlan {
  return { decision: { changed: false, actions: [], failed: msg, result: { dest } }, contentChanged: false, attrsChanged: false };
}

/**
 * The plan for a whole file: upload when the content differs (with backup and validate),
 * else chmod/chown where the attributes differ, else nothing. Pure.
 */
export function planFile(x: PlanFileInput): FilePlan {
  const { dest, content, facts } = x;
  const stat = facts.stat;
  const cur = followed(stat);
  if (stat && cur && cur.type !== 'file') {
    return failed(cur.type === 'directory' ? `${x.module}: ${dest} is a directory` : `${x.module}: ${dest} is a ${cur.type}, not a regular file`, dest);
  }
  if (cur && stat!.checksumError) return failed(`${x.module}: cannot read ${dest} to compare its content (permission denied?)`, dest);
  const want: FileAttrs = {
    ...(x.mode !== undefined ? { mode: x.mode } : {}),
    ...(x.owner !== undefined ? { owner: x.owner } : {}),
    ...(x.group !== undefined ? { group: x.group } : {}),
  };
  const sha = sha256Of(content);
  const contentDiffers = !cur || stat!.sha256 !== sha;
  const result: Record<string, unknown> = { dest, state: 'file' };

  if (contentDiffers && cur && x.force === false) {
    const a = planAttrs(dest, cur, {});
    return {
      decision: {
        changed: false,
        actions: [],
        msg: `${dest} exists and force is false: its content is kept`,
        result: { ...result, checksum_sha256: stat!.sha256, size: cur.size, ...finalFields(a.final) },
      },
      contentChanged: false,
      attrsChanged: false,
    };
  }

  if (!contentDiffers) {
    const a = planAttrs(dest, cur, want);
    const r = { ...result, checksum_sha256: sha, size: content.length, ...finalFields(a.final) };
    if (!a.changed) return { decision: { changed: false, actions: [], msg: `${dest} is up to date`, result: r }, contentChanged: false, attrsChanged: false };
    return {
      decision: {
        changed: true,
        actions: a.actions,
        diff: [{ path: dest, before: attrText({ path: dest, ...a.before }), after: attrText({ path: dest, ...a.after }) }],
        msg: `${dest}: ${Object.keys(a.after).join(', ')} changed`,
        result: r,
      },
      contentChanged: false,
      attrsChanged: true,
    };
  }

  const actions: Action[] = [];
  const dir = dirnameOf(dest);
  if (!stat && facts.parentDir !== true) {
    if (facts.parentDir === false) return failed(`${x.module}: ${dir} is not a directory`, dest);
    if (!x.createParent && !x.checkMode) return failed(`${x.module}: destination directory ${dir} does not exist`, dest);
    actions.push({ kind: 'run', cmd: sh`mkdir -p -- ${dir}`, describe: `mkdir -p ${dir}` });
  }
  if (x.backup && cur) {
    if (facts.stamp === undefined) return failed(`${x.module}: internal: backup without the host's time`, dest);
    const backupFile = `${dest}.${facts.stamp}~`;
    actions.push({ kind: 'run', cmd: sh`cp -p -- ${dest} ${backupFile}`, describe: `cp -p ${dest} ${backupFile}` });
    result['backup_file'] = backupFile;
  }
  // A replaced file keeps its mode, owner and group unless they are given. As root, they
  // are given explicitly; otherwise the upload keeps what it may.
  const mode = x.mode ?? cur?.mode;
  const asRoot = cur !== null && facts.uid === 0;
  const owner = x.owner ?? (asRoot ? idName(cur.owner, cur.uid) : undefined);
  const group = x.group ?? (asRoot ? idName(cur.group, cur.gid) : undefined);
  const ownership = { ...(owner !== undefined ? { owner } : {}), ...(group !== undefined ? { group } : {}) };
  const a = planAttrs(dest, cur, want);
  const attrsDiffer = cur !== null && a.changed;
  if (x.validate !== undefined) {
    if (!x.validate.includes('%s')) return failed(`${x.module}: validate must contain %s: ${x.validate}`, dest);
    let words: string[];
    try {
      words = shlexSplit(x.validate);
    } catch (e) {
      return failed(`${x.module}: validate: ${(e as Error).message}`, dest);
    }
    const tmp = `${dest}.underlay-validate-${sha.slice(0, 12)}`;
    const check = argv(words.map((w) => w.replaceAll('%s', tmp)));
    actions.push({ kind: 'upload', path: tmp, content, ...(mode !== undefined ? { mode } : {}), ...ownership, describe: `upload ${tmp} (${content.length} bytes)` });
    actions.push({ kind: 'run', cmd: sh`${check} || { __ul_rc=$?; rm -f -- ${tmp}; exit $__ul_rc; }`, describe: `validate ${dest}: ${words.map((w) => w.replaceAll('%s', tmp)).join(' ')}` });
    // The temporary file was created by us: give it the replaced file's owner where not given.
    // (chown clears set-id bits: the mode is set again after it.)
    const keep = cur !== null && owner === undefined && group === undefined;
    const keepOwner = keep ? sh`chown --reference=${dest} -- ${tmp} 2>/dev/null; ` : sh``;
    const chmod = keep && mode !== undefined ? sh`chmod ${modeText(mode)} -- ${tmp} && ` : sh``;
    actions.push({ kind: 'run', cmd: sh`${keepOwner}${chmod}mv -f -- ${tmp} ${dest} || { __ul_rc=$?; rm -f -- ${tmp}; exit $__ul_rc; }`, describe: `mv ${tmp} ${dest}` });
  } else {
    actions.push({ kind: 'upload', path: dest, content, ...(mode !== undefined ? { mode } : {}), ...ownership, describe: `upload ${dest} (${content.length} bytes)` });
  }

  const beforeText = facts.before !== undefined ? diffText(facts.before) : cur ? undefined : '';
  const afterText = diffText(content);
  const diff: Diff[] = [];
  if (beforeText !== undefined && afterText !== undefined) diff.push({ path: dest, before: beforeText, after: afterText });
  else diff.push({ path: dest, before: cur ? noteOf(cur.size, stat!.sha256) : '', after: noteOf(content.length, sha) });
  if (attrsDiffer) diff.push({ path: dest, before: attrText({ path: dest, ...a.before }), after: attrText({ path: dest, ...a.after }) });
  const final = { mode, owner: x.owner ?? cur?.owner, group: x.group ?? cur?.group };
  return {
    decision: {
      changed: true,
      actions,
      diff,
      msg: cur ? `${dest}: content replaced (${content.length} bytes)${attrsDiffer ? `, ${Object.keys(a.after).join(', ')} changed` : ''}` : `${dest}: created (${content.length} bytes)`,
      result: { ...result, checksum_sha256: sha, size: content.length, ...finalFields(final) },
    },
    contentChanged: true,
    attrsChanged: attrsDiffer,
  };
}

/** A name for chown: the numeric id when the name is unknown (stat prints UNKNOWN). */
function idName(name: string, id: number): string {
  return name === 'UNKNOWN' ? String(id) : name;
}

function finalFields(f: { mode?: number | undefined; owner?: string | undefined; group?: string | undefined }): Record<string, unknown> {
  return {
    ...(f.mode !== undefined ? { mode: modeText(f.mode) } : {}),
    ...(f.owner !== undefined ? { owner: f.owner } : {}),
    ...(f.group !== undefined ? { group: f.group } : {}),
  };
}

/** The parameters copy and template share. */
export const fileWriteParams: Record<string, ParamSpec> = {
  dest: { type: 'path', required: true, description: 'Where the file goes on the host. An existing directory (or a path ending in /) receives the file under the basename of src.' },
  ...attrParams,
  backup: { type: 'bool', default: false, description: 'Keep the replaced file as DEST.YYYY-MM-DD@HH:MM:SS~ (host time) before changing its content.' },
  force: { type: 'bool', default: true, description: 'false: write the file only when the destination does not exist.' },
  validate: {
    type: 'str',
    description: "A command to check the new file before it replaces the destination, with %s standing for the file's path (e.g. 'visudo -cf %s'). Run without a shell.",
  },
};

export interface CopyParams extends Record<string, unknown> {
  dest: string;
  content?: unknown;
  src?: string;
  mode?: number;
  owner?: string;
  group?: string;
  backup: boolean;
  force: boolean;
  validate?: string;
}

export interface CopyObserved {
  /** The destination, after resolving a directory to DIR/basename(src). */
  dest: string;
  content: Buffer;
  /** The controller file copied, when src was given. */
  source?: string;
  facts: DestFacts;
  /** The destination is a directory to create (dest ended with /). */
  createParent: boolean;
  /** A problem found while observing (content into a directory). */
  error?: string;
}

/** copy's content: text as it is; other YAML values as JSON (as Ansible). */
export function contentBytes(v: unknown): Buffer {
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  if (Buffer.isBuffer(v)) return v;
  return Buffer.from(JSON.stringify(v), 'utf8');
}

/** Where a file goes: DEST, or DEST/basename(source) when DEST ends with `/` (or, found by observing, is a directory). */
export interface WriteTarget {
  dest: string;
  /** A controller path whose basename is used inside a directory destination. */
  source?: string;
  backup?: boolean;
}

function insideOf(t: WriteTarget): string | undefined {
  return t.source !== undefined ? `${t.dest.replace(/\/+$/, '')}/${basenameOf(t.source)}` : undefined;
}

/** What observing a destination asks for: see writeCommands. Null when there is nothing to observe (content into a directory). */
function writeRequest(t: WriteTarget): StatsRequest | null {
  const inside = insideOf(t);
  const intoDir = t.dest.endsWith('/');
  if (intoDir && inside === undefined) return null;
  const target = intoDir ? inside! : t.dest;
  const paths = [{ path: target, checksum: true }];
  if (!intoDir && inside !== undefined) paths.push({ path: inside, checksum: true });
  return { paths, dirs: [dirnameOf(target)], uid: true, stamp: t.backup === true };
}

/**
 * The read-only command observing a destination, in one round trip (statsCommand): its
 * stat with checksum, whether its directory is one (shell builtins: a destination not
 * there yet costs no `stat` process), the effective uid, with a source also DEST/basename
 * (in case DEST is a directory), and with backup the host's clock. None when there is
 * nothing to observe.
 */
export function writeCommands(t: WriteTarget): ShellCommand[] {
  const req = writeRequest(t);
  return req ? [statsCommand(req)] : [];
}

/** The destination and what is there, from the results of writeCommands (pure). */
export function parseWrite(t: WriteTarget, res: ExecResult[]): Pick<CopyObserved, 'dest' | 'facts' | 'createParent' | 'error'> {
  const inside = insideOf(t);
  const intoDir = t.dest.endsWith('/');
  const req = writeRequest(t);
  if (!req) return { dest: t.dest, facts: { stat: null, parentDir: null }, createParent: false, error: `can not use content with a dir as dest (${t.dest})` };
  const seen = parseStats(req, res[0]!);
  const destStat = seen.stats[0] ?? null;
  const parentDir = seen.dirs[0] ?? null;
  const uid = seen.uid!;
  const insideStat = !intoDir && inside !== undefined ? (seen.stats[1] ?? null) : undefined;
  const stamp = seen.stamp !== undefined ? { stamp: seen.stamp } : {};
  if (intoDir) return { dest: inside!, facts: { stat: destStat, parentDir, uid, ...stamp }, createParent: true };
  if (followed(destStat)?.type === 'directory') {
    if (inside === undefined) return { dest: t.dest, facts: { stat: destStat, parentDir, uid }, createParent: false, error: `can not use content with a dir as dest (${t.dest})` };
    return { dest: inside, facts: { stat: insideStat ?? null, parentDir: true, uid, ...stamp }, createParent: false };
  }
  return { dest: t.dest, facts: { stat: destStat, parentDir, uid, ...stamp }, createParent: false };
}

/** Observes a destination (one round trip), then reads its content back only for a diff (when it differs and is small). */
export async function observeWrite(ctx: ObserveContext, t: WriteTarget, content: Buffer): Promise<Pick<CopyObserved, 'dest' | 'facts' | 'createParent' | 'error'>> {
  const w = parseWrite(t, await ctx.runBatch(writeCommands(t)));
  if (w.error === undefined) await readBeforeForDiff(ctx, w.dest, content, w.facts);
  return w;
}

export const copy: ModuleDef<CopyParams, CopyObserved> = {
  name: 'copy',
  description:
    'Put a file on the host from inline content or a controller file (searched in files/), compared by sha256; mode, owner and group changed only where they differ. The content never appears in a command line.',
  schema: {
    params: {
      ...fileWriteParams,
      content: {
        type: 'raw',
        description: 'The file\'s content (text; other YAML values are written as JSON). It travels over SFTP, never in a command line; secrets in it are masked in diffs.',
      },
      src: { type: 'path', description: 'A file on the controller, looked for in the role\'s and playbook\'s files/ directories (or an absolute path).' },
    },
    requiredOneOf: [['content', 'src']],
    mutuallyExclusive: [['content', 'src']],
  },
  async observe(ctx, p) {
    let content: Buffer;
    let source: string | undefined;
    if (p.src !== undefined) {
      const local = await ctx.readLocal('files', p.src);
      content = local.content;
      source = local.path;
    } else content = contentBytes(p.content);
    const w = await observeWrite(ctx, { dest: p.dest, ...(p.src !== undefined ? { source: p.src } : {}), backup: p.backup }, content);
    return { ...w, content, ...(source !== undefined ? { source } : {}) };
  },
  decide(p, o, env) {
    if (o.error !== undefined) return { changed: false, actions: [], failed: `copy: ${o.error}`, result: { dest: o.dest } };
    const plan = planFile({
      module: 'copy',
      checkMode: env.checkMode,
      dest: o.dest,
      content: o.content,
      facts: o.facts,
      backup: p.backup,
      force: p.force,
      createParent: o.createParent,
      ...(p.validate !== undefined ? { validate: p.validate } : {}),
      ...(p.mode !== undefined ? { mode: p.mode } : {}),
      ...(p.owner !== undefined ? { owner: p.owner } : {}),
      ...(p.group !== undefined ? { group: p.group } : {}),
    });
    const d = plan.decision;
    return o.source !== undefined ? { ...d, result: { ...d.result, src: o.source } } : d;
  },
};
