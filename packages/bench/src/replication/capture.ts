import { SqlCapture } from '@meridian/test-utils';
import { type HubProducer, type HubSetup, startWorker, waitForLinks } from './hub.js';
import type { TargetProcess } from './targets.js';
import type { Change } from './workload.js';

/** The statements the hub worker sent for one change delivered to every target. */
export interface DeliveryStatements {
  change: 'create' | 'update';
  /** Everything the worker sent from the commit until 1 s after the links were synced. */
  statements: string[];
  /** The same window's share of the worker's idle polling (measured before), to subtract. */
  idle: number;
  /** How many of the statements are BullMQ's (its PostgreSQL backend's functions, each sent with a leading comment). */
  bullmq: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs a second worker through a recording proxy (SqlCapture, packages/test-utils) and makes
 * one create and one update, one at a time, waiting for each to reach every
 * target: which statements one delivery costs the worker, and how many.
 * `warmup` changes go first, unrecorded, so that what a worker loads once
 * (target secrets, the tenant's schema, cached for 30 s) is not counted. The
 * worker of the measurements must be stopped (it would take the jobs).
 */
export async function captureDeliveries(
  hub: HubSetup,
  targets: TargetProcess,
  producer: HubProducer,
  warmup: Change[],
  changes: Change[],
  targetIds: string[],
): Promise<DeliveryStatements[]> {
  const url = new URL(hub.databaseUrl);
  const capture = new SqlCapture(url.hostname, Number(url.port || 5432));
  const port = await capture.listen();
  url.hostname = '127.0.0.1';
  url.port = String(port);
  const worker = await startWorker(hub, undefined, url.toString());
  const found: DeliveryStatements[] = [];
  /** Makes one change and waits until the targets have it, the links are synced and the relay dispatched what followed. */
  const deliver = async (change: Change): Promise<void> => {
    await targets.reset();
    await targets.expect([change.seq]);
    await producer.apply(change);
    while ((await targets.open()).some((n) => n > 0)) await sleep(20);
    await waitForLinks(hub.databaseUrl, targetIds, 30);
    // Lets the worker's last statements of the change (its audit entries) finish inside this change's window.
    await sleep(1_000);
  };
  try {
    await sleep(1_000);
    for (const change of warmup) await deliver(change);
    // The idle worker polls the outbox and the target table: its rate, to take out of the windows below.
    const idleSince = performance.now();
    await sleep(4_000);
    const idlePerMs = capture.since(idleSince).length / (performance.now() - idleSince);
    for (const change of changes) {
      await sleep(300);
      const since = performance.now();
      await deliver(change);
      const statements = capture.since(since);
      found.push({
        change: change.op,
        statements,
        idle: idlePerMs * (performance.now() - since),
        bullmq: statements.filter((s) => s.startsWith('--')).length,
      });
    }
  } finally {
    await worker.stop();
    await capture.close();
  }
  return found;
}
