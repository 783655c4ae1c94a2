import { parseArgs } from 'node:util';

/** What one `pnpm bench:directory` run does. */
export interface DirectoryBenchOptions {
  /** Server URL of PostgreSQL (DATABASE_URL); the bench database is created on it. */
  serverUrl: string;
  /** The directory bench's own database: its seeding rewrites users (shared employeeNumbers, managers). */
  database: string;
  /** The database of `pnpm bench`, cloned (CREATE DATABASE … TEMPLATE) when it holds the same seed. */
  template: string;
  users: number;
  tenants: number;
  bigGroup: number;
  smallGroup: number;
  /** Rebuilds the database: the users' seed and the directory's. */
  reseed: boolean;
  write: boolean;
  out: string;
  /** Seconds per throughput measurement. */
  duration: number;
  /** Alternating hub / baseline rounds per scenario; the best counts. */
  rounds: number;
  /** Concurrent connections of the load tool. */
  connections: number;
  /** Requests sent one at a time per scenario, for the latency of a single query. */
  samples: number;
  /** Accounts whose projection is checked against the SQL seeding. */
  verifySample: number;
  /** SCIM writes of the steady visibility phase, and their rate per second. */
  writes: number;
  rate: number;
  /** SCIM writes of the burst phase (as fast as `burstConcurrency` clients can send them). */
  burst: number;
  burstConcurrency: number;
  hubLogLevel: string;
  /** What the run measures (`--phases`), in this order. */
  phases: DirectoryPhase[];
  /** The rebuild phase: re-project every account in place, or rebuild from an empty directory. */
  rebuildMode: 'existing' | 'empty';
  /** Accounts the rebuild phase re-projects (a random sample); undefined: all of them. */
  rebuildAccounts: number | undefined;
}

/** The parts of a run: the projector's rebuild, one account at a time, the GraphQL queries, SCIM write → visible. */
const DIRECTORY_PHASES = ['rebuild', 'projector', 'queries', 'visibility'] as const;
type DirectoryPhase = (typeof DIRECTORY_PHASES)[number];

const USAGE = `usage: pnpm bench:directory [--users 1000000] [--tenants 100] [--big-group 100000] [--small-group 100]
                            [--duration 10] [--rounds 2] [--connections 8] [--samples 200] [--verify-sample 40]
                            [--writes 300] [--rate 10] [--burst 300] [--burst-concurrency 8] [--hub-log-level info]
                            [--database meridian_bench_directory] [--template meridian_bench] [--reseed]
                            [--phases rebuild,projector,queries,visibility] [--rebuild-mode existing|empty]
                            [--rebuild-accounts N] [--write] [--out docs/benchmarks.md]

Seeds (or reuses) a database on DATABASE_URL's server (default postgres://postgres@127.0.0.1:5432/postgres)
the way \`pnpm bench\` does (cloning --template when it holds the same seed), puts every tenant's users into
the community's global directory with set-based SQL, checks a sample against the real projector, then
measures people(first: 100) through GraphQL against a bare replay of the same SQL, and the time from a
SCIM write to its visibility in the directory. --write puts the report into docs/benchmarks.md.
--phases picks what is measured: rebuild (every account of the community projected again by the real
projector, --rebuild-mode empty: from an empty directory; --rebuild-accounts: a random sample only),
projector (one account at a time, with EXPLAIN), queries (GraphQL against the baseline), visibility.
--users must be a multiple of 40, and every tenant smaller than a quarter of the users (see seed.ts).`;

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < 1) throw new TypeError(`--${name} must be a positive integer.\n\n${USAGE}`);
  return n;
}

function identifier(name: string, value: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(value)) throw new TypeError(`--${name} must be a plain lower-case identifier.\n\n${USAGE}`);
  return value;
}

/** Parses the command line; throws a TypeError with the usage on bad input. */
export function parseDirectoryOptions(argv: string[], env: Record<string, string | undefined>): DirectoryBenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      users: { type: 'string' },
      tenants: { type: 'string' },
      'big-group': { type: 'string' },
      'small-group': { type: 'string' },
      duration: { type: 'string' },
      rounds: { type: 'string' },
      connections: { type: 'string' },
      samples: { type: 'string' },
      'verify-sample': { type: 'string' },
      writes: { type: 'string' },
      rate: { type: 'string' },
      burst: { type: 'string' },
      'burst-concurrency': { type: 'string' },
      'hub-log-level': { type: 'string' },
      phases: { type: 'string' },
      'rebuild-mode': { type: 'string' },
      'rebuild-accounts': { type: 'string' },
      database: { type: 'string' },
      template: { type: 'string' },
      out: { type: 'string' },
      reseed: { type: 'boolean' },
      write: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const users = positive('users', values.users, 1_000_000);
  const tenants = positive('tenants', values.tenants, 100);
  const bigGroup = positive('big-group', values['big-group'], Math.min(100_000, Math.floor(users / 2)));
  const smallGroup = positive('small-group', values['small-group'], Math.min(100, bigGroup));
  if (bigGroup + 1_000 + (tenants - 1) > users || smallGroup > bigGroup) {
    throw new TypeError(
      `--users must be at least --big-group + 1000 + (--tenants - 1), and --small-group at most --big-group.\n\n${USAGE}`,
    );
  }
  if (users % 40 !== 0) throw new TypeError(`--users must be a multiple of 40.\n\n${USAGE}`);
  const phases = (values.phases ?? DIRECTORY_PHASES.join(',')).split(',').map((p) => p.trim());
  const unknown = phases.filter((p) => !(DIRECTORY_PHASES as readonly string[]).includes(p));
  if (unknown.length > 0) throw new TypeError(`--phases: unknown ${unknown.join(', ')}.\n\n${USAGE}`);
  const rebuildMode = values['rebuild-mode'] ?? 'existing';
  if (rebuildMode !== 'existing' && rebuildMode !== 'empty') throw new TypeError(`--rebuild-mode is existing or empty.\n\n${USAGE}`);
  const rebuildAccounts =
    values['rebuild-accounts'] === undefined ? undefined : positive('rebuild-accounts', values['rebuild-accounts'], 1);
  if (rebuildMode === 'empty' && rebuildAccounts !== undefined) {
    throw new TypeError(`--rebuild-accounts samples a rebuild in place; --rebuild-mode empty projects every account.\n\n${USAGE}`);
  }
  return {
    serverUrl: env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres',
    database: identifier('database', values.database ?? 'meridian_bench_directory'),
    template: identifier('template', values.template ?? 'meridian_bench'),
    users,
    tenants,
    bigGroup,
    smallGroup,
    reseed: values.reseed ?? false,
    write: values.write ?? false,
    out: values.out ?? 'docs/benchmarks.md',
    duration: positive('duration', values.duration, 10),
    rounds: positive('rounds', values.rounds, 2),
    connections: positive('connections', values.connections, 8),
    samples: positive('samples', values.samples, 200),
    verifySample: positive('verify-sample', values['verify-sample'], 40),
    writes: positive('writes', values.writes, 300),
    rate: positive('rate', values.rate, 10),
    burst: positive('burst', values.burst, 300),
    burstConcurrency: positive('burst-concurrency', values['burst-concurrency'], 8),
    hubLogLevel: values['hub-log-level'] ?? 'info',
    phases: DIRECTORY_PHASES.filter((p) => phases.includes(p)),
    rebuildMode,
    rebuildAccounts,
  };
}

export { USAGE };
