import type { DeliveryOutcome, DeliveryWaiting } from '../ports/replication-admin.js';
import type { ResourceKind } from '../scim/resource-types.js';
import type { StreamSigner } from './event-stream-service.js';
import type { EventStreamStore, NewStreamSet } from './ports.js';
import { type EventStream, eventsDelivered, STREAM_EVENT } from './stream-config.js';

/** The SCIM methods a client may send with `Prefer: respond-async` (RFC 9967 §2.5.1). */
export type AsyncMethod = 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** What the synchronous write answered, kept until the asynchronous response is sent. */
export interface AsyncWriteResult {
  status: number;
  kind: ResourceKind;
  resourceId: string;
  /** The resource's absolute URI (RFC 7644 §3.1 `meta.location`). */
  location: string;
  /** The ETag after the write; null for a deletion. */
  version: string | null;
}

/** A recorded asynchronous request. `result` is null until the write committed (or when it was recovered without one). */
export interface AsyncRequest {
  id: string;
  tenantId: string;
  communityId: string;
  tokenId: string;
  requestId: string;
  method: AsyncMethod;
  result: AsyncWriteResult | null;
  createdAt: Date;
}

/** The asynchronous requests' table (migration 20261208500000). */
export interface AsyncRequestStore {
  /**
   * Records a request before its write runs, when the token has a stream of its
   * community that is not disabled and asks for `misc:asyncresp`; answers its
   * id, or undefined when there is no such stream (the preference is ignored).
   */
  begin(tenantId: string, tokenId: string, requestId: string, method: AsyncMethod): Promise<string | undefined>;
  /** The write committed: what it answered. */
  accept(id: string, result: AsyncWriteResult): Promise<void>;
  /** The write failed and answered its error synchronously: nothing to send. */
  abandon(id: string): Promise<void>;
  /**
   * Requests to look at: accepted ones, and ones never accepted created before
   * `recoverBefore`, whose result is read back from the outbox by request id
   * (`result` null: the write never committed).
   */
  due(limit: number, recoverBefore: Date): Promise<(AsyncRequest & { recovered: boolean })[]>;
  /** Stores the SETs and removes the request, in one transaction. */
  finish(request: AsyncRequest, sets: NewStreamSet[]): Promise<void>;
}

/** How long a never-accepted request is left to its write before the outbox decides (a write takes well under this). */
const RECOVER_AFTER_MS = 120_000;
/** After this long the response is sent with the targets still pending (a paused or failing target). */
const GIVE_UP_AFTER_MS = 86_400_000;

const FINAL = new Set(['synced', 'deactivated', 'grace', 'deleted', 'out_of_scope', 'dead_lettered']);

/** `delivered` or `dead_lettered` and the rest, as the event names a target's outcome. */
function outcomeOf(o: DeliveryOutcome): Record<string, unknown> {
  return {
    target: o.target,
    targetId: o.targetId,
    status: o.status,
    ...(o.remoteId !== null ? { remoteId: o.remoteId } : {}),
    ...(o.error !== null && o.status !== 'synced' ? { error: o.error } : {}),
  };
}

/**
 * RFC 9967 §2.5.1.3: the payload of `misc:asyncresp` is one Bulk response
 * operation (RFC 7644 §3.7.3): `method`, `location`, `version`, `status`.
 * Meridian adds `targets`: where the change stands at each downstream target
 * in scope (use case 2.3.1), and `complete`.
 */
function asyncResponsePayload(
  method: AsyncMethod,
  result: AsyncWriteResult,
  outcomes: DeliveryOutcome[],
  complete: boolean,
): Record<string, unknown> {
  return {
    method,
    location: result.location,
    ...(result.version !== null ? { version: result.version } : {}),
    status: String(result.status),
    complete,
    targets: outcomes.map(outcomeOf),
  };
}

/**
 * Asynchronous SCIM requests (issue 17, use case 2.3.1): a write sent with
 * `Prefer: respond-async` is committed at once and answered 202; when every
 * target in scope for what it changed reached a final outcome (delivered,
 * out of scope, dead-lettered), one `misc:asyncresp` SET goes to each stream
 * of the writing token that asks for it, with `txn` the request id (the 202's
 * `Set-Txn`). Nothing is lost on a crash: the request is recorded before the
 * write and removed in the transaction that stores its SETs.
 */
export class AsyncResponder {
  constructor(
    private readonly store: AsyncRequestStore,
    private readonly streams: Pick<EventStreamStore, 'list'>,
    private readonly waiting: Pick<DeliveryWaiting, 'waitFor'>,
    private readonly signer: StreamSigner,
    private readonly newId: () => string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  begin(tenantId: string, tokenId: string, requestId: string, method: AsyncMethod): Promise<string | undefined> {
    return this.store.begin(tenantId, tokenId, requestId, method);
  }

  accept(id: string, result: AsyncWriteResult): Promise<void> {
    return this.store.accept(id, result);
  }

  abandon(id: string): Promise<void> {
    return this.store.abandon(id);
  }

  /** One step: sends the responses of the requests whose deliveries are final; answers how many it settled. */
  async runOnce(limit = 100): Promise<number> {
    const now = this.now();
    const due = await this.store.due(limit, new Date(now.getTime() - RECOVER_AFTER_MS));
    let settled = 0;
    for (const request of due) {
      if (request.result === null) {
        // Never accepted and nothing in the outbox: the write did not commit, and the caller had no 202.
        await this.store.finish(request, []);
        settled++;
        continue;
      }
      const outcome = await this.waiting.waitFor(request.tenantId, request.requestId, 0);
      const complete = outcome.outcomes.every((o) => FINAL.has(o.status));
      if (!complete && now.getTime() - request.createdAt.getTime() < GIVE_UP_AFTER_MS) continue;
      const streams = (await this.streams.list(request.communityId, { kind: 'token', tokenId: request.tokenId })).filter(
        (s) => s.status !== 'disabled' && eventsDelivered(s).includes(STREAM_EVENT.asyncResponse),
      );
      const sets = await Promise.all(
        streams.map((stream) => this.#set(stream, request, request.result as AsyncWriteResult, outcome.outcomes, complete)),
      );
      await this.store.finish(request, sets);
      settled++;
    }
    return settled;
  }

  async #set(
    stream: EventStream,
    request: AsyncRequest,
    result: AsyncWriteResult,
    outcomes: DeliveryOutcome[],
    complete: boolean,
  ): Promise<NewStreamSet> {
    const jti = this.newId();
    const uri = `/${result.kind === 'User' ? 'Users' : 'Groups'}/${result.resourceId}`;
    const ofResource = outcomes.filter((o) => o.resourceId === result.resourceId);
    const token = await this.signer.sign(stream, {
      jti,
      // RFC 9967 §3: the `txn` is the 202's Set-Txn.
      txn: request.requestId,
      sub_id: { format: 'scim', uri, id: result.resourceId },
      events: { [STREAM_EVENT.asyncResponse]: asyncResponsePayload(request.method, result, ofResource, complete) },
    });
    return {
      streamId: stream.id,
      communityId: stream.communityId,
      jti,
      txn: request.requestId,
      subjectKeys: [`scim:${uri}`, `opaque:${result.resourceId}`],
      eventTypes: [STREAM_EVENT.asyncResponse],
      token,
    };
  }
}
