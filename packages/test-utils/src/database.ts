import { randomBytes } from 'node:crypto';
import { acquireEmbeddedDatabase, createOrm, type EmbeddedDatabase, type MikroORM, migrate } from '@meridian/store';
import pg from 'pg';

const TEMPLATE = 'meridian_test_template';
const PREFIX = 'meridian_test_';

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
  await withClient(adminUrl, async (client) => {
    const stale = await client.query<{ datname: string }>('select datname from pg_database where datname like $1', [`${PREFIX}%`]);
    for (const row of stale.rows) await client.query(`drop database if exists ${client.escapeIdentifier(row.datname)} with (force)`);
    await client.query(`create database ${TEMPLATE}`);
  });
  const orm = await createOrm({ url: withDatabase(adminUrl, TEMPLATE), poolSize: 1 });
  await migrate(orm);
  await orm.close(true);
  return { adminUrl, embedded };
}

/** Jest global teardown: drops the test databases and stops an embedded server. */
export async function cleanupTestServer(server: TestServer): Promise<void> {
  await withClient(server.adminUrl, async (client) => {
    const rows = await client.query<{ datname: string }>('select datname from pg_database where datname like $1', [`${PREFIX}%`]);
    for (const row of rows.rows) await client.query(`drop database if exists ${client.escapeIdentifier(row.datname)} with (force)`);
  });
  await server.embedded?.release();
}

/** A fresh, migrated database for one test file. */
export interface TestDatabase {
  url: string;
  orm: MikroORM;
  /** Runs SQL directly, for assertions on what was written. */
  query<R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  close(): Promise<void>;
}

/** Clones the migrated template into a new database. Needs `MERIDIAN_TEST_ADMIN_URL` from the global setup. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = process.env.MERIDIAN_TEST_ADMIN_URL;
  if (!adminUrl) throw new TypeError('MERIDIAN_TEST_ADMIN_URL is not set: run the tests through jest with the global setup.');
  const name = `${PREFIX}${randomBytes(6).toString('hex')}`;
  await withClient(adminUrl, (client) => client.query(`create database ${name} template ${TEMPLATE}`));
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
      await withClient(adminUrl, (client) => client.query(`drop database if exists ${name} with (force)`));
    },
  };
}
