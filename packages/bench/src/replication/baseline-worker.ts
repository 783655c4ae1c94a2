// The bare BullMQ consumer of the replication bench, in a process of its own
// (like `meridian serve --role worker`): one Worker per target queue, each job
// one HTTP write to its target. Configured by the BENCH_BASELINE environment
// variable (JSON); says `ready` over IPC once its workers are connected.
import type { Job, Worker } from 'bullmq';
import { type BackendConnection, openWorker } from './bullmq.js';

/** The job of the baseline: one change for one target. */
export interface BaselineJob {
  seq: number;
  user: number;
  /** The target's user key (externalId), the same for every change of one user. */
  key: string;
  op: 'create' | 'update';
  /** The SCIM body of a create, or the PatchOp body of an update. */
  body: Record<string, unknown>;
}

/** What the parent passes in BENCH_BASELINE. */
export interface BaselineWorkerConfig {
  connection: BackendConnection;
  queues: { name: string; url: string; token: string }[];
  concurrency: number;
}

const config = JSON.parse(process.env.BENCH_BASELINE ?? '{}') as BaselineWorkerConfig;

async function send(url: string, token: string, method: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json', accept: 'application/scim+json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status >= 300) throw new Error(`${method} ${url}: ${response.status} ${text.slice(0, 200)}`);
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

const workers: Worker<BaselineJob>[] = config.queues.map(({ name, url, token }) => {
  // The remote id of each user at this target, as the hub keeps it in replication_link.
  const remote = new Map<string, Promise<string>>();
  return openWorker<BaselineJob>(
    config.connection,
    name,
    async (job: Job<BaselineJob>) => {
      const { op, key, body } = job.data;
      if (op === 'create') {
        const created = send(`${url}/Users`, token, 'POST', body).then((reply) => String(reply.id));
        remote.set(key, created);
        await created;
        return;
      }
      const id = await remote.get(key);
      if (id === undefined) throw new Error(`No create of ${key} was seen before its update.`);
      await send(`${url}/Users/${encodeURIComponent(id)}`, token, 'PATCH', body);
    },
    { concurrency: config.concurrency },
  );
});

await Promise.all(workers.map((w) => w.waitUntilReady()));
process.send?.({ ready: true });
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await Promise.all(workers.map((w) => w.close()));
  process.exit(0);
};
process.on('message', (message: { stop?: boolean }) => {
  if (message.stop) void stop();
});
process.on('SIGTERM', () => void stop());
process.on('disconnect', () => void stop());
