import { defineEntity, p } from '@mikro-orm/core';

// Entities never leave the store: repositories translate them into core types.
// References are mapped as uuid scalar properties (the migration declares the
// foreign keys), so every table stays keyed by tenant and shardable (docs/architecture.md, "Tables").
// Only the tables the store reads through the ORM have an entity: the
// community and tenant lookups of the admin store (ADR 0020). Every other
// table is read and written with SQL in ORM-managed transactions.

export const CommunityEntity = defineEntity({
  name: 'CommunityEntity',
  tableName: 'community',
  properties: {
    id: p.uuid().primary(),
    slug: p.string().unique('community_slug_key'),
    name: p.string(),
    createdAt: p.datetime().fieldName('created_at'),
  },
});

export const TenantEntity = defineEntity({
  name: 'TenantEntity',
  tableName: 'tenant',
  // Slugs are unique per community, not across the hub (ADR 0019).
  uniques: [{ name: 'tenant_community_slug_key', properties: ['communityId', 'slug'] }],
  properties: {
    id: p.uuid().primary(),
    communityId: p.uuid().fieldName('community_id'),
    slug: p.string(),
    name: p.string(),
    createdAt: p.datetime().fieldName('created_at'),
  },
});

/** Every entity of the store, for the ORM configuration. */
export const entities = [CommunityEntity, TenantEntity];
