import type { RelayJob, RequestChange } from '../ports/replication.js';
import type { ResourceKind } from '../scim/resource-types.js';

/**
 * What the outbox relay does with a batch of events (docs/architecture.md,
 * "The flow of one change", steps 5 and 7; docs/replication.md), pure. The
 * store claims the batch, loads the enabled targets of its tenants, asks
 * {@link planRelay}, then marks the links, enqueues the jobs, feeds the
 * directory inbox and marks the batch dispatched, in one transaction.
 */

/** An outbox event as the relay reads it. */
export interface OutboxEvent {
  id: string;
  tenantId: string | null;
  type: string;
  resourceType: string;
  resourceId: string;
  resourceVersion: number | null;
  requestId: string;
  /** What a Group update did to its members (hub ids); absent for any other change. */
  membersDelta?: { added: string[]; removed: string[] } | null;
}

/** A target the relay may fan out to: an enabled one of the event's tenant. */
export interface RelayTarget {
  id: string;
  tenantId: string;
}

/** A User or Group of a tenant, queued for projection into its community's global directory. */
export interface InboxItem {
  tenantId: string;
  kind: ResourceKind;
  resourceId: string;
}

export interface RelayPlan {
  /** One job per (target, resource), ordered by target and resource id. */
  jobs: RelayJob[];
  /** Each User or Group changed in the batch, once, in the order first changed. */
  inbox: InboxItem[];
}

const RESOURCE_EVENT = /^(user|group)\./;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A `user.*` or `group.*` event about a User or Group: a change to a resource. */
export function isResourceChange(event: Pick<OutboxEvent, 'type' | 'resourceType'>): boolean {
  return RESOURCE_EVENT.test(event.type) && (event.resourceType === 'User' || event.resourceType === 'Group');
}

/**
 * A change to a tenant's User or Group: what replication pushes and the global
 * directory projects. Platform events (no tenant) and the others are only
 * marked dispatched.
 */
export function isRelayed(event: OutboxEvent): event is OutboxEvent & { tenantId: string; resourceType: ResourceKind } {
  return event.tenantId !== null && isResourceChange(event) && UUID.test(event.resourceId);
}

/**
 * The version a delivery of the event must reach. A deletion counts as the
 * version after the resource's last one, so that its delivery is tracked
 * apart from the write before it.
 */
export function deliveryVersion(event: Pick<OutboxEvent, 'type' | 'resourceVersion'>): number {
  return Number(event.resourceVersion ?? 0) + (event.type.endsWith('.deleted') ? 1 : 0);
}

/** The tenants whose enabled targets {@link planRelay} needs for the batch. */
export function relayTenants(events: readonly OutboxEvent[]): string[] {
  return [...new Set(events.filter(isRelayed).map((e) => e.tenantId))];
}

/**
 * Plans one relay step for a batch of events (in outbox order) and the
 * enabled targets of their tenants:
 *
 * - each resource change fans out to every target of its tenant;
 * - the changes of one resource in the batch coalesce into one job per
 *   target, carrying the highest delivery version (the first event to reach
 *   it stands for the others);
 * - a job that stands for a single Group update carries what it did to the
 *   members, so the worker can push that delta (ADR 0024); a coalesced one
 *   does not, and the worker pushes the whole list;
 * - each changed User or Group is queued once for the global directory.
 */
export function planRelay(events: readonly OutboxEvent[], targets: readonly RelayTarget[]): RelayPlan {
  const changes = events.filter(isRelayed);
  const jobs = new Map<string, RelayJob>();
  for (const event of changes) {
    for (const target of targets) {
      if (target.tenantId !== event.tenantId) continue;
      const key = `${target.id}-${event.resourceType}-${event.resourceId}`;
      const version = deliveryVersion(event);
      const previous = jobs.get(key);
      if (previous?.members) delete previous.members;
      if (previous && previous.version >= version) continue;
      // A job that stands for one change carries its member delta; one that coalesces several pushes the whole list.
      const delta = previous === undefined && event.resourceType === 'Group' ? event.membersDelta : undefined;
      jobs.set(key, {
        tenantId: event.tenantId,
        targetId: target.id,
        kind: event.resourceType,
        resourceId: event.resourceId,
        version,
        eventId: event.id,
        requestId: event.requestId,
        ...(delta ? { members: { added: [...delta.added], removed: [...delta.removed] } } : {}),
      });
    }
  }
  const inbox = new Map<string, InboxItem>();
  for (const event of changes) {
    const key = `${event.tenantId}/${event.resourceType}/${event.resourceId}`;
    if (!inbox.has(key)) inbox.set(key, { tenantId: event.tenantId, kind: event.resourceType, resourceId: event.resourceId });
  }
  return {
    jobs: [...jobs.values()].sort((a, b) => (a.targetId + a.resourceId < b.targetId + b.resourceId ? -1 : 1)),
    inbox: [...inbox.values()],
  };
}

/** A request's outbox events of one type and resource, with the highest version among them (null: none had one). */
export interface RequestEventGroup {
  type: string;
  resourceType: string;
  resourceId: string;
  maxVersion: number | null;
}

/**
 * The resources a request changed, each with the delivery version its
 * changes reach ({@link deliveryVersion}): what `Prefer: wait` waits for.
 * Events that are not resource changes are left out; a resource whose events
 * carry no version reaches version 0. Resources keep the order of `groups`.
 */
export function requestChangesOf(groups: readonly RequestEventGroup[]): RequestChange[] {
  const changes = new Map<string, RequestChange>();
  for (const group of groups) {
    if (!isResourceChange(group)) continue;
    const key = `${group.resourceType}/${group.resourceId}`;
    const change = changes.get(key) ?? { kind: group.resourceType as ResourceKind, resourceId: group.resourceId, version: 0 };
    if (group.maxVersion !== null) {
      change.version = Math.max(change.version, deliveryVersion({ type: group.type, resourceVersion: group.maxVersion }));
    }
    changes.set(key, change);
  }
  return [...changes.values()];
}
