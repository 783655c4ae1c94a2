import { Cluster, Redis, type RedisOptions } from 'ioredis';

/** Where Redis is, as `REDIS_URL` says: one server, or seed nodes of a Redis Cluster. */
export interface RedisLocation {
  /** One node for a single server; the seed nodes of a cluster. */
  nodes: { host: string; port: number }[];
  /** True with several nodes, or `?cluster=true`. */
  cluster: boolean;
  /** Credentials, database (single server only) and TLS (`rediss://`). */
  options: RedisOptions;
}

const REDIS_URL = /^(rediss?):\/\/(?:([^@/?#]*)@)?([^/?#]+)(?:\/(\d*))?(?:\?([^#]*))?$/;

/**
 * Reads `redis://[user:password@]host:port[/db]`, `rediss://…` (TLS), and
 * `redis://host1:port1,host2:port2,…` (the seed nodes of a Redis Cluster;
 * `?cluster=true` makes a single seed a cluster too). Throws `TypeError`
 * naming what is wrong, never the password.
 */
export function parseRedisUrl(url: string): RedisLocation {
  const match = REDIS_URL.exec(url.trim());
  if (!match) throw new TypeError('REDIS_URL must look like redis://host:6379/0, rediss://…, or redis://host1:port1,host2:port2');
  const [, scheme, credentials, hosts = '', db, query] = match;
  const nodes = hosts.split(',').map((entry) => {
    const node = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(entry);
    const port = Number(node?.[2] ?? 6379);
    if (!node?.[1] || port < 1 || port > 65535) throw new TypeError(`REDIS_URL has an invalid host: '${entry}'`);
    return { host: node[1].replace(/^\[|\]$/g, ''), port };
  });
  const cluster = nodes.length > 1 || new URLSearchParams(query ?? '').get('cluster') === 'true';
  const options: RedisOptions = {};
  if (credentials) {
    const colon = credentials.indexOf(':');
    const username = decodeURIComponent(colon < 0 ? credentials : credentials.slice(0, colon));
    const password = colon < 0 ? '' : decodeURIComponent(credentials.slice(colon + 1));
    if (username) options.username = username;
    if (password) options.password = password;
  }
  if (db) {
    // A cluster has only database 0.
    if (cluster && db !== '0') throw new TypeError('REDIS_URL names a database other than 0, which a Redis Cluster does not have');
    if (!cluster) options.db = Number(db);
  }
  if (scheme === 'rediss') options.tls = {};
  return { nodes, cluster, options };
}

/** A client of the Redis (or Redis Cluster) that `url` names, with `extra` options for each connection. */
export function openRedis(url: string, extra: RedisOptions = {}): Redis | Cluster {
  const location = parseRedisUrl(url);
  const options = { ...location.options, ...extra };
  if (!location.cluster) return new Redis({ ...options, ...location.nodes[0] });
  return new Cluster(location.nodes, {
    redisOptions: options,
    lazyConnect: extra.lazyConnect ?? false,
    enableOfflineQueue: extra.enableOfflineQueue ?? true,
    // TLS to nodes the cluster announces by address: the names it was given are not theirs.
    ...(location.options.tls
      ? { dnsLookup: (address: string, callback: (error: null, address: string) => void) => callback(null, address) }
      : {}),
  });
}
