import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SCHEMA } from '@meridian/core';
import { type AppHarness, startScimApp } from '@meridian/test-utils/apps';

let harness: AppHarness;
beforeAll(async () => {
  harness = await startScimApp();
});
afterAll(() => harness.close());

type Json = Record<string, unknown>;

async function scim(
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  url: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
) {
  const response = await harness.app.inject({
    method,
    url: `/scim/v2${url}`,
    headers: {
      ...(options.token !== undefined ? { authorization: `Bearer ${options.token}` } : {}),
      ...(options.body !== undefined ? { 'content-type': 'application/scim+json' } : {}),
      ...options.headers,
    },
    ...(options.body !== undefined ? { payload: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) } : {}),
  });
  return { status: response.statusCode, headers: response.headers, body: (response.body ? JSON.parse(response.body) : undefined) as Json };
}

const emea = () => harness.tenants.emea.token;
const apac = () => harness.tenants.apac.token;

async function counts() {
  const [row] = await harness.db.query<{ outbox: string; audit: string }>(
    'select (select count(*) from outbox_event) as outbox, (select count(*) from audit_event) as audit',
  );
  return { outbox: Number(row?.outbox), audit: Number(row?.audit) };
}

describe('RFC 7644 §3.3 create and §3.4.1 read', () => {
  it('creates a User with the enterprise extension and returns meta, ETag and Location', async () => {
    const res = await scim('POST', '/Users', {
      token: emea(),
      body: {
        schemas: [SCHEMA.user, SCHEMA.enterpriseUser],
        userName: 'bjensen@example.com',
        externalId: 'hr-1',
        name: { givenName: 'Barbara', familyName: 'Jensen' },
        emails: [{ value: 'bjensen@example.com', type: 'work', primary: true }],
        [SCHEMA.enterpriseUser]: { employeeNumber: '701984', department: 'Tour Operations' },
        password: 'Secret-123',
      },
    });
    expect(res.status).toBe(201);
    expect(res.headers['content-type']).toBe('application/scim+json; charset=utf-8');
    const meta = res.body.meta as Json;
    expect(meta).toMatchObject({ resourceType: 'User', version: 'W/"1"', location: `https://hub.test/scim/v2/Users/${res.body.id}` });
    expect(typeof meta.created).toBe('string');
    expect(meta.lastModified).toBe(meta.created);
    expect(res.headers.etag).toBe('W/"1"');
    expect(res.headers.location).toBe(meta.location);
    expect(res.body.password).toBeUndefined();
    expect(res.body.schemas).toEqual([SCHEMA.user, SCHEMA.enterpriseUser]);
    expect(res.body[SCHEMA.enterpriseUser]).toEqual({ employeeNumber: '701984', department: 'Tour Operations' });

    const read = await scim('GET', `/Users/${res.body.id}`, { token: emea() });
    expect(read.status).toBe(200);
    expect(read.body).toEqual(res.body);
  });

  it('answers 304 to If-None-Match with the current version', async () => {
    const created = await scim('POST', '/Users', { token: emea(), body: { userName: 'etag-user' } });
    const res = await harness.app.inject({
      method: 'GET',
      url: `/scim/v2/Users/${created.body.id}`,
      headers: { authorization: `Bearer ${emea()}`, 'if-none-match': 'W/"1"' },
    });
    expect(res.statusCode).toBe(304);
  });

  it('rejects a duplicate userName, case-insensitively, with 409 uniqueness', async () => {
    const res = await scim('POST', '/Users', { token: emea(), body: { userName: 'BJENSEN@example.com' } });
    expect(res.status).toBe(409);
    expect(res.body).toEqual({ schemas: [SCHEMA.error], status: '409', scimType: 'uniqueness', detail: expect.any(String) });
  });

  it.each([
    ['missing userName', { name: { givenName: 'x' } }, 'invalidValue'],
    ['wrong type', { userName: 'x', active: 'maybe' }, 'invalidValue'],
    ['unknown attribute', { userName: 'x', shoeSize: 42 }, 'invalidValue'],
    ['not an object', '[1,2]', 'invalidSyntax'],
    ['malformed JSON', '{"userName": ', 'invalidSyntax'],
  ])('answers 400 for %s and writes nothing', async (_name, body, scimType) => {
    const before = await counts();
    const res = await scim('POST', '/Users', { token: emea(), body });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ schemas: [SCHEMA.error], status: '400', scimType });
    expect(await counts()).toEqual(before);
  });

  it('ignores unknown extension schemas the server does not need', async () => {
    const res = await scim('POST', '/Users', {
      token: emea(),
      body: { schemas: [SCHEMA.user, 'urn:example:unknown'], userName: 'lenient', 'urn:example:unknown': { a: 1 } },
    });
    expect(res.status).toBe(201);
  });
});

describe('RFC 7644 §3.4.2 list, filter and paging', () => {
  beforeAll(async () => {
    for (let i = 0; i < 5; i++) await scim('POST', '/Users', { token: emea(), body: { userName: `page-${i}@example.com` } });
  });

  it('filters userName eq, case-insensitively', async () => {
    const res = await scim('GET', `/Users?filter=${encodeURIComponent('userName eq "Page-3@example.com"')}`, { token: emea() });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ schemas: [SCHEMA.listResponse], totalResults: 1, itemsPerPage: 1, startIndex: 1 });
    expect((res.body.Resources as Json[])[0]?.userName).toBe('page-3@example.com');
  });

  it('pages with startIndex and count in a stable order', async () => {
    const filter = encodeURIComponent('userName sw "page-"');
    const first = await scim('GET', `/Users?filter=${filter}&startIndex=1&count=2`, { token: emea() });
    const second = await scim('GET', `/Users?filter=${filter}&startIndex=3&count=2`, { token: emea() });
    expect(first.body.totalResults).toBe(5);
    expect((first.body.Resources as Json[]).map((r) => r.userName)).toEqual(['page-0@example.com', 'page-1@example.com']);
    expect((second.body.Resources as Json[]).map((r) => r.userName)).toEqual(['page-2@example.com', 'page-3@example.com']);
  });

  it('answers 400 invalidFilter for a bad filter', async () => {
    const res = await scim('GET', `/Users?filter=${encodeURIComponent('userName eq')}`, { token: emea() });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ status: '400', scimType: 'invalidFilter' });
  });
});

describe('RFC 7644 §3.5.1 replace and §3.6 delete', () => {
  it('replaces a User, bumps the version and honours If-Match', async () => {
    const created = await scim('POST', '/Users', { token: emea(), body: { userName: 'replace-me', displayName: 'Old' } });
    const id = created.body.id as string;
    const stale = await scim('PUT', `/Users/${id}`, {
      token: emea(),
      body: { userName: 'replace-me', displayName: 'New' },
      headers: { 'if-match': 'W/"7"' },
    });
    expect(stale.status).toBe(412);
    expect(stale.body).toMatchObject({ status: '412' });
    const res = await scim('PUT', `/Users/${id}`, {
      token: emea(),
      body: { userName: 'replace-me', displayName: 'New' },
      headers: { 'if-match': 'W/"1"' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ displayName: 'New', meta: { version: 'W/"2"' } });
    expect(res.headers.etag).toBe('W/"2"');
  });

  it('deletes a User: 204, then 404', async () => {
    const created = await scim('POST', '/Users', { token: emea(), body: { userName: 'delete-me' } });
    const before = await counts();
    expect((await scim('DELETE', `/Users/${created.body.id}`, { token: emea() })).status).toBe(204);
    expect(await counts()).toEqual({ outbox: before.outbox + 1, audit: before.audit + 1 });
    const gone = await scim('GET', `/Users/${created.body.id}`, { token: emea() });
    expect(gone.status).toBe(404);
    expect(gone.body).toMatchObject({ schemas: [SCHEMA.error], status: '404' });
  });
});

describe('Groups', () => {
  it('creates, reads, replaces and deletes a Group with members', async () => {
    const user = await scim('POST', '/Users', { token: emea(), body: { userName: 'grouped', displayName: 'Grouped User' } });
    const created = await scim('POST', '/Groups', {
      token: emea(),
      body: { schemas: [SCHEMA.group], displayName: 'Tour Guides', members: [{ value: user.body.id }] },
    });
    expect(created.status).toBe(201);
    expect(created.body.members).toEqual([
      { value: user.body.id, $ref: `https://hub.test/scim/v2/Users/${user.body.id}`, type: 'User', display: 'Grouped User' },
    ]);
    const member = await scim('GET', `/Users/${user.body.id}`, { token: emea() });
    expect(member.body.groups).toEqual([
      { value: created.body.id, $ref: `https://hub.test/scim/v2/Groups/${created.body.id}`, display: 'Tour Guides', type: 'direct' },
    ]);
    const replaced = await scim('PUT', `/Groups/${created.body.id}`, { token: emea(), body: { displayName: 'Tour Guides', members: [] } });
    expect(replaced.body.members).toEqual([]);
    const filtered = await scim('GET', `/Groups?filter=${encodeURIComponent('displayName eq "tour guides"')}`, { token: emea() });
    expect(filtered.body.totalResults).toBe(1);
    expect((await scim('DELETE', `/Groups/${created.body.id}`, { token: emea() })).status).toBe(204);
  });
});

describe('RFC 7644 §4 discovery', () => {
  it('serves ServiceProviderConfig, ResourceTypes and Schemas', async () => {
    const spc = await scim('GET', '/ServiceProviderConfig', { token: emea() });
    expect(spc.body).toMatchObject({
      etag: { supported: true },
      filter: { supported: true, maxResults: 200 },
      patch: { supported: true },
      bulk: { supported: true, maxOperations: 1000, maxPayloadSize: 1_048_576 },
      sort: { supported: true },
      pagination: { cursor: true, index: true, maxPageSize: 200 },
    });
    const types = await scim('GET', '/ResourceTypes', { token: emea() });
    expect((types.body.Resources as Json[]).map((t) => t.id)).toEqual(['User', 'Group']);
    const schemas = await scim('GET', '/Schemas', { token: emea() });
    expect((schemas.body.Resources as Json[]).map((s) => s.id)).toEqual([SCHEMA.user, SCHEMA.enterpriseUser, SCHEMA.group]);
    const one = await scim('GET', `/Schemas/${SCHEMA.enterpriseUser}`, { token: emea() });
    expect(one.body.id).toBe(SCHEMA.enterpriseUser);
  });
});

describe('authentication and tenant isolation', () => {
  it('answers 401 with WWW-Authenticate without a token or with a bad one', async () => {
    const none = await scim('GET', '/Users');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer realm="meridian"');
    expect(none.body).toMatchObject({ schemas: [SCHEMA.error], status: '401' });
    const bad = await scim('GET', '/Users', { token: 'mrd_not-a-real-token' });
    expect(bad.status).toBe(401);
    expect(bad.headers['www-authenticate']).toContain('invalid_token');
  });

  it('answers 403 to a write with a read-only token, and writes nothing', async () => {
    const before = await counts();
    const res = await scim('POST', '/Users', { token: harness.tenants.emea.readOnly, body: { userName: 'nope' } });
    expect(res.status).toBe(403);
    expect(await counts()).toEqual(before);
  });

  it('never shows one tenant’s resources to another: 404, not 403', async () => {
    const mine = await scim('POST', '/Users', { token: emea(), body: { userName: 'private@emea' } });
    const id = mine.body.id as string;
    for (const [method, body] of [['GET'], ['PUT', { userName: 'hijack' }], ['DELETE']] as const) {
      const res = await scim(method, `/Users/${id}`, { token: apac(), ...(body ? { body } : {}) });
      expect(res.status).toBe(404);
    }
    const list = await scim('GET', `/Users?filter=${encodeURIComponent('userName eq "private@emea"')}`, { token: apac() });
    expect(list.body.totalResults).toBe(0);
    const still = await scim('GET', `/Users/${id}`, { token: emea() });
    expect(still.body.userName).toBe('private@emea');
  });

  it('revoked tokens stop working', async () => {
    const issued = await harness.services.admin.issueToken(
      { kind: 'platform', tokenId: 't', scopes: ['admin'] },
      { tenant: 'emea', scopes: ['scim:read'] },
      { actor: { type: 'system', id: 't' }, requestId: 'r' },
    );
    expect((await scim('GET', '/Users', { token: issued.token })).status).toBe(200);
    await harness.services.admin.revokeToken({ kind: 'platform', tokenId: 't', scopes: ['admin'] }, issued.record.id, {
      actor: { type: 'system', id: 't' },
      requestId: 'r',
    });
    expect((await scim('GET', '/Users', { token: issued.token })).status).toBe(401);
  });

  it('stores tokens only as hashes', async () => {
    const rows = await harness.db.query<{ secret_hash: string }>('select secret_hash from api_token');
    expect(rows.some((r) => r.secret_hash.includes('mrd_'))).toBe(false);
    expect(rows.every((r) => /^[0-9a-f]{64}$/.test(r.secret_hash))).toBe(true);
  });
});
