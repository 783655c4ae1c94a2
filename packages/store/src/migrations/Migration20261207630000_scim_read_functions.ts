import { Migration } from '@mikro-orm/migrations';

/**
 * SCIM reads in one round trip (ADR 0022). Under row-level security a read
 * needs the tenant set in its transaction (ADR 0010); a function that sets it
 * (`set_config(..., true)`: local to the caller's transaction, which for one
 * statement outside BEGIN is that statement) and then runs the query lets one
 * statement do both, with no BEGIN and COMMIT around it. Each answers the
 * rows of the page, the total of the filter (`count(*) over ()`), and the
 * related resources as JSON: a User's groups (direct and through nested
 * groups, RFC 7643 §4.1.2) or a Group's members.
 *
 * - `meridian_read_users(tenant, sql)` and `meridian_read_groups(tenant, sql)`
 *   run a query the store composed (any filter, sort and page), with its
 *   literals already quoted: PostgreSQL plans it at each call, as before.
 * - `meridian_user_by_id` and `meridian_users_by_user_name` are the two reads
 *   clients send most (Entra ID and Okta look a user up by `userName eq`
 *   before each provisioning step, then read it by id): static SQL, whose
 *   plan PL/pgSQL keeps per connection, called as prepared statements.
 *
 * They run as the caller (SECURITY INVOKER): the policies apply as to any
 * other statement of the application role.
 */
export class Migration20261207630000_scim_read_functions extends Migration {
  override up(): void {
    this.addSql(`
      create function meridian_read_users(p_tenant uuid, p_query text)
        returns table (id uuid, external_id text, attributes jsonb, extension_schemas text[], version integer,
                       created_at timestamptz, updated_at timestamptz, sort_key text, total bigint, related jsonb)
        language plpgsql
        as $f$
        begin
          perform set_config('meridian.tenant_id', p_tenant::text, true);
          return query execute p_query;
        end
        $f$;

      create function meridian_read_groups(p_tenant uuid, p_query text)
        returns table (id uuid, external_id text, attributes jsonb, extension_schemas text[], version integer,
                       created_at timestamptz, updated_at timestamptz, sort_key text, total bigint, related jsonb)
        language plpgsql
        as $f$
        begin
          perform set_config('meridian.tenant_id', p_tenant::text, true);
          return query execute p_query;
        end
        $f$;

      create function meridian_user_groups(p_tenant uuid, p_user uuid) returns jsonb
        language sql stable
        as $f$
          with recursive memberships (member_id, group_id, direct) as (
            select gm.member_id, gm.group_id, true from group_member gm where gm.tenant_id = p_tenant and gm.member_id = p_user
            union
            select m.member_id, gm.group_id, false
              from memberships m join group_member gm on gm.tenant_id = p_tenant and gm.member_id = m.group_id
          )
          select coalesce(jsonb_agg(jsonb_build_object('value', x.group_id, 'display', x.display_name,
                                                       'type', case when x.direct then 'direct' else 'indirect' end)
                                    order by x.group_id), '[]'::jsonb)
            from (select m.group_id, g.display_name, bool_or(m.direct) as direct
                    from memberships m join scim_group g on g.id = m.group_id
                   group by m.group_id, g.display_name) x
        $f$;

      create function meridian_user_by_id(p_tenant uuid, p_id uuid, p_groups boolean)
        returns table (id uuid, external_id text, attributes jsonb, extension_schemas text[], version integer,
                       created_at timestamptz, updated_at timestamptz, sort_key text, total bigint, related jsonb)
        language plpgsql
        as $f$
        #variable_conflict use_column
        begin
          perform set_config('meridian.tenant_id', p_tenant::text, true);
          return query
            select r.id, r.external_id, r.attributes, r.extension_schemas, r.version, r.created_at, r.updated_at,
                   null::text, 1::bigint, case when p_groups then meridian_user_groups(p_tenant, r.id) end
              from scim_user r
             where r.tenant_id = p_tenant and r.id = p_id;
        end
        $f$;

      create function meridian_users_by_user_name(p_tenant uuid, p_user_name text, p_count integer, p_offset integer, p_groups boolean)
        returns table (id uuid, external_id text, attributes jsonb, extension_schemas text[], version integer,
                       created_at timestamptz, updated_at timestamptz, sort_key text, total bigint, related jsonb)
        language plpgsql
        as $f$
        #variable_conflict use_column
        begin
          perform set_config('meridian.tenant_id', p_tenant::text, true);
          return query
            select p.id, p.external_id, p.attributes, p.extension_schemas, p.version, p.created_at, p.updated_at,
                   p.created_at::text, p.total, case when p_groups then meridian_user_groups(p_tenant, p.id) end
              from (select r.*, count(*) over () as total
                      from scim_user r
                     where r.tenant_id = p_tenant and r.user_name_key = lower(p_user_name)
                     order by r.created_at, r.id
                     limit p_count offset p_offset) p
             order by p.created_at, p.id;
        end
        $f$;
    `);
  }

  override down(): void {
    this.addSql(`
      drop function meridian_users_by_user_name(uuid, text, integer, integer, boolean);
      drop function meridian_user_by_id(uuid, uuid, boolean);
      drop function meridian_user_groups(uuid, uuid);
      drop function meridian_read_groups(uuid, text);
      drop function meridian_read_users(uuid, text);
    `);
  }
}
