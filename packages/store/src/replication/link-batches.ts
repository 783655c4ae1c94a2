import type { LinkKey, LinkUpdate, LinkWrite, ReplicationLink, ResourceKind } from '@meridian/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { auditEvent } from '../events/event-recorder.js';
import { pgArray } from '../orm/sql.js';
import { type LinkRow, toLink, UUID } from './replication-rows.js';

/**
 * The links of replication's workers, written a batch of jobs at a time
 * (ADR 0024) in one transaction: the batches that carry a group's pushed
 * members. The others, and the batched reads, are one statement each
 * (link-statements.ts, ADR 0035).
 */

const TABLE: Record<ResourceKind, string> = { User: 'scim_user', Group: 'scim_group' };

/** A group's member as pushed (core's `PushedMember`). */
export type PushedMember = NonNullable<NonNullable<LinkUpdate['pushedMembers']>['all']>[number];

/** The key of a link in the maps below. */
function linkKey(key: LinkKey): string {
  return `${key.targetId}/${key.kind}/${key.localId}`;
}

/**
 * Records the outcomes of a batch of jobs of one tenant, in the caller's
 * transaction: the links in key order (two batches touching the same links
 * lock them in the same order), then the delivery audit entries, then the
 * current versions of `versionsOf` (by `linkKey`; a deleted resource is absent),
 * and the direct groups of the users in `groupsOf` under the tenant's audit
 * chain lock (ADR 0037).
 */
export async function saveLinks(
  em: EntityManager,
  now: Date,
  tenantId: string,
  writes: readonly LinkWrite[],
  versionsOf: readonly LinkKey[],
  groupsOf: readonly string[] = [],
): Promise<{ versions: Map<string, number>; groups: Map<string, string[]> }> {
  const ordered = [...writes].sort((a, b) => (linkKey(a) < linkKey(b) ? -1 : linkKey(a) > linkKey(b) ? 1 : 0));
  for (const write of ordered) await writeLink(em, now, tenantId, write, write.update);
  for (const write of writes) {
    if (!write.event) continue;
    // The delivery's audit entry, without an outbox row: nothing after the commit acts on it.
    await auditEvent(
      em,
      write.event,
      { actor: { type: 'system', id: 'replication' }, requestId: write.update.requestId ?? `replication-${write.targetId}` },
      now,
    );
  }
  const versions = new Map<string, number>();
  for (const kind of ['User', 'Group'] as const) {
    const wanted = versionsOf.filter((k) => k.kind === kind && UUID.test(k.localId));
    if (wanted.length === 0) continue;
    const rows = await em.execute<{ id: string; version: number }[]>(
      `select id, version from ${TABLE[kind]} where tenant_id = ? and id = any(?::uuid[])`,
      [tenantId, pgArray([...new Set(wanted.map((k) => k.localId))])],
    );
    const byId = new Map(rows.map((r) => [r.id, Number(r.version)]));
    for (const key of wanted) {
      const version = byId.get(key.localId);
      if (version !== undefined) versions.set(linkKey(key), version);
    }
  }
  const groups = new Map<string, string[]>();
  const users = [...new Set(groupsOf.filter((id) => UUID.test(id)))];
  if (users.length > 0) {
    // Under the tenant's audit chain lock, held until the commit (as in meridian_replication_save, ADR 0037).
    await em.execute("select pg_advisory_xact_lock(hashtextextended('audit:' || ?, 7))", [tenantId]);
    const rows = await em.execute<{ id: string; groups: string[] }[]>(
      `select u.id, array(select gm.group_id from group_member gm where gm.tenant_id = u.tenant_id and gm.member_id = u.id
                          order by gm.group_id) as groups
       from scim_user u where u.tenant_id = ? and u.id = any(?::uuid[])`,
      [tenantId, pgArray(users)],
    );
    for (const row of rows) groups.set(row.id, row.groups ?? []);
  }
  return { versions, groups };
}

/**
 * Upserts one link with what a job found. Versions only grow; a final status
 * over a link the relay has since queued a newer version for stays `pending`.
 */
export async function writeLink(
  em: EntityManager,
  now: Date,
  tenantId: string,
  key: LinkKey,
  update: LinkUpdate,
): Promise<ReplicationLink> {
  const { targetId, kind, localId } = key;
  const set = (column: string, present: boolean) => (present ? `excluded.${column}` : `replication_link.${column}`);
  const handled = update.handledVersion === 'wanted' ? null : update.handledVersion;
  const [row] = await em.execute<LinkRow[]>(
    `insert into replication_link (target_id, tenant_id, resource_kind, local_id, remote_id, status, wanted_version, handled_version,
       pushed_version, pushed_hash, pushed_attributes, attempts, last_error, grace_until, request_id, updated_at)
     values (?, ?, ?, ?, ?, ?, coalesce(?, 0), coalesce(?, 0), ?, ?, ?, ?, ?, ?, ?, ?)
     on conflict (target_id, resource_kind, local_id) do update set
       remote_id = excluded.remote_id,
       handled_version = greatest(replication_link.handled_version, ${handled === null ? 'replication_link.wanted_version' : 'excluded.handled_version'}),
       status = case
         when excluded.status in ('synced', 'out_of_scope', 'deactivated', 'grace', 'deleted')
           and replication_link.wanted_version > greatest(replication_link.handled_version, ${handled === null ? 'replication_link.wanted_version' : 'excluded.handled_version'})
         then 'pending' else excluded.status end,
       pushed_version = ${set('pushed_version', update.pushedVersion !== undefined)},
       pushed_hash = ${set('pushed_hash', update.pushedHash !== undefined)},
       pushed_attributes = ${set('pushed_attributes', update.pushedAttributes !== undefined)},
       attempts = ${set('attempts', update.attempts !== undefined)},
       last_error = ${set('last_error', update.lastError !== undefined)},
       grace_until = ${set('grace_until', update.graceUntil !== undefined)},
       request_id = ${set('request_id', update.requestId !== undefined)},
       updated_at = excluded.updated_at
     returning *`,
    [
      targetId,
      tenantId,
      kind,
      localId,
      update.remoteId,
      update.status,
      handled,
      handled,
      update.pushedVersion ?? null,
      update.pushedHash ?? null,
      update.pushedAttributes === undefined || update.pushedAttributes === null ? null : JSON.stringify(update.pushedAttributes),
      update.attempts ?? 0,
      update.lastError ?? null,
      update.graceUntil ?? null,
      update.requestId ?? null,
      now,
    ],
  );
  if (!row) throw new TypeError('An upserted link must be returned.');
  if (update.pushedMembers && kind === 'Group') await writePushedMembers(em, tenantId, targetId, localId, update.pushedMembers);
  return toLink(row);
}

/**
 * Records a group's member list as pushed, in one statement: `all` replaces
 * it (the rows not in it go, its rows are upserted), otherwise `remove` and
 * `add` touch only the rows they name, so a delta costs what it changes.
 */
async function writePushedMembers(
  em: EntityManager,
  tenantId: string,
  targetId: string,
  groupId: string,
  change: NonNullable<LinkUpdate['pushedMembers']>,
): Promise<void> {
  const add = change.all ?? change.add ?? [];
  const gone = change.all
    ? { where: 'remote_id <> all(?::text[])', ids: change.all.map((m) => m.remoteId) }
    : { where: 'remote_id = any(?::text[])', ids: (change.remove ?? []).filter((id) => !add.some((m) => m.remoteId === id)) };
  if (add.length === 0 && gone.ids.length === 0 && !change.all) return;
  await em.execute(
    `with gone as (delete from replication_link_member where target_id = ? and group_id = ? and ${gone.where})
     insert into replication_link_member (tenant_id, target_id, group_id, remote_id, member_kind, member_id)
     select ?, ?, ?, m.remote_id, nullif(m.kind, ''), nullif(m.member_id, '')::uuid
     from unnest(?::text[], ?::text[], ?::text[]) as m(remote_id, kind, member_id)
     on conflict (target_id, group_id, remote_id) do update set member_kind = excluded.member_kind, member_id = excluded.member_id`,
    [
      targetId,
      groupId,
      pgArray(gone.ids),
      tenantId,
      targetId,
      groupId,
      pgArray(add.map((m) => m.remoteId)),
      pgArray(add.map((m) => m.kind ?? '')),
      pgArray(add.map((m) => m.localId ?? '')),
    ],
  );
}

/** A group's members as last pushed to a target; with `memberIds`, only those hub ids among them. */
export async function readPushedMembers(
  em: EntityManager,
  targetId: string,
  groupId: string,
  memberIds?: readonly string[],
): Promise<PushedMember[]> {
  if (!UUID.test(targetId) || !UUID.test(groupId)) return [];
  const ids = memberIds?.filter((id) => UUID.test(id));
  if (ids?.length === 0) return [];
  const rows = await em.execute<{ remote_id: string; member_kind: ResourceKind | null; member_id: string | null }[]>(
    `select remote_id, member_kind, member_id from replication_link_member where target_id = ? and group_id = ?${
      ids ? ' and member_id = any(?::uuid[])' : ''
    }`,
    [targetId, groupId, ...(ids ? [pgArray(ids)] : [])],
  );
  return rows.map((r) => ({ kind: r.member_kind, localId: r.member_id, remoteId: r.remote_id }));
}
