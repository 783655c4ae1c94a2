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
  /** The high-water mark of the last sync (LDAP `modifyTimestamp`); null before the first. */
  cursor: string | null;
  lastSyncAt: Date | null;
  lastFullSyncAt: Date | null;
  createdAt: Date;
}

/** What an admin gives to create a source. */
export interface InboundSourceInput {
  name: string;
  kind: string;
  config: Record<string, unknown>;
  secrets: Record<string, string>;
  deletionThresholdPercent?: number;
  fullSyncIntervalSeconds?: number;
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
}

/** Storage of sources and their links (implemented by the store; tenant-scoped, row-level security). */
export interface InboundSourceStore {
  create(tenantId: string, input: InboundSourceInput, context: RequestContext): Promise<InboundSource>;
  list(tenantId: string): Promise<InboundSource[]>;
  find(tenantId: string, idOrName: string): Promise<InboundSource | undefined>;
  /** The source's secrets, opened (only for a sync). */
  openSecrets(source: InboundSource): Promise<Record<string, string>>;
  delete(tenantId: string, id: string, context: RequestContext): Promise<void>;
  links(tenantId: string, sourceId: string): Promise<SourceLink[]>;
  saveLink(tenantId: string, sourceId: string, link: SourceLink): Promise<void>;
  deleteLink(tenantId: string, sourceId: string, remoteId: string): Promise<void>;
  recordSync(tenantId: string, sourceId: string, state: { cursor: string | null; full: boolean; at: Date }): Promise<void>;
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
  if (!Number.isFinite(threshold) || threshold < 0 || threshold > 100)
    throw new MeridianError('INVALID_CONFIG', "'deletionThresholdPercent' is from 0 to 100.", { field: 'deletionThresholdPercent' });
  const interval = input.fullSyncIntervalSeconds ?? 86_400;
  if (!Number.isInteger(interval) || interval < 60 || interval > 366 * 86_400)
    throw new MeridianError('INVALID_CONFIG', "'fullSyncIntervalSeconds' is a whole number from 60 to 31622400.", {
      field: 'fullSyncIntervalSeconds',
    });
  return { ...input, deletionThresholdPercent: threshold, fullSyncIntervalSeconds: interval };
}
