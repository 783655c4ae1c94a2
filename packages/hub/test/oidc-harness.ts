import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { type Browser, chromium } from 'playwright-core';
import { loadConfig } from '../src/config/config.js';
import { buildApp } from '../src/http/app.js';
import type { HubHarness } from './harness.js';

/** Debian's Chromium, which CI installs: the person who signs in. */
const CHROMIUM = '/usr/bin/chromium';

/** A free TCP port on 127.0.0.1 (the issuer's URL must name the port the hub listens on). */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** A hub app on the harness's database, listening on a real port whose URL is its public URL (so issuers match). */
export async function listeningHub(hub: HubHarness, env: Record<string, string> = {}): Promise<{ app: FastifyInstance; origin: string }> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const config = loadConfig({ DATABASE_URL: hub.db.url, MERIDIAN_ADMIN_TOKEN: hub.adminToken, MERIDIAN_PUBLIC_URL: origin, ...env });
  const app = await buildApp({ config, runtime: hub.runtime, logger: false });
  await app.listen({ port, host: '127.0.0.1' });
  return { app, origin };
}

/** A relying party's endpoints: answers 200 to every request, and keeps the URLs it was called with and what was posted. */
export async function callbackServer(): Promise<{
  origin: string;
  calls: URL[];
  posts: { path: string; body: string }[];
  close(): Promise<void>;
  server: Server;
}> {
  const calls: URL[] = [];
  const posts: { path: string; body: string }[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    calls.push(url);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method === 'POST') posts.push({ path: url.pathname, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('relying party');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    calls,
    posts,
    server,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Headless Chromium; fails (never skips) when it is missing: CI installs it. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true });
}
