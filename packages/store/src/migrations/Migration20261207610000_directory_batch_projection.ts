import { Migration } from '@mikro-orm/migrations';

/**
 * The batch projection of the global directory (ADR 0025) resolves hundreds
 * of people per statement and counts their correlation conflicts, and
 * removing a person cascades to its conflicts: both look conflicts up by
 * person. The only index by person was the attribute conflicts' partial one,
 * so each look-up scanned every conflict of every community.
 */
export class Migration20261207610000_directory_batch_projection extends Migration {
  override up(): void {
    this.addSql('create index directory_conflict_person_index on directory_conflict (person_id, kind);');
  }

  override down(): void {
    this.addSql('drop index directory_conflict_person_index;');
  }
}
