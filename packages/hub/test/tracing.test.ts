import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTestDatabase, eventually, type TestDatabase } from '@meridian/test-utils';
import { loadConfig } from '../src/config/config.js';
import { openRuntime } from '../src/runtime/runtime.js';

// Traces (issue 20): a hub started with OTEL_EXPORTER_OTLP_ENDPOINT exports over OTLP/HTTP to a collector (here a
// plain HTTP server in the test), and one SCIM write's trace holds its request span, its PostgreSQL statements, and
// the worker's delivery span, which continues the trace through the outbox event's stored trace context.

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const system = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
const ADMIN_TOKEN = 'trace-admin-token-0123456789abcdefghijklmn';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: Record<string, unknown>;
}

let db: TestDatabase;
let dataDir: string;
let collector: Server;
let hub: ChildProcess | undefined;
let origin: string;
let token: string;
let output = '';
const spans: OtlpSpan[] = [];
const exportPaths: string[] = [];

/** OTLP/JSON's attribute list as an object. */
function attributesOf(list: { key: string; value: Record<string, unknown> }[] = []): Record<string, unknown> {
  return Object.fromEntries(list.map(({ key, value }) => [key, Object.values(value)[0]]));
}

async function freePort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** How this file's waits look (every 100 ms), and what a timeout shows: what the hub printed. */
const watchingHub = { intervalMs: 100, explain: () => `hub output:\n${output}` };

beforeAll(async () => {
  db = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'meridian-trace-'));
  collector = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    request.on('end', () => {
      exportPaths.push(request.url ?? '');
      if (request.url === '/v1/traces') {
        const parsed = JSON.parse(body) as {
          resourceSpans: { scopeSpans: { spans: (OtlpSpan & { attributes: { key: string; value: Record<string, unknown> }[] })[] }[] }[];
        };
        for (const resource of parsed.resourceSpans) {
          for (const scope of resource.scopeSpans)
            for (const span of scope.spans) spans.push({ ...span, attributes: attributesOf(span.attributes) });
        }
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  const collectorPort = (collector.address() as AddressInfo).port;

  const env = { DATABASE_URL: db.url, MERIDIAN_ADMIN_TOKEN: ADMIN_TOKEN, MERIDIAN_DATA_DIR: dataDir };
  const runtime = await openRuntime(loadConfig(env), 'client');
  try {
    await runtime.admin.createCommunity(platform, { slug: 'coi', name: 'CoI' }, system);
    const tenant = await runtime.admin.createTenant(platform, { slug: 'emea', name: 'EMEA', community: 'coi' }, system);
    token = (await runtime.admin.issueToken(platform, { tenant: 'emea', scopes: ['scim:read', 'scim:write'] }, system)).token;
    await runtime.replication.targets.create(tenant.id, { name: 'mirror', kind: 'memory', config: {} }, system);
  } finally {
    await runtime.close();
  }

  const port = await freePort();
  origin = `http://127.0.0.1:${port}`;
  const childEnv: Record<string, string | undefined> = {
    ...process.env,
    ...env,
    PORT: String(port),
    HOST: '127.0.0.1',
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collectorPort}`,
    OTEL_SERVICE_NAME: 'meridian-test',
    // Export within a tenth of a second instead of five.
    OTEL_BSP_SCHEDULE_DELAY: '100',
  };
  hub = spawn(process.execPath, [main, 'serve', '--role', 'all'], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  hub.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  hub.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  await eventually('the hub to start', () => output.includes('Meridian hub is running'), { ...watchingHub, timeoutMs: 60_000 });
}, 90_000);

afterAll(async () => {
  if (hub && hub.exitCode === null) {
    const exited = new Promise((resolve) => hub?.once('exit', resolve));
    hub.kill('SIGTERM');
    await exited;
  }
  await new Promise((resolve) => collector?.close(resolve));
  await db?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('OpenTelemetry', () => {
  it("puts a SCIM write's request, its statements and its delivery to a target in one trace", async () => {
    const response = await fetch(`${origin}/scim/v2/Users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' },
      body: JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'grace@example.org' }),
    });
    expect(response.status).toBe(201);
    const userId = ((await response.json()) as { id: string }).id;

    const request = await eventually(
      'the request span',
      () => spans.find((s) => s.name === 'request' && s.attributes['http.route'] === '/scim/v2/Users'),
      watchingHub,
    );
    const delivery = await eventually(
      'the delivery span',
      () => spans.find((s) => s.name === 'replication.deliver' && s.attributes['meridian.resource.id'] === userId),
      watchingHub,
    );
    expect(delivery.traceId).toBe(request.traceId);
    expect(delivery.attributes).toMatchObject({ 'messaging.system': 'bullmq', 'meridian.resource.type': 'User' });
    const trace = spans.filter((s) => s.traceId === request.traceId);
    // The delivery hangs under a statement of the request (the one that wrote the outbox event), not at the root.
    expect(trace.map((s) => s.spanId)).toContain(delivery.parentSpanId);
    const statements = trace.filter((s) => s.attributes['db.system.name'] === 'postgresql' || s.attributes['db.system'] === 'postgresql');
    expect(statements.length).toBeGreaterThan(0);
    if (process.env.REDIS_URL) {
      // Redis commands of the request (the shared rate limits) and of the delivery (BullMQ), by name only.
      const commands = trace.filter((s) => s.attributes['db.system'] === 'redis' || s.attributes['db.system.name'] === 'redis');
      expect(commands.length).toBeGreaterThan(0);
      for (const c of commands) expect(c.attributes['db.statement'] ?? c.attributes['db.query.text']).toBe(c.name);
    }
    // Statement texts are recorded with their placeholders, never with the values bound to them.
    expect(JSON.stringify(trace)).not.toContain('grace@example.org');
    expect(JSON.stringify(trace)).not.toContain(token);
  });

  it('continues the trace a client sends (W3C traceparent), and makes no span of health probes', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const answered = await fetch(`${origin}/scim/v2/Users?count=1`, {
      headers: { authorization: `Bearer ${token}`, traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    });
    expect(answered.status).toBe(200);
    expect((await fetch(`${origin}/healthz`)).status).toBe(200);
    const request = await eventually(
      'the client-continued span',
      () => spans.find((s) => s.name === 'request' && s.traceId === traceId),
      watchingHub,
    );
    expect(request.parentSpanId).toBe('00f067aa0ba902b7');
    expect(spans.some((s) => s.attributes['http.route'] === '/healthz')).toBe(false);
    expect(exportPaths).toContain('/v1/traces');
  });
});
