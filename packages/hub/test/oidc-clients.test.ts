import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { eventually } from '@meridian/test-utils';
import { gql as post } from '@meridian/test-utils/apps';
import type { FastifyInstance } from 'fastify';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as client from 'openid-client';
import type { Browser } from 'playwright-core';
import { type HubHarness, startHub } from './harness.js';
import { callbackServer, launchChromium, listeningHub } from './oidc-harness.js';

// Issue 15: what relying parties do besides signing people in: client credentials, introspection, revocation,
// secret rotation, back-channel logout; a person with accounts in two offices; admins listing and revoking grants.

const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
const ctx = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const PASSWORD = 'Correct-Horse-Battery-9';
/** RFC 6749 §5.2: a failed client authentication over HTTP Basic is a 401 with a Basic challenge naming invalid_client. */
const INVALID_CLIENT = { status: 401, cause: [{ scheme: 'basic', parameters: expect.objectContaining({ error: 'invalid_client' }) }] };

let hub: HubHarness;
let app: FastifyInstance;
let origin: string;
let rp: Awaited<ReturnType<typeof callbackServer>>;
let browser: Browser;
let communityAdmin: string;

async function scimUser(token: string, body: Record<string, unknown>): Promise<void> {
  const res = await hub.app.inject({
    method: 'POST',
    url: '/scim/v2/Users',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' },
    payload: JSON.stringify(body),
  });
  expect(res.statusCode).toBe(201);
}

async function register(values: Record<string, unknown>): Promise<{ clientId: string; secret: string }> {
  const made = await hub.runtime.relyingParties.create(
    platform,
    { community: 'coi', name: 'App', redirectUris: [`${rp.origin}/cb`], claims: 'email,office', consent: 'implicit', ...values },
    ctx,
  );
  return { clientId: made.relyingParty.clientId, secret: made.clientSecret ?? '' };
}

function discover(registered: { clientId: string; secret: string }): Promise<client.Configuration> {
  return client.discovery(new URL(`${origin}/oidc/coi`), registered.clientId, undefined, client.ClientSecretBasic(registered.secret), {
    execute: [client.allowInsecureRequests],
  });
}

/** The body of one GraphQL answer (the shared helper of the test apps). */
async function gql(token: string, query: string) {
  return (await post(hub.app, token, query)).body;
}

beforeAll(async () => {
  // Back-channel logout posts to the relying party on this machine: the outbound policy must open it.
  hub = await startHub({ env: { MERIDIAN_OUTBOUND_ALLOW: '127.0.0.1' } });
  ({ app, origin } = await listeningHub(hub, { MERIDIAN_OUTBOUND_ALLOW: '127.0.0.1' }));
  rp = await callbackServer();
  await hub.runtime.admin.createTenant(platform, { slug: 'amer', name: 'AMER', community: 'coi' }, ctx);
  const amer = (await hub.runtime.admin.issueToken(platform, { tenant: 'amer', role: 'provisioner' }, ctx)).token;
  await scimUser(hub.tenants.emea.token, {
    userName: 'sam@example.org',
    password: 'emea-password-1',
    emails: [{ value: 'sam@emea.example' }],
  });
  await scimUser(amer, { userName: 'sam@example.org', password: PASSWORD, emails: [{ value: 'sam@amer.example' }] });
  await scimUser(hub.tenants.emea.token, { userName: 'ada@emea.example', password: PASSWORD, emails: [{ value: 'ada@emea.example' }] });
  await hub.runtime.replication.relay.drain();
  await hub.runtime.replication.projector?.drain();
  communityAdmin = (await hub.runtime.admin.issueToken(platform, { community: 'coi', role: 'community_admin' }, ctx)).token;
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await rp?.close();
  await app?.close();
  await hub?.close();
});

describe('relying parties', () => {
  it('get client-credentials tokens when registered for them, which introspection and revocation see', async () => {
    const allowed = await register({ clientCredentials: true });
    const config = await discover(allowed);
    const token = await client.clientCredentialsGrant(config);
    expect(token.token_type).toBe('bearer');
    expect(await client.tokenIntrospection(config, token.access_token)).toMatchObject({ active: true, client_id: allowed.clientId });
    // Another relying party of the same community learns nothing of it, and cannot revoke it.
    const stranger = await discover(await register({}));
    expect(await client.tokenIntrospection(stranger, token.access_token)).toEqual({ active: false });
    // RFC 7009 §2.2: the answer is 200 either way; the token must still be active afterwards.
    await client.tokenRevocation(stranger, token.access_token);
    expect(await client.tokenIntrospection(config, token.access_token)).toMatchObject({ active: true });
    await client.tokenRevocation(config, token.access_token);
    expect(await client.tokenIntrospection(config, token.access_token)).toEqual({ active: false });

    const refused = await discover(await register({}));
    await expect(client.clientCredentialsGrant(refused)).rejects.toMatchObject({
      status: 400,
      error: 'invalid_request',
      error_description: 'requested grant type is not allowed for this client',
    });
  });

  it('authenticate with the current secret only: a wrong or rotated one is invalid_client', async () => {
    const registered = await register({ clientCredentials: true });
    await expect(client.clientCredentialsGrant(await discover({ ...registered, secret: `${registered.secret}x` }))).rejects.toMatchObject(
      INVALID_CLIENT,
    );
    const rotated = await hub.runtime.relyingParties.rotateSecret(platform, 'coi', registered.clientId, ctx);
    await expect(client.clientCredentialsGrant(await discover(registered))).rejects.toMatchObject(INVALID_CLIENT);
    const fresh = await client.clientCredentialsGrant(await discover({ ...registered, secret: rotated.clientSecret ?? '' }));
    expect(fresh.access_token).toEqual(expect.any(String));
  });

  it('asks the office when a user name is in several, and posts a logout token on logout (back-channel)', async () => {
    const registered = await register({ backchannelLogoutUri: `${rp.origin}/backchannel`, postLogoutRedirectUris: [`${rp.origin}/bye`] });
    const config = await discover(registered);
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: `${rp.origin}/cb`,
      scope: 'openid email organization',
      state: 's3',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      login_hint: 'sam@example.org',
    });
    const page = await browser.newPage();
    try {
      await page.goto(url.href);
      expect(await page.getByLabel('User name').inputValue()).toBe('sam@example.org');
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      // Two offices have a sam@example.org: the page asks which one, and the password again.
      const office = page.getByLabel('Office');
      expect(await office.locator('option').allTextContents()).toEqual(['AMER', 'EMEA']);
      await office.selectOption('amer');
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(`${rp.origin}/cb?**`);
      const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), { pkceCodeVerifier: verifier, expectedState: 's3' });
      expect(tokens.claims()).toMatchObject({ email: 'sam@amer.example', office: 'amer' });

      const logout = client.buildEndSessionUrl(config, {
        id_token_hint: tokens.id_token as string,
        post_logout_redirect_uri: `${rp.origin}/bye`,
      });
      await page.goto(logout.href);
      await page.getByRole('button', { name: 'Yes, sign me out' }).click();
      await page.waitForURL(`${rp.origin}/bye**`);
      const posted = await eventually('the logout token', () => rp.posts.find((p) => p.path === '/backchannel'), {
        timeoutMs: 10_000,
        intervalMs: 20,
      });
      const logoutToken = new URLSearchParams(posted.body).get('logout_token') ?? '';
      const jwks = createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri as string));
      const { payload } = await jwtVerify(logoutToken, jwks, { issuer: `${origin}/oidc/coi`, audience: registered.clientId });
      expect(payload).toMatchObject({ sub: tokens.claims()?.sub, events: { 'http://schemas.openid.net/event/backchannel-logout': {} } });
    } finally {
      await page.close();
    }
  });

  it('see a pairwise sub, stable per host and different between hosts, when they ask for one', async () => {
    const local = rp.origin.replace('127.0.0.1', 'localhost');
    const first = await register({ subjectType: 'pairwise' });
    const again = await register({ subjectType: 'pairwise' });
    const elsewhere = await register({ subjectType: 'pairwise', redirectUris: [`${local}/cb`] });
    const plain = await register({});
    const page = await browser.newPage();
    const subOf = async (registered: { clientId: string; secret: string }, base: string) => {
      const config = await discover(registered);
      const verifier = client.randomPKCECodeVerifier();
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: `${base}/cb`,
        scope: 'openid email',
        state: 's5',
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      });
      await page.goto(url.href);
      // The first sign-in asks for the password; the next ones ride on the session.
      if (page.url().startsWith(origin)) {
        await page.getByLabel('User name').fill('ada@emea.example');
        await page.getByLabel('Password').fill(PASSWORD);
        await page.getByRole('button', { name: 'Sign in' }).click();
      }
      await page.waitForURL(`${base}/cb?**`);
      const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), { pkceCodeVerifier: verifier, expectedState: 's5' });
      const sub = tokens.claims()?.sub as string;
      expect((await client.fetchUserInfo(config, tokens.access_token, sub)).sub).toBe(sub);
      return sub;
    };
    try {
      const person = await subOf(plain, rp.origin);
      const firstSub = await subOf(first, rp.origin);
      expect(firstSub).not.toBe(person);
      // Same host, same sector: the same pairwise sub (OpenID Connect Core §8.1).
      expect(await subOf(again, rp.origin)).toBe(firstSub);
      expect(await subOf(first, rp.origin)).toBe(firstSub);
      const elsewhereSub = await subOf(elsewhere, local);
      expect([person, firstSub]).not.toContain(elsewhereSub);
    } finally {
      await page.close();
    }
  });

  it('list, with client credentials, only the people who consented, with only what they released', async () => {
    const registered = await register({ clientCredentials: true, consent: 'required', claims: 'email,office', optionalClaims: 'office' });
    const config = await discover(registered);
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: `${rp.origin}/cb`,
      scope: 'openid email organization',
      state: 's6',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const page = await browser.newPage();
    try {
      await page.goto(url.href);
      await page.getByLabel('User name').fill('ada@emea.example');
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByLabel('the office you signed in with (optional)').uncheck();
      await page.getByRole('button', { name: 'Allow' }).click();
      await page.waitForURL(`${rp.origin}/cb?**`);
      const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), { pkceCodeVerifier: verifier, expectedState: 's6' });
      const sub = tokens.claims()?.sub;

      const list = async (token: string, slug = 'coi') => {
        const res = await fetch(`${origin}/oidc/${slug}/scim/v2/Users`, { headers: { authorization: `Bearer ${token}` } });
        return { status: res.status, cache: res.headers.get('cache-control'), body: (await res.json()) as Record<string, unknown> };
      };
      const own = await client.clientCredentialsGrant(config);
      expect(await list(own.access_token)).toEqual({
        status: 200,
        cache: 'private, max-age=86400',
        body: {
          schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
          totalResults: 1,
          startIndex: 1,
          itemsPerPage: 1,
          Resources: [
            {
              schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
              id: sub,
              emails: [{ value: 'ada@emea.example', primary: true }],
              meta: { resourceType: 'User', location: `${origin}/oidc/coi/scim/v2/Users/${sub}` },
            },
          ],
        },
      });
      // Another relying party's client credentials see nobody: nobody consented to it.
      const stranger = await client.clientCredentialsGrant(await discover(await register({ clientCredentials: true })));
      expect((await list(stranger.access_token)).body).toMatchObject({ totalResults: 0, Resources: [] });
      // A person's access token is not a client-credentials token, and a token of coi is nothing at another issuer.
      expect((await list(tokens.access_token)).status).toBe(401);
      expect((await list(own.access_token, 'other')).status).toBe(401);
      const [release] = await hub.db.query<{ diff: { after: Record<string, unknown> } }>(
        "select diff from audit_event where action = 'sso.released' and diff -> 'after' ->> 'through' = 'scim' and diff -> 'after' ->> 'clientId' = $1",
        [registered.clientId],
      );
      expect(release?.diff.after).toMatchObject({ claims: ['email'] });
    } finally {
      await page.close();
    }
  });

  it('have their grants listed and revoked by a community admin, which ends their tokens', async () => {
    const registered = await register({ consent: 'required' });
    const config = await discover(registered);
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: `${rp.origin}/cb`,
      scope: 'openid email offline_access',
      prompt: 'consent',
      state: 's4',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const page = await browser.newPage();
    try {
      await page.goto(url.href);
      await page.getByLabel('User name').fill('ada@emea.example');
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('button', { name: 'Allow' }).click();
      await page.waitForURL(`${rp.origin}/cb?**`);
      const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), { pkceCodeVerifier: verifier, expectedState: 's4' });

      const listed = await gql(
        communityAdmin,
        `{ relyingPartyGrants(community: "coi", clientId: "${registered.clientId}") { id claims personId } }`,
      );
      const grants = listed.data?.relyingPartyGrants as { id: string; claims: string[]; personId: string }[];
      expect(grants).toEqual([{ id: expect.any(String), claims: ['email'], personId: tokens.claims()?.sub }]);
      // Another community's admin does not reach it.
      const otherAdmin = (await hub.runtime.admin.issueToken(platform, { community: 'other', role: 'community_admin' }, ctx)).token;
      expect(
        (await gql(otherAdmin, `mutation { revokeGrant(community: "coi", id: "${grants[0]?.id}") }`)).errors?.[0]?.extensions.code,
      ).toBe('NOT_FOUND');
      expect((await gql(communityAdmin, `mutation { revokeGrant(community: "coi", id: "${grants[0]?.id}") }`)).errors).toBeUndefined();
      await expect(client.refreshTokenGrant(config, tokens.refresh_token as string)).rejects.toMatchObject({ error: 'invalid_grant' });
      expect(await client.tokenIntrospection(config, tokens.access_token)).toEqual({ active: false });
    } finally {
      await page.close();
    }
  });
});
