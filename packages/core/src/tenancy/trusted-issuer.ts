import { MeridianError } from '../errors/meridian-error.js';
import { parseRole, ROLE_DEFINITIONS, ROLES, type Role } from './roles.js';

/**
 * JWS algorithms a trusted issuer may be allowed (RFC 7518 §3.1, RFC 8037,
 * RFC 9864). Asymmetric only: `none` and the HMAC family (`HS*`) are never
 * accepted, so a public key can never be used as a shared secret.
 */
export const JWT_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;

/** An allowed JWS algorithm. */
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

/** The algorithms an issuer accepts when none are given. */
export const DEFAULT_JWT_ALGORITHMS: readonly JwtAlgorithm[] = ['RS256', 'ES256', 'EdDSA'];

/**
 * An OAuth 2.0 / OIDC issuer whose JWT bearer tokens the hub accepts for one
 * tenant or one community, and how its claims map to Meridian roles.
 */
export interface TrustedIssuer {
  id: string;
  /** Exactly one of `tenantId` and `communityId` is set. */
  tenantId: string | null;
  communityId: string | null;
  /**
   * The community the issuer belongs to: `communityId`, or the tenant's
   * community. `(issuer, audience)` is unique within it, never across
   * communities, so that one community can neither see nor block another's.
   */
  ownerCommunityId: string;
  /** The `iss` the tokens carry, compared exactly. */
  issuer: string;
  /** The `aud` the tokens must carry (RFC 7519 §4.1.3). */
  audience: string;
  jwksUri: string;
  algorithms: JwtAlgorithm[];
  /** The claim listing the caller's roles (an array, or a space-separated string); a dotted path reaches into objects. */
  rolesClaim: string;
  /** Community issuers: the claim naming the tenant (slug or id) a tenant-level role acts in. Null for tenant issuers. */
  tenantClaim: string | null;
  /** The claim holding the end user's userName (`end_user` role). */
  subjectClaim: string;
  /** Claim value → Meridian role; values not listed grant nothing. */
  roleMap: Record<string, Role>;
  createdAt: Date;
}

/** A trusted issuer to store: validated, its tenant or community resolved. */
export type NewTrustedIssuer = Omit<TrustedIssuer, 'id' | 'createdAt'>;

/** Raw input of a trusted issuer, from the CLI or GraphQL. */
export interface TrustedIssuerInput {
  /** The tenant (slug or id) the issuer's tokens act in; give this or `community`. */
  tenant?: string | null | undefined;
  /** The community (slug or id) the issuer's tokens act across. */
  community?: string | null | undefined;
  issuer: string;
  audience: string;
  jwksUri: string;
  /** Comma-separated or listed; defaults to {@link DEFAULT_JWT_ALGORITHMS}. */
  algorithms?: string | string[] | null | undefined;
  rolesClaim?: string | null | undefined;
  tenantClaim?: string | null | undefined;
  subjectClaim?: string | null | undefined;
  /** `value=role,value=role` or an object; when empty, role names in the claim map to themselves. */
  roleMap?: string | Record<string, string> | null | undefined;
}

// Core does no IO and has no URL parser: these patterns accept https URLs, and plain http only on the loopback interface.
const HTTPS_URL = /^https:\/\/[A-Za-z0-9.-]+(?::\d{1,5})?(?:[/?][^\s#]*)?$/;
const LOOPBACK_URL = /^http:\/\/(?:localhost|127\.0\.0\.1|\[::1\])(?::\d{1,5})?(?:[/?][^\s#]*)?$/;
// A JWKS URI is fetched: its shape is checked here (http or https, a host name or an IP literal), and the
// outbound request policy decides where it may point and whether plain http is allowed (TrustedIssuerService).
const FETCHED_URL = /^https?:\/\/(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?(?:[/?][^\s#]*)?$/;
const CLAIM_NAME = /^[\x21-\x7e]{1,200}$/;
const MAX_ROLE_MAPPINGS = 100;

function requireUrl(value: string, field: string): string {
  const url = value.trim();
  if (url.length > 2048 || !(HTTPS_URL.test(url) || LOOPBACK_URL.test(url))) {
    throw new MeridianError('INVALID_INPUT', `'${field}' must be an https URL (http only on localhost).`, { field });
  }
  return url;
}

function requireFetchedUrl(value: string, field: string): string {
  const url = value.trim();
  if (url.length > 2048 || !FETCHED_URL.test(url)) {
    throw new MeridianError('INVALID_INPUT', `'${field}' must be an https URL.`, { field });
  }
  return url;
}

function claimName(value: string | null | undefined, fallback: string, field: string): string {
  const name = value === undefined || value === null || value.trim() === '' ? fallback : value.trim();
  if (!CLAIM_NAME.test(name))
    throw new MeridianError('INVALID_INPUT', `'${field}' must be a claim name of 1 to 200 visible characters.`, { field });
  return name;
}

/** Parses an algorithm allow-list; INVALID_INPUT for `none`, `HS*` or anything unknown. */
export function parseJwtAlgorithms(input: string | string[] | null | undefined): JwtAlgorithm[] {
  const list = (Array.isArray(input) ? input : (input ?? '').split(',')).map((a) => a.trim()).filter((a) => a !== '');
  if (list.length === 0) return [...DEFAULT_JWT_ALGORITHMS];
  for (const alg of list) {
    if (!(JWT_ALGORITHMS as readonly string[]).includes(alg)) {
      throw new MeridianError(
        'INVALID_INPUT',
        `Algorithm '${alg}' is not allowed: use ${JWT_ALGORITHMS.join(', ')} (never 'none' or HS*, which would turn a public key into a secret).`,
        { field: 'algorithms' },
      );
    }
  }
  return [...new Set(list as JwtAlgorithm[])];
}

/**
 * Parses a role map (`hr=hr_reader,scim=provisioner`, split at the last `=`)
 * for an issuer at `level`: a tenant issuer maps only to tenant roles, and no
 * issuer maps to `platform_admin`. Empty: every role it may map maps from its own name.
 */
export function parseRoleMap(
  input: string | Record<string, string> | null | undefined,
  level: 'tenant' | 'community',
): Record<string, Role> {
  const entries: [string, string][] =
    typeof input === 'string'
      ? input
          .split(',')
          .map((pair) => pair.trim())
          .filter((pair) => pair !== '')
          .map((pair) => {
            const at = pair.lastIndexOf('=');
            if (at <= 0)
              throw new MeridianError('INVALID_INPUT', `Role mapping '${pair}' must read 'claimValue=role'.`, { field: 'roleMap' });
            return [pair.slice(0, at).trim(), pair.slice(at + 1).trim()];
          })
      : Object.entries(input ?? {});
  const mayMap = (role: Role): boolean => role !== 'platform_admin' && (level === 'community' || ROLE_DEFINITIONS[role].level === 'tenant');
  if (entries.length === 0) return Object.fromEntries(ROLES.filter(mayMap).map((role) => [role, role]));
  if (entries.length > MAX_ROLE_MAPPINGS) {
    throw new MeridianError('INVALID_INPUT', `At most ${MAX_ROLE_MAPPINGS} role mappings.`, { field: 'roleMap' });
  }
  const map: [string, Role][] = [];
  for (const [value, name] of entries) {
    if (value === '' || value.length > 256) {
      throw new MeridianError('INVALID_INPUT', 'A mapped claim value must be 1 to 256 characters.', { field: 'roleMap' });
    }
    const role = parseRole(name, 'roleMap');
    if (role === 'platform_admin') {
      throw new MeridianError('INVALID_INPUT', 'No JWT issuer grants platform_admin: platform tokens come from the hub itself.', {
        field: 'roleMap',
      });
    }
    if (!mayMap(role)) {
      throw new MeridianError('INVALID_INPUT', `The role '${role}' acts across a community: map it in a community issuer.`, {
        field: 'roleMap',
      });
    }
    map.push([value, role]);
  }
  return Object.fromEntries(map);
}

/** Validates a trusted issuer's settings for a tenant or community issuer. */
export function parseTrustedIssuer(
  input: TrustedIssuerInput,
  level: 'tenant' | 'community',
): Omit<NewTrustedIssuer, 'tenantId' | 'communityId' | 'ownerCommunityId'> {
  const audience = input.audience.trim();
  if (audience === '' || audience.length > 2048) {
    throw new MeridianError('INVALID_INPUT', "'audience' must be 1 to 2048 characters.", { field: 'audience' });
  }
  if (level === 'tenant' && input.tenantClaim !== undefined && input.tenantClaim !== null && input.tenantClaim.trim() !== '') {
    throw new MeridianError('INVALID_INPUT', "A tenant issuer's tokens act in its tenant: 'tenantClaim' is for community issuers.", {
      field: 'tenantClaim',
    });
  }
  return {
    issuer: requireUrl(input.issuer, 'issuer'),
    audience,
    jwksUri: requireFetchedUrl(input.jwksUri, 'jwksUri'),
    algorithms: parseJwtAlgorithms(input.algorithms),
    rolesClaim: claimName(input.rolesClaim, 'roles', 'rolesClaim'),
    tenantClaim: level === 'community' ? claimName(input.tenantClaim, 'tenant', 'tenantClaim') : null,
    subjectClaim: claimName(input.subjectClaim, 'sub', 'subjectClaim'),
    roleMap: parseRoleMap(input.roleMap, level),
  };
}
