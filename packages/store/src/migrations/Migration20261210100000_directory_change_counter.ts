import { Migration } from '@mikro-orm/migrations';

/**
 * A change counter per community beside its people count: every writer
 * that holds the community's directory lock and changes what a projection
 * reads (a batch that writes, an admin's link, unlink or pin) adds one, in
 * its transaction. A batch reads its context before the lock together with
 * the counter (one snapshot); under the lock, the same counter says whether
 * that read still holds: unchanged, nobody wrote meanwhile (ADR 0025,
 * decision 11). The row already exists for every community that has people
 * (the people count's trigger inserts it); a writer inserts it otherwise.
 */
export class Migration20261210100000_directory_change_counter extends Migration {
  override up(): void {
    this.addSql('alter table directory_count add column changes bigint not null default 0;');
  }

  override down(): void {
    this.addSql('alter table directory_count drop column changes;');
  }
}
