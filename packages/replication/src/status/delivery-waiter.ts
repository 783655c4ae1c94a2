import type { DeliveryOutcome, LinkStatus, ReplicationOutcome } from '@meridian/core';
import type { ReplicationContext } from '../engine/context.js';

const FINAL: ReadonlySet<LinkStatus> = new Set(['synced', 'deactivated', 'grace', 'deleted', 'out_of_scope', 'dead_lettered']);
const POLL_MS = 50;

/**
 * Waits, bounded, for the deliveries of the changes a request made (use case
 * 2.3.1, `Prefer: wait`). The truth is the link table: any worker process
 * may deliver, and the outbox says which resources and versions the request
 * wrote. Never QueueEvents.
 */
export class DeliveryWaiter {
  constructor(private readonly ctx: ReplicationContext) {}

  async waitFor(tenantId: string, requestId: string, timeoutMs: number, signal?: AbortSignal): Promise<ReplicationOutcome> {
    const started = Date.now();
    const changes = await this.ctx.store.requestChanges(tenantId, requestId);
    const targets = (await this.ctx.store.listTargets(tenantId)).filter((t) => t.enabled);
    for (;;) {
      const outcomes: DeliveryOutcome[] = [];
      for (const change of changes) {
        const links = new Map((await this.ctx.store.linksOf(tenantId, change.kind, change.resourceId)).map((l) => [l.targetId, l]));
        for (const target of targets) {
          const link = links.get(target.id);
          const done =
            link !== undefined && (link.status === 'dead_lettered' || (link.handledVersion >= change.version && FINAL.has(link.status)));
          outcomes.push({
            targetId: target.id,
            target: target.name,
            kind: change.kind,
            resourceId: change.resourceId,
            version: change.version,
            status: done && link ? link.status : link?.status === 'retrying' ? 'retrying' : 'pending',
            remoteId: link?.remoteId ?? null,
            error: link?.lastError ?? null,
          });
        }
      }
      const complete = outcomes.every((o) => FINAL.has(o.status));
      const waitedMs = Date.now() - started;
      if (complete || waitedMs >= timeoutMs || signal?.aborted) return { complete, waitedMs, outcomes };
      await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, Math.max(1, timeoutMs - waitedMs))));
    }
  }
}
