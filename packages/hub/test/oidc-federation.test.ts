import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { FastifyInstance } from 'fastify';
import * as client from 'openid-client';
import type { Browser, Page } from 'playwright-core';
import { type HubHarness, startHub } from './harness.js';
import { callbackServer, launchChromium, listeningHub } from './oidc-harness.js';

// Issue 15: an office lets its people sign in at its own OpenID Provider. The upstream here is a second OpenID
// Provider on the same hub (the community `other`, a real oidc-provider with its own users); the first sign-in links
// the upstream subject to the office account whose userName is the upstream's email claim.

const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
const ctx = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const PASSWORD = 'Correct-Horse-Battery-9';

let hub: HubHarness;
let app: FastifyInstance;
let origin: string;
let rp: Awaited<ReturnType<typeof callbackServer>>;
let browser: Browser;
let wiki: { clientId: string; secret: string };
let upstreamSecret: string;
let adaPerson: string;
let adaUser: string;

async function scimUser(token: string, body: Record<string, unknown>): Promise<string> {
  const res = await hub.app.inject({
    method: 'POST',
    url: '/scim/v2/Users',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' },
    payload: JSON.stringify(body),
  });
  expect(res.statusCode).toBe(201);
  return (JSON.parse(res.body) as { id: string }).id;
}

/** Starts a sign-in at coi's issuer for the wiki; the page shows coi's sign-in page. */
async function startAtWiki(page: Page) {
  const config = await client.discovery(new URL(`${origin}/oidc/coi`), wiki.clientId, undefined, client.ClientSecretBasic(wiki.secret), {
    execute: [client.allowInsecureRequests],
  });
  const verifier = client.randomPKCECodeVerifier();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: `${rp.origin}/cb`,
    scope: 'openid email',
    state: 'f1',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  await page.goto(url.href);
  return { config, verifier };
}

async function signInUpstream(page: Page, userName: string): Promise<void> {
  await page.getByRole('link', { name: 'Sign in with EMEA' }).click();
  // Now at the upstream provider's own sign-in page.
  await page.waitForURL(`${origin}/oidc/other/interaction/**`);
  await page.getByLabel('User name').fill(userName);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

beforeAll(async () => {
  // The upstream is on this machine: the outbound request policy must open it.
  hub = await startHub({ env: { MERIDIAN_OUTBOUND_ALLOW: '127.0.0.1' } });
  ({ app, origin } = await listeningHub(hub, { MERIDIAN_OUTBOUND_ALLOW: '127.0.0.1' }));
  rp = await callbackServer();
  // The office account has no password at all: its people sign in upstream.
  adaUser = await scimUser(hub.tenants.emea.token, {
    userName: 'ada@emea.example',
    emails: [{ value: 'ada@emea.example', primary: true }],
  });
  await scimUser(hub.tenants.apac.token, {
    userName: 'ada.upstream',
    password: PASSWORD,
    emails: [{ value: 'ada@emea.example', primary: true }],
  });
  await scimUser(hub.tenants.apac.token, {
    userName: 'bob.upstream',
    password: PASSWORD,
    emails: [{ value: 'bob@nowhere.example', primary: true }],
  });
  await hub.runtime.replication.relay.drain();
  await hub.runtime.replication.projector?.drain();
  const person = await hub.runtime.sso.accounts.personOfAccount(hub.tenants.emea.id, adaUser);
  if (!person) throw new Error('ada was not projected');
  adaPerson = person.personId;

  // Meridian (coi) is a relying party of the upstream provider.
  const atUpstream = await hub.runtime.relyingParties.create(
    platform,
    { community: 'other', name: 'CoI hub', redirectUris: [`${origin}/oidc/coi/upstream/callback`], claims: 'email', consent: 'implicit' },
    ctx,
  );
  upstreamSecret = atUpstream.clientSecret ?? '';
  await hub.runtime.upstreamProviders.set(
    platform,
    {
      tenant: 'emea',
      issuer: `${origin}/oidc/other`,
      clientId: atUpstream.relyingParty.clientId,
      clientSecret: upstreamSecret,
      userNameClaim: 'email',
    },
    ctx,
  );
  const made = await hub.runtime.relyingParties.create(
    platform,
    { community: 'coi', name: 'Wiki', redirectUris: [`${rp.origin}/cb`], claims: 'email', consent: 'implicit' },
    ctx,
  );
  wiki = { clientId: made.relyingParty.clientId, secret: made.clientSecret ?? '' };
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await rp?.close();
  await app?.close();
  await hub?.close();
});

describe('an office’s upstream identity provider', () => {
  it('signs its people in and links the upstream subject to their office account', async () => {
    const page = await browser.newPage();
    try {
      const { config, verifier } = await startAtWiki(page);
      await signInUpstream(page, 'ada.upstream');
      await page.waitForURL(`${rp.origin}/cb?**`);
      const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), { pkceCodeVerifier: verifier, expectedState: 'f1' });
      expect(tokens.claims()).toMatchObject({ sub: adaPerson, email: 'ada@emea.example', amr: ['fed'] });

      const links = await hub.db.query<{ user_id: string; issuer: string }>('select user_id, issuer from sso_upstream_link');
      expect(links).toEqual([{ user_id: adaUser, issuer: `${origin}/oidc/other` }]);
      const linked = await hub.db.query<{ resource_id: string }>(
        "select resource_id from audit_event where action = 'sso.upstream_linked'",
      );
      expect(linked).toEqual([{ resource_id: adaUser }]);
      // The upstream client secret is sealed at rest.
      const [stored] = await hub.db.query<{ client_secret_sealed: string }>('select client_secret_sealed from sso_upstream');
      expect(stored?.client_secret_sealed).toMatch(/^v1:/);
      expect(stored?.client_secret_sealed).not.toContain(upstreamSecret);
    } finally {
      await page.close();
    }
  });

  it('refuses an upstream person no office account matches, with an audit entry', async () => {
    const page = await browser.newPage();
    try {
      await startAtWiki(page);
      await signInUpstream(page, 'bob.upstream');
      await page.getByRole('alert').waitFor();
      expect(await page.getByRole('alert').textContent()).toBe('No account of EMEA matches the one you signed in with.');
      expect(page.url().startsWith(`${origin}/oidc/coi/interaction/`)).toBe(true);
      const [failure] = await hub.db.query<{ diff: { after: Record<string, unknown> } }>(
        "select diff from audit_event where action = 'auth.failed' and diff -> 'after' ->> 'via' = 'sso'",
      );
      expect(failure?.diff.after).toMatchObject({ reason: 'unknown_account', userName: 'bob@nowhere.example' });
    } finally {
      await page.close();
    }
  });

  it('signs its people in to the admin console too, which then acts as their office account (ADR 0034)', async () => {
    const page = await browser.newPage();
    try {
      const verifier = client.randomPKCECodeVerifier();
      const url = new URL(`${origin}/oidc/coi/auth`);
      for (const [name, value] of Object.entries({
        client_id: 'meridian-console',
        response_type: 'code',
        redirect_uri: `${origin}/console/callback`,
        scope: 'openid profile',
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state: 'c1',
        resource: `${origin}/graphql`,
      })) {
        url.searchParams.set(name, value);
      }
      await page.goto(url.href);
      await signInUpstream(page, 'ada.upstream');
      await page.waitForURL(`${origin}/console/callback?**`);
      const code = new URL(page.url()).searchParams.get('code') ?? '';
      const answer = await fetch(`${origin}/oidc/coi/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code,
          redirect_uri: `${origin}/console/callback`,
          client_id: 'meridian-console',
          code_verifier: verifier,
          resource: `${origin}/graphql`,
        }).toString(),
      });
      expect(answer.status).toBe(200);
      const { access_token: token } = (await answer.json()) as { access_token: string };
      const viewer = await fetch(`${origin}/graphql`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ viewer { actingRole tenant { slug } account { id userName } } }' }),
      });
      expect(await viewer.json()).toEqual({
        data: { viewer: { actingRole: 'end_user', tenant: { slug: 'emea' }, account: { id: adaUser, userName: 'ada@emea.example' } } },
      });
    } finally {
      await page.close();
    }
  });

  it('is set by the office’s admins only, and removed with its links', async () => {
    const otherAdmin = (await hub.runtime.admin.issueToken(platform, { community: 'other', role: 'community_admin' }, ctx)).token;
    const principal = {
      kind: 'community' as const,
      tokenId: otherAdmin,
      communityId: (await hub.runtime.adminStore.findCommunity('other'))?.id ?? '',
      scopes: ['graphql:read' as const, 'graphql:write' as const],
    };
    await expect(hub.runtime.upstreamProviders.get(principal, 'coi/emea')).rejects.toMatchObject({ code: 'NOT_FOUND', field: 'tenant' });
    await expect(
      hub.runtime.upstreamProviders.set(platform, { tenant: 'emea', issuer: 'http://idp.example', clientId: 'x', clientSecret: 'y' }, ctx),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'issuer' });
    await hub.runtime.upstreamProviders.remove(platform, 'emea', ctx);
    expect(await hub.db.query('select 1 from sso_upstream_link')).toEqual([]);
    await expect(hub.runtime.upstreamProviders.get(platform, 'emea')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
