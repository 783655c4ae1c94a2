import { Migration } from '@mikro-orm/migrations';

/**
 * Moving an office's downstream to another cloud (issue 19, use case 3.2 of
 * draft-ietf-scim-use-cases; docs/migration.md): `meridian target migrate`
 * brings a new target to the state of an old one and schedules the old one's
 * retirement. The schedule lives on the target's row, so it survives
 * restarts: from `retire_at` on the relay queues nothing for it and its
 * workers deliver nothing (checked at dispatch), and the next worker refresh
 * disables it and records `retired_at`. `successor_id` names the target that
 * took over (kept when that target is deleted: the id stays in the audit log).
 */
export class Migration20261208200000_target_retirement extends Migration {
  override up(): void {
    this.addSql(`
      alter table replication_target
        add column retire_at timestamptz,
        add column retired_at timestamptz,
        add column successor_id uuid;
      create index replication_target_retire_index on replication_target (retire_at) where retire_at is not null and retired_at is null;
    `);
  }

  override down(): void {
    this.addSql(`
      drop index replication_target_retire_index;
      alter table replication_target drop column retire_at, drop column retired_at, drop column successor_id;
    `);
  }
}
