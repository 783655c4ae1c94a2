import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createOrm, migrate } from '@meridian/store';
import { gql as post } from '@meridian/test-utils/apps';
import type { FastifyInstance } from 'fastify';
import * as client from 'openid-client';
import { type HubHarness, startHub } from './harness.js';
import { listeningHub } from './oidc-harness.js';

// Issue 15: "the old relying_party role's community-wide read goes through the same release rules". A relying_party
// API token cannot be tied to a registration, so it reads nothing of the directory any more (a clear FORBIDDEN naming
// the way that does go through the release rules: the registration's client credentials); it still sees the
// community (issue 17: no Shared Signals stream, which would carry the directory). Tokens an older hub stored for the
// role lose the directory too.

const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
const ctx = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const MIGRATION = 'Migration20261207600500_relying_party_release';

let hub: HubHarness;
let app: FastifyInstance;
let origin: string;

/** The body of one GraphQL answer (the shared helper of the test apps). */
async function gql(token: string, query: string) {
  return (await post(hub.app, token, query)).body;
}

async function relyingPartyToken(): Promise<{ token: string; id: string }> {
  const issued = await hub.runtime.admin.issueToken(platform, { community: 'coi', role: 'relying_party' }, ctx);
  return { token: issued.token, id: issued.record.id };
}

/** The reads the role had before issue 15: each must now be refused with the way to read what was released. */
async function expectDirectoryRefused(token: string): Promise<void> {
  for (const query of [
    '{ people(community: "coi", first: 10) { totalCount } }',
    '{ accounts(tenant: "emea", first: 10) { totalCount } }',
    '{ tenant(slug: "emea") { users(first: 10) { totalCount } } }',
  ]) {
    const answer = await gql(token, query);
    expect(answer.errors?.[0]).toMatchObject({
      extensions: { code: 'FORBIDDEN' },
      message: expect.stringContaining('client-credentials token at {issuer}/scim/v2/Users'),
    });
    expect(JSON.stringify(answer.data ?? {})).not.toContain('totalCount":2');
  }
}

beforeAll(async () => {
  // Every request looks its token up: the migration below changes a stored token between two requests.
  hub = await startHub({ env: { MERIDIAN_TOKEN_CACHE_MS: '0' } });
  ({ app, origin } = await listeningHub(hub));
  for (const userName of ['ada@emea.example', 'bob@emea.example']) {
    const res = await hub.app.inject({
      method: 'POST',
      url: '/scim/v2/Users',
      headers: { authorization: `Bearer ${hub.tenants.emea.token}`, 'content-type': 'application/scim+json' },
      payload: JSON.stringify({ userName, displayName: userName, emails: [{ value: userName }] }),
    });
    expect(res.statusCode).toBe(201);
  }
  await hub.runtime.replication.relay.drain();
  await hub.runtime.replication.projector?.drain();
}, 120_000);

afterAll(async () => {
  await app?.close();
  await hub?.close();
});

describe('a relying_party API token', () => {
  it('reads no person of the global directory or the offices, and is told how to read what was released', async () => {
    // The directory holds both people: an hr_reader token (explicitly a community-wide reader) sees them.
    const reader = (await hub.runtime.admin.issueToken(platform, { community: 'coi', role: 'hr_reader' }, ctx)).token;
    expect(await gql(reader, '{ people(community: "coi", first: 10) { totalCount } }')).toEqual({
      data: { people: { totalCount: 2 } },
    });
    await expectDirectoryRefused((await relyingPartyToken()).token);
  });

  it('is not a SCIM client of any office', async () => {
    const { token } = await relyingPartyToken();
    const res = await hub.app.inject({ method: 'GET', url: '/scim/v2/Users', headers: { authorization: `Bearer ${token}` } });
    expect(res.statusCode).toBe(403);
    expect(res.body).not.toContain('ada@emea.example');
  });

  it('still sees its community; no event stream: a stream of a token carries the whole directory (issue 17)', async () => {
    const { token } = await relyingPartyToken();
    expect(await gql(token, '{ communities { edges { node { slug } } } }')).toEqual({
      data: { communities: { edges: [{ node: { slug: 'coi' } }] } },
    });
    const stream = await hub.app.inject({
      method: 'POST',
      url: '/oidc/coi/ssf/stream',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ delivery: { method: 'urn:ietf:rfc:8936' } }),
    });
    expect(stream.statusCode).toBe(403);
    expect(stream.json()).toMatchObject({ error: 'access_denied', description: expect.stringContaining('client-credentials') });
  });

  it('gives way to the registration: with client credentials, only people who consented, so none yet', async () => {
    const made = await hub.runtime.relyingParties.create(
      platform,
      { community: 'coi', name: 'Wiki', redirectUris: ['http://127.0.0.1/cb'], claims: 'email,name', clientCredentials: true },
      ctx,
    );
    const config = await client.discovery(
      new URL(`${origin}/oidc/coi`),
      made.relyingParty.clientId,
      undefined,
      client.ClientSecretBasic(made.clientSecret ?? ''),
      { execute: [client.allowInsecureRequests] },
    );
    const { access_token } = await client.clientCredentialsGrant(config);
    const res = await fetch(`${origin}/oidc/coi/scim/v2/Users`, { headers: { authorization: `Bearer ${access_token}` } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ totalResults: 0, Resources: [] });
  });

  it('stored by an older hub with directory:read loses the directory when the migration runs', async () => {
    const { token, id } = await relyingPartyToken();
    const owner = await createOrm({ url: hub.db.url, poolSize: 1, role: null });
    try {
      // Undo the migration: the token's stored scopes are what a hub before issue 15 stored for the role.
      await owner.migrator.down([MIGRATION]);
      const [before] = await hub.db.query<{ scopes: string[] }>('select scopes from api_token where id = $1', [id]);
      expect(before?.scopes).toEqual(['directory:read']);
      expect(await gql(token, '{ people(community: "coi", first: 10) { totalCount } }')).toEqual({ data: { people: { totalCount: 2 } } });

      expect(await migrate(owner)).toEqual([MIGRATION]);
      const [after] = await hub.db.query<{ scopes: string[] }>('select scopes from api_token where id = $1', [id]);
      expect(after?.scopes).toEqual(['released:read']);
      await expectDirectoryRefused(token);
    } finally {
      await owner.close(true);
    }
  });
});
