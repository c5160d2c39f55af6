// Bundles the compiled CLI (dist/cli/main.js and everything it imports, npm packages
// included, ssh2 too but its optional native parts) into one CommonJS file,
// dist/cli/underlay.cjs, which bin/underlay.js runs through a V8 code cache
// (src/cli/codecache.ts). One file: Node resolves and links one module instead of about
// 150, which takes about a quarter of a second off every start (bench/README.md).
// CommonJS: a script, which `vm.Script` compiles with the cache; an ES module cannot
// take one on Node 20.
// It sits beside main.js so that paths relative to the module (package.json, src/lab/)
// resolve the same. Run by `npm run build`, after tsc.
import { readFileSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

const outfile = 'dist/cli/underlay.cjs';
rmSync('dist/cli/underlay.mjs', { force: true }); // the ES module bundle of earlier builds
await build({
  entryPoints: ['dist/cli/main.js'],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  external: ['cpu-features'],
  plugins: [
    {
      // ssh2 loads its native crypto binding, where it was built, by a path relative to
      // its own file: the bundle asks for it by the package's path instead.
      name: 'ssh2-native-binding',
      setup(b) {
        b.onResolve({ filter: /^\.\/crypto\/build\/Release\/sshcrypto\.node$/ }, (args) => {
          if (!/[\\/]node_modules[\\/]ssh2[\\/]lib[\\/]protocol$/.test(args.resolveDir)) return undefined;
          return { path: 'ssh2/lib/protocol/crypto/build/Release/sshcrypto.node', external: true };
        });
      },
    },
  ],
  // the modules' own URL (import.meta.url), which CommonJS has no syntax for; strict mode
  // for the whole file, as the ES modules it is made of were (the directive must come first)
  define: { 'import.meta.url': '__ul_import_meta_url' },
  banner: { js: "\"use strict\";\nconst __ul_import_meta_url = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
});
// bin/underlay.js compiles the bundle without a loader for import(): there must be none.
const text = readFileSync(outfile, 'utf8');
const dynamic = /(?<![\w$.])import\s*\(/.exec(text);
if (dynamic) throw new Error(`${outfile}: a dynamic import() at offset ${dynamic.index}: bin/underlay.js cannot run it`);
if (!text.startsWith('"use strict";\n')) throw new Error(`${outfile}: does not start with the "use strict" directive`);
