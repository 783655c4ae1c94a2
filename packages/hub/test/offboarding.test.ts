import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SCHEMA } from '@meridian/core';
import { createTestDatabase, eventually, FakeFileCloud, type TestDatabase } from '@meridian/test-utils';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../src/config/config.js';
import { buildApp } from '../src/http/app.js';
import { openRuntime, type Runtime } from '../src/runtime/runtime.js';

// Issue 19, use case 3.1 over real HTTP, PostgreSQL and BullMQ: a leaver in "east" hands over to a successor. East
// replicates to a fake cloud that owns files per user, and to the hub's own tenant "west" (a Meridian hub downstream),
// which replicates to a second cloud: the transfer reaches both clouds, the first directly, the second through west.

const system = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
const ENTERPRISE = SCHEMA.enterpriseUser;

describe('offboarding a leaver to a successor', () => {
  let db: TestDatabase;
  let runtime: Runtime;
  let app: FastifyInstance;
  let base: string;
  let cloud: FakeFileCloud;
  let westCloud: FakeFileCloud;
  let brokenCloud: FakeFileCloud;
  const east = { id: '', token: '' };
  const west = { id: '', token: '' };
  const targets = { cloud: '', west: '', westCloud: '', broken: '' };

  async function scim(token: string, method: string, path: string, body?: unknown) {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
  }

  const createUser = async (userName: string, extra: Record<string, unknown> = {}) => {
    const created = await scim(east.token, 'POST', '/Users', { schemas: [SCHEMA.user, ENTERPRISE], userName, ...extra });
    expect(created.status).toBe(201);
    return created.body?.id as string;
  };
  const createGroup = async (displayName: string, members: string[]) => {
    const created = await scim(east.token, 'POST', '/Groups', {
      schemas: [SCHEMA.group],
      displayName,
      members: members.map((value) => ({ value })),
    });
    expect(created.status).toBe(201);
    return created.body?.id as string;
  };
  const remoteIdOf = (targetId: string, userId: string) =>
    eventually(`user ${userId} at target ${targetId}`, async () => {
      const link = (await runtime.replication.resourceStatus(targetId === targets.westCloud ? west.id : east.id, 'User', userId)).find(
        (l) => l.targetId === targetId,
      );
      return link?.status === 'synced' ? (link.remoteId ?? undefined) : undefined;
    });

  beforeAll(async () => {
    db = await createTestDatabase();
    cloud = await FakeFileCloud.start();
    westCloud = await FakeFileCloud.start();
    brokenCloud = await FakeFileCloud.start();
    const config = loadConfig({
      DATABASE_URL: db.url,
      ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
      MERIDIAN_PUBLIC_URL: 'http://127.0.0.1',
      MERIDIAN_SECRET_KEYS: `k1:${Buffer.alloc(32, 9).toString('base64')}`,
      MERIDIAN_OUTBOUND_ALLOW: '127.0.0.1',
    });
    runtime = await openRuntime(config, 'client');
    app = await buildApp({ config, runtime, logger: false });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/scim/v2`;
    const { admin } = runtime;
    await admin.createCommunity(platform, { slug: 'coi', name: 'CoI' }, system);
    const scopes = ['scim:read', 'scim:write'];
    east.id = (await admin.createTenant(platform, { slug: 'east', name: 'East', community: 'coi' }, system)).id;
    west.id = (await admin.createTenant(platform, { slug: 'west', name: 'West', community: 'coi' }, system)).id;
    east.token = (await admin.issueToken(platform, { tenant: 'east', scopes }, system)).token;
    west.token = (await admin.issueToken(platform, { tenant: 'west', scopes }, system)).token;
    const scimTarget = (name: string, baseUrl: string, token: string, extra: Record<string, unknown> = {}) => ({
      name,
      kind: 'scim',
      config: { baseUrl, transferOwnership: true },
      secrets: { token },
      deleteMode: 'delete' as const,
      ...extra,
    });
    targets.cloud = (
      await runtime.replication.targets.create(east.id, scimTarget('files', cloud.target.url, cloud.target.token), system)
    ).id;
    targets.west = (await runtime.replication.targets.create(east.id, scimTarget('west-hub', base, west.token), system)).id;
    targets.westCloud = (
      await runtime.replication.targets.create(west.id, scimTarget('west-files', westCloud.target.url, westCloud.target.token), system)
    ).id;
    // The third cloud refuses every transfer (400): its transfer ends in a dead letter, and blocks the deletion.
    targets.broken = (
      await runtime.replication.targets.create(
        east.id,
        scimTarget('broken', brokenCloud.target.url, brokenCloud.target.token, { maxAttempts: 2 }),
        system,
      )
    ).id;
    brokenCloud.target.failNext(
      { type: 'status', status: 400, detail: 'transfers are closed' },
      { times: 100, match: { path: '/OwnershipTransfers' } },
    );
    await runtime.replication.start();
  });

  afterAll(async () => {
    await app.close();
    await runtime.close();
    await cloud.close();
    await westCloud.close();
    await brokenCloud.close();
    await db.close();
  });

  it('hands over groups, entitlements, roles, reports and files, suspends the leaver, and deletes it everywhere after the grace period', async () => {
    const ada = await createUser('ada@east.example', {
      entitlements: [{ value: 'crm', type: 'app' }],
      roles: [{ value: 'approver' }],
    });
    const grace = await createUser('grace@east.example', { displayName: 'Grace' });
    const bob = await createUser('bob@east.example', { [ENTERPRISE]: { manager: { value: ada } } });
    const sales = await createGroup('Sales', [ada]);
    const ops = await createGroup('Ops', [ada, grace]);
    const adaMe = (await runtime.admin.issueToken(platform, { tenant: 'east', role: 'end_user', user: ada }, system)).token;
    expect((await scim(adaMe, 'GET', '/Me')).status).toBe(200);

    const adaAtCloud = await remoteIdOf(targets.cloud, ada);
    const graceAtCloud = await remoteIdOf(targets.cloud, grace);
    cloud.addFile(adaAtCloud, 'budget.xlsx');
    cloud.addFile(adaAtCloud, 'roadmap.md');
    const adaAtWest = await remoteIdOf(targets.west, ada);
    const graceAtWest = await remoteIdOf(targets.west, grace);
    const adaAtWestCloud = await remoteIdOf(targets.westCloud, adaAtWest);
    const graceAtWestCloud = await remoteIdOf(targets.westCloud, graceAtWest);
    westCloud.addFile(adaAtWestCloud, 'minutes.docx');
    await remoteIdOf(targets.broken, ada);
    await remoteIdOf(targets.broken, grace);

    const dry = await runtime.offboarding.offboard(
      platform,
      'east',
      { user: 'ada@east.example', successor: grace, graceDays: 0, dryRun: true },
      system,
    );
    expect(dry.offboarding).toBeNull();
    expect(dry.plan.groups.map((g) => [g.displayName, g.action, g.successorAlreadyMember])).toEqual([
      ['Ops', 'move', true],
      ['Sales', 'move', false],
    ]);
    expect(dry.plan.directReports).toEqual([{ id: bob, userName: 'bob@east.example' }]);
    expect(dry.plan.transfers.map((t) => [t.target, t.leaverRemoteId, t.successorRemoteId]).sort()).toEqual(
      [
        ['broken', expect.any(String), expect.any(String)],
        ['files', adaAtCloud, graceAtCloud],
        ['west-hub', adaAtWest, graceAtWest],
      ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    );
    // A dry run changes nothing.
    expect((await runtime.resources.get({ principal: platform, api: 'graphql' }, 'east', 'User', ada)).attributes.active).not.toBe(false);

    const done = await runtime.offboarding.offboard(platform, 'east', { user: ada, successor: 'grace@east.example', graceDays: 0 }, system);
    expect(done.offboarding?.status).toBe('suspended');
    expect(done.offboarding?.report).toMatchObject({ managersChanged: [bob] });
    expect([...(done.offboarding?.report?.groupsMoved ?? [])].sort()).toEqual([ops, sales].sort());
    const caller = { principal: platform, api: 'graphql' as const };
    const leaver = await runtime.resources.get(caller, 'east', 'User', ada);
    expect(leaver.attributes.active).toBe(false);
    expect(leaver.attributes.entitlements).toBeUndefined();
    expect(leaver.groups).toEqual([]);
    const successor = await runtime.resources.get(caller, 'east', 'User', grace);
    expect(successor.attributes.entitlements).toEqual([{ value: 'crm', type: 'app' }]);
    expect(successor.attributes.roles).toEqual([{ value: 'approver' }]);
    expect(successor.groups.map((g) => g.display).sort()).toEqual(['Ops', 'Sales']);
    expect((await runtime.resources.get(caller, 'east', 'User', bob)).attributes[ENTERPRISE]).toMatchObject({ manager: { value: grace } });
    // Its token ended with the suspension.
    expect((await scim(adaMe, 'GET', '/Me')).status).toBe(401);
    // A second offboarding of the same leaver is refused while this one is pending.
    await expect(runtime.offboarding.offboard(platform, 'east', { user: ada, successor: grace }, system)).rejects.toMatchObject({
      code: 'CONFLICT',
    });

    // The files belong to the successor at the first cloud, and at the second one through the west hub.
    await eventually('files at the cloud', async () => cloud.filesOf(graceAtCloud).length === 2);
    expect(cloud.filesOf(adaAtCloud)).toEqual([]);
    await eventually('files behind the west hub', async () => westCloud.filesOf(graceAtWestCloud).length === 1);
    expect(westCloud.filesOf(adaAtWestCloud)).toEqual([]);

    const id = done.offboarding?.id as string;
    const settled = await eventually('transfers settled', async () => {
      const record = await runtime.offboarding.get(platform, 'east', id);
      return record.transfers.every((t) => t.status === 'done' || t.status === 'dead_lettered') ? record : undefined;
    });
    expect(Object.fromEntries(settled.transfers.map((t) => [t.target, [t.status, t.transferred]]))).toEqual({
      files: ['done', 2],
      'west-hub': ['done', 0],
      broken: ['dead_lettered', null],
    });
    const letters = await runtime.replication.deadLetters(east.id, { target: targets.broken });
    expect(letters).toEqual([expect.objectContaining({ operation: 'transfer', localId: ada })]);

    // A dead-lettered transfer holds the deletion: nothing is half-done silently.
    expect(await runtime.offboarding.runDue()).toBe(0);
    expect((await runtime.resources.get(caller, 'east', 'User', ada)).id).toBe(ada);
  });

  it('schedules a leave that can be cancelled', async () => {
    const carl = await createUser('carl@east.example');
    const dana = await createUser('dana@east.example');
    const at = new Date(Date.now() + 7 * 24 * 3600 * 1000);
    const scheduled = await runtime.offboarding.offboard(platform, 'east', { user: carl, successor: dana, at, graceDays: 5 }, system);
    expect(scheduled.offboarding).toMatchObject({ status: 'scheduled', runAt: at });
    expect(scheduled.offboarding?.deleteAt.getTime()).toBe(at.getTime() + 5 * 24 * 3600 * 1000);
    // Not due: the runner leaves it alone, and nothing changed.
    await runtime.offboarding.runDue();
    expect((await runtime.resources.get({ principal: platform, api: 'graphql' }, 'east', 'User', carl)).attributes.active).not.toBe(false);
    const cancelled = await runtime.offboarding.cancel(platform, 'east', 'carl@east.example', system);
    expect(cancelled.status).toBe('cancelled');
    await expect(runtime.offboarding.cancel(platform, 'east', cancelled.id, system)).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('answers offboardAccount in GraphQL: a dry run shows the plan and changes nothing', async () => {
    const gail = await createUser('gail@east.example');
    const hank = await createUser('hank@east.example');
    await createGroup('Audit', [gail]);
    const token = (await runtime.admin.issueToken(platform, { tenant: 'east', scopes: ['graphql:write'] }, system)).token;
    const response = await fetch(base.replace('/scim/v2', '/graphql'), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        query: 'mutation($t: ID!, $i: OffboardAccountInput!) { offboardAccount(tenant: $t, input: $i) { dryRun plan offboarding { id } } }',
        variables: { t: east.id, i: { user: 'gail@east.example', successor: hank, graceDays: 3, dryRun: true } },
      }),
    });
    const body = (await response.json()) as {
      data?: { offboardAccount: { dryRun: boolean; plan: Record<string, unknown>; offboarding: null } };
    };
    expect(body.data?.offboardAccount).toMatchObject({ dryRun: true, offboarding: null });
    expect(body.data?.offboardAccount.plan).toMatchObject({
      leaver: { id: gail, userName: 'gail@east.example' },
      groups: [{ displayName: 'Audit', action: 'move', successorAlreadyMember: false }],
      graceDays: 3,
    });
    expect(await runtime.offboarding.list(platform, 'east')).not.toContainEqual(expect.objectContaining({ userId: gail }));
  });

  it('deletes the leaver at the end of the grace period once every transfer is done, and the leaver exists nowhere', async () => {
    const erin = await createUser('erin@east.example');
    const finn = await createUser('finn@east.example');
    await remoteIdOf(targets.cloud, erin);
    const erinAtCloud = await remoteIdOf(targets.cloud, erin);
    const finnAtCloud = await remoteIdOf(targets.cloud, finn);
    cloud.addFile(erinAtCloud, 'notes.txt');
    // Without the broken cloud: its transfers never succeed.
    await runtime.replication.targets.update(east.id, targets.broken, { enabled: false }, system);
    const done = await runtime.offboarding.offboard(platform, 'east', { user: erin, successor: finn, graceDays: 0 }, system);
    const id = done.offboarding?.id as string;
    await eventually('transfers done', async () =>
      (await runtime.offboarding.get(platform, 'east', id)).transfers.every((t) => t.status === 'done'),
    );
    expect(cloud.filesOf(finnAtCloud).map((f) => f.name)).toEqual(['notes.txt']);
    expect(await runtime.offboarding.runDue()).toBeGreaterThanOrEqual(1);
    expect((await runtime.offboarding.get(platform, 'east', id)).status).toBe('deleted');
    await expect(runtime.resources.get({ principal: platform, api: 'graphql' }, 'east', 'User', erin)).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await eventually('the leaver gone from the cloud', async () => !cloud.target.users.some((u) => u.id === erinAtCloud));
    const westUsers = await scim(west.token, 'GET', `/Users?filter=${encodeURIComponent(`externalId eq "${erin}"`)}`);
    await eventually('the leaver gone from the west hub', async () => {
      const list = await scim(west.token, 'GET', `/Users?filter=${encodeURIComponent(`externalId eq "${erin}"`)}`);
      return list.body?.totalResults === 0;
    });
    expect(westUsers.status).toBe(200);
  });
});
