import { Migration } from '@mikro-orm/migrations';

const OWN_TENANT = 'tenant_id = (select meridian_current_tenant()) or (select meridian_platform_scope())';

/**
 * SCIM events received from an inbound source (issue 17, "hub as a
 * receiver"): the `jti` of every Security Event Token (RFC 8417 §2.2) a
 * source pushed and the hub applied, so that a transmitter's retry of a SET
 * already applied changes nothing. A row is written only after the SET's
 * changes were applied; one whose apply failed is not, so the retry applies it.
 */
export class Migration20261208600000_source_events extends Migration {
  override up(): void {
    this.addSql(`
      create table inbound_source_event (
        tenant_id uuid not null references tenant (id) on delete cascade,
        source_id uuid not null references inbound_source (id) on delete cascade,
        jti text not null,
        received_at timestamptz not null,
        primary key (source_id, jti)
      );
      create index inbound_source_event_tenant_index on inbound_source_event (tenant_id);
      create index inbound_source_event_received_index on inbound_source_event (received_at);
      alter table inbound_source_event enable row level security, force row level security;
      create policy tenant_source_events on inbound_source_event using (${OWN_TENANT}) with check (${OWN_TENANT});
    `);
  }

  override down(): void {
    this.addSql('drop table inbound_source_event;');
  }
}
