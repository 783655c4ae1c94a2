import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** The console's URL; every path below it that is not an asset is the single-page application. */
const CONSOLE_PATH = '/console';
const ASSETS_PATH = `${CONSOLE_PATH}/assets/`;

/** Where `packages/console/scripts/build.mjs` writes the bundle, found through the package (as the deployed image has it). */
export function consoleBundleDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@meridian/console/package.json')), 'dist');
}

/**
 * Issue 21: the console loads nothing but what the hub serves. Scripts and
 * stylesheets come from this origin only; Mantine writes its CSS variables
 * into `<style>` elements, which the page's per-response nonce allows (no
 * 'unsafe-inline'). Requests go to this origin only (`/graphql`, `/oidc`).
 */
export function consoleCsp(nonce: string): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    `style-src 'self' 'nonce-${nonce}'`,
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

const SECURITY_HEADERS = {
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
  '.svg': 'image/svg+xml',
};

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Meridian console not built</title></head>
<body><main><h1>The console is not built</h1>
<p>This hub was started without the console's bundle. Run <code>pnpm run build:hub</code> (or
<code>node packages/console/scripts/build.mjs</code>) and restart the hub; <code>npm start</code> and <code>pnpm hub</code> do it for you.</p>
<p>The GraphQL API at <code>/graphql</code> and the <code>meridian</code> CLI work without it.</p></main></body></html>
`;

interface Asset {
  file: string;
  type: string;
  /** Read on first request and kept: the bundle does not change while the hub runs. */
  body?: Promise<{ raw: Buffer; gzipped: Buffer; etag: string }>;
}

interface Bundle {
  /** index.html with `CSP_NONCE` where the nonce goes. */
  page: string;
  assets: Map<string, Asset>;
}

function loadBundle(dir: string): Bundle | undefined {
  const index = join(dir, 'index.html');
  if (!existsSync(index)) return undefined;
  const assets = new Map<string, Asset>();
  const assetDir = join(dir, 'assets');
  for (const entry of existsSync(assetDir) ? readdirSync(assetDir, { withFileTypes: true }) : []) {
    const type = CONTENT_TYPES[extname(entry.name)];
    if (entry.isFile() && type !== undefined) assets.set(ASSETS_PATH + entry.name, { file: join(assetDir, entry.name), type });
  }
  return { page: readFileSync(index, 'utf8'), assets };
}

const gzipAsync = promisify(gzip);

async function loadAsset(file: string) {
  const raw = await readFile(file);
  const gzipped = await gzipAsync(raw, { level: 9 });
  return { raw, gzipped, etag: `"${createHash('sha256').update(raw).digest('base64url').slice(0, 27)}"` };
}

async function sendAsset(asset: Asset, request: FastifyRequest, reply: FastifyReply) {
  asset.body ??= loadAsset(asset.file);
  const { raw, gzipped, etag } = await asset.body;
  // The names carry a hash of the content: a new build has new names, so a year's cache is safe.
  reply.headers(SECURITY_HEADERS).header('content-type', asset.type).header('cache-control', 'public, max-age=31536000, immutable');
  reply.header('etag', etag).header('vary', 'accept-encoding');
  if (request.headers['if-none-match'] === etag) return reply.code(304).send();
  if (/\bgzip\b/i.test(String(request.headers['accept-encoding'] ?? ''))) return reply.header('content-encoding', 'gzip').send(gzipped);
  return reply.send(raw);
}

/**
 * Serves the admin console (issue 21) at `/console`: its hashed assets, and
 * its one page for every other path below it (the application routes in the
 * browser). The page holds no data, so loading it needs no token; the console
 * signs in through the community's OpenID Provider and every operation it runs
 * goes through `/graphql` with the user's own token.
 */
export function registerConsole(app: FastifyInstance, options: { bundleDir?: string } = {}): void {
  const bundle = loadBundle(options.bundleDir ?? consoleBundleDir());
  if (!bundle) app.log.warn('The admin console was not built (run `pnpm run build:hub`): /console answers 503.');

  const sendPage = async (_request: FastifyRequest, reply: FastifyReply) => {
    const nonce = randomBytes(18).toString('base64');
    reply.headers(SECURITY_HEADERS).header('cache-control', 'no-store').header('content-security-policy', consoleCsp(nonce));
    if (!bundle) return reply.code(503).header('content-type', 'text/html; charset=utf-8').send(NOT_BUILT);
    return reply.header('content-type', 'text/html; charset=utf-8').send(bundle.page.replace('CSP_NONCE', nonce));
  };
  app.get(CONSOLE_PATH, async (_request, reply) => reply.redirect(`${CONSOLE_PATH}/`, 302));
  app.get(`${ASSETS_PATH}*`, async (request, reply) => {
    const path = request.url.split('?', 1)[0] ?? '';
    // Only files the build wrote are served: the lookup is by exact path, so `..` finds nothing.
    const asset = bundle?.assets.get(path);
    if (!asset) {
      return reply
        .code(404)
        .headers(SECURITY_HEADERS)
        .header('content-security-policy', consoleCsp('none'))
        .type('text/plain; charset=utf-8')
        .send('Not found.\n');
    }
    return sendAsset(asset, request, reply);
  });
  app.get(`${CONSOLE_PATH}/*`, sendPage);
}
