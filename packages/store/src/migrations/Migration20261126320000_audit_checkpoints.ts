import { Migration } from '@mikro-orm/migrations';

/**
 * Signed audit checkpoints, prune anchors, and indexes for auditors' queries
 * (issue 4, ADR 0011).
 *
 * - `audit_checkpoint`: an Ed25519 signature over `{chain, seq, hash,
 *   createdAt, keyId}` (RFC 8785 canonical JSON) stating that a chain reached
 *   `seq` with `hash`. Verification reports a chain that ends before its latest
 *   checkpoint, or no longer has the hash it signed, as truncated.
 * - `audit_anchor`: per chain, the checkpoint a retention prune cut the chain
 *   at; verification starts there instead of at the genesis.
 * - Neither table has a tenant column: both are read and written with
 *   `meridian.scope = 'platform'` only.
 * - Auditors filter a chain by actor or by resource; without these indexes each
 *   such query reads the whole chain. Each costs one index entry per audit insert.
 */
export class Migration20261126320000_audit_checkpoints extends Migration {
  override up(): void {
    this.addSql(`
      create table audit_checkpoint (
        id bigserial primary key,
        chain text not null,
        seq bigint not null,
        hash text not null,
        created_at timestamptz not null,
        key_id text not null,
        signature text not null,
        constraint audit_checkpoint_chain_seq_key unique (chain, seq)
      );

      create table audit_anchor (
        chain text primary key,
        checkpoint_id bigint not null references audit_checkpoint (id),
        pruned_at timestamptz not null
      );

      create index audit_event_chain_actor_index on audit_event (chain, actor_id, seq);
      create index audit_event_chain_resource_index on audit_event (chain, resource_id, seq);
    `);
  }

  override down(): void {
    this.addSql(`
      drop index if exists audit_event_chain_resource_index;
      drop index if exists audit_event_chain_actor_index;
      drop table if exists audit_anchor;
      drop table if exists audit_checkpoint;
    `);
  }
}
