import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { maxLengthOf, parseSchemaExtension, type ResourceShape, resourceShapes, SCHEMA, shapeWithExtensions } from '@meridian/core';
import { buildMeridianSchema } from '@meridian/graphql';
import fc from 'fast-check';
import {
  type GraphQLInputType,
  type GraphQLObjectType,
  type GraphQLSchema,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  Kind,
  type OperationDefinitionNode,
  parse,
} from 'graphql';
import { type HubHarness, startHub } from './harness.js';

// Issue 4: bad input gets a clear 4xx, never a 500, and writes nothing.
// Random and mutated input against the real hub: SCIM filters, PATCH paths
// and values, JSON bodies, Bulk, GraphQL and headers. Runs are bounded so the
// file stays fast; MERIDIAN_FUZZ_RUNS scales them and MERIDIAN_FUZZ_SEED replays
// a failure (fast-check prints the seed and the shrunk counterexample).

let hub: HubHarness;
// Built before any arbitrary runs (beforeAll); arbitraries read it lazily.
let graphqlSchema: GraphQLSchema;
const scale = Number(process.env.MERIDIAN_FUZZ_RUNS ?? '1') || 1;
const seed = process.env.MERIDIAN_FUZZ_SEED === undefined ? undefined : Number(process.env.MERIDIAN_FUZZ_SEED);
const runs = (n: number) => ({ numRuns: Math.max(1, Math.round(n * scale)), ...(seed === undefined ? {} : { seed }) });

type Json = Record<string, unknown>;

/** Statuses seen per property; MERIDIAN_FUZZ_STATS=1 prints them, to see how much of the input got past validation. */
const stats = new Map<string, Map<number, number>>();
function count(property: string, status: number): void {
  const seen = stats.get(property) ?? new Map<number, number>();
  seen.set(status, (seen.get(status) ?? 0) + 1);
  stats.set(property, seen);
}
interface Reply {
  status: number;
  headers: Record<string, unknown>;
  text: string;
  json: unknown;
}

const BULK_REQUEST = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
const EXTENSION = SCHEMA.enterpriseUser;
const target: { userId: string; groupId: string; memberId: string } = { userId: '', groupId: '', memberId: '' };
let serial = 0;

async function send(
  method: string,
  url: string,
  options: { body?: string; headers?: Record<string, string>; token?: string | null; remoteAddress?: string } = {},
): Promise<Reply> {
  const token = options.token === undefined ? hub.tenants.emea.token : options.token;
  const res = await hub.app.inject({
    method: method as 'GET',
    url,
    ...(options.remoteAddress ? { remoteAddress: options.remoteAddress } : {}),
    headers: {
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      ...(options.body !== undefined ? { 'content-type': 'application/scim+json' } : {}),
      ...options.headers,
    },
    ...(options.body !== undefined ? { payload: options.body } : {}),
  });
  let json: unknown;
  try {
    json = res.body ? JSON.parse(res.body) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text: res.body, json };
}

/** Everything a SCIM or GraphQL write could touch: row contents, not just counts. */
async function snapshot(): Promise<Record<string, string>> {
  const [row] = await hub.db.query<Record<string, string>>(
    `select (select md5(coalesce(string_agg(t::text, '|' order by t.id), '')) from scim_user t) as users,
            (select md5(coalesce(string_agg(t::text, '|' order by t.id), '')) from scim_group t) as groups,
            (select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) from group_member t) as members,
            (select count(*) from tenant)::text as tenants,
            (select count(*) from api_token)::text as tokens,
            (select count(*) from outbox_event)::text as outbox,
            -- Failed authentications may be audited; they are not writes of the request's own.
            (select count(*) from audit_event where action <> 'auth.failed')::text as audit`,
  );
  return row ?? {};
}

/** A SCIM error body (RFC 7644 §3.12) with the response's status as a string. */
function expectScimError(res: Reply): void {
  const body = res.json as Json;
  expect(res.headers['content-type']).toBe('application/scim+json; charset=utf-8');
  expect(body).toEqual(expect.objectContaining({ schemas: [SCHEMA.error], status: String(res.status), detail: expect.any(String) }));
  expect((body.detail as string).length).toBeGreaterThan(0);
}

/** Never a 5xx; a 4xx carries a SCIM error and writes nothing; a GET never writes. */
async function checkScim(res: Reply, before: Record<string, string>, method: string): Promise<void> {
  if (res.status >= 500) throw new Error(`${res.status}: ${res.text}`);
  expect(res.status).toBeGreaterThanOrEqual(200);
  if (res.status >= 400) {
    expectScimError(res);
    expect(await snapshot()).toEqual(before);
  } else if (method === 'GET') {
    expect(await snapshot()).toEqual(before);
  }
}

// ---------------------------------------------------------------- arbitraries

const ATTRIBUTES = [
  'userName',
  'USERNAME',
  'id',
  'externalId',
  'displayName',
  'nickName',
  'title',
  'active',
  'password',
  'name',
  'name.givenName',
  'name.familyName',
  'name.formatted',
  'emails',
  'emails.value',
  'emails.type',
  'emails.primary',
  'phoneNumbers.value',
  'addresses.postalCode',
  'x509Certificates.value',
  'groups',
  'groups.value',
  'members',
  'members.value',
  'members.type',
  'meta.created',
  'meta.lastModified',
  'meta.version',
  'meta.resourceType',
  'manager',
  'employeeNumber',
  `${EXTENSION}:employeeNumber`,
  `${EXTENSION}:manager`,
  `${EXTENSION}:manager.value`,
  `${SCHEMA.user}:userName`,
  `${SCHEMA.user}:name.givenName`,
  'urn:example:unknown:2.0:User:foo',
  'unknownAttr',
  'name.givenName.extra',
  '$ref',
  'a-b',
  '_x',
];
const attribute = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...ATTRIBUTES) },
  { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 12 }) },
);
const COMPARE = ['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le', 'EQ', 'Gt', 'xx'];
const literal = fc.oneof(
  fc.string({ maxLength: 12 }).map((s) => JSON.stringify(s)),
  fc.string({ unit: 'binary', maxLength: 8 }).map((s) => JSON.stringify(s)),
  fc.constantFrom('"\\u0000"', '"a\\u0000b"', '"\\ud800"', '"%"', '"_"', '"\\\\"', '"2026-01-01T00:00:00Z"', '"not-a-date"', '""'),
  fc.integer().map(String),
  fc.double({ noNaN: true }).map((d) => (Number.isFinite(d) ? String(d) : '1e400')),
  fc.constantFrom('true', 'false', 'null', 'True', '1e309', '-0', '99999999999999999999999', '0.5', 'bareword'),
  fc.uuid().map((u) => JSON.stringify(u)),
);

const filter: fc.Arbitrary<string> = fc.letrec<{ expr: string }>((tie) => ({
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.tuple(attribute, fc.constantFrom(...COMPARE), literal).map(([a, op, v]) => `${a} ${op} ${v}`),
    attribute.map((a) => `${a} pr`),
    fc.tuple(tie('expr'), fc.constantFrom('and', 'or', 'AND', 'Or'), tie('expr')).map(([l, op, r]) => `${l} ${op} ${r}`),
    tie('expr').map((e) => `(${e})`),
    tie('expr').map((e) => `not (${e})`),
    fc
      .tuple(fc.constantFrom('emails', 'members', 'groups', 'phoneNumbers', 'name', 'addresses', `${EXTENSION}:manager`), tie('expr'))
      .map(([a, e]) => `${a}[${e}]`),
    fc
      .tuple(fc.constantFrom('emails', 'members'), tie('expr'), fc.constantFrom('value', 'type', 'display'), literal)
      .map(([a, e, sub, v]) => `${a}[${e}].${sub} eq ${v}`),
  ),
})).expr;

/** Random edits of a string: the "almost valid" inputs parsers trip on. */
const mutated = (base: fc.Arbitrary<string>) =>
  fc
    .tuple(base, fc.array(fc.tuple(fc.nat(), fc.nat(3), fc.string({ unit: 'binary-ascii', maxLength: 3 })), { minLength: 1, maxLength: 4 }))
    .map(([text, edits]) => {
      let out = text;
      for (const [at, kind, insert] of edits) {
        const i = out.length === 0 ? 0 : at % out.length;
        if (kind === 0) out = out.slice(0, i) + out.slice(i + 1);
        else if (kind === 1) out = out.slice(0, i) + insert + out.slice(i);
        else if (kind === 2) out = out.slice(0, i);
        else out = out.slice(0, i) + out.slice(i).split('').reverse().join('');
      }
      return out;
    });

const anyFilter = fc.oneof(
  { weight: 4, arbitrary: filter },
  { weight: 3, arbitrary: mutated(filter) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      `${'('.repeat(200)}userName pr${')'.repeat(200)}`,
      `emails[${'('.repeat(40)}type eq "work"${')'.repeat(40)}]`,
      Array.from({ length: 300 }, (_, i) => `userName eq "u${i}"`).join(' or '),
      'x'.repeat(5000),
      `userName eq "${'a'.repeat(4100)}"`,
      'not not (userName pr)',
      'emails[value co "@"] and emails[type eq "work"]',
    ),
  },
);

const jsonish = fc.jsonValue({ maxDepth: 3 });
const weirdJson = fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' });

const listParams = fc.record(
  {
    filter: anyFilter,
    sortBy: fc.oneof(attribute, fc.string({ maxLength: 10 })),
    sortOrder: fc.constantFrom('ascending', 'descending', 'DESC', '', 'sideways'),
    startIndex: fc.oneof(
      fc.integer({ min: -5, max: 10 }).map(String),
      fc.constantFrom('0', '1e3', 'abc', '', '99999999999999999999', '1.5'),
    ),
    count: fc.oneof(fc.integer({ min: -5, max: 300 }).map(String), fc.constantFrom('abc', '', '1e9', '-0')),
    cursor: fc.oneof(fc.constant(''), fc.string({ maxLength: 20 }), fc.base64String({ maxLength: 40 })),
    attributes: fc.oneof(
      fc.array(attribute, { maxLength: 3 }).map((a) => a.join(',')),
      fc.string({ maxLength: 10 }),
    ),
    excludedAttributes: fc.oneof(
      fc.array(attribute, { maxLength: 3 }).map((a) => a.join(',')),
      fc.string({ maxLength: 10 }),
    ),
  },
  { requiredKeys: [] },
);

const patchPath = fc.oneof(
  { weight: 5, arbitrary: attribute },
  {
    weight: 3,
    arbitrary: fc.tuple(fc.constantFrom('emails', 'members', 'phoneNumbers', 'addresses', 'groups'), filter).map(([a, f]) => `${a}[${f}]`),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom('emails', 'members', 'phoneNumbers'), filter, fc.constantFrom('value', 'type', 'primary', 'display', 'x'))
      .map(([a, f, s]) => `${a}[${f}].${s}`),
  },
  { weight: 2, arbitrary: mutated(fc.constantFrom('emails[type eq "work"].value', 'members[value eq "x"]', `${EXTENSION}:manager.value`)) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
);
const patchValue = fc.oneof(
  jsonish,
  weirdJson,
  fc.array(
    fc.record(
      { value: fc.oneof(fc.string(), fc.uuid(), jsonish), type: fc.oneof(fc.string(), jsonish), primary: fc.oneof(fc.boolean(), jsonish) },
      { requiredKeys: [] },
    ),
    { maxLength: 3 },
  ),
  fc.record(
    { givenName: jsonish, familyName: jsonish, [`${EXTENSION}:employeeNumber`]: jsonish, userName: jsonish, active: jsonish },
    { requiredKeys: [] },
  ),
  fc.constant([{ value: 'MEMBER' }]),
);
const operation = fc.record(
  {
    op: fc.oneof(fc.constantFrom('add', 'replace', 'remove', 'Add', 'REPLACE', 'Remove'), fc.string({ maxLength: 8 }), jsonish),
    path: fc.oneof({ weight: 6, arbitrary: patchPath }, { weight: 1, arbitrary: jsonish }),
    value: patchValue,
  },
  { requiredKeys: [] },
);
const patchBody = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.array(operation, { minLength: 0, maxLength: 4 }).map((Operations) => ({ schemas: [SCHEMA.patchOp], Operations })),
  },
  { weight: 1, arbitrary: fc.record({ schemas: jsonish, Operations: jsonish }, { requiredKeys: [] }) },
  { weight: 1, arbitrary: jsonish },
);

/** Bodies that look like Users or Groups, with any field possibly of the wrong type. */
const resourceBody = fc.record(
  {
    schemas: fc.oneof(
      fc.constant([SCHEMA.user]),
      fc.constant([SCHEMA.group]),
      fc.constant([SCHEMA.user, EXTENSION]),
      fc.array(fc.string(), { maxLength: 2 }),
      jsonish,
    ),
    userName: fc.oneof(
      { weight: 4, arbitrary: fc.string({ minLength: 1, maxLength: 12 }).map((s) => `fuzz-${serial++}-${s}`) },
      { weight: 1, arbitrary: weirdJson },
    ),
    displayName: fc.oneof(
      fc.string({ minLength: 1, maxLength: 12 }).map((s) => `fuzz-${serial++}-${s}`),
      weirdJson,
    ),
    name: fc.oneof(fc.record({ givenName: weirdJson, familyName: weirdJson, formatted: jsonish }, { requiredKeys: [] }), jsonish),
    emails: fc.oneof(
      fc.array(
        fc.record(
          { value: fc.oneof(fc.emailAddress(), weirdJson), type: jsonish, primary: fc.oneof(fc.boolean(), jsonish) },
          { requiredKeys: [] },
        ),
        {
          maxLength: 3,
        },
      ),
      jsonish,
    ),
    active: fc.oneof(fc.boolean(), jsonish),
    password: fc.oneof(fc.string({ maxLength: 20 }), jsonish),
    externalId: fc.oneof(fc.string({ maxLength: 12 }), weirdJson),
    members: fc.oneof(
      fc.array(
        fc.record(
          {
            value: fc.oneof(fc.constant('MEMBER'), fc.uuid(), weirdJson),
            type: fc.oneof(fc.constantFrom('User', 'Group', 'Other'), jsonish),
          },
          { requiredKeys: [] },
        ),
        {
          maxLength: 3,
        },
      ),
      jsonish,
    ),
    [EXTENSION]: fc.oneof(
      fc.record({ employeeNumber: weirdJson, manager: fc.oneof(fc.record({ value: jsonish }), jsonish) }, { requiredKeys: [] }),
      jsonish,
    ),
    id: jsonish,
    meta: jsonish,
    groups: jsonish,
    phoneNumbers: jsonish,
    'urn:example:unknown:2.0:User': jsonish,
  },
  { requiredKeys: [] },
);

/** Bodies that are not JSON objects at all, or JSON that strains parsers. */
const rawBody = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 30 }),
  weirdJson.map((v) => JSON.stringify(v)),
  fc.constantFrom(
    '',
    '{',
    'null',
    '[]',
    '"x"',
    '1e400',
    '{"userName": "a\\u0000b"}',
    '{"userName": "\\ud800"}',
    '{"displayName": "g\\u0000"}',
    '{"__proto__": {"admin": true}, "userName": "proto"}',
    '{"constructor": {"prototype": {"x": 1}}, "userName": "ctor"}',
    `{"userName": "deep", "name": ${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}}`,
    `${'['.repeat(10000)}${']'.repeat(10000)}`,
    `{"userName": "${'x'.repeat(70_000)}"}`,
    '{"userName": "dup", "userName": "dup2"}',
  ),
);

const bulkOperation = fc.record(
  {
    method: fc.oneof(fc.constantFrom('POST', 'PUT', 'PATCH', 'DELETE', 'post', 'GET'), jsonish),
    path: fc.oneof(
      fc.constantFrom('/Users', '/Groups', '/Users/USER', '/Groups/GROUP', '/Users/bulkId:b1', '/Groups/bulkId:b2', '/Me', '/Bulk', ''),
      fc.string({ maxLength: 12 }),
      jsonish,
    ),
    bulkId: fc.oneof(fc.constantFrom('b1', 'b2', 'b3'), fc.string({ maxLength: 6 }), jsonish),
    version: fc.oneof(fc.constantFrom('W/"1"', 'W/"x"', '*'), jsonish),
    data: fc.oneof(resourceBody, patchBody, jsonish),
  },
  { requiredKeys: [] },
);
const bulkBody = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record(
      {
        schemas: fc.constant([BULK_REQUEST]),
        failOnErrors: fc.oneof(fc.integer({ min: -1, max: 3 }), jsonish),
        Operations: fc.array(bulkOperation, { maxLength: 5 }),
      },
      { requiredKeys: ['schemas', 'Operations'] },
    ),
  },
  { weight: 1, arbitrary: fc.record({ schemas: jsonish, Operations: jsonish, failOnErrors: jsonish }, { requiredKeys: [] }) },
);

// Well-typed input gets past validation and exercises what lies behind it
// (SQL, PATCH application, writes); the hostile generators above test the edges.

const text = fc.string({ minLength: 1, maxLength: 10 });
const quoted = fc.oneof(text, fc.constantFrom('fuzz', 'target@example.com', '%_\\', 'Target', '')).map((t) => JSON.stringify(t));
const isoDate = fc
  .date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true })
  .map((d) => JSON.stringify(d.toISOString()));
const TYPED_ATTRIBUTES: [string, fc.Arbitrary<string>][] = [
  ['userName', quoted],
  ['displayName', quoted],
  ['externalId', quoted],
  ['name.givenName', quoted],
  ['name.familyName', quoted],
  ['title', quoted],
  ['emails.value', quoted],
  ['emails.type', fc.constantFrom('"work"', '"home"')],
  ['emails', quoted],
  ['active', fc.constantFrom('true', 'false')],
  ['meta.created', isoDate],
  ['meta.lastModified', isoDate],
  ['id', fc.uuid().map((u) => JSON.stringify(u))],
  [`${EXTENSION}:employeeNumber`, quoted],
  [`${EXTENSION}:manager.value`, fc.uuid().map((u) => JSON.stringify(u))],
  ['members.value', fc.constantFrom('"MEMBER"', '"USER"')],
];
const typedComparison = fc
  .nat(TYPED_ATTRIBUTES.length - 1)
  .chain((i) => {
    const [name, value] = TYPED_ATTRIBUTES[i] as [string, fc.Arbitrary<string>];
    return fc.tuple(fc.constant(name), fc.constantFrom('eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le', 'pr'), value);
  })
  .map(([name, op, value]) => (op === 'pr' ? `${name} pr` : `${name} ${op} ${value}`));
const typedFilter: fc.Arbitrary<string> = fc.letrec<{ expr: string }>((tie) => ({
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    typedComparison,
    typedComparison,
    fc.tuple(tie('expr'), fc.constantFrom('and', 'or'), tie('expr')).map(([l, op, r]) => `${l} ${op} ${r}`),
    tie('expr').map((e) => `not (${e})`),
    fc.tuple(fc.constantFrom('"work"', '"home"'), quoted).map(([t, v]) => `emails[type eq ${t} and value co ${v}]`),
  ),
})).expr;
const typedListParams = fc.record(
  {
    filter: typedFilter,
    sortBy: fc.constantFrom('userName', 'displayName', 'meta.created', 'name.familyName', 'emails.value', 'externalId'),
    sortOrder: fc.constantFrom('ascending', 'descending'),
    startIndex: fc.integer({ min: 1, max: 5 }).map(String),
    count: fc.integer({ min: 0, max: 20 }).map(String),
    attributes: fc.constantFrom('userName', 'displayName,members', 'emails.value', `${EXTENSION}:employeeNumber`, 'groups'),
  },
  { requiredKeys: [] },
);

const email = fc.emailAddress();
const replaceOrAdd = fc.constantFrom('add', 'replace', 'Replace');
const userOperation = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: replaceOrAdd,
      path: fc.constantFrom(
        'displayName',
        'nickName',
        'title',
        'name.givenName',
        'name.familyName',
        'externalId',
        `${EXTENSION}:employeeNumber`,
        `${EXTENSION}:department`,
      ),
      value: text,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: replaceOrAdd,
      path: fc.constant('active'),
      value: fc.oneof(fc.boolean(), fc.constantFrom('True', 'False')),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: replaceOrAdd,
      path: fc.constant('emails'),
      value: fc.array(fc.record({ value: email, type: fc.constantFrom('work', 'home'), primary: fc.boolean() }), { maxLength: 2 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: replaceOrAdd,
      path: fc.constantFrom('emails[type eq "work"].value', 'emails[primary eq true].value', 'emails[type eq "work"]'),
      value: email,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('remove'),
      path: fc.constantFrom(
        'emails[type eq "home"]',
        'nickName',
        'title',
        'name.givenName',
        `${EXTENSION}:manager`,
        'phoneNumbers',
        'emails[value co "x"]',
        'emails',
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: replaceOrAdd,
      value: fc.record(
        { displayName: text, nickName: text, active: fc.boolean(), name: fc.record({ givenName: text }, { requiredKeys: [] }) },
        { requiredKeys: [] },
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: replaceOrAdd,
      path: fc.constant(`${EXTENSION}:manager`),
      value: fc.constantFrom({ value: 'MEMBER' }, 'MEMBER'),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('replace'), path: fc.constant('password'), value: text }) },
);
const groupOperation = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('replace'), path: fc.constant('displayName'), value: text.map((t) => `fuzz-g-${t}`) }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('add'),
      path: fc.constant('members'),
      value: fc.constantFrom([{ value: 'MEMBER' }], [{ value: 'USER' }], [{ value: 'MEMBER' }, { value: 'USER' }]),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('remove'),
      path: fc.constantFrom('members[value eq "MEMBER"]', 'members[value eq "USER"]', 'members', 'members[type eq "User"]'),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('replace'), path: fc.constant('members'), value: fc.constantFrom([{ value: 'MEMBER' }], []) }),
  },
  { weight: 1, arbitrary: fc.record({ op: replaceOrAdd, path: fc.constant('externalId'), value: text }) },
);
const typedPatchBody = (endpoint: 'Users' | 'Groups') =>
  fc
    .array(fc.oneof({ weight: 5, arbitrary: endpoint === 'Users' ? userOperation : groupOperation }, { weight: 1, arbitrary: operation }), {
      minLength: 1,
      maxLength: 3,
    })
    .map((Operations) => ({ schemas: [SCHEMA.patchOp], Operations }));

const uniqueName = text.map((t) => `fuzz-${serial++}-${t}`);
const validUser = fc.record(
  {
    schemas: fc.constant([SCHEMA.user, EXTENSION]),
    userName: uniqueName,
    name: fc.record({ givenName: text, familyName: text }, { requiredKeys: [] }),
    displayName: text,
    active: fc.boolean(),
    emails: fc.array(fc.record({ value: email, type: fc.constantFrom('work', 'home'), primary: fc.boolean() }), { maxLength: 2 }),
    [EXTENSION]: fc.record({ employeeNumber: text, department: text, manager: fc.constant({ value: 'MEMBER' }) }, { requiredKeys: [] }),
    externalId: text,
  },
  { requiredKeys: ['schemas', 'userName'] },
);
const validGroup = fc.record(
  {
    schemas: fc.constant([SCHEMA.group]),
    displayName: uniqueName,
    members: fc.constantFrom([], [{ value: 'MEMBER' }], [{ value: 'USER' }, { value: 'MEMBER', type: 'User' }]),
    externalId: text,
  },
  { requiredKeys: ['schemas', 'displayName'] },
);
const validBulkOperation = fc.oneof(
  fc.record({ method: fc.constant('POST'), path: fc.constant('/Users'), bulkId: fc.constantFrom('b1', 'b2'), data: validUser }),
  fc.record({
    method: fc.constant('POST'),
    path: fc.constant('/Groups'),
    bulkId: fc.constant('b3'),
    data: validGroup.map((g) => ({ ...g, members: [{ value: 'bulkId:b1' }] })),
  }),
  fc.record({ method: fc.constant('PATCH'), path: fc.constantFrom('/Users/USER', '/Users/bulkId:b1'), data: typedPatchBody('Users') }),
  fc.record({ method: fc.constant('PATCH'), path: fc.constant('/Groups/GROUP'), data: typedPatchBody('Groups') }),
  fc.record({ method: fc.constant('PUT'), path: fc.constant('/Users/bulkId:b2'), data: validUser }),
  fc.record({ method: fc.constant('DELETE'), path: fc.constantFrom('/Users/bulkId:b1', '/Users/bulkId:b2', '/Groups/bulkId:b3') }),
);
const validBulkBody = fc.record(
  {
    schemas: fc.constant([BULK_REQUEST]),
    failOnErrors: fc.constantFrom(1, 2),
    Operations: fc.array(fc.oneof({ weight: 4, arbitrary: validBulkOperation }, { weight: 1, arbitrary: bulkOperation }), {
      minLength: 1,
      maxLength: 5,
    }),
  },
  { requiredKeys: ['schemas', 'Operations'] },
);

/** URL-encodes text; lone surrogates (not representable in UTF-8) become U+FFFD as a browser would send them. */
function encode(text: string): string {
  return encodeURIComponent(text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd'));
}

/** Query strings no encoder produces: broken escapes, NUL, repeated and bracketed parameters. */
const rawQuery = fc.constantFrom(
  'filter=%ff',
  'filter=%',
  'filter=%E0%A4%A',
  'filter=userName%20eq%20%22%00%22',
  'filter=userName%20eq%20%22a%22&filter=userName%20pr',
  'count=1&count=2',
  'attributes[]=userName',
  'filter[userName]=x',
  'sortBy=userName&sortBy=id',
  'startIndex=%00',
  'excludedAttributes=%00',
  'cursor=%00',
  'attributes=userName&attributes=id',
);

/** Puts the seeded resources' ids where a generator left a placeholder. */
function resolve(text: string): string {
  return text.replaceAll('MEMBER', target.memberId).replaceAll('USER', target.userId).replaceAll('GROUP', target.groupId);
}

// ---------------------------------------------------------------- setup

beforeAll(async () => {
  hub = await startHub();
  graphqlSchema = await buildMeridianSchema();
  const create = async (path: string, body: Json) => {
    const res = await send('POST', `/scim/v2${path}`, { body: JSON.stringify(body) });
    expect(res.status).toBe(201);
    return (res.json as Json).id as string;
  };
  target.memberId = await create('/Users', { userName: 'fuzz-member', emails: [{ value: 'member@example.com', type: 'work' }] });
  target.userId = await create('/Users', {
    userName: 'fuzz-target',
    name: { givenName: 'Fuzz', familyName: 'Target' },
    emails: [{ value: 'target@example.com', type: 'work', primary: true }],
    [EXTENSION]: { employeeNumber: '1', manager: { value: target.memberId } },
    schemas: [SCHEMA.user, EXTENSION],
  });
  target.groupId = await create('/Groups', { displayName: 'fuzz-group', members: [{ value: target.memberId }] });
});
afterAll(async () => {
  if (process.env.MERIDIAN_FUZZ_STATS) {
    for (const [property, seen] of stats) console.log(property, Object.fromEntries([...seen].sort(([a], [b]) => a - b)));
  }
  await hub.close();
});

// ---------------------------------------------------------------- properties

describe('fuzzing the SCIM endpoints', () => {
  it('lists with random and mutated filters, sorting and paging answer 200 or a SCIM 400, and write nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('Users', 'Groups'),
        fc.oneof({ weight: 3, arbitrary: typedListParams }, { weight: 2, arbitrary: listParams }),
        fc.nat(9),
        rawQuery,
        async (endpoint, params: Record<string, string | undefined>, how, raw) => {
          const before = await snapshot();
          const viaSearch = how < 3;
          const res =
            how === 9
              ? await send('GET', `/scim/v2/${endpoint}?${raw}`)
              : viaSearch
                ? await send('POST', `/scim/v2/${endpoint}/.search`, {
                    body: JSON.stringify({
                      schemas: [SCHEMA.searchRequest],
                      ...params,
                      ...(params.count !== undefined ? { count: Number(params.count) } : {}),
                    }),
                  })
                : await send(
                    'GET',
                    `/scim/v2/${endpoint}?${Object.entries(params)
                      .map(([k, v]) => `${k}=${encode(v as string)}`)
                      .join('&')}`,
                  );
          count('list', res.status);
          await checkScim(res, before, 'GET');
        },
      ),
      runs(200),
    );
  });

  it('PATCH with random operation lists, paths and values answers 2xx or a SCIM 4xx, and a 4xx writes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .constantFrom('Users' as const, 'Groups' as const)
          .chain((endpoint) =>
            fc.tuple(
              fc.constant(endpoint),
              fc.oneof({ weight: 3, arbitrary: typedPatchBody(endpoint) }, { weight: 1, arbitrary: patchBody }),
            ),
          ),
        async ([endpoint, body]) => {
          const before = await snapshot();
          const id = endpoint === 'Users' ? target.userId : target.groupId;
          const res = await send('PATCH', `/scim/v2/${endpoint}/${id}`, { body: resolve(JSON.stringify(body)) });
          count(`patch ${endpoint}`, res.status);
          await checkScim(res, before, 'PATCH');
        },
      ),
      runs(200),
    );
  });

  it('POST and PUT of random resources and raw bodies answer 2xx or a SCIM 4xx, and a 4xx writes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('POST', 'PUT'),
        fc
          .constantFrom('Users' as const, 'Groups' as const)
          .chain((endpoint) =>
            fc.tuple(
              fc.constant(endpoint),
              fc.oneof(
                { weight: 3, arbitrary: (endpoint === 'Users' ? validUser : validGroup).map((b) => JSON.stringify(b)) },
                { weight: 2, arbitrary: resourceBody.map((b) => JSON.stringify(b)) },
                { weight: 1, arbitrary: rawBody },
              ),
            ),
          ),
        async (method, [endpoint, body]) => {
          const before = await snapshot();
          const id = endpoint === 'Users' ? target.userId : target.groupId;
          const url = method === 'POST' ? `/scim/v2/${endpoint}` : `/scim/v2/${endpoint}/${id}`;
          const res = await send(method, url, { body: resolve(body) });
          count(`${method.toLowerCase()} ${endpoint}`, res.status);
          await checkScim(res, before, method);
        },
      ),
      runs(200),
    );
  });

  it('Bulk with random operations answers 200 with per-operation statuses below 500, or a SCIM 4xx that writes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          { weight: 4, arbitrary: validBulkBody.map((b) => JSON.stringify(b)) },
          { weight: 2, arbitrary: bulkBody.map((b) => JSON.stringify(b)) },
          { weight: 1, arbitrary: rawBody },
        ),
        async (body) => {
          const before = await snapshot();
          const res = await send('POST', '/scim/v2/Bulk', { body: resolve(body) });
          count('bulk', res.status);
          await checkScim(res, before, 'POST');
          if (res.status !== 200) return;
          const operations = (res.json as { Operations: Json[] }).Operations;
          for (const op of operations) {
            const status = Number(op.status);
            count('bulk operation', status);
            if (!(status >= 200 && status < 500)) throw new Error(`bulk operation ${JSON.stringify(op)}`);
            if (status >= 400) {
              expect(op.response).toEqual(
                expect.objectContaining({ schemas: [SCHEMA.error], status: op.status, detail: expect.any(String) }),
              );
            }
          }
          if (operations.every((op) => Number(op.status) >= 400)) expect(await snapshot()).toEqual(before);
        },
      ),
      runs(120),
    );
  });
});

// ---------------------------------------------------------------- GraphQL

const gqlName = fc.constantFrom(
  'communities',
  'tenants',
  'tenant',
  'users',
  'groups',
  'edges',
  'node',
  'pageInfo',
  'totalCount',
  'hasNextPage',
  'endCursor',
  'cursor',
  'id',
  'slug',
  'name',
  'userName',
  'emails',
  'value',
  'members',
  'community',
  'tokens',
  'schemaExtensions',
  'selfServicePolicy',
  'editableAttributes',
  '__typename',
  '__schema',
  'types',
  'unknownField',
);
const gqlArgValue = fc.oneof(
  fc.integer({ min: -10, max: 100_000 }).map(String),
  fc.string({ maxLength: 12 }).map((s) => JSON.stringify(s)),
  filter.map((f) => JSON.stringify(f)),
  fc.constantFrom('null', 'true', '1.5', '$v', '$first', 'ENUM', '[1,2]', '{a: 1}', '"emea"', '"apac"', '2147483648'),
);
const gqlArgs = fc
  .array(fc.tuple(fc.constantFrom('first', 'after', 'filter', 'slug', 'community', 'name', 'tenant', 'scopes', 'id', 'x'), gqlArgValue), {
    maxLength: 3,
  })
  .map((args) => (args.length === 0 ? '' : `(${args.map(([k, v]) => `${k}: ${v}`).join(', ')})`));
const selection: fc.Arbitrary<string> = fc.letrec<{ set: string }>((tie) => ({
  set: fc
    .array(
      fc.oneof(
        { depthSize: 'small' },
        gqlName,
        fc.tuple(gqlName, gqlArgs, tie('set')).map(([n, a, s]) => `${n}${a} ${s}`),
        tie('set').map((s) => `... on Tenant ${s}`),
      ),
      { minLength: 1, maxLength: 4 },
    )
    .map((fields) => `{ ${fields.join(' ')} }`),
})).set;
const MUTATIONS = [
  'mutation { createCommunity(slug: SLUG, name: NAME) { id } }',
  'mutation { createTenant(slug: SLUG, name: NAME, community: "coi") { id slug } }',
  'mutation { createToken(tenant: "emea", scopes: SCOPES) { token record { id } } }',
  'mutation { revokeToken(id: SLUG) { id } }',
  'mutation { setSelfServicePolicy(tenant: "emea", editableAttributes: SCOPES) { editableAttributes } }',
  'mutation { createSchemaExtension(tenant: "emea", extension: { id: SLUG, name: NAME, resourceType: NAME, attributes: [{ name: NAME, type: NAME }] }) { id } }',
  'mutation { deleteSchemaExtension(tenant: "emea", id: SLUG) }',
];
const mutation = fc
  .tuple(
    fc.constantFrom(...MUTATIONS),
    gqlArgValue,
    gqlArgValue,
    fc.oneof(fc.constant('["scim:read"]'), fc.constant('[]'), fc.constant('["admin"]'), gqlArgValue),
  )
  .map(([m, slug, name, scopes]) => m.replace('SLUG', slug).replace(/NAME/g, name).replace('SCOPES', scopes));
/**
 * A valid-looking operation built by walking the real schema, steered by a
 * list of random choices: fields that exist, arguments of the right types
 * (mostly), nested selections down to scalars.
 */
function schemaOperation(
  schema: GraphQLSchema,
  choices: number[],
  filters: string[],
  kind: 'query' | 'mutation',
  slot?: StringSlot,
): string {
  let at = 0;
  let strings = 0;
  const pick = (n: number) => (n <= 0 ? 0 : (choices[at++ % choices.length] as number) % n);
  const INTS = ['0', '1', '2', '10', '50', '-1', '501', '2147483647'];
  const STRINGS = [
    '"emea"',
    '"apac"',
    '"coi"',
    '"other"',
    '"nope"',
    '""',
    '"User"',
    '"Group"',
    '"scim:read"',
    '"admin"',
    '"urn:example:fuzz:2.0:User"',
  ];
  const value = (type: GraphQLInputType, depth: number, required = false): string => {
    if (isNonNullType(type)) return value(type.ofType, depth, true);
    if (isListType(type)) return `[${Array.from({ length: pick(3) }, () => value(type.ofType, depth + 1)).join(', ')}]`;
    if (isInputObjectType(type)) {
      if (depth > 3) return '{}';
      const fields = Object.values(type.getFields()).filter((f) => isNonNullType(f.type) || pick(2) === 0);
      return `{ ${fields.map((f) => `${f.name}: ${value(f.type, depth + 1)}`).join(', ')} }`;
    }
    const name = getNamedType(type).name;
    if (name === 'Int') return INTS[pick(INTS.length)] as string;
    if (name === 'Boolean') return pick(2) ? 'true' : 'false';
    if (slot) {
      // A string slot: the slot-th place a string can go (String, ID, custom scalars) takes the variable $bad.
      const named = getNamedType(type);
      if (isEnumType(named)) return (named.getValues()[pick(named.getValues().length)] as { name: string }).name;
      if (strings++ === slot.index) {
        slot.type = `${name}${required ? '!' : ''}`;
        return '$bad';
      }
    }
    return STRINGS[pick(STRINGS.length)] as string;
  };
  const selection = (type: GraphQLObjectType, depth: number): string => {
    const fields = Object.values(type.getFields());
    const chosen = new Set<number>();
    for (let n = 1 + pick(3); n > 0; n--) chosen.add(pick(fields.length));
    const parts = [...chosen].map((i) => {
      const field = fields[i] as (typeof fields)[number];
      const args = field.args
        .filter((a) => isNonNullType(a.type) || pick(3) === 0)
        .map(
          (a) =>
            `${a.name}: ${a.name === 'filter' && filters.length > 0 ? JSON.stringify(filters[pick(filters.length)]) : value(a.type, 0)}`,
        );
      const named = getNamedType(field.type);
      const head = `${field.name}${args.length > 0 ? `(${args.join(', ')})` : ''}`;
      if (!isObjectType(named)) return head;
      return depth >= 5 ? `${head} { __typename }` : `${head} ${selection(named, depth + 1)}`;
    });
    return `{ ${parts.join(' ')} }`;
  };
  const root = kind === 'query' ? schema.getQueryType() : schema.getMutationType();
  const body = selection(root as GraphQLObjectType, 0);
  if (slot) slot.count = strings;
  return slot?.type === undefined ? `${kind} ${body}` : `${kind} Bad($bad: ${slot.type}) ${body}`;
}

/** Where {@link schemaOperation} puts the variable `$bad`: the index-th string place; it fills in the type and the count. */
interface StringSlot {
  index: number;
  type?: string;
  count?: number;
}

const schemaQuery = fc
  .tuple(
    fc.array(fc.nat(1000), { minLength: 16, maxLength: 64 }),
    fc.array(fc.oneof(typedFilter, anyFilter), { maxLength: 2 }),
    fc.constantFrom('query', 'query', 'query', 'mutation'),
  )
  .map(([choices, filters, kind]) => schemaOperation(graphqlSchema, choices, filters, kind as 'query' | 'mutation'));

const gqlQuery = fc.oneof(
  { weight: 8, arbitrary: fc.constant(null).chain(() => schemaQuery) },
  { weight: 4, arbitrary: selection },
  { weight: 2, arbitrary: selection.map((s) => `query Q($v: String, $first: Int) ${s}`) },
  { weight: 2, arbitrary: mutation },
  { weight: 2, arbitrary: mutated(fc.oneof(selection, mutation)) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      `{ ${'tenants { edges { node { community { '.repeat(10)}id${' } } } }'.repeat(10)} }`,
      `query { ${'a: __typename '.repeat(2000)} }`,
      'fragment A on Query { ...A } { ...A }',
      '{ tenants(first: 500) { edges { node { users(first: 500) { edges { node { id } } } } } } }',
      `{ ${'['.repeat(3000)} }`,
      'subscription { x }',
      '',
    ),
  },
);
/** How many root fields the mutation of a request body selects (0 when it is no mutation or does not parse). */
function rootMutationFields(body: string): number {
  try {
    const { query, operationName } = JSON.parse(body) as { query?: unknown; operationName?: unknown };
    if (typeof query !== 'string') return 0;
    const operations = parse(query).definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
    const operation = operations.length === 1 ? operations[0] : operations.find((o) => o.name?.value === operationName);
    return operation?.operation === 'mutation' ? operation.selectionSet.selections.length : 0;
  } catch {
    return 0;
  }
}

const gqlBody = fc.oneof(
  { weight: 6, arbitrary: gqlQuery.map((query) => JSON.stringify({ query })) },
  {
    weight: 2,
    arbitrary: fc
      .record(
        {
          query: gqlQuery,
          variables: fc.dictionary(fc.constantFrom('v', 'first', 'x'), jsonish),
          operationName: fc.constantFrom('Q', 'X'),
        },
        { requiredKeys: ['query', 'variables'] },
      )
      .map((b) => JSON.stringify(b)),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({ query: gqlQuery, variables: jsonish, operationName: jsonish }, { requiredKeys: [] })
      .map((b) => JSON.stringify(b)),
  },
  { weight: 1, arbitrary: rawBody },
);

describe('fuzzing GraphQL', () => {
  it('random and mutated operations and variables never answer 5xx or INTERNAL_SERVER_ERROR, and failures write nothing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('tenant', 'admin'), gqlBody, async (who, body) => {
        const before = await snapshot();
        const token = who === 'admin' ? hub.adminToken : hub.tenants.emea.token;
        const res = await send('POST', '/graphql', { body, token, headers: { 'content-type': 'application/json' } });
        count('graphql', res.status);
        if (process.env.MERIDIAN_FUZZ_STATS && res.status >= 400) count(`graphql ${res.text.slice(0, 90)}`, res.status);
        if (res.status >= 500) throw new Error(`${res.status}: ${res.text}`);
        const json = res.json as {
          data?: Record<string, unknown> | null;
          errors?: { message: unknown; extensions?: { code?: unknown } }[];
        };
        expect(json).toBeDefined();
        for (const error of json.errors ?? []) {
          expect(typeof error.message).toBe('string');
          expect(typeof error.extensions?.code).toBe('string');
          if (error.extensions?.code === 'INTERNAL_SERVER_ERROR') throw new Error(`internal error for ${body}`);
        }
        const wrote = json.data && Object.values(json.data).some((v) => v !== null);
        // Root mutation fields run one after another, each in its own transaction (GraphQL §6.2.2); when a later
        // one fails, null propagation can hide an earlier one's success, so only single-field operations are held
        // to "a failure writes nothing".
        if (wrote) {
          if (res.status >= 400) throw new Error(`${res.status} with data: ${res.text}`);
        } else if (rootMutationFields(body) <= 1) expect(await snapshot()).toEqual(before);
      }),
      runs(200),
    );
  });
});

// ---------------------------------------------------------------- headers

const headerText = fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c)), maxLength: 40 });
const authorization = fc.oneof(
  headerText,
  headerText.map((t) => `Bearer ${t}`),
  fc.constantFrom(
    'Bearer',
    'Bearer ',
    'bearer mrd_',
    'Basic dXNlcjpwYXNz',
    'Bearer mrd_aaaa.bbbb',
    `Bearer ${'a'.repeat(10_000)}`,
    'Bearer a b',
    'Bearer eyJhbGciOiJub25lIn0.e30.',
  ),
  fc.constant('VALID'),
  fc.constant('VALID_READONLY'),
);
const etag = fc.oneof(
  headerText,
  fc.constantFrom('*', 'W/"1"', '"1"', 'W/"-1"', 'W/"99999999999999999999"', 'W/""', 'W/"1", W/"2"', 'W/"1.5"', 'w/"1"'),
);
const headers = fc.record(
  {
    authorization,
    'content-type': fc.oneof(
      fc.constantFrom(
        'application/scim+json',
        'application/json',
        'application/json; charset=utf-16',
        'application/scim+json; charset=latin1',
        'text/plain',
        'multipart/form-data; boundary=x',
        'application/x-www-form-urlencoded',
        'application/scim+json;;;',
        '',
      ),
      headerText,
    ),
    'if-match': etag,
    'if-none-match': etag,
    'x-request-id': fc.oneof(headerText, fc.constantFrom('a'.repeat(200), 'ok-id.1:2', 'bad id', 'x\ty')),
    prefer: fc.oneof(fc.constantFrom('return=minimal', 'respond-async', 'wait=5'), headerText),
    accept: fc.oneof(fc.constantFrom('application/scim+json', 'text/html', '*/*'), headerText),
  },
  { requiredKeys: [] },
);

describe('fuzzing headers', () => {
  it('random Authorization, Content-Type, If-Match, If-None-Match and X-Request-Id never answer 5xx, and a 4xx writes nothing', async () => {
    let address = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'PUT', 'PATCH', 'POST'),
        fc.constantFrom('user', 'group', 'users', 'graphql', 'bulk'),
        headers,
        async (method, where, given) => {
          const before = await snapshot();
          const h: Record<string, string> = { ...given } as Record<string, string>;
          if (h.authorization === 'VALID') h.authorization = `Bearer ${hub.tenants.emea.token}`;
          if (h.authorization === 'VALID_READONLY') h.authorization = `Bearer ${hub.tenants.emea.readOnly}`;
          const url = {
            user: `/scim/v2/Users/${target.userId}`,
            group: `/scim/v2/Groups/${target.groupId}`,
            users: '/scim/v2/Users',
            graphql: '/graphql',
            bulk: '/scim/v2/Bulk',
          }[where];
          const body =
            method === 'GET'
              ? undefined
              : where === 'graphql'
                ? JSON.stringify({ query: '{ tenants { totalCount } }' })
                : method === 'PATCH'
                  ? JSON.stringify({
                      schemas: [SCHEMA.patchOp],
                      Operations: [{ op: 'replace', path: 'displayName', value: `h${serial++}` }],
                    })
                  : where === 'bulk'
                    ? JSON.stringify({ schemas: [BULK_REQUEST], Operations: [] })
                    : JSON.stringify(
                        where === 'group'
                          ? { displayName: 'fuzz-group' }
                          : { userName: method === 'POST' ? `hdr-${serial++}` : 'fuzz-target' },
                      );
          const effectiveMethod =
            where === 'graphql' && method !== 'GET'
              ? 'POST'
              : where === 'bulk'
                ? 'POST'
                : method === 'POST' && where !== 'users'
                  ? 'GET'
                  : method;
          // Each run from its own address: failed authentications are limited per address, and this is not what is tested here.
          address++;
          const res = await send(effectiveMethod, url, {
            token: null,
            remoteAddress: `10.1.${address >> 8}.${address & 255}`,
            headers: h,
            ...(effectiveMethod === 'GET' ? {} : { body: body ?? '' }),
          });
          count(`headers ${where}`, res.status);
          if (res.status >= 500) throw new Error(`${res.status}: ${res.text}`);
          // The request id echoed back is ours or a safe one, never an injected header value.
          expect(String(res.headers['x-request-id'])).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
          if (res.status >= 400 || effectiveMethod === 'GET') expect(await snapshot()).toEqual(before);
          if (res.status >= 400 && where !== 'graphql' && res.status !== 404) expectScimError(res);
          if (res.status >= 400 && where === 'graphql') {
            const errors = (res.json as { errors?: { extensions?: { code?: unknown } }[] }).errors;
            expect(typeof errors?.[0]?.extensions?.code).toBe('string');
          }
        },
      ),
      runs(200),
    );
  });
});

// ---------------------------------------------------------------- issue 12: long strings, NUL, lone surrogates

// Every writable string of a User (core, enterprise and a tenant extension) and a Group, on every SCIM write
// path, and every place a GraphQL operation takes a string: a value beyond its limit, a NUL or an unpaired
// surrogate is a client error naming the attribute or argument, never a 5xx; a value at its limit is accepted.

const LIMITS_EXTENSION = 'urn:example:params:scim:schemas:extension:fuzzlimits:2.0:User';

/** One place a SCIM write can put a string: `attribute` (sub-attribute after a dot) of `schema` (undefined: externalId). */
interface StringLeaf {
  kind: 'Users' | 'Groups';
  schema: string | undefined;
  attribute: string;
  sub: string | undefined;
  multiValued: boolean;
  maxLength: number;
}

function stringLeaves(): StringLeaf[] {
  const leaves: StringLeaf[] = [];
  const textTypes = new Set(['string', 'reference', 'binary']);
  const shapes: ['Users' | 'Groups', ResourceShape][] = [
    ['Users', shapeWithExtensions('User', [limitsExtension])],
    ['Groups', resourceShapes.Group],
  ];
  for (const [kind, shape] of shapes) {
    leaves.push({
      kind,
      schema: undefined,
      attribute: 'externalId',
      sub: undefined,
      multiValued: false,
      maxLength: maxLengthOf(undefined, 'externalId'),
    });
    for (const schema of [shape.core, ...shape.extensions]) {
      for (const def of schema.attributes) {
        if (def.mutability === 'readOnly') continue;
        if (textTypes.has(def.type)) {
          leaves.push({
            kind,
            schema: schema.id,
            attribute: def.name,
            sub: undefined,
            multiValued: def.multiValued,
            maxLength: maxLengthOf(schema.id, def.name, def.type),
          });
        }
        for (const sub of def.subAttributes ?? []) {
          if (sub.mutability === 'readOnly' || !textTypes.has(sub.type)) continue;
          const maxLength = maxLengthOf(schema.id, `${def.name}.${sub.name}`, sub.type);
          leaves.push({ kind, schema: schema.id, attribute: def.name, sub: sub.name, multiValued: def.multiValued, maxLength });
        }
      }
    }
  }
  return leaves;
}

const limitsExtension = parseSchemaExtension({
  id: LIMITS_EXTENSION,
  name: 'FuzzLimits',
  resourceType: 'User',
  attributes: [
    { name: 'badge', type: 'string' },
    { name: 'site', type: 'reference' },
    { name: 'tags', type: 'string', multiValued: true },
    {
      name: 'desk',
      type: 'complex',
      subAttributes: [
        { name: 'room', type: 'string' },
        { name: 'plan', type: 'reference' },
      ],
    },
    { name: 'keys', type: 'complex', multiValued: true, subAttributes: [{ name: 'serial', type: 'binary' }] },
  ],
});

/** Characters of 1 to 4 UTF-8 bytes, pairs included. */
const anyCharacter = fc.oneof(
  fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0xa0, max: 0x7ff }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0x4e00, max: 0x9fff }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0x1f300, max: 0x1faff }).map((c) => String.fromCodePoint(c)),
  fc.constantFrom('İ', 'ẞ', 'Ⱥ', 'ǅ', '\t', '%', '"', '\\'),
);
const pattern = fc.string({ unit: anyCharacter, minLength: 1, maxLength: 12 });

/** Exactly `n` characters: the pattern's characters between 4-byte ones that vary, so that nothing compresses them. */
function ofLength(text: string, n: number, seed: number): string {
  const characters = [...text];
  return Array.from({ length: n }, (_, i) =>
    i % 2 === 0 ? characters[(i / 2) % characters.length] : String.fromCodePoint(0x20000 + ((i * 7919 + seed * 104_729) % 0xa6d0)),
  ).join('');
}

/** A NUL or an unpaired surrogate put between two characters of `text`. */
function withBadCharacter(text: string, at: number, bad: string): string {
  const characters = [...text];
  const i = at % (characters.length + 1);
  return [...characters.slice(0, i), bad, ...characters.slice(i)].join('');
}

type Badness = 'long' | 'nul' | 'lone' | 'max';
const badness = fc.constantFrom<Badness>('long', 'nul', 'lone', 'max');
const badCharacter = (kind: Badness) =>
  kind === 'nul' ? fc.constant('\u0000') : fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));

/** A string of the given badness for a place of `maxLength` characters. */
function badText(kind: Badness, maxLength: number): fc.Arbitrary<string> {
  if (kind === 'long' || kind === 'max') {
    return fc
      .tuple(pattern, fc.integer({ min: 1, max: 3000 }))
      .map(([text, extra]) => ofLength(text, kind === 'max' ? maxLength : maxLength + extra, serial++));
  }
  return fc.tuple(pattern, fc.nat(), badCharacter(kind)).map(([text, at, bad]) => withBadCharacter(text, at, bad));
}

/** The attributes of a body that put `value` at the leaf. */
function fragmentOf(leaf: StringLeaf, value: string): Json {
  if (leaf.schema === undefined) return { externalId: value };
  const inner = leaf.sub === undefined ? value : { [leaf.sub]: value };
  const attribute = { [leaf.attribute]: leaf.multiValued ? [inner] : inner };
  return leaf.schema === LIMITS_EXTENSION || leaf.schema === EXTENSION ? { [leaf.schema]: attribute } : attribute;
}

/** How an error names the leaf once list indexes are taken out: `emails.value`, `<urn>:desk.room`. */
function leafField(leaf: StringLeaf): string {
  const head = leaf.schema === LIMITS_EXTENSION || leaf.schema === EXTENSION ? `${leaf.schema}:${leaf.attribute}` : leaf.attribute;
  return leaf.sub === undefined ? head : `${head}.${leaf.sub}`;
}

type LeafWrite = 'POST' | 'PUT' | 'PATCH path' | 'PATCH value' | 'Bulk POST' | 'Bulk PATCH' | 'PUT /Me' | 'PATCH /Me';
const limitsTarget = { user: '', group: '', meToken: '' };

async function writeLeaf(how: LeafWrite, leaf: StringLeaf, value: string): Promise<{ status: number; body: Json; raw: Reply }> {
  const fragment = fragmentOf(leaf, value);
  const schemas = leaf.kind === 'Users' ? [SCHEMA.user, EXTENSION, LIMITS_EXTENSION] : [SCHEMA.group];
  const base: Json = leaf.kind === 'Users' ? { schemas, userName: `limits-${serial++}` } : { schemas, displayName: `limits-${serial++}` };
  const id = leaf.kind === 'Users' ? limitsTarget.user : limitsTarget.group;
  const head = leaf.schema === LIMITS_EXTENSION || leaf.schema === EXTENSION ? `${leaf.schema}:${leaf.attribute}` : leaf.attribute;
  const element = leaf.sub === undefined ? value : { [leaf.sub]: value };
  const pathOperation =
    leaf.sub !== undefined && !leaf.multiValued
      ? { op: 'replace', path: `${head}.${leaf.sub}`, value }
      : { op: 'replace', path: head, value: leaf.multiValued ? [element] : element };
  const patch = (operation: Json) => ({ schemas: [SCHEMA.patchOp], Operations: [operation] });
  const bulk = async (operation: Json) => {
    const raw = await send('POST', '/scim/v2/Bulk', { body: JSON.stringify({ schemas: [BULK_REQUEST], Operations: [operation] }) });
    const [op] = ((raw.json as Json | undefined)?.Operations as Json[] | undefined) ?? [];
    return raw.status === 200 && op
      ? { status: Number(op.status), body: (op.response ?? {}) as Json, raw }
      : { status: raw.status, body: raw.json as Json, raw };
  };
  const direct = async (method: string, url: string, body: Json, token?: string) => {
    const raw = await send(method, url, { body: JSON.stringify(body), ...(token ? { token } : {}) });
    return { status: raw.status, body: (raw.json ?? {}) as Json, raw };
  };
  switch (how) {
    case 'POST':
      return direct('POST', `/scim/v2/${leaf.kind}`, { ...base, ...fragment });
    case 'PUT':
      return direct('PUT', `/scim/v2/${leaf.kind}/${id}`, { ...base, ...fragment });
    case 'PATCH path':
      return direct('PATCH', `/scim/v2/${leaf.kind}/${id}`, patch(pathOperation));
    case 'PATCH value':
      return direct('PATCH', `/scim/v2/${leaf.kind}/${id}`, patch({ op: 'replace', value: fragment }));
    case 'Bulk POST':
      return bulk({ method: 'POST', path: `/${leaf.kind}`, bulkId: 'l1', data: { ...base, ...fragment } });
    case 'Bulk PATCH':
      return bulk({ method: 'PATCH', path: `/${leaf.kind}/${id}`, data: patch(pathOperation) });
    case 'PUT /Me':
      return direct('PUT', '/scim/v2/Me', { schemas, userName: 'limits-self', ...fragment }, limitsTarget.meToken);
    case 'PATCH /Me':
      return direct('PATCH', '/scim/v2/Me', patch(pathOperation), limitsTarget.meToken);
  }
}

describe('fuzzing long strings, NUL and lone surrogates (issue 12)', () => {
  let leaves: StringLeaf[];
  let hrLimits = '';
  beforeAll(async () => {
    const ctx = { actor: { type: 'system' as const, id: 'fuzz' }, requestId: 'fuzz-limits' };
    const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
    await hub.runtime.settings.createExtension(hub.tenants.emea.id, { ...limitsExtension }, ctx);
    const create = async (path: string, body: Json) => {
      const res = await send('POST', `/scim/v2${path}`, { body: JSON.stringify(body) });
      expect(res.status).toBe(201);
      return (res.json as Json).id as string;
    };
    limitsTarget.user = await create('/Users', { userName: 'limits-target' });
    limitsTarget.group = await create('/Groups', { displayName: 'limits-group' });
    await create('/Users', { userName: 'limits-self' });
    limitsTarget.meToken = (
      await hub.runtime.admin.issueToken(platform, { tenant: 'emea', scopes: ['scim:me'], user: 'limits-self' }, ctx)
    ).token;
    leaves = stringLeaves();
    hrLimits = (await hub.runtime.admin.issueToken(platform, { community: 'coi', role: 'hr_provider' }, ctx)).token;
  });

  it('every writable string attribute, on every SCIM write path: beyond its limit, NUL or a lone surrogate is 400 invalidValue naming it; at its limit it is stored', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat(10_000).chain((i) => {
          const leaf = leaves[i % leaves.length] as StringLeaf;
          const paths: LeafWrite[] = ['POST', 'PUT', 'PATCH path', 'PATCH value', 'Bulk POST', 'Bulk PATCH'];
          if (leaf.kind === 'Users') paths.push('PUT /Me', 'PATCH /Me');
          return fc.tuple(
            fc.constant(leaf),
            fc.constantFrom(...paths),
            badness.chain((kind) => fc.tuple(fc.constant(kind), badText(kind, leaf.maxLength))),
          );
        }),
        async ([leaf, how, [kind, value]]) => {
          const before = await snapshot();
          const res = await writeLeaf(how, leaf, value);
          count(`limits ${how}`, res.status);
          if (res.status >= 500) throw new Error(`${res.status}: ${res.raw.text.slice(0, 300)}`);
          if (kind === 'max') {
            // Members and the manager must be accounts of the tenant and /Me is held to its policy: those may refuse,
            // anything else stores the value.
            const mustExist = leafField(leaf).startsWith('members.') || leafField(leaf) === `${EXTENSION}:manager.value`;
            if (!mustExist && !how.includes('/Me')) expect(res.status).toBeLessThan(300);
            return;
          }
          expect(res.status).toBe(400);
          expect(res.body).toEqual(expect.objectContaining({ schemas: [SCHEMA.error], status: '400', scimType: 'invalidValue' }));
          const named = /^Attribute '(.+?)' (must|has) /.exec(String(res.body.detail))?.[1];
          expect(named?.replace(/\[\d+\]/g, '')).toBe(leafField(leaf));
          expect(await snapshot()).toEqual(before);
        },
      ),
      runs(240),
    );
  });

  it('every place a GraphQL operation takes a string: NUL or a lone surrogate is 400 INVALID_INPUT naming the argument; a long string is never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.nat(1000), { minLength: 16, maxLength: 64 }),
        fc.constantFrom('query' as const, 'mutation' as const),
        fc.nat(60),
        fc.constantFrom<Badness>('nul', 'lone', 'long'),
        pattern,
        fc.nat(),
        fc.integer({ min: 0xd800, max: 0xdfff }),
        fc.constantFrom('tenant', 'admin', 'hr'),
        async (choices, kind, index, how, text, at, surrogate, who) => {
          let slot: StringSlot = { index };
          let query = schemaOperation(graphqlSchema, choices, [], kind, slot);
          if (!slot.count) return;
          if (slot.type === undefined) {
            slot = { index: index % slot.count };
            query = schemaOperation(graphqlSchema, choices, [], kind, slot);
          }
          const bad =
            how === 'long'
              ? ofLength(text, 3000, serial++)
              : withBadCharacter(text, at, how === 'nul' ? '\u0000' : String.fromCharCode(surrogate));
          const variables = { bad: slot.type?.startsWith('JSONObject') ? { key: bad } : bad };
          const token = who === 'admin' ? hub.adminToken : who === 'hr' ? hrLimits : hub.tenants.emea.token;
          const before = await snapshot();
          const body = JSON.stringify({ query, variables });
          const res = await send('POST', '/graphql', { body, token, headers: { 'content-type': 'application/json' } });
          count(`limits graphql ${how}`, res.status);
          if (res.status >= 500) throw new Error(`${res.status}: ${res.text.slice(0, 300)} for ${query}`);
          const json = res.json as { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: Json }[] };
          for (const error of json.errors ?? []) {
            if (error.extensions?.code === 'INTERNAL_SERVER_ERROR') throw new Error(`internal error for ${query}`);
          }
          if (how === 'long') {
            const wrote = json.data && Object.values(json.data).some((v) => v !== null);
            if (!wrote && rootMutationFields(body) <= 1) expect(await snapshot()).toEqual(before);
            return;
          }
          const [first] = json.errors ?? [];
          // An operation the generator got wrong fails validation before any argument is looked at.
          if (first?.extensions?.code === 'GRAPHQL_VALIDATION_FAILED') return;
          expect(res.status).toBe(400);
          expect(json.errors).toHaveLength(1);
          expect(first?.extensions?.code).toBe('INVALID_INPUT');
          const field = String(first?.extensions?.field);
          expect(first?.message).toMatch(
            new RegExp(
              `^Argument '${field.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}' must (not contain the NUL character|be well-formed Unicode)`,
            ),
          );
          expect(await snapshot()).toEqual(before);
        },
      ),
      runs(200),
    );
  });
});
