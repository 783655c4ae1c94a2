import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { scimConnectorFactory } from '@meridian/connector-scim';
import type { ConnectorFactory } from '@meridian/connector-sdk';
import { type DirectoryCaller, type LinkStatus, principalOfRole, type ResourceKind, SCHEMA } from '@meridian/core';
import { OutboundHttp } from '@meridian/replication';
import { createTestDatabase, eventually, FakeScimTarget, type TestDatabase } from '@meridian/test-utils';
import { contextOf, type ReplicationHarness, replicationHarness } from './harness.js';

// A reconcile's apply must write to the target what its dry run found: an object deleted by hand at the target is
// created again, an attribute changed there is set back, a member removed there is added again. Its report counts an
// item as fixed only when the target was brought in line (docs/replication.md, Reconcile).

const scimCaller = (tenantId: string): DirectoryCaller => ({ principal: principalOfRole('provisioner', { tenantId }), api: 'scim' });

describe('reconcile apply writes to the target (SCIM over HTTP)', () => {
  let db: TestDatabase;
  let h: ReplicationHarness;
  let csp: FakeScimTarget;
  /** Set: the target answers 200 to a PATCH of this user and keeps it as it is (a write that does not take). */
  let ignoring: string | undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
    csp = await FakeScimTarget.start({
      token: 'csp-token',
      extension: ({ method, path }) =>
        method === 'PATCH' && ignoring !== undefined && path === `/Users/${ignoring}`
          ? { status: 200, body: { schemas: [SCHEMA.user], id: ignoring } }
          : undefined,
    });
    h = await replicationHarness(db, undefined, undefined, {
      factories: [scimConnectorFactory as ConnectorFactory<unknown>],
      outbound: new OutboundHttp({ allow: '127.0.0.1/32' }),
    });
    await h.engine.start();
  });
  afterEach(async () => {
    ignoring = undefined;
    await h.cleanup();
  });
  afterAll(async () => {
    await h.close();
    await h.engine.ctx.outbound.close();
    await csp.close();
    await db.close();
  });

  /** A change made by hand at the target, over its own SCIM API. */
  async function atTarget(method: 'DELETE' | 'PATCH', path: string, body?: unknown): Promise<void> {
    const reply = await fetch(`${csp.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${csp.token}`, 'content-type': 'application/scim+json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    expect(reply.status).toBeLessThan(300);
  }

  async function synced(targetId: string, kind: ResourceKind, id: string, status: LinkStatus = 'synced') {
    return eventually(
      `${kind} ${id} to be ${status}`,
      async () => {
        const link = await h.store.getLink(targetId, kind, id);
        return link?.status === status && link.remoteId ? link : undefined;
      },
      { timeoutMs: 20_000 },
    );
  }

  /** A tenant with a SCIM target holding one user (and, with `group`, a group listing it), every link synced. */
  async function setUp(name: string, group = false) {
    const tenantId = await h.tenant();
    const target = await h.engine.targets.create(
      tenantId,
      { name, kind: 'scim', config: { baseUrl: csp.url }, secrets: { token: csp.token } },
      contextOf(),
    );
    await h.engine.workers.refresh();
    const user = await h.resources.create(
      scimCaller(tenantId),
      tenantId,
      'User',
      { schemas: [SCHEMA.user], userName: `grace@${name}.example`, displayName: 'Grace Hopper' },
      contextOf(),
    );
    const userLink = await synced(target.id, 'User', user.id);
    let groupRemoteId: string | undefined;
    let groupId: string | undefined;
    if (group) {
      const created = await h.resources.create(
        scimCaller(tenantId),
        tenantId,
        'Group',
        { schemas: [SCHEMA.group], displayName: `Staff ${name}`, members: [{ value: user.id, type: 'User' }] },
        contextOf(),
      );
      groupId = created.id;
      groupRemoteId = (await synced(target.id, 'Group', created.id)).remoteId ?? undefined;
      await eventually('the member at the target', () => csp.membersOf(groupRemoteId as string).includes(userLink.remoteId as string));
    }
    return { tenantId, target, user, userRemoteId: userLink.remoteId as string, groupId, groupRemoteId };
  }

  it('creates again a linked user deleted at the target', async () => {
    const { tenantId, target, user, userRemoteId } = await setUp('deleted');
    await atTarget('DELETE', `/Users/${userRemoteId}`);
    expect(csp.users.some((u) => u.userName === 'grace@deleted.example')).toBe(false);

    const plan = await h.engine.reconcile(tenantId, target.name, { dryRun: true });
    expect(plan.items).toContainEqual(expect.objectContaining({ localId: user.id, drift: 'missing', action: 'create' }));

    const applied = await h.engine.reconcile(tenantId, target.name, { dryRun: false });
    expect(applied.items).toContainEqual(expect.objectContaining({ localId: user.id, drift: 'missing', applied: true }));
    expect(applied.fixed).toBe(1);
    expect(applied.failed).toBe(0);
    const again = csp.users.find((u) => u.userName === 'grace@deleted.example');
    expect(again).toEqual(expect.objectContaining({ externalId: user.id, displayName: 'Grace Hopper' }));
    expect((await h.store.getLink(target.id, 'User', user.id))?.remoteId).toBe(again?.id);
    const after = await h.engine.reconcile(tenantId, target.name, { dryRun: true });
    expect(after.items.filter((i) => i.localId === user.id)).toEqual([]);
  });

  it("sets back a linked user's displayName changed at the target", async () => {
    const { tenantId, target, user, userRemoteId } = await setUp('renamed');
    await atTarget('PATCH', `/Users/${userRemoteId}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', path: 'displayName', value: 'Changed By Hand' }],
    });

    const plan = await h.engine.reconcile(tenantId, target.name, { dryRun: true });
    expect(plan.items).toContainEqual(
      expect.objectContaining({ localId: user.id, drift: 'changed', differences: ['displayName'], action: 'update' }),
    );

    const applied = await h.engine.reconcile(tenantId, target.name, { dryRun: false });
    expect(applied.items).toContainEqual(expect.objectContaining({ localId: user.id, applied: true }));
    expect(applied.fixed).toBe(1);
    expect(csp.users.find((u) => u.id === userRemoteId)?.displayName).toBe('Grace Hopper');
    const after = await h.engine.reconcile(tenantId, target.name, { dryRun: true });
    expect(after.items.filter((i) => i.localId === user.id)).toEqual([]);
  });

  it('adds again a group member removed at the target', async () => {
    const { tenantId, target, groupId, groupRemoteId, userRemoteId } = await setUp('member', true);
    await atTarget('PATCH', `/Groups/${groupRemoteId}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'remove', path: `members[value eq "${userRemoteId}"]` }],
    });
    expect(csp.membersOf(groupRemoteId as string)).toEqual([]);

    const plan = await h.engine.reconcile(tenantId, target.name, { dryRun: true });
    expect(plan.items).toContainEqual(
      expect.objectContaining({ localId: groupId, drift: 'changed', differences: ['members'], action: 'update' }),
    );

    const applied = await h.engine.reconcile(tenantId, target.name, { dryRun: false });
    expect(applied.items).toContainEqual(expect.objectContaining({ localId: groupId, applied: true }));
    expect(applied.fixed).toBe(1);
    expect(csp.membersOf(groupRemoteId as string)).toEqual([userRemoteId]);
    const after = await h.engine.reconcile(tenantId, target.name, { dryRun: true });
    expect(after.items.filter((i) => i.localId === groupId)).toEqual([]);
  });

  it('does not count as fixed a fix the target did not take: the item fails and says why', async () => {
    const { tenantId, target, user, userRemoteId } = await setUp('stubborn');
    await atTarget('PATCH', `/Users/${userRemoteId}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', path: 'displayName', value: 'Changed By Hand' }],
    });
    ignoring = userRemoteId;

    const applied = await h.engine.reconcile(tenantId, target.name, { dryRun: false });
    expect(applied.items).toContainEqual(
      expect.objectContaining({
        localId: user.id,
        drift: 'changed',
        applied: false,
        error: 'the target still differs after the fix (changed: displayName)',
      }),
    );
    expect(applied.fixed).toBe(0);
    expect(applied.failed).toBe(1);
    expect(csp.users.find((u) => u.id === userRemoteId)?.displayName).toBe('Changed By Hand');
  });
});
