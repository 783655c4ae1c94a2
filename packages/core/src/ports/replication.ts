import { MeridianError } from '../errors/meridian-error.js';
import type { DomainEvent } from '../events/domain-event.js';
import type { ScimResource } from '../scim/resource.js';
import type { ResourceKind } from '../scim/resource-types.js';
import type { RequestContext } from '../tenancy/model.js';
import type { DirectoryTransaction } from './directory.js';

/** What a target does when a resource is deleted in the hub or leaves its scope. */
export type DeleteMode = 'delete' | 'deactivate' | 'grace';

/** State of a target's circuit breaker: `open` pauses it, `half_open` lets one job through to probe. */
export type CircuitState = 'closed' | 'open' | 'half_open';

/**
 * Where one hub resource stands at one target:
 * - `pending`: a change is queued; `retrying`: the last attempt failed and will be retried;
 * - `synced`: the target holds the hub's state; `out_of_scope`: the scoping filter keeps it away;
 * - `deactivated`, `grace` (deactivated, deletion scheduled), `deleted`: the delete mode was applied;
 * - `dead_lettered`: a permanent failure an admin must look at (and may replay).
 */
export type LinkStatus = 'pending' | 'synced' | 'deactivated' | 'grace' | 'deleted' | 'out_of_scope' | 'retrying' | 'dead_lettered';

/** Every link status, for docs and GraphQL enums. */
export const LINK_STATUSES: readonly LinkStatus[] = [
  'pending',
  'synced',
  'deactivated',
  'grace',
  'deleted',
  'out_of_scope',
  'retrying',
  'dead_lettered',
];

/**
 * The longest a SCIM write waits for its deliveries, in seconds: the most a
 * tenant's wait policy may be set to, and the most a `Prefer: wait=N` is
 * honoured for (docs/replication.md, "Waiting for the downstream result").
 */
export const MAX_REPLICATION_WAIT_SECONDS = 30;

/** Checks a wait policy: a whole number of seconds from 0 to {@link MAX_REPLICATION_WAIT_SECONDS}; `INVALID_INPUT` naming `waitSeconds` otherwise. */
export function checkWaitSeconds(seconds: unknown): number {
  if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 0 || seconds > MAX_REPLICATION_WAIT_SECONDS) {
    throw new MeridianError(
      'INVALID_INPUT',
      `The wait policy is a whole number of seconds from 0 to ${MAX_REPLICATION_WAIT_SECONDS} (the longest a write waits for its deliveries).`,
      { field: 'waitSeconds' },
    );
  }
  return seconds;
}

/** A downstream system a tenant replicates to. Secrets are never part of it. */
export interface ReplicationTarget {
  id: string;
  tenantId: string;
  name: string;
  /** The connector kind (`scim`, `memory`, ...). */
  kind: string;
  config: Record<string, unknown>;
  /** Names of the secrets stored (encrypted) for this target; never their values. */
  secretNames: string[];
  deleteMode: DeleteMode;
  /** For `grace`: how long a deactivated account waits before it is deleted. */
  graceSeconds: number | null;
  /** SCIM filters per kind (`{ User?: string | false, Group?: string | false }`). */
  scoping: Record<string, unknown>;
  /** Attribute mapping per kind (JSONata rules). */
  mapping: Record<string, unknown>;
  /** Clear passwords are delivered to this target (when its connector accepts them). */
  pushPasswords: boolean;
  /** A disabled target receives nothing and keeps no queue; a paused one queues without delivering. */
  enabled: boolean;
  paused: boolean;
  rateLimit: { max: number; durationMs: number } | null;
  concurrency: number;
  maxAttempts: number;
  circuitState: CircuitState;
  consecutiveFailures: number;
  circuitOpenedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  /** Provisions on first sign-in (issue 16, ADR 0030): people only once admitted, groups once they have an admitted member. */
  jit?: boolean;
  /** Set when a migration (`meridian target migrate`) retires this target on a schedule (docs/migration.md). */
  retirement?: TargetRetirement;
}

/**
 * The retirement of a target another one took over from: from `at` on it
 * receives no change (the relay queues none, its workers deliver none); the
 * next worker refresh then disables it and sets `retiredAt`.
 */
export interface TargetRetirement {
  at: Date;
  /** When it was disabled; null while the retirement is only scheduled. */
  retiredAt: Date | null;
  /** The target that took over. */
  successorId: string | null;
}

/** Values of a target to store; `sealedSecrets` is a SecretBox envelope, never clear text. */
export interface ReplicationTargetWrite {
  name: string;
  kind: string;
  config: Record<string, unknown>;
  secretNames: string[];
  sealedSecrets: string | null;
  deleteMode: DeleteMode;
  graceSeconds: number | null;
  scoping: Record<string, unknown>;
  mapping: Record<string, unknown>;
  pushPasswords: boolean;
  enabled: boolean;
  paused: boolean;
  rateLimit: { max: number; durationMs: number } | null;
  concurrency: number;
  maxAttempts: number;
  /**
   * Set when this write moves the target to other origins (scheme, host, port)
   * or another kind: where it was, where it goes, and the names of the stored
   * secrets dropped because no new value came with the change. Recorded in
   * the audit entry, never a value (docs/security.md, "Secrets stay with their
   * destination"); keys that look like secrets would be redacted there, hence
   * `dropped`.
   */
  originChange?: { from: string[]; to: string[]; dropped: string[] };
}

/** The link of one hub resource to its remote object at one target. */
export interface ReplicationLink {
  targetId: string;
  tenantId: string;
  kind: ResourceKind;
  localId: string;
  remoteId: string | null;
  status: LinkStatus;
  /** The highest hub version the relay has queued for this target. */
  wantedVersion: number;
  /** The highest hub version a finished job has brought to the target (or decided about). */
  handledVersion: number;
  pushedVersion: number | null;
  /** Hash of the last pushed mapped attributes: an unchanged object is not pushed again. */
  pushedHash: string | null;
  pushedAttributes: Record<string, unknown> | null;
  attempts: number;
  lastError: string | null;
  graceUntil: Date | null;
  /** The request whose change the last finished job delivered, when known. */
  requestId: string | null;
  updatedAt: Date;
}

/** What a finished (or failed) job records on a link. */
export interface LinkUpdate {
  remoteId: string | null;
  status: LinkStatus;
  /** Versions up to this one are covered; the stored value only grows. `'wanted'` covers all the relay queued (a deleted resource). */
  handledVersion: number | 'wanted';
  pushedVersion?: number | null;
  pushedHash?: string | null;
  pushedAttributes?: Record<string, unknown> | null;
  /**
   * A group's member list as now pushed (kept per member apart from the link,
   * ADR 0024): `all` replaces it; otherwise `add` and `remove` (remote ids)
   * change it at the cost of the change.
   */
  pushedMembers?: { all?: readonly PushedMember[]; add?: readonly PushedMember[]; remove?: readonly string[] };
  attempts?: number;
  lastError?: string | null;
  graceUntil?: Date | null;
  /** The request whose change the job delivered: kept on the link and in the delivery's audit entry. */
  requestId?: string | undefined;
}

/** A member of a group as pushed to a target: its kind and hub id (unknown for lists older than ADR 0024's deltas) and remote id. */
interface PushedMember {
  kind: ResourceKind | null;
  localId: string | null;
  remoteId: string;
}

/** A permanent failure kept for an admin, with what was sent and what came back (credentials removed). */
export interface DeadLetter {
  id: string;
  tenantId: string;
  targetId: string;
  kind: ResourceKind;
  localId: string;
  resourceVersion: number | null;
  /** `create`, `update`, `delete`, `deactivate`, `password`, `members`, `map`, ... */
  operation: string;
  reason: string;
  errorCode: string | null;
  request: unknown;
  response: unknown;
  /** The request whose change failed to reach the target (unknown for letters older than this field). */
  requestId: string | null;
  createdAt: Date;
  replayedAt: Date | null;
}

/** A dead letter to record. */
export type DeadLetterWrite = Omit<DeadLetter, 'id' | 'createdAt' | 'replayedAt'>;

/** One job the relay hands to the queue: bring `resourceId` at `targetId` up to date. */
export interface RelayJob {
  tenantId: string;
  targetId: string;
  kind: ResourceKind;
  resourceId: string;
  /** The hub version of the event that caused it. */
  version: number;
  eventId: string;
  requestId: string;
  /**
   * What the change did to a group's members (hub ids), when the job stands
   * for exactly one Group update from `version - 1` (ADR 0024); absent, the
   * worker pushes the whole member list.
   */
  members?: { added: string[]; removed: string[] } | undefined;
}

/** Counts of a target's links by outcome. */
export interface TargetStatusCounts {
  targetId: string;
  name: string;
  pending: number;
  delivered: number;
  failed: number;
  deadLettered: number;
  skipped: number;
}

/** One resource a request changed, and the version it wrote. */
export interface RequestChange {
  kind: ResourceKind;
  resourceId: string;
  version: number;
}

/** A link a worker reads: one resource at one target. */
export interface LinkKey {
  targetId: string;
  kind: ResourceKind;
  localId: string;
}

/** What a batch of jobs of one tenant reads at once (ADR 0024): their targets and their links. */
export interface LinkBatch {
  targets: ReplicationTarget[];
  links: ReplicationLink[];
}

/** One job's outcome to record in a batch: the link, and the delivery's audit event when there is one. */
export interface LinkWrite extends LinkKey {
  update: LinkUpdate;
  event?: DomainEvent | undefined;
}

/** A subscription to committed changes of every process (ADR 0024). */
export interface CommitWakeups {
  /** True while a notification can arrive (the listening connection is up). */
  readonly listening: boolean;
  close(): Promise<void>;
}

/** A clear password waiting for the targets that accept one (sealed). */
export interface PendingPassword {
  id: string;
  version: number;
  ciphertext: string;
}

/**
 * Persistence of replication: targets, links, dead letters, the outbox relay
 * and pending passwords. Target-management methods take the tenant; the
 * relay and the workers run for the whole hub and address targets by id.
 */
export interface ReplicationStore {
  createTarget(tenantId: string, values: ReplicationTargetWrite, context: RequestContext): Promise<ReplicationTarget>;
  updateTarget(tenantId: string, targetId: string, values: ReplicationTargetWrite, context: RequestContext): Promise<ReplicationTarget>;
  deleteTarget(tenantId: string, targetId: string, context: RequestContext): Promise<void>;
  listTargets(tenantId: string): Promise<ReplicationTarget[]>;
  /** A target of the tenant by id or name. */
  findTarget(tenantId: string, idOrName: string): Promise<ReplicationTarget | undefined>;
  /** Any tenant's target, for workers. */
  getTarget(targetId: string): Promise<ReplicationTarget | undefined>;
  /** The sealed secrets of a target, for workers. */
  sealedSecrets(targetId: string): Promise<string | null>;
  /** The groups that list the group `groupId` as a direct member (nested groups), for workers. */
  parentGroups(tenantId: string, groupId: string): Promise<string[]>;
  /** Every enabled target of the hub that is not past its retirement, for worker hosts. */
  enabledTargets(): Promise<ReplicationTarget[]>;
  /**
   * Records a migration from target `fromId` to `toId` of the tenant: the
   * `target.migrated` audit entry (about the old target; `summary` is its
   * `after`) and, when `retireAt` is given, the old target's retirement, in
   * one transaction.
   */
  recordMigration(
    tenantId: string,
    fromId: string,
    toId: string,
    retireAt: Date | null,
    summary: Record<string, unknown>,
    context: RequestContext,
  ): Promise<ReplicationTarget>;
  /** Drops a scheduled retirement (`target.retirement_cancelled`); `CONFLICT` when none is scheduled or its time has come. */
  cancelRetirement(tenantId: string, targetId: string, context: RequestContext): Promise<ReplicationTarget>;
  /** Disables every target whose retirement is due at `now` (`target.retired` each); returns them. */
  retireDue(now: Date): Promise<ReplicationTarget[]>;

  /** Counts one more consecutive transient failure; returns the count. */
  recordFailure(targetId: string): Promise<number>;
  /** Resets the failure count; closes the circuit. Returns the state it left. */
  recordSuccess(targetId: string): Promise<CircuitState>;
  setCircuit(targetId: string, state: CircuitState, now: Date): Promise<void>;

  /**
   * One relay step, in one transaction: claims up to `limit` pending outbox
   * events (`for update skip locked`), marks their links pending, hands the
   * jobs to `enqueue`, and marks the events dispatched only when it resolved.
   * Returns how many events it dispatched.
   */
  relay(limit: number, enqueue: (jobs: RelayJob[]) => Promise<void>, now: Date): Promise<number>;

  getLink(targetId: string, kind: ResourceKind, localId: string): Promise<ReplicationLink | undefined>;
  /** Links of resources at one target (for group members). */
  links(targetId: string, kind: ResourceKind, localIds: string[]): Promise<ReplicationLink[]>;
  linkByRemoteId(targetId: string, kind: ResourceKind, remoteId: string): Promise<ReplicationLink | undefined>;
  /** Records a job's outcome on the link, and its audit event when given, in one transaction. */
  saveLink(
    tenantId: string,
    targetId: string,
    kind: ResourceKind,
    localId: string,
    update: LinkUpdate,
    event?: DomainEvent,
  ): Promise<ReplicationLink>;
  /**
   * A group's members as last pushed to a target; with `memberIds`, only the
   * members among those hub ids (a delta's removals, ADR 0024).
   */
  pushedMembers(tenantId: string, targetId: string, groupId: string, memberIds?: readonly string[]): Promise<PushedMember[]>;
  /** The targets and links of several jobs of one tenant, in one transaction (ADR 0024). */
  loadLinks(tenantId: string, keys: readonly LinkKey[]): Promise<LinkBatch>;
  /**
   * {@link loadLinks} and the Users `userIds` (those that exist, with their groups, as the directory's `getMany`
   * answers them) in one read (ADR 0037); absent, the engine reads the Users from its resource source beside it.
   */
  loadLinksWithUsers?(
    tenantId: string,
    keys: readonly LinkKey[],
    userIds: readonly string[],
  ): Promise<LinkBatch & { users: ScimResource[] }>;
  /**
   * Records the outcomes of several jobs of one tenant in one transaction
   * (links, then their audit events under one hold of the tenant's chain), and
   * answers the current version of each resource in `versionsOf` (absent: deleted).
   */
  saveLinks(tenantId: string, writes: readonly LinkWrite[], versionsOf?: readonly LinkKey[]): Promise<Map<string, number>>;
  /**
   * {@link saveLinks}, also answering the direct groups (their ids) of the users in `groupsOf`, read in the same
   * transaction after the tenant's audit chain lock is held, as a read after the commit would see them (ADR 0037);
   * a user deleted meanwhile is absent. Absent, the engine reads them after the commit.
   */
  saveOutcomes?(
    tenantId: string,
    writes: readonly LinkWrite[],
    versionsOf: readonly LinkKey[],
    groupsOf: readonly string[],
  ): Promise<{ versions: Map<string, number>; groups: Map<string, string[]> }>;
  /**
   * Calls `onCommit` whenever a transaction that wrote outbox events commits,
   * in any process (ADR 0024); absent, the relay only polls.
   */
  listenForCommits?(onCommit: () => void, onError?: (error: Error) => void): Promise<CommitWakeups>;
  /** Marks a link pending (replay, reconciliation) so that a queued job is visible. */
  markPending(tenantId: string, targetId: string, kind: ResourceKind, localId: string, version: number): Promise<void>;
  /** Links of one resource at every target of its tenant. */
  linksOf(tenantId: string, kind: ResourceKind, localId: string): Promise<ReplicationLink[]>;
  /** Every link of a target (reconciliation). */
  targetLinks(targetId: string, kind: ResourceKind): Promise<ReplicationLink[]>;
  statusCounts(tenantId: string): Promise<TargetStatusCounts[]>;

  /** Records a dead letter, the link's status and the audit event, in one transaction. */
  deadLetter(letter: DeadLetterWrite, update: LinkUpdate, event: DomainEvent): Promise<DeadLetter>;
  deadLetters(tenantId: string, options: { targetId?: string; includeReplayed?: boolean; limit: number }): Promise<DeadLetter[]>;
  getDeadLetter(tenantId: string, id: string): Promise<DeadLetter | undefined>;
  markReplayed(tenantId: string, id: string, now: Date, context: RequestContext): Promise<DeadLetter>;

  /** The resources a request changed (from its outbox events), for `Prefer: wait`. */
  requestChanges(tenantId: string, requestId: string): Promise<RequestChange[]>;

  /** Seconds a SCIM write of the tenant waits for its deliveries when the client sends no `Prefer: wait` (0: none). */
  waitPolicy(tenantId: string): Promise<number>;
  setWaitPolicy(tenantId: string, seconds: number, context: RequestContext): Promise<number>;

  /** The newest pending password of a user still owed to `targetId`. */
  pendingPassword(tenantId: string, userId: string, targetId: string): Promise<PendingPassword | undefined>;
  /** The target took the password (or no longer needs it): it leaves every pending row of the user; empty rows are erased. */
  passwordHandled(tenantId: string, userId: string, targetId: string): Promise<void>;
  /** Erases expired pending passwords; returns how many. */
  erasePendingPasswords(now: Date): Promise<number>;
}

/**
 * Hands a clear password to replication, sealed, inside the write's
 * transaction (so it exists exactly when the change does). Implementations
 * keep it only for targets that accept passwords, and erase it after
 * delivery or expiry.
 */
export interface PasswordForwarding {
  forward(tx: DirectoryTransaction, tenantId: string, userId: string, version: number, password: string): Promise<void>;
}

/** The SecretBox context a pending password is sealed under, so an envelope cannot be moved to another user. */
export function pendingPasswordContext(tenantId: string, userId: string): string {
  return `pending_password:${tenantId}:${userId}`;
}
