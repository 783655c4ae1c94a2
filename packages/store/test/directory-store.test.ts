import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  AdminService,
  type DirectoryCaller,
  MeridianError,
  type Principal,
  parseScimFilter,
  principalOfRole,
  type RequestContext,
  ResourceService,
  SCHEMA,
  systemClock,
} from '@meridian/core';
import { Argon2PasswordHasher, PostgresAdminStore, PostgresDirectoryStore } from '@meridian/store';
import { createTestDatabase, type TestDatabase } from '@meridian/test-utils';

/** A SCIM client of the tenant: the caller the core's ResourceService authorizes (scim.read, scim.write). */
const scimCaller = (tenantId: string): DirectoryCaller => ({ principal: principalOfRole('provisioner', { tenantId }), api: 'scim' });

const context: RequestContext = { actor: { type: 'cli', id: 'test' }, requestId: 'req-1', sourceAddress: '127.0.0.1' };
const platform: Principal = { kind: 'platform', tokenId: 'test', scopes: ['admin'] };

let db: TestDatabase;
let resources: ResourceService;
let tenantId: string;
let otherTenantId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  const admin = new AdminService(new PostgresAdminStore(db.orm, systemClock), systemClock);
  resources = new ResourceService(new PostgresDirectoryStore(db.orm, systemClock), new Argon2PasswordHasher());
  await admin.createCommunity(platform, { slug: 'coi', name: 'CoI' }, context);
  tenantId = (await admin.createTenant(platform, { slug: 'emea', name: 'EMEA', community: 'coi' }, context)).id;
  otherTenantId = (await admin.createTenant(platform, { slug: 'apac', name: 'APAC', community: 'coi' }, context)).id;
});

afterAll(() => db.close());

async function counts(): Promise<{ outbox: number; audit: number; users: number }> {
  const [row] = await db.query<{ outbox: string; audit: string; users: string }>(
    `select (select count(*) from outbox_event) as outbox, (select count(*) from audit_event) as audit,
            (select count(*) from scim_user) as users`,
  );
  return { outbox: Number(row?.outbox), audit: Number(row?.audit), users: Number(row?.users) };
}

describe('a write', () => {
  it('stores the resource with exactly one outbox event and one audit entry', async () => {
    const before = await counts();
    const user = await resources.create(
      scimCaller(tenantId),
      tenantId,
      'User',
      { schemas: [SCHEMA.user], userName: 'ada@example.com', password: 'S3cret!pass' },
      context,
    );
    const after = await counts();
    expect(after).toEqual({ outbox: before.outbox + 1, audit: before.audit + 1, users: before.users + 1 });

    const [event] = await db.query('select * from outbox_event where resource_id = $1', [user.id]);
    expect(event).toMatchObject({
      tenant_id: tenantId,
      type: 'user.created',
      resource_type: 'User',
      resource_version: 1,
      request_id: 'req-1',
    });
    const [audit] = await db.query<{ diff: unknown; actor_type: string; actor_id: string; source_address: string; action: string }>(
      'select * from audit_event where resource_id = $1',
      [user.id],
    );
    expect(audit).toMatchObject({ actor_type: 'cli', actor_id: 'test', action: 'user.created', source_address: '127.0.0.1' });
    expect(JSON.stringify(audit?.diff)).not.toContain('S3cret');

    const [stored] = await db.query<{ password_hash: string; attributes: unknown }>(
      'select password_hash, attributes from scim_user where id = $1',
      [user.id],
    );
    expect(stored?.password_hash).toMatch(/^\$argon2id\$/);
    expect(JSON.stringify(stored?.attributes)).not.toContain('S3cret');
  });

  it('that fails leaves no resource, no outbox event and no audit entry', async () => {
    const before = await counts();
    await expect(resources.create(scimCaller(tenantId), tenantId, 'User', { userName: 'ADA@example.com' }, context)).rejects.toMatchObject({
      code: 'UNIQUENESS',
    });
    expect(await counts()).toEqual(before);
  });

  it('chains audit entries per tenant', async () => {
    const rows = await db.query<{ seq: string; prev_hash: string; hash: string }>(
      'select seq, prev_hash, hash from audit_event where chain = $1 order by seq',
      [tenantId],
    );
    expect(rows.length).toBeGreaterThan(1);
    for (let i = 1; i < rows.length; i++) expect(rows[i]?.prev_hash).toBe(rows[i - 1]?.hash);
  });
});

describe('tenant isolation in the store', () => {
  it('does not find, replace or delete another tenant’s resource', async () => {
    const user = await resources.create(scimCaller(tenantId), tenantId, 'User', { userName: 'grace@example.com' }, context);
    await expect(resources.get(scimCaller(otherTenantId), otherTenantId, 'User', user.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(
      resources.replace(scimCaller(otherTenantId), otherTenantId, 'User', user.id, { userName: 'x' }, context),
    ).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(resources.delete(scimCaller(otherTenantId), otherTenantId, 'User', user.id, context)).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    const page = await resources.list(scimCaller(otherTenantId), otherTenantId, 'User', {
      startIndex: 1,
      count: 10,
      filter: parseScimFilter('userName eq "grace@example.com"'),
    });
    expect(page.totalResults).toBe(0);
  });

  it('lets the same userName exist in two tenants', async () => {
    await resources.create(scimCaller(otherTenantId), otherTenantId, 'User', { userName: 'grace@example.com' }, context);
    const page = await resources.list(scimCaller(otherTenantId), otherTenantId, 'User', {
      startIndex: 1,
      count: 10,
      filter: parseScimFilter('userName eq "GRACE@example.com"'),
    });
    expect(page.totalResults).toBe(1);
  });
});

describe('filters in SQL', () => {
  beforeAll(async () => {
    await resources.create(
      scimCaller(tenantId),
      tenantId,
      'User',
      {
        userName: 'linus',
        name: { familyName: 'Torvalds', givenName: 'Linus' },
        emails: [{ type: 'work', value: 'linus@kernel.org' }],
        active: 'False',
        [SCHEMA.enterpriseUser]: { employeeNumber: '42', department: 'Kernel' },
      },
      context,
    );
  });

  it.each([
    ['userName eq "linus"', 1],
    ['name.familyName sw "torv"', 1],
    ['emails co "@kernel.org"', 1],
    ['emails[type eq "work" and value co "kernel"]', 1],
    ['emails[type eq "work"].value eq "linus@kernel.org"', 1],
    ['emails[type eq "home"]', 0],
    [`${SCHEMA.enterpriseUser}:employeeNumber eq "42"`, 1],
    ['active eq false and userName eq "linus"', 1],
    ['not (active eq false) and userName eq "linus"', 0],
    ['meta.created gt "2000-01-01T00:00:00Z" and userName sw "lin"', 1],
    ['title pr and userName eq "linus"', 0],
  ] as [string, number][])('%s matches %d', async (filter, expected) => {
    const page = await resources.list(scimCaller(tenantId), tenantId, 'User', {
      startIndex: 1,
      count: 10,
      filter: parseScimFilter(filter),
    });
    expect(page.totalResults).toBe(expected);
  });

  it('rejects a filter on an unknown attribute with INVALID_FILTER', async () => {
    await expect(
      resources.list(scimCaller(tenantId), tenantId, 'User', { startIndex: 1, count: 10, filter: parseScimFilter('shoeSize eq 3') }),
    ).rejects.toEqual(expect.any(MeridianError));
  });
});

describe('groups', () => {
  it('stores members per row and computes direct and indirect groups of a user', async () => {
    const user = await resources.create(
      scimCaller(tenantId),
      tenantId,
      'User',
      { userName: 'member@example.com', displayName: 'Member' },
      context,
    );
    const inner = await resources.create(
      scimCaller(tenantId),
      tenantId,
      'Group',
      { displayName: 'Inner', members: [{ value: user.id }] },
      context,
    );
    const outer = await resources.create(
      scimCaller(tenantId),
      tenantId,
      'Group',
      { displayName: 'Outer', members: [{ value: inner.id }] },
      context,
    );
    expect(inner.members).toEqual([{ value: user.id, type: 'User', display: 'Member' }]);
    expect(outer.members).toEqual([{ value: inner.id, type: 'Group', display: 'Inner' }]);
    const read = await resources.get(scimCaller(tenantId), tenantId, 'User', user.id);
    expect(read.groups).toEqual(
      expect.arrayContaining([
        { value: inner.id, display: 'Inner', type: 'direct' },
        { value: outer.id, display: 'Outer', type: 'indirect' },
      ]),
    );
    await resources.delete(scimCaller(tenantId), tenantId, 'User', user.id, context);
    expect((await resources.get(scimCaller(tenantId), tenantId, 'Group', inner.id)).members).toEqual([]);
  });

  it('rejects a member from another tenant', async () => {
    const stranger = await resources.create(scimCaller(otherTenantId), otherTenantId, 'User', { userName: 'stranger' }, context);
    await expect(
      resources.create(scimCaller(tenantId), tenantId, 'Group', { displayName: 'G', members: [{ value: stranger.id }] }, context),
    ).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    });
  });
});
