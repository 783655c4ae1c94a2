import { Migration } from '@mikro-orm/migrations';

/** Per-tenant custom schema extensions, the self-service policy, and end-user tokens. */
export class Migration20261126200000_tenant_schema extends Migration {
  override up(): void {
    this.addSql(`
      create table schema_extension (
        id uuid primary key,
        tenant_id uuid not null references tenant (id) on delete cascade,
        urn text not null,
        resource_type text not null check (resource_type in ('User', 'Group')),
        definition jsonb not null,
        created_at timestamptz not null
      );
      -- RFC 7643 §3.3: schema URIs are compared case-insensitively.
      create unique index schema_extension_tenant_urn_key on schema_extension (tenant_id, lower(urn));

      -- Groups carry tenant extensions too.
      alter table scim_group add column extension_schemas text[] not null default '{}';

      -- Attribute paths an end user may change on their own User through /Me (draft-ietf-scim-use-cases §3.4).
      alter table tenant add column self_service_attributes text[] not null default '{}';

      -- A token bound to one User of its tenant: the end user of /Me.
      alter table api_token add column user_id uuid null references scim_user (id) on delete cascade;
    `);
  }
}
