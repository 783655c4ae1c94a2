import { Migration } from '@mikro-orm/migrations';

/**
 * Appends an audit entry in one statement (ADR 0023). Before, an append took
 * four round trips under the chain's advisory lock (the lock, the chain head,
 * the insert, the commit), which capped one tenant's writes. This function
 * takes the lock, reads the head, computes the entry's hash and inserts it.
 *
 * The hash is the one the verifier recomputes, unchanged: SHA-256 over the
 * canonical JSON (RFC 8785) of the entry. The store canonicalises the entry in
 * Node, where `prevHash` and `seq` are not known yet, and hands the text in
 * three parts, around those two values: both are plain scalars (64 hex digits,
 * an integer), so their canonical form is their text and the JSON is
 * `p_part1 || prev_hash || p_part2 || seq || p_part3`.
 *
 * In READ COMMITTED each statement of a volatile function reads a snapshot
 * taken when it starts: the head is read after the lock is held, so it is the
 * last committed entry of the chain (the entry another holder of the lock has
 * just committed included). `p_anchor_*` is what an empty chain continues
 * from (a prune that removed every entry up to its checkpoint); null for the
 * genesis.
 */
export class Migration20261207640000_audit_append_function extends Migration {
  override up(): void {
    this.addSql(`
      create function meridian_append_audit(
          p_chain text, p_tenant uuid, p_actor_type text, p_actor_id text, p_action text, p_resource_type text,
          p_resource_id text, p_request_id text, p_source_address text, p_diff jsonb, p_created_at timestamptz,
          p_part1 text, p_part2 text, p_part3 text, p_anchor_seq bigint, p_anchor_hash text)
        returns table (seq bigint, hash text)
        language plpgsql
        as $f$
        declare
          v_seq bigint;
          v_prev text;
          v_hash text;
        begin
          perform pg_advisory_xact_lock(hashtextextended('audit:' || p_chain, 7));
          select a.seq, a.hash into v_seq, v_prev from audit_event a where a.chain = p_chain order by a.seq desc limit 1;
          if not found then
            v_seq := coalesce(p_anchor_seq, 0);
            v_prev := coalesce(p_anchor_hash, repeat('0', 64));
          end if;
          v_seq := v_seq + 1;
          v_hash := encode(sha256(convert_to(p_part1 || v_prev || p_part2 || v_seq::text || p_part3, 'UTF8')), 'hex');
          insert into audit_event (chain, seq, tenant_id, actor_type, actor_id, action, resource_type, resource_id,
                                   request_id, source_address, diff, created_at, prev_hash, hash)
          values (p_chain, v_seq, p_tenant, p_actor_type, p_actor_id, p_action, p_resource_type, p_resource_id,
                  p_request_id, p_source_address, p_diff, p_created_at, v_prev, v_hash);
          return query select v_seq, v_hash;
        end
        $f$;
    `);
  }

  override down(): void {
    this.addSql(
      'drop function meridian_append_audit(text, uuid, text, text, text, text, text, text, text, jsonb, timestamptz, text, text, text, bigint, text);',
    );
  }
}
