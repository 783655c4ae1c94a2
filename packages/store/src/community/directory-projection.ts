import type { Clock, ProjectionStep } from '@meridian/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { pgArray } from '../orm/sql.js';
import { asPlatform } from '../orm/unit-of-work.js';
import { projectUsers } from './directory-batch.js';
import type { AccountRow } from './directory-rows.js';
import { lockCommunity, projectionRules } from './directory-sql.js';

/**
 * The projection of the global directory (ADR 0015, ADR 0025): inbox entries
 * in, people out. A transaction claims a batch of due entries and projects
 * each community's Users together (directory-batch.ts: a fixed number of
 * statements per batch, whatever its size or the community's), then its
 * Groups one by one. Core decides (`placeBatch` where accounts go,
 * `resolvePeople` what their people become); the store loads and writes.
 */

/** Inbox entries projected in one transaction. */
const PROJECTION_BATCH = 1_000;
const PROJECTION_RETRY_MS = [1_000, 5_000, 30_000, 120_000, 600_000];

interface InboxEntry {
  tenant_id: string;
  resource_type: 'User' | 'Group';
  resource_id: string;
  community_id: string;
  enqueued_at: Date;
  attempts?: number;
}

/** Hears of each entry whose projection failed (it is retried later). */
export type ProjectionErrorListener = (entry: { tenant_id: string; resource_type: string; resource_id: string }, error: unknown) => void;

/**
 * Projects up to `limit` due inbox entries, in batches of one transaction
 * each; a batch that fails is projected again one entry per transaction, so
 * that only the failing entry waits.
 */
export async function projectDue(
  orm: MikroORM,
  clock: Clock,
  onError: ProjectionErrorListener | undefined,
  limit: number,
  now: Date,
): Promise<ProjectionStep[]> {
  const steps: ProjectionStep[] = [];
  while (steps.length < limit) {
    const size = Math.min(PROJECTION_BATCH, limit - steps.length);
    let batch: InboxEntry[];
    try {
      batch = await asPlatform(orm, (em) => projectBatch(em, clock, claim(em, now, size)));
    } catch {
      // One entry of the batch fails: project them one by one, so that only that one waits.
      batch = await projectSingly(orm, clock, onError, now, size);
    }
    if (batch.length === 0) break;
    steps.push(...batch.map((e) => ({ tenantId: e.tenant_id, kind: e.resource_type, resourceId: e.resource_id })));
    if (batch.length < size) break;
  }
  return steps;
}

/**
 * Claims (removes) up to `size` due entries, oldest first, in the order of
 * the claim index (migration 20261207610200: the claim reads what it takes);
 * a rollback puts them back. Other projectors skip them meanwhile. The rows
 * are deleted by the tuple ids the locking read returns: matched by key
 * (`in (subquery)`), PostgreSQL planned the locking read again for every
 * row of the inbox when its statistics were those of an empty inbox. An
 * entry changed between the read and its lock is left for the next claim.
 */
function claim(em: EntityManager, now: Date, size: number): Promise<InboxEntry[]> {
  return em.execute<InboxEntry[]>(
    `delete from directory_inbox d where d.ctid = any(array(
       select ctid from directory_inbox where not_before <= ? order by not_before, enqueued_at limit ? for update skip locked))
     returning d.tenant_id, d.resource_type, d.resource_id, d.community_id, d.enqueued_at`,
    [now, size],
  );
}

/**
 * Projects claimed entries in one transaction. Communities are locked once
 * each, in id order (so two projectors never wait on each other in a
 * cycle), and their rules read once; within a community, entries keep the
 * order they were queued in.
 */
async function projectBatch(em: EntityManager, clock: Clock, claimed: Promise<InboxEntry[]>): Promise<InboxEntry[]> {
  const entries = await claimed;
  const ordered = [...entries].sort(
    (a, b) =>
      (a.community_id < b.community_id ? -1 : a.community_id > b.community_id ? 1 : 0) ||
      +new Date(a.enqueued_at) - +new Date(b.enqueued_at),
  );
  const communities = [...new Set(ordered.map((e) => e.community_id))];
  for (const communityId of communities) {
    const mine = ordered.filter((e) => e.community_id === communityId);
    const users = mine.filter((e) => e.resource_type === 'User');
    if (users.length > 0) {
      await lockCommunity(em, communityId);
      const rules = await projectionRules(em, communityId);
      await projectUsers(
        em,
        communityId,
        users.map((e) => ({ tenantId: e.tenant_id, userId: e.resource_id })),
        rules,
        clock.now(),
      );
    }
    for (const group of mine.filter((e) => e.resource_type === 'Group')) {
      await projectGroup(em, communityId, group.tenant_id, group.resource_id);
    }
  }
  return entries;
}

/** Projects up to `size` entries one transaction each; a failing entry is tried again later, with growing delays. */
async function projectSingly(
  orm: MikroORM,
  clock: Clock,
  onError: ProjectionErrorListener | undefined,
  now: Date,
  size: number,
): Promise<InboxEntry[]> {
  const done: InboxEntry[] = [];
  const failed = new Set<string>();
  while (done.length < size) {
    let entry: InboxEntry | undefined;
    let error: unknown;
    await asPlatform(orm, async (em) => {
      const skip = [...failed];
      [entry] = await em.execute<InboxEntry[]>(
        `select tenant_id, resource_type, resource_id, community_id, enqueued_at, attempts from directory_inbox
         where not_before <= ? and not ((tenant_id::text || '/' || resource_type || '/' || resource_id::text) = any(?::text[]))
         order by not_before, enqueued_at limit 1 for update skip locked`,
        [now, pgArray(skip)],
      );
      if (!entry) return;
      try {
        await em.transactional((inner) => projectBatch(inner, clock, Promise.resolve([entry as InboxEntry])));
        await em.execute('delete from directory_inbox where tenant_id = ? and resource_type = ? and resource_id = ?', [
          entry.tenant_id,
          entry.resource_type,
          entry.resource_id,
        ]);
      } catch (caught) {
        // The savepoint rolled back the projection; the entry stays, due later.
        error = caught;
        const delay = PROJECTION_RETRY_MS[Math.min(entry.attempts ?? 0, PROJECTION_RETRY_MS.length - 1)] ?? 600_000;
        await em.execute(
          `update directory_inbox set attempts = attempts + 1, last_error = ?, not_before = ?
           where tenant_id = ? and resource_type = ? and resource_id = ?`,
          [
            (caught instanceof Error ? caught.message : String(caught)).slice(0, 500),
            new Date(now.getTime() + delay),
            entry.tenant_id,
            entry.resource_type,
            entry.resource_id,
          ],
        );
      }
    });
    if (!entry) break;
    const claimed = entry as InboxEntry;
    if (error === undefined) done.push(claimed);
    else {
      failed.add(`${claimed.tenant_id}/${claimed.resource_type}/${claimed.resource_id}`);
      onError?.(claimed, error);
    }
  }
  return done;
}

/** Copies a Group's direct User members, with its name, onto their accounts; a Group that is gone leaves them. */
async function projectGroup(em: EntityManager, communityId: string, tenantId: string, groupId: string): Promise<void> {
  const [group] = await em.execute<{ display_name: string }[]>('select display_name from scim_group where tenant_id = ? and id = ?', [
    tenantId,
    groupId,
  ]);
  if (!group) {
    await em.execute('delete from directory_account_group where tenant_id = ? and group_id = ?', [tenantId, groupId]);
    return;
  }
  await em.execute(
    `delete from directory_account_group d where d.tenant_id = ? and d.group_id = ?
       and not exists (select 1 from group_member m where m.group_id = d.group_id and m.member_id = d.user_id and m.member_type = 'User')`,
    [tenantId, groupId],
  );
  await em.execute(
    `insert into directory_account_group (tenant_id, user_id, group_id, community_id, display_name)
     select m.tenant_id, m.member_id, m.group_id, ?, ? from group_member m where m.group_id = ? and m.tenant_id = ? and m.member_type = 'User'
     on conflict (tenant_id, user_id, group_id) do update set display_name = excluded.display_name
       where directory_account_group.display_name <> excluded.display_name`,
    [communityId, group.display_name, groupId, tenantId],
  );
}

/** A person with no values yet (version 0 until it is first resolved): an account's own, made by hand. */
export async function insertEmptyPerson(em: EntityManager, communityId: string, personId: string, now: Date): Promise<void> {
  await em.execute('insert into person (id, community_id, active, version, created_at, updated_at) values (?, ?, true, 0, ?, ?)', [
    personId,
    communityId,
    now,
    now,
  ]);
}

/** Moves an account into a person; `linked_at` changes only when the person does. */
export async function moveAccount(
  em: EntityManager,
  row: AccountRow,
  personId: string,
  link: string,
  pinned: boolean,
  now: Date,
): Promise<void> {
  await em.execute(
    `update directory_account set person_id = ?, link = ?, pinned = ?, updated_at = ?,
       linked_at = case when person_id = ? then linked_at else ? end
     where tenant_id = ? and user_id = ?`,
    [personId, link, pinned, now, personId, now, row.tenant_id, row.user_id],
  );
}
