import type { DomainEvent, LinkBatch, LinkKey, LinkWrite, ScimResource } from '@meridian/core';
import type { MikroORM, PostgreSqlConnection } from '@mikro-orm/postgresql';
import { auditAppendCall } from '../audit/append-audit-entry.js';
import { type ReadRow, resourceOfRow } from '../directory/scim-reads.js';
import { auditOf } from '../events/event-recorder.js';
import { translateDatabaseError } from '../orm/database-errors.js';
import { type LinkRow, type TargetRow, toLink, toTarget, UUID } from './replication-rows.js';

/**
 * A worker's batched link reads and writes as one statement each (ADR 0035):
 * `meridian_replication_load` and `meridian_replication_save` (migration
 * 20261209200000) set the tenant and do the work, sent outside BEGIN as named
 * prepared statements on the ORM's pool, so each is one round trip and its own
 * transaction, planned once per connection.
 */

/** What the store asks of the ORM's `pg` pool (typed here: MikroORM may bring another version of `pg`'s types). */
interface StatementPool {
  query<R>(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: R[] }>;
}

const linkKey = (key: LinkKey) => `${key.targetId}/${key.kind}/${key.localId}`;

/** Runs the two statements on the ORM's pool, through the store's error boundary. */
export class LinkStatements {
  private pool: Promise<StatementPool> | undefined;
  /** The flush under way, and the one that follows it (see `durable`). */
  private flushing: Promise<void> | undefined;
  private nextFlush: Promise<void> | undefined;

  constructor(private readonly orm: MikroORM) {}

  /** The targets and links of `keys` (invalid ids name nothing), in one statement. */
  async load(tenantId: string, keys: readonly LinkKey[]): Promise<LinkBatch> {
    const valid = keys.filter((k) => UUID.test(k.targetId) && UUID.test(k.localId));
    if (valid.length === 0) return { targets: [], links: [] };
    const [row] = await this.run<{ targets: TargetRow[]; links: LinkRow[] }>(
      'meridian_replication_load',
      'select * from meridian_replication_load($1::uuid, $2::uuid[], $3::text[], $4::uuid[])',
      [tenantId, valid.map((k) => k.targetId), valid.map((k) => k.kind), valid.map((k) => k.localId)],
    );
    return { targets: (row?.targets ?? []).map(toTarget), links: (row?.links ?? []).map(toLink) };
  }

  /** {@link load} and the Users `userIds` with their groups, in one statement (migration 20261210000200, ADR 0037). */
  async loadWithUsers(
    tenantId: string,
    keys: readonly LinkKey[],
    userIds: readonly string[],
  ): Promise<LinkBatch & { users: ScimResource[] }> {
    const valid = keys.filter((k) => UUID.test(k.targetId) && UUID.test(k.localId));
    const users = [...new Set(userIds.filter((id) => UUID.test(id)))];
    const [row] = await this.run<{ targets: TargetRow[]; links: LinkRow[]; users: ReadRow[] }>(
      'meridian_replication_load_users',
      'select * from meridian_replication_load_users($1::uuid, $2::uuid[], $3::text[], $4::uuid[], $5::uuid[])',
      [tenantId, valid.map((k) => k.targetId), valid.map((k) => k.kind), valid.map((k) => k.localId), users],
    );
    return {
      targets: (row?.targets ?? []).map(toTarget),
      links: (row?.links ?? []).map(toLink),
      users: (row?.users ?? []).map((user) => resourceOfRow('User', tenantId, user)),
    };
  }

  /**
   * Records the outcomes of a batch of jobs of one tenant in one statement (its own transaction): the links in key
   * order, then the delivery audit entries, then the current versions of `versionsOf` (by key; a deleted resource is
   * absent). Writes that carry a group's pushed members are not taken here (see `canSave`). With `groupsOf`, also the
   * direct groups of those users, read under the tenant's audit chain lock (migration 20261210000100, ADR 0037).
   *
   * The statement commits without waiting for the disk, so that the chain lock its audit entries take is not held
   * through the `fdatasync`; a batch with more than create intents then waits for a flush that covers its commit
   * (`durable`) before it resolves: a job still goes on, and is acknowledged, only once its outcome is on disk.
   */
  async save(
    tenantId: string,
    now: Date,
    writes: readonly LinkWrite[],
    versionsOf: readonly LinkKey[],
    groupsOf: readonly string[] = [],
  ): Promise<{ versions: Map<string, number>; groups: Map<string, string[]> }> {
    const ordered = [...writes].sort((a, b) => (linkKey(a) < linkKey(b) ? -1 : linkKey(a) > linkKey(b) ? 1 : 0));
    const events = writes.flatMap((w) =>
      w.event ? [{ event: w.event, requestId: w.update.requestId ?? `replication-${w.targetId}` }] : [],
    );
    const wanted = versionsOf.filter((k) => UUID.test(k.localId));
    const idsOf = (kind: 'User' | 'Group') => [...new Set(wanted.filter((k) => k.kind === kind).map((k) => k.localId))];
    const rows = await this.run<{ kind: string; id: string; version: number | null; groups: string[] | null }>(
      'meridian_replication_save_v3',
      'select * from meridian_replication_save($1::uuid, $2::timestamptz, $3::jsonb, $4::jsonb, $5::uuid[], $6::uuid[], $7::boolean, $8::uuid[])',
      [
        tenantId,
        now,
        JSON.stringify(ordered.map(writeRecord)),
        JSON.stringify(events.map((e) => auditRecord(tenantId, e.event, e.requestId, now))),
        idsOf('User'),
        idsOf('Group'),
        // Every batch commits without waiting for the disk; one with more than create intents waits below.
        false,
        [...new Set(groupsOf.filter((id) => UUID.test(id)))],
      ],
    );
    if (!writes.every(isCreateIntent)) await this.durable();
    const byKey = new Map(rows.flatMap((r) => (r.kind === 'Groups' ? [] : [[`${r.kind}/${r.id}`, Number(r.version)] as const])));
    const versions = new Map<string, number>();
    for (const key of wanted) {
      const version = byKey.get(`${key.kind}/${key.localId}`);
      if (version !== undefined) versions.set(linkKey(key), version);
    }
    const groups = new Map(rows.flatMap((r) => (r.kind === 'Groups' ? [[r.id, r.groups ?? []] as const] : [])));
    return { versions, groups };
  }

  /**
   * Resolves once every commit that returned before the call is on disk (ADR 0037): a transaction that writes WAL (a
   * transactional logical message, which nothing decodes) commits with `synchronous_commit` on, so its commit waits
   * until the WAL up to its own commit record, which follows theirs, is flushed. One is under way at a time; the
   * callers that come while it runs share the next, sent when it ends. So an outcome's commit holds the tenant's
   * audit chain lock only for as long as it runs, not for its `fdatasync`, and the outcomes of several batches (and
   * any other commit meanwhile) share one flush.
   */
  private durable(): Promise<void> {
    if (this.nextFlush) return this.nextFlush;
    if (!this.flushing) {
      this.flushing = this.flush();
      return this.flushing;
    }
    this.nextFlush = this.flushing.then(
      () => this.afterFlush(),
      () => this.afterFlush(),
    );
    return this.nextFlush;
  }

  private afterFlush(): Promise<void> {
    this.nextFlush = undefined;
    this.flushing = this.flush();
    return this.flushing;
  }

  private flush(): Promise<void> {
    const sent = this.run('meridian_replication_flush', "select pg_logical_emit_message(true, 'meridian.flush', '')", []).then(
      () => undefined,
    );
    const done = () => {
      if (this.flushing === sent) this.flushing = undefined;
    };
    sent.then(done, done);
    return sent;
  }

  private async run<R>(name: string, text: string, values: unknown[]): Promise<R[]> {
    try {
      this.pool ??= (this.orm.em.getConnection() as PostgreSqlConnection).getNativeClient() as Promise<StatementPool>;
      return (await (await this.pool).query<R>({ name, text, values })).rows;
    } catch (error) {
      throw translateDatabaseError(error);
    }
  }
}

/**
 * A create intent (ADR 0014, decision 5): what a worker is about to create, with no remote id yet and no audit
 * entry. A batch of nothing else commits without waiting for the disk (ADR 0035, decision 3): the intent guards
 * against a worker that dies, for which a commit PostgreSQL holds is enough; losing it in a crash of PostgreSQL
 * itself leaves the link as the relay left it, and the next attempt looks the object up or meets the target's 409.
 */
function isCreateIntent(write: LinkWrite): boolean {
  const { update } = write;
  return (
    update.status === 'pending' &&
    update.remoteId === null &&
    update.handledVersion === 0 &&
    !write.event &&
    update.pushedAttributes != null
  );
}

/** Whether one statement can record these writes: not those that carry a group's pushed members (written row by row). */
export function canSave(writes: readonly LinkWrite[]): boolean {
  return writes.every((w) => w.update.pushedMembers === undefined);
}

/** One write as `meridian_replication_save` reads it: each optional field with whether the write sets it. */
function writeRecord(write: LinkWrite): Record<string, unknown> {
  const { update } = write;
  return {
    target_id: write.targetId,
    kind: write.kind,
    local_id: write.localId,
    remote_id: update.remoteId,
    status: update.status,
    // Absent ('wanted'): the version the relay last queued.
    handled: update.handledVersion === 'wanted' ? null : update.handledVersion,
    set_pushed_version: update.pushedVersion !== undefined,
    pushed_version: update.pushedVersion ?? null,
    set_pushed_hash: update.pushedHash !== undefined,
    pushed_hash: update.pushedHash ?? null,
    set_pushed_attributes: update.pushedAttributes !== undefined,
    pushed_attributes: update.pushedAttributes ?? null,
    set_attempts: update.attempts !== undefined,
    attempts: update.attempts ?? null,
    set_last_error: update.lastError !== undefined,
    last_error: update.lastError ?? null,
    set_grace_until: update.graceUntil !== undefined,
    grace_until: update.graceUntil ? update.graceUntil.toISOString() : null,
    set_request_id: update.requestId !== undefined,
    request_id: update.requestId ?? null,
  };
}

/** A delivery's audit entry as `meridian_replication_save` reads it (the arguments of `meridian_append_audit`). */
function auditRecord(tenantId: string, event: DomainEvent, requestId: string, now: Date): Record<string, unknown> {
  // The statement is scoped to the batch's tenant: an entry of another chain is a programming error.
  if (event.tenantId !== tenantId) throw new TypeError(`A ${event.type} event must be recorded in its own tenant's batch.`);
  const call = auditAppendCall(auditOf(event, { actor: { type: 'system', id: 'replication' }, requestId }), now);
  const [chain, tenant, actorType, actorId, action, resourceType, resourceId, request, sourceAddress, diff, , part1, part2, part3] =
    call.params;
  return {
    chain,
    tenant_id: tenant,
    actor_type: actorType,
    actor_id: actorId,
    action,
    resource_type: resourceType,
    resource_id: resourceId,
    request_id: request,
    source_address: sourceAddress,
    diff,
    part1,
    part2,
    part3,
  };
}
