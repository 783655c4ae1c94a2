import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { FastifyInstance } from 'fastify';
import * as client from 'openid-client';
import type { Browser } from 'playwright-core';
import { type HubHarness, startHub } from './harness.js';
import { callbackServer, launchChromium, listeningHub } from './oidc-harness.js';

// Issue 15: "Grants are remembered, shown to the person (… and a page at /account), and revocable by the person".

const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
const ctx = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const PASSWORD = 'Correct-Horse-Battery-9';

let hub: HubHarness;
let app: FastifyInstance;
let origin: string;
let rp: Awaited<ReturnType<typeof callbackServer>>;
let browser: Browser;

beforeAll(async () => {
  hub = await startHub();
  ({ app, origin } = await listeningHub(hub));
  rp = await callbackServer();
  const res = await hub.app.inject({
    method: 'POST',
    url: '/scim/v2/Users',
    headers: { authorization: `Bearer ${hub.tenants.emea.token}`, 'content-type': 'application/scim+json' },
    payload: JSON.stringify({ userName: 'ada@emea.example', password: PASSWORD, emails: [{ value: 'ada@emea.example', primary: true }] }),
  });
  expect(res.statusCode).toBe(201);
  await hub.runtime.replication.relay.drain();
  await hub.runtime.replication.projector?.drain();
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await rp?.close();
  await app?.close();
  await hub?.close();
});

describe('the account page', () => {
  it('signs the person in, lists what they share, and withdraws a grant, which ends the tokens', async () => {
    const made = await hub.runtime.relyingParties.create(
      platform,
      { community: 'coi', name: 'Community Wiki', redirectUris: [`${rp.origin}/cb`], claims: 'email' },
      ctx,
    );
    const config = await client.discovery(
      new URL(`${origin}/oidc/coi`),
      made.relyingParty.clientId,
      undefined,
      client.ClientSecretBasic(made.clientSecret ?? ''),
      { execute: [client.allowInsecureRequests] },
    );
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: `${rp.origin}/cb`,
      scope: 'openid email offline_access',
      prompt: 'consent',
      state: 'a1',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });

    const page = await browser.newPage();
    try {
      // Straight to the account page: it asks the person to sign in first.
      await page.goto(`${origin}/oidc/coi/account`);
      expect(await page.getByRole('heading', { level: 2 }).textContent()).toBe('Sign in to your account');
      await page.getByLabel('User name').fill('ada@emea.example');
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(`${origin}/oidc/coi/account`);
      expect(await page.getByText('You share nothing with any application.').count()).toBe(1);

      // Signed in already: the wiki only asks for consent.
      await page.goto(url.href);
      await page.getByRole('button', { name: 'Allow' }).click();
      await page.waitForURL(`${rp.origin}/cb?**`);
      const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), { pkceCodeVerifier: verifier, expectedState: 'a1' });

      await page.goto(`${origin}/oidc/coi/account`);
      expect(await page.getByRole('heading', { level: 3 }).allTextContents()).toEqual(['Community Wiki']);
      expect(await page.locator('ul.claims li p').textContent()).toMatch(/: your email address\.$/);
      await page.getByRole('button', { name: 'Withdraw from Community Wiki' }).click();
      expect(await page.getByRole('status').textContent()).toBe('You no longer share anything with Community Wiki.');
      expect(await page.getByText('You share nothing with any application.').count()).toBe(1);
      await expect(client.refreshTokenGrant(config, tokens.refresh_token as string)).rejects.toMatchObject({ error: 'invalid_grant' });
      // Signed in, but without the page's own token (a forged form): refused.
      const forged = await page.request.post(`${origin}/oidc/coi/account`, { form: { grant: 'x', token: 'forged' } });
      expect(forged.status()).toBe(403);
      const [revoked] = await hub.db.query<{ actor_id: string }>("select actor_id from audit_event where action = 'sso.grant_revoked'");
      expect(revoked?.actor_id).toMatch(/^person:/);
    } finally {
      await page.close();
    }
  });

  it('refuses a withdrawal without the page’s token or without a session', async () => {
    const forged = await fetch(`${origin}/oidc/coi/account`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant=x&token=y',
    });
    expect(forged.status).toBe(401);
    expect(forged.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
  });
});
