import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTestDatabase, SqlCapture, type TestDatabase } from '@meridian/test-utils';
import { buildTestApp, SCIM_CONTENT_TYPE, type TestApp } from '@meridian/test-utils/apps';

// How many statements a SCIM request sends to PostgreSQL (ADR 0022), counted
// by a proxy in front of the server: every read is one statement, the token
// look-up is remembered, a create is one transaction. Counts, not times: a
// read that grows a statement again fails here, whatever the machine.

let db: TestDatabase;
let capture: SqlCapture;
let built: TestApp;
let headers: Record<string, string>;

beforeAll(async () => {
  db = await createTestDatabase();
  const url = new URL(db.url);
  capture = new SqlCapture(url.hostname, Number(url.port || 5432));
  url.port = String(await capture.listen());
  built = await buildTestApp('scim', url.toString(), undefined, { tokenCacheMs: 60_000 });
  const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
  const context = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
  await built.services.admin.createCommunity(platform, { slug: 'coi', name: 'CoI' }, context);
  await built.services.admin.createTenant(platform, { slug: 'emea', name: 'EMEA', community: 'coi' }, context);
  const { token } = await built.services.admin.issueToken(platform, { tenant: 'emea', scopes: ['scim:read', 'scim:write'] }, context);
  headers = { authorization: `Bearer ${token}`, 'content-type': SCIM_CONTENT_TYPE };
});

afterAll(async () => {
  await built?.close();
  await capture?.close();
  await db?.close();
});

/** The statements one request sent, once the server has answered them all. */
async function statementsOf(
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  url: string,
  body?: unknown,
  as: Record<string, string> = headers,
): Promise<{
  status: number; // biome-ignore lint/suspicious/noExplicitAny: SCIM answers are checked field by field.
  json: any;
  sql: string[];
}> {
  await capture.quiet();
  const since = performance.now();
  const res = await built.app.inject({ method, url, headers: as, ...(body === undefined ? {} : { payload: JSON.stringify(body) }) });
  await capture.quiet();
  return { status: res.statusCode, json: res.body === '' ? undefined : JSON.parse(res.body), sql: capture.since(since) };
}

const user = (userName: string) => ({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName, name: { familyName: 'Lee' } });

describe('statements per SCIM request', () => {
  let groupId: string;
  let userId: string;

  beforeAll(async () => {
    const created = await statementsOf('POST', '/scim/v2/Users', user('ada@example.org'));
    expect(created.status).toBe(201);
    userId = created.json.id;
    const group = await built.app.inject({
      method: 'POST',
      url: '/scim/v2/Groups',
      headers,
      payload: JSON.stringify({
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
        displayName: 'Ops',
        members: [{ value: userId }],
      }),
    });
    expect(group.statusCode).toBe(201);
    groupId = JSON.parse(group.body).id;
  });

  it('a userName look-up is one prepared statement, its groups and total included', async () => {
    const { status, json, sql } = await statementsOf('GET', '/scim/v2/Users?filter=userName%20eq%20%22ADA@example.org%22');
    expect(status).toBe(200);
    expect(json.totalResults).toBe(1);
    expect(json.Resources[0].groups).toEqual([expect.objectContaining({ value: groupId, display: 'Ops', type: 'direct' })]);
    expect(sql).toEqual([expect.stringContaining('meridian_users_by_user_name(')]);
  });

  it('a User by id is one prepared statement', async () => {
    const { status, json, sql } = await statementsOf('GET', `/scim/v2/Users/${userId}`);
    expect(status).toBe(200);
    expect(json.groups).toHaveLength(1);
    expect(sql).toEqual([expect.stringContaining('meridian_user_by_id(')]);
  });

  it("a token's first request adds one prepared statement, its look-up, with no secret hash in any statement's text", async () => {
    const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
    const context = { actor: { type: 'system' as const, id: 'test' }, requestId: 'second-token' };
    const { token } = await built.services.admin.issueToken(platform, { tenant: 'emea', scopes: ['scim:read'] }, context);
    const { status, sql } = await statementsOf('GET', `/scim/v2/Users/${userId}`, undefined, { authorization: `Bearer ${token}` });
    expect(status).toBe(200);
    expect(sql).toEqual([expect.stringContaining('meridian_authenticate_token('), expect.stringContaining('meridian_user_by_id(')]);
    expect(sql.join('\n')).not.toMatch(/[0-9a-f]{64}/);
  });

  it('any other filter, sort or Group read is one statement', async () => {
    for (const url of [
      '/scim/v2/Users?filter=name.familyName%20sw%20%22Le%22&sortBy=userName',
      '/scim/v2/Users?filter=emails%20co%20%22example%22',
      `/scim/v2/Groups/${groupId}`,
      '/scim/v2/Groups?filter=displayName%20eq%20%22ops%22',
    ]) {
      const { status, sql } = await statementsOf('GET', url);
      expect(status).toBe(200);
      expect(sql).toHaveLength(1);
      expect(sql[0]).toMatch(/meridian_read_(users|groups)\(/);
    }
  });

  it('a page past the end counts apart, and still answers the total', async () => {
    const { json, sql } = await statementsOf('GET', '/scim/v2/Users?startIndex=5&count=2');
    expect(json.totalResults).toBe(1);
    expect(json.Resources ?? []).toHaveLength(0);
    expect(sql).toHaveLength(2);
  });

  it('a create is one prepared statement: the row, its outbox event and its chained audit entry', async () => {
    const { status, json, sql } = await statementsOf('POST', '/scim/v2/Users', user('grace@example.org'));
    expect(status).toBe(201);
    expect(json.groups ?? []).toEqual([]);
    expect(sql).toEqual([expect.stringContaining('meridian_create_user_in_tenant(')]);
    // Bound, not composed: the values travel as parameters, so PostgreSQL plans the function's statements once.
    expect(sql[0]).not.toContain('grace@example.org');
    const read = await statementsOf('GET', `/scim/v2/Users/${json.id}`);
    expect(read.json).toMatchObject({ id: json.id, userName: 'grace@example.org', meta: { version: json.meta.version } });
  });

  it('a create that collides is refused whole, with nothing written', async () => {
    const { status, json, sql } = await statementsOf('POST', '/scim/v2/Users', user('GRACE@example.org'));
    expect(status).toBe(409);
    expect(json.scimType).toBe('uniqueness');
    expect(sql).toHaveLength(1);
    const listed = await statementsOf('GET', '/scim/v2/Users?filter=userName%20eq%20%22grace@example.org%22');
    expect(listed.json.totalResults).toBe(1);
  });

  it('a PATCH of a User is a read and one prepared statement: the update at the version read, its event and its audit entry', async () => {
    const { status, sql } = await statementsOf('POST', '/scim/v2/Users', user('hopper@example.org'));
    expect(status).toBe(201);
    const created = await statementsOf('GET', '/scim/v2/Users?filter=userName%20eq%20%22hopper@example.org%22');
    const id = created.json.Resources[0].id;
    const patched = await statementsOf('PATCH', `/scim/v2/Users/${id}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', path: 'displayName', value: 'Grace' }],
    });
    expect(patched.status).toBe(200);
    const statements = patched.sql;
    // The User and its groups read without a lock, then the update at that version with its event (ADR 0039).
    expect(statements).toEqual([
      expect.stringContaining('meridian_user_by_id('),
      expect.stringContaining('meridian_update_user_in_tenant('),
    ]);
    // Bound, not composed: the new value travels as a parameter (ADR 0040).
    expect(statements[1]).not.toContain('Grace');
    expect(patched.json).toMatchObject({ displayName: 'Grace', meta: { version: 'W/"2"' } });
    expect(patched.json.groups ?? []).toEqual([]);
    expect(sql).toHaveLength(1);
  });
  it("a PATCH answers with the User's groups, as read before the update", async () => {
    const res = await built.app.inject({
      method: 'PATCH',
      url: `/scim/v2/Users/${userId}`,
      headers,
      payload: JSON.stringify({
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'replace', path: 'title', value: 'Engineer' }],
      }),
    });
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body).groups).toEqual([expect.objectContaining({ value: groupId, display: 'Ops', type: 'direct' })]);
  });

  it('a DELETE of a User is a read and one statement: its memberships, the row at the version read, its event and audit entry', async () => {
    const created = await statementsOf('POST', '/scim/v2/Users', user('leaver@example.org'));
    const id = created.json.id;
    const joined = await built.app.inject({
      method: 'PATCH',
      url: `/scim/v2/Groups/${groupId}`,
      headers,
      payload: JSON.stringify({
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'add', path: 'members', value: [{ value: id }] }],
      }),
    });
    expect([200, 204]).toContain(joined.statusCode);
    const deleted = await statementsOf('DELETE', `/scim/v2/Users/${id}`);
    expect(deleted.status).toBe(204);
    expect(deleted.sql).toEqual([expect.stringContaining('meridian_user_by_id('), expect.stringContaining('meridian_update_in_tenant(')]);
    expect((await statementsOf('GET', `/scim/v2/Users/${id}`)).status).toBe(404);
    const group = await statementsOf('GET', `/scim/v2/Groups/${groupId}`);
    expect(group.json.members.map((m: { value: string }) => m.value)).toEqual([userId]);
  });
});
