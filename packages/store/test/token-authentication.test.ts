import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SCHEMA } from '@meridian/core';
import { PostgresAdminStore } from '@meridian/store';
import type { TestDatabase } from '@meridian/test-utils';
import { communityFixture, scimCaller, testContext } from './community-fixture.js';

// A bearer token's look-up is one prepared call (`meridian_authenticate_token`, migration 20261211000200): it finds
// the token by the hash of its secret in platform scope, records the use of a token it would accept at most once a
// minute, and answers the row the store decides the outcome from. These tests walk every outcome with a clock the
// test moves.

const context = testContext('req-token');
const start = new Date('2026-12-08T09:00:00.000Z');
let now = start;
const clock = { now: () => now };

let db: TestDatabase;
let store: PostgresAdminStore;
let tenantId: string;

beforeAll(async () => {
  const fixture = await communityFixture(['emea'], context);
  db = fixture.db;
  tenantId = fixture.tenants.emea as string;
  store = new PostgresAdminStore(db.orm, clock);
  await fixture.resources.create(scimCaller(tenantId), tenantId, 'User', { schemas: [SCHEMA.user], userName: 'ada@example.org' }, context);
});

afterAll(() => db.close());

const at = (seconds: number) => new Date(start.getTime() + seconds * 1000);

async function lastUsed(id: string): Promise<string | null> {
  const [row] = await db.query<{ last_used_at: Date | null }>('select last_used_at from api_token where id = $1', [id]);
  return row?.last_used_at ? new Date(row.last_used_at).toISOString() : null;
}

describe('authenticating a bearer token', () => {
  it('finds nothing for a secret it does not know, or one that is not a Meridian token', async () => {
    now = start;
    expect(await store.authenticateToken(`mrd_${'x'.repeat(43)}`)).toEqual({ ok: false, reason: 'unknown' });
    expect(await store.authenticateToken('not-a-token')).toEqual({ ok: false, reason: 'unknown' });
  });

  it('accepts a tenant token and records its use at most once a minute', async () => {
    now = start;
    const issued = await store.issueToken({ name: 'client', tenantId, scopes: ['scim:read'], expiresAt: null }, context);
    const first = await store.authenticateToken(issued.token);
    expect(first).toMatchObject({ ok: true, token: { id: issued.record.id, tenantId, scopes: ['scim:read'] } });
    expect(await lastUsed(issued.record.id)).toBe(start.toISOString());
    now = at(30);
    expect(await store.authenticateToken(issued.token)).toMatchObject({ ok: true });
    expect(await lastUsed(issued.record.id)).toBe(start.toISOString());
    now = at(61);
    expect(await store.authenticateToken(issued.token)).toMatchObject({ ok: true, token: { lastUsedAt: at(61) } });
    expect(await lastUsed(issued.record.id)).toBe(at(61).toISOString());
  });

  it('refuses a revoked token and an expired one, and records no use of either', async () => {
    now = start;
    const revoked = await store.issueToken({ name: 'revoked', tenantId, scopes: ['scim:read'], expiresAt: null }, context);
    await store.revokeToken(revoked.record.id, context);
    expect(await store.authenticateToken(revoked.token)).toMatchObject({ ok: false, reason: 'revoked', token: { id: revoked.record.id } });
    const expiring = await store.issueToken({ name: 'expiring', tenantId, scopes: ['scim:read'], expiresAt: at(60) }, context);
    now = at(60);
    expect(await store.authenticateToken(expiring.token)).toMatchObject({
      ok: false,
      reason: 'expired',
      token: { id: expiring.record.id },
    });
    expect(await lastUsed(revoked.record.id)).toBeNull();
    expect(await lastUsed(expiring.record.id)).toBeNull();
  });

  it("accepts an end user's token while the User is active, and refuses it once suspended, without recording that use", async () => {
    now = start;
    const issued = await store.issueToken(
      { name: 'me', tenantId, user: 'ada@example.org', scopes: ['scim:read'], expiresAt: null },
      context,
    );
    expect(await store.authenticateToken(issued.token)).toMatchObject({ ok: true, token: { userId: expect.any(String) } });
    await db.query(`update scim_user set active = false where user_name = 'ada@example.org'`);
    now = at(120);
    expect(await store.authenticateToken(issued.token)).toMatchObject({ ok: false, reason: 'inactive_user' });
    expect(await lastUsed(issued.record.id)).toBe(start.toISOString());
  });
});
