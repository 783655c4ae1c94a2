import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type DirectoryCaller, principalOfRole, SCHEMA } from '@meridian/core';
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

/** A SCIM client of the tenant: the caller the core's ResourceService authorizes (scim.read, scim.write). */
const scimCaller = (tenantId: string): DirectoryCaller => ({ principal: principalOfRole('provisioner', { tenantId }), api: 'scim' });

// Okta provisioning, replayed in the order it sends requests
// (docs/scim.md, "Client conformance"). Each step depends on the ones before it.

let harness: AppHarness;
beforeAll(async () => {
  harness = await startScimApp();
});
afterAll(() => harness.close());

const send = checkedScimClient(() => harness.app);
const scim = (method: Parameters<typeof send>[0], path: string, body?: unknown) =>
  send(method, path, { token: harness.tenants.emea.token, ...(body !== undefined ? { body } : {}) });
const setup = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };

const BASE = 'https://hub.test/scim/v2';
const userName = 'isabella.jones@okta.example';
const state: { user?: Json; userId?: string; groupId?: string; others?: string[] } = {};

async function passwordHash(id: unknown): Promise<string | null> {
  const [row] = await harness.db.query<{ password_hash: string | null }>('select password_hash from scim_user where id = $1', [id]);
  return row?.password_hash ?? null;
}

describe('Okta: user lifecycle', () => {
  it('looks the user up with startIndex and count: 200 and an empty ListResponse', async () => {
    const res = await scim('GET', `/Users${query({ filter: `userName eq "${userName}"`, startIndex: 1, count: 100 })}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ schemas: [SCHEMA.listResponse], totalResults: 0, itemsPerPage: 0, startIndex: 1, Resources: [] });
  });

  it('creates the user with password, locale and groups: [] and gets 201 with the full user, no password', async () => {
    const res = await scim('POST', '/Users', {
      schemas: [SCHEMA.user],
      userName,
      name: { givenName: 'Isabella', familyName: 'Jones' },
      emails: [{ primary: true, value: userName, type: 'work' }],
      displayName: 'Isabella Jones',
      locale: 'en-US',
      externalId: '00ujl29u0le5T6Aj10h7',
      groups: [],
      password: '1mz050nq',
      active: true,
    });
    expect(res.status).toBe(201);
    state.userId = res.body.id as string;
    expect(res.body).toEqual({
      schemas: [SCHEMA.user],
      id: state.userId,
      externalId: '00ujl29u0le5T6Aj10h7',
      userName,
      name: { givenName: 'Isabella', familyName: 'Jones' },
      emails: [{ primary: true, value: userName, type: 'work' }],
      displayName: 'Isabella Jones',
      locale: 'en-US',
      active: true,
      meta: {
        resourceType: 'User',
        created: expect.any(String),
        lastModified: expect.any(String),
        location: `${BASE}/Users/${state.userId}`,
        version: 'W/"1"',
      },
    });
    expect(res.text).not.toContain('1mz050nq');
    expect(await passwordHash(state.userId)).toMatch(/^\$argon2id\$/);
    state.user = res.body;
  });

  it('answers a duplicate userName with 409 and the SCIM Error schema', async () => {
    const res = await scim('POST', '/Users', { schemas: [SCHEMA.user], userName, password: 'x', groups: [], active: true });
    expect(res.status).toBe(409);
    expect(res.body).toEqual(scimError(409, 'uniqueness'));
  });

  it('finds the user by the same lookup', async () => {
    const res = await scim('GET', `/Users${query({ filter: `userName eq "${userName}"`, startIndex: 1, count: 100 })}`);
    expect(res.body).toEqual({ schemas: [SCHEMA.listResponse], totalResults: 1, itemsPerPage: 1, startIndex: 1, Resources: [state.user] });
  });

  it('updates with GET, then a full PUT of what it got back', async () => {
    const got = await scim('GET', `/Users/${state.userId}`);
    expect(got.status).toBe(200);
    const res = await scim('PUT', `/Users/${state.userId}`, {
      ...got.body,
      name: { givenName: 'Bella', familyName: 'Jones' },
      title: 'Engineer',
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      ...got.body,
      name: { givenName: 'Bella', familyName: 'Jones' },
      title: 'Engineer',
      meta: { ...(got.body.meta as Json), lastModified: expect.any(String), version: 'W/"2"' },
    });
    expect(res.headers.etag).toBe('W/"2"');
  });

  it('changes the password with a path-less replace', async () => {
    const before = await passwordHash(state.userId);
    const res = await scim('PATCH', `/Users/${state.userId}`, patchOp({ op: 'replace', value: { password: 't1meMa$heen' } }));
    expect(res.status).toBe(200);
    expect(res.text).not.toMatch(/password|t1meMa\$heen/);
    const after = await passwordHash(state.userId);
    expect(after).toMatch(/^\$argon2id\$/);
    expect(after).not.toBe(before);
  });

  it('deactivates with a path-less replace of active: false; the user stays readable and findable', async () => {
    const res = await scim('PATCH', `/Users/${state.userId}`, patchOp({ op: 'replace', value: { active: false } }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: state.userId, userName, active: false, title: 'Engineer' });
    const read = await scim('GET', `/Users/${state.userId}`);
    expect(read.body.active).toBe(false);
    const found = await scim('GET', `/Users${query({ filter: `userName eq "${userName}"`, startIndex: 1, count: 100 })}`);
    expect(resourcesOf(found).map((r) => [r.id, r.active])).toEqual([[state.userId, false]]);
  });

  it('reactivates the same way', async () => {
    const res = await scim('PATCH', `/Users/${state.userId}`, patchOp({ op: 'replace', value: { active: true } }));
    expect(res.status).toBe(200);
    expect(res.body.active).toBe(true);
  });
});

describe('Okta: paging', () => {
  beforeAll(async () => {
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < 249; i++) {
      pending.push(
        harness.services.resources.create(
          scimCaller(harness.tenants.emea.id),
          harness.tenants.emea.id,
          'User',
          { userName: `okta-import-${i}@okta.example` },
          setup,
        ),
      );
    }
    await Promise.all(pending);
  });

  it('pages in steps of 100 with integer fields, every user once, in an order that holds across pages and updates', async () => {
    const page = (startIndex: number) => scim('GET', `/Users${query({ startIndex, count: 100 })}`);
    const first = await page(1);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ schemas: [SCHEMA.listResponse], totalResults: 250, itemsPerPage: 100, startIndex: 1 });
    // An update between two page reads must not move users between pages.
    const moved = resourcesOf(first)[50];
    expect(
      (await scim('PATCH', `/Users/${moved?.id}`, patchOp({ op: 'replace', value: { displayName: 'Updated mid-import' } }))).status,
    ).toBe(200);
    const second = await page(101);
    const third = await page(201);
    expect(second.body).toMatchObject({ totalResults: 250, itemsPerPage: 100, startIndex: 101 });
    expect(third.body).toMatchObject({ totalResults: 250, itemsPerPage: 50, startIndex: 201 });
    const seen = [first, second, third].flatMap((p) => resourcesOf(p).map((r) => r.id));
    expect(new Set(seen).size).toBe(250);
    expect(seen).toContain(state.userId);
    const again = await page(1);
    expect(resourcesOf(again).map((r) => r.id)).toEqual(resourcesOf(first).map((r) => r.id));
    const beyond = await page(301);
    expect(beyond.body).toEqual({ schemas: [SCHEMA.listResponse], totalResults: 250, itemsPerPage: 0, startIndex: 301, Resources: [] });
  });
});

describe('Okta: group push', () => {
  const displayName = 'Okta Push Group';

  beforeAll(async () => {
    const others: string[] = [];
    for (const name of ['okta-member-a@okta.example', 'okta-member-b@okta.example']) {
      const res = await scim('POST', '/Users', { schemas: [SCHEMA.user], userName: name, groups: [], active: true });
      expect(res.status).toBe(201);
      others.push(res.body.id as string);
    }
    state.others = others;
  });
  const memberIds = async () => {
    const res = await scim('GET', `/Groups/${state.groupId}`);
    expect(res.status).toBe(200);
    return (res.body.members as Json[]).map((m) => m.value as string).sort();
  };
  const other = (i: number) => state.others?.[i] as string;

  it('looks the group up by displayName: empty list', async () => {
    const res = await scim('GET', `/Groups${query({ filter: `displayName eq "${displayName}"`, startIndex: 1, count: 100 })}`);
    expect(res.body).toEqual({ schemas: [SCHEMA.listResponse], totalResults: 0, itemsPerPage: 0, startIndex: 1, Resources: [] });
  });

  it('creates the group with members: []', async () => {
    const res = await scim('POST', '/Groups', { schemas: [SCHEMA.group], displayName, members: [] });
    expect(res.status).toBe(201);
    state.groupId = res.body.id as string;
    expect(res.body).toEqual({
      schemas: [SCHEMA.group],
      id: state.groupId,
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
    const found = await scim('GET', `/Groups${query({ filter: `displayName eq "${displayName}"`, startIndex: 1, count: 100 })}`);
    expect(resourcesOf(found)).toEqual([res.body]);
  });

  it('adds members together with the replace of id and displayName Okta sends along', async () => {
    const res = await scim(
      'PATCH',
      `/Groups/${state.groupId}`,
      patchOp(
        { op: 'replace', value: { id: state.groupId, displayName } },
        {
          op: 'add',
          path: 'members',
          value: [
            { value: state.userId, display: userName },
            { value: other(0), display: 'okta-member-a@okta.example' },
          ],
        },
      ),
    );
    expect(res.status).toBe(204);
    expect(await memberIds()).toEqual([state.userId, other(0)].sort());
    const member = await scim('GET', `/Users/${state.userId}`);
    expect(member.body.groups).toEqual([
      { value: state.groupId, $ref: `${BASE}/Groups/${state.groupId}`, display: displayName, type: 'direct' },
    ]);
  });

  it('removes members[value eq "id"] and adds members in the same PATCH', async () => {
    const res = await scim(
      'PATCH',
      `/Groups/${state.groupId}`,
      patchOp(
        { op: 'replace', value: { id: state.groupId, displayName } },
        { op: 'remove', path: `members[value eq "${other(0)}"]` },
        { op: 'add', path: 'members', value: [{ value: other(1), display: 'okta-member-b@okta.example' }] },
      ),
    );
    expect(res.status).toBe(204);
    expect(await memberIds()).toEqual([state.userId, other(1)].sort());
  });

  it('removing and re-adding the same member in one PATCH leaves it a member', async () => {
    const res = await scim(
      'PATCH',
      `/Groups/${state.groupId}`,
      patchOp({ op: 'remove', path: `members[value eq "${other(1)}"]` }, { op: 'add', path: 'members', value: [{ value: other(1) }] }),
    );
    expect(res.status).toBe(204);
    expect(await memberIds()).toEqual([state.userId, other(1)].sort());
  });

  it('renames with the path-less replace of id and displayName', async () => {
    const res = await scim(
      'PATCH',
      `/Groups/${state.groupId}`,
      patchOp({ op: 'replace', value: { id: state.groupId, displayName: `${displayName} 2` } }),
    );
    expect(res.status).toBe(204);
    const read = await scim('GET', `/Groups/${state.groupId}`);
    expect(read.body.displayName).toBe(`${displayName} 2`);
    expect((read.body.members as Json[]).length).toBe(2);
  });

  it('deletes the group: 204, and its members lose the membership', async () => {
    expect((await scim('DELETE', `/Groups/${state.groupId}`)).status).toBe(204);
    const gone = await scim('GET', `/Groups/${state.groupId}`);
    expect(gone.status).toBe(404);
    const member = await scim('GET', `/Users/${state.userId}`);
    expect(member.body.groups).toBeUndefined();
  });
});

describe('Okta: error bodies', () => {
  it.each([
    ['no token', undefined],
    ['an unknown token', 'mrd_okta-not-a-token'],
  ])('answers 401 with the SCIM Error schema and a string status for %s', async (_name, token) => {
    const res = await send(
      'GET',
      `/Users${query({ filter: `userName eq "${userName}"`, startIndex: 1, count: 100 })}`,
      token ? { token } : {},
    );
    expect(res.status).toBe(401);
    expect(res.body).toEqual(scimError(401));
    expect(res.body.status).toBe('401');
  });

  it.each([
    ['an unknown user id', '/Users/018f0000-0000-7000-8000-000000000000'],
    ['a user id that is not a uuid', '/Users/00ujl29u0le5T6Aj10h7'],
    ['an unknown group id', '/Groups/018f0000-0000-7000-8000-000000000000'],
  ])('answers 404 with the SCIM Error schema and a string status for %s', async (_name, path) => {
    const res = await scim('GET', path);
    expect(res.status).toBe(404);
    expect(res.body).toEqual(scimError(404));
    expect(res.body.status).toBe('404');
  });

  it('answers a PATCH of an unknown user with 404 too', async () => {
    const res = await scim('PATCH', '/Users/018f0000-0000-7000-8000-000000000000', patchOp({ op: 'replace', value: { active: false } }));
    expect(res.status).toBe(404);
    expect(res.body).toEqual(scimError(404));
  });
});
