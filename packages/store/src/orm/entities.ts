import { defineEntity, p } from '@mikro-orm/core';

// Entities never leave the store: repositories translate them into core types.
// References are mapped as uuid scalar properties (the migration declares the
// foreign keys), so every table stays keyed by tenant and shardable (docs/architecture.md, "Tables").

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

export const ApiTokenEntity = defineEntity({
  name: 'ApiTokenEntity',
  tableName: 'api_token',
  properties: {
    id: p.uuid().primary(),
    tenantId: p.uuid().fieldName('tenant_id').nullable(),
    name: p.string(),
    prefix: p.string(),
    secretHash: p.string().fieldName('secret_hash').unique('api_token_secret_hash_key'),
    scopes: p.array().columnType('text[]'),
    createdAt: p.datetime().fieldName('created_at'),
    expiresAt: p.datetime().fieldName('expires_at').nullable(),
    revokedAt: p.datetime().fieldName('revoked_at').nullable(),
    lastUsedAt: p.datetime().fieldName('last_used_at').nullable(),
  },
});

export const ScimUserEntity = defineEntity({
  name: 'ScimUserEntity',
  tableName: 'scim_user',
  properties: {
    id: p.uuid().primary(),
    tenantId: p.uuid().fieldName('tenant_id'),
    userName: p.string().fieldName('user_name'),
    externalId: p.string().fieldName('external_id').nullable(),
    active: p.boolean().default(true),
    attributes: p.json<Record<string, unknown>>(),
    extensionSchemas: p.array().columnType('text[]').fieldName('extension_schemas'),
    passwordHash: p.string().fieldName('password_hash').nullable(),
    version: p.integer(),
    createdAt: p.datetime().fieldName('created_at'),
    updatedAt: p.datetime().fieldName('updated_at'),
  },
});

export const ScimGroupEntity = defineEntity({
  name: 'ScimGroupEntity',
  tableName: 'scim_group',
  properties: {
    id: p.uuid().primary(),
    tenantId: p.uuid().fieldName('tenant_id'),
    displayName: p.string().fieldName('display_name'),
    externalId: p.string().fieldName('external_id').nullable(),
    attributes: p.json<Record<string, unknown>>(),
    version: p.integer(),
    createdAt: p.datetime().fieldName('created_at'),
    updatedAt: p.datetime().fieldName('updated_at'),
  },
});

export const GroupMemberEntity = defineEntity({
  name: 'GroupMemberEntity',
  tableName: 'group_member',
  properties: {
    groupId: p.uuid().primary().fieldName('group_id'),
    memberId: p.uuid().primary().fieldName('member_id'),
    tenantId: p.uuid().fieldName('tenant_id'),
    memberType: p.string().fieldName('member_type'),
    createdAt: p.datetime().fieldName('created_at'),
  },
});

export const OutboxEventEntity = defineEntity({
  name: 'OutboxEventEntity',
  tableName: 'outbox_event',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    tenantId: p.uuid().fieldName('tenant_id').nullable(),
    type: p.string(),
    resourceType: p.string().fieldName('resource_type'),
    resourceId: p.string().fieldName('resource_id'),
    resourceVersion: p.integer().fieldName('resource_version').nullable(),
    requestId: p.string().fieldName('request_id'),
    createdAt: p.datetime().fieldName('created_at'),
    dispatchedAt: p.datetime().fieldName('dispatched_at').nullable(),
  },
});

export const AuditEventEntity = defineEntity({
  name: 'AuditEventEntity',
  tableName: 'audit_event',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    /** Empty string is the platform chain (entries with no tenant). */
    chain: p.string(),
    seq: p.bigint('number'),
    tenantId: p.uuid().fieldName('tenant_id').nullable(),
    actorType: p.string().fieldName('actor_type'),
    actorId: p.string().fieldName('actor_id'),
    action: p.string(),
    resourceType: p.string().fieldName('resource_type'),
    resourceId: p.string().fieldName('resource_id'),
    requestId: p.string().fieldName('request_id'),
    sourceAddress: p.string().fieldName('source_address').nullable(),
    diff: p.json<Record<string, unknown>>().nullable(),
    createdAt: p.datetime().fieldName('created_at'),
    prevHash: p.string().fieldName('prev_hash'),
    hash: p.string(),
  },
});

/** Every entity of the store, for the ORM configuration. */
export const entities = [
  CommunityEntity,
  TenantEntity,
  ApiTokenEntity,
  ScimUserEntity,
  ScimGroupEntity,
  GroupMemberEntity,
  OutboxEventEntity,
  AuditEventEntity,
];
