import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SCHEMA } from '@meridian/core';
import {
  type AppHarness,
  checkedScimClient,
  type Json,
  patchOp,
  query,
  resourcesOf,
  scimError,
  startScimApp,
} from '@meridian/test-utils/apps';

// Microsoft Entra ID provisioning, replayed in the order it sends requests
// (docs/scim.md, "Client conformance"). Each step depends on the ones before it.

let harness: AppHarness;
beforeAll(async () => {
  harness = await startScimApp();
});
afterAll(() => harness.close());

const send = checkedScimClient(() => harness.app);
const scim = (method: Parameters<typeof send>[0], path: string, body?: unknown) =>
  send(method, path, { token: harness.tenants.emea.token, ...(body !== undefined ? { body } : {}) });

const BASE = 'https://hub.test/scim/v2';
const ENTERPRISE = SCHEMA.enterpriseUser;
const MICROSOFT_GROUP = 'http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group';
const EMPTY_LIST = { schemas: [SCHEMA.listResponse], totalResults: 0, itemsPerPage: 0, startIndex: 1, Resources: [] };

const externalId = randomUUID();
const userName = `Test_User_${randomUUID()}@contoso.example`;
const workEmail = `Test_User_${randomUUID()}@contoso.example`;
const state: { userId?: string; managerId?: string; otherId?: string; groupId?: string; group?: Json; user?: Json } = {};

describe('Entra ID: connection test and lookups', () => {
  it.each(['userName', 'externalId', 'id'])(
    'answers a filter on %s with a random guid with 200 and an empty ListResponse',
    async (attribute) => {
      const res = await scim('GET', `/Users${query({ filter: `${attribute} eq "${randomUUID()}"` })}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual(EMPTY_LIST);
    },
  );

  it('looks the user up by userName, externalId and work email before creating it: empty lists', async () => {
    for (const filter of [`userName eq "${userName}"`, `externalId eq "${externalId}"`, `emails[type eq "work"].value eq "${workEmail}"`]) {
      const res = await scim('GET', `/Users${query({ filter })}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual(EMPTY_LIST);
    }
  });
});

describe('Entra ID: user lifecycle', () => {
  it('creates the user: enterprise schema, nulls treated as absent, roles: [] and a client meta ignored', async () => {
    const res = await scim('POST', '/Users', {
      schemas: [SCHEMA.user, ENTERPRISE],
      externalId,
      userName,
      active: true,
      emails: [{ primary: true, type: 'work', value: workEmail }],
      meta: { resourceType: 'User' },
      name: { formatted: 'Ada Lovelace', familyName: 'Lovelace', givenName: 'Ada', middleName: null },
      nickName: null,
      title: null,
      roles: [],
      [ENTERPRISE]: { employeeNumber: '1001', department: null },
    });
    expect(res.status).toBe(201);
    state.userId = res.body.id as string;
    expect(res.headers.location).toBe(`${BASE}/Users/${state.userId}`);
    expect(res.body).toEqual({
      schemas: [SCHEMA.user, ENTERPRISE],
      id: state.userId,
      externalId,
      userName,
      active: true,
      emails: [{ primary: true, type: 'work', value: workEmail }],
      name: { formatted: 'Ada Lovelace', familyName: 'Lovelace', givenName: 'Ada' },
      [ENTERPRISE]: { employeeNumber: '1001' },
      meta: {
        resourceType: 'User',
        created: expect.any(String),
        lastModified: expect.any(String),
        location: `${BASE}/Users/${state.userId}`,
        version: 'W/"1"',
      },
    });
    state.user = res.body;
  });

  it('finds the user by each lookup filter, and by userName and externalId together', async () => {
    for (const filter of [
      `userName eq "${userName}"`,
      `externalId eq "${externalId}"`,
      `emails[type eq "work"].value eq "${workEmail}"`,
      `userName eq "${userName}" and externalId eq "${externalId}"`,
    ]) {
      const res = await scim('GET', `/Users${query({ filter })}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        schemas: [SCHEMA.listResponse],
        totalResults: 1,
        itemsPerPage: 1,
        startIndex: 1,
        Resources: [state.user],
      });
    }
  });

  it('reads the user by id', async () => {
    const res = await scim('GET', `/Users/${state.userId}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(state.user);
  });

  it('patches with capitalised ops: Replace of a value-filter path and name.familyName, Add of a URN path', async () => {
    const newEmail = `updated_${randomUUID()}@contoso.example`;
    const res = await scim(
      'PATCH',
      `/Users/${state.userId}`,
      patchOp(
        { op: 'Replace', path: 'emails[type eq "work"].value', value: newEmail },
        { op: 'Replace', path: 'name.familyName', value: 'Byron' },
        { op: 'Add', path: `${ENTERPRISE}:employeeNumber`, value: '2002' },
      ),
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      emails: [{ primary: true, type: 'work', value: newEmail }],
      name: { formatted: 'Ada Lovelace', familyName: 'Byron', givenName: 'Ada' },
      [ENTERPRISE]: { employeeNumber: '2002' },
      meta: { version: 'W/"2"' },
    });
    const found = await scim('GET', `/Users${query({ filter: `emails[type eq "work"].value eq "${newEmail}"` })}`);
    expect(resourcesOf(found).map((r) => r.id)).toEqual([state.userId]);
  });

  it('disables with the string "False", and the inactive user is still returned by GET and by filter', async () => {
    const res = await scim('PATCH', `/Users/${state.userId}`, patchOp({ op: 'Replace', path: 'active', value: 'False' }));
    expect(res.status).toBe(200);
    expect(res.body.active).toBe(false);
    const read = await scim('GET', `/Users/${state.userId}`);
    expect(read.status).toBe(200);
    expect(read.body.active).toBe(false);
    const listed = await scim('GET', `/Users${query({ filter: `userName eq "${userName}"` })}`);
    expect(resourcesOf(listed).map((r) => [r.id, r.active])).toEqual([[state.userId, false]]);
  });

  it('enables again with a real boolean (newer tenants)', async () => {
    const res = await scim('PATCH', `/Users/${state.userId}`, patchOp({ op: 'replace', path: 'active', value: true }));
    expect(res.status).toBe(200);
    expect(res.body.active).toBe(true);
  });

  it('replaces without a path, with dotted and URN-qualified keys', async () => {
    const res = await scim(
      'PATCH',
      `/Users/${state.userId}`,
      patchOp({
        op: 'replace',
        value: {
          displayName: 'Ada King',
          'name.givenName': 'Augusta',
          [`${ENTERPRISE}:employeeNumber`]: '3003',
          [`${ENTERPRISE}:department`]: 'Analytics',
        },
      }),
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      displayName: 'Ada King',
      name: { formatted: 'Ada Lovelace', familyName: 'Byron', givenName: 'Augusta' },
      [ENTERPRISE]: { employeeNumber: '3003', department: 'Analytics' },
    });
  });

  it('treats Add on a single-valued attribute (nickName) as replace', async () => {
    const first = await scim('PATCH', `/Users/${state.userId}`, patchOp({ op: 'Add', path: 'nickName', value: 'Ada' }));
    expect(first.status).toBe(200);
    expect(first.body.nickName).toBe('Ada');
    const second = await scim('PATCH', `/Users/${state.userId}`, patchOp({ op: 'Add', path: 'nickName', value: 'Countess' }));
    expect(second.status).toBe(200);
    expect(second.body.nickName).toBe('Countess');
  });

  it('adds a manager sent as an array with a null $ref, then as an object', async () => {
    const manager = await scim('POST', '/Users', { schemas: [SCHEMA.user], userName: `Manager_${randomUUID()}`, active: true });
    const other = await scim('POST', '/Users', { schemas: [SCHEMA.user], userName: `Manager_${randomUUID()}`, active: true });
    expect([manager.status, other.status]).toEqual([201, 201]);
    state.managerId = manager.body.id as string;
    state.otherId = other.body.id as string;

    const asArray = await scim(
      'PATCH',
      `/Users/${state.userId}`,
      patchOp({ op: 'Add', path: 'manager', value: [{ $ref: null, value: state.otherId }] }),
    );
    expect(asArray.status).toBe(200);
    expect((asArray.body[ENTERPRISE] as Json).manager).toEqual({ value: state.otherId });

    const asObject = await scim(
      'PATCH',
      `/Users/${state.userId}`,
      patchOp({ op: 'Add', path: 'manager', value: { value: state.managerId } }),
    );
    expect(asObject.status).toBe(200);
    expect(asObject.body[ENTERPRISE]).toEqual({ employeeNumber: '3003', department: 'Analytics', manager: { value: state.managerId } });
  });

  // `manager` is an enterprise attribute named without its URN, and compared as a whole: it stands for manager.value.
  it('checks the manager with filter=id eq ".." and manager eq ".."', async () => {
    const right = await scim('GET', `/Users${query({ filter: `id eq "${state.userId}" and manager eq "${state.managerId}"` })}`);
    expect(right.status).toBe(200);
    expect(resourcesOf(right).map((r) => r.id)).toEqual([state.userId]);
    const wrong = await scim('GET', `/Users${query({ filter: `id eq "${state.userId}" and manager eq "${state.otherId}"` })}`);
    expect(wrong.status).toBe(200);
    expect(wrong.body).toEqual(EMPTY_LIST);
  });

  it('checks the manager with the qualified form manager.value, which the filter translator supports', async () => {
    const qualified = (manager: unknown) => `id eq "${state.userId}" and ${ENTERPRISE}:manager.value eq "${manager}"`;
    const right = await scim('GET', `/Users${query({ filter: qualified(state.managerId) })}`);
    expect(resourcesOf(right).map((r) => r.id)).toEqual([state.userId]);
    const wrong = await scim('GET', `/Users${query({ filter: qualified(state.otherId) })}`);
    expect(wrong.body).toEqual(EMPTY_LIST);
  });

  it('removes the manager', async () => {
    const res = await scim('PATCH', `/Users/${state.userId}`, patchOp({ op: 'Remove', path: 'manager' }));
    expect(res.status).toBe(200);
    expect(res.body[ENTERPRISE]).toEqual({ employeeNumber: '3003', department: 'Analytics' });
  });
});

describe('Entra ID: group lifecycle', () => {
  const displayName = `Group_${randomUUID()}`;

  it('looks the group up by displayName, without members: empty list', async () => {
    const res = await scim('GET', `/Groups${query({ excludedAttributes: 'members', filter: `displayName eq "${displayName}"` })}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(EMPTY_LIST);
  });

  it('creates the group with the extra Microsoft schema URI and a client meta', async () => {
    const groupExternalId = randomUUID();
    const res = await scim('POST', '/Groups', {
      schemas: [SCHEMA.group, MICROSOFT_GROUP],
      externalId: groupExternalId,
      displayName,
      meta: { resourceType: 'Group' },
    });
    expect(res.status).toBe(201);
    state.groupId = res.body.id as string;
    expect(res.body).toEqual({
      schemas: [SCHEMA.group],
      id: state.groupId,
      externalId: groupExternalId,
      displayName,
      members: [],
      meta: {
        resourceType: 'Group',
        created: expect.any(String),
        lastModified: expect.any(String),
        location: `${BASE}/Groups/${state.groupId}`,
        version: 'W/"1"',
      },
    });
    state.group = res.body;
  });

  it('reads the group with excludedAttributes=members, by filter and by id', async () => {
    const { members: _members, ...withoutMembers } = state.group as Json;
    const listed = await scim('GET', `/Groups${query({ excludedAttributes: 'members', filter: `displayName eq "${displayName}"` })}`);
    expect(listed.body).toEqual({
      schemas: [SCHEMA.listResponse],
      totalResults: 1,
      itemsPerPage: 1,
      startIndex: 1,
      Resources: [withoutMembers],
    });
    const one = await scim('GET', `/Groups/${state.groupId}?excludedAttributes=members`);
    expect(one.body).toEqual(withoutMembers);
  });

  it('adds several members in one PATCH with $ref: null: 204', async () => {
    const res = await scim(
      'PATCH',
      `/Groups/${state.groupId}`,
      patchOp({
        op: 'Add',
        path: 'members',
        value: [
          { $ref: null, value: state.userId },
          { $ref: null, value: state.managerId },
          { $ref: null, value: state.otherId },
        ],
      }),
    );
    expect(res.status).toBe(204);
    const read = await scim('GET', `/Groups/${state.groupId}`);
    expect((read.body.members as Json[]).map((m) => m.value).sort()).toEqual([state.userId, state.managerId, state.otherId].sort());
    const member = await scim('GET', `/Users/${state.userId}`);
    expect(member.body.groups).toEqual([
      { value: state.groupId, $ref: `${BASE}/Groups/${state.groupId}`, display: displayName, type: 'direct' },
    ]);
  });

  it('removes a member the legacy way: Remove on members with a value list: 204', async () => {
    const res = await scim(
      'PATCH',
      `/Groups/${state.groupId}`,
      patchOp({ op: 'Remove', path: 'members', value: [{ value: state.otherId }] }),
    );
    expect(res.status).toBe(204);
    const read = await scim('GET', `/Groups/${state.groupId}`);
    expect((read.body.members as Json[]).map((m) => m.value).sort()).toEqual([state.userId, state.managerId].sort());
  });

  it('removes a member the compliant way: remove members[value eq "id"]: 204', async () => {
    const res = await scim('PATCH', `/Groups/${state.groupId}`, patchOp({ op: 'remove', path: `members[value eq "${state.managerId}"]` }));
    expect(res.status).toBe(204);
    const read = await scim('GET', `/Groups/${state.groupId}`);
    expect((read.body.members as Json[]).map((m) => m.value)).toEqual([state.userId]);
  });

  it('renames the group: 204', async () => {
    const res = await scim(
      'PATCH',
      `/Groups/${state.groupId}`,
      patchOp({ op: 'Replace', path: 'displayName', value: `${displayName} (renamed)` }),
    );
    expect(res.status).toBe(204);
    const found = await scim(
      'GET',
      `/Groups${query({ excludedAttributes: 'members', filter: `displayName eq "${displayName} (renamed)"` })}`,
    );
    expect(resourcesOf(found).map((g) => g.id)).toEqual([state.groupId]);
  });

  it('deletes the group (204), then the user (204); both are gone with a SCIM 404', async () => {
    expect((await scim('DELETE', `/Groups/${state.groupId}`)).status).toBe(204);
    expect((await scim('DELETE', `/Users/${state.userId}`)).status).toBe(204);
    for (const path of [`/Groups/${state.groupId}`, `/Users/${state.userId}`]) {
      const res = await scim('GET', path);
      expect(res.status).toBe(404);
      expect(res.body).toEqual(scimError(404));
    }
    const listed = await scim('GET', `/Users${query({ filter: `userName eq "${userName}"` })}`);
    expect(listed.body).toEqual(EMPTY_LIST);
  });
});
