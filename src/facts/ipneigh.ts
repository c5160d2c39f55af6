/** Neighbours: `ip -j neigh show [to IP] [dev DEV]`. One command and one pure parser. */
import type { ExecResult } from '../modules/types.js';
import { sh, type ShellCommand } from '../transport/quote.js';
import { isNoDevice, parseJsonOutput } from './iplink.js';

export interface IpNeigh {
  dst: string;
  /** Absent when the command was filtered by `dev`. */
  dev?: string;
  /** Lower case; absent for INCOMPLETE/FAILED entries. */
  lladdr?: string;
  /** NUD states, upper case: PERMANENT, REACHABLE, STALE, NOARP, FAILED, ... */
  state: string[];
  router: boolean;
}

/** `ip -j neigh show [to IP] [dev DEV]`. */
export function ipNeighCommand(q: { to?: string; dev?: string } = {}): ShellCommand {
  const words: string[] = ['ip', '-j', 'neigh', 'show'];
  if (q.to !== undefined) words.push('to', q.to);
  if (q.dev !== undefined) words.push('dev', q.dev);
  return sh`${words}`;
}

/** Parses `ip -j neigh show`. `null` when the device does not exist. */
export function parseIpNeigh(r: ExecResult): IpNeigh[] | null {
  if (isNoDevice(r)) return null;
  const data = parseJsonOutput(r, 'ip -j neigh show');
  if (!Array.isArray(data)) return [];
  const out: IpNeigh[] = [];
  for (const o of data as Record<string, unknown>[]) {
    if (typeof o !== 'object' || o === null || typeof o['dst'] !== 'string') continue;
    const n: IpNeigh = {
      dst: o['dst'],
      state: Array.isArray(o['state']) ? (o['state'] as unknown[]).map((s) => String(s).toUpperCase()) : [],
      router: o['router'] === true || o['router'] === null,
    };
    if (typeof o['dev'] === 'string') n.dev = o['dev'];
    if (typeof o['lladdr'] === 'string') n.lladdr = o['lladdr'].toLowerCase();
    out.push(n);
  }
  return out;
}
