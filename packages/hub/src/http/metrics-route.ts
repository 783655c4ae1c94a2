import { createHash, timingSafeEqual } from 'node:crypto';
import type { Principal } from '@meridian/core';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { HubMetrics, TenantClass } from '../observability/metrics.js';

/** Resolves an `Authorization` header to a principal (the hub's authenticator). */
type Authenticate = (authorization: string | undefined, log?: FastifyRequest['log']) => Promise<Principal | undefined>;

/** Options of {@link registerMetricsRoute}. */
export interface MetricsRouteOptions {
  metrics: HubMetrics;
  /** `MERIDIAN_METRICS_TOKEN`: a bearer token for scrapers that need no admin rights. */
  token: string | undefined;
  /** Accepts a platform admin token as well. */
  authenticate: Authenticate;
}

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
const digest = (value: string) => createHash('sha256').update(value).digest();

/** The bounded label of the caller of a request (see {@link TenantClass}). */
function tenantClassOf(request: FastifyRequest): TenantClass {
  return request.tenantId !== undefined ? 'tenant' : request.tokenId !== undefined ? 'operator' : 'anonymous';
}

/** Counts every answered request of `app` by route template (never its URL), method, status class and tenant class. */
export function observeRequests(app: FastifyInstance, metrics: HubMetrics): void {
  app.addHook('onResponse', async (request, reply) => {
    metrics.observeRequest({
      route: request.routeOptions.url,
      method: request.method,
      status: reply.statusCode,
      durationSeconds: reply.elapsedTime / 1000,
      tenantClass: tenantClassOf(request),
    });
  });
}

/**
 * `GET /metrics`: the Prometheus text exposition. It always needs a bearer
 * token (RFC 6750): `MERIDIAN_METRICS_TOKEN`, or a platform token with the
 * `admin` scope; anything else gets 401 (no token or an unknown one) or 403.
 */
export function registerMetricsRoute(app: FastifyInstance, options: MetricsRouteOptions): void {
  const tokenDigest = options.token === undefined ? undefined : digest(options.token);
  app.get('/metrics', async (request, reply) => {
    const authorization = request.headers.authorization;
    const secret = authorization === undefined ? undefined : BEARER.exec(authorization)?.[1];
    let allowed = secret !== undefined && tokenDigest !== undefined && timingSafeEqual(digest(secret), tokenDigest);
    if (!allowed) {
      const principal = await options.authenticate(authorization, request.log);
      if (principal === undefined) {
        const challenge = authorization === undefined ? 'Bearer realm="meridian"' : 'Bearer realm="meridian", error="invalid_token"';
        return reply
          .code(401)
          .header('www-authenticate', challenge)
          .send({ error: 'A metrics or platform admin bearer token is required.' });
      }
      allowed = principal.kind === 'platform' && principal.scopes.includes('admin');
      if (!allowed) return reply.code(403).send({ error: 'Only a metrics or platform admin token may read /metrics.' });
    }
    const body = await options.metrics.render();
    return reply.header('content-type', options.metrics.contentType).header('cache-control', 'no-store').send(body);
  });
}

/**
 * A Fastify server of its own for `/metrics` (`MERIDIAN_METRICS_PORT`), for
 * every role: a `worker` has no other HTTP server. It also answers
 * `/healthz` (no token), the liveness of such a process. Its requests are
 * not counted in the HTTP series.
 */
export async function startMetricsServer(options: MetricsRouteOptions & { port: number; host: string }): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, trustProxy: false });
  app.decorateRequest('tenantId', undefined);
  app.decorateRequest('tokenId', undefined);
  registerMetricsRoute(app, options);
  // Liveness of a process without another HTTP port (a worker): the image's HEALTHCHECK and the chart's probes use it.
  app.get('/healthz', async () => ({ status: 'ok' }));
  await app.listen({ port: options.port, host: options.host });
  return app;
}
