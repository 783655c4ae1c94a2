import { parseArgs } from 'node:util';

/** What one `pnpm bench` run does. */
export interface BenchOptions {
  /** Server URL of PostgreSQL (DATABASE_URL); the bench database is created on it. */
  serverUrl: string;
  database: string;
  users: number;
  tenants: number;
  /** Members of the large group (the PATCH measurement); the first tenant gets enough users for it. */
  bigGroup: number;
  smallGroup: number;
  reseed: boolean;
  write: boolean;
  /** Seconds per throughput measurement. */
  duration: number;
  /** Alternating measurement rounds per scenario and server; the best counts. */
  rounds: number;
  /** Concurrent HTTP connections of the load tool. */
  connections: number;
  /** PATCH add+remove pairs per group. */
  patchIterations: number;
  /** LOG_LEVEL of the hub process. */
  hubLogLevel: string;
  /** Where `--write` puts the report. */
  out: string;
  /** Only the scenarios whose names contain one of these (case-insensitive); all when empty. */
  scenarios: string[];
  /** The longest wait, in seconds, for a quieter machine before each measurement (0: none). */
  quietWait: number;
}

const USAGE = `usage: pnpm bench [--users 1000000] [--tenants 100] [--big-group 100000] [--small-group 100]
                  [--duration 10] [--rounds 3] [--connections 16] [--patch-iterations 200] [--hub-log-level info]
                  [--database meridian_bench] [--reseed] [--write] [--out docs/benchmarks.md]
                  [--scenarios "userName eq,POST"] [--quiet-wait 90]

Seeds (or reuses) a database on DATABASE_URL's server (default postgres://postgres@127.0.0.1:5432/postgres),
then measures the hub against a bare Fastify + pg baseline. --write puts the report into docs/benchmarks.md.
--scenarios measures only the scenarios whose names contain one of the comma-separated words; --quiet-wait is
the longest wait for a quieter machine before each measurement (seconds, 0 for none).`;

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < 1) throw new TypeError(`--${name} must be a positive integer.\n\n${USAGE}`);
  return n;
}

/** Parses the command line; throws a TypeError with the usage on bad input. */
export function parseOptions(argv: string[], env: Record<string, string | undefined>): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      users: { type: 'string' },
      tenants: { type: 'string' },
      'big-group': { type: 'string' },
      'small-group': { type: 'string' },
      duration: { type: 'string' },
      connections: { type: 'string' },
      rounds: { type: 'string' },
      'patch-iterations': { type: 'string' },
      'hub-log-level': { type: 'string' },
      database: { type: 'string' },
      out: { type: 'string' },
      reseed: { type: 'boolean' },
      write: { type: 'boolean' },
      scenarios: { type: 'string' },
      'quiet-wait': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const users = positive('users', values.users, 1_000_000);
  const tenants = positive('tenants', values.tenants, 100);
  const bigGroup = positive('big-group', values['big-group'], Math.min(100_000, Math.floor(users / 2)));
  const smallGroup = positive('small-group', values['small-group'], Math.min(100, bigGroup));
  // The first tenant holds the large group plus the users the PATCH step adds.
  if (bigGroup + 1_000 + (tenants - 1) > users || smallGroup > bigGroup) {
    throw new TypeError(
      `--users must be at least --big-group + 1000 + (--tenants - 1), and --small-group at most --big-group.\n\n${USAGE}`,
    );
  }
  const database = values.database ?? 'meridian_bench';
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(database)) throw new TypeError(`--database must be a plain lower-case identifier.\n\n${USAGE}`);
  return {
    serverUrl: env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres',
    database,
    users,
    tenants,
    bigGroup,
    smallGroup,
    reseed: values.reseed ?? false,
    write: values.write ?? false,
    duration: positive('duration', values.duration, 10),
    connections: positive('connections', values.connections, 16),
    rounds: positive('rounds', values.rounds, 3),
    patchIterations: positive('patch-iterations', values['patch-iterations'], 200),
    hubLogLevel: values['hub-log-level'] ?? 'info',
    out: values.out ?? 'docs/benchmarks.md',
    scenarios: (values.scenarios ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter((s) => s !== ''),
    quietWait: values['quiet-wait'] === '0' ? 0 : positive('quiet-wait', values['quiet-wait'], 90),
  };
}

export { USAGE };
