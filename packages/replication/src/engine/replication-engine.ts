import type {
  DeadLetter,
  DeadLetterQuery,
  DeliveryWaiting,
  MigrationOptions,
  MigrationReport,
  ReconcileReport,
  ReplicationAdmin,
  ReplicationOutcome,
  ReplicationTarget,
  RequestContext,
  ResourceKind,
  ResourceReplicationStatus,
  TargetStatusCounts,
} from '@meridian/core';
import { checkWaitSeconds, MAX_REPLICATION_WAIT_SECONDS, MeridianError } from '@meridian/core';
import { DirectoryExports } from '../directory/directory-exports.js';
import { DirectoryProjector } from '../directory/directory-projector.js';
import { Reconciler } from '../reconcile/reconciler.js';
import { TargetMigrator } from '../reconcile/target-migrator.js';
import { OutboxRelay } from '../relay/outbox-relay.js';
import { DeliveryWaiter } from '../status/delivery-waiter.js';
import { TargetService } from '../targets/target-service.js';
import { ReplicationContext, type ReplicationDeps } from './context.js';
import { WaitPolicyCache } from './wait-policy-cache.js';
import { WorkerHost } from './worker-host.js';

/** Options of {@link ReplicationEngine}. */
export interface ReplicationEngineOptions {
  /** BullMQ lock of a running job; a killed worker's jobs run again after it (and the stalled check) pass. */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
}

/**
 * The replication engine of one process: the outbox relay, the target
 * workers, and what admins call (targets, status, dead letters, replay,
 * reconciliation, waiting for deliveries). `meridian serve --role worker|all`
 * starts the relay and the workers; API and CLI processes only use the rest.
 * Its admin surface is core's {@link ReplicationAdmin} port, per tenant and
 * unauthorized: callers reach it through core's `ReplicationService`, which
 * authorizes them (the CLI acts as the platform).
 */
export class ReplicationEngine implements ReplicationAdmin, DeliveryWaiting {
  readonly ctx: ReplicationContext;
  readonly targets: TargetService;
  readonly relay: OutboxRelay;
  readonly workers: WorkerHost;
  /** Keeps the global directories; undefined when the engine was built without one. */
  readonly projector: DirectoryProjector | undefined;
  /** Pushes of communities' global directories to external directories; undefined without a global directory. */
  readonly directoryExports: DirectoryExports | undefined;
  private readonly waiter: DeliveryWaiter;
  private readonly reconciler: Reconciler;
  private readonly migrator: TargetMigrator;
  private readonly waitPolicies: WaitPolicyCache;
  private started = false;

  constructor(deps: ReplicationDeps, options: ReplicationEngineOptions = {}) {
    this.ctx = new ReplicationContext(deps);
    this.workers = new WorkerHost(this.ctx, options);
    this.targets = new TargetService(this.ctx, () => {
      if (this.started) void this.workers.refresh().catch(() => undefined);
    });
    this.directoryExports =
      deps.directory && deps.directoryExports && deps.people
        ? new DirectoryExports(deps.directoryExports, deps.people, this.ctx)
        : undefined;
    this.projector = deps.directory
      ? new DirectoryProjector(deps.directory, this.ctx.clock, this.ctx.logger, () => this.directoryExports?.exporter.kick())
      : undefined;
    this.relay = new OutboxRelay(this.ctx, () => this.projector?.kick());
    this.waiter = new DeliveryWaiter(this.ctx);
    this.reconciler = new Reconciler(this.ctx);
    this.migrator = new TargetMigrator(this.ctx, this.reconciler);
    this.waitPolicies = new WaitPolicyCache((tenantId) => this.ctx.store.waitPolicy(tenantId));
  }

  /** Starts the relay and the workers of every enabled target. */
  async start(): Promise<void> {
    this.started = true;
    await this.workers.start();
    this.relay.start();
    this.projector?.start();
    this.directoryExports?.exporter.start();
  }

  /** Stops the relay and the workers; running jobs finish first. */
  async stop(): Promise<void> {
    this.started = false;
    await this.relay.stop();
    await this.projector?.stop();
    await this.directoryExports?.exporter.stop();
    await this.workers.stop();
  }

  /** Wakes this process's outbox relay now (a write just committed) instead of at its next poll. */
  kick(): void {
    this.relay.kick();
  }

  /** Resolves when the queue backend answers (readiness). */
  pingQueue(): Promise<void> {
    return this.ctx.queues.ping();
  }

  /** Stops everything and closes the queues. */
  async close(): Promise<void> {
    await this.stop();
    await this.ctx.queues.close();
    if (this.ctx.ownsOutbound) await this.ctx.outbound.close();
  }

  /** Per target of the tenant: how many resources are pending, delivered, failing, dead-lettered, out of scope. */
  statusCounts(tenantId: string): Promise<TargetStatusCounts[]> {
    return this.ctx.store.statusCounts(tenantId);
  }

  /** Where one resource stands at each target of its tenant. */
  async resourceStatus(tenantId: string, kind: ResourceKind, resourceId: string): Promise<ResourceReplicationStatus[]> {
    const [links, targets] = await Promise.all([this.ctx.store.linksOf(tenantId, kind, resourceId), this.ctx.store.listTargets(tenantId)]);
    const names = new Map(targets.map((t) => [t.id, t.name]));
    return links.map((l) => ({
      targetId: l.targetId,
      target: names.get(l.targetId) ?? l.targetId,
      status: l.status,
      remoteId: l.remoteId,
      wantedVersion: l.wantedVersion,
      handledVersion: l.handledVersion,
      pushedVersion: l.pushedVersion,
      attempts: l.attempts,
      lastError: l.lastError,
      graceUntil: l.graceUntil,
      updatedAt: l.updatedAt,
    }));
  }

  /** Dead letters of a tenant (of one target), newest first; replayed ones only when asked. */
  async deadLetters(tenantId: string, options: DeadLetterQuery = {}): Promise<DeadLetter[]> {
    const targetId = options.target === undefined ? undefined : (await this.targets.get(tenantId, options.target)).id;
    const limit = options.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw new MeridianError('INVALID_INPUT', "'limit' is from 1 to 1000.", { field: 'limit' });
    return this.ctx.store.deadLetters(tenantId, {
      ...(targetId !== undefined ? { targetId } : {}),
      includeReplayed: options.includeReplayed ?? false,
      limit,
    });
  }

  /**
   * Replays a dead letter: the resource's CURRENT state is queued for its
   * target again (state-based, so replaying twice is harmless).
   */
  async replay(tenantId: string, deadLetterId: string, context: RequestContext): Promise<DeadLetter> {
    const letter = await this.ctx.store.getDeadLetter(tenantId, deadLetterId);
    if (!letter) throw new MeridianError('NOT_FOUND', `Dead letter '${deadLetterId}' not found.`);
    if (letter.replayedAt !== null) throw new MeridianError('CONFLICT', `Dead letter '${deadLetterId}' was replayed already.`);
    await this.ctx.store.markPending(tenantId, letter.targetId, letter.kind, letter.localId, letter.resourceVersion ?? 0);
    await this.ctx.enqueue(
      {
        tenantId,
        targetId: letter.targetId,
        kind: letter.kind,
        resourceId: letter.localId,
        version: letter.resourceVersion ?? 0,
        requestId: context.requestId,
      },
      `replay${letter.id}`,
    );
    return this.ctx.store.markReplayed(tenantId, deadLetterId, this.ctx.clock.now(), context);
  }

  /** Compares the hub with a target and, unless `dryRun`, fixes what differs (also the initial load of a new target). */
  async reconcile(tenantId: string, target: string, options: Parameters<ReplicationAdmin['reconcile']>[2]): Promise<ReconcileReport> {
    const found = await this.targets.get(tenantId, target);
    return this.reconciler.reconcile(await this.ctx.runtimeOf(found), options);
  }

  /**
   * Brings target `to` to the state target `from` holds (docs/migration.md, "Moving to another cloud") and, unless
   * `dryRun`, audits `target.migrated` and schedules `from`'s retirement at `retireAt` (a past time retires it now).
   * A migration with a failed object schedules no retirement: the old target keeps the tenant's downstream until a
   * run without failures (objects already moved are `unchanged` then).
   */
  async migrate(tenantId: string, options: MigrationOptions, context: RequestContext): Promise<MigrationReport> {
    const from = await this.targets.get(tenantId, options.from);
    const to = await this.targets.get(tenantId, options.to);
    if (from.id === to.id) throw new MeridianError('INVALID_INPUT', 'A target cannot be migrated to itself.', { field: 'to' });
    const retireAt = options.retireAt ?? null;
    if (retireAt !== null && Number.isNaN(retireAt.getTime())) {
      throw new MeridianError('INVALID_INPUT', "'retireAt' is a date-time.", { field: 'retireAt' });
    }
    if (from.retirement?.retiredAt) {
      throw new MeridianError('CONFLICT', `Target '${from.name}' was retired at ${from.retirement.retiredAt.toISOString()}.`, {
        field: 'from',
      });
    }
    if (!to.enabled || to.retirement) {
      throw new MeridianError(
        'INVALID_INPUT',
        `Target '${to.name}' is ${to.enabled ? 'being retired' : 'disabled'}: it cannot take over.`,
        {
          field: 'to',
        },
      );
    }
    const report = await this.migrator.migrate(await this.ctx.runtimeOf(from), await this.ctx.runtimeOf(to), options, context.requestId);
    if (options.dryRun) return report;
    const retire = report.counts.failed === 0 ? retireAt : null;
    report.retireAt = retire;
    const failed = report.items.filter((i) => i.outcome === 'failed');
    await this.ctx.store.recordMigration(
      tenantId,
      from.id,
      to.id,
      retire,
      {
        from: report.from,
        toName: report.to.name,
        counts: report.counts,
        settingsDiffer: report.settingsDiffer,
        // The objects that did not move, with why (the rest is in the replication.delivered entries of this request).
        failed: failed.slice(0, 100).map((i) => ({ kind: i.kind, id: i.localId, reason: i.reason })),
        ...(retireAt !== null && retire === null ? { retirementHeld: `${failed.length} object(s) failed` } : {}),
      },
      context,
    );
    const now = this.ctx.clock.now();
    if (retire !== null && retire.getTime() <= now.getTime()) await this.ctx.store.retireDue(now);
    if (this.started) void this.workers.refresh().catch(() => undefined);
    return report;
  }

  /** Drops a target's scheduled retirement; `CONFLICT` when none is scheduled or it is already due. */
  async cancelRetirement(tenantId: string, target: string, context: RequestContext): Promise<ReplicationTarget> {
    const found = await this.targets.get(tenantId, target);
    return this.ctx.store.cancelRetirement(tenantId, found.id, context);
  }

  /** Waits up to `timeoutMs` (at most {@link MAX_REPLICATION_WAIT_SECONDS}) for the deliveries of what a request changed. */
  waitFor(tenantId: string, requestId: string, timeoutMs: number, signal?: AbortSignal): Promise<ReplicationOutcome> {
    return this.waiter.waitFor(tenantId, requestId, Math.min(timeoutMs, MAX_REPLICATION_WAIT_SECONDS * 1000), signal);
  }

  /** The tenant's default wait (seconds) for SCIM writes without `Prefer: wait`. */
  waitPolicy(tenantId: string): Promise<number> {
    return this.ctx.store.waitPolicy(tenantId);
  }

  /**
   * The tenant's default wait as SCIM writes read it: kept for up to a second ({@link WaitPolicyCache}), so that a
   * write costs no extra transaction; a change made through this engine applies at once.
   */
  defaultWait(tenantId: string): Promise<number> {
    return this.waitPolicies.get(tenantId);
  }

  /** Sets the tenant's default wait: 0 to {@link MAX_REPLICATION_WAIT_SECONDS}, the longest any write waits; `INVALID_INPUT` beyond. */
  async setWaitPolicy(tenantId: string, seconds: number, context: RequestContext): Promise<number> {
    try {
      return await this.ctx.store.setWaitPolicy(tenantId, checkWaitSeconds(seconds), context);
    } finally {
      this.waitPolicies.forget(tenantId);
    }
  }
}
