/**
 * The plain-text reporter (non-TTY, CI logs): a line per play, per task and per host
 * result, then the recap. Subscribes to engine events; events are already masked.
 */
import type { EngineEvent, HostResultEvent, HostStats } from '../engine/events.js';

export interface PlainOptions {
  write: (s: string) => void;
  /** Print diffs (--diff). */
  diff: boolean;
  /** Also print ok/skipped results (otherwise only changed/failed/unreachable and counts). */
  verbose: boolean;
}

function duration(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)}s` : `${ms}ms`;
}

export function formatDiff(diffs: NonNullable<HostResultEvent['diff']>): string {
  const out: string[] = [];
  for (const d of diffs) {
    out.push(unifiedDiff(d.before, d.after, d.path ?? 'before', d.path ?? 'after'));
  }
  return out.join('');
}

/** A unified diff (Myers-free LCS on lines; files here are small config files). */
export function unifiedDiff(before: string, after: string, fromName: string, toName: string, context = 3): string {
  if (before === after) return '';
  const a = before === '' ? [] : before.replace(/\n$/, '').split('\n');
  const b = after === '' ? [] : after.replace(/\n$/, '').split('\n');
  const n = a.length;
  const m = b.length;
  if (n * m > 4_000_000) {
    return `--- ${fromName}\n+++ ${toName}\n@@ (${n} lines -> ${m} lines: too large to diff) @@\n`;
  }
  const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  type Op = { t: ' ' | '-' | '+'; s: string; ai: number; bi: number };
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      ops.push({ t: ' ', s: a[i]!, ai: i, bi: j });
      i++;
      j++;
    } else if (i < n && (j >= m || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) {
      ops.push({ t: '-', s: a[i]!, ai: i, bi: j });
      i++;
    } else {
      ops.push({ t: '+', s: b[j]!, ai: i, bi: j });
      j++;
    }
  }
  const out = [`--- ${fromName}\n`, `+++ ${toName}\n`];
  let k = 0;
  while (k < ops.length) {
    while (k < ops.length && ops[k]!.t === ' ') k++;
    if (k >= ops.length) break;
    const start = Math.max(0, k - context);
    let end = k;
    let lastChange = k;
    while (end < ops.length && end - lastChange <= context * 2) {
      if (ops[end]!.t !== ' ') lastChange = end;
      end++;
    }
    end = Math.min(ops.length, lastChange + context + 1);
    const hunk = ops.slice(start, end);
    const aStart = hunk[0]!.ai;
    const bStart = hunk[0]!.bi;
    const aLen = hunk.filter((o) => o.t !== '+').length;
    const bLen = hunk.filter((o) => o.t !== '-').length;
    const range = (start: number, len: number) => (len === 1 ? `${start + 1}` : `${len === 0 ? start : start + 1},${len}`);
    out.push(`@@ -${range(aStart, aLen)} +${range(bStart, bLen)} @@\n`);
    for (const o of hunk) out.push(`${o.t}${o.s}\n`);
    k = end;
  }
  return out.join('');
}

export function formatRecap(hosts: Record<string, HostStats>): string {
  const names = Object.keys(hosts);
  const w = Math.max(4, ...names.map((n) => n.length));
  const lines = names.map((h) => {
    const s = hosts[h]!;
    return `${h.padEnd(w)} : ok=${s.ok} changed=${s.changed} unreachable=${s.unreachable} failed=${s.failed} skipped=${s.skipped} ignored=${s.ignored}  ${duration(s.durationMs)}`;
  });
  return lines.join('\n') + '\n';
}

function resultLine(e: HostResultEvent): string {
  const where = e.delegatedTo ? `${e.host} -> ${e.delegatedTo}` : e.host;
  const item = e.item !== undefined ? ` (item=${e.item})` : '';
  const status = e.ignored ? 'failed (ignored)' : e.status;
  const msg = e.status === 'failed' || e.status === 'unreachable' ? (e.msg ? `: ${e.msg.replace(/\n/g, '\n    ')}` : '') : e.msg && e.status === 'changed' ? `: ${firstLine(e.msg)}` : '';
  return `${status}: [${where}]${item} ${duration(e.durationMs)}${msg}\n`;
}

function firstLine(s: string): string {
  const l = s.split('\n')[0] ?? '';
  return l.length > 160 ? `${l.slice(0, 157)}...` : l;
}

export function plainReporter(opts: PlainOptions): (e: EngineEvent) => void {
  let counts: Record<string, number> = {};
  let open = false;
  const flushCounts = () => {
    if (!open) return;
    const parts = Object.entries(counts).map(([k, v]) => `${k}=${v}`);
    if (!opts.verbose && parts.length > 0) opts.write(`  ${parts.join(' ')}\n`);
    counts = {};
    open = false;
  };
  return (e) => {
    switch (e.type) {
      case 'play_start':
        flushCounts();
        opts.write(`\nPLAY [${e.play}] (${e.hosts.length} host${e.hosts.length === 1 ? '' : 's'})\n`);
        break;
      case 'task_start':
        flushCounts();
        opts.write(`${e.handler ? 'HANDLER' : 'TASK'} [${e.task}] ${e.file}:${e.line}\n`);
        open = true;
        break;
      case 'host_result': {
        if (e.item === undefined) counts[e.status] = (counts[e.status] ?? 0) + 1;
        const interesting = e.status === 'changed' || e.status === 'failed' || e.status === 'unreachable';
        if (opts.verbose || interesting) {
          if (e.item !== undefined && !opts.verbose && e.status !== 'failed') break;
          opts.write(resultLine(e));
        }
        if (opts.diff && e.diff && e.diff.length > 0 && e.item === undefined) opts.write(formatDiff(e.diff));
        break;
      }
      case 'warning':
        flushCounts();
        opts.write(`WARNING: ${e.host ? `[${e.host}] ` : ''}${e.msg}\n`);
        break;
      case 'recap':
        flushCounts();
        opts.write(`\nRECAP (${duration(e.durationMs)})\n${formatRecap(e.hosts)}`);
        break;
      default:
        break;
    }
  };
}
