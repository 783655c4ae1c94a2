import { parseArgs } from 'node:util';
import type { BenchOutput } from '../bench-cli.js';
import type { SeedOptions } from '../database.js';

/** What one `pnpm bench:memory` run does. */
export interface MemoryBenchOptions extends BenchOutput {
  /** The seeded database it uses: the same one `pnpm bench` seeds and reuses. */
  database: SeedOptions;
  /** How long the load runs. */
  minutes: number;
  /** Seconds between two readings of the hub's memory. */
  sampleSeconds: number;
  connections: number;
  hubLogLevel: string;
}

export const USAGE = `usage: pnpm bench:memory [--minutes 10] [--sample-seconds 5] [--connections 16]
                         [--users 100000] [--tenants 1] [--database meridian_bench_memory] [--reseed]
                         [--hub-log-level info] [--write] [--out docs/benchmarks.md]

Runs the SCIM mix of \`pnpm bench\` (filtered GETs, GET by id, creates, PATCH, PUT) against the built hub
(\`meridian serve --role api\`) without pause for --minutes, and reads the hub process's resident memory
(VmRSS, VmHWM in /proc) every --sample-seconds: is it under 300 MB, and flat? Seeds (or reuses) the
database on DATABASE_URL's server as \`pnpm bench\` does. --write puts the report into docs/benchmarks.md.`;

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < 1) throw new TypeError(`--${name} must be a positive integer.\n\n${USAGE}`);
  return n;
}

/** Parses the command line; throws a TypeError with the usage on bad input. */
export function parseMemoryOptions(argv: string[], env: Record<string, string | undefined>): MemoryBenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      minutes: { type: 'string' },
      'sample-seconds': { type: 'string' },
      connections: { type: 'string' },
      users: { type: 'string' },
      tenants: { type: 'string' },
      database: { type: 'string' },
      reseed: { type: 'boolean' },
      'hub-log-level': { type: 'string' },
      write: { type: 'boolean' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const users = positive('users', values.users, 100_000);
  const tenants = positive('tenants', values.tenants, 1);
  // The seed puts a large and a small group in the first tenant; this bench does not use them.
  const bigGroup = Math.min(1_000, Math.floor(users / 4));
  if (bigGroup + 1_000 + (tenants - 1) > users) throw new TypeError(`--users must be at least 1000 + --tenants + 250.\n\n${USAGE}`);
  const database = values.database ?? 'meridian_bench_memory';
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(database)) throw new TypeError(`--database must be a plain lower-case identifier.\n\n${USAGE}`);
  return {
    database: {
      serverUrl: env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres',
      database,
      users,
      tenants,
      bigGroup,
      smallGroup: Math.min(100, bigGroup),
      reseed: values.reseed ?? false,
    },
    minutes: positive('minutes', values.minutes, 10),
    sampleSeconds: positive('sample-seconds', values['sample-seconds'], 5),
    connections: positive('connections', values.connections, 16),
    hubLogLevel: values['hub-log-level'] ?? 'info',
    write: values.write ?? false,
    out: values.out ?? 'docs/benchmarks.md',
  };
}
