import { isConnectorError } from '@meridian/connector-sdk';
import { findOutboundRefusal, isMeridianError, type ReplicationTarget } from '@meridian/core';
import type { Job, Worker } from 'bullmq';
import type { SyncJobData } from '../queue/target-queues.js';
import type { TargetRuntime } from '../targets/connector-registry.js';
import type { ReplicationContext } from './context.js';
import { isTransferJob, runTransfer, settleFailedTransfer } from './ownership-transfers.js';
import { NotSentError, RequestGate } from './request-gate.js';
import { ResourceSynchronizer, type SyncResult, SyncStepError } from './synchronizer.js';

/** Exponential backoff with full jitter between half and all of the step; a target's `Retry-After` wins. */
export function retryDelay(
  attemptsMade: number,
  error: unknown,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const inner = error instanceof SyncStepError ? error.cause : error;
  if (isConnectorError(inner) && inner.retryAfterMs !== undefined) return Math.max(0, inner.retryAfterMs);
  const step = Math.min(maxMs, baseMs * 2 ** Math.max(0, attemptsMade - 1));
  return Math.round(step / 2 + random() * (step / 2));
}

function describe(error: unknown): string {
  const inner = error instanceof SyncStepError ? error.cause : error;
  const message = inner instanceof Error ? inner.message : String(inner);
  return message.slice(0, 2000);
}

const SKIPPED: SyncResult = { operation: 'skipped', remoteId: null, version: null };

/**
 * Whether a target still takes deliveries: enabled, and not past the time a migration retires it at (docs/migration.md).
 * Checked per job, so a job queued before that time is not delivered after it, whether or not a refresh has disabled
 * the target yet.
 */
function receiving(target: ReplicationTarget | undefined, now: Date): target is ReplicationTarget {
  return target?.enabled === true && (!target.retirement || target.retirement.at.getTime() > now.getTime());
}

interface HostedWorker {
  worker: Worker<SyncJobData>;
  concurrency: number;
  /** This process's requests to the target: `concurrency` at a time (one while half-open, none while open). */
  gate: RequestGate;
  stamp: number;
}

/** The most jobs a target's queue runs at once, whatever its concurrency and the multiple (BullMQ's global concurrency). */
const MAX_JOBS_IN_FLIGHT = 256;

/** A runtime whose connector calls go through `gate`. */
function gated(runtime: TargetRuntime, gate: RequestGate): TargetRuntime {
  return { ...runtime, connector: gate.wrap(runtime.connector) };
}

/**
 * Runs the workers of every enabled target in this process (one BullMQ
 * worker per target queue), keeps each queue's pause state, concurrency and
 * rate limit in line with the target's row, and drives the circuit breaker:
 * N consecutive transient failures pause the target; after a cool-down one
 * probe job goes through (half-open); its success closes the circuit.
 *
 * A target's queue runs `jobsPerRequest` times its `concurrency` jobs at once
 * (a job's reads and the wait for its outcome to reach the disk are no load on
 * the target); the requests of this process's jobs to the target go through
 * a gate that lets `concurrency` of them run at once (ADR 0041).
 */
export class WorkerHost {
  private readonly synchronizer: ResourceSynchronizer;
  private readonly workers = new Map<string, HostedWorker>();
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly ctx: ReplicationContext,
    private readonly options: { lockDurationMs?: number; stalledIntervalMs?: number } = {},
  ) {
    this.synchronizer = new ResourceSynchronizer(ctx);
  }

  /** Starts the workers of the current targets and keeps following them. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.refresh();
    this.timer = setInterval(
      () => void this.refresh().catch((error) => this.ctx.logger.error('worker refresh failed', { error: describe(error) })),
      this.ctx.tuning.targetRefreshMs,
    );
    this.timer.unref();
  }

  /** Re-reads the targets now (after an admin change in this process). */
  refresh(): Promise<void> {
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async doRefresh(): Promise<void> {
    if (this.stopped) return;
    // Retirements that came due (a migration's schedule, kept in the target's row): disabled and audited once, by
    // whichever process gets there first; their workers close below like those of any disabled target.
    for (const retired of await this.ctx.store.retireDue(this.ctx.clock.now())) {
      this.ctx.logger.info('target retired', {
        tenant: retired.tenantId,
        target: retired.id,
        ...(retired.retirement?.successorId ? { successor: retired.retirement.successorId } : {}),
      });
    }
    const targets = await this.ctx.store.enabledTargets();
    const live = new Set(targets.map((t) => t.id));
    for (const [id, hosted] of this.workers) {
      if (!live.has(id)) {
        this.workers.delete(id);
        await hosted.worker.close();
        await this.ctx.forget(id);
      }
    }
    for (const target of targets) {
      if (this.stopped) return;
      await this.applyCircuitCooldown(target);
      await this.ensureWorker(target);
      await this.applyQueueState(target);
    }
  }

  /** The jobs a target's queue runs at once, across processes, while its circuit is not half-open. */
  private jobsOf(target: ReplicationTarget): number {
    return Math.max(target.concurrency, Math.min(MAX_JOBS_IN_FLIGHT, target.concurrency * this.ctx.tuning.jobsPerRequest));
  }

  /** The gate of a target's requests in this process (tests look at it); undefined when this process runs no worker for it. */
  gateOf(targetId: string): RequestGate | undefined {
    return this.workers.get(targetId)?.gate;
  }

  private async ensureWorker(target: ReplicationTarget): Promise<void> {
    const hosted = this.workers.get(target.id);
    if (hosted && hosted.concurrency === target.concurrency) return;
    if (hosted) {
      this.workers.delete(target.id);
      await hosted.worker.close();
    }
    let worker: Worker<SyncJobData> | undefined;
    const gate = new RequestGate(target.concurrency);
    gate.follow(target.circuitState);
    const observer = this.ctx.deliveries;
    const run = (job: Job<SyncJobData>, token?: string) => this.process(job, worker as Worker<SyncJobData>, gate, token);
    // Each job in the caller's wrapper (a trace span, ADR 0026) when it gave one.
    const processor = observer ? (job: Job<SyncJobData>, token?: string) => observer.around(job.data, () => run(job, token)) : run;
    worker = this.ctx.queues.worker(target.id, processor, {
      concurrency: this.jobsOf(target),
      lockDuration: this.options.lockDurationMs ?? 15_000,
      stalledInterval: this.options.stalledIntervalMs ?? 15_000,
      maxStalledCount: 100,
      // BullMQ honours a manual rateLimit (Retry-After) only on a worker that has a limiter; this one never binds.
      limiter: { max: 1_000_000, duration: 1000 },
      settings: {
        backoffStrategy: (attemptsMade: number, _type?: string, error?: Error) =>
          retryDelay(attemptsMade, error, this.ctx.tuning.backoffBaseMs, this.ctx.tuning.backoffMaxMs),
      },
    });
    worker.on('error', (error) =>
      this.ctx.logger.error('replication worker error', { tenant: target.tenantId, target: target.id, reason: describe(error) }),
    );
    // A job the processor never settled (it dead-letters once the target's maxAttempts are spent) that BullMQ gave up on.
    worker.on('failed', (job, error) => {
      if (!job?.finishedOn) return;
      this.ctx.logger.error('replication retries exhausted', {
        tenant: job.data.tenantId,
        target: job.data.targetId,
        resource: job.data.resourceId,
        resourceType: job.data.kind,
        attempts: job.attemptsMade,
        reason: describe(error),
        ...(job.data.requestId ? { reqId: job.data.requestId } : {}),
      });
    });
    this.workers.set(target.id, { worker, concurrency: target.concurrency, gate, stamp: 0 });
  }

  private async applyQueueState(target: ReplicationTarget): Promise<void> {
    const queue = this.ctx.queues.queue(target.id);
    const hosted = this.workers.get(target.id);
    const stamp = target.updatedAt.getTime() + (target.circuitState === 'half_open' ? 1 : 0);
    // This process's requests follow the circuit as stored (another process may have opened or closed it).
    hosted?.gate.follow(target.circuitState);
    if (hosted && hosted.stamp !== stamp) {
      // Global (all processes) limits of this target's queue; one probe at a time while half-open.
      await queue.setGlobalConcurrency(target.circuitState === 'half_open' ? 1 : this.jobsOf(target));
      if (target.rateLimit) await queue.setGlobalRateLimit(target.rateLimit.max, target.rateLimit.durationMs);
      else await queue.removeGlobalRateLimit();
      hosted.stamp = stamp;
    }
    const shouldPause = target.paused || target.circuitState === 'open';
    if ((await queue.isPaused()) !== shouldPause) {
      if (shouldPause) await queue.pause();
      else await queue.resume();
    }
  }

  private async applyCircuitCooldown(target: ReplicationTarget): Promise<void> {
    if (target.circuitState !== 'open' || target.circuitOpenedAt === null) return;
    if (target.circuitOpenedAt.getTime() + this.ctx.tuning.circuitCooldownMs > this.ctx.clock.now().getTime()) return;
    await this.ctx.store.setCircuit(target.id, 'half_open', this.ctx.clock.now());
    target.circuitState = 'half_open';
    this.ctx.logger.info('circuit half-open: probing the target', { tenant: target.tenantId, target: target.id });
  }

  /** Opens a target's circuit; `cause` is the job whose failure tripped it. */
  private async openCircuit(target: ReplicationTarget, gate: RequestGate, cause: Record<string, unknown>): Promise<void> {
    // The jobs of this process waiting for their turn send nothing now: they go back to the queue.
    gate.follow('open');
    // Jobs failing side by side may each trip it: the one that finds it not yet open says so.
    const before = (await this.ctx.store.getTarget(target.id))?.circuitState;
    await this.ctx.store.setCircuit(target.id, 'open', this.ctx.clock.now());
    await this.ctx.queues.queue(target.id).pause();
    if (before !== 'open') {
      this.ctx.logger.warn('circuit open: target paused after consecutive failures', {
        tenant: target.tenantId,
        target: target.id,
        ...cause,
      });
    }
  }

  /** Processes one job of a target's queue. */
  private async process(job: Job<SyncJobData>, worker: Worker<SyncJobData>, gate: RequestGate, _token?: string): Promise<SyncResult> {
    if (isTransferJob(job.name, job.data)) return this.processTransfer(job, worker, gate);
    const data = job.data;
    // The target, link and resource of the jobs that start together are read together (ADR 0024).
    const loaded = await this.ctx.batches.load(data);
    const target = loaded.target;
    if (!receiving(target, this.ctx.clock.now())) return SKIPPED;
    try {
      const runtime = gated(await this.ctx.runtimeOf(target), gate);
      const result =
        job.name === 'grace-delete'
          ? await this.synchronizer.graceDelete(runtime, data)
          : await this.synchronizer.sync(runtime, data, { loaded });
      // The gate knows of a circuit that opened or went half-open after this job read its target.
      if (target.consecutiveFailures > 0 || target.circuitState !== 'closed' || gate.circuit !== 'closed') {
        const previous = await this.ctx.store.recordSuccess(target.id);
        gate.follow('closed');
        if (previous !== 'closed') {
          await this.ctx.queues.queue(target.id).setGlobalConcurrency(this.jobsOf(target));
          this.ctx.logger.info('circuit closed', {
            tenant: target.tenantId,
            target: target.id,
            resource: data.resourceId,
            resourceType: data.kind,
          });
        }
      }
      return result;
    } catch (error) {
      return this.fail(job, worker, gate, target, error);
    }
  }

  /** A transfer of owned objects (issue 19): the same retries, circuit and dead letters as a delivery. */
  private async processTransfer(job: Job<SyncJobData>, worker: Worker<SyncJobData>, gate: RequestGate): Promise<SyncResult> {
    const data = job.data;
    const target = await this.ctx.store.getTarget(data.targetId);
    if (!receiving(target, this.ctx.clock.now()) || !isTransferJob(job.name, data)) return SKIPPED;
    try {
      const result = await runTransfer(
        this.ctx.store,
        gated(await this.ctx.runtimeOf(target), gate),
        data,
        job.attemptsMade + 1,
        this.ctx.transfers,
      );
      if (target.consecutiveFailures > 0 || target.circuitState !== 'closed' || gate.circuit !== 'closed') {
        await this.ctx.store.recordSuccess(target.id);
        gate.follow('closed');
      }
      return result;
    } catch (error) {
      return this.fail(job, worker, gate, target, error);
    }
  }

  private async fail(
    job: Job<SyncJobData>,
    worker: Worker<SyncJobData>,
    gate: RequestGate,
    target: ReplicationTarget,
    error: unknown,
  ): Promise<SyncResult> {
    const data = job.data;
    const inner = error instanceof SyncStepError ? error.cause : error;
    // Refused by the gate when the circuit opened: nothing was sent. Back to the queue (paused by the open circuit),
    // without spending an attempt or counting a failure; a half-open circuit lets one job through again.
    if (inner instanceof NotSentError) throw this.ctx.queues.rateLimitError();
    const operation = error instanceof SyncStepError ? error.operation : job.name === 'grace-delete' ? 'delete' : 'connect';
    // The outbound policy refused the destination, whatever the connector made of it: nothing was sent, and retrying cannot help.
    const refusal = findOutboundRefusal(inner);
    const kind = refusal
      ? 'permanent'
      : isConnectorError(inner)
        ? inner.kind
        : isMeridianError(inner) && (inner.code === 'INVALID_CONFIG' || inner.code === 'INVALID_INPUT')
          ? 'permanent'
          : 'transient';
    const link = await this.ctx.store.getLink(target.id, data.kind, data.resourceId);

    if (kind === 'rate_limited') {
      // 429 / 503 with Retry-After: the whole target waits; the job goes back without spending an attempt.
      const waitMs = (isConnectorError(inner) ? inner.retryAfterMs : undefined) ?? 1000;
      // A transfer leaves the leaver's link as it is: its delivery state is not the transfer's.
      if (!isTransferJob(job.name, data))
        await this.ctx.store.saveLink(target.tenantId, target.id, data.kind, data.resourceId, {
          remoteId: link?.remoteId ?? null,
          status: 'retrying',
          handledVersion: 0,
          lastError: `rate limited: ${describe(error)}`,
        });
      await worker.rateLimit(waitMs);
      throw this.ctx.queues.rateLimitError();
    }

    const attempts = job.attemptsMade + 1;
    // What every log line about this job says (ids only: never a payload, a secret or a password).
    const subject = {
      tenant: target.tenantId,
      target: target.id,
      resource: data.resourceId,
      resourceType: data.kind,
      operation,
      ...(data.requestId ? { reqId: data.requestId } : {}),
    };
    if (kind === 'transient') {
      const failures = await this.ctx.store.recordFailure(target.id);
      const halfOpen = target.circuitState === 'half_open' || gate.circuit === 'half_open';
      if (halfOpen || (target.circuitState === 'closed' && failures >= this.ctx.tuning.circuitThreshold)) {
        await this.openCircuit(target, gate, { ...subject, failures, reason: describe(error) });
      }
    }
    if (kind === 'permanent' || attempts >= target.maxAttempts) {
      const reason = refusal
        ? `Not sent: ${refusal.message}`
        : kind === 'permanent'
          ? describe(error)
          : `gave up after ${attempts} attempts: ${describe(error)}`;
      await this.ctx.store.deadLetter(
        {
          tenantId: target.tenantId,
          targetId: target.id,
          kind: data.kind,
          localId: data.resourceId,
          resourceVersion: data.version || null,
          operation,
          reason,
          errorCode: refusal
            ? 'OUTBOUND_REFUSED'
            : isConnectorError(inner)
              ? (inner.code ?? (inner.status !== undefined ? `HTTP_${inner.status}` : null))
              : isMeridianError(inner)
                ? inner.code
                : null,
          request: isConnectorError(inner) ? (inner.request ?? null) : null,
          // A refused request reached no one: there is no response to record.
          response: isConnectorError(inner) && !refusal ? (inner.response ?? null) : null,
          requestId: data.requestId ?? null,
        },
        isTransferJob(job.name, data)
          ? { remoteId: link?.remoteId ?? null, status: link?.status ?? 'pending', handledVersion: 0 }
          : {
              remoteId: link?.remoteId ?? null,
              status: 'dead_lettered',
              handledVersion: 0,
              attempts,
              lastError: reason,
              requestId: data.requestId,
            },
        {
          type: 'replication.dead_lettered',
          tenantId: target.tenantId,
          resourceType: data.kind,
          resourceId: data.resourceId,
          before: null,
          after: { targetId: target.id, target: target.name, operation, reason },
        },
      );
      // One line per dead letter, whether the failure was permanent or the retries ran out (`failure: transient`).
      this.ctx.logger.warn('replication dead-lettered', { ...subject, attempts, failure: kind, reason });
      if (isTransferJob(job.name, data))
        await settleFailedTransfer(this.ctx.transfers, data, target.id, { deadLettered: true, attempts, reason });
      return SKIPPED;
    }
    if (isTransferJob(job.name, data)) {
      await settleFailedTransfer(this.ctx.transfers, data, target.id, { deadLettered: false, attempts, reason: describe(error) });
    } else
      await this.ctx.store.saveLink(target.tenantId, target.id, data.kind, data.resourceId, {
        remoteId: link?.remoteId ?? null,
        status: 'retrying',
        handledVersion: 0,
        attempts,
        lastError: describe(error),
      });
    this.ctx.logger.debug('replication retrying', { ...subject, attempts, maxAttempts: target.maxAttempts, reason: describe(error) });
    throw inner instanceof Error ? inner : new Error(describe(error));
  }

  /** Stops every worker of this process (running jobs finish first). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.refreshing?.catch(() => undefined);
    const hosted = [...this.workers.values()];
    this.workers.clear();
    await Promise.all(hosted.map((h) => h.worker.close()));
  }
}
