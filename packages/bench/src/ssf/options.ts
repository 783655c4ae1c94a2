import { parseArgs } from 'node:util';
import type { Backend } from '../replication/bullmq.js';

/** What one `pnpm bench:ssf` run does. */
export interface SsfBenchOptions {
  /** PostgreSQL server URL (DATABASE_URL); the bench database is created on it. */
  serverUrl: string;
  /** BullMQ's backend: Redis when REDIS_URL is set, else its PostgreSQL backend (`--backend` overrides). */
  backend: Backend;
  redisUrl: string;
  database: string;
  /** User writes (half creates, half updates of those users): each makes one SET per stream. */
  changes: number;
  /** Push streams (RFC 8935) and poll streams (RFC 8936), one receiver each. */
  push: number;
  poll: number;
  /** Writes in flight at once. */
  producers: number;
  /** `maxEvents` of each poll (RFC 8936 §2.4). */
  maxEvents: number;
  /** `split`: `serve --role worker` delivers, `serve --role api` answers the polls; `all`: one `serve --role all`. */
  topology: 'split' | 'all';
  /** Writes before the measured ones (JIT, pools), not measured. */
  warmup: number;
  /** Longest wait for one phase's deliveries. */
  timeoutSeconds: number;
  /** Longest wait for a quiet machine before a measurement. */
  quietSeconds: number;
  write: boolean;
  out: string;
  /** Also writes everything measured as JSON here. */
  json: string | undefined;
  /** Measures nothing: renders the report from a file `--json` wrote. */
  render: string | undefined;
}

export const USAGE = `usage: pnpm bench:ssf [--changes 2000] [--push 10] [--poll 10] [--backend postgres|redis]
                      [--producers 4] [--max-events 100] [--topology split|all] [--warmup 50]
                      [--timeout 900] [--quiet-wait 30] [--database meridian_bench_ssf]
                      [--out docs/benchmarks.md] [--write] [--json <file>] [--render <file>]

A fresh database on DATABASE_URL's server (default postgres://postgres@127.0.0.1:5432/postgres), one
community with one office, a community API token per receiver, --push push streams to as many HTTP receivers
answering 202 and --poll poll streams long-polled with acknowledgements (the receivers in a process of their
own); the hub as \`meridian serve --role worker\` plus \`--role api\` for the polls (--topology all: one
\`serve --role all\`). BullMQ runs on REDIS_URL when it is set, else on its PostgreSQL backend (--backend
overrides). Then --changes user writes through the core, and the same changes × receivers jobs through a bare
BullMQ queue per receiver and a worker posting each job to its receiver. --write puts the report into
docs/benchmarks.md (between the ssf markers); --json/--render as in bench:replication.`;

function count(name: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < min) throw new TypeError(`--${name} must be a whole number of at least ${min}.\n\n${USAGE}`);
  return n;
}

/** Parses the command line; throws a TypeError with the usage on bad input. */
export function parseOptions(argv: string[], env: Record<string, string | undefined>): SsfBenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      changes: { type: 'string' },
      push: { type: 'string' },
      poll: { type: 'string' },
      backend: { type: 'string' },
      producers: { type: 'string' },
      'max-events': { type: 'string' },
      topology: { type: 'string' },
      warmup: { type: 'string' },
      timeout: { type: 'string' },
      'quiet-wait': { type: 'string' },
      database: { type: 'string' },
      out: { type: 'string' },
      json: { type: 'string' },
      render: { type: 'string' },
      write: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const backend = values.backend ?? (env.REDIS_URL ? 'redis' : 'postgres');
  if (backend !== 'postgres' && backend !== 'redis') throw new TypeError(`--backend is postgres or redis.\n\n${USAGE}`);
  const topology = values.topology ?? 'split';
  if (topology !== 'split' && topology !== 'all') throw new TypeError(`--topology is split or all.\n\n${USAGE}`);
  const database = values.database ?? 'meridian_bench_ssf';
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(database)) throw new TypeError(`--database must be a plain lower-case identifier.\n\n${USAGE}`);
  const push = count('push', values.push, 10, 0);
  const poll = count('poll', values.poll, 10, 0);
  if (push + poll === 0) throw new TypeError(`At least one receiver (--push or --poll).\n\n${USAGE}`);
  const maxEvents = count('max-events', values['max-events'], 100, 1);
  // RFC 8936 §2.4 lets the transmitter cap maxEvents; the hub's cap is 1,000 (docs/events.md).
  if (maxEvents > 1000) throw new TypeError(`--max-events is at most 1000 (the hub's cap).\n\n${USAGE}`);
  return {
    serverUrl: env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres',
    backend,
    redisUrl: env.REDIS_URL || 'redis://127.0.0.1:6379/0',
    database,
    changes: count('changes', values.changes, 2_000, 2),
    push,
    poll,
    producers: count('producers', values.producers, 4, 1),
    maxEvents,
    topology,
    warmup: count('warmup', values.warmup, 50, 0),
    timeoutSeconds: count('timeout', values.timeout, 900, 10),
    quietSeconds: count('quiet-wait', values['quiet-wait'], 30, 0),
    write: values.write ?? false,
    out: values.out ?? 'docs/benchmarks.md',
    json: values.json,
    render: values.render,
  };
}
