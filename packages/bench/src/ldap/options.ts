import { parseArgs } from 'node:util';

/** What one `pnpm bench:ldap` run does. */
export interface LdapBenchOptions {
  /** PostgreSQL server URL (DATABASE_URL); the bench database is created on it. */
  serverUrl: string;
  /** REDIS_URL when set: BullMQ on Redis; else BullMQ's PostgreSQL backend. */
  redisUrl: string | undefined;
  database: string;
  /** Entries in each direction. */
  users: number;
  /** Share of the entries changed in the directory before the incremental sync (percent). */
  changedPercent: number;
  /** Users pushed (and awaited) before the outbound measurement, not measured. */
  warmup: number;
  /** Creates in flight at once in the hub. */
  producers: number;
  /** Deliveries in flight for the LDAP target (its `concurrency`). */
  concurrency: number;
  /** Runs of each ldapsearch baseline; the fastest counts. */
  rounds: number;
  timeoutSeconds: number;
  /** Longest wait for a quiet machine before a measurement. */
  quietSeconds: number;
  write: boolean;
  out: string;
  /** Also writes everything measured as JSON here. */
  json: string | undefined;
}

export const USAGE = `usage: pnpm bench:ldap [--users 10000] [--changed-percent 1] [--concurrency 4] [--producers 4]
                     [--warmup 100] [--rounds 3] [--timeout 1800] [--quiet-wait 60] [--database meridian_bench_ldap]
                     [--json <file>] [--write] [--out docs/benchmarks.md]

Two throwaway slapd on free loopback ports and a fresh database (dropped and created on DATABASE_URL's server).
Outbound: --users users created in a tenant and pushed to an LDAP target by \`meridian serve --role worker\`
(outbox, relay, BullMQ on REDIS_URL when set, else on PostgreSQL, the LDAP connector), timed from the first
write to the last entry's entryCSN at slapd; against ldapadd of the same entries into an empty slapd.
Inbound: a full source sync of those entries into an empty tenant (the SourceService, in a process of its own)
against a paged ldapsearch of the same filter and attributes; then --changed-percent of the entries changed
and an incremental sync against ldapsearch of its filter. --write puts the report into docs/benchmarks.md
(between the LDAP markers); --json <file> also writes everything measured as JSON.`;

function count(name: string, value: string | undefined, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  const n = Number(value.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < min || n > max)
    throw new TypeError(`--${name} must be a whole number from ${min} to ${max}.\n\n${USAGE}`);
  return n;
}

/** Parses the command line; throws a TypeError with the usage on bad input. */
export function parseOptions(argv: string[], env: Record<string, string | undefined>): LdapBenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      users: { type: 'string' },
      'changed-percent': { type: 'string' },
      warmup: { type: 'string' },
      producers: { type: 'string' },
      concurrency: { type: 'string' },
      rounds: { type: 'string' },
      timeout: { type: 'string' },
      'quiet-wait': { type: 'string' },
      database: { type: 'string' },
      out: { type: 'string' },
      json: { type: 'string' },
      write: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const database = values.database ?? 'meridian_bench_ldap';
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(database)) throw new TypeError(`--database must be a plain lower-case identifier.\n\n${USAGE}`);
  return {
    serverUrl: env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres',
    redisUrl: env.REDIS_URL || undefined,
    database,
    users: count('users', values.users, 10_000, 100),
    changedPercent: count('changed-percent', values['changed-percent'], 1, 1, 100),
    warmup: count('warmup', values.warmup, 100, 0),
    producers: count('producers', values.producers, 4, 1, 64),
    concurrency: count('concurrency', values.concurrency, 4, 1, 256),
    rounds: count('rounds', values.rounds, 3, 1, 20),
    timeoutSeconds: count('timeout', values.timeout, 1_800, 10),
    quietSeconds: count('quiet-wait', values['quiet-wait'], 60, 0),
    write: values.write ?? false,
    out: values.out ?? 'docs/benchmarks.md',
    json: values.json,
  };
}
