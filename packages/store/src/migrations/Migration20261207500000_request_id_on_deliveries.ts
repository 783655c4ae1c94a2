import { Migration } from '@mikro-orm/migrations';

/**
 * The request id of a change follows it to what it causes at the targets: a
 * link keeps the request whose change its last finished job delivered, a dead
 * letter the request whose change failed, and their audit entries carry it
 * (before, they carried `replication-<target>`), so an operator can go from a
 * SCIM or GraphQL request to every delivery it caused.
 */
export class Migration20261207500000_request_id_on_deliveries extends Migration {
  override up(): void {
    this.addSql(`
      alter table replication_link add column request_id text null;
      alter table replication_dead_letter add column request_id text null;
    `);
  }

  override down(): void {
    this.addSql(`
      alter table replication_dead_letter drop column request_id;
      alter table replication_link drop column request_id;
    `);
  }
}
