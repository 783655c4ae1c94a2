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
