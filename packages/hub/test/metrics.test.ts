import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { FastifyInstance } from 'fastify';
import { createAuthenticator } from '../src/http/authenticator.js';
import { startMetricsServer } from '../src/http/metrics-route.js';
import { HubMetrics } from '../src/observability/metrics.js';
import { readOperationalState } from '../src/observability/operational-state.js';
import { type HubHarness, startHub } from './harness.js';

// /metrics after real traffic on a real app and PostgreSQL (issue 20): the series docs/operations.md lists are there,
// no label carries a tenant id, a resource id or a URL, and only a metrics or platform admin token may read it.

const METRICS_TOKEN = 'metrics-token-0123456789abcdefghijklmnopq';
const system = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
let hub: HubHarness;
let targetId: string;
let userId: string;

beforeAll(async () => {
  hub = await startHub({ env: { MERIDIAN_METRICS_TOKEN: METRICS_TOKEN } });
  const target = await hub.runtime.replication.targets.create(hub.tenants.emea.id, { name: 'mirror', kind: 'memory', config: {} }, system);
  targetId = target.id;
  const emea = { authorization: `Bearer ${hub.tenants.emea.token}`, 'content-type': 'application/scim+json' };
  const created = await hub.app.inject({
    method: 'POST',
    url: '/scim/v2/Users',
    headers: emea,
    payload: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'ada@example.org' },
  });
  expect(created.statusCode).toBe(201);
  userId = created.json<{ id: string }>().id;
  expect((await hub.app.inject({ method: 'GET', url: `/scim/v2/Users/${userId}`, headers: emea })).statusCode).toBe(200);
  expect(
    (await hub.app.inject({ method: 'GET', url: '/scim/v2/Users/00000000-0000-4000-8000-000000000000', headers: emea })).statusCode,
  ).toBe(404);
  const graphql = await hub.app.inject({
    method: 'POST',
    url: '/graphql',
    headers: { authorization: `Bearer ${hub.adminToken}`, 'content-type': 'application/json' },
    payload: { query: '{ communities(first: 5) { edges { node { slug } } } }' },
  });
  expect(graphql.statusCode).toBe(200);
  expect((await hub.app.inject({ method: 'GET', url: `/no/such/${userId}` })).statusCode).toBe(404);
});
afterAll(() => hub.close());

async function scrape(authorization?: string) {
  return hub.app.inject({ method: 'GET', url: '/metrics', headers: authorization ? { authorization } : {} });
}

/** The value of one sample, by its exact name and labels as the exposition prints them. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('/metrics', () => {
  it('shows requests by route template, SCIM and GraphQL operations, backlogs, target queues, the pool and the process', async () => {
    const response = await scrape(`Bearer ${METRICS_TOKEN}`);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = response.body;
    expect(
      sample(text, 'meridian_http_requests_total{route="/scim/v2/Users",method="POST",status_class="2xx",tenant_class="tenant"}'),
    ).toBe(1);
    expect(
      sample(text, 'meridian_http_requests_total{route="/scim/v2/Users/:id",method="GET",status_class="4xx",tenant_class="tenant"}'),
    ).toBe(1);
    expect(sample(text, 'meridian_http_requests_total{route="unmatched",method="GET",status_class="4xx",tenant_class="anonymous"}')).toBe(
      1,
    );
    expect(sample(text, 'meridian_http_request_duration_seconds_count{route="/scim/v2/Users/:id",method="GET"}')).toBe(2);
    expect(sample(text, 'meridian_scim_operations_total{resource="Users",operation="create",status_class="2xx"}')).toBe(1);
    expect(sample(text, 'meridian_scim_operations_total{resource="Users",operation="get",status_class="2xx"}')).toBe(1);
    expect(sample(text, 'meridian_graphql_operations_total{type="query",field="communities",outcome="ok"}')).toBe(1);
    // No relay runs in this process: the user's creation waits in the outbox.
    expect(sample(text, 'meridian_backlog_entries{queue="outbox"}')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'meridian_backlog_oldest_age_seconds{queue="outbox"}')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'meridian_backlog_entries{queue="directory_inbox"}')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'meridian_backlog_oldest_age_seconds{queue="event_stream_inbox"}')).toBe(0);
    expect(sample(text, 'meridian_event_stream_sets{state="pending"}')).toBe(0);
    expect(sample(text, 'meridian_metrics_source_up{source="event_streams"}')).toBe(1);
    expect(sample(text, `meridian_replication_queue_jobs{target="${targetId}",state="waiting"}`)).toBe(0);
    expect(sample(text, `meridian_replication_links{target="${targetId}",status="pending"}`)).toBe(0);
    expect(sample(text, `meridian_replication_dead_letters{target="${targetId}"}`)).toBe(0);
    expect(sample(text, `meridian_replication_circuit_state{target="${targetId}",state="closed"}`)).toBe(1);
    expect(sample(text, `meridian_replication_target_paused{target="${targetId}"}`)).toBe(0);
    expect(sample(text, 'meridian_db_pool_connections{state="max"}')).toBeGreaterThan(0);
    expect(sample(text, 'meridian_metrics_source_up{source="database"}')).toBe(1);
    expect(sample(text, 'meridian_metrics_source_up{source="queue"}')).toBe(1);
    expect(text).toContain('meridian_process_cpu_user_seconds_total');
    expect(text).toContain('meridian_nodejs_eventloop_lag_seconds');
  });

  it('labels nothing with a tenant id, a resource id or a URL', async () => {
    const text = (await scrape(`Bearer ${hub.adminToken}`)).body;
    for (const id of [hub.tenants.emea.id, hub.tenants.apac.id, userId, 'ada@example.org', '/no/such']) expect(text).not.toContain(id);
    const labelValues = [...text.matchAll(/(\w+)="([^"]*)"/g)].map((m) => `${m[1]}=${m[2]}`);
    expect(
      labelValues.filter((l) => l.startsWith('tenant_class=')).every((l) => /^tenant_class=(tenant|operator|anonymous)$/.test(l)),
    ).toBe(true);
    expect(labelValues.filter((l) => l.startsWith('route=')).every((l) => l === 'route=unmatched' || l.startsWith('route=/'))).toBe(true);
  });

  it('answers 401 without a token or with an unknown one, 403 to a tenant token, 200 to the metrics and admin tokens', async () => {
    const none = await scrape();
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer realm="meridian"');
    expect(none.body).not.toContain('meridian_');
    const unknown = await scrape('Bearer not-a-token-of-this-hub');
    expect(unknown.statusCode).toBe(401);
    expect(unknown.headers['www-authenticate']).toBe('Bearer realm="meridian", error="invalid_token"');
    const tenant = await scrape(`Bearer ${hub.tenants.emea.token}`);
    expect(tenant.statusCode).toBe(403);
    expect(tenant.body).not.toContain('meridian_');
    expect((await scrape(`Bearer ${METRICS_TOKEN}`)).statusCode).toBe(200);
    expect((await scrape(`Bearer ${hub.adminToken}`)).statusCode).toBe(200);
  });

  it('counts the replication events the engine logs, by target', async () => {
    const metrics = new HubMetrics();
    const seen: string[] = [];
    const logger = metrics.countingReplicationLogger({
      debug: (m) => void seen.push(m),
      info: (m) => void seen.push(m),
      warn: (m) => void seen.push(m),
      error: (m) => void seen.push(m),
    });
    logger.warn('replication dead-lettered', { tenant: hub.tenants.emea.id, target: targetId, resource: userId });
    logger.debug('replication retrying', { target: targetId });
    logger.info('something else', {});
    expect(seen).toEqual(['replication dead-lettered', 'replication retrying', 'something else']);
    const text = await metrics.render();
    expect(sample(text, `meridian_replication_events_total{event="dead_lettered",target="${targetId}"}`)).toBe(1);
    expect(sample(text, `meridian_replication_events_total{event="retried",target="${targetId}"}`)).toBe(1);
    expect(text).not.toContain(hub.tenants.emea.id);
  });
});

describe('MERIDIAN_METRICS_PORT', () => {
  let server: FastifyInstance;
  let origin: string;
  const readErrors: unknown[] = [];
  beforeAll(async () => {
    const metrics = new HubMetrics(
      () => readOperationalState(hub.runtime),
      (error) => void readErrors.push(error),
    );
    server = await startMetricsServer({
      metrics,
      token: METRICS_TOKEN,
      authenticate: createAuthenticator(hub.runtime.adminStore, hub.adminToken),
      port: 0,
      host: '127.0.0.1',
    });
    const address = server.server.address();
    origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(() => server.close());

  it('serves /metrics on its own port, with the same protection', async () => {
    expect((await fetch(`${origin}/metrics`)).status).toBe(401);
    const tenant = await fetch(`${origin}/metrics`, { headers: { authorization: `Bearer ${hub.tenants.emea.token}` } });
    expect(tenant.status).toBe(403);
    const ok = await fetch(`${origin}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('meridian_metrics_source_up{source="database"} 1');
    expect(readErrors).toEqual([]);
    expect((await fetch(`${origin}/scim/v2/Users`)).status).toBe(404);
    // A worker's liveness, without a token: it serves no other HTTP port.
    expect(await (await fetch(`${origin}/healthz`)).json()).toEqual({ status: 'ok' });
  });
});
