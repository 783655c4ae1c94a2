import type { Principal, Scope } from './model.js';
import { ROLE_DEFINITIONS, type Role } from './roles.js';
import type { TrustedIssuer } from './trusted-issuer.js';

/**
 * The claims of a JWT whose signature, `iss`, `aud`, `exp` and `nbf` the hub
 * has verified with its trusted issuer's keys (RFC 7519, RFC 9068): its payload.
 */
export type JwtClaims = Readonly<Record<string, unknown>>;

/** Why verified claims map to no principal. */
export type JwtClaimsRefusal = 'UNKNOWN_TENANT' | 'NO_ROLE' | 'UNKNOWN_USER';

/** What the caller has looked up for one token so far, at {@link principalOfJwtClaims}'s request. */
export interface JwtLookups {
  /** The tenant the tenant claim names in the issuer's community: its id, or null when there is none. */
  tenantId?: string | null;
  /** The active User the subject claim names in the tenant: its id, or null when there is none. */
  userId?: string | null;
}

/**
 * What verified claims come to: a principal; a refusal (naming the tenant
 * the token acts in when that is known, so that the refusal can be recorded
 * in its audit chain); or a lookup to make first and then ask again with its
 * result in {@link JwtLookups}.
 */
export type JwtClaimsMapping =
  | { kind: 'principal'; principal: Principal }
  | { kind: 'refused'; reason: JwtClaimsRefusal; tenantId?: string }
  /** Find the tenant with this slug in this community (never in another), and ask again with `tenantId`. */
  | { kind: 'find-tenant'; communityId: string; slug: string }
  /** Find the active User with this userName in this tenant, and ask again with `userId`. */
  | { kind: 'find-user'; tenantId: string; userName: string };

/** A claim by its exact name, else by a dotted path into nested objects (`realm_access.roles`). */
export function jwtClaim(claims: JwtClaims, name: string): unknown {
  if (Object.hasOwn(claims, name)) return claims[name];
  let current: unknown = claims;
  for (const part of name.split('.')) {
    if (typeof current !== 'object' || current === null || Array.isArray(current) || !Object.hasOwn(current, part)) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

/**
 * The roles the issuer's roles claim grants through its role map (the claim
 * is an array, or a space-separated string); values not mapped grant nothing.
 */
export function rolesOfJwtClaims(claims: JwtClaims, issuer: Pick<TrustedIssuer, 'rolesClaim' | 'roleMap'>): Role[] {
  const claim = jwtClaim(claims, issuer.rolesClaim);
  const values = typeof claim === 'string' ? claim.split(/\s+/) : Array.isArray(claim) ? claim.filter((v) => typeof v === 'string') : [];
  const map = new Map(Object.entries(issuer.roleMap));
  return [...new Set(values.flatMap((value) => map.get(value) ?? []))];
}

/**
 * Maps the verified claims of a token from `issuer` to a principal: the one
 * rule for who a JWT is. It does no IO; where it needs a lookup it says which,
 * and is called again with the answer.
 *
 * - A tenant issuer's tokens act in its tenant. A community issuer's tokens
 *   act across its community, or in the tenant its tenant claim names, looked
 *   up in the issuer's own community only (UNKNOWN_TENANT when there is none,
 *   or the claim is not a string).
 * - The roles are those the roles claim maps to at that level (a tenant's or a
 *   community's); none is NO_ROLE. The scopes are the roles' scopes together.
 * - The token id is `jwt:<issuer id>:<sub>`, the audit log's actor.
 * - An `end_user` is bound to the active User its subject claim names in the
 *   tenant (UNKNOWN_USER otherwise).
 *
 * @example
 * principalOfJwtClaims({ sub: 'ann', roles: ['scim'] }, tenantIssuer) // { kind: 'principal', principal: { kind: 'tenant', ... } }
 */
export function principalOfJwtClaims(claims: JwtClaims, issuer: TrustedIssuer, found: JwtLookups = {}): JwtClaimsMapping {
  let tenantId = issuer.tenantId;
  if (tenantId === null) {
    const claimed = jwtClaim(claims, issuer.tenantClaim ?? 'tenant');
    if (claimed !== undefined && claimed !== null && claimed !== '') {
      // A community issuer speaks for its own community's tenants only: the slug is looked up there, never elsewhere.
      if (typeof claimed !== 'string' || found.tenantId === null) return { kind: 'refused', reason: 'UNKNOWN_TENANT' };
      if (found.tenantId === undefined) {
        return { kind: 'find-tenant', communityId: issuer.communityId ?? issuer.ownerCommunityId, slug: claimed };
      }
      tenantId = found.tenantId;
    }
  }
  const refuse = (reason: JwtClaimsRefusal): JwtClaimsMapping => ({ kind: 'refused', reason, ...(tenantId !== null ? { tenantId } : {}) });

  const level = tenantId === null ? 'community' : 'tenant';
  const roles = rolesOfJwtClaims(claims, issuer).filter((role) => ROLE_DEFINITIONS[role].level === level);
  if (roles.length === 0) return refuse('NO_ROLE');
  const scopes: Scope[] = [...new Set(roles.flatMap((role) => ROLE_DEFINITIONS[role].scopes))];
  const tokenId = `jwt:${issuer.id}:${String(claims.sub).slice(0, 256)}`;
  if (tenantId === null) {
    return {
      kind: 'principal',
      principal: { kind: 'community', tokenId, communityId: issuer.communityId ?? issuer.ownerCommunityId, scopes },
    };
  }
  if (!roles.includes('end_user')) return { kind: 'principal', principal: { kind: 'tenant', tokenId, tenantId, scopes } };
  const userName = jwtClaim(claims, issuer.subjectClaim);
  if (typeof userName !== 'string' || found.userId === null) return refuse('UNKNOWN_USER');
  if (found.userId === undefined) return { kind: 'find-user', tenantId, userName };
  return { kind: 'principal', principal: { kind: 'tenant', tokenId, tenantId, scopes, userId: found.userId } };
}
