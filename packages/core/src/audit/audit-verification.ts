/**
 * What is wrong with a stretch of an audit chain:
 *
 * - `modified`: an entry's content no longer matches its hash, or its hash was
 *   recomputed and the next entry still points to the original one.
 * - `deleted`: entries are missing (a gap in the links); numbered as they were written.
 * - `inserted`: an entry that does not belong to the chain (forged, or a copy).
 * - `reordered`: genuine entries whose `seq` values were swapped or moved.
 * - `renumbered`: genuine entries, in order, whose `seq` values were shifted
 *   (what an insertion or deletion in the middle leaves behind).
 * - `truncated`: the chain ends before a signed checkpoint, or the entry a
 *   checkpoint names no longer has the hash it signed.
 * - `forged_checkpoint`: a checkpoint whose signature does not verify.
 */
export type AuditBreakKind = 'modified' | 'deleted' | 'inserted' | 'reordered' | 'renumbered' | 'truncated' | 'forged_checkpoint';

/** Every break kind. */
export const AUDIT_BREAK_KINDS: readonly AuditBreakKind[] = [
  'modified',
  'deleted',
  'inserted',
  'reordered',
  'renumbered',
  'truncated',
  'forged_checkpoint',
];

/** One break in a chain; `fromSeq`..`toSeq` is inclusive. */
export interface AuditBreak {
  kind: AuditBreakKind;
  fromSeq: number;
  toSeq: number;
  /** What the verifier saw, e.g. `entries 12-13 deleted`. */
  message: string;
}

/** A checkpoint as the verifier used it. */
export interface CheckpointSummary {
  seq: number;
  hash: string;
  createdAt: Date;
  keyId: string;
}

/** The result of verifying one chain. */
export interface ChainVerification {
  /** The tenant id, or `''` for the platform chain. */
  chain: string;
  /** The tenant's slug; null for the platform chain or an unknown chain. */
  tenantSlug: string | null;
  ok: boolean;
  /** Rows read, including any that do not belong to the chain. */
  entriesChecked: number;
  /** The seq of the last entry that belongs to the chain; null when it is empty. */
  lastSeq: number | null;
  /** The latest checkpoint with a valid signature. */
  lastCheckpoint: CheckpointSummary | null;
  /** Where verification started after a prune (a signed checkpoint); null from the first entry. */
  anchor: CheckpointSummary | null;
  /** In seq order. */
  breaks: AuditBreak[];
}

/** The human label of a chain: `tenant emea`, `platform`, or `chain <id>` for an unknown one. */
export function chainLabel(verification: Pick<ChainVerification, 'chain' | 'tenantSlug'>): string {
  if (verification.chain === '') return 'platform';
  return verification.tenantSlug !== null ? `tenant ${verification.tenantSlug}` : `chain ${verification.chain}`;
}

/** `entry 7` or `entries 12-13`. */
export function describeSeqRange(fromSeq: number, toSeq: number): string {
  return fromSeq === toSeq ? `entry ${fromSeq}` : `entries ${fromSeq}-${toSeq}`;
}

/**
 * The message of a break: `entry 7 modified`, `entries 12-13 deleted`, with an
 * optional detail after a colon. `truncated` and `forged_checkpoint` take their
 * whole message from `detail`.
 */
export function describeAuditBreak(kind: AuditBreakKind, fromSeq: number, toSeq: number, detail?: string): string {
  if ((kind === 'truncated' || kind === 'forged_checkpoint') && detail !== undefined) return detail;
  const base = `${describeSeqRange(fromSeq, toSeq)} ${kind === 'forged_checkpoint' ? 'has a forged checkpoint' : kind}`;
  return detail === undefined ? base : `${base}: ${detail}`;
}
