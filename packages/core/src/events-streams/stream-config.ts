import { MeridianError } from '../errors/meridian-error.js';
import { parseAttributePath, parseScimFilter } from '../filter/parse.js';

/** SSF 1.0 §8.1.1: how a stream's events travel. */
export const DELIVERY_PUSH = 'urn:ietf:rfc:8935';
/** RFC 8936 poll delivery, the `method` of an SSF stream's `delivery`. */
export const DELIVERY_POLL = 'urn:ietf:rfc:8936';

const SCIM_EVENT = 'urn:ietf:params:scim:event';
const CAEP = 'https://schemas.openid.net/secevent/caep/event-type';
const RISC = 'https://schemas.openid.net/secevent/risc/event-type';

/** The event types a Meridian stream can deliver (RFC 9967 §2.3-2.4, CAEP 1.0, RISC 1.0, SSF 1.0 §8.1.4). */
export const STREAM_EVENT = {
  feedAdd: `${SCIM_EVENT}:feed:add`,
  feedRemove: `${SCIM_EVENT}:feed:remove`,
  createNotice: `${SCIM_EVENT}:prov:create:notice`,
  createFull: `${SCIM_EVENT}:prov:create:full`,
  patchNotice: `${SCIM_EVENT}:prov:patch:notice`,
  patchFull: `${SCIM_EVENT}:prov:patch:full`,
  putNotice: `${SCIM_EVENT}:prov:put:notice`,
  putFull: `${SCIM_EVENT}:prov:put:full`,
  delete: `${SCIM_EVENT}:prov:delete`,
  activate: `${SCIM_EVENT}:prov:activate`,
  deactivate: `${SCIM_EVENT}:prov:deactivate`,
  sessionRevoked: `${CAEP}/session-revoked`,
  credentialChange: `${CAEP}/credential-change`,
  accountDisabled: `${RISC}/account-disabled`,
  accountPurged: `${RISC}/account-purged`,
  /** RFC 9967 §2.5.1.3: the outcome of a request sent with `Prefer: respond-async` (to the writing token's stream only). */
  asyncResponse: `${SCIM_EVENT}:misc:asyncresp`,
  verification: 'https://schemas.openid.net/secevent/ssf/event-type/verification',
  streamUpdated: 'https://schemas.openid.net/secevent/ssf/event-type/stream-updated',
} as const;

/** Every event type a receiver may ask for in `events_requested` (verification and stream-updated always come). */
export const EVENTS_SUPPORTED: readonly string[] = Object.values(STREAM_EVENT).filter(
  (uri) => uri !== STREAM_EVENT.verification && uri !== STREAM_EVENT.streamUpdated,
);

/** SSF 1.0 §8.1.2: a stream is enabled, paused (events kept, not sent) or disabled (events dropped). */
export type StreamStatus = 'enabled' | 'paused' | 'disabled';

/** Who receives a stream: a relying party (client credentials) or a community API token (role relying_party). */
export type StreamReceiver = { kind: 'client'; clientId: string } | { kind: 'token'; tokenId: string };

/** A stream of a community's transmitter (SSF 1.0 §8.1.1), as Meridian keeps it. */
export interface EventStream {
  id: string;
  communityId: string;
  receiver: StreamReceiver;
  description: string | null;
  delivery: { method: 'push' | 'poll'; endpointUrl: string | null };
  /** Whether an `Authorization` header is sent with pushes (the value itself is sealed and never shown). */
  hasAuthorization: boolean;
  eventsRequested: string[];
  /** A SCIM filter (RFC 7644 §3.4.2.2) over Users and Groups: only resources matching it count (use case 3.6). */
  filter: string | null;
  /** Attribute paths: only changes touching one of them count (none: every change). */
  attributes: string[];
  status: StreamStatus;
  statusReason: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** The event types delivered: requested ∩ supported (SSF 1.0 §8.1.1 `events_delivered`). */
export function eventsDelivered(stream: Pick<EventStream, 'eventsRequested'>): string[] {
  return stream.eventsRequested.filter((uri) => EVENTS_SUPPORTED.includes(uri));
}

/** What a receiver (or an admin) sends to create or change a stream, in SSF's wire names. */
export interface StreamInput {
  description?: unknown;
  delivery?: unknown;
  events_requested?: unknown;
  filter?: unknown;
  attributes?: unknown;
}

/** A checked stream configuration, ready for the store. */
export interface StreamValues {
  description: string | null;
  delivery: { method: 'push' | 'poll'; endpointUrl: string | null; authorization: string | null | undefined };
  eventsRequested: string[];
  filter: string | null;
  attributes: string[];
}

const MAX_EVENTS = 32;
const MAX_ATTRIBUTES = 64;

function invalid(message: string, field: string): MeridianError {
  return new MeridianError('INVALID_INPUT', message, { field });
}

/**
 * Checks a stream configuration (SSF 1.0 §8.1.1.1) plus Meridian's two
 * members for use case 3.6, `filter` and `attributes`. Unknown event types
 * are accepted and left out of `events_delivered`, as SSF says; a push
 * stream needs an https `endpoint_url` (the outbound policy checks it again
 * at each request).
 */
export function parseStreamInput(input: StreamInput, current?: StreamValues): StreamValues {
  const delivery = parseDelivery(input.delivery, current?.delivery);
  let eventsRequested = current?.eventsRequested ?? [];
  if (input.events_requested !== undefined) {
    if (!Array.isArray(input.events_requested) || input.events_requested.some((e) => typeof e !== 'string' || e.length > 200)) {
      throw invalid('events_requested must be an array of event type URIs.', 'events_requested');
    }
    if (input.events_requested.length > MAX_EVENTS) throw invalid(`At most ${MAX_EVENTS} event types.`, 'events_requested');
    eventsRequested = [...new Set(input.events_requested as string[])];
  }
  let filter = current?.filter ?? null;
  if (input.filter !== undefined) {
    if (input.filter !== null && (typeof input.filter !== 'string' || input.filter.length > 2048)) {
      throw invalid('filter must be a SCIM filter (RFC 7644 §3.4.2.2).', 'filter');
    }
    filter = input.filter === null || input.filter.trim() === '' ? null : input.filter;
    // Throws INVALID_FILTER with the position of the problem.
    if (filter !== null) parseScimFilter(filter);
  }
  let attributes = current?.attributes ?? [];
  if (input.attributes !== undefined) {
    if (!Array.isArray(input.attributes) || input.attributes.some((a) => typeof a !== 'string' || a.length > 300)) {
      throw invalid('attributes must be an array of SCIM attribute paths.', 'attributes');
    }
    if (input.attributes.length > MAX_ATTRIBUTES) throw invalid(`At most ${MAX_ATTRIBUTES} attributes.`, 'attributes');
    for (const path of input.attributes as string[]) parseAttributePath(path);
    attributes = [...new Set(input.attributes as string[])];
  }
  let description = current?.description ?? null;
  if (input.description !== undefined) {
    if (input.description !== null && (typeof input.description !== 'string' || input.description.length > 500)) {
      throw invalid('description must be a string of at most 500 characters.', 'description');
    }
    description = input.description;
  }
  return { description, delivery, eventsRequested, filter, attributes };
}

function parseDelivery(input: unknown, current: StreamValues['delivery'] | undefined): StreamValues['delivery'] {
  if (input === undefined) {
    return current ? { ...current, authorization: undefined } : { method: 'poll', endpointUrl: null, authorization: null };
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw invalid('delivery must be an object.', 'delivery');
  const { method, endpoint_url: endpointUrl, authorization_header: authorization } = input as Record<string, unknown>;
  if (method === DELIVERY_POLL) return { method: 'poll', endpointUrl: null, authorization: null };
  if (method !== DELIVERY_PUSH) throw invalid(`delivery.method must be ${DELIVERY_PUSH} or ${DELIVERY_POLL}.`, 'delivery.method');
  if (typeof endpointUrl !== 'string' || endpointUrl.length > 2048 || !/^https?:\/\/[^\s/?#@]+(?:[/?#]\S*)?$/i.test(endpointUrl)) {
    throw invalid('A push stream needs delivery.endpoint_url, an http(s) URL.', 'delivery.endpoint_url');
  }
  if (authorization !== undefined && authorization !== null && (typeof authorization !== 'string' || authorization.length > 4096)) {
    throw invalid('delivery.authorization_header must be a string.', 'delivery.authorization_header');
  }
  return { method: 'push', endpointUrl, authorization: (authorization as string | null | undefined) ?? null };
}

/** SSF 1.0 §8.1.2.2: a status a receiver or an admin may set. */
export function parseStreamStatus(value: unknown): StreamStatus {
  if (value === 'enabled' || value === 'paused' || value === 'disabled') return value;
  throw invalid('status must be enabled, paused or disabled.', 'status');
}
