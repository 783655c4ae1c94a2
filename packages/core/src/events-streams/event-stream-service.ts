import { MeridianError } from '../errors/meridian-error.js';
import type { AdminService } from '../tenancy/admin-service.js';
import type { Principal, RequestContext } from '../tenancy/model.js';
import { authorize, decideAuthorization } from '../tenancy/permissions.js';
import type { EventStreamStore, PollAnswer, PollRequest, StreamCounts } from './ports.js';
import {
  type EventStream,
  parseStreamInput,
  parseStreamStatus,
  STREAM_EVENT,
  type StreamInput,
  type StreamReceiver,
  type StreamStatus,
} from './stream-config.js';

/** A receiver acting on its own streams: its community and who it is. */
export interface StreamCaller {
  communityId: string;
  receiver: StreamReceiver;
  /** For a community token: whether it may read the community's directory (a `relying_party` token may not, issue 15). */
  readsDirectory?: boolean;
  /** A tenant's SCIM token: its streams carry the asynchronous responses to its own writes only (RFC 9967 §2.5.1.3). */
  asyncOnly?: boolean;
}

/**
 * Why a token that may not read the directory gets no stream: its stream
 * could only tell it about people it may not see (issue 15, docs/events.md).
 */
const TOKEN_STREAM_REFUSED =
  "A relying_party token cannot receive a stream: it may see no person of the community's directory. Register the relying " +
  'party with --client-credentials and create the stream with its client-credentials token: its stream carries the people ' +
  'who released attributes to it (docs/events.md).';

/** Signs a SET's claims with the community issuer's key; sets `iss`, `aud` and `iat`. */
export interface StreamSigner {
  sign(
    stream: EventStream,
    claims: { jti: string; txn: string; sub_id: Record<string, unknown>; events: Record<string, unknown> },
  ): Promise<string>;
}

/** What the service asks of its surroundings: the outbound policy's check of a push endpoint, a wake-up of long polls. */
export interface StreamServiceHooks {
  checkEndpoint?(url: string): Promise<void>;
  /** Whether a receiver named by an admin exists in the community (a relying party, a live community token). */
  receiverExists?(communityId: string, receiver: StreamReceiver): Promise<boolean>;
  /** Whether a live community token of the community may read its directory (what a token stream carries). */
  tokenReadsDirectory?(communityId: string, tokenId: string): Promise<boolean>;
  onAppend?(): void;
  /** The community's id when `tenantId` is one of its offices (by the community's slug or id). */
  tenantCommunity?(tenantId: string, community: string): Promise<string | undefined>;
}

/** A stream with its delivery counts, for admins. */
export interface StreamSummary {
  stream: EventStream;
  counts: StreamCounts;
}

/** SSF 1.0 §8.1.3.1: a subject in one of the formats Meridian understands (RFC 9493). */
export function subjectKeyOf(subject: unknown): string {
  if (typeof subject !== 'object' || subject === null)
    throw new MeridianError('INVALID_INPUT', 'subject must be an object.', { field: 'subject' });
  const s = subject as Record<string, unknown>;
  const text = (v: unknown) => typeof v === 'string' && v.length > 0 && v.length <= 512;
  if (s.format === 'email' && text(s.email)) return `email:${String(s.email).toLowerCase()}`;
  if (s.format === 'opaque' && text(s.id)) return `opaque:${String(s.id)}`;
  if (s.format === 'iss_sub' && text(s.sub)) return `opaque:${String(s.sub)}`;
  if (s.format === 'scim' && text(s.uri)) return `scim:${String(s.uri)}`;
  throw new MeridianError('INVALID_INPUT', 'subject must be an email, opaque, iss_sub or scim subject identifier.', { field: 'subject' });
}

/**
 * The streams of a community's Shared Signals transmitter (issue 17).
 * Admins (`sso.read`, `sso.manage`, the community's admins and the platform)
 * manage any stream of the community; a receiver (a relying party through
 * client credentials, or a community token with `directory:read`, the
 * `relying_party` role) manages its own streams only: another receiver's
 * stream is NOT_FOUND.
 */
export class EventStreamService {
  constructor(
    private readonly store: EventStreamStore,
    private readonly admin: Pick<AdminService, 'authorizeCommunity'>,
    private readonly signer: StreamSigner,
    private readonly newId: () => string,
    private readonly hooks: StreamServiceHooks = {},
  ) {}

  private async checked(input: StreamInput, current?: Parameters<typeof parseStreamInput>[1], asyncOnly = false) {
    const values = parseStreamInput(input, current);
    // A tenant token sees no other office's changes: its stream carries the outcomes of its own writes only.
    if (asyncOnly && (values.eventsRequested.length === 0 || values.eventsRequested.some((e) => e !== STREAM_EVENT.asyncResponse))) {
      throw new MeridianError('INVALID_INPUT', `A tenant token's stream carries ${STREAM_EVENT.asyncResponse} only.`, {
        field: 'events_requested',
      });
    }
    // A push endpoint answers to the outbound request policy (https, unless the allow-list opens the host).
    if (values.delivery.endpointUrl !== null) await this.hooks.checkEndpoint?.(values.delivery.endpointUrl);
    return values;
  }

  /** The receiver an API token is: a community token that may receive the community's events (`events.receive`). */
  async tokenReceiver(principal: Principal, community: string): Promise<StreamCaller> {
    if (principal.kind === 'tenant') {
      // A SCIM writer receives the asynchronous responses to its writes (use case 2.3.1), in its office's community.
      authorize(principal, 'scim.write');
      const communityId = await this.hooks.tenantCommunity?.(principal.tenantId, community);
      if (communityId === undefined) throw new MeridianError('NOT_FOUND', `Community '${community}' not found.`, { field: 'community' });
      return { communityId, receiver: { kind: 'token', tokenId: principal.tokenId }, asyncOnly: true };
    }
    const found = await this.admin.authorizeCommunity(principal, 'events.receive', community);
    if (principal.kind !== 'community') throw new MeridianError('FORBIDDEN', 'A stream receiver is a community token.');
    const readsDirectory = decideAuthorization(principal, 'directory.read', { communityId: found.id }).allowed;
    return { communityId: found.id, receiver: { kind: 'token', tokenId: principal.tokenId }, readsDirectory };
  }

  /**
   * Creates a stream of the caller's (SSF 1.0 §8.1.1.1). A community token's
   * stream carries every User and Group of the community: only a token that
   * may read the directory gets one; a relying party uses its registration.
   */
  async create(caller: StreamCaller, input: StreamInput, context: RequestContext): Promise<EventStream> {
    if (caller.receiver.kind === 'token' && caller.readsDirectory !== true && caller.asyncOnly !== true)
      throw new MeridianError('FORBIDDEN', TOKEN_STREAM_REFUSED);
    return this.store.create(caller.communityId, caller.receiver, await this.checked(input, undefined, caller.asyncOnly), context);
  }

  /** The caller's streams, or one of them. */
  async list(caller: StreamCaller): Promise<EventStream[]> {
    return this.store.list(caller.communityId, caller.receiver);
  }

  /** One of the caller's streams; NOT_FOUND for another receiver's. */
  async get(caller: StreamCaller, streamId: string): Promise<EventStream> {
    const stream = typeof streamId === 'string' && streamId.length <= 64 ? await this.store.find(caller.communityId, streamId) : undefined;
    if (!stream || !sameReceiver(stream.receiver, caller.receiver)) {
      throw new MeridianError('NOT_FOUND', `Stream '${String(streamId)}' not found.`, { field: 'stream_id' });
    }
    return stream;
  }

  /** SSF 1.0 §8.1.1.3 (PATCH: members given change) and §8.1.1.4 (PUT: the whole configuration). */
  async update(
    caller: StreamCaller,
    streamId: string,
    input: StreamInput,
    replace: boolean,
    context: RequestContext,
  ): Promise<EventStream> {
    const stream = await this.get(caller, streamId);
    const current = {
      description: stream.description,
      delivery: { ...stream.delivery, authorization: undefined },
      eventsRequested: stream.eventsRequested,
      filter: stream.filter,
      attributes: stream.attributes,
    };
    const values = await this.checked(input, replace ? undefined : current, caller.asyncOnly);
    return this.store.update(stream, values, context);
  }

  async delete(caller: StreamCaller, streamId: string, context: RequestContext): Promise<void> {
    await this.store.delete(await this.get(caller, streamId), context);
  }

  /** SSF 1.0 §8.1.2.2. */
  async setStatus(caller: StreamCaller, streamId: string, status: unknown, reason: unknown, context: RequestContext): Promise<EventStream> {
    const stream = await this.get(caller, streamId);
    const why = typeof reason === 'string' ? reason.slice(0, 500) : null;
    return this.store.setStatus(stream, parseStreamStatus(status), why, context);
  }

  /** SSF 1.0 §8.1.3.2 (add) and §8.1.3.3 (remove). */
  async setSubject(caller: StreamCaller, streamId: string, subject: unknown, included: boolean, context: RequestContext): Promise<void> {
    const stream = await this.get(caller, streamId);
    await this.store.setSubject(stream, subjectKeyOf(subject), subject as Record<string, unknown>, included, context);
  }

  /** SSF 1.0 §8.1.4.2: queues a verification event carrying `state`. */
  async verify(caller: StreamCaller, streamId: string, state: unknown, context: RequestContext): Promise<void> {
    const stream = await this.get(caller, streamId);
    if (state !== undefined && (typeof state !== 'string' || state.length > 1024)) {
      throw new MeridianError('INVALID_INPUT', 'state must be a string.', { field: 'state' });
    }
    if (stream.status !== 'enabled') throw new MeridianError('CONFLICT', 'The stream is not enabled.', { field: 'stream_id' });
    const jti = this.newId();
    const token = await this.signer.sign(stream, {
      jti,
      txn: context.requestId,
      sub_id: { format: 'opaque', id: stream.id },
      events: { [STREAM_EVENT.verification]: state === undefined ? {} : { state } },
    });
    await this.store.append([
      {
        streamId: stream.id,
        communityId: stream.communityId,
        jti,
        txn: context.requestId,
        subjectKeys: [],
        eventTypes: [STREAM_EVENT.verification],
        token,
      },
    ]);
    this.hooks.onAppend?.();
  }

  /** RFC 8936: acknowledges, records errors, and hands out SETs. */
  async poll(caller: StreamCaller, streamId: string, request: PollRequest): Promise<PollAnswer> {
    const stream = await this.get(caller, streamId);
    if (stream.delivery.method !== 'poll') throw new MeridianError('CONFLICT', 'The stream is delivered by push.', { field: 'stream_id' });
    return this.store.poll(stream, request);
  }

  // --- Admins (GraphQL, the CLI) ---

  /** Creates a stream for a receiver of the community (a relying party's client id, or a community token's id). */
  async adminCreate(
    principal: Principal,
    community: string,
    receiver: StreamReceiver,
    input: StreamInput,
    context: RequestContext,
  ): Promise<EventStream> {
    const found = await this.admin.authorizeCommunity(principal, 'sso.manage', community);
    const values = await this.checked(input);
    if (this.hooks.receiverExists && !(await this.hooks.receiverExists(found.id, receiver))) {
      throw new MeridianError('NOT_FOUND', 'There is no such relying party or community token in this community.', { field: 'receiver' });
    }
    if (receiver.kind === 'token' && !(await this.hooks.tokenReadsDirectory?.(found.id, receiver.tokenId))) {
      throw new MeridianError('FORBIDDEN', TOKEN_STREAM_REFUSED, { field: 'receiver' });
    }
    return this.store.create(found.id, receiver, values, context);
  }

  /** The community's streams with their counts. */
  async adminList(principal: Principal, community: string): Promise<StreamSummary[]> {
    const found = await this.admin.authorizeCommunity(principal, 'sso.read', community);
    const streams = await this.store.list(found.id);
    return Promise.all(streams.map(async (stream) => ({ stream, counts: await this.store.counts(stream) })));
  }

  /** One stream of the community with its counts. */
  async adminGet(principal: Principal, community: string, streamId: string): Promise<StreamSummary> {
    const found = await this.admin.authorizeCommunity(principal, 'sso.read', community);
    const stream = await this.store.find(found.id, streamId);
    if (!stream) throw new MeridianError('NOT_FOUND', `Stream '${streamId}' not found.`, { field: 'stream' });
    return { stream, counts: await this.store.counts(stream) };
  }

  /** Pauses, resumes or disables a stream of the community. */
  async adminSetStatus(
    principal: Principal,
    community: string,
    streamId: string,
    status: StreamStatus,
    context: RequestContext,
  ): Promise<EventStream> {
    const found = await this.admin.authorizeCommunity(principal, 'sso.manage', community);
    const stream = await this.store.find(found.id, streamId);
    if (!stream) throw new MeridianError('NOT_FOUND', `Stream '${streamId}' not found.`, { field: 'stream' });
    return this.store.setStatus(stream, parseStreamStatus(status), 'set by an administrator', context);
  }

  async adminDelete(principal: Principal, community: string, streamId: string, context: RequestContext): Promise<EventStream> {
    const found = await this.admin.authorizeCommunity(principal, 'sso.manage', community);
    const stream = await this.store.find(found.id, streamId);
    if (!stream) throw new MeridianError('NOT_FOUND', `Stream '${streamId}' not found.`, { field: 'stream' });
    await this.store.delete(stream, context);
    return stream;
  }
}

function sameReceiver(a: StreamReceiver, b: StreamReceiver): boolean {
  return a.kind === 'client' ? b.kind === 'client' && a.clientId === b.clientId : b.kind === 'token' && a.tokenId === b.tokenId;
}
