import { Migration } from '@mikro-orm/migrations';

const IN_COMMUNITY = 'community_id = (select meridian_current_community()) or (select meridian_platform_scope())';

/**
 * Single sign-on (issue 15, ADR 0021): each community is an OpenID Provider.
 *
 * - `relying_party`: the community's registered clients. The client secret is
 *   kept as its SHA-256 only (`secret_hash`).
 * - `oidc_payload`: what oidc-provider stores (sessions, interactions, codes,
 *   tokens, grants), one row per model and id, with the look-up columns its
 *   adapter needs (grant, session uid, user code) and the grant's person and
 *   client, so that grants can be listed and revoked. Expired rows are swept.
 * - `oidc_key`: the community's signing key, cookie keys and pairwise salt,
 *   sealed with the hub's SecretBox.
 * - `sso_release`: the release ledger: what was released to which relying
 *   party about which person, and until when the relying party may keep it.
 * - `sso_throttle`: failed sign-ins per account and per address.
 *
 * Every table is a community's: visible to a transaction of that community
 * (`meridian.community_id`) or to platform work (ADR 0010, ADR 0015).
 */
export class Migration20261207600000_relying_parties extends Migration {
  override up(): void {
    this.addSql(`
      create table relying_party (
        id uuid primary key,
        community_id uuid not null references community (id) on delete cascade,
        client_id text not null,
        secret_hash text null,
        name text not null,
        client_type text not null check (client_type in ('confidential', 'public')),
        redirect_uris text[] not null,
        post_logout_redirect_uris text[] not null,
        claims text[] not null,
        optional_claims text[] not null,
        max_cache_seconds integer not null check (max_cache_seconds >= 0),
        consent text not null check (consent in ('required', 'implicit')),
        subject_type text not null check (subject_type in ('public', 'pairwise')),
        client_credentials boolean not null,
        backchannel_logout_uri text null,
        created_at timestamptz not null,
        updated_at timestamptz not null,
        constraint relying_party_secret_check check ((client_type = 'public') = (secret_hash is null))
      );
      create unique index relying_party_client_id_key on relying_party (client_id);
      create index relying_party_community_index on relying_party (community_id, created_at, id);

      create table oidc_payload (
        community_id uuid not null references community (id) on delete cascade,
        model text not null,
        id text not null,
        payload jsonb not null,
        grant_id text null,
        uid text null,
        user_code text null,
        account_id text null,
        client_id text null,
        expires_at timestamptz null,
        consumed_at timestamptz null,
        primary key (community_id, model, id)
      );
      create index oidc_payload_grant_index on oidc_payload (community_id, grant_id) where grant_id is not null;
      create index oidc_payload_uid_index on oidc_payload (community_id, uid) where uid is not null;
      create index oidc_payload_user_code_index on oidc_payload (community_id, user_code) where user_code is not null;
      create index oidc_payload_account_index on oidc_payload (community_id, account_id) where model = 'Grant';
      create index oidc_payload_client_index on oidc_payload (community_id, client_id) where model = 'Grant';
      create index oidc_payload_expiry_index on oidc_payload (expires_at) where expires_at is not null;

      create table oidc_key (
        community_id uuid not null references community (id) on delete cascade,
        kind text not null check (kind in ('signing', 'cookies', 'pairwise')),
        sealed text not null,
        created_at timestamptz not null,
        primary key (community_id, kind)
      );

      create table sso_release (
        community_id uuid not null references community (id) on delete cascade,
        client_id text not null,
        person_id uuid not null,
        claims text[] not null,
        released_at timestamptz not null,
        expires_at timestamptz not null,
        primary key (community_id, client_id, person_id)
      );
      create index sso_release_person_index on sso_release (community_id, person_id);
      create index sso_release_expiry_index on sso_release (community_id, client_id, expires_at);

      create table sso_throttle (
        community_id uuid not null references community (id) on delete cascade,
        key text not null,
        failures integer not null,
        window_start timestamptz not null,
        primary key (community_id, key)
      );

      alter table relying_party enable row level security, force row level security;
      alter table oidc_payload enable row level security, force row level security;
      alter table oidc_key enable row level security, force row level security;
      alter table sso_release enable row level security, force row level security;
      alter table sso_throttle enable row level security, force row level security;
      create policy community_sso on relying_party using (${IN_COMMUNITY}) with check (${IN_COMMUNITY});
      create policy community_sso on oidc_payload using (${IN_COMMUNITY}) with check (${IN_COMMUNITY});
      create policy community_sso on oidc_key using (${IN_COMMUNITY}) with check (${IN_COMMUNITY});
      create policy community_sso on sso_release using (${IN_COMMUNITY}) with check (${IN_COMMUNITY});
      create policy community_sso on sso_throttle using (${IN_COMMUNITY}) with check (${IN_COMMUNITY});
    `);
  }

  override down(): void {
    this.addSql(`
      drop table sso_throttle;
      drop table sso_release;
      drop table oidc_key;
      drop table oidc_payload;
      drop table relying_party;
    `);
  }
}
