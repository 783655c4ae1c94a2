import { MeridianError } from '../errors/meridian-error.js';
import type { RequestContext } from '../tenancy/model.js';

/** A JSON object (SCIM attributes as a source maps them). */
export type SourceAttributes = { [key: string]: unknown };

/**
 * An inbound source of a tenant (issue 18): a directory the office keeps,
 * which the hub follows. Its config is plain JSON checked by the source's
 * reader; its secrets are sealed by the store and never leave it in clear.
 */
export interface InboundSource {
  id: string;
  tenantId: string;
  name: string;
  /** The kind of directory (`ldap`). */
  kind: string;
  config: Record<string, unknown>;
  secretNames: string[];
  /** Stop a sync that would delete more than this share (percent) of the source's accounts. */
  deletionThresholdPercent: number;
  /** A full comparison (which finds deletions) at least this often; incremental syncs in between. */
  fullSyncIntervalSeconds: number;
  /** A worker syncs the source at least this often; null: only when an admin runs a sync. */
  syncIntervalSeconds: number | null;
  /** The high-water mark of the last sync (LDAP `modifyTimestamp`); null before the first. */
  cursor: string | null;
  lastSyncAt: Date | null;
  lastFullSyncAt: Date | null;
  /** How the last sync ended; null before the first. */
  lastSyncStatus: SourceSyncStatus | null;
  /** Why the last sync failed or stopped, in plain words; null when it applied. */
  lastSyncError: string | null;
  /** What the last sync did. */
  lastSyncCounts: SourceSyncCounts | null;
  createdAt: Date;
}

/** How a sync ended: applied (perhaps with per-object failures), stopped at the deletion threshold, or failed as a whole. */
export type SourceSyncStatus = 'applied' | 'needs_confirmation' | 'failed';

/** The counts of one sync, kept with the source and in the audit entry of a run. */
export interface SourceSyncCounts {
  full: boolean;
  read: number;
  created: number;
  updated: number;
  deleted: number;
  unchanged: number;
  failed: number;
}

/** The outcome of a sync as the store records it. */
export interface SourceSyncRecord {
  status: SourceSyncStatus;
  /** The new cursor (applied), or the old one (a failure reads the same entries again). */
  cursor: string | null;
  full: boolean;
  at: Date;
  error: string | null;
  counts: SourceSyncCounts | null;
}

/** What an admin may change on a source (its config and secrets are set at creation; recreate to change them). */
export interface InboundSourceChanges {
  deletionThresholdPercent?: number;
  fullSyncIntervalSeconds?: number;
  /** Null turns scheduled syncs off. */
  syncIntervalSeconds?: number | null;
}

/** What an admin gives to create a source. */
export interface InboundSourceInput {
  name: string;
  kind: string;
  config: Record<string, unknown>;
  secrets: Record<string, string>;
  deletionThresholdPercent?: number;
  fullSyncIntervalSeconds?: number;
  /** Sync every this many seconds in a worker; null or absent: only on demand. */
  syncIntervalSeconds?: number | null;
}

/** The link of a remote entry to the hub account it feeds. */
export interface SourceLink {
  remoteId: string;
  resourceId: string;
  /** The attributes last written from the entry (canonical JSON), to skip entries that did not change. */
  applied: string;
}

/** One account as a source reads it, mapped to SCIM. */
export interface SourceEntry {
  /** The entry's stable id at the source (LDAP `entryUUID`). */
  remoteId: string;
  /** Where it lives at the source (its DN), for reports. */
  location: string;
  /** SCIM User attributes (core at the top, extensions under their URN), without `schemas`. */
  attributes: SourceAttributes;
}

/** What a reader found: the entries (all of them, or those changed since the cursor) and the new cursor. */
export interface SourceRead {
  entries: SourceEntry[];
  cursor: string | null;
}

/** Reads a source's accounts (the IO side: `connector-ldap`'s reader). */
export interface SourceReader {
  /** Every entry in scope when `since` is null, else those changed since that cursor. */
  read(
    source: InboundSource,
    secrets: Record<string, string>,
    since: string | null,
    onProgress?: (read: number) => void,
  ): Promise<SourceRead>;
  /**
   * The one entry whose remote id is `remoteId`, read now; undefined when the source no longer has it. For events
   * from the source (issue 17, RFC 9967): the event names what changed, the hub pulls it. Readers without it take no
   * events.
   */
  get?(source: InboundSource, secrets: Record<string, string>, remoteId: string): Promise<SourceEntry | undefined>;
}

/** What the receipt of one Security Event Token from a source did (kept in its `source.event_applied` audit entry). */
export interface SourceEventRecord {
  /** The SET's `jti` (RFC 8417 §2.2): a SET with a `jti` already recorded for the source is not applied again. */
  jti: string;
  /** The RFC 9967 event types it carried. */
  events: string[];
  /** Per remote id, what applying it did. */
  applied: { remoteId: string; outcome: SourceChangeOutcome }[];
  at: Date;
}

/** What applying one remote change did to the linked account. */
export type SourceChangeOutcome = 'created' | 'updated' | 'deleted' | 'unchanged';

/**
 * Storage of sources and their links (implemented by the store; tenant-scoped, row-level security).
 * Creating, changing and deleting a source, and every sync's outcome, are audited by the store
 * (`source.created`, `source.updated`, `source.deleted`, `source.synced`), secrets never in the entry.
 */
export interface InboundSourceStore {
  create(tenantId: string, input: InboundSourceInput, context: RequestContext): Promise<InboundSource>;
  update(tenantId: string, id: string, changes: InboundSourceChanges, context: RequestContext): Promise<InboundSource>;
  list(tenantId: string): Promise<InboundSource[]>;
  find(tenantId: string, idOrName: string): Promise<InboundSource | undefined>;
  /** The source's secrets, opened (only for a sync). */
  openSecrets(source: InboundSource): Promise<Record<string, string>>;
  delete(tenantId: string, id: string, context: RequestContext): Promise<void>;
  links(tenantId: string, sourceId: string): Promise<SourceLink[]>;
  saveLink(tenantId: string, sourceId: string, link: SourceLink): Promise<void>;
  deleteLink(tenantId: string, sourceId: string, remoteId: string): Promise<void>;
  /** Records how a sync ended (and ends a worker's claim on the source), with its audit entry. */
  recordSync(tenantId: string, sourceId: string, record: SourceSyncRecord, context: RequestContext): Promise<void>;
  /**
   * Claims, across tenants, up to `limit` sources whose scheduled sync is due at `now` and that no
   * worker holds: each is held for `leaseMs` (a crashed worker's claim lapses). Platform scope.
   */
  claimDue(now: Date, leaseMs: number, limit: number): Promise<InboundSource[]>;
  /**
   * The source with this id in whichever tenant holds it (platform scope): for the event endpoint, which learns the
   * tenant from the source. Undefined when there is none.
   */
  findById(id: string): Promise<InboundSource | undefined>;
  /** True when a SET with this `jti` was already applied for the source. */
  eventSeen(tenantId: string, sourceId: string, jti: string): Promise<boolean>;
  /** Records an applied SET (its `jti`, so a retry changes nothing) with its `source.event_applied` audit entry. */
  recordEvent(tenantId: string, sourceId: string, record: SourceEventRecord, context: RequestContext): Promise<void>;
}

/** What a sync does to one account. */
export type SourceAction = 'create' | 'update' | 'delete';

/** One planned or applied change. */
export interface SourcePlanItem {
  action: SourceAction;
  remoteId: string;
  location: string | null;
  userName: string | null;
  resourceId: string | null;
}

/** The changes a sync would make, per object. */
export interface SourcePlan {
  full: boolean;
  read: number;
  unchanged: number;
  items: SourcePlanItem[];
}

/** Canonical JSON of a value (sorted keys), to compare what was applied with what is read. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * Plans a sync: an entry without a link is a create, one whose mapped
 * attributes differ from what was last applied an update; on a full read,
 * a link whose entry was not read is a delete (the entry was removed or left
 * the scope). Pure.
 */
export function planSourceSync(entries: readonly SourceEntry[], links: readonly SourceLink[], full: boolean): SourcePlan {
  const byRemote = new Map(links.map((l) => [l.remoteId, l]));
  const items: SourcePlanItem[] = [];
  const seen = new Set<string>();
  let unchanged = 0;
  for (const entry of entries) {
    if (seen.has(entry.remoteId)) continue;
    seen.add(entry.remoteId);
    const link = byRemote.get(entry.remoteId);
    const userName = typeof entry.attributes.userName === 'string' ? entry.attributes.userName : null;
    if (!link) items.push({ action: 'create', remoteId: entry.remoteId, location: entry.location, userName, resourceId: null });
    else if (link.applied !== canonicalJson(entry.attributes))
      items.push({ action: 'update', remoteId: entry.remoteId, location: entry.location, userName, resourceId: link.resourceId });
    else unchanged++;
  }
  if (full) {
    for (const link of links) {
      if (!seen.has(link.remoteId))
        items.push({ action: 'delete', remoteId: link.remoteId, location: null, userName: null, resourceId: link.resourceId });
    }
  }
  return { full, read: seen.size, unchanged, items };
}

/**
 * True when a plan deletes more than `thresholdPercent` of the accounts the
 * source feeds: the accidental-deletion guard (a wrong filter or base DN
 * looks like everyone leaving). Pure.
 *
 * @example
 * exceedsDeletionThreshold(30, 100, 20) // true
 */
export function exceedsDeletionThreshold(deletes: number, linked: number, thresholdPercent: number): boolean {
  if (deletes === 0 || linked === 0) return false;
  return (deletes / linked) * 100 > thresholdPercent;
}

/** Checks an admin's source input; `INVALID_CONFIG` naming the field. */
export function checkSourceInput(
  input: InboundSourceInput,
): Required<Omit<InboundSourceInput, 'secrets'>> & { secrets: Record<string, string> } {
  if (typeof input.name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/.test(input.name))
    throw new MeridianError('INVALID_CONFIG', "A source name is 1-64 letters, digits, spaces, '.', '_' or '-'.", { field: 'name' });
  if (input.kind !== 'ldap' && input.kind !== 'scim')
    throw new MeridianError('INVALID_CONFIG', `Unknown source kind '${input.kind}'; known: ldap, scim.`, { field: 'kind' });
  const threshold = input.deletionThresholdPercent ?? 20;
  const changes = checkSourceChanges({
    deletionThresholdPercent: threshold,
    fullSyncIntervalSeconds: input.fullSyncIntervalSeconds ?? 86_400,
    syncIntervalSeconds: input.syncIntervalSeconds ?? null,
  });
  return { ...input, ...(changes as Required<InboundSourceChanges>) };
}

/** The longest interval a source may be given: a year and a day. */
const MAX_INTERVAL_SECONDS = 366 * 86_400;

/** Checks what an admin changes on a source; `INVALID_CONFIG` naming the field. Absent fields stay absent. */
export function checkSourceChanges(changes: InboundSourceChanges): InboundSourceChanges {
  const { deletionThresholdPercent: threshold, fullSyncIntervalSeconds: full, syncIntervalSeconds: every } = changes;
  if (threshold !== undefined && (typeof threshold !== 'number' || !Number.isFinite(threshold) || threshold < 0 || threshold > 100))
    throw new MeridianError('INVALID_CONFIG', "'deletionThresholdPercent' is from 0 to 100.", { field: 'deletionThresholdPercent' });
  const interval = (value: unknown, field: string) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 60 || value > MAX_INTERVAL_SECONDS)
      throw new MeridianError('INVALID_CONFIG', `'${field}' is a whole number of seconds from 60 to ${MAX_INTERVAL_SECONDS}.`, { field });
  };
  if (full !== undefined) interval(full, 'fullSyncIntervalSeconds');
  if (every !== undefined && every !== null) interval(every, 'syncIntervalSeconds');
  return changes;
}

/**
 * True when a scheduled source's next sync is due at `now`: never synced, or
 * its interval has passed since the last sync began. Pure.
 */
export function sourceSyncDue(source: Pick<InboundSource, 'syncIntervalSeconds' | 'lastSyncAt'>, now: Date): boolean {
  if (source.syncIntervalSeconds === null) return false;
  if (source.lastSyncAt === null) return true;
  return now.getTime() - source.lastSyncAt.getTime() >= source.syncIntervalSeconds * 1000;
}
