#!/usr/bin/env node
// Bundles the GraphQL explorer (GraphiQL, React, Monaco and its workers) from
// the installed npm packages into dist/explorer, which src/http/explorer.ts
// serves. Issue 6: the page works offline, so nothing is fetched from a CDN and
// no bundle is checked in. esbuild-wasm rather than esbuild: it has no install
// script, so the workspace's build-script allow-list needs no exception.
import { readdir, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild-wasm';

const hub = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(hub, 'src', 'http', 'explorer');
const outdir = join(hub, 'dist', 'explorer');

const common = {
  absWorkingDir: hub,
  bundle: true,
  minify: true,
  // Licence notices stay in the files the browser receives.
  legalComments: 'eof',
  target: ['es2022'],
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
};

// graphiql/style.css already carries Monaco's styles (and its icon font inlined);
// the CSS Monaco's modules import themselves would only add a second copy.
const monacoCssFromGraphiqlStyle = {
  name: 'monaco-css-from-graphiql-style',
  setup(build) {
    build.onLoad({ filter: /[\\/]monaco-editor[\\/]esm[\\/].*\.css$/ }, () => ({ contents: '', loader: 'css' }));
  },
};

/** The newest modification time of the inputs: the explorer's sources, this script, the hub's package.json. */
async function newestInput() {
  const files = [fileURLToPath(import.meta.url), join(hub, 'package.json'), ...(await readdir(source)).map((f) => join(source, f))];
  const times = await Promise.all(files.map(async (f) => (await stat(f)).mtimeMs));
  return Math.max(...times);
}

// `--if-stale` (npm start): keep a bundle that is newer than its inputs, so a start costs no rebuild.
if (process.argv.includes('--if-stale')) {
  const built = await stat(join(outdir, 'client.js')).catch(() => undefined);
  if (built && built.mtimeMs >= (await newestInput())) process.exit(0);
}

const started = Date.now();
await rm(outdir, { recursive: true, force: true });
await esbuild.build({
  ...common,
  entryPoints: { client: join(source, 'client.jsx') },
  outdir,
  format: 'esm',
  jsx: 'automatic',
  // No code splitting: CSS imported by a lazily loaded chunk would never reach the page.
  splitting: false,
  loader: { '.ttf': 'file', '.woff': 'file', '.woff2': 'file' },
  assetNames: 'fonts/[name]-[hash]',
  plugins: [monacoCssFromGraphiqlStyle],
});
// Monaco runs its language services in web workers, loaded by URL from the hub (see workers.js).
await esbuild.build({
  ...common,
  // Resolved here (as esbuild would from the hub) so that the dependency on each package is visible to knip.
  entryPoints: {
    'editor.worker': fileURLToPath(import.meta.resolve('monaco-editor/esm/vs/editor/editor.worker.js')),
    'json.worker': fileURLToPath(import.meta.resolve('monaco-editor/esm/vs/language/json/json.worker.js')),
    'graphql.worker': fileURLToPath(import.meta.resolve('monaco-graphql/esm/graphql.worker.js')),
  },
  outdir: join(outdir, 'workers'),
  format: 'iife',
});
await esbuild.stop?.();
console.log(`explorer bundled into ${outdir} in ${Date.now() - started} ms`);
