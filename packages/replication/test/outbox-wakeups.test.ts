import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { memoryTarget } from '@meridian/connector-sdk';
import { type DirectoryCaller, principalOfRole, SCHEMA } from '@meridian/core';
import { createTestDatabase, eventually, type TestDatabase } from '@meridian/test-utils';
import { Coalescer } from '../src/engine/coalescer.js';
import { contextOf, type ReplicationHarness, replicationHarness } from './harness.js';

// ADR 0024: the relay learns of a commit through NOTIFY, not by polling. The polls here are an hour apart, so
// only a notification (or the catch-up after the listening connection came back) can move a change.

const scimCaller = (tenantId: string): DirectoryCaller => ({ principal: principalOfRole('provisioner', { tenantId }), api: 'scim' });
const HOUR = 3_600_000;

let db: TestDatabase;
let h: ReplicationHarness;
let names = 0;

beforeAll(async () => {
  db = await createTestDatabase();
  h = await replicationHarness(db, undefined, {
    relayIntervalMs: HOUR,
    relayFallbackMs: HOUR,
    backoffBaseMs: 20,
    backoffMaxMs: 200,
    targetRefreshMs: 100,
  });
  await h.engine.start();
});
afterAll(async () => {
  await h.cleanup();
  await h.close();
  await db.close();
});

/** The backend pids of this database's outbox listeners. */
async function listeners(): Promise<number[]> {
  const rows = await db.query<{ pid: number }>(
    `select pid from pg_stat_activity
      where datname = current_database() and query ilike 'listen meridian_outbox%' and pid <> pg_backend_pid()`,
  );
  return rows.map((r) => r.pid);
}

async function createAndDeliver(tenantId: string, targetId: string, name: string, userName: string): Promise<void> {
  const created = await h.resources.create(
    scimCaller(tenantId),
    tenantId,
    'User',
    { schemas: [SCHEMA.user], userName, name: { givenName: 'W', familyName: userName } },
    contextOf(),
  );
  const link = await eventually(
    `${userName} to reach the target`,
    async () => {
      const found = await h.store.getLink(targetId, 'User', created.id);
      return found?.status === 'synced' ? found : undefined;
    },
    { timeoutMs: 15_000 },
  );
  expect(memoryTarget(name).objects.get(link.remoteId as string)?.attributes).toMatchObject({ userName, externalId: created.id });
}

describe('the outbox relay woken by commits (LISTEN/NOTIFY)', () => {
  it('delivers a change committed without a kick, though the relay polls only hourly', async () => {
    const tenantId = await h.tenant();
    const name = `wake-${process.pid}-${++names}`;
    const target = await h.target(tenantId, name);
    await eventually('the outbox listener', async () => (await listeners()).length > 0, { timeoutMs: 15_000 });
    await createAndDeliver(tenantId, target.id, name, 'woken@example.org');
  });

  it('listens again after its connection is lost, and catches up on what committed meanwhile', async () => {
    const tenantId = await h.tenant();
    const name = `wake-${process.pid}-${++names}`;
    const target = await h.target(tenantId, name);
    const [before] = await eventually(
      'the outbox listener',
      async () => {
        const pids = await listeners();
        return pids.length > 0 ? pids : undefined;
      },
      { timeoutMs: 15_000 },
    );
    await db.query('select pg_terminate_backend($1)', [before]);
    const after = await eventually(
      'a new outbox listener',
      async () => {
        const pids = await listeners();
        return pids.length > 0 && !pids.includes(before as number) ? pids : undefined;
      },
      { timeoutMs: 15_000 },
    );
    expect(after).not.toContain(before);
    await createAndDeliver(tenantId, target.id, name, 'again@example.org');
  });
});

describe('Coalescer', () => {
  it('flushes the calls of one turn together, and a failing batch item by item', async () => {
    const flushes: string[][] = [];
    const coalescer = new Coalescer<string, string>(async (_key, items) => {
      flushes.push(items);
      if (items.includes('bad')) throw new Error('bad item');
      return items.map((i) => i.toUpperCase());
    });
    const results = await Promise.allSettled(['a', 'b', 'bad', 'c'].map((i) => coalescer.run('tenant', i)));
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : 'rejected'))).toEqual(['A', 'B', 'rejected', 'C']);
    // One flush of all four, then each alone.
    expect(flushes).toEqual([['a', 'b', 'bad', 'c'], ['a'], ['b'], ['bad'], ['c']]);
    // Another key is flushed apart.
    expect(await Promise.all([coalescer.run('x', 'p'), coalescer.run('y', 'q')])).toEqual(['P', 'Q']);
    expect(flushes.slice(5)).toEqual([['p'], ['q']]);
  });

  it('runs at most maxInFlight flushes of a key at once; the calls made meanwhile go in the next', async () => {
    const flushes: number[][] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const coalescer = new Coalescer<number, number>(async (_key, items) => {
      flushes.push(items);
      if (items.includes(1)) await gate;
      return items;
    }, 1);
    const first = coalescer.run('tenant', 1);
    await new Promise((resolve) => setImmediate(resolve));
    const rest = [2, 3, 4].map((n) => coalescer.run('tenant', n));
    await new Promise((resolve) => setImmediate(resolve));
    expect(flushes).toEqual([[1]]);
    release();
    expect(await Promise.all([first, ...rest])).toEqual([1, 2, 3, 4]);
    expect(flushes).toEqual([[1], [2, 3, 4]]);
  });
});
