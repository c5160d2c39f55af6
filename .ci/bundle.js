// Bundles the compiled CLI (dist/cli/main.js and everything it imports, npm packages
// included, but ssh2 with its optional native parts) into one file, dist/cli/underlay.mjs,
// which bin/underlay.js runs: Node then resolves and links one module instead of about
// 150, which takes about a quarter of a second off every start (bench/README.md).
// It sits beside main.js so that paths relative to the module (package.json, src/lab/)
// resolve the same. Run by `npm run build`, after tsc.
import { build } from 'esbuild';

await build({
  entryPoints: ['dist/cli/main.js'],
  outfile: 'dist/cli/underlay.mjs',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  external: ['ssh2', 'cpu-features'],
  // CommonJS packages inside call require(): give the module one
  banner: { js: "import { createRequire as __ulCreateRequire } from 'node:module'; const require = __ulCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
