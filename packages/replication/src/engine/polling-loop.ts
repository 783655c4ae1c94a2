import type { ConnectorLogger } from '@meridian/connector-sdk';

/** Options of a {@link PollingLoop}. */
export interface PollingLoopOptions {
  /** For the log line of a failed step. */
  name: string;
  /** A step that handled this many items ran full: the next one starts at once. */
  fullStep: number;
  /** How long to sleep after a step that was not full (and nothing woke the loop). */
  idleMs: () => number;
  /**
   * With it, the sleep after a step that found nothing doubles from `idleMs` up to this, until a step finds work or
   * `kick()` wakes the loop (ADR 0037): an idle loop that is woken when work arrives need not look often.
   */
  maxIdleMs?: number;
  logger: ConnectorLogger;
}

/** After a failed step the sleep doubles, up to this. */
const MAX_BACKOFF_MS = 30_000;

/**
 * Runs `step` over and over: at once while steps run full, otherwise after
 * `idleMs` (doubling after each failed step), or as soon as `kick()` says
 * there is work. `stop()` lets the running step finish. The outbox relay, the
 * global directory's projector and its exporter each run on one.
 */
export class PollingLoop {
  private running: Promise<void> | undefined;
  private stopping = false;
  private wake: (() => void) | undefined;
  private woken = false;

  constructor(
    private readonly step: () => Promise<number>,
    private readonly options: PollingLoopOptions,
  ) {}

  start(): void {
    if (this.running) return;
    this.stopping = false;
    this.running = this.loop();
  }

  /** Runs the next step now (or right after the current one). */
  kick(): void {
    this.woken = true;
    this.wake?.();
  }

  private async loop(): Promise<void> {
    let failures = 0;
    let idle = 0;
    while (!this.stopping) {
      this.woken = false;
      let handled = 0;
      try {
        handled = await this.step();
        failures = 0;
      } catch (error) {
        failures += 1;
        this.options.logger.error(`${this.options.name} failed`, { error: error instanceof Error ? error.message : String(error) });
      }
      if (this.stopping) break;
      if (handled >= this.options.fullStep || this.woken) {
        idle = 0;
        continue;
      }
      idle = handled === 0 && failures === 0 ? idle + 1 : 0;
      const { maxIdleMs } = this.options;
      const resting =
        maxIdleMs === undefined || idle <= 1 ? this.options.idleMs() : Math.min(maxIdleMs, this.options.idleMs() * 2 ** (idle - 1));
      const wait = failures > 0 ? Math.min(MAX_BACKOFF_MS, this.options.idleMs() * 2 ** failures) : resting;
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

  /** Stops after the running step. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.running;
    this.running = undefined;
  }
}
