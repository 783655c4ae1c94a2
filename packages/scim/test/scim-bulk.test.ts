import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SCHEMA } from '@meridian/core';
import { type AppHarness, startScimApp } from '@meridian/test-utils/apps';

let harness: AppHarness;
beforeAll(async () => {
  harness = await startScimApp();
});
afterAll(() => harness.close());

type Json = Record<string, unknown>;

const BULK_REQUEST = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
const BULK_RESPONSE = 'urn:ietf:params:scim:api:messages:2.0:BulkResponse';
const BASE = 'https://hub.test/scim/v2';

async function scim(method: 'GET' | 'POST', url: string, options: { token?: string; body?: unknown } = {}) {
  const response = await harness.app.inject({
    method,
    url: `/scim/v2${url}`,
    headers: {
      authorization: `Bearer ${options.token ?? harness.tenants.emea.token}`,
      ...(options.body !== undefined ? { 'content-type': 'application/scim+json' } : {}),
    },
    ...(options.body !== undefined ? { payload: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) } : {}),
  });
  return { status: response.statusCode, headers: response.headers, body: (response.body ? JSON.parse(response.body) : undefined) as Json };
}

function bulk(operations: unknown[], extra: Json = {}, token?: string) {
  return scim('POST', '/Bulk', { body: { schemas: [BULK_REQUEST], Operations: operations, ...extra }, ...(token ? { token } : {}) });
}

const operationsOf = (res: { body: Json }) => res.body.Operations as Json[];
const idOf = (location: unknown) => (location as string).split('/').pop() as string;

async function counts() {
  const [row] = await harness.db.query<Record<'users' | 'groups' | 'members' | 'outbox' | 'audit', string>>(
    `select (select count(*) from scim_user) as users, (select count(*) from scim_group) as groups,
            (select count(*) from group_member) as members, (select count(*) from outbox_event) as outbox,
            (select count(*) from audit_event) as audit`,
  );
  return Object.fromEntries(Object.entries(row ?? {}).map(([k, v]) => [k, Number(v)]));
}

describe('RFC 7644 §3.7 bulk', () => {
  it('creates a user and a group that references it by bulkId', async () => {
    const res = await bulk([
      { method: 'POST', path: '/Users', bulkId: 'u1', data: { schemas: [SCHEMA.user], userName: 'bulk-u1', displayName: 'Bulk One' } },
      { method: 'POST', path: '/Groups', bulkId: 'g1', data: { displayName: 'Bulk G1', members: [{ value: 'bulkId:u1', type: 'User' }] } },
    ]);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/scim+json; charset=utf-8');
    const [user, group] = operationsOf(res);
    expect(res.body).toEqual({
      schemas: [BULK_RESPONSE],
      Operations: [
        { method: 'POST', bulkId: 'u1', location: `${BASE}/Users/${idOf(user?.location)}`, version: 'W/"1"', status: '201' },
        { method: 'POST', bulkId: 'g1', location: `${BASE}/Groups/${idOf(group?.location)}`, version: 'W/"1"', status: '201' },
      ],
    });
    const read = await scim('GET', `/Groups/${idOf(group?.location)}`);
    expect(read.body.members).toEqual([{ value: idOf(user?.location), $ref: user?.location, type: 'User', display: 'Bulk One' }]);
  });

  it('resolves a forward reference: the POST it names runs first, the response keeps the client order', async () => {
    const res = await bulk([
      { method: 'POST', path: '/Groups', bulkId: 'g', data: { displayName: 'Forward G', members: [{ value: 'bulkId:u' }] } },
      { method: 'POST', path: '/Users', bulkId: 'u', data: { userName: 'forward-u' } },
    ]);
    expect(res.status).toBe(200);
    const [group, user] = operationsOf(res);
    expect(group).toMatchObject({ method: 'POST', bulkId: 'g', status: '201' });
    expect(user).toMatchObject({ method: 'POST', bulkId: 'u', status: '201', location: expect.stringContaining(`${BASE}/Users/`) });
    const read = await scim('GET', `/Groups/${idOf(group?.location)}`);
    expect((read.body.members as Json[]).map((m) => m.value)).toEqual([idOf(user?.location)]);
  });

  it('answers 409 invalidValue to both groups of a circular reference, and writes nothing', async () => {
    const before = await counts();
    const res = await bulk([
      { method: 'POST', path: '/Groups', bulkId: 'a', data: { displayName: 'Cycle A', members: [{ value: 'bulkId:b' }] } },
      { method: 'POST', path: '/Groups', bulkId: 'b', data: { displayName: 'Cycle B', members: [{ value: 'bulkId:a' }] } },
    ]);
    expect(res.status).toBe(200);
    const detail = (bulkId: string) =>
      `bulkId '${bulkId}' is part of a circular reference between the operations with bulkIds 'a', 'b'; create them first and add the references in a later request.`;
    expect(res.body).toEqual({
      schemas: [BULK_RESPONSE],
      Operations: [
        {
          method: 'POST',
          bulkId: 'a',
          status: '409',
          response: { schemas: [SCHEMA.error], status: '409', scimType: 'invalidValue', detail: detail('b') },
        },
        {
          method: 'POST',
          bulkId: 'b',
          status: '409',
          response: { schemas: [SCHEMA.error], status: '409', scimType: 'invalidValue', detail: detail('a') },
        },
      ],
    });
    expect(await counts()).toEqual(before);
  });

  it('answers 409 invalidValue to a reference to an unknown bulkId, and writes nothing', async () => {
    const before = await counts();
    const res = await bulk([
      { method: 'POST', path: '/Groups', bulkId: 'g', data: { displayName: 'Dangling', members: [{ value: 'bulkId:ghost' }] } },
      { method: 'DELETE', path: '/Users/bulkId:ghost' },
    ]);
    const response = {
      schemas: [SCHEMA.error],
      status: '409',
      scimType: 'invalidValue',
      detail: "bulkId 'ghost' is not the bulkId of any POST in this request.",
    };
    expect(res.body).toEqual({
      schemas: [BULK_RESPONSE],
      Operations: [
        { method: 'POST', bulkId: 'g', status: '409', response },
        { method: 'DELETE', location: `${BASE}/Users/bulkId:ghost`, status: '409', response },
      ],
    });
    expect(await counts()).toEqual(before);
  });

  it('fails the operations that reference a failed POST', async () => {
    const before = await counts();
    const res = await bulk([
      { method: 'POST', path: '/Users', bulkId: 'bad', data: { userName: 'x', shoeSize: 42 } },
      { method: 'POST', path: '/Groups', bulkId: 'g', data: { displayName: 'Needs bad', members: [{ value: 'bulkId:bad' }] } },
    ]);
    expect(operationsOf(res)).toEqual([
      { method: 'POST', bulkId: 'bad', status: '400', response: expect.objectContaining({ status: '400', scimType: 'invalidValue' }) },
      {
        method: 'POST',
        bulkId: 'g',
        status: '409',
        response: {
          schemas: [SCHEMA.error],
          status: '409',
          scimType: 'invalidValue',
          detail: "bulkId 'bad' refers to a POST that failed.",
        },
      },
    ]);
    expect(await counts()).toEqual(before);
  });

  it('stops after failOnErrors errors: the rest neither run nor appear in the response', async () => {
    const before = await counts();
    const res = await bulk(
      [
        { method: 'POST', path: '/Users', bulkId: 'first', data: { userName: 'foe-1', active: 'maybe' } },
        { method: 'POST', path: '/Users', bulkId: 'second', data: { userName: 'foe-2' } },
      ],
      { failOnErrors: 1 },
    );
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      schemas: [BULK_RESPONSE],
      Operations: [
        {
          method: 'POST',
          bulkId: 'first',
          status: '400',
          response: { schemas: [SCHEMA.error], status: '400', scimType: 'invalidValue', detail: expect.any(String) },
        },
      ],
    });
    expect(await counts()).toEqual(before);
    const search = await scim('GET', `/Users?filter=${encodeURIComponent('userName eq "foe-2"')}`);
    expect(search.body.totalResults).toBe(0);
  });

  it('checks an operation version like If-Match: 412 on a mismatch, and the write on a match', async () => {
    const created = await scim('POST', '/Users', { body: { userName: 'versioned', displayName: 'Old' } });
    const id = created.body.id as string;
    const location = `${BASE}/Users/${id}`;
    const stale = await bulk([
      { method: 'PUT', path: `/Users/${id}`, version: 'W/"7"', data: { userName: 'versioned', displayName: 'New' } },
      { method: 'DELETE', path: `/Users/${id}`, version: '"not-ours"' },
    ]);
    expect(stale.body).toEqual({
      schemas: [BULK_RESPONSE],
      Operations: [
        { method: 'PUT', location, status: '412', response: { schemas: [SCHEMA.error], status: '412', detail: expect.any(String) } },
        { method: 'DELETE', location, status: '412', response: { schemas: [SCHEMA.error], status: '412', detail: expect.any(String) } },
      ],
    });
    expect((await scim('GET', `/Users/${id}`)).body.displayName).toBe('Old');

    const fresh = await bulk([
      { method: 'PUT', path: `/Users/${id}`, version: 'W/"1"', data: { userName: 'versioned', displayName: 'New' } },
      { method: 'DELETE', path: `/Users/${id}`, version: 'W/"2"' },
    ]);
    expect(operationsOf(fresh)).toEqual([
      { method: 'PUT', location, version: 'W/"2"', status: '200' },
      { method: 'DELETE', location, status: '204' },
    ]);
    expect((await scim('GET', `/Users/${id}`)).status).toBe(404);
  });

  it('applies PATCH and DELETE operations, with bulkIds in their paths and data', async () => {
    const res = await bulk([
      { method: 'POST', path: '/Groups', bulkId: 'team', data: { displayName: 'Patch Team' } },
      { method: 'POST', path: '/Users', bulkId: 'joiner', data: { userName: 'patch-joiner' } },
      { method: 'POST', path: '/Users', bulkId: 'leaver', data: { userName: 'patch-leaver' } },
      {
        method: 'PATCH',
        path: '/Groups/bulkId:team',
        version: 'W/"1"',
        data: { schemas: [SCHEMA.patchOp], Operations: [{ op: 'add', path: 'members', value: [{ value: 'bulkId:joiner' }] }] },
      },
      { method: 'DELETE', path: '/Users/bulkId:leaver' },
    ]);
    const [team, joiner, leaver, patch, remove] = operationsOf(res);
    expect(patch).toEqual({ method: 'PATCH', location: team?.location, version: 'W/"2"', status: '200' });
    expect(remove).toEqual({ method: 'DELETE', location: leaver?.location, status: '204' });
    const read = await scim('GET', `/Groups/${idOf(team?.location)}`);
    expect((read.body.members as Json[]).map((m) => m.value)).toEqual([idOf(joiner?.location)]);
    expect((await scim('GET', `/Users/${idOf(leaver?.location)}`)).status).toBe(404);
  });

  it('fails an operation on an unknown path with 404, and one whose path does not fit its method with 400', async () => {
    const res = await bulk([
      { method: 'DELETE', path: '/Widgets/1' },
      { method: 'PUT', path: '/Users', data: { userName: 'x' } },
      { method: 'DELETE', path: '/Groups/00000000-0000-0000-0000-000000000000' },
    ]);
    expect(res.body).toEqual({
      schemas: [BULK_RESPONSE],
      Operations: [
        {
          method: 'DELETE',
          location: `${BASE}/Widgets/1`,
          status: '404',
          response: { schemas: [SCHEMA.error], status: '404', detail: "No such SCIM endpoint: '/Widgets/1'." },
        },
        {
          method: 'PUT',
          location: `${BASE}/Users`,
          status: '400',
          response: {
            schemas: [SCHEMA.error],
            status: '400',
            scimType: 'invalidValue',
            detail: 'PUT takes a path of /Users/{id} or /Groups/{id}.',
          },
        },
        {
          method: 'DELETE',
          location: `${BASE}/Groups/00000000-0000-0000-0000-000000000000`,
          status: '404',
          response: { schemas: [SCHEMA.error], status: '404', detail: expect.any(String) },
        },
      ],
    });
  });
});

describe('RFC 7644 §3.7 bulk: requests rejected as a whole', () => {
  it.each([
    ['a body without the BulkRequest schema', { Operations: [] }],
    ['Operations that are not an array', { schemas: [BULK_REQUEST], Operations: 'all of them' }],
    ['a POST without bulkId', { schemas: [BULK_REQUEST], Operations: [{ method: 'POST', path: '/Users', data: { userName: 'x' } }] }],
    ['an unknown method', { schemas: [BULK_REQUEST], Operations: [{ method: 'GET', path: '/Users' }] }],
    [
      'a duplicate bulkId',
      { schemas: [BULK_REQUEST], Operations: [0, 1].map(() => ({ method: 'POST', path: '/Users', bulkId: 'x', data: {} })) },
    ],
    ['malformed JSON', '{"schemas": ['],
    [
      'data nested too deeply',
      `{"schemas":["${BULK_REQUEST}"],"Operations":[{"method":"PUT","path":"/Users/1","data":{"a":${'['.repeat(10_000)}${']'.repeat(10_000)}}}]}`,
    ],
  ])('answers 400 invalidSyntax to %s and writes nothing', async (_name, body) => {
    const before = await counts();
    const res = await scim('POST', '/Bulk', { body });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ schemas: [SCHEMA.error], status: '400', scimType: 'invalidSyntax', detail: expect.any(String) });
    expect(await counts()).toEqual(before);
  });

  it('answers 413 to more than maxOperations operations (RFC 7644 §3.7.4)', async () => {
    const before = await counts();
    const operations = Array.from({ length: 1001 }, (_, i) => ({
      method: 'POST',
      path: '/Users',
      bulkId: `u${i}`,
      data: { userName: `many-${i}` },
    }));
    const res = await bulk(operations);
    expect(res.status).toBe(413);
    expect(res.headers['content-type']).toBe('application/scim+json; charset=utf-8');
    expect(res.body).toEqual({ schemas: [SCHEMA.error], status: '413', detail: 'The request has 1001 operations; the maximum is 1000.' });
    expect(await counts()).toEqual(before);
  });

  it('answers 413 to a body larger than maxPayloadSize (RFC 7644 §3.7.4)', async () => {
    const before = await counts();
    const res = await bulk([
      { method: 'POST', path: '/Users', bulkId: 'big', data: { userName: 'big', displayName: 'x'.repeat(1_048_576) } },
    ]);
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ schemas: [SCHEMA.error], status: '413', detail: 'The request body is too large.' });
    expect(await counts()).toEqual(before);
  });

  it('answers 403 to a read-only token and runs nothing', async () => {
    const before = await counts();
    const res = await bulk(
      [{ method: 'POST', path: '/Users', bulkId: 'ro', data: { userName: 'read-only' } }],
      {},
      harness.tenants.emea.readOnly,
    );
    expect(res.status).toBe(403);
    expect(await counts()).toEqual(before);
  });
});
