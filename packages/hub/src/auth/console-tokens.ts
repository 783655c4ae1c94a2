import {
  type Clock,
  CONSOLE_ACCOUNT_CLAIM,
  CONSOLE_CLIENT_ID,
  CONSOLE_TENANT_CLAIM,
  type ConsoleRoleStore,
  consolePrincipal,
  type Principal,
  systemClock,
} from '@meridian/core';
import { type CryptoKey, decodeJwt, errors, importJWK, type JWTPayload, jwtVerify } from 'jose';

/** Why a console token was refused (logged at debug level and recorded in `auth.failed`, never sent to the caller). */
type ConsoleTokenFailure =
  | 'MALFORMED'
  | 'UNKNOWN_ISSUER'
  | 'AUDIENCE_MISMATCH'
  | 'BAD_SIGNATURE'
  | 'EXPIRED'
  | 'NOT_YET_VALID'
  | 'INVALID_CLAIMS'
  | 'UNKNOWN_USER'
  | 'UNKNOWN_TENANT';

/** The outcome of a console token: a principal, a refusal (401), or a role the account was not granted (403). */
type ConsoleTokenOutcome =
  | { ok: true; principal: Principal }
  | { ok: false; reason: ConsoleTokenFailure; tenantId?: string }
  | { ok: false; forbidden: string; tenantId: string };

/** Verifies the admin console's access tokens (ADR 0034). */
export interface ConsoleTokenVerifier {
  /**
   * True when the token's (unverified) `iss` is one of this hub's community issuers and its `aud` the GraphQL
   * resource: it is the console's to decide, nobody else's. Any other JWT goes to the trusted issuers.
   */
  isConsoleToken(token: string): boolean;
  /** Verifies the token and maps it, with the `Meridian-Role` header, to a principal. */
  verify(token: string, role: string | undefined): Promise<ConsoleTokenOutcome>;
}

/** Options of {@link createConsoleTokenVerifier}. */
export interface ConsoleTokenOptions {
  /** `MERIDIAN_PUBLIC_URL`: issuers are `{publicUrl}/oidc/{slug}` and the resource is `{publicUrl}/graphql`. */
  publicUrl: string;
  findCommunity(slug: string): Promise<{ id: string; slug: string } | undefined>;
  /** The community's OP signing key (private JWK, JSON), undefined when it has none yet; read from the database, never over HTTP. */
  signingKey(communityId: string): Promise<string | undefined>;
  roles: Pick<ConsoleRoleStore, 'accountWithGrants'>;
  clock?: Clock;
  /** Leeway for `exp` and `nbf` (RFC 7519 §4.1.4). Default 30 seconds. */
  clockToleranceSeconds?: number;
  /** How long a community's key is kept in memory. Default 60 seconds. */
  keyCacheMs?: number;
}

const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi'];

function reasonOf(error: unknown): ConsoleTokenFailure {
  if (error instanceof errors.JWTExpired) return 'EXPIRED';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf') return 'NOT_YET_VALID';
    if (error.claim === 'aud') return 'AUDIENCE_MISMATCH';
    return 'INVALID_CLAIMS';
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'BAD_SIGNATURE';
  return 'MALFORMED';
}

/**
 * The console's access tokens (ADR 0034, RFC 9068): a JWT whose `iss` is one
 * of this hub's community issuers and whose `aud` is the GraphQL resource is verified with that community's
 * OpenID Provider key, read locally; `typ` must be `at+jwt`, `aud` the
 * GraphQL API's resource indicator, `client_id` the console, and `exp`
 * still to come. The office account it names must exist, be active and
 * belong to the issuer's community; its grants, read on every request,
 * decide what `Meridian-Role` may name.
 */
export function createConsoleTokenVerifier(options: ConsoleTokenOptions): ConsoleTokenVerifier {
  const base = options.publicUrl.replace(/\/+$/, '');
  const issuerPrefix = `${base}/oidc/`;
  const resource = `${base}/graphql`;
  const clock = options.clock ?? systemClock;
  const keyCacheMs = options.keyCacheMs ?? 60_000;
  const keys = new Map<string, { at: number; key: Promise<{ communityId: string; key: CryptoKey | Uint8Array } | undefined> }>();

  const slugOf = (iss: unknown): string | undefined => {
    if (typeof iss !== 'string' || !iss.startsWith(issuerPrefix)) return undefined;
    const slug = iss.slice(issuerPrefix.length);
    return SLUG.test(slug) ? slug : undefined;
  };

  const keyOf = (slug: string) => {
    const now = clock.now().getTime();
    const cached = keys.get(slug);
    if (cached && now - cached.at < keyCacheMs) return cached.key;
    const key = (async () => {
      const community = await options.findCommunity(slug);
      if (!community || community.slug !== slug) return undefined;
      const stored = await options.signingKey(community.id);
      if (stored === undefined) return undefined;
      const jwk = JSON.parse(stored) as Record<string, unknown>;
      for (const member of PRIVATE_MEMBERS) delete jwk[member];
      return { communityId: community.id, key: await importJWK(jwk, 'RS256') };
    })();
    keys.set(slug, { at: now, key });
    // A community without a key yet is asked again next time: its first token may come at any moment.
    key.then(
      (found) => found ?? keys.delete(slug),
      () => keys.delete(slug),
    );
    // Unknown slugs are remembered too: keep the map bounded.
    if (keys.size > 1_000) keys.delete(keys.keys().next().value as string);
    return key;
  };

  const isConsoleToken = (token: string): boolean => {
    try {
      const { iss, aud } = decodeJwt(token);
      return slugOf(iss) !== undefined && (aud === resource || (Array.isArray(aud) && aud.includes(resource)));
    } catch {
      return false;
    }
  };

  const verify = async (token: string, role: string | undefined): Promise<ConsoleTokenOutcome> => {
    let unverified: JWTPayload;
    try {
      unverified = decodeJwt(token);
    } catch {
      return { ok: false, reason: 'MALFORMED' };
    }
    const slug = slugOf(unverified.iss);
    if (slug === undefined) return { ok: false, reason: 'UNKNOWN_ISSUER' };
    const found = await keyOf(slug);
    if (!found) return { ok: false, reason: 'UNKNOWN_ISSUER' };
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, found.key, {
        issuer: `${issuerPrefix}${slug}`,
        audience: resource,
        algorithms: ['RS256'],
        typ: 'at+jwt',
        clockTolerance: options.clockToleranceSeconds ?? 30,
        requiredClaims: ['exp', 'sub', 'client_id', CONSOLE_TENANT_CLAIM, CONSOLE_ACCOUNT_CLAIM],
        currentDate: clock.now(),
      }));
    } catch (error) {
      return { ok: false, reason: reasonOf(error) };
    }
    const tenantId = payload[CONSOLE_TENANT_CLAIM];
    const userId = payload[CONSOLE_ACCOUNT_CLAIM];
    if (payload.client_id !== CONSOLE_CLIENT_ID || typeof tenantId !== 'string' || typeof userId !== 'string') {
      return { ok: false, reason: 'INVALID_CLAIMS' };
    }
    // The account and its grants, read on every request: a suspension or a revoked role takes effect at once.
    const owner = await options.roles.accountWithGrants(tenantId, userId);
    if (!owner || owner.account.communityId !== found.communityId) return { ok: false, reason: 'UNKNOWN_TENANT' };
    if (!owner.account.active) return { ok: false, reason: 'UNKNOWN_USER', tenantId };
    const mapped = consolePrincipal(owner.account, owner.grants, role);
    return 'forbidden' in mapped ? { ok: false, forbidden: mapped.forbidden, tenantId } : { ok: true, principal: mapped.principal };
  };

  return { isConsoleToken, verify };
}

/** The community has no signing key yet: it has issued no token, so none verifies. */
class NoSigningKey extends Error {}

/**
 * Reads a community's OP signing key from the store without making one: a
 * community that has none has issued no token, so a token claiming to be
 * its own is refused rather than a key generated for it.
 */
export function storedSigningKey(storage: {
  key(communityId: string, kind: 'signing', make: () => Promise<string>): Promise<string>;
}): (communityId: string) => Promise<string | undefined> {
  return (communityId) =>
    storage
      .key(communityId, 'signing', () => Promise.reject(new NoSigningKey()))
      .catch((error: unknown) => {
        if (error instanceof NoSigningKey) return undefined;
        throw error;
      });
}
