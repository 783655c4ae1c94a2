import { CpuSampler, type CpuSpent } from './sampler.js';
import { type Distribution, distribution, wallNow } from './stats.js';
import type { TargetDump, TargetProcess } from './targets.js';
import { type Change, type Pace, produce } from './workload.js';

/** A system under measurement: the hub, or the bare BullMQ baseline. */
export interface SystemUnderTest {
  /** Makes one change (commits it, or adds its jobs) and records when. */
  apply(change: Change): Promise<void>;
  /** When change `seq` was committed for target `target` (the hub: one commit for all targets). */
  committedAt(seq: number, target: number): number | undefined;
  /** The externalId the targets know change `seq`'s user by. */
  keyOf(seq: number): string | undefined;
  /** Waits for what the system does after the last acknowledgement (the hub: link rows). */
  settle?(): Promise<void>;
}

/** What one phase measured. */
export interface PhaseResult {
  changes: number;
  users: number;
  targets: number;
  pace: Pace;
  /** Writes the targets acknowledged for this phase's changes (all targets). */
  deliveries: number;
  deliveriesByTarget: number[];
  /** changes × targets − deliveries: changes that reached a target inside a later change's delivery. */
  coalesced: number;
  /** Deliveries of a state the target already held. */
  repeated: number;
  /** Requests the targets received, by `METHOD status`, all targets together. */
  requests: Record<string, number>;
  /** From the first commit to the last commit, and to the last acknowledgement (s); a drain's from its consumer's start. */
  productionSeconds: number;
  seconds: number;
  deliveriesPerSecond: number;
  changesPerSecond: number;
  /** Commit → acknowledgement of each delivery (ms), for the state it carried. */
  latency: Distribution;
  /** Commit → the first acknowledgement that carried the change or a later one of the same user (ms). */
  changeLatency: Distribution;
  /** Of each delivery's latency: commit → the first request of its job at the target (ms)… */
  pickup: Distribution;
  /** …and that request → the acknowledgement (ms): the job's conversation with the target. */
  exchange: Distribution;
  cpu: CpuSpent;
}

export interface PhaseOptions {
  timeoutSeconds: number;
  log: (message: string) => void;
}

/** The last change of each user: the state every target must end up with. */
function finalChanges(changes: Change[]): number[] {
  const last = new Map<number, number>();
  for (const c of changes) last.set(c.user, Math.max(last.get(c.user) ?? -1, c.seq));
  return [...last.values()];
}

/** A consumer started only once every change was made: the drain measures how fast a backlog empties. */
export interface Drain {
  /** Starts the consumer; resolves when it is ready, with a sampler that follows its process. */
  start(): Promise<{ readyAt: number; sampler: CpuSampler }>;
}

/**
 * Makes `changes` at `pace` and waits until every target acknowledged each
 * user's last change; CPU is sampled from before the first change to after
 * the system settled. The targets are reset first: what they record belongs to this phase.
 * With `drain`, the consumer starts only after the last change; the phase's
 * time and CPU then run from its start.
 */
export async function runPhase(
  system: SystemUnderTest,
  targets: TargetProcess,
  targetCount: number,
  changes: Change[],
  pace: Pace,
  consumer: CpuSampler | Drain,
  options: PhaseOptions,
): Promise<PhaseResult> {
  await targets.reset();
  await targets.expect(finalChanges(changes));
  const drain = consumer instanceof CpuSampler ? undefined : consumer;
  let sampler: CpuSampler | undefined = drain ? undefined : (consumer as CpuSampler);
  let productionEnd = 0;
  let from: number | undefined;
  let cpu: CpuSpent | undefined;
  try {
    const producing = (async () => {
      if (sampler) await sampler.start();
      await produce(changes, pace, system.apply);
      productionEnd = wallNow();
    })();
    let failed: unknown;
    producing.catch((error: unknown) => {
      failed = error;
    });
    if (drain) {
      await producing;
      const started = await drain.start();
      from = started.readyAt;
      sampler = started.sampler;
      await sampler.start();
    }
    const deadline = Date.now() + options.timeoutSeconds * 1000;
    let lastLog = Date.now();
    for (;;) {
      if (failed !== undefined) throw failed;
      const open = await targets.open();
      if (productionEnd > 0 && open.every((n) => n === 0)) break;
      if (Date.now() > deadline)
        throw new Error(`Not every change arrived within ${options.timeoutSeconds} s: still open per target ${open.join(' / ')}.`);
      if (Date.now() - lastLog >= 5_000) {
        lastLog = Date.now();
        options.log(`    ${productionEnd > 0 ? 'produced' : 'producing'}; users still awaited per target: ${open.join(' / ')}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    await producing;
    await system.settle?.();
  } finally {
    cpu = await sampler?.stop();
  }
  if (!cpu) throw new TypeError('The phase ended without a CPU sample.');
  return analyse(system, changes, pace, targetCount, await targets.dump(), productionEnd, cpu, from);
}

function analyse(
  system: SystemUnderTest,
  changes: Change[],
  pace: Pace,
  targetCount: number,
  dumps: TargetDump[],
  productionEnd: number,
  cpu: CpuSpent,
  from: number | undefined,
): PhaseResult {
  const userOf = new Map(changes.map((c) => [c.seq, c.user]));
  const byUser = new Map<number, number[]>();
  for (const c of changes) byUser.set(c.user, [...(byUser.get(c.user) ?? []), c.seq]);
  let firstCommit = Number.POSITIVE_INFINITY;
  for (const c of changes) {
    for (let t = 0; t < targetCount; t++) firstCommit = Math.min(firstCommit, system.committedAt(c.seq, t) ?? Number.POSITIVE_INFINITY);
  }
  const latencies: number[] = [];
  const changeLatencies: number[] = [];
  const pickups: number[] = [];
  const exchanges: number[] = [];
  const deliveriesByTarget: number[] = [];
  const requests: Record<string, number> = {};
  let lastAck = 0;
  let repeated = 0;
  for (const [t, dump] of dumps.entries()) {
    for (const [key, n] of Object.entries(dump.counts)) requests[key] = (requests[key] ?? 0) + n;
    const acks = dump.acks.filter(([seq]) => userOf.has(seq));
    deliveriesByTarget.push(acks.length);
    // Per user key, the arrival times of its requests, in order; a job starts with the first request after the previous acknowledgement.
    const requestsOf = new Map<string, number[]>();
    for (const [at, , key] of dump.arrivals) {
      if (!key) continue;
      const list = requestsOf.get(key) ?? [];
      list.push(at);
      requestsOf.set(key, list);
    }
    const previousAck = new Map<number, number>();
    // Per user, the acknowledgements in time order: which state arrived when.
    const arrivals = new Map<number, [number, number][]>();
    const held = new Map<number, number>();
    for (const [seq, at] of acks) {
      const user = userOf.get(seq) as number;
      if (held.get(user) === seq) repeated += 1;
      held.set(user, seq);
      const committed = system.committedAt(seq, t);
      if (committed !== undefined) latencies.push(at - committed);
      lastAck = Math.max(lastAck, at);
      const key = system.keyOf(seq);
      const since = previousAck.get(user) ?? Number.NEGATIVE_INFINITY;
      const start = key === undefined ? undefined : requestsOf.get(key)?.find((r) => r > since && r <= at);
      if (start !== undefined && committed !== undefined) {
        pickups.push(start - committed);
        exchanges.push(at - start);
      }
      previousAck.set(user, at);
      const list = arrivals.get(user) ?? [];
      list.push([seq, at]);
      arrivals.set(user, list);
    }
    for (const [user, seqs] of byUser) {
      const list = (arrivals.get(user) ?? []).sort((a, b) => a[1] - b[1]);
      for (const seq of seqs) {
        const committed = system.committedAt(seq, t);
        const first = list.find(([s]) => s >= seq);
        if (committed !== undefined && first) changeLatencies.push(first[1] - committed);
      }
    }
  }
  const deliveries = deliveriesByTarget.reduce((a, b) => a + b, 0);
  const seconds = (lastAck - (from ?? firstCommit)) / 1000;
  return {
    changes: changes.length,
    users: byUser.size,
    targets: targetCount,
    pace,
    deliveries,
    deliveriesByTarget,
    coalesced: Math.max(0, changes.length * targetCount - deliveries),
    repeated,
    requests,
    productionSeconds: (productionEnd - firstCommit) / 1000,
    seconds,
    deliveriesPerSecond: deliveries / seconds,
    changesPerSecond: changes.length / ((productionEnd - firstCommit) / 1000),
    latency: distribution(latencies),
    changeLatency: distribution(changeLatencies),
    pickup: distribution(pickups),
    exchange: distribution(exchanges),
    cpu,
  };
}
