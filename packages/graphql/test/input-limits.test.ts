import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SCHEMA } from '@meridian/core';
import { type AppHarness, eventCounts, gql, type Json, scimClient, startGraphqlApp } from '@meridian/test-utils/apps';

// Issue 12, "Inputs that still answer 500": a userName, externalId, name.familyName or Group displayName of
// about 2,700 characters answered 500 (PostgreSQL's btree index row size); long displayName or emails were
// accepted and then failed the global directory projection on every attempt; a NUL in GraphQL arguments
// answered INTERNAL_SERVER_ERROR; a lone surrogate in externalId was stored as U+FFFD. The limits are defined
// once in core (input-limits.ts) and hold on every write path. These are the GraphQL ones; the SCIM write paths
// are in packages/scim/test/input-limits.test.ts.

let hub: AppHarness;
const scim = scimClient(() => hub.app);
const ctx = { actor: { type: 'system' as const, id: 'test' }, requestId: 'input-limits' };
const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
const ENTERPRISE = SCHEMA.enterpriseUser;
let hr: string;
let meToken: string;
let userId: string;

/** `n` characters of 4 UTF-8 bytes each (CJK Extension B), varied so that PostgreSQL cannot compress them. */
function wide(n: number, seed = 1): string {
  return Array.from({ length: n }, (_, i) => String.fromCodePoint(0x20000 + ((i * 7919 + seed * 104_729) % 0xa6d0))).join('');
}

const tooLong = (field: string, max: number, has: number) => `Attribute '${field}' must be at most ${max} characters long (it has ${has}).`;

/** Everything a write could leave behind, to prove a refused one wrote nothing. */
async function footprint(): Promise<Json> {
  const [row] = await hub.db.query<Json>(
    `select (select count(*) from scim_user)::int as users, (select count(*) from scim_group)::int as groups,
            (select count(*) from group_member)::int as members, (select count(*) from api_token)::int as tokens,
            (select max(version) from scim_user)::int as version`,
  );
  return { ...row, ...(await eventCounts(hub)) };
}

beforeAll(async () => {
  // The accounts the mutations change are created through SCIM, mounted beside GraphQL.
  hub = await startGraphqlApp({ withScim: true });
  hr = (await hub.services.admin.issueToken(platform, { community: 'coi', role: 'hr_provider' }, ctx)).token;
  const create = async (path: string, body: Json) => {
    const res = await scim('POST', path, { token: hub.tenants.emea.token, body });
    expect(res.status).toBe(201);
    return String(res.body.id);
  };
  await create('/Users', { userName: 'self@example.com' });
  userId = await create('/Users', { userName: 'target@example.com' });
  await create('/Groups', { displayName: 'target group' });
  meToken = (await hub.services.admin.issueToken(platform, { tenant: 'emea', scopes: ['scim:me'], user: 'self@example.com' }, ctx)).token;
  await hub.services.settings.setSelfServicePolicy(hub.tenants.emea.id, ['nickName', 'name.familyName'], ctx);
});
afterAll(() => hub.close());

describe('GraphQL writes of accounts and groups follow the same limits, naming the argument', () => {
  const error = (path: string, field: string, message: string) => ({
    status: 200,
    body: { errors: [{ message, path: [path], extensions: { code: 'INVALID_INPUT', field } }], data: null },
  });
  const CREATE = 'mutation($input: AccountInput!) { createAccount(tenant: "emea", input: $input) { id } }';

  it.each([
    ['input.userName', { userName: wide(2700) }, tooLong('userName', 256, 2700)],
    ['input.externalId', { userName: 'j@example.com', externalId: wide(513) }, tooLong('externalId', 512, 513)],
    ['input.familyName', { userName: 'j@example.com', familyName: wide(2700) }, tooLong('name.familyName', 256, 2700)],
    ['input.department', { userName: 'j@example.com', department: wide(257) }, tooLong(`${ENTERPRISE}:department`, 256, 257)],
    ['input.emails', { userName: 'j@example.com', emails: ['a@example.com', wide(300)] }, tooLong('emails[1].value', 256, 300)],
    ['input.phone', { userName: 'j@example.com', phone: '1'.repeat(65) }, tooLong('phoneNumbers[0].value', 64, 65)],
    [
      'input.emails',
      { userName: 'j@example.com', emails: Array.from({ length: 101 }, (_, i) => `e${i}@example.com`) },
      "Attribute 'emails' has 101 values; at most 100 are accepted.",
    ],
  ])('createAccount (joiner): INVALID_INPUT naming %s (%#)', async (field, input, message) => {
    const before = await footprint();
    expect(await gql(hub.app, hr, CREATE, { input })).toEqual(error('createAccount', field, message));
    expect(await footprint()).toEqual(before);
  });

  it('updateAccount, moveAccount and updateMe (movers and self-service)', async () => {
    const before = await footprint();
    const update = 'mutation($id: ID!, $input: AccountChangeInput!) { updateAccount(tenant: "emea", id: $id, input: $input) { id } }';
    expect(await gql(hub.app, hr, update, { id: userId, input: { familyName: wide(2700) } })).toEqual(
      error('updateAccount', 'input.familyName', tooLong('name.familyName', 256, 2700)),
    );
    const move = 'mutation($id: ID!, $t: String) { moveAccount(tenant: "emea", id: $id, title: $t) { id } }';
    expect(await gql(hub.app, hr, move, { id: userId, t: 'T'.repeat(257) })).toEqual(
      error('moveAccount', 'title', tooLong('title', 256, 257)),
    );
    const me = 'mutation($input: MeInput!) { updateMe(input: $input) { id } }';
    expect(await gql(hub.app, meToken, me, { input: { nickName: wide(257) } })).toEqual(
      error('updateMe', 'input.nickName', tooLong('nickName', 256, 257)),
    );
    expect(await footprint()).toEqual(before);
  });

  it('createGroup', async () => {
    const create = 'mutation($d: String!, $e: String) { createGroup(tenant: "emea", displayName: $d, externalId: $e) { id } }';
    expect(await gql(hub.app, hr, create, { d: wide(2700) })).toEqual(
      error('createGroup', 'displayName', tooLong('displayName', 256, 2700)),
    );
    expect(await gql(hub.app, hr, create, { d: 'ok group', e: wide(600) })).toEqual(
      error('createGroup', 'externalId', tooLong('externalId', 512, 600)),
    );
  });
});

describe('regression: a NUL in a GraphQL argument answered INTERNAL_SERVER_ERROR', () => {
  const NUL = 'must not contain the NUL character (U+0000)';
  const LONE = (hex: string, at: number) => `must be well-formed Unicode: it has an unpaired surrogate (U+${hex}) at character ${at}`;
  const refused = (field: string, problem: string) => ({
    status: 400,
    body: { errors: [{ message: `Argument '${field}' ${problem}.`, extensions: { code: 'INVALID_INPUT', field } }] },
  });
  const CASES: [string, string, Record<string, unknown> | undefined, string, string][] = [
    ['tenant (literal)', '{ tenant(slug: "emea\\u0000") { id } }', undefined, 'slug', NUL],
    ['tenant (variable)', 'query($s: String!) { tenant(slug: $s) { id } }', { s: 'emea\u0000' }, 'slug', NUL],
    ['tenant (variable default)', 'query($s: String! = "\\u0000") { tenant(slug: $s) { id } }', undefined, 'slug', NUL],
    [
      'accounts filter (input object)',
      '{ accounts(tenant: "emea", filter: { userName: "a\\u0000" }) { totalCount } }',
      undefined,
      'filter.userName',
      NUL,
    ],
    [
      'accounts filter (variable of an input object)',
      'query($f: AccountFilter) { accounts(tenant: "emea", filter: $f) { totalCount } }',
      { f: { department: 'd\ud800' } },
      'filter.department',
      LONE('D800', 2),
    ],
    [
      'accounts scimFilter',
      'query($q: String) { accounts(tenant: "emea", scimFilter: $q) { totalCount } }',
      { q: 'userName eq "\u0000"' },
      'scimFilter',
      NUL,
    ],
    ['auditEvents filter', '{ auditEvents(tenant: "emea", action: "user.created\\u0000") { totalCount } }', undefined, 'action', NUL],
    [
      'auditEvents DateTimeISO (custom scalar)',
      'query($s: DateTimeISO) { auditEvents(tenant: "emea", since: $s) { totalCount } }',
      { s: '2026\u0000' },
      'since',
      NUL,
    ],
    ['createToken', 'mutation { createToken(tenant: "emea", name: "n\\u0000", scopes: ["scim:read"]) { token } }', undefined, 'name', NUL],
    [
      'createToken (list)',
      'mutation($s: [String!]) { createToken(tenant: "emea", scopes: $s) { token } }',
      { s: ['scim:read', 'scim:write\udfff'] },
      'scopes[1]',
      LONE('DFFF', 11),
    ],
    [
      'addGroupMembers (list of IDs)',
      'mutation($m: ID!) { addGroupMembers(tenant: "emea", group: "g", members: ["x", $m]) { id } }',
      { m: '\u0000' },
      'members[1]',
      NUL,
    ],
    [
      'createAccount (nested list in an input)',
      'mutation($i: AccountInput!) { createAccount(tenant: "emea", input: $i) { id } }',
      { i: { userName: 'ok@example.com', emails: ['a@example.com', 'b\u0000@example.com'] } },
      'input.emails[1]',
      NUL,
    ],
    [
      'createAccount externalId (lone surrogate)',
      'mutation($i: AccountInput!) { createAccount(tenant: "emea", input: $i) { id } }',
      { i: { userName: 'ok@example.com', externalId: 'ext\ud800' } },
      'input.externalId',
      LONE('D800', 4),
    ],
    [
      'createDirectoryExport (JSONObject value)',
      'mutation($c: JSONObject) { createDirectoryExport(community: "coi", input: { name: "x", kind: "scim", config: $c }) { name } }',
      { c: { baseUrl: 'https://x.example/\ud800' } },
      'input.config.baseUrl',
      LONE('D800', 19),
    ],
    [
      'createDirectoryExport (JSONObject literal)',
      'mutation { createDirectoryExport(community: "coi", input: { name: "x", kind: "scim", config: { nested: ["\\u0000"] } }) { name } }',
      undefined,
      'input.config.nested[0]',
      NUL,
    ],
  ];

  it.each(CASES)('%s: 400 INVALID_INPUT naming the argument, before any resolver', async (_what, query, variables, field, problem) => {
    const before = await footprint();
    for (const token of [hub.adminToken, hr]) {
      expect(await gql(hub.app, token, query, variables)).toEqual(refused(field, problem));
    }
    expect(await footprint()).toEqual(before);
  });

  it('a JSON key counts as a string too', async () => {
    const query =
      'mutation($c: JSONObject) { createDirectoryExport(community: "coi", input: { name: "x", kind: "scim", config: $c }) { name } }';
    expect(await gql(hub.app, hub.adminToken, query, { c: { 'base\u0000': 'x' } })).toEqual(refused('input.config.base\u0000', NUL));
  });

  it('the hub keeps answering afterwards (a NUL used to break the database connection)', async () => {
    for (let i = 0; i < 3; i++) await gql(hub.app, hub.adminToken, '{ tenant(slug: "\\u0000") { id } }');
    expect(await gql(hub.app, hub.adminToken, '{ tenant(slug: "emea") { slug } }')).toEqual({
      status: 200,
      body: { data: { tenant: { slug: 'emea' } } },
    });
  });
});
