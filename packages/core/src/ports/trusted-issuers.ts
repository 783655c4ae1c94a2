import type { RequestContext } from '../tenancy/model.js';
import type { NewTrustedIssuer, TrustedIssuer } from '../tenancy/trusted-issuer.js';

/** Trusted JWT issuers, and the lookups the JWT authenticator needs. Every write is audited. */
export interface TrustedIssuerStore {
  /** Stores an issuer; UNIQUENESS when its community (`ownerCommunityId`) already trusts the same issuer for the same audience. */
  create(values: NewTrustedIssuer, context: RequestContext): Promise<TrustedIssuer>;
  /** The issuers of one tenant or one community, or every issuer when neither is given. */
  list(owner: { tenantId?: string; communityId?: string }): Promise<TrustedIssuer[]>;
  find(id: string): Promise<TrustedIssuer | undefined>;
  /** Every configuration with this exact `iss`, whatever its audience or community. */
  findByIssuer(issuer: string): Promise<TrustedIssuer[]>;
  /** Removes an issuer; undefined when there was none. */
  delete(id: string, context: RequestContext): Promise<TrustedIssuer | undefined>;
  /** The id of the tenant's active User with this userName (case-insensitive, RFC 7643 §4.1.1). */
  findActiveUserId(tenantId: string, userName: string): Promise<string | undefined>;
}
