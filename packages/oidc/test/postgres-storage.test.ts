import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { RelyingPartyValues } from '@meridian/core';
import { generateSecretKey, PostgresOidcStore, PostgresRelyingPartyStore, SecretBox } from '@meridian/store';
import { createTestDatabase, type TestDatabase } from '@meridian/test-utils';
import { adapterFor } from '../src/adapter.js';
import { communityKeys } from '../src/keys.js';

// Issue 15: oidc-provider's storage on PostgreSQL. Any hub process serves any step, so everything the provider
// keeps goes through this adapter; a community sees only its own rows.

let db: TestDatabase;
let now = new Date('2026-12-07T10:00:00Z');
const clock = { now: () => now };
const ctx = { actor: { type: 'system' as const, id: 'test' }, requestId: 'oidc-storage' };
let storage: PostgresOidcStore;
let clients: PostgresRelyingPartyStore;
let coi: string;
let other: string;

async function communityOf(slug: string): Promise<string> {
  const [row] = await db.query<{ id: string }>(
    'insert into community (id, slug, name, created_at) values (gen_random_uuid(), $1, $1, now()) returning id',
    [slug],
  );
  return row?.id as string;
}

const registration = (communityId: string): RelyingPartyValues => ({
  communityId,
  name: 'Wiki',
  clientType: 'confidential',
  redirectUris: ['https://wiki.example/cb'],
  postLogoutRedirectUris: [],
  claims: ['email'],
  optionalClaims: [],
  maxCacheSeconds: 60,
  consent: 'required',
  subjectType: 'public',
  clientCredentials: false,
  backchannelLogoutUri: null,
});

beforeAll(async () => {
  db = await createTestDatabase();
  storage = new PostgresOidcStore(db.orm, clock, new SecretBox([generateSecretKey()]));
  clients = new PostgresRelyingPartyStore(db.orm, clock);
  coi = await communityOf('coi');
  other = await communityOf('other');
});
afterAll(() => db.close());

describe('the PostgreSQL adapter', () => {
  it('stores, finds, consumes and destroys payloads, with their look-ups', async () => {
    const Session = adapterFor(coi, storage, clients);
    const sessions = new Session('Session');
    await sessions.upsert('s1', { uid: 'u1', accountId: 'p1', kind: 'Session' }, 60);
    expect(await sessions.find('s1')).toEqual({ uid: 'u1', accountId: 'p1', kind: 'Session' });
    expect(await sessions.findByUid('u1')).toEqual({ uid: 'u1', accountId: 'p1', kind: 'Session' });

    const codes = new Session('AuthorizationCode');
    await codes.upsert('c1', { grantId: 'g1', clientId: 'rp_x', kind: 'AuthorizationCode' }, 60);
    await codes.consume('c1');
    expect(await codes.find('c1')).toMatchObject({ grantId: 'g1', consumed: Math.floor(now.getTime() / 1000) });

    // Everything issued under a grant goes with it (a replayed code, a revoked grant).
    const tokens = new Session('AccessToken');
    await tokens.upsert('a1', { grantId: 'g1', kind: 'AccessToken' }, 600);
    await tokens.upsert('a2', { grantId: 'g2', kind: 'AccessToken' }, 600);
    await tokens.revokeByGrantId('g1');
    expect(await tokens.find('a1')).toBeUndefined();
    expect(await codes.find('c1')).toBeUndefined();
    expect(await tokens.find('a2')).toMatchObject({ grantId: 'g2' });

    await sessions.destroy('s1');
    expect(await sessions.find('s1')).toBeUndefined();
  });

  it('hides expired payloads and sweeps them, with old sign-in failure counters', async () => {
    const tokens = new (adapterFor(coi, storage, clients))('RefreshToken');
    await tokens.upsert('r1', { kind: 'RefreshToken' }, 30);
    await tokens.upsert('r2', { kind: 'RefreshToken' }, 3600);
    now = new Date(now.getTime() + 31_000);
    expect(await tokens.find('r1')).toBeUndefined();
    expect(await tokens.find('r2')).toEqual({ kind: 'RefreshToken' });
    await db.query(
      "insert into sso_throttle (community_id, key, failures, window_start) values ($1, 'address:old', 3, $2), ($1, 'address:new', 1, $3)",
      [coi, new Date(now.getTime() - 2 * 86_400_000), now],
    );
    expect(await storage.sweep(coi)).toBeGreaterThanOrEqual(1);
    expect(await db.query('select key from sso_throttle where community_id = $1', [coi])).toEqual([{ key: 'address:new' }]);
    expect(await db.query("select id from oidc_payload where model = 'RefreshToken' order by id")).toEqual([{ id: 'r2' }]);
  });

  it('keeps one community’s payloads and clients from another', async () => {
    const ours = new (adapterFor(coi, storage, clients))('Grant');
    const theirs = new (adapterFor(other, storage, clients))('Grant');
    await ours.upsert('g9', { accountId: 'p1', clientId: 'rp_x', kind: 'Grant' }, 600);
    expect(await theirs.find('g9')).toBeUndefined();
    await theirs.revokeByGrantId('g9');
    await theirs.destroy('g9');
    expect(await ours.find('g9')).toMatchObject({ accountId: 'p1' });

    const { relyingParty, clientSecret } = await clients.create(registration(coi), ctx);
    const ourClients = new (adapterFor(coi, storage, clients))('Client');
    const theirClients = new (adapterFor(other, storage, clients))('Client');
    const metadata = await ourClients.find(relyingParty.clientId);
    expect(metadata).toMatchObject({ client_id: relyingParty.clientId, token_endpoint_auth_method: 'client_secret_basic' });
    // The provider gets the hash, never the secret.
    expect(metadata?.client_secret).toMatch(/^[0-9a-f]{64}$/);
    expect(metadata?.client_secret).not.toBe(clientSecret);
    expect(await theirClients.find(relyingParty.clientId)).toBeUndefined();
    await expect(ourClients.upsert(relyingParty.clientId, {}, 60)).rejects.toThrow(TypeError);
  });

  it('row-level security hides a community’s rows from a transaction of another', async () => {
    const em = db.orm.em.fork({ session: { variables: { 'meridian.community_id': other } } });
    const rows = await em.transactional((tx) => tx.execute('select count(*)::int as n from oidc_payload'));
    expect(rows).toEqual([{ n: 0 }]);
    const none = db.orm.em.fork();
    expect(await none.transactional((tx) => tx.execute('select count(*)::int as n from relying_party'))).toEqual([{ n: 0 }]);
  });
});

describe('community keys', () => {
  it('are generated once, sealed at rest, and the same for every caller', async () => {
    const [a, b] = await Promise.all([communityKeys(storage, coi), communityKeys(storage, coi)]);
    expect(a).toEqual(b);
    expect(a.signing).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig', d: expect.any(String) });
    expect(a.cookies).toHaveLength(1);
    const stored = await db.query<{ kind: string; sealed: string }>(
      'select kind, sealed from oidc_key where community_id = $1 order by kind',
      [coi],
    );
    expect(stored.map((k) => k.kind)).toEqual(['cookies', 'pairwise', 'signing']);
    for (const key of stored) {
      expect(key.sealed).toMatch(/^v1:/);
      expect(key.sealed).not.toContain(a.pairwise);
    }
    expect((await communityKeys(storage, other)).pairwise).not.toBe(a.pairwise);
  });

  it('are re-sealed under the new SecretBox key on first use after a rotation', async () => {
    const old = generateSecretKey(new Date('2026-01-01T00:00:00Z'));
    const fresh = generateSecretKey(new Date('2026-06-01T00:00:00Z'));
    const community = await communityOf('rotated');
    const before = await communityKeys(new PostgresOidcStore(db.orm, clock, new SecretBox([old])), community);
    // The new key first, the old one still configured (docs/security.md, rotation).
    const rotated = new PostgresOidcStore(db.orm, clock, new SecretBox([fresh, old]));
    expect(await communityKeys(rotated, community)).toEqual(before);
    const keyIds = await db.query<{ key_id: string }>("select split_part(sealed, ':', 2) as key_id from oidc_key where community_id = $1", [
      community,
    ]);
    expect(keyIds.map((k) => k.key_id)).toEqual([fresh.id, fresh.id, fresh.id]);
    // Only the new key now: everything still opens.
    expect(await communityKeys(new PostgresOidcStore(db.orm, clock, new SecretBox([fresh])), community)).toEqual(before);
  });
});
