import type {
  CircuitState,
  DeadLetter,
  LinkStatus,
  ReplicationLink,
  ReplicationTarget,
  ReplicationTargetWrite,
  ResourceKind,
} from '@meridian/core';

/** Replication's rows as PostgreSQL returns them, their column lists, and their core types. */

/** A resource, target or dead-letter id; anything else names nothing and is not sent to a uuid column. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface TargetRow {
  id: string;
  tenant_id: string;
  name: string;
  kind: string;
  config: Record<string, unknown>;
  secret_names: string[] | null;
  delete_mode: ReplicationTarget['deleteMode'];
  grace_seconds: number | null;
  scoping: Record<string, unknown>;
  mapping: Record<string, unknown>;
  push_passwords: boolean;
  enabled: boolean;
  paused: boolean;
  rate_limit_max: number | null;
  rate_limit_duration_ms: number | null;
  concurrency: number;
  max_attempts: number;
  circuit_state: CircuitState;
  consecutive_failures: number;
  circuit_opened_at: Date | string | null;
  created_at: Date | string;
  updated_at: Date | string;
  jit?: boolean;
  retire_at?: Date | string | null;
  retired_at?: Date | string | null;
  successor_id?: string | null;
}

export interface LinkRow {
  target_id: string;
  tenant_id: string;
  resource_kind: ResourceKind;
  local_id: string;
  remote_id: string | null;
  status: LinkStatus;
  wanted_version: number;
  handled_version: number;
  pushed_version: number | null;
  pushed_hash: string | null;
  pushed_attributes: Record<string, unknown> | null;
  attempts: number;
  last_error: string | null;
  grace_until: Date | string | null;
  request_id?: string | null;
  updated_at: Date | string;
}

export interface DeadLetterRow {
  id: string;
  tenant_id: string;
  target_id: string;
  resource_kind: ResourceKind;
  local_id: string;
  resource_version: number | null;
  operation: string;
  reason: string;
  error_code: string | null;
  request: unknown;
  response: unknown;
  created_at: Date | string;
  replayed_at: Date | string | null;
  request_id?: string | null;
}

export const TARGET_COLUMNS = `id, tenant_id, name, kind, config, delete_mode, grace_seconds, scoping, mapping, push_passwords, enabled, paused,
  rate_limit_max, rate_limit_duration_ms, concurrency, max_attempts, circuit_state, consecutive_failures, circuit_opened_at,
  created_at, updated_at, jit, retire_at, retired_at, successor_id,
  coalesce((select array_agg(value) from jsonb_array_elements_text(config -> '$secrets') value), '{}') as secret_names`;

function date(value: Date | string): Date {
  return value instanceof Date ? value : new Date(value);
}

function maybeDate(value: Date | string | null): Date | null {
  return value === null ? null : date(value);
}

function json<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

export function toTarget(row: TargetRow): ReplicationTarget {
  const config = { ...json<Record<string, unknown>>(row.config) };
  delete config.$secrets;
  return {
    id: row.id,
    tenantId: row.tenant_id,
    name: row.name,
    kind: row.kind,
    config,
    secretNames: row.secret_names ?? [],
    deleteMode: row.delete_mode,
    graceSeconds: row.grace_seconds,
    scoping: json(row.scoping),
    mapping: json(row.mapping),
    pushPasswords: row.push_passwords,
    enabled: row.enabled,
    paused: row.paused,
    rateLimit:
      row.rate_limit_max !== null && row.rate_limit_duration_ms !== null
        ? { max: row.rate_limit_max, durationMs: row.rate_limit_duration_ms }
        : null,
    concurrency: row.concurrency,
    maxAttempts: row.max_attempts,
    circuitState: row.circuit_state,
    consecutiveFailures: row.consecutive_failures,
    circuitOpenedAt: maybeDate(row.circuit_opened_at),
    createdAt: date(row.created_at),
    updatedAt: date(row.updated_at),
    // Only a JIT target says so (ADR 0030): other targets read as before.
    ...(row.jit === true ? { jit: true } : {}),
    // Only a target a migration retires (or retired) says so (docs/migration.md).
    ...(row.retire_at
      ? { retirement: { at: date(row.retire_at), retiredAt: maybeDate(row.retired_at ?? null), successorId: row.successor_id ?? null } }
      : {}),
  };
}

export function toLink(row: LinkRow): ReplicationLink {
  return {
    targetId: row.target_id,
    tenantId: row.tenant_id,
    kind: row.resource_kind,
    localId: row.local_id,
    remoteId: row.remote_id,
    status: row.status,
    wantedVersion: Number(row.wanted_version),
    handledVersion: Number(row.handled_version),
    pushedVersion: row.pushed_version === null ? null : Number(row.pushed_version),
    pushedHash: row.pushed_hash,
    pushedAttributes: row.pushed_attributes === null ? null : json(row.pushed_attributes),
    attempts: row.attempts,
    lastError: row.last_error,
    graceUntil: maybeDate(row.grace_until),
    requestId: row.request_id ?? null,
    updatedAt: date(row.updated_at),
  };
}

export function toDeadLetter(row: DeadLetterRow): DeadLetter {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    targetId: row.target_id,
    kind: row.resource_kind,
    localId: row.local_id,
    resourceVersion: row.resource_version === null ? null : Number(row.resource_version),
    operation: row.operation,
    reason: row.reason,
    errorCode: row.error_code,
    request: row.request === null ? null : json(row.request),
    response: row.response === null ? null : json(row.response),
    requestId: row.request_id ?? null,
    createdAt: date(row.created_at),
    replayedAt: maybeDate(row.replayed_at),
  };
}

/** The config column keeps the names of the target's secrets under `$secrets` (never their values). */
export function configColumn(values: ReplicationTargetWrite): string {
  return JSON.stringify({ ...values.config, $secrets: values.secretNames });
}

/** Audit view of a target: what changed, secrets never (only their names). */
export function targetAudit(target: ReplicationTarget): Record<string, unknown> {
  return {
    name: target.name,
    kind: target.kind,
    config: target.config,
    secretNames: target.secretNames,
    deleteMode: target.deleteMode,
    graceSeconds: target.graceSeconds,
    scoping: target.scoping,
    mapping: target.mapping,
    pushPasswords: target.pushPasswords,
    enabled: target.enabled,
    paused: target.paused,
    rateLimit: target.rateLimit,
    concurrency: target.concurrency,
  };
}
