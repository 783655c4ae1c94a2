import type { ResourceKind } from '../scim/resource-types.js';
import type { RequestContext } from '../tenancy/model.js';
import type { DeadLetter, DeleteMode, LinkStatus, ReplicationTarget, TargetStatusCounts } from './replication.js';

// The replication engine's contract with the rest of the hub, declared once: the
// engine (`@meridian/replication`) implements these ports, `ReplicationService`
// authorizes callers in front of them, and the SCIM plugin waits through them.
// They take the tenant as already authorized: callers are the core service, the
// hub's CLI (which acts as the platform) and the SCIM plugin (for its own write).

/** A target as an admin describes it (CLI, GraphQL). */
export interface TargetInput {
  name: string;
  /** The connector kind: `scim`, `memory`, ... */
  kind: string;
  config?: Record<string, unknown>;
  /** Secret values (a bearer token, a password); stored sealed, never shown again. */
  secrets?: Record<string, string>;
  deleteMode?: DeleteMode;
  /** For `grace`: seconds between deactivation and deletion. */
  graceSeconds?: number | null;
  /** SCIM filters per kind (`{ User?: string | false, Group?: string | false }`); the connector SDK checks them. */
  scoping?: Record<string, unknown>;
  /** Attribute mapping per kind (JSONata rules); the connector SDK checks it. */
  mapping?: Record<string, unknown>;
  pushPasswords?: boolean;
  enabled?: boolean;
  paused?: boolean;
  rateLimit?: { max: number; durationMs: number } | null;
  concurrency?: number;
  maxAttempts?: number;
}

/** Changes to a target; `secrets` are merged, a null value removes one. */
export type TargetChanges = Partial<Omit<TargetInput, 'secrets'>> & { secrets?: Record<string, string | null> };

/** The result of testing a target's connection: a failure is a result, not an error. */
export interface TargetTestResult {
  ok: boolean;
  /** A summary safe to show an admin (never a secret). */
  message: string;
  latencyMs?: number;
}

/** Where one resource stands at one target (GraphQL `replicationStatus`, `meridian target status`). */
export interface ResourceReplicationStatus {
  targetId: string;
  target: string;
  status: LinkStatus;
  remoteId: string | null;
  /** The highest hub version queued, and the highest delivered (or decided about). */
  wantedVersion: number;
  handledVersion: number;
  pushedVersion: number | null;
  attempts: number;
  lastError: string | null;
  graceUntil: Date | null;
  updatedAt: Date;
}

/**
 * How one object differs between the hub and the target:
 * - `missing`: the hub has it in scope, the target does not;
 * - `changed`: both have it, attributes or members differ;
 * - `unlinked`: the target has a matching object the hub never linked (adopt it);
 * - `stale`: the target still holds (an active) object the hub deleted or scoped out;
 * - `orphan`: the target has an object that matches nothing in the hub (reported only).
 */
export type DriftKind = 'missing' | 'changed' | 'unlinked' | 'stale' | 'orphan';

/** What fixing a drift does at the target. */
export type DriftAction = 'create' | 'update' | 'adopt' | 'delete' | 'deactivate' | 'none';

/** One object that differs, and what reconciling does (or did) about it. */
export interface DriftItem {
  kind: ResourceKind;
  localId: string | null;
  remoteId: string | null;
  /** userName or displayName, for people reading the report. */
  name: string | null;
  drift: DriftKind;
  /** Attribute paths that differ (for `changed`). */
  differences: string[];
  action: DriftAction;
  /** Set when not a dry run: whether the fix went through. */
  applied?: boolean;
  error?: string;
}

/** The report of one reconciliation. */
export interface ReconcileReport {
  targetId: string;
  target: string;
  dryRun: boolean;
  /** Objects looked at on each side. */
  hubObjects: number;
  remoteObjects: number;
  inSync: number;
  items: DriftItem[];
  fixed: number;
  failed: number;
}

/**
 * What a migration did (or, in a dry run, would do) with one object the old
 * target holds:
 * - `created`: the new target had no such object; it was created;
 * - `adopted`: the new target had one with the same `externalId` or name; it was linked and brought in line;
 * - `updated`: it was linked at the new target already, with attributes or members that differed;
 * - `unchanged`: linked at the new target already and the same;
 * - `skipped`: not moved (`reason` says why: the hub no longer holds it, or the new target's scope keeps it away);
 * - `failed`: the new target refused it (`reason`).
 */
export type MigrationOutcome = 'created' | 'adopted' | 'updated' | 'unchanged' | 'skipped' | 'failed';

/** One object of a migration, for the per-object report. */
export interface MigrationItem {
  kind: ResourceKind;
  localId: string;
  /** userName or displayName, for people reading the report. */
  name: string | null;
  /** The `externalId` the hub sends for it (its id, under the identity mapping). */
  externalId: string | null;
  /** The object at the old and at the new target. */
  fromRemoteId: string | null;
  toRemoteId: string | null;
  outcome: MigrationOutcome;
  /** Attribute paths that differed (`updated`). */
  differences: string[];
  reason?: string;
}

/** The report of `meridian target migrate` (GraphQL `migrateReplicationTarget`). */
export interface MigrationReport {
  dryRun: boolean;
  from: { id: string; name: string };
  to: { id: string; name: string };
  /** When the old target stops receiving changes; null when no retirement was asked. */
  retireAt: Date | null;
  /** Settings of the two targets that differ (`mapping`, `scoping`, `deleteMode`, `pushPasswords`): the representation may then differ too. */
  settingsDiffer: string[];
  /** How many objects had each outcome. */
  counts: Record<MigrationOutcome, number>;
  items: MigrationItem[];
}

/** What to migrate: from one target of the tenant to another (ids or names), and when to retire the old one. */
export interface MigrationOptions {
  from: string;
  to: string;
  /** Null or absent: the old target keeps receiving changes until it is paused, deleted or retired later. */
  retireAt?: Date | null;
  dryRun: boolean;
  onProgress?: (step: { phase: 'listing' | 'comparing' | 'migrating'; kind?: ResourceKind; done: number; total?: number }) => void;
}

/** Which dead letters to list: of one target (id or name), replayed ones too, at most `limit` (1-1000, default 100). */
export interface DeadLetterQuery {
  target?: string;
  includeReplayed?: boolean;
  limit?: number;
}

/** The targets of a tenant: create (config checked by the connector, secrets sealed), change, pause, resume, test, delete. */
export interface ReplicationTargets {
  list(tenantId: string): Promise<ReplicationTarget[]>;
  /** A target by id or name; `NOT_FOUND` otherwise. */
  get(tenantId: string, idOrName: string): Promise<ReplicationTarget>;
  create(tenantId: string, input: TargetInput, context: RequestContext): Promise<ReplicationTarget>;
  update(tenantId: string, idOrName: string, changes: TargetChanges, context: RequestContext): Promise<ReplicationTarget>;
  delete(tenantId: string, idOrName: string, context: RequestContext): Promise<void>;
  pause(tenantId: string, idOrName: string, context: RequestContext): Promise<ReplicationTarget>;
  resume(tenantId: string, idOrName: string, context: RequestContext): Promise<ReplicationTarget>;
  test(tenantId: string, idOrName: string): Promise<TargetTestResult>;
}

/** The replication engine's admin surface, per tenant: targets, status, dead letters, replay, reconciliation, wait policy. */
export interface ReplicationAdmin {
  readonly targets: ReplicationTargets;
  /** Per target of the tenant: how many resources are pending, delivered, failing, dead-lettered, out of scope. */
  statusCounts(tenantId: string): Promise<TargetStatusCounts[]>;
  /** Where one resource stands at each target of its tenant. */
  resourceStatus(tenantId: string, kind: ResourceKind, resourceId: string): Promise<ResourceReplicationStatus[]>;
  /** Dead letters of the tenant, newest first. */
  deadLetters(tenantId: string, query?: DeadLetterQuery): Promise<DeadLetter[]>;
  /** Queues the resource's current state for its target again; `NOT_FOUND`, or `CONFLICT` when replayed already. */
  replay(tenantId: string, deadLetterId: string, context: RequestContext): Promise<DeadLetter>;
  /**
   * Compares the hub with a target and, unless `dryRun`, fixes what differs. `onProgress` is told, as it goes, the
   * phase (listing the target's objects, comparing the hub's, fixing), the kind, and how many are done of how many.
   */
  reconcile(
    tenantId: string,
    target: string,
    options: {
      dryRun: boolean;
      onProgress?: (step: { phase: 'listing' | 'comparing' | 'fixing'; kind?: ResourceKind; done: number; total?: number }) => void;
    },
  ): Promise<ReconcileReport>;
  /**
   * Brings target `to` to the state target `from` holds (every User and Group linked there is created or adopted,
   * with the hub's `externalId` and memberships) and, unless `dryRun`, schedules `from`'s retirement at `retireAt`.
   */
  migrate(tenantId: string, options: MigrationOptions, context: RequestContext): Promise<MigrationReport>;
  /** Drops a target's scheduled retirement; `CONFLICT` when none is scheduled or it is already due. */
  cancelRetirement(tenantId: string, target: string, context: RequestContext): Promise<ReplicationTarget>;
  /** Seconds a SCIM write of the tenant waits for its deliveries when the client sends no `Prefer: wait`. */
  waitPolicy(tenantId: string): Promise<number>;
  setWaitPolicy(tenantId: string, seconds: number, context: RequestContext): Promise<number>;
}

/** Where one change of a request stands at one target. */
export interface DeliveryOutcome {
  targetId: string;
  target: string;
  kind: ResourceKind;
  resourceId: string;
  /** The hub version the request wrote. */
  version: number;
  /** `pending` until a finished job covered `version`; then the link's status. */
  status: LinkStatus;
  remoteId: string | null;
  error: string | null;
}

/** The per-target outcome of one request's changes. */
export interface ReplicationOutcome {
  /** True when every target reached a final status within the wait. */
  complete: boolean;
  waitedMs: number;
  outcomes: DeliveryOutcome[];
}

/**
 * Waiting, bounded, for the deliveries of what one request changed (use case
 * 2.3.1, `Prefer: wait`): the SCIM plugin asks after its own write, in the
 * tenant of the principal that made it.
 */
export interface DeliveryWaiting {
  /** Waits up to `timeoutMs` for the deliveries of what request `requestId` changed in the tenant. */
  waitFor(tenantId: string, requestId: string, timeoutMs: number): Promise<ReplicationOutcome>;
  /** The tenant's policy: seconds to wait when the client sends no `Prefer: wait` (0: answer at once). */
  waitPolicy(tenantId: string): Promise<number>;
}
