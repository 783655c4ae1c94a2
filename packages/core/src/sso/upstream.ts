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
  /** Replaces the email domains of an office's people (audited). */
  setEmailDomains(tenantId: string, communityId: string, domains: readonly string[], context: RequestContext): Promise<string[]>;
  emailDomains(tenantId: string): Promise<string[]>;
}

const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * The email domains of an office, lowercase and de-duplicated (RFC 1035 §2.3.1
 * names, at least two labels); anything else is INVALID_INPUT naming it.
 *
 * @example
 * parseEmailDomains(['EMEA.example.org', 'emea.example.org']) // ['emea.example.org']
 */
export function parseEmailDomains(input: readonly string[]): string[] {
  const domains = new Set<string>();
  for (const item of input.flatMap((d) => d.split(','))) {
    const domain = item.trim().toLowerCase().replace(/^@/, '');
    if (domain === '') continue;
    if (!DOMAIN.test(domain)) {
      throw new MeridianError('INVALID_INPUT', `'${domain.slice(0, 100)}' is not a domain name.`, { field: 'domains' });
    }
    domains.add(domain);
  }
  if (domains.size > 50) throw new MeridianError('INVALID_INPUT', 'An office has at most 50 email domains.', { field: 'domains' });
  return [...domains].sort();
}

/**
 * The office a user name signs in at when it is in several offices: the one
 * whose email domains include the user name's domain, when the user name is
 * an email address and exactly one of `offices` has that domain; otherwise
 * undefined (the person chooses).
 */
export function officeOfEmail(userName: string, offices: readonly { slug: string; domains: readonly string[] }[]): string | undefined {
  const at = userName.lastIndexOf('@');
  if (at <= 0 || at === userName.length - 1) return undefined;
  const domain = userName
    .slice(at + 1)
    .trim()
    .toLowerCase();
  const matching = offices.filter((o) => o.domains.includes(domain));
  return matching.length === 1 ? matching[0]?.slug : undefined;
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

  /** Sets the email domains of an office's people, for the sign-in page's choice of office (docs/sso.md). */
  async setEmailDomains(principal: Principal, tenant: string, domains: readonly string[], context: RequestContext): Promise<string[]> {
    const found = await this.admin.authorizeTenant(principal, 'settings.write', tenant);
    return this.store.setEmailDomains(found.id, found.communityId, parseEmailDomains(domains), context);
  }

  /** The email domains of an office's people. */
  async emailDomains(principal: Principal, tenant: string): Promise<string[]> {
    const found = await this.admin.authorizeTenant(principal, 'settings.read', tenant);
    return this.store.emailDomains(found.id);
  }

  /** Removes the office's upstream provider and its links. */
  async remove(principal: Principal, tenant: string, context: RequestContext): Promise<void> {
    const found = await this.admin.authorizeTenant(principal, 'settings.write', tenant);
    if (!(await this.store.remove(found.id, context))) {
      throw new MeridianError('NOT_FOUND', 'This office has no upstream identity provider.', { field: 'tenant' });
    }
  }
}
