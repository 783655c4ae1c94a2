#!/usr/bin/env node
// `pnpm bench:ssf`: the communities' Shared Signals transmitter (issue 17)
// delivering SCIM events to push and poll receivers, against a bare BullMQ
// queue and worker moving as many jobs to the same receivers. See docs/benchmarks.md.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import pg from 'pg';
import { benchLog, runBenchCli, saveJson } from '../bench-cli.js';
import { Baseline } from '../replication/baseline.js';
import { APP, HubProducer, type HubSetup, prepareHub } from '../replication/hub.js';
import { redisVersion } from '../replication/report.js';
import { CpuSampler, redisServerPid, waitForQuiet } from '../replication/sampler.js';
import { distribution, wallNow } from '../replication/stats.js';
import { type Change, changeList, produce } from '../replication/workload.js';
import { machineInfo } from '../report.js';
import { createStreams, freePort, listenOn, startHub, storedAt, streamCounts } from './hub.js';
import { tally } from './measure.js';
import { parseOptions, type SsfBenchOptions, USAGE } from './options.js';
import { Receivers } from './receivers.js';
import { type HubSplit, renderSsfReport, type SsfReport, spliceSsf } from './report.js';

const log = benchLog('bench:ssf');

/** Hands out users and change numbers, so that warm-up and measured writes touch users of their own. */
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

/** Waits until the receivers hold `expected` receipts (checked every 100 ms), or fails after `seconds`. */
async function waitForReceipts(receivers: Receivers, expected: number, seconds: number): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  let reported = 0;
  for (;;) {
    const { received, errors, lastError } = await receivers.count();
    if (errors > reported) {
      log(`  receivers: ${errors} errors so far, the last: ${lastError}`);
      reported = errors;
    }
    if (received >= expected) return;
    if (Date.now() > deadline) throw new Error(`${received} of ${expected} deliveries after ${seconds} s.`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function measureHub(options: SsfBenchOptions, hub: HubSetup, run: string, redisPid: number | undefined): Promise<SsfReport['hub']> {
  const count = options.push + options.poll;
  const receivers = await Receivers.start({ servers: count, maxEvents: options.maxEvents });
  const port = await freePort();
  listenOn(hub, port);
  const { worker, api } = await startHub(hub, options.topology);
  try {
    const streams = await createStreams(hub, `http://127.0.0.1:${port}`, receivers.urls.slice(0, options.push), options.poll);
    await receivers.poll(
      streams.flatMap((s) => (s.method === 'poll' && s.pollUrl ? [{ receiver: s.receiver, url: s.pollUrl, token: s.token }] : [])),
    );
    log(`  hub: ${options.push} push and ${options.poll} poll streams (${options.topology === 'split' ? 'worker + api' : 'one process'})`);
    const producer = new HubProducer(hub, run);
    const numbering = new Numbering();
    const pace = { rate: 0, producers: options.producers };
    if (options.warmup > 0) {
      log(`  hub: warm-up, ${options.warmup} writes`);
      await produce(numbering.next(options.warmup), pace, producer.apply);
      await waitForReceipts(receivers, options.warmup * count, options.timeoutSeconds);
      await receivers.collect();
    }
    await waitForQuiet(options.quietSeconds, log);
    const pids = { worker: worker.pid, ...(api ? { api: api.pid } : {}), receivers: receivers.pid };
    const sampler = new CpuSampler(options.serverUrl, options.database, pids, redisPid);
    await sampler.start();
    log(`  hub: ${options.changes} writes`);
    const changes = numbering.next(options.changes);
    const startedAt = wallNow();
    await produce(changes, pace, producer.apply);
    const producedAt = wallNow();
    await waitForReceipts(receivers, options.changes * count, options.timeoutSeconds);
    const cpu = await sampler.stop();
    const receipts = await receivers.collect();
    const commits = new Map<string, number>();
    for (const change of changes) {
      const commit = producer.commits.get(change.seq);
      if (commit) commits.set(`${commit.id}/${commit.version}`, commit.at);
    }
    const { firsts, ...delivered } = tally(receipts, {
      receivers: count,
      changes: options.changes,
      isPush: (r) => r < options.push,
      committedAt: (_r, key) => commits.get(key),
      startedAt,
      producedAt,
    });
    const stored = await storedAt(
      hub.databaseUrl,
      firsts.map((r) => r[1]),
    );
    let split: HubSplit | undefined;
    if (stored) {
      const produced: number[] = [];
      const pushed: number[] = [];
      const polled: number[] = [];
      for (const [receiver, jti, key, at] of firsts) {
        const s = stored.get(jti);
        const c = commits.get(key);
        if (s === undefined || c === undefined) continue;
        produced.push(s - c);
        (receiver < options.push ? pushed : polled).push(at - s);
      }
      split = { produced: distribution(produced), pushed: distribution(pushed), polled: distribution(polled) };
    }
    const counts = await streamCounts(hub);
    return { delivered, cpu, split, counts };
  } finally {
    await receivers.stop();
    await worker.stop();
    await api?.stop();
  }
}

async function measureBaseline(
  options: SsfBenchOptions,
  hub: HubSetup,
  run: string,
  redisPid: number | undefined,
): Promise<SsfReport['baseline']> {
  const count = options.push + options.poll;
  const receivers = await Receivers.start({ servers: count, maxEvents: options.maxEvents });
  const baseline = await Baseline.start(
    { backend: options.backend, redisUrl: options.redisUrl, databaseUrl: hub.databaseUrl },
    receivers.urls.map((url) => ({ url, token: 'bench' })),
    1,
    run,
  );
  try {
    const numbering = new Numbering();
    const pace = { rate: 0, producers: options.producers };
    if (options.warmup > 0) {
      log(`  baseline: warm-up, ${options.warmup} changes`);
      await produce(numbering.next(options.warmup), pace, baseline.apply);
      await waitForReceipts(receivers, options.warmup * count, options.timeoutSeconds);
      await receivers.collect();
    }
    await waitForQuiet(options.quietSeconds, log);
    const sampler = new CpuSampler(options.serverUrl, options.database, { worker: baseline.pid, receivers: receivers.pid }, redisPid);
    await sampler.start();
    log(`  baseline: ${options.changes} changes × ${count} jobs`);
    const startedAt = wallNow();
    await produce(numbering.next(options.changes), pace, baseline.apply);
    const producedAt = wallNow();
    await waitForReceipts(receivers, options.changes * count, options.timeoutSeconds);
    const cpu = await sampler.stop();
    const { firsts: _firsts, ...delivered } = tally(await receivers.collect(), {
      receivers: count,
      changes: options.changes,
      isPush: () => true,
      committedAt: (r, key) => baseline.added.get(Number(key.slice(1)))?.[r],
      startedAt,
      producedAt,
    });
    return { delivered, cpu };
  } finally {
    await baseline.stop();
    await receivers.stop();
  }
}

async function serverInfo(serverUrl: string): Promise<{ postgres: string; settings: string }> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    const version = (await client.query<{ v: string }>(`select current_setting('server_version') as v`)).rows[0]?.v ?? '?';
    const shown = await client.query<{ name: string; setting: string }>(
      `select name, current_setting(name) as setting from pg_settings
        where name in ('shared_buffers', 'synchronous_commit', 'max_connections', 'fsync') order by name`,
    );
    return { postgres: `PostgreSQL ${version}`, settings: shown.rows.map((r) => `${r.name}=${r.setting}`).join(', ') };
  } finally {
    await client.end();
  }
}

function summary(label: string, d: SsfReport['hub']['delivered']): string {
  return (
    `  ${label}: ${d.unique} of ${d.expected} deliveries (${d.duplicates} duplicates, ${d.unmatched} unmatched) in ${d.seconds.toFixed(1)} s ` +
    `(${d.perSecond.toFixed(0)}/s; written in ${d.productionSeconds.toFixed(1)} s), latency p50 ${d.latency.p50.toFixed(0)} ms ` +
    `p95 ${d.latency.p95.toFixed(0)} ms max ${d.latency.max.toFixed(0)} ms`
  );
}

/** Fails the run when a system delivered other than exactly changes × receivers distinct events. */
function checkExact(label: string, d: SsfReport['hub']['delivered']): void {
  if (d.unique !== d.expected || d.shortReceivers.length > 0 || d.unmatched > 0) {
    throw new Error(
      `${label}: ${d.unique} distinct deliveries of ${d.expected} expected, ${d.unmatched} unmatched; ` +
        `receivers without exactly their share: ${d.shortReceivers.join(', ') || 'none'}.`,
    );
  }
}

async function run(options: SsfBenchOptions): Promise<string> {
  const load = loadavg()[0] ?? 0;
  const run = randomBytes(3).toString('hex');
  const { postgres, settings } = await serverInfo(options.serverUrl);
  const redis = options.backend === 'redis' ? await redisVersion(options.redisUrl).catch(() => undefined) : undefined;
  const redisPid = await redisServerPid();
  log(`BullMQ on ${options.backend}: fresh database ${options.database}`);
  const hub = await prepareHub(options.serverUrl, options.database, options.backend, options.redisUrl, {
    slug: 'bench-ssf',
    name: 'Bench SSF',
  });
  try {
    const measured = await measureHub(options, hub, run, redisPid);
    log(summary('hub', measured.delivered));
    checkExact('hub', measured.delivered);
    const baseline = await measureBaseline(options, hub, run, redisPid);
    log(summary('baseline', baseline.delivered));
    checkExact('baseline', baseline.delivered);
    const report: SsfReport = { machine: machineInfo(postgres, settings, load), redis, options, hub: measured, baseline };
    await saveJson(options.json, report, log);
    return renderSsfReport(report);
  } finally {
    await hub.close();
  }
}

await runBenchCli<SsfBenchOptions>({
  name: 'bench:ssf',
  usage: USAGE,
  parse: parseOptions,
  markdown: async (options) => {
    // The bench process's PostgreSQL connections (the writes, the queues) are told apart from the hub's.
    process.env.PGAPPNAME = APP.bench;
    return options.render ? renderSsfReport(JSON.parse(await readFile(options.render, 'utf8')) as SsfReport) : await run(options);
  },
  splice: spliceSsf,
});
