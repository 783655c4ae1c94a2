import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { FastifyInstance } from 'fastify';
import * as client from 'openid-client';
import type { Browser, Page } from 'playwright-core';
import { type HubHarness, startHub } from './harness.js';
import { callbackServer, launchChromium, listeningHub } from './oidc-harness.js';

// Issue 15, what the OpenID Provider refuses: a foreign redirect URI, PKCE downgrades, a replayed code, a client of
// another community, an inactive account, and a brute force of one account.

const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
const ctx = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const PASSWORD = 'Correct-Horse-Battery-9';

let hub: HubHarness;
let app: FastifyInstance;
let origin: string;
let rp: Awaited<ReturnType<typeof callbackServer>>;
let browser: Browser;
let coi: { clientId: string; secret: string };
let other: { clientId: string; secret: string };

async function register(community: string): Promise<{ clientId: string; secret: string }> {
  const made = await hub.runtime.relyingParties.create(
    platform,
    { community, name: `App of ${community}`, redirectUris: [`${rp.origin}/cb`], claims: 'email', consent: 'implicit' },
    ctx,
  );
  return { clientId: made.relyingParty.clientId, secret: made.clientSecret ?? '' };
}

async function discover(slug: string, registered: { clientId: string; secret: string }): Promise<client.Configuration> {
  return client.discovery(new URL(`${origin}/oidc/${slug}`), registered.clientId, undefined, client.ClientSecretBasic(registered.secret), {
    execute: [client.allowInsecureRequests],
  });
}

function authorizeUrl(config: client.Configuration, params: Record<string, string>): URL {
  return client.buildAuthorizationUrl(config, { redirect_uri: `${rp.origin}/cb`, scope: 'openid email', state: 's1', ...params });
}

async function signIn(page: Page, userName: string, password: string): Promise<void> {
  await page.getByLabel('User name').fill(userName);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

async function failures(reason: string): Promise<number> {
  const [row] = await hub.db.query<{ n: string }>(
    "select count(*) as n from audit_event where action = 'auth.failed' and diff -> 'after' ->> 'reason' = $1 and diff -> 'after' ->> 'via' = 'sso'",
    [reason],
  );
  return Number(row?.n ?? 0);
}

beforeAll(async () => {
  hub = await startHub();
  ({ app, origin } = await listeningHub(hub));
  rp = await callbackServer();
  for (const body of [
    { userName: 'ada@emea.example', password: PASSWORD, emails: [{ value: 'ada@emea.example', primary: true }] },
    { userName: 'gone@emea.example', password: PASSWORD, active: false },
    { userName: 'brute@emea.example', password: PASSWORD },
  ]) {
    const res = await hub.app.inject({
      method: 'POST',
      url: '/scim/v2/Users',
      headers: { authorization: `Bearer ${hub.tenants.emea.token}`, 'content-type': 'application/scim+json' },
      payload: JSON.stringify(body),
    });
    expect(res.statusCode).toBe(201);
  }
  await hub.runtime.replication.relay.drain();
  await hub.runtime.replication.projector?.drain();
  coi = await register('coi');
  other = await register('other');
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await rp?.close();
  await app?.close();
  await hub?.close();
});

describe('the OpenID Provider refuses', () => {
  it('a redirect URI that was not registered, without redirecting to it', async () => {
    const config = await discover('coi', coi);
    const url = authorizeUrl(config, {
      redirect_uri: 'https://evil.example/cb',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const res = await fetch(url, { redirect: 'manual' });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(await res.text()).toContain('redirect_uri');
  });

  it.each([
    ['no code_challenge', {}],
    ['the plain method', { code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' }],
  ])('an authorization request with %s (PKCE downgrade)', async (_case, params: Record<string, string>) => {
    const config = await discover('coi', coi);
    const res = await fetch(authorizeUrl(config, params), { redirect: 'manual' });
    expect(res.status).toBe(303);
    const location = new URL(res.headers.get('location') ?? '');
    expect(`${location.origin}${location.pathname}`).toBe(`${rp.origin}/cb`);
    expect(location.searchParams.get('error')).toBe('invalid_request');
  });

  it('a client of another community at this community’s issuer', async () => {
    const config = await discover('other', other);
    // The other community's client, at coi's authorization endpoint.
    const url = new URL(`${origin}/oidc/coi/auth`);
    url.search = authorizeUrl(config, { code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' }).search;
    const res = await fetch(url, { redirect: 'manual' });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('invalid_client');
  });

  it('a person of another community at this community’s issuer, and a replayed code', async () => {
    const page = await browser.newPage();
    try {
      // ada has an account in coi only: the other community's issuer does not know her.
      const foreign = await discover('other', other);
      await page.goto(authorizeUrl(foreign, { code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' }).href);
      const unknownBefore = await failures('unknown_account');
      await signIn(page, 'ada@emea.example', PASSWORD);
      await expect(page.getByRole('alert').textContent()).resolves.toBe('The user name or password is wrong.');
      expect(await failures('unknown_account')).toBe(unknownBefore + 1);

      // At her own community's issuer she signs in (implicit consent), and the code works once.
      const config = await discover('coi', coi);
      const verifier = client.randomPKCECodeVerifier();
      const url = authorizeUrl(config, {
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      });
      await page.goto(url.href);
      await signIn(page, 'ada@emea.example', PASSWORD);
      await page.waitForURL(`${rp.origin}/cb?**`);
      const callback = new URL(page.url());
      const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: 's1' });
      expect(tokens.access_token).toEqual(expect.any(String));
      await expect(
        client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: 's1' }),
      ).rejects.toMatchObject({
        error: 'invalid_grant',
      });
      // RFC 6749 §4.1.2: the tokens issued from a replayed code are revoked.
      const userinfo = await fetch(config.serverMetadata().userinfo_endpoint as string, {
        headers: { authorization: `Bearer ${tokens.access_token}` },
      });
      expect(userinfo.status).toBe(401);
    } finally {
      await page.close();
    }
  });

  it('an inactive account, with an audit entry', async () => {
    const page = await browser.newPage();
    try {
      const config = await discover('coi', coi);
      await page.goto(authorizeUrl(config, { code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' }).href);
      await signIn(page, 'gone@emea.example', PASSWORD);
      await expect(page.getByRole('alert').textContent()).resolves.toBe('This account is not active.');
      expect(page.url().startsWith(origin)).toBe(true);
      expect(await failures('inactive')).toBe(1);
    } finally {
      await page.close();
    }
  });

  it('an account after repeated failures, even with the right password', async () => {
    const page = await browser.newPage();
    try {
      const config = await discover('coi', coi);
      await page.goto(authorizeUrl(config, { code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' }).href);
      for (let attempt = 1; attempt <= 5; attempt += 1) {
        await signIn(page, 'brute@emea.example', `wrong-${attempt}`);
        await expect(page.getByRole('alert').textContent()).resolves.toBe('The user name or password is wrong.');
      }
      expect(await failures('bad_password')).toBe(5);
      const refused = page.waitForResponse((res) => res.request().method() === 'POST');
      await signIn(page, 'brute@emea.example', PASSWORD);
      expect((await refused).status()).toBe(429);
      await expect(page.getByRole('alert').textContent()).resolves.toBe('Too many failed attempts. Wait a few minutes and try again.');
      expect(await failures('throttled')).toBe(1);
    } finally {
      await page.close();
    }
  });
});
