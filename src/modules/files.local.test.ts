/**
 * The file modules end to end on the controller itself: parameters checked and coerced as
 * the engine does, observe through the engine's LocalChannel (/bin/sh, real files in a
 * temporary directory), decide, and the actions applied the way src/engine/task.ts applies
 * them. Each case converges, then converges again without a change, and check mode
 * reports the change without making it. (SSH runs are in test/e2e/.)
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalChannel } from '../engine/channel.js';
import { renderTemplateFile } from '../vars/template.js';
import { copy } from './copy.js';
import { file } from './file.js';
import { lineinfile } from './lineinfile.js';
import { checkParams } from './params.js';
import { template } from './template.js';
import type { Decision, ModuleDef, ObserveContext } from './types.js';

const isRoot = process.getuid?.() === 0;
const root = mkdtempSync(join(tmpdir(), 'ul-files-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const ch = new LocalChannel();
let n = 0;
/** A fresh directory for one case (its name has a space and a quote). */
function box(): string {
  const d = join(root, `case ${++n} 'x'`);
  mkdirSync(d);
  return d;
}

interface Outcome extends Decision {
  /** The failure of an applied action (as the engine reports it). */
  applyFailed?: string;
}

/** One task on the local host, as the engine runs it. */
async function runTask(def: ModuleDef<any, any>, args: Record<string, unknown>, opts: { check?: boolean; base?: string; vars?: Record<string, unknown> } = {}): Promise<Outcome> {
  const checked = checkParams(def as ModuleDef, args, { loadTime: false });
  if (checked.errors.length > 0) throw checked.errors[0];
  const params = checked.params;
  const check = Boolean(opts.check);
  const vars = opts.vars ?? {};
  const local = (kind: string, p: string) => (isAbsolute(p) ? p : join(opts.base ?? root, kind, p));
  const ctx: ObserveContext = {
    host: 'localhost',
    run: (cmd, o) => ch.run(cmd, o ?? {}),
    runBatch: (cmds) => ch.runBatch(cmds),
    readFile: (p, o) => ch.readFile(p, o ?? {}),
    readLocal: async (kind, p) => ({ path: local(kind, p), content: await readFile(local(kind, p)) }),
    renderTemplate: async (p) => ({ path: local('templates', p), content: renderTemplateFile(local('templates', p), vars) }),
    checkMode: check,
    vars,
  };
  const observed = await def.observe!(ctx, params);
  const d = def.decide(params, observed, { checkMode: check, vars });
  if (d.failed !== undefined || check) return d;
  for (const a of d.actions) {
    if (a.kind === 'upload') {
      await ch.upload(a.path, a.content, { ...(a.mode !== undefined ? { mode: a.mode } : {}), ...(a.owner !== undefined ? { owner: a.owner } : {}), ...(a.group !== undefined ? { group: a.group } : {}) });
    } else if (a.kind === 'run') {
      const r = await ch.run(a.cmd, a.stdin !== undefined ? { stdin: a.stdin } : {});
      if (!(a.okCodes ?? [0]).includes(r.exitCode)) return { ...d, applyFailed: `${a.describe}: exit code ${r.exitCode}: ${r.stderr}` };
    } else throw new Error(`unexpected action ${a.kind}`);
  }
  return d;
}

/** Converges (changed), converges again (unchanged, no actions); returns the first outcome. */
async function converge(def: ModuleDef<any, any>, args: Record<string, unknown>, opts: { base?: string; vars?: Record<string, unknown> } = {}): Promise<Outcome> {
  const first = await runTask(def, args, opts);
  expect(first.failed).toBeUndefined();
  expect(first.applyFailed).toBeUndefined();
  expect(first.changed).toBe(true);
  const second = await runTask(def, args, opts);
  expect(second.failed).toBeUndefined();
  expect(second.changed, `second run: ${second.msg}`).toBe(false);
  expect(second.actions).toEqual([]);
  return first;
}

/** Check mode: reports a change, changes nothing on disk. */
async function checkOnly(def: ModuleDef<any, any>, args: Record<string, unknown>, dir: string, opts: { base?: string; vars?: Record<string, unknown> } = {}): Promise<Outcome> {
  const before = snapshot(dir);
  const d = await runTask(def, args, { ...opts, check: true });
  expect(d.failed).toBeUndefined();
  expect(d.changed).toBe(true);
  expect(snapshot(dir)).toEqual(before);
  return d;
}

/** Names, kinds, modes, owners, link targets and contents of everything under dir. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const s = lstatSync(p);
      const what = s.isSymbolicLink() ? `link:${readlinkSync(p)}` : s.isDirectory() ? 'dir' : `file:${readFileSync(p).toString('base64')}`;
      out[p] = `${what} ${(s.mode & 0o7777).toString(8)} ${s.uid}:${s.gid} ${s.mtimeMs}`;
      if (s.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

const modeOf = (p: string) => statSync(p).mode & 0o7777;

describe('file', () => {
  it('state=directory: creates with parents and mode; then nothing; check mode changes nothing', async () => {
    const d = box();
    const path = join(d, 'a b', "it's", 'c');
    await checkOnly(file, { path, state: 'directory', mode: '0750' }, d);
    const r = await converge(file, { path, state: 'directory', mode: '0750' });
    expect(statSync(path).isDirectory()).toBe(true);
    expect(modeOf(path)).toBe(0o750);
    expect(r.result).toMatchObject({ path, state: 'directory', mode: '0750' });
    // a mode change only
    chmodSync(path, 0o700);
    await checkOnly(file, { path, state: 'directory', mode: 0o750 }, d);
    const m = await converge(file, { path, state: 'directory', mode: 0o750 });
    expect(m.actions.map((a) => a.describe)).toEqual([`chmod 0750 ${path}`]);
    expect(m.diff).toEqual([{ path, before: `path: ${path}\nmode: 0700\n`, after: `path: ${path}\nmode: 0750\n` }]);
  });

  it.runIf(isRoot)('state=directory recurse: owner, group and mode of everything below', async () => {
    const d = box();
    const top = join(d, 'tree');
    mkdirSync(join(top, 'x', 'y'), { recursive: true });
    writeFileSync(join(top, 'x', 'y', 'f'), 'f');
    symlinkSync('/etc/hostname', join(top, 'x', 'ln'));
    const args = { path: top, state: 'directory', recurse: true, owner: 'nobody', group: 'nogroup', mode: '0750' };
    await checkOnly(file, args, d);
    await converge(file, args);
    for (const p of [top, join(top, 'x'), join(top, 'x', 'y'), join(top, 'x', 'y', 'f')]) {
      const s = statSync(p);
      expect([s.uid, s.mode & 0o7777]).toEqual([65534, 0o750]);
    }
    // the link inside was changed itself, its target not
    expect(lstatSync(join(top, 'x', 'ln')).uid).toBe(65534);
    expect(statSync('/etc/hostname').uid).toBe(0);
    // one file deep below drifts: found and fixed
    chmodSync(join(top, 'x', 'y', 'f'), 0o600);
    const again = await converge(file, args);
    expect(again.actions.map((a) => a.describe)).toEqual([`chmod -R 0750 ${top}`]);
  });

  it('state=file: attributes of an existing file only; a missing file is an error', async () => {
    const d = box();
    const path = join(d, 'f "q"');
    writeFileSync(path, 'x', { mode: 0o644 });
    await checkOnly(file, { path, mode: '0600' }, d);
    await converge(file, { path, mode: '0600' });
    expect(modeOf(path)).toBe(0o600);
    expect(readFileSync(path, 'utf8')).toBe('x');
    const missing = await runTask(file, { path: join(d, 'nope'), state: 'file' });
    expect(missing.failed).toBe(`file (${join(d, 'nope')}) is absent, cannot continue`);
  });

  it.runIf(isRoot)('chown keeps set-user-ID and set-group-ID bits (which chown clears)', async () => {
    const d = box();
    const path = join(d, 'tool');
    writeFileSync(path, '#!/bin/sh\n');
    chmodSync(path, 0o6755);
    const r = await converge(file, { path, owner: 'nobody', group: 'nogroup' });
    expect(r.actions.map((a) => a.describe)).toEqual([`chown nobody:nogroup ${path}`, `chmod 06755 ${path}`]);
    expect([statSync(path).uid, modeOf(path)]).toEqual([65534, 0o6755]);
  });

  it('state=link: creates, retargets, replaces a file only with force', async () => {
    const d = box();
    writeFileSync(join(d, 'target one'), '1');
    writeFileSync(join(d, 'target two'), '2');
    const path = join(d, 'the link');
    await checkOnly(file, { path, src: 'target one', state: 'link' }, d);
    await converge(file, { path, src: 'target one', state: 'link' });
    expect(readlinkSync(path)).toBe('target one');
    const re = await converge(file, { path, src: 'target two', state: 'link' });
    expect(readlinkSync(path)).toBe('target two');
    expect(re.diff).toEqual([{ path, before: `path: ${path}\nsrc: target one\n`, after: `path: ${path}\nsrc: target two\n` }]);
    const plain = join(d, 'plain');
    writeFileSync(plain, 'p');
    expect((await runTask(file, { path: plain, src: 'target one', state: 'link' })).failed).toBe(`refusing to convert from file to symlink for ${plain}`);
    await converge(file, { path: plain, src: 'target one', state: 'link', force: true });
    expect(readlinkSync(plain)).toBe('target one');
    expect((await runTask(file, { path: join(d, 'l2'), src: 'missing', state: 'link' })).failed).toMatch(/^src file does not exist, use "force=yes"/);
    await converge(file, { path: join(d, 'l2'), src: 'missing', state: 'link', force: true });
    expect(readlinkSync(join(d, 'l2'))).toBe('missing');
  });

  it('state=absent: a tree; a symlink without its target; a name with a newline', async () => {
    const d = box();
    const tree = join(d, 'tree');
    mkdirSync(join(tree, 'a'), { recursive: true });
    writeFileSync(join(tree, 'a', 'f'), 'f');
    await checkOnly(file, { path: tree, state: 'absent' }, d);
    const r = await converge(file, { path: tree, state: 'absent' });
    expect(existsSync(tree)).toBe(false);
    expect(r.diff).toEqual([{ path: tree, before: `path: ${tree}\nstate: directory\n`, after: `path: ${tree}\nstate: absent\n` }]);
    const keep = join(d, 'keep me');
    mkdirSync(keep);
    writeFileSync(join(keep, 'inside'), 'i');
    const link = join(d, 'link to dir');
    symlinkSync(keep, link);
    await converge(file, { path: link, state: 'absent' });
    expect(existsSync(link)).toBe(false);
    expect(readFileSync(join(keep, 'inside'), 'utf8')).toBe('i');
    const odd = join(d, 'two\nlines; rm -rf x');
    writeFileSync(odd, '');
    await converge(file, { path: odd, state: 'absent' });
    expect(readdirSync(d)).toEqual(['keep me']);
  });

  it('state=touch: creates, and is changed every time (as Ansible)', async () => {
    const d = box();
    const path = join(d, 'stamp');
    await checkOnly(file, { path, state: 'touch', mode: '0640' }, d);
    const r = await runTask(file, { path, state: 'touch', mode: '0640' });
    expect(r.changed).toBe(true);
    expect(modeOf(path)).toBe(0o640);
    const again = await runTask(file, { path, state: 'touch', mode: '0640' });
    expect(again.changed).toBe(true);
    expect(again.actions.map((a) => a.describe)).toEqual([`touch ${path}`]);
  });
});

describe('copy', () => {
  it('content: created with mode, unchanged next time, diff of the text; check mode writes nothing', async () => {
    const d = box();
    const dest = join(d, 'motd $(x)');
    await checkOnly(copy, { dest, content: 'hello\n', mode: '0600' }, d);
    const r = await converge(copy, { dest, content: 'hello\n', mode: '0600' });
    expect(readFileSync(dest, 'utf8')).toBe('hello\n');
    expect(modeOf(dest)).toBe(0o600);
    expect(r.diff).toEqual([{ path: dest, before: '', after: 'hello\n' }]);
    expect(r.result).toMatchObject({ dest, checksum_sha256: '5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03', size: 6, mode: '0600' });
    // a change of content: the old text is read back for the diff; the mode is kept
    const c = await converge(copy, { dest, content: 'hello\nworld\n' });
    expect(c.diff).toEqual([{ path: dest, before: 'hello\n', after: 'hello\nworld\n' }]);
    expect(modeOf(dest)).toBe(0o600);
  });

  it('a mode-only difference is a chmod, not an upload', async () => {
    const d = box();
    const dest = join(d, 'f');
    writeFileSync(dest, 'same\n', { mode: 0o644 });
    await checkOnly(copy, { dest, content: 'same\n', mode: '0640' }, d);
    const r = await converge(copy, { dest, content: 'same\n', mode: '0640' });
    expect(r.actions.map((a) => a.kind)).toEqual(['run']);
    expect(r.actions.map((a) => a.describe)).toEqual([`chmod 0640 ${dest}`]);
    expect(modeOf(dest)).toBe(0o640);
  });

  it.runIf(isRoot)('owner and group: chown only when different', async () => {
    const d = box();
    const dest = join(d, 'owned');
    await converge(copy, { dest, content: 'x', owner: 'nobody', group: 'nogroup', mode: '0640' });
    expect([statSync(dest).uid, statSync(dest).gid, modeOf(dest)]).toEqual([65534, 65534, 0o640]);
    const r = await converge(copy, { dest, content: 'x', owner: 'root' });
    expect(r.actions.map((a) => a.describe)).toEqual([`chown root ${dest}`]);
    expect([statSync(dest).uid, statSync(dest).gid]).toEqual([0, 65534]);
  });

  it('backup keeps the replaced file as DEST.<time>~', async () => {
    const d = box();
    const dest = join(d, 'conf');
    writeFileSync(dest, 'old\n');
    const r = await converge(copy, { dest, content: 'new\n', backup: true });
    const backup = r.result?.['backup_file'] as string;
    expect(backup).toMatch(/\/conf\.\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d~$/);
    expect(readFileSync(backup, 'utf8')).toBe('old\n');
    expect(readFileSync(dest, 'utf8')).toBe('new\n');
  });

  it('src from files/, into an existing directory; binary content; force=false', async () => {
    const d = box();
    mkdirSync(join(d, 'files'));
    const bytes = Buffer.from([0, 1, 2, 255, 254, 10, 13]);
    writeFileSync(join(d, 'files', 'blob.bin'), bytes);
    const into = join(d, 'out');
    mkdirSync(into);
    const r = await converge(copy, { src: 'blob.bin', dest: into }, { base: d });
    expect(readFileSync(join(into, 'blob.bin'))).toEqual(bytes);
    expect(r.result).toMatchObject({ dest: join(into, 'blob.bin'), src: join(d, 'files', 'blob.bin'), size: 7 });
    expect(r.diff?.[0]?.after).toMatch(/^\(binary or larger than 256 KiB: 7 bytes, sha256 [0-9a-f]{64}\)\n$/);
    // dest/ (a directory to create)
    await converge(copy, { src: 'blob.bin', dest: join(d, 'new dir') + '/' }, { base: d });
    expect(readFileSync(join(d, 'new dir', 'blob.bin'))).toEqual(bytes);
    // force=false: an existing file keeps its content
    const kept = await runTask(copy, { dest: join(into, 'blob.bin'), content: 'other', force: false });
    expect(kept.changed).toBe(false);
    expect(readFileSync(join(into, 'blob.bin'))).toEqual(bytes);
    expect((await runTask(copy, { dest: into, content: 'x' })).failed).toBe(`copy: can not use content with a dir as dest (${into})`);
    expect((await runTask(copy, { dest: join(d, 'no dir', 'f'), content: 'x' })).failed).toBe(`copy: destination directory ${join(d, 'no dir')} does not exist`);
  });

  it('validate: a failing check leaves the destination and no temporary file; a passing one replaces it', async () => {
    const d = box();
    const dest = join(d, 'sudoers x');
    writeFileSync(dest, 'good\n', { mode: 0o440 });
    const bad = await runTask(copy, { dest, content: 'bad\n', validate: 'grep -q good %s' });
    expect(bad.applyFailed).toMatch(/^validate /);
    expect(readFileSync(dest, 'utf8')).toBe('good\n');
    expect(readdirSync(d)).toEqual(['sudoers x']);
    const ok = await converge(copy, { dest, content: 'good too\n', validate: 'grep -q good %s' });
    expect(ok.actions.map((a) => a.kind)).toEqual(['upload', 'run', 'run']);
    expect(readFileSync(dest, 'utf8')).toBe('good too\n');
    expect(modeOf(dest)).toBe(0o440);
    expect(readdirSync(d)).toEqual(['sudoers x']);
  });

  it('a symlinked destination with the same content stays a link; with other content it is replaced', async () => {
    const d = box();
    writeFileSync(join(d, 'real'), 'same');
    symlinkSync('real', join(d, 'ln'));
    const same = await runTask(copy, { dest: join(d, 'ln'), content: 'same' });
    expect(same.changed).toBe(false);
    await converge(copy, { dest: join(d, 'ln'), content: 'other' });
    expect(lstatSync(join(d, 'ln')).isFile()).toBe(true);
    expect(readFileSync(join(d, 'real'), 'utf8')).toBe('same');
  });
});

describe('template', () => {
  it('renders with the variables; unchanged next time; a missing variable names the file and line', async () => {
    const d = box();
    mkdirSync(join(d, 'templates'));
    writeFileSync(join(d, 'templates', 'app.conf.hbs'), 'name = {{ name }}\n{{#each ports}}port = {{ this }}\n{{/each}}');
    const dest = join(d, 'app.conf');
    const vars = { name: 'web', ports: [80, 443] };
    await checkOnly(template, { src: 'app.conf.hbs', dest, mode: '0644' }, d, { base: d, vars });
    const r = await converge(template, { src: 'app.conf.hbs', dest, mode: '0644' }, { base: d, vars });
    expect(readFileSync(dest, 'utf8')).toBe('name = web\nport = 80\nport = 443\n');
    expect(r.result).toMatchObject({ dest, src: join(d, 'templates', 'app.conf.hbs'), mode: '0644' });
    const changed = await converge(template, { src: 'app.conf.hbs', dest }, { base: d, vars: { ...vars, name: 'api' } });
    expect(changed.diff).toEqual([{ path: dest, before: 'name = web\nport = 80\nport = 443\n', after: 'name = api\nport = 80\nport = 443\n' }]);
    writeFileSync(join(d, 'templates', 'bad.hbs'), 'ok\nvalue = {{ nope }}\n');
    const err = runTask(template, { src: 'bad.hbs', dest }, { base: d, vars });
    await expect(err).rejects.toThrow(/bad\.hbs:2/);
    await expect(err).rejects.toThrow(/nope/);
  });
});

describe('lineinfile', () => {
  it('adds, replaces by regexp, removes; keeps the mode; unchanged next time', async () => {
    const d = box();
    const path = join(d, 'sshd_config');
    writeFileSync(path, '# comment\nPort 22\nPermitRootLogin yes\n', { mode: 0o640 });
    await checkOnly(lineinfile, { path, regexp: '^PermitRootLogin ', line: 'PermitRootLogin no' }, d);
    const r = await converge(lineinfile, { path, regexp: '^PermitRootLogin ', line: 'PermitRootLogin no' });
    expect(r.msg).toBe('line replaced');
    expect(r.diff).toEqual([{ path, before: '# comment\nPort 22\nPermitRootLogin yes\n', after: '# comment\nPort 22\nPermitRootLogin no\n' }]);
    await converge(lineinfile, { path, line: 'UseDNS no', insertafter: '^Port ' });
    expect(readFileSync(path, 'utf8')).toBe('# comment\nPort 22\nUseDNS no\nPermitRootLogin no\n');
    await converge(lineinfile, { path, regexp: '^#', state: 'absent' });
    expect(readFileSync(path, 'utf8')).toBe('Port 22\nUseDNS no\nPermitRootLogin no\n');
    expect(modeOf(path)).toBe(0o640);
  });

  it.runIf(isRoot)('keeps the owner of the edited file', async () => {
    const d = box();
    const path = join(d, 'owned');
    writeFileSync(path, 'a\n', { mode: 0o600 });
    spawnSync('chown', ['nobody:nogroup', path]);
    await converge(lineinfile, { path, line: 'b' });
    expect([statSync(path).uid, statSync(path).gid, modeOf(path)]).toEqual([65534, 65534, 0o600]);
    expect(readFileSync(path, 'utf8')).toBe('a\nb\n');
  });

  it('create: a missing file (and its directory) with mode; without create it is an error', async () => {
    const d = box();
    const path = join(d, 'new dir', 'hosts');
    expect((await runTask(lineinfile, { path, line: '10.0.0.1 a' })).failed).toBe(`Destination ${path} does not exist !`);
    await checkOnly(lineinfile, { path, line: '10.0.0.1 a', create: true, mode: '0644' }, d);
    await converge(lineinfile, { path, line: '10.0.0.1 a', create: true, mode: '0644' });
    expect(readFileSync(path, 'utf8')).toBe('10.0.0.1 a\n');
    expect(modeOf(path)).toBe(0o644);
  });

  it('edits through a symlink, which stays a link; backrefs; backup; non-UTF-8 bytes kept', async () => {
    const d = box();
    const real = join(d, 'real.conf');
    writeFileSync(real, Buffer.concat([Buffer.from('key = old\n'), Buffer.from([0xff, 0xfe, 0x0a])]));
    symlinkSync('real.conf', join(d, 'link.conf'));
    const r = await converge(lineinfile, { path: join(d, 'link.conf'), regexp: '^key = (\\w+)$', line: 'key = new (was \\1)', backrefs: true, backup: true });
    expect(lstatSync(join(d, 'link.conf')).isSymbolicLink()).toBe(true);
    expect(readFileSync(real)).toEqual(Buffer.concat([Buffer.from('key = new (was old)\n'), Buffer.from([0xff, 0xfe, 0x0a])]));
    const backup = r.result?.['backup'] as string;
    expect(backup.startsWith(`${real}.`)).toBe(true);
    expect(readFileSync(backup, 'utf8').startsWith('key = old\n')).toBe(true);
  });

  it('a mode-only change is a chmod, with Ansible\'s message', async () => {
    const d = box();
    const path = join(d, 'f');
    writeFileSync(path, 'x\n', { mode: 0o644 });
    const r = await converge(lineinfile, { path, line: 'x', mode: '0600' });
    expect(r.msg).toBe('ownership, perms or SE linux context changed');
    expect(r.actions.map((a) => a.describe)).toEqual([`chmod 0600 ${path}`]);
  });
});
