import { type ConnectionOptions, createPostgresBackend, type Processor, Queue, Worker, type WorkerOptions, withBackend } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import type { QueueBackendKind } from './job-queue.js';
import { openRedis, parseRedisUrl } from './redis-connection.js';

/** Options of {@link openTargetQueues}. */
export interface TargetQueuesOptions {
  /** Redis URL: BullMQ runs on Redis when set. */
  redisUrl?: string | undefined;
  /** PostgreSQL URL: BullMQ's PostgreSQL backend (schema `bullmq`) otherwise. */
  databaseUrl: string;
  /** Queue-name prefix; tests give each run its own. No ':' allowed. */
  prefix?: string;
}

/** The data of a replication job: bring one resource at one target up to date. */
export interface SyncJobData {
  tenantId: string;
  targetId: string;
  kind: 'User' | 'Group';
  resourceId: string;
  /** The hub version that caused the job (informational: the worker always loads the current state). */
  version: number;
  requestId?: string;
  /**
   * What a Group update did to its members (hub ids), from `version - 1` to
   * `version` (ADR 0024): pushed as a delta when the target holds `version - 1`.
   */
  members?: { added: string[]; removed: string[] };
}

/**
 * One BullMQ queue per target, on Redis or on BullMQ's PostgreSQL backend:
 * pausing a queue pauses exactly one target (admin pause, open circuit),
 * and BullMQ's global rate limit and concurrency apply per target.
 */
export interface TargetQueues {
  readonly backend: QueueBackendKind;
  /** The queue name of a target. */
  nameOf(targetId: string): string;
  /** The (cached) queue of a target. */
  queue(targetId: string): Queue<SyncJobData>;
  /** A new worker for a target's queue. */
  worker(targetId: string, processor: Processor<SyncJobData>, options: Omit<WorkerOptions, 'connection'>): Worker<SyncJobData>;
  /** The error a processor throws after `worker.rateLimit(ms)` to put its job back without spending an attempt. */
  rateLimitError(): Error;
  /** Drops a target's queue and every job in it. */
  drop(targetId: string): Promise<void>;
  /**
   * Resolves when the queue backend answers (readiness). Redis is asked
   * directly; on the PostgreSQL backend the queues live in the hub's own
   * database, whose check covers them.
   */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * BullMQ's connection for `REDIS_URL`: options (each queue and worker makes
 * its own connection) for one server; one shared client for a Redis Cluster,
 * which workers duplicate for their blocking reads.
 */
function redisConnection(redisUrl: string): ConnectionOptions {
  const location = parseRedisUrl(redisUrl);
  if (location.cluster) return openRedis(redisUrl, { maxRetriesPerRequest: null });
  const { username, password, db, tls } = location.options;
  return {
    ...location.nodes[0],
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    ...(db !== undefined ? { db } : {}),
    ...(tls ? { tls } : {}),
    maxRetriesPerRequest: null,
  };
}

/**
 * A BullMQ queue re-throws an 'error' event nobody listens to and prints it
 * with its stack. Its connection errors (the database restarting, Redis
 * failing over) are retried by BullMQ and show in readiness and job outcomes;
 * they need no listener beyond this one.
 */
export function quiet<Q extends { on(event: 'error', listener: (error: Error) => void): unknown }>(queue: Q): Q {
  queue.on('error', () => {});
  return queue;
}

/** Opens the per-target replication queues on Redis (`redisUrl`) or PostgreSQL. */
export function openTargetQueues(options: TargetQueuesOptions): TargetQueues {
  const prefix = options.prefix ?? 'meridian-replication';
  if (prefix.includes(':')) throw new TypeError('BullMQ queue names may not contain ":"');
  const queues = new Map<string, Queue<SyncJobData>>();
  const nameOf = (targetId: string) => `${prefix}-${targetId}`;

  if (options.redisUrl) {
    const redisUrl = options.redisUrl;
    const connection = redisConnection(redisUrl);
    // Redis Cluster: every key of one queue in one hash slot (BullMQ's scripts touch several), and the queues of
    // different targets spread over the masters: each queue's prefix is its own hash tag.
    const clustered = parseRedisUrl(redisUrl).cluster;
    const placement = (targetId: string) => (clustered ? { prefix: `{${nameOf(targetId)}}` } : {});
    let probe: Redis | Cluster | undefined;
    return {
      backend: 'redis',
      async ping() {
        probe ??= openRedis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false });
        probe.on('error', () => {});
        if (probe.status === 'wait' || probe.status === 'end') await probe.connect();
        await probe.ping();
      },
      nameOf,
      queue(targetId) {
        let queue = queues.get(targetId);
        if (!queue) {
          queue = quiet(new Queue<SyncJobData>(nameOf(targetId), { connection, ...placement(targetId) }));
          queues.set(targetId, queue);
        }
        return queue;
      },
      worker: (targetId, processor, workerOptions) =>
        new Worker<SyncJobData>(nameOf(targetId), processor, { ...workerOptions, connection, ...placement(targetId) }),
      rateLimitError: () => Worker.RateLimitError(),
      async drop(targetId) {
        const queue = this.queue(targetId);
        await queue.obliterate({ force: true });
        await queue.close();
        queues.delete(targetId);
      },
      async close() {
        await Promise.all([...queues.values()].map((q) => q.close()));
        queues.clear();
        probe?.disconnect();
        // A shared cluster client is not closed by the queues that use it.
        if ('disconnect' in connection && typeof connection.disconnect === 'function') connection.disconnect();
      },
    };
  }

  const classes = withBackend(createPostgresBackend);
  // A config object (not a bare string) so that the schema applies. Every queue and worker owns a pool (and a worker
  // a LISTEN connection): keep them small, since a process holds one queue and one worker per target.
  const connection = { connectionString: options.databaseUrl, schema: 'bullmq', max: 1, migrate: true };
  const workerConnection = { ...connection, max: 2 };
  return {
    backend: 'postgres',
    ping: async () => {},
    nameOf,
    queue(targetId) {
      let queue = queues.get(targetId);
      if (!queue) {
        queue = quiet(new classes.Queue<SyncJobData>(nameOf(targetId), { connection }) as unknown as Queue<SyncJobData>);
        queues.set(targetId, queue);
      }
      return queue;
    },
    worker: (targetId, processor, workerOptions) =>
      new classes.Worker<SyncJobData>(nameOf(targetId), processor as never, {
        ...workerOptions,
        connection: workerConnection,
      }) as unknown as Worker<SyncJobData>,
    rateLimitError: () => classes.Worker.RateLimitError(),
    async drop(targetId) {
      const queue = this.queue(targetId);
      await queue.obliterate({ force: true });
      await queue.close();
      queues.delete(targetId);
    },
    async close() {
      await Promise.all([...queues.values()].map((q) => q.close()));
      queues.clear();
    },
  };
}
