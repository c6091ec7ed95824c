// Bundles the portal: src/main.tsx -> <out>/app.js + <out>/app.css, and
// index.html copied beside them. Run by portal/CMakeLists.txt as
//   node build.mjs --out <dir> [--node-modules <dir>]
// (--node-modules: where `npm ci` installed the dependencies, when that is
// not portal/node_modules, e.g. a build directory).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const out = path.resolve(opt('--out', path.join(here, 'dist')));
const modules = path.resolve(opt('--node-modules', path.join(here, 'node_modules')));
const require = createRequire(path.join(modules, 'noop.js'));
const esbuild = require('esbuild');

fs.mkdirSync(out, { recursive: true });
await esbuild.build({
  entryPoints: { app: path.join(here, 'src/main.tsx') },
  outdir: out,
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['chrome110', 'firefox110', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  nodePaths: [modules],
  legalComments: 'none',
  logLevel: 'warning',
  // Same bytes for the same sources: no timestamps, no absolute paths.
  sourcemap: false,
});
fs.copyFileSync(path.join(here, 'index.html'), path.join(out, 'index.html'));
