import { Migration } from '@mikro-orm/migrations';

/** The office's rows: visible to its tenant's transactions, its community's, and platform work (ADR 0010, ADR 0015). */
const VISIBLE =
  'tenant_id = (select meridian_current_tenant()) or community_id = (select meridian_current_community()) or (select meridian_platform_scope())';

/**
 * Issue 15, docs/sso.md: the email domains of an office's people. When a user
 * name is in several offices, the sign-in page takes the office whose domain
 * the user name's is, when exactly one office has that domain.
 */
export class Migration20261207600510_office_email_domains extends Migration {
  override up(): void {
    this.addSql(`
      create table sso_office_domain (
        tenant_id uuid not null references tenant (id) on delete cascade,
        community_id uuid not null references community (id) on delete cascade,
        domain text not null,
        created_at timestamptz not null,
        primary key (tenant_id, domain)
      );
      create index sso_office_domain_lookup_index on sso_office_domain (community_id, domain);
      alter table sso_office_domain enable row level security, force row level security;
      create policy office_sso on sso_office_domain using (${VISIBLE}) with check (${VISIBLE});
    `);
  }

  override down(): void {
    this.addSql('drop table sso_office_domain;');
  }
}
