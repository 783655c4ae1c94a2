import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { SCHEMA } from '@meridian/core';
import { FakeScimTarget } from '@meridian/test-utils';

let target: FakeScimTarget;

async function call(method: string, path: string, body?: unknown, token = target.token) {
  const response = await fetch(`${target.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/scim+json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: (text ? JSON.parse(text) : undefined) as Record<string, unknown> };
}

const patchOp = (...Operations: unknown[]) => ({ schemas: [SCHEMA.patchOp], Operations });

beforeEach(async () => {
  target = await FakeScimTarget.start({ basePath: '/scim/v2', maxPageSize: 2, maxMembersPerRequest: 2 });
});

afterEach(async () => {
  await target.close();
});

describe('FakeScimTarget', () => {
  it('serves Users and Groups: create, filter, page, PATCH members, delete', async () => {
    const ada = await call('POST', '/Users', { schemas: [SCHEMA.user], userName: 'ada', externalId: 'e-ada', password: 'pw1' });
    expect(ada.status).toBe(201);
    expect(ada.body).not.toHaveProperty('password');
    expect(target.passwordOf(ada.body.id as string)).toBe('pw1');
    expect((await call('POST', '/Users', { schemas: [SCHEMA.user], userName: 'ADA' })).body).toMatchObject({
      status: '409',
      scimType: 'uniqueness',
    });
    const bob = await call('POST', '/Users', { schemas: [SCHEMA.user], userName: 'bob' });
    await call('POST', '/Users', { schemas: [SCHEMA.user], userName: 'cy' });

    const byName = await call('GET', `/Users?filter=${encodeURIComponent('userName eq "Ada"')}`);
    expect(byName.body).toMatchObject({ totalResults: 1, Resources: [{ id: ada.body.id }] });
    expect((await call('GET', `/Users?filter=${encodeURIComponent('externalId eq "E-ADA"')}`)).body.totalResults).toBe(0);
    expect((await call('GET', `/Users?filter=${encodeURIComponent('name.givenName sw "A"')}`)).body).toMatchObject({
      scimType: 'invalidFilter',
    });
    // count above the cap is lowered to it
    expect((await call('GET', '/Users?startIndex=3&count=50')).body).toMatchObject({ totalResults: 3, startIndex: 3, itemsPerPage: 1 });
    expect((await call('GET', '/Users?count=50')).body.itemsPerPage).toBe(2);

    const group = await call('POST', '/Groups', { schemas: [SCHEMA.group], displayName: 'staff', members: [] });
    const gid = group.body.id as string;
    const add = await call(
      'PATCH',
      `/Groups/${gid}`,
      patchOp({ op: 'add', path: 'members', value: [{ value: ada.body.id }, { value: bob.body.id }] }),
    );
    expect(add.status).toBe(204);
    expect(target.membersOf(gid)).toEqual([ada.body.id, bob.body.id].sort());
    const tooMany = await call(
      'PATCH',
      `/Groups/${gid}`,
      patchOp({ op: 'add', path: 'members', value: [{ value: 'a' }, { value: 'b' }, { value: 'c' }] }),
    );
    expect(tooMany.status).toBe(413);
    await call('PATCH', `/Groups/${gid}`, patchOp({ op: 'remove', path: `members[value eq "${ada.body.id}"]` }));
    expect(target.membersOf(gid)).toEqual([bob.body.id]);

    expect((await call('PATCH', `/Users/${ada.body.id}`, patchOp({ op: 'replace', path: 'active', value: false }))).body.active).toBe(
      false,
    );
    expect((await call('DELETE', `/Users/${bob.body.id}`)).status).toBe(204);
    expect((await call('GET', `/Users/${bob.body.id}`)).status).toBe(404);
    expect(target.state()).toEqual({ users: 2, groups: 1, members: { [gid]: [] } });
    expect(target.requestsTo('PATCH', '/Groups/')).toHaveLength(3);
  });

  it('refuses a wrong bearer token with 401', async () => {
    expect((await call('GET', '/Users', undefined, 'wrong')).status).toBe(401);
  });

  it('injects 5xx, 429 with Retry-After, delays, drops and per-userName rejections', async () => {
    target.failNext({ type: 'status', status: 503 }, { times: 2 });
    target.failNext({ type: 'rateLimited', retryAfter: 7 }, { match: { method: 'GET' } });
    expect((await call('GET', '/Users')).status).toBe(503);
    expect((await call('GET', '/Users')).status).toBe(503);
    const limited = await call('GET', '/Users');
    expect([limited.status, limited.headers.get('retry-after')]).toEqual([429, '7']);
    expect((await call('GET', '/Users')).status).toBe(200);

    target.failNext({ type: 'drop' });
    await expect(call('GET', '/Users')).rejects.toThrow('fetch failed');

    target.failNext({ type: 'delay', ms: 100 });
    const started = Date.now();
    expect((await call('GET', '/Users')).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);

    target.failNext({ type: 'hang' });
    await expect(fetch(`${target.url}/Users`, { signal: AbortSignal.timeout(100) })).rejects.toThrow();

    target.rejectUserName('mallory');
    expect((await call('POST', '/Users', { schemas: [SCHEMA.user], userName: 'Mallory' })).body).toMatchObject({
      status: '400',
      scimType: 'invalidValue',
    });
    expect(target.requests.map((r) => r.fault ?? r.status)).toEqual([
      'status',
      'status',
      'rateLimited',
      200,
      'drop',
      'delay',
      'hang',
      'rejectedUserName',
    ]);
  });

  it('rate limits to R requests per second', async () => {
    target.setRateLimit(3);
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await call('GET', '/Users')).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
  });
});
