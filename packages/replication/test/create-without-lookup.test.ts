import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { scimConnectorFactory } from '@meridian/connector-scim';
import type { ConnectorFactory } from '@meridian/connector-sdk';
import { type DirectoryCaller, type LinkStatus, principalOfRole, type ResourceKind, SCHEMA } from '@meridian/core';
import { OutboundHttp } from '@meridian/replication';
import { createTestDatabase, eventually, FakeScimTarget, type TestDatabase } from '@meridian/test-utils';
import { contextOf, type ReplicationHarness, replicationHarness } from './harness.js';

// ADR 0035: a first push of a User to a SCIM target posts it without looking it up first (the target answers a
// duplicate userName with 409, RFC 7644 §3.3, and only then is it looked up and adopted); a Group, a retry after a
// create that may have happened (a create intent on record) and a reconcile still look first.

const scimCaller = (tenantId: string): DirectoryCaller => ({ principal: principalOfRole('provisioner', { tenantId }), api: 'scim' });

describe('a first push without a look-up (SCIM target)', () => {
  let db: TestDatabase;
  let h: ReplicationHarness;
  let csp: FakeScimTarget;

  beforeAll(async () => {
    db = await createTestDatabase();
    csp = await FakeScimTarget.start({ token: 'csp-token' });
    h = await replicationHarness(db, undefined, undefined, {
      factories: [scimConnectorFactory as ConnectorFactory<unknown>],
      outbound: new OutboundHttp({ allow: '127.0.0.1/32' }),
    });
    await h.engine.start();
  });
  afterEach(async () => {
    await h.cleanup();
  });
  afterAll(async () => {
    await h.close();
    await h.engine.ctx.outbound.close();
    await csp.close();
    await db.close();
  });

  async function scimTarget(tenantId: string, name: string, extra: { paused?: boolean } = {}) {
    const created = await h.engine.targets.create(
      tenantId,
      { name, kind: 'scim', config: { baseUrl: csp.url }, secrets: { token: 'csp-token' }, ...extra },
      contextOf(),
    );
    await h.engine.workers.refresh();
    return created;
  }

  async function untilStatus(targetId: string, kind: ResourceKind, id: string, status: LinkStatus) {
    return eventually(
      `${kind} ${id} to be ${status}`,
      async () => {
        const link = await h.store.getLink(targetId, kind, id);
        return link?.status === status ? link : undefined;
      },
      { timeoutMs: 20_000 },
    );
  }

  /** The requests the target got about one hub resource: look-ups naming it, and writes carrying it. */
  const requestsAbout = (localId: string, userName: string) =>
    csp.requests
      .filter((r) =>
        r.method === 'GET'
          ? (r.query.filter ?? '').includes(localId) || (r.query.filter ?? '').includes(userName)
          : JSON.stringify(r.body ?? '').includes(localId),
      )
      .map((r) => `${r.method} ${r.path.replace(/\/[^/]+$/, (tail) => (tail === '/Users' || tail === '/Groups' ? tail : '/{id}'))}`);

  it('posts a new User at once: one request, no look-up', async () => {
    const tenantId = await h.tenant();
    const target = await scimTarget(tenantId, 'direct');
    const user = await h.resources.create(
      scimCaller(tenantId),
      tenantId,
      'User',
      { schemas: [SCHEMA.user], userName: 'ada@direct.example' },
      contextOf(),
    );
    const link = await untilStatus(target.id, 'User', user.id, 'synced');
    expect(requestsAbout(user.id, 'ada@direct.example')).toEqual(['POST /Users']);
    expect(csp.users.filter((u) => u.userName === 'ada@direct.example')).toEqual([expect.objectContaining({ id: link.remoteId })]);
  });

  it('adopts the account a target already holds under the userName after its 409, never a second one', async () => {
    const tenantId = await h.tenant();
    const existing = csp.seed('User', { schemas: [SCHEMA.user], userName: 'bob@direct.example', externalId: 'from-elsewhere' });
    const target = await scimTarget(tenantId, 'adopting');
    const user = await h.resources.create(
      scimCaller(tenantId),
      tenantId,
      'User',
      { schemas: [SCHEMA.user], userName: 'bob@direct.example' },
      contextOf(),
    );
    const link = await untilStatus(target.id, 'User', user.id, 'synced');
    expect(link.remoteId).toBe(existing.id);
    expect(csp.users.filter((u) => u.userName === 'bob@direct.example')).toHaveLength(1);
    expect(csp.requestsTo('POST', '/Users').filter((r) => JSON.stringify(r.body).includes(user.id))).toEqual([
      expect.objectContaining({ status: 409 }),
    ]);
  });

  it('looks a Group up before creating it (a displayName need not be unique)', async () => {
    const tenantId = await h.tenant();
    const target = await scimTarget(tenantId, 'groups');
    const group = await h.resources.create(
      scimCaller(tenantId),
      tenantId,
      'Group',
      { schemas: [SCHEMA.group], displayName: 'Direct Staff' },
      contextOf(),
    );
    await untilStatus(target.id, 'Group', group.id, 'synced');
    expect(requestsAbout(group.id, 'Direct Staff')).toEqual(['GET /Groups', 'POST /Groups']);
  });

  it('looks first when an earlier attempt may have created the object (a create intent on record) and adopts it', async () => {
    const tenantId = await h.tenant();
    const target = await scimTarget(tenantId, 'intent', { paused: true });
    const user = await h.resources.create(
      scimCaller(tenantId),
      tenantId,
      'User',
      { schemas: [SCHEMA.user], userName: 'cy@direct.example' },
      contextOf(),
    );
    // What a worker killed after the target's create leaves: the intent, and the object (renamed there since).
    await h.store.saveLink(tenantId, target.id, 'User', user.id, {
      remoteId: null,
      status: 'pending',
      handledVersion: 0,
      pushedAttributes: { userName: 'cy@direct.example', externalId: user.id },
    });
    const made = csp.seed('User', { schemas: [SCHEMA.user], userName: 'cy-renamed@direct.example', externalId: user.id });
    await h.engine.targets.resume(tenantId, target.id, contextOf());
    const link = await untilStatus(target.id, 'User', user.id, 'synced');
    expect(link.remoteId).toBe(made.id);
    expect(csp.users.filter((u) => u.externalId === user.id)).toHaveLength(1);
    expect(requestsAbout(user.id, 'cy@direct.example')[0]).toBe('GET /Users');
  });

  it('looks first in a reconcile, adopting an account known only by its externalId', async () => {
    const tenantId = await h.tenant();
    const target = await scimTarget(tenantId, 'reconciled', { paused: true });
    const user = await h.resources.create(
      scimCaller(tenantId),
      tenantId,
      'User',
      { schemas: [SCHEMA.user], userName: 'dee@direct.example' },
      contextOf(),
    );
    const made = csp.seed('User', { schemas: [SCHEMA.user], userName: 'dee-old@direct.example', externalId: user.id });
    await h.engine.reconcile(tenantId, target.name, { dryRun: false });
    const link = await untilStatus(target.id, 'User', user.id, 'synced');
    expect(link.remoteId).toBe(made.id);
    expect(csp.users.filter((u) => u.externalId === user.id)).toHaveLength(1);
  });
});
