/**
 * get_url's decisions, data-driven: parameters + facts parsed from the real output of its
 * fact command (run read-only on files made here) -> exact actions. The download script
 * itself runs end to end in system.local.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { get_url, getUrlFactCommand, parseChecksum, parseGetUrlFact, urlFileName, type GetUrlObserved, type GetUrlParams } from './get_url.js';
import { checkParams } from './params.js';
import type { Decision, ModuleDef } from './types.js';

const dir = mkdtempSync(join(tmpdir(), 'ul-get_url-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const content = 'payload\n';
const sha = createHash('sha256').update(content).digest('hex');
const file = join(dir, 'f.txt');
writeFileSync(file, content);
chmodSync(file, 0o640);
mkdirSync(join(dir, 'sub'));

function observe(dest: string, url: string, algo?: 'sha256' | 'sha512'): GetUrlObserved {
  return parseGetUrlFact(execFileSync('/bin/sh', ['-c', getUrlFactCommand(dest, urlFileName(url), algo).text], { encoding: 'utf8' }));
}
function decide(args: Record<string, unknown>, o: GetUrlObserved): Decision {
  const { params, errors } = checkParams(get_url as unknown as ModuleDef, args, { loadTime: false });
  expect(errors.map((e) => e.message)).toEqual([]);
  return get_url.decide(params as GetUrlParams, o, { checkMode: false, vars: {} });
}
const URL = 'http://127.0.0.1:8080/dist/f.txt';

describe('get_url fact', () => {
  it('an existing file: stat and digest; the download tools', () => {
    const o = observe(file, URL, 'sha256');
    const me = execFileSync('id', ['-un'], { encoding: 'utf8' }).trim();
    expect(o).toMatchObject({ destIsDir: false, exists: true, mode: 0o640, owner: me, uid: process.getuid!(), digest: sha, parentExists: true });
    expect(typeof o.curl).toBe('boolean');
  });

  it('a directory dest: the file named by the URL inside it', () => {
    expect(observe(join(dir, 'sub'), URL)).toMatchObject({ destIsDir: true, exists: false });
    writeFileSync(join(dir, 'sub', 'f.txt'), 'x');
    expect(observe(join(dir, 'sub'), URL, 'sha256')).toMatchObject({ destIsDir: true, exists: true, digest: createHash('sha256').update('x').digest('hex') });
  });

  it('absent file, absent directory', () => {
    expect(observe(join(dir, 'none.txt'), URL)).toMatchObject({ exists: false, parentExists: true });
    expect(observe(join(dir, 'no', 'none.txt'), URL)).toMatchObject({ exists: false, parentExists: false });
  });
});

describe('get_url: decide', () => {
  const base: GetUrlObserved = { destIsDir: false, exists: false, curl: true, wget: true, parentExists: true };

  it('already in the desired state: checksum matches -> no actions (force or not)', () => {
    for (const force of [false, true]) {
      const d = decide({ url: URL, dest: file, checksum: `sha256:${sha}`, force }, observe(file, URL, 'sha256'));
      expect(d.actions).toEqual([]);
      expect(d.changed).toBe(false);
      expect(d.msg).toBe(`${file} has the expected sha256`);
    }
  });

  it('no checksum: an existing file is left alone unless force (then unpredictable)', () => {
    expect(decide({ url: URL, dest: file }, observe(file, URL)).actions).toEqual([]);
    const f = decide({ url: URL, dest: file, force: true }, observe(file, URL));
    expect(f.changed).toBe(true);
    expect(f.unpredictable).toBe(true);
    expect(f.actions.map((a) => a.describe)).toEqual([`download ${URL} to ${file} (curl)`]);
  });

  it('a mismatching file is downloaded: temp file beside dest, verify, attributes, rename', () => {
    const d = decide({ url: URL, dest: file, checksum: `sha256:${'b'.repeat(64)}`, mode: '0600', owner: 'root', group: 'root' }, observe(file, URL, 'sha256'));
    expect(d.changed).toBe(true);
    expect(d.unpredictable).toBeUndefined();
    expect(d.msg).toBe(`${file}: downloaded from ${URL} (its sha256 is ${sha})`);
    const a = d.actions[0]!;
    if (a.kind !== 'run') throw new Error('run expected');
    const t = a.cmd.text;
    expect(t).toContain(`ul_tmp=$(mktemp ${dir}/.f.txt.underlay-XXXXXX) || exit 1`);
    expect(t).toContain(`curl -fsSL --connect-timeout 10 --speed-time 10 --speed-limit 1 -o "$ul_tmp" --url ${URL}`);
    expect(t).toContain(`if [ "$ul_got" != ${'b'.repeat(64)} ]; then`);
    expect(t).toContain('chown -- root:root "$ul_tmp"');
    expect(t).toContain('chmod 0600 "$ul_tmp"');
    expect(t).toContain(`mv -f -- "$ul_tmp" ${file}`);
    expect(t.indexOf('chown')).toBeLessThan(t.indexOf('chmod 0600'));
  });

  it('matching content, other attributes: chmod/chown only', () => {
    const d = decide({ url: URL, dest: file, checksum: `sha256:${sha}`, mode: '0644', owner: String(process.getuid!()) }, observe(file, URL, 'sha256'));
    expect(d.actions.map((a) => a.describe)).toEqual([`chmod 0644 ${file}`]);
    const o = decide({ url: URL, dest: file, checksum: `sha256:${sha}`, owner: 'nobody' }, observe(file, URL, 'sha256'));
    expect(o.actions.map((a) => a.describe)).toEqual([`chown nobody ${file}`]);
  });

  it('wget when curl is missing; cp for file:// URLs (no download tool needed)', () => {
    const w = decide({ url: URL, dest: '/x/f' }, { ...base, curl: false });
    expect(w.actions[0]!.kind === 'run' && w.actions[0]!.cmd.text).toContain(`wget -q -T 10 -O "$ul_tmp" -- ${URL}`);
    const c = decide({ url: 'file:///srv/my%20file.tar', dest: '/x/f' }, { ...base, curl: false, wget: false });
    expect(c.actions[0]!.kind === 'run' && c.actions[0]!.cmd.text).toContain(`cp -- '/srv/my file.tar' "$ul_tmp"`);
  });

  it('refusals', () => {
    expect(decide({ url: URL, dest: '/x/f' }, { ...base, curl: false, wget: false }).failed).toBe(`get_url: neither curl nor wget is installed on this host; install one of them to download ${URL}`);
    expect(decide({ url: URL, dest: 'rel' }, base).failed).toMatch(/absolute path/);
    expect(decide({ url: 'gopher://x/y', dest: '/x/f' }, base).failed).toMatch(/unsupported URL scheme 'gopher'/);
    expect(decide({ url: 'http://x/', dest: '/x' }, { ...base, destIsDir: true }).failed).toMatch(/has no file name/);
    expect(decide({ url: URL, dest: '/x/f' }, { ...base, parentExists: false }).failed).toBe('get_url: the directory of /x/f does not exist');
    expect(decide({ url: URL, dest: '/x/f', checksum: 'sha256:abc' }, base).failed).toBe('get_url: a sha256 checksum has 64 hex digits, got 3');
    expect(decide({ url: 'file://otherhost/x', dest: '/x/f' }, base).failed).toMatch(/on the host itself/);
  });

  it('checksums', () => {
    expect(parseChecksum(`SHA256:${sha}`)).toEqual({ algo: 'sha256', hex: sha });
    expect(parseChecksum('sha256 abc')).toMatch(/^checksum must look like/);
    expect(parseChecksum(`sha512:${'A'.repeat(128)}`)).toEqual({ algo: 'sha512', hex: 'a'.repeat(128) });
    expect(parseChecksum('crc32:1234')).toMatch(/unsupported checksum algorithm 'crc32'/);
    expect(urlFileName('https://x/a/b.tar.gz?x=1')).toBe('b.tar.gz');
    expect(urlFileName('https://x/a/')).toBeUndefined();
  });
});
