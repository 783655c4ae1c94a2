import { randomBytes } from 'node:crypto';
import { acquireEmbeddedDatabase, createOrm, type EmbeddedDatabase, type MikroORM, migrate } from '@meridian/store';
import pg from 'pg';

const PREFIX = 'meridian_test_';

/**
 * Test databases carry the id of the jest run that made them
 * (`meridian_test_<pid>_…`), so that runs sharing a server never drop each
 * other's databases; a run cleans up what dead runs left behind.
 */
function runPrefix(pid: number): string {
  return `${PREFIX}${pid}_`;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Replaces the database name of a PostgreSQL URL. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A PostgreSQL server for a test run: `DATABASE_URL`'s, or an embedded one. */
export interface TestServer {
  /** URL of a maintenance database on the server, used to create and drop test databases. */
  adminUrl: string;
  /** The migrated database every test file of this run clones. */
  template: string;
  embedded: EmbeddedDatabase | undefined;
}

/**
 * Jest global setup: finds the server, then builds a template database from
 * the committed migrations that every test file clones (a database per file).
 */
export async function prepareTestServer(dataDir: string): Promise<TestServer> {
  let embedded: EmbeddedDatabase | undefined;
  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    embedded = await acquireEmbeddedDatabase({ dataDir, port: 0, role: 'server', database: 'postgres' });
    adminUrl = embedded.url;
  }
  const prefix = runPrefix(process.pid);
  const template = `${prefix}template`;
  await withClient(adminUrl, async (client) => {
    const existing = await client.query<{ datname: string }>('select datname from pg_database where datname like $1', [`${PREFIX}%`]);
    for (const { datname } of existing.rows) {
      const pid = Number(/^meridian_test_(\d+)_/.exec(datname)?.[1] ?? Number.NaN);
      // Databases of an older naming, or of a run that has ended, are leftovers.
      if (Number.isNaN(pid) || pid === process.pid || !isAlive(pid)) {
        await client.query(`drop database if exists ${client.escapeIdentifier(datname)} with (force)`);
      }
    }
    await client.query(`create database ${client.escapeIdentifier(template)}`);
  });
  // Migrations run as the server's user (the owner); the role they create does not exist before them.
  const orm = await createOrm({ url: withDatabase(adminUrl, template), poolSize: 1, role: null });
  await migrate(orm);
  await orm.close(true);
  return { adminUrl, template, embedded };
}

/** Jest global teardown: drops the test databases and stops an embedded server. */
export async function cleanupTestServer(server: TestServer): Promise<void> {
  await withClient(server.adminUrl, async (client) => {
    const prefix = server.template.slice(0, -'template'.length);
    const rows = await client.query<{ datname: string }>('select datname from pg_database where starts_with(datname, $1)', [prefix]);
    for (const row of rows.rows) await client.query(`drop database if exists ${client.escapeIdentifier(row.datname)} with (force)`);
  });
  await server.embedded?.release();
}

/** A fresh, migrated database for one test file. */
export interface TestDatabase {
  url: string;
  /** Acts as the application role, like the hub: the row-level security policies apply (ADR 0010). */
  orm: MikroORM;
  /** Runs SQL directly as the server's user, for setup and assertions on what was written; row-level security does not apply. */
  query<R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  close(): Promise<void>;
}

/** Clones the migrated template into a new database. Needs `MERIDIAN_TEST_ADMIN_URL` and `MERIDIAN_TEST_TEMPLATE` from the global setup. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = process.env.MERIDIAN_TEST_ADMIN_URL;
  const template = process.env.MERIDIAN_TEST_TEMPLATE;
  if (!adminUrl || !template) throw new TypeError('MERIDIAN_TEST_ADMIN_URL is not set: run the tests through jest with the global setup.');
  const name = `${template.slice(0, -'template'.length)}${randomBytes(6).toString('hex')}`;
  await withClient(adminUrl, (client) => client.query(`create database ${name} template ${template}`));
  const url = withDatabase(adminUrl, name);
  const orm = await createOrm({ url, poolSize: 5 });
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  return {
    url,
    orm,
    async query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []) {
      return (await pool.query<R>(sql, params)).rows;
    },
    async close() {
      await orm.close(true);
      await pool.end();
      // Not `with (force)`: a pool of the code under test that is still closing would see its connections killed and
      // raise an unhandled error in the test file. A database still in use is left to the global teardown.
      await withClient(adminUrl, (client) => client.query(`drop database if exists ${name}`)).catch((error: { code?: string }) => {
        if (error.code !== '55006') throw error;
      });
    },
  };
}

/** True when the test server has a database of that name (tests of what may and may not create one). */
export async function testDatabaseExists(name: string): Promise<boolean> {
  return withClient(adminUrlOfRun(), async (client) => {
    const found = await client.query('select 1 from pg_database where datname = $1', [name]);
    return (found.rowCount ?? 0) > 0;
  });
}

/** Drops a database a test made on the test server. */
export async function dropTestDatabase(name: string): Promise<void> {
  await withClient(adminUrlOfRun(), async (client) => {
    await client.query(`drop database if exists ${client.escapeIdentifier(name)} with (force)`);
  });
}

/** A name on the test server that this run's cleanup drops if a test does not. */
export function testDatabaseName(label: string): string {
  const template = process.env.MERIDIAN_TEST_TEMPLATE;
  if (!template) throw new TypeError('MERIDIAN_TEST_TEMPLATE is not set: run the tests through jest (its global setup sets it).');
  return `${template.slice(0, -'template'.length)}${label}_${randomBytes(3).toString('hex')}`;
}

function adminUrlOfRun(): string {
  const url = process.env.MERIDIAN_TEST_ADMIN_URL;
  if (!url) throw new TypeError('MERIDIAN_TEST_ADMIN_URL is not set: run the tests through jest (its global setup sets it).');
  return url;
}
