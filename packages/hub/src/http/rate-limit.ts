import { createHash } from 'node:crypto';
import fastifyRateLimit from '@fastify/rate-limit';
import { MeridianError } from '@meridian/core';
import { openRedis } from '@meridian/replication';
import { toScimError } from '@meridian/scim';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Request budgets per window; 0 turns a limit off. */
export interface RateLimitSettings {
  /** Requests per window for one bearer credential. */
  perToken: number;
  /** Requests per window for all tokens of one tenant together. */
  perTenant: number;
  /** Requests per window from one address without a credential, or with one that failed authentication. */
  perIp: number;
  /** The window, in milliseconds; one minute unless a test says otherwise. */
  windowMs?: number;
  /** Shares the counters between hub processes through Redis; in-memory per process otherwise. */
  redisUrl?: string | undefined;
}

/** What the GraphQL endpoint needs once it knows the caller. */
export interface RateLimits {
  /** Counts one request against a tenant's budget; the seconds to wait when it is spent, undefined otherwise. */
  throttleTenant(request: FastifyRequest, tenantId: string): Promise<number | undefined>;
}

type Scope = 'token' | 'tenant' | 'address';
type Check = (
  request: FastifyRequest,
  options?: { increment?: boolean },
) => Promise<{ isAllowed: boolean; isExceeded?: boolean; remaining?: number; ttl?: number }>;

const SCIM_CONTENT_TYPE = 'application/scim+json; charset=utf-8';
// Probes must answer even when a load balancer shares one address with clients.
const UNLIMITED = new Set(['/healthz', '/readyz']);
const WHY: Record<Scope, string> = { token: 'with this token', tenant: 'for this tenant', address: 'from this address' };

/** The SHA-256 of the bearer credential: the counter key, so no secret sits in memory or Redis. */
function credentialKey(authorization: string): string {
  const credential = /^\s*Bearer\s+(\S+)\s*$/i.exec(authorization)?.[1] ?? authorization;
  return `token:${createHash('sha256').update(credential).digest('base64url')}`;
}

function pathOf(request: FastifyRequest): string {
  const url = request.url;
  const cut = url.indexOf('?');
  return cut < 0 ? url : url.slice(0, cut);
}

/** Answers 429 with `Retry-After`, in the error shape of the endpoint asked. */
function refuse(request: FastifyRequest, reply: FastifyReply, seconds: number, scope: Scope): FastifyReply {
  const detail = `Too many requests ${WHY[scope]}; retry after ${seconds} seconds.`;
  reply.code(429).header('retry-after', String(seconds));
  const path = pathOf(request);
  if (path === '/scim/v2' || path.startsWith('/scim/v2/')) {
    return reply.header('content-type', SCIM_CONTENT_TYPE).send(toScimError(new MeridianError('RATE_LIMITED', detail)).body);
  }
  if (path === '/graphql') return reply.send({ errors: [{ message: detail, extensions: { code: 'RATE_LIMITED' } }] });
  return reply.send({ error: 'RATE_LIMITED', message: detail });
}

const secondsOf = (ttl: number | undefined) => Math.max(1, Math.ceil((ttl ?? 1000) / 1000));

/**
 * Adds rate limits to the app, before the SCIM and GraphQL routes are
 * registered so their hooks apply (issue 4):
 *
 * - per token, on the SHA-256 of the bearer credential, before anything is parsed;
 * - per address, for requests without a credential and for failed authentications,
 *   so guessing tokens is slow too;
 * - per tenant, once the request is authenticated (SCIM here, GraphQL through
 *   {@link RateLimits.throttleTenant}).
 *
 * Counting runs on @fastify/rate-limit, in memory or in Redis. When Redis
 * fails, requests pass and a warning is logged: limits protect the hub, they
 * must not take it down.
 */
export async function registerRateLimits(app: FastifyInstance, settings: RateLimitSettings): Promise<RateLimits> {
  // No offline queue: while Redis is away a check fails at once (and the request passes) instead of waiting.
  const redis = settings.redisUrl
    ? openRedis(settings.redisUrl, { connectTimeout: 500, maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true })
    : undefined;
  if (redis) {
    // ioredis reconnects by itself; failures surface per check below.
    redis.on('error', () => {});
    await redis
      .connect()
      .catch((error: unknown) => app.log.warn({ err: error }, 'Rate limit Redis unreachable; requests pass unlimited until it is back'));
    app.addHook('onClose', async () => {
      await redis.quit().catch(() => redis.disconnect());
    });
  }
  await app.register(fastifyRateLimit, {
    global: false,
    ...(redis ? { redis, nameSpace: 'meridian:ratelimit:' } : {}),
  });

  const tenantOf = new WeakMap<FastifyRequest, string>();
  const timeWindow = settings.windowMs ?? 60_000;
  const limiter = (max: number, keyGenerator: (request: FastifyRequest) => string): Check | undefined => {
    if (max <= 0) return undefined;
    // `cache` sizes the in-memory LRU of each limiter (the default holds 5000 keys).
    const options = { max, timeWindow, keyGenerator, skipOnError: false, cache: 50_000 };
    return app.createRateLimit(options) as Check;
  };
  const perToken = limiter(settings.perToken, (request) => credentialKey(request.headers.authorization ?? ''));
  const perTenant = limiter(settings.perTenant, (request) => `tenant:${tenantOf.get(request) ?? request.scimPrincipal?.tenantId}`);
  const perAddress = limiter(settings.perIp, (request) => `address:${request.ip}`);

  let warnedAt = 0;
  /** Runs a check; undefined lets the request through. */
  const over = async (check: Check | undefined, request: FastifyRequest, increment = true): Promise<number | undefined> => {
    if (!check) return undefined;
    try {
      const result = await check(request, { increment });
      if (result.isAllowed) return undefined;
      const exceeded = increment ? result.isExceeded : result.remaining === 0;
      return exceeded ? secondsOf(result.ttl) : undefined;
    } catch (error) {
      if (Date.now() - warnedAt > 60_000) {
        warnedAt = Date.now();
        request.log.warn({ err: error }, 'Rate limit store unavailable; requests pass unlimited');
      }
      return undefined;
    }
  };

  app.addHook('onRequest', async (request, reply) => {
    if (UNLIMITED.has(pathOf(request))) return;
    const authorization = request.headers.authorization;
    if (authorization === undefined) {
      const wait = await over(perAddress, request);
      return wait === undefined ? undefined : refuse(request, reply, wait, 'address');
    }
    // An address that keeps failing authentication is refused before its next guess is looked up.
    const blocked = await over(perAddress, request, false);
    if (blocked !== undefined) return refuse(request, reply, blocked, 'address');
    const wait = await over(perToken, request);
    return wait === undefined ? undefined : refuse(request, reply, wait, 'token');
  });

  app.addHook('onResponse', async (request, reply) => {
    if (reply.statusCode === 401 && request.headers.authorization !== undefined) await over(perAddress, request);
  });

  // SCIM authenticates in its own onRequest hook; preHandler runs after it, with the tenant known.
  app.addHook('preHandler', async (request, reply) => {
    const tenantId = request.scimPrincipal?.tenantId;
    if (tenantId === undefined) return;
    const wait = await over(perTenant, request);
    return wait === undefined ? undefined : refuse(request, reply, wait, 'tenant');
  });

  return {
    async throttleTenant(request, tenantId) {
      tenantOf.set(request, tenantId);
      return over(perTenant, request);
    },
  };
}
