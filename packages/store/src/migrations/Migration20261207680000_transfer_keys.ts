import { Migration } from '@mikro-orm/migrations';

/**
 * Tenant transfers between hubs (issue 19, draft-ietf-scim-use-cases §3.2): `transfer_key` holds this hub's key
 * pair for receiving password hashes sealed by another hub's export. The private key is sealed by the hub's
 * SecretBox; the public key is what `meridian tenant import-key` prints. Platform scope only: no tenant sees it.
 */
export class Migration20261207680000_transfer_keys extends Migration {
  override up(): void {
    this.addSql(`
      create table transfer_key (
        id text primary key,
        algorithm text not null check (algorithm in ('X25519')),
        public_key text not null,
        sealed_private_key text not null,
        created_at timestamptz not null
      );

      do $$
      begin
        if exists (select 1 from pg_proc where proname = 'meridian_platform_scope') then
          alter table transfer_key enable row level security, force row level security;
          create policy platform_only on transfer_key
            using ((select meridian_platform_scope()))
            with check ((select meridian_platform_scope()));
        end if;
        if exists (select 1 from pg_roles where rolname = 'meridian_app') then
          grant select, insert on transfer_key to meridian_app;
        end if;
      end
      $$;
    `);
  }

  override down(): void {
    this.addSql('drop table transfer_key;');
  }
}
