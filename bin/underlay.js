#!/usr/bin/env -S node --max-semi-space-size=8 --optimize-for-size --no-opt
// V8 flags for a run that keeps one SSH connection and many short-lived objects per host:
// --max-semi-space-size=8: the young generation grows to 2 x 8 MB instead of 2 x 16 MB;
// --optimize-for-size: V8 favours memory over speed of its own code;
// --no-opt: no optimizing compiler (TurboFan). A run is seconds of short bursts of code
// between network waits: compiling hot functions on background threads cost more CPU
// than it saved.
// With 100 hosts the peak memory is about 93 MB instead of about 155 MB (170 MB without
// any), and the controller takes less CPU than with Node's defaults (bench/README.md, Memory).
// the bundle of dist/cli/main.js (npm run build; .ci/bundle.js)
import { main } from '../dist/cli/underlay.mjs';

// A reader that goes away (`underlay ... | head`) is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err && err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { process.stderr.write(`underlay: internal error: ${err?.stack ?? err}\n`); process.exitCode = 1; },
);
