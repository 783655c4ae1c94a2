/** The chain of platform events (communities, platform tokens, authentication failures). */
export const PLATFORM_CHAIN = '';

/**
 * One audit log entry as stored: hash-chained to the previous entry of its
 * chain (the tenant id, or {@link PLATFORM_CHAIN}).
 */
export interface AuditEntry {
  chain: string;
  /** Position in the chain, from 1, without gaps. */
  seq: number;
  tenantId: string | null;
  /** `token`, `cli`, `system`, or `anonymous` for an authentication failure. */
  actorType: string;
  actorId: string;
  /** The event type (`user.created`, `auth.failed`, `audit.pruned`, …). */
  action: string;
  resourceType: string;
  resourceId: string;
  requestId: string;
  sourceAddress: string | null;
  /** `{ before, after }` with secrets redacted; null when the action has no values. */
  diff: Record<string, unknown> | null;
  createdAt: Date;
  /** The previous entry's hash; 64 zeros for the first entry. */
  prevHash: string;
  /** SHA-256 (hex) over the RFC 8785 canonical JSON of every other field. */
  hash: string;
}

/** What an auditor can filter on; every field narrows the result. */
export interface AuditQuery {
  /** Exact actor id, or `<type>:<id>` (`token:0194…`, `cli:alice`). */
  actor?: string | undefined;
  resourceType?: string | undefined;
  resourceId?: string | undefined;
  action?: string | undefined;
  /** Entries created at or after this instant. */
  since?: Date | undefined;
  /** Entries created before this instant. */
  until?: Date | undefined;
}

/**
 * A signed statement that a chain reached `seq` with `hash` at `createdAt`.
 * The signature is Ed25519 over the RFC 8785 canonical JSON of
 * `{chain, seq, hash, createdAt, keyId}` (createdAt as an ISO string).
 */
export interface AuditCheckpoint {
  chain: string;
  seq: number;
  hash: string;
  createdAt: Date;
  /** The first 16 hex digits of the SHA-256 of the signing key's public key (SPKI DER). */
  keyId: string;
  /** Base64 Ed25519 signature. */
  signature: string;
}

/**
 * Why a request could not be authenticated (the wire answer is always 401):
 * no token; not a bearer token; unknown, badly signed or otherwise invalid;
 * expired; revoked; or bound to a User who is suspended (`active: false`) or
 * gone.
 */
export type AuthenticationFailureReason =
  | 'missing_token'
  | 'malformed_token'
  | 'invalid_token'
  | 'expired_token'
  | 'revoked_token'
  | 'inactive_user';

/** Every authentication failure reason. */
export const AUTHENTICATION_FAILURE_REASONS: readonly AuthenticationFailureReason[] = [
  'missing_token',
  'malformed_token',
  'invalid_token',
  'expired_token',
  'revoked_token',
  'inactive_user',
];

/** What a refused credential was, when the hub could tell without trusting the caller: a stored API token, or a trusted issuer. */
export interface FailedCredential {
  type: 'Token' | 'Issuer';
  id: string;
}

/** An authentication failure, recorded as `auth.failed`. */
export interface AuthenticationFailure {
  sourceAddress: string | null | undefined;
  requestId: string;
  reason: AuthenticationFailureReason;
  /** The start of the presented token; at most its first 8 characters are kept, never the secret. */
  tokenPrefix?: string | undefined;
  /**
   * The tenant the credential provably belongs to (a revoked or expired API
   * token of the tenant, a JWT whose signature the tenant's issuer keys
   * verified): the failure is recorded in that tenant's chain. Otherwise, and
   * for anything the caller could have made up, in the platform chain.
   */
  tenantId?: string | null | undefined;
  /** The stored token or trusted issuer the credential belongs to, when known. */
  credential?: FailedCredential | undefined;
  /** The finer reason (`BAD_SIGNATURE`, `AUDIENCE_MISMATCH`, `UNKNOWN_TOKEN`, …), for auditors; never sent to the caller. */
  detail?: string | undefined;
}
