#!/usr/bin/env node
// `pnpm bench:oidc`: a community's OpenID Provider (the hub, issue 15) against a bare oidc-provider with its
// default in-memory adapter, configured the same way, in the same run: token endpoint (client credentials) and
// userinfo throughput and latency. See docs/benchmarks.md.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Principal, RequestContext } from '@meridian/core';
import pg from 'pg';
import { benchLog, runBenchCli, saveJson } from '../bench-cli.js';
import { type BenchProcess, spawnServer } from '../directory/hub-process.js';
import { prepareHub } from '../replication/hub.js';
import { machineInfo } from '../report.js';
import { hubHeapFlags } from '../servers.js';
import { type EndpointRequest, sendCount } from './load.js';
import { type OidcBenchOptions, parseOptions, USAGE } from './options.js';
import { type EndpointResults, type OidcReport, renderOidcReport, spliceOidc } from './report.js';

const log = benchLog('bench:oidc');
const platform: Principal = { kind: 'platform', tokenId: 'bench', scopes: ['admin'] };
const setup: RequestContext = { actor: { type: 'system', id: 'bench' }, requestId: 'bench-oidc-setup' };
const REDIRECT = 'http://127.0.0.1:9/cb';
const USER = { userName: 'ada@bench.example', password: randomBytes(18).toString('base64url') };

/** One provider under load: where it listens, its token and userinfo paths, the client and a person's access token. */
interface Target {
  url: string;
  tokenPath: string;
  userinfoPath: string;
  basic: string;
  accessToken: string;
}

/**
 * Starts a server on a free port; again, up to three times, when another program took the port between the
 * look-up and the start (the machine is shared).
 */
async function spawnWithRetry(options: Parameters<typeof spawnServer>[0]): Promise<BenchProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await spawnServer(options);
    } catch (error) {
      if (attempt >= 3 || !/in use/.test((error as Error).message)) throw error;
      log(`port taken, starting ${options.script} again`);
    }
  }
}

async function postgresVersion(serverUrl: string): Promise<string> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    return `PostgreSQL ${(await client.query<{ v: string }>(`select current_setting('server_version') as v`)).rows[0]?.v ?? '?'}`;
  } finally {
    await client.end();
  }
}

async function oidcProviderVersion(): Promise<string> {
  // oidc-provider's entry is lib/index.js: its package.json is one folder up.
  const packageJson = fileURLToPath(new URL('../package.json', import.meta.resolve('oidc-provider')));
  const { version } = JSON.parse(await readFile(packageJson, 'utf8')) as { version: string };
  return `oidc-provider ${version}`;
}

/**
 * Signs the person in at the hub as a relying party would (authorization code, PKCE S256; the registration's
 * consent is implicit) and returns the access token: a browser without JavaScript, following redirects by hand.
 */
async function hubAccessToken(base: string, issuerPath: string, clientId: string, basic: string): Promise<string> {
  const cookies = new Map<string, string>();
  const local = (location: string) => {
    const url = new URL(location, base);
    return `${base}${url.pathname}${url.search}`;
  };
  const request = async (url: string, form?: Record<string, string>) => {
    const res = await fetch(local(url), {
      method: form ? 'POST' : 'GET',
      redirect: 'manual',
      headers: {
        cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; '),
        ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      ...(form ? { body: new URLSearchParams(form).toString() } : {}),
    });
    for (const cookie of res.headers.getSetCookie()) {
      const [pair = ''] = cookie.split(';');
      cookies.set(pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1));
    }
    return res;
  };
  const follow = async (first: Response): Promise<Response | URL> => {
    let res = first;
    for (let hops = 0; hops < 10; hops++) {
      const location = res.headers.get('location');
      if (res.status < 300 || res.status >= 400 || !location) return res;
      if (location.startsWith(REDIRECT)) return new URL(location);
      res = await request(location);
    }
    throw new Error('too many redirects signing in at the hub');
  };
  const verifier = randomBytes(32).toString('base64url');
  const authorize = new URLSearchParams({
    client_id: clientId,
    redirect_uri: REDIRECT,
    response_type: 'code',
    scope: 'openid email profile',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    state: 'bench',
  });
  const page = await follow(await request(`${issuerPath}/auth?${authorize}`));
  if (page instanceof URL) throw new Error(`the hub answered the authorization request with ${page.href}`);
  const action = /<form method="post" action="([^"]+)"/.exec(await page.text())?.[1];
  if (!action) throw new Error(`the hub showed no sign-in form (${page.status})`);
  const back = await follow(await request(action, { step: 'login', username: USER.userName, password: USER.password }));
  const code = back instanceof URL ? back.searchParams.get('code') : null;
  if (!code) throw new Error(`signing in at the hub ended without a code (${back instanceof URL ? back.href : back.status})`);
  const tokens = await fetch(`${base}${issuerPath}/token`, {
    method: 'POST',
    headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }).toString(),
  });
  const body = (await tokens.json()) as { access_token?: string; error?: string };
  if (!body.access_token) throw new Error(`the hub's token endpoint refused the code: ${body.error ?? tokens.status}`);
  return body.access_token;
}

/** A fresh database with the community, one office account with a password, and a relying party; the hub serving it. */
async function startHub(options: OidcBenchOptions, processes: BenchProcess[]): Promise<{ target: Target; close(): Promise<void> }> {
  const hub = await prepareHub(options.serverUrl, options.database, 'postgres', '', { slug: 'bench-oidc', name: 'Bench office' });
  try {
    const token = (await hub.runtime.admin.issueToken(platform, { tenant: 'bench-oidc', role: 'provisioner' }, setup)).token;
    const made = await hub.runtime.relyingParties.create(
      platform,
      {
        community: 'bench',
        name: 'Bench RP',
        redirectUris: [REDIRECT],
        claims: 'email,name',
        consent: 'implicit',
        clientCredentials: true,
      },
      setup,
    );
    const basic = `Basic ${Buffer.from(`${made.relyingParty.clientId}:${made.clientSecret ?? ''}`).toString('base64')}`;
    const server = await spawnWithRetry({
      script: fileURLToPath(new URL('main.js', import.meta.resolve('@meridian/hub'))),
      args: ['serve', '--role', 'api'],
      nodeArgs: hubHeapFlags(),
      env: {
        ...hub.env,
        LOG_LEVEL: options.logLevel,
        // The bench measures capacity, not the abuse limits.
        MERIDIAN_RATE_LIMIT_PER_TOKEN: '0',
        MERIDIAN_RATE_LIMIT_PER_TENANT: '0',
        MERIDIAN_RATE_LIMIT_PER_IP: '0',
      },
      readyPath: '/healthz',
    });
    processes.push(server);
    const created = await fetch(`${server.url}/scim/v2/Users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' },
      body: JSON.stringify({
        userName: USER.userName,
        password: USER.password,
        displayName: 'Ada Lovelace',
        emails: [{ value: USER.userName }],
      }),
    });
    if (created.status !== 201) throw new Error(`creating the office account answered ${created.status}: ${await created.text()}`);
    // The person signs in once the global directory has placed the account: the projector runs here, once.
    await hub.runtime.replication.relay.drain();
    await hub.runtime.replication.projector?.drain();
    const issuerPath = '/oidc/bench';
    const accessToken = await hubAccessToken(server.url, issuerPath, made.relyingParty.clientId, basic);
    return {
      target: { url: server.url, tokenPath: `${issuerPath}/token`, userinfoPath: `${issuerPath}/me`, basic, accessToken },
      close: () => hub.close(),
    };
  } catch (error) {
    await hub.close();
    throw error;
  }
}

/** The bare oidc-provider in a process of its own, with the same client id and secret. */
async function startBare(processes: BenchProcess[]): Promise<Target> {
  const dir = await mkdtemp(join(tmpdir(), 'meridian-bench-oidc-'));
  try {
    const clientId = 'rp_bench';
    const secret = `mrp_${randomBytes(32).toString('base64url')}`;
    const tokenFile = join(dir, 'access-token');
    const server = await spawnWithRetry({
      script: fileURLToPath(new URL('bare-provider.js', import.meta.url)),
      args: [],
      env: { BENCH_CLIENT_ID: clientId, BENCH_CLIENT_SECRET: secret, BENCH_TOKEN_FILE: tokenFile },
      readyPath: '/.well-known/openid-configuration',
    });
    processes.push(server);
    const basic = `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`;
    return { url: server.url, tokenPath: '/token', userinfoPath: '/me', basic, accessToken: (await readFile(tokenFile, 'utf8')).trim() };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const tokenRequest = (t: Target): EndpointRequest => ({
  method: 'POST',
  path: t.tokenPath,
  headers: { authorization: t.basic, 'content-type': 'application/x-www-form-urlencoded' },
  body: 'grant_type=client_credentials',
});
const userinfoRequest = (t: Target): EndpointRequest => ({
  method: 'GET',
  path: t.userinfoPath,
  headers: { authorization: `Bearer ${t.accessToken}` },
});

/** One endpoint at both providers: warm-up requests first, then the measured count, the hub first. */
async function measure(
  options: OidcBenchOptions,
  name: string,
  hub: Target,
  bare: Target,
  request: (t: Target) => EndpointRequest,
): Promise<EndpointResults> {
  const results: Partial<EndpointResults> = {};
  for (const [side, target] of [
    ['hub', hub],
    ['bare', bare],
  ] as const) {
    if (options.warmup > 0) await sendCount(target.url, request(target), options.warmup, options.connections);
    const result = await sendCount(target.url, request(target), options.count, options.connections);
    log(`  ${name} ${side}: ${result.rps.toFixed(0)} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms, errors ${result.errors}`);
    results[side] = result;
  }
  return results as EndpointResults;
}

async function run(options: OidcBenchOptions): Promise<OidcReport> {
  const load = loadavg()[0] ?? 0;
  const postgres = await postgresVersion(options.serverUrl);
  const processes: BenchProcess[] = [];
  let closeHub: (() => Promise<void>) | undefined;
  try {
    log(`fresh database ${options.database}; the hub and a bare oidc-provider`);
    const started = await startHub(options, processes);
    closeHub = started.close;
    const bare = await startBare(processes);
    // Userinfo first: the bare provider's in-memory adapter is an LRU of 1,000 entries, and the token phase's
    // thousands of client-credentials tokens would push out the person's grant and access token (401s).
    const userinfo = await measure(options, 'userinfo', started.target, bare, userinfoRequest);
    const token = await measure(options, 'token', started.target, bare, tokenRequest);
    return { machine: machineInfo(postgres, '', load), oidcProvider: await oidcProviderVersion(), options, token, userinfo };
  } finally {
    for (const p of processes) await p.stop().catch(() => undefined);
    await closeHub?.();
  }
}

await runBenchCli<OidcBenchOptions>({
  name: 'bench:oidc',
  usage: USAGE,
  parse: parseOptions,
  markdown: async (options) => {
    const report = await run(options);
    await saveJson(options.json, report, log);
    return renderOidcReport(report);
  },
  splice: spliceOidc,
});
