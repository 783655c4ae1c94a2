import { Migration } from '@mikro-orm/migrations';

/**
 * `meta.lastModified gt "…"` (and `ge`, `lt`, `le`) reads the resources changed since a time: the delta query a
 * provisioning client sends to catch up. Without an index on `updated_at` PostgreSQL read every User of the tenant
 * for it, in the page's order, and dropped those unchanged (issue 14). These indexes find the changed ones; a page
 * of them is then sorted, which for a delta is a few rows.
 */
export class Migration20261210200200_last_modified_indexes extends Migration {
  override up(): void {
    this.addSql(`
      create index scim_user_tenant_updated_index on scim_user (tenant_id, updated_at, id);
      create index scim_group_tenant_updated_index on scim_group (tenant_id, updated_at, id);
    `);
  }

  override down(): void {
    this.addSql(`
      drop index scim_group_tenant_updated_index;
      drop index scim_user_tenant_updated_index;
    `);
  }
}
