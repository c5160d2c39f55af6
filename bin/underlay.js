#!/usr/bin/env node
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
