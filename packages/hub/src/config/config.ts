import { type OutboundAllowList, parseOutboundAllowList } from '@meridian/core';
import { parseRedisUrl } from '@meridian/replication';
import { AuditKeyError, parseAuditSigningKey, parseSecretKeys, SecretBoxError } from '@meridian/store';
import { z } from 'zod';

/** One documented environment variable; `docs/configuration.md` is generated from this list. */
interface Variable {
  name: string;
  description: string;
  default?: string;
}

/** Every environment variable the hub and the CLI read. */
const VARIABLES: Variable[] = [
  { name: 'PORT', description: 'HTTP port of the hub.', default: '4000' },
  { name: 'HOST', description: 'Address the hub binds to. Use `0.0.0.0` in containers.', default: '127.0.0.1' },
  {
    name: 'MERIDIAN_PUBLIC_URL',
    description: 'Absolute URL clients use to reach the hub; SCIM `meta.location` and `$ref` are built from it.',
    default: 'http://localhost:$PORT',
  },
  {
    name: 'DATABASE_URL',
    description:
      'PostgreSQL URL (`postgres://user:password@host:5432/db`). When unset, the hub starts an embedded PostgreSQL under `MERIDIAN_DATA_DIR`.',
  },
  {
    name: 'DATABASE_READ_URL',
    description:
      "PostgreSQL URL of a streaming read replica of `DATABASE_URL`. When set, SCIM reads (GET, `.search`, `/Me`) and GraphQL queries are served by it while it is within `MERIDIAN_READ_REPLICA_MAX_LAG_MS` and has replayed the caller's own last write; writes, mutations and everything else stay on the primary. See [scaling.md](scaling.md#read-replica).",
  },
  {
    name: 'MERIDIAN_READ_REPLICA_MAX_LAG_MS',
    description:
      "Reads stay on the primary while the read replica is further behind than this many milliseconds (`0`: only a replica that has replayed all it received). A caller's write position is kept this long plus a minute.",
    default: '5000',
  },
  {
    name: 'REDIS_URL',
    description:
      'Redis URL (`redis://host:6379/0`; `rediss://` for TLS; `redis://host1:6379,host2:6379,host3:6379` for a Redis Cluster, given by several seed nodes or `?cluster=true`). When set, BullMQ runs on Redis, and the rate-limit counters live there; otherwise BullMQ runs on its PostgreSQL backend beside the data. See [scaling.md](scaling.md).',
  },
  { name: 'MERIDIAN_DATA_DIR', description: 'Directory for the embedded PostgreSQL cluster and its settings.', default: '.meridian' },
  {
    name: 'MERIDIAN_EMBEDDED_PG_PORT',
    description:
      'Port of the embedded PostgreSQL (127.0.0.1 only). When unset, the first start picks a free port and keeps it in `MERIDIAN_DATA_DIR`; a later start moves it when it is taken. A port set here must be free.',
  },
  {
    name: 'MERIDIAN_ADMIN_TOKEN',
    description: 'Platform admin bearer token (at least 32 characters). When unset, the first start issues one and prints it once.',
  },
  {
    name: 'MERIDIAN_READY_MIN_FREE_MB',
    description:
      'Free space, in MiB, that the disk holding `MERIDIAN_DATA_DIR` must have for `/readyz` to answer 200; below it `/readyz` answers 503 with `disk: full`.',
    default: '100',
  },
  { name: 'LOG_LEVEL', description: 'pino log level: `fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`.', default: 'info' },
  { name: 'MERIDIAN_SCIM_MAX_RESULTS', description: 'Largest page a SCIM list returns (`count` is capped to it).', default: '200' },
  {
    name: 'MERIDIAN_TOKEN_CACHE_MS',
    description:
      'How long, in milliseconds, a hub process trusts an API token it has looked up before looking it up again; a revoked or expired token, or the token of a suspended User, is refused by every process within this time. `0` looks every request up.',
    default: '1000',
  },
  {
    name: 'MERIDIAN_JIT_WAIT_MS',
    description:
      'How long, in milliseconds, a person\'s first sign-in to a relying party linked to targets "on first sign-in" waits for the account to reach them before the sign-in ends with an error (docs/provisioning.md).',
    default: '10000',
  },
  {
    name: 'MERIDIAN_SCHEDULER_POLL_MS',
    description:
      "How often, in milliseconds, a worker process looks for scheduled work that is due: inbound sources' scheduled syncs (docs/sources.md) and offboarding steps (docs/offboarding.md). Each due item is claimed with a lease, so any number of workers may look.",
    default: '15000',
  },
  {
    name: 'MERIDIAN_REPLICATION_JOBS_PER_REQUEST',
    description:
      "Jobs a replication target's queue runs at once for each request its `concurrency` lets a worker process send it (1 to 16; ADR 0041, docs/replication.md). A job's reads and its wait for the outcome to reach the disk are no load on the target, so more jobs than requests drain a backlog faster. Each worker process keeps to `concurrency` requests, so with several worker processes a target may get up to this many times `concurrency` at once; `1` makes `concurrency` the bound across all processes, at the cost of throughput.",
    default: '4',
  },
  {
    name: 'MERIDIAN_RATE_LIMIT_PER_TOKEN',
    description:
      'Requests per minute one bearer token may make (SCIM and GraphQL); beyond it the hub answers 429 with `Retry-After`. `0` turns it off. Counters live in Redis when `REDIS_URL` is set, so every hub process shares them.',
    default: '3000',
  },
  {
    name: 'MERIDIAN_RATE_LIMIT_PER_TENANT',
    description: 'Requests per minute all tokens of one tenant may make together. `0` turns it off.',
    default: '6000',
  },
  {
    name: 'MERIDIAN_RATE_LIMIT_PER_IP',
    description:
      'Requests per minute from one client address without a token, or with a token that fails authentication. `0` turns it off. Behind a reverse proxy every client shares the proxy address.',
    default: '300',
  },
  {
    name: 'MERIDIAN_GRAPHQL_MAX_DEPTH',
    description: 'Deepest field nesting a GraphQL operation may have (introspection excepted).',
    default: '12',
  },
  {
    name: 'MERIDIAN_GRAPHQL_MAX_COMPLEXITY',
    description: 'Highest estimated cost of a GraphQL operation: each field costs 1, a connection costs `first` times its selection.',
    default: '25000',
  },
  {
    name: 'MERIDIAN_GRAPHQL_EXPLORER',
    description:
      'Serves the GraphQL explorer (GraphiQL, bundled with the hub, no CDN) at `/explorer`, and redirects browsers that open `/graphql` there: `true` or `false`. The page needs no token to load; every query it runs does. See [explorer.md](explorer.md).',
    default: 'true',
  },
  {
    name: 'MERIDIAN_SECRET_KEYS',
    description:
      'Keys that encrypt secrets at rest (connector credentials), comma-separated `keyId:base64-of-32-bytes`; the first encrypts, all decrypt, so a new key goes first to rotate. When unset, one is generated into `MERIDIAN_DATA_DIR/secret-keys` (mode 0600) on first start.',
  },
  {
    name: 'MERIDIAN_AUDIT_SIGNING_KEY',
    description:
      'Ed25519 key that signs audit checkpoints: a PKCS#8 PEM private key (`\\n` escapes allowed) or the base64 of a 32-byte seed. Every hub process and CLI of one deployment needs the same key. When unset, one is generated into `MERIDIAN_DATA_DIR/audit-signing-key.pem` (mode 0600) on first start and its fingerprint is logged. See [audit.md](audit.md).',
  },
  {
    name: 'MERIDIAN_AUDIT_CHECKPOINT_ENTRIES',
    description: 'The serving hub signs a checkpoint of a chain once this many entries were appended since its last one.',
    default: '1000',
  },
  {
    name: 'MERIDIAN_AUDIT_CHECKPOINT_MINUTES',
    description:
      'The serving hub also signs a checkpoint of a chain with new entries when its last one is this old. `0` turns the timer off.',
    default: '60',
  },
  {
    name: 'MERIDIAN_OUTBOUND_ALLOW',
    description:
      'Destinations the hub may reach although they are not public addresses, for requests made on behalf of tenants and communities (replication targets, directory exports, JWKS): comma-separated host names (`scim.internal`, `*.corp.example`), IP addresses and CIDR ranges, IPv4 and IPv6 (`10.20.0.0/16`, `fd00::/8`). A listed host may also use plain http for `jwksUri`. When unset, only public unicast addresses are reachable. See [security.md](security.md#outbound-requests).',
  },
  {
    name: 'MERIDIAN_METRICS_PORT',
    description:
      'Serves `/metrics` (Prometheus) on this port of `HOST` instead of the main port, in every role (a `worker` has no other HTTP port). See [operations.md](operations.md#metrics).',
  },
  {
    name: 'MERIDIAN_METRICS_TOKEN',
    description:
      'Bearer token (at least 32 characters) that may read `/metrics`, besides a platform admin token. `/metrics` always needs one of them.',
  },
  {
    name: 'MERIDIAN_AUDIT_RETENTION_DAYS',
    description:
      'Audit entries older than this may be removed by `meridian audit prune`, up to the newest signed checkpoint older than that. When unset, entries are kept forever.',
  },
  {
    name: 'MERIDIAN_SSF_RETENTION_DAYS',
    description:
      'Days an acknowledged Shared Signals SET (pushed and accepted, or polled and acknowledged) is kept, for audit, before a worker prunes it (hourly). SETs not yet acknowledged, failed and dead are never pruned. See [events.md](events.md#delivery).',
    default: '7',
  },
];

const optionalUrl = (protocols: string[], name: string) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v) => (v === '' ? undefined : v))
    .refine((v) => v === undefined || (URL.canParse(v) && protocols.includes(new URL(v).protocol)), {
      message: `${name} must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`,
    });

const portNumber = (name: string) =>
  z.coerce
    .number({ message: `${name} must be a number` })
    .int()
    .min(1, `${name} must be 1-65535`)
    .max(65535, `${name} must be 1-65535`);
const port = (name: string, fallback: number) => portNumber(name).default(fallback);

// An empty value takes the default: coercing '' would silently turn the limit off.
const perMinute = (name: string, fallback: number) =>
  z.preprocess(
    (v) => (typeof v === 'string' && v.trim() === '' ? undefined : v),
    z.coerce
      .number({ message: `${name} must be a number` })
      .int(`${name} must be a whole number of requests per minute`)
      .min(0, `${name} must be 0 (off) or more`)
      .default(fallback),
  );

/**
 * An optional setting whose value `parse` must accept (empty is unset). The
 * problem reported is `parse`'s own message when it throws a `known` error
 * (which says what is wrong, never the secret), a generic one otherwise.
 */
const parsedSetting = (name: string, parse: (value: string) => unknown, known: new (...args: never[]) => Error) =>
  z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === '' ? undefined : v))
    .superRefine((v, ctx) => {
      if (v === undefined) return;
      try {
        parse(v);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: error instanceof known ? error.message : `${name} is invalid` });
      }
    });

const schema = z.object({
  PORT: port('PORT', 4000),
  HOST: z.string().trim().min(1).default('127.0.0.1'),
  MERIDIAN_PUBLIC_URL: optionalUrl(['http:', 'https:'], 'MERIDIAN_PUBLIC_URL'),
  DATABASE_URL: optionalUrl(['postgres:', 'postgresql:'], 'DATABASE_URL'),
  DATABASE_READ_URL: optionalUrl(['postgres:', 'postgresql:'], 'DATABASE_READ_URL'),
  MERIDIAN_READ_REPLICA_MAX_LAG_MS: z.preprocess(
    (v) => (typeof v === 'string' && v.trim() === '' ? undefined : v),
    z.coerce
      .number({ message: 'MERIDIAN_READ_REPLICA_MAX_LAG_MS must be a number' })
      .int('MERIDIAN_READ_REPLICA_MAX_LAG_MS must be a whole number of milliseconds')
      .min(0, 'MERIDIAN_READ_REPLICA_MAX_LAG_MS must be 0 or more')
      .max(3_600_000, 'MERIDIAN_READ_REPLICA_MAX_LAG_MS must be at most 3600000 (an hour)')
      .default(5000),
  ),
  // Several hosts (a Redis Cluster's seed nodes) are no WHATWG URL: replication's parser checks it.
  REDIS_URL: parsedSetting('REDIS_URL', parseRedisUrl, TypeError),
  MERIDIAN_DATA_DIR: z.string().trim().min(1).default('.meridian'),
  MERIDIAN_EMBEDDED_PG_PORT: z.preprocess(
    (v) => (typeof v === 'string' && v.trim() === '' ? undefined : v),
    portNumber('MERIDIAN_EMBEDDED_PG_PORT').optional(),
  ),
  MERIDIAN_ADMIN_TOKEN: z
    .string()
    .optional()
    .transform((v) => (v === '' ? undefined : v))
    .refine((v) => v === undefined || v.length >= 32, { message: 'MERIDIAN_ADMIN_TOKEN must be at least 32 characters' }),
  MERIDIAN_READY_MIN_FREE_MB: z.coerce
    .number({ message: 'MERIDIAN_READY_MIN_FREE_MB must be a number' })
    .int()
    .min(0, 'MERIDIAN_READY_MIN_FREE_MB must be 0 or more')
    .default(100),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  MERIDIAN_SCIM_MAX_RESULTS: z.coerce.number().int().min(1).max(10_000).default(200),
  MERIDIAN_TOKEN_CACHE_MS: z.coerce
    .number({ message: 'MERIDIAN_TOKEN_CACHE_MS must be a number' })
    .int()
    .min(0, 'MERIDIAN_TOKEN_CACHE_MS must be 0 or more')
    .max(60_000, 'MERIDIAN_TOKEN_CACHE_MS must be at most 60000 (a revoked token must not live on for long)')
    .default(1000),
  MERIDIAN_JIT_WAIT_MS: z.coerce
    .number({ message: 'MERIDIAN_JIT_WAIT_MS must be a number' })
    .int()
    .min(100, 'MERIDIAN_JIT_WAIT_MS must be at least 100')
    .max(60_000, 'MERIDIAN_JIT_WAIT_MS must be at most 60000 (the person waits on the page)')
    .default(10_000),
  MERIDIAN_SCHEDULER_POLL_MS: z.coerce
    .number({ message: 'MERIDIAN_SCHEDULER_POLL_MS must be a number' })
    .int()
    .min(100, 'MERIDIAN_SCHEDULER_POLL_MS must be at least 100')
    .max(600_000, 'MERIDIAN_SCHEDULER_POLL_MS must be at most 600000 (ten minutes)')
    .default(15_000),
  MERIDIAN_REPLICATION_JOBS_PER_REQUEST: z.coerce
    .number({ message: 'MERIDIAN_REPLICATION_JOBS_PER_REQUEST must be a number' })
    .int('MERIDIAN_REPLICATION_JOBS_PER_REQUEST must be a whole number')
    .min(1, 'MERIDIAN_REPLICATION_JOBS_PER_REQUEST must be at least 1')
    .max(16, 'MERIDIAN_REPLICATION_JOBS_PER_REQUEST must be at most 16')
    .default(4),
  MERIDIAN_RATE_LIMIT_PER_TOKEN: perMinute('MERIDIAN_RATE_LIMIT_PER_TOKEN', 3000),
  MERIDIAN_RATE_LIMIT_PER_TENANT: perMinute('MERIDIAN_RATE_LIMIT_PER_TENANT', 6000),
  MERIDIAN_RATE_LIMIT_PER_IP: perMinute('MERIDIAN_RATE_LIMIT_PER_IP', 300),
  MERIDIAN_GRAPHQL_MAX_DEPTH: z.coerce.number({ message: 'MERIDIAN_GRAPHQL_MAX_DEPTH must be a number' }).int().min(2).max(100).default(12),
  MERIDIAN_GRAPHQL_MAX_COMPLEXITY: z.coerce
    .number({ message: 'MERIDIAN_GRAPHQL_MAX_COMPLEXITY must be a number' })
    .int()
    .min(10)
    .max(100_000_000)
    .default(25_000),
  // An empty value takes the default, like the rate limits; anything but true or false is a mistake worth stopping for.
  MERIDIAN_GRAPHQL_EXPLORER: z.preprocess(
    (v) => (typeof v === 'string' ? v.trim().toLowerCase() || undefined : v),
    z.enum(['true', 'false'], { message: 'MERIDIAN_GRAPHQL_EXPLORER must be true or false' }).default('true'),
  ),
  // The messages name the entry, never its key material.
  MERIDIAN_SECRET_KEYS: parsedSetting('MERIDIAN_SECRET_KEYS', parseSecretKeys, SecretBoxError),
  MERIDIAN_AUDIT_SIGNING_KEY: parsedSetting('MERIDIAN_AUDIT_SIGNING_KEY', parseAuditSigningKey, AuditKeyError),
  MERIDIAN_AUDIT_CHECKPOINT_ENTRIES: z.coerce
    .number({ message: 'MERIDIAN_AUDIT_CHECKPOINT_ENTRIES must be a number' })
    .int()
    .min(1, 'MERIDIAN_AUDIT_CHECKPOINT_ENTRIES must be at least 1')
    .default(1000),
  MERIDIAN_AUDIT_CHECKPOINT_MINUTES: z.coerce
    .number({ message: 'MERIDIAN_AUDIT_CHECKPOINT_MINUTES must be a number' })
    .min(0, 'MERIDIAN_AUDIT_CHECKPOINT_MINUTES must be 0 (off) or more')
    .max(10_080, 'MERIDIAN_AUDIT_CHECKPOINT_MINUTES must be at most 10080 (a week)')
    .default(60),
  MERIDIAN_OUTBOUND_ALLOW: parsedSetting('MERIDIAN_OUTBOUND_ALLOW', parseOutboundAllowList, Error),
  MERIDIAN_METRICS_PORT: z.preprocess(
    (v) => (typeof v === 'string' && v.trim() === '' ? undefined : v),
    portNumber('MERIDIAN_METRICS_PORT').optional(),
  ),
  MERIDIAN_METRICS_TOKEN: z
    .string()
    .optional()
    .transform((v) => (v === '' ? undefined : v))
    .refine((v) => v === undefined || v.length >= 32, { message: 'MERIDIAN_METRICS_TOKEN must be at least 32 characters' }),
  MERIDIAN_AUDIT_RETENTION_DAYS: z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === '' ? undefined : Number(v)))
    .refine((v) => v === undefined || (Number.isInteger(v) && v >= 1), {
      message: 'MERIDIAN_AUDIT_RETENTION_DAYS must be a whole number of days, at least 1',
    }),
  MERIDIAN_SSF_RETENTION_DAYS: z.coerce
    .number({ message: 'MERIDIAN_SSF_RETENTION_DAYS must be a number' })
    .int('MERIDIAN_SSF_RETENTION_DAYS must be a whole number of days')
    .min(1, 'MERIDIAN_SSF_RETENTION_DAYS must be at least 1')
    .max(3650, 'MERIDIAN_SSF_RETENTION_DAYS must be at most 3650 (ten years)')
    .default(7),
});

/** The validated configuration. */
export interface HubConfig {
  port: number;
  host: string;
  publicUrl: string;
  databaseUrl: string | undefined;
  /** `DATABASE_READ_URL`: a streaming replica for the reads of requests that only read (docs/scaling.md, ADR 0031). */
  readReplica: { url: string; maxLagMs: number } | undefined;
  redisUrl: string | undefined;
  dataDir: string;
  /** Free bytes the data directory's disk needs for `/readyz` to pass. */
  readyMinFreeBytes: number;
  /** Unset: the port kept in the data directory, or a free one. */
  embeddedPgPort: number | undefined;
  adminToken: string | undefined;
  logLevel: z.infer<typeof schema>['LOG_LEVEL'];
  scimMaxResults: number;
  /** How long a looked-up API token is trusted (ms); 0 looks every request up (ADR 0022). */
  tokenCacheMs: number;
  /** How long a first sign-in waits for its just-in-time pushes (ms, issue 16). */
  jitWaitMs: number;
  /** How often a worker looks for due scheduled work (source syncs, offboarding steps). */
  schedulerPollMs: number;
  /** Jobs a replication target's queue runs per request its concurrency allows a process (ADR 0041). */
  replicationJobsPerRequest: number;
  /** Requests per minute; 0 = off. */
  rateLimits: { perToken: number; perTenant: number; perIp: number };
  graphqlLimits: { maxDepth: number; maxComplexity: number };
  /** Whether `/explorer` serves the GraphQL explorer. */
  graphqlExplorer: boolean;
  /** `MERIDIAN_OUTBOUND_ALLOW`, parsed: what the outbound request policy opens beyond public addresses. */
  outboundAllow: OutboundAllowList;
  /** `MERIDIAN_SECRET_KEYS` as given (validated); the store's `openSecretBox` parses it. */
  secretKeys: string | undefined;
  /** `/metrics`: on its own port when `port` is set; readable with `token` or a platform admin token. */
  metrics: { port: number | undefined; token: string | undefined };
  audit: {
    /** `MERIDIAN_AUDIT_SIGNING_KEY` as given (validated); the store's `openAuditKeyring` parses it. */
    signingKey: string | undefined;
    checkpointEveryEntries: number;
    /** 0: no timer. */
    checkpointEveryMinutes: number;
    /** Undefined: keep forever. */
    retentionDays: number | undefined;
  };
  /** Days acknowledged Shared Signals SETs are kept before they are pruned (issue 17). */
  ssfRetentionDays: number;
}

/** Thrown when the environment is invalid; the message lists every problem. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads and validates the configuration from environment variables. */
export function loadConfig(env: Record<string, string | undefined> = process.env): HubConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `  - ${issue.path.join('.') || 'environment'}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n${problems.join('\n')}\nSee docs/configuration.md.`);
  }
  const e = parsed.data;
  if (e.DATABASE_READ_URL && !e.DATABASE_URL) {
    throw new ConfigError(
      'Invalid configuration:\n  - DATABASE_READ_URL: needs DATABASE_URL (the read replica must replicate the primary the hub writes to; the embedded PostgreSQL has none)\nSee docs/configuration.md.',
    );
  }
  return {
    port: e.PORT,
    host: e.HOST,
    publicUrl: (e.MERIDIAN_PUBLIC_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, ''),
    databaseUrl: e.DATABASE_URL,
    readReplica: e.DATABASE_READ_URL ? { url: e.DATABASE_READ_URL, maxLagMs: e.MERIDIAN_READ_REPLICA_MAX_LAG_MS } : undefined,
    redisUrl: e.REDIS_URL,
    dataDir: e.MERIDIAN_DATA_DIR,
    embeddedPgPort: e.MERIDIAN_EMBEDDED_PG_PORT,
    readyMinFreeBytes: e.MERIDIAN_READY_MIN_FREE_MB * 1_048_576,
    adminToken: e.MERIDIAN_ADMIN_TOKEN,
    logLevel: e.LOG_LEVEL,
    scimMaxResults: e.MERIDIAN_SCIM_MAX_RESULTS,
    tokenCacheMs: e.MERIDIAN_TOKEN_CACHE_MS,
    jitWaitMs: e.MERIDIAN_JIT_WAIT_MS,
    schedulerPollMs: e.MERIDIAN_SCHEDULER_POLL_MS,
    replicationJobsPerRequest: e.MERIDIAN_REPLICATION_JOBS_PER_REQUEST,
    rateLimits: {
      perToken: e.MERIDIAN_RATE_LIMIT_PER_TOKEN,
      perTenant: e.MERIDIAN_RATE_LIMIT_PER_TENANT,
      perIp: e.MERIDIAN_RATE_LIMIT_PER_IP,
    },
    graphqlLimits: { maxDepth: e.MERIDIAN_GRAPHQL_MAX_DEPTH, maxComplexity: e.MERIDIAN_GRAPHQL_MAX_COMPLEXITY },
    graphqlExplorer: e.MERIDIAN_GRAPHQL_EXPLORER === 'true',
    outboundAllow: parseOutboundAllowList(e.MERIDIAN_OUTBOUND_ALLOW),
    secretKeys: e.MERIDIAN_SECRET_KEYS,
    metrics: { port: e.MERIDIAN_METRICS_PORT, token: e.MERIDIAN_METRICS_TOKEN },
    audit: {
      signingKey: e.MERIDIAN_AUDIT_SIGNING_KEY,
      checkpointEveryEntries: e.MERIDIAN_AUDIT_CHECKPOINT_ENTRIES,
      checkpointEveryMinutes: e.MERIDIAN_AUDIT_CHECKPOINT_MINUTES,
      retentionDays: e.MERIDIAN_AUDIT_RETENTION_DAYS,
    },
    ssfRetentionDays: e.MERIDIAN_SSF_RETENTION_DAYS,
  };
}

/** Renders `docs/configuration.md` from {@link VARIABLES}. */
export function renderConfigurationReference(): string {
  const rows = VARIABLES.map((v) => `| \`${v.name}\` | ${v.default !== undefined ? `\`${v.default}\`` : '—'} | ${v.description} |`);
  return [
    '# Configuration',
    '',
    '<!-- Generated by `pnpm meridian config docs`; CI fails when it is out of date. -->',
    '',
    'The hub and the `meridian` CLI read the same environment variables. Invalid values stop',
    'the process with a message naming each variable and what is wrong with it.',
    '',
    '| Variable | Default | Meaning |',
    '| --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}
