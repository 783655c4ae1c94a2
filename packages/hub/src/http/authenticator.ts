import { createHash, timingSafeEqual } from 'node:crypto';
import type { AdminStore, Principal } from '@meridian/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type JwtVerifier, looksLikeJwt } from '../auth/jwt-authenticator.js';

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
export interface AuthLog {
  debug(details: Record<string, unknown>, message: string): void;
  warn(details: Record<string, unknown>, message: string): void;
}

/** Resolves an `Authorization` header to a principal, or undefined when it is missing or invalid. */
export type Authenticate = (authorization: string | undefined, log?: AuthLog) => Promise<Principal | undefined>;

/**
 * Resolves `Authorization: Bearer <token>` (RFC 6750 §2.1) to a principal:
 * the configured platform admin token, a stored API token (`mrd_…`), or a JWT
 * from a trusted issuer. Why a token was refused is logged at debug level,
 * without the token; the caller only ever learns "invalid token".
 */
export function createAuthenticator(store: AdminStore, adminToken: string | undefined, verifyJwt?: JwtVerifier): Authenticate {
  const adminDigest = adminToken === undefined ? undefined : digest(adminToken);
  return async (authorization, log) => {
    const match = authorization === undefined ? null : /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(authorization);
    const secret = match?.[1];
    if (!secret) {
      if (authorization !== undefined) log?.debug({ reason: 'MALFORMED' }, 'bearer token refused');
      return undefined;
    }
    if (adminDigest && timingSafeEqual(digest(secret), adminDigest)) {
      return { kind: 'platform', tokenId: 'env:MERIDIAN_ADMIN_TOKEN', scopes: ['admin'] };
    }
    if (verifyJwt && looksLikeJwt(secret)) {
      const verified = await verifyJwt(secret);
      if (verified.ok) return verified.principal;
      // An unreachable key set is the operator's problem, not the caller's: say so louder.
      const level = verified.reason === 'JWKS_UNAVAILABLE' ? 'warn' : 'debug';
      log?.[level]({ reason: verified.reason, issuerId: verified.issuerId }, 'JWT bearer token refused');
      return undefined;
    }
    const token = await store.authenticate(secret);
    if (!token) {
      log?.debug({ reason: 'UNKNOWN_TOKEN' }, 'bearer token refused');
      return undefined;
    }
    if (token.tenantId !== null) {
      return {
        kind: 'tenant',
        tokenId: token.id,
        tenantId: token.tenantId,
        scopes: token.scopes,
        ...(token.userId ? { userId: token.userId } : {}),
      };
    }
    if (token.communityId !== null) return { kind: 'community', tokenId: token.id, communityId: token.communityId, scopes: token.scopes };
    return { kind: 'platform', tokenId: token.id, scopes: token.scopes };
  };
}

/**
 * Wraps an authenticator so the requests it authenticates carry their
 * principal's `tenantId` and `tokenId` (for the request log line). SCIM and
 * GraphQL pass `request.log` to `authenticate`: each request has its own child
 * logger, which leads back to the request.
 */
export function identifyRequests(app: FastifyInstance, authenticate: Authenticate): Authenticate {
  const requests = new WeakMap<object, FastifyRequest>();
  app.decorateRequest('tenantId', undefined);
  app.decorateRequest('tokenId', undefined);
  app.addHook('onRequest', async (request) => {
    // Without logging every request shares one null logger: nothing to log, nothing to map.
    if (request.log !== app.log) requests.set(request.log, request);
  });
  return async (authorization, log) => {
    const principal = await authenticate(authorization, log);
    const request = log === undefined ? undefined : requests.get(log);
    if (principal && request) {
      request.tokenId = principal.tokenId;
      request.tenantId = principal.kind === 'tenant' ? principal.tenantId : undefined;
    }
    return principal;
  };
}
