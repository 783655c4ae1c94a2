// The SCIM-only arbitraries of the SCIM fuzz tests: list parameters, PATCH, resource and Bulk bodies,
// hostile and well-typed. MEMBER, USER and GROUP in them are placeholders for seeded resources' ids.
import { SCHEMA } from '@meridian/core';
import {
  anyFilter,
  attribute,
  BULK_REQUEST,
  EXTENSION,
  filter,
  jsonish,
  mutated,
  text,
  typedFilter,
  weirdJson,
} from '@meridian/test-utils/fuzz';
import fc from 'fast-check';

let serial = 0;

export const listParams = fc.record(
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
export const patchBody = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.array(operation, { minLength: 0, maxLength: 4 }).map((Operations) => ({ schemas: [SCHEMA.patchOp], Operations })),
  },
  { weight: 1, arbitrary: fc.record({ schemas: jsonish, Operations: jsonish }, { requiredKeys: [] }) },
  { weight: 1, arbitrary: jsonish },
);

/** Bodies that look like Users or Groups, with any field possibly of the wrong type. */
export const resourceBody = fc.record(
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
export const bulkBody = fc.oneof(
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
export const typedListParams = fc.record(
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
export const typedPatchBody = (endpoint: 'Users' | 'Groups') =>
  fc
    .array(fc.oneof({ weight: 5, arbitrary: endpoint === 'Users' ? userOperation : groupOperation }, { weight: 1, arbitrary: operation }), {
      minLength: 1,
      maxLength: 3,
    })
    .map((Operations) => ({ schemas: [SCHEMA.patchOp], Operations }));

const uniqueName = text.map((t) => `fuzz-${serial++}-${t}`);
export const validUser = fc.record(
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
export const validGroup = fc.record(
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
export const validBulkBody = fc.record(
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
export function encode(text: string): string {
  return encodeURIComponent(text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd'));
}

/** Query strings no encoder produces: broken escapes, NUL, repeated and bracketed parameters. */
export const rawQuery = fc.constantFrom(
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
