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

// ADR 0025: a batch of accounts projected together gives the directory that one projection per account gives.

const context: RequestContext = { actor: { type: 'cli', id: 'test' }, requestId: 'req-batch', sourceAddress: '127.0.0.1' };
const platform: Principal = { kind: 'platform', tokenId: 'test', scopes: ['admin'] };
const caller = (tenantId: string): DirectoryCaller => ({ principal: principalOfRole('provisioner', { tenantId }), api: 'scim' });

let db: TestDatabase;
let store: PostgresGlobalDirectoryStore;
let communityId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  const admin = new AdminService(new PostgresAdminStore(db.orm, systemClock), systemClock);
  const resources = new ResourceService(new PostgresDirectoryStore(db.orm, systemClock), new Argon2PasswordHasher());
  communityId = (await admin.createCommunity(platform, { slug: 'coi', name: 'CoI' }, context)).id;
  const tenants = [];
  for (const slug of ['emea', 'amer', 'apac'])
    tenants.push((await admin.createTenant(platform, { slug, name: slug, community: 'coi' }, context)).id);
  store = new PostgresGlobalDirectoryStore(db.orm, systemClock);
  await store.setRules(communityId, { correlation: ['employeeNumber', 'email'], authority: {} }, context);
  // Each office: people E0..E11, some sharing an employeeNumber or an email across offices, some disagreeing on
  // a title, a manager in the same office, and one account whose employeeNumber and email point at two people.
  for (const [t, tenantId] of tenants.entries()) {
    let manager: string | undefined;
    for (let i = 0; i < 12; i++) {
      if ((i + t) % 3 === 0) continue;
      const employeeNumber = t === 2 && i === 8 ? 'E5' : `E${i}`;
      const user = await resources.create(
        caller(tenantId as string),
        tenantId as string,
        'User',
        {
          schemas: [SCHEMA.user, SCHEMA.enterpriseUser],
          userName: `u${i}@${t}.example`,
          displayName: `Person ${i}`,
          title: i % 4 === 0 ? `Title ${t}` : 'Engineer',
          emails: [{ value: t === 2 && i === 8 ? 'p4@example.org' : `p${i}@example.org`, primary: true }],
          [SCHEMA.enterpriseUser]: { employeeNumber, ...(manager ? { manager: { value: manager } } : {}) },
        },
        context,
      );
      manager ??= user.id;
    }
  }
});

afterAll(() => db.close());

/** Every row the projector owns, a person named by its first account (new people get new ids). */
async function directory(): Promise<string[]> {
  const name = (column: string) =>
    `(select min(n.tenant_id::text || '/' || n.user_name) from directory_account n where n.person_id = ${column})`;
  const rows = await db.query<{ row: string }>(
    `select 'account ' || a.user_name || ' ' || ${name('a.person_id')} || ' ' || a.link as row from directory_account a
     union all select 'key ' || a.user_name || ' ' || k.key from directory_account_key k
       join directory_account a on a.tenant_id = k.tenant_id and a.user_id = k.user_id
     union all select 'person ' || ${name('p.id')} || ' ' || concat_ws('|', p.display_name, p.title, p.email, p.employee_number,
       ${name('p.manager_person_id')}, p.conflict_count, p.active) from person p
     union all select 'conflict ' || c.kind || ' ' || coalesce(${name('c.person_id')}, '') || ' ' || coalesce(c.attribute, '')
       || ' ' || jsonb_array_length(c.candidates) from directory_conflict c`,
  );
  return rows.map((r) => r.row).sort();
}

async function emptyDirectory(): Promise<void> {
  await db.query(
    'delete from directory_conflict; delete from directory_account_key; delete from directory_account; delete from person; delete from directory_inbox',
  );
}

async function drain(perTransaction: number): Promise<number> {
  let projected = 0;
  for (;;) {
    const steps = await store.projectDue(perTransaction, new Date());
    projected += steps.length;
    if (steps.length === 0) return projected;
  }
}

describe('the set-based projection', () => {
  it('gives from one batch the directory that one account per transaction gives', async () => {
    await emptyDirectory();
    const queued = await store.enqueueCommunity(communityId, new Date());
    expect(await drain(1)).toBe(queued);
    const oneByOne = await directory();

    await emptyDirectory();
    await store.enqueueCommunity(communityId, new Date());
    expect(await drain(1_000)).toBe(queued);
    const batched = await directory();

    expect(batched).toEqual(oneByOne);
    // totalCount without a filter reads the count the triggers keep: exact, whatever removed or added people.
    const total = async () =>
      (await store.people(communityId, { first: 1, sortBy: 'displayName', descending: false, withTotalCount: true })).totalCount;
    const [counted] = await db.query<{ n: string }>('select count(*) as n from person');
    expect(await total()).toBe(Number(counted?.n));
    expect(await total()).toBeGreaterThan(10);
    // The data exercises what a batch must carry from one account to the next.
    expect(oneByOne.filter((r) => r.startsWith('account ') && r.endsWith('rule:employeeNumber')).length).toBeGreaterThan(10);
    expect(oneByOne.some((r) => r.startsWith('conflict correlation'))).toBe(true);
    expect(oneByOne.some((r) => r.startsWith('conflict attribute') && r.includes(' title '))).toBe(true);
  });

  it('gives the same directory from batches projected two at a time (lanes), in queue order', async () => {
    await emptyDirectory();
    const queued = await store.enqueueCommunity(communityId, new Date());
    expect(await drain(1)).toBe(queued);
    const oneByOne = await directory();

    // Batches of 4 in a step of 1,000: while one batch holds the community's lock, the next claims and reads its Users.
    const lanes = new PostgresGlobalDirectoryStore(db.orm, systemClock, undefined, 4);
    await emptyDirectory();
    await store.enqueueCommunity(communityId, new Date());
    let projected = 0;
    for (let steps = await lanes.projectDue(1_000, new Date()); steps.length > 0; steps = await lanes.projectDue(1_000, new Date()))
      projected += steps.length;
    expect(projected).toBe(queued);
    expect(await directory()).toEqual(oneByOne);
    expect(await db.query('select 1 from directory_inbox')).toHaveLength(0);
  });

  it('rewrites nothing when it projects the same accounts again', async () => {
    // Projected again once first: an account that arrived after its namesakes (the one whose employeeNumber and
    // email name two people) now attracts them too, and they get correlation conflicts of their own. From then on
    // the directory is what its accounts say.
    await store.enqueueCommunity(communityId, new Date());
    await drain(1_000);
    const before = await db.query<{ id: string; version: number; updated_at: Date }>(
      'select id, version, updated_at from person order by id',
    );
    const accounts = await db.query<{ updated_at: Date }>('select updated_at from directory_account order by tenant_id, user_id');
    await store.enqueueCommunity(communityId, new Date());
    await drain(1_000);
    expect(await db.query('select id, version, updated_at from person order by id')).toEqual(before);
    expect(await db.query('select updated_at from directory_account order by tenant_id, user_id')).toEqual(accounts);
  });
});
