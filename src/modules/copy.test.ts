import { describe, expect, it } from 'vitest';
import { dirAnswer, STAT_FIXTURE_UNREADABLE, STAT_FIXTURES, statsOutput, type StatFixtureName } from '../facts/stat.fixtures.js';
import { modeText } from '../facts/stat.js';
import { contentBytes, copy, DIFF_MAX_BYTES, parseWrite, planFile, sha256Of, writeCommands, type CopyObserved, type WriteTarget } from './copy.js';
import { checkParams } from './params.js';
import type { Action, Decision, ExecResult } from './types.js';

/**
 * copy's decisions, as data: parameters + what observing printed (the recorded output of
 * statCommand on real files, STAT_FIXTURES) -> the exact actions, changed and diff.
 */
const DEST = '/etc/app/my "conf"';
const QDEST = `'/etc/app/my "conf"'`;
const HELLO_SHA = '5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03';

const res = (stdout: string): ExecResult => ({ command: 'x', exitCode: 0, stdout, stderr: '', durationMs: 1 });

interface Seen {
  /** What is at the destination (a fixture name, or raw statCommand output). */
  dest?: StatFixtureName | { raw: string };
  parent?: StatFixtureName;
  /** What is at DEST/basename(src), when src is given. */
  inside?: StatFixtureName;
  uid?: number;
  stamp?: string;
  /** The content read back for the diff. */
  before?: string | Buffer;
}

/**
 * The output of writeCommands (one command) for what is there: the destination (or
 * DEST/basename(src) when DEST ends with /), its directory, with a source DEST/basename(src),
 * the uid, and with backup the clock.
 */
function outputs(t: WriteTarget, seen: Seen): ExecResult[] {
  const stat = (s: Seen['dest']) => (s === undefined ? STAT_FIXTURES.nothing : typeof s === 'string' ? STAT_FIXTURES[s] : s.raw);
  const stats = [stat(seen.dest)];
  if (t.source !== undefined && !t.dest.endsWith('/')) stats.push(stat(seen.inside));
  return [res(statsOutput({ stats, dirs: [dirAnswer(seen.parent ?? 'plain')], uid: seen.uid ?? 1000, ...(t.backup ? { stamp: seen.stamp ?? '2024-05-06@07:08:09' } : {}) }))];
}

function decide(args: Record<string, unknown>, seen: Seen = {}, local?: { path: string; content: Buffer }): Decision {
  const { params, errors } = checkParams(copy, { dest: DEST, ...args }, { loadTime: false });
  if (errors.length > 0) throw errors[0];
  const p = params as Parameters<typeof copy.decide>[0];
  const t: WriteTarget = { dest: p.dest, ...(p.src !== undefined ? { source: p.src } : {}), backup: p.backup };
  const cmds = writeCommands(t);
  const out = cmds.length === 0 ? [] : outputs(t, seen);
  expect(out).toHaveLength(cmds.length);
  const w = parseWrite(t, out);
  if (seen.before !== undefined) w.facts.before = Buffer.from(seen.before);
  const content = local ? local.content : contentBytes(p.content);
  const observed: CopyObserved = { ...w, content, ...(local ? { source: local.path } : {}) };
  return copy.decide(p, observed, { checkMode: false, vars: {} });
}

function show(actions: Action[]): string[] {
  return actions.map((a) =>
    a.kind === 'upload'
      ? `upload ${a.path}${a.mode !== undefined ? ` mode=${modeText(a.mode)}` : ''}${a.owner !== undefined ? ` owner=${a.owner}` : ''}${a.group !== undefined ? ` group=${a.group}` : ''} ${JSON.stringify(a.content.toString())}`
      : a.cmd.text,
  );
}

describe('copy: decide', () => {
  it('same content, no attributes asked: no actions, not changed', () => {
    const d = decide({ content: 'hello\n' }, { dest: 'a file' });
    expect(d).toMatchObject({ changed: false, actions: [], msg: `${DEST} is up to date` });
    expect(d.diff).toBeUndefined();
    expect(d.result).toEqual({ dest: DEST, state: 'file', checksum_sha256: HELLO_SHA, size: 6, mode: '0644', owner: 'root', group: 'root' });
  });

  it('same content and attributes: no actions, not changed', () => {
    expect(decide({ content: 'hello\n', mode: '0644', owner: 'root', group: '0' }, { dest: 'a file' })).toMatchObject({ changed: false, actions: [] });
    expect(decide({ content: '', mode: 0o600, owner: 'nobody', group: 'nogroup' }, { dest: 'empty' })).toMatchObject({ changed: false, actions: [] });
  });

  it('same content, other mode: chmod only (no upload)', () => {
    const d = decide({ content: 'hello\n', mode: '0600' }, { dest: 'a file' });
    expect(d.changed).toBe(true);
    expect(show(d.actions)).toEqual([`chmod 0600 -- ${QDEST}`]);
    expect(d.diff).toEqual([{ path: DEST, before: `path: ${DEST}\nmode: 0644\n`, after: `path: ${DEST}\nmode: 0600\n` }]);
  });

  it('same content, other owner and group: one chown', () => {
    const d = decide({ content: 'hello\n', owner: 'nobody', group: 'nogroup' }, { dest: 'a file' });
    expect(show(d.actions)).toEqual([`chown -- nobody:nogroup ${QDEST}`]);
  });

  it('a new file: one upload with the mode; the diff shows the text', () => {
    const d = decide({ content: 'hello\n', mode: '0600', owner: 'www-data' }, { dest: 'nothing' });
    expect(d.changed).toBe(true);
    expect(show(d.actions)).toEqual([`upload ${DEST} mode=0600 owner=www-data "hello\\n"`]);
    expect(d.diff).toEqual([{ path: DEST, before: '', after: 'hello\n' }]);
    expect(d.result).toMatchObject({ dest: DEST, checksum_sha256: HELLO_SHA, size: 6, mode: '0600', owner: 'www-data' });
    expect(d.msg).toBe(`${DEST}: created (6 bytes)`);
  });

  it('a new file without mode: the upload\'s default', () => {
    expect(show(decide({ content: 'x' }).actions)).toEqual([`upload ${DEST} "x"`]);
  });

  it('other content: an upload keeping the mode; diff of the text read back', () => {
    const d = decide({ content: 'hello\nworld\n' }, { dest: 'a file', before: 'hello\n' });
    expect(show(d.actions)).toEqual([`upload ${DEST} mode=0644 "hello\\nworld\\n"`]);
    expect(d.diff).toEqual([{ path: DEST, before: 'hello\n', after: 'hello\nworld\n' }]);
  });

  it('as root, a replaced file keeps its owner and group explicitly; given ones win', () => {
    expect(show(decide({ content: 'new' }, { dest: 'empty', uid: 0, before: '' }).actions)).toEqual([`upload ${DEST} mode=0600 owner=nobody group=nogroup "new"`]);
    expect(show(decide({ content: 'new', owner: 'root' }, { dest: 'empty', uid: 0, before: '' }).actions)).toEqual([`upload ${DEST} mode=0600 owner=root group=nogroup "new"`]);
  });

  it('other content and other mode: one upload with the new mode, and both diffs', () => {
    const d = decide({ content: 'bye\n', mode: '0640' }, { dest: 'a file', before: 'hello\n' });
    expect(show(d.actions)).toEqual([`upload ${DEST} mode=0640 "bye\\n"`]);
    expect(d.diff).toEqual([
      { path: DEST, before: 'hello\n', after: 'bye\n' },
      { path: DEST, before: `path: ${DEST}\nmode: 0644\n`, after: `path: ${DEST}\nmode: 0640\n` },
    ]);
    expect(d.msg).toBe(`${DEST}: content replaced (4 bytes), mode changed`);
  });

  it('force=false: an existing file keeps its content (no actions); a missing one is written', () => {
    expect(decide({ content: 'other', force: false }, { dest: 'a file' })).toMatchObject({ changed: false, actions: [], result: { checksum_sha256: HELLO_SHA } });
    expect(show(decide({ content: 'other', force: false }, { dest: 'nothing' }).actions)).toEqual([`upload ${DEST} "other"`]);
  });

  it('backup: cp -p DEST DEST.<host time>~ before the upload; none for a new file', () => {
    const d = decide({ content: 'new\n', backup: true }, { dest: 'a file', stamp: '2024-05-06@07:08:09', before: 'hello\n' });
    expect(show(d.actions)).toEqual([`cp -p -- ${QDEST} '/etc/app/my "conf".2024-05-06@07:08:09~'`, `upload ${DEST} mode=0644 "new\\n"`]);
    expect(d.result).toMatchObject({ backup_file: `${DEST}.2024-05-06@07:08:09~` });
    const fresh = decide({ content: 'new\n', backup: true }, { dest: 'nothing' });
    expect(show(fresh.actions)).toEqual([`upload ${DEST} "new\\n"`]);
    expect(fresh.result?.['backup_file']).toBeUndefined();
  });

  it('validate: upload to a temporary file, run the check on it (removing it on failure), move it over', () => {
    const d = decide({ content: 'new\n', validate: "visudo -c -f %s -q 'x y'" }, { dest: 'a file', before: 'hello\n' });
    const tmp = `${DEST}.underlay-validate-${sha256Of('new\n').slice(0, 12)}`;
    const qtmp = `'${tmp}'`;
    expect(show(d.actions)).toEqual([
      `upload ${tmp} mode=0644 "new\\n"`,
      `visudo -c -f ${qtmp} -q 'x y' || { __ul_rc=$?; rm -f -- ${qtmp}; exit $__ul_rc; }`,
      `chown --reference=${QDEST} -- ${qtmp} 2>/dev/null; chmod 0644 -- ${qtmp} && mv -f -- ${qtmp} ${QDEST} || { __ul_rc=$?; rm -f -- ${qtmp}; exit $__ul_rc; }`,
    ]);
    // a new file: no ownership to keep
    const fresh = decide({ content: 'new\n', validate: 'true %s' }, { dest: 'nothing' });
    expect(show(fresh.actions)[2]).toBe(`mv -f -- ${qtmp} ${QDEST} || { __ul_rc=$?; rm -f -- ${qtmp}; exit $__ul_rc; }`);
  });

  it('validate without %s, or with an unclosed quote: refused', () => {
    expect(decide({ content: 'x', validate: 'visudo -c' }).failed).toBe('copy: validate must contain %s: visudo -c');
    expect(decide({ content: 'x', validate: "check '%s" }).failed).toMatch(/^copy: validate: unclosed '/);
  });

  it('content into a directory: refused as Ansible does', () => {
    expect(decide({ content: 'x' }, { dest: 'plain' }).failed).toBe(`copy: can not use content with a dir as dest (${DEST})`);
    expect(decide({ content: 'x', dest: '/etc/app/' }).failed).toBe('copy: can not use content with a dir as dest (/etc/app/)');
  });

  it('src into an existing directory (or a symlink to one): DEST/basename(src)', () => {
    const local = { path: '/play/files/motd.txt', content: Buffer.from('hi\n') };
    const d = decide({ src: 'motd.txt', dest: '/etc' }, { dest: 'plain', inside: 'nothing' }, local);
    expect(show(d.actions)).toEqual(['upload /etc/motd.txt "hi\\n"']);
    expect(d.result).toMatchObject({ dest: '/etc/motd.txt', src: '/play/files/motd.txt' });
    expect(decide({ src: 'motd.txt', dest: '/etc' }, { dest: 'dirlink', inside: 'nothing' }, local).result).toMatchObject({ dest: '/etc/motd.txt' });
    // already there
    const same = decide({ src: 'a file', dest: '/srv' }, { dest: 'plain', inside: 'a file' }, { path: '/play/files/a file', content: Buffer.from('hello\n') });
    expect(same).toMatchObject({ changed: false, actions: [] });
  });

  it('src into DEST/ (ending in a slash): the directory is created when missing', () => {
    const local = { path: '/play/files/motd.txt', content: Buffer.from('hi\n') };
    const d = decide({ src: 'motd.txt', dest: '/etc/new dir/' }, { dest: 'nothing', parent: 'nothing' }, local);
    expect(show(d.actions)).toEqual([`mkdir -p -- '/etc/new dir'`, 'upload /etc/new dir/motd.txt "hi\\n"']);
  });

  it('a missing directory, or a file in its place: refused', () => {
    expect(decide({ content: 'x' }, { dest: 'nothing', parent: 'nothing' }).failed).toBe('copy: destination directory /etc/app does not exist');
    expect(decide({ content: 'x' }, { dest: 'nothing', parent: 'a file' }).failed).toBe('copy: /etc/app is not a directory');
  });

  it('a fifo, or a file whose content cannot be read: refused', () => {
    expect(decide({ content: 'x' }, { dest: 'fifo' }).failed).toBe(`copy: ${DEST} is a fifo, not a regular file`);
    expect(decide({ content: 'x' }, { dest: { raw: STAT_FIXTURE_UNREADABLE } }).failed).toBe(`copy: cannot read ${DEST} to compare its content (permission denied?)`);
  });

  it('binary or large content: a one-line note instead of the text', () => {
    const bin = decide({ content: 'x' }, { dest: 'nothing' }, { path: '/f', content: Buffer.from([0, 1, 2]) });
    expect(bin.diff).toEqual([{ path: DEST, before: '', after: `(binary or larger than 256 KiB: 3 bytes, sha256 ${sha256Of(Buffer.from([0, 1, 2]))})\n` }]);
    const big = Buffer.alloc(DIFF_MAX_BYTES + 1, 'a');
    const d = decide({ content: 'x' }, { dest: 'a file' }, { path: '/f', content: big });
    expect(d.diff).toEqual([{ path: DEST, before: `(binary or larger than 256 KiB: 6 bytes, sha256 ${HELLO_SHA})\n`, after: `(binary or larger than 256 KiB: ${DIFF_MAX_BYTES + 1} bytes, sha256 ${sha256Of(big)})\n` }]);
  });

  it('a symlink destination: compared through it; replaced by the file when the content differs', () => {
    expect(decide({ content: 'hello\n' }, { dest: 'link' })).toMatchObject({ changed: false, actions: [] });
    expect(show(decide({ content: 'other' }, { dest: 'link', before: 'hello\n' }).actions)).toEqual([`upload ${DEST} mode=0644 "other"`]);
    // a dangling one: nothing to keep or back up
    expect(show(decide({ content: 'other', backup: true }, { dest: 'dangling' }).actions)).toEqual([`upload ${DEST} "other"`]);
  });

  it('content that is not text in YAML is written as JSON, as Ansible', () => {
    expect(contentBytes({ a: [1, 2] }).toString()).toBe('{"a":[1,2]}');
    expect(contentBytes(12).toString()).toBe('12');
    expect(contentBytes('é').toString()).toBe('é');
  });

  it('requires exactly one of content and src; content is not masked wholesale (its diff is shown, secrets in it masked by value)', () => {
    expect(checkParams(copy, { dest: DEST }, { loadTime: false }).errors[0]?.message).toMatch(/one of content, src is required/);
    expect(checkParams(copy, { dest: DEST, content: 'a', src: 'b' }, { loadTime: false }).errors[0]?.message).toMatch(/mutually exclusive/);
    expect(copy.schema.params['content']?.secret).toBeUndefined();
  });
});

describe('planFile', () => {
  it('creates a missing directory only when asked to', () => {
    const facts = { stat: null, parentDir: null };
    expect(planFile({ module: 'm', dest: '/a/b', content: Buffer.from('x'), facts }).decision.failed).toBe('m: destination directory /a does not exist');
    // in check mode an earlier task of the run may be the one creating it
    expect(planFile({ module: 'm', dest: '/a/b', content: Buffer.from('x'), facts, checkMode: true }).decision).toMatchObject({ changed: true });
    const p = planFile({ module: 'm', dest: '/a/b', content: Buffer.from('x'), facts, createParent: true });
    expect(show(p.decision.actions)).toEqual(['mkdir -p -- /a', 'upload /a/b "x"']);
    expect(p).toMatchObject({ contentChanged: true, attrsChanged: false });
  });
});

describe('writeCommands + parseWrite', () => {
  it('observe in one command: the destination, its directory, DEST/basename(src), the uid and the clock', () => {
    const [one, ...more] = writeCommands({ dest: '/etc/app', source: 'tpl/app.conf', backup: true });
    expect(more).toEqual([]);
    for (const part of ['[ -e /etc/app ]', '[ -d /etc ]', '[ -e /etc/app/app.conf ]', 'id -u', 'date +']) expect(one!.text).toContain(part);
    expect(writeCommands({ dest: DEST })).toHaveLength(1);
    expect(writeCommands({ dest: DEST }).join()).not.toContain('date');
    // content into a directory: nothing to observe
    expect(writeCommands({ dest: '/etc/app/' })).toEqual([]);
    expect(parseWrite({ dest: '/etc/app/' }, []).error).toBe('can not use content with a dir as dest (/etc/app/)');
  });

  it('resolve a directory destination to DEST/basename(src), whose directory is then DEST', () => {
    const t: WriteTarget = { dest: '/etc/app', source: 'tpl/app.conf', backup: true };
    const w = parseWrite(t, outputs(t, { dest: 'plain', inside: 'a file', uid: 0, stamp: '2024-01-02@03:04:05' }));
    expect(w).toMatchObject({ dest: '/etc/app/app.conf', createParent: false, facts: { stat: { type: 'file', sha256: HELLO_SHA }, parentDir: true, uid: 0, stamp: '2024-01-02@03:04:05' } });
    const into: WriteTarget = { dest: '/etc/app/', source: 'tpl/app.conf' };
    expect(parseWrite(into, outputs(into, {}))).toMatchObject({ dest: '/etc/app/app.conf', createParent: true, facts: { stat: null, uid: 1000 } });
    expect(parseWrite(into, outputs(into, {})).facts.stamp).toBeUndefined();
  });

  it('a failing observation is a CommandError', () => {
    expect(() => parseWrite({ dest: DEST }, [{ command: 'x', exitCode: 1, stdout: '\0S:0\n', stderr: 'readlink: boom\n', durationMs: 1 }])).toThrow(`stat: readlink: boom (describing ${JSON.stringify(DEST)})`);
  });
});
