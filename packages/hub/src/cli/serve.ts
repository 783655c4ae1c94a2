import { isPortFree } from '@meridian/store';
import type { FastifyInstance } from 'fastify';
import type { HubConfig } from '../config/config.js';
import { buildApp } from '../http/app.js';
import { createAuthenticator } from '../http/authenticator.js';
import { startMetricsServer } from '../http/metrics-route.js';
import { HubMetrics } from '../observability/metrics.js';
import { readOperationalState } from '../observability/operational-state.js';
import { stopTracing } from '../observability/tracing.js';
import { createHubLogger, replicationLogger } from '../runtime/logger.js';
import { startOffboardingRunner } from '../runtime/offboarding.js';
import { openRuntime, type Runtime } from '../runtime/runtime.js';
import { startSourceScheduler } from '../runtime/scheduled-work.js';
import { StartupError } from '../runtime/startup-errors.js';

/**
 * Starts the hub and keeps it running until SIGINT / SIGTERM. The first signal
 * stops it in order (in-flight requests finish, workers stop taking jobs, the
 * embedded PostgreSQL stops) and exits 0; a second one exits at once.
 */
export async function serve(config: HubConfig, role: 'api' | 'worker' | 'all'): Promise<void> {
  const say = (message: string) => process.stdout.write(`${message}\n`);
  // Checked before anything has side effects: no migration, no printed admin token, for a hub that cannot listen.
  if (role !== 'worker' && !(await isPortFree(config.port, config.host))) {
    throw new StartupError(
      `Port ${config.port} on ${config.host} is in use by another program. Set PORT to a free port (e.g. PORT=${config.port + 1}).`,
    );
  }
  const metricsPort = config.metrics.port;
  if (metricsPort !== undefined && (metricsPort === config.port || !(await isPortFree(metricsPort, config.host)))) {
    throw new StartupError(`Port ${metricsPort} on ${config.host} is in use. Set MERIDIAN_METRICS_PORT to a free port other than PORT.`);
  }
  let runtime: Runtime | undefined;
  let app: FastifyInstance | undefined;
  let metricsServer: FastifyInstance | undefined;
  let checkpoints: NodeJS.Timeout | undefined;
  let stopOffboarding: (() => void) | undefined;
  let stopSources: (() => void) | undefined;
  let stopping: Promise<void> | undefined;
  const close = async () => {
    clearInterval(checkpoints);
    stopOffboarding?.();
    stopSources?.();
    await app?.close().catch(() => {});
    await metricsServer?.close().catch(() => {});
    await runtime?.close().catch(() => {});
    // The spans still buffered are exported before the process exits.
    await stopTracing();
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      say(`[meridian] ${signal} again: exiting now.`);
      runtime?.embedded?.abort();
      process.exit(1);
    }
    say(`[meridian] ${signal}: shutting down.`);
    stopping = started.then(close, close).then(() => {
      say('[meridian] Stopped.');
      process.exit(0);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const started = (async () => {
    // One logger for the process: request lines and the replication engine's lines share its stream and redaction.
    const logger = createHubLogger(config, { buffered: true });
    // One registry per process; its scrape-time gauges read the runtime once it is open.
    const metrics = new HubMetrics(
      async () => {
        if (!runtime) throw new Error('The hub is still starting.');
        return readOperationalState(runtime);
      },
      (error) => logger.warn({ err: error }, 'metrics could not read the database'),
    );
    const replicationLog = metrics.countingReplicationLogger(replicationLogger(logger));
    runtime = await openRuntime(config, 'server', (m) => say(`[meridian] ${m}`), replicationLog, { supervise: true });
    if (stopping) return;
    if (runtime.applied.length > 0) say(`[meridian] Applied migrations: ${runtime.applied.join(', ')}`);
    await bootstrapAdminToken(config, runtime, say);
    // The outbox relay and the target workers (issue 5): any number of worker processes may run them side by side.
    if (role !== 'api' && !stopping) await runtime.replication.start();
    // Scheduled leaves and deletions after the grace period (issue 19), claimed with a lease by any worker process.
    if (role !== 'api' && !stopping) stopOffboarding = startOffboardingRunner(runtime.offboarding, say, config.schedulerPollMs);
    // Inbound sources' scheduled syncs (issues 16 and 18), claimed with a lease by any worker process.
    if (role !== 'api' && !stopping) stopSources = startSourceScheduler(runtime.sources, config.schedulerPollMs, say);
    // The communities' event streams (issue 17): SETs from the stream inbox, pushes, pruning; any number of workers.
    if (role !== 'api' && !stopping) runtime.streams.start((error) => logger.warn({ err: error }, 'event streams step failed'));
    const auditKey = await runtime.auditLog.signingKey();
    say(`[meridian] Audit checkpoints are signed with key ${auditKey.keyId} (${auditKey.fingerprint}).`);
    if (role !== 'worker' && !stopping) {
      app = await buildApp({ config, runtime, loggerInstance: logger, metrics });
      await app.listen({ port: config.port, host: config.host });
    }
    if (config.metrics.port !== undefined && !stopping) {
      const authenticate = createAuthenticator(runtime.adminStore, config.adminToken, undefined, { tokenCacheMs: config.tokenCacheMs });
      metricsServer = await startMetricsServer({
        metrics,
        token: config.metrics.token,
        authenticate,
        port: config.metrics.port,
        host: config.host,
      });
    }
  })();
  try {
    await started;
  } catch (error) {
    // Nothing may outlive a failed start: the embedded database is released for the next one.
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await close();
    throw error;
  }
  if (stopping || !runtime) return;
  checkpoints = startCheckpointTimer(config, runtime, say);

  const database = config.databaseUrl ? 'PostgreSQL at DATABASE_URL' : `embedded PostgreSQL (data in ${config.dataDir})`;
  say(
    [
      '',
      `Meridian hub is running (role: ${role}).`,
      ...(app
        ? [
            `  SCIM 2.0   ${config.publicUrl}/scim/v2`,
            `  GraphQL    ${config.publicUrl}/graphql`,
            `  Health     ${config.publicUrl}/healthz  ${config.publicUrl}/readyz`,
          ]
        : []),
      `  Metrics    ${config.metrics.port !== undefined ? `http://${config.host}:${config.metrics.port}/metrics` : app ? `${config.publicUrl}/metrics` : 'none (set MERIDIAN_METRICS_PORT)'} (bearer token)`,
      `  Database   ${database}`,
      `  Queue      BullMQ on ${config.redisUrl ? 'Redis (REDIS_URL)' : 'PostgreSQL'}`,
      `  Replication ${role === 'api' ? 'delivered by worker processes' : 'relay and target workers running'}`,
      '  Stop       Ctrl+C or SIGTERM (twice to exit at once)',
      '',
    ].join('\n'),
  );
}

/** On first start, issues the platform admin token and prints it once (unless MERIDIAN_ADMIN_TOKEN is set). */
async function bootstrapAdminToken(config: HubConfig, runtime: Awaited<ReturnType<typeof openRuntime>>, say: (m: string) => void) {
  if (config.adminToken) return;
  const existing = await runtime.adminStore.listTokens(null);
  if (existing.some((t) => t.scopes.includes('admin') && t.revokedAt === null)) return;
  const issued = await runtime.adminStore.issueToken(
    { name: 'bootstrap admin', tenantId: null, scopes: ['admin'], expiresAt: null },
    { actor: { type: 'system', id: 'bootstrap' }, requestId: 'bootstrap' },
  );
  say(['', 'Platform admin token (shown once; store it now, or set MERIDIAN_ADMIN_TOKEN):', `  ${issued.token}`, ''].join('\n'));
}

/**
 * Signs audit checkpoints while the hub runs: a chain gets one once
 * `MERIDIAN_AUDIT_CHECKPOINT_ENTRIES` entries were appended since its last
 * one, or once its last one is `MERIDIAN_AUDIT_CHECKPOINT_MINUTES` old. Every
 * hub process may run this: a checkpoint is unique per (chain, seq).
 */
function startCheckpointTimer(config: HubConfig, runtime: Runtime, say: (m: string) => void): NodeJS.Timeout {
  const { checkpointEveryEntries, checkpointEveryMinutes } = config.audit;
  const everyMs = checkpointEveryMinutes > 0 ? checkpointEveryMinutes * 60_000 : Number.POSITIVE_INFINITY;
  // Often enough for the entry count to matter, never more than every 5 seconds.
  const tickMs = Math.min(60_000, Math.max(5_000, Number.isFinite(everyMs) ? everyMs : 60_000));
  let running = false;
  const tick = async () => {
    if (running) return;
    running = true;
    try {
      const outcomes = await runtime.auditLog.checkpoint({ everyEntries: checkpointEveryEntries, everyMs });
      for (const o of outcomes.filter((x) => x.status === 'refused')) {
        // Never signed over: a broken chain is for a person to look at.
        say(
          `[meridian] Audit chain '${o.chain}' is not checkpointed at ${o.seq}: ${o.breaks.map((b) => b.message).join('; ')}. Run meridian audit verify.`,
        );
      }
    } catch (error) {
      say(`[meridian] Audit checkpoint failed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void tick(), tickMs);
  timer.unref();
  setTimeout(() => void tick(), 1_000).unref();
  return timer;
}
