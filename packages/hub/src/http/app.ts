import { randomUUID } from 'node:crypto';
import { registerGraphql } from '@meridian/graphql';
import { scimPlugin } from '@meridian/scim';
import { translateDatabaseError } from '@meridian/store';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import type { Logger } from 'pino';
import { AuthFailureRecorder } from '../auth/auth-failure-recorder.js';
import { createConsoleTokenVerifier, storedSigningKey } from '../auth/console-tokens.js';
import { openTrustedIssuers } from '../auth/trusted-issuers.js';
import type { HubConfig } from '../config/config.js';
import { HubMetrics } from '../observability/metrics.js';
import { readOperationalState } from '../observability/operational-state.js';
import { tracingPlugin } from '../observability/tracing.js';
import { createHubLogger, type HubLoggerOptions } from '../runtime/logger.js';
import type { Runtime } from '../runtime/runtime.js';
import { createAuthenticator, identifyRequests } from './authenticator.js';
import { diskState, registerAvailabilityGate } from './availability.js';
import { registerConsole } from './console-routes.js';
import { registerExplorer } from './explorer.js';
import { redactQueryValues } from './log-redaction.js';
import { observeRequests, registerMetricsRoute } from './metrics-route.js';
import { registerOidc } from './oidc-routes.js';
import { registerQueuesDashboard } from './queues-dashboard.js';
import { registerRateLimits } from './rate-limit.js';
import { registerReadRouting } from './read-routing.js';
import { registerSourceEvents } from './source-event-routes.js';
import { registerSsf } from './ssf-routes.js';

/** Options of {@link buildApp}. */
export interface AppOptions {
  config: HubConfig;
  runtime: Runtime;
  /** The process's root logger ({@link createHubLogger}); `meridian serve` hands the one the replication engine logs to. */
  loggerInstance?: Logger;
  /** Without `loggerInstance`: the level and stream of a logger made for this app (redaction is always added), or false for none (tests). */
  logger?: boolean | HubLoggerOptions;
  /** The process's metrics (`meridian serve` makes one per process); without it the app makes its own. */
  metrics?: HubMetrics;
}

/** How long in-flight requests may take to finish when the app closes. */
const CLOSE_GRACE_MS = 10_000;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** Routes of probes: their request lines are logged at debug level. */
const PROBES: ReadonlySet<string> = new Set(['/healthz', '/readyz']);

/**
 * One log line per request, when its response is done: `request completed`
 * with method, route template, URL (query values redacted), status, duration,
 * request id (`reqId`), and the tenant and token id (`actor`) of the caller
 * once authenticated. Probes log at debug, 5xx at error, everything else at
 * info. Fastify's own "incoming request" line and its lines for 404s and
 * handled 4xx are dropped; its line for an unhandled 5xx (with the error) stays.
 */
class RequestLogController extends LogController {
  override incomingRequest(): void {}

  override routeNotFound(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const route = request.routeOptions.url;
    const status = reply.statusCode;
    const level = status >= 500 || error ? 'error' : route !== undefined && PROBES.has(route) ? 'debug' : 'info';
    const log: FastifyBaseLogger & Partial<Pick<Logger, 'isLevelEnabled'>> = request.log;
    // Probes come every few seconds: skip building their line unless debug is on.
    if (log.isLevelEnabled?.(level) === false) return;
    log[level](
      {
        method: request.method,
        route,
        url: redactQueryValues(request.url),
        status,
        durationMs: Math.round(reply.elapsedTime * 10) / 10,
        tenant: request.tenantId,
        actor: request.tokenId,
        ...(error ? { err: error } : {}),
      },
      'request completed',
    );
  }

  override defaultErrorLog(error: Error, request: FastifyRequest, reply: FastifyReply): void {
    // A 4xx is the caller's doing, and its request line says so; an unexpected 5xx keeps its error line.
    if (reply.statusCode >= 500) super.defaultErrorLog(error, request, reply);
  }
}

/** Builds the hub's HTTP application: SCIM, GraphQL and health endpoints. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { config, runtime } = options;
  // Secrets never reach the logs: the hub's logger redacts credentials wherever they appear.
  const logger =
    options.loggerInstance ??
    (options.logger === false ? undefined : createHubLogger(config, typeof options.logger === 'object' ? options.logger : {}));
  const app = Fastify({
    ...(logger ? { loggerInstance: logger as FastifyBaseLogger } : { logger: false }),
    logController: new RequestLogController(),
    bodyLimit: 1_048_576,
    trustProxy: false,
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
  });
  // A span per request when OpenTelemetry is on; registered before any route so that it sees them all.
  const tracing = tracingPlugin();
  if (tracing) await app.register(tracing);
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  const metrics =
    options.metrics ??
    new HubMetrics(
      () => readOperationalState(runtime),
      (error) => app.log.warn({ err: error }, 'metrics could not read the database'),
    );
  observeRequests(app, metrics);

  // Closing waits for in-flight requests; a client that keeps a connection busy beyond the grace period is cut off,
  // so that nothing outside the hub can keep it from stopping.
  let closeGrace: NodeJS.Timeout | undefined;
  app.addHook('preClose', async () => {
    closeGrace = setTimeout(() => app.server.closeAllConnections(), CLOSE_GRACE_MS);
    closeGrace.unref();
  });
  app.addHook('onClose', async () => clearTimeout(closeGrace));

  const issuers = openTrustedIssuers(runtime);
  // Refused credentials become auth.failed entries, counted per minute and written off the request path (docs/audit.md);
  // what is pending is written before each audit read and when the app closes.
  const authFailures = new AuthFailureRecorder(runtime.auditLog, {
    onError: (error) => app.log.warn({ err: error }, 'authentication failures could not be written to the audit log; they stay pending'),
  }).start();
  const detachAuthFailures = runtime.audit.addPendingEntries(authFailures);
  app.addHook('onClose', async () => {
    detachAuthFailures();
    await authFailures.close().catch(() => undefined);
  });
  // The requests it authenticates carry their tenant and token id, for their log line.
  const authenticate = identifyRequests(
    app,
    createAuthenticator(runtime.adminStore, config.adminToken, issuers.verifyJwt, {
      lookup: runtime.tokenLookup,
      // The admin console's tokens (ADR 0034): verified with the community's own OpenID Provider key, read locally; GraphQL only.
      console: createConsoleTokenVerifier({
        publicUrl: config.publicUrl,
        findCommunity: (slug) => runtime.adminStore.findCommunity(slug),
        signingKey: storedSigningKey(runtime.sso.payloads),
        roles: runtime.consoleRoles.store,
      }),
    }),
    authFailures,
  );
  // Before the SCIM and GraphQL routes, so their requests inherit the limit hooks.
  const rateLimits = await registerRateLimits(app, { ...config.rateLimits, redisUrl: config.redisUrl });
  registerExplorer(app, { enabled: config.graphqlExplorer });
  registerConsole(app);
  // Before the SCIM and GraphQL routes too: reads of requests that only read may go to DATABASE_READ_URL (ADR 0031).
  const readRouting = registerReadRouting(app, runtime.readReplica, metrics);
  // While the embedded PostgreSQL is being restarted, SCIM and GraphQL answer 503 at once (issue 11).
  registerAvailabilityGate(app, runtime.embedded);

  // A SCIM write that succeeded has an outbox event waiting: wake this process's relay (if it runs one) instead
  // of leaving the event to its next poll. Replication and the global directory both start there. GraphQL
  // mutations do the same (registerGraphql's onMutation).
  app.addHook('onResponse', async (request, reply) => {
    if (request.method !== 'GET' && request.method !== 'HEAD' && reply.statusCode < 400 && request.url.startsWith('/scim/')) {
      runtime.replication.kick();
    }
  });

  // On the main port unless MERIDIAN_METRICS_PORT gives it a port of its own (docs/operations.md).
  if (config.metrics.port === undefined) registerMetricsRoute(app, { metrics, token: config.metrics.token, authenticate });
  // The replication queues in bull-board, for the platform admin, when they are on Redis (docs/operations.md).
  await registerQueuesDashboard(app, runtime, authenticate);
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const checks: Record<string, string> = {};
    try {
      await runtime.pingDatabase();
      checks.database = 'ok';
    } catch {
      checks.database = 'unavailable';
    }
    try {
      await runtime.replication.pingQueue();
      checks.queue = 'ok';
    } catch {
      checks.queue = 'unavailable';
    }
    // A full disk fails PostgreSQL's writes and the hub's key and log files alike.
    checks.disk = await diskState(config.dataDir, config.readyMinFreeBytes);
    const ready = Object.values(checks).every((v) => v === 'ok' || v === 'unknown');
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'unavailable', checks });
  });

  await app.register(scimPlugin, {
    prefix: '/scim/v2',
    resources: runtime.resources,
    settings: runtime.settings,
    authenticate,
    baseUrl: `${config.publicUrl}/scim/v2`,
    replication: {
      waitFor: (tenantId, requestId, timeoutMs) => runtime.replication.waitFor(tenantId, requestId, timeoutMs),
      defaultWaitSeconds: (tenantId) => runtime.replication.defaultWait(tenantId),
    },
    limits: { maxResults: config.scimMaxResults },
    translateError: translateDatabaseError,
    ownership: runtime.offboarding,
    ...(runtime.streams.asyncResponses ? { async: runtime.streams.asyncResponses } : {}),
  });
  await registerGraphql(app, {
    services: {
      admin: runtime.admin,
      resources: runtime.resources,
      settings: runtime.settings,
      issuers: issuers.service,
      audit: runtime.audit,
      replication: runtime.replicationService,
      people: runtime.directory,
      ...(runtime.replication.directoryExports ? { directoryExports: runtime.replication.directoryExports } : {}),
      relyingParties: runtime.relyingParties,
      consoleRoles: runtime.consoleRoles.service,
      communityThemes: runtime.communityThemes,
      offboarding: runtime.offboarding,
      eventStreams: runtime.streams.service,
      jitTargets: runtime.jit.targets,
      sources: runtime.sources,
      firstSignIn: runtime.jit.firstSignIn,
    },
    authenticate,
    onMutation: () => runtime.replication.kick(),
    onOperation: (operation) => metrics.observeGraphql(operation),
    ...readRouting,
    translateError: translateDatabaseError,
    throttle: async (request, principal) =>
      principal.kind === 'tenant' ? rateLimits.throttleTenant(request, principal.tenantId) : undefined,
    limits: config.graphqlLimits,
  });
  // Each community's OpenID Provider at /oidc/{community} (issue 15, docs/sso.md).
  await registerOidc(app, runtime, config);
  // Each community's Shared Signals transmitter under its issuer (issue 17, docs/events.md).
  await registerSsf(app, runtime, config, authenticate);
  // Inbound sources that push SCIM events to the hub (issue 17, docs/sources.md): the SET's signature authenticates.
  await registerSourceEvents(app, runtime, config);
  return app;
}
