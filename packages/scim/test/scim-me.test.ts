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

// RFC 7644 §3.11 /Me: the authenticated end user reads their own User and changes what the tenant's self-service policy allows.

let harness: AppHarness;
let me: Json;
let meToken: string;
let otherToken: string;
const scim = scimClient(() => harness.app);
const ctx = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
const provisioning = () => harness.tenants.emea.token;

beforeAll(async () => {
  harness = await startScimApp();
  // No `active` on purpose: the server renders the default (true), and a GET-then-PUT must not count that as a change.
  const created = await scim('POST', '/Users', {
    token: provisioning(),
    body: {
      userName: 'self@example.com',
      name: { givenName: 'Sam', familyName: 'Self' },
      title: 'Engineer',
      phoneNumbers: [{ value: '+1 555 0100', type: 'work' }],
      password: 'First-Password-1',
    },
  });
  expect(created.status).toBe(201);
  me = created.body;
  await harness.services.settings.setSelfServicePolicy(harness.tenants.emea.id, ['phoneNumbers', 'name.givenName', 'password'], ctx);
  meToken = (await harness.services.admin.issueToken(platform, { tenant: 'emea', scopes: ['scim:me'], user: 'self@example.com' }, ctx))
    .token;
  const other = await scim('POST', '/Users', { token: provisioning(), body: { userName: 'other@example.com' } });
  expect(other.status).toBe(201);
  otherToken = (await harness.services.admin.issueToken(platform, { tenant: 'emea', scopes: ['scim:me'], user: 'other@example.com' }, ctx))
    .token;
});
afterAll(() => harness.close());

/** The user as provisioning sees it. */
async function current(): Promise<Json> {
  const res = await scim('GET', `/Users/${me.id}`, { token: provisioning() });
  expect(res.status).toBe(200);
  return res.body;
}

async function passwordHash(): Promise<string> {
  const [row] = await harness.db.query<{ password_hash: string }>('select password_hash from scim_user where id = $1', [me.id]);
  return row?.password_hash as string;
}

/** Runs a request that must be refused with 403 and must change nothing. */
async function expectRefused(request: () => ReturnType<typeof scim>): Promise<void> {
  const before = await current();
  const events = await eventCounts(harness);
  const hash = await passwordHash();
  const res = await request();
  expect(res.status).toBe(403);
  expect(res.headers['content-type']).toBe(SCIM_CONTENT_TYPE);
  expect(res.body).toEqual(scimError(403));
  expect(await eventCounts(harness)).toEqual(events);
  expect(await current()).toEqual(before);
  expect(await passwordHash()).toBe(hash);
}

describe('GET /Me', () => {
  it("returns the token's own User, exactly as /Users/{id} does", async () => {
    const res = await scim('GET', '/Me', { token: meToken });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe(SCIM_CONTENT_TYPE);
    expect(res.body).toEqual(await current());
    expect(res.body.userName).toBe('self@example.com');
    expect(res.headers.etag).toBe((res.body.meta as Json).version);
    expect(res.text).not.toMatch(/password/i);
  });

  it('answers another end user with their own User', async () => {
    const res = await scim('GET', '/Me', { token: otherToken });
    expect(res.status).toBe(200);
    expect(res.body.userName).toBe('other@example.com');
  });

  it('honours attributes', async () => {
    const res = await scim('GET', '/Me?attributes=userName', { token: meToken });
    expect(res.body).toEqual({ schemas: [SCHEMA.user], id: me.id, userName: 'self@example.com', meta: expect.any(Object) });
  });
});

describe('PATCH /Me', () => {
  it('changes phoneNumbers, which the policy allows', async () => {
    const events = await eventCounts(harness);
    const res = await scim('PATCH', '/Me', {
      token: meToken,
      body: patchOp({ op: 'replace', path: 'phoneNumbers', value: [{ value: '+44 20 7946 0000', type: 'mobile' }] }),
    });
    expect(res.status).toBe(200);
    expect(res.body.phoneNumbers).toEqual([{ value: '+44 20 7946 0000', type: 'mobile' }]);
    expect(res.headers.etag).toBe((res.body.meta as Json).version);
    expect(await eventCounts(harness)).toEqual({ outbox: events.outbox + 1, audit: events.audit + 1 });
    expect((await current()).phoneNumbers).toEqual([{ value: '+44 20 7946 0000', type: 'mobile' }]);
  });

  it('changes name.givenName, but not name.familyName', async () => {
    const res = await scim('PATCH', '/Me', { token: meToken, body: patchOp({ op: 'replace', path: 'name.givenName', value: 'Samantha' }) });
    expect(res.status).toBe(200);
    expect(res.body.name).toEqual({ givenName: 'Samantha', familyName: 'Self' });
    await expectRefused(() =>
      scim('PATCH', '/Me', { token: meToken, body: patchOp({ op: 'replace', path: 'name.familyName', value: 'Other' }) }),
    );
  });

  it('changes the password: stored hashed, never returned', async () => {
    const before = await passwordHash();
    const res = await scim('PATCH', '/Me', {
      token: meToken,
      body: patchOp({ op: 'replace', path: 'password', value: 'Second-Password-2' }),
    });
    expect(res.status).toBe(200);
    expect(res.text).not.toMatch(/password/i);
    const after = await passwordHash();
    expect(after).toMatch(/^\$argon2id\$/);
    expect(after).not.toBe(before);
  });

  it.each([
    ['title', patchOp({ op: 'replace', path: 'title', value: 'CEO' })],
    ['userName', patchOp({ op: 'replace', path: 'userName', value: 'boss@example.com' })],
    ['active', patchOp({ op: 'replace', path: 'active', value: false })],
    ['externalId', patchOp({ op: 'add', path: 'externalId', value: 'mine' })],
    ['an enterprise attribute', patchOp({ op: 'add', path: `${SCHEMA.enterpriseUser}:department`, value: 'Board' })],
    ['title in a path-less value', patchOp({ op: 'replace', value: { title: 'CEO' } })],
    [
      'an allowed change together with a forbidden one',
      patchOp({ op: 'replace', path: 'phoneNumbers', value: [{ value: '+1 555 9999' }] }, { op: 'replace', path: 'title', value: 'CEO' }),
    ],
  ])('answers 403 to a change of %s and writes nothing', async (_name, body) => {
    await expectRefused(() => scim('PATCH', '/Me', { token: meToken, body }));
  });
});

describe('PUT /Me', () => {
  /** What GET /Me returns, as a client would send it back. */
  async function fetched(): Promise<Json> {
    const res = await scim('GET', '/Me', { token: meToken });
    expect(res.status).toBe(200);
    return res.body;
  }

  it('replaces the User when only allowed attributes change, GET-then-PUT (the rendered default active: true is no change)', async () => {
    const body = await fetched();
    const res = await scim('PUT', '/Me', {
      token: meToken,
      body: { ...body, phoneNumbers: [{ value: '+1 555 0199', type: 'home' }], name: { ...(body.name as Json), givenName: 'Sammy' } },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      userName: 'self@example.com',
      title: 'Engineer',
      name: { givenName: 'Sammy', familyName: 'Self' },
      phoneNumbers: [{ value: '+1 555 0199', type: 'home' }],
    });
    expect(await current()).toEqual(res.body);
  });

  it('answers 403 to a PUT that changes or drops anything else, and writes nothing', async () => {
    const body = await fetched();
    await expectRefused(() => scim('PUT', '/Me', { token: meToken, body: { ...body, title: 'CEO' } }));
    await expectRefused(() => scim('PUT', '/Me', { token: meToken, body: { ...body, userName: 'boss@example.com' } }));
    const { title: _dropped, ...withoutTitle } = body;
    await expectRefused(() => scim('PUT', '/Me', { token: meToken, body: withoutTitle }));
  });
});

describe('who may use /Me', () => {
  it('an end-user token cannot use /Users, not even for its own User', async () => {
    for (const [method, path, body] of [
      ['GET', '/Users', undefined],
      ['GET', `/Users/${me.id}`, undefined],
      ['POST', '/Users', { userName: 'sneaky@example.com' }],
      ['PATCH', `/Users/${me.id}`, patchOp({ op: 'replace', path: 'title', value: 'CEO' })],
      ['DELETE', `/Users/${me.id}`, undefined],
      ['POST', '/Users/.search', { schemas: [SCHEMA.searchRequest] }],
    ] as const) {
      const res = await scim(method, path, { token: meToken, ...(body ? { body } : {}) });
      expect(res.status).toBe(403);
      expect(res.body).toEqual(scimError(403));
    }
    expect((await current()).title).toBe('Engineer');
  });

  it('a provisioning token gets 403 from /Me', async () => {
    for (const method of ['GET', 'PUT', 'PATCH'] as const) {
      const body = method === 'GET' ? undefined : method === 'PUT' ? { userName: 'x' } : patchOp({ op: 'add', path: 'title', value: 'x' });
      const res = await scim(method, '/Me', { token: provisioning(), ...(body ? { body } : {}) });
      expect(res.status).toBe(403);
      expect(res.body).toEqual(scimError(403));
    }
  });

  it('DELETE and POST /Me answer 403', async () => {
    await expectRefused(() => scim('DELETE', '/Me', { token: meToken }));
    await expectRefused(() => scim('POST', '/Me', { token: meToken, body: { userName: 'again@example.com' } }));
    expect((await scim('GET', '/Me', { token: meToken })).status).toBe(200);
  });

  it('without a token /Me answers 401', async () => {
    const res = await scim('GET', '/Me');
    expect(res.status).toBe(401);
    expect(res.body).toEqual(scimError(401));
  });
});
