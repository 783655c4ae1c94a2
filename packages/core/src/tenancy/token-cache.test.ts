import { describe, expect, it } from '@jest/globals';
import type { TokenAuthentication } from '../ports/admin.js';
import type { ApiToken } from './model.js';
import { cacheTokenLookups } from './token-cache.js';

function token(overrides: Partial<ApiToken> = {}): ApiToken {
  return {
    id: 'tok-1',
    tenantId: 'tenant-1',
    communityId: null,
    userId: null,
    name: null,
    role: null,
    scopes: ['scim:read'],
    createdAt: new Date(0),
    expiresAt: null,
    revokedAt: null,
    lastUsedAt: null,
    ...overrides,
  } as ApiToken;
}

/** A token store whose answer the test changes, counting the look-ups. */
function store(initial: TokenAuthentication) {
  const state = { answer: initial, lookups: 0 };
  return {
    state,
    lookup: async (_secret: string) => {
      state.lookups += 1;
      return state.answer;
    },
  };
}

function clockAt(ms: number) {
  const clock = { at: ms, now: () => new Date(clock.at) };
  return clock;
}

describe('cacheTokenLookups', () => {
  it('looks a live token up once per period, then again after it', async () => {
    const s = store({ ok: true, token: token() });
    const clock = clockAt(10_000);
    const lookUp = cacheTokenLookups(s.lookup, clock, { ttlMs: 1000 });
    expect((await lookUp('mrd_a')).ok).toBe(true);
    clock.at += 999;
    expect((await lookUp('mrd_a')).ok).toBe(true);
    expect(s.state.lookups).toBe(1);
    clock.at += 1;
    await lookUp('mrd_a');
    expect(s.state.lookups).toBe(2);
  });

  it('refuses a revoked token once the period has passed', async () => {
    const s = store({ ok: true, token: token() });
    const clock = clockAt(0);
    const lookUp = cacheTokenLookups(s.lookup, clock, { ttlMs: 1000 });
    await lookUp('mrd_a');
    s.state.answer = { ok: false, reason: 'revoked', token: token({ revokedAt: new Date(500) }) };
    clock.at = 1000;
    expect(await lookUp('mrd_a')).toMatchObject({ ok: false, reason: 'revoked' });
  });

  it('refuses a remembered token as soon as its own expiry passes', async () => {
    const s = store({ ok: true, token: token({ expiresAt: new Date(1500) }) });
    const clock = clockAt(1000);
    const lookUp = cacheTokenLookups(s.lookup, clock, { ttlMs: 1000 });
    expect((await lookUp('mrd_a')).ok).toBe(true);
    clock.at = 1500;
    expect(await lookUp('mrd_a')).toMatchObject({ ok: false, reason: 'expired' });
    expect(s.state.lookups).toBe(1);
  });

  it("never remembers an end user's token: suspending the User ends it at once", async () => {
    const s = store({ ok: true, token: token({ userId: 'user-1', scopes: ['scim:me'] }) });
    const lookUp = cacheTokenLookups(s.lookup, clockAt(0), { ttlMs: 1000 });
    expect((await lookUp('mrd_me')).ok).toBe(true);
    s.state.answer = { ok: false, reason: 'inactive_user', token: token({ userId: 'user-1' }) };
    expect(await lookUp('mrd_me')).toMatchObject({ ok: false, reason: 'inactive_user' });
  });

  it('never remembers a refusal', async () => {
    const s = store({ ok: false, reason: 'unknown' });
    const lookUp = cacheTokenLookups(s.lookup, clockAt(0), { ttlMs: 1000 });
    await lookUp('mrd_x');
    await lookUp('mrd_x');
    expect(s.state.lookups).toBe(2);
  });

  it('shares one look-up between concurrent requests with the same secret, not between secrets', async () => {
    const s = store({ ok: true, token: token() });
    const lookUp = cacheTokenLookups(s.lookup, clockAt(0), { ttlMs: 1000 });
    await Promise.all([lookUp('mrd_a'), lookUp('mrd_a'), lookUp('mrd_a'), lookUp('mrd_b')]);
    expect(s.state.lookups).toBe(2);
  });

  it('keeps at most maxEntries tokens, dropping the oldest', async () => {
    const s = store({ ok: true, token: token() });
    const lookUp = cacheTokenLookups(s.lookup, clockAt(0), { ttlMs: 1000, maxEntries: 2 });
    await lookUp('mrd_a');
    await lookUp('mrd_b');
    await lookUp('mrd_c');
    await lookUp('mrd_a');
    expect(s.state.lookups).toBe(4);
  });

  it('forgets every token when told to (this process revoked one)', async () => {
    const s = store({ ok: true, token: token() });
    const lookUp = cacheTokenLookups(s.lookup, clockAt(0), { ttlMs: 1000 });
    await lookUp('mrd_a');
    s.state.answer = { ok: false, reason: 'revoked', token: token({ revokedAt: new Date(0) }) };
    lookUp.forget();
    expect(await lookUp('mrd_a')).toMatchObject({ ok: false, reason: 'revoked' });
  });

  it('looks every request up when the period is 0', async () => {
    const s = store({ ok: true, token: token() });
    const lookUp = cacheTokenLookups(s.lookup, clockAt(0), { ttlMs: 0 });
    await lookUp('mrd_a');
    await lookUp('mrd_a');
    expect(s.state.lookups).toBe(2);
  });

  it('asks again after a look-up that failed', async () => {
    let calls = 0;
    const lookUp = cacheTokenLookups(
      async () => {
        calls += 1;
        if (calls === 1) throw new Error('connection lost');
        return { ok: true, token: token() } as TokenAuthentication;
      },
      clockAt(0),
      { ttlMs: 1000 },
    );
    await expect(lookUp('mrd_a')).rejects.toThrow('connection lost');
    expect((await lookUp('mrd_a')).ok).toBe(true);
  });
});
