#!/usr/bin/env node
/**
 * Benchmark of `underlay lab up` (Linux, as root):
 * - wall time of `lab up` from nothing, of a second `lab up` (everything kept) and of
 *   `lab down`, for 3 hosts (central, master, 1 worker) and 30 hosts (28 workers);
 * - memory a host costs: RSS and PSS summed over the host's processes (every process in
 *   its network namespace, launcher included), read from /proc/PID/smaps_rollup, per role.
 *
 * Usage: npm run build && node bench/lab-up.js [--runs N]
 * (UNDERLAY_DIST=DIR to load the lab from another build than ./dist.)
 * The lab `bench` uses 10.213.103.0/24 and a temporary state directory; it is torn down
 * at the end, also on failure.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const dist = resolve(process.env.UNDERLAY_DIST ?? new URL('../dist', import.meta.url).pathname);
const { labUp, labDown } = await import(pathToFileURL(join(dist, 'lab', 'index.js')).href);

const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 3;
const stateDir = mkdtempSync(join(tmpdir(), 'underlay-bench-'));
const base = { name: 'bench', subnet: '10.213.103.0/24', stateDir, inventoryPath: join(stateDir, 'inventory.yml') };

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
};

function inode(path) {
  try {
    return statSync(path, { bigint: true }).ino;
  } catch {
    return undefined;
  }
}

/** { rssKb, pssKb, procs } summed over every process in the netns. */
function memoryOf(netns) {
  const want = inode(`/run/netns/${netns}`);
  let rssKb = 0;
  let pssKb = 0;
  const procs = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || inode(`/proc/${e}/ns/net`) !== want) continue;
    try {
      const roll = readFileSync(`/proc/${e}/smaps_rollup`, 'utf8');
      rssKb += Number(/^Rss:\s+(\d+)/m.exec(roll)?.[1] ?? 0);
      pssKb += Number(/^Pss:\s+(\d+)/m.exec(roll)?.[1] ?? 0);
      procs.push(readFileSync(`/proc/${e}/comm`, 'utf8').trim());
    } catch {
      /* ended */
    }
  }
  return { rssKb, pssKb, procs };
}

async function timed(fn) {
  const t = process.hrtime.bigint();
  const r = await fn();
  return { ms: Number(process.hrtime.bigint() - t) / 1e6, r };
}

const rows = [];
const memory = new Map();
try {
  await labDown(base);
  for (const workers of [1, 28]) {
    const hosts = workers + 2;
    const up = [];
    const again = [];
    const down = [];
    for (let i = 0; i < RUNS; i++) {
      const u = await timed(() => labUp({ ...base, workers }));
      if (u.r.created.length !== hosts) throw new Error(`expected ${hosts} hosts created, got ${u.r.created.length}`);
      up.push(u.ms);
      const a = await timed(() => labUp({ ...base, workers }));
      if (a.r.kept.length !== hosts) throw new Error(`expected ${hosts} hosts kept, got ${a.r.kept.length}`);
      again.push(a.ms);
      if (i === RUNS - 1 && workers === 28) {
        for (const h of a.r.hosts) {
          const m = memoryOf(h.netns);
          const list = memory.get(h.role) ?? [];
          list.push(m);
          memory.set(h.role, list);
        }
      }
      const d = await timed(() => labDown(base));
      down.push(d.ms);
    }
    rows.push({ hosts, up: median(up), again: median(again), down: median(down), upAll: up, perHost: median(up) / hosts });
  }
} finally {
  await labDown(base).catch((e) => process.stderr.write(`bench: lab down failed: ${e.message}\n`));
  rmSync(stateDir, { recursive: true, force: true });
}

const f = (ms) => `${(ms / 1000).toFixed(2)} s`;
console.log(`underlay lab up — median of ${RUNS} runs on ${(await import('node:os')).cpus().length} cores`);
console.log('');
console.log('| hosts | lab up (new) | per host | lab up again (all kept) | lab down |');
console.log('|---:|---:|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.hosts} | ${f(r.up)} | ${(r.perHost).toFixed(0)} ms | ${f(r.again)} | ${f(r.down)} |`);
console.log('');
console.log('Memory per host (30-host lab; every process in the host\'s netns, launcher included):');
console.log('');
console.log('| role | hosts | RSS per host | PSS per host | processes |');
console.log('|---|---:|---:|---:|---|');
for (const role of ['central', 'master', 'worker']) {
  const list = memory.get(role) ?? [];
  if (!list.length) continue;
  const avg = (k) => list.reduce((s, m) => s + m[k], 0) / list.length / 1024;
  console.log(`| ${role} | ${list.length} | ${avg('rssKb').toFixed(1)} MiB | ${avg('pssKb').toFixed(1)} MiB | ${list[0].procs.sort().join(', ')} |`);
}
