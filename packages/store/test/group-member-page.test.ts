// Issue 21, large groups paged: a group's members a page at a time, as one keyset statement whose plan walks the
// membership index from the cursor (no sort over the group), at any depth, in the tenant's row-level security scope.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { systemClock } from '@meridian/core';
import { PostgresDirectoryStore } from '@meridian/store';
import { createTestDatabase, type TestDatabase } from '@meridian/test-utils';
import { memberPageStatement } from '../src/directory/scim-reads.js';
import { forkForTenant } from '../src/orm/sql.js';

const MEMBERS = 12_000;
const tenantId = '00000000-0000-7000-8000-000000000001';
const otherTenantId = '00000000-0000-7000-8000-000000000002';
const groupId = '00000000-0000-7000-8000-0000000000a1';
const nestedId = '00000000-0000-7000-8000-0000000000a2';
const emptyId = '00000000-0000-7000-8000-0000000000a3';
const otherGroupId = '00000000-0000-7000-8000-0000000000b1';

let db: TestDatabase;
let store: PostgresDirectoryStore;

beforeAll(async () => {
  db = await createTestDatabase();
  await db.query(`insert into community (id, slug, name, created_at) values ('00000000-0000-7000-8000-0000000000c0', 'coi', 'CoI', now())`);
  await db.query(
    `insert into tenant (id, community_id, slug, name, created_at)
     values ($1, '00000000-0000-7000-8000-0000000000c0', 'emea', 'EMEA', now()),
            ($2, '00000000-0000-7000-8000-0000000000c0', 'apac', 'APAC', now())`,
    [tenantId, otherTenantId],
  );
  await db.query(
    `insert into scim_group (id, tenant_id, display_name, attributes, version, created_at, updated_at)
     values ($1, $4, 'Everyone', '{"displayName":"Everyone"}', 1, now(), now()),
            ($2, $4, 'Nested 50%_', '{"displayName":"Nested 50%_"}', 1, now(), now()),
            ($3, $4, 'Empty', '{"displayName":"Empty"}', 1, now(), now()),
            ($5, $6, 'Elsewhere', '{"displayName":"Elsewhere"}', 1, now(), now())`,
    [groupId, nestedId, emptyId, tenantId, otherGroupId, otherTenantId],
  );
  for (const tenant of [tenantId, otherTenantId]) {
    await db.query(
      `insert into scim_user (id, tenant_id, user_name, attributes, version, created_at, updated_at)
       select gen_random_uuid(), $1, 'user' || i || '@example.com',
              jsonb_build_object('userName', 'user' || i || '@example.com', 'displayName', 'Person ' || i), 1, now(), now()
         from generate_series(1, $2::int) i`,
      [tenant, MEMBERS],
    );
    await db.query(
      `insert into group_member (group_id, member_id, tenant_id, member_type, created_at)
       select $2, id, tenant_id, 'User', now() from scim_user where tenant_id = $1`,
      [tenant, tenant === tenantId ? groupId : otherGroupId],
    );
  }
  // Other groups of the tenant, each with every user: the big group is a sixth of the memberships.
  await db.query(
    `insert into scim_group (id, tenant_id, display_name, attributes, version, created_at, updated_at)
     select gen_random_uuid(), $1, 'Team ' || i, jsonb_build_object('displayName', 'Team ' || i), 1, now(), now() from generate_series(1, 4) i`,
    [tenantId],
  );
  await db.query(
    `insert into group_member (group_id, member_id, tenant_id, member_type, created_at)
     select g.id, u.id, g.tenant_id, 'User', now() from scim_group g join scim_user u on u.tenant_id = g.tenant_id
      where g.tenant_id = $1 and g.display_name like 'Team %'`,
    [tenantId],
  );
  await db.query(`insert into group_member (group_id, member_id, tenant_id, member_type, created_at) values ($1, $2, $3, 'Group', now())`, [
    groupId,
    nestedId,
    tenantId,
  ]);
  await db.query('vacuum analyze group_member');
  await db.query('analyze scim_user');
  await db.query('analyze scim_group');
  store = new PostgresDirectoryStore(db.orm, systemClock);
}, 120_000);

afterAll(async () => {
  await db.close();
});

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

function nodes(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(nodes)];
}

/** The plan of a member page as the hub runs it: the application role, in the tenant's row-level security scope. */
async function plan(query: Parameters<typeof memberPageStatement>[0]): Promise<PlanNode[]> {
  const { sql, params } = memberPageStatement(query);
  const [row] = await forkForTenant(db.orm, tenantId).transactional((em) =>
    em.execute<{ 'QUERY PLAN': { Plan: PlanNode }[] }[]>(`explain (format json) ${sql}`, params),
  );
  const root = row?.['QUERY PLAN'][0]?.Plan;
  if (!root) throw new TypeError('EXPLAIN returned no plan');
  return nodes(root);
}

describe('a group of 12,000 members, paged', () => {
  it('walks every member once, 500 at a time, in member id order, with the total on every page', async () => {
    const seen: string[] = [];
    let after: string | undefined;
    let pages = 0;
    for (;;) {
      const page = await store.memberPage(tenantId, groupId, { first: 500, ...(after ? { after } : {}) });
      if (!page) throw new Error('the group was not found');
      expect(page.totalCount).toBe(MEMBERS + 1);
      seen.push(...page.items.map((m) => m.value));
      pages += 1;
      if (!page.hasNextPage) break;
      after = page.endCursor ?? undefined;
    }
    expect(pages).toBe(Math.ceil((MEMBERS + 1) / 500));
    expect(new Set(seen).size).toBe(MEMBERS + 1);
    expect(seen).toEqual([...seen].sort());
  }, 60_000);

  it('names each member with its type and display name, nested groups included', async () => {
    const page = await store.memberPage(tenantId, groupId, { first: 10 }, 'nested 50%_');
    expect(page?.items).toEqual([{ value: nestedId, type: 'Group', display: 'Nested 50%_' }]);
    expect(page?.totalCount).toBe(1);
    const people = await store.memberPage(tenantId, groupId, { first: 5 }, 'user1234@');
    expect(people?.items).toEqual([expect.objectContaining({ type: 'User', display: 'Person 1234' })]);
    // LIKE's wildcards in a search are taken literally.
    expect((await store.memberPage(tenantId, groupId, { first: 5 }, '%'))?.totalCount).toBe(1);
  });

  it('reads a page, however deep, as one index scan of the memberships from the cursor: no sort, no scan of the group', async () => {
    const deep = (
      await db.query<{ member_id: string }>(
        'select member_id::text from group_member where group_id = $1 order by member_id offset 9000 limit 1',
        [groupId],
      )
    )[0]?.member_id;
    for (const query of [
      { tenantId, groupId, first: 50 },
      { tenantId, groupId, first: 50, after: deep },
    ]) {
      const planned = await plan(query);
      const types = planned.map((n) => n['Node Type']);
      expect(types).not.toContain('Sort');
      // The page walks the primary key from the cursor; the total reads the group's entries of the same index (as a
      // bitmap: the policy's tenant column is in the table), never the table of all memberships.
      const memberScans = planned
        .filter((n) => n['Relation Name'] === 'group_member')
        .map((n) => (n['Node Type'] === 'Bitmap Heap Scan' ? (n.Plans?.[0] ?? n) : n));
      expect(memberScans.map((n) => [n['Node Type'], n['Index Name']]).sort()).toEqual([
        ['Bitmap Index Scan', 'group_member_pkey'],
        ['Index Scan', 'group_member_pkey'],
      ]);
    }
  });

  it('answers an empty page for a group without members, and nothing for another tenant’s group or an unknown id', async () => {
    expect(await store.memberPage(tenantId, emptyId, { first: 50 })).toEqual({
      items: [],
      cursors: [],
      totalCount: 0,
      endCursor: null,
      hasNextPage: false,
    });
    expect(await store.memberPage(tenantId, otherGroupId, { first: 50 })).toBeUndefined();
    expect(await store.memberPage(tenantId, 'not-a-uuid', { first: 50 })).toBeUndefined();
    await expect(store.memberPage(tenantId, groupId, { first: 50, after: 'bogus' })).rejects.toMatchObject({ code: 'INVALID_CURSOR' });
  });
});
