#!/usr/bin/env node
// `pnpm bench:replication`: the hub's replication engine against a bare BullMQ
// queue and worker, on BullMQ's PostgreSQL backend and on Redis. See docs/benchmarks.md.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import pg from 'pg';
import { benchLog, runBenchCli, saveJson } from '../bench-cli.js';
import { machineInfo } from '../report.js';
import { Baseline } from './baseline.js';
import type { Backend } from './bullmq.js';
import { captureDeliveries, type DeliveryStatements } from './capture.js';
import {
  APP,
  createTargets,
  deleteTargets,
  deliveredSoFar,
  HubProducer,
  type HubSetup,
  hubRecords,
  prepareHub,
  startWorker,
  waitForLinks,
} from './hub.js';
import { parseOptions, type ReplicationBenchOptions, USAGE } from './options.js';
import { type PhaseResult, runPhase, type SystemUnderTest } from './phase.js';
import {
  type BackendResult,
  type HubRecords,
  type ReplicationReport,
  redisVersion,
  renderReplicationReport,
  spliceReplication,
} from './report.js';
import { CpuSampler, redisServerPid, waitForQuiet } from './sampler.js';
import { distribution } from './stats.js';
import { TargetProcess } from './targets.js';
import { type Change, changeList, type Pace } from './workload.js';

const TARGETS = 2;
const log = benchLog('bench:replication');

/** Hands out users and change numbers, so that every phase of a system works on users of its own. */
class Numbering {
  private user = 1;
  private seq = 1;
  next(count: number): Change[] {
    const changes = changeList(count, this.user, this.seq);
    this.user += Math.ceil(count / 2);
    this.seq += count;
    return changes;
  }
}

function summary(label: string, r: PhaseResult, workerLabel: string, workerApp: string): string {
  const per = (ms: number | undefined) => (ms === undefined ? '?' : (ms / r.deliveries).toFixed(2));
  return (
    `  ${label}: ${r.deliveries} deliveries of ${r.changes} changes in ${r.seconds.toFixed(1)} s ` +
    `(${r.deliveriesPerSecond.toFixed(0)}/s; produced in ${r.productionSeconds.toFixed(1)} s), ` +
    `latency p50 ${r.latency.p50.toFixed(0)} ms p95 ${r.latency.p95.toFixed(0)} ms max ${r.latency.max.toFixed(0)} ms ` +
    `(commit → first request p50 ${r.pickup.p50.toFixed(0)} ms, → ack p50 ${r.exchange.p50.toFixed(0)} ms); ` +
    `CPU/delivery ${workerLabel} ${per(r.cpu.processes[workerLabel])} ms, its PostgreSQL ${per(r.cpu.postgresByApp[workerApp])} ms, ` +
    `Redis ${per(r.cpu.redis)} ms; other load ${r.cpu.otherCores?.toFixed(2) ?? '?'} cores`
  );
}

/** What one system measured on one backend. */
interface Measured {
  burst: PhaseResult;
  steady: PhaseResult | undefined;
  drain: PhaseResult | undefined;
}

async function measureHub(
  options: ReplicationBenchOptions,
  hub: HubSetup,
  run: string,
  redisPid: number | undefined,
): Promise<
  Measured & {
    records: HubRecords;
    steadyRecords: HubRecords | undefined;
    statements: DeliveryStatements[];
  }
> {
  const { process: targets, targets: downstreams } = await TargetProcess.start(TARGETS);
  const ids = await createTargets(hub, downstreams, options.concurrency, `bench-${run}`);
  let worker = await startWorker(hub, options.profileDir);
  try {
    const producer = new HubProducer(hub, run);
    const system: SystemUnderTest = {
      apply: producer.apply,
      committedAt: (seq) => producer.commits.get(seq)?.at,
      keyOf: (seq) => producer.keyOf(seq),
      async settle() {
        const open = await waitForLinks(hub.databaseUrl, ids, 60);
        if (open > 0) throw new Error(`${open} replication links are not synced a minute after the last acknowledgement.`);
      },
    };
    const numbering = new Numbering();
    const sampler = () => new CpuSampler(options.serverUrl, options.database, { worker: worker.pid, targets: targets.pid }, redisPid);
    const phase = { timeoutSeconds: options.timeoutSeconds, log };
    if (options.warmup > 0) {
      log(`  hub: warm-up, ${options.warmup} changes`);
      await runPhase(system, targets, TARGETS, numbering.next(options.warmup), { rate: 0, producers: options.producers }, sampler(), phase);
    }
    /** One measured phase (live) and the hub's own records of it. */
    const measure = async (changes: Change[], pace: Pace): Promise<[PhaseResult, HubRecords]> => {
      await waitForQuiet(options.quietSeconds, log);
      const before = await deliveredSoFar(hub.databaseUrl);
      const result = await runPhase(system, targets, TARGETS, changes, pace, sampler(), phase);
      const commits = new Map(
        changes.flatMap((c) => {
          const found = producer.commits.get(c.seq);
          return found ? [[c.seq, found] as const] : [];
        }),
      );
      const found = await hubRecords(hub.databaseUrl, commits, before);
      const records = { delivered: found.delivered, commitGap: distribution(found.commitGapMs), relay: distribution(found.relayMs) };
      log(`    relay step started ${records.relay.p50.toFixed(0)} ms (p50) / ${records.relay.p95.toFixed(0)} ms (p95) after the commit`);
      return [result, records];
    };
    log(`  hub: burst, ${options.changes} changes`);
    const [burst, records] = await measure(numbering.next(options.changes), { rate: 0, producers: options.producers });
    log(summary('hub burst', burst, 'worker', APP.worker));
    let steady: PhaseResult | undefined;
    let steadyRecords: HubRecords | undefined;
    if (options.steadyChanges > 0) {
      log(`  hub: steady, ${options.steadyChanges} changes at ${options.steadyRate}/s`);
      [steady, steadyRecords] = await measure(numbering.next(options.steadyChanges), { rate: options.steadyRate, producers: 64 });
      log(summary('hub steady', steady, 'worker', APP.worker));
    }
    await worker.stop();
    log('  hub: the statements of one delivery (a second worker through a recording proxy)');
    const statements = await captureDeliveries(hub, targets, producer, numbering.next(2), numbering.next(2), ids);
    for (const s of statements) {
      log(`    ${s.change}: ${s.statements.length} statements (${s.idle.toFixed(1)} of them idle polling, ${s.bullmq} BullMQ's)`);
    }
    let drain: PhaseResult | undefined;
    if (options.drainChanges > 0) {
      await waitForQuiet(options.quietSeconds, log);
      log(`  hub: drain, ${options.drainChanges} changes committed with no worker running, then the worker started`);
      drain = await runPhase(
        system,
        targets,
        TARGETS,
        numbering.next(options.drainChanges),
        { rate: 0, producers: options.producers },
        {
          async start() {
            worker = await startWorker(hub, options.profileDir);
            return { readyAt: worker.readyAt, sampler: sampler() };
          },
        },
        phase,
      );
      log(summary('hub drain', drain, 'worker', APP.worker));
    }
    return { burst, steady, drain, records, steadyRecords, statements };
  } finally {
    await worker.stop();
    await targets.stop();
    await deleteTargets(hub, ids).catch((error: unknown) => log(`  could not delete the bench targets: ${String(error)}`));
  }
}

async function measureBaseline(
  options: ReplicationBenchOptions,
  hub: HubSetup,
  backend: Backend,
  run: string,
  redisPid: number | undefined,
): Promise<Measured> {
  const { process: targets, targets: downstreams } = await TargetProcess.start(TARGETS);
  const baseline = await Baseline.start(
    { backend, redisUrl: options.redisUrl, databaseUrl: hub.databaseUrl },
    downstreams,
    options.concurrency,
    run,
  );
  try {
    const system: SystemUnderTest = {
      apply: baseline.apply,
      committedAt: (seq, target) => baseline.added.get(seq)?.[target],
      keyOf: (seq) => baseline.keyOf(seq),
    };
    const numbering = new Numbering();
    const sampler = () => new CpuSampler(options.serverUrl, options.database, { worker: baseline.pid, targets: targets.pid }, redisPid);
    const phase = { timeoutSeconds: options.timeoutSeconds, log };
    if (options.warmup > 0) {
      log(`  baseline: warm-up, ${options.warmup} changes`);
      await runPhase(system, targets, TARGETS, numbering.next(options.warmup), { rate: 0, producers: options.producers }, sampler(), phase);
    }
    await waitForQuiet(options.quietSeconds, log);
    log(`  baseline: burst, ${options.changes} changes`);
    const burst = await runPhase(
      system,
      targets,
      TARGETS,
      numbering.next(options.changes),
      { rate: 0, producers: options.producers },
      sampler(),
      phase,
    );
    log(summary('baseline burst', burst, 'worker', APP.baseline));
    let steady: PhaseResult | undefined;
    if (options.steadyChanges > 0) {
      await waitForQuiet(options.quietSeconds, log);
      log(`  baseline: steady, ${options.steadyChanges} changes at ${options.steadyRate}/s`);
      steady = await runPhase(
        system,
        targets,
        TARGETS,
        numbering.next(options.steadyChanges),
        { rate: options.steadyRate, producers: 64 },
        sampler(),
        phase,
      );
      log(summary('baseline steady', steady, 'worker', APP.baseline));
    }
    let drain: PhaseResult | undefined;
    if (options.drainChanges > 0) {
      await baseline.stopWorker();
      await waitForQuiet(options.quietSeconds, log);
      log(`  baseline: drain, ${options.drainChanges} changes queued with no worker running, then the worker started`);
      drain = await runPhase(
        system,
        targets,
        TARGETS,
        numbering.next(options.drainChanges),
        { rate: 0, producers: options.producers },
        {
          async start() {
            const readyAt = await baseline.startWorker();
            return { readyAt, sampler: sampler() };
          },
        },
        phase,
      );
      log(summary('baseline drain', drain, 'worker', APP.baseline));
    }
    return { burst, steady, drain };
  } finally {
    await baseline.stop();
    await targets.stop();
  }
}

async function serverInfo(serverUrl: string): Promise<{ postgres: string; settings: string }> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    const version = (await client.query<{ v: string }>(`select current_setting('server_version') as v`)).rows[0]?.v ?? '?';
    const shown = await client.query<{ name: string; setting: string }>(
      `select name, current_setting(name) as setting from pg_settings
        where name in ('shared_buffers', 'work_mem', 'synchronous_commit', 'max_connections', 'jit', 'fsync') order by name`,
    );
    return { postgres: `PostgreSQL ${version}`, settings: shown.rows.map((r) => `${r.name}=${r.setting}`).join(', ') };
  } finally {
    await client.end();
  }
}

async function run(options: ReplicationBenchOptions): Promise<string> {
  const load = loadavg()[0] ?? 0;
  const run = randomBytes(3).toString('hex');
  const { postgres, settings } = await serverInfo(options.serverUrl);
  const redis = await redisVersion(options.redisUrl).catch(() => undefined);
  const redisPid = await redisServerPid();
  const results: BackendResult[] = [];
  for (const backend of options.backends) {
    log(`BullMQ on ${backend}: fresh database ${options.database}`);
    const hub = await prepareHub(options.serverUrl, options.database, backend, options.redisUrl);
    try {
      const measured = await measureHub(options, hub, run, redisPid);
      const baseline = await measureBaseline(options, hub, backend, run, redisPid);
      results.push({
        backend,
        hub: { burst: measured.burst, steady: measured.steady, drain: measured.drain },
        baseline,
        records: measured.records,
        steadyRecords: measured.steadyRecords,
        statements: measured.statements,
      });
    } finally {
      await hub.close();
    }
  }
  const report: ReplicationReport = { machine: machineInfo(postgres, settings, load), redis, options, results };
  await saveJson(options.json, report, log);
  return renderReplicationReport(report);
}

await runBenchCli<ReplicationBenchOptions>({
  name: 'bench:replication',
  usage: USAGE,
  parse: parseOptions,
  markdown: async (options) => {
    // Every PostgreSQL connection this process opens (the producer's, its queues') is told apart from the workers'.
    process.env.PGAPPNAME = APP.bench;
    return options.render
      ? renderReplicationReport(JSON.parse(await readFile(options.render, 'utf8')) as ReplicationReport)
      : await run(options);
  },
  splice: spliceReplication,
});
