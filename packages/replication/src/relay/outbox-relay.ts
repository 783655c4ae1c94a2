import type { CommitWakeups, RelayJob } from '@meridian/core';
import type { ReplicationContext } from '../engine/context.js';
import { PollingLoop } from '../engine/polling-loop.js';

const PASSWORD_SWEEP_MS = 60_000;

/**
 * Moves outbox events into the target queues (docs/architecture.md, "The flow of one change", step 5).
 * Each step claims a batch of pending events (`for update skip locked`, so
 * relays in several processes share the work), marks the links pending,
 * enqueues one de-duplicated job per (target, resource) and marks the events
 * dispatched in the same transaction, only after the queue accepted the jobs.
 * A crash before the commit leaves the events pending: they are enqueued
 * again, and deduplication plus state-based pushes make that harmless.
 *
 * It wakes when a change commits in any process (ADR 0024): the store's
 * commit notifications (`LISTEN`), and `kick()` in the writing process. While
 * it listens it polls only as a fallback (`relayFallbackMs`); while it cannot
 * (no listener, or its connection is down) it polls every `relayIntervalMs`.
 */
export class OutboxRelay {
  private readonly loop: PollingLoop;
  private lastSweep = 0;
  private wakeups: CommitWakeups | undefined;
  private listening: Promise<void> | undefined;

  /** `onDispatched` runs after a step that dispatched events (the global directory's projector wakes up). */
  constructor(
    private readonly ctx: ReplicationContext,
    private readonly onDispatched?: () => void,
  ) {
    this.loop = new PollingLoop(() => this.runOnce(), {
      name: 'outbox relay step',
      fullStep: ctx.tuning.relayBatchSize,
      idleMs: () => (this.wakeups?.listening ? ctx.tuning.relayFallbackMs : ctx.tuning.relayIntervalMs),
      logger: ctx.logger,
    });
  }

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
    await this.ctx.enqueueMany(
      jobs.map((job) => ({
        data: {
          tenantId: job.tenantId,
          targetId: job.targetId,
          kind: job.kind,
          resourceId: job.resourceId,
          version: job.version,
          requestId: job.requestId,
          ...(job.members ? { members: job.members } : {}),
        },
        jobSuffix: `e${job.eventId}`,
      })),
    );
  }

  /** Starts polling the outbox, and listening for commits when the store can tell. */
  start(): void {
    this.loop.start();
    const listen = this.ctx.store.listenForCommits?.bind(this.ctx.store);
    if (listen && !this.listening) {
      this.listening = listen(
        () => this.loop.kick(),
        (error) => this.ctx.logger.warn('outbox notifications lost; polling until they are back', { reason: error.message }),
      ).then(
        (wakeups) => {
          this.wakeups = wakeups;
        },
        (error: unknown) =>
          this.ctx.logger.warn('cannot listen for outbox notifications; polling', {
            reason: error instanceof Error ? error.message : String(error),
          }),
      );
    }
  }

  /** Wakes the loop now (a write in this process just committed). */
  kick(): void {
    this.loop.kick();
  }

  /** Stops listening, and polling after the current step. */
  async stop(): Promise<void> {
    await this.listening;
    this.listening = undefined;
    await this.wakeups?.close();
    this.wakeups = undefined;
    await this.loop.stop();
  }
}
