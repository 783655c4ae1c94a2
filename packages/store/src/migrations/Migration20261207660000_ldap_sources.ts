import { Migration } from '@mikro-orm/migrations';

/** A tenant's rows: visible to its own transactions and to platform work (ADR 0010). */
const VISIBLE = 'tenant_id = (select meridian_current_tenant()) or (select meridian_platform_scope())';

/**
 * Inbound sources (issue 18, docs/connector-ldap.md): a directory an office
 * keeps and the hub follows. `inbound_source` holds its config and sealed
 * secrets and where the last sync got to; `inbound_source_link` links each
 * remote entry (by its stable id, LDAP entryUUID) to the account it feeds,
 * with what was last applied from it.
 */
export class Migration20261207660000_ldap_sources extends Migration {
  override up(): void {
    this.addSql(`
      create table inbound_source (
        id uuid primary key,
        tenant_id uuid not null references tenant (id) on delete cascade,
        name text not null,
        kind text not null,
        config jsonb not null,
        secret_names text[] not null,
        secrets_sealed text not null,
        deletion_threshold_percent numeric not null,
        full_sync_interval_seconds integer not null,
        cursor text,
        last_sync_at timestamptz,
        last_full_sync_at timestamptz,
        created_at timestamptz not null
      );
      create unique index inbound_source_name_unique on inbound_source (tenant_id, lower(name));

      create table inbound_source_link (
        tenant_id uuid not null references tenant (id) on delete cascade,
        source_id uuid not null references inbound_source (id) on delete cascade,
        remote_id text not null,
        resource_id uuid not null,
        applied text not null,
        primary key (source_id, remote_id)
      );
      create index inbound_source_link_tenant_index on inbound_source_link (tenant_id);

      alter table inbound_source enable row level security, force row level security;
      alter table inbound_source_link enable row level security, force row level security;
      create policy tenant_sources on inbound_source using (${VISIBLE}) with check (${VISIBLE});
      create policy tenant_sources on inbound_source_link using (${VISIBLE}) with check (${VISIBLE});
    `);
  }

  override down(): void {
    this.addSql('drop table inbound_source_link; drop table inbound_source;');
  }
}
