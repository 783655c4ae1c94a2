import { mkdtempSync, readFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Browser } from 'playwright-core';
import { consoleBundleDir, consoleCsp, registerConsole } from '../src/http/console-routes.js';
import { buildConsoleIfStale, visited, watchConsole } from './console-harness.js';
import { type HubHarness, startHub } from './harness.js';
import { launchChromium, listeningHub } from './oidc-harness.js';

// Issue 21: the admin console is served by the hub at /console, offline from any CDN, with a strict CSP.

const CDN =
  /\b(?:esm\.sh|unpkg\.com|cdn\.jsdelivr\.net|cdnjs\.cloudflare\.com|fonts\.googleapis\.com|fonts\.gstatic\.com|jspm\.io|skypack\.dev)\b/;

let hub: HubHarness;
let origin: string;
let browser: Browser;
const apps: FastifyInstance[] = [];

beforeAll(async () => {
  buildConsoleIfStale();
  hub = await startHub();
  const listening = await listeningHub(hub);
  apps.push(listening.app);
  origin = listening.origin;
  browser = await launchChromium();
}, 180_000);
afterAll(async () => {
  await browser?.close();
  for (const app of apps) await app.close();
  await hub?.close();
});

/** The status of a GET of `path` sent exactly as written (fetch and inject resolve dot segments first). */
function rawStatus(path: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const request = get({ host: '127.0.0.1', port: new URL(origin).port, path }, (response) => {
      response.resume();
      resolve(response.statusCode);
    });
    request.on('error', reject);
  });
}

/** The nonce the page's meta element carries. */
function nonceOf(html: string): string {
  return /<meta name="meridian-style-nonce" content="([^"]+)">/.exec(html)?.[1] ?? '';
}

describe('the console page', () => {
  it('redirects /console to /console/', async () => {
    const response = await fetch(`${origin}/console`, { redirect: 'manual' });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('/console/');
  });

  it('serves its one page at every path below /console, never cached, with a strict CSP and a fresh nonce', async () => {
    const nonces = new Set<string>();
    for (const path of ['/console/', '/console/accounts', '/console/targets/aws/deep', '/console/callback?code=x&state=y']) {
      const response = await fetch(`${origin}${path}`);
      expect({ path, status: response.status }).toEqual({ path, status: 200 });
      expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      const html = await response.text();
      const nonce = nonceOf(html);
      expect(nonce).toMatch(/^[A-Za-z0-9+/]{24}$/);
      nonces.add(nonce);
      expect(response.headers.get('content-security-policy')).toBe(consoleCsp(nonce));
      // No inline script: every script is a file of this origin.
      expect(html).not.toMatch(/<script(?![^>]*\bsrc="\/console\/assets\/)[^>]*>/);
    }
    expect(nonces.size).toBe(4);
    const csp = consoleCsp('n');
    expect(csp).toContain("default-src 'none'");
    expect(csp).toMatch(/(?:^|; )script-src 'self'(?:;|$)/);
    expect(csp).toMatch(/(?:^|; )connect-src 'self'(?:;|$)/);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:|\*/);
  });

  it('serves its hashed assets for a year, compressed on request, and nothing else', async () => {
    const html = await (await fetch(`${origin}/console/`)).text();
    const paths = [...html.matchAll(/\b(?:src|href)="(\/console\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(paths).toEqual([
      expect.stringMatching(/^\/console\/assets\/console-\w+\.css$/),
      expect.stringMatching(/^\/console\/assets\/console-\w+\.js$/),
    ]);
    for (const path of paths) {
      const response = await fetch(`${origin}${path}`);
      expect({ path, status: response.status }).toEqual({ path, status: 200 });
      expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(response.headers.get('content-type')).toBe(
        path.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8',
      );
      const body = await response.text();
      expect({ path, cdn: CDN.exec(body)?.[0] }).toEqual({ path, cdn: undefined });
      expect({ path, remoteImports: body.match(/\b(?:import|fetch)\s*\(\s*["'`](?:https?:)?\/\/[^"'`]+/g) }).toEqual({
        path,
        remoteImports: null,
      });
      const etag = response.headers.get('etag')!;
      expect((await fetch(`${origin}${path}`, { headers: { 'if-none-match': etag } })).status).toBe(304);
    }
    const zipped = await apps[0]!.inject({ method: 'GET', url: paths[1]!, headers: { 'accept-encoding': 'gzip' } });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    for (const path of [
      '/console/assets/nope.js',
      '/console/assets/../index.html',
      '/console/assets/%2e%2e/index.html',
      '/console/assets/%2e%2e%2findex.html',
    ]) {
      expect({ path, status: await rawStatus(path) }).toEqual({ path, status: 404 });
    }
  });

  it('answers 503 with what to run when the bundle was not built', async () => {
    const app = Fastify({ logger: false });
    apps.push(app);
    registerConsole(app, { bundleDir: mkdtempSync(join(tmpdir(), 'console-missing-')) });
    const response = await app.inject({ method: 'GET', url: '/console/accounts' });
    expect(response.statusCode).toBe(503);
    expect(response.body).toContain('pnpm run build:hub');
    expect(response.headers['content-security-policy']).toMatch(/^default-src 'none'/);
  });

  it('the built page names the bundle it was built with', () => {
    const html = readFileSync(join(consoleBundleDir(), 'index.html'), 'utf8');
    expect(html).toContain('CSP_NONCE');
  });

  it('shows the sign-in page in a browser without any CSP violation or serious accessibility problem', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const problems = watchConsole(page);
    const remote: string[] = [];
    page.on('request', (request) => {
      if (!request.url().startsWith(origin) && !request.url().startsWith('data:')) remote.push(request.url());
    });
    await page.goto(`${origin}/console/`);
    await page.getByRole('textbox', { name: 'Community' }).waitFor();
    expect(await page.title()).toBe('Sign in · Meridian console');
    // Mantine's CSS variables reached the page through the nonce: the theme's primary colour is set.
    expect(
      await page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--mantine-primary-color-filled').trim()"),
    ).not.toBe('');
    await visited(page, 'sign-in');
    expect(problems).toEqual([]);
    expect(remote).toEqual([]);
    await context.close();
  });
});
