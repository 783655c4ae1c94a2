import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createOrm, type MikroORM } from '@meridian/store';
import { eventually } from '@meridian/test-utils';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../src/config/config.js';
import { buildApp } from '../src/http/app.js';
import { HubMetrics } from '../src/observability/metrics.js';
import { openRuntime, type Runtime } from '../src/runtime/runtime.js';

// The read replica of DATABASE_READ_URL (issue 20, ADR 0031) against a real
// streaming replica: a primary and a physical standby initdb'd here in a
// temporary directory (pg_basebackup -R), on free loopback ports, so the shared
// server is left alone. Replay is paused on the standby to tell apart what it
// served from what the primary served.

const run = promisify(execFile);
const system = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
const SCIM = 'application/scim+json';
const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';

/** The newest PostgreSQL server binaries of the machine (Debian's layout), if any. */
function serverBinaries(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'postgres')) && existsSync(join(root, v, 'bin', 'pg_basebackup')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

const bin = serverBinaries();
if (!bin) console.warn("Skipped: 'read replica' (no PostgreSQL server binaries under /usr/lib/postgresql/*/bin).");
const describeWithServer = bin ? describe : describe.skip;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** PostgreSQL refuses to run as root: as root, the servers run as the `postgres` account. */
async function account(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** Every wait of this file gives up after a minute. */
const aMinute = { timeoutMs: 60_000 };

describeWithServer('read replica', () => {
  let dir: string;
  let owner: { uid: number; gid: number } | undefined;
  const servers = new Map<string, ChildProcess>();
  let primaryPort: number;
  let replicaPort: number;
  let primarySql: MikroORM;
  let replicaSql: MikroORM;
  let runtime: Runtime;
  let app: FastifyInstance;
  let metrics: HubMetrics;
  let writer: string;
  let reader: string;

  const asOwner = () => (owner ? { uid: owner.uid, gid: owner.gid } : {});
  const urlOf = (port: number) => `postgres://postgres@127.0.0.1:${port}/postgres`;
  const query = async <T>(orm: MikroORM, sql: string) => (await orm.em.getConnection().execute(sql)) as T[];

  async function startServer(name: string, port: number): Promise<void> {
    const server = spawn(
      join(bin as string, 'postgres'),
      ['-D', join(dir, name), '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'],
      { ...asOwner(), stdio: 'ignore' },
    );
    servers.set(name, server);
  }

  async function stopServer(name: string): Promise<void> {
    const server = servers.get(name);
    servers.delete(name);
    if (!server || server.exitCode !== null) return;
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGINT'); // fast shutdown
    await exited;
  }

  const lsnOf = async (orm: MikroORM, fn: string) => (await query<{ lsn: string }>(orm, `select ${fn}()::text as lsn`))[0]?.lsn ?? '';
  /** Waits until the standby has replayed everything the primary has written so far. */
  async function caughtUp(): Promise<void> {
    const target = await lsnOf(primarySql, 'pg_current_wal_insert_lsn');
    await eventually(
      'the replica to replay the primary',
      async () => {
        const [row] = await query<{ behind: boolean }>(replicaSql, `select pg_last_wal_replay_lsn() < '${target}'::pg_lsn as behind`);
        return row?.behind === false;
      },
      aMinute,
    );
  }

  /** Waits until the standby has received (not necessarily replayed) everything the primary has written so far. */
  async function received(): Promise<void> {
    const target = await lsnOf(primarySql, 'pg_current_wal_insert_lsn');
    await eventually(
      'the replica to receive the primary',
      async () => {
        const [row] = await query<{ behind: boolean }>(replicaSql, `select pg_last_wal_receive_lsn() < '${target}'::pg_lsn as behind`);
        return row?.behind === false;
      },
      aMinute,
    );
  }

  async function pauseReplay(): Promise<void> {
    await query(replicaSql, 'select pg_wal_replay_pause()');
    await eventually(
      'replay to pause',
      async () => {
        const [row] = await query<{ state: string }>(replicaSql, 'select pg_get_wal_replay_pause_state() as state');
        return row?.state === 'paused';
      },
      aMinute,
    );
  }

  async function reads(): Promise<Record<string, number>> {
    const metric = await metrics.registry.getSingleMetric('meridian_db_reads_total')?.get();
    const counts: Record<string, number> = {};
    for (const value of metric?.values ?? []) counts[`${value.labels.served_by}/${value.labels.reason}`] = value.value;
    return counts;
  }

  const findUser = async (token: string, userName: string) => {
    const response = await app.inject({
      method: 'GET',
      url: `/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`,
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.statusCode).toBe(200);
    return (response.json() as { totalResults: number }).totalResults;
  };

  const graphqlUsers = async (token: string) => {
    const response = await app.inject({
      method: 'POST',
      url: '/graphql',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      payload: { query: '{ tenant(slug: "emea") { users(first: 50) { edges { node { userName } } } } }' },
    });
    const body = response.json() as { data?: { tenant: { users: { edges: { node: { userName: string } }[] } } }; errors?: unknown };
    expect(body.errors).toBeUndefined();
    return (body.data?.tenant.users.edges ?? []).map((e) => e.node.userName);
  };

  const createUser = async (token: string, userName: string) => {
    const response = await app.inject({
      method: 'POST',
      url: '/scim/v2/Users',
      headers: { authorization: `Bearer ${token}`, 'content-type': SCIM },
      payload: { schemas: [USER_SCHEMA], userName },
    });
    expect(response.statusCode).toBe(201);
    return (response.json() as { id: string }).id;
  };

  beforeAll(async () => {
    owner = await account();
    dir = await mkdtemp(join(tmpdir(), 'meridian-read-replica-'));
    if (owner) await chown(dir, owner.uid, owner.gid);
    [primaryPort, replicaPort] = [await freePort(), await freePort()];
    // initdb's pg_hba trusts local and loopback connections, replication ones included.
    await run(join(bin as string, 'initdb'), ['-D', join(dir, 'primary'), '-U', 'postgres', '-A', 'trust', '--no-sync'], asOwner());
    await startServer('primary', primaryPort);
    primarySql = await createOrm({ url: urlOf(primaryPort), role: null, poolSize: 2 });
    await eventually('the primary to accept connections', async () => (await query(primarySql, 'select 1')).length === 1, aMinute);
    await run(
      join(bin as string, 'pg_basebackup'),
      ['-D', join(dir, 'replica'), '-R', '-X', 'stream', '-h', '127.0.0.1', '-p', String(primaryPort), '-U', 'postgres', '--no-sync'],
      asOwner(),
    );
    await startServer('replica', replicaPort);
    replicaSql = await createOrm({ url: urlOf(replicaPort), role: null, poolSize: 2 });
    await eventually(
      'the replica to accept connections',
      async () => {
        const [row] = await query<{ standby: boolean }>(replicaSql, 'select pg_is_in_recovery() as standby');
        return row?.standby === true;
      },
      aMinute,
    );

    const config = loadConfig({
      DATABASE_URL: urlOf(primaryPort),
      DATABASE_READ_URL: urlOf(replicaPort),
      // Paused replay makes the replica as old as its last replayed commit: the bound is checked on its own below.
      MERIDIAN_READ_REPLICA_MAX_LAG_MS: '3600000',
      MERIDIAN_ADMIN_TOKEN: 'test-admin-token-0123456789abcdefghijklmnop',
    });
    runtime = await openRuntime(config, 'client');
    metrics = new HubMetrics();
    app = await buildApp({ config, runtime, logger: false, metrics });
    await runtime.admin.createCommunity(platform, { slug: 'coi', name: 'CoI' }, system);
    await runtime.admin.createTenant(platform, { slug: 'emea', name: 'EMEA', community: 'coi' }, system);
    const scopes = ['scim:read', 'scim:write', 'graphql:read', 'graphql:write'];
    writer = (await runtime.admin.issueToken(platform, { tenant: 'emea', scopes }, system)).token;
    reader = (await runtime.admin.issueToken(platform, { tenant: 'emea', scopes: ['scim:read', 'graphql:read'] }, system)).token;
    await caughtUp();
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    await runtime?.close();
    await primarySql?.close(true);
    await replicaSql?.close(true).catch(() => undefined);
    await stopServer('replica');
    await stopServer('primary');
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('serves reads from the replica, and a caller its own writes from the primary until the replica has them', async () => {
    await createUser(writer, 'before@emea.example');
    await caughtUp();
    await pauseReplay();
    const before = await reads();

    await createUser(writer, 'ada@emea.example');
    // The writer reads its write: the replica has not replayed it, so the primary answers.
    expect(await findUser(writer, 'ada@emea.example')).toBe(1);
    expect(await graphqlUsers(writer)).toContain('ada@emea.example');
    // Another caller reads from the replica, which does not have it yet, but has what came before.
    expect(await findUser(reader, 'ada@emea.example')).toBe(0);
    expect(await findUser(reader, 'before@emea.example')).toBe(1);
    const seen = await graphqlUsers(reader);
    expect(seen).toContain('before@emea.example');
    expect(seen).not.toContain('ada@emea.example');

    const during = await reads();
    expect((during['primary/caller_wrote'] ?? 0) - (before['primary/caller_wrote'] ?? 0)).toBeGreaterThanOrEqual(2);
    expect((during['replica/replica'] ?? 0) - (before['replica/replica'] ?? 0)).toBeGreaterThanOrEqual(3);

    await query(replicaSql, 'select pg_wal_replay_resume()');
    await caughtUp();
    expect(await findUser(reader, 'ada@emea.example')).toBe(1);
    expect(await graphqlUsers(reader)).toContain('ada@emea.example');
    // Caught up, the replica serves the writer too (once a process's last probe, reused for 100 ms, is newer than the replay).
    await eventually(
      'the writer to be served by the replica',
      async () => {
        const writerBefore = (await reads())['replica/replica'] ?? 0;
        expect(await findUser(writer, 'ada@emea.example')).toBe(1);
        return ((await reads())['replica/replica'] ?? 0) > writerBefore;
      },
      aMinute,
    );
  });

  it('never sends a write to the replica', async () => {
    await pauseReplay();
    const before = await reads();
    const id = await createUser(writer, 'grace@emea.example');
    const patched = await app.inject({
      method: 'PATCH',
      url: `/scim/v2/Users/${id}`,
      headers: { authorization: `Bearer ${writer}`, 'content-type': SCIM },
      payload: {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'replace', path: 'displayName', value: 'Grace Hopper' }],
      },
    });
    expect(patched.statusCode).toBe(200);
    const mutation = await app.inject({
      method: 'POST',
      url: '/graphql',
      headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/json' },
      payload: { query: 'mutation { createGroup(tenant: "emea", displayName: "Engines") { id displayName } }' },
    });
    expect((mutation.json() as { data?: { createGroup: { displayName: string } } }).data?.createGroup.displayName).toBe('Engines');
    // Nothing was tried on the replica, and nothing had to be moved off it.
    const after = await reads();
    expect(after['replica/replica'] ?? 0).toBe(before['replica/replica'] ?? 0);
    expect(after['primary/write'] ?? 0).toBe(before['primary/write'] ?? 0);
    const [row] = await query<{ name: string }>(
      primarySql,
      "select attributes ->> 'displayName' as name from scim_user where user_name = 'grace@emea.example'",
    );
    expect(row?.name).toBe('Grace Hopper');
    expect(await query(primarySql, "select 1 from scim_group where display_name = 'Engines'")).toHaveLength(1);
    // The standby (replay paused) has neither: they were written on the primary only.
    expect(await query(replicaSql, "select 1 from scim_user where user_name = 'grace@emea.example'")).toHaveLength(0);
    expect(await query(replicaSql, "select 1 from scim_group where display_name = 'Engines'")).toHaveLength(0);
    await query(replicaSql, 'select pg_wal_replay_resume()');
    await caughtUp();
  });

  it('keeps reads on the primary while the replica lags beyond the bound', async () => {
    const config = loadConfig({
      DATABASE_URL: urlOf(primaryPort),
      DATABASE_READ_URL: urlOf(replicaPort),
      MERIDIAN_READ_REPLICA_MAX_LAG_MS: '0',
    });
    const strict = await openRuntime(config, 'client');
    const strictMetrics = new HubMetrics();
    const strictApp = await buildApp({ config, runtime: strict, logger: false, metrics: strictMetrics });
    try {
      await pauseReplay();
      // The writer's write is behind the paused replay: the replica lags, whoever reads.
      await createUser(writer, 'lag@emea.example');
      // Received but not replayed: the replica knows it is behind.
      await received();
      const response = await strictApp.inject({
        method: 'GET',
        url: `/scim/v2/Users?filter=${encodeURIComponent('userName eq "lag@emea.example"')}`,
        headers: { authorization: `Bearer ${reader}` },
      });
      expect((response.json() as { totalResults: number }).totalResults).toBe(1);
      const metric = await strictMetrics.registry.getSingleMetric('meridian_db_reads_total')?.get();
      const lagged = metric?.values.find((v) => v.labels.served_by === 'primary' && v.labels.reason === 'lag');
      expect(lagged?.value).toBeGreaterThanOrEqual(1);
      expect(metric?.values.find((v) => v.labels.served_by === 'replica')).toBeUndefined();
    } finally {
      await strictApp.close();
      await strict.close();
      await query(replicaSql, 'select pg_wal_replay_resume()');
      await caughtUp();
    }
  });

  // Read-your-writes across api processes needs the positions where every process sees them: Redis.
  (process.env.REDIS_URL ? it : it.skip)('keeps read-your-writes across two hub processes through Redis', async () => {
    const config = loadConfig({
      DATABASE_URL: urlOf(primaryPort),
      DATABASE_READ_URL: urlOf(replicaPort),
      MERIDIAN_READ_REPLICA_MAX_LAG_MS: '3600000',
      REDIS_URL: process.env.REDIS_URL,
    });
    const hubs = [await openRuntime(config, 'client'), await openRuntime(config, 'client')];
    const apps = await Promise.all(hubs.map((runtime) => buildApp({ config, runtime, logger: false })));
    const [first, second] = apps as [FastifyInstance, FastifyInstance];
    try {
      await pauseReplay();
      const created = await first.inject({
        method: 'POST',
        url: '/scim/v2/Users',
        headers: { authorization: `Bearer ${writer}`, 'content-type': SCIM },
        payload: { schemas: [USER_SCHEMA], userName: 'alan@emea.example' },
      });
      expect(created.statusCode).toBe(201);
      await received();
      const search = (token: string) =>
        second.inject({
          method: 'GET',
          url: `/scim/v2/Users?filter=${encodeURIComponent('userName eq "alan@emea.example"')}`,
          headers: { authorization: `Bearer ${token}` },
        });
      // The other process sends the writer to the primary, and anyone else to the (paused) replica.
      expect(((await search(writer)).json() as { totalResults: number }).totalResults).toBe(1);
      expect(((await search(reader)).json() as { totalResults: number }).totalResults).toBe(0);
    } finally {
      for (const each of apps) await each.close();
      for (const each of hubs) await each.close();
      await query(replicaSql, 'select pg_wal_replay_resume()');
      await caughtUp();
    }
  });

  it('falls back to the primary when the replica is down', async () => {
    await stopServer('replica');
    const before = await reads();
    expect(await findUser(reader, 'ada@emea.example')).toBe(1);
    expect(await graphqlUsers(reader)).toContain('ada@emea.example');
    const after = await reads();
    expect((after['primary/replica_unavailable'] ?? 0) - (before['primary/replica_unavailable'] ?? 0)).toBeGreaterThanOrEqual(2);
    expect(after['replica/replica'] ?? 0).toBe(before['replica/replica'] ?? 0);
  });
});
