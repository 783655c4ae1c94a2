import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { FastifyInstance } from 'fastify';
import * as client from 'openid-client';
import { type HubHarness, startHub } from './harness.js';
import { listeningHub } from './oidc-harness.js';

// Issue 15: "the login page asks for the office where it cannot be inferred (login_hint, email domain)". A user name
// in two offices signs in at the office whose email domains include the user name's domain, when exactly one office
// has it; otherwise the page asks which office. Plain HTTP with the pages' forms (no JavaScript is needed).

const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
const ctx = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const REDIRECT = 'http://127.0.0.1:9/cb';

let hub: HubHarness;
let app: FastifyInstance;
let origin: string;
let config: client.Configuration;

async function scimUser(token: string, userName: string, password: string): Promise<void> {
  const res = await hub.app.inject({
    method: 'POST',
    url: '/scim/v2/Users',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' },
    payload: JSON.stringify({ userName, password, emails: [{ value: userName }] }),
  });
  expect(res.statusCode).toBe(201);
}

/** A browser without JavaScript: keeps cookies, follows redirects by hand until the relying party's redirect URI. */
class Visitor {
  private readonly cookies = new Map<string, string>();

  async request(url: string, init: { method?: string; form?: Record<string, string> } = {}): Promise<Response> {
    const res = await fetch(new URL(url, origin), {
      method: init.method ?? 'GET',
      redirect: 'manual',
      headers: {
        cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
        ...(init.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      ...(init.form ? { body: new URLSearchParams(init.form).toString() } : {}),
    });
    for (const cookie of res.headers.getSetCookie()) {
      const [pair = ''] = cookie.split(';');
      const at = pair.indexOf('=');
      this.cookies.set(pair.slice(0, at), pair.slice(at + 1));
    }
    return res;
  }

  /** Follows redirects from `res`; the final answer, or the relying party's callback URL. */
  async follow(res: Response): Promise<{ page: Response } | { callback: URL }> {
    let current = res;
    for (let hops = 0; hops < 10; hops++) {
      const location = current.headers.get('location');
      if (current.status < 300 || current.status >= 400 || !location) return { page: current };
      const next = new URL(location, origin);
      if (next.href.startsWith(REDIRECT)) return { callback: next };
      current = await this.request(next.href);
    }
    throw new Error('Too many redirects.');
  }
}

async function signIn(userName: string, password: string) {
  const verifier = client.randomPKCECodeVerifier();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT,
    scope: 'openid organization',
    state: 'st',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  const visitor = new Visitor();
  const shown = await visitor.follow(await visitor.request(url.href));
  if (!('page' in shown)) throw new Error('expected the sign-in page');
  const action = /<form method="post" action="([^"]+)"/.exec(await shown.page.text())?.[1] ?? '';
  const posted = await visitor.request(action, { method: 'POST', form: { step: 'login', username: userName, password } });
  const outcome = await visitor.follow(posted);
  if ('page' in outcome) return { page: { status: outcome.page.status, html: await outcome.page.text() } };
  const tokens = await client.authorizationCodeGrant(config, outcome.callback, { pkceCodeVerifier: verifier, expectedState: 'st' });
  return { claims: tokens.claims() };
}

beforeAll(async () => {
  hub = await startHub();
  ({ app, origin } = await listeningHub(hub));
  await hub.runtime.admin.createTenant(platform, { slug: 'amer', name: 'AMER', community: 'coi' }, ctx);
  const amer = (await hub.runtime.admin.issueToken(platform, { tenant: 'amer', role: 'provisioner' }, ctx)).token;
  // The same user names in two offices, each with its own password.
  for (const userName of ['kim@emea.example', 'lee@elsewhere.example']) {
    await scimUser(hub.tenants.emea.token, userName, 'emea-password-1');
    await scimUser(amer, userName, 'amer-password-1');
  }
  await hub.runtime.replication.relay.drain();
  await hub.runtime.replication.projector?.drain();
  expect(await hub.runtime.upstreamProviders.setEmailDomains(platform, 'emea', ['EMEA.example', '@emea.example'], ctx)).toEqual([
    'emea.example',
  ]);
  await hub.runtime.upstreamProviders.setEmailDomains(platform, 'amer', ['amer.example'], ctx);
  const made = await hub.runtime.relyingParties.create(
    platform,
    { community: 'coi', name: 'App', redirectUris: [REDIRECT], claims: 'office', consent: 'implicit' },
    ctx,
  );
  config = await client.discovery(
    new URL(`${origin}/oidc/coi`),
    made.relyingParty.clientId,
    undefined,
    client.ClientSecretBasic(made.clientSecret ?? ''),
    {
      execute: [client.allowInsecureRequests],
    },
  );
}, 120_000);

afterAll(async () => {
  await app?.close();
  await hub?.close();
});

describe('the office of a user name in several offices', () => {
  it('is the one whose email domain the user name has, with no choice asked', async () => {
    const signedIn = await signIn('kim@emea.example', 'emea-password-1');
    expect(signedIn).toEqual({ claims: expect.objectContaining({ office: 'emea' }) });
    // The other office's password is wrong there: the domain decided, not the password.
    const wrong = await signIn('kim@emea.example', 'amer-password-1');
    expect(wrong).toEqual({ page: { status: 401, html: expect.stringContaining('The user name or password is wrong.') } });
    expect(wrong.page?.html).not.toContain('<select id="office"');
  });

  it('is asked for when no office has the domain', async () => {
    const asked = await signIn('lee@elsewhere.example', 'emea-password-1');
    expect(asked.page?.status).toBe(200);
    expect(asked.page?.html).toContain('<select id="office" name="office" required>');
    expect(asked.page?.html).toContain('<option value="amer">AMER</option>');
  });

  it('is refused for a domain that is not a domain name, and the audit log records each change', async () => {
    await expect(hub.runtime.upstreamProviders.setEmailDomains(platform, 'emea', ['not a domain'], ctx)).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: "'not a domain' is not a domain name.",
    });
    expect(await hub.runtime.upstreamProviders.emailDomains(platform, 'emea')).toEqual(['emea.example']);
    const audited = await hub.db.query<{ diff: { after: { domains: string[] } } }>(
      "select diff from audit_event where action = 'sso.office_domains_set' and tenant_id = $1",
      [hub.tenants.emea.id],
    );
    expect(audited.map((a) => a.diff.after.domains)).toEqual([['emea.example']]);
  });
});
