import { Migration } from '@mikro-orm/migrations';

/**
 * A replication worker's batched reads and writes in one statement each
 * (ADR 0035), as the SCIM reads do (ADR 0022): each function sets the tenant
 * with `set_config(..., true)` and does the work, so a call sent outside BEGIN
 * is one transaction of one round trip instead of `begin`, `set_config`, the
 * statements and `commit`. Their SQL is static: PL/pgSQL keeps the plans per
 * connection, and the store calls them as named prepared statements.
 *
 * - `meridian_replication_load(tenant, target ids, kinds, local ids)` answers
 *   the targets and the links of a batch of jobs (key i is the i-th element of
 *   each array), as JSON arrays of their rows.
 * - `meridian_replication_save(tenant, now, writes, audits, users, groups)`
 *   upserts the links of `writes` (a JSON array, in the order given: the
 *   caller sorts it by key, so two batches lock shared links in one order)
 *   with the rules of `writeLink` (versions only grow; a final status over a
 *   link queued for a newer version stays pending; a field a write leaves out
 *   keeps its value), appends the audit entries of `audits` through
 *   `meridian_append_audit`, and answers the current versions of the `users`
 *   and `groups` named (a deleted resource answers no row).
 *
 * Both run as the caller (SECURITY INVOKER): row-level security applies as to
 * any statement of the application role.
 */
export class Migration20261209200000_replication_batch_functions extends Migration {
  override up(): void {
    this.addSql(`
      create function meridian_replication_load(p_tenant uuid, p_target_ids uuid[], p_kinds text[], p_local_ids uuid[])
        returns table (targets jsonb, links jsonb)
        language plpgsql
        as $f$
        #variable_conflict use_column
        begin
          perform set_config('meridian.tenant_id', p_tenant::text, true);
          return query select
            (select coalesce(jsonb_agg(to_jsonb(t)), '[]'::jsonb)
               from (select r.id, r.tenant_id, r.name, r.kind, r.config, r.delete_mode, r.grace_seconds, r.scoping, r.mapping,
                            r.push_passwords, r.enabled, r.paused, r.rate_limit_max, r.rate_limit_duration_ms, r.concurrency,
                            r.max_attempts, r.circuit_state, r.consecutive_failures, r.circuit_opened_at, r.created_at,
                            r.updated_at, r.jit, r.retire_at, r.retired_at, r.successor_id,
                            coalesce((select array_agg(s.value) from jsonb_array_elements_text(r.config -> '$secrets') s), '{}')
                              as secret_names
                       from replication_target r
                      where r.id = any(p_target_ids)) t),
            (select coalesce(jsonb_agg(to_jsonb(x)), '[]'::jsonb)
               from (select l.target_id, l.tenant_id, l.resource_kind, l.local_id, l.remote_id, l.status, l.wanted_version,
                            l.handled_version, l.pushed_version, l.pushed_hash, l.pushed_attributes, l.attempts, l.last_error,
                            l.grace_until, l.request_id, l.updated_at
                       from replication_link l
                       join unnest(p_target_ids, p_kinds, p_local_ids) as k(target_id, resource_kind, local_id)
                         on l.target_id = k.target_id and l.resource_kind = k.resource_kind and l.local_id = k.local_id) x);
        end
        $f$;

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

  override down(): void {
    this.addSql(`
      drop function meridian_replication_save(uuid, timestamptz, jsonb, jsonb, uuid[], uuid[]);
      drop function meridian_replication_load(uuid, uuid[], text[], uuid[]);
    `);
  }
}
