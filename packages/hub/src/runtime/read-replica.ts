import { openRedis } from '@meridian/replication';
import { type MikroORM, memoryWritePositions, openReadReplica, type ReadReplica, type WritePositions } from '@meridian/store';
import type { HubConfig } from '../config/config.js';

// The read replica of `DATABASE_READ_URL` (issue 20, ADR 0031) and where the
// callers' write positions live: Redis when the deployment has one, so that
// every api process behind the load balancer sees a write made through any
// other; this process's memory otherwise (docs/scaling.md says what that
// gives up).

const KEY_PREFIX = 'meridian:read-your-writes:';

/**
 * Keeps the later of two positions. They are compared as 16 hex digits, so
 * string order is number order; the key lives `ARGV[2]` ms from the last write.
 */
const RECORD_SCRIPT = `local kept = redis.call('GET', KEYS[1])
if (not kept) or kept < ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`;

/** {@link WritePositions} in Redis (or a Redis Cluster: one key per caller). */
function redisWritePositions(url: string, log: (message: string) => void): WritePositions {
  // No offline queue: while Redis is away a position fails at once, and the read goes to the primary instead of waiting.
  const redis = openRedis(url, { connectTimeout: 500, maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true });
  redis.on('error', () => {});
  const connected = redis.connect().catch(() => log('Redis is unreachable: reads stay on the primary until it is back.'));
  const hex = (lsn: bigint) => lsn.toString(16).padStart(16, '0');
  return {
    async record(caller, lsn, ttlMs) {
      await connected;
      await redis.eval(RECORD_SCRIPT, 1, `${KEY_PREFIX}${caller}`, hex(lsn), String(ttlMs));
    },
    async get(caller) {
      await connected;
      const kept = await redis.get(`${KEY_PREFIX}${caller}`);
      return kept === null ? undefined : BigInt(`0x${kept}`);
    },
    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

/** Opens the replica of `DATABASE_READ_URL` beside the primary's ORM, or nothing when it is not configured. */
export async function openHubReadReplica(
  orm: MikroORM,
  config: HubConfig,
  log: (message: string) => void,
): Promise<ReadReplica | undefined> {
  if (!config.readReplica) return undefined;
  if (!config.redisUrl) {
    log('DATABASE_READ_URL without REDIS_URL: read-your-writes on the replica holds only for requests served by the process that wrote.');
  }
  const replica = await openReadReplica(orm, {
    url: config.readReplica.url,
    maxLagMs: config.readReplica.maxLagMs,
    positions: config.redisUrl ? redisWritePositions(config.redisUrl, log) : memoryWritePositions(),
  });
  // Not awaited: a replica that is away must not hold the start (reads go to the primary meanwhile); the operator is told.
  void replica.problem().then((problem) => {
    if (problem) log(problem);
  });
  return replica;
}
