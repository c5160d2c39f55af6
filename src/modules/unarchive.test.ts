/**
 * unarchive's decisions, data-driven: parameters + facts parsed from the real output of
 * its fact command (run read-only on directories made here) -> exact actions.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { containedProblem } from '../transport/contained.js';
import { checkParams } from './params.js';
import type { Decision, ModuleDef } from './types.js';
import { markerName, parseUnarchiveFact, unarchive, unarchiveFactCommand, type UnarchiveObserved, type UnarchiveParams } from './unarchive.js';

const dir = mkdtempSync(join(tmpdir(), 'ul-unarchive-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const dest = join(dir, 'dest');
mkdirSync(dest);
const archive = Buffer.from('not really a tarball, but bytes with a digest');
const sha = createHash('sha256').update(archive).digest('hex');
const remote = join(dir, 'a.tar');
writeFileSync(remote, archive);

function facts(cmd: Parameters<typeof unarchiveFactCommand>[0]) {
  return parseUnarchiveFact(execFileSync('/bin/sh', ['-c', unarchiveFactCommand(cmd).text], { encoding: 'utf8' }));
}
function decide(args: Record<string, unknown>, o: UnarchiveObserved): Decision {
  const { params, errors } = checkParams(unarchive as unknown as ModuleDef, args, { loadTime: false });
  expect(errors.map((e) => e.message)).toEqual([]);
  return unarchive.decide(params as UnarchiveParams, o, { checkMode: false, vars: {} });
}
const local = { path: '/ctl/files/a.tar', content: archive, sha256: sha };

describe('unarchive fact', () => {
  it('dest, markers, uid, tar; remote archive digests', () => {
    writeFileSync(join(dest, `${markerName(sha, {})}`), '');
    const f = facts({ dest, creates: join(dest, 'nope'), remoteSrc: remote, algo: 'sha512' });
    expect(f).toEqual({
      destIsDir: true,
      createsExists: false,
      markers: [markerName(sha, {})],
      uid: process.getuid!(),
      tar: true,
      srcExists: true,
      srcSha256: sha,
      srcDigest: createHash('sha512').update(archive).digest('hex'),
    });
    expect(facts({ dest: join(dir, 'none'), remoteSrc: join(dir, 'none.tar') })).toMatchObject({ destIsDir: false, markers: [] });
    expect(facts({ dest: join(dir, 'none'), remoteSrc: join(dir, 'none.tar') }).srcExists).toBeUndefined();
  });
});

describe('unarchive: decide', () => {
  it('not yet extracted: upload to a temporary file, extract, replace the marker', () => {
    const o: UnarchiveObserved = { ...facts({ dest: join(dir) }), local };
    const d = decide({ src: 'a.tar', dest: dir, strip_components: 1, include: ['x/y'], extra_opts: ['--exclude=*.md'] }, o);
    expect(d.changed).toBe(true);
    const marker = markerName(sha, { strip_components: 1, include: ['x/y'], extra_opts: ['--exclude=*.md'] });
    expect(d.actions.map((a) => a.describe)).toEqual([`upload /ctl/files/a.tar to /tmp/.underlay-unarchive-${sha.slice(0, 32)}`, `tar -x -f /tmp/.underlay-unarchive-${sha.slice(0, 32)} -C ${dir}`]);
    const run = d.actions[1]!;
    if (run.kind !== 'run') throw new Error('run expected');
    // run in the remote shell itself (contained.ts)
    expect([run.cmd.contained, containedProblem(run.cmd.text)]).toEqual([true, undefined]);
    const noSame = process.getuid!() === 0 ? '' : ' --no-same-owner';
    expect(run.cmd.text).toBe(
      `tar -x -v -f /tmp/.underlay-unarchive-${sha.slice(0, 32)} -C ${dir} --strip-components=1${noSame} '--exclude=*.md' -- x/y\nul_rc=$?\nrm -f -- /tmp/.underlay-unarchive-${sha.slice(0, 32)}\n[ "$ul_rc" = 0 ] || return "$ul_rc"\nrm -f -- ${dir}/.underlay-unarchive.*\ntrue > ${dir}/${marker}`,
    );
    expect(d.finish?.([{ command: '', exitCode: 0, stdout: 'x/\nx/y\n', stderr: '', durationMs: 1 }])).toEqual({ extracted: 2 });
  });

  it('already in the desired state: the marker of this archive and options exists -> no actions', () => {
    const d = decide({ src: 'a.tar', dest }, { ...facts({ dest }), local });
    expect(d.actions).toEqual([]);
    expect(d.changed).toBe(false);
    expect(d.msg).toBe(`/ctl/files/a.tar is already extracted in ${dest}`);
    // the same archive with other options is another extraction
    expect(decide({ src: 'a.tar', dest, strip_components: 1 }, { ...facts({ dest }), local }).changed).toBe(true);
    // remote_src: the host's digest names the marker; the archive is not removed after
    const r = decide({ src: remote, dest, remote_src: true }, facts({ dest, remoteSrc: remote }));
    expect(r.actions).toEqual([]);
    const other = decide({ src: remote, dest: dir, remote_src: true }, facts({ dest: dir, remoteSrc: remote }));
    expect(other.actions.map((a) => a.describe)).toEqual([`tar -x -f ${remote} -C ${dir}`]);
    expect(other.actions[0]!.kind === 'run' && other.actions[0]!.cmd.text).not.toContain(`rm -f -- ${remote}`);
  });

  it('creates short-circuits', () => {
    const d = decide({ src: 'a.tar', dest: join(dir, 'none'), creates: remote }, { ...facts({ dest: join(dir, 'none'), creates: remote }), local });
    expect(d.actions).toEqual([]);
    expect(d.msg).toBe(`skipped, since ${remote} exists`);
  });

  it('refusals: missing dest, checksum mismatch, zip, missing remote archive', () => {
    expect(decide({ src: 'a.tar', dest: join(dir, 'none') }, { ...facts({ dest: join(dir, 'none') }), local }).failed).toBe(`unarchive: dest ${join(dir, 'none')} is not an existing directory`);
    expect(decide({ src: 'a.tar', dest, checksum: `sha256:${'0'.repeat(64)}` }, { ...facts({ dest }), local }).failed).toBe(
      `unarchive: the checksum of /ctl/files/a.tar does not match: expected sha256:${'0'.repeat(64)}, got sha256:${sha}`,
    );
    expect(decide({ src: 'a.tar', dest, checksum: `sha256:${sha}` }, { ...facts({ dest }), local }).failed).toBeUndefined();
    const zip = { ...local, content: Buffer.from('PK\x03\x04rest', 'latin1') };
    expect(decide({ src: 'a.zip', dest }, { ...facts({ dest }), local: zip }).failed).toBe('unarchive: /ctl/files/a.tar is a zip archive; only tar archives are supported');
    expect(decide({ src: join(dir, 'none.tar'), dest, remote_src: true }, facts({ dest, remoteSrc: join(dir, 'none.tar') })).failed).toBe(`unarchive: ${join(dir, 'none.tar')} does not exist on the host`);
    expect(decide({ src: 'rel.tar', dest, remote_src: true }, facts({ dest })).failed).toMatch(/must be an absolute path on the host/);
  });
});
