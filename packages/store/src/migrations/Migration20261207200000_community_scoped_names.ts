import { Migration } from '@mikro-orm/migrations';

/**
 * Names a community chooses are unique in that community only, so that one
 * community can neither see nor block another's (issue 12, ADR 0019):
 *
 * - A tenant's slug is unique per community (`tenant_community_slug_key`),
 *   no longer across the hub. Lookups by slug alone keep an index.
 * - A trusted issuer is unique per (community, issuer, audience): its
 *   community is its own, or its tenant's (`owner_community_id`, filled in
 *   for the issuers already there). Within a community a token still matches
 *   at most one configuration; across communities the JWT authenticator
 *   tells them apart by audience and signature, or refuses the token.
 *
 * `trusted_issuer` has forced row-level security: the backfill runs in
 * platform scope, like every cross-tenant statement (ADR 0010).
 */
export class Migration20261207200000_community_scoped_names extends Migration {
  override up(): void {
    this.addSql(`
      select set_config('meridian.scope', 'platform', true);

      alter table tenant drop constraint tenant_slug_key;
      alter table tenant add constraint tenant_community_slug_key unique (community_id, slug);
      create index tenant_slug_index on tenant (slug);

      alter table trusted_issuer add column owner_community_id uuid null references community (id) on delete cascade;
      update trusted_issuer i
         set owner_community_id = coalesce(i.community_id, (select t.community_id from tenant t where t.id = i.tenant_id));
      alter table trusted_issuer alter column owner_community_id set not null;
      drop index trusted_issuer_issuer_audience_key;
      create unique index trusted_issuer_community_issuer_audience_key on trusted_issuer (owner_community_id, issuer, audience);
      create index trusted_issuer_issuer_index on trusted_issuer (issuer);
    `);
  }

  override down(): void {
    this.addSql(`
      select set_config('meridian.scope', 'platform', true);

      drop index trusted_issuer_issuer_index;
      drop index trusted_issuer_community_issuer_audience_key;
      create unique index trusted_issuer_issuer_audience_key on trusted_issuer (issuer, audience);
      alter table trusted_issuer drop column owner_community_id;

      drop index tenant_slug_index;
      alter table tenant drop constraint tenant_community_slug_key;
      alter table tenant add constraint tenant_slug_key unique (slug);
    `);
  }
}
