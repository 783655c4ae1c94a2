import { MeridianError } from '../errors/meridian-error.js';
import type { TrustedIssuerStore } from '../ports/trusted-issuers.js';
import type { AdminService, TokenOwner } from './admin-service.js';
import type { Principal, RequestContext } from './model.js';
import { authorize } from './permissions.js';
import { parseTrustedIssuer, type TrustedIssuer, type TrustedIssuerInput } from './trusted-issuer.js';

const present = (value: string | null | undefined): value is string => value !== undefined && value !== null && value.trim() !== '';

/**
 * Checks a URL the hub will fetch against the outbound request policy
 * (docs/security.md, "Outbound requests"); throws `INVALID_CONFIG` naming
 * `field` when the policy refuses it. The hub's implementation resolves the
 * host name, so it is a port rather than a pure function.
 */
export interface OutboundUrlCheck {
  checkUrl(url: string, field: string): Promise<void>;
}

/**
 * Trusted JWT issuers of tenants and communities: validation, and
 * authorization through `authorize` (`issuer.read`, `issuer.manage`).
 * The JWKS URI must pass the outbound request policy (`outbound`): https,
 * unless the operator's allow-list opens the host, and never an inward address.
 */
export class TrustedIssuerService {
  constructor(
    private readonly store: TrustedIssuerStore,
    private readonly admin: AdminService,
    private readonly outbound: OutboundUrlCheck,
  ) {}

  /** Trusts an issuer for one tenant or one community (platform and community admins). */
  async add(principal: Principal, input: TrustedIssuerInput, context: RequestContext): Promise<TrustedIssuer> {
    authorize(principal, 'issuer.manage');
    if (present(input.tenant) === present(input.community)) {
      throw new MeridianError('INVALID_INPUT', 'A trusted issuer is for one tenant or one community: give exactly one.', {
        field: 'tenant',
      });
    }
    if (present(input.tenant)) {
      const tenant = await this.admin.authorizeTenant(principal, 'issuer.manage', input.tenant);
      const parsed = parseTrustedIssuer(input, 'tenant');
      await this.outbound.checkUrl(parsed.jwksUri, 'jwksUri');
      return this.store.create({ ...parsed, tenantId: tenant.id, communityId: null, ownerCommunityId: tenant.communityId }, context);
    }
    const community = await this.admin.authorizeCommunity(principal, 'issuer.manage', input.community as string);
    const parsed = parseTrustedIssuer(input, 'community');
    await this.outbound.checkUrl(parsed.jwksUri, 'jwksUri');
    return this.store.create({ ...parsed, tenantId: null, communityId: community.id, ownerCommunityId: community.id }, context);
  }

  /** The issuers of a tenant or a community, or (platform only) all of them. */
  async list(principal: Principal, owner: TokenOwner): Promise<TrustedIssuer[]> {
    authorize(principal, 'issuer.read');
    if (present(owner.tenant) && present(owner.community)) {
      throw new MeridianError('INVALID_INPUT', 'Give a tenant or a community, not both.', { field: 'community' });
    }
    if (present(owner.tenant))
      return this.store.list({ tenantId: (await this.admin.authorizeTenant(principal, 'issuer.read', owner.tenant)).id });
    if (present(owner.community)) {
      return this.store.list({ communityId: (await this.admin.authorizeCommunity(principal, 'issuer.read', owner.community)).id });
    }
    authorize(principal, 'issuer.read', {});
    return this.store.list({});
  }

  /** Stops trusting an issuer; NOT_FOUND when it is not in the principal's reach. */
  async remove(principal: Principal, id: string, context: RequestContext): Promise<TrustedIssuer> {
    authorize(principal, 'issuer.manage');
    const found = await this.store.find(id);
    const notFound = () => new MeridianError('NOT_FOUND', `Trusted issuer '${id}' not found.`, { field: 'id' });
    if (!found) throw notFound();
    try {
      if (found.tenantId !== null) await this.admin.authorizeTenant(principal, 'issuer.manage', found.tenantId);
      else await this.admin.authorizeCommunity(principal, 'issuer.manage', found.communityId as string);
    } catch (error) {
      if (error instanceof MeridianError && error.code === 'NOT_FOUND') throw notFound();
      throw error;
    }
    const removed = await this.store.delete(id, context);
    if (!removed) throw notFound();
    return removed;
  }
}
