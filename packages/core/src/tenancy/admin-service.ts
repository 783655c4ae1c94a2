import { MeridianError } from '../errors/meridian-error.js';
import type { AdminStore, IssuedToken, Page, PageRequest, TokenRequest } from '../ports/admin.js';
import type { Clock } from '../ports/clock.js';
import {
  type ApiToken,
  type Community,
  isValidSlug,
  type Principal,
  type RequestContext,
  SCOPES,
  type Scope,
  type Tenant,
} from './model.js';

const MAX_PAGE = 500;

function requireSlug(slug: string, field: string): string {
  const normalized = slug.trim().toLowerCase();
  if (!isValidSlug(normalized)) {
    throw new MeridianError('INVALID_INPUT', `'${slug}' is not a valid slug: use a-z, 0-9 and inner dashes, at most 63 characters.`, {
      field,
    });
  }
  return normalized;
}

function requireName(name: string, field: string): string {
  const trimmed = name.trim();
  if (trimmed === '' || trimmed.length > 200) {
    throw new MeridianError('INVALID_INPUT', `'${field}' must be 1 to 200 characters.`, { field });
  }
  return trimmed;
}

/** Parses a comma-separated or listed set of scopes; INVALID_INPUT names the unknown one. */
export function parseScopes(input: string | string[]): Scope[] {
  const list = (Array.isArray(input) ? input : input.split(',')).map((s) => s.trim()).filter((s) => s !== '');
  if (list.length === 0) throw new MeridianError('INVALID_INPUT', 'At least one scope is required.', { field: 'scopes' });
  for (const scope of list) {
    if (!SCOPES.includes(scope as Scope)) {
      throw new MeridianError('INVALID_INPUT', `Unknown scope '${scope}'. Known scopes: ${SCOPES.join(', ')}.`, {
        field: 'scopes',
      });
    }
  }
  return [...new Set(list as Scope[])];
}

/** Validates page arguments. */
export function checkPage(page: PageRequest): PageRequest {
  if (!Number.isInteger(page.first) || page.first < 0 || page.first > MAX_PAGE) {
    throw new MeridianError('INVALID_INPUT', `'first' must be an integer from 0 to ${MAX_PAGE}.`, { field: 'first' });
  }
  return page;
}

/** Administration of communities, tenants and tokens, with validation and authorization. */
export class AdminService {
  constructor(
    private readonly store: AdminStore,
    private readonly clock: Clock,
  ) {}

  /** Creates a community (platform admins only). */
  async createCommunity(principal: Principal, values: { slug: string; name: string }, context: RequestContext): Promise<Community> {
    requirePlatform(principal);
    const slug = requireSlug(values.slug, 'slug');
    const name = requireName(values.name, 'name');
    return this.store.createCommunity({ slug, name }, context);
  }

  /** Creates a tenant in an existing community (platform admins only). */
  async createTenant(
    principal: Principal,
    values: { slug: string; name: string; community: string },
    context: RequestContext,
  ): Promise<Tenant> {
    requirePlatform(principal);
    const slug = requireSlug(values.slug, 'slug');
    const name = requireName(values.name, 'name');
    const community = await this.store.findCommunity(values.community);
    if (!community) {
      throw new MeridianError('NOT_FOUND', `Community '${values.community}' not found.`, { field: 'community' });
    }
    return this.store.createTenant({ slug, name, communityId: community.id }, context);
  }

  /** Issues a token for a tenant (by slug or id), or a platform token when `tenant` is null. */
  async issueToken(
    principal: Principal,
    values: { tenant: string | null; scopes: string | string[]; name?: string; expiresInDays?: number; user?: string },
    context: RequestContext,
  ): Promise<IssuedToken> {
    const tenant = values.tenant === null ? null : await this.visibleTenant(principal, values.tenant);
    if (tenant === null) requirePlatform(principal);
    else requireTenantAdmin(principal, tenant.id);
    const scopes = parseScopes(values.scopes);
    if (tenant !== null && scopes.includes('admin')) {
      throw new MeridianError('INVALID_INPUT', "The 'admin' scope is only for platform tokens.", { field: 'scopes' });
    }
    // Least privilege: an end user's token does /Me and nothing else, and only an end user's token does /Me.
    const user = values.user?.trim();
    if (user !== undefined && user !== '' && (tenant === null || scopes.length !== 1 || scopes[0] !== 'scim:me')) {
      throw new MeridianError('INVALID_INPUT', "A token for a user is a tenant token with exactly the 'scim:me' scope.", {
        field: 'scopes',
      });
    }
    if ((user === undefined || user === '') && scopes.includes('scim:me')) {
      throw new MeridianError('INVALID_INPUT', "The 'scim:me' scope needs the user the token belongs to.", { field: 'user' });
    }
    let expiresAt: Date | null = null;
    if (values.expiresInDays !== undefined) {
      if (!Number.isFinite(values.expiresInDays) || values.expiresInDays <= 0 || values.expiresInDays > 3650) {
        throw new MeridianError('INVALID_INPUT', "'expiresInDays' must be between 0 and 3650.", { field: 'expiresInDays' });
      }
      expiresAt = new Date(this.clock.now().getTime() + values.expiresInDays * 86_400_000);
    }
    const name = requireName(values.name ?? `${tenant?.slug ?? 'platform'} token`, 'name');
    const request: TokenRequest = { name, tenantId: tenant?.id ?? null, scopes, expiresAt };
    if (user !== undefined && user !== '') request.user = user;
    return this.store.issueToken(request, context);
  }

  /** Lists the tokens of a tenant, or the platform tokens when `tenant` is null. */
  async listTokens(principal: Principal, tenant: string | null): Promise<ApiToken[]> {
    if (tenant === null) {
      requirePlatform(principal);
      return this.store.listTokens(null);
    }
    const found = await this.visibleTenant(principal, tenant);
    requireTenantAdmin(principal, found.id);
    return this.store.listTokens(found.id);
  }

  /** Revokes a token; a tenant admin may only revoke its own tenant's tokens. */
  async revokeToken(principal: Principal, id: string, context: RequestContext): Promise<ApiToken> {
    if (principal.kind !== 'platform') {
      const own = await this.store.listTokens(principal.tenantId);
      if (!own.some((t) => t.id === id)) throw new MeridianError('NOT_FOUND', `Token '${id}' not found.`);
    }
    const revoked = await this.store.revokeToken(id, context);
    if (!revoked) throw new MeridianError('NOT_FOUND', `Token '${id}' not found.`);
    return revoked;
  }

  /** Lists communities visible to the principal. */
  async listCommunities(principal: Principal, page: PageRequest): Promise<Page<Community>> {
    checkPage(page);
    if (principal.kind === 'platform') return this.store.listCommunities(page);
    const tenant = await this.store.findTenant(principal.tenantId);
    const community = tenant ? await this.store.findCommunity(tenant.communityId) : undefined;
    const items = community && page.after === undefined && page.first > 0 ? [community] : [];
    return { items, cursors: items.map((c) => c.id), totalCount: community ? 1 : 0, endCursor: null, hasNextPage: false };
  }

  /** Lists tenants visible to the principal, optionally within one community. */
  async listTenants(principal: Principal, page: PageRequest, community?: string): Promise<Page<Tenant>> {
    checkPage(page);
    let communityId: string | undefined;
    if (community !== undefined) {
      const found = await this.store.findCommunity(community);
      if (!found) return { items: [], cursors: [], totalCount: 0, endCursor: null, hasNextPage: false };
      communityId = found.id;
    }
    const filter: { communityId?: string; tenantId?: string } = {};
    if (communityId !== undefined) filter.communityId = communityId;
    if (principal.kind === 'tenant') filter.tenantId = principal.tenantId;
    return this.store.listTenants(page, filter);
  }

  /** Finds a tenant the principal may administer (platform admin, or the tenant's own admin token). */
  async authorizeTenantAdmin(principal: Principal, slugOrId: string): Promise<Tenant> {
    const tenant = await this.visibleTenant(principal, slugOrId);
    requireTenantAdmin(principal, tenant.id);
    return tenant;
  }

  /**
   * Finds a tenant the principal may see. A tenant token asking for another
   * tenant gets NOT_FOUND, so that existence does not leak.
   */
  async visibleTenant(principal: Principal, slugOrId: string): Promise<Tenant> {
    const tenant = await this.store.findTenant(slugOrId);
    if (!tenant || (principal.kind === 'tenant' && principal.tenantId !== tenant.id)) {
      throw new MeridianError('NOT_FOUND', `Tenant '${slugOrId}' not found.`, { field: 'tenant' });
    }
    return tenant;
  }
}

function requirePlatform(principal: Principal): void {
  if (principal.kind !== 'platform' || !principal.scopes.includes('admin')) {
    throw new MeridianError('FORBIDDEN', 'This operation needs a platform admin token.');
  }
}

function requireTenantAdmin(principal: Principal, tenantId: string): void {
  if (principal.kind === 'platform' && principal.scopes.includes('admin')) return;
  if (principal.kind === 'tenant' && principal.tenantId === tenantId && principal.scopes.includes('graphql:write')) return;
  throw new MeridianError('FORBIDDEN', 'This operation needs an admin token for the tenant.');
}
