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

/**
 * The outcome of looking up a bearer secret: the live token, or why it is
 * refused. `unknown` (no such token) carries no token; a revoked or expired
 * token, or one bound to a User who is suspended (`active: false`) or gone,
 * carries the token so that the refusal can be recorded where it belongs.
 */
export type TokenAuthentication =
  | { ok: true; token: ApiToken }
  | { ok: false; reason: 'unknown' }
  | { ok: false; reason: 'revoked' | 'expired' | 'inactive_user'; token: ApiToken };

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
  /**
   * Leaves the total uncounted (the page's `totalCount` is then 0). A reader of every page (a tenant export) has
   * no use for it, and counting it costs a pass over the matching rows at each page.
   */
  withoutTotal?: boolean;
}

/** Platform administration: communities, tenants, tokens. Every write is audited. */
export interface AdminStore {
  createCommunity(values: { slug: string; name: string }, context: RequestContext): Promise<Community>;
  findCommunity(slugOrId: string): Promise<Community | undefined>;
  listCommunities(page: PageRequest): Promise<Page<Community>>;
  /** Creates a tenant; UNIQUENESS when its community already has a tenant with this slug (slugs are unique per community). */
  createTenant(values: { slug: string; name: string; communityId: string }, context: RequestContext): Promise<Tenant>;
  /**
   * A tenant by id, or by slug when exactly one community has a tenant with
   * it. Slugs are unique per community only: name a tenant to a caller with
   * `resolveTenantReference`, which looks in the caller's community.
   */
  findTenant(slugOrId: string): Promise<Tenant | undefined>;
  /** A tenant of one community, by id or slug; undefined for a tenant of any other community. */
  findTenantInCommunity(communityId: string, slugOrId: string): Promise<Tenant | undefined>;
  /** The tenants with this slug, across communities, at most `limit` of them. */
  findTenantsBySlug(slug: string, limit: number): Promise<Tenant[]>;
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
  /**
   * Resolves a bearer secret to its live token (not revoked, not expired, and
   * for an end user's token, its User still exists and is active), recording its use.
   */
  authenticate(secret: string): Promise<ApiToken | undefined>;
  /** Like {@link authenticate}, and says why a token is refused. */
  authenticateToken(secret: string): Promise<TokenAuthentication>;
}
