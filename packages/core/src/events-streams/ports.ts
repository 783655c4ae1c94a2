import type { RequestContext } from '../tenancy/model.js';
import type { EventStream, StreamReceiver, StreamStatus, StreamValues } from './stream-config.js';

/** A signed SET waiting for its receiver. */
export interface NewStreamSet {
  streamId: string;
  communityId: string;
  jti: string;
  /** RFC 8417 §2.2 `txn`: the outbox event of the change (or the request, for a verification). */
  txn: string;
  /** The subject the SET is about, as the stream's subject list names it (`email:…`, `opaque:…`, `scim:…`). */
  subjectKeys: string[];
  eventTypes: string[];
  /** The compact JWS (RFC 8417, `typ: secevent+jwt`). */
  token: string;
}

/** Counts of a stream's SETs by delivery state. */
export interface StreamCounts {
  /** Not yet sent (push), or not yet handed out (poll). */
  pending: number;
  /** Handed out by a poll and not yet acknowledged. */
  delivered: number;
  acknowledged: number;
  /** Refused by the receiver (a push answered 400, a poll's `setErrs`). */
  failed: number;
  /** Pushes that outlasted their attempts (dead letters). */
  dead: number;
}

/** RFC 8936 §2.4: what a poll asks for. */
export interface PollRequest {
  maxEvents: number;
  ack: string[];
  setErrs: Record<string, { err: string; description?: string }>;
}

/** RFC 8936 §2.5: what a poll answers. */
export interface PollAnswer {
  sets: Record<string, string>;
  moreAvailable: boolean;
}

/** Streams of the communities' transmitters and their SETs; every change of a stream is audited (platform chain). */
export interface EventStreamStore {
  create(communityId: string, receiver: StreamReceiver, values: StreamValues, context: RequestContext): Promise<EventStream>;
  /** A community's streams, or one receiver's. */
  list(communityId: string, receiver?: StreamReceiver): Promise<EventStream[]>;
  find(communityId: string, streamId: string): Promise<EventStream | undefined>;
  update(stream: EventStream, values: StreamValues, context: RequestContext): Promise<EventStream>;
  setStatus(stream: EventStream, status: StreamStatus, reason: string | null, context: RequestContext): Promise<EventStream>;
  delete(stream: EventStream, context: RequestContext): Promise<void>;
  /** Includes (add) or excludes (remove) a subject (SSF 1.0 §8.1.3). */
  setSubject(stream: EventStream, key: string, subject: Record<string, unknown>, included: boolean, context: RequestContext): Promise<void>;
  counts(stream: EventStream): Promise<StreamCounts>;
  /** Appends SETs (a verification event). */
  append(sets: NewStreamSet[]): Promise<void>;
  /** Acknowledges and records errors, then hands out up to `maxEvents` SETs not yet acknowledged, oldest first. */
  poll(stream: EventStream, request: PollRequest): Promise<PollAnswer>;
}
