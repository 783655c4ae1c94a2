import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { gql as post } from '@meridian/test-utils/apps';
import type { FastifyInstance } from 'fastify';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as client from 'openid-client';
import type { Browser, Page } from 'playwright-core';
import { type HubHarness, startHub } from './harness.js';
import { callbackServer, launchChromium, listeningHub } from './oidc-harness.js';

// Issue 15: Meridian is each community's OpenID Provider. openid-client is the relying party, Chromium the person.

const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
const ctx = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const PASSWORD = 'Correct-Horse-Battery-9';

let hub: HubHarness;
let app: FastifyInstance;
let origin: string;
let rp: Awaited<ReturnType<typeof callbackServer>>;
let browser: Browser;
let wiki: { clientId: string; secret: string };
let adaPerson: string;

async function scimUser(body: Record<string, unknown>): Promise<string> {
  const res = await hub.app.inject({
    method: 'POST',
    url: '/scim/v2/Users',
    headers: { authorization: `Bearer ${hub.tenants.emea.token}`, 'content-type': 'application/scim+json' },
    payload: JSON.stringify(body),
  });
  expect(res.statusCode).toBe(201);
  return (JSON.parse(res.body) as { id: string }).id;
}

async function discover(issuerSlug: string, clientId: string, secret: string): Promise<client.Configuration> {
  return client.discovery(new URL(`${origin}/oidc/${issuerSlug}`), clientId, undefined, client.ClientSecretBasic(secret), {
    execute: [client.allowInsecureRequests],
  });
}

/** Starts an authorization request the way a relying party does; the URL the browser opens and what the RP keeps. */
async function authorization(config: client.Configuration, extra: Record<string, string> = {}) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: `${rp.origin}/cb`,
    scope: 'openid profile email phone offline_access',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    prompt: 'consent',
    ...extra,
  });
  return { url, verifier, state };
}

async function signIn(page: Page, userName: string, password: string): Promise<void> {
  await page.getByLabel('User name').fill(userName);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

async function auditOf(action: string): Promise<{ resource_id: string; diff: { after: Record<string, unknown> } }[]> {
  return hub.db.query(`select resource_id, diff from audit_event where action = $1 order by created_at, seq`, [action]);
}

beforeAll(async () => {
  hub = await startHub();
  ({ app, origin } = await listeningHub(hub));
  rp = await callbackServer();
  const ada = await scimUser({
    userName: 'ada@emea.example',
    password: PASSWORD,
    displayName: 'Ada Lovelace',
    name: { givenName: 'Ada', familyName: 'Lovelace' },
    emails: [{ value: 'ada@emea.example', primary: true }],
    phoneNumbers: [{ value: '+44 20 7946 0000', primary: true }],
  });
  await scimUser({ userName: 'gone@emea.example', password: PASSWORD, active: false });
  await scimUser({ userName: 'brute@emea.example', password: PASSWORD });
  await hub.runtime.replication.relay.drain();
  await hub.runtime.replication.projector?.drain();
  const person = await hub.runtime.sso.accounts.personOfAccount(hub.tenants.emea.id, ada);
  if (!person) throw new Error('ada was not projected into the global directory');
  adaPerson = person.personId;
  const made = await hub.runtime.relyingParties.create(
    platform,
    {
      community: 'coi',
      name: 'Community Wiki',
      redirectUris: [`${rp.origin}/cb`],
      postLogoutRedirectUris: [`${rp.origin}/bye`],
      claims: 'name,email,phone_number,preferred_username,title',
      optionalClaims: 'phone_number',
      maxCacheSeconds: 3600,
    },
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

describe('signing in with Meridian', () => {
  it('publishes discovery and a JWKS under the community issuer', async () => {
    const config = await discover('coi', wiki.clientId, wiki.secret);
    const metadata = config.serverMetadata();
    const issuer = `${origin}/oidc/coi`;
    // The endpoints docs/sso.md lists.
    expect(metadata).toMatchObject({
      issuer,
      authorization_endpoint: `${issuer}/auth`,
      token_endpoint: `${issuer}/token`,
      userinfo_endpoint: `${issuer}/me`,
      jwks_uri: `${issuer}/jwks`,
      introspection_endpoint: `${issuer}/token/introspection`,
      revocation_endpoint: `${issuer}/token/revocation`,
      end_session_endpoint: `${issuer}/session/end`,
      response_types_supported: ['code'],
    });
    expect(metadata.grant_types_supported).toEqual(expect.arrayContaining(['authorization_code', 'refresh_token', 'client_credentials']));
    expect(metadata.claims_supported).toEqual(expect.arrayContaining(['sub', 'email', 'meridian_max_cache']));
    expect(metadata.code_challenge_methods_supported).toEqual(['S256']);
    expect(metadata.subject_types_supported).toEqual(['public', 'pairwise']);
    const jwks = (await (await fetch(metadata.jwks_uri as string)).json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    expect(jwks.keys[0]).not.toHaveProperty('d');
    // The signing key is stored sealed, never as a JWK in clear.
    const [stored] = await hub.db.query<{ sealed: string }>("select sealed from oidc_key where kind = 'signing'");
    expect(stored?.sealed.startsWith('v1:')).toBe(true);
  });

  it('signs a person in, releases what they consented to, refreshes, revokes and logs out', async () => {
    const config = await discover('coi', wiki.clientId, wiki.secret);
    const { url, verifier, state } = await authorization(config);
    const page = await browser.newPage();
    try {
      const login = await page.goto(url.href);
      expect(login?.status()).toBe(200);
      const headers = login?.headers() ?? {};
      expect(headers['content-security-policy']).toMatch(/default-src 'none'/);
      expect(headers['x-frame-options']).toBe('DENY');
      expect(await page.getByLabel('User name').getAttribute('autocomplete')).toBe('username');
      expect(await page.getByLabel('Password').getAttribute('autocomplete')).toBe('current-password');
      await signIn(page, 'ADA@emea.example', PASSWORD);

      // Consent: the page lists what the wiki asks for in plain words; the person refuses the optional phone number.
      await page.getByRole('button', { name: 'Allow' }).waitFor();
      const listed = await page.locator('ul.claims li').allTextContents();
      expect(listed.map((t) => t.trim())).toEqual([
        'your user name in your office (required)',
        'your full name (required)',
        'your email address (required)',
        'your phone number (optional)',
      ]);
      await page.getByLabel('your phone number (optional)').uncheck();
      await page.getByRole('button', { name: 'Allow' }).click();
      await page.waitForURL(`${rp.origin}/cb?**`);

      const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), { pkceCodeVerifier: verifier, expectedState: state });
      const jwks = createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri as string));
      const { payload } = await jwtVerify(tokens.id_token as string, jwks, { issuer: `${origin}/oidc/coi`, audience: wiki.clientId });
      const released = {
        sub: adaPerson,
        name: 'Ada Lovelace',
        email: 'ada@emea.example',
        preferred_username: 'ada@emea.example',
        meridian_max_cache: 3600,
      };
      expect(payload).toMatchObject(released);
      expect(payload).not.toHaveProperty('phone_number');
      // RFC 8176: signed in with a password.
      expect(payload.amr).toEqual(['pwd']);
      expect(payload).not.toHaveProperty('given_name');

      const userinfo = await fetch(config.serverMetadata().userinfo_endpoint as string, {
        headers: { authorization: `Bearer ${tokens.access_token}` },
      });
      expect(userinfo.status).toBe(200);
      expect(userinfo.headers.get('cache-control')).toBe('private, max-age=3600');
      expect(await userinfo.json()).toEqual(released);

      // The same release as a SCIM User, with the person's access token.
      const scimMe = await fetch(`${origin}/oidc/coi/scim/v2/Me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      expect(scimMe.status).toBe(200);
      expect(scimMe.headers.get('content-type')).toMatch(/^application\/scim\+json/);
      expect(scimMe.headers.get('cache-control')).toBe('private, max-age=3600');
      expect(await scimMe.json()).toEqual({
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
        id: adaPerson,
        userName: 'ada@emea.example',
        displayName: 'Ada Lovelace',
        emails: [{ value: 'ada@emea.example', primary: true }],
        meta: { resourceType: 'User', location: `${origin}/oidc/coi/scim/v2/Me` },
      });
      const anonymous = await fetch(`${origin}/oidc/coi/scim/v2/Me`);
      expect(anonymous.status).toBe(401);
      expect(await anonymous.json()).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '401' });

      // The release is audited and in the ledger, with its cache period.
      const releases = await auditOf('sso.released');
      expect(releases.length).toBeGreaterThanOrEqual(2);
      expect(releases.at(-1)).toMatchObject({
        resource_id: adaPerson,
        diff: { after: { clientId: wiki.clientId, claims: ['preferred_username', 'name', 'email'], through: 'userinfo' } },
      });
      const [ledger] = await hub.db.query<{ claims: string[]; expires_at: Date; released_at: Date }>(
        'select claims, expires_at, released_at from sso_release where client_id = $1 and person_id = $2',
        [wiki.clientId, adaPerson],
      );
      expect(ledger?.claims).toEqual(['email', 'name', 'preferred_username']);
      expect(new Date(ledger?.expires_at as Date).getTime() - new Date(ledger?.released_at as Date).getTime()).toBe(3_600_000);
      expect(await auditOf('sso.consented')).toEqual([
        expect.objectContaining({
          diff: {
            after: expect.objectContaining({ claims: ['preferred_username', 'name', 'email'], refused: ['phone_number'] }),
            before: null,
          },
        }),
      ]);

      const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token as string);
      expect(refreshed.access_token).not.toBe(tokens.access_token);

      // The person sees and revokes the grant; the wiki's tokens stop working.
      const me = (await hub.runtime.admin.issueToken(platform, { tenant: 'emea', role: 'end_user', user: 'ada@emea.example' }, ctx)).token;
      const gql = async (query: string) => (await post(hub.app, me, query)).body;
      const listedGrants = await gql('{ me { grants { id clientId claims } } }');
      expect(listedGrants.errors).toBeUndefined();
      const grants = listedGrants.data?.me?.grants ?? [];
      expect(grants).toEqual([{ id: expect.any(String), clientId: wiki.clientId, claims: ['preferred_username', 'name', 'email'] }]);
      expect((await gql(`mutation { revokeMyGrant(id: "${grants[0]?.id}") }`)).errors).toBeUndefined();
      const after = await fetch(config.serverMetadata().userinfo_endpoint as string, {
        headers: { authorization: `Bearer ${refreshed.access_token}` },
      });
      expect(after.status).toBe(401);
      expect(
        (await fetch(`${origin}/oidc/coi/scim/v2/Me`, { headers: { authorization: `Bearer ${refreshed.access_token}` } })).status,
      ).toBe(401);
      await expect(client.refreshTokenGrant(config, refreshed.refresh_token as string)).rejects.toMatchObject({ error: 'invalid_grant' });
      expect((await auditOf('sso.grant_revoked')).map((e) => e.resource_id)).toEqual([grants[0]?.id]);

      // RP-initiated logout: the person confirms and lands on the wiki's post-logout page.
      const logout = client.buildEndSessionUrl(config, {
        id_token_hint: tokens.id_token as string,
        post_logout_redirect_uri: `${rp.origin}/bye`,
      });
      await page.goto(logout.href);
      await page.getByRole('button', { name: 'Yes, sign me out' }).click();
      await page.waitForURL(`${rp.origin}/bye**`);
      // Signed out: a new authorization asks for the password again.
      await page.goto((await authorization(config)).url.href);
      await page.getByLabel('Password').waitFor();
    } finally {
      await page.close();
    }
  });
});
