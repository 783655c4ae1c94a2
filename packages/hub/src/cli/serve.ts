import { type JobQueue, openJobQueue } from '@meridian/replication';
import type { FastifyInstance } from 'fastify';
import type { HubConfig } from '../config/config.js';
import { buildApp } from '../http/app.js';
import { openRuntime, type Runtime } from '../runtime/runtime.js';

/** Starts the hub and keeps it running until SIGINT / SIGTERM. */
export async function serve(config: HubConfig, role: 'api' | 'worker' | 'all'): Promise<void> {
  const say = (message: string) => process.stdout.write(`${message}\n`);
  const runtime = await openRuntime(config, 'server', (m) => say(`[meridian] ${m}`));
  let queue: JobQueue | undefined;
  let app: FastifyInstance | undefined;
  try {
    queue = await openJobQueue({ redisUrl: config.redisUrl, databaseUrl: runtime.databaseUrl });
    if (runtime.applied.length > 0) say(`[meridian] Applied migrations: ${runtime.applied.join(', ')}`);
    await bootstrapAdminToken(config, runtime, say);
    // The outbox relay and the target workers (issue 5): any number of worker processes may run them side by side.
    if (role !== 'api') await runtime.replication.start();
    const auditKey = await runtime.auditLog.signingKey();
    say(`[meridian] Audit checkpoints are signed with key ${auditKey.keyId} (${auditKey.fingerprint}).`);
    if (role !== 'worker') {
      app = await buildApp({ config, runtime, queue });
      await app.listen({ port: config.port, host: config.host });
    }
  } catch (error) {
    // Nothing may outlive a failed start: the embedded database is released for the next one.
    await app?.close().catch(() => {});
    await queue?.close().catch(() => {});
    await runtime.close();
    throw error;
  }
  const openQueue = queue;
  const checkpoints = startCheckpointTimer(config, runtime, say);

  const database = config.databaseUrl ? 'PostgreSQL at DATABASE_URL' : `embedded PostgreSQL in ${config.dataDir}/pg`;
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
      `  Database   ${database}`,
      `  Queue      BullMQ on ${openQueue.backend === 'redis' ? 'Redis (REDIS_URL)' : 'PostgreSQL'}`,
      `  Replication ${role === 'api' ? 'delivered by worker processes' : 'relay and target workers running'}`,
      '',
    ].join('\n'),
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    say(`[meridian] ${signal}: shutting down.`);
    clearInterval(checkpoints);
    await app?.close();
    await openQueue.close();
    await runtime.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
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
