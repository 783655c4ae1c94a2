import { Migration } from '@mikro-orm/migrations';

/**
 * The projector finds the accounts an account manages, and each account's
 * manager, by the manager's user id. Compared through `account_values ->>
 * 'manager'`, that lookup could not use an index under row-level security
 * (`->>` is not leakproof, so PostgreSQL applies the policy first): 50 ms per
 * projected account in an office of 100,000 (docs/benchmarks.md). A typed
 * column compared with uuid `=` keeps the index. Also an index for the
 * people filter by department.
 */
export class Migration20261126720000_directory_manager_key extends Migration {
  override up(): void {
    this.addSql(`
      alter table directory_account add column manager_user_id uuid null;
      update directory_account set manager_user_id = (account_values ->> 'manager')::uuid
        where account_values ->> 'manager' ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$';
      drop index directory_account_manager_index;
      create index directory_account_manager_user_index on directory_account (tenant_id, manager_user_id) where manager_user_id is not null;
      create index person_community_department_index on person (community_id, lower(department));
    `);
  }

  override down(): void {
    this.addSql(`
      drop index person_community_department_index;
      drop index directory_account_manager_user_index;
      create index directory_account_manager_index on directory_account (tenant_id, (account_values ->> 'manager'));
      alter table directory_account drop column manager_user_id;
    `);
  }
}
