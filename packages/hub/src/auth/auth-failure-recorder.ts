import {
  type AuditLog,
  type AuthenticationFailure,
  AuthenticationFailureAggregator,
  type Clock,
  DEFAULT_MAX_PENDING_SUMMARIES,
  type PendingAuditEntries,
  systemClock,
} from '@meridian/core';

/** Options of {@link AuthFailureRecorder}. */
export interface AuthFailureRecorderOptions {
  clock?: Clock;
  /** How often finished minutes are written. Default one minute. */
  flushEveryMs?: number;
  /** Distinct summaries held before new ones are counted in overflow summaries. Default 10,000. */
  maxPending?: number;
  /** Told when a write failed (the summaries stay pending and are tried again). */
  onError?: (error: unknown) => void;
}

/**
 * Turns the hub's authentication failures into `auth.failed` audit entries
 * without putting the audit log on the request path: each failure is counted
 * in memory per minute and per (chain, source address, token prefix, reason),
 * and the counts are written by a timer once their minute is over, before
 * every read of the audit log in this process (it is an
 * {@link PendingAuditEntries}), and on {@link close}. A flood of bad tokens
 * costs one entry per minute and per distinct key, and a clean stop loses
 * nothing.
 */
export class AuthFailureRecorder implements PendingAuditEntries {
  private readonly clock: Clock;
  private readonly aggregator: AuthenticationFailureAggregator;
  private timer: NodeJS.Timeout | undefined;
  /** Flushes run one after another, so that entries are appended in the order they were counted. */
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly log: Pick<AuditLog, 'recordAuthenticationFailures'>,
    private readonly options: AuthFailureRecorderOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.aggregator = new AuthenticationFailureAggregator(options.maxPending ?? DEFAULT_MAX_PENDING_SUMMARIES);
  }

  /** Starts writing finished minutes on a timer (which never keeps the process alive). */
  start(): this {
    if (!this.timer && !this.closed) {
      this.timer = setInterval(() => {
        void this.write(this.clock.now()).catch(() => undefined);
      }, this.options.flushEveryMs ?? 60_000);
      this.timer.unref();
    }
    return this;
  }

  /** Counts one failure; never throws and never waits for the database. */
  add(failure: AuthenticationFailure): void {
    try {
      this.aggregator.add(failure, this.clock.now());
    } catch (error) {
      this.options.onError?.(error);
    }
  }

  /** How many summaries wait to be written. */
  get pending(): number {
    return this.aggregator.size;
  }

  /** Writes every pending summary, the minute in progress included. */
  flush(): Promise<void> {
    return this.write(undefined);
  }

  /** Stops the timer and writes what is pending. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  private write(before: Date | undefined): Promise<void> {
    const next = this.queue.then(async () => {
      const summaries = this.aggregator.drain(before);
      if (summaries.length === 0) return;
      try {
        await this.log.recordAuthenticationFailures(summaries);
      } catch (error) {
        this.aggregator.restore(summaries);
        this.options.onError?.(error);
        throw error;
      }
    });
    this.queue = next.catch(() => undefined);
    return next;
  }
}
