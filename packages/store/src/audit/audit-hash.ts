import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';

// What an audit entry's hash covers, how it is computed, and the redaction of
// secrets from its diff: shared by the appender (append-audit-entry.ts) and
// the verifier (verify-audit-chain.ts). It imports nothing of the store.

/** The hash that starts every audit chain. */
export const GENESIS_HASH = '0'.repeat(64);

/** The fields of an audit entry covered by its hash. */
export interface AuditHashInput {
  chain: string;
  seq: number;
  tenantId: string | null;
  actorType: string;
  actorId: string;
  action: string;
  resourceType: string;
  resourceId: string;
  requestId: string;
  sourceAddress: string | null;
  diff: unknown;
  createdAt: string;
  prevHash: string;
}

/** SHA-256 over the canonical JSON (RFC 8785) of an audit entry, chained to its predecessor. */
export function hashAuditEntry(entry: AuditHashInput): string {
  return createHash('sha256')
    .update(canonicalize(entry) ?? '')
    .digest('hex');
}

/** An audit entry before it is chained: what it covers but its `seq` and `prevHash`. */
export type UnchainedAuditEntry = Omit<AuditHashInput, 'seq' | 'prevHash'>;

// Stand-ins for the two values only the database knows when the entry is appended. Both are scalars whose canonical
// JSON is their text; their last occurrence is the entry's own, since what follows each of them in RFC 8785 key order
// (requestId, resourceId, resourceType; sourceAddress, tenantId) are strings, in which a quote is always escaped.
const PREV_HASH_STAND_IN = `${'f'.repeat(63)}e`;
const SEQ_STAND_IN = Number.MAX_SAFE_INTEGER;

/**
 * The canonical JSON of an entry in three parts, around its `prevHash` and its `seq`:
 * `hashAuditEntry(entry)` is SHA-256 over `part1 + prevHash + part2 + seq + part3`, which the
 * database computes when it appends the entry (`meridian_append_audit`, ADR 0023).
 */
export function canonicalParts(entry: UnchainedAuditEntry): [string, string, string] {
  const text = canonicalize({ ...entry, seq: SEQ_STAND_IN, prevHash: PREV_HASH_STAND_IN }) ?? '';
  const prev = `"prevHash":"${PREV_HASH_STAND_IN}"`;
  const seq = `"seq":${SEQ_STAND_IN}`;
  const p = text.lastIndexOf(prev);
  const q = text.lastIndexOf(seq);
  if (p < 0 || q < p) throw new TypeError('The canonical audit entry is not in RFC 8785 key order.');
  const prevAt = p + '"prevHash":"'.length;
  const seqAt = q + '"seq":'.length;
  return [text.slice(0, prevAt), text.slice(prevAt + PREV_HASH_STAND_IN.length, seqAt), text.slice(seqAt + String(SEQ_STAND_IN).length)];
}

const SECRET_KEYS = /password|secret|token|credential/i;

/** Removes anything that looks like a secret from an audit diff. */
export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key] = SECRET_KEYS.test(key) ? '[REDACTED]' : redactSecrets(inner);
  }
  return out;
}
