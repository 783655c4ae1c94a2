import type { RelayJob } from '@meridian/core';
import type { ReplicationContext } from '../engine/context.js';

const ENQUEUE_CHUNK = 50;
const PASSWORD_SWEEP_MS = 60_000;

/**
 * Moves outbox events into the target queues (DESIGN.md "Data flow", step 5).
 * Each step claims a batch of pending events (`for update skip locked`, so
 * relays in several processes share the work), marks the links pending,
 * enqueues one de-duplicated job per (target, resource) and marks the events
 * dispatched in the same transaction, only after the queue accepted the jobs.
 * A crash before the commit leaves the events pending: they are enqueued
 * again, and deduplication plus state-based pushes make that harmless.
 */
export class OutboxRelay {
  private running: Promise<void> | undefined;
  private stopping = false;
  private wake: (() => void) | undefined;
  private lastSweep = 0;

  /** `onDispatched` runs after a step that dispatched events (the global directory's projector wakes up). */
  constructor(
    private readonly ctx: ReplicationContext,
    private readonly onDispatched?: () => void,
  ) {}

  /** One relay step; returns how many events it dispatched. */
  async runOnce(): Promise<number> {
    const now = this.ctx.clock.now();
    if (now.getTime() - this.lastSweep >= PASSWORD_SWEEP_MS) {
      this.lastSweep = now.getTime();
      const erased = await this.ctx.store.erasePendingPasswords(now);
      if (erased > 0) this.ctx.logger.info('erased expired pending passwords', { erased });
    }
    const dispatched = await this.ctx.store.relay(this.ctx.tuning.relayBatchSize, (jobs) => this.enqueue(jobs), now);
    if (dispatched > 0) this.onDispatched?.();
    return dispatched;
  }

  /** Runs steps until the outbox is empty. */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.runOnce();
      total += n;
      if (n === 0) return total;
    }
  }

  private async enqueue(jobs: RelayJob[]): Promise<void> {
    for (let i = 0; i < jobs.length; i += ENQUEUE_CHUNK) {
      await Promise.all(
        jobs.slice(i, i + ENQUEUE_CHUNK).map((job) =>
          this.ctx.enqueue(
            {
              tenantId: job.tenantId,
              targetId: job.targetId,
              kind: job.kind,
              resourceId: job.resourceId,
              version: job.version,
              requestId: job.requestId,
            },
            `e${job.eventId}`,
          ),
        ),
      );
    }
  }

  /** Starts polling the outbox. */
  start(): void {
    if (this.running) return;
    this.stopping = false;
    this.running = this.loop();
  }

  /** Wakes the loop now (a write in this process just committed). */
  kick(): void {
    this.wake?.();
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      let dispatched = 0;
      try {
        dispatched = await this.runOnce();
        failures = 0;
      } catch (error) {
        failures += 1;
        this.ctx.logger.error('outbox relay step failed', { error: error instanceof Error ? error.message : String(error) });
      }
      if (this.stopping) break;
      if (dispatched < this.ctx.tuning.relayBatchSize) {
        const wait = failures > 0 ? Math.min(30_000, this.ctx.tuning.relayIntervalMs * 2 ** failures) : this.ctx.tuning.relayIntervalMs;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = undefined;
      }
    }
  }

  /** Stops polling after the current step. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.running;
    this.running = undefined;
  }
}
