/**
 * The `unarchive` module: extract a tar archive (plain, gzip, xz, bzip2, zstd: GNU tar
 * recognises the compression itself) into an existing directory.
 *
 * `src` is a file on the controller (found like `copy`'s src), uploaded to a temporary
 * file on the host and removed after extraction; with `remote_src`, a file on the host.
 *
 * Idempotence: a marker `DEST/.underlay-unarchive.<sha256>` records that this exact archive
 * with these options was extracted, where <sha256> is the SHA-256 of the archive's own
 * SHA-256 plus the options (include, extra_opts, strip_components). Marker present: nothing
 * to do. A new extraction replaces older markers. `creates` short-circuits too. Files
 * changed later inside dest are not noticed (the archive is not compared member by member).
 * As root, owners recorded in the archive are kept (tar's default); otherwise
 * `--no-same-owner`. zip archives are not supported (tar only).
 */
import { createHash } from 'node:crypto';
import { effectiveUidCommand } from '../facts/content.js';
import { contained, sh, type ShellCommand } from '../transport/quote.js';
import { parseChecksum, type DigestName } from './get_url.js';
import type { Action, Decision, ExecResult, ModuleDef } from './types.js';

export interface UnarchiveParams extends Record<string, unknown> {
  src: string;
  dest: string;
  remote_src: boolean;
  creates?: string;
  include?: string[];
  extra_opts?: string[];
  strip_components?: number;
  checksum?: string;
}

export interface UnarchiveFacts {
  destIsDir: boolean;
  createsExists: boolean;
  markers: string[];
  uid: number | null;
  tar: boolean;
  /** remote_src: the archive exists and its digests. */
  srcExists?: boolean;
  srcSha256?: string;
  srcDigest?: string;
}

export interface UnarchiveObserved extends UnarchiveFacts {
  /** Controller src: where it was found, its content and SHA-256. */
  local?: { path: string; content: Buffer; sha256: string; digest?: string };
}

const MARKER_PREFIX = '.underlay-unarchive.';

/** The marker name for an archive digest and the options that shape the extraction. */
export function markerName(archiveSha256: string, p: Pick<UnarchiveParams, 'include' | 'extra_opts' | 'strip_components'>): string {
  const key = JSON.stringify({ archive: archiveSha256, include: p.include ?? [], extra_opts: p.extra_opts ?? [], strip_components: p.strip_components ?? 0 });
  return MARKER_PREFIX + createHash('sha256').update(key).digest('hex');
}

/** One command: dest, creates, existing markers, uid, tar, and (remote_src) the archive's digests. */
export function unarchiveFactCommand(p: { dest: string; creates?: string; remoteSrc?: string; algo?: DigestName }): ShellCommand {
  const creates = p.creates !== undefined ? sh`if [ -e ${p.creates} ]; then echo creates=1; fi` : sh`:`;
  const src =
    p.remoteSrc !== undefined
      ? sh`if [ -f ${p.remoteSrc} ]; then
  echo src_exists=1
  echo "src_sha256=$(sha256sum < ${p.remoteSrc} | cut -d ' ' -f 1)"
  ${p.algo !== undefined && p.algo !== 'sha256' ? sh`echo "src_digest=$(${`${p.algo}sum`} < ${p.remoteSrc} | cut -d ' ' -f 1)"` : sh`:`}
fi`
      : sh`:`;
  return contained(sh`if [ -d ${p.dest} ]; then
  echo dest_is_dir=1
  for ul_m in ${p.dest}/.underlay-unarchive.*; do [ -e "$ul_m" ] && echo "marker=\${ul_m##*/}"; done
fi
${creates}
printf uid=; ${effectiveUidCommand()}
if command -v tar >/dev/null 2>&1; then echo tar=1; fi
${src}`);
}

export function parseUnarchiveFact(stdout: string): UnarchiveFacts {
  const out: UnarchiveFacts = { destIsDir: false, createsExists: false, markers: [], uid: null, tar: false };
  for (const line of stdout.split('\n')) {
    const i = line.indexOf('=');
    if (i <= 0) continue;
    const k = line.slice(0, i);
    const v = line.slice(i + 1).trim();
    if (k === 'dest_is_dir') out.destIsDir = v === '1';
    else if (k === 'creates') out.createsExists = v === '1';
    else if (k === 'marker') out.markers.push(v);
    else if (k === 'uid' && /^\d+$/.test(v)) out.uid = Number(v);
    else if (k === 'tar') out.tar = v === '1';
    else if (k === 'src_exists') out.srcExists = v === '1';
    else if (k === 'src_sha256' && v !== '') out.srcSha256 = v.toLowerCase();
    else if (k === 'src_digest' && v !== '') out.srcDigest = v.toLowerCase();
  }
  return out;
}

function extractCommand(archive: string, p: UnarchiveParams, noSameOwner: boolean, marker: string, removeArchive: boolean): ShellCommand {
  const opts: string[] = ['-x', '-v', '-f', archive, '-C', p.dest];
  if (p.strip_components !== undefined && p.strip_components > 0) opts.push(`--strip-components=${p.strip_components}`);
  if (noSameOwner) opts.push('--no-same-owner');
  opts.push(...(p.extra_opts ?? []));
  const members = p.include && p.include.length > 0 ? sh` -- ${p.include}` : sh``;
  const cleanup = removeArchive ? sh`rm -f -- ${archive}` : sh`:`;
  return contained(sh`tar ${opts}${members}
ul_rc=$?
${cleanup}
[ "$ul_rc" = 0 ] || return "$ul_rc"
rm -f -- ${p.dest}/.underlay-unarchive.*
true > ${`${p.dest}/${marker}`}`);
}

export const unarchive: ModuleDef<UnarchiveParams, UnarchiveObserved> = {
  name: 'unarchive',
  description: 'Extract a tar archive (gz, xz, bz2, zstd) from the controller or the host into a directory, once per archive and options.',
  schema: {
    params: {
      src: { type: 'path', required: true, description: 'The archive: a controller file (relative: looked up in files/), or a host path with remote_src.' },
      dest: { type: 'path', required: true, description: 'An existing directory (absolute) to extract into.' },
      remote_src: { type: 'bool', default: false, description: 'src is already on the host.' },
      creates: { type: 'path', description: 'When this path exists, nothing is extracted.' },
      include: { type: 'list', elements: 'str', description: 'Only these members (names as in the archive).' },
      extra_opts: { type: 'list', elements: 'str', description: 'More options for tar, one word each.' },
      strip_components: { type: 'int', description: 'Remove this many leading path components of member names.' },
      checksum: { type: 'str', description: 'Expected digest of the archive, `sha256:HEX` (or sha512...): checked before extracting.' },
    },
  },
  async observe(ctx, p) {
    const sum = p.checksum !== undefined ? parseChecksum(p.checksum) : undefined;
    const algo = sum !== undefined && typeof sum !== 'string' ? sum.algo : undefined;
    let local: UnarchiveObserved['local'];
    if (!p.remote_src) {
      const f = await ctx.readLocal('files', p.src);
      local = {
        path: f.path,
        content: f.content,
        sha256: createHash('sha256').update(f.content).digest('hex'),
        ...(algo !== undefined ? { digest: createHash(algo).update(f.content).digest('hex') } : {}),
      };
    }
    const r = await ctx.run(
      unarchiveFactCommand({
        dest: p.dest,
        ...(p.creates !== undefined ? { creates: p.creates } : {}),
        ...(p.remote_src ? { remoteSrc: p.src } : {}),
        ...(algo !== undefined ? { algo } : {}),
      }),
    );
    return { ...parseUnarchiveFact(r.stdout), ...(local ? { local } : {}) };
  },
  decide(p, o): Decision {
    const fail = (why: string): Decision => ({ changed: false, actions: [], failed: `unarchive: ${why}` });
    if (!p.dest.startsWith('/')) return fail(`dest must be an absolute path, got '${p.dest}'`);
    if (p.remote_src && !p.src.startsWith('/')) return fail(`with remote_src, src must be an absolute path on the host, got '${p.src}'`);
    if (p.strip_components !== undefined && p.strip_components < 0) return fail('strip_components must not be negative');
    const sum = p.checksum !== undefined ? parseChecksum(p.checksum) : undefined;
    if (typeof sum === 'string') return fail(sum);
    const base = { dest: p.dest, src: o.local?.path ?? p.src };
    if (p.creates !== undefined && o.createsExists) return { changed: false, actions: [], msg: `skipped, since ${p.creates} exists`, result: { ...base, extracted: 0 } };
    if (!o.destIsDir) return fail(`dest ${p.dest} is not an existing directory`);
    if (!o.tar) return fail('tar is not installed on this host');
    let sha256: string;
    if (o.local) {
      if (o.local.content.subarray(0, 4).equals(Buffer.from('PK\x03\x04', 'latin1'))) return fail(`${o.local.path} is a zip archive; only tar archives are supported`);
      sha256 = o.local.sha256;
    } else {
      if (!o.srcExists || o.srcSha256 === undefined) return fail(`${p.src} does not exist on the host`);
      sha256 = o.srcSha256;
    }
    if (sum) {
      const got = sum.algo === 'sha256' ? sha256 : (o.local?.digest ?? o.srcDigest);
      if (got !== sum.hex) return fail(`the checksum of ${base.src} does not match: expected ${sum.algo}:${sum.hex}, got ${sum.algo}:${got ?? 'unknown'}`);
    }
    const marker = markerName(sha256, p);
    const result = { ...base, archive_sha256: sha256, marker: `${p.dest.replace(/\/+$/, '')}/${marker}` };
    if (o.markers.includes(marker)) return { changed: false, actions: [], msg: `${base.src} is already extracted in ${p.dest}`, result: { ...result, extracted: 0 } };
    const noSameOwner = o.uid !== 0;
    const actions: Action[] = [];
    let archive = p.src;
    if (o.local) {
      archive = `/tmp/.underlay-unarchive-${sha256.slice(0, 32)}`;
      actions.push({ kind: 'upload', path: archive, content: o.local.content, mode: 0o600, describe: `upload ${o.local.path} to ${archive}` });
    }
    actions.push({ kind: 'run', cmd: extractCommand(archive, p, noSameOwner, marker, o.local !== undefined), describe: `tar -x -f ${archive} -C ${p.dest}` });
    return {
      changed: true,
      actions,
      msg: `${base.src} extracted into ${p.dest}`,
      result,
      finish: (rs: ExecResult[]) => {
        const out = rs[rs.length - 1]?.stdout ?? '';
        const members = out.split('\n').filter((l) => l !== '');
        return { extracted: members.length };
      },
    };
  },
};
