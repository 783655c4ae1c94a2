import type { ConnectorLogger } from '@meridian/connector-sdk';
import type { Clock, GlobalDirectoryStore } from '@meridian/core';
import { PollingLoop } from '../engine/polling-loop.js';

/**
 * Inbox entries one step projects before it yields: several batches of the
 * store's, so that its second lane (a batch claimed and read while another
 * holds the community's lock) has work beside the first.
 */
const STEP_SIZE = 5_000;
/** How often the projector looks at the inbox when nothing woke it; while it finds nothing, up to every {@link MAX_IDLE_MS}. */
const IDLE_MS = 500;
/**
 * The relay that queues entries wakes the projector of its process (`kick`); the look without a wake-up is for entries
 * retried later and for those queued by another process (ADR 0037).
 */
const MAX_IDLE_MS = 5_000;

/**
 * Keeps the communities' global directories (ADR 0015): the relay queues each
 * changed User and Group in `directory_inbox`, in the transaction that
 * dispatches its outbox events, and wakes this loop; each entry is projected
 * and removed in one transaction, so a crash leaves it queued. Projectors in
 * several processes share the inbox (`skip locked`); a failing entry is
 * retried later, with growing delays, without holding up the others.
 */
export class DirectoryProjector {
  private readonly loop: PollingLoop;

  /** `onProjected` runs after a step that projected something (the directory exporter wakes up). */
  constructor(
    private readonly store: GlobalDirectoryStore,
    private readonly clock: Clock,
    logger: ConnectorLogger,
    private readonly onProjected?: () => void,
  ) {
    this.loop = new PollingLoop(() => this.runOnce(), {
      name: 'global directory projection',
      fullStep: STEP_SIZE,
      idleMs: () => IDLE_MS,
      maxIdleMs: MAX_IDLE_MS,
      logger,
    });
  }

  /** Projects what is due; answers how many entries it projected. */
  async runOnce(): Promise<number> {
    const projected = (await this.store.projectDue(STEP_SIZE, this.clock.now())).length;
    if (projected > 0) this.onProjected?.();
    return projected;
  }

  /** Projects until nothing is due (tests, `meridian directory rebuild --wait`). */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.runOnce();
      total += n;
      if (n === 0) return total;
    }
  }

  start(): void {
    this.loop.start();
  }

  /** Wakes the loop now: the relay just queued entries. */
  kick(): void {
    this.loop.kick();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }
}
