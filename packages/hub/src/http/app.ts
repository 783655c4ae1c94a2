import { randomUUID } from 'node:crypto';
import { registerGraphql } from '@meridian/graphql';
import type { JobQueue } from '@meridian/replication';
import { scimPlugin } from '@meridian/scim';
import Fastify, { type FastifyInstance } from 'fastify';
import { openTrustedIssuers } from '../auth/trusted-issuers.js';
import type { HubConfig } from '../config/config.js';
import type { Runtime } from '../runtime/runtime.js';
import { createAuthenticator } from './authenticator.js';
import { registerExplorer } from './explorer.js';
import { LOG_REDACTION } from './log-redaction.js';
import { registerRateLimits } from './rate-limit.js';

/** Options of {@link buildApp}. */
export interface AppOptions {
  config: HubConfig;
  runtime: Runtime;
  queue?: JobQueue | undefined;
  /** pino options (level, stream; redaction is always added), or false for no request logging (tests). */
  logger?: boolean | Record<string, unknown>;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Builds the hub's HTTP application: SCIM, GraphQL and health endpoints. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { config, runtime, queue } = options;
  const app = Fastify({
    logger:
      options.logger === false
        ? false
        : {
            level: config.logLevel,
            // Secrets never reach the logs: credentials are redacted wherever they appear, whatever the caller adds.
            ...(typeof options.logger === 'object' ? options.logger : {}),
            ...LOG_REDACTION,
          },
    bodyLimit: 1_048_576,
    trustProxy: false,
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  const issuers = openTrustedIssuers(runtime);
  const authenticate = createAuthenticator(runtime.adminStore, config.adminToken, issuers.verifyJwt);
  // Before the SCIM and GraphQL routes, so their requests inherit the limit hooks.
  const rateLimits = await registerRateLimits(app, { ...config.rateLimits, redisUrl: config.redisUrl });
  registerExplorer(app, { enabled: config.graphqlExplorer });

  // A SCIM write that succeeded has an outbox event waiting: wake this process's relay (if it runs one) instead
  // of leaving the event to its next poll. Replication and the global directory both start there. GraphQL
  // mutations do the same (registerGraphql's onMutation).
  app.addHook('onResponse', async (request, reply) => {
    if (request.method !== 'GET' && request.method !== 'HEAD' && reply.statusCode < 400 && request.url.startsWith('/scim/')) {
      runtime.replication.relay.kick();
    }
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const checks: Record<string, string> = {};
    try {
      await runtime.orm.em.fork().execute('select 1');
      checks.database = 'ok';
    } catch {
      checks.database = 'unavailable';
    }
    if (queue) {
      try {
        await queue.ping();
        checks.queue = 'ok';
      } catch {
        checks.queue = 'unavailable';
      }
    }
    const ready = Object.values(checks).every((v) => v === 'ok');
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
      defaultWaitSeconds: (tenantId) => runtime.replication.waitPolicy(tenantId),
    },
    limits: { maxResults: config.scimMaxResults },
  });
  await registerGraphql(app, {
    services: {
      admin: runtime.admin,
      resources: runtime.resources,
      settings: runtime.settings,
      issuers: issuers.service,
      audit: runtime.audit,
      replication: runtime.replication,
      people: runtime.directory,
      ...(runtime.replication.directoryExports ? { directoryExports: runtime.replication.directoryExports } : {}),
    },
    authenticate,
    onMutation: () => runtime.replication.relay.kick(),
    throttle: async (request, principal) =>
      principal.kind === 'tenant' ? rateLimits.throttleTenant(request, principal.tenantId) : undefined,
    limits: config.graphqlLimits,
  });
  return app;
}
