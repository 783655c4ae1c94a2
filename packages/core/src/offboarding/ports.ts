import type { DirectoryTransaction } from '../ports/directory.js';
import type { RequestContext } from '../tenancy/model.js';
import type { OffboardingPlan, OffboardingPolicy, TransferCandidate } from './plan.js';

/**
 * Where an offboarding stands:
 * - `scheduled`: the leave (`--at`) is in the future; nothing was changed yet;
 * - `suspended`: handed over and suspended; the deletion waits for the grace period (and the transfers);
 * - `deleted`: the leaver was deleted in the hub (targets follow their delete mode);
 * - `cancelled`: an admin cancelled it before the deletion.
 */
export type OffboardingStatus = 'scheduled' | 'suspended' | 'deleted' | 'cancelled';

/** Where one transfer of owned objects stands at one target. */
export type TransferStatus = 'queued' | 'retrying' | 'done' | 'dead_lettered';

/** The outcome of the transfer at one target, as the replication worker recorded it. */
export interface TransferRecord {
  targetId: string;
  target: string;
  status: TransferStatus;
  /** Objects the target reported it handed over (a repeat reports 0). */
  transferred: number | null;
  /** The last failure, when there was one. */
  lastError: string | null;
  attempts: number;
  updatedAt: Date;
}

/** One offboarding as stored: the plan it runs, where it stands, and its transfers. */
export interface OffboardingRecord {
  id: string;
  tenantId: string;
  userId: string;
  successorId: string;
  status: OffboardingStatus;
  runAt: Date;
  deleteAt: Date;
  /** The plan as last computed (at the request; again when a scheduled leave runs). */
  plan: OffboardingPlan;
  policy: OffboardingPolicy;
  /** What the handover changed (null before it ran). */
  report: OffboardingReport | null;
  transfers: TransferRecord[];
  requestId: string;
  createdAt: Date;
  updatedAt: Date;
}

/** What the handover changed, written in the same transaction as the changes. */
export interface OffboardingReport {
  groupsMoved: string[];
  groupsKept: string[];
  entitlementsAdded: string[];
  rolesAdded: string[];
  managersChanged: string[];
  tokensRevoked: string[];
  /** Grants of the community's OpenID Provider revoked (0 when the account was in no global directory). */
  ssoGrantsRevoked: number;
  transfersQueued: string[];
}

/**
 * The offboarding table (store). Writes that belong to a handover take the
 * directory transaction, so that the schedule, the token revocations and the
 * directory changes commit together.
 */
export interface OffboardingStore {
  /** A new record id (UUIDv7). */
  newId(): string;
  /** Inserts or overwrites a record, in the directory transaction. */
  save(tx: DirectoryTransaction, record: OffboardingRecord): Promise<void>;
  /** Reads and locks a record in the directory transaction (the runner and a cancel serialise on it). */
  lock(tx: DirectoryTransaction, id: string): Promise<OffboardingRecord | undefined>;
  /** Revokes the User's API tokens (their `scim:me` tokens) in the directory transaction; the ids revoked. */
  revokeUserTokens(tx: DirectoryTransaction, userId: string): Promise<string[]>;
  /** The tenant's offboarding of a User that is scheduled or suspended, if any. */
  pendingOf(tenantId: string, userId: string): Promise<OffboardingRecord | undefined>;
  get(tenantId: string, id: string): Promise<OffboardingRecord | undefined>;
  /** The tenant's offboardings, newest first. */
  list(tenantId: string, limit: number): Promise<OffboardingRecord[]>;
  /**
   * Claims up to `limit` records of every tenant whose next step is due at
   * `now` (a scheduled leave, or a deletion), for `leaseMs`: another process
   * does not claim them meanwhile, and a crashed claim is taken again after it.
   */
  claimDue(now: Date, leaseMs: number, limit: number): Promise<OffboardingRecord[]>;
  /** Records the outcome of the transfer of one offboarding at one target (the replication worker calls it). */
  settleTransfer(tenantId: string, offboardingId: string, targetId: string, outcome: TransferOutcome): Promise<void>;
}

/** What a transfer attempt ended with. */
export interface TransferOutcome {
  status: Exclude<TransferStatus, 'queued'>;
  transferred?: number | undefined;
  lastError?: string | null | undefined;
  attempts: number;
}

/** A transfer job for the replication queue of one target. */
export interface OwnershipTransferJob {
  tenantId: string;
  targetId: string;
  /** The offboarding it belongs to; null for a transfer asked for on its own (SCIM `/OwnershipTransfers`). */
  offboardingId: string | null;
  fromUserId: string;
  toUserId: string;
  requestId: string;
}

/** The replication engine's side of transfers: which targets can, and queueing the jobs (retried, dead-lettered). */
export interface OwnershipTransfers {
  /** Every enabled target of the tenant, with whether its connector transfers ownership and both Users' remote ids there. */
  candidates(tenantId: string, fromUserId: string, toUserId: string): Promise<TransferCandidate[]>;
  /** Queues one job per transfer in its target's queue. */
  queue(jobs: readonly OwnershipTransferJob[]): Promise<void>;
}

/** Ends a leaver's sessions and grants at the community's OpenID Provider; optional (a hub without single sign-on). */
export interface SsoRevocation {
  /** Revokes every grant (and the tokens issued under it) of the person the account belongs to; how many. */
  revokeAccount(tenantId: string, userId: string, context: RequestContext): Promise<number>;
}
