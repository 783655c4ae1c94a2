import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { eventually, FakeScimTarget } from '@meridian/test-utils';
import type { FastifyInstance } from 'fastify';
import * as client from 'openid-client';
import type { Browser } from 'playwright-core';
import { runMeridian } from './cli-runner.js';
import { type HubHarness, startHub } from './harness.js';
import { launchChromium, listeningHub } from './oidc-harness.js';

// Issue 16 (use case 2.4.4), as a new office would try it: the office's staff exist only in its own SCIM system; a
// person signs in through the office's identity provider to a cloud linked "on first sign-in". Afterwards the person
// exists once at the hub (pulled from the office's SCIM source) and once at the cloud (pushed before the code), and
// nowhere else. The upstream identity provider is another community's issuer on the same hub.

const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
const ctx = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const PASSWORD = 'Correct-Horse-Battery-9';
const ENV = {
  MERIDIAN_OUTBOUND_ALLOW: '127.0.0.1',
  MERIDIAN_SECRET_KEYS: `k1:${Buffer.alloc(32, 5).toString('base64')}`,
  MERIDIAN_JIT_WAIT_MS: '15000',
};

let hub: HubHarness;
let app: FastifyInstance;
let origin: string;
let browser: Browser;
/** The office's own SCIM service: the inbound source. */
let office: FakeScimTarget;
/** The cloud, a replication target linked to the relying party on first sign-in. */
let cloud: FakeScimTarget;
let sourceId: string;
let wiki: { clientId: string; secret: string };
/** The wiki's callback: notes what the cloud held when the browser brought the code. */
let callback: { origin: string; server: Server; cloudUsers: string[][] };

async function wikiCallback(): Promise<typeof callback> {
  const cloudUsers: string[][] = [];
  const server = createServer((req, res) => {
    if ((req.url ?? '').startsWith('/cb')) cloudUsers.push(cloud.users.map((u) => String(u.userName)));
    res.writeHead(req.url?.startsWith('/cb') ? 200 : 404, { 'content-type': 'text/plain' }).end('wiki');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, cloudUsers };
}

async function apacUser(userName: string, email: string): Promise<void> {
  const res = await hub.app.inject({
    method: 'POST',
    url: '/scim/v2/Users',
    headers: { authorization: `Bearer ${hub.tenants.apac.token}`, 'content-type': 'application/scim+json' },
    payload: JSON.stringify({ userName, password: PASSWORD, emails: [{ value: email, primary: true }] }),
  });
  expect(res.statusCode).toBe(201);
}

/** Signs in at the wiki through the office's identity provider; resolves with the page where the browser ends. */
async function signIn(upstreamUser: string): Promise<{ url: string; alert: string | null; cloudUsers: string[] }> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const config = await client.discovery(new URL(`${origin}/oidc/coi`), wiki.clientId, undefined, client.ClientSecretBasic(wiki.secret), {
      execute: [client.allowInsecureRequests],
    });
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: `${callback.origin}/cb`,
      scope: 'openid email',
      state: 's1',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const arrivals = callback.cloudUsers.length;
    await page.goto(url.href);
    await page.getByRole('link', { name: 'Sign in with EMEA' }).click();
    await page.waitForURL(`${origin}/oidc/other/interaction/**`);
    await page.getByLabel('User name').fill(upstreamUser);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await Promise.race([page.waitForURL(`${callback.origin}/cb?**`), page.getByRole('alert').waitFor()]);
    const alert = page.url().startsWith(callback.origin) ? null : await page.getByRole('alert').textContent();
    return { url: page.url(), alert, cloudUsers: callback.cloudUsers[arrivals] ?? [] };
  } finally {
    await context.close();
  }
}

async function emeaAccounts(): Promise<{ id: string; user_name: string; display_name: string | null }[]> {
  return hub.db.query(
    "select id, user_name, attributes ->> 'displayName' as display_name from scim_user where tenant_id = $1 order by user_name",
    [hub.tenants.emea.id],
  );
}

// Both BullMQ backends: PostgreSQL always, Redis when REDIS_URL is set (bash .ci/run sets it).
const backends = [['postgres', undefined], ...(process.env.REDIS_URL ? [['redis', process.env.REDIS_URL]] : [])] as [
  string,
  string | undefined,
][];
if (!process.env.REDIS_URL) {
  console.warn(
    "Skipped: 'pull from the office at first sign-in on BullMQ redis' (REDIS_URL is not set; bash .ci/run sets it when a Redis server is installed).",
  );
}

async function setUp(redisUrl: string | undefined): Promise<void> {
  const env = { ...ENV, ...(redisUrl ? { REDIS_URL: redisUrl } : {}) };
  hub = await startHub({ env });
  ({ app, origin } = await listeningHub(hub, env));
  office = await FakeScimTarget.start({ token: 'office-token' });
  cloud = await FakeScimTarget.start({ token: 'cloud-token' });
  callback = await wikiCallback();
  for (const [name, display] of [
    ['carol', 'Carol Source'],
    ['erin', 'Erin Source'],
  ] as const) {
    office.seed('User', { userName: `${name}@emea.example`, displayName: display, emails: [{ value: `${name}@emea.example` }] });
  }
  // The people at the office's identity provider (another community's issuer).
  await apacUser('carol.upstream', 'carol@emea.example');
  await apacUser('dan.upstream', 'dan@emea.example');
  await apacUser('erin.upstream', 'erin@emea.example');
  const atUpstream = await hub.runtime.relyingParties.create(
    platform,
    { community: 'other', name: 'CoI hub', redirectUris: [`${origin}/oidc/coi/upstream/callback`], claims: 'email', consent: 'implicit' },
    ctx,
  );
  await hub.runtime.upstreamProviders.set(
    platform,
    {
      tenant: 'emea',
      issuer: `${origin}/oidc/other`,
      clientId: atUpstream.relyingParty.clientId,
      clientSecret: atUpstream.clientSecret ?? '',
      userNameClaim: 'email',
    },
    ctx,
  );
  const source = await hub.runtime.sources.create(
    platform,
    'emea',
    {
      name: 'office-scim',
      kind: 'scim',
      config: { baseUrl: office.url, firstSignIn: { lookupBy: 'email', attribute: 'userName' } },
      secrets: { token: 'office-token' },
    },
    ctx,
  );
  sourceId = source.id;
  const target = await hub.runtime.replication.targets.create(
    hub.tenants.emea.id,
    { name: 'cloud', kind: 'scim', config: { baseUrl: cloud.url }, secrets: { token: 'cloud-token' } },
    ctx,
  );
  const made = await hub.runtime.relyingParties.create(
    platform,
    { community: 'coi', name: 'Wiki', redirectUris: [`${callback.origin}/cb`], claims: 'email', consent: 'implicit' },
    ctx,
  );
  wiki = { clientId: made.relyingParty.clientId, secret: made.clientSecret ?? '' };
  await hub.runtime.jit.targets.setTargets(platform, 'coi', wiki.clientId, [target.id], ctx);
  await hub.runtime.replication.start();
  await hub.runtime.replication.relay.drain();
  await hub.runtime.replication.projector?.drain();
  browser = await launchChromium();
}

async function tearDown(): Promise<void> {
  await browser?.close();
  await new Promise((resolve) => callback?.server.close(resolve));
  await office?.close();
  await cloud?.close();
  await app?.close();
  await hub?.close();
}

describe.each(backends)('pull from the office at first sign-in, BullMQ on %s', (_backend, redisUrl) => {
  beforeAll(() => setUp(redisUrl), 180_000);
  afterAll(tearDown);

  it('the source is sealed, and a dry run shows what one pull would create without writing', async () => {
    const [row] = await hub.db.query<{ secrets_sealed: string }>('select secrets_sealed from inbound_source where id = $1', [sourceId]);
    expect(row?.secrets_sealed).not.toContain('office-token');
    const source = await hub.runtime.sources.get(platform, 'emea', sourceId);
    const preview = await hub.runtime.jit.firstSignIn.preview(source, { subject: 'x', email: 'carol@emea.example' });
    expect(preview.lookup).toEqual({ attribute: 'userName', value: 'carol@emea.example' });
    expect(preview.wouldCreate).toMatchObject({ userName: 'carol@emea.example', displayName: 'Carol Source' });
    const none = await hub.runtime.jit.firstSignIn.preview(source, { subject: 'x', email: 'nobody@emea.example' });
    expect(none.wouldCreate).toBeNull();
    expect(await emeaAccounts()).toEqual([]);
  });

  it('creates the account at the hub from the source and at the cloud before the code is issued', async () => {
    const first = await signIn('carol.upstream');
    expect(first.alert).toBeNull();
    expect(new URL(first.url).searchParams.get('code')).toBeTruthy();
    expect(first.cloudUsers).toEqual(['carol@emea.example']);
    const accounts = await emeaAccounts();
    expect(accounts).toEqual([expect.objectContaining({ user_name: 'carol@emea.example', display_name: 'Carol Source' })]);
    const carol = accounts[0]?.id as string;
    // Written like any SCIM create, by the source: audit, link to the remote entry, upstream subject linked.
    const created = await hub.db.query<{ actor_id: string }>(
      "select actor_id from audit_event where action = 'user.created' and resource_id = $1",
      [carol],
    );
    expect(created).toEqual([{ actor_id: `source:${sourceId}` }]);
    const links = await hub.db.query<{ resource_id: string }>('select resource_id from inbound_source_link where source_id = $1', [
      sourceId,
    ]);
    expect(links).toEqual([{ resource_id: carol }]);
    expect(await hub.db.query('select user_id from sso_upstream_link')).toEqual([{ user_id: carol }]);

    // A second sign-in follows the link: no lookup at the source, nothing pushed.
    const lookups = office.requests.length;
    const writes = cloud.requests.filter((r) => r.method !== 'GET').length;
    const second = await signIn('carol.upstream');
    expect(new URL(second.url).searchParams.get('code')).toBeTruthy();
    expect(office.requests).toHaveLength(lookups);
    expect(cloud.requests.filter((r) => r.method !== 'GET')).toHaveLength(writes);
    expect(await emeaAccounts()).toHaveLength(1);
  });

  it('a person the source does not have is refused with a page, audited, and nothing is created', async () => {
    const refused = await signIn('dan.upstream');
    expect(refused.alert).toBe('EMEA has no account for the person you signed in as: ask your office to add you.');
    const failures = await hub.db.query<{ reason: string }>(
      "select diff -> 'after' ->> 'reason' as reason from audit_event where action = 'auth.failed' and tenant_id = $1",
      [hub.tenants.emea.id],
    );
    expect(failures).toEqual([{ reason: 'unknown_account' }]);
    expect(await emeaAccounts()).toHaveLength(1);
  });

  it('the source down during a sign-in gives the error page', async () => {
    office.failNext({ type: 'status', status: 503 }, { times: 1, match: { method: 'GET', path: '/Users' } });
    const down = await signIn('erin.upstream');
    expect(down.alert).toBe('The directory of EMEA could not be reached to set up your account. Try again in a few minutes.');
    expect(await emeaAccounts()).toHaveLength(1);
  });

  it('the scheduled pull brings a change at the source to the hub and the cloud; people who never signed in stay off the cloud', async () => {
    const remote = office.users.find((u) => u.userName === 'carol@emea.example');
    const patched = await fetch(`${office.url}/Users/${String(remote?.id)}`, {
      method: 'PATCH',
      headers: { authorization: 'Bearer office-token', 'content-type': 'application/scim+json' },
      body: JSON.stringify({
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'replace', path: 'displayName', value: 'Carol Renamed' }],
      }),
    });
    expect(patched.status).toBe(200);
    const result = await hub.runtime.sources.sync(platform, 'emea', sourceId);
    expect(result).toMatchObject({ status: 'applied', created: 1, updated: 1, deleted: 0, failed: [] });
    await hub.runtime.replication.relay.drain();
    await eventually(
      'the change at the cloud',
      () => cloud.users.find((u) => u.userName === 'carol@emea.example')?.displayName === 'Carol Renamed',
      {
        timeoutMs: 20_000,
        intervalMs: 25,
      },
    );
    // erin is now at the hub (the scheduled pull) but never signed in: the cloud still holds carol only.
    expect((await emeaAccounts()).map((a) => a.user_name)).toEqual(['carol@emea.example', 'erin@emea.example']);
    expect(cloud.users.map((u) => u.userName)).toEqual(['carol@emea.example']);
  });

  it('the CLI creates a SCIM source (token from a file, never printed), tests one pull, and links and unlinks the relying party', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meridian-jit-cli-'));
    try {
      const tokenFile = join(dir, 'office-token');
      await writeFile(tokenFile, 'office-token\n');
      const env = { ...ENV, DATABASE_URL: hub.db.url, MERIDIAN_DATA_DIR: dir, LOG_LEVEL: 'silent' };
      const meridian = (...args: string[]) => cli(env, args);
      const missing = await meridian('source', 'create', '--tenant', 'emea', '--kind', 'scim', '--url', office.url, '--json');
      expect(missing.code).not.toBe(0);
      expect(missing.stderr).toContain('--token-file');
      const created = await meridian(
        'source',
        'create',
        '--tenant',
        'emea',
        '--kind',
        'scim',
        '--url',
        office.url,
        '--token-file',
        tokenFile,
        '--lookup-by',
        'email',
        '--lookup-attribute',
        'userName',
        '--name',
        'office-cli',
        '--json',
      );
      expect(created.code).toBe(0);
      expect(created.stdout).not.toContain('office-token');
      expect(JSON.parse(created.stdout)).toMatchObject({
        kind: 'scim',
        secretNames: ['token'],
        config: { baseUrl: office.url, firstSignIn: { lookupBy: 'email', attribute: 'userName' } },
      });
      const tested = await meridian(
        'source',
        'test',
        '--tenant',
        'emea',
        '--source',
        'office-cli',
        '--email',
        'erin@emea.example',
        '--json',
      );
      expect(tested.code).toBe(0);
      expect(JSON.parse(tested.stdout)).toMatchObject({ wouldCreate: { userName: 'erin@emea.example', displayName: 'Erin Source' } });
      const nobody = await meridian('source', 'test', '--tenant', 'emea', '--source', 'office-cli', '--email', 'zed@emea.example');
      expect(nobody.code).toBe(2);
      expect(nobody.stdout).toContain('The source has no one with userName eq "zed@emea.example"');

      const [target] = await hub.runtime.jit.targets.targetsOf(platform, 'coi', wiki.clientId);
      const unlinked = await meridian('rp', 'update', wiki.clientId, '--community', 'coi', '--jit-target', 'none', '--json');
      expect(unlinked.code).toBe(0);
      expect(JSON.parse(unlinked.stdout).jitTargets).toEqual([]);
      expect(await hub.db.query('select jit from replication_target where id = $1', [target?.targetId])).toEqual([{ jit: false }]);
      const linked = await meridian(
        'rp',
        'update',
        wiki.clientId,
        '--community',
        'coi',
        '--jit-target',
        String(target?.targetId),
        '--json',
      );
      expect(linked.code).toBe(0);
      expect(JSON.parse(linked.stdout).jitTargets).toEqual([
        { targetId: target?.targetId, targetName: 'cloud', tenantId: hub.tenants.emea.id, tenantSlug: 'emea' },
      ]);
      // Relinked: the people the cloud holds stay admitted, so nobody is deprovisioned.
      expect(await hub.db.query('select status from jit_admission where target_id = $1', [target?.targetId])).toEqual([
        { status: 'delivered' },
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

const cli = (env: Record<string, string>, args: string[]) => runMeridian(env, args);
