import { Migration } from '@mikro-orm/migrations';

/**
 * A batch of replication jobs reads its targets, links and Users in one
 * statement (ADR 0037): `meridian_replication_load_users` answers what
 * `meridian_replication_load` (migration 20261209200000) answers, and the
 * Users named in `p_users` with their groups as a JSON array of rows in the
 * shape of the SCIM read functions (migration 20261207630000), in created
 * order. The worker read them with a composed `meridian_read_users`, a second
 * round trip whose SQL was planned at each call; this one is static, and the
 * store calls it as a named prepared statement. It runs as the caller
 * (SECURITY INVOKER): row-level security applies, in the tenant it sets.
 */
export class Migration20261210000200_replication_load_users extends Migration {
  override up(): void {
    this.addSql(`
      create function meridian_replication_load_users(p_tenant uuid, p_target_ids uuid[], p_kinds text[], p_local_ids uuid[],
                                                      p_users uuid[])
        returns table (targets jsonb, links jsonb, users jsonb)
        language plpgsql
        as $f$
        #variable_conflict use_column
        begin
          perform set_config('meridian.tenant_id', p_tenant::text, true);
          return query
            select l.targets, l.links,
                   (select coalesce(jsonb_agg(jsonb_build_object(
                             'id', r.id, 'external_id', r.external_id, 'attributes', r.attributes,
                             'extension_schemas', r.extension_schemas, 'version', r.version, 'created_at', r.created_at,
                             'updated_at', r.updated_at, 'related', meridian_user_groups(p_tenant, r.id))
                           order by r.created_at, r.id), '[]'::jsonb)
                      from scim_user r
                     where r.tenant_id = p_tenant and r.id = any(p_users))
              from meridian_replication_load(p_tenant, p_target_ids, p_kinds, p_local_ids) l;
        end
        $f$;
    `);
  }

  override down(): void {
    this.addSql('drop function meridian_replication_load_users(uuid, uuid[], text[], uuid[], uuid[]);');
  }
}
