import type { SourceService } from '@meridian/core';

/**
 * Runs `step` every `everyMs` in a worker process, never two at once in this
 * process (a slow step makes the next one wait, it does not pile up). What is
 * due lives in PostgreSQL and each item is claimed with a lease, so any number
 * of worker processes may poll side by side and a restart loses nothing.
 * Returns the function that stops it.
 */
export function startPoller(name: string, everyMs: number, step: () => Promise<string | null>, say: (message: string) => void): () => void {
  let running = false;
  const tick = async () => {
    if (running) return;
    running = true;
    try {
      const report = await step();
      if (report) say(`[meridian] ${name}: ${report}`);
    } catch (error) {
      say(`[meridian] ${name} failed, retrying: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void tick(), everyMs);
  timer.unref();
  void tick();
  return () => clearInterval(timer);
}

/** The scheduled syncs of inbound sources (issues 16 and 18): each due source is synced once across worker processes. */
export function startSourceScheduler(sources: SourceService, everyMs: number, say: (message: string) => void): () => void {
  return startPoller(
    'Source syncs',
    everyMs,
    async () => {
      const ran = await sources.runDue();
      if (ran.length === 0) return null;
      return ran
        .map(
          (r) => `${r.sourceId} ${r.status} (created ${r.created}, updated ${r.updated}, deleted ${r.deleted}, failed ${r.failed.length})`,
        )
        .join('; ');
    },
    say,
  );
}
