import { createHash, timingSafeEqual } from 'node:crypto';
import {
  type AdminStore,
  type AuthenticationFailure,
  type AuthenticationFailureReason,
  type Clock,
  MeridianError,
  type Principal,
  type TokenLookup,
} from '@meridian/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ConsoleTokenVerifier } from '../auth/console-tokens.js';
import { type JwtFailureReason, type JwtVerifier, looksLikeJwt } from '../auth/jwt-authenticator.js';
import { tokenLookupOf } from '../auth/token-lookup.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated principal's tenant, when it acts in one (set by {@link identifyRequests}); for the request's log line. */
    tenantId?: string | undefined;
    /** The authenticated principal's token id (never its secret); for the request's log line. */
    tokenId?: string | undefined;
  }
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Where refusals are logged: the request's logger. */
interface AuthLog {
  debug(details: Record<string, unknown>, message: string): void;
  warn(details: Record<string, unknown>, message: string): void;
}

/**
 * What an API may accept besides the `Authorization` header. Only GraphQL
 * accepts the admin console's tokens (ADR 0034), with the role its
 * `Meridian-Role` header names.
 */
interface AuthOptions {
  console?: { role: string | undefined };
}

/**
 * Resolves an `Authorization` header to a principal, or undefined when it is
 * missing or invalid. A console token naming a role its account was not
 * granted throws FORBIDDEN (403).
 */
export type Authenticate = (authorization: string | undefined, log?: AuthLog, options?: AuthOptions) => Promise<Principal | undefined>;

/** Why a request was refused, as the audit log records it; the request's address and id are added where the request is known. */
type AuthRefusal = Omit<AuthenticationFailure, 'sourceAddress' | 'requestId'>;

/** The outcome of authenticating one `Authorization` header. */
type AuthOutcome =
  | { principal: Principal; refusal?: undefined; forbidden?: undefined }
  | { principal?: undefined; refusal: AuthRefusal; forbidden?: undefined }
  /** A console token whose account was not granted the role it asked for: 403, not 401. */
  | { principal?: undefined; refusal?: undefined; forbidden: string };

/** An {@link Authenticate} that can also say why it refused. */
export type Authenticator = Authenticate & {
  outcome(authorization: string | undefined, log?: AuthLog, options?: AuthOptions): Promise<AuthOutcome>;
};

/** Receives each refusal with the request's address and id (the hub's {@link AuthFailureRecorder}). */
export interface AuthFailureSink {
  add(failure: AuthenticationFailure): void;
}

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/** JWT refusals that come after the signature verified with the issuer's keys: the token is the issuer's, not made up. */
const SIGNED_REFUSALS: ReadonlySet<JwtFailureReason> = new Set([
  'EXPIRED',
  'NOT_YET_VALID',
  'INVALID_CLAIMS',
  'NO_ROLE',
  'UNKNOWN_TENANT',
  'UNKNOWN_USER',
]);

function jwtReason(reason: JwtFailureReason): AuthenticationFailureReason {
  switch (reason) {
    case 'EXPIRED':
      return 'expired_token';
    case 'MALFORMED':
      return 'malformed_token';
    case 'UNKNOWN_USER':
      return 'inactive_user';
    default:
      return 'invalid_token';
  }
}

/** Options of {@link createAuthenticator}. */
export interface AuthenticatorOptions {
  /** Looks API tokens up: the runtime's, which forgets what it remembers when this process revokes a token. */
  lookup?: TokenLookup;
  /** Without `lookup`: how long a looked-up API token is trusted, in ms (1,000 by default; 0: every request is looked up). */
  tokenCacheMs?: number;
  clock?: Clock;
  /** The admin console's tokens (ADR 0034), accepted only where the caller asks for them (`AuthOptions.console`). */
  console?: ConsoleTokenVerifier;
}

/**
 * Resolves `Authorization: Bearer <token>` (RFC 6750 §2.1) to a principal:
 * the configured platform admin token, a stored API token (`mrd_…`), or a JWT
 * from a trusted issuer. Why a token was refused is logged at debug level,
 * without the token; the caller only ever learns "invalid token". The
 * returned function's `outcome` also says why, for the audit log.
 */
export function createAuthenticator(
  store: AdminStore,
  adminToken: string | undefined,
  verifyJwt?: JwtVerifier,
  options: AuthenticatorOptions = {},
): Authenticator {
  const adminDigest = adminToken === undefined ? undefined : digest(adminToken);
  const lookUp = options.lookup ?? tokenLookupOf(store, options);
  const outcome = async (authorization: string | undefined, log?: AuthLog, authOptions?: AuthOptions): Promise<AuthOutcome> => {
    if (authorization === undefined) return { refusal: { reason: 'missing_token', detail: 'MISSING' } };
    const secret = BEARER.exec(authorization)?.[1];
    if (!secret) {
      log?.debug({ reason: 'MALFORMED' }, 'bearer token refused');
      // Not a bearer token (Basic credentials, garbage): nothing of it is kept.
      return { refusal: { reason: 'malformed_token', detail: 'MALFORMED' } };
    }
    if (adminDigest && timingSafeEqual(digest(secret), adminDigest)) {
      return { principal: { kind: 'platform', tokenId: 'env:MERIDIAN_ADMIN_TOKEN', scopes: ['admin'] } };
    }
    // A JWT of one of this hub's own community issuers for the GraphQL resource is a console token: GraphQL verifies it,
    // every other API refuses it (there it is a JWT of an issuer nobody trusts).
    if (authOptions?.console && options.console && looksLikeJwt(secret) && options.console.isConsoleToken(secret)) {
      const verified = await options.console.verify(secret, authOptions.console.role);
      if (verified.ok) return { principal: verified.principal };
      if ('forbidden' in verified) return { forbidden: verified.forbidden };
      log?.debug({ reason: verified.reason }, 'console token refused');
      const signed = verified.tenantId !== undefined;
      return {
        refusal: {
          reason: verified.reason === 'EXPIRED' ? 'expired_token' : verified.reason === 'UNKNOWN_USER' ? 'inactive_user' : 'invalid_token',
          detail: `CONSOLE_${verified.reason}`,
          tokenPrefix: secret,
          ...(signed ? { tenantId: verified.tenantId } : {}),
        },
      };
    }
    if (verifyJwt && looksLikeJwt(secret)) {
      const verified = await verifyJwt(secret);
      if (verified.ok) return { principal: verified.principal };
      // An unreachable key set is the operator's problem, not the caller's: say so louder.
      const level = verified.reason === 'JWKS_UNAVAILABLE' || verified.reason === 'AMBIGUOUS_ISSUER' ? 'warn' : 'debug';
      log?.[level]({ reason: verified.reason, issuerId: verified.issuerId }, 'JWT bearer token refused');
      const signed = SIGNED_REFUSALS.has(verified.reason);
      return {
        refusal: {
          reason: jwtReason(verified.reason),
          detail: verified.reason,
          tokenPrefix: secret,
          ...(verified.issuerId !== undefined ? { credential: { type: 'Issuer' as const, id: verified.issuerId } } : {}),
          ...(signed && verified.tenantId ? { tenantId: verified.tenantId } : {}),
        },
      };
    }
    const found = await lookUp(secret);
    if (!found.ok) {
      log?.debug({ reason: found.reason === 'unknown' ? 'UNKNOWN_TOKEN' : found.reason.toUpperCase() }, 'bearer token refused');
      if (found.reason === 'unknown') {
        // A prefix only of what looks like an API token: anything else may be a mistyped admin token or another system's secret.
        return {
          refusal: { reason: 'invalid_token', detail: 'UNKNOWN_TOKEN', ...(secret.startsWith('mrd_') ? { tokenPrefix: secret } : {}) },
        };
      }
      // The secret matched a stored token: the refusal belongs to the token's tenant (the platform's for other tokens).
      return {
        refusal: {
          reason: found.reason === 'revoked' ? 'revoked_token' : found.reason === 'expired' ? 'expired_token' : 'inactive_user',
          detail: found.reason.toUpperCase(),
          tokenPrefix: secret,
          tenantId: found.token.tenantId,
          credential: { type: 'Token', id: found.token.id },
        },
      };
    }
    const token = found.token;
    if (token.tenantId !== null) {
      return {
        principal: {
          kind: 'tenant',
          tokenId: token.id,
          tenantId: token.tenantId,
          scopes: token.scopes,
          ...(token.userId ? { userId: token.userId } : {}),
        },
      };
    }
    if (token.communityId !== null) {
      return { principal: { kind: 'community', tokenId: token.id, communityId: token.communityId, scopes: token.scopes } };
    }
    return { principal: { kind: 'platform', tokenId: token.id, scopes: token.scopes } };
  };
  const authenticate: Authenticate = async (authorization, log, authOptions) => {
    const found = await outcome(authorization, log, authOptions);
    if (found.forbidden !== undefined) throw new MeridianError('FORBIDDEN', found.forbidden);
    return found.principal;
  };
  return Object.assign(authenticate, { outcome });
}

/**
 * Wraps an authenticator so the requests it authenticates carry their
 * principal's `tenantId` and `tokenId` (for the request log line), and every
 * refusal reaches `failures` (the audit log's `auth.failed`) with the
 * request's address and id. SCIM and GraphQL pass `request.log` to
 * `authenticate`: each request has its own child logger, which leads back to
 * the request.
 */
export function identifyRequests(app: FastifyInstance, authenticator: Authenticator, failures?: AuthFailureSink): Authenticate {
  const requests = new WeakMap<object, FastifyRequest>();
  app.decorateRequest('tenantId', undefined);
  app.decorateRequest('tokenId', undefined);
  app.addHook('onRequest', async (request) => {
    // Without logging every request shares one null logger: give each its own (it logs nothing either) so it leads back here.
    if (request.log === app.log) request.log = Object.create(app.log) as typeof request.log;
    requests.set(request.log, request);
  });
  return async (authorization, log, authOptions) => {
    const { principal, refusal, forbidden } = await authenticator.outcome(authorization, log, authOptions);
    if (forbidden !== undefined) throw new MeridianError('FORBIDDEN', forbidden);
    const request = log === undefined ? undefined : requests.get(log);
    if (principal && request) {
      request.tokenId = principal.tokenId;
      request.tenantId = principal.kind === 'tenant' ? principal.tenantId : undefined;
    }
    if (refusal && failures) {
      failures.add({ ...refusal, sourceAddress: request?.ip ?? null, requestId: request?.id ?? 'unknown' });
    }
    return principal;
  };
}
