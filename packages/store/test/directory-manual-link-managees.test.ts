import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  AdminService,
  type DirectoryCaller,
  type Principal,
  principalOfRole,
  type RequestContext,
  ResourceService,
  SCHEMA,
  systemClock,
} from '@meridian/core';
import { Argon2PasswordHasher, PostgresAdminStore, PostgresDirectoryStore, PostgresGlobalDirectoryStore } from '@meridian/store';
import { createTestDatabase, type TestDatabase } from '@meridian/test-utils';

// Regression (issue 14): linking or unlinking a manager's account by hand moved it to another person but left the
// people it manages naming the old one (or none, when the old person was removed) until the manager's User changed.
// The projection now resolves managees only when their manager's account moves, so the admin's moves must too.

const context: RequestContext = { actor: { type: 'cli', id: 'test' }, requestId: 'req-managees', sourceAddress: '127.0.0.1' };
const platform: Principal = { kind: 'platform', tokenId: 'test', scopes: ['admin'] };
const caller = (tenantId: string): DirectoryCaller => ({ principal: principalOfRole('provisioner', { tenantId }), api: 'scim' });

let db: TestDatabase;
let store: PostgresGlobalDirectoryStore;
let communityId: string;
let emea: string;
let boss: string;
let report: string;
let otherBoss: string;

beforeAll(async () => {
  db = await createTestDatabase();
  const admin = new AdminService(new PostgresAdminStore(db.orm, systemClock), systemClock);
  const resources = new ResourceService(new PostgresDirectoryStore(db.orm, systemClock), new Argon2PasswordHasher());
  communityId = (await admin.createCommunity(platform, { slug: 'coi', name: 'CoI' }, context)).id;
  emea = (await admin.createTenant(platform, { slug: 'emea', name: 'emea', community: 'coi' }, context)).id;
  const amer = (await admin.createTenant(platform, { slug: 'amer', name: 'amer', community: 'coi' }, context)).id;
  store = new PostgresGlobalDirectoryStore(db.orm, systemClock);
  const user = async (tenantId: string, userName: string, employeeNumber: string, manager?: string) =>
    (
      await resources.create(
        caller(tenantId),
        tenantId,
        'User',
        {
          schemas: [SCHEMA.user, SCHEMA.enterpriseUser],
          userName,
          displayName: userName,
          [SCHEMA.enterpriseUser]: { employeeNumber, ...(manager ? { manager: { value: manager } } : {}) },
        },
        context,
      )
    ).id;
  boss = await user(emea, 'boss@emea.example', 'E1');
  report = await user(emea, 'report@emea.example', 'E2', boss);
  otherBoss = await user(amer, 'boss@amer.example', 'E9');
  await store.enqueueCommunity(communityId, new Date());
  while ((await store.projectDue(100, new Date())).length > 0);
});

afterAll(() => db.close());

async function personOf(tenantId: string, userId: string): Promise<{ id: string; manager: string | null }> {
  const [row] = await db.query<{ id: string; manager: string | null }>(
    `select p.id, p.manager_person_id as manager from directory_account a join person p on p.id = a.person_id
     where a.tenant_id = $1 and a.user_id = $2`,
    [tenantId, userId],
  );
  if (!row) throw new Error('not projected');
  return row;
}

describe("an admin's move of a manager's account", () => {
  it('resolves the people it manages to its new person, on link and on unlink', async () => {
    const before = await personOf(emea, boss);
    expect((await personOf(emea, report)).manager).toBe(before.id);

    const target = (await db.query<{ person_id: string }>('select person_id from directory_account where user_id = $1', [otherBoss]))[0]
      ?.person_id as string;
    await store.link(communityId, { tenantId: emea, userId: boss }, target, context);
    expect((await personOf(emea, boss)).id).toBe(target);
    expect((await personOf(emea, report)).manager).toBe(target);

    const own = await store.unlink(communityId, { tenantId: emea, userId: boss }, context);
    expect(own).not.toBe(target);
    expect((await personOf(emea, report)).manager).toBe(own);
  });
});
