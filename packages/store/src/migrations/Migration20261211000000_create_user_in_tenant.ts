import { Migration } from '@mikro-orm/migrations';

/**
 * `meridian_create_user_in_tenant(…)`: the create of a User, its outbox event and its chained audit entry, as one
 * prepared call of a function whose statements are static (ADR 0040). It does what `meridian_write_in_tenant` did
 * with the statement the store composed (migration 20261207640100), without the composed text: PostgreSQL parsed and
 * planned that text at every create; PL/pgSQL keeps the plans of these three statements for the session.
 *
 * Sent outside BEGIN, the call is its own transaction: the row, the event and the audit entry commit together or not
 * at all. It runs as the caller (SECURITY INVOKER), in the tenant it sets first, so the row-level security policies
 * apply as to any statement of the application role. The audit arguments are those of `meridian_append_audit`,
 * which takes the chain's lock and appends after its head.
 */
export class Migration20261211000000_create_user_in_tenant extends Migration {
  override up(): void {
    this.addSql(`
      create function meridian_create_user_in_tenant(
          p_tenant uuid,
          -- the row
          p_id uuid, p_user_name text, p_external_id text, p_active boolean, p_attributes jsonb, p_extension_schemas text[],
          p_password_hash text, p_now timestamptz,
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
          insert into scim_user (id, tenant_id, user_name, external_id, active, attributes, extension_schemas, password_hash,
                                 version, created_at, updated_at)
          values (p_id, p_tenant, p_user_name, p_external_id, p_active, p_attributes, p_extension_schemas, p_password_hash,
                  1, p_now, p_now);
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
    this.addSql(`drop function meridian_create_user_in_tenant(uuid, uuid, text, text, boolean, jsonb, text[], text, timestamptz,
      text, text, text, integer, text, timestamptz, jsonb,
      text, uuid, text, text, text, text, text, text, text, jsonb, timestamptz, text, text, text, bigint, text);`);
  }
}
