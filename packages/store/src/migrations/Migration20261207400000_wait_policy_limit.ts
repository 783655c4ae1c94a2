import { Migration } from '@mikro-orm/migrations';

/**
 * One limit for how long a write waits for its deliveries: 30 seconds
 * (`MAX_REPLICATION_WAIT_SECONDS` in core), checked when the policy is set and
 * when a write waits. The table's check allowed 300; a policy stored above 30
 * waited 30 anyway, so it becomes 30.
 */
export class Migration20261207400000_wait_policy_limit extends Migration {
  override up(): void {
    this.addSql(`
      update replication_policy set wait_seconds = 30 where wait_seconds > 30;
      alter table replication_policy drop constraint replication_policy_wait_seconds_check;
      alter table replication_policy add constraint replication_policy_wait_seconds_check check (wait_seconds between 0 and 30);
    `);
  }

  override down(): void {
    this.addSql(`
      alter table replication_policy drop constraint replication_policy_wait_seconds_check;
      alter table replication_policy add constraint replication_policy_wait_seconds_check check (wait_seconds between 0 and 300);
    `);
  }
}
