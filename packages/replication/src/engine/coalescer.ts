interface Waiting<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
}

/**
 * Gathers the calls made under one key while a flush of that key is under
 * way (or in the same turn of the event loop) into the next flush, so that
 * jobs running side by side share one transaction (ADR 0024). A lone call
 * waits for nothing but the turn it was made in. When a flush of several
 * items fails, each is flushed alone, so that one bad item fails only its own job.
 */
export class Coalescer<I, O> {
  private readonly queued = new Map<string, Waiting<I, O>[]>();

  constructor(
    private readonly flush: (key: string, items: I[]) => Promise<O[]>,
    private readonly maxBatch = 256,
  ) {}

  run(key: string, item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      const queue = this.queued.get(key);
      if (queue) {
        queue.push({ item, resolve, reject });
        return;
      }
      this.queued.set(key, [{ item, resolve, reject }]);
      setImmediate(() => void this.drain(key));
    });
  }

  private async drain(key: string): Promise<void> {
    for (;;) {
      const queue = this.queued.get(key);
      if (!queue || queue.length === 0) {
        this.queued.delete(key);
        return;
      }
      // Calls made from here on wait in the queue left behind, for the next round.
      const batch = queue.splice(0, this.maxBatch);
      await this.settle(key, batch);
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
