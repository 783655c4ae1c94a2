import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { scimConnectorFactory } from '@meridian/connector-scim';
import {
  AdminService,
  type DirectoryCaller,
  type Principal,
  principalOfRole,
  type ReplicationTarget,
  ResourceService,
  SCHEMA,
  systemClock,
} from '@meridian/core';
import { ConnectorRegistry, OutboundHttp, openTargetQueues, ReplicationEngine } from '@meridian/replication';
import {
  Argon2PasswordHasher,
  createOrm,
  generateSecretKey,
  type MikroORM,
  PostgresAdminStore,
  PostgresDirectoryStore,
  PostgresReplicationStore,
  SecretBox,
} from '@meridian/store';
import { createTestDatabase, eventually, FakeScimTarget, SqlCapture, type TestDatabase } from '@meridian/test-utils';

import { contextOf } from './harness.js';

// Group membership pushed as deltas (issue 14, ADR 0024): a member added to a
// 10,000-member group reaches a SCIM target as one PATCH with one `add`, and
// the worker's database work for that job is the same as for a group of one.
// The engine talks to PostgreSQL through a SqlCapture proxy; the SCIM writes
// and the test's own reads do not, so what it records is the engine's.

const platform: Principal = { kind: 'platform', tokenId: 'test', scopes: ['admin'] };
const scimCaller = (tenantId: string): DirectoryCaller => ({ principal: principalOfRole('provisioner', { tenantId }), api: 'scim' });
const BIG = 10_000;

let db: TestDatabase;
let capture: SqlCapture;
let engineOrm: MikroORM;
let engine: ReplicationEngine;
let scim: FakeScimTarget;
let resources: ResourceService;
let tenantId: string;
let target: ReplicationTarget;

beforeAll(async () => {
  db = await createTestDatabase();
  const url = new URL(db.url);
  capture = new SqlCapture(url.hostname, Number(url.port || 5432));
  url.port = String(await capture.listen());
  engineOrm = await createOrm({ url: url.toString(), poolSize: 5 });
  scim = await FakeScimTarget.start();
  const box = new SecretBox([generateSecretKey()]);
  const directory = new PostgresDirectoryStore(db.orm, systemClock);
  resources = new ResourceService(directory, new Argon2PasswordHasher());
  const admin = new AdminService(new PostgresAdminStore(db.orm, systemClock), systemClock);
  await admin.createCommunity(platform, { slug: 'coi', name: 'CoI' }, contextOf());
  tenantId = (await admin.createTenant(platform, { slug: 'deltas', name: 'Deltas', community: 'coi' }, contextOf())).id;
  const engineDirectory = new PostgresDirectoryStore(engineOrm, systemClock);
  engine = new ReplicationEngine(
    {
      store: new PostgresReplicationStore(engineOrm, systemClock),
      queues: openTargetQueues({ databaseUrl: db.url, prefix: `mrd-${process.pid}-${randomUUID().slice(0, 8)}` }),
      registry: new ConnectorRegistry([scimConnectorFactory]),
      outbound: new OutboundHttp({ allow: '127.0.0.1' }),
      sealer: box,
      resources: {
        get: (t, kind, id, include) => engineDirectory.get(t, kind, id, include),
        getMany: (t, kind, ids, include) => engineDirectory.getMany(t, kind, ids, include),
        shapeOf: (t, kind) => resources.shapeOf(t, kind),
        page: (t, kind, page) => engineDirectory.page(t, kind, page),
      },
      clock: systemClock,
      // Commit notifications wake the relay; no poll or target refresh runs while a delivery is counted.
      tuning: { relayIntervalMs: 60_000, relayFallbackMs: 60_000, targetRefreshMs: 60_000, backoffBaseMs: 20, backoffMaxMs: 200 },
    },
    { lockDurationMs: 5000, stalledIntervalMs: 5000 },
  );
  await engine.start();
  target = await engine.targets.create(
    tenantId,
    { name: 'csp', kind: 'scim', config: { baseUrl: scim.url, usePatch: true }, secrets: { token: scim.token } },
    contextOf(),
  );
  await engine.workers.refresh();
}, 120_000);

afterAll(async () => {
  await engine?.close();
  await engineOrm?.close(true);
  await scim?.close();
  await capture?.close();
  await db?.close();
});

async function linkRow(kind: 'User' | 'Group', id: string) {
  const [row] = await db.query<{ status: string; handled_version: number; remote_id: string | null }>(
    'select status, handled_version, remote_id from replication_link where target_id = $1 and resource_kind = $2 and local_id = $3',
    [target.id, kind, id],
  );
  return row;
}

async function untilSynced(kind: 'User' | 'Group', id: string, version: number): Promise<string> {
  const row = await eventually(
    `${kind} ${id} synced at v${version}`,
    async () => {
      const link = await linkRow(kind, id);
      return link?.status === 'synced' && link.handled_version >= version ? link : undefined;
    },
    { timeoutMs: 30_000 },
  );
  return row.remote_id as string;
}

/** Waits until the target's queue holds no job: the delivery's last statement is sent. */
async function untilIdle(): Promise<void> {
  await eventually(
    'the queue to be idle',
    async () => {
      const counts = await engine.ctx.queues.queue(target.id).getJobCounts('waiting', 'delayed', 'prioritized', 'active');
      return Object.values(counts).every((n) => n === 0);
    },
    { timeoutMs: 30_000 },
  );
}

/** A user of the tenant, pushed to the target. */
async function pushedUser(userName: string): Promise<{ id: string; remoteId: string }> {
  const created = await resources.create(scimCaller(tenantId), tenantId, 'User', { schemas: [SCHEMA.user], userName }, contextOf());
  return { id: created.id, remoteId: await untilSynced('User', created.id, created.version) };
}

/** A group with `size` members written straight to the database (no jobs): people the target does not hold. */
async function groupOf(size: number): Promise<{ id: string; remoteId: string }> {
  const group = await resources.create(
    scimCaller(tenantId),
    tenantId,
    'Group',
    { schemas: [SCHEMA.group], displayName: `g-${size}-${randomUUID().slice(0, 6)}` },
    contextOf(),
  );
  await db.query(
    `with u as (
       insert into scim_user (id, tenant_id, user_name, attributes, version, created_at, updated_at)
       select gen_random_uuid(), $1, 'bulk-' || $3::text || '-' || n, '{}'::jsonb, 1, now(), now() from generate_series(1, $2::int) n
       returning id)
     insert into group_member (group_id, member_id, tenant_id, member_type, created_at) select $4, id, $1, 'User', now() from u`,
    [tenantId, size, randomUUID().slice(0, 8), group.id],
  );
  return { id: group.id, remoteId: await untilSynced('Group', group.id, group.version) };
}

/** Adds `user` to `group` and answers what the engine sent to PostgreSQL and the target for that delivery. */
async function addMember(group: { id: string }, user: { id: string }) {
  await untilIdle();
  await capture.quiet();
  const statementsBefore = capture.statements.length;
  const requestsBefore = scim.requests.length;
  const changed = await resources.patch(
    scimCaller(tenantId),
    tenantId,
    'Group',
    group.id,
    { schemas: [SCHEMA.patchOp], Operations: [{ op: 'add', path: 'members', value: [{ value: user.id }] }] },
    contextOf(),
  );
  await untilSynced('Group', group.id, changed.version);
  await untilIdle();
  await capture.quiet();
  return { statements: capture.statements.slice(statementsBefore).map((s) => s.sql), requests: scim.requests.slice(requestsBefore) };
}

describe('group membership as deltas (ADR 0024)', () => {
  it(`adds one member to a ${BIG}-member group with one PATCH of one add, and the same statements as for a group of one`, async () => {
    const big = await groupOf(BIG);
    const small = await groupOf(1);
    const ann = await pushedUser('ann@example.org');
    const bob = await pushedUser('bob@example.org');

    const toBig = await addMember(big, ann);
    expect(toBig.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`PATCH /Groups/${big.remoteId}`]);
    expect(toBig.requests[0]?.body).toEqual({
      schemas: [SCHEMA.patchOp],
      Operations: [{ op: 'add', path: 'members', value: [{ value: ann.remoteId, type: 'User' }] }],
    });
    expect(scim.membersOf(big.remoteId)).toEqual([ann.remoteId]);
    // Neither the group's 10,000 members nor their links are read or written: values are sent inline, so a
    // statement that named every member would run to some 400,000 characters.
    expect(toBig.statements.filter((sql) => sql.length > 5000)).toEqual([]);

    const toSmall = await addMember(small, bob);
    expect(toSmall.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`PATCH /Groups/${small.remoteId}`]);
    expect(toBig.statements).toHaveLength(toSmall.statements.length);
    const characters = (statements: string[]) => statements.reduce((n, sql) => n + sql.length, 0);
    expect(Math.abs(characters(toBig.statements) - characters(toSmall.statements))).toBeLessThan(200);

    const [pushed] = await db.query<{ n: string }>('select count(*) as n from replication_link_member where group_id = $1', [big.id]);
    expect(Number(pushed?.n)).toBe(1);
  }, 120_000);

  it('removes a member with one remove op, by the remote id it was pushed as', async () => {
    const group = await groupOf(3);
    const cat = await pushedUser('cat@example.org');
    await addMember(group, cat);
    const requestsBefore = scim.requests.length;
    const changed = await resources.patch(
      scimCaller(tenantId),
      tenantId,
      'Group',
      group.id,
      { schemas: [SCHEMA.patchOp], Operations: [{ op: 'remove', path: `members[value eq "${cat.id}"]` }] },
      contextOf(),
    );
    const remoteId = await untilSynced('Group', group.id, changed.version);
    const sent = scim.requests.slice(requestsBefore);
    expect(sent.map((r) => r.method)).toEqual(['PATCH']);
    expect(sent[0]?.body).toMatchObject({ Operations: [{ op: 'remove', path: `members[value eq "${cat.remoteId}"]` }] });
    expect(scim.membersOf(remoteId)).toEqual([]);
  }, 60_000);

  it('pushes the whole list when the job does not stand for one change (two changes while the target is paused)', async () => {
    const group = await groupOf(2);
    const dan = await pushedUser('dan@example.org');
    const eve = await pushedUser('eve@example.org');
    await engine.targets.pause(tenantId, target.id, contextOf());
    const patchOf = (id: string) => ({ schemas: [SCHEMA.patchOp], Operations: [{ op: 'add', path: 'members', value: [{ value: id }] }] });
    await resources.patch(scimCaller(tenantId), tenantId, 'Group', group.id, patchOf(dan.id), contextOf());
    const last = await resources.patch(scimCaller(tenantId), tenantId, 'Group', group.id, patchOf(eve.id), contextOf());
    await engine.targets.resume(tenantId, target.id, contextOf());
    const remoteId = await untilSynced('Group', group.id, last.version);
    expect(scim.membersOf(remoteId)).toEqual([dan.remoteId, eve.remoteId].sort());
    const [pushed] = await db.query<{ n: string }>('select count(*) as n from replication_link_member where group_id = $1', [group.id]);
    expect(Number(pushed?.n)).toBe(2);
  }, 60_000);
});
