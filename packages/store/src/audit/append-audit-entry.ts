import {
  AUTHENTICATION_FAILURE_REASONS,
  type AuthenticationFailure,
  type AuthenticationFailureSummary,
  authFailureAddress,
  authFailurePrefix,
  PLATFORM_CHAIN,
} from '@meridian/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { canonicalParts, redactSecrets } from './audit-hash.js';

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
 * Appends one entry to a chain in the caller's transaction, in one statement
 * (`meridian_append_audit`, ADR 0023): under the chain's advisory lock
 * (ADR 0005), after its head, hashed as the verifier expects. Returns its seq
 * and hash. `anchor` is what an empty chain continues from: a prune that
 * removed every entry up to its anchor checkpoint.
 */
export async function appendAuditEntry(
  em: EntityManager,
  append: AuditAppend,
  now: Date,
  anchor?: { seq: number; hash: string },
): Promise<{ seq: number; hash: string }> {
  const call = auditAppendCall(append, now, anchor);
  const [row] = await em.execute<{ seq: string; hash: string }[]>(`select seq, hash from ${call.sql}`, call.params);
  if (!row) throw new TypeError('meridian_append_audit answered no row.');
  return { seq: Number(row.seq), hash: row.hash };
}

/**
 * The call of `meridian_append_audit` that appends `append` (`meridian_append_audit(?, …)` and its parameters),
 * for a statement that does more in the same round trip (the outbox event of a change).
 */
export function auditAppendCall(
  append: AuditAppend,
  now: Date,
  anchor?: { seq: number; hash: string },
): { sql: string; params: unknown[] } {
  const diff = append.diff === null ? null : (redactSecrets(append.diff) as Record<string, unknown>);
  const parts = canonicalParts({
    chain: append.chain,
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
  });
  return {
    sql: 'meridian_append_audit(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    params: [
      append.chain,
      append.tenantId,
      append.actorType,
      append.actorId,
      append.action,
      append.resourceType,
      append.resourceId,
      append.requestId,
      append.sourceAddress,
      diff === null ? null : JSON.stringify(diff),
      now,
      ...parts,
      anchor?.seq ?? null,
      anchor?.hash ?? null,
    ],
  };
}

/**
 * Appends `auth.failed` to the platform chain, in the caller's transaction.
 * Only the first 8 characters of the token are kept (for `mrd_` tokens, 4
 * characters of a 256-bit secret), and only characters a token may contain.
 */
export async function recordAuthenticationFailure(em: EntityManager, failure: AuthenticationFailure, now: Date): Promise<void> {
  if (!AUTHENTICATION_FAILURE_REASONS.includes(failure.reason)) {
    throw new TypeError(`Unknown authentication failure reason '${String(failure.reason)}'.`);
  }
  const prefix = authFailurePrefix(failure.tokenPrefix);
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
      sourceAddress: authFailureAddress(failure.sourceAddress),
      // `prefix`, not `tokenPrefix`: redactSecrets would hide any key that says "token".
      diff: { before: null, after: { reason: failure.reason, ...(prefix === '' ? {} : { prefix }) } },
    },
    now,
  );
}

/**
 * Appends the `auth.failed` entry of one minute's counted failures, in the
 * caller's transaction (which must be in platform scope: the entry may go to
 * a tenant's chain or the platform's). The resource is the stored token or
 * issuer the credential belongs to when known, else the token prefix; the
 * diff holds the reason, the count, the first and last failure's time and
 * the last request id (the first is the entry's request id).
 */
export async function recordAuthenticationFailureSummary(
  em: EntityManager,
  summary: AuthenticationFailureSummary,
  now: Date,
): Promise<void> {
  if (!AUTHENTICATION_FAILURE_REASONS.includes(summary.reason)) {
    throw new TypeError(`Unknown authentication failure reason '${String(summary.reason)}'.`);
  }
  const prefix = authFailurePrefix(summary.tokenPrefix);
  await appendAuditEntry(
    em,
    {
      chain: summary.tenantId ?? PLATFORM_CHAIN,
      tenantId: summary.tenantId,
      actorType: 'anonymous',
      actorId: prefix === '' ? 'anonymous' : `prefix:${prefix}`,
      action: 'auth.failed',
      resourceType: summary.credential?.type ?? 'Token',
      resourceId: summary.credential?.id ?? prefix,
      requestId: summary.firstRequestId.slice(0, 128),
      sourceAddress: authFailureAddress(summary.sourceAddress),
      // No key may say "token": redactSecrets would hide its value.
      diff: {
        before: null,
        after: {
          reason: summary.reason,
          count: summary.count,
          minute: summary.minute.toISOString(),
          firstAt: summary.firstAt.toISOString(),
          lastAt: summary.lastAt.toISOString(),
          lastRequestId: summary.lastRequestId.slice(0, 128),
          ...(prefix === '' ? {} : { prefix }),
          ...(summary.detail === null ? {} : { detail: summary.detail }),
        },
      },
    },
    now,
  );
}
