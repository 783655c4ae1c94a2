import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MeridianError, type ResourceService, SCHEMA, systemClock } from '@meridian/core';
import { generateAuditSigningKey, PostgresAuditLog, type PostgresDirectoryStore, staticAuditKeyring } from '@meridian/store';
import type { TestDatabase } from '@meridian/test-utils';
import { communityFixture, scimCaller, testContext } from './community-fixture.js';

// ADR 0039: an update of a User reads it without a lock and writes it, with its event and audit entry, in one
// statement that touches the row only at the version read. A User that changed in between makes the store do the
// work again from a new read. These tests make it change in between, and check that no update is lost, that the
// event and audit entry of a refused statement are gone with it, and that the chain still verifies.

const context = testContext('req-optimistic');
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

let db: TestDatabase;
let store: PostgresDirectoryStore;
let resources: ResourceService;
let log: PostgresAuditLog;
let tenantId: string;

beforeAll(async () => {
  const fixture = await communityFixture(['emea'], context);
  ({ db, directory: store, resources } = fixture);
  tenantId = fixture.tenants.emea as string;
  log = new PostgresAuditLog(db.orm, systemClock, { keyring: staticAuditKeyring(generateAuditSigningKey()) });
});

afterAll(() => db.close());

async function newUser(userName: string): Promise<string> {
  const user = await resources.create(scimCaller(tenantId), tenantId, 'User', { schemas: [SCHEMA.user], userName }, context);
  return user.id;
}

/** What the database holds of the User: its version, and the versions its update events and audit entries carry. */
async function trail(id: string) {
  const [row] = await db.query<{ version: number; title: string | null }>(
    `select version, attributes ->> 'title' as title from scim_user where id = $1`,
    [id],
  );
  const outbox = await db.query<{ v: number }>(
    `select resource_version as v from outbox_event where resource_id = $1 and type <> 'user.created' order by v`,
    [id],
  );
  const audit = await db.query<{ action: string }>(`select action from audit_event where resource_id = $1 and action <> 'user.created'`, [
    id,
  ]);
  return { version: row?.version, title: row?.title, events: outbox.map((r) => Number(r.v)), audits: audit.length };
}

describe('an update of a User read without a lock', () => {
  it('that lost a race is done again from a new read: the other change stays, and one event and entry per write', async () => {
    const id = await newUser('race@example.org');
    let runs = 0;
    const updated = await store.transaction(tenantId, async (tx) => {
      runs++;
      const current = await tx.find('User', id, { members: false, groups: false });
      if (!current) throw new Error('gone');
      // Another writer gets in between the read and the write, once.
      if (runs === 1)
        await db.query(`update scim_user set version = version + 1, attributes = attributes || '{"nickName":"Other"}' where id = $1`, [id]);
      const values = { externalId: current.externalId, attributes: { ...current.attributes, title: 'Engineer' }, extensionSchemas: [] };
      const written = await tx.update('User', id, current.version, values);
      await tx.record(
        { type: 'user.updated', tenantId, resourceType: 'User', resourceId: id, version: written.version, before: null, after: null },
        context,
      );
      return written;
    });
    expect(runs).toBe(2);
    expect(updated.version).toBe(3);
    expect(updated.attributes).toMatchObject({ title: 'Engineer', nickName: 'Other' });
    expect(await trail(id)).toEqual({ version: 3, title: 'Engineer', events: [3], audits: 1 });
  });

  it('that keeps losing is done the last time with the row locked from the start', async () => {
    const id = await newUser('busy@example.org');
    let runs = 0;
    await store.transaction(tenantId, async (tx) => {
      runs++;
      const current = await tx.find('User', id, { members: false, groups: false });
      if (!current) throw new Error('gone');
      // A writer between every unlocked read and its write; under the lock of the last run it would wait, so not then.
      if (runs < 3) await db.query('update scim_user set version = version + 1 where id = $1', [id]);
      await tx.update('User', id, current.version, {
        externalId: undefined,
        attributes: { ...current.attributes, title: `t${runs}` },
        extensionSchemas: [],
      });
      await tx.record({ type: 'user.updated', tenantId, resourceType: 'User', resourceId: id, before: null, after: null }, context);
    });
    expect(runs).toBe(3);
    expect(await trail(id)).toMatchObject({ version: 4, title: 't3', audits: 1 });
  });

  it('refuses a stale If-Match with 412 and writes nothing', async () => {
    const id = await newUser('ifmatch@example.org');
    const patch = { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'title', value: 'First' }] };
    await resources.patch(scimCaller(tenantId), tenantId, 'User', id, patch, context);
    const stale = resources.patch(
      scimCaller(tenantId),
      tenantId,
      'User',
      id,
      { ...patch, Operations: [{ op: 'replace', path: 'title', value: 'Late' }] },
      context,
      {
        ifMatchVersion: 1,
      },
    );
    await expect(stale).rejects.toMatchObject({ code: 'PRECONDITION_FAILED' });
    expect(await trail(id)).toMatchObject({ version: 2, title: 'First', audits: 1 });
  });

  it('loses none of 16 concurrent PATCHes of one User, and the audit chain verifies', async () => {
    const id = await newUser('crowd@example.org');
    const adds = Array.from({ length: 16 }, (_, i) =>
      resources.patch(
        scimCaller(tenantId),
        tenantId,
        'User',
        id,
        { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'emails', value: [{ value: `m${i}@example.org`, type: 'other' }] }] },
        { ...context, requestId: `crowd-${i}` },
      ),
    );
    const answers = await Promise.allSettled(adds);
    expect(answers.filter((a) => a.status === 'rejected')).toEqual([]);
    const user = await resources.get(scimCaller(tenantId), tenantId, 'User', id);
    const emails = (user.attributes.emails as { value: string }[]).map((e) => e.value).sort();
    expect(emails).toEqual(Array.from({ length: 16 }, (_, i) => `m${i}@example.org`).sort());
    const t = await trail(id);
    expect(t.version).toBe(17);
    expect(t.events).toEqual(Array.from({ length: 16 }, (_, i) => i + 2));
    expect(t.audits).toBe(16);
    const [verified] = await log.verify({ chain: tenantId });
    expect(verified).toMatchObject({ ok: true });
  });

  it('a delete after the read checks the version under the lock', async () => {
    const id = await newUser('leaver@example.org');
    let runs = 0;
    await store.transaction(tenantId, async (tx) => {
      runs++;
      const current = await tx.find('User', id, { members: false, groups: false });
      if (!current) throw new MeridianError('NOT_FOUND', 'gone');
      if (runs === 1) await db.query('update scim_user set version = version + 1 where id = $1', [id]);
      await tx.remove('User', id);
      await tx.record(
        { type: 'user.deleted', tenantId, resourceType: 'User', resourceId: id, version: current.version, before: null, after: null },
        context,
      );
    });
    expect(runs).toBe(2);
    const audits = await db.query<{ version: number }>(
      `select (diff -> 'after') as after from audit_event where resource_id = $1 and action = 'user.deleted'`,
      [id],
    );
    expect(audits).toHaveLength(1);
    expect(await db.query('select 1 from scim_user where id = $1', [id])).toEqual([]);
  });

  it("deletes of a group's members while the group's members are replaced: no deadlock, no member left, the chain verifies", async () => {
    const ids = await Promise.all(Array.from({ length: 8 }, (_, i) => newUser(`member-${i}@example.org`)));
    const members = ids.map((value) => ({ value }));
    const group = await resources.create(
      scimCaller(tenantId),
      tenantId,
      'Group',
      { schemas: [SCHEMA.group], displayName: 'Leavers', members },
      context,
    );
    // Each delete is the read and one statement that drops the memberships first (ADR 0039); each replace rewrites
    // every membership row, in the other order of locks were the memberships dropped after the User's row.
    const deletes = ids.map((id, i) =>
      resources.delete(scimCaller(tenantId), tenantId, 'User', id, { ...context, requestId: `leave-${i}` }),
    );
    const replaces = Array.from({ length: 4 }, (_, i) =>
      resources.replace(
        scimCaller(tenantId),
        tenantId,
        'Group',
        group.id,
        { schemas: [SCHEMA.group], displayName: 'Leavers', members },
        { ...context, requestId: `replace-${i}` },
      ),
    );
    const deleted = await Promise.allSettled(deletes);
    expect(deleted.filter((d) => d.status === 'rejected')).toEqual([]);
    for (const replaced of await Promise.allSettled(replaces)) {
      // A replace that names a member deleted before it is refused as such; nothing else may fail.
      if (replaced.status === 'rejected') expect(replaced.reason).toBeInstanceOf(MeridianError);
    }
    expect(await db.query('select member_id from group_member where group_id = $1', [group.id])).toEqual([]);
    expect(await db.query('select id from scim_user where id = any($1::uuid[])', [ids])).toEqual([]);
    const [verified] = await log.verify({ chain: tenantId });
    expect(verified).toMatchObject({ ok: true });
  });
});
