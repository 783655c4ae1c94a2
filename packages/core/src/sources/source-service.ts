import type { ResourceService } from '../directory/resource-service.js';
import { isMeridianError, MeridianError } from '../errors/meridian-error.js';
import { parseScimFilter } from '../filter/parse.js';
import type { Clock } from '../ports/clock.js';
import { SCHEMA } from '../scim/schemas.js';
import type { Principal, RequestContext } from '../tenancy/model.js';
import { authorizeTenantRef, type TenantAuthorizer } from '../tenancy/tenant-access.js';

import {
  canonicalJson,
  checkSourceChanges,
  checkSourceInput,
  exceedsDeletionThreshold,
  type InboundSource,
  type InboundSourceChanges,
  type InboundSourceInput,
  type InboundSourceStore,
  planSourceSync,
  type SourceChangeOutcome,
  type SourceEntry,
  type SourcePlan,
  type SourcePlanItem,
  type SourceReader,
  type SourceSyncCounts,
  sourceSyncDue,
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
    /** Finds tenants by reference and authorizes on them (the admin service). */
    private readonly tenants?: TenantAuthorizer,
  ) {}

  /**
   * The tenant, once `action` on it is authorized: a source holds a bind secret and writes a tenant's accounts, so
   * it is managed like a replication target (`replication.manage`: the tenant's and the community's administrators),
   * and read with `replication.read`.
   */
  private tenantId(principal: Principal, tenant: string, action: 'replication.read' | 'replication.manage' = 'replication.manage') {
    return authorizeTenantRef(this.tenants, principal, action, tenant);
  }

  /** Creates a source; its secrets are sealed by the store. */
  async create(principal: Principal, tenant: string, input: InboundSourceInput, context: RequestContext): Promise<InboundSource> {
    const tenantId = await this.tenantId(principal, tenant);
    const checked = checkSourceInput(input);
    await this.checkDestination(checked);
    return this.store.create(tenantId, checked, context);
  }

  async list(principal: Principal, tenant: string): Promise<InboundSource[]> {
    return this.store.list(await this.tenantId(principal, tenant, 'replication.read'));
  }

  /** One source, read with `replication.read`; NOT_FOUND naming it. */
  async get(principal: Principal, tenant: string, idOrName: string): Promise<InboundSource> {
    return this.find(principal, tenant, idOrName, 'replication.read');
  }

  /**
   * Creates the account of a new entry, or finds the account it should adopt: when the tenant already has an
   * account with the entry's userName (a sync that died between writing an account and linking it, or an account
   * the office made before it added the source) that no other entry of this source feeds, the entry takes it over
   * rather than failing on the uniqueness of userName every time.
   */
  private async adoptOnConflict(
    caller: { principal: Principal; api: 'graphql' | 'scim' },
    tenantId: string,
    body: Record<string, unknown>,
    linked: ReadonlySet<string>,
    create: () => Promise<{ id: string }>,
  ): Promise<{ id: string; created: boolean }> {
    try {
      return { id: (await create()).id, created: true };
    } catch (error) {
      if (!isMeridianError(error, 'UNIQUENESS') || typeof body.userName !== 'string') throw error;
      const page = await this.resources.list(caller, tenantId, 'User', {
        filter: parseScimFilter(`userName eq ${JSON.stringify(body.userName)}`),
        startIndex: 1,
        count: 2,
      });
      const [existing] = page.resources;
      if (page.resources.length !== 1 || !existing || linked.has(existing.id)) throw error;
      return { id: existing.id, created: false };
    }
  }

  /**
   * Writes one planned change of a source through the ResourceService, as `caller` (the source or the admin), and
   * links the account to its entry; `linked` are the accounts the source's other entries feed (never adopted).
   * Throws when the write fails.
   */
  private async applyItem(
    source: InboundSource,
    caller: { principal: Principal; api: 'graphql' | 'scim' },
    context: RequestContext,
    item: SourcePlanItem,
    entry: SourceEntry | undefined,
    linked: ReadonlySet<string>,
  ): Promise<SourceChangeOutcome> {
    if (item.action === 'delete') {
      if (item.resourceId) {
        await this.resources.delete(caller, source.tenantId, 'User', item.resourceId, context).catch((error: unknown) => {
          if (!(isMeridianError(error) && error.code === 'NOT_FOUND')) throw error;
        });
      }
      await this.store.deleteLink(source.tenantId, source.id, item.remoteId);
      return 'deleted';
    }
    if (!entry) return 'unchanged';
    const body = {
      schemas: [SCHEMA.user, ...Object.keys(entry.attributes).filter((k) => k.startsWith('urn:'))],
      ...entry.attributes,
    };
    let resourceId = item.resourceId;
    let outcome: SourceChangeOutcome;
    if (item.action === 'update' && resourceId) {
      try {
        await this.resources.replace(caller, source.tenantId, 'User', resourceId, body, context);
        outcome = 'updated';
      } catch (error) {
        if (!(isMeridianError(error) && error.code === 'NOT_FOUND')) throw error;
        // The hub account was deleted meanwhile: the source brings it back.
        resourceId = (await this.resources.create(caller, source.tenantId, 'User', body, context)).id;
        outcome = 'created';
      }
    } else {
      const adopted = await this.adoptOnConflict(caller, source.tenantId, body, linked, () =>
        this.resources.create(caller, source.tenantId, 'User', body, context),
      );
      outcome = adopted.created ? 'created' : 'updated';
      if (!adopted.created) await this.resources.replace(caller, source.tenantId, 'User', adopted.id, body, context);
      resourceId = adopted.id;
    }
    await this.store.saveLink(source.tenantId, source.id, {
      remoteId: item.remoteId,
      resourceId,
      applied: canonicalJson(entry.attributes),
    });
    return outcome;
  }

  /**
   * A source by its id alone, in whichever tenant holds it: for the event endpoint (`POST /sources/{id}/events`),
   * which is called by the source, not by an admin of a tenant, and acts in the source's tenant. Undefined when
   * there is none.
   */
  async findForEvents(id: string): Promise<InboundSource | undefined> {
    return UUID.test(id) ? this.store.findById(id) : undefined;
  }

  /**
   * Applies what the source says changed about one of its Users (issue 17, the hub as an RFC 9967 receiver): pulls
   * the entry now and writes it as a sync writes one entry, the source as the actor: an entry without a link is
   * created (or adopts the account of its userName), a changed one replaces its account, and an entry the source
   * no longer has (a delete event, or a pull answering 404) deletes its linked account. One person at a time, so the
   * deletion threshold does not apply. Throws when the source cannot be read or the write fails.
   */
  async applyRemoteChange(source: InboundSource, remoteId: string, context: RequestContext): Promise<SourceChangeOutcome> {
    const reader = this.readers[source.kind];
    if (!reader?.get) throw new MeridianError('INVALID_CONFIG', `Sources of kind '${source.kind}' take no events.`, { field: 'kind' });
    const entry = await reader.get(source, await this.store.openSecrets(source), remoteId);
    const links = await this.store.links(source.tenantId, source.id);
    // A full plan over this one entry and its link: create, update, unchanged, or (entry gone) delete.
    const plan = planSourceSync(
      entry ? [entry] : [],
      links.filter((l) => l.remoteId === remoteId),
      true,
    );
    const [item] = plan.items;
    if (!item) return 'unchanged';
    return this.applyItem(source, sourceCaller(source), context, item, entry, new Set(links.map((l) => l.resourceId)));
  }

  /**
   * Applies one verified Security Event Token from the source (RFC 8417): each remote id it names, pulled and
   * applied in turn, before the receipt is recorded with its `jti` and audited (`source.event_applied`). A SET whose
   * `jti` was already applied changes nothing (`replayed`). Nothing is recorded when an apply fails: the error goes
   * to the transmitter, whose retry applies the SET again (applying is idempotent, it reads the source anew).
   */
  async receiveEvent(
    source: InboundSource,
    set: { jti: string; events: string[]; remoteIds: string[] },
    requestId: string,
  ): Promise<{ replayed: boolean; applied: { remoteId: string; outcome: SourceChangeOutcome }[] }> {
    if (await this.store.eventSeen(source.tenantId, source.id, set.jti)) return { replayed: true, applied: [] };
    const context: RequestContext = { actor: { type: 'system', id: `source:${source.id}` }, requestId };
    const applied: { remoteId: string; outcome: SourceChangeOutcome }[] = [];
    for (const remoteId of new Set(set.remoteIds))
      applied.push({ remoteId, outcome: await this.applyRemoteChange(source, remoteId, context) });
    await this.store.recordEvent(source.tenantId, source.id, { jti: set.jti, events: set.events, applied, at: this.clock.now() }, context);
    return { replayed: false, applied };
  }

  /** One source, for an operation that needs `replication.manage` (one that opens its secrets: a sync, a test). */
  async getManaged(principal: Principal, tenant: string, idOrName: string): Promise<InboundSource> {
    return this.find(principal, tenant, idOrName, 'replication.manage');
  }

  private async find(
    principal: Principal,
    tenant: string,
    idOrName: string,
    action: 'replication.read' | 'replication.manage' = 'replication.manage',
  ): Promise<InboundSource> {
    const found = await this.store.find(await this.tenantId(principal, tenant, action), idOrName);
    if (!found) throw new MeridianError('NOT_FOUND', `Source '${idOrName}' not found.`, { field: 'source' });
    return found;
  }

  /** Changes a source's threshold or intervals (`syncIntervalSeconds: null` ends its schedule); audited. */
  async update(
    principal: Principal,
    tenant: string,
    idOrName: string,
    changes: InboundSourceChanges,
    context: RequestContext,
  ): Promise<InboundSource> {
    const source = await this.find(principal, tenant, idOrName);
    return this.store.update(source.tenantId, source.id, checkSourceChanges(changes), context);
  }

  /**
   * Runs the scheduled syncs that are due (in a worker process): each due
   * source is claimed with a lease, so one process syncs it at a time and a
   * crashed worker's claim lapses; the source acts with the least it needs,
   * SCIM writes in its own office. A sync that would cross the deletion
   * threshold stops and waits for an admin (`needs_confirmation`); one that
   * fails is recorded and tried again at the next interval. Returns what ran.
   */
  async runDue(limit = 4): Promise<SourceSyncResult[]> {
    const now = this.clock.now();
    const results: SourceSyncResult[] = [];
    for (const source of await this.store.claimDue(now, SCHEDULE_LEASE_MS, limit)) {
      if (!sourceSyncDue(source, now)) continue;
      try {
        results.push(await this.run(source, sourceCaller(source), {}, 'schedule'));
      } catch {
        // Recorded with the source (status `failed`, the reason) and audited by run(); the next interval tries again.
      }
    }
    return results;
  }

  /** Deletes a source and its links; the accounts it fed stay in the hub. */
  async delete(principal: Principal, tenant: string, idOrName: string, context: RequestContext): Promise<void> {
    const source = await this.find(principal, tenant, idOrName);
    await this.store.delete(source.tenantId, source.id, context);
  }

  /** Runs one sync of a source now, as an admin asks (see the class comment). */
  async sync(principal: Principal, tenant: string, idOrName: string, options: SourceSyncOptions = {}): Promise<SourceSyncResult> {
    const source = await this.find(principal, tenant, idOrName);
    return this.run(source, { principal, api: 'graphql' }, options, 'admin');
  }

  /** One sync of a source by `caller`; its outcome (but not a dry run's) is recorded with the source and audited. */
  private async run(
    source: InboundSource,
    caller: { principal: Principal; api: 'graphql' | 'scim' },
    options: SourceSyncOptions,
    trigger: 'admin' | 'schedule',
  ): Promise<SourceSyncResult> {
    const reader = this.readers[source.kind];
    if (!reader) throw new MeridianError('INVALID_CONFIG', `No reader for sources of kind '${source.kind}'.`, { field: 'kind' });
    const now = this.clock.now();
    const due = source.lastFullSyncAt === null || now.getTime() - source.lastFullSyncAt.getTime() >= source.fullSyncIntervalSeconds * 1000;
    // Only a full comparison finds deletions, so a sync after one stopped at the deletion threshold is full too:
    // an incremental one would answer "applied" and hide the pending deletions until the next full interval, and
    // `--confirm-deletes` without `--full` would confirm nothing.
    const full = options.full === true || source.cursor === null || due || source.lastSyncStatus === 'needs_confirmation';
    // The source is the actor of every write it causes (audit, outbox, replication's deliveries).
    const context: RequestContext = {
      actor: { type: 'system', id: `source:${source.id}` },
      requestId: `source-${trigger}-${source.id}-${now.getTime()}`,
    };
    const record = (
      status: 'applied' | 'needs_confirmation' | 'failed',
      cursor: string | null,
      error: string | null,
      counts: SourceSyncCounts | null,
    ) => this.store.recordSync(source.tenantId, source.id, { status, cursor, full, at: now, error, counts }, context);
    let read: Awaited<ReturnType<SourceReader['read']>>;
    let links: Awaited<ReturnType<InboundSourceStore['links']>>;
    try {
      const secrets = await this.store.openSecrets(source);
      read = await reader.read(source, secrets, full ? null : source.cursor, (n) => options.onProgress?.('read', n, null));
      links = await this.store.links(source.tenantId, source.id);
    } catch (error) {
      // The source could not be read (down, refused the bind, a bad filter): nothing was written; the cursor stays.
      if (!options.dryRun) await record('failed', source.cursor, messageOf(error), null);
      throw sourceReadFailure(source, error);
    }
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
      await record(
        'needs_confirmation',
        source.cursor,
        `The sync would delete ${deletes} of ${links.length} accounts, more than the threshold of ${source.deletionThresholdPercent}%; run it with confirmation to go ahead.`,
        countsOf(result),
      );
      return { ...result, status: 'needs_confirmation' };
    }
    const entries = new Map(read.entries.map((e) => [e.remoteId, e]));
    // Accounts another entry of this source feeds: never adopted for a new entry.
    const linked = new Set(links.map((l) => l.resourceId));
    let done = 0;
    // Entries are independent of one another: a few are written at once, each in its own transactions.
    await eachConcurrently(plan.items, SYNC_CONCURRENCY, async (item) => {
      try {
        const outcome = await this.applyItem(source, caller, context, item, entries.get(item.remoteId), linked);
        if (outcome === 'created') result.created++;
        else if (outcome === 'updated') result.updated++;
        else if (outcome === 'deleted') result.deleted++;
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
    await record(
      'applied',
      result.failed.length === 0 ? read.cursor : source.cursor,
      result.failed.length === 0 ? null : `${result.failed.length} account(s) could not be written; the next sync tries them again.`,
      countsOf(result),
    );
    return { ...result, status: 'applied' };
  }
}

/** A source's own caller: SCIM writes in its own office, the least it needs. */
function sourceCaller(source: InboundSource): { principal: Principal; api: 'scim' } {
  return {
    principal: { kind: 'tenant', tokenId: `source:${source.id}`, tenantId: source.tenantId, scopes: ['scim:read', 'scim:write'] },
    api: 'scim',
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** How long a worker holds a due source: longer than a large sync takes, short enough for another worker to take over. */
const SCHEDULE_LEASE_MS = 30 * 60_000;

function countsOf(result: SourceSyncResult): SourceSyncCounts {
  return {
    full: result.full,
    read: result.read,
    created: result.created,
    updated: result.updated,
    deleted: result.deleted,
    unchanged: result.unchanged,
    failed: result.failed.length,
  };
}

/**
 * A reader's failure as the domain error callers map (GraphQL, the CLI): a connector error is neither a
 * MeridianError nor a database error, and its socket cause (ECONNREFUSED) would otherwise read as "the
 * database is unavailable", a refused bind as an internal error. A transient failure (down, timed out) is
 * `UNAVAILABLE`; anything else (a refused bind, a missing base DN, a bad filter) is the source's
 * configuration, `INVALID_CONFIG`. The cause is left off on purpose, for the same reason.
 */
export function sourceReadFailure(source: InboundSource, error: unknown): unknown {
  if (isMeridianError(error)) return error;
  const transient = (error as { kind?: unknown } | null)?.kind === 'transient';
  return new MeridianError(
    transient ? 'UNAVAILABLE' : 'INVALID_CONFIG',
    `The source '${source.name}' could not be read: ${messageOf(error)}`,
    transient ? {} : { field: 'config' },
  );
}

/** An error in plain words for the source's status (readers' errors name the host, never a secret). */
function messageOf(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.length > 500 ? `${text.slice(0, 497)}...` : text;
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
