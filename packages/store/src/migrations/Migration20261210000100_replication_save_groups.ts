import { Migration } from '@mikro-orm/migrations';

/** The body of `meridian_replication_save` (migration 20261209200100) up to the audit entries; `after` follows them. */
const body = (after: string) => `
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
          ${after}
        end`;

/**
 * `meridian_replication_save` (migration 20261209200100) also answers the
 * direct groups of the users in `p_group_users` (ADR 0037): the users a batch
 * has just created or adopted at a target, whose groups are pushed again now
 * that the target holds them. The worker read them in a statement of its own
 * after the outcome's commit, so that a group job that missed the user (it
 * read the links before that commit) is followed by one that finds it.
 *
 * Here they are read in the outcome's transaction, after the tenant's audit
 * chain lock is held (`meridian_append_audit` takes it for the batch's
 * `replication.delivered` entries; the function takes it itself otherwise),
 * and the lock is held until the commit. Every change of a group's members is
 * audited in the tenant's chain in its own transaction, under that lock: one
 * that committed before the lock was taken is in the read (each statement of
 * the function reads what committed before it started); one that had not yet
 * committed waits for the lock, so it commits after the outcome, and the job
 * of its group starts later still and finds the user's link. Answered as rows
 * of kind `Groups` (the user's id, its direct groups' ids in `groups`); a user
 * deleted meanwhile has no row.
 */
export class Migration20261210000100_replication_save_groups extends Migration {
  override up(): void {
    this.addSql(`
      drop function meridian_replication_save(uuid, timestamptz, jsonb, jsonb, uuid[], uuid[], boolean);

      create function meridian_replication_save(p_tenant uuid, p_now timestamptz, p_writes jsonb, p_audits jsonb,
                                                p_users uuid[], p_groups uuid[], p_durable boolean, p_group_users uuid[])
        returns table (kind text, id uuid, version integer, groups uuid[])
        language plpgsql
        as $f$${body(`
          if cardinality(p_group_users) > 0 then
            perform pg_advisory_xact_lock(hashtextextended('audit:' || p_tenant::text, 7));
          end if;
          return query
            select 'User'::text, u.id, u.version, null::uuid[] from scim_user u where u.tenant_id = p_tenant and u.id = any(p_users)
            union all
            select 'Group'::text, g.id, g.version, null::uuid[] from scim_group g where g.tenant_id = p_tenant and g.id = any(p_groups)
            union all
            select 'Groups'::text, u.id, null::integer,
                   array(select gm.group_id from group_member gm where gm.tenant_id = p_tenant and gm.member_id = u.id order by gm.group_id)
              from scim_user u where u.tenant_id = p_tenant and u.id = any(p_group_users);`)}
        $f$;
    `);
  }

  override down(): void {
    this.addSql(`
      drop function meridian_replication_save(uuid, timestamptz, jsonb, jsonb, uuid[], uuid[], boolean, uuid[]);

      create function meridian_replication_save(p_tenant uuid, p_now timestamptz, p_writes jsonb, p_audits jsonb,
                                                p_users uuid[], p_groups uuid[], p_durable boolean)
        returns table (kind text, id uuid, version integer)
        language plpgsql
        as $f$${body(`
          return query
            select 'User'::text, u.id, u.version from scim_user u where u.tenant_id = p_tenant and u.id = any(p_users)
            union all
            select 'Group'::text, g.id, g.version from scim_group g where g.tenant_id = p_tenant and g.id = any(p_groups);`)}
        $f$;
    `);
  }
}
