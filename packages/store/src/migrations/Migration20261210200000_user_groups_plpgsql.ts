import { Migration } from '@mikro-orm/migrations';

/**
 * `meridian_user_groups` (migration 20261207630000) becomes PL/pgSQL, with the same query and answer. As a SQL
 * function with a recursive CTE it could not be inlined, and PostgreSQL planned its query again in every statement
 * that called it: about 0.5 ms of planning per SCIM read of a User (by id, `userName eq`, every filtered page) and
 * per update of a User (its `returning`), against about 0.1 ms to run it. PL/pgSQL keeps the plan of its query per
 * connection (issue 14: the hub's PostgreSQL CPU per GET by id was six times the minimal baseline's).
 */
export class Migration20261210200000_user_groups_plpgsql extends Migration {
  override up(): void {
    this.addSql(`
      create or replace function meridian_user_groups(p_tenant uuid, p_user uuid) returns jsonb
        language plpgsql stable
        as $f$
        begin
          return (
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
          );
        end
        $f$;
    `);
  }

  override down(): void {
    this.addSql(`
      create or replace function meridian_user_groups(p_tenant uuid, p_user uuid) returns jsonb
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
    `);
  }
}
