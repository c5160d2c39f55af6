/**
 * The `get_url` module: download a file on the host itself (curl, else wget; `file://`
 * URLs are copied with cp), into a temporary file next to `dest`, verify its checksum
 * there, set mode/owner/group, then rename it over `dest`: `dest` is never half-written.
 *
 * Idempotence: with `checksum`, a `dest` whose digest matches is left alone (only its
 * mode/owner/group are corrected), `force` or not: the content is proven to be the same.
 * Without `checksum`, an existing `dest` is left alone unless `force`; with `force` it is
 * downloaded every time and the task reports changed (what the server sends cannot be
 * known before it is fetched, so check mode reports it as unpredictable).
 * `timeout` bounds connecting and any stall of the transfer (curl --connect-timeout and
 * --speed-time; wget -T), not the length of a large download.
 */
import { sh, type ShellCommand } from '../transport/quote.js';
import type { Action, Decision, ExecResult, ModuleDef } from './types.js';

export interface GetUrlParams extends Record<string, unknown> {
  url: string;
  dest: string;
  checksum?: string;
  mode?: number;
  owner?: string;
  group?: string;
  force: boolean;
  timeout: number;
}

export const DIGESTS = { md5: 32, sha1: 40, sha224: 56, sha256: 64, sha384: 96, sha512: 128 } as const;
export type DigestName = keyof typeof DIGESTS;

/** `sha256:HEX` (also sha512, sha384, sha224, sha1, md5) to its parts, or why not. */
export function parseChecksum(text: string): { algo: DigestName; hex: string } | string {
  const m = /^([A-Za-z0-9]+):([0-9A-Fa-f]+)$/.exec(text.trim());
  if (!m) return `checksum must look like sha256:HEX, got '${text}'`;
  const algo = m[1]!.toLowerCase() as DigestName;
  if (!Object.hasOwn(DIGESTS, algo)) return `unsupported checksum algorithm '${m[1]}' (use ${Object.keys(DIGESTS).join(', ')})`;
  if (m[2]!.length !== DIGESTS[algo]) return `a ${algo} checksum has ${DIGESTS[algo]} hex digits, got ${m[2]!.length}`;
  return { algo, hex: m[2]!.toLowerCase() };
}

export interface GetUrlObserved {
  destIsDir: boolean;
  exists: boolean;
  /** Of the target file (dest, or dest/NAME when dest is a directory). */
  mode?: number;
  owner?: string;
  group?: string;
  uid?: number;
  gid?: number;
  digest?: string;
  curl: boolean;
  wget: boolean;
  parentExists: boolean;
}

/** The file name a URL gives (for a dest that is a directory). */
export function urlFileName(url: string): string | undefined {
  try {
    const u = new URL(url);
    const last = u.pathname.split('/').pop() ?? '';
    const name = decodeURIComponent(last);
    return name === '' || name === '.' || name === '..' || name.includes('/') ? undefined : name;
  } catch {
    return undefined;
  }
}

function dirOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

/** One command: what is at dest (and dest/NAME), its digest, and the download tools. */
export function getUrlFactCommand(dest: string, name: string | undefined, algo: DigestName | undefined): ShellCommand {
  const sum = algo ? sh`echo "digest=$(${`${algo}sum`} < "$ul_t" | cut -d ' ' -f 1)"` : sh`:`;
  const alt = name !== undefined ? `${dest.replace(/\/+$/, '')}/${name}` : '';
  return sh`LC_ALL=C; export LC_ALL
ul_t=${dest}
if [ -d "$ul_t" ]; then echo dest_is_dir=1; ul_t=${alt}; fi
if [ -n "$ul_t" ] && [ -f "$ul_t" ]; then
  echo exists=1
  echo "stat=$(stat -c '%a %U %G %u %g' -- "$ul_t")"
  ${sum}
fi
if [ -d "$(dirname -- ${dest})" ]; then echo parent_exists=1; fi
if command -v curl >/dev/null 2>&1; then echo curl=1; fi
if command -v wget >/dev/null 2>&1; then echo wget=1; fi`;
}

export function parseGetUrlFact(stdout: string): GetUrlObserved {
  const kv = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) kv.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  const out: GetUrlObserved = {
    destIsDir: kv.get('dest_is_dir') === '1',
    exists: kv.get('exists') === '1',
    curl: kv.get('curl') === '1',
    wget: kv.get('wget') === '1',
    parentExists: kv.get('parent_exists') === '1',
  };
  const st = kv.get('stat')?.split(' ');
  if (st && st.length === 5) {
    out.mode = Number.parseInt(st[0]!, 8);
    out.owner = st[1]!;
    out.group = st[2]!;
    out.uid = Number(st[3]);
    out.gid = Number(st[4]);
  }
  const d = kv.get('digest');
  if (d) out.digest = d.toLowerCase();
  return out;
}

function ownerDiffers(want: string | undefined, name: string | undefined, id: number | undefined): boolean {
  if (want === undefined) return false;
  return /^\d+$/.test(want) ? Number(want) !== id : want !== name;
}

/**
 * The download script: fetch to a temporary file beside dest, verify, set attributes,
 * rename. Prints `sha256=HEX` of what was installed.
 */
export function downloadCommand(opts: {
  url: string;
  target: string;
  fetcher: 'curl' | 'wget' | 'file';
  timeout: number;
  checksum?: { algo: DigestName; hex: string };
  mode?: number;
  owner?: string;
  group?: string;
}): ShellCommand {
  const { url, target, timeout } = opts;
  const base = target.slice(target.lastIndexOf('/') + 1);
  const t = String(timeout);
  let fetch: ShellCommand;
  if (opts.fetcher === 'file') {
    const path = decodeURIComponent(new URL(url).pathname);
    fetch = sh`cp -- ${path} "$ul_tmp"`;
  } else if (opts.fetcher === 'curl') {
    fetch = sh`curl -fsSL --connect-timeout ${t} --speed-time ${t} --speed-limit 1 -o "$ul_tmp" --url ${url}`;
  } else {
    fetch = sh`wget -q -T ${t} -O "$ul_tmp" -- ${url}`;
  }
  const verify = opts.checksum
    ? sh`ul_got=$(${`${opts.checksum.algo}sum`} < "$ul_tmp" | cut -d ' ' -f 1)
if [ "$ul_got" != ${opts.checksum.hex} ]; then
  echo ${`the checksum of ${url} does not match: expected ${opts.checksum.algo}:${opts.checksum.hex}, got`} "${opts.checksum.algo}:$ul_got" >&2
  exit 1
fi`
    : sh`:`;
  const mode =
    opts.mode !== undefined
      ? sh`chmod ${opts.mode.toString(8).padStart(4, '0')} "$ul_tmp"`
      : sh`if [ -e ${target} ]; then chmod --reference=${target} "$ul_tmp"; else chmod 0644 "$ul_tmp"; fi`;
  const spec = opts.owner !== undefined ? (opts.group !== undefined ? `${opts.owner}:${opts.group}` : opts.owner) : opts.group !== undefined ? `:${opts.group}` : undefined;
  const chown = spec !== undefined ? sh`chown -- ${spec} "$ul_tmp"` : sh`:`;
  return sh`LC_ALL=C; export LC_ALL
ul_tmp=$(mktemp ${`${dirOf(target)}/.${base}.underlay-XXXXXX`}) || exit 1
trap 'rm -f "$ul_tmp"' EXIT
${fetch} || { echo ${`cannot download ${url}`} >&2; exit 1; }
${verify}
${chown} || exit 1
${mode} || exit 1
mv -f -- "$ul_tmp" ${target} || exit 1
trap - EXIT
echo "sha256=$(sha256sum < ${target} | cut -d ' ' -f 1)"`;
}

export const get_url: ModuleDef<GetUrlParams, GetUrlObserved> = {
  name: 'get_url',
  description: 'Download a file on the host (curl or wget; file:// too) into dest, verifying a checksum; idempotent when the checksum matches.',
  schema: {
    params: {
      url: { type: 'str', required: true, description: 'http, https, ftp or file URL.' },
      dest: { type: 'path', required: true, description: 'Absolute path of the file; a directory: the file name is taken from the URL.' },
      checksum: { type: 'str', description: '`sha256:HEX` (or sha512, sha384, sha224, sha1, md5): verified before dest is replaced.' },
      mode: { type: 'mode', description: 'Mode of dest (default: kept for an existing file, 0644 for a new one).' },
      owner: { type: 'str', description: 'Owner of dest (name or uid).' },
      group: { type: 'str', description: 'Group of dest (name or gid).' },
      force: { type: 'bool', default: false, description: 'Without checksum: download even when dest exists.' },
      timeout: { type: 'int', default: 10, description: 'Seconds for connecting and for any stall of the transfer.' },
    },
  },
  async observe(ctx, p) {
    const sum = p.checksum !== undefined ? parseChecksum(p.checksum) : undefined;
    const algo = sum !== undefined && typeof sum !== 'string' ? sum.algo : undefined;
    const r = await ctx.run(getUrlFactCommand(p.dest, urlFileName(p.url), algo));
    return parseGetUrlFact(r.stdout);
  },
  decide(p, o): Decision {
    const fail = (why: string): Decision => ({ changed: false, actions: [], failed: `get_url: ${why}` });
    if (!p.dest.startsWith('/')) return fail(`dest must be an absolute path, got '${p.dest}'`);
    let url: URL;
    try {
      url = new URL(p.url);
    } catch {
      return fail(`not a URL: '${p.url}'`);
    }
    const proto = url.protocol.replace(/:$/, '');
    if (!['http', 'https', 'ftp', 'file'].includes(proto)) return fail(`unsupported URL scheme '${proto}' (http, https, ftp, file)`);
    if (proto === 'file' && url.hostname !== '' && url.hostname !== 'localhost') return fail(`a file URL names a path on the host itself, not on '${url.hostname}'`);
    if (!(p.timeout > 0)) return fail('timeout must be positive');
    const sum = p.checksum !== undefined ? parseChecksum(p.checksum) : undefined;
    if (typeof sum === 'string') return fail(sum);
    let target = p.dest;
    if (o.destIsDir) {
      const name = urlFileName(p.url);
      if (name === undefined) return fail(`dest ${p.dest} is a directory and the URL has no file name`);
      target = `${p.dest.replace(/\/+$/, '')}/${name}`;
    } else if (!o.parentExists) {
      return fail(`the directory of ${p.dest} does not exist`);
    }
    const result: Record<string, unknown> = { url: p.url, dest: target, ...(sum ? { checksum: `${sum.algo}:${sum.hex}` } : {}) };

    const contentOk = o.exists && (sum ? o.digest === sum.hex : !p.force);
    if (contentOk) {
      const actions: Action[] = [];
      const done: string[] = [];
      if (ownerDiffers(p.owner, o.owner, o.uid) || ownerDiffers(p.group, o.group, o.gid)) {
        const spec = p.owner !== undefined ? (p.group !== undefined ? `${p.owner}:${p.group}` : p.owner) : `:${p.group}`;
        actions.push({ kind: 'run', cmd: sh`chown -- ${spec} ${target}`, describe: `chown ${spec} ${target}` });
        done.push(`owner ${spec}`);
      }
      if (p.mode !== undefined && o.mode !== p.mode) {
        const m = p.mode.toString(8).padStart(4, '0');
        actions.push({ kind: 'run', cmd: sh`chmod ${m} ${target}`, describe: `chmod ${m} ${target}` });
        done.push(`mode ${m}`);
      }
      const why = sum ? `${target} has the expected ${sum.algo}` : `${target} exists (no checksum given)`;
      return {
        changed: actions.length > 0,
        actions,
        msg: actions.length > 0 ? `${why}; set ${done.join(', ')}` : why,
        result,
      };
    }
    let fetcher: 'curl' | 'wget' | 'file';
    if (proto === 'file') fetcher = 'file';
    else if (o.curl) fetcher = 'curl';
    else if (o.wget) fetcher = 'wget';
    else return fail(`neither curl nor wget is installed on this host; install one of them to download ${p.url}`);
    const cmd = downloadCommand({
      url: p.url,
      target,
      fetcher,
      timeout: p.timeout,
      ...(sum ? { checksum: sum } : {}),
      ...(p.mode !== undefined ? { mode: p.mode } : {}),
      ...(p.owner !== undefined ? { owner: p.owner } : {}),
      ...(p.group !== undefined ? { group: p.group } : {}),
    });
    const why = !o.exists ? 'absent' : sum ? `its ${sum.algo} is ${o.digest ?? 'unknown'}` : 'force';
    return {
      changed: true,
      ...(!sum && o.exists ? { unpredictable: true } : {}),
      actions: [{ kind: 'run', cmd, describe: `download ${p.url} to ${target} (${fetcher})` }],
      msg: `${target}: downloaded from ${p.url} (${why})`,
      result,
      finish: (rs: ExecResult[]) => {
        const m = /^sha256=([0-9a-f]{64})$/m.exec(rs[rs.length - 1]?.stdout ?? '');
        return m ? { checksum_dest: `sha256:${m[1]}` } : {};
      },
    };
  },
};
