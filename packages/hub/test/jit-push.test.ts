import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { eventually, FakeScimTarget } from '@meridian/test-utils';
import { gql as post } from '@meridian/test-utils/apps';
import type { FastifyInstance } from 'fastify';
import * as client from 'openid-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { type HubHarness, startHub } from './harness.js';
import { launchChromium, listeningHub } from './oidc-harness.js';

// Issue 16 (use case 2.3.4): a relying party linked to a SCIM target "on first sign-in". The target holds no one until
// a person first signs in there; the account (and its groups) reach it before the authorization code is issued.

const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
const ctx = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const PASSWORD = 'Correct-Horse-Battery-9';
const ENV = {
  MERIDIAN_OUTBOUND_ALLOW: '127.0.0.1',
  MERIDIAN_SECRET_KEYS: `k1:${Buffer.alloc(32, 9).toString('base64')}`,
  MERIDIAN_JIT_WAIT_MS: '15000',
};

let hub: HubHarness;
let app: FastifyInstance;
let origin: string;
let browser: Browser;
let csp: FakeScimTarget;
let targetId: string;
let cloud: { clientId: string; secret: string };
let rp: { origin: string; server: Server; arrivals: { url: URL; cspUsers: string[]; cspGroups: Record<string, string[]> }[] };
const users: Record<string, string> = {};

/** The cloud's callback: notes what the SCIM target held at the moment the browser brought the code (or the error). */
async function relyingParty(): Promise<typeof rp> {
  const arrivals: (typeof rp)['arrivals'] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    // The browser also asks for /favicon.ico: only the callback counts.
    if (url.pathname !== '/cb') {
      res.writeHead(404).end();
      return;
    }
    const groups: Record<string, string[]> = {};
    for (const group of csp.groups) groups[String(group.displayName)] = csp.membersOf(String(group.id));
    arrivals.push({ url, cspUsers: csp.users.map((u) => String(u.userName)), cspGroups: groups });
    res.writeHead(200, { 'content-type': 'text/plain' }).end('cloud');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, arrivals };
}

async function scim(method: string, path: string, body: Record<string, unknown>): Promise<string> {
  const res = await hub.app.inject({
    method,
    url: `/scim/v2${path}`,
    headers: { authorization: `Bearer ${hub.tenants.emea.token}`, 'content-type': 'application/scim+json' },
    payload: JSON.stringify(body),
  });
  expect(res.statusCode).toBeLessThan(300);
  return (JSON.parse(res.body) as { id: string }).id;
}

async function authorizationUrl(): Promise<URL> {
  const config = await client.discovery(new URL(`${origin}/oidc/coi`), cloud.clientId, undefined, client.ClientSecretBasic(cloud.secret), {
    execute: [client.allowInsecureRequests],
  });
  return client.buildAuthorizationUrl(config, {
    redirect_uri: `${rp.origin}/cb`,
    scope: 'openid profile email',
    code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
    state: client.randomState(),
  });
}

/** Signs `userName` in with a fresh browser context; the page ends at the cloud's callback or at Meridian's error page. */
async function signIn(userName: string): Promise<{ page: Page; context: BrowserContext }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto((await authorizationUrl()).href);
  await page.getByLabel('User name').fill(userName);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  return { page, context };
}

async function auditOf(action: string, userId: string): Promise<{ diff: { after: Record<string, unknown> } }[]> {
  return hub.db.query('select diff from audit_event where action = $1 and resource_id = $2 order by seq', [action, userId]);
}

async function linkOf(userId: string): Promise<{ status: string } | undefined> {
  const [row] = await hub.db.query<{ status: string }>(
    "select status from replication_link where target_id = $1 and resource_kind = 'User' and local_id = $2",
    [targetId, userId],
  );
  return row;
}

// Both BullMQ backends: PostgreSQL always, Redis when REDIS_URL is set (bash .ci/run sets it).
const backends = [['postgres', undefined], ...(process.env.REDIS_URL ? [['redis', process.env.REDIS_URL]] : [])] as [
  string,
  string | undefined,
][];
if (!process.env.REDIS_URL) {
  console.warn(
    "Skipped: 'just-in-time push on BullMQ redis' (REDIS_URL is not set; bash .ci/run sets it when a Redis server is installed).",
  );
}

async function setUp(redisUrl: string | undefined): Promise<void> {
  const env = { ...ENV, ...(redisUrl ? { REDIS_URL: redisUrl } : {}) };
  hub = await startHub({ env });
  ({ app, origin } = await listeningHub(hub, env));
  csp = await FakeScimTarget.start({ token: 'csp-token' });
  rp = await relyingParty();
  for (const name of ['ada', 'bob', 'carol', 'dave']) {
    users[name] = await scim('POST', '/Users', { userName: `${name}@emea.example`, password: PASSWORD, displayName: name });
  }
  await scim('POST', '/Groups', {
    displayName: 'Engineers',
    members: [{ value: users.ada }, { value: users.bob }],
  });
  const target = await hub.runtime.replication.targets.create(
    hub.tenants.emea.id,
    { name: 'cloud', kind: 'scim', config: { baseUrl: csp.url }, secrets: { token: 'csp-token' } },
    ctx,
  );
  targetId = target.id;
  const made = await hub.runtime.relyingParties.create(
    platform,
    { community: 'coi', name: 'Cloud', redirectUris: [`${rp.origin}/cb`], claims: 'name,email,preferred_username', consent: 'implicit' },
    ctx,
  );
  cloud = { clientId: made.relyingParty.clientId, secret: made.clientSecret ?? '' };
  await hub.runtime.jit.targets.setTargets(platform, 'coi', cloud.clientId, [targetId], ctx);
  await hub.runtime.replication.start();
  await hub.runtime.replication.relay.drain();
  await hub.runtime.replication.projector?.drain();
  browser = await launchChromium();
}

async function tearDown(): Promise<void> {
  await browser?.close();
  await new Promise((resolve) => rp?.server.close(resolve));
  await csp?.close();
  await app?.close();
  await hub?.close();
}

/** The body of one GraphQL answer as the platform admin (the shared helper of the test apps). */
async function graphql(query: string, variables: Record<string, unknown> = {}) {
  return (await post(hub.app, hub.adminToken, query, variables)).body;
}

describe.each(backends)('just-in-time push on first sign-in, BullMQ on %s', (_backend, redisUrl) => {
  beforeAll(() => setUp(redisUrl), 180_000);
  afterAll(tearDown);

  it('GraphQL shows the link and refuses a target outside the community', async () => {
    const listed = await graphql('{ relyingParties(community: "coi") { clientId jitTargets { targetId targetName tenantSlug } } }');
    expect(listed.data?.relyingParties).toEqual([
      { clientId: cloud.clientId, jitTargets: [{ targetId, targetName: 'cloud', tenantSlug: 'emea' }] },
    ]);
    const other = await hub.runtime.replication.targets.create(hub.tenants.apac.id, { name: 'elsewhere', kind: 'memory', config: {} }, ctx);
    const refused = await graphql(
      'mutation($c: String!, $t: [ID!]!) { setRelyingPartyJitTargets(community: "coi", clientId: $c, targetIds: $t) { targetId } }',
      { c: cloud.clientId, t: [other.id] },
    );
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'INVALID_CONFIG' });
    // Nothing changed.
    expect((await hub.runtime.jit.targets.targetsOf(platform, 'coi', cloud.clientId)).map((t) => t.targetId)).toEqual([targetId]);
  });

  it('holds no one ahead of time: a change of a person who never signed in replicates nowhere', async () => {
    await scim('PATCH', `/Users/${users.bob}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', path: 'displayName', value: 'Bob B.' }],
    });
    await hub.runtime.replication.relay.drain();
    for (const name of ['ada', 'bob']) {
      // The link table is written by the workers.
      const link = await eventually(
        `${name}'s link out of scope`,
        async () => {
          const l = await linkOf(users[name] as string);
          return l?.status === 'out_of_scope' ? l : undefined;
        },
        { timeoutMs: 20_000, intervalMs: 25, explain: async () => `link: ${JSON.stringify(await linkOf(users[name] as string))}` },
      );
      expect(link.status).toBe('out_of_scope');
    }
    expect(csp.users).toEqual([]);
    expect(csp.groups).toEqual([]);
    expect(csp.requests.filter((r) => r.method !== 'GET')).toEqual([]);
  });

  it('pushes the account and its group before the code is issued; a second sign-in pushes nothing', async () => {
    const first = await signIn('ada@emea.example');
    await first.page.waitForURL(`${rp.origin}/cb?**`);
    await first.context.close();
    const arrival = rp.arrivals.at(-1);
    expect(arrival?.url.searchParams.get('code')).toBeTruthy();
    // At the moment the cloud got the code, the target already held the account and its group (with ada only).
    expect(arrival?.cspUsers).toEqual(['ada@emea.example']);
    const adaRemote = csp.users.find((u) => u.userName === 'ada@emea.example')?.id;
    expect(arrival?.cspGroups).toEqual({ Engineers: [adaRemote] });
    expect((await linkOf(users.ada as string))?.status).toBe('synced');
    const admitted = await auditOf('replication.admitted', users.ada as string);
    expect(admitted).toHaveLength(1);
    expect(admitted[0]?.diff.after).toMatchObject({ targetId, target: 'cloud' });

    const writes = csp.requests.filter((r) => r.method !== 'GET').length;
    const second = await signIn('ada@emea.example');
    await second.page.waitForURL(`${rp.origin}/cb?**`);
    await second.context.close();
    expect(rp.arrivals.at(-1)?.url.searchParams.get('code')).toBeTruthy();
    expect(csp.requests.filter((r) => r.method !== 'GET')).toHaveLength(writes);
    expect(await auditOf('replication.admitted', users.ada as string)).toHaveLength(1);
    // bob, in the same group, is still nowhere.
    expect(csp.users.map((u) => u.userName)).toEqual(['ada@emea.example']);
  });

  it('from then on changes replicate as usual', async () => {
    await scim('PATCH', `/Users/${users.ada}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', path: 'displayName', value: 'Ada Lovelace' }],
    });
    await hub.runtime.replication.relay.drain();
    await eventually(
      "ada's new name at the cloud",
      () => csp.users.find((u) => u.userName === 'ada@emea.example')?.displayName === 'Ada Lovelace',
      {
        timeoutMs: 20_000,
        intervalMs: 25,
        explain: () => `displayName: ${JSON.stringify(csp.users.find((u) => u.userName === 'ada@emea.example')?.displayName)}`,
      },
    );
  });

  it('a target that refuses the account ends the sign-in with a page and an OAuth error, audited and in the status', async () => {
    csp.failNext({ type: 'status', status: 400, detail: 'quota exceeded' }, { times: 1, match: { method: 'POST', path: '/Users' } });
    const { page, context } = await signIn('carol@emea.example');
    try {
      await page.getByRole('alert').waitFor();
      expect(await page.getByRole('alert').textContent()).toBe('Your account could not be set up at Cloud: cloud refused it.');
      expect(rp.arrivals.some((a) => a.cspUsers.includes('carol@emea.example'))).toBe(false);
      await page.getByRole('link', { name: 'Back to Cloud' }).click();
      await page.waitForURL(`${rp.origin}/cb?**`);
      const back = rp.arrivals.at(-1)?.url;
      expect(back?.searchParams.get('error')).toBe('temporarily_unavailable');
      expect(back?.searchParams.get('code')).toBeNull();
    } finally {
      await context.close();
    }
    expect((await linkOf(users.carol as string))?.status).toBe('dead_lettered');
    const failed = await auditOf('replication.admission_failed', users.carol as string);
    expect(failed).toHaveLength(1);
    expect(String(failed[0]?.diff.after.error)).toMatch(/quota exceeded/);
    // Once the target takes it, signing in again pushes the account and goes on.
    const again = await signIn('carol@emea.example');
    await again.page.waitForURL(`${rp.origin}/cb?**`);
    await again.context.close();
    expect(rp.arrivals.at(-1)?.url.searchParams.get('code')).toBeTruthy();
    expect(rp.arrivals.at(-1)?.cspUsers).toContain('carol@emea.example');
  });

  it('two concurrent first sign-ins push once', async () => {
    const [one, two] = await Promise.all([signIn('dave@emea.example'), signIn('dave@emea.example')]);
    await Promise.all([one.page.waitForURL(`${rp.origin}/cb?**`), two.page.waitForURL(`${rp.origin}/cb?**`)]);
    await Promise.all([one.context.close(), two.context.close()]);
    const creates = csp.requestsTo('POST', '/Users').filter((r) => (r.body as { userName?: string }).userName === 'dave@emea.example');
    expect(creates).toHaveLength(1);
    expect(csp.users.filter((u) => u.userName === 'dave@emea.example')).toHaveLength(1);
    expect(await auditOf('replication.admitted', users.dave as string)).toHaveLength(1);
  });
});
