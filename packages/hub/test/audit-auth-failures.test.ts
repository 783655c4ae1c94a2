import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SCHEMA } from '@meridian/core';
import { gql, type Json, patchOp, scimClient } from '@meridian/test-utils/apps';
import { type CryptoKey, exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { openTrustedIssuers } from '../src/auth/trusted-issuers.js';
import { loadConfig } from '../src/config/config.js';
import { buildApp } from '../src/http/app.js';
import { type HubHarness, startHub } from './harness.js';

// Issue 12: every refused credential is audited as `auth.failed` (docs/audit.md), counted per minute and per
// (chain, source address, token prefix, reason) so that a flood cannot flood the chain, written off the request
// path, and never with the token. Credentials that provably belong to a tenant (its revoked, expired or
// suspended user's token; a JWT its issuer signed) go to the tenant's chain, everything else to the platform's.
// Tokens of suspended or deleted users stop working at once, whatever kind of token they are.

let hub: HubHarness;
let jwks: Server;
let base: string;
const scim = scimClient(() => hub.app);
const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
const ctx = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const AUDIENCE = 'https://hub.test';
const keys = {} as Record<'idp' | 'stranger', { privateKey: CryptoKey; publicKey: CryptoKey }>;
const tokens = {} as Record<'revoked' | 'expired' | 'suspended' | 'deleted' | 'active' | 'auditor', string>;
const ids = {} as Record<'revoked' | 'expired' | 'suspended' | 'issuer' | 'bob' | 'dora', string>;

async function createUser(userName: string): Promise<string> {
  const res = await scim('POST', '/Users', { token: hub.tenants.emea.token, body: { userName } });
  expect(res.status).toBe(201);
  return res.body.id as string;
}

async function endUserToken(user: string): Promise<{ token: string; id: string }> {
  const issued = await hub.runtime.admin.issueToken(platform, { tenant: 'emea', role: 'end_user', user }, ctx);
  return { token: issued.token, id: issued.record.id };
}

beforeAll(async () => {
  keys.idp = await generateKeyPair('RS256', { extractable: true });
  keys.stranger = await generateKeyPair('RS256', { extractable: true });
  const published = { keys: [{ ...(await exportJWK(keys.idp.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }] };
  jwks = createServer((_request, response) =>
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(published)),
  );
  await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}`;

  // The per-address limit would answer 429 before the flood below reaches the authenticator.
  hub = await startHub({ env: { MERIDIAN_OUTBOUND_ALLOW: '127.0.0.1', MERIDIAN_RATE_LIMIT_PER_IP: '0' } });
  await createUser('ada@emea');
  ids.bob = await createUser('bob@emea');
  await createUser('carl@emea');
  ids.dora = await createUser('dora@emea');

  const revoked = await hub.runtime.admin.issueToken(platform, { tenant: 'emea', role: 'provisioner' }, ctx);
  await hub.runtime.admin.revokeToken(platform, revoked.record.id, ctx);
  tokens.revoked = revoked.token;
  ids.revoked = revoked.record.id;
  const expired = await hub.runtime.admin.issueToken(platform, { tenant: 'emea', role: 'provisioner', expiresInDays: 1 }, ctx);
  // Time passes: the token's day is over.
  await hub.db.query(`update api_token set expires_at = now() - interval '1 hour' where id = $1`, [expired.record.id]);
  tokens.expired = expired.token;
  ids.expired = expired.record.id;
  tokens.active = (await endUserToken('ada@emea')).token;
  const suspended = await endUserToken('bob@emea');
  tokens.suspended = suspended.token;
  ids.suspended = suspended.id;
  tokens.deleted = (await endUserToken('carl@emea')).token;
  tokens.auditor = (await hub.runtime.admin.issueToken(platform, { tenant: 'emea', role: 'auditor' }, ctx)).token;

  ids.issuer = (
    await openTrustedIssuers(hub.runtime).service.add(
      platform,
      {
        tenant: 'emea',
        issuer: `${base}/emea`,
        audience: AUDIENCE,
        jwksUri: `${base}/jwks`,
        roleMap: 'scim=provisioner,employee=end_user',
      },
      ctx,
    )
  ).id;
});
afterAll(async () => {
  await hub.close();
  await new Promise((resolve) => jwks.close(resolve));
});

/** A JWT as the emea IdP signs it, with overrides. */
async function jwt(claims: JWTPayload = {}, options: { key?: CryptoKey; iss?: string; exp?: number } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sub: 'client-1', roles: ['scim'], ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .setIssuer(options.iss ?? `${base}/emea`)
    .setAudience(AUDIENCE)
    .setIssuedAt(now - 7200)
    .setExpirationTime(now + (options.exp ?? 300))
    .sign(options.key ?? keys.idp.privateKey);
}

interface FailureEntry {
  chain: string;
  tenantId: string | null;
  actorType: string;
  actorId: string;
  action: string;
  resourceType: string;
  resourceId: string;
  requestId: string;
  sourceAddress: string | null;
  diff: { before: null; after: { reason: string; count: number; prefix?: string; detail?: string; firstAt: string; lastAt: string } };
}

const FAILURES = `query ($tenant: String, $after: String) {
  auditEvents(tenant: $tenant, action: "auth.failed", first: 500, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { node { chain tenantId actorType actorId action resourceType resourceId requestId sourceAddress diff } }
  }
}`;

/** Every auth.failed entry of a chain, read back through GraphQL with a token that may read it. */
async function failures(token: string, tenant?: string): Promise<FailureEntry[]> {
  const entries: FailureEntry[] = [];
  let after: string | null = null;
  for (;;) {
    const res = await gql(hub.app, token, FAILURES, { tenant, after });
    expect(res.body.errors).toBeUndefined();
    const page = res.body.data?.auditEvents as { pageInfo: { hasNextPage: boolean; endCursor: string }; edges: { node: FailureEntry }[] };
    entries.push(...page.edges.map((e) => e.node));
    if (!page.pageInfo.hasNextPage) return entries;
    after = page.pageInfo.endCursor;
  }
}

/**
 * The failures counted for one (reason, detail, prefix, source), over every entry: a run that crosses a minute
 * boundary splits the count over two entries, and no assertion here depends on the clock.
 */
function counted(entries: FailureEntry[], match: Partial<{ reason: string; detail: string; prefix: string; source: string }>): number {
  return entries
    .filter(
      (e) =>
        (match.reason === undefined || e.diff.after.reason === match.reason) &&
        (match.detail === undefined || e.diff.after.detail === match.detail) &&
        (match.prefix === undefined || e.diff.after.prefix === match.prefix) &&
        (match.source === undefined || e.sourceAddress === match.source),
    )
    .reduce((sum, e) => sum + e.diff.after.count, 0);
}

describe('authentication failures over SCIM and GraphQL', () => {
  let platformChain: FailureEntry[];
  let emeaChain: FailureEntry[];
  const sent: string[] = [];

  beforeAll(async () => {
    const bad = {
      missing: undefined,
      malformed: 'Basic YWRhOnNlY3JldC1wYXNzd29yZA==',
      unknown: `mrd_${'Z'.repeat(43)}`,
      revoked: tokens.revoked,
      expired: tokens.expired,
      unknownIssuer: await jwt({}, { iss: 'https://idp.nowhere.example' }),
      badSignature: await jwt({}, { key: keys.stranger.privateKey }),
      expiredJwt: await jwt({}, { exp: -3600 }),
    };
    sent.push(...Object.values(bad).filter((t): t is string => t !== undefined));
    for (const [name, token] of Object.entries(bad)) {
      // Three times over SCIM, twice over GraphQL: one count each.
      for (let i = 0; i < 3; i++) {
        const headers: Record<string, string> = name === 'malformed' ? { authorization: token as string } : {};
        const res = await scim('GET', '/Users', { ...(name === 'malformed' || token === undefined ? {} : { token }), headers });
        expect([name, res.status]).toEqual([name, 401]);
      }
      for (let i = 0; i < 2; i++) {
        const res =
          name === 'malformed'
            ? await hub.app.inject({
                method: 'POST',
                url: '/graphql',
                headers: { 'content-type': 'application/json', authorization: token as string },
                payload: '{"query":"{ tenants { totalCount } }"}',
              })
            : await gql(hub.app, token, '{ tenants { totalCount } }').then((r) => ({ statusCode: r.status }));
        expect([name, res.statusCode]).toEqual([name, 401]);
      }
    }
    // Reading the audit log writes what this process counted so far: no waiting for the minute to end.
    platformChain = await failures(hub.adminToken);
    emeaChain = await failures(tokens.auditor);
  });

  it('records each kind of refusal with its reason and count, 5 per kind (3 SCIM + 2 GraphQL)', () => {
    expect(counted(platformChain, { reason: 'missing_token', detail: 'MISSING' })).toBe(5);
    expect(counted(platformChain, { reason: 'malformed_token', detail: 'MALFORMED' })).toBe(5);
    expect(counted(platformChain, { reason: 'invalid_token', detail: 'UNKNOWN_TOKEN', prefix: 'mrd_ZZZZ' })).toBe(5);
    expect(counted(platformChain, { reason: 'invalid_token', detail: 'UNKNOWN_ISSUER' })).toBe(5);
    expect(counted(platformChain, { reason: 'invalid_token', detail: 'BAD_SIGNATURE' })).toBe(5);
    // The tenant's own credentials: its chain, with the token or issuer they were.
    expect(counted(emeaChain, { reason: 'revoked_token', detail: 'REVOKED', prefix: tokens.revoked.slice(0, 8) })).toBe(5);
    expect(counted(emeaChain, { reason: 'expired_token', detail: 'EXPIRED', prefix: tokens.expired.slice(0, 8) })).toBe(5);
    expect(counted(emeaChain, { reason: 'expired_token', detail: 'EXPIRED', prefix: 'eyJhbGci' })).toBe(5);
    // Nothing of one chain's failures is in the other.
    expect(counted(platformChain, { reason: 'revoked_token' }) + counted(platformChain, { reason: 'expired_token' })).toBe(0);
    expect(counted(emeaChain, { reason: 'invalid_token' }) + counted(emeaChain, { reason: 'missing_token' })).toBe(0);
  });

  it('writes one entry per (minute, source, prefix, reason), not one per request', () => {
    // 40 refusals of 8 kinds: at most two minutes' worth of entries each, never 40.
    expect(platformChain.length).toBeLessThanOrEqual(2 * 5);
    expect(emeaChain.length).toBeLessThanOrEqual(2 * 3);
  });

  it('gives every entry the fields an auditor needs, and never the token', () => {
    const revoked = emeaChain.find((e) => e.diff.after.reason === 'revoked_token') as FailureEntry;
    expect(revoked).toMatchObject({
      chain: hub.tenants.emea.id,
      tenantId: hub.tenants.emea.id,
      actorType: 'anonymous',
      actorId: `prefix:${tokens.revoked.slice(0, 8)}`,
      action: 'auth.failed',
      resourceType: 'Token',
      resourceId: ids.revoked,
      sourceAddress: '127.0.0.1',
      diff: { before: null, after: { reason: 'revoked_token', prefix: tokens.revoked.slice(0, 8), detail: 'REVOKED' } },
    });
    expect(revoked.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(Date.parse(revoked.diff.after.lastAt)).toBeGreaterThanOrEqual(Date.parse(revoked.diff.after.firstAt));
    const jwtExpired = emeaChain.find((e) => e.resourceType === 'Issuer') as FailureEntry;
    expect(jwtExpired).toMatchObject({ resourceId: ids.issuer, diff: { after: { reason: 'expired_token', detail: 'EXPIRED' } } });
    const missing = platformChain.find((e) => e.diff.after.reason === 'missing_token') as FailureEntry;
    expect(missing).toMatchObject({ chain: '', tenantId: null, actorId: 'anonymous', resourceType: 'Token', resourceId: '' });
    expect(missing.diff.after.prefix).toBeUndefined();
    // Not a bearer token (Basic credentials): nothing of it is kept.
    expect(platformChain.find((e) => e.diff.after.reason === 'malformed_token')?.diff.after.prefix).toBeUndefined();
    const everything = JSON.stringify([platformChain, emeaChain]);
    for (const token of sent) expect(everything).not.toContain(token.slice(0, 12));
    expect(everything).not.toContain('YWRhOnNl');
  });

  it('keeps both chains verifiable', async () => {
    for (const [token, tenant] of [
      [hub.adminToken, undefined],
      [tokens.auditor, 'emea'],
    ] as const) {
      const res = await gql(hub.app, token, 'query ($t: String) { auditVerification(tenant: $t) { ok breaks { message } } }', {
        t: tenant,
      });
      expect(res.body.data?.auditVerification).toEqual({ ok: true, breaks: [] });
    }
  });
});

describe('a flood of bad tokens', () => {
  it('becomes a few counted entries per source address and prefix, with every failure counted', async () => {
    const flood = `mrd_Flood${'x'.repeat(39)}`;
    for (const remoteAddress of ['198.51.100.7', '198.51.100.8']) {
      for (let i = 0; i < 150; i++) {
        const res = await hub.app.inject({
          method: 'GET',
          url: '/scim/v2/Users',
          headers: { authorization: `Bearer ${flood}` },
          remoteAddress,
        });
        expect(res.statusCode).toBe(401);
      }
    }
    const entries = (await failures(hub.adminToken)).filter((e) => e.diff.after.prefix === 'mrd_Floo');
    expect(counted(entries, { source: '198.51.100.7' })).toBe(150);
    expect(counted(entries, { source: '198.51.100.8' })).toBe(150);
    expect(entries.length).toBeLessThanOrEqual(4);
  });
});

describe('tokens of suspended and deleted users', () => {
  it('works for an active user, and stops at once when the user is suspended, for SCIM /Me and GraphQL me', async () => {
    expect((await scim('GET', '/Me', { token: tokens.active })).status).toBe(200);
    expect((await scim('GET', '/Me', { token: tokens.suspended })).status).toBe(200);
    const suspend = await scim('PATCH', `/Users/${ids.bob}`, {
      token: hub.tenants.emea.token,
      body: patchOp({ op: 'replace', path: 'active', value: false }),
    });
    expect(suspend.status).toBe(200);

    const me = await scim('GET', '/Me', { token: tokens.suspended });
    expect(me.status).toBe(401);
    expect(me.headers['www-authenticate']).toBe('Bearer realm="meridian", error="invalid_token"');
    expect(me.body).toEqual({ schemas: [SCHEMA.error], status: '401', detail: 'Invalid token.' });
    const graphql = await gql(hub.app, tokens.suspended, '{ me { userName } }');
    expect(graphql.status).toBe(401);
    expect(graphql.body).toEqual({ errors: [{ message: 'Invalid token.', extensions: { code: 'UNAUTHENTICATED' } }] });

    // Restored, the same token works again: it was refused for its user, not revoked.
    await scim('PATCH', `/Users/${ids.bob}`, {
      token: hub.tenants.emea.token,
      body: patchOp({ op: 'replace', path: 'active', value: true }),
    });
    expect((await scim('GET', '/Me', { token: tokens.suspended })).status).toBe(200);
    await scim('PATCH', `/Users/${ids.bob}`, {
      token: hub.tenants.emea.token,
      body: patchOp({ op: 'replace', path: 'active', value: false }),
    });

    const entries = await failures(tokens.auditor);
    const refused = entries.filter((e) => e.diff.after.reason === 'inactive_user' && e.resourceId === ids.suspended);
    expect(refused.reduce((sum, e) => sum + e.diff.after.count, 0)).toBe(2);
    expect(refused[0]).toMatchObject({ chain: hub.tenants.emea.id, resourceType: 'Token', diff: { after: { detail: 'INACTIVE_USER' } } });
  });

  it('refuses the token of a deleted user', async () => {
    const carl = await scim('GET', `/Users?filter=${encodeURIComponent('userName eq "carl@emea"')}`, { token: hub.tenants.emea.token });
    const id = (carl.body.Resources as Json[])[0]?.id as string;
    expect((await scim('GET', '/Me', { token: tokens.deleted })).status).toBe(200);
    expect((await scim('DELETE', `/Users/${id}`, { token: hub.tenants.emea.token })).status).toBe(204);
    expect((await scim('GET', '/Me', { token: tokens.deleted })).status).toBe(401);
    expect((await gql(hub.app, tokens.deleted, '{ me { userName } }')).status).toBe(401);
    const entries = await failures(hub.adminToken);
    expect(counted(entries, { reason: 'invalid_token', prefix: tokens.deleted.slice(0, 8) })).toBe(2);
  });

  it("refuses an end user's JWT once the user is suspended, and audits it in the tenant's chain", async () => {
    const token = await jwt({ sub: 'dora@emea', roles: ['employee'] });
    expect((await scim('GET', '/Me', { token })).status).toBe(200);
    await scim('PATCH', `/Users/${ids.dora}`, {
      token: hub.tenants.emea.token,
      body: patchOp({ op: 'replace', path: 'active', value: false }),
    });
    expect((await scim('GET', '/Me', { token })).status).toBe(401);
    expect((await gql(hub.app, token, '{ me { userName } }')).status).toBe(401);
    const entries = (await failures(tokens.auditor)).filter((e) => e.diff.after.reason === 'inactive_user' && e.resourceType === 'Issuer');
    expect(entries.reduce((sum, e) => sum + e.diff.after.count, 0)).toBe(2);
    expect(entries[0]).toMatchObject({ resourceId: ids.issuer, diff: { after: { detail: 'UNKNOWN_USER' } } });
  });
});

describe('a clean stop', () => {
  it('writes the failures counted since the last write before the hub stops', async () => {
    const config = loadConfig({ DATABASE_URL: hub.db.url, MERIDIAN_ADMIN_TOKEN: hub.adminToken, MERIDIAN_PUBLIC_URL: 'https://hub.test' });
    const second = await buildApp({ config, runtime: hub.runtime, logger: false });
    const res = await second.inject({
      method: 'GET',
      url: '/scim/v2/Users',
      headers: { authorization: `Bearer mrd_Stopping${'s'.repeat(35)}` },
      remoteAddress: '192.0.2.44',
    });
    expect(res.statusCode).toBe(401);
    await second.close();
    const rows = await hub.db.query<{ source_address: string; diff: { after: { count: number } } }>(
      `select source_address, diff from audit_event where action = 'auth.failed' and actor_id = 'prefix:mrd_Stop'`,
    );
    expect(rows.map((r) => [r.source_address, r.diff.after.count])).toEqual([['192.0.2.44', 1]]);
  });
});
