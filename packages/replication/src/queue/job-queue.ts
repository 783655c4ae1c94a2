import { createPostgresBackend, Queue, withBackend } from 'bullmq';
import { quiet } from './target-queues.js';

/** Which BullMQ backend holds the jobs. */
export type QueueBackendKind = 'redis' | 'postgres';

/** Options of {@link openJobQueue}. */
export interface JobQueueOptions {
  /** Redis URL: when set, BullMQ runs on Redis. */
  redisUrl?: string | undefined;
  /** PostgreSQL URL: BullMQ's PostgreSQL backend keeps jobs beside the data otherwise. */
  databaseUrl: string;
  /** Queue name; ids and names may not contain ':'. */
  name?: string;
}

/** The hub's job queue and its backend. */
export interface JobQueue {
  backend: QueueBackendKind;
  queue: Queue;
  /** Resolves when the backend answers. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Opens the replication queue on Redis when `redisUrl` is set and on BullMQ's
 * PostgreSQL backend (schema `bullmq`, migrated by BullMQ itself) otherwise.
 */
export async function openJobQueue(options: JobQueueOptions): Promise<JobQueue> {
  const name = options.name ?? 'meridian-replication';
  if (name.includes(':')) throw new TypeError('BullMQ queue names may not contain ":"');
  if (options.redisUrl) {
    const url = new URL(options.redisUrl);
    const queue = new Queue(name, {
      connection: {
        host: url.hostname,
        port: Number(url.port || 6379),
        ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
        ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
        ...(url.pathname.length > 1 ? { db: Number(url.pathname.slice(1)) } : {}),
        maxRetriesPerRequest: null,
      },
    });
    quiet(queue);
    await queue.waitUntilReady();
    return { backend: 'redis', queue, ping: async () => void (await queue.getJobCounts('waiting')), close: () => queue.close() };
  }
  const { Queue: PostgresQueue } = withBackend(createPostgresBackend);
  const queue = quiet(
    new PostgresQueue(name, { connection: { connectionString: options.databaseUrl, schema: 'bullmq', max: 4, migrate: true } }),
  );
  await queue.waitUntilReady();
  return {
    backend: 'postgres',
    queue: queue as unknown as Queue,
    ping: async () => void (await queue.getJobCounts('waiting')),
    close: () => queue.close(),
  };
}
