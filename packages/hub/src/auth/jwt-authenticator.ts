import {
  type AdminStore,
  type Clock,
  type JwtClaimsRefusal,
  type JwtLookups,
  type Principal,
  principalOfJwtClaims,
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
  | 'AMBIGUOUS_ISSUER'
  | 'ALGORITHM_NOT_ALLOWED'
  | 'UNKNOWN_KEY'
  | 'BAD_SIGNATURE'
  | 'EXPIRED'
  | 'NOT_YET_VALID'
  | 'INVALID_CLAIMS'
  | 'JWKS_UNAVAILABLE'
  // The verified claims map to no principal (core's principalOfJwtClaims): NO_ROLE, UNKNOWN_TENANT, UNKNOWN_USER.
  | JwtClaimsRefusal;

/** The outcome of verifying one JWT. */
type JwtVerification =
  | { ok: true; principal: Principal; issuerId: string }
  | {
      ok: false;
      reason: JwtFailureReason;
      issuerId?: string | undefined;
      /**
       * The tenant the token provably belongs to: set when the issuer's keys
       * verified its signature and it names a tenant (a tenant issuer, or a
       * community issuer's tenant claim), so that the refusal can be recorded there.
       */
      tenantId?: string | undefined;
    };

/** Verifies a compact JWT bearer token and maps its claims to a principal (core's `principalOfJwtClaims`). */
export type JwtVerifier = (token: string) => Promise<JwtVerification>;

/** Options of {@link createJwtAuthenticator}. */
export interface JwtAuthenticatorOptions {
  issuers: Pick<TrustedIssuerStore, 'findByIssuer' | 'findActiveUserId'>;
  tenants: Pick<AdminStore, 'findTenantInCommunity'>;
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

/** Failures jose reports only after the signature verified (claims are checked last). */
const SIGNED_CLAIM_FAILURES: ReadonlySet<JwtFailureReason> = new Set(['EXPIRED', 'NOT_YET_VALID', 'INVALID_CLAIMS']);

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
 * RFC 9068): finds the issuer configuration by `iss` and `aud` (and, when
 * several communities trust the same pair, by whose keys verify the
 * signature; refused when more than one do), verifies the signature with the
 * issuer's JWKS (fetched and cached by `jose`) under its algorithm allow-list, checks `iss`, `aud`, `exp` and `nbf` with a small
 * leeway, and maps the verified claims to a tenant or community principal by the core's rule
 * (`principalOfJwtClaims`), making the lookups it asks for: the claimed tenant, an end user's User.
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
    // (issuer, audience) is unique in a community: a token naming two audiences of one community is ambiguous.
    if (new Set(candidates.map((c) => c.ownerCommunityId)).size < candidates.length) return { ok: false, reason: 'AMBIGUOUS_AUDIENCE' };

    // Each community decides alone whom it trusts, so several may trust the same `iss` and `aud`. The signature
    // then tells them apart: a configuration counts only when its own keys verify the token. A token that more than
    // one community's keys verify is refused, never given to one of them, let alone several.
    const verifyWith = async (
      issuer: TrustedIssuer,
    ): Promise<{ issuer: TrustedIssuer; payload?: JWTPayload; reason?: JwtFailureReason }> => {
      try {
        const { payload } = await jwtVerify(token, keySetOf(issuer), {
          issuer: issuer.issuer,
          audience: issuer.audience,
          algorithms: issuer.algorithms,
          clockTolerance: tolerance,
          requiredClaims: ['exp', 'sub'],
          currentDate: clock.now(),
        });
        return { issuer, payload };
      } catch (error) {
        return { issuer, reason: reasonOf(error) };
      }
    };
    const results = await Promise.all(candidates.map(verifyWith));
    const verified = results.filter((r) => r.payload !== undefined);
    if (verified.length > 1) return { ok: false, reason: 'AMBIGUOUS_ISSUER' };
    if (verified.length === 0) {
      // Expired, not yet valid or a bad claim: jose checks claims only once the signature verified, so the token is that issuer's.
      const signed = results.filter((r) => r.reason !== undefined && SIGNED_CLAIM_FAILURES.has(r.reason));
      if (signed.length > 1) return { ok: false, reason: 'AMBIGUOUS_ISSUER' };
      const [failed] = signed.length === 1 ? signed : results;
      if (!failed?.reason) return { ok: false, reason: 'BAD_SIGNATURE' };
      const tenantOfFailed = signed.length === 1 ? failed.issuer.tenantId : null;
      return { ok: false, reason: failed.reason, issuerId: failed.issuer.id, ...(tenantOfFailed ? { tenantId: tenantOfFailed } : {}) };
    }
    const { issuer, payload } = verified[0] as { issuer: TrustedIssuer; payload: JWTPayload };
    // The signature verified: who the token is, is the core's rule. The hub only makes the lookups it asks for, in order.
    const found: JwtLookups = {};
    let mapping = principalOfJwtClaims(payload, issuer, found);
    if (mapping.kind === 'find-tenant') {
      found.tenantId = (await options.tenants.findTenantInCommunity(mapping.communityId, mapping.slug))?.id ?? null;
      mapping = principalOfJwtClaims(payload, issuer, found);
    }
    if (mapping.kind === 'find-user') {
      found.userId = (await options.issuers.findActiveUserId(mapping.tenantId, mapping.userName)) ?? null;
      mapping = principalOfJwtClaims(payload, issuer, found);
    }
    switch (mapping.kind) {
      case 'principal':
        return { ok: true, issuerId: issuer.id, principal: mapping.principal };
      case 'refused':
        // A refusal names the tenant the token acts in, when it names one, so that it is recorded in that tenant's chain.
        return {
          ok: false,
          reason: mapping.reason,
          issuerId: issuer.id,
          ...(mapping.tenantId !== undefined ? { tenantId: mapping.tenantId } : {}),
        };
      default:
        throw new TypeError(`principalOfJwtClaims asked for a lookup twice: ${mapping.kind}`);
    }
  };
}
