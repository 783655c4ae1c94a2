// ADR 0041: a target's queue runs more jobs at once than the target's `concurrency` (a job also waits for its reads and
// for its outcome to reach the disk); the requests of a worker process to the target stay within `concurrency`, one
// while the circuit is half-open and none while it is open.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import {
  type Connector,
  ConnectorError,
  type ConnectorFactory,
  type MemoryConnectorConfig,
  memoryConnectorFactory,
  memoryTarget,
} from '@meridian/connector-sdk';
import { type DirectoryCaller, type LinkStatus, principalOfRole, type ResourceKind, SCHEMA } from '@meridian/core';
import { NotSentError, RequestGate } from '@meridian/replication';
import { createTestDatabase, eventually, type TestDatabase } from '@meridian/test-utils';
import { contextOf, type ReplicationHarness, replicationHarness } from './harness.js';

const scimCaller = (tenantId: string): DirectoryCaller => ({ principal: principalOfRole('provisioner', { tenantId }), api: 'scim' });

/** What a counted target saw: calls under way now, the most at once, and a switch that holds every call until opened. */
class Counter {
  inFlight = 0;
  most = 0;
  private held: (() => void)[] | undefined;

  hold(): void {
    this.held ??= [];
  }

  release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const resume of held) resume();
  }

  async around<T>(call: () => Promise<T>): Promise<T> {
    this.inFlight++;
    this.most = Math.max(this.most, this.inFlight);
    try {
      if (this.held) await new Promise<void>((resume) => this.held?.push(resume));
      return await call();
    } finally {
      this.inFlight--;
    }
  }
}

const counters = new Map<string, Counter>();
const counterOf = (name: string): Counter => {
  let counter = counters.get(name);
  if (!counter) {
    counter = new Counter();
    counters.set(name, counter);
  }
  return counter;
};

/** The reference connector, with every call counted (and held when asked) by the target's {@link Counter}. */
const countedFactory: ConnectorFactory<MemoryConnectorConfig> = {
  kind: 'counted',
  description: 'The reference connector, counting the calls in flight (tests).',
  secretNames: [],
  validateConfig: (config, secrets) => memoryConnectorFactory.validateConfig(config, secrets),
  create(config, secrets, context): Connector {
    const inner = memoryConnectorFactory.create(config, secrets, context);
    const counter = counterOf(config.target);
    return new Proxy(inner, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== 'function' || property === 'close' || property === 'list') return value;
        return (...args: unknown[]) => counter.around(() => (value as (...a: unknown[]) => Promise<unknown>).apply(target, args));
      },
    });
  },
};

describe('RequestGate', () => {
  it('lets `concurrency` calls run at once, the others in the order they asked', async () => {
    const gate = new RequestGate(2);
    const order: number[] = [];
    const ends: (() => void)[] = [];
    const calls = [0, 1, 2, 3].map((i) =>
      gate.run(async () => {
        order.push(i);
        await new Promise<void>((end) => ends.push(end));
      }),
    );
    await sleep(0);
    expect(order).toEqual([0, 1]);
    expect(gate.queued).toBe(2);
    ends.shift()?.();
    await eventually('the third call to start', async () => order.length === 3);
    expect(order).toEqual([0, 1, 2]);
    while (ends.length > 0 || order.length < 4) {
      ends.shift()?.();
      await sleep(0);
    }
    await Promise.all(calls);
    expect(order).toEqual([0, 1, 2, 3]);
    expect(gate.inFlight).toBe(0);
  });

  it('follows the circuit: none while open (waiting calls are refused, nothing sent), one while half-open', async () => {
    const gate = new RequestGate(3);
    const ends: (() => void)[] = [];
    let started = 0;
    const slow = () =>
      gate.run(async () => {
        started++;
        await new Promise<void>((end) => ends.push(end));
      });
    const running = [slow(), slow(), slow()];
    const waiting = slow();
    await sleep(0);
    expect(started).toBe(3);
    gate.follow('open');
    await expect(waiting).rejects.toBeInstanceOf(NotSentError);
    await expect(slow()).rejects.toBeInstanceOf(NotSentError);
    for (const end of ends.splice(0)) end();
    await Promise.all(running);
    gate.follow('half_open');
    const probes = [slow(), slow()];
    await sleep(0);
    expect(gate.inFlight).toBe(1);
    expect(gate.queued).toBe(1);
    gate.follow('closed');
    await sleep(0);
    expect(gate.inFlight).toBe(2);
    expect(started).toBe(5);
    for (const end of ends.splice(0)) end();
    await Promise.all(probes);
    expect(gate.inFlight).toBe(0);
  });
});

const backends = [['postgres', undefined], ...(process.env.REDIS_URL ? [['redis', process.env.REDIS_URL]] : [])] as [
  string,
  string | undefined,
][];
if (!process.env.REDIS_URL) console.warn("Skipped: the Redis backend's runs (REDIS_URL is not set).");

let names = 0;
const targetName = (label: string) => `${label}-${process.pid}-${++names}-${Date.now()}`;

function user(userName: string) {
  return { schemas: [SCHEMA.user], userName, name: { givenName: 'Test', familyName: userName } };
}

// One database for the file: the harness makes its community once.
let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

describe.each(backends)('requests to a target on BullMQ %s', (_backend, redisUrl) => {
  let h: ReplicationHarness;

  beforeAll(async () => {
    h = await replicationHarness(db, redisUrl, undefined, { factories: [countedFactory as ConnectorFactory<unknown>] });
    await h.engine.start();
  });
  afterEach(async () => {
    for (const counter of counters.values()) counter.release();
    await h.cleanup();
  });
  afterAll(async () => {
    await h.close();
  });

  async function countedTarget(tenantId: string, name: string, concurrency: number) {
    const target = await h.engine.targets.create(
      tenantId,
      { name, kind: 'counted', config: { target: name }, concurrency, deleteMode: 'delete' },
      contextOf(),
    );
    await h.engine.workers.refresh();
    return target;
  }

  async function untilAll(targetId: string, kind: ResourceKind, ids: string[], status: LinkStatus) {
    await eventually(
      `${ids.length} ${kind}s to be ${status}`,
      async () => {
        for (const id of ids) if ((await h.store.getLink(targetId, kind, id))?.status !== status) return false;
        return true;
      },
      { timeoutMs: 30_000 },
    );
  }

  it('sends at most `concurrency` requests at once while more of the target’s jobs are in flight', async () => {
    const tenantId = await h.tenant();
    const name = targetName('gate');
    const counter = counterOf(name);
    const target = await countedTarget(tenantId, name, 2);
    counter.hold();
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      ids.push((await h.resources.create(scimCaller(tenantId), tenantId, 'User', user(`gate${i}@example.org`), contextOf())).id);
    }
    const gate = h.engine.workers.gateOf(target.id);
    // Two requests held at the target, and jobs beyond them in flight, waiting for their turn at the gate.
    await eventually(
      'requests held at the target and jobs waiting at the gate',
      async () => counter.inFlight === 2 && (gate?.queued ?? 0) >= 2,
      {
        timeoutMs: 20_000,
      },
    );
    const active = await h.engine.ctx.queues.queue(target.id).getJobCounts('active');
    expect(active.active).toBeGreaterThan(2);
    // Give the waiting jobs time to (wrongly) send.
    await sleep(300);
    expect(counter.inFlight).toBe(2);
    expect(counter.most).toBe(2);
    counter.release();
    await untilAll(target.id, 'User', ids, 'synced');
    expect(counter.most).toBe(2);
    expect(memoryTarget(name).list('User')).toHaveLength(12);
  });

  it('sends one request at a time while the circuit is half-open, and `concurrency` again once it closed', async () => {
    const tenantId = await h.tenant();
    const name = targetName('probe');
    const counter = counterOf(name);
    const target = await countedTarget(tenantId, name, 3);
    memoryTarget(name).inject({
      op: 'create',
      times: Number.POSITIVE_INFINITY,
      error: new ConnectorError('transient', 'Bad Gateway', { status: 502 }),
    });
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      ids.push((await h.resources.create(scimCaller(tenantId), tenantId, 'User', user(`probe${i}@example.org`), contextOf())).id);
    }
    await eventually('the circuit to open', async () => (await h.store.getTarget(target.id))?.circuitState === 'open', {
      timeoutMs: 20_000,
    });
    // The target recovers; every request it gets from now on is held until the test lets it through.
    counter.hold();
    memoryTarget(name).clearFaults();
    await eventually('the failed requests to end', async () => counter.inFlight === 0, { timeoutMs: 20_000 });
    counter.most = 0;
    await eventually('the probe to reach the target', async () => counter.inFlight === 1, { timeoutMs: 20_000 });
    expect((await h.store.getTarget(target.id))?.circuitState).toBe('half_open');
    // Give the other jobs time to (wrongly) send beside the probe.
    await sleep(300);
    expect(counter.most).toBe(1);
    counter.release();
    await untilAll(target.id, 'User', ids, 'synced');
    expect((await h.store.getTarget(target.id))?.circuitState).toBe('closed');
    expect(counter.most).toBeLessThanOrEqual(3);
    expect(memoryTarget(name).list('User')).toHaveLength(10);
  });
});
