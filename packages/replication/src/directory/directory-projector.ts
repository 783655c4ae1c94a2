import type { ConnectorLogger } from '@meridian/connector-sdk';
import type { Clock, GlobalDirectoryStore } from '@meridian/core';

/** Inbox entries one step projects before it yields. */
const STEP_SIZE = 200;
/** How often the projector looks at the inbox when nothing woke it. */
const IDLE_MS = 500;

/**
 * Keeps the communities' global directories (ADR 0015): the relay queues each
 * changed User and Group in `directory_inbox`, in the transaction that
 * dispatches its outbox events, and wakes this loop; each entry is projected
 * and removed in one transaction, so a crash leaves it queued. Projectors in
 * several processes share the inbox (`skip locked`); a failing entry is
 * retried later, with growing delays, without holding up the others.
 */
export class DirectoryProjector {
  private running: Promise<void> | undefined;
  private stopping = false;
  private wake: (() => void) | undefined;
  private woken = false;

  /** `onProjected` runs after a step that projected something (the directory exporter wakes up). */
  constructor(
    private readonly store: GlobalDirectoryStore,
    private readonly clock: Clock,
    private readonly logger: ConnectorLogger,
    private readonly onProjected?: () => void,
  ) {}

  /** Projects what is due; answers how many entries it projected. */
  async runOnce(): Promise<number> {
    const projected = (await this.store.projectDue(STEP_SIZE, this.clock.now())).length;
    if (projected > 0) this.onProjected?.();
    return projected;
  }

  /** Projects until nothing is due (tests, `meridian directory rebuild`). */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.runOnce();
      total += n;
      if (n === 0) return total;
    }
  }

  start(): void {
    if (this.running) return;
    this.stopping = false;
    this.running = this.loop();
  }

  /** Wakes the loop now: the relay just queued entries. */
  kick(): void {
    this.woken = true;
    this.wake?.();
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      this.woken = false;
      let projected = 0;
      try {
        projected = await this.runOnce();
        failures = 0;
      } catch (error) {
        failures += 1;
        this.logger.error('global directory projection failed', { error: error instanceof Error ? error.message : String(error) });
      }
      if (this.stopping) break;
      if (projected < STEP_SIZE && !this.woken) {
        const wait = failures > 0 ? Math.min(30_000, IDLE_MS * 2 ** failures) : IDLE_MS;
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

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.running;
    this.running = undefined;
  }
}
