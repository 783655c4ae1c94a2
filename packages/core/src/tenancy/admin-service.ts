import { MeridianError } from '../errors/meridian-error.js';
import type { AdminStore, IssuedToken, Page, PageRequest, TokenRequest } from '../ports/admin.js';
import type { Clock } from '../ports/clock.js';
import {
  type ApiToken,
  type Community,
  hasScope,
  isValidSlug,
  type Principal,
  type RequestContext,
  SCOPES,
  type Scope,
  type Tenant,
} from './model.js';
import { type Action, authorize, decideAuthorization, type ResourceContext, resourceOfTenant } from './permissions.js';
import { type PrincipalLevel, parseRole, ROLE_DEFINITIONS, type Role } from './roles.js';
import { resolveTenantReference } from './tenant-reference.js';

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

/** The longest lifetime a token may be issued with, in days (ten years). */
export const MAX_TOKEN_DAYS = 3650;

/**
 * Checks a token's lifetime in days: a whole number from 1 to
 * {@link MAX_TOKEN_DAYS}, or absent (undefined or null) for a token that does
 * not expire. 0, negatives, fractions, NaN and anything larger are refused,
 * never read as "no expiry".
 */
export function checkExpiresInDays(days: unknown): number | null {
  if (days === undefined || days === null) return null;
  if (typeof days !== 'number' || !Number.isInteger(days) || days < 1 || days > MAX_TOKEN_DAYS) {
    throw new MeridianError(
      'INVALID_INPUT',
      `'expiresInDays' must be a whole number of days from 1 to ${MAX_TOKEN_DAYS}; leave it out for a token that does not expire.`,
      { field: 'expiresInDays' },
    );
  }
  return days;
}

/** What a token is for: a tenant, or a community, or (neither) the platform. */
export interface TokenOwner {
  tenant?: string | null | undefined;
  community?: string | null | undefined;
}

/** Input of {@link AdminService.issueToken}: a role or explicit scopes, for a tenant, a community or the platform. */
export interface IssueTokenValues extends TokenOwner {
  /** Comma-separated or listed scopes; give these or `role`. */
  scopes?: string | string[] | undefined;
  /** A role name (`provisioner`, …); the token gets exactly that role's scopes. */
  role?: string | undefined;
  name?: string | undefined;
  /** Whole days from 1 to {@link MAX_TOKEN_DAYS}; absent for a token that does not expire. */
  expiresInDays?: number | null | undefined;
  /** For an end user's `/Me` token: the id or userName of their User. */
  user?: string | undefined;
}

const present = (value: string | null | undefined): value is string => value !== undefined && value !== null && value.trim() !== '';

/**
 * Whether `principal` may put `scope` on a token it issues. Least privilege:
 * nobody hands out what they do not hold, except that a community admin
 * staffs its community's tenants (every scope but `admin`) and a tenant's
 * admin may bind an end user of its tenant to `/Me`. The admin console's role
 * grants follow the same rule (ADR 0034).
 */
export function mayGrant(principal: Principal, scope: Scope): boolean {
  if (hasScope(principal, 'admin')) return true;
  if (scope === 'admin') return false;
  if (principal.kind === 'community') return true;
  return principal.scopes.includes(scope) || (principal.kind === 'tenant' && scope === 'scim:me');
}

/** Administration of communities, tenants and tokens, with validation; every decision goes through {@link authorize}. */
export class AdminService {
  constructor(
    private readonly store: AdminStore,
    private readonly clock: Clock,
  ) {}

  /** Creates a community (platform admins only). */
  async createCommunity(principal: Principal, values: { slug: string; name: string }, context: RequestContext): Promise<Community> {
    authorize(principal, 'community.create', {});
    const slug = requireSlug(values.slug, 'slug');
    const name = requireName(values.name, 'name');
    return this.store.createCommunity({ slug, name }, context);
  }

  /** Creates a tenant in an existing community (platform admins, and community admins in their own community). */
  async createTenant(
    principal: Principal,
    values: { slug: string; name: string; community: string },
    context: RequestContext,
  ): Promise<Tenant> {
    authorize(principal, 'tenant.create');
    const slug = requireSlug(values.slug, 'slug');
    const name = requireName(values.name, 'name');
    const community = await this.authorizeCommunity(principal, 'tenant.create', values.community);
    return this.store.createTenant({ slug, name, communityId: community.id }, context);
  }

  /**
   * Issues a token for a tenant or a community (by slug or id), or a platform
   * token when neither is given; for a role (its scopes) or explicit scopes.
   */
  async issueToken(principal: Principal, values: IssueTokenValues, context: RequestContext): Promise<IssuedToken> {
    authorize(principal, 'token.manage');
    const { level, tenant, community } = await this.tokenOwner(principal, values, 'token.manage');
    const hasScopes =
      values.scopes !== undefined && (Array.isArray(values.scopes) ? values.scopes.length > 0 : values.scopes.trim() !== '');
    let role: Role | undefined;
    if (present(values.role)) {
      if (hasScopes) throw new MeridianError('INVALID_INPUT', 'Give a role or scopes, not both.', { field: 'role' });
      role = parseRole(values.role);
      const roleLevel = ROLE_DEFINITIONS[role].level;
      if (roleLevel !== level) {
        throw new MeridianError('INVALID_INPUT', `The role '${role}' is for ${roleLevel} tokens, not ${level} tokens.`, { field: 'role' });
      }
    }
    const scopes = role ? [...ROLE_DEFINITIONS[role].scopes] : parseScopes(values.scopes ?? []);
    if (level !== 'platform' && scopes.includes('admin')) {
      throw new MeridianError('INVALID_INPUT', "The 'admin' scope is only for platform tokens.", { field: 'scopes' });
    }
    if (level === 'community' && scopes.some((s) => s.startsWith('scim:'))) {
      throw new MeridianError('INVALID_INPUT', 'SCIM scopes need a tenant token: SCIM works inside one tenant.', { field: 'scopes' });
    }
    const ungrantable = scopes.find((scope) => !mayGrant(principal, scope));
    if (ungrantable !== undefined) {
      throw new MeridianError('FORBIDDEN', `This token cannot grant the '${ungrantable}' scope.`, { field: role ? 'role' : 'scopes' });
    }
    // Least privilege: an end user's token does /Me and nothing else, and only an end user's token does /Me.
    const user = values.user?.trim();
    if (user !== undefined && user !== '' && (tenant === undefined || scopes.length !== 1 || scopes[0] !== 'scim:me')) {
      throw new MeridianError('INVALID_INPUT', "A token for a user is a tenant token with exactly the 'scim:me' scope.", {
        field: 'scopes',
      });
    }
    if ((user === undefined || user === '') && scopes.includes('scim:me')) {
      throw new MeridianError('INVALID_INPUT', "The 'scim:me' scope needs the user the token belongs to.", { field: 'user' });
    }
    const days = checkExpiresInDays(values.expiresInDays);
    const expiresAt = days === null ? null : new Date(this.clock.now().getTime() + days * 86_400_000);
    const name = requireName(values.name ?? `${tenant?.slug ?? community?.slug ?? 'platform'} token`, 'name');
    const request: TokenRequest = { name, tenantId: tenant?.id ?? null, communityId: community?.id ?? null, scopes, expiresAt };
    if (role !== undefined) request.role = role;
    if (user !== undefined && user !== '') request.user = user;
    return this.store.issueToken(request, context);
  }

  /** Lists the tokens of a tenant or a community, or the platform tokens when neither is given. */
  async listTokens(principal: Principal, owner: TokenOwner): Promise<ApiToken[]> {
    authorize(principal, 'token.manage');
    const { tenant, community } = await this.tokenOwner(principal, owner, 'token.manage');
    if (tenant) return this.store.listTokens(tenant.id);
    if (community) return this.store.listCommunityTokens(community.id);
    return this.store.listTokens(null);
  }

  /** Revokes a token in the principal's reach that it could have issued; NOT_FOUND for any other. */
  async revokeToken(principal: Principal, id: string, context: RequestContext): Promise<ApiToken> {
    authorize(principal, 'token.manage');
    const token = await this.store.findToken(id);
    if (!token || !decideAuthorization(principal, 'token.manage', await this.resourceOfToken(token)).allowed) {
      throw new MeridianError('NOT_FOUND', `Token '${id}' not found.`);
    }
    const kept = token.scopes.find((scope) => !mayGrant(principal, scope));
    if (kept !== undefined) throw new MeridianError('FORBIDDEN', `This token cannot revoke a token holding the '${kept}' scope.`);
    const revoked = await this.store.revokeToken(id, context);
    if (!revoked) throw new MeridianError('NOT_FOUND', `Token '${id}' not found.`);
    return revoked;
  }

  /** Lists communities visible to the principal. */
  async listCommunities(principal: Principal, page: PageRequest): Promise<Page<Community>> {
    checkPage(page);
    authorize(principal, 'community.read');
    if (principal.kind === 'platform') return this.store.listCommunities(page);
    const communityId =
      principal.kind === 'community' ? principal.communityId : (await this.store.findTenant(principal.tenantId))?.communityId;
    const community = communityId === undefined ? undefined : await this.store.findCommunity(communityId);
    const items = community && page.after === undefined && page.first > 0 ? [community] : [];
    return { items, cursors: items.map((c) => c.id), totalCount: community ? 1 : 0, endCursor: null, hasNextPage: false };
  }

  /** Lists tenants visible to the principal, optionally within one community. */
  async listTenants(principal: Principal, page: PageRequest, community?: string): Promise<Page<Tenant>> {
    checkPage(page);
    authorize(principal, 'tenant.read');
    const none: Page<Tenant> = { items: [], cursors: [], totalCount: 0, endCursor: null, hasNextPage: false };
    const filter: { communityId?: string; tenantId?: string } = {};
    if (community !== undefined) {
      const found = await this.store.findCommunity(community);
      if (!found) return none;
      filter.communityId = found.id;
    }
    if (principal.kind === 'community') {
      if (filter.communityId !== undefined && filter.communityId !== principal.communityId) return none;
      filter.communityId = principal.communityId;
    }
    if (principal.kind === 'tenant') filter.tenantId = principal.tenantId;
    return this.store.listTenants(page, filter);
  }

  /**
   * Finds a tenant (id, slug in the caller's community, or `<community>/<slug>`;
   * see {@link resolveTenantReference}) and authorizes `action` on it: FORBIDDEN when
   * the principal may not take the action at all, NOT_FOUND when the tenant
   * does not exist or is out of its reach, so that existence does not leak.
   */
  async authorizeTenant(principal: Principal, action: Action, slugOrId: string): Promise<Tenant> {
    authorize(principal, action);
    // A slug is read in the caller's community (slugs are unique per community, ADR 0019).
    const tenant = await resolveTenantReference(this.store, principal, slugOrId);
    if (!tenant || !decideAuthorization(principal, action, resourceOfTenant(tenant)).allowed) {
      throw new MeridianError('NOT_FOUND', `Tenant '${slugOrId}' not found.`, { field: 'tenant' });
    }
    return tenant;
  }

  /** Finds a community (slug or id) and authorizes `action` on it, like {@link authorizeTenant}. */
  async authorizeCommunity(principal: Principal, action: Action, slugOrId: string): Promise<Community> {
    authorize(principal, action);
    const community = await this.store.findCommunity(slugOrId);
    if (!community || !decideAuthorization(principal, action, { communityId: community.id }).allowed) {
      throw new MeridianError('NOT_FOUND', `Community '${slugOrId}' not found.`, { field: 'community' });
    }
    return community;
  }

  /** Finds a tenant whose settings the principal may change (`settings.write`). */
  async authorizeTenantAdmin(principal: Principal, slugOrId: string): Promise<Tenant> {
    return this.authorizeTenant(principal, 'settings.write', slugOrId);
  }

  /** Finds a tenant the principal may see (`tenant.read`); NOT_FOUND for one out of its reach. */
  async visibleTenant(principal: Principal, slugOrId: string): Promise<Tenant> {
    return this.authorizeTenant(principal, 'tenant.read', slugOrId);
  }

  /**
   * The tenants with these ids, in one read, for batch loads (a GraphQL
   * `Account.tenant`). It checks nothing: call it only for tenants of
   * resources the caller was already authorized to read.
   */
  async tenantsOfResources(ids: readonly string[]): Promise<Tenant[]> {
    return ids.length === 0 ? [] : this.store.findTenants(ids);
  }

  /** The resource a tenant's, a community's or a platform token belongs to. */
  private async resourceOfToken(token: ApiToken): Promise<ResourceContext> {
    if (token.tenantId !== null) {
      const tenant = await this.store.findTenant(token.tenantId);
      return tenant ? resourceOfTenant(tenant) : { tenantId: token.tenantId };
    }
    return token.communityId !== null ? { communityId: token.communityId } : {};
  }

  /** Resolves who a token (or a list of them) is for, authorizing `action` there. */
  private async tokenOwner(
    principal: Principal,
    owner: TokenOwner,
    action: Action,
  ): Promise<{ level: PrincipalLevel; tenant?: Tenant; community?: Community }> {
    if (present(owner.tenant) && present(owner.community)) {
      throw new MeridianError('INVALID_INPUT', 'A token belongs to a tenant or to a community, not both.', { field: 'community' });
    }
    if (present(owner.tenant)) return { level: 'tenant', tenant: await this.authorizeTenant(principal, action, owner.tenant) };
    if (present(owner.community))
      return { level: 'community', community: await this.authorizeCommunity(principal, action, owner.community) };
    authorize(principal, action, {});
    return { level: 'platform' };
  }
}
