import { forkForTenant, type MikroORM } from '@meridian/store';
import { connectionTracing, type DeliveryTracing, deliveryTracing } from './tracing.js';

/** The part of `pg`'s pool that is watched: it announces each connection it hands out. */
interface AnnouncingPool {
  on(event: 'acquire', listener: (client: never) => void): unknown;
}

/**
 * Carries traces through the outbox (ADR 0026), when tracing is on: every
 * connection the services take from the pool first sets
 * `meridian.trace_context` to the current span's traceparent, which the
 * outbox trigger stores with each event (migration 20261207650000); and each
 * delivery becomes a span continuing the trace stored with its request's
 * events. Answers the replication engine's delivery observer, or undefined
 * without tracing.
 */
export async function outboxTracing(orm: MikroORM): Promise<DeliveryTracing | undefined> {
  const onAcquire = connectionTracing();
  if (!onAcquire) return undefined;
  const connection = orm.em.getConnection() as unknown as { getNativeClient(): Promise<AnnouncingPool> };
  (await connection.getNativeClient()).on('acquire', onAcquire);
  return deliveryTracing(async (tenantId, requestId) => {
    const rows = await forkForTenant(orm, tenantId).transactional((em) =>
      em.execute<{ trace_context: string }[]>(
        'select trace_context from outbox_event where request_id = ? and tenant_id = ? and trace_context is not null order by id limit 1',
        [requestId, tenantId],
      ),
    );
    return rows[0]?.trace_context;
  });
}
