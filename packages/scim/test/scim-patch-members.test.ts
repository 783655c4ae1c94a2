import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SCHEMA } from '@meridian/core';
import { type AppHarness, eventCounts, type Json, patchOp, scimClient, scimError, startScimApp } from '@meridian/test-utils/apps';

// RFC 7644 §3.5.2: PATCH of group members and of the password over HTTP, against a real PostgreSQL
// (scim-patch.test.ts has add, replace, remove and the all-or-nothing rules).

let harness: AppHarness;
beforeAll(async () => {
  harness = await startScimApp();
});
afterAll(() => harness.close());

const scim = scimClient(() => harness.app);
const token = () => harness.tenants.emea.token;
const BASE = 'https://hub.test/scim/v2';

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
describe('RFC 7644 §3.5.2 group members', () => {
  let users: Json[];
  beforeAll(async () => {
    users = [await createUser({ displayName: 'Member One' }), await createUser({ displayName: 'Member Two' }), await createUser()];
  });
  const id = (i: number) => users[i]?.id as string;

  it('adds members: 204 with the new ETag and no body; the members are really there', async () => {
    const group = await createGroup('members-add');
    const before = await eventCounts(harness);
    const res = await patch('Groups', group.id, { op: 'add', path: 'members', value: [{ value: id(0) }, { value: id(1) }] });
    expect(res.status).toBe(204);
    expect(res.headers.etag).toBe('W/"2"');
    expect(res.text).toBe('');
    expect(await eventCounts(harness)).toEqual({ outbox: before.outbox + 1, audit: before.audit + 1 });
    const after = await read('Groups', group.id);
    expect(after.members).toEqual([
      { value: id(0), $ref: `${BASE}/Users/${id(0)}`, type: 'User', display: 'Member One' },
      { value: id(1), $ref: `${BASE}/Users/${id(1)}`, type: 'User', display: 'Member Two' },
    ]);
    expect((after.meta as Json).version).toBe('W/"2"');
  });

  it('returns the group with 200 when the client asks for attributes', async () => {
    const group = await createGroup('members-with-body');
    const res = await scim('PATCH', `/Groups/${group.id}?attributes=members`, {
      token: token(),
      body: patchOp({ op: 'add', path: 'members', value: [{ value: id(0) }] }),
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      schemas: [SCHEMA.group],
      id: group.id,
      members: [{ value: id(0), $ref: `${BASE}/Users/${id(0)}`, type: 'User', display: 'Member One' }],
      meta: expect.objectContaining({ version: 'W/"2"' }),
    });
  });

  it('removes a member by members[value eq "id"]', async () => {
    const group = await createGroup('members-remove-filter', [id(0), id(1), id(2)]);
    const res = await patch('Groups', group.id, { op: 'remove', path: `members[value eq "${id(1)}"]` });
    expect(res.status).toBe(204);
    expect(memberIds(await read('Groups', group.id))).toEqual([id(0), id(2)].sort());
  });

  it('removes members given as a value list (the legacy form)', async () => {
    const group = await createGroup('members-remove-list', [id(0), id(1), id(2)]);
    const res = await patch('Groups', group.id, { op: 'remove', path: 'members', value: [{ value: id(0) }, { value: id(2) }] });
    expect(res.status).toBe(204);
    expect(memberIds(await read('Groups', group.id))).toEqual([id(1)]);
  });

  it('removes all members with remove on members without a value', async () => {
    const group = await createGroup('members-remove-all', [id(0), id(1)]);
    const res = await patch('Groups', group.id, { op: 'remove', path: 'members' });
    expect(res.status).toBe(204);
    expect((await read('Groups', group.id)).members).toEqual([]);
  });

  it('replaces the member list', async () => {
    const group = await createGroup('members-replace', [id(0), id(1)]);
    const res = await patch('Groups', group.id, { op: 'replace', path: 'members', value: [{ value: id(1) }, { value: id(2) }] });
    expect(res.status).toBe(204);
    expect(memberIds(await read('Groups', group.id))).toEqual([id(1), id(2)].sort());
  });

  it('removes the members a filter on type selects: members[type eq "Group"]', async () => {
    const nested = await createGroup('members-type-nested');
    const group = await createGroup('members-remove-type', [id(0), nested.id as string]);
    const res = await patch('Groups', group.id, { op: 'remove', path: 'members[type eq "Group"]' });
    expect(res.status).toBe(204);
    expect(memberIds(await read('Groups', group.id))).toEqual([id(0)]);
  });

  it('adding a member twice keeps one membership', async () => {
    const group = await createGroup('members-idempotent', [id(0)]);
    const res = await patch('Groups', group.id, { op: 'add', path: 'members', value: [{ value: id(0) }, { value: id(0) }] });
    expect(res.status).toBe(204);
    expect(memberIds(await read('Groups', group.id))).toEqual([id(0)]);
  });

  it("answers 409 uniqueness when a rename takes another group's displayName", async () => {
    await createGroup('taken-name');
    const group = await createGroup('free-name');
    const res = await patch('Groups', group.id, { op: 'replace', path: 'displayName', value: 'Taken-Name' });
    expect(res.status).toBe(409);
    expect(res.body).toEqual(scimError(409, 'uniqueness'));
    expect((await read('Groups', group.id)).displayName).toBe('free-name');
  });

  it('renames a group by path and by a path-less value', async () => {
    const group = await createGroup('rename-me', [id(0)]);
    expect((await patch('Groups', group.id, { op: 'replace', path: 'displayName', value: 'renamed once' })).status).toBe(204);
    expect((await patch('Groups', group.id, { op: 'replace', value: { id: group.id, displayName: 'renamed twice' } })).status).toBe(204);
    const after = await read('Groups', group.id);
    expect(after.displayName).toBe('renamed twice');
    expect(memberIds(after)).toEqual([id(0)]);
  });

  it('rejects a group as its own member with 400 and writes nothing', async () => {
    const group = await createGroup('self-member', [id(0)]);
    const before = await eventCounts(harness);
    const res = await patch('Groups', group.id, { op: 'add', path: 'members', value: [{ value: group.id }] });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(scimError(400, 'invalidValue'));
    expect(await eventCounts(harness)).toEqual(before);
    expect(await read('Groups', group.id)).toEqual(group);
  });

  it('rejects a membership that closes a cycle through nested groups', async () => {
    const inner = await createGroup('cycle-inner');
    const outer = await createGroup('cycle-outer', [inner.id as string]);
    const res = await patch('Groups', inner.id, { op: 'add', path: 'members', value: [{ value: outer.id }] });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(scimError(400, 'invalidValue'));
    expect((await read('Groups', inner.id)).members).toEqual([]);
  });

  it('rejects a member that does not exist in the tenant, and writes nothing', async () => {
    const group = await createGroup('unknown-member');
    const foreign = await scim('POST', '/Users', { token: harness.tenants.apac.token, body: { userName: 'foreign-member' } });
    const before = await eventCounts(harness);
    const res = await patch('Groups', group.id, { op: 'add', path: 'members', value: [{ value: id(0) }, { value: foreign.body.id }] });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(scimError(400, 'invalidValue'));
    expect(await eventCounts(harness)).toEqual(before);
    expect((await read('Groups', group.id)).members).toEqual([]);
  });

  it('shows direct and indirect groups on the User after nested membership PATCHes', async () => {
    const user = await createUser();
    const inner = await createGroup('nested-inner');
    const outer = await createGroup('nested-outer');
    expect((await patch('Groups', inner.id, { op: 'add', path: 'members', value: [{ value: user.id }] })).status).toBe(204);
    expect((await patch('Groups', outer.id, { op: 'add', path: 'members', value: [{ value: inner.id }] })).status).toBe(204);
    const outerRead = await read('Groups', outer.id);
    expect(outerRead.members).toEqual([{ value: inner.id, $ref: `${BASE}/Groups/${inner.id}`, type: 'Group', display: 'nested-inner' }]);
    const member = await read('Users', user.id);
    expect(member.groups).toEqual(
      expect.arrayContaining([
        { value: inner.id, $ref: `${BASE}/Groups/${inner.id}`, display: 'nested-inner', type: 'direct' },
        { value: outer.id, $ref: `${BASE}/Groups/${outer.id}`, display: 'nested-outer', type: 'indirect' },
      ]),
    );
    expect(member.groups).toHaveLength(2);

    expect((await patch('Groups', outer.id, { op: 'remove', path: `members[value eq "${inner.id}"]` })).status).toBe(204);
    expect((await read('Users', user.id)).groups).toEqual([
      { value: inner.id, $ref: `${BASE}/Groups/${inner.id}`, display: 'nested-inner', type: 'direct' },
    ]);
    expect((await patch('Groups', inner.id, { op: 'remove', path: `members[value eq "${user.id}"]` })).status).toBe(204);
    expect((await read('Users', user.id)).groups).toBeUndefined();
  });
});

describe('password through PATCH', () => {
  async function passwordHash(id: unknown): Promise<string | null> {
    const [row] = await harness.db.query<{ password_hash: string | null }>('select password_hash from scim_user where id = $1', [id]);
    return row?.password_hash ?? null;
  }

  it('stores a patched password as an argon2id hash and never returns it', async () => {
    const user = await createUser();
    expect(await passwordHash(user.id)).toBeNull();
    const res = await patch('Users', user.id, { op: 'replace', path: 'password', value: 'Correct-Horse-1' });
    expect(res.status).toBe(200);
    expect(res.body.password).toBeUndefined();
    expect(res.text).not.toContain('Correct-Horse-1');
    const first = await passwordHash(user.id);
    expect(first).toMatch(/^\$argon2id\$/);
    expect(first).not.toContain('Correct-Horse-1');

    const pathless = await patch('Users', user.id, { op: 'replace', value: { password: 'Battery-Staple-2' } });
    expect(pathless.status).toBe(200);
    expect(pathless.text).not.toContain('Battery-Staple-2');
    const second = await passwordHash(user.id);
    expect(second).toMatch(/^\$argon2id\$/);
    expect(second).not.toBe(first);

    const read1 = await scim('GET', `/Users/${user.id}?attributes=password`, { token: token() });
    expect(read1.body.password).toBeUndefined();
    const audit = await harness.db.query<{ n: string }>("select count(*) as n from audit_event where diff::text like '%Battery-Staple-2%'");
    expect(Number(audit[0]?.n)).toBe(0);
  });

  it('keeps the stored hash when a PATCH does not touch the password', async () => {
    const user = await createUser({ password: 'Initial-Secret-3' });
    const hash = await passwordHash(user.id);
    expect(hash).toMatch(/^\$argon2id\$/);
    expect((await patch('Users', user.id, { op: 'replace', path: 'nickName', value: 'n' })).status).toBe(200);
    expect(await passwordHash(user.id)).toBe(hash);
  });
});
