import { describe, expect, it } from 'vitest';
import { STAT_FIXTURES, statsOutput, type StatFixtureName } from '../facts/stat.fixtures.js';
import { parseStat, parseTreeDrift } from '../facts/stat.js';
import { basenameOf, dirnameOf, file, planAttrs, type FileObserved } from './file.js';
import { checkParams } from './params.js';
import type { Decision, ExecResult, ObserveContext } from './types.js';
import type { ShellCommand } from '../transport/quote.js';

/**
 * The file module's decisions, as data: parameters + observed facts (the recorded output
 * of statCommand on real files, STAT_FIXTURES; `drift` is the output of treeDriftCommand)
 * -> the exact commands, changed, and diff.
 */
const P = '/srv/a b';
const Q = `'${P}'`;

interface Row {
  name: string;
  args: Record<string, unknown>;
  stat: StatFixtureName;
  srcExists?: boolean;
  /** stdout of treeDriftCommand */
  drift?: string;
  changed?: boolean;
  cmds?: string[];
  failed?: string;
  diff?: [string, string];
}

const ROWS: Row[] = [
  // state=absent
  { name: 'absent, already absent: nothing', args: { state: 'absent' }, stat: 'nothing', changed: false, cmds: [] },
  { name: 'absent, a file: rm -f', args: { state: 'absent' }, stat: 'a file', changed: true, cmds: [`rm -f -- ${Q}`], diff: [`path: ${P}\nstate: file\n`, `path: ${P}\nstate: absent\n`] },
  { name: 'absent, a directory: rm -rf', args: { state: 'absent' }, stat: 'plain', changed: true, cmds: [`rm -rf -- ${Q}`], diff: [`path: ${P}\nstate: directory\n`, `path: ${P}\nstate: absent\n`] },
  { name: 'absent, a symlink to a directory: the link only (rm -f, never -r)', args: { state: 'absent' }, stat: 'dirlink', changed: true, cmds: [`rm -f -- ${Q}`], diff: [`path: ${P}\nstate: link\n`, `path: ${P}\nstate: absent\n`] },
  { name: 'absent, a dangling symlink', args: { state: 'absent' }, stat: 'dangling', changed: true, cmds: [`rm -f -- ${Q}`] },

  // state=directory
  { name: 'directory, present with the mode: nothing', args: { state: 'directory', mode: '0755' }, stat: 'plain', changed: false, cmds: [] },
  { name: 'directory, present, no attributes asked: nothing', args: { state: 'directory' }, stat: 'sub dir', changed: false, cmds: [] },
  { name: 'directory, absent: mkdir -p with the mode, then the owner', args: { state: 'directory', mode: '0750', owner: 'www-data' }, stat: 'nothing', changed: true, cmds: [`mkdir -p -m 0750 -- ${Q}`, `chown -- www-data ${Q}`], diff: [`path: ${P}\nstate: absent\n`, `path: ${P}\nstate: directory\nowner: www-data\nmode: 0750\n`] },
  { name: 'directory, absent, a set-gid mode: mkdir -p, then chmod (mkdir -m gives plain modes only)', args: { state: 'directory', mode: '2750' }, stat: 'nothing', changed: true, cmds: [`mkdir -p -- ${Q}`, `chmod 02750 -- ${Q}`] },
  { name: 'directory, absent, no mode: mkdir -p', args: { state: 'directory' }, stat: 'nothing', changed: true, cmds: [`mkdir -p -- ${Q}`] },
  { name: 'directory, other mode: chmod only', args: { state: 'directory', mode: 0o700 }, stat: 'plain', changed: true, cmds: [`chmod 0700 -- ${Q}`], diff: [`path: ${P}\nmode: 0755\n`, `path: ${P}\nmode: 0700\n`] },
  { name: 'directory, owner by uid and group by name, equal: nothing', args: { state: 'directory', owner: '0', group: 'root' }, stat: 'plain', changed: false, cmds: [] },
  { name: 'directory, other group: chown :group', args: { state: 'directory', group: 'staff' }, stat: 'sub dir', changed: true, cmds: [`chown -- :staff ${Q}`], diff: [`path: ${P}\ngroup: root\n`, `path: ${P}\ngroup: staff\n`] },
  { name: 'directory, set-gid mode kept exactly', args: { state: 'directory', mode: '2750' }, stat: 'sub dir', changed: false, cmds: [] },
  { name: 'directory, a file is there: error', args: { state: 'directory' }, stat: 'a file', failed: `${P} already exists as a file` },
  { name: 'directory, a fifo is there: error', args: { state: 'directory' }, stat: 'fifo', failed: `${P} already exists as a fifo` },
  { name: 'directory, a symlink to a directory is followed', args: { state: 'directory', mode: '0755' }, stat: 'dirlink', changed: false, cmds: [] },
  { name: 'directory, through a symlink, other mode: chmod (follows it)', args: { state: 'directory', mode: '0700' }, stat: 'dirlink', changed: true, cmds: [`chmod 0700 -- ${Q}`] },
  { name: 'directory, a symlink with follow=false: error', args: { state: 'directory', follow: false }, stat: 'dirlink', failed: `${P} already exists as a link` },
  { name: 'directory, a dangling symlink: error', args: { state: 'directory' }, stat: 'dangling', failed: `${P} is a symlink to missing\ntarget, which does not exist` },
  { name: 'directory recurse, nothing differs below: nothing', args: { state: 'directory', recurse: true, mode: '0755', owner: 'root' }, stat: 'plain', drift: '', changed: false, cmds: [] },
  { name: 'directory recurse, a mode differs below: chmod -R', args: { state: 'directory', recurse: true, mode: '0755', owner: 'root' }, stat: 'plain', drift: 'mode\n', changed: true, cmds: [`chmod -R 0755 -- ${Q}`], diff: [`path: ${P}\nmode: 0755 (not everything below)\n`, `path: ${P}\nmode: 0755 (recursively)\n`] },
  { name: 'directory recurse, owner and group differ: chown -R', args: { state: 'directory', recurse: true, owner: 'nobody', group: 'nogroup' }, stat: 'plain', drift: 'owner\ngroup\n', changed: true, cmds: [`chown -R -- nobody:nogroup ${Q}`], diff: [`path: ${P}\nowner: root\ngroup: root\n`, `path: ${P}\nowner: nobody (recursively)\ngroup: nogroup (recursively)\n`] },
  { name: 'directory recurse, chown of a set-id mode: chmod -R after it', args: { state: 'directory', recurse: true, owner: 'nobody', mode: '2750' }, stat: 'sub dir', drift: 'owner\n', changed: true, cmds: [`chown -R -- nobody ${Q}`, `chmod -R 02750 -- ${Q}`] },
  { name: 'directory recurse, chown of a plain mode: chown -R only', args: { state: 'directory', recurse: true, owner: 'nobody', mode: '0755' }, stat: 'plain', drift: 'owner\n', changed: true, cmds: [`chown -R -- nobody ${Q}`] },
  { name: 'directory recurse through a symlink: DIR/. (never the link itself)', args: { state: 'directory', recurse: true, group: 'staff' }, stat: 'dirlink', drift: 'group\n', changed: true, cmds: [`chown -R -- :staff '${P}/.'`] },
  { name: 'directory recurse, absent: mkdir -p with the mode', args: { state: 'directory', recurse: true, mode: '0700' }, stat: 'nothing', drift: 'NOTDIR\n', changed: true, cmds: [`mkdir -p -m 0700 -- ${Q}`] },

  // state=file
  { name: 'file, attributes equal: nothing', args: { state: 'file', mode: '0644', owner: 'root', group: 'root' }, stat: 'a file', changed: false, cmds: [] },
  { name: 'file, numeric owner and group equal: nothing', args: { state: 'file', owner: '65534', group: '65534' }, stat: 'empty', changed: false, cmds: [] },
  { name: 'file, other owner and mode: chown then chmod', args: { state: 'file', mode: '0600', owner: 'nobody', group: 'nogroup' }, stat: 'a file', changed: true, cmds: [`chown -- nobody:nogroup ${Q}`, `chmod 0600 -- ${Q}`], diff: [`path: ${P}\nowner: root\ngroup: root\nmode: 0644\n`, `path: ${P}\nowner: nobody\ngroup: nogroup\nmode: 0600\n`] },
  { name: 'file, absent: error (it is never created)', args: { state: 'file' }, stat: 'nothing', failed: `file (${P}) is absent, cannot continue` },
  { name: 'file, a directory: error', args: { state: 'file' }, stat: 'plain', failed: `file (${P}) is directory, cannot continue` },
  { name: 'file, through a symlink: the target\'s attributes', args: { state: 'file', mode: '0644' }, stat: 'link', changed: false, cmds: [] },
  { name: 'file, through a symlink, other mode: chmod (follows)', args: { state: 'file', mode: '0640' }, stat: 'link', changed: true, cmds: [`chmod 0640 -- ${Q}`] },
  { name: 'file, a symlink with follow=false: error', args: { state: 'file', follow: false }, stat: 'link', failed: `file (${P}) is link, cannot continue` },
  { name: 'file, a dangling symlink: error', args: { state: 'file' }, stat: 'dangling', failed: `file (${P}) is absent, cannot continue` },

  // state=link
  { name: 'link, pointing where asked: nothing', args: { state: 'link', src: 'a file' }, stat: 'link', srcExists: true, changed: false, cmds: [] },
  { name: 'link, absent: ln -s', args: { state: 'link', src: 'a file' }, stat: 'nothing', srcExists: true, changed: true, cmds: [`ln -s -- 'a file' ${Q}`], diff: [`path: ${P}\nstate: absent\n`, `path: ${P}\nstate: link\nsrc: a file\n`] },
  { name: 'link, pointing elsewhere: ln -sfn', args: { state: 'link', src: '/etc/hosts' }, stat: 'link', srcExists: true, changed: true, cmds: [`ln -sfn -- /etc/hosts ${Q}`], diff: [`path: ${P}\nsrc: a file\n`, `path: ${P}\nsrc: /etc/hosts\n`] },
  { name: 'link, a dangling link pointing where asked (force): nothing', args: { state: 'link', src: 'missing\ntarget', force: true }, stat: 'dangling', changed: false, cmds: [] },
  { name: 'link, src missing without force: error', args: { state: 'link', src: 'nope' }, stat: 'nothing', srcExists: false, failed: 'src file does not exist, use "force=yes" if you really want to create the link: /srv/nope' },
  { name: 'link, src missing with force: created', args: { state: 'link', src: 'nope', force: true }, stat: 'nothing', changed: true, cmds: [`ln -s -- nope ${Q}`] },
  { name: 'link, a file there without force: error', args: { state: 'link', src: '/etc/hosts' }, stat: 'a file', srcExists: true, failed: `refusing to convert from file to symlink for ${P}` },
  { name: 'link, a file there with force: replaced', args: { state: 'link', src: '/etc/hosts', force: true }, stat: 'a file', changed: true, cmds: [`ln -sfn -- /etc/hosts ${Q}`], diff: [`path: ${P}\nstate: file\n`, `path: ${P}\nstate: link\nsrc: /etc/hosts\n`] },
  { name: 'link, a directory there without force: error', args: { state: 'link', src: '/etc' }, stat: 'plain', srcExists: true, failed: `refusing to convert from directory to symlink for ${P}` },
  { name: 'link, a directory there with force: rmdir (refuses a non-empty one) and ln -s', args: { state: 'link', src: '/etc', force: true }, stat: 'plain', changed: true, cmds: [`rmdir -- ${Q} && ln -s -- /etc ${Q}`] },
  { name: 'link, other owner: chown -h (the link itself)', args: { state: 'link', src: 'a file', owner: 'nobody' }, stat: 'link', srcExists: true, changed: true, cmds: [`chown -h -- nobody ${Q}`], diff: [`path: ${P}\nowner: root\n`, `path: ${P}\nowner: nobody\n`] },
  { name: 'link, mode does not apply to links: nothing', args: { state: 'link', src: 'a file', mode: '0600' }, stat: 'link', srcExists: true, changed: false, cmds: [] },
  { name: 'link, no src on an existing link: kept', args: { state: 'link' }, stat: 'link', changed: false, cmds: [] },
  { name: 'link, no src and nothing there: error', args: { state: 'link' }, stat: 'nothing', failed: 'src is required for creating new symlinks' },

  // state=touch: always changed, as Ansible
  { name: 'touch, absent: touch and the mode', args: { state: 'touch', mode: '0600' }, stat: 'nothing', changed: true, cmds: [`touch -- ${Q}`, `chmod 0600 -- ${Q}`], diff: [`path: ${P}\nstate: absent\n`, `path: ${P}\nstate: touch\nmode: 0600\n`] },
  { name: 'touch, present with the attributes: still changed (the times)', args: { state: 'touch', mode: '0644' }, stat: 'a file', changed: true, cmds: [`touch -- ${Q}`], diff: [`path: ${P}\nstate: file\n`, `path: ${P}\nstate: touch\n`] },
  { name: 'touch, a symlink with follow=false: touch -h', args: { state: 'touch', follow: false }, stat: 'link', changed: true, cmds: [`touch -h -- ${Q}`] },

  // default state: the current one, else directory with recurse, else file
  { name: 'no state, a directory: directory', args: { mode: '0755' }, stat: 'plain', changed: false, cmds: [] },
  { name: 'no state, a link: link (kept)', args: {}, stat: 'link', changed: false, cmds: [] },
  { name: 'no state, nothing: file, which is an error', args: { mode: '0644' }, stat: 'nothing', failed: `file (${P}) is absent, cannot continue` },
  { name: 'no state, nothing, recurse: directory', args: { recurse: true, mode: '0700' }, stat: 'nothing', drift: 'NOTDIR\n', changed: true, cmds: [`mkdir -p -m 0700 -- ${Q}`] },
  { name: 'recurse with state=file: error', args: { state: 'file', recurse: true }, stat: 'a file', failed: "recurse option requires state to be 'directory'" },
  { name: 'src with state=directory: error', args: { state: 'directory', src: '/etc' }, stat: 'plain', failed: "src option requires state to be 'link'" },
];

function decide(row: Row): Decision {
  const { params, errors } = checkParams(file, { path: P, ...row.args }, { loadTime: false });
  if (errors.length > 0) throw errors[0];
  const observed: FileObserved = { stat: parseStat({ command: 'stat', exitCode: 0, stdout: STAT_FIXTURES[row.stat], stderr: '' }) };
  if (row.srcExists !== undefined) observed.srcExists = row.srcExists;
  if (row.drift !== undefined) observed.drift = parseTreeDrift({ command: 'find', exitCode: 0, stdout: row.drift, stderr: '' });
  return file.decide(params as Parameters<typeof file.decide>[0], observed, { checkMode: false, vars: {} });
}

describe('file: decide', () => {
  for (const row of ROWS) {
    it(row.name, () => {
      const d = decide(row);
      if (row.failed !== undefined) {
        expect(d.failed).toBe(row.failed);
        expect(d.actions).toEqual([]);
        return;
      }
      expect(d.failed).toBeUndefined();
      expect(d.changed).toBe(row.changed);
      expect(d.actions.map((a) => (a.kind === 'run' ? a.cmd.text : a.kind))).toEqual(row.cmds);
      if (row.diff) expect(d.diff).toEqual([{ path: P, before: row.diff[0], after: row.diff[1] }]);
      if (!d.changed) expect(d.diff).toBeUndefined();
    });
  }

  it('reports the resulting attributes like Ansible (mode as 0NNN)', () => {
    const d = decide({ name: '', args: { state: 'directory', mode: '0700' }, stat: 'plain' });
    expect(d.result).toEqual({ path: P, state: 'directory', mode: '0700', owner: 'root', group: 'root' });
    const l = decide({ name: '', args: { state: 'link', src: 'a file' }, stat: 'link', srcExists: true });
    expect(l.result).toMatchObject({ path: P, dest: P, src: 'a file', state: 'link' });
  });

  it('rejects a symbolic or malformed mode at parameter checking', () => {
    expect(checkParams(file, { path: P, mode: 'u+x' }, { loadTime: false }).errors[0]?.message).toMatch(/expected a mode/);
    expect(checkParams(file, { path: P, mode: '0999' }, { loadTime: false }).errors[0]?.message).toMatch(/expected a mode/);
    expect(checkParams(file, { dest: P, state: 'hard' }, { loadTime: false }).errors[0]?.message).toMatch(/must be one of/);
  });
});

describe('planAttrs', () => {
  const stat = (name: StatFixtureName) => parseStat({ command: 'stat', exitCode: 0, stdout: STAT_FIXTURES[name], stderr: '' });
  it('sets a mode with set-id bits after chown (which clears them)', () => {
    const a = planAttrs('/f', stat('a file'), { owner: 'nobody', mode: 0o4755 });
    expect(a.actions.map((x) => x.describe)).toEqual(['chown nobody /f', 'chmod 04755 /f']);
  });
  it('on a new path (no stat), applies every attribute given', () => {
    const a = planAttrs('/f', null, { group: 'adm', mode: 0o640 });
    expect(a.actions.map((x) => x.describe)).toEqual(['chown :adm /f', 'chmod 0640 /f']);
    expect(a.changed).toBe(true);
  });
});

describe('dirnameOf, basenameOf', () => {
  it('are dirname(1) and basename(1)', () => {
    const cases: [string, string, string][] = [
      ['/a/b', '/a', 'b'],
      ['/a/b/', '/a', 'b'],
      ['/a', '/', 'a'],
      ['a', '.', 'a'],
      ['a/b', 'a', 'b'],
      ['/', '/', '/'],
      ['//a//b//', '//a', 'b'],
    ];
    for (const [p, d, b] of cases) {
      expect([dirnameOf(p), basenameOf(p)]).toEqual([d, b]);
    }
  });
});

describe('file: observe', () => {
  /** Observes with the given outputs (the stats command's pieces, then treeDrift's stdout); returns what was run too. */
  async function observe(args: Record<string, unknown>, stats: { stat: StatFixtureName; srcExists?: boolean }, drift?: string) {
    const { params, errors } = checkParams(file, { path: P, ...args }, { loadTime: false });
    if (errors.length > 0) throw errors[0];
    const sent: ShellCommand[][] = [];
    const res = (stdout: string): ExecResult => ({ command: 'x', exitCode: 0, stdout, stderr: '', durationMs: 1 });
    const ctx = {
      runBatch: async (cmds: ShellCommand[]) => {
        sent.push(cmds);
        const out = [res(statsOutput({ stats: [STAT_FIXTURES[stats.stat]], ...(stats.srcExists !== undefined ? { exists: [stats.srcExists] } : {}) }))];
        if (drift !== undefined) out.push(res(drift));
        return out;
      },
    } as unknown as ObserveContext;
    const o = await file.observe!(ctx, params as Parameters<typeof file.decide>[0]);
    return { o, sent };
  }

  it('the path and a link\'s src in one command', async () => {
    const { o, sent } = await observe({ state: 'link', src: 'a file' }, { stat: 'link', srcExists: true });
    expect(sent).toHaveLength(1);
    expect(sent[0]).toHaveLength(1);
    expect(sent[0]![0]!.text).toContain(`[ -e '/srv/a file' ]`);
    expect(o).toEqual({ stat: parseStat({ command: 'stat', exitCode: 0, stdout: STAT_FIXTURES.link, stderr: '' }), srcExists: true });
    expect((await observe({ state: 'link', src: 'nope' }, { stat: 'nothing', srcExists: false })).o).toEqual({ stat: null, srcExists: false });
  });

  it('just the path, or the path and the tree drift (two commands, one round trip)', async () => {
    const a = await observe({ state: 'directory', mode: '0755' }, { stat: 'plain' });
    expect(a.sent[0]).toHaveLength(1);
    expect(a.o).toEqual({ stat: expect.objectContaining({ type: 'directory', mode: 0o755 }) });
    const b = await observe({ state: 'directory', recurse: true, mode: '0755' }, { stat: 'plain' }, 'mode\n');
    expect(b.sent[0]).toHaveLength(2);
    expect(b.o).toEqual({ stat: expect.objectContaining({ type: 'directory' }), drift: { mode: true, owner: false, group: false } });
  });
});
