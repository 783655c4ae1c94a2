import { resourceShapes } from '../scim/resource-types.js';
import type { StreamSigner } from './event-stream-service.js';
import { planGrantRevocation, planStreamEvents, type StreamChange, type StreamRules, type StreamView, streamRules } from './plan-events.js';
import type { EventStreamStore, NewStreamSet } from './ports.js';
import type { EventStream } from './stream-config.js';

/** A change waiting for the streams of its community (written with the change, in its transaction). */
export interface StreamInboxEntry extends StreamChange {
  inboxId: string;
  communityId: string;
  tenantId: string;
}

/** What a receiver may see of a resource and how it names it. */
export interface AudienceView extends StreamView {
  /** The SET's `sub_id` (SSF 1.0 §3, RFC 9493 / RFC 9967 §2.1 formats). */
  subject: Record<string, unknown>;
  /** The keys the stream's subject list may name it by (`email:…`, `opaque:…`, `scim:…`). */
  keys: string[];
}

/** Decides, per stream and change, what the receiver may see (for a relying party: the release ledger). */
export interface StreamAudience {
  view(stream: EventStream, entry: StreamInboxEntry): Promise<AudienceView>;
}

/** The streams of the communities in a batch, with the subjects each one excludes (SSF 1.0 §8.1.3.3). */
export interface ProducerBatch {
  entries: StreamInboxEntry[];
  streams: EventStream[];
  excluded: Map<string, Set<string>>;
}

/** The producer's side of the store: one step in one transaction. */
export interface StreamProducerStore {
  /**
   * Claims up to `limit` inbox entries (one producer at a time), hands them
   * with their communities' enabled and paused streams to `plan`, stores the
   * SETs it returns and removes the entries, all in one transaction: a crash
   * leaves the entries for the next step. Answers how many entries it took.
   */
  produce(limit: number, plan: (batch: ProducerBatch) => Promise<NewStreamSet[]>): Promise<number>;
}

/**
 * Turns changes into SETs (issue 17, docs/events.md): for each change and
 * each stream of its community, the events {@link planStreamEvents} decides,
 * as one SET per (change, stream) signed with the community issuer's key;
 * `txn` is the outbox event's id, so every receiver's SET about one change
 * shares it.
 */
export class StreamProducer {
  constructor(
    private readonly store: StreamProducerStore & Pick<EventStreamStore, 'append'>,
    private readonly audience: StreamAudience,
    private readonly signer: StreamSigner,
    private readonly newId: () => string,
  ) {}

  /** One step; answers how many changes it took from the inbox. */
  async runOnce(limit = 200): Promise<number> {
    return this.store.produce(limit, (batch) => this.plan(batch));
  }

  private async plan(batch: ProducerBatch): Promise<NewStreamSet[]> {
    const rules = new Map<string, StreamRules>();
    const sets: NewStreamSet[] = [];
    for (const entry of batch.entries) {
      for (const stream of batch.streams) {
        if (stream.communityId !== entry.communityId) continue;
        if (entry.kind === 'Grant') {
          // A grant revoked concerns the relying party it was given to only: another one keeps its own sessions, and a
          // community token's stream carries the directory, not which applications a person signs in to (docs/events.md).
          if (stream.receiver.kind !== 'client' || stream.receiver.clientId !== entry.grant?.clientId) continue;
        } else if (stream.receiver.kind === 'client' && entry.kind !== 'User') {
          // A relying party knows people, not groups (docs/events.md).
          continue;
        }
        let streamRule = rules.get(stream.id);
        if (!streamRule) {
          streamRule = streamRules(stream);
          rules.set(stream.id, streamRule);
        }
        if (streamRule.delivered.size === 0) continue;
        const view = await this.audience.view(stream, entry);
        if (!view.visible) continue;
        const excluded = batch.excluded.get(stream.id);
        if (excluded && view.keys.some((key) => excluded.has(key))) continue;
        const events =
          entry.kind === 'Grant'
            ? planGrantRevocation(streamRule, entry)
            : planStreamEvents(streamRule, entry, view, resourceShapes[entry.kind]);
        if (events.length === 0) continue;
        const jti = this.newId();
        const payload = Object.fromEntries(events.map((e) => [e.type, e.payload]));
        const token = await this.signer.sign(stream, { jti, txn: entry.eventId, sub_id: view.subject, events: payload });
        sets.push({
          streamId: stream.id,
          communityId: stream.communityId,
          jti,
          txn: entry.eventId,
          subjectKeys: view.keys,
          eventTypes: events.map((e) => e.type),
          token,
        });
      }
    }
    return sets;
  }
}
