import {
  type Clock,
  type InboundSource,
  type InboundSourceChanges,
  type InboundSourceInput,
  type InboundSourceStore,
  MeridianError,
  type RequestContext,
  type SourceEventRecord,
  type SourceLink,
  type SourceSyncCounts,
  type SourceSyncRecord,
  type SourceSyncStatus,
} from '@meridian/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { v7 as uuidv7 } from 'uuid';
import { auditEvent } from '../events/event-recorder.js';
import { asPlatform, inTenant } from '../orm/unit-of-work.js';
import type { SecretBox } from '../secrets/secret-box.js';

interface SourceRow {
  id: string;
  tenant_id: string;
  name: string;
  kind: string;
  config: Record<string, unknown>;
  secret_names: string[];
  secrets_sealed: string;
  deletion_threshold_percent: string | number;
  full_sync_interval_seconds: number;
  sync_interval_seconds: number | null;
  cursor: string | null;
  last_sync_at: Date | null;
  last_full_sync_at: Date | null;
  last_sync_status: SourceSyncStatus | null;
  last_sync_error: string | null;
  last_sync_counts: SourceSyncCounts | null;
  created_at: Date;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function toSource(row: SourceRow): InboundSource {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    name: row.name,
    kind: row.kind,
    config: row.config,
    secretNames: row.secret_names,
    deletionThresholdPercent: Number(row.deletion_threshold_percent),
    fullSyncIntervalSeconds: row.full_sync_interval_seconds,
    syncIntervalSeconds: row.sync_interval_seconds,
    cursor: row.cursor,
    lastSyncAt: row.last_sync_at ? new Date(row.last_sync_at) : null,
    lastFullSyncAt: row.last_full_sync_at ? new Date(row.last_full_sync_at) : null,
    lastSyncStatus: row.last_sync_status,
    lastSyncError: row.last_sync_error,
    lastSyncCounts: row.last_sync_counts,
    createdAt: new Date(row.created_at),
  };
}

/** What an audit entry says of a source: its settings, never its secrets (only their names). */
function auditValues(source: InboundSource): Record<string, unknown> {
  return {
    name: source.name,
    kind: source.kind,
    config: source.config,
    secretNames: source.secretNames,
    deletionThresholdPercent: source.deletionThresholdPercent,
    fullSyncIntervalSeconds: source.fullSyncIntervalSeconds,
    syncIntervalSeconds: source.syncIntervalSeconds,
  };
}

/** The SecretBox context of a source's secrets: they open for that source only. */
const secretContext = (tenantId: string, id: string) => `inbound-source:${tenantId}:${id}`;

/**
 * Inbound sources and their links (core {@link InboundSourceStore}), in the
 * tenant's scope under row-level security; secrets sealed with the SecretBox.
 */
export class PostgresSourceStore implements InboundSourceStore {
  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
    private readonly box: Pick<SecretBox, 'encrypt' | 'decrypt'>,
  ) {}

  create(tenantId: string, input: InboundSourceInput, context: RequestContext): Promise<InboundSource> {
    const id = uuidv7();
    return inTenant(this.orm, tenantId, async (em) => {
      const [row] = await em.execute<SourceRow[]>(
        `insert into inbound_source (id, tenant_id, name, kind, config, secret_names, secrets_sealed, deletion_threshold_percent,
           full_sync_interval_seconds, sync_interval_seconds, created_at)
         values (?, ?, ?, ?, ?::jsonb, ?::text[], ?, ?, ?, ?, ?) returning *`,
        [
          id,
          tenantId,
          input.name,
          input.kind,
          JSON.stringify(input.config),
          `{${Object.keys(input.secrets)
            .sort()
            .map((n) => `"${n}"`)
            .join(',')}}`,
          this.box.encrypt(JSON.stringify(input.secrets), secretContext(tenantId, id)),
          input.deletionThresholdPercent ?? 20,
          input.fullSyncIntervalSeconds ?? 86_400,
          input.syncIntervalSeconds ?? null,
          this.clock.now(),
        ],
      );
      const source = toSource(row as SourceRow);
      await this.audit(em, 'source.created', source, null, auditValues(source), context);
      return source;
    });
  }

  update(tenantId: string, id: string, changes: InboundSourceChanges, context: RequestContext): Promise<InboundSource> {
    return inTenant(this.orm, tenantId, async (em) => {
      const [before] = await em.execute<SourceRow[]>('select * from inbound_source where tenant_id = ? and id = ? for update', [
        tenantId,
        id,
      ]);
      if (!before) throw new MeridianError('NOT_FOUND', `Source '${id}' not found.`, { field: 'source' });
      const [row] = await em.execute<SourceRow[]>(
        `update inbound_source set
           deletion_threshold_percent = coalesce(?, deletion_threshold_percent),
           full_sync_interval_seconds = coalesce(?, full_sync_interval_seconds),
           sync_interval_seconds = case when ? then ? else sync_interval_seconds end
         where tenant_id = ? and id = ? returning *`,
        [
          changes.deletionThresholdPercent ?? null,
          changes.fullSyncIntervalSeconds ?? null,
          changes.syncIntervalSeconds !== undefined,
          changes.syncIntervalSeconds ?? null,
          tenantId,
          id,
        ],
      );
      const source = toSource(row as SourceRow);
      await this.audit(em, 'source.updated', source, auditValues(toSource(before)), auditValues(source), context);
      return source;
    });
  }

  /** The audit entry of a change to a source, in the caller's tenant transaction (no outbox: nothing downstream acts on it). */
  private async audit(
    em: EntityManager,
    type: 'source.created' | 'source.updated' | 'source.deleted' | 'source.synced' | 'source.event_applied',
    source: Pick<InboundSource, 'id' | 'tenantId'>,
    before: Record<string, unknown> | null,
    after: Record<string, unknown> | null,
    context: RequestContext,
  ): Promise<void> {
    await auditEvent(
      em,
      { type, tenantId: source.tenantId, resourceType: 'Source', resourceId: source.id, before, after },
      context,
      this.clock.now(),
    );
  }

  async list(tenantId: string): Promise<InboundSource[]> {
    const rows = await inTenant(this.orm, tenantId, (em) =>
      em.execute<SourceRow[]>('select * from inbound_source where tenant_id = ? order by created_at, id', [tenantId]),
    );
    return rows.map(toSource);
  }

  async find(tenantId: string, idOrName: string): Promise<InboundSource | undefined> {
    const [row] = await inTenant(this.orm, tenantId, (em) =>
      UUID.test(idOrName)
        ? em.execute<SourceRow[]>('select * from inbound_source where tenant_id = ? and id = ?', [tenantId, idOrName])
        : em.execute<SourceRow[]>('select * from inbound_source where tenant_id = ? and lower(name) = lower(?)', [tenantId, idOrName]),
    );
    return row ? toSource(row) : undefined;
  }

  async openSecrets(source: InboundSource): Promise<Record<string, string>> {
    const [row] = await inTenant(this.orm, source.tenantId, (em) =>
      em.execute<{ secrets_sealed: string }[]>('select secrets_sealed from inbound_source where id = ?', [source.id]),
    );
    if (!row) return {};
    return JSON.parse(this.box.decrypt(row.secrets_sealed, secretContext(source.tenantId, source.id))) as Record<string, string>;
  }

  async delete(tenantId: string, id: string, context: RequestContext): Promise<void> {
    await inTenant(this.orm, tenantId, async (em) => {
      const [row] = await em.execute<SourceRow[]>('delete from inbound_source where tenant_id = ? and id = ? returning *', [tenantId, id]);
      if (row) await this.audit(em, 'source.deleted', toSource(row), auditValues(toSource(row)), null, context);
    });
  }

  async links(tenantId: string, sourceId: string): Promise<SourceLink[]> {
    const rows = await inTenant(this.orm, tenantId, (em) =>
      em.execute<{ remote_id: string; resource_id: string; applied: string }[]>(
        'select remote_id, resource_id, applied from inbound_source_link where source_id = ?',
        [sourceId],
      ),
    );
    return rows.map((r) => ({ remoteId: r.remote_id, resourceId: r.resource_id, applied: r.applied }));
  }

  async saveLink(tenantId: string, sourceId: string, link: SourceLink): Promise<void> {
    await inTenant(this.orm, tenantId, (em) =>
      em.execute(
        `insert into inbound_source_link (tenant_id, source_id, remote_id, resource_id, applied) values (?, ?, ?, ?, ?)
         on conflict (source_id, remote_id) do update set resource_id = excluded.resource_id, applied = excluded.applied`,
        [tenantId, sourceId, link.remoteId, link.resourceId, link.applied],
      ),
    );
  }

  async deleteLink(tenantId: string, sourceId: string, remoteId: string): Promise<void> {
    await inTenant(this.orm, tenantId, (em) =>
      em.execute('delete from inbound_source_link where source_id = ? and remote_id = ?', [sourceId, remoteId]),
    );
  }

  async recordSync(tenantId: string, sourceId: string, record: SourceSyncRecord, context: RequestContext): Promise<void> {
    await inTenant(this.orm, tenantId, async (em) => {
      // A run stopped before any write (threshold, failure) keeps the full-comparison clock where it was.
      const fullDone = record.full && record.status === 'applied';
      await em.execute(
        `update inbound_source set cursor = ?, last_sync_at = ?, last_full_sync_at = case when ? then ? else last_full_sync_at end,
           last_sync_status = ?, last_sync_error = ?, last_sync_counts = ?::jsonb, sync_claimed_until = null
         where id = ?`,
        [
          record.cursor,
          record.at,
          fullDone,
          record.at,
          record.status,
          record.error,
          record.counts ? JSON.stringify(record.counts) : null,
          sourceId,
        ],
      );
      await this.audit(
        em,
        'source.synced',
        { id: sourceId, tenantId },
        null,
        { status: record.status, full: record.full, ...(record.counts ?? {}), ...(record.error ? { error: record.error } : {}) },
        context,
      );
    });
  }

  async claimDue(now: Date, leaseMs: number, limit: number): Promise<InboundSource[]> {
    const rows = await asPlatform(this.orm, (em) =>
      em.execute<SourceRow[]>(
        `update inbound_source set sync_claimed_until = ? where id in (
           select id from inbound_source
            where sync_interval_seconds is not null
              and (last_sync_at is null or last_sync_at + make_interval(secs => sync_interval_seconds) <= ?)
              and (sync_claimed_until is null or sync_claimed_until < ?)
            order by last_sync_at nulls first limit ? for update skip locked)
         returning *`,
        [new Date(now.getTime() + leaseMs), now, now, limit],
      ),
    );
    return rows.map(toSource);
  }

  async findById(id: string): Promise<InboundSource | undefined> {
    if (!UUID.test(id)) return undefined;
    // Platform scope: the event endpoint learns the tenant from the source; it then acts in that tenant only.
    const [row] = await asPlatform(this.orm, (em) => em.execute<SourceRow[]>('select * from inbound_source where id = ?', [id]));
    return row ? toSource(row) : undefined;
  }

  async eventSeen(tenantId: string, sourceId: string, jti: string): Promise<boolean> {
    const rows = await inTenant(this.orm, tenantId, (em) =>
      em.execute('select 1 from inbound_source_event where source_id = ? and jti = ?', [sourceId, jti]),
    );
    return rows.length > 0;
  }

  async recordEvent(tenantId: string, sourceId: string, record: SourceEventRecord, context: RequestContext): Promise<void> {
    await inTenant(this.orm, tenantId, async (em) => {
      // Two deliveries of one SET at once both apply it (the same outcome); only the first is recorded and audited.
      const inserted = await em.execute<{ jti: string }[]>(
        `insert into inbound_source_event (tenant_id, source_id, jti, received_at) values (?, ?, ?, ?)
         on conflict (source_id, jti) do nothing returning jti`,
        [tenantId, sourceId, record.jti, record.at],
      );
      if (inserted.length === 0) return;
      await this.audit(
        em,
        'source.event_applied',
        { id: sourceId, tenantId },
        null,
        { trigger: 'events', jti: record.jti, events: record.events, applied: record.applied },
        context,
      );
    });
  }
}
