import type { ConnectorLogger } from '@meridian/connector-sdk';
import type { GraphqlOperationOutcome } from '@meridian/graphql';
import type { ReadRouteReason, ReadServedBy } from '@meridian/store';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { OperationalState } from './operational-state.js';

/**
 * Who made a request, as a bounded label: `tenant` (an office's token or JWT),
 * `operator` (a platform or community token), `anonymous` (none, or refused).
 * Never a tenant id: labels must stay a small, fixed set (docs/operations.md).
 */
export type TenantClass = 'tenant' | 'operator' | 'anonymous';

/** One answered HTTP request, as the metrics see it. */
export interface ObservedRequest {
  /** The route template (`/scim/v2/Users/:id`), never the URL; undefined when no route matched. */
  route: string | undefined;
  method: string;
  status: number;
  durationSeconds: number;
  tenantClass: TenantClass;
}

const METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const SCIM_PREFIX = '/scim/v2/';
const SCIM_RESOURCES: ReadonlySet<string> = new Set([
  'Users',
  'Groups',
  'Me',
  'Bulk',
  '.search',
  'ServiceProviderConfig',
  'ResourceTypes',
  'Schemas',
]);
/** Seconds; SCIM and GraphQL answers mostly take milliseconds, a `Prefer: wait` write up to minutes. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** The replication engine's log lines that are counted, and their `event` label. */
const REPLICATION_EVENTS: Readonly<Record<string, string>> = {
  'replication dead-lettered': 'dead_lettered',
  'replication retrying': 'retried',
  'replication retries exhausted': 'retries_exhausted',
  'circuit open: target paused after consecutive failures': 'circuit_opened',
  'circuit half-open: probing the target': 'circuit_half_opened',
  'circuit closed': 'circuit_closed',
  'replication worker error': 'worker_error',
};

/** `2xx`, `4xx`, … */
function statusClass(status: number): string {
  return `${Math.floor(status / 100)}xx`;
}

/**
 * The SCIM operation of a route (RFC 7644 §3): `Users`/`create` for
 * `POST /scim/v2/Users`, `Users`/`get` for `GET /scim/v2/Users/:id`,
 * `Users`/`search` for `POST /scim/v2/Users/.search`; undefined outside SCIM.
 */
function scimOperationOf(route: string | undefined, method: string): { resource: string; operation: string } | undefined {
  if (route === undefined || !route.startsWith(SCIM_PREFIX)) return undefined;
  const segments = route.slice(SCIM_PREFIX.length).split('/').filter(Boolean);
  const first = segments[0] ?? '';
  const resource = SCIM_RESOURCES.has(first) ? first : 'other';
  const last = segments[segments.length - 1];
  const byId = segments.length > 1 || resource === 'Me';
  let operation: string;
  if (method === 'POST') operation = last === '.search' ? 'search' : resource === 'Bulk' ? 'bulk' : 'create';
  else if (method === 'GET' || method === 'HEAD') operation = byId ? 'get' : 'list';
  else if (method === 'PUT') operation = 'replace';
  else if (method === 'PATCH') operation = 'patch';
  else if (method === 'DELETE') operation = 'delete';
  else operation = 'other';
  return { resource, operation };
}

/**
 * The hub's Prometheus metrics (prom-client), one registry per process:
 * HTTP requests by route template, SCIM and GraphQL operations, replication
 * events, and gauges read from the database and the queues at scrape time
 * ({@link OperationalState}). docs/operations.md lists every series.
 */
export class HubMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'route' | 'method' | 'status_class' | 'tenant_class'>;
  private readonly latency: Histogram<'route' | 'method'>;
  private readonly scim: Counter<'resource' | 'operation' | 'status_class'>;
  private readonly graphql: Counter<'type' | 'field' | 'outcome'>;
  private readonly replicationEvents: Counter<'event' | 'target'>;
  private readonly reads: Counter<'served_by' | 'reason'>;
  private readonly backlog: Gauge<'queue'>;
  private readonly backlogAge: Gauge<'queue'>;
  private readonly targetLinks: Gauge<'target' | 'status'>;
  private readonly targetJobs: Gauge<'target' | 'state'>;
  private readonly deadLetters: Gauge<'target'>;
  private readonly circuit: Gauge<'target' | 'state'>;
  private readonly targetPaused: Gauge<'target'>;
  private readonly pool: Gauge<'state'>;
  private readonly streamSets: Gauge<'state'>;
  /** Registered on the first scrape that finds an embedded PostgreSQL: absent with `DATABASE_URL`. */
  private embedded: Gauge | undefined;
  private readonly sourceUp: Gauge<'source'>;

  /**
   * @param readState reads the scrape-time gauges (undefined: none, as in a process without a database).
   * @param onError is told why a scrape could not read them (the exposition then says `meridian_metrics_source_up 0`).
   */
  constructor(
    private readonly readState?: () => Promise<OperationalState>,
    private readonly onError: (error: unknown) => void = () => {},
  ) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'meridian_' });
    this.requests = new Counter({
      name: 'meridian_http_requests_total',
      help: 'HTTP requests answered, by route template, method, status class and tenant class.',
      labelNames: ['route', 'method', 'status_class', 'tenant_class'],
      registers,
    });
    this.latency = new Histogram({
      name: 'meridian_http_request_duration_seconds',
      help: 'Time from receiving a request to sending its answer, by route template and method.',
      labelNames: ['route', 'method'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.scim = new Counter({
      name: 'meridian_scim_operations_total',
      help: 'SCIM operations answered, by resource endpoint, operation and status class.',
      labelNames: ['resource', 'operation', 'status_class'],
      registers,
    });
    this.graphql = new Counter({
      name: 'meridian_graphql_operations_total',
      help: 'GraphQL operations answered, by operation type, root field (validated against the schema) and outcome.',
      labelNames: ['type', 'field', 'outcome'],
      registers,
    });
    this.replicationEvents = new Counter({
      name: 'meridian_replication_events_total',
      help: "Replication events of this process's target workers: dead_lettered, retried, retries_exhausted, circuit_opened, circuit_half_opened, circuit_closed, worker_error.",
      labelNames: ['event', 'target'],
      registers,
    });
    this.reads = new Counter({
      name: 'meridian_db_reads_total',
      help: 'Reads of requests that only read (SCIM reads, GraphQL queries) with DATABASE_READ_URL set, by where they were served (replica, primary) and why (replica, caller_wrote, lag, replica_unavailable, positions_unavailable, write).',
      labelNames: ['served_by', 'reason'],
      registers,
    });
    this.backlog = new Gauge({
      name: 'meridian_backlog_entries',
      help: 'Entries waiting: the outbox (undispatched events), the global directory inbox, the event streams inbox (changes not yet turned into SETs) and the open SETs.',
      labelNames: ['queue'],
      registers,
    });
    this.backlogAge = new Gauge({
      name: 'meridian_backlog_oldest_age_seconds',
      help: 'Age of the oldest waiting entry: outbox lag, directory lag, event-stream lag (inbox, and the oldest open SET); 0 when empty.',
      labelNames: ['queue'],
      registers,
    });
    this.targetLinks = new Gauge({
      name: 'meridian_replication_links',
      help: 'Resources not yet settled at a target, by link status (pending, retrying, dead_lettered).',
      labelNames: ['target', 'status'],
      registers,
    });
    this.targetJobs = new Gauge({
      name: 'meridian_replication_queue_jobs',
      help: "Jobs in a target's queue, by BullMQ state (waiting, active, delayed, prioritized, failed).",
      labelNames: ['target', 'state'],
      registers,
    });
    this.deadLetters = new Gauge({
      name: 'meridian_replication_dead_letters',
      help: 'Dead letters of a target not yet replayed.',
      labelNames: ['target'],
      registers,
    });
    this.circuit = new Gauge({
      name: 'meridian_replication_circuit_state',
      help: "A target's circuit: 1 for its current state (closed, open, half_open), 0 for the others.",
      labelNames: ['target', 'state'],
      registers,
    });
    this.targetPaused = new Gauge({
      name: 'meridian_replication_target_paused',
      help: 'Whether an admin paused a target (1) or not (0).',
      labelNames: ['target'],
      registers,
    });
    this.streamSets = new Gauge({
      name: 'meridian_event_stream_sets',
      help: 'SETs of the event streams not yet settled: pending (not delivered yet) and delivered (polled, not acknowledged).',
      labelNames: ['state'],
      registers,
    });
    this.pool = new Gauge({
      name: 'meridian_db_pool_connections',
      help: "The PostgreSQL connection pool of the hub's services: total, idle, waiting (requests queued for a connection), max.",
      labelNames: ['state'],
      registers,
    });
    this.sourceUp = new Gauge({
      name: 'meridian_metrics_source_up',
      help: 'Whether the last scrape could read its source: database (backlogs, targets), queue (job counts) and event_streams.',
      labelNames: ['source'],
      registers,
    });
  }

  /** Counts one answered request (and its SCIM operation). */
  observeRequest(request: ObservedRequest): void {
    const route = request.route ?? 'unmatched';
    const method = METHODS.has(request.method) ? request.method : 'OTHER';
    const status = statusClass(request.status);
    this.requests.inc({ route, method, status_class: status, tenant_class: request.tenantClass });
    this.latency.observe({ route, method }, request.durationSeconds);
    const scim = scimOperationOf(request.route, method);
    if (scim) this.scim.inc({ ...scim, status_class: status });
  }

  /** Counts one GraphQL operation, once per root field. */
  observeGraphql(outcome: GraphqlOperationOutcome): void {
    const type = outcome.type ?? 'invalid';
    const result = outcome.errors ? 'error' : 'ok';
    const fields = outcome.fields.length > 0 ? outcome.fields : ['none'];
    for (const field of fields) this.graphql.inc({ type, field, outcome: result });
  }

  /** Counts one read of a request that only reads: served by the read replica or the primary, and why (ADR 0031). */
  observeRead(servedBy: ReadServedBy, reason: ReadRouteReason): void {
    this.reads.inc({ served_by: servedBy, reason });
  }

  /** Wraps the replication engine's logger: the lines it writes pass through, and the events above are counted. */
  countingReplicationLogger(inner: ConnectorLogger): ConnectorLogger {
    const count = (message: string, fields?: Record<string, unknown>) => {
      const event = REPLICATION_EVENTS[message];
      if (event === undefined) return;
      const target = typeof fields?.target === 'string' ? fields.target : 'unknown';
      this.replicationEvents.inc({ event, target });
    };
    return {
      debug: (message, fields) => {
        count(message, fields);
        inner.debug(message, fields);
      },
      info: (message, fields) => {
        count(message, fields);
        inner.info(message, fields);
      },
      warn: (message, fields) => {
        count(message, fields);
        inner.warn(message, fields);
      },
      error: (message, fields) => {
        count(message, fields);
        inner.error(message, fields);
      },
    };
  }

  /** The Prometheus text exposition, with the scrape-time gauges read first. */
  async render(): Promise<string> {
    if (this.readState) await this.refresh(this.readState);
    return this.registry.metrics();
  }

  /** The exposition's content type. */
  get contentType(): string {
    return this.registry.contentType;
  }

  private async refresh(readState: () => Promise<OperationalState>): Promise<void> {
    let state: OperationalState;
    try {
      state = await readState();
    } catch (error) {
      this.onError(error);
      this.sourceUp.set({ source: 'database' }, 0);
      return;
    }
    this.sourceUp.set({ source: 'database' }, 1);
    for (const [queue, backlog] of [
      ['outbox', state.outbox],
      ['directory_inbox', state.directoryInbox],
    ] as const) {
      this.backlog.set({ queue }, backlog.pending);
      this.backlogAge.set({ queue }, backlog.oldestAgeSeconds);
    }
    this.sourceUp.set({ source: 'event_streams' }, state.eventStreams ? 1 : 0);
    if (state.eventStreams) {
      const { inbox, sets } = state.eventStreams;
      this.backlog.set({ queue: 'event_stream_inbox' }, inbox.pending);
      this.backlogAge.set({ queue: 'event_stream_inbox' }, inbox.oldestAgeSeconds);
      this.backlog.set({ queue: 'event_stream_sets' }, sets.pending + sets.delivered);
      this.backlogAge.set({ queue: 'event_stream_sets' }, sets.oldestAgeSeconds);
      this.streamSets.set({ state: 'pending' }, sets.pending);
      this.streamSets.set({ state: 'delivered' }, sets.delivered);
    }
    // Deleted targets must disappear from the exposition.
    for (const gauge of [this.targetLinks, this.targetJobs, this.deadLetters, this.circuit, this.targetPaused]) gauge.reset();
    let queueUp = 1;
    for (const t of state.targets) {
      const target = t.targetId;
      for (const [status, n] of Object.entries(t.links)) this.targetLinks.set({ target, status }, n);
      if (t.jobs) for (const [jobState, n] of Object.entries(t.jobs)) this.targetJobs.set({ target, state: jobState }, n);
      else queueUp = 0;
      this.deadLetters.set({ target }, t.openDeadLetters);
      for (const s of ['closed', 'open', 'half_open'] as const) this.circuit.set({ target, state: s }, t.circuit === s ? 1 : 0);
      this.targetPaused.set({ target }, t.paused ? 1 : 0);
    }
    this.sourceUp.set({ source: 'queue' }, queueUp);
    if (state.pool) {
      this.pool.set({ state: 'total' }, state.pool.total);
      this.pool.set({ state: 'idle' }, state.pool.idle);
      this.pool.set({ state: 'waiting' }, state.pool.waiting);
      this.pool.set({ state: 'max' }, state.pool.max);
    }
    if (state.embedded !== undefined) {
      this.embedded ??= new Gauge({
        name: 'meridian_embedded_postgres_up',
        help: 'The embedded PostgreSQL: 1 up, 0 down (being restarted). Absent with DATABASE_URL.',
        registers: [this.registry],
      });
      this.embedded.set(state.embedded === 'up' ? 1 : 0);
    }
  }
}
