import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SCHEMA } from '@meridian/core';
import {
  type AppHarness,
  eventCounts,
  type Json,
  patchOp,
  SCIM_CONTENT_TYPE,
  scimClient,
  scimError,
  startScimApp,
} from '@meridian/test-utils/apps';

// RFC 7644 §3.5.2: PATCH over HTTP, against a real PostgreSQL.

let harness: AppHarness;
beforeAll(async () => {
  harness = await startScimApp();
});
afterAll(() => harness.close());

const scim = scimClient(() => harness.app);
const token = () => harness.tenants.emea.token;
const BASE = 'https://hub.test/scim/v2';
const EMPLOYEE_NUMBER = `${SCHEMA.enterpriseUser}:employeeNumber`;

let serial = 0;
async function createUser(body: Json = {}): Promise<Json> {
  serial++;
  const res = await scim('POST', '/Users', { token: token(), body: { userName: `patch-${serial}@example.com`, ...body } });
  expect(res.status).toBe(201);
  return res.body;
}

async function createGroup(displayName: string, members: string[] = []): Promise<Json> {
  const res = await scim('POST', '/Groups', { token: token(), body: { displayName, members: members.map((value) => ({ value })) } });
  expect(res.status).toBe(201);
  return res.body;
}

function patch(kind: 'Users' | 'Groups', id: unknown, ...operations: Json[]) {
  return scim('PATCH', `/${kind}/${id}`, { token: token(), body: patchOp(...operations) });
}

async function read(kind: 'Users' | 'Groups', id: unknown): Promise<Json> {
  const res = await scim('GET', `/${kind}/${id}`, { token: token() });
  expect(res.status).toBe(200);
  return res.body;
}

function memberIds(group: Json): string[] {
  return ((group.members as Json[]) ?? []).map((m) => m.value as string).sort();
}

describe('RFC 7644 §3.5.2.1 add', () => {
  it('sets a single-valued attribute by path and answers 200 with the resource, its new version and ETag', async () => {
    const user = await createUser({ displayName: 'Ada' });
    const res = await patch('Users', user.id, { op: 'add', path: 'nickName', value: 'Countess' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe(SCIM_CONTENT_TYPE);
    expect(res.headers.etag).toBe('W/"2"');
    expect(res.body).toEqual({
      schemas: [SCHEMA.user],
      id: user.id,
      userName: user.userName,
      displayName: 'Ada',
      nickName: 'Countess',
      active: true,
      meta: {
        resourceType: 'User',
        created: (user.meta as Json).created,
        lastModified: expect.any(String),
        location: `${BASE}/Users/${user.id}`,
        version: 'W/"2"',
      },
    });
    expect(await read('Users', user.id)).toEqual(res.body);
  });

  it('appends to a multi-valued attribute, does not duplicate a value already there, and keeps one primary', async () => {
    const user = await createUser({ emails: [{ value: 'work@example.com', type: 'work', primary: true }] });
    const res = await patch(
      'Users',
      user.id,
      { op: 'add', path: 'emails', value: [{ value: 'home@example.com', type: 'home', primary: true }] },
      { op: 'add', path: 'emails', value: [{ value: 'work@example.com', type: 'work', primary: false }] },
    );
    expect(res.status).toBe(200);
    expect(res.body.emails).toEqual([
      { value: 'work@example.com', type: 'work', primary: false },
      { value: 'home@example.com', type: 'home', primary: true },
    ]);
  });

  it('merges a path-less value into the resource', async () => {
    const user = await createUser({ name: { givenName: 'Grace', familyName: 'Hopper' }, title: 'Rear Admiral' });
    const res = await patch('Users', user.id, {
      op: 'add',
      value: { nickName: 'Amazing Grace', name: { middleName: 'Brewster' }, emails: [{ value: 'grace@example.com', type: 'work' }] },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      title: 'Rear Admiral',
      nickName: 'Amazing Grace',
      name: { givenName: 'Grace', familyName: 'Hopper', middleName: 'Brewster' },
      emails: [{ value: 'grace@example.com', type: 'work' }],
    });
  });

  it('adds a sub-attribute of a complex attribute by path, keeping the others', async () => {
    const user = await createUser({ name: { givenName: 'Alan' } });
    const res = await patch('Users', user.id, { op: 'add', path: 'name.familyName', value: 'Turing' });
    expect(res.status).toBe(200);
    expect(res.body.name).toEqual({ givenName: 'Alan', familyName: 'Turing' });
  });

  it('adds an enterprise extension attribute by URN-qualified path and lists the extension schema', async () => {
    const user = await createUser();
    const res = await patch('Users', user.id, { op: 'add', path: EMPLOYEE_NUMBER, value: '701984' });
    expect(res.status).toBe(200);
    expect(res.body.schemas).toEqual([SCHEMA.user, SCHEMA.enterpriseUser]);
    expect(res.body[SCHEMA.enterpriseUser]).toEqual({ employeeNumber: '701984' });
  });
});

describe('RFC 7644 §3.5.2.3 replace', () => {
  it('replaces a sub-attribute by path', async () => {
    const user = await createUser({ name: { givenName: 'Barbara', familyName: 'Jensen' } });
    const res = await patch('Users', user.id, { op: 'replace', path: 'name.familyName', value: 'Jensen-Smith' });
    expect(res.status).toBe(200);
    expect(res.body.name).toEqual({ givenName: 'Barbara', familyName: 'Jensen-Smith' });
  });

  it('replaces only the values a value filter selects: emails[type eq "work"].value', async () => {
    const user = await createUser({
      emails: [
        { value: 'old@work.example', type: 'work', primary: true },
        { value: 'me@home.example', type: 'home' },
      ],
    });
    const res = await patch('Users', user.id, { op: 'replace', path: 'emails[type eq "work"].value', value: 'new@work.example' });
    expect(res.status).toBe(200);
    expect(res.body.emails).toEqual([
      { value: 'new@work.example', type: 'work', primary: true },
      { value: 'me@home.example', type: 'home' },
    ]);
  });

  it('replaces one sub-attribute of the matching address: addresses[type eq "work"].locality', async () => {
    const user = await createUser({
      addresses: [
        { type: 'work', streetAddress: '1 Main St', locality: 'Springfield', country: 'US' },
        { type: 'home', streetAddress: '2 Side St', locality: 'Shelbyville', country: 'US' },
      ],
    });
    const res = await patch('Users', user.id, { op: 'replace', path: 'addresses[type eq "work"].locality', value: 'Capital City' });
    expect(res.status).toBe(200);
    expect(res.body.addresses).toEqual([
      { type: 'work', streetAddress: '1 Main St', locality: 'Capital City', country: 'US' },
      { type: 'home', streetAddress: '2 Side St', locality: 'Shelbyville', country: 'US' },
    ]);
  });

  it('creates the value a filter of eq names when none matches (what Entra ID relies on)', async () => {
    const user = await createUser({ emails: [{ value: 'me@home.example', type: 'home' }] });
    const res = await patch('Users', user.id, { op: 'replace', path: 'emails[type eq "work"].value', value: 'me@work.example' });
    expect(res.status).toBe(200);
    expect(res.body.emails).toEqual([
      { value: 'me@home.example', type: 'home' },
      { type: 'work', value: 'me@work.example' },
    ]);
  });

  it('answers 400 noTarget when a filter that is not a plain eq matches no value, and writes nothing', async () => {
    const user = await createUser({ addresses: [{ type: 'home', locality: 'Springfield' }] });
    const before = await eventCounts(harness);
    const res = await patch('Users', user.id, { op: 'replace', path: 'addresses[locality sw "Z"].country', value: 'NZ' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(scimError(400, 'noTarget'));
    expect(await eventCounts(harness)).toEqual(before);
    expect(await read('Users', user.id)).toEqual(user);
  });

  it('replaces a whole multi-valued attribute without a filter', async () => {
    const user = await createUser({
      phoneNumbers: [
        { value: '+1 555 0100', type: 'work' },
        { value: '+1 555 0101', type: 'home' },
      ],
    });
    const res = await patch('Users', user.id, {
      op: 'replace',
      path: 'phoneNumbers',
      value: [{ value: '+44 20 7946 0000', type: 'mobile' }],
    });
    expect(res.status).toBe(200);
    expect(res.body.phoneNumbers).toEqual([{ value: '+44 20 7946 0000', type: 'mobile' }]);
  });

  it('replaces by URN-qualified path, and by a path-less value with dotted and URN keys', async () => {
    const user = await createUser({ name: { givenName: 'Old', familyName: 'Name' }, [SCHEMA.enterpriseUser]: { employeeNumber: '1' } });
    const byPath = await patch('Users', user.id, { op: 'replace', path: `${SCHEMA.enterpriseUser}:department`, value: 'R&D' });
    expect(byPath.status).toBe(200);
    expect(byPath.body[SCHEMA.enterpriseUser]).toEqual({ employeeNumber: '1', department: 'R&D' });
    const pathless = await patch('Users', user.id, {
      op: 'replace',
      value: { 'name.givenName': 'New', [EMPLOYEE_NUMBER]: '2', displayName: 'New Name' },
    });
    expect(pathless.status).toBe(200);
    expect(pathless.body).toMatchObject({
      name: { givenName: 'New', familyName: 'Name' },
      displayName: 'New Name',
      [SCHEMA.enterpriseUser]: { employeeNumber: '2', department: 'R&D' },
      meta: { version: 'W/"3"' },
    });
  });

  it('accepts a capitalised op and a "False" string for a boolean', async () => {
    const user = await createUser();
    const res = await patch('Users', user.id, { op: 'Replace', path: 'active', value: 'False' });
    expect(res.status).toBe(200);
    expect(res.body.active).toBe(false);
  });
});

describe('RFC 7644 §3.5.2.2 remove', () => {
  it('removes a single-valued attribute, a sub-attribute and an extension attribute', async () => {
    const user = await createUser({
      nickName: 'Nick',
      name: { givenName: 'Ann', middleName: 'Marie', familyName: 'Lee' },
      [SCHEMA.enterpriseUser]: { employeeNumber: '9', department: 'Ops' },
    });
    const res = await patch(
      'Users',
      user.id,
      { op: 'remove', path: 'nickName' },
      { op: 'remove', path: 'name.middleName' },
      { op: 'remove', path: EMPLOYEE_NUMBER },
    );
    expect(res.status).toBe(200);
    expect(res.body.nickName).toBeUndefined();
    expect(res.body.name).toEqual({ givenName: 'Ann', familyName: 'Lee' });
    expect(res.body[SCHEMA.enterpriseUser]).toEqual({ department: 'Ops' });
  });

  it('removes the values a filter matches, and nothing when it matches none', async () => {
    const user = await createUser({
      emails: [
        { value: 'a@work.example', type: 'work' },
        { value: 'b@home.example', type: 'home' },
      ],
    });
    const res = await patch('Users', user.id, { op: 'remove', path: 'emails[type eq "home"]' });
    expect(res.status).toBe(200);
    expect(res.body.emails).toEqual([{ value: 'a@work.example', type: 'work' }]);
    const none = await patch('Users', user.id, { op: 'remove', path: 'emails[type eq "other"]' });
    expect(none.status).toBe(200);
    expect(none.body.emails).toEqual([{ value: 'a@work.example', type: 'work' }]);
  });

  it('removes a whole extension by its URN, dropping it from schemas', async () => {
    const user = await createUser({ schemas: [SCHEMA.user, SCHEMA.enterpriseUser], [SCHEMA.enterpriseUser]: { employeeNumber: '5' } });
    const res = await patch('Users', user.id, { op: 'remove', path: SCHEMA.enterpriseUser });
    expect(res.status).toBe(200);
    expect(res.body.schemas).toEqual([SCHEMA.user]);
    expect(res.body[SCHEMA.enterpriseUser]).toBeUndefined();
  });

  it('answers 400 noTarget to a remove without a path, and writes nothing', async () => {
    const user = await createUser({ nickName: 'Keep' });
    const before = await eventCounts(harness);
    const res = await patch('Users', user.id, { op: 'remove', value: { nickName: 'Keep' } });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toBe(SCIM_CONTENT_TYPE);
    expect(res.body).toEqual(scimError(400, 'noTarget'));
    expect(await eventCounts(harness)).toEqual(before);
    expect(await read('Users', user.id)).toEqual(user);
  });
});

describe('RFC 7644 §3.5.2 all or nothing, preconditions and errors', () => {
  it('applies no operation when one fails: 400, the resource unchanged, no outbox or audit rows', async () => {
    const user = await createUser({ displayName: 'Before', nickName: 'Before' });
    const before = await eventCounts(harness);
    const res = await patch(
      'Users',
      user.id,
      { op: 'replace', path: 'displayName', value: 'After' },
      { op: 'add', path: 'title', value: 'Boss' },
      { op: 'replace', path: 'shoeSize', value: 42 },
    );
    expect(res.status).toBe(400);
    expect(res.body).toEqual(scimError(400, 'invalidPath'));
    expect(await eventCounts(harness)).toEqual(before);
    expect(await read('Users', user.id)).toEqual(user);
  });

  it('applies no operation when the last one leaves an invalid value: 400 invalidValue', async () => {
    const user = await createUser({ displayName: 'Before' });
    const before = await eventCounts(harness);
    const res = await patch(
      'Users',
      user.id,
      { op: 'replace', path: 'displayName', value: 'After' },
      { op: 'replace', path: 'active', value: 'maybe' },
    );
    expect(res.status).toBe(400);
    expect(res.body).toEqual(scimError(400, 'invalidValue'));
    expect(await eventCounts(harness)).toEqual(before);
    expect(await read('Users', user.id)).toEqual(user);
  });

  it('applies no member change when a later operation fails', async () => {
    const a = await createUser();
    const b = await createUser();
    const group = await createGroup('atomic-members', [a.id as string]);
    const before = await eventCounts(harness);
    const res = await patch(
      'Groups',
      group.id,
      { op: 'add', path: 'members', value: [{ value: b.id }] },
      { op: 'remove', path: `members[value eq "${a.id}"]` },
      { op: 'replace', path: 'colour', value: 'red' },
    );
    expect(res.status).toBe(400);
    expect(res.body).toEqual(scimError(400, 'invalidPath'));
    expect(await eventCounts(harness)).toEqual(before);
    expect(await read('Groups', group.id)).toEqual(group);
  });

  it('answers 412 to a stale If-Match and writes nothing; the current version succeeds', async () => {
    const user = await createUser({ displayName: 'v1' });
    const before = await eventCounts(harness);
    const stale = await scim('PATCH', `/Users/${user.id}`, {
      token: token(),
      body: patchOp({ op: 'replace', path: 'displayName', value: 'v2' }),
      headers: { 'if-match': 'W/"9"' },
    });
    expect(stale.status).toBe(412);
    expect(stale.body).toEqual(scimError(412));
    expect(await eventCounts(harness)).toEqual(before);
    const fresh = await scim('PATCH', `/Users/${user.id}`, {
      token: token(),
      body: patchOp({ op: 'replace', path: 'displayName', value: 'v2' }),
      headers: { 'if-match': 'W/"1"' },
    });
    expect(fresh.status).toBe(200);
    expect(fresh.body).toMatchObject({ displayName: 'v2', meta: { version: 'W/"2"' } });
    expect(await eventCounts(harness)).toEqual({ outbox: before.outbox + 1, audit: before.audit + 1 });
  });

  it.each([
    ['the readOnly groups attribute', 'groups', [{ value: '018f0000-0000-7000-8000-000000000000' }]],
    ['the server-owned id', 'id', '018f0000-0000-7000-8000-000000000000'],
    ['server-owned meta', 'meta.created', '2020-01-01T00:00:00Z'],
  ])('answers 400 mutability to a change of %s, and writes nothing', async (_name, path, value) => {
    const user = await createUser();
    const before = await eventCounts(harness);
    const res = await patch('Users', user.id, { op: 'replace', path, value });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(scimError(400, 'mutability'));
    expect(await eventCounts(harness)).toEqual(before);
    expect(await read('Users', user.id)).toEqual(user);
  });

  it('answers 400 mutability to a change of an immutable member sub-attribute', async () => {
    const user = await createUser();
    const group = await createGroup('immutable-member', [user.id as string]);
    const res = await patch('Groups', group.id, { op: 'replace', path: 'members.value', value: '018f0000-0000-7000-8000-000000000000' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(scimError(400, 'mutability'));
    expect(memberIds(await read('Groups', group.id))).toEqual([user.id]);
  });

  it.each([
    ['an unknown attribute', 'shoeSize'],
    ['an unknown sub-attribute', 'name.nick'],
    ['an unknown extension schema', 'urn:example:nope:2.0:User:badge'],
    ['a value filter on a single-valued attribute', 'name[givenName eq "x"].familyName'],
  ])('answers 400 invalidPath for %s', async (_name, path) => {
    const user = await createUser();
    const res = await patch('Users', user.id, { op: 'replace', path, value: 'x' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(scimError(400, 'invalidPath'));
  });

  it('answers 400 invalidFilter for a malformed value filter in a path', async () => {
    const user = await createUser();
    const res = await patch('Users', user.id, { op: 'replace', path: 'emails[type eq].value', value: 'x' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(scimError(400, 'invalidFilter'));
  });

  it.each([
    ['an unknown op', patchOp({ op: 'merge', path: 'nickName', value: 'x' })],
    ['no PatchOp schema', { schemas: [SCHEMA.user], Operations: [{ op: 'add', path: 'nickName', value: 'x' }] }],
    ['no operations', patchOp()],
    ['an add without a value', patchOp({ op: 'add', path: 'nickName' })],
  ])('answers 400 invalidSyntax for %s', async (_name, body) => {
    const user = await createUser();
    const res = await scim('PATCH', `/Users/${user.id}`, { token: token(), body });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(scimError(400, 'invalidSyntax'));
  });

  it("answers 409 uniqueness when a PATCH takes another User's userName, and writes nothing", async () => {
    const taken = await createUser();
    const user = await createUser();
    const before = await eventCounts(harness);
    const res = await patch('Users', user.id, { op: 'replace', path: 'userName', value: String(taken.userName).toUpperCase() });
    expect(res.status).toBe(409);
    expect(res.body).toEqual(scimError(409, 'uniqueness'));
    expect(await eventCounts(harness)).toEqual(before);
    expect(await read('Users', user.id)).toEqual(user);
  });

  it('answers 404 for a resource that does not exist', async () => {
    const res = await patch('Users', '018f0000-0000-7000-8000-000000000000', { op: 'add', path: 'nickName', value: 'x' });
    expect(res.status).toBe(404);
    expect(res.body).toEqual(scimError(404));
  });
});
