import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type ResourceService, SCHEMA, systemClock } from '@meridian/core';
import { PostgresGlobalDirectoryStore } from '@meridian/store';
import { eventually, type TestDatabase } from '@meridian/test-utils';
import pg from 'pg';
import { scimCaller as caller, communityFixture, testContext } from './community-fixture.js';

// ADR 0025, decision 11: a batch reads its context before the community's lock, and under the lock uses it only if
// the community's change counter is still the one it read; a writer that held the lock meanwhile makes it read again.

const context = testContext('req-early');

let db: TestDatabase;
let store: PostgresGlobalDirectoryStore;
let resources: ResourceService;
let communityId: string;
let emea: string;
let amer: string;

beforeAll(async () => {
  const fixture = await communityFixture(['emea', 'amer'], context);
  ({ db, resources, communityId } = fixture);
  emea = fixture.tenants.emea as string;
  amer = fixture.tenants.amer as string;
  store = new PostgresGlobalDirectoryStore(db.orm, systemClock);
});

afterAll(() => db.close());

async function createUser(tenantId: string, userName: string, employeeNumber: string): Promise<string> {
  const user = await resources.create(
    caller(tenantId),
    tenantId,
    'User',
    { schemas: [SCHEMA.user, SCHEMA.enterpriseUser], userName, [SCHEMA.enterpriseUser]: { employeeNumber } },
    context,
  );
  return user.id;
}

async function drain(): Promise<void> {
  while ((await store.projectDue(1_000, new Date())).length > 0) {}
}

async function personOf(tenantId: string, userId: string): Promise<string | undefined> {
  const [row] = await db.query<{ person_id: string }>('select person_id from directory_account where tenant_id = $1 and user_id = $2', [
    tenantId,
    userId,
  ]);
  return row?.person_id;
}

describe('a batch that read its context before the lock', () => {
  it('reads it again under the lock when a writer changed the directory meanwhile (a key holder it had not seen)', async () => {
    const ada = await createUser(emea, 'ada@emea.example', 'E77');
    await store.enqueueCommunity(communityId, new Date());
    await drain();
    const adaPerson = await personOf(emea, ada);
    expect(adaPerson).toBeDefined();
    // Ada's key is missing while the batch reads its context before the lock: it sees no holder of E77.
    await db.query("delete from directory_account_key where key = 'employeeNumber:E77'");
    const grace = await createUser(amer, 'grace@amer.example', 'E77');
    await db.query(
      `insert into directory_inbox (tenant_id, resource_type, resource_id, community_id, enqueued_at, not_before)
       values ($1, 'User', $2, $3, now(), now() - interval '1 second')`,
      [amer, grace, communityId],
    );

    // Another writer holds the community's lock; the batch reads early, then waits for it.
    const writer = new pg.Client({ connectionString: db.url });
    await writer.connect();
    try {
      await writer.query('begin');
      await writer.query('select pg_advisory_xact_lock(hashtextextended($1, 7))', [`directory:${communityId}`]);
      const projecting = store.projectDue(1_000, new Date());
      await eventually('the batch waits for the community lock', async () => {
        const [waiting] = (
          await db.query<{ n: string }>("select count(*) as n from pg_locks where locktype = 'advisory' and not granted")
        ).map((r) => Number(r.n));
        return waiting === 1;
      });
      // The writer puts Ada's key back and counts its change, as every writer under the lock does.
      await writer.query(
        `insert into directory_account_key (community_id, key, tenant_id, user_id) values ($1, 'employeeNumber:E77', $2, $3)`,
        [communityId, emea, ada],
      );
      await writer.query(
        `insert into directory_count (community_id, people, changes) values ($1, 0, 1)
         on conflict (community_id) do update set changes = directory_count.changes + 1`,
        [communityId],
      );
      await writer.query('commit');
      expect(await projecting).toHaveLength(1);
    } finally {
      await writer.end();
    }
    // Read again under the lock, the batch found Ada holding E77: Grace joined her person.
    expect(await personOf(amer, grace)).toBe(adaPerson);
    const [link] = await db.query<{ link: string }>('select link from directory_account where tenant_id = $1 and user_id = $2', [
      amer,
      grace,
    ]);
    expect(link?.link).toBe('rule:employeeNumber');
  });

  it('projects the entries of a failing batch one at a time, each for real (they have no lanes)', async () => {
    // An entry naming a community that does not exist fails its batch; the others are then projected one per
    // transaction, outside the step's lanes. A version of the lanes' bookkeeping skipped that projection.
    const katherine = await createUser(emea, 'katherine@emea.example', 'E80');
    const poison = await createUser(amer, 'poison@amer.example', 'E81');
    await db.query(
      `insert into directory_inbox (tenant_id, resource_type, resource_id, community_id, enqueued_at, not_before)
       values ($1, 'User', $2, '00000000-0000-4000-8000-000000000001', now() - interval '1 minute', now() - interval '1 minute'),
              ($3, 'User', $4, $5, now(), now() - interval '1 second')`,
      [amer, poison, emea, katherine, communityId],
    );
    expect(await store.projectDue(1_000, new Date())).toHaveLength(1);
    expect(await personOf(emea, katherine)).toBeDefined();
    const [left] = await db.query<{ attempts: number }>('select attempts from directory_inbox where resource_id = $1', [poison]);
    expect(left?.attempts).toBe(1);
    await db.query('delete from directory_inbox where resource_id = $1', [poison]);
  });

  it('counts the changes of the batches that write, and of none that write nothing', async () => {
    const changes = async () =>
      Number(
        (await db.query<{ changes: string }>('select changes from directory_count where community_id = $1', [communityId]))[0]?.changes,
      );
    await store.enqueueCommunity(communityId, new Date());
    await drain();
    const before = await changes();
    await store.enqueueCommunity(communityId, new Date());
    await drain();
    expect(await changes()).toBe(before);
    await createUser(emea, 'alan@emea.example', 'E78');
    await store.enqueueCommunity(communityId, new Date());
    await drain();
    expect(await changes()).toBe(before + 1);
  });
});
