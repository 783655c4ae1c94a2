import type {
  Clock,
  EventStream,
  EventStreamStore,
  NewStreamSet,
  PollAnswer,
  PollRequest,
  ProducerBatch,
  RequestContext,
  StreamCounts,
  StreamInboxEntry,
  StreamProducerStore,
  StreamReceiver,
  StreamStatus,
  StreamValues,
} from '@meridian/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { v7 as uuidv7 } from 'uuid';
import { recordEvent } from '../events/event-recorder.js';
import { OutboxWakeups, STREAMS_CHANNEL } from '../events/outbox-wakeups.js';
import { pgArray } from '../orm/sql.js';
import { asPlatform, inCommunity } from '../orm/unit-of-work.js';
import type { SecretBox } from '../secrets/secret-box.js';

interface StreamRow {
  id: string;
  community_id: string;
  receiver_kind: 'client' | 'token';
  receiver_id: string;
  description: string | null;
  delivery_method: 'push' | 'poll';
  endpoint_url: string | null;
  authorization_sealed: string | null;
  events_requested: string[];
  filter: string | null;
  attributes: string[];
  status: StreamStatus;
  status_reason: string | null;
  created_at: Date;
  updated_at: Date;
}

function toStream(row: StreamRow): EventStream {
  return {
    id: row.id,
    communityId: row.community_id,
    receiver: row.receiver_kind === 'client' ? { kind: 'client', clientId: row.receiver_id } : { kind: 'token', tokenId: row.receiver_id },
    description: row.description,
    delivery: { method: row.delivery_method, endpointUrl: row.endpoint_url },
    hasAuthorization: row.authorization_sealed !== null,
    eventsRequested: row.events_requested,
    filter: row.filter,
    attributes: row.attributes,
    status: row.status,
    statusReason: row.status_reason,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

/** What the audit log keeps of a stream (never the push authorization). */
function auditValues(stream: EventStream): Record<string, unknown> {
  return {
    communityId: stream.communityId,
    receiver: stream.receiver,
    delivery: stream.delivery,
    eventsRequested: stream.eventsRequested,
    filter: stream.filter,
    attributes: stream.attributes,
    status: stream.status,
  };
}

/** The SecretBox context of a push stream's Authorization header: it opens for that stream and endpoint only. */
function authorizationContext(streamId: string, endpointUrl: string): string {
  return `event-stream:${streamId}:${new URL(endpointUrl).origin}`;
}

/** A SET due for a push, with where it goes. */
export interface PushItem {
  seq: string;
  streamId: string;
  communityId: string;
  jti: string;
  token: string;
  attempts: number;
  endpointUrl: string;
  authorization: string | null;
}

/** Seconds a claimed push is leased for: a process that dies mid-push leaves it to another after this. */
const PUSH_LEASE_MS = 60_000;
const PRODUCER_LOCK = 7_017_001;
/** RFC 8936: a SET handed out and not acknowledged is handed out again after this. */
const REDELIVER_MS = 30_000;

/**
 * Streams, their subjects and SETs (issue 17) in PostgreSQL: the core
 * {@link EventStreamStore} and {@link StreamProducerStore}, push leases and
 * results, the release ledger look-ups of relying parties' streams, and the
 * pruning of acknowledged SETs. Stream changes are audited on the platform chain.
 */
export class PostgresEventStreamStore implements EventStreamStore, StreamProducerStore {
  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
    private readonly box: Pick<SecretBox, 'encrypt' | 'decrypt'>,
  ) {}

  create(communityId: string, receiver: StreamReceiver, values: StreamValues, context: RequestContext): Promise<EventStream> {
    return asPlatform(this.orm, async (em) => {
      const now = this.clock.now();
      const id = uuidv7();
      const receiverId = receiver.kind === 'client' ? receiver.clientId : receiver.tokenId;
      const sealed =
        values.delivery.authorization && values.delivery.endpointUrl
          ? this.box.encrypt(values.delivery.authorization, authorizationContext(id, values.delivery.endpointUrl))
          : null;
      const [row] = await em.execute<StreamRow[]>(
        `insert into event_stream (id, community_id, receiver_kind, receiver_id, description, delivery_method, endpoint_url,
           authorization_sealed, events_requested, filter, attributes, status, status_reason, created_at, updated_at)
         values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'enabled', null, ?, ?) returning *`,
        [
          id,
          communityId,
          receiver.kind,
          receiverId,
          values.description,
          values.delivery.method,
          values.delivery.endpointUrl,
          sealed,
          pgArray(values.eventsRequested),
          values.filter,
          pgArray(values.attributes),
          now,
          now,
        ],
      );
      const stream = toStream(row as StreamRow);
      if (receiver.kind === 'client') {
        // The accounts of the people the relying party holds now: their deletion is told even after the global
        // directory forgot the account (the producer keeps this up to date from then on).
        await em.execute(
          `insert into event_stream_account (tenant_id, user_id, community_id, person_id)
           select a.tenant_id, a.user_id, a.community_id, a.person_id from directory_account a
           join sso_release r on r.community_id = a.community_id and r.person_id = a.person_id
           where r.community_id = ? and r.client_id = ?
           on conflict (tenant_id, user_id) do update set person_id = excluded.person_id`,
          [communityId, receiver.clientId],
        );
      }
      await this.audit(em, 'stream.created', stream, null, auditValues(stream), context, now);
      return stream;
    });
  }

  async list(communityId: string, receiver?: StreamReceiver): Promise<EventStream[]> {
    const rows = await inCommunity(this.orm, communityId, (em) =>
      receiver
        ? em.execute<StreamRow[]>(
            'select * from event_stream where community_id = ? and receiver_kind = ? and receiver_id = ? order by created_at, id',
            [communityId, receiver.kind, receiver.kind === 'client' ? receiver.clientId : receiver.tokenId],
          )
        : em.execute<StreamRow[]>('select * from event_stream where community_id = ? order by created_at, id', [communityId]),
    );
    return rows.map(toStream);
  }

  async find(communityId: string, streamId: string): Promise<EventStream | undefined> {
    if (!/^[0-9a-f-]{36}$/i.test(streamId)) return undefined;
    const [row] = await inCommunity(this.orm, communityId, (em) =>
      em.execute<StreamRow[]>('select * from event_stream where community_id = ? and id = ?', [communityId, streamId]),
    );
    return row ? toStream(row) : undefined;
  }

  update(stream: EventStream, values: StreamValues, context: RequestContext): Promise<EventStream> {
    return asPlatform(this.orm, async (em) => {
      const now = this.clock.now();
      // An authorization not given again is kept while the endpoint stays the same; a new endpoint drops it.
      const keep = values.delivery.authorization === undefined && values.delivery.endpointUrl === stream.delivery.endpointUrl;
      const sealed =
        values.delivery.authorization && values.delivery.endpointUrl
          ? this.box.encrypt(values.delivery.authorization, authorizationContext(stream.id, values.delivery.endpointUrl))
          : null;
      const [row] = await em.execute<StreamRow[]>(
        `update event_stream set description = ?, delivery_method = ?, endpoint_url = ?,
           authorization_sealed = case when ? then authorization_sealed else ? end,
           events_requested = ?, filter = ?, attributes = ?, updated_at = ?
         where id = ? and community_id = ? returning *`,
        [
          values.description,
          values.delivery.method,
          values.delivery.endpointUrl,
          keep,
          sealed,
          pgArray(values.eventsRequested),
          values.filter,
          pgArray(values.attributes),
          now,
          stream.id,
          stream.communityId,
        ],
      );
      const updated = toStream(row as StreamRow);
      await this.audit(em, 'stream.updated', updated, auditValues(stream), auditValues(updated), context, now);
      return updated;
    });
  }

  setStatus(stream: EventStream, status: StreamStatus, reason: string | null, context: RequestContext): Promise<EventStream> {
    return asPlatform(this.orm, async (em) => {
      const now = this.clock.now();
      const [row] = await em.execute<StreamRow[]>(
        'update event_stream set status = ?, status_reason = ?, updated_at = ? where id = ? and community_id = ? returning *',
        [status, reason, now, stream.id, stream.communityId],
      );
      const updated = toStream(row as StreamRow);
      await this.audit(em, 'stream.updated', updated, { status: stream.status }, { status, reason }, context, now);
      return updated;
    });
  }

  delete(stream: EventStream, context: RequestContext): Promise<void> {
    return asPlatform(this.orm, async (em) => {
      await em.execute('delete from event_stream where id = ? and community_id = ?', [stream.id, stream.communityId]);
      await this.audit(em, 'stream.deleted', stream, auditValues(stream), null, context, this.clock.now());
    });
  }

  setSubject(
    stream: EventStream,
    key: string,
    subject: Record<string, unknown>,
    included: boolean,
    context: RequestContext,
  ): Promise<void> {
    return asPlatform(this.orm, async (em) => {
      await em.execute(
        `insert into event_stream_subject (stream_id, community_id, subject_key, subject, included) values (?, ?, ?, ?, ?)
         on conflict (stream_id, subject_key) do update set subject = excluded.subject, included = excluded.included`,
        [stream.id, stream.communityId, key, JSON.stringify(subject), included],
      );
      await this.audit(em, 'stream.updated', stream, null, { subject: key, included }, context, this.clock.now());
    });
  }

  async counts(stream: EventStream): Promise<StreamCounts> {
    const rows = await inCommunity(this.orm, stream.communityId, (em) =>
      em.execute<{ state: keyof StreamCounts; n: string }[]>(
        'select state, count(*) as n from event_stream_set where stream_id = ? and community_id = ? group by state',
        [stream.id, stream.communityId],
      ),
    );
    const counts: StreamCounts = { pending: 0, delivered: 0, acknowledged: 0, failed: 0, dead: 0 };
    for (const row of rows) counts[row.state] = Number(row.n);
    return counts;
  }

  async append(sets: NewStreamSet[]): Promise<void> {
    if (sets.length === 0) return;
    await asPlatform(this.orm, (em) => insertSets(em, sets, this.clock.now()));
  }

  poll(stream: EventStream, request: PollRequest): Promise<PollAnswer> {
    return inCommunity(this.orm, stream.communityId, async (em) => {
      const now = this.clock.now();
      if (request.ack.length > 0) {
        await em.execute(
          `update event_stream_set set state = 'acknowledged', settled_at = ?
           where stream_id = ? and jti = any(?::text[]) and state in ('pending', 'delivered')`,
          [now, stream.id, pgArray(request.ack)],
        );
      }
      for (const [jti, error] of Object.entries(request.setErrs)) {
        await em.execute(
          `update event_stream_set set state = 'failed', settled_at = ?, last_error = ?
           where stream_id = ? and jti = ? and state in ('pending', 'delivered')`,
          [now, `${error.err}: ${error.description ?? ''}`.slice(0, 500), stream.id, jti],
        );
      }
      // SSF 1.0 §8.1.2: a paused stream keeps its events; only an enabled one hands them out.
      if (stream.status !== 'enabled' || request.maxEvents === 0) return { sets: {}, moreAvailable: false };
      const rows = await em.execute<{ seq: string; jti: string; token: string }[]>(
        `select seq, jti, token from event_stream_set
         where stream_id = ? and (state = 'pending' or (state = 'delivered' and delivered_at < ?))
         order by seq limit ? for update skip locked`,
        [stream.id, new Date(now.getTime() - REDELIVER_MS), request.maxEvents + 1],
      );
      const given = rows.slice(0, request.maxEvents);
      if (given.length > 0) {
        await em.execute(`update event_stream_set set state = 'delivered', delivered_at = ? where seq = any(?::bigint[])`, [
          now,
          pgArray(given.map((r) => String(r.seq))),
        ]);
      }
      return { sets: Object.fromEntries(given.map((r) => [r.jti, r.token])), moreAvailable: rows.length > request.maxEvents };
    });
  }

  produce(limit: number, plan: (batch: ProducerBatch) => Promise<NewStreamSet[]>): Promise<number> {
    return asPlatform(this.orm, async (em) => {
      const [lock] = await em.execute<{ locked: boolean }[]>('select pg_try_advisory_xact_lock(?) as locked', [PRODUCER_LOCK]);
      if (!lock?.locked) return 0;
      // The entries alone first: with nothing to do the step ends here, after one read of an empty table.
      const rows = await em.execute<InboxRow[]>('select * from event_stream_inbox order by id limit ?', [limit]);
      if (rows.length === 0) return 0;
      const communities = [...new Set(rows.map((r) => r.community_id))];
      const streams = (
        await em.execute<StreamRow[]>(
          `select * from event_stream where community_id = any(?::uuid[]) and status in ('enabled', 'paused') order by created_at, id`,
          [pgArray(communities)],
        )
      ).map(toStream);
      const excluded = new Map<string, Set<string>>();
      if (streams.length > 0) {
        const subjects = await em.execute<{ stream_id: string; subject_key: string }[]>(
          'select stream_id, subject_key from event_stream_subject where not included and stream_id = any(?::uuid[])',
          [pgArray(streams.map((s) => s.id))],
        );
        for (const s of subjects) excluded.set(s.stream_id, (excluded.get(s.stream_id) ?? new Set()).add(s.subject_key));
      }
      // Entries left from a stream deleted since are dropped without their changes being read.
      const diffs = streams.length === 0 ? [] : await changeDiffs(em, rows);
      const entries: StreamInboxEntry[] = rows.map((r, i) => ({
        ...grantOf(r.resource_type, diffs[i]?.before),
        inboxId: String(r.id),
        communityId: r.community_id,
        tenantId: r.tenant_id,
        eventId: String(r.outbox_id),
        requestId: r.request_id,
        type: r.type,
        kind: r.resource_type,
        resourceId: r.resource_id,
        version: r.resource_version === null ? null : Number(r.resource_version),
        before: (diffs[i]?.before ?? null) as StreamInboxEntry['before'],
        after: (diffs[i]?.after ?? null) as StreamInboxEntry['after'],
        occurredAt: new Date(r.created_at),
        credentialChanged: r.credential_changed === true,
      }));
      const sets = streams.length === 0 ? [] : await plan({ entries, streams, excluded });
      await insertSets(em, sets, this.clock.now());
      await em.execute('delete from event_stream_inbox where id = any(?::bigint[])', [pgArray(rows.map((r) => String(r.id)))]);
      return rows.length;
    });
  }

  /**
   * A dedicated `LISTEN` connection on the streams' channel (migration 20261210000000, ADR 0037): `onWake` runs when a
   * change reached the stream inbox, SETs were written or an asynchronous request registered or accepted, in any process.
   */
  listen(onWake: () => void, onError?: (error: Error) => void): Promise<OutboxWakeups> {
    return OutboxWakeups.start(this.orm, onWake, onError, STREAMS_CHANNEL);
  }

  /**
   * The person behind an office account and the claims released to a relying
   * party about them that it may still keep (the release ledger, use case
   * 3.5); undefined when it holds nothing of them.
   */
  releaseOf(
    communityId: string,
    clientId: string,
    tenantId: string,
    userId: string,
  ): Promise<{ personId: string; claims: string[] } | undefined> {
    return inCommunity(this.orm, communityId, async (em) => {
      const [linked] = await em.execute<{ person_id: string }[]>(
        'select person_id from directory_account where tenant_id = ? and user_id = ? and community_id = ?',
        [tenantId, userId, communityId],
      );
      if (linked) {
        await em.execute(
          `insert into event_stream_account (tenant_id, user_id, community_id, person_id) values (?, ?, ?, ?)
           on conflict (tenant_id, user_id) do update set person_id = excluded.person_id`,
          [tenantId, userId, communityId, linked.person_id],
        );
      }
      const personId =
        linked?.person_id ??
        (
          await em.execute<{ person_id: string }[]>(
            'select person_id from event_stream_account where tenant_id = ? and user_id = ? and community_id = ?',
            [tenantId, userId, communityId],
          )
        )[0]?.person_id;
      if (personId === undefined) return undefined;
      const [release] = await em.execute<{ claims: string[] }[]>(
        'select claims from sso_release where community_id = ? and client_id = ? and person_id = ? and expires_at > ?',
        [communityId, clientId, personId, this.clock.now()],
      );
      return release ? { personId, claims: release.claims } : undefined;
    });
  }

  /**
   * Leases the next SETs of push streams whose oldest pending SET is due, up
   * to `perStream` per stream in order (a stream's SETs are pushed in order:
   * a later one waits while an earlier one backs off).
   */
  claimPushes(streams: number, perStream: number): Promise<PushItem[]> {
    return asPlatform(this.orm, async (em) => {
      const now = this.clock.now();
      const rows = await em.execute<(StreamRow & { seq: string; jti: string; token: string; attempts: number })[]>(
        `with heads as (
           select distinct on (s.stream_id) s.stream_id, s.next_attempt_at from event_stream_set s
           where s.state = 'pending' order by s.stream_id, s.seq
         ), due as (
           select h.stream_id from heads h join event_stream e on e.id = h.stream_id
           where h.next_attempt_at <= ? and e.status = 'enabled' and e.delivery_method = 'push' limit ?
         ), picked as (
           select s.seq from due d cross join lateral (
             select seq from event_stream_set x where x.stream_id = d.stream_id and x.state = 'pending' order by x.seq limit ?
           ) s
         )
         update event_stream_set s set next_attempt_at = ?, attempts = s.attempts + 1
         from event_stream e
         where s.seq in (select seq from picked) and e.id = s.stream_id
         returning s.seq, s.jti, s.token, s.attempts, e.*`,
        [now, streams, perStream, new Date(now.getTime() + PUSH_LEASE_MS)],
      );
      return rows
        .map((r) => ({
          seq: String(r.seq),
          streamId: r.id,
          communityId: r.community_id,
          jti: r.jti,
          token: r.token,
          attempts: Number(r.attempts),
          endpointUrl: r.endpoint_url as string,
          authorization: r.authorization_sealed
            ? this.box.decrypt(r.authorization_sealed, authorizationContext(r.id, r.endpoint_url as string))
            : null,
        }))
        .sort((a, b) => (BigInt(a.seq) < BigInt(b.seq) ? -1 : 1));
    });
  }

  /** Records a push's outcome: accepted, refused (failed), to retry at `retryAt`, or dead after its last attempt. */
  async settlePush(seq: string, outcome: { state: 'acknowledged' | 'failed' | 'dead' } | { retryAt: Date }, error?: string): Promise<void> {
    await asPlatform(this.orm, async (em) => {
      const now = this.clock.now();
      if ('retryAt' in outcome) {
        await em.execute(`update event_stream_set set next_attempt_at = ?, last_error = ? where seq = ? and state = 'pending'`, [
          outcome.retryAt,
          error?.slice(0, 500) ?? null,
          seq,
        ]);
      } else {
        await em.execute(
          `update event_stream_set set state = ?, settled_at = ?, delivered_at = ?, last_error = ? where seq = ? and state = 'pending'`,
          [outcome.state, now, now, error?.slice(0, 500) ?? null, seq],
        );
      }
    });
  }

  /** Makes a stream's dead SETs pending again (an admin's replay). */
  async replayDead(stream: EventStream): Promise<number> {
    return inCommunity(this.orm, stream.communityId, async (em) => {
      const rows = await em.execute<{ seq: string }[]>(
        `update event_stream_set set state = 'pending', attempts = 0, next_attempt_at = ?, settled_at = null
         where stream_id = ? and state = 'dead' returning seq`,
        [this.clock.now(), stream.id],
      );
      return rows.length;
    });
  }

  /** Deletes acknowledged SETs settled longer than `retentionMs` ago; answers how many went. */
  async prune(retentionMs: number, limit = 10_000): Promise<number> {
    return asPlatform(this.orm, async (em) => {
      const rows = await em.execute<{ seq: string }[]>(
        `delete from event_stream_set where seq in (
           select seq from event_stream_set where state = 'acknowledged' and settled_at < ? limit ?
         ) returning seq`,
        [new Date(this.clock.now().getTime() - retentionMs), limit],
      );
      return rows.length;
    });
  }

  private async audit(
    em: EntityManager,
    type: 'stream.created' | 'stream.updated' | 'stream.deleted',
    stream: EventStream,
    before: Record<string, unknown> | null,
    after: Record<string, unknown> | null,
    context: RequestContext,
    now: Date,
  ): Promise<void> {
    await recordEvent(em, { type, tenantId: null, resourceType: 'EventStream', resourceId: stream.id, before, after }, context, now);
  }
}

/** A row of `event_stream_inbox`. */
interface InboxRow {
  id: string;
  outbox_id: string;
  community_id: string;
  tenant_id: string;
  type: string;
  resource_type: 'User' | 'Group' | 'Grant';
  resource_id: string;
  resource_version: number | null;
  request_id: string;
  created_at: Date;
  credential_changed: boolean;
}

type ChangeDiff = { before?: Record<string, unknown> | null; after?: Record<string, unknown> | null } | null;

/**
 * The before and after of each entry's change, from the audit entry written with its outbox event (same statement,
 * ADR 0023), read by key in one statement (ADR 0037): the chain is given as text, so that under row-level security
 * the look-up walks `audit_event_chain_resource_index` on (chain, resource_id) for each entry (a join on
 * `tenant_id::text` could not use the chain, and its estimate was high enough for PostgreSQL to compile it at each
 * step, tens of milliseconds, with the inbox empty).
 */
async function changeDiffs(em: EntityManager, rows: readonly InboxRow[]): Promise<ChangeDiff[]> {
  const found = await em.execute<{ n: string; diff: ChangeDiff }[]>(
    `select k.n, (select a.diff from audit_event a
                   where a.chain = k.chain and a.resource_id = k.resource_id and a.request_id = k.request_id and a.action = k.action
                   order by a.seq desc limit 1) as diff
     from unnest(?::text[], ?::text[], ?::text[], ?::text[]) with ordinality as k(chain, resource_id, request_id, action, n)`,
    [
      pgArray(rows.map((r) => String(r.tenant_id))),
      pgArray(rows.map((r) => r.resource_id)),
      pgArray(rows.map((r) => r.request_id)),
      pgArray(rows.map((r) => r.type)),
    ],
  );
  const diffs: ChangeDiff[] = rows.map(() => null);
  for (const row of found) diffs[Number(row.n) - 1] = row.diff;
  return diffs;
}

/**
 * A grant revoked (migration 20261208700000): the relying party and the person, from the audit entry the revocation
 * wrote with its outbox event (`before: {communityId, clientId, personId}`).
 */
function grantOf(kind: string, before: Record<string, unknown> | null | undefined): Pick<StreamInboxEntry, 'grant'> {
  if (kind !== 'Grant' || typeof before?.clientId !== 'string' || typeof before.personId !== 'string') return {};
  return { grant: { clientId: before.clientId, personId: before.personId } };
}

export async function insertSets(em: EntityManager, sets: NewStreamSet[], now: Date): Promise<void> {
  if (sets.length === 0) return;
  await em.execute(
    `insert into event_stream_set (stream_id, community_id, jti, txn, subject_keys, event_types, token, state, next_attempt_at, created_at)
     select s.stream_id, s.community_id, s.jti, s.txn, string_to_array(s.subject_keys, ' '), string_to_array(s.event_types, ' '), s.token,
       'pending', ?, ?
     from unnest(?::uuid[], ?::uuid[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[])
       with ordinality as s(stream_id, community_id, jti, txn, subject_keys, event_types, token, n)
     order by s.n`,
    [
      now,
      now,
      pgArray(sets.map((s) => s.streamId)),
      pgArray(sets.map((s) => s.communityId)),
      pgArray(sets.map((s) => s.jti)),
      pgArray(sets.map((s) => s.txn)),
      pgArray(sets.map((s) => s.subjectKeys.map((k) => k.replace(/ /g, '%20')).join(' '))),
      pgArray(sets.map((s) => s.eventTypes.join(' '))),
      pgArray(sets.map((s) => s.token)),
    ],
  );
}
