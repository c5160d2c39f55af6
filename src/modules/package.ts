/**
 * The `package` module, for Debian and Ubuntu (dpkg + apt).
 *
 * Observes in one round trip what dpkg knows of the named packages (`dpkg-query -W`),
 * and when needed the age of the apt cache and the candidate versions (`apt-cache
 * policy`, for `latest`). Then installs only the missing ones with
 * `DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends` (keeping
 * changed configuration files: --force-confdef --force-confold), or removes the installed
 * ones with `apt-get remove -y`.
 *
 * - `name=version` pins a version (`name=1.2*`: apt's prefix match); a pinned package
 *   installed at another version is installed again at the pinned one.
 * - `deb`: a .deb file on the controller. Its Package and Version are read on the
 *   controller: in-process from the ar archive when its control.tar is gzip or plain; for
 *   xz or zstd (the default of recent dpkg) with `dpkg-deb -f` (dpkg is on every Debian
 *   controller). When dpkg on the host already has that version installed nothing is
 *   done; otherwise the file is uploaded to /tmp and installed with `apt-get install -y
 *   /tmp/....deb` (dependencies resolved by apt), and the upload removed again.
 * - `update_cache` runs `apt-get update` first; with `cache_valid_time` (seconds, which
 *   implies update_cache, as in Ansible) only when the cache is older than that. A cache
 *   update alone is not reported as a change.
 * - `latest`: missing packages and those whose candidate is newer than the installed
 *   version are installed. When the cache is updated in the same task, the candidates
 *   are not known before the update: then every named package is passed to apt-get,
 *   the task reports changed and check mode calls it unpredictable.
 * - Names dpkg does not know (virtual packages, typos) are always passed to apt-get.
 */
import {
  aptCacheAgeCommand,
  aptPolicyCommand,
  dpkgQueryCommand,
  PACKAGE_NAME,
  PACKAGE_VERSION,
  parseAptCacheAge,
  parseAptPolicy,
  parseDpkgQuery,
  readDebInfo,
  type AptPolicy,
  type DebInfo,
  type DpkgPackage,
} from '../facts/dpkg.js';
import { createHash } from 'node:crypto';
import { CommandError } from '../errors.js';
import { sh, type ShellCommand } from '../transport/quote.js';
import type { Action, Decision, ModuleDef } from './types.js';

export interface PackageParams extends Record<string, unknown> {
  name?: string[];
  state: 'present' | 'absent' | 'latest';
  deb?: string;
  update_cache: boolean;
  cache_valid_time?: number;
  install_recommends: boolean;
}

export interface PackageObserved {
  packages: Map<string, DpkgPackage>;
  /** Seconds since the last cache update; null when never (or not asked). */
  cacheAge: number | null;
  cacheAgeKnown: boolean;
  policy?: Map<string, AptPolicy>;
  deb?: { path: string; content: Buffer; info: DebInfo; sha256: string };
}

export interface PackageSpec {
  /** As given to apt (`name`, `name:arch`). */
  name: string;
  /** The dpkg package name (arch qualifier removed). */
  pkg: string;
  version?: string;
}

export function parsePackageSpec(text: string): PackageSpec | string {
  const t = text.trim();
  const eq = t.indexOf('=');
  const name = eq < 0 ? t : t.slice(0, eq);
  const version = eq < 0 ? undefined : t.slice(eq + 1);
  if (!PACKAGE_NAME.test(name)) return `bad package name '${name}'`;
  if (version !== undefined && !PACKAGE_VERSION.test(version)) return `bad version '${version}' for ${name}`;
  return { name, pkg: name.replace(/:[a-z0-9-]+$/, ''), ...(version !== undefined ? { version } : {}) };
}

/** An installed version satisfies a pin: equal, equal without the epoch, or apt's `*` prefix. */
export function versionMatches(installed: string, pin: string): boolean {
  const noEpoch = (v: string) => v.replace(/^\d+:/, '');
  if (pin.endsWith('*')) {
    const prefix = pin.slice(0, -1);
    return installed.startsWith(prefix) || (!prefix.includes(':') && noEpoch(installed).startsWith(prefix));
  }
  return installed === pin || (!pin.includes(':') && noEpoch(installed) === pin);
}

const APT_ENV = sh`DEBIAN_FRONTEND=noninteractive`;
const APT_OPTS = ['-o', 'DPkg::Lock::Timeout=300', '-o', 'Dpkg::Options::=--force-confdef', '-o', 'Dpkg::Options::=--force-confold'];

function aptInstall(recommends: boolean): string[] {
  return ['apt-get', 'install', '-y', '-q', ...(recommends ? [] : ['--no-install-recommends']), ...APT_OPTS];
}

function installCmd(args: readonly string[], recommends: boolean): ShellCommand {
  return sh`${APT_ENV} ${[...aptInstall(recommends), '--', ...args]}`;
}

/** The upload is removed whatever apt-get says. */
function debInstallCmd(file: string, recommends: boolean): ShellCommand {
  return sh`${APT_ENV} ${[...aptInstall(recommends), file]}; ul_rc=$?; rm -f -- ${file}; exit $ul_rc`;
}

function removeCmd(names: readonly string[]): ShellCommand {
  return sh`${APT_ENV} apt-get remove -y -q -o DPkg::Lock::Timeout=300 -- ${names}`;
}

function wantsCacheUpdate(p: PackageParams): boolean {
  return p.update_cache || p.cache_valid_time !== undefined;
}

export const pkg: ModuleDef<PackageParams, PackageObserved> = {
  name: 'package',
  description: 'Install, upgrade or remove Debian/Ubuntu packages with apt (names, pinned versions, or a .deb from the controller).',
  schema: {
    params: {
      name: { type: 'list', elements: 'str', aliases: ['pkg'], description: 'Package names; `name=version` pins a version.' },
      state: { type: 'str', default: 'present', choices: ['present', 'absent', 'latest'], description: 'present: installed (any version unless pinned); latest: the candidate version; absent: removed.' },
      deb: { type: 'path', description: 'A .deb file on the controller (relative: looked up in files/) to install.' },
      update_cache: { type: 'bool', default: false, description: 'Run apt-get update first.' },
      cache_valid_time: { type: 'int', description: 'Update the cache only when older than this many seconds (implies update_cache).' },
      install_recommends: { type: 'bool', default: false, description: 'Also install recommended packages.' },
    },
    requiredOneOf: [['name', 'deb', 'update_cache', 'cache_valid_time']],
    mutuallyExclusive: [['name', 'deb']],
  },
  async observe(ctx, p) {
    let deb: PackageObserved['deb'];
    if (p.deb !== undefined) {
      const f = await ctx.readLocal('files', p.deb);
      deb = { path: f.path, content: f.content, info: await readDebInfo(f.path, f.content), sha256: createHash('sha256').update(f.content).digest('hex') };
    }
    const specs = (p.name ?? []).map(parsePackageSpec).filter((s): s is PackageSpec => typeof s !== 'string');
    const names = deb ? [deb.info.package] : [...new Set(specs.map((s) => s.pkg))];
    const cmds: ShellCommand[] = [];
    if (names.length > 0) cmds.push(dpkgQueryCommand(names));
    const askAge = p.cache_valid_time !== undefined;
    if (askAge) cmds.push(aptCacheAgeCommand());
    const askPolicy = p.state === 'latest' && specs.length > 0;
    if (askPolicy) cmds.push(aptPolicyCommand(specs.map((s) => s.name)));
    const rs = cmds.length > 0 ? await ctx.runBatch(cmds) : [];
    let i = 0;
    let packages = new Map<string, DpkgPackage>();
    if (names.length > 0) {
      const q = rs[i++]!;
      if (q.exitCode === 127) throw new CommandError('package: dpkg-query is not installed on this host (the package module supports Debian and Ubuntu)', q);
      if (q.exitCode !== 0 && q.exitCode !== 1) throw new CommandError(`package: dpkg-query failed: ${(q.stderr || q.stdout).trim()}`, q);
      packages = parseDpkgQuery(q.stdout);
    }
    let cacheAge: number | null = null;
    if (askAge) cacheAge = parseAptCacheAge(rs[i++]!.stdout).ageSeconds;
    let policy: Map<string, AptPolicy> | undefined;
    if (askPolicy) {
      const r = rs[i++]!;
      if (r.exitCode !== 0) throw new CommandError(`package: apt-cache policy failed: ${(r.stderr || r.stdout).trim()}`, r);
      policy = parseAptPolicy(r.stdout);
    }
    return { packages, cacheAge, cacheAgeKnown: askAge, ...(policy ? { policy } : {}), ...(deb ? { deb } : {}) };
  },
  decide(p, o): Decision {
    const fail = (why: string): Decision => ({ changed: false, actions: [], failed: `package: ${why}` });
    const specs: PackageSpec[] = [];
    for (const n of p.name ?? []) {
      const s = parsePackageSpec(n);
      if (typeof s === 'string') return fail(s);
      specs.push(s);
    }
    const actions: Action[] = [];
    const done: string[] = [];
    const updateCache = wantsCacheUpdate(p) && (p.cache_valid_time === undefined || o.cacheAge === null || o.cacheAge > p.cache_valid_time);
    if (updateCache) {
      actions.push({ kind: 'run', cmd: sh`apt-get update -q -o DPkg::Lock::Timeout=300`, describe: 'apt-get update' });
      done.push('cache updated');
    }
    const installed: string[] = [];
    const removed: string[] = [];
    let unpredictable = false;

    if (o.deb) {
      const { info } = o.deb;
      const have = o.packages.get(info.package);
      if (p.state === 'absent') {
        if (have?.installed) {
          actions.push({ kind: 'run', cmd: removeCmd([info.package]), describe: `apt-get remove ${info.package}` });
          removed.push(info.package);
        }
      } else if (!have?.installed || have.version !== info.version) {
        const remote = `/tmp/underlay-${o.deb.sha256.slice(0, 24)}.deb`;
        actions.push({ kind: 'upload', path: remote, content: o.deb.content, mode: 0o644, describe: `upload ${o.deb.path} to ${remote}` });
        actions.push({ kind: 'run', cmd: debInstallCmd(remote, p.install_recommends), describe: `apt-get install ${o.deb.path} (${info.package} ${info.version})` });
        installed.push(`${info.package}=${info.version}`);
      }
    } else if (p.state === 'absent') {
      const names = specs.filter((s) => {
        const have = o.packages.get(s.pkg);
        return have?.installed && (s.version === undefined || versionMatches(have.version, s.version));
      });
      if (names.length > 0) {
        actions.push({ kind: 'run', cmd: removeCmd(names.map((s) => s.name)), describe: `apt-get remove ${names.map((s) => s.name).join(' ')}` });
        removed.push(...names.map((s) => s.name));
      }
    } else {
      const todo: string[] = [];
      for (const s of specs) {
        const have = o.packages.get(s.pkg);
        let need: boolean;
        if (!have?.installed) need = true;
        else if (s.version !== undefined) need = !versionMatches(have.version, s.version);
        else if (p.state === 'latest') {
          if (updateCache) {
            need = true;
            unpredictable = true;
          } else {
            const cand = o.policy?.get(s.pkg)?.candidate ?? null;
            need = cand !== null && cand !== have.version;
          }
        } else need = false;
        if (need) todo.push(s.version !== undefined ? `${s.name}=${s.version}` : s.name);
      }
      if (todo.length > 0) {
        actions.push({ kind: 'run', cmd: installCmd(todo, p.install_recommends), describe: `apt-get install ${todo.join(' ')}` });
        installed.push(...todo);
      }
    }
    if (installed.length > 0) done.push(`installed ${installed.join(', ')}`);
    if (removed.length > 0) done.push(`removed ${removed.join(', ')}`);
    const changed = installed.length > 0 || removed.length > 0;
    const subject = o.deb ? `${o.deb.info.package} ${o.deb.info.version}` : specs.map((s) => s.name).join(', ');
    const state = p.state === 'absent' ? 'absent' : p.state === 'latest' ? 'at the latest version' : 'installed';
    return {
      changed,
      ...(unpredictable ? { unpredictable } : {}),
      actions,
      msg: done.length > 0 ? done.join('; ') : subject === '' ? 'nothing to do' : `${subject}: already ${state}`,
      result: { installed, removed, cache_updated: updateCache },
    };
  },
};

/** `package` is a reserved word in JavaScript: the module is the const `pkg`, also exported as `package`. */
export { pkg as package };
