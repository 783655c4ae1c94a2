import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type DirectoryCaller, principalOfRole, SCHEMA, STREAM_EVENT } from '@meridian/core';
import { createTestDatabase, eventually, type TestDatabase } from '@meridian/test-utils';
import type { FastifyInstance } from 'fastify';
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import { loadConfig } from '../src/config/config.js';
import { buildApp } from '../src/http/app.js';
import { openRuntime, type Runtime } from '../src/runtime/runtime.js';

// Issue 17: "kill -9 of the worker during delivery then exact counts (every event once in effect, none lost)". A worker
// process (`serve --role worker`) pushes SETs to a slow receiver written here; it is killed with SIGKILL mid-push, more
// changes come while no worker runs, and a second worker finishes: every change's SET arrives, verified with jose
// against the issuer's JWKS, counted by unique jti (a push in flight at the kill may come twice: at least once).

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const system = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
const scimCaller = (tenantId: string): DirectoryCaller => ({ principal: principalOfRole('provisioner', { tenantId }), api: 'scim' });

function startWorker(env: Record<string, string>): Promise<ChildProcess> {
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env };
  delete childEnv.REDIS_URL;
  const child = spawn(process.execPath, [main, 'serve', '--role', 'worker'], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Meridian hub is running (role: worker)')) resolve(child);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}:\n${output}`)));
  });
}

/** Every wait of this file: up to two minutes (worker processes start and stop in it), looking every 100 ms. */
const patiently = { timeoutMs: 120_000, intervalMs: 100 };

describe('a push worker killed with SIGKILL', () => {
  let db: TestDatabase;
  let runtime: Runtime;
  let app: FastifyInstance;
  let dataDir: string;
  let env: Record<string, string>;
  let server: Server;
  const received: string[] = [];
  const workers: ChildProcess[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    dataDir = await mkdtemp(join(tmpdir(), 'meridian-ssf-sigkill-'));
    env = {
      DATABASE_URL: db.url,
      MERIDIAN_SECRET_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
      MERIDIAN_DATA_DIR: dataDir,
      MERIDIAN_ADMIN_TOKEN: 'ssf-sigkill-admin-token-0123456789abcdefgh',
      MERIDIAN_PUBLIC_URL: 'https://hub.test',
      LOG_LEVEL: 'warn',
      MERIDIAN_OUTBOUND_ALLOW: '127.0.0.1',
    };
    const config = loadConfig(env);
    runtime = await openRuntime(config, 'client');
    // The hub's API, for the JWKS a receiver verifies SETs with.
    app = await buildApp({ config, runtime, logger: false });
    // A slow receiver (RFC 8935): the kill lands while pushes are in flight.
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        setTimeout(() => {
          received.push(body);
          res.writeHead(202).end();
        }, 50);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  }, 120_000);

  afterAll(async () => {
    for (const worker of workers) if (worker.exitCode === null) worker.kill('SIGKILL');
    await new Promise((resolve) => server.close(resolve));
    await app.close();
    await runtime.close();
    await db.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('delivers every change once in effect after a restart, none lost', async () => {
    const { admin, resources } = runtime;
    await admin.createCommunity(platform, { slug: 'coi', name: 'CoI' }, system);
    const tenant = await admin.createTenant(platform, { slug: 'office', name: 'Office', community: 'coi' }, system);
    const reader = await admin.issueToken(platform, { community: 'coi', role: 'hr_reader' }, system);
    const { port } = server.address() as AddressInfo;
    const stream = await runtime.streams.service.adminCreate(
      platform,
      'coi',
      { kind: 'token', tokenId: reader.record.id },
      {
        delivery: { method: 'urn:ietf:rfc:8935', endpoint_url: `http://127.0.0.1:${port}/events` },
        events_requested: [STREAM_EVENT.createNotice, STREAM_EVENT.patchNotice],
      },
      system,
    );

    const first = await startWorker(env);
    workers.push(first);
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      const user = await resources.create(
        scimCaller(tenant.id),
        tenant.id,
        'User',
        { schemas: [SCHEMA.user], userName: `u${i}@office.example` },
        system,
      );
      ids.push(user.id);
    }
    await eventually('the first pushes', () => received.length >= 5, patiently);
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    const beforeKill = received.length;
    expect(beforeKill).toBeLessThan(30);

    // Changes keep coming while no worker runs.
    for (const id of ids.slice(0, 10)) {
      await resources.patch(
        scimCaller(tenant.id),
        tenant.id,
        'User',
        id,
        { schemas: [SCHEMA.patchOp], Operations: [{ op: 'replace', path: 'title', value: 'Lead' }] },
        system,
      );
    }
    // The pushes the dead worker had leased wait for their lease (a minute) to end: end it now instead of waiting.
    await db.query(`update event_stream_set set next_attempt_at = now() where stream_id = $1 and state = 'pending'`, [stream.id]);
    workers.push(await startWorker(env));

    const counts = async () => (await runtime.streams.service.adminGet(platform, 'coi', stream.id)).counts;
    await eventually(
      'every SET to be acknowledged',
      async () => {
        const [inbox] = await db.query<{ n: number }>('select count(*)::int as n from event_stream_inbox');
        const c = await counts();
        return inbox?.n === 0 && c.pending === 0 && c.acknowledged === 40;
      },
      patiently,
    );
    expect(await counts()).toEqual({ pending: 0, delivered: 0, acknowledged: 40, failed: 0, dead: 0 });

    // Every SET the receiver got verifies against the issuer's JWKS; unique jti: exactly the 40 changes, each once.
    const published = await app.inject({ method: 'GET', url: '/oidc/coi/jwks' });
    expect(published.statusCode).toBe(200);
    const jwks = createLocalJWKSet(published.json() as JSONWebKeySet);
    const sets = await Promise.all(
      received.map(async (token) => {
        const { payload } = await jwtVerify(token, jwks, {
          issuer: 'https://hub.test/oidc/coi',
          audience: `urn:meridian:stream:${stream.id}`,
          typ: 'secevent+jwt',
        });
        return payload as { jti: string; txn: string; sub_id: { id: string }; events: Record<string, unknown> };
      }),
    );
    const byJti = new Map(sets.map((s) => [s.jti, s]));
    expect(byJti.size).toBe(40);
    const unique = [...byJti.values()];
    expect(new Set(unique.map((s) => s.txn)).size).toBe(40);
    const creates = unique.filter((s) => STREAM_EVENT.createNotice in s.events).map((s) => s.sub_id.id);
    const patches = unique.filter((s) => STREAM_EVENT.patchNotice in s.events).map((s) => s.sub_id.id);
    expect(creates.sort()).toEqual([...ids].sort());
    expect(patches.sort()).toEqual(ids.slice(0, 10).sort());
    // Each change's SET arrived, in order per stream: a user's create before its patch.
    for (const id of ids.slice(0, 10)) {
      const order = sets.filter((s) => s.sub_id.id === id).map((s) => Object.keys(s.events)[0]);
      expect(order.indexOf(STREAM_EVENT.createNotice)).toBeLessThan(order.lastIndexOf(STREAM_EVENT.patchNotice));
    }
  }, 240_000);
});
