import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SCHEMA } from '@meridian/core';
import { createTestDatabase, eventually, FakeScimTarget, type TestDatabase } from '@meridian/test-utils';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../src/config/config.js';
import { buildApp } from '../src/http/app.js';
import { createHubLogger, replicationLogger } from '../src/runtime/logger.js';
import { openRuntime, type Runtime } from '../src/runtime/runtime.js';

// Issue 11, item 9: operators see replication. One pino logger for the process, as `meridian serve` builds it,
// writes into memory; the hub listens on a real port and replicates to a fake SCIM target that fails.

const system = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
/** The address the filter looks for; it must never reach the logs. */
const ADDRESS = 'secret.person@example.com';

type Line = Record<string, unknown> & { level: number; msg: string };

let db: TestDatabase;
let runtime: Runtime;
let app: FastifyInstance;
let fake: FakeScimTarget;
let origin: string;
let tenant: { id: string; token: string; tokenId: string };
let targetId: string;
const adminToken = `admin-${randomBytes(16).toString('hex')}`;
const raw: string[] = [];
const lines = (): Line[] => raw.map((text) => JSON.parse(text) as Line);

beforeAll(async () => {
  db = await createTestDatabase();
  const config = loadConfig({
    DATABASE_URL: db.url,
    ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
    MERIDIAN_ADMIN_TOKEN: adminToken,
    MERIDIAN_PUBLIC_URL: 'https://hub.test',
    MERIDIAN_SECRET_KEYS: `k1:${Buffer.alloc(32, 9).toString('base64')}`,
    // The fake target listens on 127.0.0.1: the outbound request policy opens it for this hub only.
    MERIDIAN_OUTBOUND_ALLOW: '127.0.0.1',
  });
  const logger = createHubLogger(config, { level: 'debug', stream: { write: (line: string) => void raw.push(line) } });
  runtime = await openRuntime(config, 'client', undefined, replicationLogger(logger));
  app = await buildApp({ config, runtime, loggerInstance: logger });
  origin = await app.listen({ port: 0, host: '127.0.0.1' });

  const { admin } = runtime;
  await admin.createCommunity(platform, { slug: 'coi', name: 'CoI' }, system);
  const created = await admin.createTenant(platform, { slug: 'emea', name: 'EMEA', community: 'coi' }, system);
  const issued = await admin.issueToken(
    platform,
    { tenant: 'emea', scopes: ['scim:read', 'scim:write', 'graphql:read', 'graphql:write'] },
    system,
  );
  tenant = { id: created.id, token: issued.token, tokenId: issued.record.id };

  // A target that answers 503 to every create and gives up after two attempts.
  fake = await FakeScimTarget.start({ token: `bearer-${randomBytes(16).toString('hex')}` });
  fake.failNext({ type: 'status', status: 503 }, { times: 1000, match: { method: 'POST', path: '/Users' } });
  const target = await runtime.replication.targets.create(
    created.id,
    {
      name: 'failing',
      kind: 'scim',
      config: { baseUrl: fake.url, timeoutMs: 2000 },
      secrets: { token: fake.token },
      scoping: { Group: false },
      maxAttempts: 2,
    },
    system,
  );
  targetId = target.id;
  await runtime.replication.start();
});

afterAll(async () => {
  await app?.close();
  await runtime?.close();
  await fake?.close();
  await db?.close();
});

async function call(method: string, path: string, options: { token?: string; body?: unknown } = {}) {
  const response = await fetch(`${origin}${path}`, {
    method,
    headers: {
      ...(options.token !== undefined ? { authorization: `Bearer ${options.token}` } : {}),
      ...(options.body !== undefined ? { 'content-type': path.startsWith('/graphql') ? 'application/json' : 'application/scim+json' } : {}),
    },
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  const text = await response.text();
  return {
    status: response.status,
    requestId: response.headers.get('x-request-id') ?? '',
    body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
  };
}

/**
 * The lines the HTTP app logged for a request (Fastify's child logger binds `reqId`; the request line is written
 * once the response is done). Replication lines carry the `reqId` of the write that caused them too.
 */
async function linesOf(requestId: string): Promise<Line[]> {
  const ofRequest = () => lines().filter((line) => line.reqId === requestId && line.component !== 'replication');
  // The request line is the last one a request writes: wait for it, not for a fixed time.
  return eventually(
    `the request line of ${requestId}`,
    () => (ofRequest().some((line) => line.msg === 'request completed') ? ofRequest() : undefined),
    { timeoutMs: 5_000, intervalMs: 100 },
  );
}

describe('request log lines', () => {
  it('logs one line per SCIM request, with tenant and token id and no filter value', async () => {
    const filter = encodeURIComponent(`userName eq "${ADDRESS}"`);
    const listed = await call('GET', `/scim/v2/Users?filter=${filter}&count=5&attributes=userName`, { token: tenant.token });
    expect(listed.status).toBe(200);
    const logged = await linesOf(listed.requestId);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({
      level: 30,
      msg: 'request completed',
      method: 'GET',
      route: '/scim/v2/Users',
      url: '/scim/v2/Users?filter=[REDACTED]&count=5&attributes=userName',
      status: 200,
      tenant: tenant.id,
      actor: tenant.tokenId,
      durationMs: expect.any(Number),
    });

    const created = await call('POST', '/scim/v2/Users', { token: tenant.token, body: { schemas: [SCHEMA.user], userName: ADDRESS } });
    expect(created.status).toBe(201);
    expect(await linesOf(created.requestId)).toEqual([
      expect.objectContaining({ msg: 'request completed', method: 'POST', route: '/scim/v2/Users', status: 201, tenant: tenant.id }),
    ]);

    const read = await call('GET', `/scim/v2/Users/${created.body.id}`, { token: tenant.token });
    expect(await linesOf(read.requestId)).toEqual([
      expect.objectContaining({
        route: '/scim/v2/Users/:id',
        url: `/scim/v2/Users/${created.body.id}`,
        status: 200,
        actor: tenant.tokenId,
      }),
    ]);
  });

  it('names the tenant and token of a GraphQL caller too', async () => {
    const answered = await call('POST', '/graphql', { token: tenant.token, body: { query: '{ __typename }' } });
    expect(answered.status).toBe(200);
    expect(await linesOf(answered.requestId)).toEqual([
      expect.objectContaining({ level: 30, route: '/graphql', status: 200, tenant: tenant.id, actor: tenant.tokenId }),
    ]);
  });

  it('logs 4xx at info without a principal, and probes at debug only', async () => {
    const refused = await call('GET', `/scim/v2/Users?filter=${encodeURIComponent(`emails co "${ADDRESS}"`)}`);
    expect(refused.status).toBe(401);
    const [line, ...rest] = await linesOf(refused.requestId);
    expect(rest).toEqual([]);
    expect(line).toMatchObject({ level: 30, status: 401, url: '/scim/v2/Users?filter=[REDACTED]' });
    expect(line).not.toHaveProperty('tenant');
    expect(line).not.toHaveProperty('actor');

    const missing = await call('GET', '/nowhere?q=x');
    expect(await linesOf(missing.requestId)).toEqual([expect.objectContaining({ level: 30, status: 404, url: '/nowhere?q=[REDACTED]' })]);

    for (const probe of ['/healthz', '/readyz']) {
      const answered = await call('GET', probe);
      expect(answered.status).toBe(200);
      const logged = await linesOf(answered.requestId);
      expect(logged).toEqual([expect.objectContaining({ level: 20, msg: 'request completed', route: probe, status: 200 })]);
    }
    expect(lines().filter((l) => l.level >= 30 && typeof l.route === 'string' && ['/healthz', '/readyz'].includes(l.route))).toEqual([]);
  });
});

describe('replication log lines', () => {
  it('logs a dead letter as exactly one structured line with tenant, target and resource ids', async () => {
    const created = await call('POST', '/scim/v2/Users', {
      token: tenant.token,
      body: { schemas: [SCHEMA.user], userName: 'dead@example.com' },
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const letter = await eventually(
      'the dead letter',
      async () => (await runtime.replication.deadLetters(tenant.id)).find((l) => l.localId === id),
      {
        intervalMs: 100,
      },
    );
    expect(letter.reason).toMatch(/^gave up after 2 attempts/);
    // The log line follows the dead letter's row: wait until it is written.
    await eventually('the dead-letter log line', () => lines().find((l) => l.msg === 'replication dead-lettered' && l.resource === id), {
      timeoutMs: 5_000,
      intervalMs: 100,
    });

    const logged = lines().filter((l) => l.msg === 'replication dead-lettered' && l.resource === id);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({
      level: 40,
      component: 'replication',
      tenant: tenant.id,
      target: targetId,
      resource: id,
      resourceType: 'User',
      operation: 'create',
      attempts: 2,
      failure: 'transient',
      reason: expect.stringMatching(/^gave up after 2 attempts/),
      reqId: created.requestId,
    });
    // The retry before it is a debug line of its own.
    expect(lines().filter((l) => l.msg === 'replication retrying' && l.resource === id)).toEqual([
      expect.objectContaining({ level: 20, tenant: tenant.id, target: targetId, attempts: 1, maxAttempts: 2 }),
    ]);
  });

  it('writes no secret, token or filtered address into any line', () => {
    expect(raw.length).toBeGreaterThan(10);
    const secrets = [fake.token, tenant.token, adminToken, ADDRESS, encodeURIComponent(ADDRESS)];
    const found = raw.flatMap((line) => secrets.filter((s) => line.includes(s)).map((s) => `${s} in ${line.slice(0, 300)}`));
    expect(found).toEqual([]);
  });
});
