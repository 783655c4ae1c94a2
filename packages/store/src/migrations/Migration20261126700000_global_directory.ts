import { Migration } from '@mikro-orm/migrations';

const PLATFORM = '(select meridian_platform_scope())';
const COMMUNITY = '(select meridian_current_community())';
/** A community's directory rows: visible to a transaction of that community, or to platform work (the projector). */
const IN_COMMUNITY = `community_id = ${COMMUNITY} or ${PLATFORM}`;

/**
 * The community's global directory (issue 6, ADR 0015): a projection of every
 * account of every tenant of a community into people, kept by the projector
 * from the outbox events the relay hands it (`directory_inbox`).
 *
 * - `directory_settings`: the community's correlation and authority rules.
 * - `person`: one row per person, with the resolved attributes, lower-cased
 *   sort keys for keyset paging, and the attributes an admin pinned to a tenant.
 * - `directory_account`: each account's link to its person and a snapshot of
 *   what it contributes (so that reading people never touches tenant tables).
 * - `directory_account_key`: correlation keys, for the lookup of candidates.
 * - `directory_account_group`: direct group memberships of accounts.
 * - `directory_conflict`: what the rules could not settle, for an admin.
 * - `directory_inbox`: resources whose projection is due, written by the relay
 *   in the transaction that dispatches their outbox events.
 *
 * Row-level security: a third setting, `meridian.community_id`, opens one
 * community's directory (and lets that transaction read the community's
 * tenant rows, for their slugs); tenant transactions see none of it.
 */
export class Migration20261126700000_global_directory extends Migration {
  override up(): void {
    this.addSql(`
      create function meridian_current_community() returns uuid
        language sql stable parallel safe
        as $f$ select nullif(current_setting('meridian.community_id', true), '')::uuid $f$;

      create table directory_settings (
        community_id uuid primary key references community (id) on delete cascade,
        correlation text[] not null,
        authority jsonb not null default '{}',
        updated_at timestamptz not null
      );

      create table person (
        id uuid primary key,
        community_id uuid not null references community (id) on delete cascade,
        display_name text null,
        given_name text null,
        family_name text null,
        email text null,
        phone_number text null,
        title text null,
        department text null,
        organization text null,
        division text null,
        cost_center text null,
        employee_number text null,
        manager_person_id uuid null,
        active boolean not null,
        display_name_key text not null default '',
        family_name_key text not null default '',
        sources jsonb not null default '{}',
        pinned jsonb not null default '{}',
        conflict_count integer not null default 0,
        version integer not null default 1,
        created_at timestamptz not null,
        updated_at timestamptz not null
      );
      create index person_community_display_name_index on person (community_id, display_name_key, id);
      create index person_community_family_name_index on person (community_id, family_name_key, id);
      create index person_community_updated_index on person (community_id, updated_at, id);
      create index person_community_created_index on person (community_id, created_at, id);
      create index person_community_employee_number_index on person (community_id, (coalesce(employee_number, '')), id);
      create index person_community_email_index on person (community_id, email);
      create index person_manager_index on person (manager_person_id);

      create table directory_account (
        tenant_id uuid not null references tenant (id) on delete cascade,
        user_id uuid not null,
        community_id uuid not null,
        person_id uuid not null references person (id),
        -- rule:<attribute> when a correlation rule linked it, manual when an admin did, none when it stands alone.
        link text not null,
        -- Linked or unlinked by hand: correlation leaves it where the admin put it.
        pinned boolean not null default false,
        user_name text not null,
        external_id text null,
        display_name text null,
        active boolean not null,
        account_values jsonb not null,
        user_version integer not null,
        linked_at timestamptz not null,
        updated_at timestamptz not null,
        primary key (tenant_id, user_id)
      );
      create index directory_account_person_index on directory_account (person_id);
      create index directory_account_manager_index on directory_account (tenant_id, (account_values ->> 'manager'));

      create table directory_account_key (
        community_id uuid not null,
        key text not null,
        tenant_id uuid not null,
        user_id uuid not null,
        primary key (community_id, key, tenant_id, user_id),
        foreign key (tenant_id, user_id) references directory_account (tenant_id, user_id) on delete cascade
      );
      create index directory_account_key_account_index on directory_account_key (tenant_id, user_id);

      create table directory_account_group (
        tenant_id uuid not null,
        user_id uuid not null,
        group_id uuid not null,
        community_id uuid not null,
        display_name text not null,
        primary key (tenant_id, user_id, group_id)
      );
      create index directory_account_group_group_index on directory_account_group (tenant_id, group_id);

      create table directory_conflict (
        id uuid primary key,
        community_id uuid not null references community (id) on delete cascade,
        -- attribute: the person's accounts disagree; correlation: an account matches several people.
        kind text not null check (kind in ('attribute', 'correlation')),
        person_id uuid null references person (id) on delete cascade,
        attribute text null,
        tenant_id uuid null,
        user_id uuid null,
        candidates jsonb not null,
        created_at timestamptz not null,
        updated_at timestamptz not null
      );
      create unique index directory_conflict_attribute_key on directory_conflict (person_id, attribute) where kind = 'attribute';
      create unique index directory_conflict_account_key on directory_conflict (tenant_id, user_id) where kind = 'correlation';
      create index directory_conflict_community_index on directory_conflict (community_id, created_at, id);

      create table directory_inbox (
        tenant_id uuid not null references tenant (id) on delete cascade,
        resource_type text not null check (resource_type in ('User', 'Group')),
        resource_id uuid not null,
        community_id uuid not null,
        enqueued_at timestamptz not null,
        not_before timestamptz not null,
        attempts integer not null default 0,
        last_error text null,
        primary key (tenant_id, resource_type, resource_id)
      );
      create index directory_inbox_due_index on directory_inbox (not_before);

      do $$
      declare
        t text;
      begin
        foreach t in array array['directory_settings', 'person', 'directory_account', 'directory_account_key',
                                 'directory_account_group', 'directory_conflict', 'directory_inbox'] loop
          execute format('alter table %I enable row level security, force row level security', t);
        end loop;
      end
      $$;
      create policy community_directory on directory_settings using (${IN_COMMUNITY}) with check (${IN_COMMUNITY});
      create policy community_directory on person using (${IN_COMMUNITY}) with check (${IN_COMMUNITY});
      create policy community_directory on directory_account using (${IN_COMMUNITY}) with check (${IN_COMMUNITY});
      create policy community_directory on directory_account_key using (${IN_COMMUNITY}) with check (${IN_COMMUNITY});
      create policy community_directory on directory_account_group using (${IN_COMMUNITY}) with check (${IN_COMMUNITY});
      create policy community_directory on directory_conflict using (${IN_COMMUNITY}) with check (${IN_COMMUNITY});
      -- Only the relay and the projector (platform work) touch the inbox.
      create policy platform_only on directory_inbox using (${PLATFORM}) with check (${PLATFORM});

      -- A community's transaction reads its community and tenants (names, slugs), and writes neither.
      create policy tenant_community_read on tenant for select using (community_id = ${COMMUNITY});
      create policy community_self_read on community for select using (id = ${COMMUNITY});
    `);
  }

  override down(): void {
    this.addSql(`
      drop policy community_self_read on community;
      drop policy tenant_community_read on tenant;
      drop table directory_inbox;
      drop table directory_conflict;
      drop table directory_account_group;
      drop table directory_account_key;
      drop table directory_account;
      drop table person;
      drop table directory_settings;
      drop function meridian_current_community();
    `);
  }
}
