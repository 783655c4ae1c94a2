import { Migration } from '@mikro-orm/migrations';

/** Communities, tenants, tokens, SCIM users and groups, outbox and audit log. */
export class Migration20261126000000_initial extends Migration {
  override up(): void {
    this.addSql(`
      create table community (
        id uuid primary key,
        slug text not null constraint community_slug_key unique,
        name text not null,
        created_at timestamptz not null
      );

      create table tenant (
        id uuid primary key,
        community_id uuid not null references community (id),
        slug text not null constraint tenant_slug_key unique,
        name text not null,
        created_at timestamptz not null
      );
      create index tenant_community_id_index on tenant (community_id);

      create table api_token (
        id uuid primary key,
        tenant_id uuid null references tenant (id) on delete cascade,
        name text not null,
        prefix text not null,
        secret_hash text not null constraint api_token_secret_hash_key unique,
        scopes text[] not null,
        created_at timestamptz not null,
        expires_at timestamptz null,
        revoked_at timestamptz null,
        last_used_at timestamptz null
      );
      create index api_token_tenant_id_index on api_token (tenant_id);

      create table scim_user (
        id uuid primary key,
        tenant_id uuid not null references tenant (id),
        user_name text not null,
        external_id text null,
        active boolean not null default true,
        attributes jsonb not null,
        extension_schemas text[] not null default '{}',
        password_hash text null,
        version integer not null,
        created_at timestamptz not null,
        updated_at timestamptz not null
      );
      -- RFC 7643 §4.1.1: userName is unique per tenant and not case-exact.
      create unique index scim_user_tenant_user_name_key on scim_user (tenant_id, lower(user_name));
      create index scim_user_tenant_external_id_index on scim_user (tenant_id, external_id);
      create index scim_user_tenant_created_index on scim_user (tenant_id, created_at, id);

      create table scim_group (
        id uuid primary key,
        tenant_id uuid not null references tenant (id),
        display_name text not null,
        external_id text null,
        attributes jsonb not null,
        version integer not null,
        created_at timestamptz not null,
        updated_at timestamptz not null
      );
      create unique index scim_group_tenant_display_name_key on scim_group (tenant_id, lower(display_name));
      create index scim_group_tenant_external_id_index on scim_group (tenant_id, external_id);
      create index scim_group_tenant_created_index on scim_group (tenant_id, created_at, id);

      -- One row per member: adding or removing a member costs the same for any group size.
      create table group_member (
        group_id uuid not null references scim_group (id) on delete cascade,
        member_id uuid not null,
        tenant_id uuid not null references tenant (id),
        member_type text not null check (member_type in ('User', 'Group')),
        created_at timestamptz not null,
        primary key (group_id, member_id)
      );
      create index group_member_tenant_member_index on group_member (tenant_id, member_id);

      create table outbox_event (
        id bigserial primary key,
        tenant_id uuid null,
        type text not null,
        resource_type text not null,
        resource_id text not null,
        resource_version integer null,
        request_id text not null,
        created_at timestamptz not null,
        dispatched_at timestamptz null
      );
      create index outbox_event_pending_index on outbox_event (id) where dispatched_at is null;

      create table audit_event (
        id bigserial primary key,
        chain text not null,
        seq bigint not null,
        tenant_id uuid null,
        actor_type text not null,
        actor_id text not null,
        action text not null,
        resource_type text not null,
        resource_id text not null,
        request_id text not null,
        source_address text null,
        diff jsonb null,
        created_at timestamptz not null,
        prev_hash text not null,
        hash text not null,
        constraint audit_event_chain_seq_key unique (chain, seq)
      );
      create index audit_event_tenant_created_index on audit_event (tenant_id, created_at);
    `);
  }
}
