import { MeridianError } from '../errors/meridian-error.js';
import type { AdminService } from '../tenancy/admin-service.js';
import type { Principal, RequestContext } from '../tenancy/model.js';
import type { OutboundUrlCheck } from '../tenancy/trusted-issuer-service.js';

/**
 * An office's upstream identity provider (issue 15): people of that office
 * may sign in there instead of with a password; the upstream subject is linked
 * to the office account whose userName is the value of `userNameClaim`.
 */
export interface UpstreamProvider {
  tenantId: string;
  communityId: string;
  /** The upstream OpenID Provider's issuer (discovery at `{issuer}/.well-known/openid-configuration`). */
  issuer: string;
  clientId: string;
  /** The upstream ID token claim holding the office userName (for the first sign-in, which links the account). */
  userNameClaim: string;
  createdAt: Date;
  updatedAt: Date;
}

/** What an admin gives: the office, the upstream issuer, and the client Meridian is registered as there. */
export interface UpstreamInput {
  tenant: string;
  issuer: string;
  clientId: string;
  clientSecret: string;
  userNameClaim?: string | null;
}

/** An upstream provider as the store writes it. */
export type UpstreamValues = Omit<UpstreamProvider, 'createdAt' | 'updatedAt'>;

/** Offices' upstream providers; the client secret is sealed at rest, and every write audited. */
export interface UpstreamProviderStore {
  set(values: UpstreamValues, clientSecret: string, context: RequestContext): Promise<UpstreamProvider>;
  find(tenantId: string): Promise<UpstreamProvider | undefined>;
  /** Removes it and the links of upstream subjects to accounts; false when there was none. */
  remove(tenantId: string, context: RequestContext): Promise<boolean>;
}

const ISSUER = /^(?:https:\/\/[A-Za-z0-9.-]+|http:\/\/(?:localhost|127\.0\.0\.1|\[::1\]))(?::\d{1,5})?(?:\/[^\s#?]*)?$/;
const CLAIM = /^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/;

function required(value: string | undefined, field: string, max: number): string {
  const text = (value ?? '').trim();
  if (text === '' || text.length > max) throw new MeridianError('INVALID_INPUT', `'${field}' is 1 to ${max} characters.`, { field });
  return text;
}

/** Validates an upstream provider (issuer https, or http on localhost; no query or fragment, OpenID Connect Discovery §2). */
export function parseUpstream(input: UpstreamInput): { issuer: string; clientId: string; clientSecret: string; userNameClaim: string } {
  const issuer = required(input.issuer, 'issuer', 2000).replace(/\/+$/, '');
  if (!ISSUER.test(issuer)) {
    throw new MeridianError('INVALID_INPUT', "'issuer' must be an https URL without query or fragment (http only on localhost).", {
      field: 'issuer',
    });
  }
  const userNameClaim = (input.userNameClaim ?? '').trim() || 'email';
  if (!CLAIM.test(userNameClaim))
    throw new MeridianError('INVALID_INPUT', "'userNameClaim' must be a claim name.", { field: 'userNameClaim' });
  return {
    issuer,
    clientId: required(input.clientId, 'clientId', 200),
    clientSecret: required(input.clientSecret, 'clientSecret', 1000),
    userNameClaim,
  };
}

/**
 * Upstream identity providers of offices: set, read and removed by the
 * office's admins and those above it (`settings.write`, `settings.read`).
 * The issuer answers to the outbound request policy when it is set and on
 * every request the hub makes to it.
 */
export class UpstreamProviderService {
  constructor(
    private readonly store: UpstreamProviderStore,
    private readonly admin: Pick<AdminService, 'authorizeTenant'>,
    private readonly outbound: OutboundUrlCheck,
  ) {}

  /** Sets (or replaces) the office's upstream provider. */
  async set(principal: Principal, input: UpstreamInput, context: RequestContext): Promise<UpstreamProvider> {
    const tenant = await this.admin.authorizeTenant(principal, 'settings.write', input.tenant);
    const parsed = parseUpstream(input);
    await this.outbound.checkUrl(parsed.issuer, 'issuer');
    const { clientSecret, ...rest } = parsed;
    return this.store.set({ ...rest, tenantId: tenant.id, communityId: tenant.communityId }, clientSecret, context);
  }

  /** The office's upstream provider; NOT_FOUND when it has none. */
  async get(principal: Principal, tenant: string): Promise<UpstreamProvider> {
    const found = await this.admin.authorizeTenant(principal, 'settings.read', tenant);
    const upstream = await this.store.find(found.id);
    if (!upstream) throw new MeridianError('NOT_FOUND', 'This office has no upstream identity provider.', { field: 'tenant' });
    return upstream;
  }

  /** Removes the office's upstream provider and its links. */
  async remove(principal: Principal, tenant: string, context: RequestContext): Promise<void> {
    const found = await this.admin.authorizeTenant(principal, 'settings.write', tenant);
    if (!(await this.store.remove(found.id, context))) {
      throw new MeridianError('NOT_FOUND', 'This office has no upstream identity provider.', { field: 'tenant' });
    }
  }
}
