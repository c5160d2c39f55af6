#!/usr/bin/env -S node --max-semi-space-size=8
// --max-semi-space-size=8: V8's young generation grows to 2 x 8 MB instead of 2 x 16 MB.
// The run makes many short-lived objects per host; with 100 hosts this keeps the peak
// memory about 20 MB lower at the same speed (bench/README.md, Memory).
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
