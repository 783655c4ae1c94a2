import { Migration } from '@mikro-orm/migrations';

/**
 * `meridian_replication_save` (migration 20261209200000) takes `p_durable`:
 * false for a batch that holds only create intents, which then commits
 * without waiting for its WAL to reach the disk (`synchronous_commit = off`
 * for that transaction alone; ADR 0035, decision 3). Everything else it does
 * is unchanged. A commit that does not wait is visible at once and is lost
 * only if PostgreSQL itself stops within a fraction of a second; the next
 * durable commit of any session makes it durable too.
 */
export class Migration20261209200100_replication_save_durability extends Migration {
  override up(): void {
    this.addSql(`
      drop function meridian_replication_save(uuid, timestamptz, jsonb, jsonb, uuid[], uuid[]);

      create function meridian_replication_save(p_tenant uuid, p_now timestamptz, p_writes jsonb, p_audits jsonb,
                                                p_users uuid[], p_groups uuid[], p_durable boolean)
        returns table (kind text, id uuid, version integer)
        language plpgsql
        as $f$
        #variable_conflict use_column
        declare
          w record;
          a record;
        begin
          perform set_config('meridian.tenant_id', p_tenant::text, true);
          -- A batch of create intents only: committed without waiting for the disk (ADR 0035, decision 3).
          if not p_durable then
            perform set_config('synchronous_commit', 'off', true);
          end if;
          for w in
            select * from rows from (jsonb_to_recordset(p_writes) as (
                     target_id uuid, kind text, local_id uuid, remote_id text, status text, handled integer,
                     set_pushed_version boolean, pushed_version integer, set_pushed_hash boolean, pushed_hash text,
                     set_pushed_attributes boolean, pushed_attributes jsonb, set_attempts boolean, attempts integer,
                     set_last_error boolean, last_error text, set_grace_until boolean, grace_until timestamptz,
                     set_request_id boolean, request_id text)) with ordinality as x
             order by x.ordinality
          loop
            insert into replication_link as l (target_id, tenant_id, resource_kind, local_id, remote_id, status, wanted_version,
                   handled_version, pushed_version, pushed_hash, pushed_attributes, attempts, last_error, grace_until, request_id,
                   updated_at)
            values (w.target_id, p_tenant, w.kind, w.local_id, w.remote_id, w.status, coalesce(w.handled, 0), coalesce(w.handled, 0),
                    w.pushed_version, w.pushed_hash, w.pushed_attributes, coalesce(w.attempts, 0), w.last_error, w.grace_until,
                    w.request_id, p_now)
            on conflict (target_id, resource_kind, local_id) do update set
              remote_id = excluded.remote_id,
              handled_version = greatest(l.handled_version, coalesce(w.handled, l.wanted_version)),
              status = case
                when excluded.status in ('synced', 'out_of_scope', 'deactivated', 'grace', 'deleted')
                  and l.wanted_version > greatest(l.handled_version, coalesce(w.handled, l.wanted_version))
                then 'pending' else excluded.status end,
              pushed_version = case when w.set_pushed_version then excluded.pushed_version else l.pushed_version end,
              pushed_hash = case when w.set_pushed_hash then excluded.pushed_hash else l.pushed_hash end,
              pushed_attributes = case when w.set_pushed_attributes then excluded.pushed_attributes else l.pushed_attributes end,
              attempts = case when w.set_attempts then excluded.attempts else l.attempts end,
              last_error = case when w.set_last_error then excluded.last_error else l.last_error end,
              grace_until = case when w.set_grace_until then excluded.grace_until else l.grace_until end,
              request_id = case when w.set_request_id then excluded.request_id else l.request_id end,
              updated_at = excluded.updated_at;
          end loop;
          for a in
            select * from rows from (jsonb_to_recordset(p_audits) as (
                     chain text, tenant_id uuid, actor_type text, actor_id text, action text, resource_type text, resource_id text,
                     request_id text, source_address text, diff text, part1 text, part2 text, part3 text)) with ordinality as x
             order by x.ordinality
          loop
            perform meridian_append_audit(a.chain, a.tenant_id, a.actor_type, a.actor_id, a.action, a.resource_type,
                                          a.resource_id, a.request_id, a.source_address, a.diff::jsonb, p_now, a.part1, a.part2,
                                          a.part3, null, null);
          end loop;
          return query
            select 'User'::text, u.id, u.version from scim_user u where u.tenant_id = p_tenant and u.id = any(p_users)
            union all
            select 'Group'::text, g.id, g.version from scim_group g where g.tenant_id = p_tenant and g.id = any(p_groups);
        end
        $f$;
    `);
  }

  override down(): void {
    this.addSql(`
      drop function meridian_replication_save(uuid, timestamptz, jsonb, jsonb, uuid[], uuid[], boolean);

      create function meridian_replication_save(p_tenant uuid, p_now timestamptz, p_writes jsonb, p_audits jsonb,
                                                p_users uuid[], p_groups uuid[])
        returns table (kind text, id uuid, version integer)
        language plpgsql
        as $f$
        #variable_conflict use_column
        declare
          w record;
          a record;
        begin
          perform set_config('meridian.tenant_id', p_tenant::text, true);
          for w in
            select * from rows from (jsonb_to_recordset(p_writes) as (
                     target_id uuid, kind text, local_id uuid, remote_id text, status text, handled integer,
                     set_pushed_version boolean, pushed_version integer, set_pushed_hash boolean, pushed_hash text,
                     set_pushed_attributes boolean, pushed_attributes jsonb, set_attempts boolean, attempts integer,
                     set_last_error boolean, last_error text, set_grace_until boolean, grace_until timestamptz,
                     set_request_id boolean, request_id text)) with ordinality as x
             order by x.ordinality
          loop
            insert into replication_link as l (target_id, tenant_id, resource_kind, local_id, remote_id, status, wanted_version,
                   handled_version, pushed_version, pushed_hash, pushed_attributes, attempts, last_error, grace_until, request_id,
                   updated_at)
            values (w.target_id, p_tenant, w.kind, w.local_id, w.remote_id, w.status, coalesce(w.handled, 0), coalesce(w.handled, 0),
                    w.pushed_version, w.pushed_hash, w.pushed_attributes, coalesce(w.attempts, 0), w.last_error, w.grace_until,
                    w.request_id, p_now)
            on conflict (target_id, resource_kind, local_id) do update set
              remote_id = excluded.remote_id,
              handled_version = greatest(l.handled_version, coalesce(w.handled, l.wanted_version)),
              status = case
                when excluded.status in ('synced', 'out_of_scope', 'deactivated', 'grace', 'deleted')
                  and l.wanted_version > greatest(l.handled_version, coalesce(w.handled, l.wanted_version))
                then 'pending' else excluded.status end,
              pushed_version = case when w.set_pushed_version then excluded.pushed_version else l.pushed_version end,
              pushed_hash = case when w.set_pushed_hash then excluded.pushed_hash else l.pushed_hash end,
              pushed_attributes = case when w.set_pushed_attributes then excluded.pushed_attributes else l.pushed_attributes end,
              attempts = case when w.set_attempts then excluded.attempts else l.attempts end,
              last_error = case when w.set_last_error then excluded.last_error else l.last_error end,
              grace_until = case when w.set_grace_until then excluded.grace_until else l.grace_until end,
              request_id = case when w.set_request_id then excluded.request_id else l.request_id end,
              updated_at = excluded.updated_at;
          end loop;
          for a in
            select * from rows from (jsonb_to_recordset(p_audits) as (
                     chain text, tenant_id uuid, actor_type text, actor_id text, action text, resource_type text, resource_id text,
                     request_id text, source_address text, diff text, part1 text, part2 text, part3 text)) with ordinality as x
             order by x.ordinality
          loop
            perform meridian_append_audit(a.chain, a.tenant_id, a.actor_type, a.actor_id, a.action, a.resource_type,
                                          a.resource_id, a.request_id, a.source_address, a.diff::jsonb, p_now, a.part1, a.part2,
                                          a.part3, null, null);
          end loop;
          return query
            select 'User'::text, u.id, u.version from scim_user u where u.tenant_id = p_tenant and u.id = any(p_users)
            union all
            select 'Group'::text, g.id, g.version from scim_group g where g.tenant_id = p_tenant and g.id = any(p_groups);
        end
        $f$;
    `);
  }
}
