import { parseArgs } from 'node:util';
import type { Backend } from './bullmq.js';

/** What one `pnpm bench:replication` run does. */
export interface ReplicationBenchOptions {
  /** PostgreSQL server URL (DATABASE_URL); the bench database is created on it. */
  serverUrl: string;
  redisUrl: string;
  database: string;
  backends: Backend[];
  /** Changes of the burst: half user creates, half updates of those users. */
  changes: number;
  /** Changes of the steady phase (0: none) and its rate (changes per second). */
  steadyChanges: number;
  steadyRate: number;
  /** Changes of the drain (0: none): made with no worker running, then the worker starts. */
  drainChanges: number;
  /** Changes before each system's measurements (JIT, pools), not measured. */
  warmup: number;
  /** Changes in flight at once in the burst. */
  producers: number;
  /** Requests in flight per target (the target's `concurrency`, ADR 0041; the baseline worker's per queue). */
  concurrency: number;
  /** Longest wait for one phase's deliveries. */
  timeoutSeconds: number;
  /** Longest wait for a quiet machine before a measurement. */
  quietSeconds: number;
  write: boolean;
  out: string;
  /** Also writes everything measured as JSON here. */
  json: string | undefined;
  /** Measures nothing: renders the report from a file \`--json\` wrote. */
  render: string | undefined;
  /** Runs the hub worker under \`node --cpu-prof\`, writing its profiles here. */
  profileDir: string | undefined;
}

export const USAGE = `usage: pnpm bench:replication [--changes 10000] [--backend postgres|redis|both] [--write]
                              [--steady-changes 600] [--steady-rate 10] [--drain-changes <--changes>] [--warmup 200]
                              [--producers 4] [--concurrency 4] [--timeout 1800] [--quiet-wait 60]
                              [--database meridian_bench_replication] [--out docs/benchmarks.md]
                              [--json <file>] [--render <file>] [--profile <dir>]

For each backend: a fresh database on DATABASE_URL's server (default postgres://postgres@127.0.0.1:5432/postgres),
one tenant, two SCIM targets in a process of their own, \`meridian serve --role worker\` (BullMQ on PostgreSQL,
or on REDIS_URL, default redis://127.0.0.1:6379/0); then the changes, and the same number of jobs through a bare
BullMQ queue and worker. --write puts the report into docs/benchmarks.md (between the replication markers).
--json <file> also writes everything measured as JSON; --render <file> renders (and with --write writes) the
report from such a file without measuring; --profile <dir> runs the hub worker under node --cpu-prof.`;

function count(name: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < min) throw new TypeError(`--${name} must be a whole number of at least ${min}.\n\n${USAGE}`);
  return n;
}

/** Parses the command line; throws a TypeError with the usage on bad input. */
export function parseOptions(argv: string[], env: Record<string, string | undefined>): ReplicationBenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      changes: { type: 'string' },
      backend: { type: 'string' },
      'steady-changes': { type: 'string' },
      'steady-rate': { type: 'string' },
      'drain-changes': { type: 'string' },
      warmup: { type: 'string' },
      producers: { type: 'string' },
      concurrency: { type: 'string' },
      timeout: { type: 'string' },
      'quiet-wait': { type: 'string' },
      database: { type: 'string' },
      out: { type: 'string' },
      profile: { type: 'string' },
      json: { type: 'string' },
      render: { type: 'string' },
      write: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const backend = values.backend ?? 'both';
  if (backend !== 'postgres' && backend !== 'redis' && backend !== 'both') {
    throw new TypeError(`--backend is postgres, redis or both.\n\n${USAGE}`);
  }
  const database = values.database ?? 'meridian_bench_replication';
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(database)) throw new TypeError(`--database must be a plain lower-case identifier.\n\n${USAGE}`);
  const concurrency = count('concurrency', values.concurrency, 4, 1);
  if (concurrency > 256) throw new TypeError(`--concurrency is at most 256 (a target's limit).\n\n${USAGE}`);
  const changes = count('changes', values.changes, 10_000, 2);
  return {
    serverUrl: env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres',
    redisUrl: env.REDIS_URL || 'redis://127.0.0.1:6379/0',
    database,
    backends: backend === 'both' ? ['postgres', 'redis'] : [backend],
    changes,
    drainChanges: count('drain-changes', values['drain-changes'], changes, 0),
    steadyChanges: count('steady-changes', values['steady-changes'], 600, 0),
    steadyRate: count('steady-rate', values['steady-rate'], 10, 1),
    warmup: count('warmup', values.warmup, 200, 0),
    producers: count('producers', values.producers, 4, 1),
    concurrency,
    timeoutSeconds: count('timeout', values.timeout, 1_800, 10),
    quietSeconds: count('quiet-wait', values['quiet-wait'], 60, 0),
    write: values.write ?? false,
    out: values.out ?? 'docs/benchmarks.md',
    profileDir: values.profile,
    json: values.json,
    render: values.render,
  };
}
