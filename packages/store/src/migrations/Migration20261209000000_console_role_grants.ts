import { Migration } from '@mikro-orm/migrations';

const IN_REACH =
  'tenant_id = (select meridian_current_tenant()) or community_id = (select meridian_current_community()) or (select meridian_platform_scope())';

/**
 * The admin console's roles (issue 21, ADR 0034): an office account is
 * granted one of the administrative roles, which acts at the role's level
 * (its tenant, its tenant's community, or the platform). A row belongs to the
 * account's tenant, and is seen from that tenant, its community or the
 * platform; it goes with the account.
 */
export class Migration20261209000000_console_role_grants extends Migration {
  override up(): void {
    this.addSql(`
      create table console_role_grant (
        id uuid primary key,
        tenant_id uuid not null references tenant (id) on delete cascade,
        community_id uuid not null references community (id) on delete cascade,
        user_id uuid not null references scim_user (id) on delete cascade,
        role text not null check (role in ('platform_admin', 'community_admin', 'office_admin', 'hr_reader', 'hr_provider', 'auditor')),
        level text not null check (level in ('platform', 'community', 'tenant')),
        created_at timestamptz not null,
        created_by text not null,
        unique (tenant_id, user_id, role)
      );
      create index console_role_grant_community_index on console_role_grant (community_id);
      create index console_role_grant_user_index on console_role_grant (user_id);
      alter table console_role_grant enable row level security, force row level security;
      create policy console_role_grants on console_role_grant using (${IN_REACH}) with check (${IN_REACH});
    `);
  }

  override down(): void {
    this.addSql('drop table console_role_grant;');
  }
}
