import { Migration } from '@mikro-orm/migrations';

/**
 * Trusted JWT issuers per tenant or community, and tokens issued for a role
 * or for a whole community (issue 4, ADR 0012).
 */
export class Migration20261126310000_trusted_issuers extends Migration {
  override up(): void {
    this.addSql(`
      create table trusted_issuer (
        id uuid primary key,
        tenant_id uuid null references tenant (id) on delete cascade,
        community_id uuid null references community (id) on delete cascade,
        issuer text not null,
        audience text not null,
        jwks_uri text not null,
        algorithms text[] not null,
        roles_claim text not null,
        tenant_claim text null,
        subject_claim text not null,
        role_map jsonb not null,
        created_at timestamptz not null,
        constraint trusted_issuer_owner_check check ((tenant_id is null) <> (community_id is null))
      );
      -- One configuration per (iss, aud): a token never matches two, so it never acts in two places.
      create unique index trusted_issuer_issuer_audience_key on trusted_issuer (issuer, audience);
      create index trusted_issuer_tenant_id_index on trusted_issuer (tenant_id);
      create index trusted_issuer_community_id_index on trusted_issuer (community_id);

      -- Issuers are looked up by iss before any tenant is known (platform scope); a tenant sees only its own (ADR 0010).
      alter table trusted_issuer enable row level security, force row level security;
      create policy tenant_isolation on trusted_issuer
        using (tenant_id = (select meridian_current_tenant()) or (select meridian_platform_scope()))
        with check (tenant_id = (select meridian_current_tenant()) or (select meridian_platform_scope()));

      -- A community token acts across the tenants of one community; like a platform token it has no tenant.
      alter table api_token add column community_id uuid null references community (id) on delete cascade;
      alter table api_token add constraint api_token_owner_check check (tenant_id is null or community_id is null);
      create index api_token_community_id_index on api_token (community_id) where community_id is not null;
      alter table api_token add column role text null;
    `);
  }

  override down(): void {
    this.addSql(`
      alter table api_token drop column role;
      drop index api_token_community_id_index;
      alter table api_token drop constraint api_token_owner_check;
      alter table api_token drop column community_id;
      drop table trusted_issuer;
    `);
  }
}
