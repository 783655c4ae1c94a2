import { Migration } from '@mikro-orm/migrations';

/**
 * Lower-cased search keys stored beside userName, Group displayName and
 * name.familyName. Under row-level security PostgreSQL evaluates the tenant
 * policy before any condition that applies a non-leakproof function
 * (`lower`, `#>>`, LIKE) to a column, so such conditions cannot use an index.
 * Plain comparisons on a stored column (`=`, `~>=~`, `~<~`, `starts_with`)
 * are leakproof: they run inside the index scan again (ADR 0010).
 */
export class Migration20261126500000_search_keys extends Migration {
  override up(): void {
    this.addSql(`
      alter table scim_user add column user_name_key text generated always as (lower(user_name)) stored;
      alter table scim_user add column family_name_key text generated always as (lower(attributes #>> '{name,familyName}')) stored;
      alter table scim_group add column display_name_key text generated always as (lower(display_name)) stored;

      create index scim_user_tenant_user_name_key_index on scim_user (tenant_id, user_name_key text_pattern_ops);
      drop index if exists scim_user_tenant_family_name_index;
      create index scim_user_tenant_family_name_key_index on scim_user (tenant_id, family_name_key text_pattern_ops);
      create index scim_group_tenant_display_name_key_index on scim_group (tenant_id, display_name_key text_pattern_ops);
    `);
  }
}
