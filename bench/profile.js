#!/usr/bin/env node
/**
 * `underlay` with counters: runs the CLI exactly as bin/underlay.js does, and records
 * where a host's time goes, without changing the engine:
 * - per host: SSH connections opened and the time each took (handshake, authentication,
 *   host key check), commands and round trips (Connection.runEach and runSequence: one
 *   round trip may carry several commands), uploads (SFTP) and file reads, and the time
 *   spent waiting for each of them;
 * - per task: round trips, commands, uploads and reads of all hosts together (the
 *   linear strategy runs one task at a time, so calls are attributed to the task whose
 *   `task_start` event came last);
 * - phases of the process: start-up (process start to `run_start`), the run (`run_start`
 *   to `recap`) and the exit (`recap` to the process's end).
 *
 * It loads the modules of dist/ one by one (to count through dist/transport/connection.js),
 * not the bundle bin/underlay.js runs: its start-up phase includes the module resolution
 * the bundle saves (about 0.25 s).
 *
 * Usage: node bench/profile.js run PLAYBOOK -i INV ... --json
 * The profile is written as JSON to $UL_BENCH_PROFILE_OUT (default: stderr) at exit.
 * UNDERLAY_DIST=DIR loads another build than ./dist.
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

const dist = resolve(process.env.UNDERLAY_DIST ?? new URL('../dist', import.meta.url).pathname);
const { Connection } = await import(pathToFileURL(join(dist, 'transport', 'connection.js')).href);
const { main } = await import(pathToFileURL(join(dist, 'cli', 'main.js')).href);

const now = () => performance.now(); // ms since the process started (performance.timeOrigin)
const hosts = new Map();
const tasks = new Map();
let currentTask = '(before the first task)';
const marks = { modulesLoaded: now() };

function hostStats(h) {
  let s = hosts.get(h);
  if (!s) {
    s = { connects: 0, connectMs: [], roundTrips: 0, commands: 0, runMs: 0, uploads: 0, uploadMs: 0, reads: 0, readMs: 0, firstUse: null, lastUse: null };
    hosts.set(h, s);
  }
  return s;
}
function taskStats() {
  let t = tasks.get(currentTask);
  if (!t) {
    t = { roundTrips: 0, commands: 0, uploads: 0, reads: 0, durationMs: 0, hosts: 0, maxHostMs: 0 };
    tasks.set(currentTask, t);
  }
  return t;
}
function touch(s, t0) {
  if (s.firstUse === null || t0 < s.firstUse) s.firstUse = t0;
  s.lastUse = now();
}

const openOrig = Connection.open;
Connection.open = async function (opts) {
  const t0 = now();
  const c = await openOrig.call(this, opts);
  const s = hostStats(opts.host);
  s.connects++;
  s.connectMs.push(now() - t0);
  touch(s, t0);
  return c;
};
const proto = Connection.prototype;
// every command goes through runEach (run -> runBatch -> runEach) or runSequence (a task's
// commands, with the next task's observation behind them): one call, one round trip
function roundTrips(method) {
  const orig = proto[method];
  proto[method] = function (cmds, opts) {
    const t0 = now();
    const task = taskStats();
    const results = orig.call(this, cmds, opts);
    void Promise.allSettled(results).then(() => {
      const s = hostStats(this.host);
      s.roundTrips++;
      s.commands += cmds.length;
      s.runMs += now() - t0;
      touch(s, t0);
    });
    task.roundTrips++;
    task.commands += cmds.length;
    return results;
  };
}
roundTrips('runEach');
roundTrips('runSequence');
/** Counts calls of proto[method] and the time spent waiting for them, per host and task. */
function counted(method, count, ms) {
  const orig = proto[method];
  proto[method] = async function (...args) {
    const t0 = now();
    const task = taskStats();
    try {
      return await orig.apply(this, args);
    } finally {
      const s = hostStats(this.host);
      s[count]++;
      s[ms] += now() - t0;
      touch(s, t0);
      task[count]++;
    }
  };
}
counted('upload', 'uploads', 'uploadMs');
counted('readFile', 'reads', 'readMs');

// Watch the JSON events on their way out (for the phases and the task of each call).
const write = process.stdout.write.bind(process.stdout);
let pending = '';
process.stdout.write = (chunk, ...rest) => {
  pending += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
  let i;
  while ((i = pending.indexOf('\n')) >= 0) {
    const line = pending.slice(0, i);
    pending = pending.slice(i + 1);
    try {
      const e = JSON.parse(line);
      if (e.type === 'run_start' && marks.runStart === undefined) marks.runStart = now();
      else if (e.type === 'task_start') currentTask = `${e.handler ? 'handler: ' : ''}${e.task}`;
      else if (e.type === 'host_result') {
        const t = taskStats();
        t.hosts++;
        t.durationMs += e.durationMs ?? 0;
        t.maxHostMs = Math.max(t.maxHostMs, e.durationMs ?? 0);
      } else if (e.type === 'recap') marks.recap = now();
    } catch {
      /* not an event */
    }
  }
  return write(chunk, ...rest);
};

process.on('exit', () => {
  const end = now();
  const list = [...hosts.values()];
  const sum = (k) => list.reduce((a, s) => a + s[k], 0);
  const out = {
    phases: {
      startupMs: marks.runStart ?? null,
      runMs: marks.runStart !== undefined && marks.recap !== undefined ? marks.recap - marks.runStart : null,
      exitMs: marks.recap !== undefined ? end - marks.recap : null,
      totalMs: end,
      modulesLoadedMs: marks.modulesLoaded,
    },
    hosts: Object.fromEntries(hosts),
    totals: {
      hosts: list.length,
      connects: sum('connects'),
      roundTrips: sum('roundTrips'),
      commands: sum('commands'),
      uploads: sum('uploads'),
      reads: sum('reads'),
      runMs: sum('runMs'),
      uploadMs: sum('uploadMs'),
      readMs: sum('readMs'),
      connectMs: list.reduce((a, s) => a + s.connectMs.reduce((x, y) => x + y, 0), 0),
    },
    tasks: Object.fromEntries(tasks),
  };
  const text = JSON.stringify(out, null, 2) + '\n';
  if (process.env.UL_BENCH_PROFILE_OUT) writeFileSync(process.env.UL_BENCH_PROFILE_OUT, text);
  else process.stderr.write(text);
});

for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err && err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`underlay: internal error: ${err?.stack ?? err}\n`);
    process.exitCode = 1;
  },
);
