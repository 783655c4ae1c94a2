import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { FastifyInstance } from 'fastify';
import { type Browser, chromium, type Page } from 'playwright-core';
import { ConfigError, loadConfig } from '../src/config/config.js';
import { buildApp } from '../src/http/app.js';
import { EXPLORER_CSP } from '../src/http/explorer.js';
import { type HubHarness, startHub } from './harness.js';

// Issue 6: a GraphQL explorer served by the hub that works offline (no CDN).

const CHROMIUM = '/usr/bin/chromium';
const BUILD_SCRIPT = fileURLToPath(new URL('../scripts/build-explorer.mjs', import.meta.url));
// Hosts that serve front-end packages; the bundle must name none of them.
const CDN =
  /\b(?:esm\.sh|unpkg\.com|cdn\.jsdelivr\.net|cdnjs\.cloudflare\.com|fonts\.googleapis\.com|fonts\.gstatic\.com|jspm\.io|skypack\.dev)\b/;

let hub: HubHarness;
let app: FastifyInstance;
let origin: string;
const logLines: string[] = [];
const apps: FastifyInstance[] = [];

/** A hub app on the harness's database, listening on a real port, logging everything to `logLines`. */
async function listeningApp(env: Record<string, string> = {}): Promise<{ app: FastifyInstance; origin: string }> {
  const config = loadConfig({
    DATABASE_URL: hub.db.url,
    MERIDIAN_ADMIN_TOKEN: hub.adminToken,
    MERIDIAN_PUBLIC_URL: 'https://hub.test',
    ...env,
  });
  const stream = { write: (line: string) => void logLines.push(line) };
  const built = await buildApp({ config, runtime: hub.runtime, logger: { level: 'trace', stream } });
  apps.push(built);
  const address = await built.listen({ port: 0, host: '127.0.0.1' });
  return { app: built, origin: address };
}

beforeAll(async () => {
  // The same step as `pnpm --filter @meridian/hub build`, so the test always sees the current sources.
  execFileSync(process.execPath, [BUILD_SCRIPT], { stdio: 'pipe' });
  hub = await startHub();
  ({ app, origin } = await listeningApp());
}, 180_000);
afterAll(async () => {
  for (const opened of apps) await opened.close();
  await hub?.close();
});

function expectPageHeaders(response: Response) {
  expect(response.headers.get('content-security-policy')).toBe(EXPLORER_CSP);
  expect(response.headers.get('x-content-type-options')).toBe('nosniff');
}

/** `http(s)://` or protocol-relative URLs in the places a page loads code, styles, fonts or data from. */
function remoteSources(text: string): string[] {
  const patterns = [
    // HTML attributes and CSS url()/@import.
    /\b(?:src|href)\s*=\s*["']?((?:https?:)?\/\/[^"'\s>]+)/gi,
    /\burl\(\s*["']?((?:https?:)?\/\/[^"')\s]+)/gi,
    /@import\s+(?:url\()?\s*["']?((?:https?:)?\/\/[^"')\s;]+)/gi,
    // JavaScript that loads: module imports, fetch, workers, importScripts, script and link elements.
    /\b(?:import|fetch|importScripts|Worker|SharedWorker|EventSource|WebSocket|sendBeacon)\s*\(\s*["'`]((?:https?:|wss?:)?\/\/[^"'`\s]+)/g,
    /\bfrom\s*["'`]((?:https?:)?\/\/[^"'`\s]+)/g,
    /\.(?:src|href)\s*=\s*["'`]((?:https?:)?\/\/[^"'`\s]+)/g,
  ];
  return patterns.flatMap((pattern) => [...text.matchAll(pattern)].map((match) => match[1] ?? ''));
}

describe('the explorer page and its assets', () => {
  const assets = new Map<string, { type: string; body: string }>();

  beforeAll(async () => {
    const page = await fetch(`${origin}/explorer`);
    assets.set('/explorer', { type: page.headers.get('content-type') ?? '', body: await page.text() });
    const html = assets.get('/explorer')!.body;
    const queue = [...html.matchAll(/\b(?:src|href)="(?!data:)([^"]+)"/g)].map((m) => m[1]!);
    while (queue.length > 0) {
      const path = queue.shift()!;
      if (assets.has(path)) continue;
      const response = await fetch(new URL(path, origin));
      expect({ path, status: response.status }).toEqual({ path, status: 200 });
      expectPageHeaders(response);
      const body = await response.text();
      assets.set(path, { type: response.headers.get('content-type') ?? '', body });
      // Workers are loaded by the script (workers.js), fonts and images by the stylesheet.
      for (const [, name] of body.matchAll(/["'`/]([\w-]+\.worker\.js)\b/g)) queue.push(`/explorer/assets/workers/${name}`);
      if (path.endsWith('.css')) {
        for (const [, ref] of body.matchAll(/\burl\(\s*["']?(?!data:)([^"')]+)/g))
          queue.push(new URL(ref!, new URL(path, origin)).pathname);
      }
    }
  });

  it('serves the page without a token, with a strict CSP and nosniff', async () => {
    const response = await fetch(`${origin}/explorer`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expectPageHeaders(response);
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    // Self only: no remote origin, no inline or eval'd script.
    for (const directive of EXPLORER_CSP.split('; ')) expect(directive).not.toMatch(/https?:|\*|'unsafe-eval'|'strict-dynamic'/);
    expect(EXPLORER_CSP).toMatch(/(?:^|; )script-src 'self'(?:;|$)/);
    expect(EXPLORER_CSP).toMatch(/(?:^|; )connect-src 'self'(?:;|$)/);
    expect(EXPLORER_CSP).toContain("default-src 'none'");
    expect(assets.get('/explorer')!.body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
  });

  it('serves every asset the page references, with its content type', () => {
    const types = Object.fromEntries([...assets].map(([path, { type }]) => [path, type]));
    expect(types).toMatchObject({
      '/explorer': 'text/html; charset=utf-8',
      '/explorer/assets/client.js': 'text/javascript; charset=utf-8',
      '/explorer/assets/client.css': 'text/css; charset=utf-8',
      '/explorer/assets/workers/editor.worker.js': 'text/javascript; charset=utf-8',
      '/explorer/assets/workers/json.worker.js': 'text/javascript; charset=utf-8',
      '/explorer/assets/workers/graphql.worker.js': 'text/javascript; charset=utf-8',
    });
    for (const [path, { type }] of assets) {
      expect({ path, type }).toEqual({ path, type: expect.stringMatching(/^(?:text\/(?:html|javascript|css); charset=utf-8|font\/\w+)$/) });
    }
  });

  it('references no remote origin as a script, style, font or fetch source, nor any CDN', () => {
    for (const [path, { body }] of assets) {
      expect({ path, remote: remoteSources(body) }).toEqual({ path, remote: [] });
      expect({ path, cdn: CDN.exec(body)?.[0] }).toEqual({ path, cdn: undefined });
    }
  });

  it('compresses assets for clients that accept gzip and answers 304 to a matching ETag', async () => {
    const plain = await fetch(`${origin}/explorer/assets/client.js`, { headers: { 'accept-encoding': 'identity' } });
    expect(plain.headers.get('content-encoding')).toBeNull();
    const etag = plain.headers.get('etag')!;
    expect(etag).toMatch(/^"[\w-]+"$/);
    const zipped = await app.inject({ method: 'GET', url: '/explorer/assets/client.js', headers: { 'accept-encoding': 'gzip, br' } });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.rawPayload.length).toBeLessThan(Number(plain.headers.get('content-length')) / 2);
    const again = await fetch(`${origin}/explorer/assets/client.js`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
  });

  it('serves nothing outside the bundle', async () => {
    for (const url of [
      '/explorer/assets/../../package.json',
      '/explorer/assets/%2e%2e/%2e%2e/package.json',
      '/explorer/assets/workers',
      '/explorer/assets/nope.js',
    ]) {
      const res = await app.inject({ method: 'GET', url });
      expect({ url, status: res.statusCode }).toEqual({ url, status: 404 });
    }
  });

  it('sends a browser that opens /graphql to the explorer, and leaves GraphQL clients alone', async () => {
    const browser = await app.inject({ method: 'GET', url: '/graphql', headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    expect(browser.statusCode).toBe(302);
    expect(browser.headers.location).toBe('/explorer');
    const query = await app.inject({ method: 'GET', url: '/graphql?query=%7B__typename%7D', headers: { accept: 'text/html' } });
    expect(query.statusCode).not.toBe(302);
    const client = await app.inject({
      method: 'POST',
      url: '/graphql',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${hub.tenants.emea.token}` },
      payload: JSON.stringify({ query: '{ communities { totalCount } }' }),
    });
    expect(client.json()).toEqual({ data: { communities: { totalCount: 1 } } });
  });
});

describe('MERIDIAN_GRAPHQL_EXPLORER', () => {
  it('defaults to on and accepts only true or false', () => {
    expect(loadConfig({}).graphqlExplorer).toBe(true);
    expect(loadConfig({ MERIDIAN_GRAPHQL_EXPLORER: ' ' }).graphqlExplorer).toBe(true);
    expect(loadConfig({ MERIDIAN_GRAPHQL_EXPLORER: 'FALSE' }).graphqlExplorer).toBe(false);
    expect(() => loadConfig({ MERIDIAN_GRAPHQL_EXPLORER: 'no' })).toThrow(ConfigError);
    expect(() => loadConfig({ MERIDIAN_GRAPHQL_EXPLORER: 'no' })).toThrow(/MERIDIAN_GRAPHQL_EXPLORER must be true or false/);
  });

  it('removes the page, its assets and the redirect when false', async () => {
    const off = await listeningApp({ MERIDIAN_GRAPHQL_EXPLORER: 'false' });
    for (const url of ['/explorer', '/explorer/assets/client.js']) expect((await fetch(`${off.origin}${url}`)).status).toBe(404);
    const browser = await fetch(`${off.origin}/graphql`, { headers: { accept: 'text/html' }, redirect: 'manual' });
    expect(browser.status).not.toBe(302);
  });
});

/** The browser globals the page callbacks use: this file compiles without the DOM library, and casts are all that cross into the page. */
interface PageScope {
  document: {
    addEventListener(type: 'securitypolicyviolation', listener: (event: { violatedDirective: string; blockedURI: string }) => void): void;
    querySelector(selector: string): { textContent: string | null } | null;
  };
  navigator: { clipboard: { writeText(text: string): Promise<void> } };
  cspViolations?: string[];
}

// `npm test` on a machine with only Node and npm has no Chromium: there the browser test is skipped, loudly.
// CI (CI=true, set by .ci/run, which installs Chromium) never skips it: a missing browser fails it there.
const browserAvailable = existsSync(CHROMIUM);
if (!browserAvailable && process.env.CI !== 'true') {
  console.warn(`The explorer's browser test is skipped: no Chromium at ${CHROMIUM} (apt-get install -y --no-install-recommends chromium).`);
}
const describeInBrowser = browserAvailable || process.env.CI === 'true' ? describe : describe.skip;

describeInBrowser('the explorer in a headless browser', () => {
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `Chromium is missing at ${CHROMIUM}; the explorer's browser test needs it. Install it with ` +
          '`apt-get install -y --no-install-recommends chromium` (bash .ci/run does this).',
      );
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  /** The text of an element, with Monaco's non-breaking spaces made plain. */
  async function textOf(page: Page, selector: string): Promise<string> {
    return ((await page.locator(selector).first().textContent()) ?? '').replace(/\u00a0/g, ' ');
  }

  it('runs a query pasted into GraphiQL with a pasted token, talking only to the hub', async () => {
    // Clipboard access, so the query is pasted as a user would rather than typed into Monaco's auto-closing brackets.
    const context = await browser.newContext({ permissions: ['clipboard-read', 'clipboard-write'] });
    const requests: { url: string; authorization: string | undefined }[] = [];
    context.on('request', (request) => void requests.push({ url: request.url(), authorization: request.headers().authorization }));
    const problems: string[] = [];
    const token = hub.tenants.emea.token;
    try {
      const page = await context.newPage();
      page.on('pageerror', (error) => void problems.push(`page error: ${error.message}`));
      page.on('console', (message) => {
        // GraphiQL introspects as soon as it opens, before a token is pasted: that 401 is the hub doing its job.
        if (message.type() === 'error' && !message.text().includes('status of 401')) problems.push(`console: ${message.text()}`);
      });
      // Runs outside the page's CSP, so it sees every violation the page causes.
      await page.addInitScript(() => {
        const seen: string[] = [];
        const scope = globalThis as unknown as PageScope;
        scope.cspViolations = seen;
        scope.document.addEventListener(
          'securitypolicyviolation',
          (event) => void seen.push(`${event.violatedDirective} ${event.blockedURI}`),
        );
      });

      await page.goto(`${origin}/explorer`);
      // A new token makes GraphiQL introspect again; completion needs that schema.
      const introspected = page.waitForResponse((response) => response.url() === `${origin}/graphql` && response.status() === 200);
      await page.getByLabel('Bearer token').fill(token);
      await introspected;
      expect(await page.evaluate(() => sessionStorage.getItem('meridian.explorer.token'))).toBe(token);

      const editor = page.locator('.graphiql-query-editor .monaco-editor').first();
      await editor.click();
      await page.keyboard.press('ControlOrMeta+A');
      await page.keyboard.press('Delete');
      await page.keyboard.insertText('{ communi');
      await page.keyboard.press('Control+Space');
      await page.locator('.suggest-widget .monaco-list-row', { hasText: 'communities' }).first().waitFor({ timeout: 30_000 });
      await page.keyboard.press('Escape');

      await page.evaluate(
        (query) => (globalThis as unknown as PageScope).navigator.clipboard.writeText(query),
        '{ communities { totalCount } }',
      );
      await page.keyboard.press('ControlOrMeta+A');
      await page.keyboard.press('ControlOrMeta+V');
      await page.getByRole('button', { name: /^Execute query/ }).click();
      // JavaScript's \s also matches the non-breaking spaces Monaco renders.
      await page.locator('.result-window .view-lines', { hasText: /"totalCount":\s*1\b/ }).waitFor({ timeout: 30_000 });
      expect(await textOf(page, '.result-window .view-lines')).toMatch(/"communities":\s*\{\s*"totalCount":\s*1\s*\}/);
      expect(await page.evaluate(() => (globalThis as unknown as PageScope).cspViolations)).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }

    // Every request went to this hub; the operations to its /graphql, with the pasted token in the header.
    const urls = requests.map(({ url }) => url);
    expect(urls.filter((url) => !url.startsWith('data:') && new URL(url).origin !== origin)).toEqual([]);
    expect(urls).toEqual(expect.arrayContaining([`${origin}/explorer`, `${origin}/explorer/assets/workers/graphql.worker.js`]));
    const operations = requests.filter(({ url }) => url === `${origin}/graphql`);
    expect(operations.some(({ authorization }) => authorization === `Bearer ${token}`)).toBe(true);
    // The token never went into a URL, and the hub logged it nowhere, though it logged the requests.
    expect(urls.some((url) => url.includes(token))).toBe(false);
    expect(logLines.some((line) => line.includes('"url":"/graphql"'))).toBe(true);
    expect(logLines.join('\n')).not.toContain(token);
  }, 120_000);
});
