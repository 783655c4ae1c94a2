import type { ConnectorLogger, ConnectorSecrets } from '@meridian/connector-sdk';
import {
  type Clock,
  type DirectoryExportStore,
  type GlobalDirectoryService,
  type GlobalDirectoryStore,
  MeridianError,
  type Page,
  type PageRequest,
  type ReplicationStore,
  type ReplicationTarget,
  type ResourceIncludes,
  type ResourceKind,
  type ResourceShape,
  type ScimResource,
} from '@meridian/core';
import { OutboundHttp } from '../outbound/outbound-http.js';
import type { SyncJobData, TargetQueues } from '../queue/target-queues.js';
import { buildTargetRuntime, type ConnectorRegistry, type TargetRuntime } from '../targets/connector-registry.js';
import { DeliveryBatches } from './delivery-batches.js';
import type { TransferLedger } from './ownership-transfers.js';

/** Reads the hub's resources for replication (the directory store and the tenant's shapes). */
export interface ResourceSource {
  get(tenantId: string, kind: ResourceKind, id: string, include?: ResourceIncludes): Promise<ScimResource | undefined>;
  /** Several resources of one kind in one read (those that exist); absent, workers call `get` for each. */
  getMany?(tenantId: string, kind: ResourceKind, ids: readonly string[], include?: ResourceIncludes): Promise<ScimResource[]>;
  shapeOf(tenantId: string, kind: ResourceKind): Promise<ResourceShape>;
  page(tenantId: string, kind: ResourceKind, page: PageRequest): Promise<Page<ScimResource>>;
}

/** Seals and opens secrets at rest (the store's SecretBox). */
export interface Sealer {
  encrypt(plaintext: string, context?: string): string;
  decrypt(ciphertext: string, context?: string): string;
}

/**
 * Wraps each job a target worker processes, e.g. in a trace span continuing
 * the trace of the request that caused it (the hub's OpenTelemetry, issue 20).
 */
export interface DeliveryObserver {
  around<T>(job: SyncJobData, run: () => Promise<T>): Promise<T>;
}

/** The admitted set of JIT targets (issue 16, ADR 0030): false keeps a resource away from such a target. */
export interface JitAdmissions {
  admits(tenantId: string, targetId: string, kind: ResourceKind, id: string, memberUserIds: readonly string[]): Promise<boolean>;
}

/** Tunables of the engine; the defaults suit production, tests shorten the waits. */
export interface ReplicationTuning {
  /** First retry delay; doubles per attempt, with full jitter. */
  backoffBaseMs: number;
  /** Longest retry delay. */
  backoffMaxMs: number;
  /** Consecutive transient failures that open a target's circuit. */
  circuitThreshold: number;
  /** How long an open circuit stays open before one probe job goes through. */
  circuitCooldownMs: number;
  /** How often the relay polls the outbox when it found nothing and no commit notification can reach it. */
  relayIntervalMs: number;
  /** How often it polls while it listens for commit notifications (ADR 0024): a fallback for a lost one. */
  relayFallbackMs: number;
  /** Outbox events per relay transaction. */
  relayBatchSize: number;
  /** How often worker hosts re-read the targets (new, changed, paused). */
  targetRefreshMs: number;
  /**
   * Jobs a target's queue runs at once per request its `concurrency` lets a process have in flight (ADR 0041): the
   * rest of a job (its reads, the wait for its outcome to reach the disk) is no load on the target.
   */
  jobsPerRequest: number;
}

/** Production defaults. */
export const DEFAULT_TUNING: ReplicationTuning = {
  backoffBaseMs: 1000,
  backoffMaxMs: 10 * 60 * 1000,
  circuitThreshold: 5,
  circuitCooldownMs: 30_000,
  relayIntervalMs: 250,
  relayFallbackMs: 2000,
  relayBatchSize: 500,
  targetRefreshMs: 2000,
  jobsPerRequest: 4,
};

/** The SecretBox context of a target's secrets: an envelope cannot be moved to another tenant. */
export function targetSecretsContext(tenantId: string): string {
  return `replication_target:${tenantId}`;
}

const silentLogger: ConnectorLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** What every part of the engine shares. */
export interface ReplicationDeps {
  store: ReplicationStore;
  queues: TargetQueues;
  registry: ConnectorRegistry;
  sealer: Sealer;
  resources: ResourceSource;
  clock: Clock;
  logger?: ConnectorLogger;
  tuning?: Partial<ReplicationTuning>;
  /**
   * The outbound HTTP policy every connector request goes through (targets,
   * connection tests, directory exports). The hub passes the one it also
   * gives the JWT authenticator; absent: a strict one (public addresses only).
   */
  outbound?: OutboundHttp;
  /** The communities' global directories, fed by the relay; absent: no projection in this process. */
  directory?: GlobalDirectoryStore;
  /** The exports of the communities' global directories; absent: no directory exports in this process. */
  directoryExports?: DirectoryExportStore;
  /** The global directory service: authorizes the admin operations of directory exports. */
  people?: GlobalDirectoryService;
  /** Where workers record the outcome of offboardings' transfers of owned objects (issue 19); absent: not recorded. */
  transfers?: TransferLedger;
  /** Wraps each job the workers process; absent: jobs run as they are. */
  deliveries?: DeliveryObserver;
  /** Who JIT targets may receive; absent: JIT targets receive no one. */
  admissions?: JitAdmissions;
}

/**
 * The shared state of the engine in one process: dependencies, tuning, and
 * a cache of target runtimes (connector, mapping, scoping) per target version.
 */
export class ReplicationContext {
  readonly store: ReplicationStore;
  readonly queues: TargetQueues;
  readonly registry: ConnectorRegistry;
  readonly sealer: Sealer;
  readonly resources: ResourceSource;
  readonly clock: Clock;
  readonly logger: ConnectorLogger;
  readonly tuning: ReplicationTuning;
  readonly outbound: OutboundHttp;
  /** The policy-checked `fetch` handed to every connector. */
  readonly fetch: typeof globalThis.fetch;
  /** True when this context made its own {@link OutboundHttp} (and closes it). */
  readonly ownsOutbound: boolean;
  /** The workers' reads and writes, batched per tenant (ADR 0024). */
  readonly batches: DeliveryBatches;
  /** Where transfer jobs record their outcome (issue 19). */
  readonly transfers: TransferLedger | undefined;
  /** Wraps each job the workers process (tracing). */
  readonly deliveries: DeliveryObserver | undefined;
  /** The admitted set of JIT targets. */
  readonly admissions: JitAdmissions | undefined;
  private readonly runtimes = new Map<string, { stamp: number; runtime: TargetRuntime }>();

  constructor(deps: ReplicationDeps) {
    this.store = deps.store;
    this.queues = deps.queues;
    this.registry = deps.registry;
    this.sealer = deps.sealer;
    this.resources = deps.resources;
    this.clock = deps.clock;
    this.logger = deps.logger ?? silentLogger;
    this.tuning = { ...DEFAULT_TUNING, ...deps.tuning };
    this.ownsOutbound = deps.outbound === undefined;
    this.outbound = deps.outbound ?? new OutboundHttp();
    this.fetch = this.outbound.fetch;
    this.batches = new DeliveryBatches(this);
    this.transfers = deps.transfers;
    this.deliveries = deps.deliveries;
    this.admissions = deps.admissions;
  }

  /** True unless the target provisions on first sign-in and the resource is not admitted there (ADR 0030). */
  async admitted(target: ReplicationTarget, resource: ScimResource): Promise<boolean> {
    if (target.jit !== true) return true;
    const members = resource.kind === 'Group' ? resource.members.filter((m) => m.type === 'User').map((m) => m.value) : [];
    return (await this.admissions?.admits(target.tenantId, target.id, resource.kind, resource.id, members)) ?? false;
  }

  /** Opens a target's secrets. */
  openSecrets(target: ReplicationTarget, sealed: string | null): ConnectorSecrets {
    if (sealed === null) return {};
    return JSON.parse(this.sealer.decrypt(sealed, targetSecretsContext(target.tenantId))) as ConnectorSecrets;
  }

  /** Seals a target's secrets. */
  sealSecrets(tenantId: string, secrets: ConnectorSecrets): string | null {
    return Object.keys(secrets).length === 0 ? null : this.sealer.encrypt(JSON.stringify(secrets), targetSecretsContext(tenantId));
  }

  /** The runtime of a target as stored now; rebuilt when the target changed. */
  async runtimeOf(target: ReplicationTarget): Promise<TargetRuntime> {
    const cached = this.runtimes.get(target.id);
    const stamp = target.updatedAt.getTime();
    if (cached && cached.stamp === stamp) {
      // Circuit and failure counters change without a new version: hand out the current row.
      cached.runtime.target = target;
      return cached.runtime;
    }
    await cached?.runtime.connector.close?.().catch(() => undefined);
    const secrets = this.openSecrets(target, await this.store.sealedSecrets(target.id));
    const runtime = buildTargetRuntime(this.registry, target, secrets, { logger: this.logger, clock: this.clock, fetch: this.fetch });
    this.runtimes.set(target.id, { stamp, runtime });
    return runtime;
  }

  /** Forgets a target's cached runtime (it was deleted or disabled). */
  async forget(targetId: string): Promise<void> {
    const cached = this.runtimes.get(targetId);
    this.runtimes.delete(targetId);
    await cached?.runtime.connector.close?.().catch(() => undefined);
  }

  /**
   * Queues a sync of one resource at one target. Jobs of one (target,
   * resource) share a deduplication id: while one waits, more are dropped
   * (the waiting one will load the newest state); while one runs, the newest
   * is kept and starts when it finishes (`keepLastIfActive`), so one resource
   * is never pushed by two workers at once and a later change is never lost.
   */
  async enqueue(data: SyncJobData, jobSuffix: string): Promise<void> {
    await this.enqueueMany([{ data, jobSuffix }]);
  }

  /** {@link enqueue} of several jobs: one `addBulk` per target queue (one round trip each). */
  async enqueueMany(jobs: readonly { data: SyncJobData; jobSuffix: string }[]): Promise<void> {
    const byTarget = new Map<string, { data: SyncJobData; jobSuffix: string }[]>();
    for (const job of jobs) {
      const list = byTarget.get(job.data.targetId) ?? [];
      list.push(job);
      byTarget.set(job.data.targetId, list);
    }
    await Promise.all(
      [...byTarget].map(([targetId, list]) =>
        this.queues.queue(targetId).addBulk(
          list.map(({ data, jobSuffix }) => {
            const key = `${data.targetId}-${data.kind}-${data.resourceId}`;
            return {
              name: 'sync',
              data,
              opts: {
                jobId: `${key}-${jobSuffix}`,
                deduplication: { id: key, keepLastIfActive: true },
                // The processor counts attempts against the target's own limit and dead-letters; BullMQ only retries.
                attempts: 1000,
                backoff: { type: 'meridian' },
                removeOnComplete: true,
                removeOnFail: { count: 1000 },
              },
            };
          }),
        ),
      ),
    );
  }

  /** Queues the deletion that ends a grace period; it survives restarts and is removed when the person returns. */
  async scheduleGraceDelete(data: SyncJobData, delayMs: number): Promise<void> {
    await this.queues.queue(data.targetId).add('grace-delete', data, {
      jobId: graceJobId(data.kind, data.resourceId),
      delay: delayMs,
      attempts: 1000,
      backoff: { type: 'meridian' },
      removeOnComplete: true,
      removeOnFail: { count: 1000 },
    });
  }

  /** Removes a scheduled grace deletion; the job also re-checks the link, so a job that already started does nothing. */
  async cancelGraceDelete(targetId: string, kind: ResourceKind, localId: string): Promise<void> {
    try {
      await this.queues.queue(targetId).remove(graceJobId(kind, localId));
    } catch {
      // A running or locked job cannot be removed; it finds the link no longer in grace and stops.
    }
  }
}

/** The job id of a grace deletion (no ':' in BullMQ ids). */
export function graceJobId(kind: ResourceKind, localId: string): string {
  return `grace-${kind}-${localId}`;
}

/** Throws `NOT_FOUND` for a missing target. */
export function requireTarget<T>(found: T | undefined, idOrName: string): T {
  if (found === undefined) throw new MeridianError('NOT_FOUND', `Target '${idOrName}' not found.`);
  return found;
}
