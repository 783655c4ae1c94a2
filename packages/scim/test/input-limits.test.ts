import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ATTRIBUTE_LIMITS, DEFAULT_MAX_LENGTH, MAX_VALUES, SCHEMA } from '@meridian/core';
import {
  type AppHarness,
  eventCounts,
  type Json,
  patchOp,
  projectGlobalDirectory,
  scimClient,
  startScimApp,
} from '@meridian/test-utils/apps';

// Issue 12, "Inputs that still answer 500": a userName, externalId, name.familyName or Group displayName of
// about 2,700 characters answered 500 (PostgreSQL's btree index row size); long displayName or emails were
// accepted and then failed the global directory projection on every attempt; a NUL in GraphQL arguments
// answered INTERNAL_SERVER_ERROR; a lone surrogate in externalId was stored as U+FFFD. The limits are defined
// once in core (input-limits.ts) and hold on every write path. These are the SCIM write paths, and the global
// directory projection of what they accept; the GraphQL ones are in packages/graphql/test/input-limits.test.ts.

let hub: AppHarness;
const scim = scimClient(() => hub.app);
const ctx = { actor: { type: 'system' as const, id: 'test' }, requestId: 'input-limits' };
const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
const ENTERPRISE = SCHEMA.enterpriseUser;
let meToken: string;
let userId: string;
let groupId: string;

/** `n` characters of 4 UTF-8 bytes each (CJK Extension B), varied so that PostgreSQL cannot compress them. */
function wide(n: number, seed = 1): string {
  return Array.from({ length: n }, (_, i) => String.fromCodePoint(0x20000 + ((i * 7919 + seed * 104_729) % 0xa6d0))).join('');
}

const tooLong = (field: string, max: number, has: number) => `Attribute '${field}' must be at most ${max} characters long (it has ${has}).`;
const scimInvalid = (detail: string): Json => ({ schemas: [SCHEMA.error], status: '400', scimType: 'invalidValue', detail });

/** Everything a write could leave behind, to prove a refused one wrote nothing. */
async function footprint(): Promise<Json> {
  const [row] = await hub.db.query<Json>(
    `select (select count(*) from scim_user)::int as users, (select count(*) from scim_group)::int as groups,
            (select count(*) from group_member)::int as members, (select count(*) from api_token)::int as tokens,
            (select max(version) from scim_user)::int as version`,
  );
  return { ...row, ...(await eventCounts(hub)) };
}

/** Projects what the writes left into the global directory, as the hub's relay and projector would. */
async function settle(): Promise<void> {
  await projectGlobalDirectory(hub.services, 'coi');
}

beforeAll(async () => {
  hub = await startScimApp();
  const create = async (path: string, body: Json) => {
    const res = await scim('POST', path, { token: hub.tenants.emea.token, body });
    expect(res.status).toBe(201);
    return String(res.body.id);
  };
  await create('/Users', { userName: 'self@example.com' });
  userId = await create('/Users', { userName: 'target@example.com' });
  groupId = await create('/Groups', { displayName: 'target group' });
  meToken = (await hub.services.admin.issueToken(platform, { tenant: 'emea', scopes: ['scim:me'], user: 'self@example.com' }, ctx)).token;
  await hub.services.settings.setSelfServicePolicy(hub.tenants.emea.id, ['nickName', 'name.familyName'], ctx);
});
afterAll(() => hub.close());

/** One SCIM write of `attributes` to a User or Group, by each write path; answers the error body the client gets. */
type WritePath = (kind: 'Users' | 'Groups', attributes: Json) => Promise<{ status: number; body: Json }>;
const send = async (method: 'POST' | 'PUT' | 'PATCH', path: string, body: Json, token = hub.tenants.emea.token) => {
  const res = await scim(method, path, { token, body });
  return { status: res.status, body: res.body };
};
const baseOf = (kind: 'Users' | 'Groups'): Json => (kind === 'Users' ? { userName: 'someone@example.com' } : { displayName: 'some group' });
const idOf = (kind: 'Users' | 'Groups') => (kind === 'Users' ? userId : groupId);
/** A Bulk request of one operation; answers the operation's status and response as if it were the request's. */
const bulk = async (operation: Json) => {
  const res = await scim('POST', '/Bulk', {
    token: hub.tenants.emea.token,
    body: { schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'], Operations: [operation] },
  });
  expect(res.status).toBe(200);
  const [op] = res.body.Operations as Json[];
  return { status: Number(op?.status), body: op?.response as Json };
};
const WRITE_PATHS: [string, WritePath][] = [
  ['POST', (kind, attributes) => send('POST', `/${kind}`, { ...baseOf(kind), ...attributes })],
  ['PUT', (kind, attributes) => send('PUT', `/${kind}/${idOf(kind)}`, { ...baseOf(kind), ...attributes })],
  ['PATCH with a path', (kind, attributes) => send('PATCH', `/${kind}/${idOf(kind)}`, patchOp(...pathOperations(attributes)))],
  ['PATCH without a path', (kind, attributes) => send('PATCH', `/${kind}/${idOf(kind)}`, patchOp({ op: 'replace', value: attributes }))],
  ['Bulk POST', (kind, attributes) => bulk({ method: 'POST', path: `/${kind}`, bulkId: 'b', data: { ...baseOf(kind), ...attributes } })],
  ['Bulk PUT', (kind, attributes) => bulk({ method: 'PUT', path: `/${kind}/${idOf(kind)}`, data: { ...baseOf(kind), ...attributes } })],
  [
    'Bulk PATCH',
    (kind, attributes) => bulk({ method: 'PATCH', path: `/${kind}/${idOf(kind)}`, data: patchOp(...pathOperations(attributes)) }),
  ],
];
const ME_PATHS: [string, WritePath][] = [
  ['PUT /Me', (_kind, attributes) => send('PUT', '/Me', { userName: 'self@example.com', ...attributes }, meToken)],
  ['PATCH /Me', (_kind, attributes) => send('PATCH', '/Me', patchOp(...pathOperations(attributes)), meToken)],
];

/** `{ name: { familyName: v } }` as `replace name.familyName v`, one operation per leaf. */
function pathOperations(attributes: Json, prefix = ''): Json[] {
  return Object.entries(attributes).flatMap(([key, value]) =>
    typeof value === 'object' && value !== null && !Array.isArray(value) && !key.startsWith('urn:')
      ? pathOperations(value as Json, `${prefix}${key}.`)
      : [{ op: 'replace', path: `${prefix}${key}`, value }],
  );
}

describe('regression: about 2,700 characters in an indexed attribute answered 500 (btree index row size)', () => {
  const CASES: ['Users' | 'Groups', Json, string, number][] = [
    ['Users', { userName: wide(2700) }, 'userName', 256],
    ['Users', { externalId: wide(2700) }, 'externalId', 512],
    ['Users', { name: { familyName: wide(2700) } }, 'name.familyName', 256],
    ['Users', { displayName: wide(2700) }, 'displayName', 256],
    ['Users', { emails: [{ value: `${wide(2700)}@example.com`, type: 'work' }] }, 'emails[0].value', 256],
    ['Users', { [ENTERPRISE]: { employeeNumber: wide(2700) } }, `${ENTERPRISE}:employeeNumber`, 256],
    ['Groups', { displayName: wide(2700) }, 'displayName', 256],
    ['Groups', { externalId: wide(2700) }, 'externalId', 512],
  ];
  const table = WRITE_PATHS.flatMap(([how, write]) =>
    CASES.map(([kind, attributes, field, max]) => [how, kind, field, write, attributes, max] as const),
  );

  it.each(table)(
    '%s of %s %s: 400 invalidValue naming the attribute, nothing written',
    async (_how, kind, field, write, attributes, max) => {
      const before = await footprint();
      const has = field.startsWith('emails') ? 2712 : 2700;
      const res = await write(kind, attributes);
      expect(res).toEqual({ status: 400, body: scimInvalid(tooLong(field, max, has)) });
      expect(await footprint()).toEqual(before);
    },
  );

  it.each(ME_PATHS)('%s (self-service): 400 invalidValue before the policy is even asked', async (_how, write) => {
    const before = await footprint();
    expect(await write('Users', { name: { familyName: wide(2700) } })).toEqual({
      status: 400,
      body: scimInvalid(tooLong('name.familyName', 256, 2700)),
    });
    expect(await write('Users', { title: 't'.repeat(300) })).toEqual({ status: 400, body: scimInvalid(tooLong('title', 256, 300)) });
    expect(await footprint()).toEqual(before);
  });

  it('caps multi-valued attributes: 101 emails are refused naming emails', async () => {
    const emails = Array.from({ length: MAX_VALUES + 1 }, (_, i) => ({ value: `e${i}@example.com` }));
    for (const [, write] of WRITE_PATHS) {
      expect(await write('Users', { emails })).toEqual({
        status: 400,
        body: scimInvalid(`Attribute 'emails' has ${MAX_VALUES + 1} values; at most ${MAX_VALUES} are accepted.`),
      });
    }
  });

  it('bounds the attributes of a tenant extension and their sub-attributes by the default of their type', async () => {
    const urn = 'urn:example:params:scim:schemas:extension:limits:2.0:User';
    await hub.services.settings.createExtension(
      hub.tenants.emea.id,
      {
        id: urn,
        name: 'Limits',
        resourceType: 'User',
        attributes: [
          { name: 'badge', type: 'string', uniqueness: 'server' },
          { name: 'desk', type: 'complex', multiValued: true, subAttributes: [{ name: 'room', type: 'string' }] },
        ],
      },
      ctx,
    );
    const body = (values: Json) => ({ schemas: [SCHEMA.user, urn], userName: `ext-${Object.keys(values)[0]}@example.com`, [urn]: values });
    expect((await send('POST', '/Users', body({ badge: wide(DEFAULT_MAX_LENGTH.string) }))).status).toBe(201);
    expect(await send('POST', '/Users', body({ badge: wide(3000) }))).toEqual({
      status: 400,
      body: scimInvalid(tooLong(`${urn}:badge`, 1024, 3000)),
    });
    expect(await send('POST', '/Users', body({ desk: [{ room: 'r' }, { room: wide(1025) }] }))).toEqual({
      status: 400,
      body: scimInvalid(tooLong(`${urn}:desk[1].room`, 1024, 1025)),
    });
  });
});

describe('regression: a lone surrogate in externalId was stored as U+FFFD', () => {
  const detail = "Attribute 'externalId' must be well-formed Unicode: it has an unpaired surrogate (U+D800) at character 4.";
  it.each(WRITE_PATHS.flatMap(([how, write]) => (['Users', 'Groups'] as const).map((kind) => [how, kind, write] as const)))(
    '%s of %s: 400 invalidValue naming externalId, nothing stored',
    async (_how, kind, write) => {
      const before = await footprint();
      expect(await write(kind, { externalId: 'ext\ud800' })).toEqual({ status: 400, body: scimInvalid(detail) });
      expect(await footprint()).toEqual(before);
    },
  );

  it.each(ME_PATHS)('%s: the same answer', async (_how, write) => {
    expect(await write('Users', { externalId: 'ext\ud800' })).toEqual({ status: 400, body: scimInvalid(detail) });
  });

  it('every other attribute follows the same rule, and filters do too', async () => {
    expect(await send('POST', '/Users', { userName: 'u@example.com', nickName: '\udc01nick' })).toEqual({
      status: 400,
      body: scimInvalid("Attribute 'nickName' must be well-formed Unicode: it has an unpaired surrogate (U+DC01) at character 1."),
    });
    const res = await scim('POST', '/Users/.search', { token: hub.tenants.emea.token, body: { filter: 'externalId eq "ext\ud800"' } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      schemas: [SCHEMA.error],
      status: '400',
      scimType: 'invalidFilter',
      detail: 'The string at position 14 must be well-formed Unicode: it has an unpaired surrogate (U+D800) at character 4.',
    });
    const [row] = await hub.db.query<{ n: number }>("select count(*)::int as n from scim_user where external_id like '%\ufffd%'");
    expect(row?.n).toBe(0);
  });
});

describe('the global directory projects whatever the write paths accept', () => {
  it('an account with maximal-length values of every projected attribute appears in people', async () => {
    await hub.services.people.setRules(platform, 'coi', { correlation: ['employeeNumber', 'email', 'externalId', 'userName'] }, ctx);
    const max = (schema: string | undefined, attribute: string) =>
      ATTRIBUTE_LIMITS.find((l) => l.schema === schema && l.attribute === attribute)?.maxLength as number;
    const user = (attribute: string, seed: number) => wide(max(SCHEMA.user, attribute), seed);
    const ext = (attribute: string, seed: number) => wide(max(ENTERPRISE, attribute), seed);
    const body = {
      schemas: [SCHEMA.user, ENTERPRISE],
      userName: user('userName', 2),
      externalId: wide(max(undefined, 'externalId'), 3),
      displayName: user('displayName', 4),
      name: { givenName: user('name.givenName', 5), familyName: user('name.familyName', 6), formatted: user('name.formatted', 7) },
      title: user('title', 8),
      emails: [{ value: user('emails.value', 9), type: 'work', primary: true }],
      phoneNumbers: [{ value: user('phoneNumbers.value', 10), type: 'work' }],
      [ENTERPRISE]: {
        employeeNumber: ext('employeeNumber', 11),
        department: ext('department', 12),
        organization: ext('organization', 13),
        division: ext('division', 14),
        costCenter: ext('costCenter', 15),
        manager: { value: userId },
      },
    };
    const created = await scim('POST', '/Users', { token: hub.tenants.emea.token, body });
    expect(created.status).toBe(201);
    const group = await scim('POST', '/Groups', {
      token: hub.tenants.emea.token,
      body: { displayName: wide(max(SCHEMA.group, 'displayName'), 17), externalId: wide(512, 18), members: [{ value: created.body.id }] },
    });
    expect(group.status).toBe(201);
    await settle();

    const [inbox] = await hub.db.query<{ n: number }>('select count(*)::int as n from directory_inbox');
    expect(inbox?.n).toBe(0);
    const { page } = await hub.services.people.people(platform, { community: 'coi', first: 100, withTotalCount: false });
    const person = page.items.find((p) => p.values.employeeNumber === body[ENTERPRISE].employeeNumber);
    expect(person?.values).toEqual({
      displayName: body.displayName,
      givenName: body.name.givenName,
      familyName: body.name.familyName,
      email: body.emails[0]?.value,
      phoneNumber: body.phoneNumbers[0]?.value,
      title: body.title,
      department: body[ENTERPRISE].department,
      organization: body[ENTERPRISE].organization,
      division: body[ENTERPRISE].division,
      costCenter: body[ENTERPRISE].costCenter,
      employeeNumber: body[ENTERPRISE].employeeNumber,
    });
    const [keys] = await hub.db.query<{ n: number }>('select count(*)::int as n from directory_account_key where user_id = $1', [
      created.body.id,
    ]);
    expect(keys?.n).toBe(4);
    const [membership] = await hub.db.query<{ display_name: string }>(
      'select display_name from directory_account_group where user_id = $1',
      [created.body.id],
    );
    expect(membership?.display_name).toBe(group.body.displayName);
  });

  it('an account stored before the limits, with an oversized value, still projects without that value', async () => {
    const res = await scim('POST', '/Users', { token: hub.tenants.emea.token, body: { userName: 'legacy@example.com', title: 'Legacy' } });
    expect(res.status).toBe(201);
    await hub.db.query(`update scim_user set attributes = jsonb_set(attributes, '{displayName}', to_jsonb($1::text)) where id = $2`, [
      wide(3000, 19),
      res.body.id,
    ]);
    await hub.services.people.rebuild(platform, 'coi');
    await settle();
    const [inbox] = await hub.db.query<{ n: number }>('select count(*)::int as n from directory_inbox');
    expect(inbox?.n).toBe(0);
    const [account] = await hub.services.people.store.accounts(await communityId(), [
      { tenantId: hub.tenants.emea.id, userId: String(res.body.id) },
    ]);
    expect(account?.values).toEqual({ title: 'Legacy' });
  });
});

async function communityId(): Promise<string> {
  const [row] = await hub.db.query<{ id: string }>("select id from community where slug = 'coi'");
  return String(row?.id);
}

describe('docs/scim.md', () => {
  const docs = readFileSync(fileURLToPath(new URL('../../../docs/scim.md', import.meta.url)), 'utf8');
  const section = docs.slice(docs.indexOf('## Limits'));
  const rows = section
    .slice(0, section.indexOf('\n## ', 3) === -1 ? undefined : section.indexOf('\n## ', 3))
    .split('\n')
    .filter((line) => /^\| `/.test(line))
    .map((line) => line.split('|').map((cell) => cell.trim()));

  it('lists every attribute limit of the core, with its resource, as the code defines them', () => {
    const resource = (schema: string | undefined) =>
      schema === undefined ? 'User, Group' : schema === SCHEMA.group ? 'Group' : schema === ENTERPRISE ? 'User (enterprise)' : 'User';
    const documented = rows
      .filter((cells) => /^\d/.test(cells[3]?.replace(/,/g, '') ?? ''))
      .map((cells) => [cells[1]?.replace(/`/g, ''), cells[2], Number(cells[3]?.replace(/,/g, ''))]);
    expect(documented).toEqual(ATTRIBUTE_LIMITS.map((l) => [l.attribute, resource(l.schema), l.maxLength]));
  });

  it('states the defaults and the cap on multi-valued attributes', () => {
    for (const [type, max] of Object.entries(DEFAULT_MAX_LENGTH)) {
      expect(section).toContain(
        `| any other \`${type}\` attribute or sub-attribute | User, Group, extensions | ${max.toLocaleString('en-US')} |`,
      );
    }
    expect(section).toContain(`at most ${MAX_VALUES} values`);
  });
});
