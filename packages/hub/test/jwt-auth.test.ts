import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SCHEMA, type TrustedIssuer } from '@meridian/core';
import { type Json, scimClient } from '@meridian/test-utils/apps';
import { base64url, type CryptoKey, exportJWK, exportSPKI, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { createJwtAuthenticator } from '../src/auth/jwt-authenticator.js';
import { openTrustedIssuers } from '../src/auth/trusted-issuers.js';
import { createAuthenticator } from '../src/http/authenticator.js';
import { type HubHarness, startHub } from './harness.js';

// Issue 4: OAuth 2.0 JWT bearer tokens (RFC 6750, RFC 7519) from issuers trusted per tenant or community, verified
// against a real JWKS served over HTTP; every refusal is a bare 401 that says nothing about why.

let hub: HubHarness;
let jwks: Server;
let base: string;
const scim = scimClient(() => hub.app);
const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
const ctx = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const AUDIENCE = 'https://hub.test';
const keys = {} as Record<'rs' | 'es' | 'stranger', { privateKey: CryptoKey; publicKey: CryptoKey }>;
const issuers = {} as Record<'emea' | 'strict' | 'coi', TrustedIssuer>;
let jwksRequests = 0;

beforeAll(async () => {
  keys.rs = await generateKeyPair('RS256', { extractable: true });
  keys.es = await generateKeyPair('ES256', { extractable: true });
  keys.stranger = await generateKeyPair('RS256', { extractable: true });
  const published = {
    keys: [
      { ...(await exportJWK(keys.rs.publicKey)), kid: 'rs1', alg: 'RS256', use: 'sig' },
      { ...(await exportJWK(keys.es.publicKey)), kid: 'es1', alg: 'ES256', use: 'sig' },
    ],
  };
  jwks = createServer((request, response) => {
    jwksRequests++;
    if (request.url !== '/jwks') return response.writeHead(404).end();
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(published));
  });
  await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}`;

  // The JWKS server runs on this machine: the outbound request policy must be told to open it (plain http too).
  hub = await startHub({ env: { MERIDIAN_OUTBOUND_ALLOW: '127.0.0.1' } });
  const created = await scim('POST', '/Users', { token: hub.tenants.emea.token, body: { userName: 'ada@emea', nickName: 'Ada' } });
  expect(created.status).toBe(201);
  const service = openTrustedIssuers(hub.runtime).service;
  issuers.emea = await service.add(
    platform,
    {
      tenant: 'emea',
      issuer: `${base}/emea`,
      audience: AUDIENCE,
      jwksUri: `${base}/jwks`,
      roleMap: 'scim-client=provisioner,employee=end_user,office=office_admin',
    },
    ctx,
  );
  issuers.strict = await service.add(
    platform,
    {
      tenant: 'emea',
      issuer: `${base}/emea`,
      audience: 'strict',
      jwksUri: `${base}/jwks`,
      algorithms: 'ES256',
      roleMap: 'scim-client=provisioner',
    },
    ctx,
  );
  issuers.coi = await service.add(
    platform,
    {
      community: 'coi',
      issuer: `${base}/coi`,
      audience: AUDIENCE,
      jwksUri: `${base}/jwks`,
      rolesClaim: 'realm_access.roles',
      tenantClaim: 'office',
      roleMap: 'hr=hr_reader,prov=provisioner',
    },
    ctx,
  );
});
afterAll(async () => {
  await hub.close();
  await new Promise((resolve) => jwks.close(resolve));
});

interface SignOptions {
  alg?: string;
  kid?: string;
  key?: CryptoKey | Uint8Array;
  iss?: string;
  aud?: string;
  /** Seconds from now. */
  exp?: number | null;
  nbf?: number;
}

/** Signs a JWT as the emea IdP would, with overrides. */
async function sign(claims: JWTPayload, options: SignOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ sub: 'client-1', roles: ['scim-client'], ...claims })
    .setProtectedHeader({ alg: options.alg ?? 'RS256', kid: options.kid ?? 'rs1', typ: 'at+jwt' })
    .setIssuer(options.iss ?? `${base}/emea`)
    .setAudience(options.aud ?? AUDIENCE)
    .setIssuedAt(now);
  if (options.exp !== null) jwt.setExpirationTime(now + (options.exp ?? 300));
  if (options.nbf !== undefined) jwt.setNotBefore(now + options.nbf);
  return jwt.sign(options.key ?? keys.rs.privateKey);
}

async function gql(token: string, query: string) {
  const res = await hub.app.inject({
    method: 'POST',
    url: '/graphql',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    payload: JSON.stringify({ query }),
  });
  return {
    status: res.statusCode,
    headers: res.headers,
    body: JSON.parse(res.body) as { data?: Json; errors?: { message: string; extensions: Json }[] },
  };
}

/** A token signed with a header and payload of our choosing, e.g. `alg: none`. */
function forge(header: Json, payload: Json, signature = ''): string {
  const part = (value: Json) => base64url.encode(JSON.stringify(value));
  return `${part(header)}.${part(payload)}.${signature}`;
}

const claimsNow = () => {
  const now = Math.floor(Date.now() / 1000);
  return { iss: `${base}/emea`, aud: AUDIENCE, sub: 'client-1', roles: ['scim-client'], iat: now, exp: now + 300 };
};

/** Every way a token can be wrong, and the reason the hub logs (never sends). */
const REFUSALS: [string, () => Promise<string>, string][] = [
  ['a wrong audience', () => sign({}, { aud: 'https://other.example' }), 'AUDIENCE_MISMATCH'],
  ['an unknown issuer', () => sign({}, { iss: `${base}/elsewhere` }), 'UNKNOWN_ISSUER'],
  ['an expired token', () => sign({}, { exp: -300 }), 'EXPIRED'],
  ['a token not yet valid', () => sign({}, { nbf: 300 }), 'NOT_YET_VALID'],
  ['a token without exp', () => sign({}, { exp: null }), 'INVALID_CLAIMS'],
  ['an algorithm the issuer does not allow', () => sign({}, { aud: 'strict' }), 'ALGORITHM_NOT_ALLOWED'],
  ['alg: none without a signature', async () => forge({ alg: 'none', typ: 'JWT' }, claimsNow()), 'MALFORMED'],
  ['alg: none with a signature', async () => forge({ alg: 'none', typ: 'JWT' }, claimsNow(), 'AAAA'), 'ALGORITHM_NOT_ALLOWED'],
  [
    'HS256 with the public key as the secret',
    async () => sign({}, { alg: 'HS256', key: new TextEncoder().encode(await exportSPKI(keys.rs.publicKey)) }),
    'ALGORITHM_NOT_ALLOWED',
  ],
  ['an unknown kid', () => sign({}, { kid: 'nope', key: keys.stranger.privateKey }), 'UNKNOWN_KEY'],
  ['a known kid and a key that is not it', () => sign({}, { key: keys.stranger.privateKey }), 'BAD_SIGNATURE'],
  [
    'a tampered payload',
    async () => {
      const [header, , signature] = (await sign({})).split('.');
      return `${header}.${base64url.encode(JSON.stringify({ ...claimsNow(), roles: ['office'] }))}.${signature}`;
    },
    'BAD_SIGNATURE',
  ],
  ['no mapped role', () => sign({ roles: ['visitor'] }), 'NO_ROLE'],
  ['an end user with no User', () => sign({ roles: ['employee'], sub: 'ghost@emea' }), 'UNKNOWN_USER'],
  [
    "a community issuer's tenant of another community",
    () => sign({ realm_access: { roles: ['prov'] }, office: 'apac' }, { iss: `${base}/coi` }),
    'UNKNOWN_TENANT',
  ],
  [
    "a community issuer's unknown tenant",
    () => sign({ realm_access: { roles: ['prov'] }, office: 'nowhere' }, { iss: `${base}/coi` }),
    'UNKNOWN_TENANT',
  ],
];

describe('a valid JWT', () => {
  it('acts with its mapped role in its tenant, and is audited as the JWT subject', async () => {
    const token = await sign({ sub: 'entra-provisioning' });
    expect((await scim('GET', '/Users', { token })).status).toBe(200);
    const created = await scim('POST', '/Users', { token, body: { userName: 'from-jwt@emea' } });
    expect(created.status).toBe(201);
    const [audit] = await hub.db.query<{ actor_id: string }>(
      "select actor_id from audit_event where resource_id = $1 and action = 'user.created'",
      [created.body.id],
    );
    expect(audit?.actor_id).toBe(`jwt:${issuers.emea.id}:entra-provisioning`);
    // provisioner: no /Me, no GraphQL.
    expect((await scim('GET', '/Me', { token })).status).toBe(403);
    expect((await gql(token, '{ tenants { totalCount } }')).body.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
  });

  it('accepts ES256 and a roles claim given as a space-separated string', async () => {
    const token = await sign({ roles: 'visitor scim-client' }, { alg: 'ES256', kid: 'es1', key: keys.es.privateKey });
    expect((await scim('GET', '/Users', { token })).status).toBe(200);
  });

  it('binds end_user to the User named by sub, and to /Me only', async () => {
    const token = await sign({ roles: ['employee'], sub: 'ADA@emea' });
    const me = await scim('GET', '/Me', { token });
    expect(me.status).toBe(200);
    expect(me.body.userName).toBe('ada@emea');
    expect((await scim('GET', '/Users', { token })).status).toBe(403);
  });

  it("gives an office admin GraphQL on its tenant but not another's", async () => {
    const token = await sign({ roles: ['office'] });
    const own = await gql(token, '{ tenant(slug: "emea") { users { totalCount } } }');
    expect(own.body.errors).toBeUndefined();
    expect((await gql(token, '{ tenant(slug: "apac") { id } }')).body.errors?.[0]?.extensions.code).toBe('NOT_FOUND');
  });

  it("from a community issuer, reads its community's tenants as hr_reader and nothing else", async () => {
    const token = await sign({ realm_access: { roles: ['hr'] } }, { iss: `${base}/coi` });
    const users = await gql(token, '{ tenant(slug: "emea") { users { totalCount } } }');
    expect(users.body.errors).toBeUndefined();
    expect(users.body.data).toEqual({ tenant: { users: { totalCount: expect.any(Number) } } });
    expect((await gql(token, '{ tenant(slug: "apac") { id } }')).body.errors?.[0]?.extensions.code).toBe('NOT_FOUND');
    expect(
      (await gql(token, 'mutation { createTenant(slug: "x", name: "X", community: "coi") { id } }')).body.errors?.[0]?.extensions.code,
    ).toBe('FORBIDDEN');
    // A community token on SCIM: 403, SCIM works inside one tenant.
    expect((await scim('GET', '/Users', { token })).status).toBe(403);
  });

  it('from a community issuer with a tenant claim, acts in that tenant with its tenant roles', async () => {
    const token = await sign({ realm_access: { roles: ['prov', 'hr'] }, office: 'emea' }, { iss: `${base}/coi` });
    expect((await scim('GET', '/Users', { token })).status).toBe(200);
    // hr_reader is a community role: with a tenant claim the token acts in the tenant, as a provisioner only.
    expect((await gql(token, '{ tenants { totalCount } }')).body.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
  });
});

describe('a refused JWT', () => {
  it.each(REFUSALS)('%s answers 401 with WWW-Authenticate and no detail, in SCIM and GraphQL', async (_name, make) => {
    const token = await make();
    const res = await scim('GET', '/Users', { token });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="meridian", error="invalid_token"');
    expect(res.body).toEqual({ schemas: [SCHEMA.error], status: '401', detail: 'Invalid token.' });
    const graphql = await gql(token, '{ tenants { totalCount } }');
    expect(graphql.status).toBe(401);
    expect(graphql.headers['www-authenticate']).toBe('Bearer realm="meridian", error="invalid_token"');
    expect(graphql.body).toEqual({ errors: [{ message: 'Invalid token.', extensions: { code: 'UNAUTHENTICATED' } }] });
  });

  it.each(REFUSALS)('%s is logged with its reason at debug level, never with the token', async (_name, make, reason) => {
    const token = await make();
    const entries: { level: string; details: Record<string, unknown>; message: string }[] = [];
    const log = {
      debug: (details: Record<string, unknown>, message: string) => entries.push({ level: 'debug', details, message }),
      warn: (details: Record<string, unknown>, message: string) => entries.push({ level: 'warn', details, message }),
    };
    const authenticate = createAuthenticator(hub.runtime.adminStore, undefined, openTrustedIssuers(hub.runtime).verifyJwt);
    expect(await authenticate(`Bearer ${token}`, log)).toBeUndefined();
    expect(entries).toEqual([{ level: 'debug', details: expect.objectContaining({ reason }), message: expect.any(String) }]);
    const logged = JSON.stringify(entries);
    for (const part of token.split('.').filter((p) => p.length > 8)) expect(logged).not.toContain(part);
  });

  it('GraphQL without a token answers 401 with a bare challenge', async () => {
    const res = await hub.app.inject({
      method: 'POST',
      url: '/graphql',
      headers: { 'content-type': 'application/json' },
      payload: '{"query":"{ tenants { totalCount } }"}',
    });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="meridian"');
  });
});

describe('issuer lookups and keys', () => {
  it('fetches the JWKS once and reuses it', async () => {
    const before = jwksRequests;
    for (let i = 0; i < 3; i++) expect((await scim('GET', '/Users', { token: await sign({}) })).status).toBe(200);
    expect(jwksRequests - before).toBe(0);
  });

  it('stops accepting an issuer once it is removed and the lookup cache expires', async () => {
    const service = openTrustedIssuers(hub.runtime).service;
    const temporary = await service.add(
      platform,
      { tenant: 'emea', issuer: `${base}/temporary`, audience: AUDIENCE, jwksUri: `${base}/jwks`, roleMap: 'scim-client=provisioner' },
      ctx,
    );
    const verify = createJwtAuthenticator({
      issuers: new (await import('@meridian/store')).PostgresIssuerStore(hub.runtime.orm, { now: () => new Date() }),
      tenants: hub.runtime.adminStore,
      issuerCacheMs: 0,
      fetch: hub.runtime.outbound.fetchFor({ httpsOnly: true }),
    });
    const token = await sign({}, { iss: `${base}/temporary` });
    expect(await verify(token)).toMatchObject({
      ok: true,
      principal: { kind: 'tenant', tenantId: hub.tenants.emea.id, scopes: ['scim:read', 'scim:write'] },
    });
    await service.remove(platform, temporary.id, ctx);
    expect(await verify(token)).toEqual({ ok: false, reason: 'UNKNOWN_ISSUER' });
    const audit = await hub.db.query<{ action: string }>(
      "select action from audit_event where resource_type = 'Issuer' and resource_id = $1 order by seq",
      [temporary.id],
    );
    expect(audit.map((a) => a.action)).toEqual(['issuer.created', 'issuer.deleted']);
  });
});
