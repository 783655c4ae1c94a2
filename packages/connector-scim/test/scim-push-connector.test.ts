import { afterEach, describe, expect, it } from '@jest/globals';
import { type ScimConnectorConfig, ScimPushConnector, scimConnectorFactory } from '@meridian/connector-scim';
import { ConnectorError, type ConnectorErrorKind, type OutboundMember } from '@meridian/connector-sdk';
import { outboundGroup, runConnectorConformance, outboundUser as user } from '@meridian/connector-sdk/testing';
import { SCHEMA, systemClock } from '@meridian/core';
import { FakeScimTarget, type FakeScimTargetOptions } from '@meridian/test-utils';

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const context = { logger: silent, clock: systemClock, fetch: globalThis.fetch };

let targets: FakeScimTarget[] = [];

afterEach(async () => {
  await Promise.all(targets.map((t) => t.close()));
  targets = [];
});

async function setup(
  targetOptions: FakeScimTargetOptions = {},
  config: Partial<ScimConnectorConfig> = {},
): Promise<{ target: FakeScimTarget; connector: ScimPushConnector }> {
  const target = await FakeScimTarget.start({ basePath: '/scim/v2', ...targetOptions });
  targets.push(target);
  const validated = scimConnectorFactory.validateConfig({ baseUrl: target.url, ...config }, { token: target.token });
  const connector = scimConnectorFactory.create(validated, { token: target.token }, context) as ScimPushConnector;
  return { target, connector };
}

/** The error a promise rejects with. */
async function failure(promise: Promise<unknown>): Promise<ConnectorError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ConnectorError) return error;
    throw error;
  }
  throw new Error('expected a ConnectorError');
}

function seedUsers(target: FakeScimTarget, count: number, prefix = 'member'): OutboundMember[] {
  return Array.from({ length: count }, (_, i) => {
    const seeded = target.seed('User', { schemas: [SCHEMA.user], userName: `${prefix}-${i}` });
    return { kind: 'User' as const, localId: `${prefix}-${i}`, remoteId: seeded.id as string };
  });
}

function operationsOf(body: unknown): unknown[] {
  return (body as { Operations: unknown[] }).Operations;
}

describe('ScimPushConnector: writes', () => {
  it('creates a user with one POST carrying the mapped attributes', async () => {
    const { target, connector } = await setup();
    const ref = await connector.create(user('L1', 'ada'));
    expect(ref).toEqual({ kind: 'User', remoteId: target.users[0]?.id, version: 'W/"1"' });
    expect(target.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /Users']);
    expect(target.requests[0]?.headers.authorization).toBe(`Bearer ${target.token}`);
    expect(target.requests[0]?.headers['content-type']).toBe('application/scim+json');
    expect(target.users[0]).toMatchObject({ userName: 'ada', externalId: 'L1', name: { givenName: 'Conformance', familyName: 'ada' } });
  });

  it('updates with a PATCH of only what changed since the previous push; no read, nothing sent when nothing changed', async () => {
    const { target, connector } = await setup({}, { usePatch: true });
    const before = user('L1', 'ada', { title: 'Engineer', nickName: 'Ada' });
    const ref = await connector.create(before);
    const after = user('L1', 'ada', {
      title: 'Manager',
      name: { givenName: 'Conformance' },
      [SCHEMA.enterpriseUser]: { employeeNumber: '42' },
    });
    await connector.update(ref, after, before);
    const patches = target.requestsTo('PATCH', '/Users/');
    expect(target.requests).toHaveLength(2);
    expect(operationsOf(patches[0]?.body)).toEqual([
      { op: 'remove', path: 'name.familyName' },
      { op: 'replace', path: 'title', value: 'Manager' },
      { op: 'remove', path: 'nickName' },
      { op: 'replace', path: `${SCHEMA.enterpriseUser}:employeeNumber`, value: '42' },
    ]);
    expect(target.users[0]).toMatchObject({
      title: 'Manager',
      name: { givenName: 'Conformance' },
      [SCHEMA.enterpriseUser]: { employeeNumber: '42' },
    });
    expect(target.users[0]).not.toHaveProperty('nickName');

    await connector.update(ref, after, after);
    expect(target.requests).toHaveLength(2);
  });

  it('without the previous push, reads the remote object and PATCHes the differences from it', async () => {
    const { target, connector } = await setup({}, { usePatch: true });
    const pushed = user('L1', 'ada');
    const ref = await connector.create(pushed);
    await connector.update(ref, { ...pushed, attributes: { ...pushed.attributes, displayName: 'Ada L.' } });
    expect(target.requests.map((r) => r.method)).toEqual(['POST', 'GET', 'PATCH']);
    expect(operationsOf(target.requests[2]?.body)).toEqual([{ op: 'replace', path: 'displayName', value: 'Ada L.' }]);
  });

  it('reads a group without its members to diff an update; the members stay', async () => {
    const { target, connector } = await setup({}, { usePatch: true });
    const members = seedUsers(target, 3);
    const group = outboundGroup('G1', 'staff', members);
    const ref = await connector.create(group);
    await connector.update(ref, { ...group, attributes: { ...group.attributes, displayName: 'Staff' } });
    expect(target.requests.slice(1).map((r) => [r.method, r.query.excludedAttributes])).toEqual([
      ['GET', 'members'],
      ['PATCH', undefined],
    ]);
    expect(operationsOf(target.requests[2]?.body)).toEqual([{ op: 'replace', path: 'displayName', value: 'Staff' }]);
    expect(target.membersOf(ref.remoteId)).toHaveLength(3);
  });

  it('uses PUT when the target does not support PATCH, detected from /ServiceProviderConfig', async () => {
    const { target, connector } = await setup({ patch: false });
    expect(await connector.testConnection()).toMatchObject({ ok: true, message: expect.stringContaining('updates use PUT') });
    const pushed = user('L1', 'ada');
    const ref = await connector.create(pushed);
    await connector.update(ref, { ...pushed, attributes: { ...pushed.attributes, title: 'CTO' } });
    await connector.deactivate(ref);
    expect(target.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /ServiceProviderConfig',
      'GET /Users',
      'POST /Users',
      `PUT /Users/${ref.remoteId}`,
      `GET /Users/${ref.remoteId}`,
      `PUT /Users/${ref.remoteId}`,
    ]);
    expect(target.users[0]).toMatchObject({ userName: 'ada', title: 'CTO', active: false });
  });

  it('falls back to PUT, and remembers it, when PATCH answers 501 although auto-detection said yes', async () => {
    const { target, connector } = await setup({}, { usePatch: 'auto' });
    const ref = await connector.create(user('L1', 'ada'));
    target.failNext({ type: 'status', status: 501 }, { match: { method: 'PATCH' } });
    await connector.deactivate(ref);
    await connector.deactivate(ref);
    expect(target.requests.map((r) => r.method)).toEqual(['POST', 'GET', 'PATCH', 'GET', 'PUT', 'GET', 'PUT']);
    expect(target.users[0]?.active).toBe(false);
  });

  it('deactivates with PATCH active false', async () => {
    const { target, connector } = await setup({}, { usePatch: true });
    const ref = await connector.create(user('L1', 'ada'));
    await connector.deactivate(ref);
    expect(operationsOf(target.requestsTo('PATCH', '/Users/')[0]?.body)).toEqual([{ op: 'replace', path: 'active', value: false }]);
    expect(target.users[0]?.active).toBe(false);
  });

  it('deletes; a second delete of the gone object succeeds', async () => {
    const { target, connector } = await setup();
    const ref = await connector.create(user('L1', 'ada'));
    await connector.delete(ref);
    await connector.delete(ref);
    expect(target.requests.map((r) => r.status)).toEqual([201, 204, 404]);
    expect(target.state().users).toBe(0);
    expect(await connector.get(ref)).toBeUndefined();
    expect(await failure(connector.update(ref, user('L1', 'ada')))).toMatchObject({ kind: 'permanent', code: 'NOT_FOUND' });
    expect(await failure(connector.deactivate(ref))).toMatchObject({ kind: 'permanent', code: 'NOT_FOUND', status: 404 });
  });

  it('pushes a password with PATCH replace and keeps it out of error records', async () => {
    const { target, connector } = await setup({}, { supportsPassword: true, usePatch: true });
    const ref = await connector.create(user('L1', 'ada'));
    await connector.setPassword(ref, 'Correct-Horse-1');
    expect(target.passwordOf(ref.remoteId)).toBe('Correct-Horse-1');
    expect(operationsOf(target.requestsTo('PATCH', '/Users/')[0]?.body)).toEqual([
      { op: 'replace', path: 'password', value: 'Correct-Horse-1' },
    ]);

    target.failNext({ type: 'status', status: 400, detail: 'password too weak' });
    const error = await failure(connector.setPassword(ref, 'weak-secret'));
    expect(error).toMatchObject({ kind: 'permanent', status: 400 });
    expect(error.request?.body).toEqual({
      schemas: [SCHEMA.patchOp],
      Operations: [{ op: 'replace', path: 'password', value: '[REDACTED]' }],
    });
    expect(JSON.stringify({ ...error, message: error.message })).not.toContain('weak-secret');
  });

  it('refuses a password push when the target is not configured for it', async () => {
    const { target, connector } = await setup();
    expect(connector.capabilities.password).toBe(false);
    const error = await failure(connector.setPassword({ kind: 'User', remoteId: 'x' }, 'pw'));
    expect(error).toMatchObject({ kind: 'permanent', code: 'UNSUPPORTED' });
    expect(target.requests).toHaveLength(0);
  });
});

describe('ScimPushConnector: group membership', () => {
  it('sends 250 added members in 3 PATCH requests when the target takes 100 per request', async () => {
    const { target, connector } = await setup({ maxMembersPerRequest: 100 }, { maxMembersPerRequest: 100, usePatch: true });
    const members = seedUsers(target, 250);
    const ref = await connector.create(outboundGroup('G1', 'staff'));
    await connector.updateMembers(ref, { add: members, remove: [] });
    const patches = target.requestsTo('PATCH', '/Groups/');
    expect(patches.map((p) => p.status)).toEqual([204, 204, 204]);
    expect(patches.map((p) => (operationsOf(p.body)[0] as { value: unknown[] }).value.length)).toEqual([100, 100, 50]);
    expect(target.membersOf(ref.remoteId)).toHaveLength(250);

    // 120 removals and 10 additions: 130 member references in 2 requests, removals first.
    const removed = members.slice(0, 120).map((m) => m.remoteId);
    const added = seedUsers(target, 10, 'newcomer');
    await connector.updateMembers(ref, { add: added, remove: removed });
    const next = target.requestsTo('PATCH', '/Groups/').slice(3);
    expect(next.map((p) => operationsOf(p.body).length)).toEqual([100, 21]);
    expect(operationsOf(next[0]?.body)[0]).toEqual({ op: 'remove', path: `members[value eq "${removed[0]}"]` });
    expect(target.membersOf(ref.remoteId)).toEqual([...members.slice(120), ...added].map((m) => m.remoteId).sort());
  });

  it('creates a group of 250 members as a POST of 100 and PATCHes of the rest', async () => {
    const { target, connector } = await setup({ maxMembersPerRequest: 100 }, { usePatch: true });
    const members = seedUsers(target, 250);
    const ref = await connector.create(outboundGroup('G1', 'everyone', members));
    expect(target.requests.map((r) => `${r.method} ${r.status}`)).toEqual(['POST 201', 'PATCH 204', 'PATCH 204']);
    expect(target.state()).toEqual({ users: 250, groups: 1, members: { [ref.remoteId]: members.map((m) => m.remoteId).sort() } });
  });

  it('learns a lower member cap from 413 answers and completes the delta', async () => {
    const { target, connector } = await setup({ maxMembersPerRequest: 40, memberCapStatus: 413 }, { usePatch: true });
    const members = seedUsers(target, 100);
    const ref = await connector.create(outboundGroup('G1', 'staff'));
    await connector.updateMembers(ref, { add: members, remove: [] });
    expect(target.requestsTo('PATCH', '/Groups/').map((p) => p.status)).toEqual([413, 413, 204, 204, 204, 204]);
    expect(target.membersOf(ref.remoteId)).toHaveLength(100);
  });

  it('applies deltas with a read and a PUT of the member list when the target lacks PATCH', async () => {
    const { target, connector } = await setup({ patch: false });
    const [a, b, c] = seedUsers(target, 3) as [OutboundMember, OutboundMember, OutboundMember];
    const ref = await connector.create(outboundGroup('G1', 'staff', [a, b]));
    await connector.updateMembers(ref, { add: [c], remove: [a.remoteId] });
    expect(target.requests.map((r) => r.method)).toEqual(['POST', 'GET', 'GET', 'PUT']);
    expect(target.membersOf(ref.remoteId)).toEqual([b.remoteId, c.remoteId].sort());
    expect(target.groups[0]?.displayName).toBe('staff');
  });
});

describe('ScimPushConnector: matching and adoption', () => {
  it('adopts an existing account on first push: match by userName, then update; no duplicate', async () => {
    const { target, connector } = await setup({}, { usePatch: true });
    const existing = target.seed('User', { schemas: [SCHEMA.user], userName: 'Ada', title: 'Old' });
    const outbound = user('L1', 'ada', { title: 'New' });

    const error = await failure(connector.create(outbound));
    expect(error).toMatchObject({ kind: 'permanent', code: 'CONFLICT', status: 409 });
    const found = await connector.match(outbound);
    expect(found?.ref.remoteId).toBe(existing.id);
    await connector.update(found!.ref, outbound);
    expect(target.state().users).toBe(1);
    expect(target.users[0]).toMatchObject({ id: existing.id, externalId: 'L1', title: 'New' });
    // Looked up by externalId or userName in one request.
    expect(target.requestsTo('GET', '/Users').map((r) => r.query.filter)).toEqual(['externalId eq "L1" or userName eq "ada"', undefined]);
  });

  it('matches by externalId before userName, and groups by displayName', async () => {
    const { target, connector } = await setup();
    const byExternalId = target.seed('User', { schemas: [SCHEMA.user], userName: 'renamed', externalId: 'L1' });
    expect((await connector.match(user('L1', 'ada')))?.ref.remoteId).toBe(byExternalId.id);
    const group = target.seed('Group', { schemas: [SCHEMA.group], displayName: 'Staff' });
    expect((await connector.match(outboundGroup('G1', 'staff')))?.ref).toEqual({ kind: 'Group', remoteId: group.id, version: 'W/"1"' });
    expect(target.requestsTo('GET', '/Groups').at(-1)?.query).toMatchObject({ excludedAttributes: 'members' });
    expect(await connector.match(user('L2', 'nobody'))).toBeUndefined();
  });

  it('refuses to adopt when two remote accounts match', async () => {
    const { target, connector } = await setup();
    target.seed('User', { schemas: [SCHEMA.user], userName: 'a1', externalId: 'L1' });
    target.seed('User', { schemas: [SCHEMA.user], userName: 'a2', externalId: 'L1' });
    expect(await failure(connector.match(user('L1', 'ada')))).toMatchObject({ kind: 'permanent', code: 'CONFLICT' });
  });

  it('lists every object through pages the target caps below the asked size', async () => {
    const { target, connector } = await setup({ maxPageSize: 2 }, { pageSize: 3 });
    seedUsers(target, 7);
    const seen: string[] = [];
    for await (const object of connector.list('User')) seen.push(String(object.attributes.userName));
    expect(seen).toEqual(Array.from({ length: 7 }, (_, i) => `member-${i}`));
    expect(target.requests.map((r) => r.query.startIndex)).toEqual(['1', '3', '5', '7']);
  });
});

describe('ScimPushConnector: error classification', () => {
  it('429 is rate_limited with retryAfterMs from Retry-After seconds or an HTTP date', async () => {
    const { target, connector } = await setup();
    target.failNext({ type: 'rateLimited', retryAfter: 7 });
    expect(await failure(connector.create(user('L1', 'ada')))).toMatchObject({ kind: 'rate_limited', status: 429, retryAfterMs: 7000 });

    target.failNext({ type: 'rateLimited', retryAfter: new Date(Date.now() + 60_000).toUTCString() });
    const dated = await failure(connector.create(user('L1', 'ada')));
    expect(dated.kind).toBe('rate_limited');
    expect(dated.retryAfterMs).toBeGreaterThan(55_000);
    expect(dated.retryAfterMs).toBeLessThanOrEqual(60_000);
  });

  it('a target over its rate limit answers 429 and the connector reports rate_limited', async () => {
    const { target, connector } = await setup({ rateLimit: 2 });
    await connector.create(user('L1', 'a'));
    await connector.create(user('L2', 'b'));
    expect(await failure(connector.create(user('L3', 'c')))).toMatchObject({ kind: 'rate_limited', retryAfterMs: 1000 });
    expect(target.state().users).toBe(2);
  });

  it.each([500, 502, 503, 408])('%i is transient', async (status) => {
    const { target, connector } = await setup();
    target.failNext({ type: 'status', status });
    expect(await failure(connector.create(user('L1', 'ada')))).toMatchObject({ kind: 'transient', status });
  });

  it('a target that does not answer within timeoutMs is transient', async () => {
    const { target, connector } = await setup({}, { timeoutMs: 200 });
    target.failNext({ type: 'hang' });
    const error = await failure(connector.create(user('L1', 'ada')));
    expect(error).toMatchObject({ kind: 'transient', message: 'SCIM target did not answer POST /Users within 200 ms.' });
    target.failNext({ type: 'delay', ms: 400 });
    expect(await failure(connector.delete({ kind: 'User', remoteId: 'x' }))).toMatchObject({ kind: 'transient' });
  });

  it('a dropped connection is transient; an idempotent GET is retried once', async () => {
    const { target, connector } = await setup();
    target.failNext({ type: 'drop' });
    expect(await failure(connector.create(user('L1', 'ada')))).toMatchObject({ kind: 'transient' });
    expect(target.state().users).toBe(0);

    const ref = await connector.create(user('L1', 'ada'));
    target.failNext({ type: 'drop' });
    expect((await connector.get(ref))?.attributes.userName).toBe('ada');
    target.failNext({ type: 'status', status: 503 }, { times: 2 });
    expect(await failure(connector.get(ref))).toMatchObject({ kind: 'transient', status: 503 });
    expect(target.requests.map((r) => r.fault ?? r.status)).toEqual(['drop', 201, 'drop', 200, 'status', 'status']);
  });

  it('an unreachable target is transient', async () => {
    const { target, connector } = await setup();
    await target.close();
    targets = [];
    expect(await failure(connector.get({ kind: 'User', remoteId: 'x' }))).toMatchObject({
      kind: 'transient',
      message: expect.stringContaining('ECONNREFUSED'),
    });
  });

  it('a 400 is permanent and carries the request and the response, never the token', async () => {
    const { target, connector } = await setup();
    target.rejectUserName('mallory', { detail: 'userName mallory is reserved' });
    const error = await failure(connector.create(user('L1', 'mallory')));
    expect(error).toMatchObject({
      kind: 'permanent',
      status: 400,
      message: 'SCIM target answered 400 (invalidValue) to POST /Users: userName mallory is reserved',
      request: {
        method: 'POST',
        url: `${target.url}/Users`,
        headers: { accept: expect.any(String), 'content-type': 'application/scim+json' },
        body: expect.objectContaining({ userName: 'mallory', externalId: 'L1' }),
      },
      response: {
        status: 400,
        headers: { 'content-type': 'application/scim+json; charset=utf-8' },
        body: { schemas: [SCHEMA.error], status: '400', scimType: 'invalidValue', detail: 'userName mallory is reserved' },
      },
    });
    expect(error.request?.headers).not.toHaveProperty('authorization');
    expect(JSON.stringify({ ...error, message: error.message, stack: error.stack })).not.toContain(target.token);
  });

  it('a wrong token is permanent UNAUTHORIZED, and testConnection reports it without throwing', async () => {
    const target = await FakeScimTarget.start();
    targets.push(target);
    const config = scimConnectorFactory.validateConfig({ baseUrl: target.url }, { token: 'wrong-token' });
    const connector = scimConnectorFactory.create(config, { token: 'wrong-token' }, context);
    expect(await failure(connector.create(user('L1', 'ada')))).toMatchObject({ kind: 'permanent', code: 'UNAUTHORIZED', status: 401 });
    expect(await connector.testConnection()).toMatchObject({ ok: false, message: expect.stringContaining('401') });
  });
});

describe('scimConnectorFactory', () => {
  it('normalises a config with defaults', () => {
    expect(scimConnectorFactory.validateConfig({ baseUrl: 'https://csp.example/scim/v2/' }, { token: 't' })).toEqual({
      baseUrl: 'https://csp.example/scim/v2',
      timeoutMs: 30_000,
      maxMembersPerRequest: 100,
      pageSize: 100,
      usePatch: 'auto',
      supportsPassword: false,
      transferOwnership: false,
    });
  });

  it.each([
    [{}, {}, 'config.baseUrl', "SCIM connector: 'baseUrl' is required: the target's SCIM base URL."],
    [{ baseUrl: 'ftp://x' }, {}, 'config.baseUrl', "SCIM connector: 'baseUrl' must be an absolute http:// or https:// URL."],
    [
      { baseUrl: 'https://u:p@x' },
      {},
      'config.baseUrl',
      "SCIM connector: 'baseUrl' must not carry credentials: put the token in the secrets.",
    ],
    [
      { baseUrl: 'https://x', maxMembersPerRequest: 0 },
      {},
      'config.maxMembersPerRequest',
      "SCIM connector: 'maxMembersPerRequest' must be between 1 and 100000.",
    ],
    [{ baseUrl: 'https://x', usePatch: 'yes' }, {}, 'config.usePatch', `SCIM connector: 'usePatch' must be true, false or "auto".`],
    [{ baseUrl: 'https://x', tokn: 'a' }, {}, 'config', expect.stringContaining("unknown setting(s) 'tokn'")],
    [{ baseUrl: 'https://x' }, { token: '' }, 'secrets.token', expect.stringContaining("the secret 'token'")],
    ['https://x', {}, 'config', 'SCIM connector: the config must be an object.'],
  ])('rejects %j with INVALID_CONFIG naming the field', (config, secrets, field, message) => {
    let caught: unknown;
    try {
      scimConnectorFactory.validateConfig(config, { token: 't', ...secrets });
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({ code: 'INVALID_CONFIG', field, message });
  });
});

describe('conformance', () => {
  let current: FakeScimTarget | undefined;
  const faults: Record<ConnectorErrorKind, () => void> = {
    transient: () => current?.failNext({ type: 'status', status: 503 }, { match: { method: 'POST' } }),
    rate_limited: () => current?.failNext({ type: 'rateLimited', retryAfter: 3 }, { match: { method: 'POST' } }),
    permanent: () => current?.failNext({ type: 'status', status: 400 }, { match: { method: 'POST' } }),
  };
  runConnectorConformance(
    'scim (fake target)',
    async () => {
      const { target, connector } = await setup({ maxMembersPerRequest: 100 }, { supportsPassword: true });
      current = target;
      return { connector };
    },
    { injectFault: (kind) => faults[kind]() },
  );
  runConnectorConformance('scim (fake target without PATCH)', async () => {
    const { connector } = await setup({ patch: false });
    return connector;
  });
});
