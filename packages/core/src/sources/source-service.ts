import type { ResourceService } from '../directory/resource-service.js';
import { isMeridianError, MeridianError } from '../errors/meridian-error.js';
import type { Clock } from '../ports/clock.js';
import { SCHEMA } from '../scim/schemas.js';
import type { Principal, RequestContext } from '../tenancy/model.js';

import {
  canonicalJson,
  checkSourceInput,
  exceedsDeletionThreshold,
  type InboundSource,
  type InboundSourceInput,
  type InboundSourceStore,
  planSourceSync,
  type SourcePlan,
  type SourceReader,
} from './inbound-source.js';

/** Options of {@link SourceService.sync}. */
export interface SourceSyncOptions {
  /** Plan only: list the creates, updates and deletes, write nothing. */
  dryRun?: boolean;
  /** Go ahead although the plan deletes more than the source's threshold. */
  confirmDeletes?: boolean;
  /** Read everything and compare (finds deletions), whatever the interval says. */
  full?: boolean;
  /** Called as entries are read and as changes are written. */
  onProgress?: (phase: 'read' | 'write', done: number, total: number | null) => void;
}

/** The outcome of a sync. */
export interface SourceSyncResult extends SourcePlan {
  sourceId: string;
  dryRun: boolean;
  /** `needs_confirmation`: the deletion threshold stopped it before any write. */
  status: 'planned' | 'applied' | 'needs_confirmation';
  created: number;
  updated: number;
  deleted: number;
  failed: { remoteId: string; code: string; message: string }[];
}

/**
 * Inbound sources of a tenant (issue 18): create, list, delete, and sync.
 * A sync reads the source (everything at a full comparison, else what
 * changed since the cursor), plans per object, stops at the deletion
 * threshold unless confirmed, and writes every change through the
 * `ResourceService`, so outbox, audit, replication and the global directory
 * apply as for a SCIM write. The actor of those writes is the source.
 */
export class SourceService {
  constructor(
    private readonly store: InboundSourceStore,
    private readonly resources: ResourceService,
    private readonly readers: Record<string, SourceReader>,
    private readonly clock: Clock,
    /** Checks a source's destination against the outbound request policy before it is stored. */
    private readonly checkDestination: (source: InboundSourceInput) => Promise<void> = async () => {},
  ) {}

  private async tenantId(principal: Principal, tenant: string): Promise<string> {
    return (await this.resources.tenant({ principal, api: 'graphql' }, tenant, 'write')).id;
  }

  /** Creates a source; its secrets are sealed by the store. */
  async create(principal: Principal, tenant: string, input: InboundSourceInput, context: RequestContext): Promise<InboundSource> {
    const tenantId = await this.tenantId(principal, tenant);
    const checked = checkSourceInput(input);
    await this.checkDestination(checked);
    return this.store.create(tenantId, checked, context);
  }

  async list(principal: Principal, tenant: string): Promise<InboundSource[]> {
    return this.store.list(await this.tenantId(principal, tenant));
  }

  async get(principal: Principal, tenant: string, idOrName: string): Promise<InboundSource> {
    const found = await this.store.find(await this.tenantId(principal, tenant), idOrName);
    if (!found) throw new MeridianError('NOT_FOUND', `Source '${idOrName}' not found.`, { field: 'source' });
    return found;
  }

  /** Deletes a source and its links; the accounts it fed stay in the hub. */
  async delete(principal: Principal, tenant: string, idOrName: string, context: RequestContext): Promise<void> {
    const source = await this.get(principal, tenant, idOrName);
    await this.store.delete(source.tenantId, source.id, context);
  }

  /** Runs one sync of a source (see the class comment). */
  async sync(principal: Principal, tenant: string, idOrName: string, options: SourceSyncOptions = {}): Promise<SourceSyncResult> {
    const source = await this.get(principal, tenant, idOrName);
    const reader = this.readers[source.kind];
    if (!reader) throw new MeridianError('INVALID_CONFIG', `No reader for sources of kind '${source.kind}'.`, { field: 'kind' });
    const now = this.clock.now();
    const due = source.lastFullSyncAt === null || now.getTime() - source.lastFullSyncAt.getTime() >= source.fullSyncIntervalSeconds * 1000;
    const full = options.full === true || source.cursor === null || due;
    const secrets = await this.store.openSecrets(source);
    const read = await reader.read(source, secrets, full ? null : source.cursor, (n) => options.onProgress?.('read', n, null));
    const links = await this.store.links(source.tenantId, source.id);
    const plan = planSourceSync(read.entries, links, full);
    const deletes = plan.items.filter((i) => i.action === 'delete').length;
    const result: SourceSyncResult = {
      ...plan,
      sourceId: source.id,
      dryRun: options.dryRun === true,
      status: 'planned',
      created: 0,
      updated: 0,
      deleted: 0,
      failed: [],
    };
    if (options.dryRun) return result;
    if (!options.confirmDeletes && exceedsDeletionThreshold(deletes, links.length, source.deletionThresholdPercent)) {
      return { ...result, status: 'needs_confirmation' };
    }
    // The source is the actor of every write it causes (audit, outbox, replication's deliveries).
    const context: RequestContext = {
      actor: { type: 'system', id: `source:${source.id}` },
      requestId: `source-${source.id}-${now.getTime()}`,
    };
    const caller = { principal, api: 'graphql' as const };
    const entries = new Map(read.entries.map((e) => [e.remoteId, e]));
    let done = 0;
    // Entries are independent of one another: a few are written at once, each in its own transactions.
    await eachConcurrently(plan.items, SYNC_CONCURRENCY, async (item) => {
      try {
        if (item.action === 'delete') {
          if (item.resourceId) {
            await this.resources.delete(caller, source.tenantId, 'User', item.resourceId, context).catch((error: unknown) => {
              if (!(isMeridianError(error) && error.code === 'NOT_FOUND')) throw error;
            });
          }
          await this.store.deleteLink(source.tenantId, source.id, item.remoteId);
          result.deleted++;
        } else {
          const entry = entries.get(item.remoteId);
          if (!entry) return;
          const body = {
            schemas: [SCHEMA.user, ...Object.keys(entry.attributes).filter((k) => k.startsWith('urn:'))],
            ...entry.attributes,
          };
          let resourceId = item.resourceId;
          if (item.action === 'update' && resourceId) {
            try {
              await this.resources.replace(caller, source.tenantId, 'User', resourceId, body, context);
              result.updated++;
            } catch (error) {
              if (!(isMeridianError(error) && error.code === 'NOT_FOUND')) throw error;
              // The hub account was deleted meanwhile: the source brings it back.
              resourceId = (await this.resources.create(caller, source.tenantId, 'User', body, context)).id;
              result.created++;
            }
          } else {
            resourceId = (await this.resources.create(caller, source.tenantId, 'User', body, context)).id;
            result.created++;
          }
          await this.store.saveLink(source.tenantId, source.id, {
            remoteId: item.remoteId,
            resourceId,
            applied: canonicalJson(entry.attributes),
          });
        }
      } catch (error) {
        result.failed.push({
          remoteId: item.remoteId,
          code: isMeridianError(error) ? error.code : 'INTERNAL',
          message: error instanceof Error ? error.message : String(error),
        });
      }
      options.onProgress?.('write', ++done, plan.items.length);
    });
    // A failed write keeps the old cursor: the next sync reads those entries again.
    await this.store.recordSync(source.tenantId, source.id, {
      cursor: result.failed.length === 0 ? read.cursor : source.cursor,
      full,
      at: now,
    });
    return { ...result, status: 'applied' };
  }
}

/** How many entries of one sync are written at once. */
const SYNC_CONCURRENCY = 8;

/** Runs `work` on every item, at most `limit` at a time; resolves when all are done (`work` handles its own errors). */
async function eachConcurrently<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}
