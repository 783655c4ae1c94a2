import { Migration } from '@mikro-orm/migrations';

/** The tenant of the transaction: a scalar sub-select, so PostgreSQL reads the setting once per statement (an InitPlan), not per row. */
const TENANT = '(select meridian_current_tenant())';
/** True in a transaction doing cross-tenant work. */
const PLATFORM = '(select meridian_platform_scope())';

/** The policy condition of a row whose tenant is in `column`: the transaction's tenant, or platform scope. */
function visible(column: string): string {
  return `${column} = ${TENANT} or ${PLATFORM}`;
}

/**
 * Tenant isolation a second time, in PostgreSQL (issue 4, ADR 0010).
 *
 * - The role `meridian_app` (NOLOGIN, NOSUPERUSER, NOBYPASSRLS) gets DML on the
 *   tables and nothing else; the application's connections act as it. Roles are
 *   cluster-wide: a migration of another database may have made it already, or be
 *   making it at this moment.
 * - Every tenant table (every table with a `tenant_id` column: `scim_user`,
 *   `scim_group`, `group_member`, `api_token`, `outbox_event`, `audit_event`,
 *   `schema_extension`, and those of migrations listed before this one) has
 *   row-level security enabled and forced (the owner is bound too), with one
 *   policy, `tenant_isolation`, that shows and accepts only rows of the tenant in
 *   `meridian.tenant_id`, set per transaction with `set_config(…, true)`, or
 *   every row when `meridian.scope` is `'platform'` (cross-tenant work). Rows
 *   without a tenant (platform tokens and events) are platform rows. Nothing is
 *   visible when neither is set. A table that already has row-level security
 *   keeps its own policies. Tables of later migrations need their own policy,
 *   written like these (`meridian_current_tenant()`, `meridian_platform_scope()`);
 *   the row-level security test fails for a tenant table without one.
 * - `tenant`: a tenant sees and updates its own row; only the platform creates or
 *   deletes tenants. `community`: a tenant sees its own community; only the
 *   platform writes.
 *
 * The policies compare with scalar sub-selects of two small functions, which
 * PostgreSQL evaluates once per statement (an InitPlan): a per-row function call
 * made a 200,000-row count four times slower (ADR 0010).
 */
export class Migration20261126300000_row_level_security extends Migration {
  override up(): void {
    this.addSql(`
      do $$
      begin
        if not exists (select 1 from pg_roles where rolname = 'meridian_app') then
          if not exists (select 1 from pg_roles where rolname = current_user and (rolsuper or rolcreaterole)) then
            raise exception 'The role meridian_app does not exist, and % may not create it.', current_user
              using hint = 'Have an administrator run: CREATE ROLE meridian_app NOLOGIN NOSUPERUSER NOBYPASSRLS; then migrate again.';
          end if;
          begin
            create role meridian_app nologin nosuperuser nocreatedb nocreaterole nobypassrls;
          exception when duplicate_object or unique_violation then
            null; -- a concurrent migration of another database on this server created it first
          end;
        end if;
        if exists (select 1 from pg_roles where rolname = 'meridian_app' and (rolsuper or rolbypassrls)) then
          raise exception 'The role meridian_app may bypass row-level security.'
            using hint = 'Run: ALTER ROLE meridian_app NOSUPERUSER NOBYPASSRLS; then migrate again.';
        end if;
        -- The migrating user may also serve the application (one user for both): it must be able to act as meridian_app.
        if not pg_has_role(current_user, 'meridian_app', 'usage') then
          begin
            execute format('grant meridian_app to %I', current_user);
          exception when insufficient_privilege or duplicate_object or unique_violation then
            raise notice '% cannot act as meridian_app: use a DATABASE_URL user that is a member of it.', current_user;
          end;
        end if;

        execute format('grant usage on schema %I to meridian_app', current_schema());
        execute format('grant select, insert, update, delete on all tables in schema %I to meridian_app', current_schema());
        execute format('grant usage on all sequences in schema %I to meridian_app', current_schema());
        -- Tables of later migrations: a tenant table among them needs its own policy (the row-level security test checks).
        execute format('alter default privileges in schema %I grant select, insert, update, delete on tables to meridian_app', current_schema());
        execute format('alter default privileges in schema %I grant usage on sequences to meridian_app', current_schema());
      end
      $$;

      -- The application may read which migrations ran (the hub checks at start), not change them.
      revoke insert, update, delete on mikro_orm_migrations from meridian_app;

      create function meridian_current_tenant() returns uuid
        language sql stable parallel safe
        as $f$ select nullif(current_setting('meridian.tenant_id', true), '')::uuid $f$;

      create function meridian_platform_scope() returns boolean
        language sql stable parallel safe
        as $f$ select coalesce(current_setting('meridian.scope', true) = 'platform', false) $f$;

      do $$
      declare
        tenant_table regclass;
      begin
        for tenant_table in
          select c.oid::regclass
            from pg_class c join pg_attribute a on a.attrelid = c.oid
           where c.relnamespace = current_schema()::regnamespace and c.relkind in ('r', 'p')
             and a.attname = 'tenant_id' and not a.attisdropped and not c.relrowsecurity
           order by c.relname
        loop
          execute format('alter table %s enable row level security, force row level security', tenant_table);
          execute format('create policy tenant_isolation on %s using (%s) with check (%s)', tenant_table, $v$${visible('tenant_id')}$v$, $v$${visible('tenant_id')}$v$);
        end loop;
      end
      $$;

      alter table tenant enable row level security, force row level security;
      create policy tenant_read on tenant for select using (${visible('id')});
      create policy tenant_update on tenant for update using (${visible('id')}) with check (${visible('id')});
      create policy tenant_insert on tenant for insert with check (${PLATFORM});
      create policy tenant_delete on tenant for delete using (${PLATFORM});

      alter table community enable row level security, force row level security;
      create policy community_read on community for select
        using (${PLATFORM} or id in (select t.community_id from tenant t where t.id = ${TENANT}));
      create policy community_write on community using (${PLATFORM}) with check (${PLATFORM});
    `);
  }

  override down(): void {
    this.addSql(`
      drop policy community_write on community;
      drop policy community_read on community;
      alter table community no force row level security, disable row level security;
      drop policy tenant_delete on tenant;
      drop policy tenant_insert on tenant;
      drop policy tenant_update on tenant;
      drop policy tenant_read on tenant;
      alter table tenant no force row level security, disable row level security;
      do $$
      declare
        tenant_table regclass;
      begin
        for tenant_table in
          select p.polrelid::regclass from pg_policy p join pg_class c on c.oid = p.polrelid
           where p.polname = 'tenant_isolation' and c.relnamespace = current_schema()::regnamespace
        loop
          execute format('drop policy tenant_isolation on %s', tenant_table);
          execute format('alter table %s no force row level security, disable row level security', tenant_table);
        end loop;
      end
      $$;
      drop function meridian_platform_scope();
      drop function meridian_current_tenant();
      do $$
      begin
        execute format('alter default privileges in schema %I revoke all on tables from meridian_app', current_schema());
        execute format('alter default privileges in schema %I revoke all on sequences from meridian_app', current_schema());
        execute format('revoke all on all tables in schema %I from meridian_app', current_schema());
        execute format('revoke all on all sequences in schema %I from meridian_app', current_schema());
        execute format('revoke usage on schema %I from meridian_app', current_schema());
      end
      $$;
      -- The role stays: it is cluster-wide, other databases on the server may use it.
    `);
  }
}
