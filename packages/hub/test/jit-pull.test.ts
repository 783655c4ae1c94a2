import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { FastifyInstance } from 'fastify';
import * as openid from 'openid-client';
import type { Browser } from 'playwright-core';
import { startRelyingParty } from '../../../examples/jit-relying-party/server.mjs';
import { type HubHarness, startHub } from './harness.js';
import { launchChromium, listeningHub } from './oidc-harness.js';

// Issue 16 (use case 2.3.5): a cloud pulls the person it sees for the first time, with the sign-in's access token or
// with its client credentials, through SCIM limited to what the person released to it. The relying party is
// examples/jit-relying-party, which creates its own account on a first sign-in.

type ExampleRp = Awaited<ReturnType<typeof startRelyingParty>>;

const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
const ctx = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const PASSWORD = 'Correct-Horse-Battery-9';

let hub: HubHarness;
let app: FastifyInstance;
let origin: string;
let browser: Browser;
let cloud: { clientId: string; secret: string };
let withToken: ExampleRp;
let withCredentials: ExampleRp;
const people: Record<string, string> = {};

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

/** The person signs in at the example through Chromium and allows the release; answers the example's page. */
async function signInAt(rp: ExampleRp, userName: string): Promise<string> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${rp.url}/login`);
    await page.getByLabel('User name').fill(userName);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const allow = page.getByRole('button', { name: 'Allow' });
    await Promise.race([allow.waitFor().then(() => allow.click()), page.waitForURL(`${rp.url}/`)]);
    await page.waitForURL(`${rp.url}/`);
    return (await page.textContent('body')) ?? '';
  } finally {
    await context.close();
  }
}

async function clientToken(): Promise<string> {
  const config = await openid.discovery(new URL(`${origin}/oidc/coi`), cloud.clientId, undefined, openid.ClientSecretBasic(cloud.secret), {
    execute: [openid.allowInsecureRequests],
  });
  return (await openid.clientCredentialsGrant(config)).access_token;
}

async function scimGet(path: string, token: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${origin}/oidc/coi/scim/v2${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  hub = await startHub();
  ({ app, origin } = await listeningHub(hub));
  for (const [name, display] of [
    ['ada', 'Ada Lovelace'],
    ['bob', 'Bob Babbage'],
    ['eve', 'Eve Never'],
  ] as const) {
    const id = await scimUser({
      userName: `${name}@emea.example`,
      password: PASSWORD,
      displayName: display,
      emails: [{ value: `${name}@emea.example`, primary: true }],
      phoneNumbers: [{ value: '+44 20 7946 0000' }],
    });
    await hub.runtime.replication.relay.drain();
    await hub.runtime.replication.projector?.drain();
    const person = await hub.runtime.sso.accounts.personOfAccount(hub.tenants.emea.id, id);
    people[name] = person?.personId ?? '';
  }
  const made = await hub.runtime.relyingParties.create(
    platform,
    {
      community: 'coi',
      name: 'Example cloud',
      redirectUris: ['http://127.0.0.1:9/callback'],
      claims: 'preferred_username,name,email',
      clientCredentials: true,
    },
    ctx,
  );
  cloud = { clientId: made.relyingParty.clientId, secret: made.clientSecret ?? '' };
  const common = { issuer: `${origin}/oidc/coi`, clientId: cloud.clientId, clientSecret: cloud.secret, openid };
  withToken = await startRelyingParty({ ...common, pull: 'access-token' });
  withCredentials = await startRelyingParty({ ...common, pull: 'client-credentials' });
  await hub.runtime.relyingParties.update(
    platform,
    'coi',
    cloud.clientId,
    { redirectUris: [`${withToken.url}/callback`, `${withCredentials.url}/callback`] },
    ctx,
  );
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await withToken?.close();
  await withCredentials?.close();
  await app?.close();
  await hub?.close();
});

describe('a cloud pulls the person at first access', () => {
  it('the example creates its account on the first sign-in from /scim/v2/Me, and pulls nothing the second time', async () => {
    expect(await signInAt(withToken, 'ada@emea.example')).toBe('Hello Ada Lovelace');
    expect([...withToken.accounts.values()]).toEqual([
      expect.objectContaining({ sub: people.ada, userName: 'ada@emea.example', displayName: 'Ada Lovelace', email: 'ada@emea.example' }),
    ]);
    expect(withToken.pulls).toEqual([`${origin}/oidc/coi/scim/v2/Me`]);
    expect(await signInAt(withToken, 'ada@emea.example')).toBe('Hello Ada Lovelace');
    expect(withToken.accounts.size).toBe(1);
    expect(withToken.pulls).toHaveLength(1);
  });

  it('with client credentials, the example reads /scim/v2/Users/{sub} of a person who consented', async () => {
    expect(await signInAt(withCredentials, 'bob@emea.example')).toBe('Hello Bob Babbage');
    expect(withCredentials.pulls).toEqual([`${origin}/oidc/coi/scim/v2/Users/${people.bob}`]);
    expect(withCredentials.accounts.get(people.bob as string)?.email).toBe('bob@emea.example');
  });

  it('filters and reads answer consenting people with what they released only, and each answer is a release', async () => {
    const token = await clientToken();
    const released = await hub.db.query<{ n: string }>("select count(*) as n from audit_event where action = 'sso.released'");
    const found = await scimGet(`/Users?filter=${encodeURIComponent('userName eq "ADA@emea.example"')}`, token);
    expect(found.status).toBe(200);
    expect(found.body).toMatchObject({ totalResults: 1, itemsPerPage: 1 });
    expect(found.body.Resources).toEqual([
      {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
        id: people.ada,
        userName: 'ada@emea.example',
        displayName: 'Ada Lovelace',
        emails: [{ value: 'ada@emea.example', primary: true }],
        meta: { resourceType: 'User', location: `${origin}/oidc/coi/scim/v2/Users/${people.ada}` },
      },
    ]);
    const byEmail = await scimGet(`/Users?filter=${encodeURIComponent('emails.value eq "bob@emea.example"')}`, token);
    expect((byEmail.body.Resources as { id: string }[]).map((u) => u.id)).toEqual([people.bob]);
    // Eve never signed in here (no consent), and the phone number was never released: neither can be found.
    expect((await scimGet(`/Users?filter=${encodeURIComponent('userName eq "eve@emea.example"')}`, token)).body.totalResults).toBe(0);
    expect((await scimGet(`/Users?filter=${encodeURIComponent('phoneNumbers pr')}`, token)).body.totalResults).toBe(0);
    expect((await scimGet(`/Users/${people.eve}`, token)).status).toBe(404);
    const one = await scimGet(`/Users/${people.ada}`, token);
    expect(one.status).toBe(200);
    expect(one.body.userName).toBe('ada@emea.example');
    const bad = await scimGet(`/Users?filter=${encodeURIComponent('userName eq')}`, token);
    expect(bad.status).toBe(400);
    expect(bad.body.scimType).toBe('invalidFilter');
    // Three people answered (ada, bob, ada): three releases through SCIM.
    const after = await hub.db.query<{ n: string }>("select count(*) as n from audit_event where action = 'sso.released'");
    expect(Number(after[0]?.n) - Number(released[0]?.n)).toBe(3);
  });

  it('refuses a token that is not the relying party’s client credentials', async () => {
    expect((await scimGet(`/Users/${people.ada}`, 'not-a-token')).status).toBe(401);
    expect((await scimGet(`/Users?filter=${encodeURIComponent('userName eq "ada@emea.example"')}`, 'x')).status).toBe(401);
  });
});
