import { AUTHENTICATION_FAILURE_REASONS, type AuthenticationFailure, PLATFORM_CHAIN } from '@meridian/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { type AuditHashInput, GENESIS_HASH, hashAuditEntry, redactSecrets } from '../events/event-recorder.js';

/** An audit entry that is not a change of a resource (no outbox event): an authentication failure, a prune. */
export interface AuditAppend {
  chain: string;
  tenantId: string | null;
  actorType: string;
  actorId: string;
  action: string;
  resourceType: string;
  resourceId: string;
  requestId: string;
  sourceAddress: string | null;
  diff: Record<string, unknown> | null;
}

/**
 * Appends one entry to a chain in the caller's transaction, under the same
 * advisory lock as `recordEvent` (ADR 0005), and returns its seq and hash.
 * `anchor` is what an empty chain continues from: a prune that removed every
 * entry up to its anchor checkpoint.
 */
export async function appendAuditEntry(
  em: EntityManager,
  append: AuditAppend,
  now: Date,
  anchor?: { seq: number; hash: string },
): Promise<{ seq: number; hash: string }> {
  await em.execute('select pg_advisory_xact_lock(hashtextextended(?, 7))', [`audit:${append.chain}`]);
  const [row] = await em.execute<{ seq: string; hash: string }[]>(
    'select seq, hash from audit_event where chain = ? order by seq desc limit 1',
    [append.chain],
  );
  const last = row ?? (anchor ? { seq: String(anchor.seq), hash: anchor.hash } : undefined);
  const diff = append.diff === null ? null : (redactSecrets(append.diff) as Record<string, unknown>);
  const entry: AuditHashInput = {
    chain: append.chain,
    seq: last ? Number(last.seq) + 1 : 1,
    tenantId: append.tenantId,
    actorType: append.actorType,
    actorId: append.actorId,
    action: append.action,
    resourceType: append.resourceType,
    resourceId: append.resourceId,
    requestId: append.requestId,
    sourceAddress: append.sourceAddress,
    diff,
    createdAt: now.toISOString(),
    prevHash: last?.hash ?? GENESIS_HASH,
  };
  const hash = hashAuditEntry(entry);
  await em.execute(
    `insert into audit_event (chain, seq, tenant_id, actor_type, actor_id, action, resource_type, resource_id,
       request_id, source_address, diff, created_at, prev_hash, hash)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      entry.chain,
      entry.seq,
      entry.tenantId,
      entry.actorType,
      entry.actorId,
      entry.action,
      entry.resourceType,
      entry.resourceId,
      entry.requestId,
      entry.sourceAddress,
      diff === null ? null : JSON.stringify(diff),
      now,
      entry.prevHash,
      hash,
    ],
  );
  return { seq: entry.seq, hash };
}

/** How much of a presented token an `auth.failed` entry keeps: enough to recognise a token family, never enough to use. */
const PREFIX_LENGTH = 8;

/**
 * Appends `auth.failed` to the platform chain, in the caller's transaction.
 * Only the first 8 characters of the token are kept (for `mrd_` tokens, 4
 * characters of a 256-bit secret), and only characters a token may contain.
 */
export async function recordAuthenticationFailure(em: EntityManager, failure: AuthenticationFailure, now: Date): Promise<void> {
  if (!AUTHENTICATION_FAILURE_REASONS.includes(failure.reason)) {
    throw new TypeError(`Unknown authentication failure reason '${String(failure.reason)}'.`);
  }
  const prefix = failure.tokenPrefix?.slice(0, PREFIX_LENGTH).replace(/[^A-Za-z0-9._~+/=-]/g, '') ?? '';
  const sourceAddress = failure.sourceAddress ? failure.sourceAddress.slice(0, 64) : null;
  await appendAuditEntry(
    em,
    {
      chain: PLATFORM_CHAIN,
      tenantId: null,
      actorType: 'anonymous',
      actorId: prefix === '' ? 'anonymous' : `prefix:${prefix}`,
      action: 'auth.failed',
      resourceType: 'Token',
      resourceId: prefix,
      requestId: failure.requestId.slice(0, 128),
      sourceAddress,
      // `prefix`, not `tokenPrefix`: redactSecrets would hide any key that says "token".
      diff: { before: null, after: { reason: failure.reason, ...(prefix === '' ? {} : { prefix }) } },
    },
    now,
  );
}
