import { Migration } from '@mikro-orm/migrations';

/** The office's rows: visible to its tenant's transactions, its community's, and platform work (ADR 0010, ADR 0015). */
const VISIBLE =
  'tenant_id = (select meridian_current_tenant()) or community_id = (select meridian_current_community()) or (select meridian_platform_scope())';

/**
 * Upstream identity providers of offices (issue 15, docs/sso.md): an office
 * may let its people sign in at its own OpenID Provider. `sso_upstream` holds
 * the provider and Meridian's client there (the secret sealed with the
 * SecretBox); `sso_upstream_link` links an upstream subject to the office
 * account it signed in as, from the first sign-in on.
 */
export class Migration20261207601000_upstream_providers extends Migration {
  override up(): void {
    this.addSql(`
      create table sso_upstream (
        tenant_id uuid primary key references tenant (id) on delete cascade,
        community_id uuid not null references community (id) on delete cascade,
        issuer text not null,
        client_id text not null,
        client_secret_sealed text not null,
        user_name_claim text not null,
        created_at timestamptz not null,
        updated_at timestamptz not null
      );
      create index sso_upstream_community_index on sso_upstream (community_id);

      create table sso_upstream_link (
        tenant_id uuid not null references tenant (id) on delete cascade,
        community_id uuid not null,
        issuer text not null,
        subject text not null,
        user_id uuid not null,
        linked_at timestamptz not null,
        primary key (tenant_id, issuer, subject)
      );

      alter table sso_upstream enable row level security, force row level security;
      alter table sso_upstream_link enable row level security, force row level security;
      create policy office_sso on sso_upstream using (${VISIBLE}) with check (${VISIBLE});
      create policy office_sso on sso_upstream_link using (${VISIBLE}) with check (${VISIBLE});
    `);
  }

  override down(): void {
    this.addSql('drop table sso_upstream_link; drop table sso_upstream;');
  }
}
