// Over 600 lines on purpose: one `describe.each` runs each journey of the engine (push, coalescing, order, retries,
// dead letters, circuit, scoping, groups, passwords, grace deletes, crash recovery, reconcile) on both BullMQ
// backends, sharing one harness per backend; wake-ups and member deltas have files of their own.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { ConnectorError, memoryTarget } from '@meridian/connector-sdk';
import {
  type DirectoryCaller,
  type DirectoryStore,
  type LinkStatus,
  principalOfRole,
  type ResourceKind,
  ResourceService,
  SCHEMA,
  systemClock,
} from '@meridian/core';
import { graceJobId } from '@meridian/replication';
import { Argon2PasswordHasher, PostgresDirectoryStore, PostgresPasswordForwarding } from '@meridian/store';
import { createTestDatabase, eventually, type TestDatabase } from '@meridian/test-utils';
import { contextOf, type ReplicationHarness, replicationHarness } from './harness.js';

/** A SCIM client of the tenant: the caller the core's ResourceService authorizes (scim.read, scim.write). */
const scimCaller = (tenantId: string): DirectoryCaller => ({ principal: principalOfRole('provisioner', { tenantId }), api: 'scim' });

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

const backends = [['postgres', undefined], ...(process.env.REDIS_URL ? [['redis', process.env.REDIS_URL]] : [])] as [
  string,
  string | undefined,
][];
// Without REDIS_URL only the PostgreSQL backend runs; the Redis runs are skipped, and the run says so.
if (!process.env.REDIS_URL) {
  console.warn("Skipped: 'replication on BullMQ redis' (REDIS_URL is not set; bash .ci/run sets it when a Redis server is installed).");
}

let names = 0;
const memoryName = (label: string) => `${label}-${process.pid}-${++names}-${Date.now()}`;

function user(userName: string, extra: Record<string, unknown> = {}) {
  return { schemas: [SCHEMA.user], userName, name: { givenName: 'Test', familyName: userName }, ...extra };
}

function patch(operations: Record<string, unknown>[]) {
  return { schemas: [SCHEMA.patchOp], Operations: operations };
}

describe.each(backends)('replication on BullMQ %s', (_backend, redisUrl) => {
  let h: ReplicationHarness;

  beforeAll(async () => {
    h = await replicationHarness(db, redisUrl);
    await h.engine.start();
  });
  afterEach(async () => {
    await h.cleanup();
  });
  afterAll(async () => {
    await h.close();
  });

  async function linkOf(targetId: string, kind: ResourceKind, id: string) {
    return h.store.getLink(targetId, kind, id);
  }

  /**
   * Waits until a scheduled grace deletion is no longer in the target's queue: removed when the person came back,
   * or run to its end (completed jobs are removed). After that no deletion of the resource can come.
   */
  async function untilGraceSettled(targetId: string, kind: ResourceKind, id: string) {
    await eventually(
      `the grace deletion of ${kind} ${id} to be gone`,
      async () => (await h.engine.ctx.queues.queue(targetId).getJob(graceJobId(kind, id))) === undefined,
      { timeoutMs: 20_000 },
    );
  }

  /** Waits until the target's queue holds no job that is waiting, delayed or running: nothing more will be pushed. */
  async function untilQueueIdle(targetId: string) {
    await eventually(
      `the queue of target ${targetId} to be idle`,
      async () => {
        const counts = await h.engine.ctx.queues.queue(targetId).getJobCounts('waiting', 'delayed', 'prioritized', 'active');
        return Object.values(counts).every((n) => n === 0);
      },
      { timeoutMs: 20_000 },
    );
  }

  async function untilStatus(targetId: string, kind: ResourceKind, id: string, status: LinkStatus, version?: number) {
    return eventually(
      `${kind} ${id} to be ${status}${version !== undefined ? ` at v${version}` : ''}`,
      async () => {
        const link = await linkOf(targetId, kind, id);
        return link?.status === status && (version === undefined || link.handledVersion >= version) ? link : undefined;
      },
      { timeoutMs: 20_000 },
    );
  }

  it('pushes a created user, then its updates, with the identity mapping', async () => {
    const tenantId = await h.tenant();
    const name = memoryName('basic');
    const target = await h.target(tenantId, name);
    const created = await h.resources.create(
      scimCaller(tenantId),
      tenantId,
      'User',
      user('ann@example.org', { title: 'Clerk' }),
      contextOf(),
    );
    const link = await untilStatus(target.id, 'User', created.id, 'synced', 1);
    const remote = memoryTarget(name).objects.get(link.remoteId as string);
    expect(remote?.attributes).toMatchObject({ userName: 'ann@example.org', externalId: created.id, title: 'Clerk' });

    const updated = await h.resources.patch(
      scimCaller(tenantId),
      tenantId,
      'User',
      created.id,
      patch([{ op: 'replace', path: 'title', value: 'Manager' }]),
      contextOf(),
    );
    await untilStatus(target.id, 'User', created.id, 'synced', updated.version);
    expect(memoryTarget(name).objects.get(link.remoteId as string)?.attributes.title).toBe('Manager');
    expect(memoryTarget(name).callsOf('create')).toHaveLength(1);
    expect(memoryTarget(name).callsOf('update')).toHaveLength(1);
    const [delivered] = await db.query<{ n: string }>(
      "select count(*) as n from audit_event where action = 'replication.delivered' and resource_id = $1",
      [created.id],
    );
    expect(Number(delivered?.n)).toBe(2);
    // A delivery is audited only: no outbox row for the relay to read and discard.
    const [relayed] = await db.query<{ n: string }>(
      "select count(*) as n from outbox_event where type like 'replication.%' and resource_id = $1",
      [created.id],
    );
    expect(Number(relayed?.n)).toBe(0);
  });

  it('coalesces a burst into one push of the latest state', async () => {
    const tenantId = await h.tenant();
    const name = memoryName('burst');
    const target = await h.target(tenantId, name, { paused: true });
    const created = await h.resources.create(scimCaller(tenantId), tenantId, 'User', user('burst@example.org'), contextOf());
    let last = created;
    for (let i = 1; i <= 20; i++) {
      last = await h.resources.patch(
        scimCaller(tenantId),
        tenantId,
        'User',
        created.id,
        patch([{ op: 'replace', path: 'displayName', value: `Burst ${i}` }]),
        contextOf(),
      );
    }
    await eventually('the relay', async () => (await linkOf(target.id, 'User', created.id))?.wantedVersion === last.version, {
      timeoutMs: 10_000,
    });
    const queue = h.engine.ctx.queues.queue(target.id);
    // One job for 21 changes (BullMQ on PostgreSQL keeps paused jobs in a state its counts leave out: list them).
    expect(await queue.getJobs()).toHaveLength(1);

    await h.engine.targets.resume(tenantId, target.id, contextOf());
    const link = await untilStatus(target.id, 'User', created.id, 'synced', last.version);
    expect(memoryTarget(name).callsOf('create')).toHaveLength(1);
    expect(memoryTarget(name).callsOf('update')).toHaveLength(0);
    expect(memoryTarget(name).objects.get(link.remoteId as string)?.attributes.displayName).toBe('Burst 20');
  });

  it('keeps order per resource: a delete after updates is never overtaken by an older update', async () => {
    const tenantId = await h.tenant();
    const name = memoryName('order');
    const target = await h.target(tenantId, name, { deleteMode: 'delete' });
    memoryTarget(name).delayMs = 30;
    const created = await h.resources.create(scimCaller(tenantId), tenantId, 'User', user('order@example.org'), contextOf());
    const link = await untilStatus(target.id, 'User', created.id, 'synced');
    for (let i = 0; i < 5; i++) {
      await h.resources.patch(
        scimCaller(tenantId),
        tenantId,
        'User',
        created.id,
        patch([{ op: 'replace', path: 'title', value: `T${i}` }]),
        contextOf(),
      );
    }
    await h.resources.delete(scimCaller(tenantId), tenantId, 'User', created.id, contextOf());
    await untilStatus(target.id, 'User', created.id, 'deleted');
    const calls = memoryTarget(name).calls.filter((c) => c.ok && c.remoteId === link.remoteId);
    expect(calls.at(-1)?.op).toBe('delete');
    expect(memoryTarget(name).objects.has(link.remoteId as string)).toBe(false);
    // Nothing re-created it afterwards.
    expect(memoryTarget(name).list('User')).toHaveLength(0);
  });

  it('retries transient failures with backoff, then delivers', async () => {
    const tenantId = await h.tenant();
    const name = memoryName('retry');
    const target = await h.target(tenantId, name);
    memoryTarget(name).inject({ op: 'create', times: 2, error: new ConnectorError('transient', 'Service Unavailable', { status: 503 }) });
    const created = await h.resources.create(scimCaller(tenantId), tenantId, 'User', user('retry@example.org'), contextOf());
    const link = await untilStatus(target.id, 'User', created.id, 'synced');
    expect(
      memoryTarget(name)
        .calls.filter((c) => c.op === 'create')
        .map((c) => c.ok),
    ).toEqual([false, false, true]);
    expect(link.attempts).toBe(0);
    expect(link.lastError).toBeNull();
  });

  it('honours Retry-After on rate limiting without spending attempts', async () => {
    const tenantId = await h.tenant();
    const name = memoryName('429');
    const target = await h.target(tenantId, name, { maxAttempts: 1 });
    memoryTarget(name).inject({
      op: 'create',
      error: new ConnectorError('rate_limited', 'Too Many Requests', { status: 429, retryAfterMs: 400 }),
    });
    const started = Date.now();
    const created = await h.resources.create(scimCaller(tenantId), tenantId, 'User', user('throttled@example.org'), contextOf());
    await untilStatus(target.id, 'User', created.id, 'synced');
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    expect(
      memoryTarget(name)
        .calls.filter((c) => c.op === 'create')
        .map((c) => c.ok),
    ).toEqual([false, true]);
  });

  it('dead-letters a permanent failure with request, response and reason; replay delivers the current state', async () => {
    const tenantId = await h.tenant();
    const name = memoryName('dead');
    const target = await h.target(tenantId, name);
    memoryTarget(name).inject({
      op: 'create',
      error: new ConnectorError('permanent', 'userName is not an email address', {
        status: 400,
        request: { method: 'POST', url: 'memory://Users', body: { userName: 'dead' } },
        response: { status: 400, body: { detail: 'userName is not an email address', scimType: 'invalidValue' } },
      }),
    });
    const created = await h.resources.create(scimCaller(tenantId), tenantId, 'User', user('dead'), contextOf());
    await untilStatus(target.id, 'User', created.id, 'dead_lettered');
    const [letter] = await h.engine.deadLetters(tenantId, { target: target.name });
    expect(letter).toMatchObject({
      targetId: target.id,
      kind: 'User',
      localId: created.id,
      operation: 'create',
      reason: 'userName is not an email address',
      errorCode: 'HTTP_400',
      request: { method: 'POST', url: 'memory://Users' },
      response: { status: 400, body: { scimType: 'invalidValue' } },
      replayedAt: null,
    });
    const counts = await h.engine.statusCounts(tenantId);
    expect(counts).toEqual([expect.objectContaining({ targetId: target.id, deadLettered: 1, delivered: 0 })]);

    const replayed = await h.engine.replay(tenantId, letter?.id as string, contextOf());
    expect(replayed.replayedAt).not.toBeNull();
    await untilStatus(target.id, 'User', created.id, 'synced');
    expect(await h.engine.deadLetters(tenantId)).toHaveLength(0);
    expect(await h.engine.deadLetters(tenantId, { includeReplayed: true })).toHaveLength(1);
    await expect(h.engine.replay(tenantId, letter?.id as string, contextOf())).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('gives up after the target’s attempts and dead-letters the last transient error', async () => {
    const tenantId = await h.tenant();
    const name = memoryName('exhaust');
    const target = await h.target(tenantId, name, { maxAttempts: 2 });
    memoryTarget(name).inject({ op: 'create', times: 2, error: new ConnectorError('transient', 'Bad Gateway', { status: 502 }) });
    const created = await h.resources.create(scimCaller(tenantId), tenantId, 'User', user('exhaust@example.org'), contextOf());
    await untilStatus(target.id, 'User', created.id, 'dead_lettered');
    const [letter] = await h.engine.deadLetters(tenantId);
    expect(letter?.reason).toBe('gave up after 2 attempts: Bad Gateway');
  });

  it('opens the circuit after consecutive failures, probes after the cool-down, and closes on success', async () => {
    const tenantId = await h.tenant();
    const name = memoryName('circuit');
    const target = await h.target(tenantId, name);
    memoryTarget(name).inject({ op: 'create', times: 4, error: new ConnectorError('transient', 'Service Unavailable', { status: 503 }) });
    const created = await h.resources.create(scimCaller(tenantId), tenantId, 'User', user('circuit@example.org'), contextOf());
    await eventually('the circuit to open', async () => (await h.store.getTarget(target.id))?.circuitState === 'open', {
      timeoutMs: 10_000,
    });
    expect(await h.engine.ctx.queues.queue(target.id).isPaused()).toBe(true);
    await untilStatus(target.id, 'User', created.id, 'synced');
    const after = await eventually(
      'the circuit to close',
      async () => {
        const t = await h.store.getTarget(target.id);
        return t?.circuitState === 'closed' ? t : undefined;
      },
      { timeoutMs: 15_000 },
    );
    expect(after.consecutiveFailures).toBe(0);
    await eventually('the queue to resume', async () => !(await h.engine.ctx.queues.queue(target.id).isPaused()), { timeoutMs: 5000 });
    expect(
      memoryTarget(name)
        .calls.filter((c) => c.op === 'create')
        .map((c) => c.ok),
    ).toEqual([false, false, false, false, true]);
  });

  it('pushes only what the scoping filter selects; a user leaving scope is deactivated', async () => {
    const tenantId = await h.tenant();
    const name = memoryName('scope');
    const target = await h.target(tenantId, name, { scoping: { User: 'department eq "Ops"', Group: false } });
    const ops = await h.resources.create(
      scimCaller(tenantId),
      tenantId,
      'User',
      user('ops@example.org', { [SCHEMA.enterpriseUser]: { department: 'Ops' } }),
      contextOf(),
    );
    const sales = await h.resources.create(
      scimCaller(tenantId),
      tenantId,
      'User',
      user('sales@example.org', { [SCHEMA.enterpriseUser]: { department: 'Sales' } }),
      contextOf(),
    );
    const group = await h.resources.create(
      scimCaller(tenantId),
      tenantId,
      'Group',
      { schemas: [SCHEMA.group], displayName: 'ops' },
      contextOf(),
    );
    const link = await untilStatus(target.id, 'User', ops.id, 'synced');
    await untilStatus(target.id, 'User', sales.id, 'out_of_scope');
    await untilStatus(target.id, 'Group', group.id, 'out_of_scope');
    expect(
      memoryTarget(name)
        .list('User')
        .map((o) => o.attributes.userName),
    ).toEqual(['ops@example.org']);
    expect(memoryTarget(name).list('Group')).toHaveLength(0);

    await h.resources.patch(
      scimCaller(tenantId),
      tenantId,
      'User',
      ops.id,
      patch([{ op: 'replace', path: `${SCHEMA.enterpriseUser}:department`, value: 'Sales' }]),
      contextOf(),
    );
    await untilStatus(target.id, 'User', ops.id, 'deactivated');
    expect(memoryTarget(name).objects.get(link.remoteId as string)?.attributes.active).toBe(false);
  });

  it('pushes group members by their remote ids and applies membership deltas', async () => {
    const tenantId = await h.tenant();
    const name = memoryName('groups');
    const target = await h.target(tenantId, name);
    const a = await h.resources.create(scimCaller(tenantId), tenantId, 'User', user('a@example.org'), contextOf());
    const b = await h.resources.create(scimCaller(tenantId), tenantId, 'User', user('b@example.org'), contextOf());
    const group = await h.resources.create(
      scimCaller(tenantId),
      tenantId,
      'Group',
      { schemas: [SCHEMA.group], displayName: 'team', members: [{ value: a.id }, { value: b.id }] },
      contextOf(),
    );
    const la = await untilStatus(target.id, 'User', a.id, 'synced');
    const lb = await untilStatus(target.id, 'User', b.id, 'synced');
    const lg = await eventually(
      'the group with its two members at the target',
      async () => {
        const link = await linkOf(target.id, 'Group', group.id);
        const pushed = link?.status === 'synced' ? await h.store.pushedMembers(tenantId, target.id, group.id) : [];
        return pushed.length === 2 ? link : undefined;
      },
      { timeoutMs: 15_000 },
    );
    expect([...(memoryTarget(name).objects.get(lg.remoteId as string)?.members ?? [])].sort()).toEqual([la.remoteId, lb.remoteId].sort());

    const changed = await h.resources.patch(
      scimCaller(tenantId),
      tenantId,
      'Group',
      group.id,
      patch([{ op: 'remove', path: `members[value eq "${b.id}"]` }]),
      contextOf(),
    );
    await untilStatus(target.id, 'Group', group.id, 'synced', changed.version);
    expect([...(memoryTarget(name).objects.get(lg.remoteId as string)?.members ?? [])]).toEqual([la.remoteId]);
  });

  it('delivers a password to a target that accepts it and erases it afterwards', async () => {
    const tenantId = await h.tenant();
    const name = memoryName('password');
    const target = await h.target(tenantId, name, { pushPasswords: true });
    const created = await h.resources.create(
      scimCaller(tenantId),
      tenantId,
      'User',
      user('pw@example.org', { password: 'Correct-Horse-9' }),
      contextOf(),
    );
    const [sealed] = await db.query<{ ciphertext: string }>('select ciphertext from pending_password where user_id = $1', [created.id]);
    // Only sealed at rest, and only until delivery.
    expect(sealed?.ciphertext).toMatch(/^v1:/);
    expect(sealed?.ciphertext).not.toContain('Correct-Horse-9');
    const link = await untilStatus(target.id, 'User', created.id, 'synced');
    expect(memoryTarget(name).objects.get(link.remoteId as string)?.password).toBe('Correct-Horse-9');
    expect(await db.query('select id from pending_password where user_id = $1', [created.id])).toHaveLength(0);
  });

  it('a pending password is written in the write transaction: a failed write leaves none', async () => {
    const tenantId = await h.tenant();
    await h.target(tenantId, memoryName('pw-atomic'), { pushPasswords: true });
    const directory = new PostgresDirectoryStore(db.orm, systemClock);
    // A store whose transaction fails after the password was handed over (at the outbox write).
    const failing: DirectoryStore = {
      transaction: (t, work) =>
        directory.transaction(t, (tx) =>
          work(
            new Proxy(tx, {
              get: (inner, key) => (key === 'record' ? () => Promise.reject(new Error('outbox down')) : Reflect.get(inner, key, inner)),
            }),
          ),
        ),
      get: (...args) => directory.get(...args),
      getMany: (...args) => directory.getMany(...args),
      list: (...args) => directory.list(...args),
      page: (...args) => directory.page(...args),
    };
    const resources = new ResourceService(
      failing,
      new Argon2PasswordHasher(),
      undefined,
      new PostgresPasswordForwarding(h.box, systemClock),
    );
    await expect(
      resources.create(scimCaller(tenantId), tenantId, 'User', user('atomic@example.org', { password: 'Correct-Horse-9' }), contextOf()),
    ).rejects.toThrow('outbox down');
    expect(await db.query('select id from pending_password where tenant_id = $1', [tenantId])).toHaveLength(0);
    expect(await db.query("select id from scim_user where user_name = 'atomic@example.org'")).toHaveLength(0);
  });

  it('keeps no password when no target takes passwords', async () => {
    const tenantId = await h.tenant();
    await h.target(tenantId, memoryName('nopw'));
    const created = await h.resources.create(
      scimCaller(tenantId),
      tenantId,
      'User',
      user('nopw@example.org', { password: 'Correct-Horse-9' }),
      contextOf(),
    );
    expect(await db.query('select id from pending_password where user_id = $1', [created.id])).toHaveLength(0);
  });

  it('grace delete: deactivates now, deletes after the grace period, and survives a restart of the workers', async () => {
    const tenantId = await h.tenant();
    const name = memoryName('grace');
    const target = await h.target(tenantId, name, { deleteMode: 'grace', graceSeconds: 1 });
    const created = await h.resources.create(scimCaller(tenantId), tenantId, 'User', user('leaver@example.org'), contextOf());
    const link = await untilStatus(target.id, 'User', created.id, 'synced');
    await h.resources.delete(scimCaller(tenantId), tenantId, 'User', created.id, contextOf());
    await untilStatus(target.id, 'User', created.id, 'grace');
    expect(memoryTarget(name).objects.get(link.remoteId as string)?.attributes.active).toBe(false);
    await h.engine.stop();
    await h.engine.start();
    await untilStatus(target.id, 'User', created.id, 'deleted');
    expect(memoryTarget(name).objects.has(link.remoteId as string)).toBe(false);
  });

  it('grace delete is cancelled when the person returns (re-created with the same userName)', async () => {
    const tenantId = await h.tenant();
    const name = memoryName('return');
    const target = await h.target(tenantId, name, { deleteMode: 'grace', graceSeconds: 2 });
    const first = await h.resources.create(scimCaller(tenantId), tenantId, 'User', user('back@example.org'), contextOf());
    const link = await untilStatus(target.id, 'User', first.id, 'synced');
    await h.resources.delete(scimCaller(tenantId), tenantId, 'User', first.id, contextOf());
    await untilStatus(target.id, 'User', first.id, 'grace');
    const again = await h.resources.create(scimCaller(tenantId), tenantId, 'User', user('back@example.org'), contextOf());
    const adopted = await untilStatus(target.id, 'User', again.id, 'synced');
    expect(adopted.remoteId).toBe(link.remoteId);
    expect((await linkOf(target.id, 'User', first.id))?.status).toBe('deleted');
    await untilGraceSettled(target.id, 'User', first.id);
    const remote = memoryTarget(name).objects.get(link.remoteId as string);
    expect(remote?.attributes).toMatchObject({ userName: 'back@example.org', active: true, externalId: again.id });
    expect(memoryTarget(name).callsOf('delete')).toHaveLength(0);
  });

  it('grace delete is cancelled when a user returns into scope', async () => {
    const tenantId = await h.tenant();
    const name = memoryName('rescope');
    const target = await h.target(tenantId, name, { deleteMode: 'grace', graceSeconds: 1, scoping: { User: 'active eq true' } });
    const created = await h.resources.create(
      scimCaller(tenantId),
      tenantId,
      'User',
      user('mover@example.org', { active: true }),
      contextOf(),
    );
    const link = await untilStatus(target.id, 'User', created.id, 'synced');
    await h.resources.patch(
      scimCaller(tenantId),
      tenantId,
      'User',
      created.id,
      patch([{ op: 'replace', path: 'active', value: false }]),
      contextOf(),
    );
    await untilStatus(target.id, 'User', created.id, 'grace');
    const back = await h.resources.patch(
      scimCaller(tenantId),
      tenantId,
      'User',
      created.id,
      patch([{ op: 'replace', path: 'active', value: true }]),
      contextOf(),
    );
    await untilStatus(target.id, 'User', created.id, 'synced', back.version);
    await untilGraceSettled(target.id, 'User', created.id);
    expect(memoryTarget(name).objects.get(link.remoteId as string)?.attributes.active).toBe(true);
    expect(memoryTarget(name).callsOf('delete')).toHaveLength(0);
  });

  it('waits for the deliveries of a request (Prefer: wait) and reports per target', async () => {
    const tenantId = await h.tenant();
    const fast = await h.target(tenantId, memoryName('wait-a'));
    const paused = await h.target(tenantId, memoryName('wait-b'), { paused: true });
    const context = contextOf();
    const created = await h.resources.create(scimCaller(tenantId), tenantId, 'User', user('wait@example.org'), context);
    const outcome = await h.engine.waitFor(tenantId, context.requestId, 1500);
    expect(outcome.complete).toBe(false);
    const byTarget = Object.fromEntries(outcome.outcomes.map((o) => [o.targetId, o]));
    expect(byTarget[fast.id]).toMatchObject({ status: 'synced', resourceId: created.id, version: 1 });
    expect(byTarget[paused.id]).toMatchObject({ status: 'pending' });
    await h.engine.targets.resume(tenantId, paused.id, contextOf());
    expect((await h.engine.waitFor(tenantId, context.requestId, 10_000)).complete).toBe(true);
  });

  it('a relay that crashes after enqueueing re-enqueues the events; nothing is pushed twice', async () => {
    await h.engine.relay.stop();
    try {
      const tenantId = await h.tenant();
      const name = memoryName('crash');
      const target = await h.target(tenantId, name);
      const created = await h.resources.create(scimCaller(tenantId), tenantId, 'User', user('crash@example.org'), contextOf());
      await expect(
        h.store.relay(
          500,
          async (jobs) => {
            for (const job of jobs) await h.engine.ctx.enqueue({ ...job }, `e${job.eventId}`);
            throw new Error('crash before the commit');
          },
          new Date(),
        ),
      ).rejects.toThrow('crash before the commit');
      const [pending] = await db.query<{ n: string }>(
        'select count(*) as n from outbox_event where resource_id = $1 and dispatched_at is null',
        [created.id],
      );
      expect(Number(pending?.n)).toBe(1);
      await h.engine.relay.drain();
      await untilStatus(target.id, 'User', created.id, 'synced');
      await untilQueueIdle(target.id);
      expect(memoryTarget(name).callsOf('create')).toHaveLength(1);
      expect(memoryTarget(name).list('User')).toHaveLength(1);
    } finally {
      h.engine.relay.start();
    }
  });

  it('finds a remote object a killed worker created but did not record, instead of leaving it behind', async () => {
    const tenantId = await h.tenant();
    const name = memoryName('unrecorded');
    const target = await h.target(tenantId, name, { deleteMode: 'delete', paused: true });
    const created = await h.resources.create(scimCaller(tenantId), tenantId, 'User', user('ghost@example.org'), contextOf());
    // What a worker killed between the target's 201 and the link update leaves: the intent, and the object.
    await h.store.saveLink(tenantId, target.id, 'User', created.id, {
      remoteId: null,
      status: 'pending',
      handledVersion: 0,
      pushedAttributes: { schemas: [SCHEMA.user], userName: 'ghost@example.org', externalId: created.id },
    });
    memoryTarget(name).objects.set('ghost-1', {
      id: 'ghost-1',
      kind: 'User',
      attributes: { userName: 'ghost@example.org', externalId: created.id },
      members: new Set(),
      password: undefined,
      version: 1,
    });
    await h.resources.delete(scimCaller(tenantId), tenantId, 'User', created.id, contextOf());
    await h.engine.targets.resume(tenantId, target.id, contextOf());
    await untilStatus(target.id, 'User', created.id, 'deleted');
    expect(memoryTarget(name).objects.has('ghost-1')).toBe(false);
    expect(memoryTarget(name).callsOf('create')).toHaveLength(0);
  });

  it('reconciles: reports drift per object in a dry run, then fixes it', async () => {
    const tenantId = await h.tenant();
    const name = memoryName('reconcile');
    const existing = await h.resources.create(scimCaller(tenantId), tenantId, 'User', user('early@example.org'), contextOf());
    await h.engine.relay.drain().catch(() => undefined);
    const target = await h.target(tenantId, name);
    const remote = memoryTarget(name);
    // An object the target already has (adopt), one it has that the hub does not (orphan).
    remote.objects.set('pre-1', {
      id: 'pre-1',
      kind: 'User',
      attributes: { userName: 'early@example.org' },
      members: new Set(),
      password: undefined,
      version: 1,
    });
    remote.objects.set('pre-2', {
      id: 'pre-2',
      kind: 'User',
      attributes: { userName: 'stranger@example.org' },
      members: new Set(),
      password: undefined,
      version: 1,
    });
    const plan = await h.engine.reconcile(tenantId, target.name, { dryRun: true });
    expect(plan.items).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ localId: existing.id, remoteId: 'pre-1', drift: 'unlinked', action: 'adopt' }),
        expect.objectContaining({ localId: null, remoteId: 'pre-2', drift: 'orphan', action: 'none' }),
      ]),
    );
    expect(remote.callsOf('update')).toHaveLength(0);

    const fixed = await h.engine.reconcile(tenantId, target.name, { dryRun: false });
    expect(fixed.fixed).toBe(1);
    expect((await linkOf(target.id, 'User', existing.id))?.remoteId).toBe('pre-1');
    expect(remote.objects.get('pre-1')?.attributes.externalId).toBe(existing.id);

    // Drift made at the target is found and undone.
    (remote.objects.get('pre-1') as { attributes: Record<string, unknown> }).attributes.name = { givenName: 'Changed', familyName: 'x' };
    const drift = await h.engine.reconcile(tenantId, target.name, { dryRun: true });
    expect(drift.items).toEqual([
      expect.objectContaining({
        localId: existing.id,
        drift: 'changed',
        differences: ['name.givenName', 'name.familyName'],
        action: 'update',
      }),
      expect.objectContaining({ drift: 'orphan' }),
    ]);
    await h.engine.reconcile(tenantId, target.name, { dryRun: false });
    expect(remote.objects.get('pre-1')?.attributes.name).toEqual({ givenName: 'Test', familyName: 'early@example.org' });
    expect((await h.engine.reconcile(tenantId, target.name, { dryRun: true })).items.map((i) => i.drift)).toEqual(['orphan']);
  });
});
