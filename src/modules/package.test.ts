/**
 * The package module's decisions, data-driven: parameters + facts parsed from real output
 * of dpkg-query, apt-cache policy and the cache-age command (captured on a Debian 12 host)
 * -> exact actions. Installing and removing for real: system.local.test.ts (a .deb built
 * there, as root).
 */
import { describe, expect, it } from 'vitest';
import { parseAptCacheAge, parseAptPolicy, parseDpkgQuery } from '../facts/dpkg.js';
import { checkParams } from './params.js';
import { parsePackageSpec, pkg, versionMatches, type PackageObserved, type PackageParams } from './package.js';
import type { Decision, ModuleDef } from './types.js';

// dpkg-query -W -f='${Package}\t${db:Status-Abbrev}\t${Version}\n' -- ... (exit code 1: some unknown)
const DPKG = 'coreutils\tii \t9.1-1\ncurl\tii \t7.88.1-10+deb12u15\ndash\tii \t0.5.12-2\nlibc6\tii \t2.36-9+deb12u14\nunderlay-test-pkg\trc \t1:1.0-1\n';
const POLICY = `curl:
  Installed: 7.88.1-10+deb12u15
  Candidate: 7.88.1-10+deb12u15
  Version table:
 *** 7.88.1-10+deb12u15 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
        100 /var/lib/dpkg/status
dash:
  Installed: 0.5.12-2
  Candidate: 0.5.12-3
  Version table:
     0.5.12-3 500
        500 http://deb.debian.org/debian bookworm-updates/main amd64 Packages
 *** 0.5.12-2 500
        100 /var/lib/dpkg/status
`;

function observed(extra: Partial<PackageObserved> = {}): PackageObserved {
  return { packages: parseDpkgQuery(DPKG), cacheAge: null, cacheAgeKnown: false, ...extra };
}
function decide(args: Record<string, unknown>, o: PackageObserved): Decision {
  const { params, errors } = checkParams(pkg as unknown as ModuleDef, args, { loadTime: false });
  expect(errors.map((e) => e.message)).toEqual([]);
  return pkg.decide(params as PackageParams, o, { checkMode: false, vars: {} });
}
const texts = (d: Decision) => d.actions.map((a) => (a.kind === 'upload' ? `upload ${a.path}` : a.cmd.text));
const OPTS = "-o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold";

describe('package: decide', () => {
  it('already in the desired state: no actions', () => {
    for (const args of [
      { name: ['dash', 'curl'] },
      { name: 'dash,coreutils', state: 'present' },
      { name: ['curl=7.88.1-10+deb12u15', 'dash=0.5.12*'] },
      { name: ['underlay-test-pkg', 'nonexistent-pkg'], state: 'absent' },
      { name: ['curl'], state: 'latest' },
    ]) {
      const d = decide(args, observed({ policy: parseAptPolicy(POLICY) }));
      expect(d.failed).toBeUndefined();
      expect(d.actions).toEqual([]);
      expect(d.changed).toBe(false);
    }
    expect(decide({ name: ['dash', 'curl'] }, observed()).msg).toBe('dash, curl: already installed');
  });

  it('installs only what is missing or pinned to another version', () => {
    const d = decide({ name: ['dash', 'nonexistent-pkg', 'curl=7.88.1-10+deb12u5', 'underlay-test-pkg'] }, observed());
    expect(d.changed).toBe(true);
    expect(texts(d)).toEqual([`DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ${OPTS} -- nonexistent-pkg curl=7.88.1-10+deb12u5 underlay-test-pkg`]);
    expect(d.result).toEqual({ installed: ['nonexistent-pkg', 'curl=7.88.1-10+deb12u5', 'underlay-test-pkg'], removed: [], cache_updated: false });
    expect(d.msg).toBe('installed nonexistent-pkg, curl=7.88.1-10+deb12u5, underlay-test-pkg');
    expect(texts(decide({ name: ['nonexistent-pkg'], install_recommends: true }, observed()))[0]).toBe(`DEBIAN_FRONTEND=noninteractive apt-get install -y -q ${OPTS} -- nonexistent-pkg`);
  });

  it('removes only what is installed (rc is not installed)', () => {
    const d = decide({ name: ['dash', 'nonexistent-pkg', 'underlay-test-pkg', 'curl=1.0'], state: 'absent' }, observed());
    expect(texts(d)).toEqual(['DEBIAN_FRONTEND=noninteractive apt-get remove -y -q -o DPkg::Lock::Timeout=300 -- dash']);
    expect(d.result).toEqual({ installed: [], removed: ['dash'], cache_updated: false });
  });

  it('latest: upgrades where the candidate differs', () => {
    const d = decide({ name: ['dash', 'curl'], state: 'latest' }, observed({ policy: parseAptPolicy(POLICY) }));
    expect(d.result).toMatchObject({ installed: ['dash'] });
    expect(d.unpredictable).toBeUndefined();
  });

  it('cache: updated when older than cache_valid_time; a cache update alone is not a change', () => {
    const age = parseAptCacheAge('1795601329\n1795599000\n'); // 2329 s old
    const stale = decide({ update_cache: true, cache_valid_time: 600 }, observed({ cacheAge: age.ageSeconds, cacheAgeKnown: true }));
    expect(texts(stale)).toEqual(['apt-get update -q -o DPkg::Lock::Timeout=300']);
    expect(stale.changed).toBe(false);
    expect(stale.result).toMatchObject({ cache_updated: true });
    const fresh = decide({ cache_valid_time: 3600, name: ['dash'] }, observed({ cacheAge: age.ageSeconds, cacheAgeKnown: true }));
    expect(fresh.actions).toEqual([]);
    const never = decide({ cache_valid_time: 3600, name: ['dash'] }, observed({ cacheAge: parseAptCacheAge('1795601329\n').ageSeconds, cacheAgeKnown: true }));
    expect(texts(never)).toEqual(['apt-get update -q -o DPkg::Lock::Timeout=300']);
  });

  it('latest after a cache update cannot be predicted: every name is passed to apt', () => {
    const d = decide({ name: ['dash', 'curl'], state: 'latest', update_cache: true }, observed({ policy: parseAptPolicy(POLICY) }));
    expect(d.unpredictable).toBe(true);
    expect(d.changed).toBe(true);
    expect(texts(d)).toEqual(['apt-get update -q -o DPkg::Lock::Timeout=300', `DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ${OPTS} -- dash curl`]);
  });

  it('deb: nothing when that version is installed; else upload, install, remove the upload', () => {
    const content = Buffer.from('deb bytes');
    const deb = (version: string) => ({ path: '/ctl/files/t.deb', content, sha256: 'ab'.repeat(32), info: { package: 'curl', version } });
    const same = decide({ deb: 't.deb' }, observed({ deb: deb('7.88.1-10+deb12u15') }));
    expect(same.actions).toEqual([]);
    expect(same.msg).toBe('curl 7.88.1-10+deb12u15: already installed');
    const other = decide({ deb: 't.deb' }, observed({ deb: deb('8.0-1') }));
    const remote = `/tmp/underlay-${'ab'.repeat(12)}.deb`;
    expect(texts(other)).toEqual([`upload ${remote}`, `DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ${OPTS} ${remote}; ul_rc=$?; rm -f -- ${remote}; exit $ul_rc`]);
    expect(other.actions[0]).toMatchObject({ kind: 'upload', content, mode: 0o644 });
    expect(other.result).toMatchObject({ installed: ['curl=8.0-1'] });
    expect(texts(decide({ deb: 't.deb', state: 'absent' }, observed({ deb: deb('8.0-1') })))).toEqual(['DEBIAN_FRONTEND=noninteractive apt-get remove -y -q -o DPkg::Lock::Timeout=300 -- curl']);
  });

  it('names, versions and pins', () => {
    expect(parsePackageSpec('libc6:amd64=2.36-9')).toEqual({ name: 'libc6:amd64', pkg: 'libc6', version: '2.36-9' });
    expect(parsePackageSpec('Bad_Name')).toBe("bad package name 'Bad_Name'");
    expect(parsePackageSpec('x11=1.0;rm')).toBe("bad version '1.0;rm' for x11");
    expect(versionMatches('1:1.0-1', '1.0-1')).toBe(true);
    expect(versionMatches('1:1.0-1', '2:1.0-1')).toBe(false);
    expect(versionMatches('7.88.1-10+deb12u15', '7.88*')).toBe(true);
    expect(decide({ name: ['Bad_Name'] }, observed()).failed).toBe("package: bad package name 'Bad_Name'");
    const { errors } = checkParams(pkg as unknown as ModuleDef, { state: 'present' }, { loadTime: false });
    expect(errors.map((e) => e.message)).toEqual(["module 'package': one of name, deb, update_cache, cache_valid_time is required"]);
  });
});
