import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  AdminService,
  type DirectoryCaller,
  type Principal,
  principalOfRole,
  type ReplicationTargetWrite,
  type RequestContext,
  ResourceService,
  SCHEMA,
  systemClock,
} from '@meridian/core';
import {
  Argon2PasswordHasher,
  generateAuditSigningKey,
  PostgresAdminStore,
  PostgresAuditLog,
  PostgresDirectoryStore,
  PostgresReplicationStore,
  staticAuditKeyring,
} from '@meridian/store';
import { createTestDatabase, type TestDatabase } from '@meridian/test-utils';

// ADR 0035: a worker's batched link read and write are one statement each (meridian_replication_load and
// meridian_replication_save). They keep the rules of the transaction they replace: versions only grow, a final
// status over a link queued for a newer version stays pending, a field a write leaves out keeps its value, the
// delivery audit entries extend the tenant's chain, and a batch of create intents alone does not wait for the disk.

const scimCaller = (tenantId: string): DirectoryCaller => ({ principal: principalOfRole('provisioner', { tenantId }), api: 'scim' });
const context: RequestContext = { actor: { type: 'cli', id: 'test' }, requestId: 'req-batch', sourceAddress: '127.0.0.1' };
const platform: Principal = { kind: 'platform', tokenId: 'test', scopes: ['admin'] };

const targetWrite = (name: string): ReplicationTargetWrite => ({
  name,
  kind: 'memory',
  config: { target: name },
  secretNames: [],
  sealedSecrets: null,
  deleteMode: 'deactivate',
  graceSeconds: null,
  scoping: {},
  mapping: {},
  pushPasswords: false,
  enabled: true,
  paused: false,
  rateLimit: null,
  concurrency: 4,
  maxAttempts: 5,
});

describe('replication batch statements', () => {
  let db: TestDatabase;
  let admin: AdminService;
  let resources: ResourceService;
  let store: PostgresReplicationStore;
  let log: PostgresAuditLog;

  beforeAll(async () => {
    db = await createTestDatabase();
    admin = new AdminService(new PostgresAdminStore(db.orm, systemClock), systemClock);
    resources = new ResourceService(new PostgresDirectoryStore(db.orm, systemClock), new Argon2PasswordHasher());
    store = new PostgresReplicationStore(db.orm, systemClock);
    log = new PostgresAuditLog(db.orm, systemClock, { keyring: staticAuditKeyring(generateAuditSigningKey()) });
    await admin.createCommunity(platform, { slug: 'coi', name: 'CoI' }, context);
  });
  afterAll(() => db.close());

  async function tenantWithUser(slug: string) {
    const tenant = await admin.createTenant(platform, { slug, name: slug, community: 'coi' }, context);
    const user = await resources.create(
      scimCaller(tenant.id),
      tenant.id,
      'User',
      { schemas: [SCHEMA.user], userName: `ada@${slug}` },
      context,
    );
    const target = await store.createTarget(tenant.id, targetWrite(`to-${slug}`), context);
    return { tenantId: tenant.id, user, target };
  }

  it('loads the targets and links of a batch, and nothing of another tenant', async () => {
    const mine = await tenantWithUser('load-a');
    const theirs = await tenantWithUser('load-b');
    for (const t of [mine, theirs]) {
      await store.saveLinks(t.tenantId, [
        { targetId: t.target.id, kind: 'User', localId: t.user.id, update: { remoteId: 'r-1', status: 'synced', handledVersion: 1 } },
      ]);
    }
    const keys = [mine, theirs].map((t) => ({ targetId: t.target.id, kind: 'User' as const, localId: t.user.id }));
    const batch = await store.loadLinks(mine.tenantId, [...keys, { targetId: 'not-a-uuid', kind: 'User', localId: mine.user.id }]);
    expect(batch.targets.map((t) => [t.id, t.name, t.secretNames])).toEqual([[mine.target.id, 'to-load-a', []]]);
    expect(batch.targets[0]?.createdAt).toBeInstanceOf(Date);
    expect(batch.links).toEqual([
      expect.objectContaining({ targetId: mine.target.id, localId: mine.user.id, remoteId: 'r-1', status: 'synced', handledVersion: 1 }),
    ]);
    expect(batch.links[0]?.updatedAt).toBeInstanceOf(Date);
  });

  // ADR 0037: the jobs' Users come with their targets and links, as the directory's getMany answers them.
  it('loads the targets, links and Users of a batch in one statement, as getMany reads the Users, nothing of another tenant', async () => {
    const mine = await tenantWithUser('load-users-a');
    const theirs = await tenantWithUser('load-users-b');
    const staff = await resources.create(
      scimCaller(mine.tenantId),
      mine.tenantId,
      'Group',
      { schemas: [SCHEMA.group], displayName: 'staff', members: [{ value: mine.user.id }] },
      context,
    );
    const keys = [mine, theirs].map((t) => ({ targetId: t.target.id, kind: 'User' as const, localId: t.user.id }));
    const batch = await store.loadLinksWithUsers(mine.tenantId, keys, [mine.user.id, theirs.user.id, 'not-a-uuid']);
    expect(batch.targets.map((t) => t.id)).toEqual([mine.target.id]);
    const directory = new PostgresDirectoryStore(db.orm, systemClock);
    const read = await directory.getMany(mine.tenantId, 'User', [mine.user.id], { members: false, groups: true });
    expect(batch.users).toEqual(read);
    expect(batch.users[0]?.groups).toEqual([{ value: staff.id, display: 'staff', type: 'direct' }]);
  });

  it('writes outcomes by the rules of a link, appends the audit entries to the chain, and answers current versions', async () => {
    const { tenantId, user, target } = await tenantWithUser('save');
    const key = { targetId: target.id, kind: 'User' as const, localId: user.id };
    // The relay queued version 2 while a job pushed version 1.
    await store.markPending(tenantId, target.id, 'User', user.id, 2);
    const versions = await store.saveLinks(
      tenantId,
      [
        {
          ...key,
          update: {
            remoteId: 'r-9',
            status: 'synced',
            handledVersion: 1,
            pushedVersion: 1,
            pushedHash: 'h1',
            pushedAttributes: { userName: 'ada@save' },
            attempts: 0,
            lastError: null,
            requestId: 'req-1',
          },
          event: {
            type: 'replication.delivered',
            tenantId,
            resourceType: 'User',
            resourceId: user.id,
            version: 1,
            before: null,
            after: { targetId: target.id, target: target.name, operation: 'created', remoteId: 'r-9' },
          },
        },
      ],
      [key],
    );
    expect(versions.get(`${target.id}/User/${user.id}`)).toBe(user.version);
    let link = await store.getLink(target.id, 'User', user.id);
    expect(link).toMatchObject({ remoteId: 'r-9', status: 'pending', handledVersion: 1, pushedHash: 'h1', requestId: 'req-1' });
    expect(link?.pushedAttributes).toEqual({ userName: 'ada@save' });

    // A write that leaves fields out keeps them; versions never go back.
    await store.saveLinks(tenantId, [{ ...key, update: { remoteId: 'r-9', status: 'synced', handledVersion: 0, lastError: 'x' } }]);
    link = await store.getLink(target.id, 'User', user.id);
    expect(link).toMatchObject({ status: 'pending', handledVersion: 1, pushedHash: 'h1', lastError: 'x', requestId: 'req-1' });
    await store.saveLinks(tenantId, [{ ...key, update: { remoteId: 'r-9', status: 'synced', handledVersion: 'wanted' } }]);
    expect(await store.getLink(target.id, 'User', user.id)).toMatchObject({ status: 'synced', handledVersion: 2 });

    const [result] = await log.verify({ chain: tenantId });
    expect(result).toMatchObject({ chain: tenantId, ok: true });
  });

  // ADR 0037: a created user's groups come with its outcome instead of a read after the commit. A membership change
  // that held the tenant's audit chain lock when the outcome was written commits first and is in the answer.
  it("answers a created user's direct groups with its outcome, after a membership change holding the chain lock commits", async () => {
    const { tenantId, user, target } = await tenantWithUser('groups');
    const group = (displayName: string, members: { value: string }[]) =>
      resources.create(scimCaller(tenantId), tenantId, 'Group', { schemas: [SCHEMA.group], displayName, members }, context);
    const staff = await group('staff', [{ value: user.id }]);
    const late = await group('late', []);
    const key = { targetId: target.id, kind: 'User' as const, localId: user.id };
    const outcome = {
      ...key,
      update: { remoteId: 'r-g', status: 'synced' as const, handledVersion: user.version },
      event: {
        type: 'replication.delivered' as const,
        tenantId,
        resourceType: 'User' as const,
        resourceId: user.id,
        version: user.version,
        before: null,
        after: { targetId: target.id, target: target.name, operation: 'created', remoteId: 'r-g' },
      },
    };
    // A membership change under way: it holds the chain lock (as every audited change does) and has not committed.
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let locked: () => void = () => {};
    const lockTaken = new Promise<void>((resolve) => {
      locked = resolve;
    });
    const change = db.orm.em.fork().transactional(async (em) => {
      await em.execute("select set_config('meridian.tenant_id', ?, true)", [tenantId]);
      await em.execute("select pg_advisory_xact_lock(hashtextextended('audit:' || ?, 7))", [tenantId]);
      await em.execute(
        "insert into group_member (group_id, member_id, tenant_id, member_type, created_at) values (?, ?, ?, 'User', now())",
        [late.id, user.id, tenantId],
      );
      locked();
      await held;
    });
    await lockTaken;
    const saved = store.saveOutcomes(tenantId, [outcome], [key], [user.id]);
    // The outcome waits for the lock; the change commits; the answer includes it.
    await new Promise((resolve) => setTimeout(resolve, 50));
    release();
    await change;
    const { versions, groups } = await saved;
    expect(versions.get(`${target.id}/User/${user.id}`)).toBe(user.version);
    expect(groups.get(user.id)).toEqual([staff.id, late.id].sort());
    // The same through the transaction of a batch that writes a group's pushed members.
    const other = await tenantWithUser('groups-tx');
    const team = await resources.create(
      scimCaller(other.tenantId),
      other.tenantId,
      'Group',
      { schemas: [SCHEMA.group], displayName: 'team', members: [{ value: other.user.id }] },
      context,
    );
    const answer = await store.saveOutcomes(
      other.tenantId,
      [
        {
          targetId: other.target.id,
          kind: 'User',
          localId: other.user.id,
          update: { remoteId: 'r-u', status: 'synced', handledVersion: 1 },
        },
        {
          targetId: other.target.id,
          kind: 'Group',
          localId: team.id,
          update: { remoteId: 'r-t', status: 'synced', handledVersion: 1, pushedMembers: { all: [] } },
        },
      ],
      [],
      [other.user.id],
    );
    expect(answer.groups.get(other.user.id)).toEqual([team.id]);
    const [result] = await log.verify({ chain: tenantId });
    expect(result).toMatchObject({ chain: tenantId, ok: true });
  });

  it('commits a batch of create intents alone without waiting for the disk, and every other batch durably', async () => {
    const { tenantId, user, target } = await tenantWithUser('durable');
    const intent = { remoteId: null, status: 'pending' as const, handledVersion: 0, pushedAttributes: { userName: 'ada@durable' } };
    // Run in one transaction of our own so that the function's local setting can be read back before it ends.
    const settingAfter = async (durable: boolean) =>
      db.orm.em.fork().transactional(async (em) => {
        await em.execute(
          'select * from meridian_replication_save(?::uuid, now(), ?::jsonb, ?::jsonb, ?::uuid[], ?::uuid[], ?, ?::uuid[])',
          [
            tenantId,
            JSON.stringify([
              {
                target_id: target.id,
                kind: 'User',
                local_id: user.id,
                remote_id: null,
                status: 'pending',
                handled: 0,
                set_pushed_attributes: true,
                pushed_attributes: intent.pushedAttributes,
              },
            ]),
            '[]',
            '{}',
            '{}',
            durable,
            '{}',
          ],
        );
        const [row] = await em.execute<{ synchronous_commit: string }[]>('show synchronous_commit');
        return row?.synchronous_commit;
      });
    expect(await settingAfter(false)).toBe('off');
    expect(await settingAfter(true)).toBe('on');
    // Through the store: the intent is recorded either way.
    await store.saveLinks(tenantId, [{ targetId: target.id, kind: 'User', localId: user.id, update: intent }]);
    expect(await store.getLink(target.id, 'User', user.id)).toMatchObject({
      remoteId: null,
      status: 'pending',
      pushedAttributes: intent.pushedAttributes,
    });
  });
});
