import type { ReplicationEngine } from '@meridian/replication';
import { type EmbeddedDatabase, forkForPlatform, type MikroORM } from '@meridian/store';

/** The backlog of one queue-like table: how many entries wait and how old the oldest is (seconds; 0 when none). */
interface Backlog {
  pending: number;
  oldestAgeSeconds: number;
}

/** Where one replication target stands, as the database and its queue say. */
interface TargetState {
  targetId: string;
  circuit: 'closed' | 'open' | 'half_open';
  paused: boolean;
  enabled: boolean;
  /** Links not yet settled, by status (`pending`, `retrying`, `dead_lettered`). */
  links: Record<string, number>;
  openDeadLetters: number;
  /** BullMQ's job counts of the target's queue; undefined when the queue did not answer. */
  jobs: Record<string, number> | undefined;
}

/** The connection pool of the services (MikroORM's `pg` pool). */
interface PoolState {
  total: number;
  idle: number;
  waiting: number;
  max: number;
}

/** The event streams' work (issue 17): changes not yet turned into SETs, and SETs not yet delivered or acknowledged. */
interface EventStreamState {
  inbox: Backlog;
  /** Open SETs: `pending` (not delivered yet) and `delivered` (polled, not acknowledged); the age is the oldest's. */
  sets: { pending: number; delivered: number; oldestAgeSeconds: number };
}

/** Everything `/metrics` reads at scrape time. */
export interface OperationalState {
  outbox: Backlog;
  directoryInbox: Backlog;
  /** Undefined when they could not be read. */
  eventStreams: EventStreamState | undefined;
  targets: TargetState[];
  pool: PoolState | undefined;
  /** The embedded PostgreSQL's state; undefined with `DATABASE_URL`. */
  embedded: 'up' | 'down' | undefined;
}

/** What {@link readOperationalState} reads from: the runtime's parts. */
export interface StateSources {
  orm: MikroORM;
  replication: Pick<ReplicationEngine, 'ctx'>;
  embedded: EmbeddedDatabase | undefined;
}

/** The job states a target queue reports (a paused queue's jobs wait); completed jobs are removed at once, so they are not counted. */
const JOB_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'failed'] as const;

interface PgPool {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
  options?: { max?: number };
}

/**
 * Reads the operational state in one platform-scoped transaction of five
 * statements, each on an index: the oldest undispatched outbox event
 * (`outbox_event_pending_index`), the directory inbox, the unsettled links
 * per target (`replication_link_target_status_index`) and the open dead
 * letters (`replication_dead_letter_open_index`); then each target queue's
 * job counts. Cheap enough for a scrape every few seconds.
 */
export async function readOperationalState(sources: StateSources): Promise<OperationalState> {
  const rows = await forkForPlatform(sources.orm).transactional(async (em) => {
    const outbox = await em.execute<{ pending: string; age: number | null }[]>(
      `select (select count(*) from outbox_event where dispatched_at is null) as pending,
              extract(epoch from now() - (select created_at from outbox_event where dispatched_at is null order by id limit 1))::float8 as age`,
    );
    const inbox = await em.execute<{ pending: string; age: number | null }[]>(
      'select count(*) as pending, extract(epoch from now() - min(enqueued_at))::float8 as age from directory_inbox',
    );
    const targets = await em.execute<{ id: string; circuit_state: TargetState['circuit']; paused: boolean; enabled: boolean }[]>(
      'select id, circuit_state, paused, enabled from replication_target',
    );
    const links = await em.execute<{ target_id: string; status: string; n: string }[]>(
      `select target_id, status, count(*) as n from replication_link
        where status in ('pending', 'retrying', 'dead_lettered') group by target_id, status`,
    );
    const letters = await em.execute<{ target_id: string; n: string }[]>(
      'select target_id, count(*) as n from replication_dead_letter where replayed_at is null group by target_id',
    );
    return { outbox: outbox[0], inbox: inbox[0], targets, links, letters };
  });
  const age = (seconds: number | null | undefined) => Math.max(0, Number(seconds ?? 0));
  const targets = await Promise.all(
    rows.targets.map(async (t): Promise<TargetState> => {
      const links: Record<string, number> = { pending: 0, retrying: 0, dead_lettered: 0 };
      for (const l of rows.links) if (l.target_id === t.id) links[l.status] = Number(l.n);
      let jobs: Record<string, number> | undefined;
      try {
        jobs = await sources.replication.ctx.queues.queue(t.id).getJobCounts(...JOB_STATES);
      } catch {
        jobs = undefined;
      }
      return {
        targetId: t.id,
        circuit: t.circuit_state,
        paused: t.paused,
        enabled: t.enabled,
        links,
        openDeadLetters: Number(rows.letters.find((l) => l.target_id === t.id)?.n ?? 0),
        jobs,
      };
    }),
  );
  return {
    outbox: { pending: Number(rows.outbox?.pending ?? 0), oldestAgeSeconds: age(rows.outbox?.age) },
    directoryInbox: { pending: Number(rows.inbox?.pending ?? 0), oldestAgeSeconds: age(rows.inbox?.age) },
    targets,
    eventStreams: await readEventStreams(sources.orm).catch(() => undefined),
    pool: await poolState(sources.orm),
    embedded: sources.embedded?.state,
  };
}

/**
 * The event streams' backlog, in a platform transaction of its own (a failure leaves the other gauges alone): the
 * stream inbox, and the open SETs on `event_stream_set_open_index`.
 */
async function readEventStreams(orm: MikroORM): Promise<EventStreamState> {
  return forkForPlatform(orm).transactional(async (em) => {
    const [inbox] = await em.execute<{ pending: string; age: number | null }[]>(
      'select count(*) as pending, extract(epoch from now() - min(created_at))::float8 as age from event_stream_inbox',
    );
    const [sets] = await em.execute<{ pending: string; delivered: string; age: number | null }[]>(
      `select count(*) filter (where state = 'pending') as pending, count(*) filter (where state = 'delivered') as delivered,
              extract(epoch from now() - min(created_at))::float8 as age
         from event_stream_set where state in ('pending', 'delivered')`,
    );
    return {
      inbox: { pending: Number(inbox?.pending ?? 0), oldestAgeSeconds: Math.max(0, Number(inbox?.age ?? 0)) },
      sets: {
        pending: Number(sets?.pending ?? 0),
        delivered: Number(sets?.delivered ?? 0),
        oldestAgeSeconds: Math.max(0, Number(sets?.age ?? 0)),
      },
    };
  });
}

/** The `pg` pool behind MikroORM's connection, when it has been created. */
async function poolState(orm: MikroORM): Promise<PoolState | undefined> {
  const connection = orm.em.getConnection() as unknown as { getNativeClient?: () => Promise<PgPool> };
  const pool = await connection.getNativeClient?.().catch(() => undefined);
  if (!pool) return undefined;
  return { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, max: pool.options?.max ?? 0 };
}
