import { Migration } from '@mikro-orm/migrations';

/**
 * `emails co|sw|ew|eq` under row-level security. LIKE is not leakproof, so
 * on a table with policies PostgreSQL filters the whole tenant before it
 * (ADR 0010). The searchable text of a user's email values therefore also
 * lives in `scim_user_search`, a table the application role cannot touch at
 * all, kept by a trigger and read only through
 * `meridian_users_with_emails_like(pattern)`: a SECURITY DEFINER function
 * that answers for the tenant of the current transaction
 * (`meridian.tenant_id`, the same setting the policies trust), so its LIKE
 * runs on the trigram index.
 */
export class Migration20261126600000_email_search extends Migration {
  override up(): void {
    this.addSql(`
      create table scim_user_search (
        user_id uuid primary key references scim_user (id) on delete cascade,
        tenant_id uuid not null,
        emails_key text not null
      );
      create index scim_user_search_emails_trgm_index on scim_user_search using gin (emails_key gin_trgm_ops);
      -- No policies are needed: the application role has no privilege on the table.
      alter table scim_user_search enable row level security;
      revoke all on scim_user_search from public;
      do $$
      begin
        if exists (select 1 from pg_roles where rolname = 'meridian_app') then
          execute 'revoke all on scim_user_search from meridian_app';
        end if;
      end
      $$;

      create function meridian_sync_user_search() returns trigger
        language plpgsql security definer set search_path = public
        as $f$
        begin
          insert into scim_user_search (user_id, tenant_id, emails_key)
          values (new.id, new.tenant_id, lower((jsonb_path_query_array(new.attributes, '$.emails[*].value'))::text))
          on conflict (user_id) do update set tenant_id = excluded.tenant_id, emails_key = excluded.emails_key;
          return null;
        end
        $f$;
      revoke all on function meridian_sync_user_search() from public;
      create trigger scim_user_search_sync after insert or update of attributes, tenant_id on scim_user
        for each row execute function meridian_sync_user_search();

      insert into scim_user_search (user_id, tenant_id, emails_key)
      select id, tenant_id, lower((jsonb_path_query_array(attributes, '$.emails[*].value'))::text) from scim_user;

      create function meridian_users_with_emails_like(pattern text) returns setof uuid
        language sql stable security definer set search_path = public
        as $f$ select user_id from scim_user_search where tenant_id = meridian_current_tenant() and emails_key like pattern escape '\\' $f$;
      revoke all on function meridian_users_with_emails_like(text) from public;
      do $$
      begin
        if exists (select 1 from pg_roles where rolname = 'meridian_app') then
          execute 'grant execute on function meridian_users_with_emails_like(text) to meridian_app';
        end if;
      end
      $$;
    `);
  }
}
