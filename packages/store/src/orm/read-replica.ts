import { AsyncLocalStorage } from 'node:async_hooks';
import type { MikroORM } from '@mikro-orm/postgresql';
import { createOrm } from './create-orm.js';
import { isConnectionFailure, isReadOnlyRefusal } from './database-errors.js';

// Reads of a request that only reads may be served by a PostgreSQL streaming
// replica (issue 20, ADR 0031). The request is the unit that knows it only
// reads (a SCIM GET, a GraphQL query), the store is where statements start:
// the hub opens a route per request, the store's unit of work and its
// one-statement reads ask {@link routed} which ORM to use. Nothing is threaded
// through the services. The replica is the same database, replicated: the
// role, the policies and the functions that set the tenant are all there, so
// row-level security holds on it exactly as on the primary.

/** Where one read was served, and why (the `served_by` and `reason` labels of `meridian_db_reads_total`). */
export type ReadServedBy = 'replica' | 'primary';
export type ReadRouteReason =
  /** The replica was fresh enough for this caller. */
  | 'replica'
  /** The caller wrote recently and the replica has not replayed that write yet. */
  | 'caller_wrote'
  /** The replica is behind by more than the configured bound. */
  | 'lag'
  /** The replica did not answer (or failed mid-read): the primary served the read instead. */
  | 'replica_unavailable'
  /** The callers' write positions could not be read: without them, read-your-writes cannot be promised on the replica. */
  | 'positions_unavailable'
  /** The work wrote (a hot standby refuses that): it ran again on the primary. */
  | 'write';

/**
 * The primary's WAL position after each caller's last write, shared by every
 * hub process (Redis) or kept in one (memory). A position is kept for a
 * bounded time: once it is older than the lag bound, a replica within the
 * bound has replayed it anyway.
 */
export interface WritePositions {
  /** Keeps `lsn` (a WAL position as a decimal number) for `caller` for `ttlMs`, unless a later one is kept already. */
  record(caller: string, lsn: bigint, ttlMs: number): Promise<void>;
  /** The position kept for `caller`, if any. */
  get(caller: string): Promise<bigint | undefined>;
  close?(): Promise<void>;
}

/** {@link WritePositions} in this process's memory: read-your-writes then holds only for requests this process serves. */
export function memoryWritePositions(): WritePositions {
  const positions = new Map<string, { lsn: bigint; until: number }>();
  return {
    async record(caller, lsn, ttlMs) {
      const now = Date.now();
      const kept = positions.get(caller);
      if (kept && kept.until > now && kept.lsn > lsn) return;
      positions.set(caller, { lsn, until: now + ttlMs });
      // Expired entries go on the next write: the map stays as large as the callers of the last ttl.
      if (positions.size > 1000) for (const [key, entry] of positions) if (entry.until <= now) positions.delete(key);
    },
    async get(caller) {
      const kept = positions.get(caller);
      return kept && kept.until > Date.now() ? kept.lsn : undefined;
    },
  };
}

/** A WAL position as PostgreSQL prints it (`16/B374D848`) as one number: the high and low 32 bits. */
function parseLsn(text: string): bigint {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text);
  if (!match) throw new TypeError(`Not a WAL position: '${text}'.`);
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

/** What the replica said about itself at its last probe. */
interface ReplicaState {
  /** The last WAL position it replayed. */
  replayed: bigint;
  /** How far its data is behind the primary's commits, in ms (0 when it replayed all it received and is streaming). */
  lagMs: number;
}

/**
 * The replica's replay position and its lag, in one statement. A replica that
 * replayed everything it received while its WAL receiver runs is current; one
 * that is behind (or has lost its primary) is as old as the last transaction
 * it replayed. `pg_stat_wal_receiver` shows its row (the pid, no details) to
 * roles without `pg_read_all_stats`, which is enough to know it runs.
 */
const PROBE_SQL = `select pg_last_wal_replay_lsn()::text as replayed,
       case when pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() and exists (select 1 from pg_stat_wal_receiver)
            then 0
            else coalesce(extract(epoch from clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000, 'Infinity'::float8)
       end::float8 as lag_ms`;

/** A probe answers the requests of the next 100 ms: a replay position only grows, so an older one is only more careful. */
const PROBE_TTL_MS = 100;
/** After the replica failed to answer, reads stay on the primary this long before it is tried again. */
const DOWN_MS = 1000;
/** Beyond the lag bound, how long a caller's write position is kept: room for the clocks of primary and replica to differ. */
const POSITION_MARGIN_MS = 60_000;

/** Options of {@link openReadReplica}. */
export interface ReadReplicaOptions {
  /** The replica's PostgreSQL URL (`DATABASE_READ_URL`). */
  url: string;
  /** Reads stay on the primary while the replica is further behind than this (`MERIDIAN_READ_REPLICA_MAX_LAG_MS`). */
  maxLagMs: number;
  /** Where the callers' write positions are kept; this process's memory when absent. */
  positions?: WritePositions;
  /** Connections of the replica's pool (10 by default, as the primary's). */
  poolSize?: number;
}

/** One request's route: who calls, whether its reads may leave the primary, and, once asked, where they go. */
export class ReadRoute {
  caller: string | undefined;
  readsOnly = false;
  /** Whether the request writes: the hub records the caller's position before the answer leaves. */
  writes = false;
  private decision: Promise<{ orm: MikroORM; reason: ReadRouteReason }> | undefined;

  constructor(readonly replica: ReadReplica) {}

  /** Lets this request's reads go to the replica, as `caller` (its token id): the request only reads. */
  allowReads(caller: string): void {
    this.caller = caller;
    this.readsOnly = true;
  }

  /** The request writes, as `caller`: its position is recorded before the answer leaves. */
  willWrite(caller: string): void {
    this.caller = caller;
    this.writes = true;
  }

  /** The ORM this request's reads use, decided once: one request reads from one place. */
  target(): Promise<{ orm: MikroORM; reason: ReadRouteReason }> {
    this.decision ??= this.replica.decide(this.caller);
    return this.decision;
  }

  /** The rest of the request reads from the primary. */
  fallBack(reason: ReadRouteReason): void {
    this.decision = Promise.resolve({ orm: this.replica.primary, reason });
  }
}

const routes = new AsyncLocalStorage<ReadRoute>();

/**
 * A read replica of the primary the stores are built on. The hub opens a
 * route for each SCIM and GraphQL request ({@link ReadReplica.enter}), allows
 * its reads to leave the primary once it knows the request only reads
 * ({@link ReadRoute.allowReads}), and records the caller's position after a
 * write ({@link ReadReplica.recordWrite}) before the answer leaves.
 */
export class ReadReplica {
  private state: { at: number; probe: Promise<ReplicaState | undefined> } | undefined;
  private downUntil = 0;
  /** Until then this process could not record a write position: every read stays on the primary. */
  private positionsLostUntil = 0;
  private readonly listeners = new Set<(servedBy: ReadServedBy, reason: ReadRouteReason) => void>();
  private readonly positionTtlMs: number;
  private closed = false;

  constructor(
    readonly primary: MikroORM,
    private readonly replica: MikroORM,
    private readonly options: { maxLagMs: number; positions: WritePositions },
  ) {
    this.positionTtlMs = options.maxLagMs + POSITION_MARGIN_MS;
  }

  /** Runs `work` (the rest of one request) in a route of its own; its reads stay on the primary until {@link ReadRoute.allowReads}. */
  enter<T>(work: (route: ReadRoute) => T): T {
    const route = new ReadRoute(this);
    return routes.run(route, () => work(route));
  }

  /** The current request's route, when it runs inside {@link enter} for this replica. */
  current(): ReadRoute | undefined {
    const route = routes.getStore();
    return route?.replica === this ? route : undefined;
  }

  /** Says where reads are served, for the metrics; returns the function that stops it. */
  observe(listener: (servedBy: ReadServedBy, reason: ReadRouteReason) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Records the primary's WAL position as `caller`'s, after its write committed and before its answer leaves:
   * the caller's next reads, from any process, go to the replica only once it has replayed that far.
   */
  async recordWrite(caller: string): Promise<void> {
    try {
      const rows = await this.primary.em.getConnection().execute<{ lsn: string }[]>('select pg_current_wal_insert_lsn()::text as lsn');
      const lsn = rows[0]?.lsn;
      if (lsn !== undefined) await this.options.positions.record(caller, parseLsn(lsn), this.positionTtlMs);
    } catch {
      // Not recorded: this process cannot promise read-your-writes on the replica, so it does not use it for a while.
      // Another process may still serve this caller from the replica; docs/scaling.md says so.
      this.positionsLostUntil = Date.now() + this.positionTtlMs;
    }
  }

  /** Where a request of `caller` reads: the replica when it is up, within the lag bound, and has replayed the caller's last write. */
  async decide(caller: string | undefined): Promise<{ orm: MikroORM; reason: ReadRouteReason }> {
    const primary = (reason: ReadRouteReason) => ({ orm: this.primary, reason });
    if (Date.now() < this.positionsLostUntil) return primary('positions_unavailable');
    let written: bigint | undefined;
    const [state] = await Promise.all([
      this.replicaState(),
      caller === undefined
        ? undefined
        : this.options.positions.get(caller).then(
            (lsn) => {
              written = lsn;
            },
            () => {
              written = -1n;
            },
          ),
    ]);
    if (written === -1n) return primary('positions_unavailable');
    if (!state) return primary('replica_unavailable');
    if (state.lagMs > this.options.maxLagMs) return primary('lag');
    if (written !== undefined && state.replayed < written) return primary('caller_wrote');
    return { orm: this.replica, reason: 'replica' };
  }

  /**
   * Why the replica cannot serve reads now, or undefined when it can: for the hub's start-up log, since a
   * `DATABASE_READ_URL` that names the primary or an unreachable server only shows otherwise as every read
   * counted on the primary with reason `replica_unavailable`.
   */
  async problem(): Promise<string | undefined> {
    try {
      const rows = await this.replica.em.getConnection().execute<{ standby: boolean }[]>('select pg_is_in_recovery() as standby');
      if (rows[0]?.standby) return undefined;
      return 'DATABASE_READ_URL is not a hot standby (pg_is_in_recovery() is false): every read stays on the primary (meridian_db_reads_total{reason="replica_unavailable"}). Point it at a streaming replica of DATABASE_URL.';
    } catch (error) {
      // A short-lived process (a CLI command) may close its pools before the answer: nothing to tell then.
      if (this.closed) return undefined;
      // pg's connection errors name the host and user, never the password.
      const why = error instanceof Error ? error.message : String(error);
      return `DATABASE_READ_URL cannot be read (${why}): reads stay on the primary until the replica answers.`;
    }
  }

  /** The replica failed under a read: the primary serves reads until it is tried again. */
  markDown(): void {
    this.downUntil = Date.now() + DOWN_MS;
    this.state = undefined;
  }

  count(servedBy: ReadServedBy, reason: ReadRouteReason): void {
    for (const listener of this.listeners) listener(servedBy, reason);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.replica.close(true);
    await this.options.positions.close?.();
  }

  private replicaState(): Promise<ReplicaState | undefined> {
    const now = Date.now();
    if (now < this.downUntil) return Promise.resolve(undefined);
    if (this.state && now - this.state.at < PROBE_TTL_MS) return this.state.probe;
    const probe = this.replica.em
      .getConnection()
      .execute<{ replayed: string | null; lag_ms: number | string }[]>(PROBE_SQL)
      .then((rows) => {
        const row = rows[0];
        // No replay position: not a standby (a primary named by mistake) — its reads would be fine, but nothing here could be promised.
        if (!row?.replayed) return undefined;
        return { replayed: parseLsn(row.replayed), lagMs: Number(row.lag_ms) };
      })
      .catch(() => {
        this.markDown();
        return undefined;
      });
    this.state = { at: now, probe };
    return probe;
  }
}

/**
 * Opens the replica's pool beside `primary` (acting as the same application role, so the same policies apply).
 * Nothing connects yet: a replica that is down at start-up only sends reads to the primary.
 */
export async function openReadReplica(primary: MikroORM, options: ReadReplicaOptions): Promise<ReadReplica> {
  const replica = await createOrm({ url: options.url, poolSize: options.poolSize ?? 10, connectTimeoutMs: 2000 });
  return new ReadReplica(primary, replica, { maxLagMs: options.maxLagMs, positions: options.positions ?? memoryWritePositions() });
}

/**
 * Runs a read of a store built on `orm` on the ORM its request's route names: the replica when the request
 * only reads and the replica is fresh enough, the primary otherwise (and always outside a route). A read the
 * replica refuses because it writes, or cannot serve because it is gone, runs again on the primary.
 */
export async function routed<T>(orm: MikroORM, work: (orm: MikroORM) => Promise<T>): Promise<T> {
  const route = routes.getStore();
  if (!route?.readsOnly || route.replica.primary !== orm) return work(orm);
  const { orm: target, reason } = await route.target();
  if (target === orm) {
    route.replica.count('primary', reason);
    return work(orm);
  }
  try {
    const result = await work(target);
    route.replica.count('replica', reason);
    return result;
  } catch (error) {
    // A hot standby refuses every write (SQLSTATE 25006): nothing happened there, so the work may run again.
    const why = isReadOnlyRefusal(error) ? 'write' : isConnectionFailure(error) ? 'replica_unavailable' : undefined;
    if (!why) throw error;
    if (why === 'replica_unavailable') route.replica.markDown();
    route.fallBack(why);
    route.replica.count('primary', why);
    return work(orm);
  }
}
