import type { Page, PageRequest } from '../ports/admin.js';
import type { RequestContext } from '../tenancy/model.js';
import type { AuditCheckpoint, AuditEntry, AuditQuery, AuthenticationFailure } from './audit-entry.js';
import type { AuditBreak, ChainVerification } from './audit-verification.js';
import type { AuthenticationFailureSummary } from './auth-failure-aggregator.js';

/** Options of {@link AuditLog.verify}. */
export interface AuditVerifyOptions {
  /** Only this chain (a tenant id, or `''` for the platform chain); every chain when omitted. */
  chain?: string | undefined;
  /**
   * Checkpoints kept outside the hub (the output of `meridian audit
   * checkpoints --json`), checked with the public key exported with them and
   * trusted as well as the ones in the database: deleting checkpoint rows then
   * no longer hides a deleted tail.
   */
  anchored?: AnchoredCheckpoints | undefined;
}

/** Checkpoints exported from the hub and kept elsewhere, with the public key that signed them. */
export interface AnchoredCheckpoints {
  /** SPKI PEM of the Ed25519 key. */
  publicKey: string;
  checkpoints: readonly AuditCheckpoint[];
}

/** When a chain is due for a checkpoint. */
export interface CheckpointPolicy {
  /** Sign when at least this many entries were appended since the last checkpoint. */
  everyEntries: number;
  /** Sign when the last checkpoint is at least this old and entries were appended since. */
  everyMs: number;
  /** Sign even when the entries since the last checkpoint do not verify. */
  force?: boolean | undefined;
}

/** What {@link AuditLog.checkpoint} did for one chain. */
export interface CheckpointOutcome {
  chain: string;
  /** `created`; `current` when nothing is due; `refused` when the entries since the last checkpoint do not verify. */
  status: 'created' | 'current' | 'refused';
  /** The chain head the checkpoint names (or would have named). */
  seq: number;
  breaks: AuditBreak[];
}

/** What {@link AuditLog.prune} did for one chain. */
export interface PruneOutcome {
  chain: string;
  /** `pruned`; `kept` when no signed checkpoint is old enough; `refused` when the chain up to it does not verify. */
  status: 'pruned' | 'kept' | 'refused';
  /** The checkpoint that is the chain's new anchor. */
  anchorSeq: number | null;
  deletedEntries: number;
  breaks: AuditBreak[];
}

/** The public half of the checkpoint signing key. */
export interface AuditPublicKey {
  keyId: string;
  /** SPKI PEM. */
  pem: string;
}

/**
 * The tamper-evident audit log (port). Entries are appended by the stores in
 * the transaction of each change; this port reads, verifies, checkpoints and
 * prunes them. Every method takes the chain explicitly.
 */
export interface AuditLog {
  /** A page of one chain's entries matching `query`, oldest first (keyset on seq). */
  list(chain: string, query: AuditQuery, page: PageRequest): Promise<Page<AuditEntry>>;
  /** Every entry of one chain matching `query`, oldest first, read in batches. */
  stream(chain: string, query: AuditQuery): AsyncIterable<AuditEntry>;
  /** Recomputes the hash chains and checks the signed checkpoints. */
  verify(options?: AuditVerifyOptions): Promise<ChainVerification[]>;
  /** Signs a checkpoint at the head of every chain that is due under `policy`. */
  checkpoint(policy: CheckpointPolicy): Promise<CheckpointOutcome[]>;
  /** The checkpoints of one chain, or of every chain, in (chain, seq) order. */
  checkpoints(chain?: string): Promise<AuditCheckpoint[]>;
  /** The key that verifies checkpoints, when one is configured or was generated. */
  publicKey(): Promise<AuditPublicKey | undefined>;
  /**
   * Deletes entries created before `before`, up to the newest signed checkpoint
   * that allows it; that checkpoint becomes the chain's anchor and the prune is
   * itself recorded (`audit.pruned`).
   */
  prune(before: Date, context: RequestContext): Promise<PruneOutcome[]>;
  /** Appends one `auth.failed` entry for one failure to the platform chain. */
  recordAuthenticationFailure(failure: AuthenticationFailure): Promise<void>;
  /**
   * Appends one `auth.failed` entry per summary (failures of one minute,
   * counted), each to its tenant's chain or the platform chain, in one
   * transaction: all of them or none.
   */
  recordAuthenticationFailures(summaries: readonly AuthenticationFailureSummary[]): Promise<void>;
}
