#!/usr/bin/env node
// Bundles the admin console (React, Mantine, urql, oauth4webapi) from the
// installed npm packages into dist/, which the hub serves at /console (issue 21).
// Nothing is fetched from a CDN and no bundle is checked in. esbuild-wasm rather
// than esbuild: it has no install script, so the workspace's build-script
// allow-list needs no exception.
//
// dist/index.html names the content-hashed script and stylesheet; the hub
// replaces CSP_NONCE in it with a fresh nonce per response (Mantine writes its
// CSS variables into <style> elements that carry that nonce).
import { readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild-wasm';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'src');
const outdir = join(root, 'dist');

/** Every file under a directory, recursively. */
async function filesUnder(dir) {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

/** The newest modification time of the inputs: the console's sources, this script, its package.json. */
async function newestInput() {
  const files = [fileURLToPath(import.meta.url), join(root, 'package.json'), ...(await filesUnder(source))];
  const times = await Promise.all(files.map(async (f) => (await stat(f)).mtimeMs));
  return Math.max(...times);
}

// `--if-stale` (npm start, the tests): keep a bundle that is newer than its inputs, so a start costs no rebuild.
if (process.argv.includes('--if-stale')) {
  const built = await stat(join(outdir, 'index.html')).catch(() => undefined);
  if (built && built.mtimeMs >= (await newestInput())) process.exit(0);
}

const started = Date.now();
// Built beside dist/ and moved into place at the end: a hub or a test reading dist/ meanwhile sees the old bundle or
// the new one, never half of one, and two builds at once (two test files) do not write into each other's files.
const building = join(root, `dist.building-${process.pid}`);
const assets = join(building, 'assets');
await rm(building, { recursive: true, force: true });
const result = await esbuild.build({
  absWorkingDir: root,
  entryPoints: { console: join(source, 'main.tsx') },
  outdir: assets,
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  bundle: true,
  minify: true,
  format: 'esm',
  jsx: 'automatic',
  // One script and one stylesheet: CSS imported by a lazily loaded chunk would never reach the page.
  splitting: false,
  // Licence notices stay in the files the browser receives.
  legalComments: 'eof',
  target: ['es2022'],
  define: { 'process.env.NODE_ENV': '"production"' },
  loader: { '.woff2': 'file', '.woff': 'file', '.svg': 'file' },
  metafile: true,
  logLevel: 'warning',
});
await esbuild.stop?.();

const outputs = Object.keys(result.metafile.outputs).map((file) => basename(file));
const script = outputs.find((file) => /^console-[\w]+\.js$/.test(file));
const style = outputs.find((file) => /^console-[\w]+\.css$/.test(file));
if (!script || !style) throw new Error(`the build wrote no script or stylesheet: ${outputs.join(', ')}`);

const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="meridian-style-nonce" content="CSP_NONCE">
<title>Meridian console</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/console/assets/${style}">
<script type="module" src="/console/assets/${script}"></script>
</head>
<body>
<noscript>The Meridian console needs JavaScript. Without it, use the GraphQL API at /graphql or the meridian CLI.</noscript>
<div id="root"></div>
</body>
</html>
`;
await writeFile(join(building, 'index.html'), page);
await rm(outdir, { recursive: true, force: true });
try {
  await rename(building, outdir);
} catch (error) {
  // Another build moved its bundle in first: the same sources, so keep it.
  if (error?.code !== 'ENOTEMPTY' && error?.code !== 'EEXIST') throw error;
  await rm(building, { recursive: true, force: true });
}
console.log(`console bundled into ${outdir} in ${Date.now() - started} ms`);
