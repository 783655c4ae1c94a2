import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { FastifyInstance } from 'fastify';
import * as client from 'openid-client';
import type { Browser } from 'playwright-core';
import { loadConfig } from '../src/config/config.js';
import { buildApp } from '../src/http/app.js';
import { openRuntime, type Runtime } from '../src/runtime/runtime.js';
import { type HubHarness, startHub } from './harness.js';
import { callbackServer, launchChromium, listeningHub } from './oidc-harness.js';

// Issue 15: "any hub process serves any step". The person signs in at one hub; the relying party exchanges the
// code, reads userinfo and refreshes at a second hub with its own runtime (pool, provider cache) on the same database.

const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
const ctx = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const PASSWORD = 'Correct-Horse-Battery-9';

let hub: HubHarness;
let first: { app: FastifyInstance; origin: string };
let second: { app: FastifyInstance; origin: string; runtime: Runtime };
let rp: Awaited<ReturnType<typeof callbackServer>>;
let browser: Browser;

beforeAll(async () => {
  hub = await startHub();
  first = await listeningHub(hub);
  // The second process: the same public URL (the issuer), its own runtime, another port.
  const config = loadConfig({ DATABASE_URL: hub.db.url, MERIDIAN_ADMIN_TOKEN: hub.adminToken, MERIDIAN_PUBLIC_URL: first.origin });
  const runtime = await openRuntime(config, 'client');
  const app = await buildApp({ config, runtime, logger: false });
  second = { app, runtime, origin: await app.listen({ port: 0, host: '127.0.0.1' }) };
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
  await second?.app.close();
  await second?.runtime.close();
  await first?.app.close();
  await hub?.close();
});

describe('two hub processes', () => {
  it('serve one flow: sign-in at the first, code, userinfo and refresh at the second', async () => {
    const made = await hub.runtime.relyingParties.create(
      platform,
      { community: 'coi', name: 'Wiki', redirectUris: [`${rp.origin}/cb`], claims: 'email', consent: 'implicit' },
      ctx,
    );
    const config = await client.discovery(
      new URL(`${first.origin}/oidc/coi`),
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
      state: 's2',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const page = await browser.newPage();
    try {
      await page.goto(url.href);
      await page.getByLabel('User name').fill('ada@emea.example');
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(`${rp.origin}/cb?**`);

      // From here on, every request of the relying party reaches the second hub.
      const reached: string[] = [];
      config[client.customFetch] = (input, init) => {
        const target = input.replace(first.origin, second.origin);
        reached.push(new URL(target).origin);
        return fetch(target, init);
      };
      const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), { pkceCodeVerifier: verifier, expectedState: 's2' });
      const claims = tokens.claims();
      expect(claims).toMatchObject({ iss: `${first.origin}/oidc/coi`, email: 'ada@emea.example' });
      expect(await client.fetchUserInfo(config, tokens.access_token, claims?.sub as string)).toMatchObject({ email: 'ada@emea.example' });
      const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token as string);
      expect(refreshed.access_token).toEqual(expect.any(String));
      expect(new Set(reached)).toEqual(new Set([second.origin]));
    } finally {
      await page.close();
    }
  });
});
