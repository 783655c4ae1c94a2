import { createPostgresBackend, type Processor, Queue, Worker, type WorkerOptions, withBackend } from 'bullmq';

export type Backend = 'postgres' | 'redis';

/** Where BullMQ keeps its jobs: Redis at `redisUrl`, or BullMQ's PostgreSQL backend (schema `bullmq`) at `databaseUrl`. */
export interface BackendConnection {
  backend: Backend;
  redisUrl: string;
  databaseUrl: string;
}

function redisConnection(redisUrl: string) {
  const url = new URL(redisUrl);
  return {
    host: url.hostname,
    port: Number(url.port || 6379),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    ...(url.pathname.length > 1 ? { db: Number(url.pathname.slice(1)) } : {}),
    maxRetriesPerRequest: null,
  };
}

/**
 * A bare BullMQ queue, connected as the hub connects its target queues
 * (packages/replication/src/queue/target-queues.ts): on PostgreSQL a pool of
 * one connection per queue and two per worker.
 */
export function openQueue<T>(connection: BackendConnection, name: string): Queue<T> {
  if (connection.backend === 'redis') return new Queue<T>(name, { connection: redisConnection(connection.redisUrl) });
  const classes = withBackend(createPostgresBackend);
  return new classes.Queue<T>(name, {
    connection: { connectionString: connection.databaseUrl, schema: 'bullmq', max: 1, migrate: true },
  }) as unknown as Queue<T>;
}

/** A bare BullMQ worker, connected like the hub's. */
export function openWorker<T>(
  connection: BackendConnection,
  name: string,
  processor: Processor<T>,
  options: Omit<WorkerOptions, 'connection'>,
): Worker<T> {
  if (connection.backend === 'redis') {
    return new Worker<T>(name, processor, { ...options, connection: redisConnection(connection.redisUrl) });
  }
  const classes = withBackend(createPostgresBackend);
  return new classes.Worker<T>(name, processor as never, {
    ...options,
    connection: { connectionString: connection.databaseUrl, schema: 'bullmq', max: 2, migrate: true },
  }) as unknown as Worker<T>;
}
