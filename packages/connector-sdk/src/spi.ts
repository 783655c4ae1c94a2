import type { Clock, ResourceKind } from '@meridian/core';

/** A JSON object as connectors send and receive it. */
export type JsonObject = { [key: string]: unknown };

/**
 * What a connector can do. The replication engine reads these before it calls
 * an optional method; a `false` capability is never exercised.
 */
export interface ConnectorCapabilities {
  /** Resource kinds the target accepts; changes of other kinds are skipped. */
  kinds: readonly ResourceKind[];
  /** `deactivate` is meaningful (users get `active: false`); otherwise deactivation falls back to delete. */
  deactivate: boolean;
  /** `setPassword` is implemented and the target accepts clear passwords. */
  password: boolean;
  /** `updateMembers` applies membership deltas; otherwise a group update carries the whole member list. */
  membershipDeltas: boolean;
  /** `match` can find an existing remote object for a first push (adoption). */
  match: boolean;
  /**
   * The kinds whose `create` answers `CONFLICT` whenever an object it would duplicate exists (a SCIM User with
   * the same `userName`, RFC 7644 §3.3). A first push of such a kind creates without looking first and calls
   * `match` only on `CONFLICT`, saving a round trip (ADR 0035); a reconcile, and a retry after a create that may
   * have happened, still look first. Omitted: none.
   */
  createConflicts?: readonly ResourceKind[];
  /** `list` reads every remote object of a kind, for reconciliation. */
  list: boolean;
  /**
   * `transferOwnership` hands what one remote user owns (files, records) to
   * another (draft-ietf-scim-use-cases §3.1, a leaver's successor). Omitted: false.
   */
  transferOwnership?: boolean;
}

/** What a target reports after {@link Connector.transferOwnership}. */
export interface OwnershipTransferResult {
  /** Objects handed over by this call; a repeated transfer reports 0. */
  transferred: number;
}

/** The address of an object at the target. */
export interface RemoteRef {
  kind: ResourceKind;
  /** The id the target gave the object (SCIM `id`, LDAP DN, ...). */
  remoteId: string;
  /** The target's version of the object (an ETag), when it has one. */
  version?: string | undefined;
}

/** A member of an outbound group, already translated to the target's id. */
export interface OutboundMember {
  kind: ResourceKind;
  /** The member's id in the hub. */
  localId: string;
  /** The member's id at this target. */
  remoteId: string;
  display?: string | undefined;
}

/**
 * The state a connector is asked to bring to the target: the hub's CURRENT
 * state of one resource after attribute mapping. State-based, never a diff:
 * pushing the same object twice has the effect of pushing it once.
 */
export interface OutboundObject {
  kind: ResourceKind;
  /** The resource id in the hub. */
  localId: string;
  /** The hub's resource version this object was built from. */
  version: number;
  /**
   * Mapped attributes in SCIM shape (core at top level, extensions under their
   * URN, `schemas` included); never `id`, `meta`, `members`, `groups` or `password`.
   */
  attributes: JsonObject;
  /** Members of a group whose members exist at the target; empty for users. */
  members: OutboundMember[];
  /**
   * True when the engine did not load the group's members because it pushes
   * them as a delta through `updateMembers` (`capabilities.membershipDeltas`,
   * ADR 0024): `members` is empty and an update must keep the target's.
   */
  membersOmitted?: boolean;
}

/** An object as read back from the target (for matching and reconciliation). */
export interface RemoteObject {
  ref: RemoteRef;
  /** Attributes in SCIM shape, as the target returned them (no `id`/`meta` needed). */
  attributes: JsonObject;
  /** Remote ids of a group's members; empty for users or when unknown. */
  members: string[];
}

/** Members to add to and remove from a remote group, by remote id. */
export interface MembershipDelta {
  add: OutboundMember[];
  remove: string[];
}

/** Outcome of {@link Connector.testConnection}. */
export interface ConnectionTestResult {
  ok: boolean;
  /** A human-readable summary, safe to show an admin (never a secret). */
  message: string;
  /** Round trip in milliseconds, when measured. */
  latencyMs?: number;
}

/** How a failure should be treated by the engine. */
export type ConnectorErrorKind = 'transient' | 'permanent' | 'rate_limited';

/**
 * Refinement of a failure the engine acts on:
 * - `NOT_FOUND`: the remote object is gone (update/deactivate of it); the engine re-creates or forgets the link.
 * - `CONFLICT`: a create collided with an existing object; the engine tries `match` and adopts it.
 * - `UNAUTHORIZED`: credentials rejected (permanent; the admin must fix the target's secrets).
 * - `UNSUPPORTED`: the target cannot do this (permanent).
 * - `OUTBOUND_REFUSED`: the hub's outbound request policy refused the destination; nothing was sent (permanent).
 */
export type ConnectorErrorCode = 'NOT_FOUND' | 'CONFLICT' | 'UNAUTHORIZED' | 'UNSUPPORTED' | 'OUTBOUND_REFUSED';

/** The request that failed, as recorded in the dead-letter list; never carries secrets. */
export interface ConnectorRequestRecord {
  method: string;
  url: string;
  /** Request headers with credentials removed. */
  headers?: Record<string, string>;
  body?: unknown;
}

/** The target's response to a failed request. */
export interface ConnectorResponseRecord {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

/** Options of a {@link ConnectorError}. */
export interface ConnectorErrorOptions {
  code?: ConnectorErrorCode;
  /** The target's status code (HTTP status, LDAP result code, ...). */
  status?: number;
  /** The target asked to wait this long before the next attempt (`Retry-After`). */
  retryAfterMs?: number;
  request?: ConnectorRequestRecord;
  response?: ConnectorResponseRecord;
  cause?: unknown;
}

/**
 * The one error a connector throws. `kind` tells the engine what to do:
 * `transient` retries with backoff and jitter (and counts toward the target's
 * circuit breaker), `rate_limited` retries after `retryAfterMs` (without
 * counting as a failure), `permanent` goes to the dead-letter list.
 */
export class ConnectorError extends Error {
  override readonly name = 'ConnectorError';
  readonly kind: ConnectorErrorKind;
  readonly code: ConnectorErrorCode | undefined;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly request: ConnectorRequestRecord | undefined;
  readonly response: ConnectorResponseRecord | undefined;

  constructor(kind: ConnectorErrorKind, message: string, options: ConnectorErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.code = options.code;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
    this.request = options.request;
    this.response = options.response;
  }
}

/** True when `error` is a {@link ConnectorError} (also across package copies). */
export function isConnectorError(error: unknown): error is ConnectorError {
  return error instanceof ConnectorError || (error instanceof Error && error.name === 'ConnectorError' && 'kind' in error);
}

/**
 * Classifies an HTTP status the way the engine expects: 408 and 5xx are
 * transient, 429 and 503 with `Retry-After` rate-limited, other 4xx permanent.
 *
 * @example
 * classifyHttpStatus(429) // 'rate_limited'
 */
export function classifyHttpStatus(status: number, hasRetryAfter = false): ConnectorErrorKind {
  if (status === 429) return 'rate_limited';
  if (status === 503 && hasRetryAfter) return 'rate_limited';
  if (status === 408 || status >= 500) return 'transient';
  return 'permanent';
}

/** Minimal structured logger handed to connectors; never log secrets. */
export interface ConnectorLogger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** What the hub hands a connector; connectors never import the hub. */
export interface ConnectorContext {
  logger: ConnectorLogger;
  clock: Clock;
  /**
   * The HTTP client to use: the hub hands out its outbound `fetch`, which
   * enforces the outbound request policy at connect time and follows no
   * redirects. A refused destination rejects with an error whose `cause`
   * chain holds an `OutboundRefusedError` (core's `findOutboundRefusal`); treat
   * it as permanent. Never open sockets of your own: they would bypass the policy.
   */
  fetch: typeof globalThis.fetch;
  /** Aborted when the hub shuts down or the job's time is up. */
  signal?: AbortSignal | undefined;
}

/** Secret values of a target (tokens, passwords), decrypted only in memory. */
export type ConnectorSecrets = Readonly<Record<string, string>>;

/**
 * One live connection to one target. Every write is idempotent in effect:
 * the engine may call a method again after a crash or a timeout.
 */
export interface Connector {
  readonly capabilities: ConnectorCapabilities;
  /** Checks reachability and credentials without changing anything. */
  testConnection(): Promise<ConnectionTestResult>;
  /**
   * Finds an existing remote object that stands for `object` (by userName,
   * externalId or displayName), so a first push adopts it instead of
   * creating a duplicate. Required when `capabilities.match`.
   */
  match?(object: OutboundObject): Promise<RemoteObject | undefined>;
  /** Creates the object; throws `CONFLICT` when it already exists. */
  create(object: OutboundObject): Promise<RemoteRef>;
  /**
   * Replaces the remote object's attributes with `object`'s (and its members
   * unless `membershipDeltas`); `NOT_FOUND` when gone. `previous`, when
   * given, is what the engine last pushed to this object successfully: a
   * connector may send only the difference instead of reading the object
   * first (drift at the target is then left to reconciliation).
   */
  update(ref: RemoteRef, object: OutboundObject, previous?: OutboundObject): Promise<RemoteRef>;
  /** Sets `active: false` on a remote user. Required when `capabilities.deactivate`. */
  deactivate?(ref: RemoteRef): Promise<void>;
  /** Deletes the remote object; deleting an object that is already gone succeeds. */
  delete(ref: RemoteRef): Promise<void>;
  /** Sets a user's password. Required when `capabilities.password`; the value is never logged. */
  setPassword?(ref: RemoteRef, password: string): Promise<void>;
  /** Adds and removes group members. Required when `capabilities.membershipDeltas`. */
  updateMembers?(ref: RemoteRef, delta: MembershipDelta): Promise<void>;
  /** Reads one remote object; undefined when it does not exist. */
  get(ref: RemoteRef): Promise<RemoteObject | undefined>;
  /**
   * Makes `to` the owner of everything `from` owns at the target. Idempotent in
   * effect: a repeat hands over nothing more. `NOT_FOUND` when either user is
   * gone. Required when `capabilities.transferOwnership`.
   */
  transferOwnership?(from: RemoteRef, to: RemoteRef): Promise<OwnershipTransferResult>;
  /** Reads every remote object of a kind, for reconciliation. Required when `capabilities.list`. */
  list?(kind: ResourceKind): AsyncIterable<RemoteObject>;
  /** Releases sockets and timers. */
  close?(): Promise<void>;
}

/** A URL a connector's config makes it send requests to. */
export interface ConnectorDestination {
  /** The config field that holds it, as errors name it (`config.baseUrl`). */
  field: string;
  /** The absolute URL (its origin is what secrets are bound to). */
  url: string;
}

/**
 * Makes connectors of one kind. The hub registers one factory per kind
 * (`scim`, `memory`, ...) and keeps each target's `config` (plain JSON) and
 * `secrets` (encrypted at rest) apart.
 */
export interface ConnectorFactory<Config = JsonObject> {
  /** The kind targets name in `--kind` (lowercase, no spaces). */
  readonly kind: string;
  /** One line for admins. */
  readonly description: string;
  /** Names of the secrets this kind takes (`token`, `password`, ...). */
  readonly secretNames: readonly string[];
  /**
   * Checks and normalises a target's config and secrets; throws a
   * `MeridianError` with code `INVALID_CONFIG` naming the field otherwise.
   */
  validateConfig(config: unknown, secrets: ConnectorSecrets): Config;
  /**
   * The URLs a connector of this config sends requests to, with the config
   * field that holds each (`config.baseUrl`). The hub checks them against its
   * outbound request policy when a target or export is created or changed,
   * and binds the stored secrets to their origins: a changed origin drops
   * them unless new ones come with the change. Omitted: the kind makes no
   * network requests of its own.
   */
  destinations?(config: Config): readonly ConnectorDestination[];
  /**
   * Whether a connector of this config accepts clear passwords
   * (`capabilities.password`). A target may only be set to push passwords when
   * this answers true; omitted means it never does.
   */
  acceptsPasswords?(config: Config): boolean;
  /** A connector for one target; cheap, called per worker process. */
  create(config: Config, secrets: ConnectorSecrets, context: ConnectorContext): Connector;
}
