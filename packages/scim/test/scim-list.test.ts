import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type DirectoryCaller, principalOfRole, SCHEMA } from '@meridian/core';
import {
  type AppHarness,
  type Json,
  query,
  resourcesOf,
  SCIM_CONTENT_TYPE,
  type ScimResponse,
  scimClient,
  scimError,
  startScimApp,
} from '@meridian/test-utils/apps';

/** A SCIM client of the tenant: the caller the core's ResourceService authorizes (scim.read, scim.write). */
const scimCaller = (tenantId: string): DirectoryCaller => ({ principal: principalOfRole('provisioner', { tenantId }), api: 'scim' });

// RFC 7644 §3.4.2 (list, filter, sort, page, attributes), §3.4.3 (POST .search) and RFC 9865 (cursor paging).

let harness: AppHarness;
beforeAll(async () => {
  harness = await startScimApp();
});
afterAll(() => harness.close());

const scim = scimClient(() => harness.app);
const token = () => harness.tenants.emea.token;
const setup = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };

async function createUser(body: Json): Promise<Json> {
  const res = await scim('POST', '/Users', { token: token(), body });
  expect(res.status).toBe(201);
  return res.body;
}

async function createGroup(body: Json): Promise<Json> {
  const res = await scim('POST', '/Groups', { token: token(), body });
  expect(res.status).toBe(201);
  return res.body;
}

function list(path: string, params: Record<string, string | number>): Promise<ScimResponse> {
  return scim('GET', `${path}${query(params)}`, { token: token() });
}

const userNames = (res: ScimResponse) => resourcesOf(res).map((r) => r.userName);
const ids = (res: ScimResponse) => resourcesOf(res).map((r) => r.id as string);

describe('RFC 7644 §3.4.2.3 sorting', () => {
  let people: Json[];
  beforeAll(async () => {
    // Created in this order, so meta.created ascends c, a, b.
    people = [
      await createUser({
        userName: 'sort-c@example.com',
        name: { familyName: 'carter' },
        emails: [{ value: 'a@example.com', type: 'work' }],
      }),
      await createUser({
        userName: 'Sort-A@example.com',
        name: { familyName: 'Baker' },
        // The primary value is the sort key, not the first one.
        emails: [
          { value: 'z@example.com', type: 'home' },
          { value: 'b@example.com', type: 'work', primary: true },
        ],
      }),
      await createUser({
        userName: 'sort-b@example.com',
        name: { familyName: 'adams' },
        emails: [{ value: 'c@example.com', type: 'work' }],
      }),
    ];
  });
  const filter = 'userName sw "sort-"';

  it('sorts by userName case-insensitively, both ways', async () => {
    const asc = await list('/Users', { filter, sortBy: 'userName' });
    expect(asc.status).toBe(200);
    expect(userNames(asc)).toEqual(['Sort-A@example.com', 'sort-b@example.com', 'sort-c@example.com']);
    const desc = await list('/Users', { filter, sortBy: 'userName', sortOrder: 'descending' });
    expect(userNames(desc)).toEqual(['sort-c@example.com', 'sort-b@example.com', 'Sort-A@example.com']);
  });

  it('sorts by a sub-attribute: name.familyName', async () => {
    const res = await list('/Users', { filter, sortBy: 'name.familyName' });
    expect(resourcesOf(res).map((r) => (r.name as Json).familyName)).toEqual(['adams', 'Baker', 'carter']);
  });

  it('sorts by meta.created', async () => {
    const asc = await list('/Users', { filter, sortBy: 'meta.created' });
    expect(ids(asc)).toEqual(people.map((p) => p.id));
    const desc = await list('/Users', { filter, sortBy: 'meta.created', sortOrder: 'descending' });
    expect(ids(desc)).toEqual(people.map((p) => p.id).reverse());
  });

  it('sorts a multi-valued attribute by its primary value, else its first', async () => {
    const res = await list('/Users', { filter, sortBy: 'emails' });
    expect(userNames(res)).toEqual(['sort-c@example.com', 'Sort-A@example.com', 'sort-b@example.com']);
  });

  it('answers 400 to a sortBy it cannot sort by, and to a bad sortOrder', async () => {
    const cases: Record<string, string>[] = [{ sortBy: 'shoeSize' }, { sortBy: 'name' }, { sortBy: 'userName', sortOrder: 'sideways' }];
    for (const params of cases) {
      const res = await list('/Users', { filter, ...params });
      expect(res.status).toBe(400);
      expect(res.body).toEqual(scimError(400, 'invalidValue'));
    }
  });
});

describe('RFC 7644 §3.4.2.4 index paging', () => {
  let tied: Json[];
  beforeAll(async () => {
    tied = [];
    for (let i = 0; i < 7; i++) tied.push(await createUser({ userName: `tie-${i}@example.com`, name: { familyName: 'Same' } }));
  });

  it('pages through equal sort keys in one stable order, every item exactly once', async () => {
    const filter = 'userName sw "tie-"';
    const all = await list('/Users', { filter, sortBy: 'name.familyName', count: 200 });
    expect(all.body.totalResults).toBe(7);
    // Ties fall back to the id.
    expect(ids(all)).toEqual(tied.map((u) => u.id as string).sort());
    const pages: string[] = [];
    for (let start = 1; start <= 7; start += 3) {
      const page = await list('/Users', { filter, sortBy: 'name.familyName', startIndex: start, count: 3 });
      expect(page.body).toMatchObject({ schemas: [SCHEMA.listResponse], totalResults: 7, startIndex: start });
      expect(page.body.itemsPerPage).toBe(resourcesOf(page).length);
      pages.push(...ids(page));
    }
    expect(pages).toEqual(ids(all));
  });

  it('reads startIndex below 1 as 1, a negative count as 0, and count=0 as "how many"', async () => {
    const filter = 'userName sw "tie-"';
    const zero = await list('/Users', { filter, startIndex: 0, count: 2 });
    expect(zero.body.startIndex).toBe(1);
    expect(userNames(zero)).toEqual(['tie-0@example.com', 'tie-1@example.com']);
    for (const count of [0, -5]) {
      const res = await list('/Users', { filter, count });
      expect(res.body).toEqual({ schemas: [SCHEMA.listResponse], totalResults: 7, itemsPerPage: 0, startIndex: 1, Resources: [] });
    }
  });

  it('answers 400 to a count or startIndex that is not an integer', async () => {
    const cases: Record<string, string>[] = [{ count: 'ten' }, { startIndex: '1.5' }];
    for (const params of cases) {
      const res = await list('/Users', params);
      expect(res.status).toBe(400);
      expect(res.body).toEqual(scimError(400, 'invalidValue'));
    }
  });

  it('answers 400 tooMany to a startIndex beyond 100000', async () => {
    const res = await list('/Users', { startIndex: 100_001, count: 10 });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(scimError(400, 'tooMany'));
    expect((await list('/Users', { startIndex: 100_000, count: 10 })).status).toBe(200);
  });

  it('lowers a count above maxResults to 200', async () => {
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < 205; i++) {
      pending.push(
        harness.services.resources.create(
          scimCaller(harness.tenants.emea.id),
          harness.tenants.emea.id,
          'User',
          { userName: `bulk-${String(i).padStart(3, '0')}` },
          setup,
        ),
      );
    }
    await Promise.all(pending);
    const res = await list('/Users', { filter: 'userName sw "bulk-"', count: 1000 });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ totalResults: 205, itemsPerPage: 200, startIndex: 1 });
    expect(resourcesOf(res)).toHaveLength(200);
    const rest = await list('/Users', { filter: 'userName sw "bulk-"', startIndex: 201, count: 1000 });
    expect(rest.body).toMatchObject({ totalResults: 205, itemsPerPage: 5 });
    expect(new Set([...ids(res), ...ids(rest)]).size).toBe(205);
  });
});

describe('RFC 9865 cursor paging', () => {
  let users: Json[];
  beforeAll(async () => {
    users = [];
    for (let i = 0; i < 7; i++) {
      users.push(
        await createUser({
          userName: `cursor-${i}@example.com`,
          // Some equal keys and some missing ones, to page across ties and nulls.
          ...(i % 3 === 0 ? {} : { nickName: i % 2 === 0 ? 'even' : 'odd' }),
        }),
      );
    }
  });
  const filter = 'userName sw "cursor-"';

  async function walk(params: Record<string, string | number>): Promise<{ pages: ScimResponse[]; seen: string[] }> {
    const pages: ScimResponse[] = [];
    let cursor = '';
    for (let guard = 0; guard < 20; guard++) {
      const page = await list('/Users', { filter, ...params, cursor });
      expect(page.status).toBe(200);
      pages.push(page);
      if (page.body.nextCursor === undefined) break;
      cursor = page.body.nextCursor as string;
    }
    return { pages, seen: pages.flatMap(ids) };
  }

  it('starts with an empty cursor and follows nextCursor to the last page, which has none', async () => {
    const { pages, seen } = await walk({ count: 3 });
    expect(pages.map((p) => resourcesOf(p).length)).toEqual([3, 3, 1]);
    for (const page of pages) {
      expect(page.body.totalResults).toBe(7);
      expect(page.body.startIndex).toBeUndefined();
      expect(page.body.itemsPerPage).toBe(resourcesOf(page).length);
    }
    expect(typeof pages[0]?.body.nextCursor).toBe('string');
    expect(pages[2]?.body.nextCursor).toBeUndefined();
    expect(seen).toEqual(users.map((u) => u.id));
  });

  it('gives no nextCursor when the last page is exactly full', async () => {
    const { pages } = await walk({ count: 7 });
    expect(pages).toHaveLength(1);
    expect(resourcesOf(pages[0] as ScimResponse)).toHaveLength(7);
    expect(pages[0]?.body.nextCursor).toBeUndefined();
  });

  it('pages a descending sort with ties and missing values, every item exactly once and in the sorted order', async () => {
    const all = await list('/Users', { filter, sortBy: 'nickName', sortOrder: 'descending', count: 200 });
    const { pages, seen } = await walk({ sortBy: 'nickName', sortOrder: 'descending', count: 2 });
    expect(pages).toHaveLength(4);
    expect(seen).toEqual(ids(all));
    expect(new Set(seen).size).toBe(7);
    const nickNames = resourcesOf(all).map((r) => r.nickName ?? null);
    expect(nickNames).toEqual(['odd', 'odd', 'even', 'even', null, null, null]);
  });

  it.each([
    ['garbage', 'not-a-cursor'],
    ['JSON that is not a cursor', Buffer.from('{"v":1}').toString('base64url')],
    ['a cursor of another sort order', 'OTHER_SORT'],
    ['a key that is not of the sorted type', 'BAD_KEY'],
  ])('answers 400 invalidCursor to %s', async (_name, cursor) => {
    let text = cursor;
    if (cursor === 'OTHER_SORT') {
      const first = await list('/Users', { filter, sortBy: 'userName', count: 2, cursor: '' });
      text = first.body.nextCursor as string;
    }
    if (cursor === 'BAD_KEY') {
      const first = await list('/Users', { filter, sortBy: 'meta.created', count: 2, cursor: '' });
      const decoded = JSON.parse(Buffer.from(first.body.nextCursor as string, 'base64url').toString('utf8')) as Json;
      text = Buffer.from(JSON.stringify({ ...decoded, v: 'not a date' })).toString('base64url');
    }
    const res = await list('/Users', { filter, sortBy: 'meta.created', count: 2, cursor: text });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(scimError(400, 'invalidCursor'));
  });

  it('answers 400 to cursor together with startIndex', async () => {
    const res = await list('/Users', { filter, cursor: '', startIndex: 1 });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(scimError(400, 'invalidValue'));
  });

  it('pages by cursor through POST .search too', async () => {
    const first = await scim('POST', '/Users/.search', {
      token: token(),
      body: { schemas: [SCHEMA.searchRequest], filter, count: 4, cursor: '' },
    });
    expect(first.status).toBe(200);
    expect(resourcesOf(first)).toHaveLength(4);
    const second = await scim('POST', '/Users/.search', {
      token: token(),
      body: { schemas: [SCHEMA.searchRequest], filter, count: 4, cursor: first.body.nextCursor },
    });
    expect(resourcesOf(second)).toHaveLength(3);
    expect(second.body.nextCursor).toBeUndefined();
    expect([...ids(first), ...ids(second)]).toEqual(users.map((u) => u.id));
  });
});

describe('RFC 7644 §3.4.2.5 attributes and excludedAttributes', () => {
  let user: Json;
  let group: Json;
  beforeAll(async () => {
    user = await createUser({
      schemas: [SCHEMA.user, SCHEMA.enterpriseUser],
      userName: 'select@example.com',
      externalId: 'sel-1',
      displayName: 'Selected',
      name: { givenName: 'Sel', familyName: 'Ected' },
      emails: [{ value: 'select@example.com', type: 'work', primary: true }],
      password: 'Never-Returned-1',
      [SCHEMA.enterpriseUser]: { employeeNumber: 'E-1', department: 'Sales' },
    });
    group = await createGroup({ displayName: 'selected-group', members: [{ value: user.id }] });
  });
  const meta = () => user.meta;

  it('attributes=userName returns only id, schemas, meta and userName', async () => {
    const res = await scim('GET', `/Users/${user.id}?attributes=userName`, { token: token() });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ schemas: [SCHEMA.user], id: user.id, userName: 'select@example.com', meta: meta() });
    const listed = await list('/Users', { filter: 'userName eq "select@example.com"', attributes: 'userName' });
    expect(resourcesOf(listed)).toEqual([res.body]);
  });

  it('attributes=name.givenName returns that sub-attribute alone', async () => {
    const res = await scim('GET', `/Users/${user.id}?attributes=name.givenName`, { token: token() });
    expect(res.body).toEqual({ schemas: [SCHEMA.user], id: user.id, name: { givenName: 'Sel' }, meta: meta() });
  });

  it('attributes with a URN-qualified extension attribute returns it under its schema', async () => {
    const res = await scim('GET', `/Users/${user.id}?attributes=${SCHEMA.enterpriseUser}:employeeNumber`, { token: token() });
    expect(res.body).toEqual({
      schemas: [SCHEMA.user, SCHEMA.enterpriseUser],
      id: user.id,
      [SCHEMA.enterpriseUser]: { employeeNumber: 'E-1' },
      meta: meta(),
    });
  });

  it('attributes and excludedAttributes with a whole extension URN', async () => {
    const only = await scim('GET', `/Users/${user.id}?attributes=${SCHEMA.enterpriseUser}`, { token: token() });
    expect(only.body).toEqual({
      schemas: [SCHEMA.user, SCHEMA.enterpriseUser],
      id: user.id,
      [SCHEMA.enterpriseUser]: { employeeNumber: 'E-1', department: 'Sales' },
      meta: meta(),
    });
    const without = await scim('GET', `/Users/${user.id}?excludedAttributes=${SCHEMA.enterpriseUser}`, { token: token() });
    expect(without.body.schemas).toEqual([SCHEMA.user]);
    expect(without.body[SCHEMA.enterpriseUser]).toBeUndefined();
    expect(without.body.userName).toBe('select@example.com');
  });

  it('excludedAttributes=emails drops emails and keeps the rest', async () => {
    const full = await scim('GET', `/Users/${user.id}`, { token: token() });
    const res = await scim('GET', `/Users/${user.id}?excludedAttributes=emails`, { token: token() });
    const { emails, ...rest } = full.body;
    expect(emails).toBeDefined();
    expect(res.body).toEqual(rest);
  });

  it('excludedAttributes=members leaves the members out of Groups, read or listed', async () => {
    const one = await scim('GET', `/Groups/${group.id}?excludedAttributes=members`, { token: token() });
    expect(one.body).toEqual({ schemas: [SCHEMA.group], id: group.id, displayName: 'selected-group', meta: group.meta });
    const listed = await list('/Groups', { filter: 'displayName eq "selected-group"', excludedAttributes: 'members' });
    expect(resourcesOf(listed)).toEqual([one.body]);
    const withMembers = await scim('GET', `/Groups/${group.id}`, { token: token() });
    expect((withMembers.body.members as Json[]).map((m) => m.value)).toEqual([user.id]);
  });

  it('never returns the password, whatever is asked', async () => {
    const paths = [
      `/Users/${user.id}`,
      `/Users/${user.id}?attributes=password`,
      `/Users/${user.id}?attributes=password,userName`,
      `/Users${query({ filter: 'userName eq "select@example.com"' })}`,
      `/Users${query({ filter: 'userName eq "select@example.com"', attributes: 'password' })}`,
    ];
    for (const path of paths) {
      const res = await scim('GET', path, { token: token() });
      expect(res.status).toBe(200);
      expect(res.text).not.toMatch(/password|Never-Returned-1/i);
    }
    const searched = await scim('POST', '/Users/.search', {
      token: token(),
      body: { schemas: [SCHEMA.searchRequest], filter: 'userName eq "select@example.com"', attributes: ['password', 'userName'] },
    });
    expect(searched.status).toBe(200);
    expect(searched.text).not.toMatch(/password|Never-Returned-1/i);
  });

  it('answers 400 to attributes and excludedAttributes together', async () => {
    const res = await scim('GET', `/Users/${user.id}?attributes=userName&excludedAttributes=emails`, { token: token() });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(scimError(400, 'invalidValue'));
  });
});

describe('RFC 7644 §3.4.3 POST .search', () => {
  let mixed: { users: Json[]; groups: Json[] };
  beforeAll(async () => {
    const users = [];
    for (let i = 0; i < 3; i++) users.push(await createUser({ userName: `mix-user-${i}`, externalId: `mix-${i}` }));
    const groups = [];
    for (let i = 0; i < 2; i++) groups.push(await createGroup({ displayName: `mix-group-${i}`, externalId: `mix-g${i}` }));
    mixed = { users, groups };
  });

  it('searches /Users with a SearchRequest body: attributes as an array, count as an integer', async () => {
    const res = await scim('POST', '/Users/.search', {
      token: token(),
      body: {
        schemas: [SCHEMA.searchRequest],
        filter: 'externalId sw "mix-"',
        attributes: ['userName', 'externalId'],
        sortBy: 'userName',
        sortOrder: 'descending',
        startIndex: 1,
        count: 2,
      },
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe(SCIM_CONTENT_TYPE);
    expect(res.body).toEqual({
      schemas: [SCHEMA.listResponse],
      totalResults: 3,
      itemsPerPage: 2,
      startIndex: 1,
      Resources: [2, 1].map((i) => ({
        schemas: [SCHEMA.user],
        id: mixed.users[i]?.id,
        externalId: `mix-${i}`,
        userName: `mix-user-${i}`,
        meta: mixed.users[i]?.meta,
      })),
    });
  });

  it('searches the root across Users and Groups, paging across the two', async () => {
    const expected = [...mixed.users, ...mixed.groups].map((r) => r.id);
    const seen: unknown[] = [];
    for (const startIndex of [1, 3, 5]) {
      const res = await scim('POST', '/.search', {
        token: token(),
        body: { schemas: [SCHEMA.searchRequest], filter: 'externalId sw "mix-"', attributes: ['externalId'], startIndex, count: 2 },
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ schemas: [SCHEMA.listResponse], totalResults: 5, startIndex });
      expect(res.body.itemsPerPage).toBe(resourcesOf(res).length);
      seen.push(...resourcesOf(res).map((r) => r.id));
    }
    expect(seen).toEqual(expected);
    const all = await scim('POST', '/.search', {
      token: token(),
      body: { schemas: [SCHEMA.searchRequest], filter: 'externalId sw "mix-"' },
    });
    expect(resourcesOf(all).map((r) => (r.meta as Json).resourceType)).toEqual(['User', 'User', 'User', 'Group', 'Group']);
  });

  it('searches the root with a filter only one resource type understands', async () => {
    const res = await scim('POST', '/.search', {
      token: token(),
      body: { schemas: [SCHEMA.searchRequest], filter: 'userName eq "mix-user-1"' },
    });
    expect(res.status).toBe(200);
    expect(resourcesOf(res).map((r) => r.id)).toEqual([mixed.users[1]?.id]);
    const bad = await scim('POST', '/.search', { token: token(), body: { schemas: [SCHEMA.searchRequest], filter: 'shoeSize eq 1' } });
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual(scimError(400, 'invalidFilter'));
  });

  it('needs only the read scope', async () => {
    const res = await scim('POST', '/Users/.search', {
      token: harness.tenants.emea.readOnly,
      body: { schemas: [SCHEMA.searchRequest], count: 1 },
    });
    expect(res.status).toBe(200);
  });
});

describe('RFC 7644 §3.4.2.2 filters', () => {
  let people: Record<string, Json>;
  beforeAll(async () => {
    people = {
      ann: await createUser({
        userName: 'flt-ann',
        active: true,
        emails: [{ value: 'ann@example.com', type: 'work' }],
        [SCHEMA.enterpriseUser]: { department: 'Sales' },
      }),
      bob: await createUser({
        userName: 'flt-bob',
        active: false,
        emails: [
          { value: 'bob@example.org', type: 'work' },
          { value: 'bob@example.com', type: 'home' },
        ],
        [SCHEMA.enterpriseUser]: { department: 'Engineering' },
      }),
      cyd: await createUser({ userName: 'flt-cyd', active: false, emails: [{ value: 'cyd@example.com', type: 'work' }] }),
    };
    const manager = people.ann?.id;
    people.dee = await createUser({ userName: 'flt-dee', [SCHEMA.enterpriseUser]: { manager: { value: manager } } });
  });
  const names = async (filter: string) => {
    const res = await list('/Users', { filter: `userName sw "flt-" and (${filter})`, sortBy: 'userName' });
    expect(res.status).toBe(200);
    return userNames(res);
  };

  it('compares dates: meta.created gt', async () => {
    const created = ((people.bob as Json).meta as Json).created as string;
    const later = Object.values(people)
      .filter((p) => ((p.meta as Json).created as string) > created)
      .map((p) => p.userName);
    expect(later.length).toBeGreaterThan(0);
    expect(await names(`meta.created gt "${created}"`)).toEqual(later.sort());
    expect(await names(`meta.created le "${created}"`)).toEqual(
      Object.values(people)
        .filter((p) => ((p.meta as Json).created as string) <= created)
        .map((p) => p.userName)
        .sort(),
    );
  });

  it('compares booleans: active eq false, and absent active counts as true', async () => {
    expect(await names('active eq false')).toEqual(['flt-bob', 'flt-cyd']);
    expect(await names('active eq true')).toEqual(['flt-ann', 'flt-dee']);
  });

  it('applies value filters with and, and the Entra form emails[type eq "work"].value eq "x"', async () => {
    expect(await names('emails[type eq "work" and value co "@example.com"]')).toEqual(['flt-ann', 'flt-cyd']);
    expect(await names('emails[type eq "work"].value eq "bob@example.org"')).toEqual(['flt-bob']);
    expect(await names('emails[type eq "work"].value eq "bob@example.com"')).toEqual([]);
    expect(await names('emails.value ew "@example.org"')).toEqual(['flt-bob']);
  });

  it('applies not and parentheses', async () => {
    expect(await names('not (active eq false)')).toEqual(['flt-ann', 'flt-dee']);
    expect(await names('(userName eq "flt-ann" or userName eq "flt-bob") and active eq false')).toEqual(['flt-bob']);
    expect(await names('userName eq "flt-ann" or (userName eq "flt-bob" and active eq true)')).toEqual(['flt-ann']);
  });

  it('filters on URN-qualified enterprise paths', async () => {
    expect(await names(`${SCHEMA.enterpriseUser}:department eq "sales"`)).toEqual(['flt-ann']);
    expect(await names(`${SCHEMA.enterpriseUser}:manager.value eq "${people.ann?.id}"`)).toEqual(['flt-dee']);
    expect(await names(`${SCHEMA.enterpriseUser}:department pr`)).toEqual(['flt-ann', 'flt-bob']);
  });

  it('resolves unqualified extension attributes and compares a complex attribute by its value (Entra: manager eq)', async () => {
    expect(await names(`manager eq "${people.ann?.id}"`)).toEqual(['flt-dee']);
    expect(await names(`department eq "engineering"`)).toEqual(['flt-bob']);
    expect(await names('manager pr')).toEqual(['flt-dee']);
  });

  it('tests a complex attribute without a value for presence: name pr', async () => {
    await createUser({ userName: 'flt-eve', name: { givenName: 'Eve' } });
    expect(await names('name pr')).toEqual(['flt-eve']);
    expect(await names('not (name pr) and userName eq "flt-eve"')).toEqual([]);
  });

  it('filters Groups by member: members[value eq] and members.value', async () => {
    const group = await createGroup({ displayName: 'flt-group', members: [{ value: people.bob?.id }] });
    await createGroup({ displayName: 'flt-empty-group' });
    for (const filter of [
      `members[value eq "${people.bob?.id}"]`,
      `members.value eq "${people.bob?.id}"`,
      'displayName sw "flt-" and members pr',
    ]) {
      const res = await list('/Groups', { filter, excludedAttributes: 'members' });
      expect(res.status).toBe(200);
      expect(ids(res)).toEqual([group.id]);
    }
  });

  it('refuses a filter on the computed User groups with 400 invalidFilter instead of silently matching nothing', async () => {
    const group = await createGroup({ displayName: 'flt-groups-attr', members: [{ value: people.ann?.id }] });
    for (const filter of [`groups.value eq "${group.id}"`, `groups[value eq "${group.id}"]`, 'groups pr']) {
      const res = await list('/Users', { filter });
      expect(res.status).toBe(400);
      expect(res.body).toEqual(scimError(400, 'invalidFilter'));
    }
  });

  it.each([
    ['an incomplete comparison', 'userName eq'],
    ['an unknown operator', 'userName is "x"'],
    ['an unknown attribute', 'shoeSize eq 1'],
    ['an unclosed parenthesis', '(userName eq "x"'],
    ['a type mismatch', 'active eq "maybe"'],
    ['a bad date', 'meta.created gt "yesterday"'],
    ['the password', 'password eq "x"'],
  ])('answers 400 invalidFilter to %s', async (_name, filter) => {
    const res = await list('/Users', { filter });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(scimError(400, 'invalidFilter'));
  });
});
