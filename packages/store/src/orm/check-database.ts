import pg from 'pg';

/** Why a database URL does not lead to a usable database. */
export type DatabaseProblem = 'UNREACHABLE' | 'CREDENTIALS' | 'MISSING' | 'STARTING';

/** A database URL that cannot be used, with what is wrong with it (never the password). */
export class DatabaseConnectError extends Error {
  override name = 'DatabaseConnectError';
  constructor(
    readonly problem: DatabaseProblem,
    message: string,
    readonly target: { host: string; port: string; database: string; user: string },
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Options of {@link checkDatabase}. */
export interface CheckDatabaseOptions {
  /** Creates the database when the server has none of that name (an explicit opt-in: a typo must not make an empty hub). */
  create?: boolean;
  connectTimeoutMs?: number;
}

function describe(url: string) {
  const parsed = new URL(url);
  return {
    host: parsed.hostname || 'localhost',
    port: parsed.port || '5432',
    database: decodeURIComponent(parsed.pathname.replace(/^\//, '')) || decodeURIComponent(parsed.username) || 'postgres',
    user: decodeURIComponent(parsed.username) || 'the current user',
  };
}

async function connect(url: string, timeoutMs: number): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => {});
  try {
    await client.connect();
    return client;
  } catch (error) {
    await client.end().catch(() => {});
    throw error;
  }
}

/**
 * Connects once to `url` before anything else uses it, so that a wrong URL
 * fails with what is wrong (server unreachable, credentials refused, no such
 * database) instead of a driver error later, and a missing database is only
 * created when asked. Returns whether it created the database.
 */
export async function checkDatabase(url: string, options: CheckDatabaseOptions = {}): Promise<{ created: boolean }> {
  const target = describe(url);
  const where = `${target.host}:${target.port}`;
  const timeoutMs = options.connectTimeoutMs ?? 10_000;
  try {
    const client = await connect(url, timeoutMs);
    await client.end();
    return { created: false };
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === '3D000') {
      if (!options.create) {
        throw new DatabaseConnectError(
          'MISSING',
          `The database "${target.database}" does not exist on the PostgreSQL server at ${where}.`,
          target,
          {
            cause: error,
          },
        );
      }
      const maintenance = new URL(url);
      maintenance.pathname = '/postgres';
      const client = await connect(maintenance.toString(), timeoutMs);
      try {
        await client.query(`create database ${client.escapeIdentifier(target.database)}`);
      } finally {
        await client.end();
      }
      return { created: true };
    }
    if (code === '28P01' || code === '28000') {
      throw new DatabaseConnectError(
        'CREDENTIALS',
        `The PostgreSQL server at ${where} refused the credentials of user "${target.user}".`,
        target,
        {
          cause: error,
        },
      );
    }
    if (code === '57P03') {
      throw new DatabaseConnectError('STARTING', `The PostgreSQL server at ${where} is starting up or shutting down.`, target, {
        cause: error,
      });
    }
    const reason = error instanceof Error && error.message ? error.message : String(code ?? 'no answer');
    throw new DatabaseConnectError('UNREACHABLE', `Cannot reach a PostgreSQL server at ${where} (${reason}).`, target, { cause: error });
  }
}
