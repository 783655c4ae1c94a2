import { Migration } from '@mikro-orm/migrations';

/**
 * The projector claims the due inbox entries oldest first (`order by
 * not_before, enqueued_at limit n for update skip locked`). The index on
 * `not_before` alone could not give that order when many entries are due at
 * once (a rebuild queues a community's every account with one time): each
 * claim read and sorted the whole backlog, 60 ms per batch at 100,000
 * entries, ten times that at a million. With both columns the claim reads
 * the batch it takes and no more (ADR 0025).
 */
export class Migration20261207610200_directory_inbox_claim_order extends Migration {
  override up(): void {
    this.addSql('create index directory_inbox_claim_index on directory_inbox (not_before, enqueued_at);');
    this.addSql('drop index directory_inbox_due_index;');
  }

  override down(): void {
    this.addSql('create index directory_inbox_due_index on directory_inbox (not_before);');
    this.addSql('drop index directory_inbox_claim_index;');
  }
}
