import {
  AUTHENTICATION_FAILURE_REASONS,
  type AuthenticationFailure,
  type AuthenticationFailureReason,
  type FailedCredential,
} from './audit-entry.js';

/** How much of a presented token an `auth.failed` entry keeps: enough to recognise a token family, never enough to use. */
export const AUTH_FAILURE_PREFIX_LENGTH = 8;

const MINUTE_MS = 60_000;

/**
 * The part of a presented token an audit entry may keep: at most its first 8
 * characters (for `mrd_` tokens, 4 characters of a 256-bit secret), and only
 * characters a bearer token may contain (RFC 6750 §2.1).
 */
export function authFailurePrefix(token: string | undefined): string {
  return (token ?? '').slice(0, AUTH_FAILURE_PREFIX_LENGTH).replace(/[^A-Za-z0-9._~+/=-]/g, '');
}

/** A client address as recorded: at most 64 characters; null when unknown. */
export function authFailureAddress(address: string | null | undefined): string | null {
  return address ? address.slice(0, 64) : null;
}

/**
 * The authentication failures of one minute that share a chain, source
 * address, token prefix, reason, detail and credential, counted: what one
 * `auth.failed` entry records. A flood of bad tokens becomes one entry per
 * minute and per distinct (address, prefix, reason), not one per request.
 */
export interface AuthenticationFailureSummary {
  /** The tenant whose chain gets the entry; null for the platform chain. */
  tenantId: string | null;
  sourceAddress: string | null;
  /** At most {@link AUTH_FAILURE_PREFIX_LENGTH} characters; '' when no token was presented (or the summary is an overflow). */
  tokenPrefix: string;
  reason: AuthenticationFailureReason;
  detail: string | null;
  credential: FailedCredential | null;
  /** The start of the minute the failures happened in. */
  minute: Date;
  count: number;
  firstAt: Date;
  lastAt: Date;
  firstRequestId: string;
  lastRequestId: string;
}

/** What an aggregator holds at most before it folds new keys into one overflow summary per (chain, minute, reason). */
export const DEFAULT_MAX_PENDING_SUMMARIES = 10_000;

/** The `detail` of an overflow summary: failures of many addresses or prefixes, counted together. */
export const OVERFLOW_DETAIL = 'OVERFLOW';

const minuteOf = (at: Date) => new Date(Math.floor(at.getTime() / MINUTE_MS) * MINUTE_MS);

/**
 * Counts authentication failures per minute and per (chain, address, prefix,
 * reason, detail, credential), in memory, until they are drained into audit
 * entries. Pure: the caller supplies the time and decides when to drain.
 *
 * Bounded: past `maxKeys` distinct summaries, a failure with a new key is
 * counted in an overflow summary of its chain, minute and reason (no address,
 * no prefix, detail {@link OVERFLOW_DETAIL}), so that nothing is lost and
 * memory stays flat under a flood from many addresses.
 */
export class AuthenticationFailureAggregator {
  private pending = new Map<string, AuthenticationFailureSummary>();

  constructor(private readonly maxKeys = DEFAULT_MAX_PENDING_SUMMARIES) {}

  /** How many summaries are waiting. */
  get size(): number {
    return this.pending.size;
  }

  /** Counts one failure at `at`. */
  add(failure: AuthenticationFailure, at: Date): void {
    if (!AUTHENTICATION_FAILURE_REASONS.includes(failure.reason)) {
      throw new TypeError(`Unknown authentication failure reason '${String(failure.reason)}'.`);
    }
    const requestId = failure.requestId.slice(0, 128);
    let summary: AuthenticationFailureSummary = {
      tenantId: failure.tenantId ?? null,
      sourceAddress: authFailureAddress(failure.sourceAddress),
      tokenPrefix: authFailurePrefix(failure.tokenPrefix),
      reason: failure.reason,
      detail: failure.detail === undefined ? null : failure.detail.slice(0, 64),
      credential: failure.credential ?? null,
      minute: minuteOf(at),
      count: 1,
      firstAt: at,
      lastAt: at,
      firstRequestId: requestId,
      lastRequestId: requestId,
    };
    let key = keyOf(summary);
    if (!this.pending.has(key) && this.pending.size >= this.maxKeys) {
      summary = { ...summary, sourceAddress: null, tokenPrefix: '', detail: OVERFLOW_DETAIL, credential: null };
      key = keyOf(summary);
    }
    this.merge(key, summary);
  }

  /**
   * Takes the summaries out, oldest minute first: those of minutes that ended
   * at or before `before` (the minute in progress stays to be counted on), or
   * every one when `before` is omitted.
   */
  drain(before?: Date): AuthenticationFailureSummary[] {
    const taken: AuthenticationFailureSummary[] = [];
    for (const [key, summary] of this.pending) {
      if (before !== undefined && summary.minute.getTime() + MINUTE_MS > before.getTime()) continue;
      taken.push(summary);
      this.pending.delete(key);
    }
    return taken.sort((a, b) => a.minute.getTime() - b.minute.getTime() || a.firstAt.getTime() - b.firstAt.getTime());
  }

  /** Puts drained summaries back (their write failed), adding to what was counted since. */
  restore(summaries: readonly AuthenticationFailureSummary[]): void {
    for (const summary of summaries) this.merge(keyOf(summary), summary);
  }

  private merge(key: string, summary: AuthenticationFailureSummary): void {
    const current = this.pending.get(key);
    if (!current) {
      this.pending.set(key, { ...summary });
      return;
    }
    current.count += summary.count;
    if (summary.firstAt < current.firstAt) {
      current.firstAt = summary.firstAt;
      current.firstRequestId = summary.firstRequestId;
    }
    if (summary.lastAt >= current.lastAt) {
      current.lastAt = summary.lastAt;
      current.lastRequestId = summary.lastRequestId;
    }
  }
}

function keyOf(s: AuthenticationFailureSummary): string {
  return JSON.stringify([
    s.tenantId,
    s.minute.getTime(),
    s.sourceAddress,
    s.tokenPrefix,
    s.reason,
    s.detail,
    s.credential?.type ?? null,
    s.credential?.id ?? null,
  ]);
}
