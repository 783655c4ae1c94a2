import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SCHEMA } from '@meridian/core';
import { SqlCapture } from '@meridian/test-utils';
import {
  type AppHarness,
  buildTestApp,
  gql,
  type Json,
  projectGlobalDirectory,
  scimClient,
  startGraphqlApp,
  type TestApp,
} from '@meridian/test-utils/apps';
import type { FastifyInstance } from 'fastify';

// Issue 6: the global directory through GraphQL, as an HR provider uses it: people across offices with their
// accounts, managers and groups, paged and filtered; the rules and conflicts; and what other tokens may not see.
// The accounts are written through SCIM (mounted beside GraphQL) and projected with projectGlobalDirectory,
// which does what the hub's relay and projector do in the background; the export of the directory, which
// needs the hub's replication engine, is tested in packages/hub/test/directory-export.test.ts.

let hub: AppHarness;
const scim = scimClient(() => hub.app);
const ctx = { actor: { type: 'system' as const, id: 'test' }, requestId: 'people-test' };
const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
let amerToken: string;
let hrToken: string;
let otherCommunityToken: string;
let capture: SqlCapture;
let captured: TestApp;

const enterprise = (values: Json) => ({ schemas: [SCHEMA.user, SCHEMA.enterpriseUser], [SCHEMA.enterpriseUser]: values });

/** The body of the answer to one operation, posted with the shared GraphQL helper. */
const answer = async (app: FastifyInstance, token: string, query: string, variables?: Json) =>
  (await gql(app, token, query, variables)).body;

async function post(token: string, path: string, body: Json): Promise<string> {
  const res = await scim('POST', path, { token, body });
  expect(res.status).toBe(201);
  return String(res.body.id);
}

/** 60 people: each has an account in emea; the even ones one in amer too (same employeeNumber); managers and groups in both. */
const PEOPLE = 60;

beforeAll(async () => {
  hub = await startGraphqlApp({ withScim: true });
  await hub.services.admin.createTenant(platform, { slug: 'amer', name: 'AMER', community: 'coi' }, ctx);
  amerToken = (await hub.services.admin.issueToken(platform, { tenant: 'amer', scopes: ['scim:read', 'scim:write'] }, ctx)).token;
  hrToken = (await hub.services.admin.issueToken(platform, { community: 'coi', role: 'hr_provider' }, ctx)).token;
  otherCommunityToken = (await hub.services.admin.issueToken(platform, { community: 'other', role: 'hr_reader' }, ctx)).token;
  const emeaBoss = await post(hub.tenants.emea.token, '/Users', {
    ...enterprise({ employeeNumber: 'B0' }),
    userName: 'boss@emea.example',
    displayName: 'Zoe Boss',
  });
  const amerBoss = await post(amerToken, '/Users', {
    ...enterprise({ employeeNumber: 'B0' }),
    userName: 'boss@amer.example',
    displayName: 'Zoe Boss',
  });
  const emeaMembers: string[] = [];
  const amerMembers: string[] = [];
  for (let i = 0; i < PEOPLE; i++) {
    const n = String(i).padStart(2, '0');
    emeaMembers.push(
      await post(hub.tenants.emea.token, '/Users', {
        ...enterprise({ employeeNumber: `E${n}`, department: i % 3 === 0 ? 'Sales' : 'Engineering', manager: { value: emeaBoss } }),
        userName: `p${n}@emea.example`,
        displayName: `Person ${n}`,
        name: { givenName: 'Person', familyName: `Family${n}` },
      }),
    );
    if (i % 2 === 0) {
      amerMembers.push(
        await post(amerToken, '/Users', {
          ...enterprise({ employeeNumber: `E${n}`, manager: { value: amerBoss } }),
          userName: `p${n}@amer.example`,
          displayName: `Person ${n}`,
        }),
      );
    }
  }
  await post(hub.tenants.emea.token, '/Groups', { displayName: 'EMEA staff', members: emeaMembers.map((value) => ({ value })) });
  await post(amerToken, '/Groups', { displayName: 'AMER staff', members: amerMembers.map((value) => ({ value })) });
  await projectGlobalDirectory(hub.services, 'coi');

  // A second GraphQL app on the same database, through a proxy that records every statement it sends.
  const url = new URL(hub.db.url);
  capture = new SqlCapture(url.hostname, Number(url.port || 5432));
  const port = await capture.listen();
  url.hostname = '127.0.0.1';
  url.port = String(port);
  captured = await buildTestApp('graphql', url.toString(), hub.adminToken);
});
afterAll(async () => {
  await captured?.close();
  await capture?.close();
  await hub.close();
});

const PEOPLE_QUERY = `query($first: Int!, $after: String) {
  people(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      id displayName employeeNumber department
      manager { displayName }
      accounts { id userName link tenant { slug } groups { displayName } }
      groups { displayName }
    } }
  }
}`;

describe('people through GraphQL', () => {
  it('answers an HR provider across offices: one person per employee, with every account, manager and group', async () => {
    const res = await answer(hub.app, hrToken, PEOPLE_QUERY, { first: 100 });
    expect(res.errors).toBeUndefined();
    const people = res.data?.people;
    expect(people.totalCount).toBe(PEOPLE + 1);
    expect(people.pageInfo.hasNextPage).toBe(false);
    const p00 = people.edges.find((e: Json) => (e.node as Json).employeeNumber === 'E00').node;
    expect(p00).toMatchObject({ displayName: 'Person 00', department: 'Sales', manager: { displayName: 'Zoe Boss' } });
    expect(p00.accounts.map((a: Json) => [(a.tenant as Json).slug, a.userName]).sort()).toEqual([
      ['amer', 'p00@amer.example'],
      ['emea', 'p00@emea.example'],
    ]);
    expect(p00.groups.map((g: Json) => g.displayName).sort()).toEqual(['AMER staff', 'EMEA staff']);
    const full = await answer(
      hub.app,
      hrToken,
      '{ people(first: 1, filter: { employeeNumber: "E00" }) { edges { node { accounts { account { userName manager { displayName } tenant { slug } } } } } } }',
    );
    expect(full.errors).toBeUndefined();
    expect(
      full.data?.people.edges[0].node.accounts
        .map((a: Json) => a.account)
        .sort((a: Json, b: Json) => String(a.userName).localeCompare(String(b.userName))),
    ).toEqual([
      { userName: 'p00@amer.example', manager: { displayName: 'Zoe Boss' }, tenant: { slug: 'amer' } },
      { userName: 'p00@emea.example', manager: { displayName: 'Zoe Boss' }, tenant: { slug: 'emea' } },
    ]);
    const fromAccount = await answer(
      hub.app,
      hrToken,
      '{ accounts(tenant: "amer", first: 1, filter: { employeeNumber: "E00" }) { edges { node { person { id displayName } } } } }',
    );
    expect(fromAccount.data?.accounts.edges[0].node.person).toEqual({ id: p00.id, displayName: 'Person 00' });
    const office = await answer(
      hub.app,
      hub.tenants.emea.token,
      '{ accounts(tenant: "emea", first: 1) { edges { node { userName person { id } } } } }',
    );
    expect(office.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN' });
    const p01 = people.edges.find((e: Json) => (e.node as Json).employeeNumber === 'E01').node;
    expect(p01.accounts).toHaveLength(1);
    // Sorted by display name, then id.
    const names = people.edges.map((e: Json) => (e.node as Json).displayName);
    expect(names).toEqual([...names].sort());
  });

  it('pages with keyset cursors, filters and sorts', async () => {
    const first = await answer(hub.app, hrToken, PEOPLE_QUERY, { first: 25 });
    const second = await answer(hub.app, hrToken, PEOPLE_QUERY, { first: 25, after: first.data?.people.pageInfo.endCursor });
    const third = await answer(hub.app, hrToken, PEOPLE_QUERY, { first: 25, after: second.data?.people.pageInfo.endCursor });
    const ids = [first, second, third].flatMap((r) => r.data?.people.edges.map((e: Json) => (e.node as Json).id));
    expect(new Set(ids).size).toBe(PEOPLE + 1);
    expect(third.data?.people.pageInfo.hasNextPage).toBe(false);

    const filtered = await answer(
      hub.app,
      hrToken,
      `{ people(first: 100, filter: { department: "sales", tenant: "amer" }, scimFilter: "displayName sw \\"Person\\"", sortBy: EMPLOYEE_NUMBER, sortOrder: DESCENDING) {
          totalCount edges { node { employeeNumber } } } }`,
    );
    expect(filtered.errors).toBeUndefined();
    // Sales: every third person; in amer: every second one → every sixth, in descending employeeNumber.
    const numbers = filtered.data?.people.edges.map((e: Json) => (e.node as Json).employeeNumber);
    expect(numbers).toEqual(['E54', 'E48', 'E42', 'E36', 'E30', 'E24', 'E18', 'E12', 'E06', 'E00']);
    expect(filtered.data?.people.totalCount).toBe(10);

    const bad = await answer(hub.app, hrToken, '{ people(scimFilter: "userName eq \\"x\\"") { totalCount } }');
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'INVALID_FILTER', field: 'filter' });
    const wrongCursor = await answer(
      hub.app,
      hrToken,
      `{ people(after: "${first.data?.people.pageInfo.endCursor}", sortBy: FAMILY_NAME) { totalCount } }`,
    );
    expect(wrongCursor.errors?.[0]?.extensions).toMatchObject({ code: 'INVALID_CURSOR', field: 'after' });
  });

  it('loads 100 people with accounts, managers and groups in one statement of the directory', async () => {
    const count = async (first: number) => {
      await answer(captured.app, hrToken, PEOPLE_QUERY, { first }); // warm: token lookup cache, tenant settings
      const since = performance.now();
      const res = await answer(captured.app, hrToken, PEOPLE_QUERY, { first });
      expect(res.errors).toBeUndefined();
      expect(res.data?.people.edges).toHaveLength(Math.min(first, PEOPLE + 1));
      return capture.since(since);
    };
    const few = await count(5);
    const many = await count(100);
    // 100 people cost no more than 5 (fewer, even: their managers are on the page already).
    expect(many.length).toBeLessThanOrEqual(few.length);
    expect(many.length).toBeGreaterThan(0);
    // begin / set_config / statement / commit for: the token, the community, and the page with its accounts, their
    // offices, groups and managers and the count (one statement): the offices are no read of their own.
    expect(many.length).toBeLessThanOrEqual(12);
    expect(many.filter((sql) => /\bfrom tenant\b/.test(sql) && !/\bperson\b/.test(sql))).toHaveLength(0);
    // The directory itself: one statement for the page, all it shows and the count (issue 14).
    expect(many.filter((sql) => /\b(person|directory_account|directory_account_group|directory_count)\b/.test(sql))).toHaveLength(1);
  });

  it('keeps other tokens out: an office token is refused, another community is not found', async () => {
    const office = await answer(hub.app, hub.tenants.emea.token, '{ people(first: 5) { totalCount } }');
    expect(office.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN' });
    const other = await answer(hub.app, otherCommunityToken, '{ people(community: "coi", first: 5) { totalCount } }');
    expect(other.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', field: 'community' });
    const own = await answer(hub.app, otherCommunityToken, '{ people(first: 5) { totalCount } }');
    expect(own.data?.people.totalCount).toBe(0);
    const [anyone] = (await answer(hub.app, hrToken, '{ people(first: 1) { edges { node { id } } } }')).data?.people.edges ?? [];
    const stranger = await answer(hub.app, otherCommunityToken, `{ person(id: "${anyone.node.id}") { id } }`);
    expect(stranger.data?.person).toBeNull();
    const platformNeedsCommunity = await answer(hub.app, hub.adminToken, '{ people(first: 1) { totalCount } }');
    expect(platformNeedsCommunity.errors?.[0]?.extensions).toMatchObject({ code: 'INVALID_INPUT', field: 'community' });
  });

  it('sets rules, lists conflicts and resolves them by hand, for community admins only', async () => {
    const communityAdmin = (await hub.services.admin.issueToken(platform, { community: 'coi', role: 'community_admin' }, ctx)).token;
    const refused = await answer(hub.app, hrToken, 'mutation { setDirectoryRules(correlation: ["email"]) { correlation } }');
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN' });
    const invalid = await answer(hub.app, communityAdmin, 'mutation { setDirectoryRules(correlation: ["shoeSize"]) { correlation } }');
    expect(invalid.errors?.[0]?.extensions).toMatchObject({ code: 'INVALID_INPUT', field: 'correlation' });

    const person = (
      await answer(
        hub.app,
        hrToken,
        '{ people(first: 1, filter: { employeeNumber: "E02" }) { edges { node { id accounts { id tenant { slug } } } } } }',
      )
    ).data?.people.edges[0].node;
    const amerAccount = person.accounts.find((a: Json) => (a.tenant as Json).slug === 'amer').id;
    const renamed = await scim('PATCH', `/Users/${amerAccount}`, {
      token: amerToken,
      body: {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'replace', path: 'displayName', value: 'P. Two' }],
      },
    });
    expect(renamed.status).toBe(200);
    await projectGlobalDirectory(hub.services, 'coi');
    const conflicts = await answer(
      hub.app,
      hrToken,
      '{ directoryConflicts(first: 10) { totalCount edges { node { kind attribute personId candidates { value accountId } } } } }',
    );
    expect(conflicts.data?.directoryConflicts.edges).toEqual([
      {
        node: {
          kind: 'attribute',
          attribute: 'displayName',
          personId: person.id,
          candidates: expect.arrayContaining([{ value: 'P. Two', accountId: amerAccount }]),
        },
      },
    ]);
    const pinned = await answer(
      hub.app,
      communityAdmin,
      `mutation { pinAttribute(person: "${person.id}", attribute: "displayName", tenant: "amer") { displayName conflictCount sources { attribute accountId pinned } } }`,
    );
    expect(pinned.errors).toBeUndefined();
    expect(pinned.data?.pinAttribute).toMatchObject({ displayName: 'P. Two', conflictCount: 0 });
    expect(pinned.data?.pinAttribute.sources).toContainEqual({ attribute: 'displayName', accountId: amerAccount, pinned: true });

    const rules = await answer(
      hub.app,
      communityAdmin,
      'mutation { setDirectoryRules(authority: [{ attribute: "department", tenants: ["emea"] }]) { correlation authority { attribute tenants } } }',
    );
    expect(rules.data?.setDirectoryRules).toEqual({
      correlation: ['employeeNumber'],
      authority: [{ attribute: 'department', tenants: ['emea'] }],
    });
    const unlinked = await answer(
      hub.app,
      communityAdmin,
      `mutation { unlinkAccount(tenant: "amer", account: "${amerAccount}") { id accounts { link pinned } } }`,
    );
    expect(unlinked.data?.unlinkAccount.id).not.toBe(person.id);
    expect(unlinked.data?.unlinkAccount.accounts).toEqual([{ link: 'manual', pinned: true }]);
  });
});
