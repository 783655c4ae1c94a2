import type { ApiToken, Community, RequestContext, Scope, Tenant } from '../tenancy/model.js';
import type { Role } from '../tenancy/roles.js';

/** Input of a new API token. */
export interface TokenRequest {
  name: string;
  /** The tenant of a tenant token; null for a community or platform token. */
  tenantId: string | null;
  /** The community of a community token (then `tenantId` is null). */
  communityId?: string | null;
  /** For an end-user token: the id or userName of its User in the tenant. */
  user?: string;
  /** The role the token is issued for; `scopes` are then that role's. */
  role?: Role;
  scopes: Scope[];
  expiresAt: Date | null;
}

/** A freshly issued token: the secret is returned once and never stored. */
export interface IssuedToken {
  token: string;
  record: ApiToken;
}

/** A page of items and the cursor to the next page. */
export interface Page<T> {
  items: T[];
  /** The opaque cursor of each item, in the same order. */
  cursors: string[];
  totalCount: number;
  endCursor: string | null;
  hasNextPage: boolean;
}

/** Cursor pagination arguments (Relay style). */
export interface PageRequest {
  first: number;
  after?: string | undefined;
}

/** Platform administration: communities, tenants, tokens. Every write is audited. */
export interface AdminStore {
  createCommunity(values: { slug: string; name: string }, context: RequestContext): Promise<Community>;
  findCommunity(slugOrId: string): Promise<Community | undefined>;
  listCommunities(page: PageRequest): Promise<Page<Community>>;
  createTenant(values: { slug: string; name: string; communityId: string }, context: RequestContext): Promise<Tenant>;
  findTenant(slugOrId: string): Promise<Tenant | undefined>;
  /** The tenants among `ids` (ids, not slugs) that exist, in one read; order is not kept. */
  findTenants(ids: readonly string[]): Promise<Tenant[]>;
  listTenants(page: PageRequest, filter?: { communityId?: string; tenantId?: string }): Promise<Page<Tenant>>;
  issueToken(request: TokenRequest, context: RequestContext): Promise<IssuedToken>;
  /** The tokens of a tenant, or the platform tokens when `tenantId` is null. */
  listTokens(tenantId: string | null): Promise<ApiToken[]>;
  /** The tokens of a community (not those of its tenants). */
  listCommunityTokens(communityId: string): Promise<ApiToken[]>;
  /** One token by id, live or not; undefined when there is none. */
  findToken(id: string): Promise<ApiToken | undefined>;
  revokeToken(id: string, context: RequestContext): Promise<ApiToken | undefined>;
  /** Resolves a bearer secret to its live token (not revoked, not expired), recording its use. */
  authenticate(secret: string): Promise<ApiToken | undefined>;
}
