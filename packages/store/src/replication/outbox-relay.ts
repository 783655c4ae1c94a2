import {
  type InboxItem,
  type OutboxEvent,
  planRelay,
  type RelayJob,
  type RequestChange,
  type RequestEventGroup,
  relayTenants,
  requestChangesOf,
} from '@meridian/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { pgArray } from '../orm/sql.js';

/**
 * The outbox relay's SQL (docs/architecture.md, "The flow of one change",
 * steps 5 and 7). Core's `planRelay` decides the jobs and the directory
 * inbox; this file claims the events, loads the targets, and writes the plan:
 * one read of the events, one of the targets, one upsert of every job's link,
 * one enqueue, one inbox write and one update of the batch.
 */

interface OutboxRow {
  id: string;
  tenant_id: string | null;
  type: string;
  resource_type: string;
  resource_id: string;
  resource_version: number | null;
  request_id: string;
  members_delta: { added: string[]; removed: string[] } | null;
}

/**
 * One relay step inside the caller's platform transaction: claims up to
 * `limit` pending events, marks their links pending, hands the jobs to
 * `enqueue`, queues the changed Users and Groups for the global directory,
 * and marks the events dispatched. Answers how many events it dispatched.
 */
export async function relayOutbox(
  em: EntityManager,
  limit: number,
  enqueue: (jobs: RelayJob[]) => Promise<void>,
  now: Date,
): Promise<number> {
  const rows = await em.execute<OutboxRow[]>(
    `select id, tenant_id, type, resource_type, resource_id, resource_version, request_id, members_delta
     from outbox_event where dispatched_at is null order by id limit ? for update skip locked`,
    [limit],
  );
  if (rows.length === 0) return 0;
  const events: OutboxEvent[] = rows.map((r) => ({
    id: String(r.id),
    tenantId: r.tenant_id,
    type: r.type,
    resourceType: r.resource_type,
    resourceId: r.resource_id,
    resourceVersion: r.resource_version,
    requestId: r.request_id,
    membersDelta: r.members_delta,
  }));
  const tenants = relayTenants(events);
  const targets =
    tenants.length === 0
      ? []
      : (
          await em.execute<{ id: string; tenant_id: string }[]>(
            // A target past its retirement time (docs/migration.md) receives nothing, whether or not a worker has disabled it yet.
            'select id, tenant_id from replication_target where enabled and (retire_at is null or retire_at > ?) and tenant_id = any(?::uuid[]) order by id',
            [now, pgArray(tenants)],
          )
        ).map((t) => ({ id: t.id, tenantId: t.tenant_id }));
  const plan = planRelay(events, targets);
  // The directory inbox first: its rows may be held by a projection under way, and waiting for one must not happen
  // while the links below are locked and their jobs already visible to the workers.
  await feedGlobalDirectory(em, plan.inbox, now);
  // The links are marked (and locked) before the jobs exist: a worker that finishes first waits for this
  // transaction, then sees the version it must cover.
  if (plan.jobs.length > 0) {
    await em.execute(
      `insert into replication_link (target_id, tenant_id, resource_kind, local_id, status, wanted_version, updated_at)
       select j.target_id, j.tenant_id, j.kind, j.local_id, 'pending', j.version, ?
       from unnest(?::uuid[], ?::uuid[], ?::text[], ?::uuid[], ?::int[]) as j(target_id, tenant_id, kind, local_id, version)
       order by j.target_id, j.kind, j.local_id
       on conflict (target_id, resource_kind, local_id) do update set
         wanted_version = greatest(replication_link.wanted_version, excluded.wanted_version),
         status = case when replication_link.handled_version >= excluded.wanted_version then replication_link.status else 'pending' end,
         updated_at = excluded.updated_at`,
      [
        now,
        pgArray(plan.jobs.map((j) => j.targetId)),
        pgArray(plan.jobs.map((j) => j.tenantId)),
        pgArray(plan.jobs.map((j) => j.kind)),
        pgArray(plan.jobs.map((j) => j.resourceId)),
        pgArray(plan.jobs.map((j) => String(j.version))),
      ],
    );
  }
  if (plan.jobs.length > 0) await enqueue(plan.jobs);
  await em.execute('update outbox_event set dispatched_at = ? where id = any(?::bigint[])', [now, pgArray(events.map((e) => e.id))]);
  return events.length;
}

/**
 * The global directory is fed by the same events (docs/architecture.md, "The flow of one change", step 7; ADR 0015):
 * each User or Group changed in the batch is queued once for projection, in
 * the transaction that marks its events dispatched, so a crash loses neither.
 */
async function feedGlobalDirectory(em: EntityManager, items: readonly InboxItem[], now: Date): Promise<void> {
  if (items.length === 0) return;
  await em.execute(
    `insert into directory_inbox (tenant_id, resource_type, resource_id, community_id, enqueued_at, not_before)
     select e.tenant_id, e.kind, e.id, t.community_id, ?, ?
     from unnest(?::uuid[], ?::text[], ?::uuid[]) as e(tenant_id, kind, id) join tenant t on t.id = e.tenant_id
     on conflict (tenant_id, resource_type, resource_id) do update set not_before = least(directory_inbox.not_before, excluded.not_before), attempts = 0`,
    [now, now, pgArray(items.map((i) => i.tenantId)), pgArray(items.map((i) => i.kind)), pgArray(items.map((i) => i.resourceId))],
  );
}

/**
 * The resources a request changed and the delivery version each reaches
 * (core's `requestChangesOf`), from one read of the request's events grouped
 * by type and resource.
 */
export async function requestChanges(em: EntityManager, tenantId: string, requestId: string): Promise<RequestChange[]> {
  const rows = await em.execute<{ type: string; resource_type: string; resource_id: string; max_version: number | null }[]>(
    `select type, resource_type, resource_id, max(resource_version) as max_version from outbox_event
     where tenant_id = ? and request_id = ?
     group by type, resource_type, resource_id order by resource_type, resource_id`,
    [tenantId, requestId],
  );
  const groups: RequestEventGroup[] = rows.map((r) => ({
    type: r.type,
    resourceType: r.resource_type,
    resourceId: r.resource_id,
    maxVersion: r.max_version === null ? null : Number(r.max_version),
  }));
  return requestChangesOf(groups);
}
