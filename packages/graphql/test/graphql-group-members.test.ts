import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { principalOfRole } from '@meridian/core';
import { type AppHarness, gql, startGraphqlApp } from '@meridian/test-utils/apps';

// Issue 21, large groups paged: `Group.memberPage` pages a group's direct members (accounts and nested groups) with
// keyset cursors, searches them, and reads only the groups its caller may read.

const PEOPLE = 120;

let harness: AppHarness;
let groupId: string;
let nestedId: string;

const ask = async (query: string, variables?: Record<string, unknown>, token = harness.tenants.emea.token) =>
  (await gql(harness.app, token, query, variables)).body;

const PAGE = `query($id: String!, $first: Int, $after: String, $filter: String) {
  groups(tenant: "emea", scimFilter: $id, first: 1) {
    edges { node { id memberPage(first: $first, after: $after, filter: $filter) {
      totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id type display } }
    } } }
  }
}`;

type MemberPage = {
  totalCount: number;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  edges: { cursor: string; node: { id: string; type: string; display: string | null } }[];
};

async function memberPage(variables: { first?: number; after?: string | null; filter?: string }): Promise<MemberPage> {
  const body = await ask(PAGE, { id: `id eq "${groupId}"`, ...variables });
  expect(body.errors).toBeUndefined();
  return body.data?.groups.edges[0].node.memberPage;
}

beforeAll(async () => {
  harness = await startGraphqlApp();
  const created = await ask(
    'mutation { a: createGroup(tenant: "emea", displayName: "Everyone") { id } b: createGroup(tenant: "emea", displayName: "Night shift") { id } }',
  );
  groupId = created.data?.a.id;
  nestedId = created.data?.b.id;
  // The accounts and their memberships in bulk; the nested group through the mutation, as the console adds one.
  const tenantId = harness.tenants.emea.id;
  await harness.db.query(
    `insert into scim_user (id, tenant_id, user_name, attributes, version, created_at, updated_at)
     select gen_random_uuid(), $1, 'person' || i || '@emea', jsonb_build_object('userName', 'person' || i || '@emea', 'displayName', 'Person ' || i),
            1, now(), now()
       from generate_series(1, $2::int) i`,
    [tenantId, PEOPLE],
  );
  await harness.db.query(
    `insert into group_member (group_id, member_id, tenant_id, member_type, created_at)
     select $2, id, tenant_id, 'User', now() from scim_user where tenant_id = $1`,
    [tenantId, groupId],
  );
  const added = await ask('mutation($g: ID!, $m: [ID!]!) { addGroupMembers(tenant: "emea", group: $g, members: $m) { id } }', {
    g: groupId,
    m: [nestedId],
  });
  expect(added.errors).toBeUndefined();
});
afterAll(() => harness.close());

describe('Group.memberPage', () => {
  it('pages every member once, 50 at a time, in id order, with the total on each page', async () => {
    const seen: MemberPage['edges'] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const page: MemberPage = await memberPage({ first: 50, after });
      expect(page.totalCount).toBe(PEOPLE + 1);
      expect(page.edges.length).toBeLessThanOrEqual(50);
      seen.push(...page.edges);
      pages += 1;
      if (!page.pageInfo.hasNextPage) break;
      expect(page.pageInfo.endCursor).toBe(page.edges.at(-1)?.cursor);
      after = page.pageInfo.endCursor;
    }
    expect(pages).toBe(3);
    const ids = seen.map((e) => e.node.id);
    expect(new Set(ids).size).toBe(PEOPLE + 1);
    expect(ids).toEqual([...ids].sort());
  });

  it('lists a nested group as a member of type Group, with its name', async () => {
    const page = await memberPage({ first: 10, filter: 'night' });
    expect(page.totalCount).toBe(1);
    expect(page.edges.map((e) => e.node)).toEqual([{ id: nestedId, type: 'Group', display: 'Night shift' }]);
  });

  it('searches members by display name or userName, case-insensitively, and pages the result', async () => {
    // Person 11 and Person 110 … 119.
    const first = await memberPage({ first: 6, filter: 'PERSON 11' });
    expect(first.totalCount).toBe(11);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const rest = await memberPage({ first: 6, filter: 'PERSON 11', after: first.pageInfo.endCursor });
    expect(rest.pageInfo.hasNextPage).toBe(false);
    const names = [...first.edges, ...rest.edges].map((e) => e.node.display).sort();
    expect(names).toEqual(['Person 11', ...Array.from({ length: 10 }, (_, i) => `Person 11${i}`)].sort());
    expect((await memberPage({ first: 5, filter: 'person42@emea' })).edges.map((e) => e.node.display)).toEqual(['Person 42']);
  });

  it('keeps `members` answering the whole list', async () => {
    const body = await ask('query($id: String!) { groups(tenant: "emea", scimFilter: $id) { edges { node { members { id } } } } }', {
      id: `id eq "${groupId}"`,
    });
    expect(body.data?.groups.edges[0].node.members).toHaveLength(PEOPLE + 1);
  });

  it('refuses a cursor it did not issue and a page above 500', async () => {
    const bad = await ask(PAGE, { id: `id eq "${groupId}"`, after: 'not-a-cursor' });
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'INVALID_CURSOR', field: 'after' });
    const big = await ask(PAGE, { id: `id eq "${groupId}"`, first: 501 });
    expect(big.errors?.[0]?.extensions).toMatchObject({ code: 'INVALID_INPUT', field: 'first' });
  });

  it('answers NOT_FOUND for another tenant’s group, and shows no member of it', async () => {
    // Through GraphQL, APAC's token reaches no EMEA group at all.
    const foreign = await ask(PAGE, { id: `id eq "${groupId}"` }, harness.tenants.apac.token);
    expect(foreign.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(foreign.data?.groups ?? null).toBeNull();
    // Nor in APAC, where the id names no group.
    const own = await ask(
      'query($id: String!) { groups(tenant: "apac", scimFilter: $id) { totalCount edges { node { memberPage { totalCount } } } } }',
      { id: `id eq "${groupId}"` },
      harness.tenants.apac.token,
    );
    expect(own.data?.groups).toEqual({ totalCount: 0, edges: [] });
    // The service the field calls: the group id of another tenant is not found in the caller's.
    const apacCaller = { principal: principalOfRole('hr_provider', { tenantId: harness.tenants.apac.id }), api: 'graphql' as const };
    await expect(harness.services.resources.memberPage(apacCaller, 'apac', groupId, { first: 50 })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });
});
