/**
 * TCP sockets of a host from /proc/net/tcp and /proc/net/tcp6: one command, one pure parser.
 *
 * The kernel prints each socket as `sl local rem st ...` with addresses in hex: an IPv4
 * address is the 32-bit value in the host's byte order (little-endian on x86 and arm64:
 * `0100007F` is 127.0.0.1), an IPv6 address four such 32-bit words; ports are big-endian
 * hex (`1F90` is 8080). State `0A` is LISTEN. Hosts are assumed little-endian.
 *
 * `listenPattern()` gives the same test as `isListening()` as an extended regular
 * expression for `grep -E`, for loops that must run on the host itself (wait_for).
 */
import { raw, type ShellCommand } from '../transport/quote.js';

export type TcpState =
  | 'ESTABLISHED'
  | 'SYN_SENT'
  | 'SYN_RECV'
  | 'FIN_WAIT1'
  | 'FIN_WAIT2'
  | 'TIME_WAIT'
  | 'CLOSE'
  | 'CLOSE_WAIT'
  | 'LAST_ACK'
  | 'LISTEN'
  | 'CLOSING'
  | 'NEW_SYN_RECV'
  | 'UNKNOWN';

const STATES: Record<string, TcpState> = {
  '01': 'ESTABLISHED',
  '02': 'SYN_SENT',
  '03': 'SYN_RECV',
  '04': 'FIN_WAIT1',
  '05': 'FIN_WAIT2',
  '06': 'TIME_WAIT',
  '07': 'CLOSE',
  '08': 'CLOSE_WAIT',
  '09': 'LAST_ACK',
  '0A': 'LISTEN',
  '0B': 'CLOSING',
  '0C': 'NEW_SYN_RECV',
};

export interface TcpSocket {
  family: 4 | 6;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  state: TcpState;
  /** The address as the kernel printed it (hex), for exact comparisons. */
  localHex: string;
}

/** Prints both tables (tcp6 is absent when IPv6 is disabled). */
export function procNetTcpCommand(): ShellCommand {
  return raw('cat /proc/net/tcp /proc/net/tcp6 2>/dev/null; true');
}

/** Reverses the bytes of one 32-bit hex word (the kernel's little-endian print). */
function swap32(hex8: string): number[] {
  const bytes: number[] = [];
  for (let i = 6; i >= 0; i -= 2) bytes.push(Number.parseInt(hex8.slice(i, i + 2), 16));
  return bytes;
}

/** Decodes a kernel hex address (8 or 32 hex digits) to its usual text form. */
export function decodeAddress(hex: string): string {
  if (/^[0-9A-Fa-f]{8}$/.test(hex)) return swap32(hex).join('.');
  if (/^[0-9A-Fa-f]{32}$/.test(hex)) {
    const bytes: number[] = [];
    for (let w = 0; w < 4; w++) bytes.push(...swap32(hex.slice(w * 8, w * 8 + 8)));
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
    // The URL parser writes IPv6 addresses in their canonical compressed form.
    return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
  }
  throw new Error(`not a /proc/net/tcp address: ${hex}`);
}

/** Parses the output of procNetTcpCommand (either table, or both, headers included). */
export function parseProcNetTcp(text: string): TcpSocket[] {
  const out: TcpSocket[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4 || !/^\d+:$/.test(f[0]!)) continue;
    const local = /^([0-9A-F]{8}|[0-9A-F]{32}):([0-9A-F]{4})$/i.exec(f[1]!);
    const remote = /^([0-9A-F]{8}|[0-9A-F]{32}):([0-9A-F]{4})$/i.exec(f[2]!);
    if (!local || !remote) continue;
    out.push({
      family: local[1]!.length === 8 ? 4 : 6,
      localAddress: decodeAddress(local[1]!),
      localPort: Number.parseInt(local[2]!, 16),
      remoteAddress: decodeAddress(remote[1]!),
      remotePort: Number.parseInt(remote[2]!, 16),
      state: STATES[f[3]!.toUpperCase()] ?? 'UNKNOWN',
      localHex: local[1]!.toUpperCase(),
    });
  }
  return out;
}

/** Hosts for which wait_for reads the socket tables instead of connecting. */
export function isLocalHost(host: string): boolean {
  return ['', '127.0.0.1', 'localhost', '::1', '0.0.0.0', '::', 'ip6-localhost'].includes(host.trim().toLowerCase());
}

const V4_ANY = '00000000';
const V4_LOOP = '0100007F';
const V6_ANY = '0{32}';
const V6_LOOP = '0{24}01000000';
const V6_MAPPED_LOOP = `0{16}FFFF0000${V4_LOOP}`;

/**
 * The listening addresses (kernel hex, as an ERE) through which `host`:port is reached:
 * for 127.0.0.1 a wildcard or 127.0.0.1 itself (also as ::ffff:127.0.0.1, and `::`, which
 * accepts IPv4 unless it is v6-only: the tables do not say); localhost adds ::1; ::1 is
 * `::` or ::1; 0.0.0.0 and :: mean any address.
 */
function addressPattern(host: string): string {
  const h = host.trim().toLowerCase();
  if (h === '0.0.0.0' || h === '::') return '([0-9A-F]{8}|[0-9A-F]{32})';
  if (h === '::1' || h === 'ip6-localhost') return `(${V6_ANY}|${V6_LOOP})`;
  const v4 = [V4_ANY, V4_LOOP, V6_ANY, V6_MAPPED_LOOP];
  if (h === 'localhost' || h === '') v4.push(V6_LOOP);
  return `(${v4.join('|')})`;
}

/** True when some socket listens on `port` at an address through which `host` reaches it. */
export function isListening(sockets: readonly TcpSocket[], port: number, host = '127.0.0.1'): boolean {
  const re = new RegExp(`^${addressPattern(host)}$`);
  return sockets.some((s) => s.state === 'LISTEN' && s.localPort === port && re.test(s.localHex));
}

/**
 * The same test as isListening, as one ERE over the raw table lines (for `grep -E` in a
 * loop on the host): the local address, the port and state 0A.
 */
export function listenPattern(port: number, host = '127.0.0.1'): string {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`bad port ${port}`);
  const p = port.toString(16).toUpperCase().padStart(4, '0');
  return `^ *[0-9]+: ${addressPattern(host)}:${p} [0-9A-F]+:[0-9A-F]{4} 0A `;
}
