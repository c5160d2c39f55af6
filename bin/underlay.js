#!/usr/bin/env -S node --max-semi-space-size=8 --optimize-for-size --no-opt
// V8 flags for a run that keeps one SSH connection and many short-lived objects per host:
// --max-semi-space-size=8: the young generation grows to 2 x 8 MB instead of 2 x 16 MB;
// --optimize-for-size: V8 favours memory over speed of its own code;
// --no-opt: no optimizing compiler (TurboFan). A run is seconds of short bursts of code
// between network waits: compiling hot functions on background threads cost more CPU
// than it saved.
// With 100 hosts the peak memory is about 93 MB instead of about 155 MB (170 MB without
// any), and the controller takes less CPU than with Node's defaults (bench/README.md, Memory).
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
