import { parseArgs } from 'node:util';

/** What one `pnpm bench:oidc` run does. */
export interface OidcBenchOptions {
  /** PostgreSQL server URL (DATABASE_URL); the bench database is created on it. */
  serverUrl: string;
  database: string;
  /** Requests sent to each endpoint of each provider. */
  count: number;
  /** Requests in flight at once (autocannon connections). */
  connections: number;
  /** Requests sent to each endpoint of each provider before measuring, not counted. */
  warmup: number;
  /** The hub's LOG_LEVEL: `info` formats a line per request, as in production. */
  logLevel: string;
  write: boolean;
  out: string;
  /** Also writes everything measured as JSON here. */
  json: string | undefined;
}

export const USAGE = `usage: pnpm bench:oidc [--count 5000] [--connections 8] [--warmup 200] [--log-level info]
                     [--database meridian_bench_oidc] [--json <file>] [--write] [--out docs/benchmarks.md]

A fresh database (dropped and created on DATABASE_URL's server), a community with one office account and one
relying party (client credentials, consent implicit), and the built hub (\`meridian serve --role api\`) as its
OpenID Provider; beside it, in the same run, a bare oidc-provider with its default in-memory adapter configured
the same way (same client, lifetimes, features and signing algorithm). Each provider answers --count token
requests (client_credentials, client_secret_basic) and --count userinfo requests (an access token issued once:
at the hub by one authorization-code sign-in, at the bare provider in process), --connections at a time.
--write puts the report into docs/benchmarks.md (between the OIDC markers); --json <file> also writes it as JSON.`;

function count(name: string, value: string | undefined, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  const n = Number(value.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < min || n > max)
    throw new TypeError(`--${name} must be a whole number from ${min} to ${max}.\n\n${USAGE}`);
  return n;
}

/** Parses the command line; throws a TypeError with the usage on bad input. */
export function parseOptions(argv: string[], env: Record<string, string | undefined>): OidcBenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      count: { type: 'string' },
      connections: { type: 'string' },
      warmup: { type: 'string' },
      'log-level': { type: 'string' },
      database: { type: 'string' },
      out: { type: 'string' },
      json: { type: 'string' },
      write: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const database = values.database ?? 'meridian_bench_oidc';
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(database)) throw new TypeError(`--database must be a plain lower-case identifier.\n\n${USAGE}`);
  const logLevel = values['log-level'] ?? 'info';
  if (!['silent', 'error', 'warn', 'info', 'debug'].includes(logLevel)) {
    throw new TypeError(`--log-level must be silent, error, warn, info or debug.\n\n${USAGE}`);
  }
  return {
    serverUrl: env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres',
    database,
    count: count('count', values.count, 5_000, 10),
    connections: count('connections', values.connections, 8, 1, 1024),
    warmup: count('warmup', values.warmup, 200, 0),
    logLevel,
    write: values.write ?? false,
    out: values.out ?? 'docs/benchmarks.md',
    json: values.json,
  };
}
