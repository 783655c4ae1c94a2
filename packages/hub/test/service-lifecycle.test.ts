import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from '@jest/globals';
import { createTestDatabase, dropTestDatabase, eventually, testDatabaseExists, testDatabaseName, withDatabase } from '@meridian/test-utils';

// Issue 11: the hub installs, starts and stops like a real service. Real hub processes, real
// embedded PostgreSQL servers, real signals.

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const adminUrl = process.env.MERIDIAN_TEST_ADMIN_URL as string;
const ADMIN_TOKEN = `mrd_test_${randomBytes(24).toString('hex')}`;
const cleanup: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => {});
});

interface Hub {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Starts `meridian serve` (or another command) with only the given environment on top of PATH/HOME. */
function run(args: string[], env: Record<string, string>): Hub {
  const base: Record<string, string | undefined> = { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'warn' };
  const child = spawn(process.execPath, [main, ...args], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  cleanup.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, output: () => output, exited };
}

/** Waits up to a minute (the hubs start an embedded PostgreSQL) for the hub to say it runs; a timeout shows its output. */
function started(hub: { output: () => string }): Promise<true> {
  return eventually('the hub to start', () => hub.output().includes('Meridian hub is running'), { timeoutMs: 60_000, explain: hub.output });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

async function occupiedPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => new Promise((r) => server.close(() => r())));
  return { port: (server.address() as { port: number }).port, server };
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'meridian-lifecycle-'));
  cleanup.push(async () => {
    // As root in a private folder the cluster lives under /var/lib/meridian: remove it with its data directory.
    const settings = await readFile(join(dir, 'pg-settings.json'), 'utf8').catch(() => '{}');
    const { clusterDir } = JSON.parse(settings) as { clusterDir?: string };
    if (clusterDir) await rm(dirname(clusterDir), { recursive: true, force: true });
    await rm(dir, { recursive: true, force: true });
  });
  return dir;
}

/** The pid of the postmaster of a hub's embedded cluster (wherever the data directory says it lives). */
function postmasterPid(dataDir: string): number {
  const settings = JSON.parse(readFileSync(join(dataDir, 'pg-settings.json'), 'utf8')) as { clusterDir?: string };
  const cluster = settings.clusterDir ?? join(dataDir, 'pg');
  return Number(readFileSync(join(cluster, 'postmaster.pid'), 'utf8').split('\n')[0]);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function status(url: string, init?: RequestInit): Promise<{ status: number; body: string }> {
  try {
    const response = await fetch(url, init);
    return { status: response.status, body: await response.text() };
  } catch {
    return { status: 0, body: '' };
  }
}

describe('starting the hub', () => {
  it('refuses a busy HTTP port before it migrates, starts a database or prints a token', async () => {
    const { port } = await occupiedPort();
    const dataDir = join(await tempDir(), 'data');
    const hub = run(['serve'], { PORT: String(port), MERIDIAN_DATA_DIR: dataDir });
    expect(await hub.exited).toBe(1);
    expect(hub.output()).toContain(`Port ${port} on 127.0.0.1 is in use`);
    expect(hub.output()).toContain('Set PORT');
    expect(hub.output()).not.toMatch(/Platform admin token|Applied migrations|undefined/);
    expect(existsSync(dataDir)).toBe(false);
  });

  it('does not create a database that DATABASE_URL names but the server lacks, until asked to', async () => {
    const name = testDatabaseName('typo');
    const url = withDatabase(adminUrl, name);
    cleanup.push(() => dropTestDatabase(name));
    const hub = run(['serve'], { PORT: String(await freePort()), DATABASE_URL: url, MERIDIAN_DATA_DIR: await tempDir() });
    expect(await hub.exited).toBe(1);
    expect(hub.output()).toContain(`The database "${name}" does not exist`);
    expect(hub.output()).toContain('DATABASE_URL');
    expect(hub.output()).toContain('meridian migrate --create-database');
    expect(hub.output()).not.toMatch(/Platform admin token|Applied migrations/);
    expect(await testDatabaseExists(name)).toBe(false);

    const migrate = run(['migrate', '--create-database', '--json'], { DATABASE_URL: url, MERIDIAN_DATA_DIR: await tempDir() });
    expect(await migrate.exited).toBe(0);
    expect(await testDatabaseExists(name)).toBe(true);
    expect(JSON.parse(migrate.output().slice(migrate.output().indexOf('{'))).applied.length).toBeGreaterThan(0);
  });

  it('names DATABASE_URL when nothing answers at its address', async () => {
    const url = `postgres://postgres@127.0.0.1:${await freePort()}/meridian`;
    const hub = run(['serve'], { PORT: String(await freePort()), DATABASE_URL: url, MERIDIAN_DATA_DIR: await tempDir() });
    expect(await hub.exited).toBe(1);
    expect(hub.output()).toMatch(/Cannot reach a PostgreSQL server at 127\.0\.0\.1:\d+/);
    expect(hub.output()).toContain('Check the host and port in DATABASE_URL');
    expect(hub.output()).not.toContain('undefined');
  });

  it('names MERIDIAN_EMBEDDED_PG_PORT when the port set there is taken', async () => {
    const { port } = await occupiedPort();
    const hub = run(['serve'], {
      PORT: String(await freePort()),
      MERIDIAN_DATA_DIR: await tempDir(),
      MERIDIAN_EMBEDDED_PG_PORT: String(port),
    });
    expect(await hub.exited).toBe(1);
    expect(hub.output()).toContain(`Port ${port} (127.0.0.1) is in use by another program`);
    expect(hub.output()).toContain('MERIDIAN_EMBEDDED_PG_PORT');
    expect(hub.output()).not.toMatch(/Platform admin token|undefined/);
  });

  it('answers /readyz 503 with disk: full when the data directory has less free space than required', async () => {
    const port = await freePort();
    const db = await createTestDatabase();
    cleanup.push(() => db.close());
    const hub = run(['serve'], {
      PORT: String(port),
      DATABASE_URL: db.url,
      MERIDIAN_DATA_DIR: await tempDir(),
      MERIDIAN_ADMIN_TOKEN: ADMIN_TOKEN,
      // More than any test machine has: the disk counts as full.
      MERIDIAN_READY_MIN_FREE_MB: String(1024 ** 3),
    });
    await started(hub);
    const ready = await status(`http://127.0.0.1:${port}/readyz`);
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body)).toMatchObject({ status: 'unavailable', checks: { database: 'ok', disk: 'full' } });
    hub.child.kill('SIGTERM');
    expect(await hub.exited).toBe(0);
  });

  it('names MERIDIAN_DATA_DIR when the data directory cannot be written', async () => {
    const file = join(await tempDir(), 'a-file');
    await writeFile(file, 'not a directory');
    const hub = run(['serve'], { PORT: String(await freePort()), MERIDIAN_DATA_DIR: join(file, 'data') });
    expect(await hub.exited).toBe(1);
    expect(hub.output()).toContain('cannot be written');
    expect(hub.output()).toContain('Set MERIDIAN_DATA_DIR');
    expect(hub.output()).not.toContain('undefined');
  });
});

describe('two hubs on one machine, each with its embedded PostgreSQL', () => {
  it('start side by side, survive the death of their database, and stop cleanly on SIGTERM', async () => {
    const hubs = await Promise.all(
      [0, 1].map(async () => {
        const dataDir = await tempDir();
        const port = await freePort();
        // No MERIDIAN_EMBEDDED_PG_PORT: each picks a free port and keeps it in its data directory.
        const hub = run(['serve'], { PORT: String(port), MERIDIAN_DATA_DIR: dataDir, MERIDIAN_ADMIN_TOKEN: ADMIN_TOKEN });
        return { ...hub, dataDir, base: `http://127.0.0.1:${port}` };
      }),
    );
    for (const hub of hubs) await started(hub);
    for (const hub of hubs) expect((await status(`${hub.base}/readyz`)).status).toBe(200);

    const [first, second] = hubs as [(typeof hubs)[0], (typeof hubs)[0]];
    const graphql = (base: string) =>
      status(`${base}/graphql`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ communities(first: 1) { totalCount } }' }),
      });
    expect((await graphql(first.base)).status).toBe(200);

    // The first hub's PostgreSQL dies: requests answer 503 in their own error shape, never 500,
    // and the hub restarts the database by itself.
    const pid = postmasterPid(first.dataDir);
    process.kill(pid, 'SIGKILL');
    const seen: { status: number; body: string }[] = [];
    await eventually(
      'the hub to recover',
      async () => {
        const [ready, scim, gql] = await Promise.all([
          status(`${first.base}/readyz`),
          status(`${first.base}/scim/v2/Users`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }),
          graphql(first.base),
        ]);
        seen.push(scim, gql, ready);
        return ready.status === 200 && gql.status === 200 && first.output().includes('is back on');
      },
      { timeoutMs: 60_000, explain: first.output },
    );
    expect(seen.filter((r) => r.status >= 500 && r.status !== 503)).toEqual([]);
    const unavailable = seen.filter((r) => r.status === 503);
    expect(unavailable.length).toBeGreaterThan(0);
    for (const r of unavailable) expect(r.body).toMatch(/urn:ietf:params:scim:api:messages:2\.0:Error|"UNAVAILABLE"|"unavailable"/);
    expect(first.output()).toContain(`The embedded PostgreSQL (pid ${pid}) was stopped by SIGKILL`);
    expect((await status(`${second.base}/readyz`)).status).toBe(200);

    // SIGTERM: in order, exit 0, no PostgreSQL left behind, no stack trace.
    const postmasters = hubs.map((h) => postmasterPid(h.dataDir));
    for (const hub of hubs) hub.child.kill('SIGTERM');
    for (const hub of hubs) expect(await hub.exited).toBe(0);
    for (const p of postmasters) expect(alive(p)).toBe(false);
    for (const hub of hubs) {
      expect(hub.output()).toContain('[meridian] Stopped.');
      expect(hub.output()).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)|Error: Connection terminated/);
    }
  });
});
