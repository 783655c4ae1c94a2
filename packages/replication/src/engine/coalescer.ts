interface Waiting<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
}

/**
 * Gathers calls under one key into batches, so that jobs running side by
 * side share one transaction (ADR 0024). The calls made in one turn of the
 * event loop go together; up to `maxInFlight` flushes of a key run at once
 * (one by default), and the calls made while all of them are under way go
 * in the next. So a lone call waits for nothing but its turn, and a busy key
 * batches more the busier it is. One flush at a time is the default: on the
 * loaded 2-core machine of issue 14, four side by side measured worse in the
 * replication bench's steady phase (more transactions, each slower), though
 * those runs were noisy. When a flush of
 * several items fails, each is flushed alone, so that one bad item fails
 * only its own job.
 */
export class Coalescer<I, O> {
  private readonly queued = new Map<string, Waiting<I, O>[]>();
  private readonly running = new Map<string, number>();
  private readonly scheduled = new Set<string>();

  constructor(
    private readonly flush: (key: string, items: I[]) => Promise<O[]>,
    private readonly maxInFlight = 1,
    private readonly maxBatch = 256,
  ) {}

  run(key: string, item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      const queue = this.queued.get(key) ?? [];
      queue.push({ item, resolve, reject });
      this.queued.set(key, queue);
      if ((this.running.get(key) ?? 0) < this.maxInFlight && !this.scheduled.has(key)) {
        this.scheduled.add(key);
        setImmediate(() => {
          this.scheduled.delete(key);
          void this.drain(key);
        });
      }
    });
  }

  private async drain(key: string): Promise<void> {
    this.running.set(key, (this.running.get(key) ?? 0) + 1);
    try {
      for (;;) {
        const queue = this.queued.get(key);
        if (!queue || queue.length === 0) return;
        // Calls made from here on wait in the queue left behind, for this drain's next round or another's.
        const batch = queue.splice(0, this.maxBatch);
        await this.settle(key, batch);
      }
    } finally {
      const left = (this.running.get(key) ?? 1) - 1;
      if (left > 0) this.running.set(key, left);
      else {
        this.running.delete(key);
        if (this.queued.get(key)?.length === 0) this.queued.delete(key);
      }
    }
  }

  private async settle(key: string, batch: Waiting<I, O>[]): Promise<void> {
    try {
      const out = await this.flush(
        key,
        batch.map((w) => w.item),
      );
      for (const [i, w] of batch.entries()) w.resolve(out[i] as O);
    } catch (error) {
      if (batch.length === 1) {
        batch[0]?.reject(error);
        return;
      }
      for (const one of batch) await this.settle(key, [one]);
    }
  }
}
