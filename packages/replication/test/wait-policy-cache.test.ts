import { describe, expect, it } from '@jest/globals';
import { WaitPolicyCache } from '../src/engine/wait-policy-cache.js';

/** A policy store that counts its reads, and a clock the test moves. */
function setup(ttlMs = 1_000) {
  const policies = new Map<string, number>([['t1', 5]]);
  const reads: string[] = [];
  let now = 0;
  const cache = new WaitPolicyCache(
    async (tenantId) => {
      reads.push(tenantId);
      const seconds = policies.get(tenantId);
      if (seconds === undefined) throw new Error(`no tenant ${tenantId}`);
      return seconds;
    },
    ttlMs,
    () => now,
  );
  return { cache, policies, reads, advance: (ms: number) => (now += ms) };
}

describe('WaitPolicyCache', () => {
  it('reads a tenant once per second however many writes ask', async () => {
    const { cache, reads, advance } = setup();
    expect(await Promise.all([cache.get('t1'), cache.get('t1'), cache.get('t1')])).toEqual([5, 5, 5]);
    advance(999);
    expect(await cache.get('t1')).toBe(5);
    expect(reads).toEqual(['t1']);
  });

  it('sees a change made elsewhere once the second has passed', async () => {
    const { cache, policies, advance } = setup();
    expect(await cache.get('t1')).toBe(5);
    policies.set('t1', 0);
    expect(await cache.get('t1')).toBe(5);
    advance(1_000);
    expect(await cache.get('t1')).toBe(0);
  });

  it('sees a change made through this process at once when told to forget', async () => {
    const { cache, policies } = setup();
    expect(await cache.get('t1')).toBe(5);
    policies.set('t1', 30);
    cache.forget('t1');
    expect(await cache.get('t1')).toBe(30);
  });

  it('keeps tenants apart', async () => {
    const { cache, policies, reads } = setup();
    policies.set('t2', 10);
    expect([await cache.get('t1'), await cache.get('t2')]).toEqual([5, 10]);
    expect(reads).toEqual(['t1', 't2']);
  });

  it('does not keep a failed read: the next write asks again', async () => {
    const { cache, policies, reads } = setup();
    await expect(cache.get('t9')).rejects.toThrow('no tenant t9');
    policies.set('t9', 2);
    expect(await cache.get('t9')).toBe(2);
    expect(reads).toEqual(['t9', 't9']);
  });
});
