import type { Connector } from '@meridian/connector-sdk';
import type { CircuitState } from '@meridian/core';

/**
 * Thrown to a job whose request the gate refused because the target's circuit opened while the job waited for its
 * turn: nothing was sent. The worker puts the job back in the queue without spending an attempt (ADR 0041).
 */
export class NotSentError extends Error {
  override readonly name = 'NotSentError';
  constructor() {
    super("Not sent: the target's circuit opened while the request waited for its turn.");
  }
}

interface Waiter {
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * The requests one worker process has in flight to one target (ADR 0041). The target's worker runs more jobs at once
 * than the target's `concurrency` (a job also waits for its reads and for its outcome to reach the disk, which is no
 * load on the target); the gate lets `concurrency` of their connector calls run at once, in the order they asked, and
 * follows the target's circuit: one call while it is half-open, none while it is open (the calls waiting then, and
 * any asked for until it is half-open, fail with {@link NotSentError}).
 */
export class RequestGate {
  private active = 0;
  private readonly waiting: Waiter[] = [];
  private state: CircuitState = 'closed';
  private readonly wrapped = new WeakMap<Connector, Connector>();

  constructor(private concurrency: number) {}

  /** The circuit state the gate follows now. */
  get circuit(): CircuitState {
    return this.state;
  }

  /** Calls under way now (for tests and metrics). */
  get inFlight(): number {
    return this.active;
  }

  /** Calls waiting for their turn now. */
  get queued(): number {
    return this.waiting.length;
  }

  /** How many calls may run at once now. */
  get limit(): number {
    return this.state === 'open' ? 0 : this.state === 'half_open' ? 1 : this.concurrency;
  }

  /** Follows the target's circuit: open refuses every waiting call, half-open lets one through at a time. */
  follow(state: CircuitState): void {
    this.state = state;
    if (state === 'open') {
      for (const waiter of this.waiting.splice(0)) waiter.reject(new NotSentError());
      return;
    }
    this.wake();
  }

  /** Runs `call` when a place is free; the place is freed when it settles. */
  async run<T>(call: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await call();
    } finally {
      this.active--;
      this.wake();
    }
  }

  private acquire(): Promise<void> {
    if (this.state === 'open') return Promise.reject(new NotSentError());
    if (this.waiting.length === 0 && this.active < this.limit) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  private wake(): void {
    while (this.waiting.length > 0 && this.active < this.limit) {
      this.active++;
      (this.waiting.shift() as Waiter).resolve();
    }
  }

  /** `connector` with each of its calls run through this gate (listing and closing excepted). */
  wrap(connector: Connector): Connector {
    const cached = this.wrapped.get(connector);
    if (cached) return cached;
    const methods = new Map<PropertyKey, unknown>();
    const proxy = new Proxy(connector, {
      get: (target, property, receiver) => {
        const value = Reflect.get(target, property, receiver);
        // `list` streams a whole kind for a reconciliation, which the workers never run; `close` sends nothing.
        if (typeof value !== 'function' || property === 'list' || property === 'close') return value;
        let method = methods.get(property);
        if (!method) {
          method = (...args: unknown[]) => this.run(() => (value as (...a: unknown[]) => Promise<unknown>).apply(target, args));
          methods.set(property, method);
        }
        return method;
      },
    });
    this.wrapped.set(connector, proxy);
    return proxy;
  }
}
