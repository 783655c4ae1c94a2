// About 600 lines on purpose: the one implementation of core's ReplicationStore port (some 30 methods over
// targets, links, dead letters and wait policies); its relay SQL and row mapping live in their own files.
import {
  type CircuitState,
  type Clock,
  type CommitWakeups,
  checkWaitSeconds,
  type DeadLetter,
  type DeadLetterWrite,
  type DomainEvent,
  type LinkBatch,
  type LinkKey,
  type LinkUpdate,
  type LinkWrite,
  MeridianError,
  type PendingPassword,
  type RelayJob,
  type ReplicationLink,
  type ReplicationStore,
  type ReplicationTarget,
  type ReplicationTargetWrite,
  type RequestChange,
  type RequestContext,
  type ResourceKind,
  type ScimResource,
  type TargetStatusCounts,
} from '@meridian/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { v7 as uuidv7 } from 'uuid';
import { auditEvent, recordEvent } from '../events/event-recorder.js';
import { OutboxWakeups } from '../events/outbox-wakeups.js';
import { pgArray } from '../orm/sql.js';
import { asPlatform, inTenant } from '../orm/unit-of-work.js';
import { type PushedMember, readPushedMembers, saveLinks, writeLink } from './link-batches.js';
import { canSave, LinkStatements } from './link-statements.js';
import { relayOutbox, requestChanges } from './outbox-relay.js';
import {
  configColumn,
  type DeadLetterRow,
  type LinkRow,
  TARGET_COLUMNS,
  type TargetRow,
  targetAudit,
  toDeadLetter,
  toLink,
  toTarget,
  UUID,
} from './replication-rows.js';

/**
 * The PostgreSQL implementation of the core {@link ReplicationStore}:
 * targets, links, dead letters, the outbox relay (outbox-relay.ts), the wait
 * policy and pending passwords. Rows and their mapping are in
 * replication-rows.ts.
 */
export class PostgresReplicationStore implements ReplicationStore {
  /** A worker's batched link reads and writes, one statement each (ADR 0035). */
  private readonly statements: LinkStatements;

  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
  ) {
    this.statements = new LinkStatements(orm);
  }

  /** A transaction scoped to one tenant. */
  private tenant<T>(tenantId: string, work: (em: EntityManager) => Promise<T>): Promise<T> {
    return inTenant(this.orm, tenantId, work);
  }

  /** A transaction for the relay and the workers, which work across tenants. */
  private platform<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    return asPlatform(this.orm, work);
  }

  private async targetRow(em: EntityManager, where: string, params: unknown[], lock = false): Promise<ReplicationTarget | undefined> {
    const [row] = await em.execute<TargetRow[]>(
      `select ${TARGET_COLUMNS} from replication_target where ${where}${lock ? ' for update' : ''}`,
      params,
    );
    return row && toTarget(row);
  }

  async createTarget(tenantId: string, values: ReplicationTargetWrite, context: RequestContext): Promise<ReplicationTarget> {
    return this.tenant(tenantId, async (em) => {
      const now = this.clock.now();
      const [taken] = await em.execute<{ id: string }[]>(
        'select id from replication_target where tenant_id = ? and lower(name) = lower(?)',
        [tenantId, values.name],
      );
      if (taken) throw new MeridianError('UNIQUENESS', `The tenant already has a target named '${values.name}'.`, { field: 'name' });
      const id = uuidv7();
      await em.execute(
        `insert into replication_target (id, tenant_id, name, kind, config, secrets, delete_mode, grace_seconds, scoping, mapping,
           push_passwords, enabled, paused, rate_limit_max, rate_limit_duration_ms, concurrency, max_attempts, created_at, updated_at)
         values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          id,
          tenantId,
          values.name,
          values.kind,
          configColumn(values),
          values.sealedSecrets,
          values.deleteMode,
          values.graceSeconds,
          JSON.stringify(values.scoping),
          JSON.stringify(values.mapping),
          values.pushPasswords,
          values.enabled,
          values.paused,
          values.rateLimit?.max ?? null,
          values.rateLimit?.durationMs ?? null,
          values.concurrency,
          values.maxAttempts,
          now,
          now,
        ],
      );
      const created = await this.targetRow(em, 'id = ?', [id]);
      if (!created) throw new TypeError('A target inserted in this transaction must be readable.');
      await recordEvent(
        em,
        { type: 'target.created', tenantId, resourceType: 'Target', resourceId: id, before: null, after: targetAudit(created) },
        context,
        now,
      );
      return created;
    });
  }

  async updateTarget(
    tenantId: string,
    targetId: string,
    values: ReplicationTargetWrite,
    context: RequestContext,
  ): Promise<ReplicationTarget> {
    return this.tenant(tenantId, async (em) => {
      const now = this.clock.now();
      const before = await this.targetRow(em, 'tenant_id = ? and id = ?', [tenantId, targetId], true);
      if (!before) throw new MeridianError('NOT_FOUND', `Target '${targetId}' not found.`);
      const [taken] = await em.execute<{ id: string }[]>(
        'select id from replication_target where tenant_id = ? and lower(name) = lower(?) and id <> ?',
        [tenantId, values.name, targetId],
      );
      if (taken) throw new MeridianError('UNIQUENESS', `The tenant already has a target named '${values.name}'.`, { field: 'name' });
      await em.execute(
        `update replication_target set name = ?, kind = ?, config = ?, secrets = ?, delete_mode = ?, grace_seconds = ?, scoping = ?,
           mapping = ?, push_passwords = ?, enabled = ?, paused = ?, rate_limit_max = ?, rate_limit_duration_ms = ?, concurrency = ?,
           max_attempts = ?, updated_at = ?
         where tenant_id = ? and id = ?`,
        [
          values.name,
          values.kind,
          configColumn(values),
          values.sealedSecrets,
          values.deleteMode,
          values.graceSeconds,
          JSON.stringify(values.scoping),
          JSON.stringify(values.mapping),
          values.pushPasswords,
          values.enabled,
          values.paused,
          values.rateLimit?.max ?? null,
          values.rateLimit?.durationMs ?? null,
          values.concurrency,
          values.maxAttempts,
          now,
          tenantId,
          targetId,
        ],
      );
      const after = await this.targetRow(em, 'id = ?', [targetId]);
      if (!after) throw new TypeError('A target updated in this transaction must be readable.');
      await recordEvent(
        em,
        {
          type: 'target.updated',
          tenantId,
          resourceType: 'Target',
          resourceId: targetId,
          before: targetAudit(before),
          // A move to other origins names the secrets it left behind (never their values).
          after: values.originChange ? { ...targetAudit(after), originChange: values.originChange } : targetAudit(after),
        },
        context,
        now,
      );
      return after;
    });
  }

  async deleteTarget(tenantId: string, targetId: string, context: RequestContext): Promise<void> {
    await this.tenant(tenantId, async (em) => {
      const now = this.clock.now();
      const before = await this.targetRow(em, 'tenant_id = ? and id = ?', [tenantId, targetId], true);
      if (!before) throw new MeridianError('NOT_FOUND', `Target '${targetId}' not found.`);
      await em.execute('delete from replication_target where tenant_id = ? and id = ?', [tenantId, targetId]);
      await em.execute('update pending_password set targets = array_remove(targets, ?::uuid) where tenant_id = ?', [targetId, tenantId]);
      await em.execute("delete from pending_password where tenant_id = ? and targets = '{}'", [tenantId]);
      await recordEvent(
        em,
        { type: 'target.deleted', tenantId, resourceType: 'Target', resourceId: targetId, before: targetAudit(before), after: null },
        context,
        now,
      );
    });
  }

  listTargets(tenantId: string): Promise<ReplicationTarget[]> {
    return this.tenant(tenantId, async (em) =>
      (
        await em.execute<TargetRow[]>(`select ${TARGET_COLUMNS} from replication_target where tenant_id = ? order by created_at, id`, [
          tenantId,
        ])
      ).map(toTarget),
    );
  }

  findTarget(tenantId: string, idOrName: string): Promise<ReplicationTarget | undefined> {
    return this.tenant(tenantId, (em) =>
      UUID.test(idOrName)
        ? this.targetRow(em, 'tenant_id = ? and id = ?', [tenantId, idOrName])
        : this.targetRow(em, 'tenant_id = ? and lower(name) = lower(?)', [tenantId, idOrName]),
    );
  }

  getTarget(targetId: string): Promise<ReplicationTarget | undefined> {
    if (!UUID.test(targetId)) return Promise.resolve(undefined);
    return this.platform((em) => this.targetRow(em, 'id = ?', [targetId]));
  }

  async sealedSecrets(targetId: string): Promise<string | null> {
    const [row] = await this.platform((em) =>
      em.execute<{ secrets: string | null }[]>('select secrets from replication_target where id = ?', [targetId]),
    );
    return row?.secrets ?? null;
  }

  enabledTargets(): Promise<ReplicationTarget[]> {
    return this.platform(async (em) =>
      (
        await em.execute<TargetRow[]>(
          `select ${TARGET_COLUMNS} from replication_target where enabled and (retire_at is null or retire_at > ?) order by created_at, id`,
          [this.clock.now()],
        )
      ).map(toTarget),
    );
  }

  async recordMigration(
    tenantId: string,
    fromId: string,
    toId: string,
    retireAt: Date | null,
    summary: Record<string, unknown>,
    context: RequestContext,
  ): Promise<ReplicationTarget> {
    return this.tenant(tenantId, async (em) => {
      const now = this.clock.now();
      const before = await this.targetRow(em, 'tenant_id = ? and id = ?', [tenantId, fromId], true);
      if (!before) throw new MeridianError('NOT_FOUND', `Target '${fromId}' not found.`);
      if (before.retirement?.retiredAt) {
        throw new MeridianError('CONFLICT', `Target '${before.name}' was retired at ${before.retirement.retiredAt.toISOString()}.`);
      }
      if (retireAt !== null) {
        await em.execute('update replication_target set retire_at = ?, successor_id = ?, updated_at = ? where tenant_id = ? and id = ?', [
          retireAt,
          toId,
          now,
          tenantId,
          fromId,
        ]);
      }
      const after = await this.targetRow(em, 'id = ?', [fromId]);
      if (!after) throw new TypeError('A target updated in this transaction must be readable.');
      await recordEvent(
        em,
        {
          type: 'target.migrated',
          tenantId,
          resourceType: 'Target',
          resourceId: fromId,
          before: null,
          after: { ...summary, to: toId, retireAt: retireAt?.toISOString() ?? null },
        },
        context,
        now,
      );
      return after;
    });
  }

  async cancelRetirement(tenantId: string, targetId: string, context: RequestContext): Promise<ReplicationTarget> {
    return this.tenant(tenantId, async (em) => {
      const now = this.clock.now();
      const before = await this.targetRow(em, 'tenant_id = ? and id = ?', [tenantId, targetId], true);
      if (!before) throw new MeridianError('NOT_FOUND', `Target '${targetId}' not found.`);
      const retirement = before.retirement;
      if (!retirement) throw new MeridianError('CONFLICT', `Target '${before.name}' has no retirement scheduled.`);
      // From its retirement time on the target received nothing: bringing it back is a new target's first load, not a cancel.
      if (retirement.retiredAt || retirement.at.getTime() <= now.getTime()) {
        throw new MeridianError(
          'CONFLICT',
          `Target '${before.name}' stopped receiving changes at ${retirement.at.toISOString()}: a retired target does not come back (create a target and migrate to it).`,
        );
      }
      await em.execute(
        'update replication_target set retire_at = null, successor_id = null, updated_at = ? where tenant_id = ? and id = ?',
        [now, tenantId, targetId],
      );
      const after = await this.targetRow(em, 'id = ?', [targetId]);
      if (!after) throw new TypeError('A target updated in this transaction must be readable.');
      await recordEvent(
        em,
        {
          type: 'target.retirement_cancelled',
          tenantId,
          resourceType: 'Target',
          resourceId: targetId,
          before: { retireAt: retirement.at.toISOString(), successorId: retirement.successorId },
          after: null,
        },
        context,
        now,
      );
      return after;
    });
  }

  retireDue(now: Date): Promise<ReplicationTarget[]> {
    return this.platform(async (em) => {
      // One statement claims them: two worker processes refreshing together retire (and audit) each target once.
      const rows = await em.execute<TargetRow[]>(
        `update replication_target set enabled = false, retired_at = ?, updated_at = ?
         where retire_at <= ? and retired_at is null
         returning ${TARGET_COLUMNS}`,
        [now, now, now],
      );
      const retired = rows.map(toTarget);
      for (const target of retired) {
        await recordEvent(
          em,
          {
            type: 'target.retired',
            tenantId: target.tenantId,
            resourceType: 'Target',
            resourceId: target.id,
            before: { enabled: true },
            after: {
              enabled: false,
              retireAt: target.retirement?.at.toISOString() ?? null,
              successorId: target.retirement?.successorId ?? null,
            },
          },
          { actor: { type: 'system', id: 'replication' }, requestId: `retire-${target.id}` },
          now,
        );
      }
      return retired;
    });
  }

  async recordFailure(targetId: string): Promise<number> {
    const [row] = await this.platform((em) =>
      em.execute<{ consecutive_failures: number }[]>(
        'update replication_target set consecutive_failures = consecutive_failures + 1 where id = ? returning consecutive_failures',
        [targetId],
      ),
    );
    return row?.consecutive_failures ?? 0;
  }

  async recordSuccess(targetId: string): Promise<CircuitState> {
    return this.platform(async (em) => {
      const [before] = await em.execute<{ circuit_state: CircuitState; consecutive_failures: number }[]>(
        'select circuit_state, consecutive_failures from replication_target where id = ?',
        [targetId],
      );
      if (before && (before.circuit_state !== 'closed' || before.consecutive_failures !== 0)) {
        await em.execute(
          "update replication_target set consecutive_failures = 0, circuit_state = 'closed', circuit_opened_at = null where id = ?",
          [targetId],
        );
      }
      return before?.circuit_state ?? 'closed';
    });
  }

  async setCircuit(targetId: string, state: CircuitState, now: Date): Promise<void> {
    await this.platform((em) =>
      em.execute(
        `update replication_target set circuit_state = ?,
           circuit_opened_at = case when ? = 'open' then ? when ? = 'closed' then null else circuit_opened_at end,
           consecutive_failures = case when ? = 'closed' then 0 else consecutive_failures end
         where id = ?`,
        [state, state, now, state, state, targetId],
      ),
    );
  }

  /** One relay step (outbox-relay.ts): core's `planRelay` decides the jobs and the directory inbox. */
  relay(limit: number, enqueue: (jobs: RelayJob[]) => Promise<void>, now: Date): Promise<number> {
    return this.platform((em) => relayOutbox(em, limit, enqueue, now));
  }

  async parentGroups(tenantId: string, groupId: string): Promise<string[]> {
    const rows = await inTenant(this.orm, tenantId, (em) =>
      em.execute<{ group_id: string }[]>('select group_id from group_member where tenant_id = ? and member_id = ?', [tenantId, groupId]),
    );
    return rows.map((r) => r.group_id);
  }

  async getLink(targetId: string, kind: ResourceKind, localId: string): Promise<ReplicationLink | undefined> {
    const [row] = await this.platform((em) =>
      em.execute<LinkRow[]>('select * from replication_link where target_id = ? and resource_kind = ? and local_id = ?', [
        targetId,
        kind,
        localId,
      ]),
    );
    return row && toLink(row);
  }

  async links(targetId: string, kind: ResourceKind, localIds: string[]): Promise<ReplicationLink[]> {
    const ids = localIds.filter((id) => UUID.test(id));
    if (ids.length === 0) return [];
    const rows = await this.platform((em) =>
      em.execute<LinkRow[]>('select * from replication_link where target_id = ? and resource_kind = ? and local_id = any(?::uuid[])', [
        targetId,
        kind,
        pgArray(ids),
      ]),
    );
    return rows.map(toLink);
  }

  async linkByRemoteId(targetId: string, kind: ResourceKind, remoteId: string): Promise<ReplicationLink | undefined> {
    const [row] = await this.platform((em) =>
      em.execute<LinkRow[]>('select * from replication_link where target_id = ? and resource_kind = ? and remote_id = ? limit 1', [
        targetId,
        kind,
        remoteId,
      ]),
    );
    return row && toLink(row);
  }

  saveLink(
    tenantId: string,
    targetId: string,
    kind: ResourceKind,
    localId: string,
    update: LinkUpdate,
    event?: DomainEvent,
  ): Promise<ReplicationLink> {
    return this.tenant(tenantId, async (em) => {
      const link = await writeLink(em, this.clock.now(), tenantId, { targetId, kind, localId }, update);
      // The delivery's audit entry, without an outbox row: nothing after the commit acts on it.
      if (event)
        await auditEvent(
          em,
          event,
          { actor: { type: 'system', id: 'replication' }, requestId: update.requestId ?? `replication-${targetId}` },
          this.clock.now(),
        );
      return link;
    });
  }

  pushedMembers(tenantId: string, targetId: string, groupId: string, memberIds?: readonly string[]): Promise<PushedMember[]> {
    return this.tenant(tenantId, (em) => readPushedMembers(em, targetId, groupId, memberIds));
  }

  loadLinks(tenantId: string, keys: readonly LinkKey[]): Promise<LinkBatch> {
    return this.statements.load(tenantId, keys);
  }

  loadLinksWithUsers(
    tenantId: string,
    keys: readonly LinkKey[],
    userIds: readonly string[],
  ): Promise<LinkBatch & { users: ScimResource[] }> {
    return this.statements.loadWithUsers(tenantId, keys, userIds);
  }

  async saveLinks(tenantId: string, writes: readonly LinkWrite[], versionsOf: readonly LinkKey[] = []): Promise<Map<string, number>> {
    return (await this.saveOutcomes(tenantId, writes, versionsOf, [])).versions;
  }

  saveOutcomes(
    tenantId: string,
    writes: readonly LinkWrite[],
    versionsOf: readonly LinkKey[],
    groupsOf: readonly string[],
  ): Promise<{ versions: Map<string, number>; groups: Map<string, string[]> }> {
    // One statement, unless a group's pushed member rows are among the writes (they go row by row, in one transaction).
    if (canSave(writes)) return this.statements.save(tenantId, this.clock.now(), writes, versionsOf, groupsOf);
    return this.tenant(tenantId, (em) => saveLinks(em, this.clock.now(), tenantId, writes, versionsOf, groupsOf));
  }

  /** A dedicated `LISTEN` connection on the trigger of `outbox_event` (migration 20261207620000, ADR 0024). */
  listenForCommits(onCommit: () => void, onError?: (error: Error) => void): Promise<CommitWakeups> {
    return OutboxWakeups.start(this.orm, onCommit, onError);
  }

  async markPending(tenantId: string, targetId: string, kind: ResourceKind, localId: string, version: number): Promise<void> {
    await this.tenant(tenantId, (em) =>
      em.execute(
        `insert into replication_link (target_id, tenant_id, resource_kind, local_id, status, wanted_version, updated_at)
         values (?, ?, ?, ?, 'pending', ?, ?)
         on conflict (target_id, resource_kind, local_id) do update set status = 'pending',
           wanted_version = greatest(replication_link.wanted_version, excluded.wanted_version), updated_at = excluded.updated_at`,
        [targetId, tenantId, kind, localId, version, this.clock.now()],
      ),
    );
  }

  async linksOf(tenantId: string, kind: ResourceKind, localId: string): Promise<ReplicationLink[]> {
    if (!UUID.test(localId)) return [];
    const rows = await this.tenant(tenantId, (em) =>
      em.execute<LinkRow[]>(
        'select * from replication_link where tenant_id = ? and resource_kind = ? and local_id = ? order by target_id',
        [tenantId, kind, localId],
      ),
    );
    return rows.map(toLink);
  }

  async targetLinks(targetId: string, kind: ResourceKind): Promise<ReplicationLink[]> {
    const rows = await this.platform((em) =>
      em.execute<LinkRow[]>('select * from replication_link where target_id = ? and resource_kind = ? order by local_id', [targetId, kind]),
    );
    return rows.map(toLink);
  }

  async statusCounts(tenantId: string): Promise<TargetStatusCounts[]> {
    const rows = await this.tenant(tenantId, (em) =>
      em.execute<{ id: string; name: string; pending: string; delivered: string; failed: string; dead: string; skipped: string }[]>(
        `select t.id, t.name,
           count(l.*) filter (where l.status = 'pending') as pending,
           count(l.*) filter (where l.status in ('synced', 'deactivated', 'grace', 'deleted')) as delivered,
           count(l.*) filter (where l.status = 'retrying') as failed,
           count(l.*) filter (where l.status = 'dead_lettered') as dead,
           count(l.*) filter (where l.status = 'out_of_scope') as skipped
         from replication_target t left join replication_link l on l.target_id = t.id
         where t.tenant_id = ? group by t.id, t.name, t.created_at order by t.created_at, t.id`,
        [tenantId],
      ),
    );
    return rows.map((r) => ({
      targetId: r.id,
      name: r.name,
      pending: Number(r.pending),
      delivered: Number(r.delivered),
      failed: Number(r.failed),
      deadLettered: Number(r.dead),
      skipped: Number(r.skipped),
    }));
  }

  deadLetter(letter: DeadLetterWrite, update: LinkUpdate, event: DomainEvent): Promise<DeadLetter> {
    return this.tenant(letter.tenantId, async (em) => {
      const now = this.clock.now();
      const id = uuidv7();
      const [row] = await em.execute<DeadLetterRow[]>(
        `insert into replication_dead_letter (id, tenant_id, target_id, resource_kind, local_id, resource_version, operation, reason,
           error_code, request, response, request_id, created_at)
         values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) returning *`,
        [
          id,
          letter.tenantId,
          letter.targetId,
          letter.kind,
          letter.localId,
          letter.resourceVersion,
          letter.operation,
          letter.reason,
          letter.errorCode,
          letter.request === undefined || letter.request === null ? null : JSON.stringify(letter.request),
          letter.response === undefined || letter.response === null ? null : JSON.stringify(letter.response),
          letter.requestId,
          now,
        ],
      );
      await writeLink(em, now, letter.tenantId, { targetId: letter.targetId, kind: letter.kind, localId: letter.localId }, update);
      await auditEvent(
        em,
        event,
        { actor: { type: 'system', id: 'replication' }, requestId: letter.requestId ?? `replication-${letter.targetId}` },
        now,
      );
      if (!row) throw new TypeError('An inserted dead letter must be returned.');
      return toDeadLetter(row);
    });
  }

  async deadLetters(tenantId: string, options: { targetId?: string; includeReplayed?: boolean; limit: number }): Promise<DeadLetter[]> {
    if (options.targetId !== undefined && !UUID.test(options.targetId)) return [];
    const rows = await this.tenant(tenantId, (em) =>
      em.execute<DeadLetterRow[]>(
        `select * from replication_dead_letter where tenant_id = ?
           ${options.targetId !== undefined ? 'and target_id = ?' : ''} ${options.includeReplayed ? '' : 'and replayed_at is null'}
         order by created_at desc, id desc limit ?`,
        [tenantId, ...(options.targetId !== undefined ? [options.targetId] : []), options.limit],
      ),
    );
    return rows.map(toDeadLetter);
  }

  async getDeadLetter(tenantId: string, id: string): Promise<DeadLetter | undefined> {
    if (!UUID.test(id)) return undefined;
    const [row] = await this.tenant(tenantId, (em) =>
      em.execute<DeadLetterRow[]>('select * from replication_dead_letter where tenant_id = ? and id = ?', [tenantId, id]),
    );
    return row && toDeadLetter(row);
  }

  markReplayed(tenantId: string, id: string, now: Date, context: RequestContext): Promise<DeadLetter> {
    return this.tenant(tenantId, async (em) => {
      const [row] = await em.execute<DeadLetterRow[]>(
        'update replication_dead_letter set replayed_at = ? where tenant_id = ? and id = ? returning *',
        [now, tenantId, id],
      );
      if (!row) throw new MeridianError('NOT_FOUND', `Dead letter '${id}' not found.`);
      const letter = toDeadLetter(row);
      await recordEvent(
        em,
        {
          type: 'replication.replayed',
          tenantId,
          resourceType: letter.kind,
          resourceId: letter.localId,
          before: null,
          after: { targetId: letter.targetId, deadLetterId: letter.id, operation: letter.operation },
        },
        context,
        now,
      );
      return letter;
    });
  }

  requestChanges(tenantId: string, requestId: string): Promise<RequestChange[]> {
    return this.tenant(tenantId, (em) => requestChanges(em, tenantId, requestId));
  }

  async waitPolicy(tenantId: string): Promise<number> {
    const [row] = await this.tenant(tenantId, (em) =>
      em.execute<{ wait_seconds: number }[]>('select wait_seconds from replication_policy where tenant_id = ?', [tenantId]),
    );
    return row?.wait_seconds ?? 0;
  }

  setWaitPolicy(tenantId: string, seconds: number, context: RequestContext): Promise<number> {
    try {
      checkWaitSeconds(seconds);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.tenant(tenantId, async (em) => {
      const now = this.clock.now();
      const before = await em.execute<{ wait_seconds: number }[]>(
        'select wait_seconds from replication_policy where tenant_id = ? for update',
        [tenantId],
      );
      await em.execute(
        `insert into replication_policy (tenant_id, wait_seconds, updated_at) values (?, ?, ?)
         on conflict (tenant_id) do update set wait_seconds = excluded.wait_seconds, updated_at = excluded.updated_at`,
        [tenantId, seconds, now],
      );
      await recordEvent(
        em,
        {
          type: 'tenant.policy_changed',
          tenantId,
          resourceType: 'Tenant',
          resourceId: tenantId,
          before: { replicationWaitSeconds: before[0]?.wait_seconds ?? 0 },
          after: { replicationWaitSeconds: seconds },
        },
        context,
        now,
      );
      return seconds;
    });
  }

  async pendingPassword(tenantId: string, userId: string, targetId: string): Promise<PendingPassword | undefined> {
    const [row] = await this.tenant(tenantId, (em) =>
      em.execute<{ id: string; resource_version: number; ciphertext: string }[]>(
        `select id, resource_version, ciphertext from pending_password
         where tenant_id = ? and user_id = ? and ? = any(targets) and expires_at > ?
         order by resource_version desc, created_at desc limit 1`,
        [tenantId, userId, targetId, this.clock.now()],
      ),
    );
    return row && { id: row.id, version: Number(row.resource_version), ciphertext: row.ciphertext };
  }

  async passwordHandled(tenantId: string, userId: string, targetId: string): Promise<void> {
    await this.tenant(tenantId, async (em) => {
      await em.execute('update pending_password set targets = array_remove(targets, ?::uuid) where tenant_id = ? and user_id = ?', [
        targetId,
        tenantId,
        userId,
      ]);
      // Erased as soon as every target took it: the clear password is not kept beyond delivery.
      await em.execute("delete from pending_password where tenant_id = ? and user_id = ? and targets = '{}'", [tenantId, userId]);
    });
  }

  async erasePendingPasswords(now: Date): Promise<number> {
    const rows = await this.platform((em) =>
      em.execute<{ id: string }[]>('delete from pending_password where expires_at <= ? returning id', [now]),
    );
    return rows.length;
  }
}
