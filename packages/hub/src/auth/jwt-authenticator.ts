import {
  type AdminStore,
  type Clock,
  type Principal,
  ROLE_DEFINITIONS,
  type Role,
  type Scope,
  systemClock,
  type TrustedIssuer,
  type TrustedIssuerStore,
} from '@meridian/core';
import { createRemoteJWKSet, customFetch, decodeJwt, errors, type JWTPayload, jwtVerify } from 'jose';

/**
 * Why a JWT was refused. Logged at debug level (never with the token) and
 * never sent to the client, who only learns "invalid token" (RFC 6750 §3.1).
 */
export type JwtFailureReason =
  | 'MALFORMED'
  | 'UNKNOWN_ISSUER'
  | 'AUDIENCE_MISMATCH'
  | 'AMBIGUOUS_AUDIENCE'
  | 'ALGORITHM_NOT_ALLOWED'
  | 'UNKNOWN_KEY'
  | 'BAD_SIGNATURE'
  | 'EXPIRED'
  | 'NOT_YET_VALID'
  | 'INVALID_CLAIMS'
  | 'JWKS_UNAVAILABLE'
  | 'NO_ROLE'
  | 'UNKNOWN_TENANT'
  | 'UNKNOWN_USER';

/** The outcome of verifying one JWT. */
export type JwtVerification =
  | { ok: true; principal: Principal; issuerId: string }
  | { ok: false; reason: JwtFailureReason; issuerId?: string | undefined };

/** Verifies a compact JWT bearer token and maps its claims to a principal. */
export type JwtVerifier = (token: string) => Promise<JwtVerification>;

/** Options of {@link createJwtAuthenticator}. */
export interface JwtAuthenticatorOptions {
  issuers: Pick<TrustedIssuerStore, 'findByIssuer' | 'findActiveUserId'>;
  tenants: Pick<AdminStore, 'findTenant'>;
  clock?: Clock;
  /** Leeway for `exp` and `nbf` (RFC 7519 §4.1.4: "a small leeway"). Default 30 seconds. */
  clockToleranceSeconds?: number;
  /** How long an `iss` lookup is cached, so that a burst of tokens costs one query. Default 30 seconds. */
  issuerCacheMs?: number;
  /** JWKS request timeout. Default 5 seconds. */
  jwksTimeoutMs?: number;
  /**
   * The HTTP client JWKS are fetched with: the hub's outbound request policy,
   * https only unless the allow-list opens the host (`OutboundHttp.fetchFor({ httpsOnly: true })`).
   * Required, so that no key set is fetched around the policy.
   */
  fetch: typeof globalThis.fetch;
}

const MAX_TOKEN_LENGTH = 16_384;
const MAX_CACHED_ISSUERS = 1_000;
// The signature may be empty so that an unsecured JWT (RFC 7519 §6) is recognised, and refused, as one.
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** True when a bearer token has the shape of a compact JWS (three base64url parts, the last possibly empty). */
export function looksLikeJwt(token: string): boolean {
  return token.length <= MAX_TOKEN_LENGTH && COMPACT_JWS.test(token);
}

/** A claim by exact name, else by dotted path into nested objects (`realm_access.roles`). */
function claimOf(payload: JWTPayload, name: string): unknown {
  if (Object.hasOwn(payload, name)) return payload[name];
  let current: unknown = payload;
  for (const part of name.split('.')) {
    if (typeof current !== 'object' || current === null || Array.isArray(current) || !Object.hasOwn(current, part)) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

/** The roles a token's claim grants through the issuer's role map; values not mapped grant nothing. */
function rolesOf(payload: JWTPayload, issuer: TrustedIssuer): Role[] {
  const claim = claimOf(payload, issuer.rolesClaim);
  const values = typeof claim === 'string' ? claim.split(/\s+/) : Array.isArray(claim) ? claim.filter((v) => typeof v === 'string') : [];
  const map = new Map(Object.entries(issuer.roleMap));
  return [...new Set(values.flatMap((value) => map.get(value) ?? []))];
}

function reasonOf(error: unknown): JwtFailureReason {
  if (error instanceof errors.JWTExpired) return 'EXPIRED';
  if (error instanceof errors.JWTClaimValidationFailed) return error.claim === 'nbf' ? 'NOT_YET_VALID' : 'INVALID_CLAIMS';
  if (error instanceof errors.JOSEAlgNotAllowed) return 'ALGORITHM_NOT_ALLOWED';
  if (error instanceof errors.JWKSNoMatchingKey) return 'UNKNOWN_KEY';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'BAD_SIGNATURE';
  if (
    error instanceof errors.JWSInvalid ||
    error instanceof errors.JWTInvalid ||
    error instanceof errors.JOSENotSupported ||
    error instanceof errors.JWKInvalid
  ) {
    return 'MALFORMED';
  }
  // Timeouts, HTTP errors and unreachable hosts: the issuer's key set could not be had.
  return 'JWKS_UNAVAILABLE';
}

/**
 * Builds the verifier of JWT bearer tokens from trusted issuers (RFC 7519,
 * RFC 9068): finds the issuer configuration by `iss` and `aud`, verifies the
 * signature with the issuer's JWKS (fetched and cached by `jose`) under its
 * algorithm allow-list, checks `iss`, `aud`, `exp` and `nbf` with a small
 * leeway, and maps the claims to a tenant or community principal.
 */
export function createJwtAuthenticator(options: JwtAuthenticatorOptions): JwtVerifier {
  const clock = options.clock ?? systemClock;
  const tolerance = options.clockToleranceSeconds ?? 30;
  const issuerCacheMs = options.issuerCacheMs ?? 30_000;
  const issuerCache = new Map<string, { at: number; issuers: Promise<TrustedIssuer[]> }>();
  const keySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

  const issuersOf = (iss: string): Promise<TrustedIssuer[]> => {
    const now = clock.now().getTime();
    const cached = issuerCache.get(iss);
    if (cached && now - cached.at < issuerCacheMs) return cached.issuers;
    if (issuerCache.size >= MAX_CACHED_ISSUERS) {
      // Unknown `iss` values are cached too; keep the map bounded by dropping the oldest entry.
      const oldest = issuerCache.keys().next().value;
      if (oldest !== undefined) issuerCache.delete(oldest);
    }
    const issuers = options.issuers.findByIssuer(iss);
    issuerCache.delete(iss);
    issuerCache.set(iss, { at: now, issuers });
    issuers.catch(() => issuerCache.delete(iss));
    return issuers;
  };

  const keySetOf = (issuer: TrustedIssuer) => {
    let keySet = keySets.get(issuer.jwksUri);
    if (!keySet) {
      keySet = createRemoteJWKSet(new URL(issuer.jwksUri), {
        timeoutDuration: options.jwksTimeoutMs ?? 5_000,
        [customFetch]: options.fetch,
      });
      keySets.set(issuer.jwksUri, keySet);
    }
    return keySet;
  };

  return async (token) => {
    // Unsecured JWTs (`alg: none`, no signature) are never accepted.
    if (!looksLikeJwt(token) || token.endsWith('.')) return { ok: false, reason: 'MALFORMED' };
    let unverified: JWTPayload;
    try {
      unverified = decodeJwt(token);
    } catch {
      return { ok: false, reason: 'MALFORMED' };
    }
    if (typeof unverified.iss !== 'string' || unverified.iss === '') return { ok: false, reason: 'UNKNOWN_ISSUER' };
    const configured = await issuersOf(unverified.iss);
    if (configured.length === 0) return { ok: false, reason: 'UNKNOWN_ISSUER' };
    // The unverified `aud` only picks the configuration; jwtVerify checks it again on the verified payload.
    const audiences = typeof unverified.aud === 'string' ? [unverified.aud] : Array.isArray(unverified.aud) ? unverified.aud : [];
    const candidates = configured.filter((c) => audiences.includes(c.audience));
    if (candidates.length === 0) return { ok: false, reason: 'AUDIENCE_MISMATCH' };
    if (candidates.length > 1) return { ok: false, reason: 'AMBIGUOUS_AUDIENCE' };
    const issuer = candidates[0] as TrustedIssuer;
    const fail = (reason: JwtFailureReason): JwtVerification => ({ ok: false, reason, issuerId: issuer.id });

    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keySetOf(issuer), {
        issuer: issuer.issuer,
        audience: issuer.audience,
        algorithms: issuer.algorithms,
        clockTolerance: tolerance,
        requiredClaims: ['exp', 'sub'],
        currentDate: clock.now(),
      }));
    } catch (error) {
      return fail(reasonOf(error));
    }

    let tenantId = issuer.tenantId;
    if (tenantId === null) {
      const claimed = claimOf(payload, issuer.tenantClaim ?? 'tenant');
      if (claimed !== undefined && claimed !== null && claimed !== '') {
        const tenant = typeof claimed === 'string' ? await options.tenants.findTenant(claimed) : undefined;
        // A community issuer speaks for its own community's tenants only.
        if (!tenant || tenant.communityId !== issuer.communityId) return fail('UNKNOWN_TENANT');
        tenantId = tenant.id;
      }
    }
    const level = tenantId === null ? 'community' : 'tenant';
    const roles = rolesOf(payload, issuer).filter((role) => ROLE_DEFINITIONS[role].level === level);
    if (roles.length === 0) return fail('NO_ROLE');
    const scopes = [...new Set(roles.flatMap((role) => ROLE_DEFINITIONS[role].scopes))] as Scope[];
    const tokenId = `jwt:${issuer.id}:${String(payload.sub).slice(0, 256)}`;

    if (tenantId === null) {
      return {
        ok: true,
        issuerId: issuer.id,
        principal: { kind: 'community', tokenId, communityId: issuer.communityId as string, scopes },
      };
    }
    const principal: Principal = { kind: 'tenant', tokenId, tenantId, scopes };
    if (roles.includes('end_user')) {
      const userName = claimOf(payload, issuer.subjectClaim);
      const userId = typeof userName === 'string' ? await options.issuers.findActiveUserId(tenantId, userName) : undefined;
      if (userId === undefined) return fail('UNKNOWN_USER');
      principal.userId = userId;
    }
    return { ok: true, issuerId: issuer.id, principal };
  };
}
