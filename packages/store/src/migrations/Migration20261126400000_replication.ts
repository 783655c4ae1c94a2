import { Migration } from '@mikro-orm/migrations';

/**
 * Replication (issue 5): targets per tenant, the link of each hub resource to
 * its remote object per target, the dead-letter list, and clear passwords
 * waiting for delivery (encrypted, erased after delivery or expiry).
 */
export class Migration20261126400000_replication extends Migration {
  override up(): void {
    this.addSql(`
      create table replication_target (
        id uuid primary key,
        tenant_id uuid not null references tenant (id) on delete cascade,
        name text not null,
        kind text not null,
        config jsonb not null default '{}',
        -- A SecretBox envelope of the JSON object of secrets; never clear text.
        secrets text null,
        delete_mode text not null default 'deactivate' check (delete_mode in ('delete', 'deactivate', 'grace')),
        grace_seconds integer null check (grace_seconds is null or grace_seconds > 0),
        scoping jsonb not null default '{}',
        mapping jsonb not null default '{}',
        push_passwords boolean not null default false,
        enabled boolean not null default true,
        paused boolean not null default false,
        rate_limit_max integer null check (rate_limit_max is null or rate_limit_max > 0),
        rate_limit_duration_ms integer null check (rate_limit_duration_ms is null or rate_limit_duration_ms > 0),
        concurrency integer not null default 4 check (concurrency between 1 and 256),
        max_attempts integer not null default 12 check (max_attempts between 1 and 100),
        circuit_state text not null default 'closed' check (circuit_state in ('closed', 'open', 'half_open')),
        consecutive_failures integer not null default 0,
        circuit_opened_at timestamptz null,
        created_at timestamptz not null,
        updated_at timestamptz not null,
        check (delete_mode <> 'grace' or grace_seconds is not null)
      );
      create unique index replication_target_tenant_name_key on replication_target (tenant_id, lower(name));

      -- One row per (target, hub resource): what the target holds and how far it is.
      create table replication_link (
        target_id uuid not null references replication_target (id) on delete cascade,
        tenant_id uuid not null references tenant (id) on delete cascade,
        resource_kind text not null check (resource_kind in ('User', 'Group')),
        local_id uuid not null,
        remote_id text null,
        status text not null default 'pending'
          check (status in ('pending', 'synced', 'deactivated', 'grace', 'deleted', 'out_of_scope', 'retrying', 'dead_lettered')),
        -- The highest hub version the relay has fanned out, and the highest a finished job covered.
        wanted_version integer not null default 0,
        handled_version integer not null default 0,
        pushed_version integer null,
        pushed_hash text null,
        pushed_attributes jsonb null,
        pushed_members text[] not null default '{}',
        attempts integer not null default 0,
        last_error text null,
        grace_until timestamptz null,
        updated_at timestamptz not null,
        primary key (target_id, resource_kind, local_id)
      );
      create index replication_link_target_status_index on replication_link (target_id, status);
      create index replication_link_target_remote_index on replication_link (target_id, remote_id);
      create index replication_link_tenant_local_index on replication_link (tenant_id, local_id);

      create table replication_dead_letter (
        id uuid primary key,
        tenant_id uuid not null references tenant (id) on delete cascade,
        target_id uuid not null references replication_target (id) on delete cascade,
        resource_kind text not null,
        local_id uuid not null,
        resource_version integer null,
        operation text not null,
        reason text not null,
        error_code text null,
        request jsonb null,
        response jsonb null,
        created_at timestamptz not null,
        replayed_at timestamptz null
      );
      create index replication_dead_letter_target_index on replication_dead_letter (target_id, created_at);
      create index replication_dead_letter_open_index on replication_dead_letter (tenant_id, created_at) where replayed_at is null;

      -- The tenant's replication policy: how long a SCIM write waits for its deliveries when the client does not say (Prefer: wait).
      create table replication_policy (
        tenant_id uuid primary key references tenant (id) on delete cascade,
        wait_seconds integer not null default 0 check (wait_seconds between 0 and 300),
        updated_at timestamptz not null
      );

      -- A clear password on its way to the targets that accept one: sealed by the SecretBox,
      -- deleted once every target in 'targets' took it, or when it expires.
      create table pending_password (
        id uuid primary key,
        tenant_id uuid not null references tenant (id) on delete cascade,
        user_id uuid not null,
        resource_version integer not null,
        ciphertext text not null,
        targets uuid[] not null,
        created_at timestamptz not null,
        expires_at timestamptz not null
      );
      create index pending_password_user_index on pending_password (tenant_id, user_id);
      create index pending_password_expiry_index on pending_password (expires_at);

      -- Prefer: wait looks up the resources a request changed.
      create index outbox_event_request_index on outbox_event (request_id);

      -- Row-level security as on every tenant table (migration 20261126300000, ADR 0010), where that migration ran.
      do $$
      declare
        t text;
      begin
        if exists (select 1 from pg_proc where proname = 'meridian_current_tenant')
           and exists (select 1 from pg_proc where proname = 'meridian_platform_scope') then
          foreach t in array array['replication_target', 'replication_link', 'replication_dead_letter', 'replication_policy', 'pending_password'] loop
            execute format('alter table %I enable row level security, force row level security', t);
            execute format(
              'create policy tenant_isolation on %I using (tenant_id = (select meridian_current_tenant()) or (select meridian_platform_scope())) '
              'with check (tenant_id = (select meridian_current_tenant()) or (select meridian_platform_scope()))', t);
          end loop;
        end if;
        if exists (select 1 from pg_roles where rolname = 'meridian_app') then
          execute format('grant select, insert, update, delete on replication_target, replication_link, replication_dead_letter, '
            'replication_policy, pending_password to meridian_app');
        end if;
      end
      $$;
    `);
  }
}
