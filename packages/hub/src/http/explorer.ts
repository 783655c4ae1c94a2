import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Options of {@link registerExplorer}. */
export interface ExplorerOptions {
  /** `MERIDIAN_GRAPHQL_EXPLORER`: when false, neither the page nor its redirect exists. */
  enabled: boolean;
}

/** The page's URL; its assets live under it. */
const EXPLORER_PATH = '/explorer';
const ASSETS_PATH = `${EXPLORER_PATH}/assets/`;

// Written by scripts/build-explorer.mjs. Two levels up is the package root from
// src/http (tests) and dist/http (built) alike.
const BUNDLE_DIR = fileURLToPath(new URL('../../dist/explorer/', import.meta.url));

/**
 * Issue 6: the page loads nothing but what the hub serves. Monaco writes its
 * theme and token colours into `<style>` elements at run time, so styles
 * allow inline; scripts, workers, fonts and requests stay on this origin.
 * `data:` fonts and images are GraphiQL's, inlined in its stylesheet.
 */
export const EXPLORER_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "worker-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "font-src 'self' data:",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': EXPLORER_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.ttf': 'font/ttf',
};

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Meridian GraphQL explorer</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${ASSETS_PATH}client.css">
<script type="module" src="${ASSETS_PATH}client.js"></script>
</head>
<body>
<noscript>The GraphQL explorer needs JavaScript. Without it, POST queries to /graphql with a bearer token.</noscript>
<div id="explorer"></div>
</body>
</html>
`;

const NOT_BUILT =
  'The GraphQL explorer is enabled but its bundle was not built: run `pnpm --filter @meridian/hub build:explorer` and restart the hub (or set MERIDIAN_GRAPHQL_EXPLORER=false).\n';

interface Asset {
  file: string;
  type: string;
  /** Read on first request and kept: the bundle does not change while the hub runs. */
  body?: Promise<{ raw: Buffer; gzipped: Buffer; etag: string }>;
}

/** The servable files of the bundle by URL path; undefined when it was not built. */
function listAssets(bundleDir: string): Map<string, Asset> | undefined {
  if (!existsSync(join(bundleDir, 'client.js'))) return undefined;
  const assets = new Map<string, Asset>();
  for (const entry of readdirSync(bundleDir, { recursive: true, withFileTypes: true })) {
    const type = CONTENT_TYPES[extname(entry.name)];
    if (!entry.isFile() || type === undefined) continue;
    const file = join(entry.parentPath, entry.name);
    assets.set(ASSETS_PATH + relative(bundleDir, file).split(sep).join('/'), { file, type });
  }
  return assets;
}

const gzipAsync = promisify(gzip);

async function loadAsset(file: string) {
  const raw = await readFile(file);
  // The bundle is megabytes of JavaScript; compressed once, it is served a quarter of that.
  const gzipped = await gzipAsync(raw, { level: 9 });
  return { raw, gzipped, etag: `"${createHash('sha256').update(raw).digest('base64url').slice(0, 27)}"` };
}

function acceptsGzip(request: FastifyRequest): boolean {
  return /\bgzip\b/i.test(String(request.headers['accept-encoding'] ?? ''));
}

async function sendAsset(asset: Asset, request: FastifyRequest, reply: FastifyReply) {
  asset.body ??= loadAsset(asset.file);
  const { raw, gzipped, etag } = await asset.body;
  reply.headers(SECURITY_HEADERS).header('content-type', asset.type).header('cache-control', 'no-cache').header('etag', etag);
  reply.header('vary', 'accept-encoding');
  if (request.headers['if-none-match'] === etag) return reply.code(304).send();
  if (acceptsGzip(request)) return reply.header('content-encoding', 'gzip').send(gzipped);
  return reply.send(raw);
}

/**
 * A browser that opens `/graphql` meant the explorer: Apollo would answer its
 * bare GET with a 400, as the hub has no (CDN-hosted) landing page.
 */
function wantsExplorer(request: FastifyRequest): boolean {
  return (
    request.method === 'GET' &&
    request.url === '/graphql' &&
    String(request.headers.accept ?? '')
      .toLowerCase()
      .includes('text/html')
  );
}

/**
 * Serves the GraphQL explorer at `/explorer`: GraphiQL bundled at build time
 * from npm, talking only to this hub's `/graphql`. The page holds no data, so
 * loading it needs no token; every operation it runs does.
 */
export function registerExplorer(app: FastifyInstance, options: ExplorerOptions): void {
  if (!options.enabled) return;
  const assets = listAssets(BUNDLE_DIR);
  if (!assets) app.log.warn(NOT_BUILT.trim());

  app.addHook('onRequest', async (request, reply) => {
    if (wantsExplorer(request)) return reply.redirect(EXPLORER_PATH, 302);
  });
  app.get(EXPLORER_PATH, async (_request, reply) => {
    reply.headers(SECURITY_HEADERS).header('cache-control', 'no-cache');
    if (!assets) return reply.code(503).header('content-type', 'text/plain; charset=utf-8').send(NOT_BUILT);
    return reply.header('content-type', 'text/html; charset=utf-8').send(PAGE);
  });
  app.get(`${ASSETS_PATH}*`, async (request, reply) => {
    const path = request.url.split('?', 1)[0] ?? '';
    // Only files the build wrote are served: the lookup is by exact path, so `..` finds nothing.
    const asset = assets?.get(path);
    if (!asset) return reply.code(404).headers(SECURITY_HEADERS).header('content-type', 'text/plain; charset=utf-8').send('Not found.\n');
    return sendAsset(asset, request, reply);
  });
}
