/**
 * The `file` module (Ansible's `file`): a path's state (file, directory, link, absent,
 * touch) and its mode, owner and group. Also home of what every file module shares:
 * comparing and changing mode/owner/group, and the `key: value` text their diffs show.
 *
 * One round trip observes the path (`stat`, with a symlink's target) and, when needed,
 * whether a link's src exists, in one command, and where a tree differs from the wanted
 * attributes (`find ... ! -perm`), in a second. Nothing is run when nothing differs,
 * except for `touch`, which always changes the times (as in Ansible).
 *
 * Differences from Ansible: no `hard` state and no times (`modification_time`,
 * `access_time`); `mode` is octal only; `state: directory` sets mode/owner/group on the
 * directory named, not on every parent it creates; owner and group of a symlink are those
 * of the link itself (as Ansible), and mode does not apply to links.
 */
import { followed, modeText, parseStats, parseTreeDrift, statsCommand, treeDriftCommand, type Stat, type StatInfo, type StatsRequest, type TreeDrift } from '../facts/stat.js';
import { sh, type ShellCommand } from '../transport/quote.js';
import type { Action, Decision, Diff, ModuleDef, ParamSpec } from './types.js';

export interface FileAttrs {
  mode?: number;
  owner?: string;
  group?: string;
}

/** The schema entries of mode, owner and group, the same in every file module. */
export const attrParams: Record<'mode' | 'owner' | 'group', ParamSpec> = {
  mode: {
    type: 'mode',
    description: "Permissions, octal: '0644' (quoted), or 0644 (YAML 1.1 reads an unquoted leading zero as octal). Unset: kept as they are; new files get 0644, new directories 0777 less the umask (usually 0755).",
  },
  owner: { type: 'str', description: 'User name (or numeric uid) that should own it. Unset: kept as it is.' },
  group: { type: 'str', description: 'Group name (or numeric gid) that should own it. Unset: kept as it is.' },
};

function sameId(name: string, want: string, id: number): boolean {
  return /^\d+$/.test(want) ? id === Number(want) : name === want;
}

/** Text for a diff: one `key: value` line per entry. */
export function attrText(entries: Record<string, string | undefined>): string {
  return Object.entries(entries)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => `${k}: ${v}\n`)
    .join('');
}

export interface AttrPlan {
  actions: Action[];
  /** Diff entries of what changes (empty when nothing does). */
  before: Record<string, string>;
  after: Record<string, string>;
  changed: boolean;
  /** The attributes after the change, where known. */
  final: { mode?: number; owner?: string; group?: string };
}

/**
 * chown/chmod actions bringing `cur` (null: just created, attributes unknown) to `want`.
 * chown runs first: it clears set-user-ID and set-group-ID bits, so a mode holding them is
 * set after it (again, when chown ran and the mode was not changing).
 * `noDeref`: act on a symlink itself (`chown -h`); mode is not applicable to links.
 */
export function planAttrs(path: string, cur: StatInfo | null, want: FileAttrs, opts: { noDeref?: boolean } = {}): AttrPlan {
  const actions: Action[] = [];
  const before: Record<string, string> = {};
  const after: Record<string, string> = {};
  const ownerDiffers = want.owner !== undefined && (!cur || !sameId(cur.owner, want.owner, cur.uid));
  const groupDiffers = want.group !== undefined && (!cur || !sameId(cur.group, want.group, cur.gid));
  const modeDiffers = !opts.noDeref && want.mode !== undefined && (!cur || cur.mode !== want.mode);
  if (ownerDiffers || groupDiffers) {
    const o = ownerDiffers ? want.owner : undefined;
    const g = groupDiffers ? want.group : undefined;
    const spec = o !== undefined ? (g !== undefined ? `${o}:${g}` : o) : `:${g}`;
    const h = opts.noDeref ? sh`-h ` : sh``;
    actions.push({ kind: 'run', cmd: sh`chown ${h}-- ${spec} ${path}`, describe: `chown ${opts.noDeref ? '-h ' : ''}${spec} ${path}` });
    if (o !== undefined) {
      if (cur) before['owner'] = cur.owner;
      after['owner'] = o;
    }
    if (g !== undefined) {
      if (cur) before['group'] = cur.group;
      after['group'] = g;
    }
  }
  const chowned = ownerDiffers || groupDiffers;
  const keepSetId = chowned && !opts.noDeref && cur !== null && cur.type !== 'directory' && want.mode === undefined && (cur.mode & 0o6000) !== 0;
  if (modeDiffers || (chowned && !opts.noDeref && want.mode !== undefined && (want.mode & 0o6000) !== 0) || keepSetId) {
    const m = modeText(want.mode ?? cur!.mode);
    actions.push({ kind: 'run', cmd: sh`chmod ${m} -- ${path}`, describe: `chmod ${m} ${path}` });
    if (modeDiffers) {
      if (cur) before['mode'] = modeText(cur.mode);
      after['mode'] = m;
    }
  }
  const final: AttrPlan['final'] = {};
  const mode = opts.noDeref ? cur?.mode : (want.mode ?? cur?.mode);
  if (mode !== undefined) final.mode = mode;
  const owner = want.owner ?? cur?.owner;
  if (owner !== undefined) final.owner = owner;
  const group = want.group ?? cur?.group;
  if (group !== undefined) final.group = group;
  return { actions, before, after, changed: ownerDiffers || groupDiffers || modeDiffers, final };
}

/** The directory part of a path, as dirname(1) gives it. */
export function dirnameOf(path: string): string {
  const p = path.replace(/\/+$/, '');
  if (p === '') return path.startsWith('/') ? '/' : '.';
  const i = p.lastIndexOf('/');
  if (i < 0) return '.';
  const d = p.slice(0, i).replace(/\/+$/, '');
  return d === '' ? '/' : d;
}

/** The last part of a path, as basename(1) gives it. */
export function basenameOf(path: string): string {
  const p = path.replace(/\/+$/, '');
  if (p === '') return path.startsWith('/') ? '/' : '';
  return p.slice(p.lastIndexOf('/') + 1);
}

export type FileState = 'file' | 'directory' | 'link' | 'absent' | 'touch';

export interface FileParams extends Record<string, unknown> {
  path: string;
  state?: FileState;
  mode?: number;
  owner?: string;
  group?: string;
  src?: string;
  recurse: boolean;
  force: boolean;
  follow: boolean;
}

export interface FileObserved {
  stat: Stat | null;
  /** state=link without force: whether src exists (relative to the link's directory). */
  srcExists?: boolean;
  /** recurse: where the tree differs from the wanted attributes; null when not a directory. */
  drift?: TreeDrift | null;
}

/** What Ansible calls the path's state: absent, file, directory or link. */
export function stateOf(s: Stat | null): 'absent' | 'file' | 'directory' | 'link' {
  if (!s) return 'absent';
  if (s.type === 'link') return 'link';
  if (s.type === 'directory') return 'directory';
  return 'file';
}

function kindName(s: StatInfo): string {
  return s.type === 'file' ? 'file' : s.type === 'char' ? 'character device' : s.type === 'block' ? 'block device' : s.type;
}

/** Where a link's src is looked for: relative to the directory of the link, as the kernel resolves it. */
export function linkSrcPath(path: string, src: string): string {
  return src.startsWith('/') ? src : `${dirnameOf(path)}/${src}`;
}

function diffOf(path: string, before: Record<string, string | undefined>, after: Record<string, string | undefined>): Diff[] {
  return [{ path, before: attrText({ path, ...before }), after: attrText({ path, ...after }) }];
}

function refuse(msg: string, path: string): Decision {
  return { changed: false, actions: [], failed: msg, result: { path } };
}

export const file: ModuleDef<FileParams, FileObserved> = {
  name: 'file',
  description:
    'Manage a path: a file\'s attributes, a directory (created with parents), a symbolic link, absence, or touch; mode, owner and group are changed only where they differ.',
  schema: {
    params: {
      path: { type: 'path', required: true, aliases: ['dest', 'name'], description: 'The path to manage.' },
      state: {
        type: 'str',
        choices: ['file', 'directory', 'link', 'absent', 'touch'],
        description:
          'file: an existing file (only its attributes are managed; it is not created); directory: created with its parents when missing; link: a symbolic link to src; absent: removed (a directory recursively; a symlink itself, never its target); touch: created empty when missing, times updated (always changed). Default: the current state of the path, else directory with recurse, else file.',
      },
      ...attrParams,
      src: { type: 'path', description: 'state=link: the link target, written as given (relative to the link\'s directory when relative).' },
      recurse: { type: 'bool', default: false, description: 'state=directory: set mode, owner and group on everything below too (symlinks inside are not followed).' },
      force: {
        type: 'bool',
        default: false,
        description: 'state=link: replace a file or an empty directory by the link, and create the link even when src does not exist.',
      },
      follow: {
        type: 'bool',
        default: true,
        description: 'When path is a symlink and state is file, directory or touch, manage what it points to.',
      },
    },
  },
  async observe(ctx, p) {
    // The path and, for a link, whether its src exists: one command (statsCommand).
    const checkSrc = p.state === 'link' && p.src !== undefined && !p.force;
    const req: StatsRequest = { paths: [{ path: p.path }], ...(checkSrc ? { exists: [linkSrcPath(p.path, p.src!)] } : {}) };
    const cmds: ShellCommand[] = [statsCommand(req)];
    const checkTree = p.recurse && (p.mode !== undefined || p.owner !== undefined || p.group !== undefined);
    if (checkTree) cmds.push(treeDriftCommand(p.path, { ...(p.mode !== undefined ? { mode: p.mode } : {}), ...(p.owner !== undefined ? { owner: p.owner } : {}), ...(p.group !== undefined ? { group: p.group } : {}) }));
    const res = await ctx.runBatch(cmds);
    const seen = parseStats(req, res[0]!);
    const out: FileObserved = { stat: seen.stats[0] ?? null };
    if (checkSrc) out.srcExists = seen.exists[0]!;
    if (checkTree) out.drift = parseTreeDrift(res[1]!);
    return out;
  },
  decide(p, o, env) {
    const path = p.path;
    const stat = o.stat;
    const prev = stateOf(stat);
    const state: FileState = p.state ?? (prev !== 'absent' ? prev : p.recurse ? 'directory' : 'file');
    if (p.recurse && state !== 'directory') return refuse("recurse option requires state to be 'directory'", path);
    if (p.src !== undefined && state !== 'link') return refuse("src option requires state to be 'link'", path);
    const want: FileAttrs = {
      ...(p.mode !== undefined ? { mode: p.mode } : {}),
      ...(p.owner !== undefined ? { owner: p.owner } : {}),
      ...(p.group !== undefined ? { group: p.group } : {}),
    };
    const resultOf = (final: AttrPlan['final'], extra: Record<string, unknown> = {}) => ({
      path,
      state,
      ...(final.mode !== undefined ? { mode: modeText(final.mode) } : {}),
      ...(final.owner !== undefined ? { owner: final.owner } : {}),
      ...(final.group !== undefined ? { group: final.group } : {}),
      ...extra,
    });

    switch (state) {
      case 'absent': {
        if (!stat) return { changed: false, actions: [], msg: `${path} is absent`, result: { path, state } };
        const cmd = stat.type === 'directory' ? sh`rm -rf -- ${path}` : sh`rm -f -- ${path}`;
        return {
          changed: true,
          actions: [{ kind: 'run', cmd, describe: `${stat.type === 'directory' ? 'rm -rf' : 'rm -f'} ${path}` }],
          diff: diffOf(path, { state: prev }, { state: 'absent' }),
          msg: `${path}: ${prev} removed`,
          result: { path, state },
        };
      }

      case 'file': {
        if (prev === 'link' && !p.follow) return refuse(`file (${path}) is link, cannot continue`, path);
        const cur = followed(stat);
        if (!cur) return refuse(`file (${path}) is absent, cannot continue`, path);
        if (cur.type === 'directory') return refuse(`file (${path}) is directory, cannot continue`, path);
        const a = planAttrs(path, cur, want);
        return attrDecision(path, a, resultOf(a.final), `${path} is a ${kindName(cur)}`);
      }

      case 'directory': {
        if (!stat) {
          const a = planAttrs(path, null, want);
          // A plain mode (no setuid, setgid or sticky bit) is given by mkdir as it creates
          // the directory: no chmod process after it.
          const m = want.mode !== undefined && (want.mode & 0o7000) === 0 ? modeText(want.mode) : undefined;
          const { mode: _mode, ...noMode } = want;
          const mkdir: Action = { kind: 'run', cmd: m !== undefined ? sh`mkdir -p -m ${m} -- ${path}` : sh`mkdir -p -- ${path}`, describe: `mkdir -p${m !== undefined ? ` -m ${m}` : ''} ${path}` };
          return {
            changed: true,
            actions: [mkdir, ...(m !== undefined ? planAttrs(path, null, noMode) : a).actions],
            diff: diffOf(path, { state: 'absent' }, { state: 'directory', ...a.after }),
            msg: `${path}: directory created`,
            result: resultOf(a.final),
          };
        }
        const isLink = stat.type === 'link';
        if (isLink && !p.follow) return refuse(`${path} already exists as a link`, path);
        const cur = followed(stat);
        if (!cur) return refuse(`${path} is a symlink to ${stat.linkTarget ?? '?'}, which does not exist`, path);
        if (cur.type !== 'directory') return refuse(`${path} already exists as a ${kindName(cur)}`, path);
        if (p.recurse && o.drift) {
          // `P/.`: through a symlink to the directory, never the link itself
          const top = isLink ? `${path}/.` : path;
          const actions: Action[] = [];
          const before: Record<string, string> = {};
          const after: Record<string, string> = {};
          const o2 = o.drift.owner ? p.owner : undefined;
          const g2 = o.drift.group ? p.group : undefined;
          if (o2 !== undefined || g2 !== undefined) {
            const spec = o2 !== undefined ? (g2 !== undefined ? `${o2}:${g2}` : o2) : `:${g2}`;
            actions.push({ kind: 'run', cmd: sh`chown -R -- ${spec} ${top}`, describe: `chown -R ${spec} ${top}` });
            if (o2 !== undefined) {
              before['owner'] = cur.owner === o2 ? `${cur.owner} (not everything below)` : cur.owner;
              after['owner'] = `${o2} (recursively)`;
            }
            if (g2 !== undefined) {
              before['group'] = cur.group === g2 ? `${cur.group} (not everything below)` : cur.group;
              after['group'] = `${g2} (recursively)`;
            }
          }
          // chown clears set-id bits of files: a mode holding them is set again after it
          if (o.drift.mode || ((o2 !== undefined || g2 !== undefined) && p.mode !== undefined && (p.mode & 0o6000) !== 0)) {
            const m = modeText(p.mode!);
            actions.push({ kind: 'run', cmd: sh`chmod -R ${m} -- ${top}`, describe: `chmod -R ${m} ${top}` });
            if (o.drift.mode) {
              before['mode'] = cur.mode === p.mode ? `${modeText(cur.mode)} (not everything below)` : modeText(cur.mode);
              after['mode'] = `${m} (recursively)`;
            }
          }
          const final = { mode: p.mode ?? cur.mode, owner: p.owner ?? cur.owner, group: p.group ?? cur.group };
          if (actions.length === 0) return { changed: false, actions: [], msg: `${path} is a directory, and everything below has the wanted attributes`, result: resultOf(final) };
          return { changed: true, actions, diff: diffOf(path, before, after), msg: `${path}: ${Object.keys(after).join(', ')} changed recursively`, result: resultOf(final) };
        }
        const a = planAttrs(path, cur, want);
        return attrDecision(path, a, resultOf(a.final), `${path} is a directory`);
      }

      case 'link': {
        const src = p.src ?? (prev === 'link' ? stat!.linkTarget : undefined);
        if (src === undefined) return refuse('src is required for creating new symlinks', path);
        // in check mode an earlier task (not applied) may be the one that creates src
        if (p.src !== undefined && !p.force && o.srcExists === false && !env.checkMode) {
          return refuse(`src file does not exist, use "force=yes" if you really want to create the link: ${linkSrcPath(path, p.src)}`, path);
        }
        if (prev === 'directory' && !p.force) return refuse(`refusing to convert from directory to symlink for ${path}`, path);
        if (prev === 'file' && !p.force) return refuse(`refusing to convert from ${kindName(stat!)} to symlink for ${path}`, path);
        const actions: Action[] = [];
        const before: Record<string, string> = {};
        const after: Record<string, string> = {};
        if (prev === 'absent') {
          actions.push({ kind: 'run', cmd: sh`ln -s -- ${src} ${path}`, describe: `ln -s ${src} ${path}` });
          Object.assign(before, { state: 'absent' });
          Object.assign(after, { state: 'link', src });
        } else if (prev === 'directory') {
          // rmdir refuses a directory that is not empty, as Ansible does
          actions.push({ kind: 'run', cmd: sh`rmdir -- ${path} && ln -s -- ${src} ${path}`, describe: `rmdir ${path} && ln -s ${src} ${path}` });
          Object.assign(before, { state: 'directory' });
          Object.assign(after, { state: 'link', src });
        } else if (prev === 'file') {
          actions.push({ kind: 'run', cmd: sh`ln -sfn -- ${src} ${path}`, describe: `ln -sfn ${src} ${path}` });
          Object.assign(before, { state: 'file' });
          Object.assign(after, { state: 'link', src });
        } else if (stat!.linkTarget !== src) {
          actions.push({ kind: 'run', cmd: sh`ln -sfn -- ${src} ${path}`, describe: `ln -sfn ${src} ${path}` });
          before['src'] = stat!.linkTarget ?? '';
          after['src'] = src;
        }
        const a = planAttrs(path, prev === 'link' && actions.length === 0 ? stat : null, { ...(p.owner !== undefined ? { owner: p.owner } : {}), ...(p.group !== undefined ? { group: p.group } : {}) }, { noDeref: true });
        actions.push(...a.actions);
        Object.assign(before, a.before);
        Object.assign(after, a.after);
        const result = { path, dest: path, src, state, ...(a.final.owner !== undefined ? { owner: a.final.owner } : {}), ...(a.final.group !== undefined ? { group: a.final.group } : {}) };
        if (actions.length === 0) return { changed: false, actions: [], msg: `${path} is a link to ${src}`, result };
        return { changed: true, actions, diff: diffOf(path, before, after), msg: `${path}: ${prev === 'absent' ? 'link created' : prev === 'link' && before['src'] === undefined ? Object.keys(after).join(', ') + ' changed' : `link to ${src}`}`, result };
      }

      case 'touch': {
        if (prev === 'link' && !p.follow) {
          const a = planAttrs(path, stat, { ...(p.owner !== undefined ? { owner: p.owner } : {}), ...(p.group !== undefined ? { group: p.group } : {}) }, { noDeref: true });
          return {
            changed: true,
            actions: [{ kind: 'run', cmd: sh`touch -h -- ${path}`, describe: `touch -h ${path}` }, ...a.actions],
            diff: diffOf(path, { state: 'link', ...a.before }, { state: 'touch', ...a.after }),
            msg: `${path}: times updated`,
            result: { path, dest: path, state },
          };
        }
        const cur = followed(stat);
        const a = planAttrs(path, cur, want);
        return {
          changed: true,
          actions: [{ kind: 'run', cmd: sh`touch -- ${path}`, describe: `touch ${path}` }, ...a.actions],
          diff: diffOf(path, { state: cur ? stateOf(cur) : 'absent', ...a.before }, { state: 'touch', ...a.after }),
          msg: cur ? `${path}: times updated${a.changed ? `, ${Object.keys(a.after).join(', ')} changed` : ''}` : `${path}: created`,
          result: { ...resultOf(a.final), dest: path },
        };
      }
    }
  },
};

function attrDecision(path: string, a: AttrPlan, result: Record<string, unknown>, okMsg: string): Decision {
  if (!a.changed) return { changed: false, actions: [], msg: okMsg, result };
  return { changed: true, actions: a.actions, diff: diffOf(path, a.before, a.after), msg: `${path}: ${Object.keys(a.after).join(', ')} changed`, result };
}
