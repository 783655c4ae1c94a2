import type { AttributePath, Filter } from '../filter/ast.js';
import { type FilterShape, matchesResource } from '../filter/evaluate.js';
import { parseAttributePath, parseScimFilter } from '../filter/parse.js';
import type { JsonObject } from '../scim/resource-input.js';
import { type EventStream, eventsDelivered, STREAM_EVENT } from './stream-config.js';

/**
 * One change as a stream sees it: the outbox event and the audit entry's before and after. Besides Users and Groups,
 * a grant revoked (`sso.grant_revoked`, kind `Grant`): the relying party and the person are in {@link grant}.
 */
export interface StreamChange {
  /** The outbox event's id: the SET's `txn` (RFC 8417 §2.2), the same for every receiver of this change. */
  eventId: string;
  requestId: string;
  /** The outbox event type (`user.updated`, …). */
  type: string;
  kind: 'User' | 'Group' | 'Grant';
  resourceId: string;
  version: number | null;
  /** The resource before the change (null for a creation), as the audit entry keeps it. */
  before: JsonObject | null;
  /** The resource after the change (null for a deletion). */
  after: JsonObject | null;
  /** When the change was committed (the outbox event's time): CAEP's and RISC's `event_timestamp`. */
  occurredAt?: Date;
  /** The change set the User's password (never the password itself): CAEP `credential-change`. */
  credentialChanged?: boolean;
  /** For a grant revoked: the relying party it was given to and the person who gave it. */
  grant?: { clientId: string; personId: string };
}

/** What this receiver may see of the resource, decided by the caller (the release ledger, the receiver's reach). */
export interface StreamView {
  /** False when the receiver may not know the resource at all: no event about it. */
  visible: boolean;
  /** The attribute paths released to the receiver; null for every attribute. */
  released: readonly string[] | null;
}

/** An event of one SET: its type URI and payload (RFC 8417 §2.2 `events`). */
export interface PlannedEvent {
  type: string;
  payload: Record<string, unknown>;
}

/** A stream's parsed subset rules, computed once per stream. */
export interface StreamRules {
  delivered: ReadonlySet<string>;
  filter: Filter | null;
  attributes: AttributePath[];
}

/** Parses a stream's `filter` and `attributes` and its delivered event types once. */
export function streamRules(stream: Pick<EventStream, 'eventsRequested' | 'filter' | 'attributes'>): StreamRules {
  return {
    delivered: new Set(eventsDelivered(stream)),
    filter: stream.filter === null ? null : parseScimFilter(stream.filter),
    attributes: stream.attributes.map((path) => parseAttributePath(path)),
  };
}

function samePath(wanted: AttributePath, changed: AttributePath): boolean {
  if (wanted.attribute.toLowerCase() !== changed.attribute.toLowerCase()) return false;
  if (wanted.schema !== undefined && changed.schema !== undefined && wanted.schema.toLowerCase() !== changed.schema.toLowerCase()) {
    return false;
  }
  if (wanted.subAttribute === undefined || changed.subAttribute === undefined) return true;
  return wanted.subAttribute.toLowerCase() === changed.subAttribute.toLowerCase();
}

function pathText(path: AttributePath): string {
  const base = path.schema === undefined ? path.attribute : `${path.schema}:${path.attribute}`;
  return path.subAttribute === undefined ? base : `${base}.${path.subAttribute}`;
}

const IGNORED = new Set(['schemas', 'meta', 'id', 'groups']);

/** The leaf paths of a document: core attributes (complex singular ones by sub-attribute) and extension attributes. */
function leaves(doc: JsonObject | null): Map<string, { path: AttributePath; value: string }> {
  const out = new Map<string, { path: AttributePath; value: string }>();
  if (doc === null) return out;
  const add = (path: AttributePath, value: unknown) => out.set(pathText(path).toLowerCase(), { path, value: JSON.stringify(value) });
  for (const [key, value] of Object.entries(doc)) {
    if (IGNORED.has(key)) continue;
    if (key.toLowerCase().startsWith('urn:') && value !== null && typeof value === 'object' && !Array.isArray(value)) {
      for (const [attribute, inner] of Object.entries(value)) add({ schema: key, attribute }, inner);
    } else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      for (const [subAttribute, inner] of Object.entries(value)) add({ attribute: key, subAttribute }, inner);
    } else {
      add({ attribute: key }, value);
    }
  }
  return out;
}

/** The paths whose value differs between two documents (added, changed or removed), in the order they appear. */
export function changedPaths(before: JsonObject | null, after: JsonObject | null): AttributePath[] {
  const old = leaves(before);
  const now = leaves(after);
  const changed: AttributePath[] = [];
  for (const [key, leaf] of now) if (old.get(key)?.value !== leaf.value) changed.push(leaf.path);
  for (const [key, leaf] of old) if (!now.has(key)) changed.push(leaf.path);
  return changed;
}

/**
 * A document cut down to the released paths (RFC 9967 full form "only with
 * the attributes released to that receiver"); `id` stays, it is how the
 * receiver names the resource.
 */
export function releasedDocument(doc: JsonObject, released: readonly string[] | null): JsonObject {
  if (released === null) return doc;
  const allowed = released.map((path) => parseAttributePath(path));
  const keep = (path: AttributePath) => allowed.some((wanted) => samePath(wanted, path));
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(doc)) {
    if (key === 'id' || key === 'schemas') {
      out[key] = value;
    } else if (key.toLowerCase().startsWith('urn:') && value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const inner = Object.fromEntries(Object.entries(value).filter(([attribute]) => keep({ schema: key, attribute })));
      if (Object.keys(inner).length > 0) out[key] = inner as JsonObject;
    } else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const inner = Object.fromEntries(Object.entries(value).filter(([subAttribute]) => keep({ attribute: key, subAttribute })));
      if (Object.keys(inner).length > 0) out[key] = inner as JsonObject;
    } else if (keep({ attribute: key })) {
      out[key] = value;
    }
  }
  return out;
}

function inSubset(doc: JsonObject | null, rules: StreamRules, shape: FilterShape, released: readonly string[] | null): boolean {
  if (doc === null) return false;
  if (rules.filter === null) return true;
  // The filter sees only what the receiver may see: a filter on an attribute not released to it matches nothing.
  return matchesResource(releasedDocument(doc, released), rules.filter, shape);
}

function verbOf(type: string): 'created' | 'replaced' | 'updated' | 'deleted' | undefined {
  const verb = type.slice(type.indexOf('.') + 1);
  return verb === 'created' || verb === 'replaced' || verb === 'updated' || verb === 'deleted' ? verb : undefined;
}

/**
 * The events a grant revoked on its own means for the stream of the relying
 * party it was given to (the caller picks that stream): CAEP `session-revoked`
 * (CAEP 1.0 §3.1), with the revocation's time, when the stream asked for it.
 * The account stays active, so nothing else: no SCIM or RISC event, and the
 * `filter` (a subset of the directory) does not apply, the grant being the
 * relying party's own relation with the person.
 */
export function planGrantRevocation(rules: StreamRules, change: StreamChange): PlannedEvent[] {
  if (change.kind !== 'Grant' || change.type !== 'sso.grant_revoked' || !rules.delivered.has(STREAM_EVENT.sessionRevoked)) return [];
  return [
    { type: STREAM_EVENT.sessionRevoked, payload: { event_timestamp: Math.floor((change.occurredAt ?? new Date()).getTime() / 1000) } },
  ];
}

/**
 * The events one change means for one stream (issue 17, use case 3.6):
 *
 * - a resource the receiver may not see, or outside the stream's `filter`
 *   before and after, means nothing;
 * - entering the subset is `feed:add` (a creation: `prov:create`), leaving
 *   it `feed:remove` (RFC 9967 §2.3), a deletion of a resource that was in
 *   it `prov:delete` (and RISC `account-purged` for a User);
 * - a change inside the subset is `prov:patch` (PATCH) or `prov:put` (PUT)
 *   when it touches one of the stream's `attributes` (every released
 *   attribute when it names none), in notice form (the changed paths) or, when
 *   the receiver asked for `:full`, with the released attributes as `data`;
 * - `active` turning false is `prov:deactivate`, RISC `account-disabled` and
 *   CAEP `session-revoked` (an inactive account's tokens stop working),
 *   turning true `prov:activate`; a deleted User's sessions end too;
 * - a password set on a User inside the subset is CAEP `credential-change`
 *   (`credential_type: password`), whatever the stream's `attributes`: the
 *   stream asked for the event type.
 *
 * CAEP 1.0 and RISC 1.0 events carry `event_timestamp`, the change's time.
 *
 * Only event types in the stream's `events_delivered` are produced.
 */
export function planStreamEvents(rules: StreamRules, change: StreamChange, view: StreamView, shape: FilterShape): PlannedEvent[] {
  const verb = verbOf(change.type);
  if (verb === undefined || !view.visible) return [];
  const wasIn = inSubset(change.before, rules, shape, view.released);
  const isIn = inSubset(change.after, rules, shape, view.released);
  const events: PlannedEvent[] = [];
  const add = (type: string, payload: Record<string, unknown> = {}) => {
    if (rules.delivered.has(type)) events.push({ type, payload });
  };
  const version = change.version === null ? {} : { version: `W/"${change.version}"` };
  // CAEP 1.0 §2: when the event happened (NumericDate); RISC events carry it too.
  const when = { event_timestamp: Math.floor((change.occurredAt ?? new Date()).getTime() / 1000) };
  const credential = (changeType: 'create' | 'update') => {
    if (change.kind === 'User' && change.credentialChanged === true) {
      add(STREAM_EVENT.credentialChange, { credential_type: 'password', change_type: changeType, ...when });
    }
  };
  const withRelease = (paths: AttributePath[]) =>
    view.released === null ? paths : paths.filter((p) => view.released?.some((r) => samePath(parseAttributePath(r), p)) ?? false);

  if (change.after === null || verb === 'deleted') {
    if (wasIn) {
      add(STREAM_EVENT.delete);
      if (change.kind === 'User') {
        add(STREAM_EVENT.accountPurged, when);
        add(STREAM_EVENT.sessionRevoked, when);
      }
    }
    return events;
  }
  const body = (full: string, notice: string, paths: AttributePath[]) => {
    const after = change.after as JsonObject;
    if (rules.delivered.has(full)) add(full, { ...version, data: releasedDocument({ ...after, id: change.resourceId }, view.released) });
    else add(notice, { ...version, attributes: paths.map(pathText) });
  };
  if (isIn && (change.before === null || verb === 'created')) {
    body(STREAM_EVENT.createFull, STREAM_EVENT.createNotice, withRelease(changedPaths(null, change.after)));
    credential('create');
    return events;
  }
  if (isIn && !wasIn) {
    add(STREAM_EVENT.feedAdd);
    credential('update');
    return events;
  }
  if (!isIn && wasIn) {
    add(STREAM_EVENT.feedRemove);
    return events;
  }
  if (!isIn) return events;

  const changed = withRelease(changedPaths(change.before, change.after));
  const relevant = rules.attributes.length === 0 ? changed : changed.filter((p) => rules.attributes.some((w) => samePath(w, p)));
  if (relevant.length > 0) {
    if (verb === 'replaced') body(STREAM_EVENT.putFull, STREAM_EVENT.putNotice, relevant);
    else body(STREAM_EVENT.patchFull, STREAM_EVENT.patchNotice, relevant);
  }
  const wasActive = change.before?.active !== false;
  const isActive = change.after.active !== false;
  if (change.kind === 'User' && wasActive && !isActive) {
    add(STREAM_EVENT.deactivate);
    add(STREAM_EVENT.accountDisabled, when);
    add(STREAM_EVENT.sessionRevoked, when);
  } else if (change.kind === 'User' && !wasActive && isActive) {
    add(STREAM_EVENT.activate);
  }
  credential('update');
  return events;
}
