#!/usr/bin/env -S node --max-semi-space-size=8 --heap-growing-percent=50 --no-opt
// V8 flags for a run that keeps one SSH connection and many short-lived objects per host:
// --max-semi-space-size=8: the young generation grows to 2 x 8 MB instead of 2 x 16 MB;
// --heap-growing-percent=50: after a full collection the old generation may grow by half
//   before the next one, instead of by up to 4 times: that bounds the peak at 100 hosts;
// --no-opt: no optimizing compiler (TurboFan). A run is seconds of short bursts of code
//   between network waits: compiling hot functions on background threads cost more CPU
//   than it saved.
// Not --optimize-for-size: it also fixes the young generation at 1 MB whatever
// --max-semi-space-size says, and the many collections that makes cost more CPU than the
// memory it saves is worth (bench/README.md, Memory).
// With 100 hosts the peak memory is about 110-118 MB (170 MB with Node's defaults).
import { fileURLToPath } from 'node:url';
import { runBundle } from '../dist/cli/codecache.js';

// The bundle of dist/cli/main.js (npm run build; .ci/bundle.js), compiled with the code
// cache of earlier runs (src/cli/codecache.ts).
const bundle = runBundle(fileURLToPath(new URL('../dist/cli/underlay.cjs', import.meta.url)));
const { main, ranPlay } = bundle.exports;
const argv = process.argv.slice(2);

// A reader that goes away (`underlay ... | head`) is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err && err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

main(argv).then(
  (code) => {
    process.exitCode = code;
    if (ranPlay(argv, code)) bundle.save();
  },
  (err) => { process.stderr.write(`underlay: internal error: ${err?.stack ?? err}\n`); process.exitCode = 1; },
);
