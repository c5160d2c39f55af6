import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../errors.js';
import { arMembers, dpkgQueryCommand, parseAptCacheAge, parseAptPolicy, parseControl, parseDeb, parseDpkgQuery, readDebInfo } from './dpkg.js';

// Captured on a Debian 12 host (dpkg-query -W -f='${Package}\t${db:Status-Abbrev}\t${Version}\n'
// -- dash libc6 coreutils curl nonexistent-pkg; exit code 1 because of the last name), and
// for a package removed but not purged (status rc).
const DPKG_QUERY = 'coreutils\tii \t9.1-1\ncurl\tii \t7.88.1-10+deb12u15\ndash\tii \t0.5.12-2\nlibc6\tii \t2.36-9+deb12u14\n';
const DPKG_QUERY_RC = 'dash\tii \t0.5.12-2\nunderlay-test-pkg\trc \t1:1.0-1\n';

const APT_POLICY = `curl:
  Installed: 7.88.1-10+deb12u15
  Candidate: 7.88.1-10+deb12u15
  Version table:
 *** 7.88.1-10+deb12u15 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
        100 /var/lib/dpkg/status
     7.88.1-10+deb12u5 500
        500 http://deb.debian.org/debian-security bookworm-security/main amd64 Packages
dash:
  Installed: 0.5.12-2
  Candidate: 0.5.12-2
  Version table:
 *** 0.5.12-2 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
        100 /var/lib/dpkg/status
`;

const hasDpkg = existsSync('/usr/bin/dpkg-deb') && existsSync('/usr/bin/dpkg-query');
const dir = mkdtempSync(join(tmpdir(), 'ul-dpkg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function buildDeb(name: string, version: string, compression: 'gzip' | 'xz' | 'none'): string {
  const root = join(dir, `${name}-${compression}`);
  mkdirSync(join(root, 'DEBIAN'), { recursive: true });
  writeFileSync(join(root, 'DEBIAN', 'control'), `Package: ${name}\nVersion: ${version}\nArchitecture: all\nMaintainer: underlay tests <tests@underlay.invalid>\nDescription: a test package\n continued line\n`);
  const out = join(dir, `${name}-${compression}.deb`);
  execFileSync('dpkg-deb', [`-Z${compression}`, '--root-owner-group', '--build', root, out], { stdio: 'ignore' });
  return out;
}

describe('dpkg-query fact', () => {
  it('parses installed packages by name; unknown names are absent', () => {
    const m = parseDpkgQuery(DPKG_QUERY);
    expect([...m.keys()]).toEqual(['coreutils', 'curl', 'dash', 'libc6']);
    expect(m.get('curl')).toEqual({ name: 'curl', status: 'ii ', installed: true, version: '7.88.1-10+deb12u15' });
    expect(m.has('nonexistent-pkg')).toBe(false);
  });

  it('config-files-only (rc) is not installed', () => {
    expect(parseDpkgQuery(DPKG_QUERY_RC).get('underlay-test-pkg')).toEqual({ name: 'underlay-test-pkg', status: 'rc ', installed: false, version: '1:1.0-1' });
  });

  it.skipIf(!hasDpkg)('the command runs on this machine (read only) and parses', () => {
    let out = '';
    try {
      out = execFileSync('/bin/sh', ['-c', dpkgQueryCommand(['dash', 'underlay-no-such-package']).text], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch (e) {
      const x = e as { status: number; stdout: string };
      expect(x.status).toBe(1);
      out = x.stdout;
    }
    const m = parseDpkgQuery(out);
    expect(m.get('dash')?.installed).toBe(true);
    expect(m.has('underlay-no-such-package')).toBe(false);
  });
});

describe('apt facts', () => {
  it('apt-cache policy: installed and candidate', () => {
    const m = parseAptPolicy(APT_POLICY + 'foo:\n  Installed: (none)\n  Candidate: 1.0\n  Version table:\n');
    expect(m.get('curl')).toEqual({ installed: '7.88.1-10+deb12u15', candidate: '7.88.1-10+deb12u15' });
    expect(m.get('foo')).toEqual({ installed: null, candidate: '1.0' });
  });

  it('cache age from date and stat (captured: no update stamp, lists dir only)', () => {
    expect(parseAptCacheAge('1795601329\n1795599000\n')).toEqual({ now: 1795601329, updated: 1795599000, ageSeconds: 2329 });
    expect(parseAptCacheAge('1795601329\n')).toEqual({ now: 1795601329, updated: null, ageSeconds: null });
    expect(parseAptCacheAge('100\n50\n90\n').ageSeconds).toBe(10);
  });
});

describe('.deb fields', () => {
  it('control paragraphs with continuation lines', () => {
    expect(parseControl('Package: a\nDescription: x\n y\nVersion: 1\n\nPackage: b\n')).toEqual({ Package: 'a', Description: 'x\ny', Version: '1' });
  });

  it.skipIf(!hasDpkg)('gzip and plain control archives are read in-process', () => {
    for (const c of ['gzip', 'none'] as const) {
      const f = buildDeb('underlay-test-pkg', '1:2.0-3', c);
      expect(parseDeb(readFileSync(f))).toEqual({ package: 'underlay-test-pkg', version: '1:2.0-3', architecture: 'all' });
    }
  });

  it.skipIf(!hasDpkg)('xz control archives need dpkg-deb; readDebInfo uses it', async () => {
    const f = buildDeb('underlay-test-pkg', '1.0', 'xz');
    const buf = readFileSync(f);
    expect(arMembers(buf).map((m) => m.name)).toEqual(['debian-binary', 'control.tar.xz', 'data.tar.xz']);
    expect(parseDeb(buf)).toBeNull();
    expect(await readDebInfo(f, buf)).toEqual({ package: 'underlay-test-pkg', version: '1.0', architecture: 'all' });
  });

  it('a file that is not a .deb is an input error naming the file', async () => {
    await expect(readDebInfo('/x/notes.txt', Buffer.from('hello'))).rejects.toThrow(InputError);
    await expect(readDebInfo('/x/notes.txt', Buffer.from('hello'))).rejects.toThrow('/x/notes.txt: not a Debian package');
  });
});
