import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type ConsoleRoleGrant, MeridianError, principalOfRole } from '@meridian/core';
import type { FastifyInstance } from 'fastify';
import { decodeJwt, decodeProtectedHeader, importJWK, SignJWT } from 'jose';
import { runMeridian } from './cli-runner.js';
import { type HubHarness, startHub } from './harness.js';
import { listeningHub } from './oidc-harness.js';

// Issue 21 (ADR 0034): the admin console signs in at the community's OpenID Provider (code + PKCE) and calls GraphQL
// with the RFC 9068 access token it gets for the GraphQL resource; the roles granted to the office account decide
// what a request may do when it names one in Meridian-Role. The sign-in pages are plain forms: plain HTTP drives them.

const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
const ctx = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const PASSWORD = 'Correct-Horse-Battery-9';

let hub: HubHarness;
let app: FastifyInstance;
let origin: string;
let adaId: string;
let grant: ConsoleRoleGrant;

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

/** A browser's cookies, enough for the provider's: every cookie is sent back on every request to the hub. */
class Jar {
  readonly cookies = new Map<string, string>();

  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const cookie of res.headers.getSetCookie()) {
      const [pair = ''] = cookie.split(';');
      const at = pair.indexOf('=');
      const name = pair.slice(0, at);
      const value = pair.slice(at + 1);
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(cookie)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }
}

/** Follows redirects within the hub until a page answers or the browser is sent to `stopAt`; the last response and URL. */
async function follow(jar: Jar, start: string, stopAt: string, init?: RequestInit): Promise<{ res: Response; url: string }> {
  let url = start;
  let res = await jar.fetch(url, init);
  for (let hops = 0; hops < 10 && res.status >= 300 && res.status < 400; hops += 1) {
    url = new URL(res.headers.get('location') ?? '', url).href;
    if (url.startsWith(stopAt)) return { res, url };
    res = await jar.fetch(url);
  }
  return { res, url };
}

interface ConsoleSignIn {
  accessToken: string;
  idToken: string;
  /** Whether the sign-in page was shown (no earlier console sign-in in the browser's session). */
  askedPassword: boolean;
  jar: Jar;
}

/** The console's sign-in: authorization code with PKCE (S256) and the GraphQL resource (RFC 8707) on both requests. */
async function consoleSignIn(userName: string, password: string, community = 'coi', jar = new Jar()): Promise<ConsoleSignIn> {
  const issuer = `${origin}/oidc/${community}`;
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const redirectUri = `${origin}/console/callback`;
  const resource = `${origin}/graphql`;
  const state = randomBytes(8).toString('base64url');
  const query = new URLSearchParams({
    client_id: 'meridian-console',
    response_type: 'code',
    redirect_uri: redirectUri,
    scope: 'openid profile',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
    resource,
  });
  let done = await follow(jar, `${issuer}/auth?${query}`, redirectUri);
  const askedPassword = !done.url.startsWith(redirectUri);
  if (askedPassword) {
    expect(done.res.status).toBe(200);
    const html = await done.res.text();
    const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1]?.replaceAll('&#x2F;', '/').replaceAll('&amp;', '&');
    expect(action).toBeDefined();
    done = await follow(jar, new URL(action ?? '', origin).href, redirectUri, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ step: 'login', username: userName, password }).toString(),
    });
  }
  expect(done.url.startsWith(`${redirectUri}?`)).toBe(true);
  const back = new URL(done.url);
  expect(back.searchParams.get('state')).toBe(state);
  const code = back.searchParams.get('code') ?? '';
  const token = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      client_id: 'meridian-console',
      code_verifier: verifier,
      resource,
    }).toString(),
  });
  const body = (await token.json()) as { access_token: string; id_token: string; token_type: string };
  expect(token.status).toBe(200);
  return { accessToken: body.access_token, idToken: body.id_token, askedPassword, jar };
}

async function graphql(
  token: string,
  query: string,
  options: { role?: string; variables?: Record<string, unknown> } = {},
): Promise<{
  status: number;
  body: { data?: Record<string, unknown> | null; errors?: { message: string; extensions: { code: string } }[] };
}> {
  const res = await fetch(`${origin}/graphql`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      ...(options.role ? { 'meridian-role': options.role } : {}),
    },
    body: JSON.stringify({ query, variables: options.variables ?? {} }),
  });
  return { status: res.status, body: (await res.json()) as never };
}

/** A token the community's OP key signs, with claims of the test's choosing (the key is read from the store, as the hub does). */
async function forge(community: string, claims: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
  const found = await hub.runtime.adminStore.findCommunity(community);
  const jwk = JSON.parse(await hub.runtime.sso.payloads.key(found?.id ?? '', 'signing', async () => '')) as Record<string, unknown>;
  const key = await importJWK(jwk, 'RS256');
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ client_id: 'meridian-console', iat: now, exp: now + 600, ...claims })
    .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: String(jwk.kid), ...header })
    .sign(key);
}

beforeAll(async () => {
  hub = await startHub();
  ({ app, origin } = await listeningHub(hub));
  adaId = await scimUser(hub.tenants.emea.token, { userName: 'ada@emea.example', password: PASSWORD, displayName: 'Ada Lovelace' });
  await scimUser(hub.tenants.emea.token, { userName: 'bob@emea.example', password: PASSWORD });
  await scimUser(hub.tenants.apac.token, { userName: 'cy@apac.example', password: PASSWORD });
  await hub.runtime.replication.relay.drain();
  await hub.runtime.replication.projector?.drain();
  grant = await hub.runtime.consoleRoles.service.grant(
    platform,
    { tenant: 'coi/emea', user: 'ada@emea.example', role: 'office_admin' },
    ctx,
  );
  // The other community's provider has keys once it has served a request.
  expect((await fetch(`${origin}/oidc/other/jwks`)).status).toBe(200);
}, 180_000);

afterAll(async () => {
  await app?.close();
  await hub?.close();
});

describe('signing in to the console', () => {
  let signIn: ConsoleSignIn;

  beforeAll(async () => {
    signIn = await consoleSignIn('ada@emea.example', PASSWORD);
  }, 60_000);

  it('gets an RFC 9068 access token for the GraphQL resource naming the office account signed in with', async () => {
    expect(decodeProtectedHeader(signIn.accessToken)).toMatchObject({ typ: 'at+jwt', alg: 'RS256' });
    const claims = decodeJwt(signIn.accessToken);
    expect(claims).toMatchObject({
      iss: `${origin}/oidc/coi`,
      aud: `${origin}/graphql`,
      client_id: 'meridian-console',
      meridian_tenant: hub.tenants.emea.id,
      meridian_account: adaId,
    });
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(600);
  });

  it('acts as the account’s end user without Meridian-Role: viewer and me, nothing of the office', async () => {
    const viewer = await graphql(
      signIn.accessToken,
      '{ viewer { actingRole level scopes allowedActions tenant { slug } community { slug } account { userName } grants { id role level userName tenant { slug } community { slug } } } me { userName } }',
    );
    expect(viewer.body.errors).toBeUndefined();
    expect(viewer.body.data).toEqual({
      viewer: {
        actingRole: 'end_user',
        level: 'tenant',
        scopes: ['scim:me'],
        allowedActions: ['scim.discovery', 'scim.me', 'viewer.read'],
        tenant: { slug: 'emea' },
        community: { slug: 'coi' },
        account: { userName: 'ada@emea.example' },
        grants: [
          {
            id: grant.id,
            role: 'office_admin',
            level: 'tenant',
            userName: 'ada@emea.example',
            tenant: { slug: 'emea' },
            community: { slug: 'coi' },
          },
        ],
      },
      me: { userName: 'ada@emea.example' },
    });
    const office = await graphql(signIn.accessToken, '{ accounts(tenant: "emea", first: 1) { totalCount } }');
    expect(office.body.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
  });

  it('acts as a granted role with Meridian-Role, audited as the console account', async () => {
    const viewer = await graphql(signIn.accessToken, '{ viewer { actingRole level allowedActions account { userName } } }', {
      role: 'office_admin',
    });
    expect(viewer.body.data?.viewer).toMatchObject({
      actingRole: 'office_admin',
      level: 'tenant',
      account: { userName: 'ada@emea.example' },
    });
    expect((viewer.body.data as { viewer: { allowedActions: string[] } }).viewer.allowedActions).toEqual(
      expect.arrayContaining(['scim.read', 'directory.read', 'token.manage', 'hr.write']),
    );
    const accounts = await graphql(signIn.accessToken, '{ accounts(tenant: "emea", first: 1) { totalCount } }', { role: 'office_admin' });
    expect(accounts.body.errors).toBeUndefined();
    const created = await graphql(
      signIn.accessToken,
      'mutation { createAccount(tenant: "emea", input: { userName: "new@emea.example" }) { id } }',
      {
        role: 'office_admin',
      },
    );
    expect(created.body.errors).toBeUndefined();
    const id = (created.body.data as { createAccount: { id: string } }).createAccount.id;
    const [entry] = await hub.db.query<{ actor_id: string }>(
      "select actor_id from audit_event where action = 'user.created' and resource_id = $1",
      [id],
    );
    expect(entry?.actor_id).toBe(`console:${hub.tenants.emea.id}:${adaId}`);
    // The office's API tokens, never their secrets; the platform's are not the office admin's to see.
    const tokens = await graphql(signIn.accessToken, '{ tokens(tenant: "emea") { id role prefix revokedAt } }', { role: 'office_admin' });
    expect(tokens.body.errors).toBeUndefined();
    expect((tokens.body.data as { tokens: { prefix: string }[] }).tokens.length).toBeGreaterThan(0);
    const platformTokens = await graphql(signIn.accessToken, '{ tokens { id } }', { role: 'office_admin' });
    expect(platformTokens.body.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
    // Outside the role's reach: another community's tenant does not exist for it.
    const apac = await graphql(signIn.accessToken, '{ accounts(tenant: "other/apac", first: 1) { totalCount } }', { role: 'office_admin' });
    expect(apac.body.errors?.[0]?.extensions.code).toBe('NOT_FOUND');
  });

  it('refuses a role the account was not granted with 403', async () => {
    const res = await graphql(signIn.accessToken, '{ viewer { actingRole } }', { role: 'community_admin' });
    expect(res.status).toBe(403);
    expect(res.body.errors?.[0]).toMatchObject({
      message: "This account has no console role 'community_admin': its roles are office_admin.",
      extensions: { code: 'FORBIDDEN' },
    });
  });

  it('is refused at SCIM and the metrics, whatever role it names', async () => {
    for (const path of ['/scim/v2/Users', '/metrics']) {
      for (const role of [undefined, 'office_admin']) {
        const res = await fetch(`${origin}${path}`, {
          headers: { authorization: `Bearer ${signIn.accessToken}`, ...(role ? { 'meridian-role': role } : {}) },
        });
        expect([path, res.status]).toEqual([path, 401]);
      }
    }
  });

  it('stops acting as a role once its grant is revoked, at the next request', async () => {
    const bob = await hub.runtime.consoleRoles.service.grant(
      platform,
      { tenant: 'coi/emea', user: 'bob@emea.example', role: 'auditor' },
      ctx,
    );
    const bobSignIn = await consoleSignIn('bob@emea.example', PASSWORD);
    const before = await graphql(bobSignIn.accessToken, '{ viewer { actingRole } }', { role: 'auditor' });
    expect(before.body.data?.viewer).toEqual({ actingRole: 'auditor' });
    await hub.runtime.consoleRoles.service.revoke(platform, bob.id, ctx);
    const after = await graphql(bobSignIn.accessToken, '{ viewer { actingRole } }', { role: 'auditor' });
    expect(after.status).toBe(403);
    // The sign-in itself still works as the end user.
    expect((await graphql(bobSignIn.accessToken, '{ viewer { actingRole } }')).body.data?.viewer).toEqual({ actingRole: 'end_user' });
  }, 60_000);

  it('signs in again in the same browser session without the password, as the same office account', async () => {
    expect(signIn.askedPassword).toBe(true);
    const again = await consoleSignIn('ada@emea.example', 'not asked', 'coi', signIn.jar);
    expect(again.askedPassword).toBe(false);
    expect(decodeJwt(again.accessToken)).toMatchObject({ meridian_tenant: hub.tenants.emea.id, meridian_account: adaId });
    // Another browser has no such session: the password is asked.
    expect((await consoleSignIn('ada@emea.example', PASSWORD)).askedPassword).toBe(true);
  }, 60_000);

  it("signs out at the provider and comes back to the console's first page", async () => {
    const query = new URLSearchParams({
      client_id: 'meridian-console',
      post_logout_redirect_uri: `${origin}/console/`,
      id_token_hint: signIn.idToken,
    });
    const page = await signIn.jar.fetch(`${origin}/oidc/coi/session/end?${query}`);
    expect(page.status).toBe(200);
    const html = await page.text();
    const action = /<form id="op.logoutForm" method="post" action="([^"]+)"/.exec(html)?.[1] ?? '';
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
    const done = await signIn.jar.fetch(new URL(action, origin).href, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ xsrf, logout: 'yes' }).toString(),
    });
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toBe(`${origin}/console/`);
  }, 60_000);

  it('is not listed among the person’s grants, which they could withdraw', async () => {
    const mine = await graphql(signIn.accessToken, '{ me { grants { id } } }');
    expect(mine.body.errors).toBeUndefined();
    expect(mine.body.data?.me).toEqual({ grants: [] });
  });
});

describe('tokens the console API refuses', () => {
  const refused = async (token: string) => {
    const res = await graphql(token, '{ viewer { actingRole } }');
    expect({ status: res.status, code: res.body.errors?.[0]?.extensions.code }).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
  };
  const claims = () => ({
    iss: `${origin}/oidc/coi`,
    aud: `${origin}/graphql`,
    sub: 'someone',
    meridian_tenant: hub.tenants.emea.id,
    meridian_account: adaId,
  });

  it('accepts a token the community key signs with the right claims (the forging helper is sound)', async () => {
    const res = await graphql(await forge('coi', claims()), '{ viewer { actingRole } }');
    expect(res.body.data?.viewer).toEqual({ actingRole: 'end_user' });
  });

  it('refuses an expired token, a wrong audience, another client, and a missing typ', async () => {
    const past = Math.floor(Date.now() / 1000) - 3600;
    await refused(await forge('coi', { ...claims(), iat: past - 600, exp: past }));
    await refused(await forge('coi', { ...claims(), aud: `${origin}/scim/v2` }));
    await refused(await forge('coi', { ...claims(), client_id: 'someone-else' }));
    await refused(await forge('coi', claims(), { typ: 'JWT' }));
  });

  it("refuses another community's issuer for this community's account, and a token signed with another community's key", async () => {
    await refused(await forge('other', { ...claims(), iss: `${origin}/oidc/other` }));
    await refused(await forge('other', claims()));
  });

  it('refuses an ID token', async () => {
    const { idToken } = await consoleSignIn('ada@emea.example', PASSWORD);
    await refused(idToken);
  }, 60_000);

  it("refuses a relying party's access token, and never gives a relying party the GraphQL resource", async () => {
    const made = await hub.runtime.relyingParties.create(
      platform,
      { community: 'coi', name: 'Wiki', redirectUris: [`${origin}/wiki/cb`], claims: 'name', clientCredentials: true },
      ctx,
    );
    const basic = `Basic ${Buffer.from(`${made.relyingParty.clientId}:${made.clientSecret ?? ''}`).toString('base64')}`;
    const ask = (extra: Record<string, string>) =>
      fetch(`${origin}/oidc/coi/token`, {
        method: 'POST',
        headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', ...extra }).toString(),
      });
    const withResource = await ask({ resource: `${origin}/graphql` });
    expect(withResource.status).toBe(400);
    expect(await withResource.json()).toMatchObject({ error: 'invalid_target' });
    const plain = await ask({});
    expect(plain.status).toBe(200);
    await refused(((await plain.json()) as { access_token: string }).access_token);
  });

  it('refuses the token of a suspended account', async () => {
    const cyGrant = await hub.runtime.consoleRoles.service.grant(
      platform,
      { tenant: 'other/apac', user: 'cy@apac.example', role: 'office_admin' },
      ctx,
    );
    const cy = await consoleSignIn('cy@apac.example', PASSWORD, 'other');
    expect((await graphql(cy.accessToken, '{ viewer { actingRole } }', { role: 'office_admin' })).body.data?.viewer).toEqual({
      actingRole: 'office_admin',
    });
    const patched = await fetch(`${origin}/scim/v2/Users/${cyGrant.userId}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${hub.tenants.apac.token}`, 'content-type': 'application/scim+json' },
      body: JSON.stringify({
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'replace', path: 'active', value: false }],
      }),
    });
    expect(patched.status).toBe(200);
    await refused(cy.accessToken);
  }, 60_000);

  it('records the refusals like every other authentication failure', async () => {
    const res = await graphql(hub.adminToken, '{ auditEvents(action: "auth.failed", first: 500) { edges { node { tenantId diff } } } }');
    expect(res.body.errors).toBeUndefined();
    const details = (
      res.body.data as { auditEvents: { edges: { node: { diff: { after: { detail?: string } } } }[] } }
    ).auditEvents.edges.map((e) => e.node.diff.after.detail);
    expect(details).toEqual(
      expect.arrayContaining([
        'CONSOLE_EXPIRED',
        'CONSOLE_INVALID_CLAIMS',
        'CONSOLE_BAD_SIGNATURE',
        'CONSOLE_UNKNOWN_TENANT',
        'UNKNOWN_ISSUER',
      ]),
    );
  });
});

describe('who may grant console roles', () => {
  const officeAdmin = () => principalOfRole('office_admin', { tenantId: hub.tenants.emea.id });
  const code = async (work: Promise<unknown>) => {
    try {
      await work;
      return 'granted';
    } catch (error) {
      if (error instanceof MeridianError) return error.code;
      throw error;
    }
  };

  it('lets an office admin grant tenant roles it holds in its tenant, nothing above it, nothing elsewhere', async () => {
    const service = hub.runtime.consoleRoles.service;
    const values = (role: string, tenant = 'emea') => ({ tenant, user: 'bob@emea.example', role });
    expect(await code(service.grant(officeAdmin(), values('community_admin'), ctx))).toBe('FORBIDDEN');
    expect(await code(service.grant(officeAdmin(), values('platform_admin'), ctx))).toBe('FORBIDDEN');
    expect(await code(service.grant(officeAdmin(), values('hr_reader'), ctx))).toBe('FORBIDDEN');
    expect(await code(service.grant(officeAdmin(), { tenant: 'other/apac', user: 'cy@apac.example', role: 'office_admin' }, ctx))).toBe(
      'NOT_FOUND',
    );
    expect(await code(service.grant(officeAdmin(), values('provisioner'), ctx))).toBe('INVALID_INPUT');
    expect(await code(service.grant(officeAdmin(), { tenant: 'emea', user: 'nobody@emea.example', role: 'office_admin' }, ctx))).toBe(
      'NOT_FOUND',
    );
    const made = await service.grant(officeAdmin(), values('office_admin'), { ...ctx, actor: { type: 'token', id: 'office-token' } });
    expect(await code(service.grant(officeAdmin(), values('office_admin'), ctx))).toBe('CONFLICT');
    expect((await service.list(officeAdmin(), {})).map((g) => [g.userName, g.role])).toEqual(
      expect.arrayContaining([['bob@emea.example', 'office_admin']]),
    );
    await service.revoke(officeAdmin(), made.id, { ...ctx, actor: { type: 'token', id: 'office-token' } });
    const audit = await hub.db.query<{ action: string; chain: string; actor_id: string; diff: unknown }>(
      'select action, chain, actor_id, diff from audit_event where resource_id = $1 order by seq',
      [made.id],
    );
    expect(audit).toEqual([
      {
        action: 'console.role_granted',
        chain: hub.tenants.emea.id,
        actor_id: 'office-token',
        diff: { before: null, after: { userId: made.userId, userName: 'bob@emea.example', role: 'office_admin', level: 'tenant' } },
      },
      {
        action: 'console.role_revoked',
        chain: hub.tenants.emea.id,
        actor_id: 'office-token',
        diff: { before: { userId: made.userId, userName: 'bob@emea.example', role: 'office_admin', level: 'tenant' }, after: null },
      },
    ]);
  });

  it('lets a community admin grant community and tenant roles in its community, not platform_admin, nothing in another', async () => {
    const service = hub.runtime.consoleRoles.service;
    const coi = await hub.runtime.adminStore.findCommunity('coi');
    const communityAdmin = principalOfRole('community_admin', { communityId: coi?.id ?? '' });
    expect(await code(service.grant(communityAdmin, { tenant: 'emea', user: 'bob@emea.example', role: 'platform_admin' }, ctx))).toBe(
      'FORBIDDEN',
    );
    expect(await code(service.grant(communityAdmin, { tenant: 'other/apac', user: 'cy@apac.example', role: 'auditor' }, ctx))).toBe(
      'NOT_FOUND',
    );
    const made = await service.grant(communityAdmin, { tenant: 'emea', user: 'bob@emea.example', role: 'hr_reader' }, ctx);
    expect(made).toMatchObject({ role: 'hr_reader', level: 'community', communityId: coi?.id });
    // An office admin cannot take away what it could not have given.
    expect(await code(service.revoke(officeAdmin(), made.id, ctx))).toBe('FORBIDDEN');
    expect(await code(service.list(officeAdmin(), { community: 'coi' }))).toBe('NOT_FOUND');
    await service.revoke(communityAdmin, made.id, ctx);
  });
});

describe('meridian console', () => {
  const cli = (args: string[]) => runMeridian({ DATABASE_URL: hub.db.url, MERIDIAN_ADMIN_TOKEN: hub.adminToken }, ['console', ...args]);

  it('grants, lists and revokes console roles as the platform admin, audited as the CLI', async () => {
    const granted = await cli(['grant', '--tenant', 'coi/emea', '--user', 'bob@emea.example', '--role', 'community_admin', '--json']);
    expect(granted).toMatchObject({ code: 0, stderr: '' });
    const grant = JSON.parse(granted.stdout) as { id: string; role: string; level: string; userName: string };
    expect(grant).toMatchObject({ role: 'community_admin', level: 'community', userName: 'bob@emea.example' });
    const listed = await cli(['list', '--tenant', 'coi/emea']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(`${grant.id}\tcommunity_admin\tcommunity\tbob@emea.example\t`);
    const again = await cli(['grant', '--tenant', 'coi/emea', '--user', 'bob@emea.example', '--role', 'community_admin']);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain("already has the console role 'community_admin'");
    const wrong = await cli(['grant', '--tenant', 'coi/emea', '--user', 'bob@emea.example', '--role', 'provisioner']);
    expect(wrong.stderr).toContain("The role 'provisioner' cannot be granted for the console.");
    const revoked = await cli(['revoke', grant.id]);
    expect(revoked).toMatchObject({ code: 0, stdout: `Revoked community_admin of bob@emea.example (grant ${grant.id}).\n` });
    const [entry] = await hub.db.query<{ actor_type: string }>(
      "select actor_type from audit_event where resource_id = $1 and action = 'console.role_revoked'",
      [grant.id],
    );
    expect(entry?.actor_type).toBe('cli');
  }, 60_000);
});
