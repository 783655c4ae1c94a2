import { ConnectorError } from '@meridian/connector-sdk';
import type {
  OffboardingStore,
  OwnershipTransferJob,
  OwnershipTransfers,
  ReplicationLink,
  ReplicationStore,
  TransferCandidate,
} from '@meridian/core';
import type { SyncJobData } from '../queue/target-queues.js';
import type { TargetRuntime } from '../targets/connector-registry.js';
import type { ReplicationContext } from './context.js';
import { type SyncResult, SyncStepError } from './synchronizer.js';

// Transfers of owned objects (issue 19): one more job kind in the targets' queues, so that a transfer is retried
// with the same backoff, circuit breaker and rate limits as a delivery, and ends in a dead letter like one.

/** The BullMQ job name of a transfer. */
const TRANSFER_JOB = 'transfer-ownership';

/** What a transfer job carries beyond a sync job's fields (`resourceId` is the leaver). */
export interface TransferJobData extends SyncJobData {
  transfer: { offboardingId: string | null; toUserId: string };
}

/** Where the outcome of an offboarding's transfers is kept (the store's offboarding table). */
export type TransferLedger = Pick<OffboardingStore, 'settleTransfer'>;

/** True for a transfer job's data. */
export function isTransferJob(name: string, data: SyncJobData): data is TransferJobData {
  return name === TRANSFER_JOB && typeof (data as Partial<TransferJobData>).transfer?.toUserId === 'string';
}

/** The job id of a transfer in its target's queue (no ':' in BullMQ ids): one per offboarding, or per pair of Users. */
function transferJobId(job: Pick<OwnershipTransferJob, 'offboardingId' | 'fromUserId' | 'toUserId'>): string {
  return job.offboardingId !== null ? `transfer-${job.offboardingId}` : `transfer-${job.fromUserId}-${job.toUserId}`;
}

/**
 * The replication engine's side of core's {@link OwnershipTransfers}: which
 * enabled targets of a tenant transfer ownership (their connector declares
 * `transferOwnership`), and queueing the jobs in their queues.
 */
export class ReplicationOwnershipTransfers implements OwnershipTransfers {
  constructor(private readonly ctx: ReplicationContext) {}

  async candidates(tenantId: string, fromUserId: string, toUserId: string): Promise<TransferCandidate[]> {
    const targets = (await this.ctx.store.listTargets(tenantId)).filter((t) => t.enabled);
    const candidates: TransferCandidate[] = [];
    for (const target of targets) {
      const { connector } = await this.ctx.runtimeOf(target);
      const capable =
        connector.capabilities.transferOwnership === true &&
        typeof connector.transferOwnership === 'function' &&
        connector.capabilities.kinds.includes('User');
      const [from, to] = await Promise.all([
        this.ctx.store.getLink(target.id, 'User', fromUserId),
        this.ctx.store.getLink(target.id, 'User', toUserId),
      ]);
      candidates.push({
        targetId: target.id,
        target: target.name,
        capable,
        leaverRemoteId: from?.remoteId ?? null,
        successorRemoteId: to?.remoteId ?? null,
      });
    }
    return candidates;
  }

  async queue(jobs: readonly OwnershipTransferJob[]): Promise<void> {
    for (const job of jobs) {
      const data: TransferJobData = {
        tenantId: job.tenantId,
        targetId: job.targetId,
        kind: 'User',
        resourceId: job.fromUserId,
        version: 0,
        requestId: job.requestId,
        transfer: { offboardingId: job.offboardingId, toUserId: job.toUserId },
      };
      await this.ctx.queues.queue(job.targetId).add(TRANSFER_JOB, data, {
        jobId: transferJobId(job),
        // The processor counts attempts against the target's own limit and dead-letters; BullMQ only retries.
        attempts: 1000,
        backoff: { type: 'meridian' },
        removeOnComplete: true,
        removeOnFail: { count: 1000 },
      });
    }
  }
}

/**
 * Runs one transfer job: the leaver's and the successor's remote ids from their links, then the connector. The
 * successor not yet at the target is transient (it is being pushed); the leaver gone from it is permanent.
 */
export async function runTransfer(
  store: ReplicationStore,
  runtime: TargetRuntime,
  data: TransferJobData,
  attempts: number,
  ledger: TransferLedger | undefined,
): Promise<SyncResult> {
  const { target, connector } = runtime;
  const transfer = connector.transferOwnership?.bind(connector);
  if (!connector.capabilities.transferOwnership || !transfer) {
    throw new SyncStepError(
      'transfer',
      new ConnectorError('permanent', `Target '${target.name}' does not transfer ownership.`, { code: 'UNSUPPORTED' }),
    );
  }
  const [from, to] = await Promise.all([
    store.getLink(target.id, 'User', data.resourceId),
    store.getLink(target.id, 'User', data.transfer.toUserId),
  ]);
  const fromId = remoteIdOf(from);
  if (fromId === null) {
    throw new SyncStepError(
      'transfer',
      new ConnectorError('permanent', 'The leaver is not at the target: nothing to transfer from.', { code: 'NOT_FOUND' }),
    );
  }
  const toId = remoteIdOf(to);
  if (toId === null) throw new SyncStepError('transfer', new ConnectorError('transient', 'The successor is not at the target yet.'));
  let transferred: number;
  try {
    ({ transferred } = await transfer({ kind: 'User', remoteId: fromId }, { kind: 'User', remoteId: toId }));
  } catch (error) {
    throw new SyncStepError('transfer', error);
  }
  if (data.transfer.offboardingId !== null) {
    await ledger?.settleTransfer(data.tenantId, data.transfer.offboardingId, target.id, {
      status: 'done',
      transferred,
      lastError: null,
      attempts,
    });
  }
  return { operation: 'transferred', remoteId: fromId, version: null };
}

/** A failed attempt of a transfer job, in its offboarding's record. */
export async function settleFailedTransfer(
  ledger: TransferLedger | undefined,
  data: TransferJobData,
  targetId: string,
  outcome: { deadLettered: boolean; attempts: number; reason: string },
): Promise<void> {
  if (data.transfer.offboardingId === null) return;
  await ledger?.settleTransfer(data.tenantId, data.transfer.offboardingId, targetId, {
    status: outcome.deadLettered ? 'dead_lettered' : 'retrying',
    lastError: outcome.reason,
    attempts: outcome.attempts,
  });
}

function remoteIdOf(link: ReplicationLink | undefined): string | null {
  return link?.remoteId && link.status !== 'deleted' ? link.remoteId : null;
}
