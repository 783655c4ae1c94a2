import { Migration } from '@mikro-orm/migrations';

/**
 * Scheduled pulls of inbound sources (issues 16 and 18, docs/sources.md): a
 * source may sync itself every `sync_interval_seconds` (null: only when an
 * admin runs `meridian source sync`). A worker process claims a due source
 * with a lease (`sync_claimed_until`), so one sync runs at a time across
 * processes and a crashed worker's claim lapses. The outcome of the last run
 * is kept for `source list` and GraphQL.
 */
export class Migration20261208000000_source_schedule extends Migration {
  override up(): void {
    this.addSql(`
      alter table inbound_source
        add column sync_interval_seconds integer,
        add column sync_claimed_until timestamptz,
        add column last_sync_status text,
        add column last_sync_error text,
        add column last_sync_counts jsonb;
      create index inbound_source_due_index on inbound_source (last_sync_at) where sync_interval_seconds is not null;
    `);
  }

  override down(): void {
    this.addSql(`
      drop index inbound_source_due_index;
      alter table inbound_source drop column sync_interval_seconds, drop column sync_claimed_until,
        drop column last_sync_status, drop column last_sync_error, drop column last_sync_counts;
    `);
  }
}
