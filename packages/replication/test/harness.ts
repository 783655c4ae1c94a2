import { randomUUID } from 'node:crypto';
import { type ConnectorFactory, memoryConnectorFactory } from '@meridian/connector-sdk';
import {
  AdminService,
  type Principal,
  type ReplicationTarget,
  type RequestContext,
  ResourceService,
  systemClock,
  type TargetInput,
} from '@meridian/core';
import { ConnectorRegistry, type OutboundHttp, openTargetQueues, ReplicationEngine, type ReplicationTuning } from '@meridian/replication';
import {
  Argon2PasswordHasher,
  generateSecretKey,
  PostgresAdminStore,
  PostgresDirectoryStore,
  PostgresPasswordForwarding,
  PostgresReplicationStore,
  SecretBox,
} from '@meridian/store';
import type { TestDatabase } from '@meridian/test-utils';

const platform: Principal = { kind: 'platform', tokenId: 'test', scopes: ['admin'] };

/** A request context with its own request id (Prefer: wait looks changes up by it). */
export function contextOf(requestId = `req-${randomUUID()}`): RequestContext {
  return { actor: { type: 'cli', id: 'test' }, requestId };
}

/** Short waits so that retries, circuits and grace periods play out in a test. */
const FAST: Partial<ReplicationTuning> = {
  backoffBaseMs: 20,
  backoffMaxMs: 200,
  circuitThreshold: 3,
  circuitCooldownMs: 400,
  relayIntervalMs: 20,
  targetRefreshMs: 100,
};

/** The hub side of a replication test: store, services and one engine on the given backend. */
export interface ReplicationHarness {
  db: TestDatabase;
  engine: ReplicationEngine;
  store: PostgresReplicationStore;
  resources: ResourceService;
  admin: AdminService;
  box: SecretBox;
  /** A fresh tenant (targets of other tests do not see its changes). */
  tenant(): Promise<string>;
  /** A target of the reference connector writing to the memory target `memoryName`; removed by {@link cleanup}. */
  target(tenantId: string, memoryName: string, extra?: Partial<TargetInput>): Promise<ReplicationTarget>;
  /** Deletes the targets made so far (their workers and queues hold database connections). */
  cleanup(): Promise<void>;
  close(): Promise<void>;
}

let communityMade: Promise<void> | undefined;

/** What a test may add to the harness's engine: more connector kinds, an outbound policy of its own. */
export interface HarnessExtras {
  factories?: ConnectorFactory<unknown>[];
  outbound?: OutboundHttp;
}

export async function replicationHarness(
  db: TestDatabase,
  redisUrl: string | undefined,
  tuning: Partial<ReplicationTuning> = FAST,
  extras: HarnessExtras = {},
): Promise<ReplicationHarness> {
  const box = new SecretBox([generateSecretKey()]);
  const directory = new PostgresDirectoryStore(db.orm, systemClock);
  const store = new PostgresReplicationStore(db.orm, systemClock);
  const resources = new ResourceService(directory, new Argon2PasswordHasher(), undefined, new PostgresPasswordForwarding(box, systemClock));
  const admin = new AdminService(new PostgresAdminStore(db.orm, systemClock), systemClock);
  communityMade ??= admin.createCommunity(platform, { slug: 'coi', name: 'CoI' }, contextOf()).then(() => undefined);
  await communityMade;
  const queues = openTargetQueues({ databaseUrl: db.url, redisUrl, prefix: `mrt-${process.pid}-${randomUUID().slice(0, 8)}` });
  const engine = new ReplicationEngine(
    {
      store,
      queues,
      registry: new ConnectorRegistry([memoryConnectorFactory, ...(extras.factories ?? [])]),
      ...(extras.outbound ? { outbound: extras.outbound } : {}),
      sealer: box,
      resources: {
        get: (tenantId, kind, id, include) => directory.get(tenantId, kind, id, include),
        getMany: (tenantId, kind, ids, include) => directory.getMany(tenantId, kind, ids, include),
        shapeOf: (tenantId, kind) => resources.shapeOf(tenantId, kind),
        page: (tenantId, kind, page) => directory.page(tenantId, kind, page),
      },
      clock: systemClock,
      tuning,
    },
    { lockDurationMs: 5000, stalledIntervalMs: 5000 },
  );
  let tenants = 0;
  const made: ReplicationTarget[] = [];
  return {
    db,
    engine,
    store,
    resources,
    admin,
    box,
    async tenant() {
      tenants += 1;
      const slug = `t${randomUUID().slice(0, 8)}${tenants}`;
      return (await admin.createTenant(platform, { slug, name: slug, community: 'coi' }, contextOf())).id;
    },
    async target(tenantId, memoryName, extra = {}) {
      const created = await engine.targets.create(
        tenantId,
        { name: `to-${memoryName}`, kind: 'memory', config: { target: memoryName }, ...extra },
        contextOf(),
      );
      made.push(created);
      return created;
    },
    async cleanup() {
      for (const target of made.splice(0)) await engine.targets.delete(target.tenantId, target.id, contextOf()).catch(() => undefined);
      await engine.workers.refresh();
    },
    close: () => engine.close(),
  };
}
