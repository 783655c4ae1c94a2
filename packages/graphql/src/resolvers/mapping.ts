import type { ApiToken, Community, Page, ScimResource, Tenant } from '@meridian/core';
import type { Connection } from '../types/connections.js';
import { CommunityNode, GroupNode, TenantNode, type TokenNode } from '../types/objects.js';

/** Builds a Relay connection from a core page. */
export function toConnection<T, N>(page: Page<T>, map: (item: T) => N): Connection<N> {
  return {
    totalCount: page.totalCount,
    pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.endCursor },
    edges: page.items.map((item, i) => ({ cursor: page.cursors[i] ?? '', node: map(item) })),
  };
}

export function toCommunityNode(c: Community): CommunityNode {
  return Object.assign(new CommunityNode(), { id: c.id, slug: c.slug, name: c.name, createdAt: c.createdAt });
}

export function toTenantNode(t: Tenant): TenantNode {
  return Object.assign(new TenantNode(), { id: t.id, slug: t.slug, name: t.name, communityId: t.communityId, createdAt: t.createdAt });
}

export function toTokenNode(t: ApiToken): TokenNode {
  return {
    id: t.id,
    name: t.name,
    prefix: t.prefix,
    scopes: t.scopes,
    role: t.role,
    createdAt: t.createdAt,
    expiresAt: t.expiresAt,
    revokedAt: t.revokedAt,
    lastUsedAt: t.lastUsedAt,
  };
}

export function toGroupNode(r: ScimResource): GroupNode {
  return Object.assign(new GroupNode(), {
    id: r.id,
    tenantId: r.tenantId,
    displayName: String(r.attributes.displayName),
    externalId: r.externalId ?? null,
    members: r.members.map((m) => ({ id: m.value, type: m.type, display: m.display ?? null })),
    version: r.version,
    createdAt: r.created,
    updatedAt: r.lastModified,
  });
}
