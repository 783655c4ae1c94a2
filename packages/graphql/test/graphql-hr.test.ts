import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type DirectoryCaller, principalOfRole, SCHEMA } from '@meridian/core';
import { SqlCapture } from '@meridian/test-utils';
import {
  type AppHarness,
  buildTestApp,
  eventCounts,
  type GqlResponse,
  gql,
  startGraphqlApp,
  type TestApp,
} from '@meridian/test-utils/apps';
import type { FastifyInstance } from 'fastify';

/** A SCIM client of the tenant: the caller the core's ResourceService authorizes (scim.read, scim.write). */
const scimCaller = (tenantId: string): DirectoryCaller => ({ principal: principalOfRole('provisioner', { tenantId }), api: 'scim' });

// Issue 6, the per-office and HR side of GraphQL: joiners, movers and leavers through the core's
// commands (one outbox and one audit row each), group membership, self-service, and accounts
// whose tenant, manager and groups load in a constant number of statements.

let harness: AppHarness;
let hr: string;
let endUser: string;
const ctx = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };

beforeAll(async () => {
  // The joiner is also read back through SCIM.
  harness = await startGraphqlApp({ withScim: true });
  hr = (await harness.services.admin.issueToken(platform, { community: 'coi', role: 'hr_provider' }, ctx)).token;
});
afterAll(() => harness.close());

type GqlAnswer = GqlResponse['body'];

/** The body of the answer to one operation, posted with the shared GraphQL helper. */
const answer = async (token: string, query: string, variables?: Record<string, unknown>, app: FastifyInstance = harness.app) =>
  (await gql(app, token, query, variables)).body;

/** Runs `work` and returns how many outbox and audit rows it wrote. */
async function written(work: () => Promise<unknown>): Promise<{ outbox: number; audit: number }> {
  const before = await eventCounts(harness);
  await work();
  const after = await eventCounts(harness);
  return { outbox: after.outbox - before.outbox, audit: after.audit - before.audit };
}

const ACCOUNT =
  'id userName displayName givenName familyName title department employeeNumber active version emails { value primary } phoneNumbers { value } manager { id userName } tenant { slug } groups { displayName direct }';
const CREATE = `mutation($input: AccountInput!) { createAccount(tenant: "emea", input: $input) { ${ACCOUNT} } }`;

describe('joiner, mover, leaver with an hr_provider token', () => {
  let managerId: string;
  let joinerId: string;

  it('creates a joiner with a manager: one outbox and one audit row', async () => {
    const boss = await answer(hr, CREATE, { input: { userName: 'boss@emea', displayName: 'The Boss', department: 'Board' } });
    expect(boss.errors).toBeUndefined();
    managerId = boss.data?.createAccount.id;
    let res: GqlAnswer = {};
    const delta = await written(async () => {
      res = await answer(hr, CREATE, {
        input: {
          userName: 'ada@emea',
          displayName: 'Ada Lovelace',
          givenName: 'Ada',
          familyName: 'Lovelace',
          emails: ['ada@emea.example', 'ada.home@example.org'],
          phone: '+44 20 7946 0000',
          title: 'Analyst',
          department: 'Engines',
          employeeNumber: 'E-1815',
          manager: managerId,
        },
      });
    });
    expect(res.errors).toBeUndefined();
    expect(delta).toEqual({ outbox: 1, audit: 1 });
    expect(res.data?.createAccount).toMatchObject({
      userName: 'ada@emea',
      givenName: 'Ada',
      familyName: 'Lovelace',
      title: 'Analyst',
      department: 'Engines',
      employeeNumber: 'E-1815',
      active: true,
      version: 1,
      emails: [
        { value: 'ada@emea.example', primary: true },
        { value: 'ada.home@example.org', primary: false },
      ],
      phoneNumbers: [{ value: '+44 20 7946 0000' }],
      manager: { id: managerId, userName: 'boss@emea' },
      tenant: { slug: 'emea' },
    });
    joinerId = res.data?.createAccount.id;
    // The same command as SCIM: the User reads back through SCIM with the enterprise manager.
    const scim = await harness.app.inject({
      method: 'GET',
      url: `/scim/v2/Users/${joinerId}`,
      headers: { authorization: `Bearer ${harness.tenants.emea.token}` },
    });
    expect(JSON.parse(scim.body)[SCHEMA.enterpriseUser]).toMatchObject({ department: 'Engines', manager: { value: managerId } });
  });

  it('moves an account: only the given fields change, ifVersion acts as If-Match', async () => {
    const update = `mutation($id: ID!, $input: AccountChangeInput!, $v: Int) { updateAccount(tenant: "emea", id: $id, input: $input, ifVersion: $v) { ${ACCOUNT} } }`;
    let res: GqlAnswer = {};
    const delta = await written(async () => {
      res = await answer(hr, update, { id: joinerId, input: { department: 'Analytical Engines', title: 'Lead' }, v: 1 });
    });
    expect(res.errors).toBeUndefined();
    expect(delta).toEqual({ outbox: 1, audit: 1 });
    expect(res.data?.updateAccount).toMatchObject({
      version: 2,
      department: 'Analytical Engines',
      title: 'Lead',
      givenName: 'Ada',
      employeeNumber: 'E-1815',
      manager: { id: managerId },
    });

    const stale = await written(async () => {
      res = await answer(hr, update, { id: joinerId, input: { title: 'Stale' }, v: 1 });
    });
    expect(res.errors?.[0]?.extensions.code).toBe('PRECONDITION_FAILED');
    expect(stale).toEqual({ outbox: 0, audit: 0 });

    // A field given as null is removed.
    res = await answer(hr, update, { id: joinerId, input: { title: null } });
    expect(res.errors).toBeUndefined();
    expect(res.data?.updateAccount).toMatchObject({ title: null, version: 3, department: 'Analytical Engines' });

    res = await answer(
      hr,
      `mutation($id: ID!) { moveAccount(tenant: "emea", id: $id, department: "Difference Engines", title: "Head") { ${ACCOUNT} } }`,
      {
        id: joinerId,
      },
    );
    expect(res.errors).toBeUndefined();
    expect(res.data?.moveAccount).toMatchObject({
      department: 'Difference Engines',
      title: 'Head',
      manager: { id: managerId },
      version: 4,
    });
  });

  it('suspends, restores and terminates: one outbox and one audit row each', async () => {
    for (const [mutation, active] of [
      ['suspendAccount', false],
      ['restoreAccount', true],
    ] as const) {
      let res: GqlAnswer = {};
      const delta = await written(async () => {
        res = await answer(hr, `mutation($id: ID!) { ${mutation}(tenant: "emea", id: $id) { active } }`, { id: joinerId });
      });
      expect(res.errors).toBeUndefined();
      expect(res.data?.[mutation]).toEqual({ active });
      expect(delta).toEqual({ outbox: 1, audit: 1 });
    }
    let res: GqlAnswer = {};
    const delta = await written(async () => {
      res = await answer(hr, 'mutation($id: ID!) { terminateAccount(tenant: "emea", id: $id) }', { id: joinerId });
    });
    expect(res).toEqual({ data: { terminateAccount: true } });
    expect(delta).toEqual({ outbox: 1, audit: 1 });
    const gone = await answer(hr, 'query($id: ID!) { account(tenant: "emea", id: $id) { id } }', { id: joinerId });
    expect(gone).toEqual({ data: { account: null } });
    const again = await answer(hr, 'mutation($id: ID!) { terminateAccount(tenant: "emea", id: $id) }', { id: joinerId });
    expect(again.errors?.[0]?.extensions.code).toBe('NOT_FOUND');
  });
});

describe('errors', () => {
  it('names the input field: uniqueness, an unknown manager, nothing to change, a bad filter', async () => {
    await answer(hr, CREATE, { input: { userName: 'taken@emea' } });
    const cases: [string, Record<string, unknown>, string, string][] = [
      [CREATE, { input: { userName: 'taken@emea' } }, 'UNIQUENESS', 'input.userName'],
      [CREATE, { input: { userName: 'x@emea', manager: '00000000-0000-7000-8000-000000000000' } }, 'INVALID_INPUT', 'input.manager'],
      [CREATE, { input: { userName: '' } }, 'INVALID_INPUT', 'input.userName'],
      [
        'mutation($id: ID!) { updateAccount(tenant: "emea", id: $id, input: {}) { id } }',
        { id: '00000000-0000-7000-8000-000000000000' },
        'INVALID_INPUT',
        'input',
      ],
      ['{ accounts(tenant: "emea", scimFilter: "userName eq") { totalCount } }', {}, 'INVALID_FILTER', 'scimFilter'],
      ['{ accounts(tenant: "emea", after: "nonsense") { totalCount } }', {}, 'INVALID_CURSOR', 'after'],
      ['{ accounts(tenant: "emea", first: 501) { totalCount } }', {}, 'INVALID_INPUT', 'first'],
    ];
    for (const [query, variables, code, field] of cases) {
      let res: GqlAnswer = {};
      const delta = await written(async () => {
        res = await answer(hr, query, variables);
      });
      expect([query, res.errors?.[0]?.extensions]).toEqual([query, { code, field }]);
      expect(delta).toEqual({ outbox: 0, audit: 0 });
    }
    const missing = await answer(hr, 'mutation { suspendAccount(tenant: "emea", id: "00000000-0000-7000-8000-000000000000") { id } }');
    expect(missing.errors?.[0]?.extensions.code).toBe('NOT_FOUND');
  });

  it('answers NOT_FOUND to an office token of another community, and writes nothing', async () => {
    const apac = harness.tenants.apac.token;
    const delta = await written(async () => {
      for (const query of [
        'mutation { createAccount(tenant: "emea", input: { userName: "probe@emea" }) { id } }',
        '{ accounts(tenant: "emea") { totalCount } }',
        'mutation { createGroup(tenant: "emea", displayName: "probe") { id } }',
      ]) {
        const res = await answer(apac, query);
        expect(res.errors?.[0]?.extensions).toEqual({ code: 'NOT_FOUND', field: 'tenant' });
      }
    });
    expect(delta).toEqual({ outbox: 0, audit: 0 });
  });

  it('refuses HR writes to a read-only community token', async () => {
    const reader = (await harness.services.admin.issueToken(platform, { community: 'coi', role: 'hr_reader' }, ctx)).token;
    const res = await answer(reader, 'mutation { createAccount(tenant: "emea", input: { userName: "r@emea" }) { id } }');
    expect(res.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
    const read = await answer(reader, '{ accounts(tenant: "emea", first: 1) { totalCount } }');
    expect(read.errors).toBeUndefined();
  });
});

describe('group membership', () => {
  it('creates a group, adds and removes members as rows, one outbox and one audit row per change', async () => {
    const a = (await answer(hr, CREATE, { input: { userName: 'member-a@emea' } })).data?.createAccount.id;
    const b = (await answer(hr, CREATE, { input: { userName: 'member-b@emea' } })).data?.createAccount.id;
    const created = await answer(
      hr,
      'mutation { createGroup(tenant: "emea", displayName: "Engineers", externalId: "hr-42") { id externalId } }',
    );
    expect(created.errors).toBeUndefined();
    expect(created.data?.createGroup.externalId).toBe('hr-42');
    const group = created.data?.createGroup.id;

    const add = 'mutation($g: ID!, $m: [ID!]!) { addGroupMembers(tenant: "emea", group: $g, members: $m) { members { id type } } }';
    let res: GqlAnswer = {};
    let delta = await written(async () => {
      res = await answer(hr, add, { g: group, m: [a, b] });
    });
    expect(res.errors).toBeUndefined();
    expect(res.data?.addGroupMembers.members.map((m: { id: string }) => m.id).sort()).toEqual([a, b].sort());
    expect(delta).toEqual({ outbox: 1, audit: 1 });
    const rows = await harness.db.query<{ member_id: string }>('select member_id from group_member where group_id = $1', [group]);
    expect(rows.map((r) => r.member_id).sort()).toEqual([a, b].sort());

    const account = await answer(hr, 'query($id: ID!) { account(tenant: "emea", id: $id) { groups { displayName direct } } }', { id: a });
    expect(account.data?.account.groups).toEqual([{ displayName: 'Engineers', direct: true }]);

    const remove = 'mutation($g: ID!, $m: [ID!]!) { removeGroupMembers(tenant: "emea", group: $g, members: $m) { members { id } } }';
    delta = await written(async () => {
      res = await answer(hr, remove, { g: group, m: [a] });
    });
    expect(res.errors).toBeUndefined();
    expect(res.data?.removeGroupMembers.members).toEqual([{ id: b }]);
    expect(delta).toEqual({ outbox: 1, audit: 1 });

    const foreign = await answer(hr, add, { g: group, m: ['00000000-0000-7000-8000-000000000000'] });
    expect(foreign.errors?.[0]?.extensions.code).toBe('INVALID_INPUT');

    const groups = await answer(
      hr,
      '{ groups(tenant: "emea", scimFilter: "displayName eq \\"Engineers\\"") { totalCount edges { node { id } } } }',
    );
    expect(groups.data?.groups).toEqual({ totalCount: 1, edges: [{ node: { id: group } }] });

    delta = await written(async () => {
      res = await answer(hr, 'mutation($g: ID!) { deleteGroup(tenant: "emea", id: $g) }', { g: group });
    });
    expect(res).toEqual({ data: { deleteGroup: true } });
    expect(delta).toEqual({ outbox: 1, audit: 1 });
  });
});

describe('self-service: me and updateMe', () => {
  beforeAll(async () => {
    await answer(hr, CREATE, { input: { userName: 'self@emea', displayName: 'Self', title: 'Clerk' } });
    await harness.services.settings.setSelfServicePolicy(harness.tenants.emea.id, ['displayName', 'nickName'], ctx);
    endUser = (await harness.services.admin.issueToken(platform, { tenant: 'emea', role: 'end_user', user: 'self@emea' }, ctx)).token;
  });

  it('reads the own account, as SCIM /Me does', async () => {
    const res = await answer(endUser, '{ me { userName displayName title tenant { slug } } }');
    expect(res).toEqual({ data: { me: { userName: 'self@emea', displayName: 'Self', title: 'Clerk', tenant: { slug: 'emea' } } } });
    const office = await answer(harness.tenants.emea.token, '{ me { id } }');
    expect(office.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
  });

  it('changes what the policy allows, and refuses anything else without writing', async () => {
    let res: GqlAnswer = {};
    let delta = await written(async () => {
      res = await answer(endUser, 'mutation { updateMe(input: { displayName: "Me, Myself" }) { displayName version } }');
    });
    expect(res).toEqual({ data: { updateMe: { displayName: 'Me, Myself', version: 2 } } });
    expect(delta).toEqual({ outbox: 1, audit: 1 });

    delta = await written(async () => {
      res = await answer(endUser, 'mutation { updateMe(input: { displayName: "Sneaky", title: "Director" }) { id } }');
    });
    expect(res.errors?.[0]?.extensions).toEqual({ code: 'FORBIDDEN', field: 'input.title' });
    expect(delta).toEqual({ outbox: 0, audit: 0 });
    const me = await answer(endUser, '{ me { displayName title } }');
    expect(me.data?.me).toEqual({ displayName: 'Me, Myself', title: 'Clerk' });

    const hrMe = await answer(hr, 'mutation { updateMe(input: { displayName: "HR" }) { id } }');
    expect(hrMe.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
  });
});

describe('accounts: filters, sorting, paging', () => {
  it('filters by field and by SCIM filter, sorts, and pages by keyset cursors', async () => {
    for (const [i, dept] of ['Ops', 'Ops', 'Ops', 'Lab'].entries()) {
      await answer(hr, CREATE, {
        input: { userName: `list-${i}@emea`, familyName: `Zed${3 - i}`, department: dept, employeeNumber: `L-${i}` },
      });
    }
    const q = `query($f: AccountFilter, $s: String, $after: String) {
      accounts(tenant: "emea", first: 2, after: $after, filter: $f, scimFilter: $s, sortBy: FAMILY_NAME, sortOrder: DESCENDING) {
        totalCount pageInfo { hasNextPage endCursor } edges { cursor node { userName familyName } }
      }
    }`;
    const first = await answer(hr, q, { f: { department: 'Ops' }, s: 'userName sw "list-"' });
    expect(first.errors).toBeUndefined();
    expect(first.data?.accounts.totalCount).toBe(3);
    expect(first.data?.accounts.edges.map((e: { node: { familyName: string } }) => e.node.familyName)).toEqual(['Zed3', 'Zed2']);
    expect(first.data?.accounts.pageInfo.hasNextPage).toBe(true);
    expect(first.data?.accounts.edges[1].cursor).toBe(first.data?.accounts.pageInfo.endCursor);
    const second = await answer(hr, q, {
      f: { department: 'Ops' },
      s: 'userName sw "list-"',
      after: first.data?.accounts.pageInfo.endCursor,
    });
    expect(second.data?.accounts.edges.map((e: { node: { familyName: string } }) => e.node.familyName)).toEqual(['Zed1']);
    expect(second.data?.accounts.pageInfo).toEqual({ hasNextPage: false, endCursor: expect.any(String) });

    const one = await answer(
      hr,
      '{ accounts(tenant: "emea", filter: { employeeNumber: "L-3", active: true }) { totalCount edges { node { department } } } }',
    );
    expect(one.data?.accounts).toEqual({ totalCount: 1, edges: [{ node: { department: 'Lab' } }] });
  });
});

describe('statements per page of accounts', () => {
  let capture: SqlCapture;
  let second: TestApp;
  let app: FastifyInstance;

  beforeAll(async () => {
    // A second GraphQL app on the same database, through a proxy that records every statement it sends.
    const target = new URL(harness.db.url);
    capture = new SqlCapture(target.hostname, Number(target.port || 5432));
    const proxied = new URL(harness.db.url);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(await capture.listen());
    second = await buildTestApp('graphql', proxied.toString(), harness.adminToken);
    app = second.app;
  });
  afterAll(async () => {
    await second.close();
    await capture.close();
  });

  /** A tenant of `n` accounts, each with a manager, in two groups, one of them nested. */
  async function tenantOf(n: number): Promise<string> {
    const slug = `bulk-${n}`;
    const tenant = await harness.services.admin.createTenant(platform, { slug, name: slug, community: 'coi' }, ctx);
    const { resources } = harness.services;
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const enterprise = i > 0 ? { [SCHEMA.enterpriseUser]: { manager: { value: ids[i - 1] } } } : {};
      ids.push((await resources.create(scimCaller(tenant.id), tenant.id, 'User', { userName: `u${i}@${slug}`, ...enterprise }, ctx)).id);
    }
    const members = (list: string[]) => list.map((value) => ({ value }));
    await resources.patch(
      scimCaller(tenant.id),
      tenant.id,
      'User',
      ids[0] as string,
      {
        schemas: [SCHEMA.patchOp],
        Operations: [{ op: 'add', path: `${SCHEMA.enterpriseUser}:manager`, value: { value: ids[n - 1] } }],
      },
      ctx,
    );
    const inner = await resources.create(scimCaller(tenant.id), tenant.id, 'Group', { displayName: 'inner', members: members(ids) }, ctx);
    await resources.create(scimCaller(tenant.id), tenant.id, 'Group', { displayName: 'outer', members: members([inner.id]) }, ctx);
    return slug;
  }

  async function statementsOf(slug: string, n: number): Promise<string[]> {
    const query = `{ accounts(tenant: "${slug}", first: 100) { edges { node { id tenant { slug } manager { id userName } groups { displayName } } } } }`;
    const warm = await answer(harness.adminToken, query, undefined, app);
    expect(warm.errors).toBeUndefined();
    await capture.quiet();
    const since = performance.now();
    const res = await answer(harness.adminToken, query, undefined, app);
    await capture.quiet();
    expect(res.errors).toBeUndefined();
    const edges = res.data?.accounts.edges as { node: { tenant: { slug: string }; manager: { id: string } | null; groups: unknown[] } }[];
    expect(edges).toHaveLength(n);
    expect(edges.every((e) => e.node.tenant.slug === slug && e.node.manager !== null && e.node.groups.length === 2)).toBe(true);
    return capture.since(since);
  }

  it('costs the same small number of statements for 10 and for 100 accounts', async () => {
    const ten = await statementsOf(await tenantOf(10), 10);
    const hundred = await statementsOf(await tenantOf(100), 100);
    // The tenant; count, page and the page's groups; one batch for the managers and theirs (the tenant is already loaded).
    expect(ten.some((sql) => sql.includes('id = any('))).toBe(true);
    expect(hundred.length).toBe(ten.length);
    expect(hundred.length).toBeLessThanOrEqual(20);
  });
});
