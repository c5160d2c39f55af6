/**
 * Measuring one command: wall time, the CPU time of the controller's process tree, the CPU
 * time of the lab's hosts, of the whole machine, and the controller's memory.
 *
 * - Controller CPU and max RSS: GNU time (`/usr/bin/time -f`), i.e. getrusage(RUSAGE_CHILDREN)
 *   of the command: user + sys of every process of the tree that was waited for, and the
 *   largest max RSS of one process of the tree (`%M`); plus the CPU of the helpers that
 *   left the tree (see `helpers` below).
 * - Controller peak PSS: the tree (the command and its descendants, found by PPID) is
 *   sampled every `sampleMs`; the sum of Pss (/proc/PID/smaps_rollup) is the memory the
 *   controller really holds (forked workers share pages: summed RSS would count them twice).
 * - Lab CPU: the CPU spent inside the lab's network namespaces (sshd, the shells and every
 *   command the tool ran on the hosts): for each process in a lab netns, utime + stime +
 *   cutime + cstime (/proc/PID/stat). A process that ended was reaped by a live ancestor
 *   (the host's sshd is its PID 1), so its time sits in exactly one live cutime: the sum
 *   counts each CPU second once. Difference after - before.
 * - Machine CPU: busy jiffies of /proc/stat (all but idle and iowait), after - before.
 *   Other work on the machine shows up here: compare it with the load average.
 * - Processes started: the fork counter of /proc/stat (`processes`), after - before: the
 *   whole machine's, so the controller's, the lab's (every remote command) and anything
 *   else running meanwhile (a few per second on an idle machine).
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync, readlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const TICK = 100; // USER_HZ: /proc times are in 1/100 s on Linux

/** Process groups of the commands running now (killed by killRunning on an interrupt). */
const running = new Set();

/** SIGKILL to every command measure() is running (their whole process groups). */
export function killRunning() {
  for (const pid of running) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  running.clear();
}

/** Busy CPU seconds of the whole machine since boot (/proc/stat, first line). */
export function machineCpuSeconds() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is inside user)
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
  return (user + nice + system + irq + softirq + steal) / TICK;
}

/** Processes started on the whole machine since boot (/proc/stat `processes`: forks). */
export function machineForks() {
  const m = /^processes\s+(\d+)/m.exec(readFileSync('/proc/stat', 'utf8'));
  return m ? Number(m[1]) : NaN;
}

export function loadAverage() {
  return readFileSync('/proc/loadavg', 'utf8').trim().split(/\s+/).slice(0, 3).map(Number);
}

/** The machine's busy cores over `ms` (from /proc/stat). */
export async function busyCores(ms) {
  const a = machineCpuSeconds();
  const t = process.hrtime.bigint();
  await sleep(ms);
  return (machineCpuSeconds() - a) / (Number(process.hrtime.bigint() - t) / 1e9);
}

/**
 * Waits until the machine is quiet: busy below `belowCores` over a `windowMs` window (what
 * the previous run left running winds down: Ansible's connections, the lab's services
 * starting), at most `maxMs`. Returns how long it waited and the busy cores of the last
 * window (other work on the machine shows there).
 */
export async function settle({ belowCores = 0.3, windowMs = 1000, maxMs = 10_000 } = {}) {
  const t0 = Date.now();
  let busy = await busyCores(windowMs);
  while (busy >= belowCores && Date.now() - t0 < maxMs) busy = await busyCores(windowMs);
  return { waitedS: (Date.now() - t0) / 1000, busyCores: busy };
}

function procStat(pid) {
  try {
    const t = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = t.lastIndexOf(')');
    const f = t.slice(close + 2).split(' ');
    // f[0] = state (field 3); field n is f[n - 3]
    return {
      ppid: Number(f[1]),
      utime: Number(f[11]),
      stime: Number(f[12]),
      cutime: Number(f[13]),
      cstime: Number(f[14]),
    };
  } catch {
    return null;
  }
}

function pids() {
  return readdirSync('/proc').filter((e) => /^\d+$/.test(e));
}

function inode(path) {
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
}

/** The inodes of the network namespaces whose names start with `prefix` (/run/netns). */
export function netnsInodes(prefix) {
  const out = new Set();
  let names = [];
  try {
    names = readdirSync('/run/netns');
  } catch {
    return out;
  }
  for (const n of names) {
    if (!n.startsWith(prefix)) continue;
    const ino = inode(`/run/netns/${n}`);
    if (ino !== undefined) out.add(ino);
  }
  return out;
}

function netnsOf(pid) {
  try {
    const l = readlinkSync(`/proc/${pid}/ns/net`); // net:[4026532...]
    const m = /\[(\d+)\]/.exec(l);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** CPU seconds spent so far in the given network namespaces (see the file comment). */
export function netnsCpuSeconds(inodes) {
  if (inodes.size === 0) return 0;
  let ticks = 0;
  for (const p of pids()) {
    const ns = netnsOf(p);
    if (ns === undefined || !inodes.has(ns)) continue;
    const s = procStat(p);
    if (s) ticks += s.utime + s.stime + s.cutime + s.cstime;
  }
  return ticks / TICK;
}

/** PIDs of `root` and all its descendants. */
function tree(root) {
  const children = new Map();
  for (const p of pids()) {
    const s = procStat(p);
    if (!s) continue;
    const list = children.get(s.ppid) ?? [];
    list.push(Number(p));
    children.set(s.ppid, list);
  }
  const out = [];
  const todo = [root];
  while (todo.length > 0 && out.length < 10000) {
    const p = todo.pop();
    out.push(p);
    for (const c of children.get(p) ?? []) todo.push(c);
  }
  return out;
}

function pssKb(pid) {
  try {
    const r = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    return Number(/^Pss:\s+(\d+)/m.exec(r)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/**
 * BENCH_PERF_DIR=DIR: every measured command runs under a machine-wide `perf record` (CPU
 * samples of every process, 499 Hz) written to DIR/LABEL-N.data: `perf report -i FILE
 * --sort comm` then says which programs the CPU went to (sshd, ip, the controller, ...).
 * BENCH_PERF_ARGS replaces `-F 499`, e.g. `-e sched:sched_process_fork -e
 * sched:sched_process_exec` to see which process started which. perf runs in its own
 * process group (killRunning ends it on an interrupt); one that fails to start fails the
 * measurement.
 */
let perfSeq = 0;
async function perfStart(label) {
  const dir = process.env.BENCH_PERF_DIR;
  if (!dir) return null;
  const file = `${dir}/${(label ?? 'run').replace(/[^A-Za-z0-9_.-]+/g, '_')}-${++perfSeq}.data`;
  const what = (process.env.BENCH_PERF_ARGS ?? '-F 499').split(' ').filter(Boolean);
  const p = spawn('perf', ['record', '-q', '-a', ...what, '-o', file], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  const err = [];
  p.stderr.on('data', (d) => err.push(d));
  let ended = null;
  const closed = new Promise((resolve) => {
    p.on('error', (e) => {
      ended = e.message;
      resolve();
    });
    p.on('close', (code, signal) => {
      ended ??= `exit ${code ?? signal}`;
      resolve();
    });
  });
  if (p.pid !== undefined) running.add(p.pid);
  await Promise.race([sleep(300), closed]); // perf's set-up: it samples from here on
  if (ended !== null) {
    if (p.pid !== undefined) running.delete(p.pid);
    throw new Error(`perf record did not start (${ended}): ${Buffer.concat(err).toString().trim().slice(0, 300)}`);
  }
  return { p, closed };
}
async function perfStop(perf) {
  if (!perf || perf.stopped) return;
  perf.stopped = true;
  try {
    process.kill(-perf.p.pid, 'SIGINT');
  } catch {
    /* ended */
  }
  await Promise.race([perf.closed, sleep(10_000)]);
  try {
    process.kill(-perf.p.pid, 'SIGKILL'); // still writing after 10 s: not into the next run
  } catch {
    /* ended */
  }
  running.delete(perf.p.pid);
}

/**
 * Runs `argv` under GNU time and measures it. Never throws for a non-zero exit: judge by
 * `exitCode`. A run longer than `timeoutMs` is killed (its whole process group) and
 * reported with `timedOut`.
 *
 * `helpers` finds the processes of the controller that left its tree (Ansible's
 * ControlPersist ssh masters daemonize: GNU time never waits for them). Their memory is
 * sampled with the tree's, and their CPU time, read just before the command's end is
 * reported (they must still run: the caller closes them afterwards), is added to the
 * controller's (`ctrlHelperCpuS` says how much of it).
 *
 * @param {string[]} argv
 * @param {{ env?: Record<string,string>, cwd?: string, timeoutMs: number, labPrefix?: string,
 *           sampleMs?: number, stdin?: string, helpers?: () => number[] }} opts
 */
export async function measure(argv, opts) {
  const perf = await perfStart(opts.label);
  try {
    return await measureRun(argv, opts, () => perfStop(perf));
  } finally {
    await perfStop(perf);
  }
}

async function measureRun(argv, opts, beforeReport) {
  const timeFile = `/tmp/ul-bench-time-${process.pid}-${Date.now()}`;
  const nsInodes = opts.labPrefix ? netnsInodes(opts.labPrefix) : new Set();
  const labBefore = netnsCpuSeconds(nsInodes);
  const machineBefore = machineCpuSeconds();
  const forksBefore = machineForks();
  const load = loadAverage();
  const t0 = process.hrtime.bigint();
  const child = spawn('/usr/bin/time', ['-f', '%e %U %S %M', '-o', timeFile, '--', ...argv], {
    cwd: opts.cwd,
    env: { ...process.env, ...(opts.env ?? {}) },
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true, // its own process group: a timeout kills the whole tree
  });
  running.add(child.pid);
  const out = [];
  const err = [];
  child.stdout.on('data', (d) => out.push(d));
  child.stderr.on('data', (d) => err.push(d));
  child.stdin.on('error', () => undefined);
  child.stdin.end(opts.stdin ?? '');
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }, opts.timeoutMs);
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  let peakPssKb = 0;
  let done = false;
  exited.then(() => {
    done = true;
  });
  const sampleMs = opts.sampleMs ?? 200;
  // Sample the tree's memory until the command ends (bounded by the timeout above).
  const helperPids = new Set();
  while (!done) {
    let sum = 0;
    const inTree = new Set(tree(child.pid));
    for (const p of inTree) sum += pssKb(p);
    if (opts.helpers) {
      for (const p of opts.helpers()) {
        if (inTree.has(p)) continue;
        helperPids.add(p);
        sum += pssKb(p);
      }
    }
    if (sum > peakPssKb) peakPssKb = sum;
    await Promise.race([sleep(sampleMs), exited]);
  }
  const { code, signal } = await exited;
  clearTimeout(timer);
  let helperTicks = 0;
  if (opts.helpers) {
    // The tree has ended: what still runs of the helpers left it.
    for (const p of opts.helpers()) helperPids.add(p);
    for (const p of helperPids) {
      const st = procStat(p);
      if (st) helperTicks += st.utime + st.stime + st.cutime + st.cstime;
    }
  }
  running.delete(child.pid);
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
  const machineAfter = machineCpuSeconds();
  const forksAfter = machineForks();
  const labAfter = netnsCpuSeconds(nsInodes);
  await beforeReport();
  let t = { wall: NaN, user: NaN, sys: NaN, maxRssKb: NaN };
  try {
    const text = readFileSync(timeFile, 'utf8').trim().split('\n');
    const last = text[text.length - 1].split(' ').map(Number);
    t = { wall: last[0], user: last[1], sys: last[2], maxRssKb: last[3] };
  } catch {
    /* killed before time wrote it */
  }
  try {
    (await import('node:fs')).rmSync(timeFile, { force: true });
  } catch {
    /* ignore */
  }
  // GNU time prints "Command exited with non-zero status N" before the figures; the exit
  // code of `time` itself is the command's.
  return {
    exitCode: code ?? (signal ? 128 : 1),
    timedOut,
    wallS,
    ctrlCpuS: t.user + t.sys + helperTicks / TICK,
    ctrlUserS: t.user,
    ctrlSysS: t.sys,
    ctrlHelperCpuS: helperTicks / TICK,
    ctrlMaxRssMb: t.maxRssKb / 1024,
    ctrlPeakPssMb: peakPssKb / 1024,
    labCpuS: labAfter - labBefore,
    machineCpuS: machineAfter - machineBefore,
    procStarts: forksAfter - forksBefore,
    loadBefore: load,
    stdout: Buffer.concat(out).toString('utf8'),
    stderr: Buffer.concat(err).toString('utf8'),
  };
}
