import { Migration } from '@mikro-orm/migrations';

/**
 * `meridian_update_user_in_tenant(…)`: a User's update at the version that was read without a lock, its outbox event
 * and its chained audit entry, as one prepared call of a function whose statements are static (ADR 0039, ADR 0040).
 * It does what `meridian_update_in_tenant` does with the statement the store composed (migration 20261210200100),
 * without the composed text, which PostgreSQL parsed and planned at every PATCH and PUT.
 *
 * When the update touches no row (the User changed or went since it was read), the function raises SQLSTATE `MRD01`
 * before anything else is written, and the call, its own transaction, writes nothing; the store does the work again
 * from a new read. The row is locked by the update before the audit chain's lock is taken, as in every transaction
 * that updates and then records. SECURITY INVOKER: the row-level security policies apply to its statements.
 */
export class Migration20261211000100_update_user_in_tenant extends Migration {
  override up(): void {
    this.addSql(`
      create function meridian_update_user_in_tenant(
          p_tenant uuid,
          -- the row, at the version read
          p_id uuid, p_version integer, p_user_name text, p_external_id text, p_active boolean, p_attributes jsonb,
          p_extension_schemas text[], p_password_hash text, p_now timestamptz,
          -- the outbox event
          p_type text, p_resource_type text, p_resource_id text, p_resource_version integer, p_request_id text,
          p_event_at timestamptz, p_members_delta jsonb,
          -- the audit entry
          p_chain text, p_audit_tenant uuid, p_actor_type text, p_actor_id text, p_action text, p_audit_resource_type text,
          p_audit_resource_id text, p_audit_request_id text, p_source_address text, p_diff jsonb, p_created_at timestamptz,
          p_part1 text, p_part2 text, p_part3 text, p_anchor_seq bigint, p_anchor_hash text)
        returns void
        language plpgsql
        as $f$
        begin
          perform set_config('meridian.tenant_id', p_tenant::text, true);
          update scim_user
             set user_name = p_user_name, external_id = p_external_id, active = p_active, attributes = p_attributes,
                 extension_schemas = p_extension_schemas, password_hash = coalesce(p_password_hash, password_hash),
                 version = version + 1, updated_at = p_now
           where tenant_id = p_tenant and id = p_id and version = p_version;
          if not found then
            raise exception 'The row changed since it was read.' using errcode = 'MRD01';
          end if;
          insert into outbox_event (tenant_id, type, resource_type, resource_id, resource_version, request_id, created_at,
                                    members_delta)
          values (p_tenant, p_type, p_resource_type, p_resource_id, p_resource_version, p_request_id, p_event_at,
                  p_members_delta);
          perform meridian_append_audit(p_chain, p_audit_tenant, p_actor_type, p_actor_id, p_action, p_audit_resource_type,
                                        p_audit_resource_id, p_audit_request_id, p_source_address, p_diff, p_created_at,
                                        p_part1, p_part2, p_part3, p_anchor_seq, p_anchor_hash);
        end
        $f$;
    `);
  }

  override down(): void {
    this.addSql(`drop function meridian_update_user_in_tenant(uuid, uuid, integer, text, text, boolean, jsonb, text[], text,
      timestamptz, text, text, text, integer, text, timestamptz, jsonb,
      text, uuid, text, text, text, text, text, text, text, jsonb, timestamptz, text, text, text, bigint, text);`);
  }
}
