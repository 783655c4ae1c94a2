import { createRequire } from 'node:module';
import type { FastifyPluginCallback } from 'fastify';

// Nothing here imports the rest of the hub, pg or ioredis: `main.ts` starts tracing before they load, so that the
// instrumentations can patch them as they do (ADR 0026).

/** One job of a target queue, as the delivery span describes it. */
interface DeliveryJob {
  tenantId: string;
  targetId: string;
  kind: string;
  resourceId: string;
  requestId?: string | undefined;
}

/** Wraps a worker's job in a span (replication's `DeliveryObserver`). */
export interface DeliveryTracing {
  around<T>(job: DeliveryJob, run: () => Promise<T>): Promise<T>;
}

/** A `pg` client as the pool hands it out. */
interface PooledClient {
  query(config: { text: string; values: unknown[] }): Promise<unknown>;
}

interface ActiveTracing {
  shutdown(): Promise<void>;
  onConnectionAcquired(client: PooledClient): void;
  fastifyPlugin(): FastifyPluginCallback;
  deliveries(lookUp: (tenantId: string, requestId: string) => Promise<string | undefined>): DeliveryTracing;
}

let active: ActiveTracing | undefined;

/** Routes whose requests make no span: probes and scrapes come every few seconds. */
const UNTRACED = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Starts OpenTelemetry when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, and does
 * nothing otherwise: spans of the HTTP requests (`@fastify/otel`, with the
 * caller's `traceparent` honoured), of PostgreSQL statements and of Redis
 * commands (only inside a request or a delivery), exported over OTLP/HTTP.
 * The SDK reads the standard `OTEL_*` variables (service name, headers,
 * sampler, batch delays). Call it before the rest of the hub is imported.
 */
export async function startTracing(env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  if (active || !env.OTEL_EXPORTER_OTLP_ENDPOINT) return active !== undefined;
  const [{ NodeSDK }, { OTLPTraceExporter }, { PgInstrumentation }, { IORedisInstrumentation }, { FastifyOtelInstrumentation }, api] =
    await Promise.all([
      import('@opentelemetry/sdk-node'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/instrumentation-pg'),
      import('@opentelemetry/instrumentation-ioredis'),
      import('@fastify/otel'),
      import('@opentelemetry/api'),
    ]);
  const fastify = new FastifyOtelInstrumentation({
    registerOnInitialization: false,
    ignorePaths: (opts) => UNTRACED.has(opts.url),
    // The path only: query strings carry SCIM filters (user names, e-mail addresses) and OAuth parameters.
    requestHook: (span, request) => span.setAttribute('url.path', request.url.split('?')[0] ?? ''),
  });
  const sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME ?? 'meridian',
    traceExporter: new OTLPTraceExporter(),
    instrumentations: [
      // Only inside a request or a delivery; statement texts are recorded without the values inlined in them.
      new PgInstrumentation({
        requireParentSpan: true,
        requestHook: (span, info) => span.setAttribute('db.query.text', redactSql(info.query.text)),
      }),
      // The command name only: BullMQ's arguments carry job data.
      new IORedisInstrumentation({ requireParentSpan: true, dbStatementSerializer: (command) => command }),
      fastify,
    ],
  });
  sdk.start();
  // ioredis is imported from ES modules, which require hooks do not see; requiring it once lets the instrumentation
  // patch the class every importer shares (ES imports of a CommonJS package get the same exports).
  createRequire(import.meta.url)('ioredis');
  const tracer = api.trace.getTracer('meridian');
  active = {
    shutdown: () => sdk.shutdown(),
    onConnectionAcquired(client) {
      const carrier: Record<string, string> = {};
      const current = api.context.active();
      if (api.trace.getSpan(current)?.isRecording()) api.propagation.inject(current, carrier);
      // Queued on the client before the statement it was taken for; outside any span, so it makes none itself.
      api.context.with(api.trace.deleteSpan(current), () => {
        client
          .query({ text: "select set_config('meridian.trace_context', $1, false)", values: [carrier.traceparent ?? ''] })
          .catch(() => undefined);
      });
    },
    fastifyPlugin: () => fastify.plugin(),
    deliveries: (lookUp) => ({
      async around(job, run) {
        const traceparent = job.requestId ? await lookUp(job.tenantId, job.requestId).catch(() => undefined) : undefined;
        const parent = traceparent ? api.propagation.extract(api.ROOT_CONTEXT, { traceparent }) : api.ROOT_CONTEXT;
        const attributes = {
          'messaging.system': 'bullmq',
          'messaging.operation.type': 'process',
          'meridian.tenant.id': job.tenantId,
          'meridian.target.id': job.targetId,
          'meridian.resource.type': job.kind,
          'meridian.resource.id': job.resourceId,
          ...(job.requestId ? { 'meridian.request.id': job.requestId } : {}),
        };
        return tracer.startActiveSpan('replication.deliver', { kind: api.SpanKind.CONSUMER, attributes }, parent, async (span) => {
          try {
            return await run();
          } catch (error) {
            span.recordException(error instanceof Error ? error : String(error));
            span.setStatus({ code: api.SpanStatusCode.ERROR });
            throw error;
          } finally {
            span.end();
          }
        });
      },
    }),
  };
  return true;
}

/**
 * What to do each time the services' `pg` pool hands out a connection: set
 * the session setting `meridian.trace_context` to the traceparent of the
 * current span (empty outside one), which a trigger copies into each outbox
 * event written on it (migration 20261207650000). Undefined without tracing.
 */
export function connectionTracing(): ((client: PooledClient) => void) | undefined {
  const current = active;
  return current ? (client) => current.onConnectionAcquired(client) : undefined;
}

/** A statement's text without the values MikroORM inlines into it: each quoted literal becomes `?`. */
function redactSql(text: string | undefined): string {
  return (text ?? '').replace(/[Ee]?'(?:[^']|'')*'/g, '?');
}

/** The Fastify plugin that makes a span of each request, or undefined without tracing. */
export function tracingPlugin(): FastifyPluginCallback | undefined {
  return active?.fastifyPlugin();
}

/**
 * Delivery spans continuing the trace stored with the outbox event of the job's
 * request (`lookUp` answers its traceparent), or undefined without tracing.
 */
export function deliveryTracing(lookUp: (tenantId: string, requestId: string) => Promise<string | undefined>): DeliveryTracing | undefined {
  return active?.deliveries(lookUp);
}

/** Exports the spans still buffered and stops (the hub is stopping). */
export async function stopTracing(): Promise<void> {
  const current = active;
  active = undefined;
  await current?.shutdown().catch(() => undefined);
}
