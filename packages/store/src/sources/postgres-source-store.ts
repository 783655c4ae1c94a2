import type { Clock, InboundSource, InboundSourceInput, InboundSourceStore, RequestContext, SourceLink } from '@meridian/core';
import type { MikroORM } from '@mikro-orm/postgresql';
import { v7 as uuidv7 } from 'uuid';
import { inTenant } from '../orm/unit-of-work.js';
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
  cursor: string | null;
  last_sync_at: Date | null;
  last_full_sync_at: Date | null;
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
    cursor: row.cursor,
    lastSyncAt: row.last_sync_at ? new Date(row.last_sync_at) : null,
    lastFullSyncAt: row.last_full_sync_at ? new Date(row.last_full_sync_at) : null,
    createdAt: new Date(row.created_at),
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

  create(tenantId: string, input: InboundSourceInput, _context: RequestContext): Promise<InboundSource> {
    const id = uuidv7();
    return inTenant(this.orm, tenantId, async (em) => {
      const [row] = await em.execute<SourceRow[]>(
        `insert into inbound_source (id, tenant_id, name, kind, config, secret_names, secrets_sealed, deletion_threshold_percent,
           full_sync_interval_seconds, created_at)
         values (?, ?, ?, ?, ?::jsonb, ?::text[], ?, ?, ?, ?) returning *`,
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
          this.clock.now(),
        ],
      );
      return toSource(row as SourceRow);
    });
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

  async delete(tenantId: string, id: string, _context: RequestContext): Promise<void> {
    await inTenant(this.orm, tenantId, (em) => em.execute('delete from inbound_source where tenant_id = ? and id = ?', [tenantId, id]));
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

  async recordSync(tenantId: string, sourceId: string, state: { cursor: string | null; full: boolean; at: Date }): Promise<void> {
    await inTenant(this.orm, tenantId, (em) =>
      em.execute(
        `update inbound_source set cursor = ?, last_sync_at = ?, last_full_sync_at = case when ? then ? else last_full_sync_at end
         where id = ?`,
        [state.cursor, state.at, state.full, state.at, sourceId],
      ),
    );
  }
}
