import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parseRedisUrl } from '@meridian/replication';
import { createTestDatabase, eventually, FakeScimTarget, type TestDatabase } from '@meridian/test-utils';
import { ConfigError, loadConfig } from '../src/config/config.js';
import { openRuntime, type Runtime } from '../src/runtime/runtime.js';

// Scale-out on a Redis Cluster (issue 20): three masters started here on loopback ports, two api and two worker
// processes on one PostgreSQL, REDIS_URL naming the seed nodes. A burst of SCIM writes sent to both api processes
// reaches a real HTTP target exactly once in effect, in order per resource, while one worker is killed mid-burst;
// each target queue's keys share one hash slot (BullMQ's scripts need it).

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const system = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
const haveRedis = spawnSync('redis-server', ['--version']).status === 0 && spawnSync('redis-cli', ['--version']).status === 0;
if (!haveRedis) console.warn("Skipped: 'scale-out on a Redis Cluster' (redis-server and redis-cli are not installed).");
const describeWithRedis = haveRedis ? describe : describe.skip;

const USERS = 24;
const processes: ChildProcess[] = [];
const outputs = new Map<ChildProcess, string>();

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function isFree(port: number): Promise<boolean> {
  const server = createServer();
  const free = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (free) await new Promise((resolve) => server.close(resolve));
  return free;
}

/** A free port whose cluster bus port (port + 10000) is free as well. */
async function clusterPort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    if ((await isFree(port)) && (await isFree(port + 10_000))) return port;
  }
}

/** Starts a process and resolves once it printed `ready` (or rejects with its output when it exits first). */
function start(command: string, args: string[], env: NodeJS.ProcessEnv, ready: string): Promise<ChildProcess> {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  processes.push(child);
  outputs.set(child, '');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} did not start:\n${outputs.get(child)}`)), 60_000);
    const onData = (chunk: Buffer) => {
      outputs.set(child, (outputs.get(child) ?? '') + chunk.toString());
      if (outputs.get(child)?.includes(ready)) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited with ${code}:\n${outputs.get(child)}`));
    });
  });
}

function redisCli(port: number, ...args: string[]): string {
  return spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' }).stdout;
}

describeWithRedis('scale-out on a Redis Cluster of three masters', () => {
  let dir: string;
  let db: TestDatabase;
  let target: FakeScimTarget;
  let runtime: Runtime;
  let env: NodeJS.ProcessEnv;
  let redisPorts: number[];
  let apis: string[];
  let workers: ChildProcess[];
  let tenantId: string;
  let targetId: string;
  let token: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meridian-cluster-'));
    redisPorts = [await clusterPort(), await clusterPort(), await clusterPort()];
    for (const port of redisPorts) {
      const nodeDir = join(dir, `redis-${port}`);
      await mkdir(nodeDir);
      await start(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--dir', nodeDir, '--save', '', '--appendonly', 'no'].concat([
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
        ]),
        process.env,
        'Ready to accept connections',
      );
    }
    const created = spawnSync(
      'redis-cli',
      ['--cluster', 'create', ...redisPorts.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'],
      { encoding: 'utf8' },
    );
    expect(created.status).toBe(0);
    await eventually('the cluster to be ok', () => redisPorts.every((p) => redisCli(p, 'cluster', 'info').includes('cluster_state:ok')), {
      intervalMs: 100,
    });

    db = await createTestDatabase();
    target = await FakeScimTarget.start({ token: 'downstream-token' });
    env = {
      ...process.env,
      DATABASE_URL: db.url,
      REDIS_URL: redisPorts.map((p, i) => `${i === 0 ? 'redis://' : ''}127.0.0.1:${p}`).join(','),
      MERIDIAN_SECRET_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
      MERIDIAN_DATA_DIR: dir,
      MERIDIAN_ADMIN_TOKEN: 'cluster-admin-token-0123456789abcdefghijkl',
      MERIDIAN_OUTBOUND_ALLOW: '127.0.0.1',
      LOG_LEVEL: 'warn',
    };
    runtime = await openRuntime(loadConfig(env), 'client');
    await runtime.admin.createCommunity(platform, { slug: 'coi', name: 'CoI' }, system);
    tenantId = (await runtime.admin.createTenant(platform, { slug: 'office', name: 'Office', community: 'coi' }, system)).id;
    token = (await runtime.admin.issueToken(platform, { tenant: 'office', scopes: ['scim:read', 'scim:write'] }, system)).token;
    targetId = (
      await runtime.replication.targets.create(
        tenantId,
        { name: 'csp', kind: 'scim', config: { baseUrl: target.url }, secrets: { token: 'downstream-token' }, concurrency: 4 },
        system,
      )
    ).id;
    // A slow target, so that the kill lands while deliveries are in flight.
    target.failNext({ type: 'delay', ms: 40 }, { times: 100_000 });

    apis = [];
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      await start(
        process.execPath,
        [main, 'serve', '--role', 'api'],
        { ...env, PORT: String(port) },
        'Meridian hub is running (role: api)',
      );
      apis.push(`http://127.0.0.1:${port}`);
    }
    workers = [];
    for (let i = 0; i < 2; i++) {
      workers.push(await start(process.execPath, [main, 'serve', '--role', 'worker'], env, 'Meridian hub is running (role: worker)'));
    }
  }, 180_000);

  afterAll(async () => {
    for (const child of processes.reverse()) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
    }
    await runtime?.close();
    await target?.close();
    await db?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function scim(api: string, method: string, path: string, body: unknown) {
    const response = await fetch(`${api}/scim/v2${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' },
      body: JSON.stringify(body),
    });
    expect(response.status).toBeLessThan(300);
    return (await response.json()) as { id: string };
  }

  it('delivers a burst written through two api processes exactly once in effect while a worker is killed', async () => {
    const ids = await Promise.all(
      Array.from({ length: USERS }, (_, i) =>
        scim(apis[i % 2] as string, 'POST', '/Users', {
          schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
          userName: `u${i}@office.example`,
          title: 'v0',
        }).then((u) => u.id),
      ),
    );
    await eventually('the first deliveries', () => target.requestsTo('POST', '/Users').length >= 3, { timeoutMs: 60_000, intervalMs: 100 });
    const killed = workers[0] as ChildProcess;
    killed.kill('SIGKILL');
    await new Promise((resolve) => killed.once('exit', resolve));
    // Three updates per user, through the other api process each time: the target must end on the last.
    for (const version of ['v1', 'v2', 'v3']) {
      await Promise.all(
        ids.map((id, i) =>
          scim(apis[(i + 1) % 2] as string, 'PATCH', `/Users/${id}`, {
            schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
            Operations: [{ op: 'replace', path: 'title', value: version }],
          }),
        ),
      );
    }

    await eventually(
      'the target to hold the last state of every user',
      () => {
        const remote = target.users;
        return remote.length === USERS && ids.every((id) => remote.some((u) => u.externalId === id && u.title === 'v3'));
      },
      {
        timeoutMs: 150_000,
        intervalMs: 100,
        explain: async () =>
          JSON.stringify({
            counts: await runtime.replication.statusCounts(tenantId),
            remote: target.users.map((u) => [u.externalId, u.title]),
            output: [...outputs.values()].join('\n---\n').slice(-3000),
          }),
      },
    );
    const created = target
      .requestsTo('POST', '/Users')
      .filter((r) => r.status === 201)
      .map((r) => (r.body as { externalId: string }).externalId);
    expect(new Set(created).size).toBe(created.length);
    expect([...created].sort()).toEqual([...ids].sort());
    // The target answers before the worker records the delivery: the last links settle a moment after it.
    await eventually(
      'the last deliveries to be recorded',
      async () => (await runtime.replication.statusCounts(tenantId))[0]?.pending === 0,
      {
        intervalMs: 100,
      },
    );
    const counts = await runtime.replication.statusCounts(tenantId);
    expect(counts).toEqual([expect.objectContaining({ pending: 0, failed: 0, deadLettered: 0, delivered: USERS })]);

    // The target's queue lives in one hash slot, named by its hash tag.
    const tag = `{${runtime.replication.ctx.queues.nameOf(targetId)}}`;
    const slot = redisCli(redisPorts[0] as number, 'cluster', 'keyslot', tag).trim();
    const keys = redisPorts.flatMap((p) => redisCli(p, '--scan', '--pattern', `${tag}*`).split('\n').filter(Boolean));
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) expect(redisCli(redisPorts[0] as number, 'cluster', 'keyslot', key).trim()).toBe(slot);
  }, 240_000);
});

describe('REDIS_URL', () => {
  it('names one server, a TLS server, or the seed nodes of a cluster', () => {
    expect(parseRedisUrl('redis://:s3cret@cache:6380/2')).toEqual({
      nodes: [{ host: 'cache', port: 6380 }],
      cluster: false,
      options: { password: 's3cret', db: 2 },
    });
    expect(parseRedisUrl('rediss://app:pw@cache.example')).toMatchObject({ cluster: false, options: { username: 'app', tls: {} } });
    expect(parseRedisUrl('redis://10.0.0.1:7000,10.0.0.2:7001,[::1]:7002')).toMatchObject({
      cluster: true,
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
        { host: '::1', port: 7002 },
      ],
    });
    expect(parseRedisUrl('redis://seed:7000?cluster=true').cluster).toBe(true);
  });

  it('is refused at start with the reason, never with the password', () => {
    const refused = (url: string) => {
      try {
        loadConfig({ REDIS_URL: url });
        return undefined;
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as Error).message;
      }
    };
    expect(refused('http://cache:6379')).toContain('REDIS_URL must look like redis://host:6379/0');
    expect(refused('redis://:hunter2@a:7000,b:99999')).toContain("REDIS_URL has an invalid host: 'b:99999'");
    expect(refused('redis://:hunter2@a:7000,b:99999')).not.toContain('hunter2');
    expect(refused('redis://a:7000,b:7001/3')).toContain('a Redis Cluster does not have');
    expect(loadConfig({ REDIS_URL: 'redis://a:7000,b:7001' }).redisUrl).toBe('redis://a:7000,b:7001');
  });
});
