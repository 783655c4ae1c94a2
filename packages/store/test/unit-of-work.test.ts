// Issue 13, item 5: the store's error boundary holds for every unit of work, reads included. A read that fails in
// the database comes back as a domain error (STYLE.md, "Errors"), not as the driver's error.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MeridianError, systemClock } from '@meridian/core';
import { createOrm, PostgresAdminStore, PostgresDirectoryStore, PostgresTenantSettingsStore } from '@meridian/store';
import { createTestDatabase, type TestDatabase } from '@meridian/test-utils';
import { asPlatform, inCommunity, inTenant } from '../src/orm/unit-of-work.js';

const COMMUNITY = '00000000-0000-7000-8000-00000000c013';
const TENANT = '00000000-0000-7000-8000-000000000013';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
  await db.query(`insert into community (id, slug, name, created_at) values ($1, 'coi-13', 'CoI 13', now())`, [COMMUNITY]);
  await db.query(`insert into tenant (id, community_id, slug, name, created_at) values ($1, $2, 'office-13', 'Office 13', now())`, [
    TENANT,
    COMMUNITY,
  ]);
});

afterAll(() => db.close());

/** The domain error a promise rejects with; fails the test when it rejects with anything else. */
async function domainError(promise: Promise<unknown>): Promise<MeridianError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MeridianError);
  return error as MeridianError;
}

describe('a read that fails in the database', () => {
  it('comes back translated from a store read that had no translation of its own', async () => {
    // `tenant_id = 'not-a-uuid'` fails the uuid input conversion (22P02).
    const settings = new PostgresTenantSettingsStore(db.orm, systemClock);
    expect((await domainError(settings.listExtensions('not-a-uuid'))).code).toBe('INVALID_INPUT');
    const directory = new PostgresDirectoryStore(db.orm, systemClock);
    expect((await domainError(directory.getMany('not-a-uuid', 'User', [TENANT]))).code).toBe('INVALID_INPUT');
    const admin = new PostgresAdminStore(db.orm, systemClock);
    expect((await domainError(admin.listTokens('not-a-uuid'))).code).toBe('INVALID_INPUT');
  });

  it('comes back translated in every scope', async () => {
    const bad = 'select 1 from tenant where id = ?';
    expect((await domainError(inTenant(db.orm, TENANT, (em) => em.execute(bad, ['x'])))).code).toBe('INVALID_INPUT');
    expect((await domainError(inCommunity(db.orm, COMMUNITY, (em) => em.execute(bad, ['x'])))).code).toBe('INVALID_INPUT');
    expect((await domainError(asPlatform(db.orm, (em) => em.execute(bad, ['x'])))).code).toBe('INVALID_INPUT');
  });

  it('comes back UNAVAILABLE when its connection is lost', async () => {
    // An ORM of its own: the pool keeps the killed connection checked out.
    const orm = await createOrm({ url: db.url, poolSize: 1 });
    const error = await domainError(
      inTenant(orm, TENANT, async (em) => {
        const [row] = await em.execute<{ pid: number }[]>('select pg_backend_pid() as pid');
        await db.query('select pg_terminate_backend($1)', [row?.pid]);
        return em.execute('select id from tenant where id = ?', [TENANT]);
      }),
    );
    expect(error.code).toBe('UNAVAILABLE');
    void orm.close(true).catch(() => {});
  });

  it('keeps the work’s own domain errors and answers its result', async () => {
    const refused = new MeridianError('NOT_FOUND', 'No such thing.');
    await expect(inTenant(db.orm, TENANT, () => Promise.reject(refused))).rejects.toBe(refused);
    await expect(
      asPlatform(db.orm, async (em) => (await em.execute<{ slug: string }[]>('select slug from tenant'))[0]?.slug),
    ).resolves.toBe('office-13');
  });

  it('lets the caller name a failure before the common translation', async () => {
    const named = new MeridianError('INVALID_INPUT', 'Named by the caller.');
    const error = await domainError(inTenant(db.orm, TENANT, (em) => em.execute('select 1/0'), { explain: () => Promise.resolve(named) }));
    expect(error).toBe(named);
  });
});
