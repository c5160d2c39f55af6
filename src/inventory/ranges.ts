/**
 * Host addresses and host ranges as Ansible reads them (`parsing/utils/addresses.py` and
 * `plugins/inventory/__init__.py`): `host:port`, `[ipv6]:port`, and ranges such as
 * `node[01:20]`, `node[1:10:2]`, `db-[a:f]`, several per name.
 */

/** A host pattern that cannot be expanded; the caller adds the location. */
export class HostPatternError extends Error {}

const numericRange = String.raw`\[(?:[0-9]+:[0-9]+)(?::[0-9]+)?\]`;
const hexRange = String.raw`\[(?:[0-9a-f]+:[0-9a-f]+)(?::[0-9]+)?\]`;
const alnumRange = String.raw`\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]`;
const i6 = String.raw`(?:[0-9a-f]{1,4}|${hexRange})`;
const i4 = String.raw`(?:[01]?[0-9]{1,2}|2[0-4][0-9]|25[0-5]|${numericRange})`;
const W = String.raw`[\p{L}\p{N}_]`;
const label = String.raw`(?:${W}|${alnumRange})(?:[\p{L}\p{N}_\-]|${alnumRange})*(?<![_\-])`;

const RE = {
  bracketedHostport: /^\[(.+)\]:([0-9]+)$/,
  hostport: /^((?:[^:[\]]|\[[^\]]*\])*):([0-9]+)$/,
  ipv4: new RegExp(String.raw`^(?:${i4}\.){3}${i4}$`, 'i'),
  ipv6: new RegExp(
    '^(?:' +
      [
        String.raw`(?:${i6}:){7}${i6}`,
        String.raw`(?:${i6}:){1,6}:`,
        String.raw`(?:${i6}:)(?::${i6}){1,6}`,
        String.raw`(?:${i6}:){2}(?::${i6}){1,5}`,
        String.raw`(?:${i6}:){3}(?::${i6}){1,4}`,
        String.raw`(?:${i6}:){4}(?::${i6}){1,3}`,
        String.raw`(?:${i6}:){5}(?::${i6}){1,2}`,
        String.raw`(?:${i6}:){6}(?::${i6})`,
        String.raw`:(?::${i6}){1,6}`,
        String.raw`${i6}?::`,
        String.raw`(?:0:){6}(?:${i6}\.){3}${i6}`,
        String.raw`::(?:ffff:)?(?:${i6}\.){3}${i6}`,
        String.raw`(?:0:){5}ffff:(?:${i6}\.){3}${i6}`,
      ].join('|') +
      ')$',
    'i',
  ),
  hostname: new RegExp(String.raw`^${label}(?:\.${label})*$`, 'iu'),
};

/** Python's IPv4/IPv6 test used for `inventory_hostname_short`. */
export function looksLikeIp(name: string): boolean {
  return RE.ipv4.test(name) || RE.ipv6.test(name);
}

/**
 * `parse_address`: splits a port off and checks the rest is an IPv4/IPv6 address or a
 * host name (ranges allowed when `allowRanges`). Throws HostPatternError otherwise.
 */
export function parseAddress(address: string, allowRanges: boolean): { host: string; port: number | undefined } {
  let port: number | undefined;
  for (const re of [RE.bracketedHostport, RE.hostport]) {
    const m = re.exec(address);
    if (m) {
      address = m[1]!;
      port = parseInt(m[2]!, 10);
    }
  }
  let host: string | undefined;
  for (const re of [RE.ipv4, RE.ipv6, RE.hostname]) {
    if (re.test(address)) host = address;
  }
  if (!host) throw new HostPatternError(`Not a valid network hostname: ${address}`);
  if (!allowRanges && host.includes('[')) throw new HostPatternError('Detected range in host but was asked to ignore ranges');
  return { host, port };
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

function pyInt(s: string): number {
  if (!/^\s*[+-]?[0-9]+(?:_[0-9]+)*\s*$/.test(s)) throw new HostPatternError(`invalid literal for int() with base 10: '${s}'`);
  return parseInt(s.replace(/_/g, ''), 10);
}

/** Upper bound on hosts one range may produce (a typo like `[1:99999999]` must not hang). */
export const MAX_RANGE_HOSTS = 1_000_000;

/**
 * `expand_hostname_range`: expands every `[begin:end(:step)]` in `line`, left to right.
 * Unlike Ansible, a numeric range whose begin is above its end is an error (Ansible
 * silently expands it to no host at all).
 */
export function expandHostnameRange(line: string): string[] {
  const parts = line.replace('[', '|').replace(']', '|').split('|');
  if (parts.length !== 3) throw new HostPatternError(`cannot read the host range in '${line}'`);
  const [head, nrange, tail] = parts as [string, string, string];
  const bounds = nrange.split(':');
  if (bounds.length !== 2 && bounds.length !== 3) throw new HostPatternError('host range must be begin:end or begin:end:step');
  let beg = bounds[0]!;
  const end = bounds[1]!;
  const step = bounds.length === 2 ? 1 : pyInt(bounds[2]!);
  if (!beg) beg = '0';
  if (!end) throw new HostPatternError('host range must specify end value');
  let fill = (x: string | number): string => String(x);
  if (beg[0] === '0' && beg.length > 1) {
    const rlen = beg.length;
    if (rlen !== end.length) throw new HostPatternError('host range must specify equal-length begin and end formats');
    fill = (x) => zfill(String(x), rlen);
  }
  if (step === 0) throw new HostPatternError('host range step must not be zero');
  let seq: Array<string | number>;
  const ib = LETTERS.indexOf(beg);
  const ie = LETTERS.indexOf(end);
  if (ib >= 0 && ie >= 0) {
    if (ib > ie) throw new HostPatternError('host range must have begin <= end');
    seq = [];
    if (step > 0) for (let k = ib; k <= ie; k += step) seq.push(LETTERS[k]!);
  } else {
    const b = pyInt(beg);
    const e = pyInt(end);
    if (b > e) throw new HostPatternError(`host range [${nrange}] has its begin above its end`);
    if (Math.floor((e - b) / Math.abs(step)) + 1 > MAX_RANGE_HOSTS) {
      throw new HostPatternError(`host range [${nrange}] expands to more than ${MAX_RANGE_HOSTS} hosts`);
    }
    seq = [];
    if (step > 0) for (let k = b; k <= e; k += step) seq.push(k);
  }
  if (seq.length === 0) throw new HostPatternError(`host range [${nrange}] expands to no host`);
  const out: string[] = [];
  for (const r of seq) {
    const name = head + fill(r) + tail;
    if (name.includes('[')) out.push(...expandHostnameRange(name));
    else out.push(name);
  }
  return out;
}

function zfill(s: string, width: number): string {
  if (s.length >= width) return s;
  const sign = s[0] === '-' || s[0] === '+' ? s[0] : '';
  return sign + '0'.repeat(width - s.length) + s.slice(sign.length);
}

/**
 * `_expand_hostpattern` of the inventory plugins: a host name with optional `:port`,
 * possibly with ranges. `ini` adds two checks (a trailing `:` and a `---` line).
 */
export function expandHostPattern(pattern: string, ini: boolean): { hosts: string[]; port: number | undefined } {
  let name = pattern;
  let port: number | undefined;
  try {
    const a = parseAddress(pattern, true);
    name = a.host;
    port = a.port;
  } catch {
    name = pattern;
    port = undefined;
  }
  const hosts = name.includes('[') ? expandHostnameRange(name) : [name];
  if (ini) {
    if (pattern.trim().endsWith(':') && port === undefined) {
      throw new HostPatternError(
        `Invalid host pattern '${pattern}' supplied, ending in ':' is not allowed, this character is reserved to provide a port.`,
      );
    }
    for (const h of hosts) {
      if (h.trim() === '---') throw new HostPatternError(`Invalid host pattern '${pattern}' supplied, '---' is normally a sign this is a YAML file.`);
    }
  }
  return { hosts, port };
}
