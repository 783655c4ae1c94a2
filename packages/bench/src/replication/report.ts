import { connect } from 'node:net';
import type { MachineInfo } from '../report.js';
import type { Backend } from './bullmq.js';
import type { DeliveryStatements } from './capture.js';
import { APP } from './hub.js';
import type { ReplicationBenchOptions } from './options.js';
import type { PhaseResult } from './phase.js';
import type { Distribution } from './stats.js';

/** The hub's own records of the burst. */
export interface HubRecords {
  /** `replication.delivered` events the engine recorded. */
  delivered: number;
  /** How long before ResourceService returned (committed) each change's outbox row was stamped (ms). */
  commitGap: Distribution;
  /** From the commit to the start of the relay step that dispatched the change (its \`dispatched_at\`), ms. */
  relay: Distribution;
}

export interface BackendResult {
  backend: Backend;
  hub: { burst: PhaseResult; steady: PhaseResult | undefined; drain: PhaseResult | undefined };
  baseline: { burst: PhaseResult; steady: PhaseResult | undefined; drain: PhaseResult | undefined };
  records: HubRecords;
  steadyRecords: HubRecords | undefined;
  statements: DeliveryStatements[];
}

export interface ReplicationReport {
  machine: MachineInfo;
  redis: string | undefined;
  options: ReplicationBenchOptions;
  results: BackendResult[];
}

/** `redis_version` of the server at `redisUrl` (INFO server over a plain socket). */
export function redisVersion(redisUrl: string): Promise<string> {
  const url = new URL(redisUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port || 6379), url.hostname);
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no answer'));
    }, 3_000);
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('data', (chunk) => {
      text += chunk.toString();
      const found = /redis_version:([^\r\n]+)/.exec(text);
      if (found) {
        clearTimeout(timer);
        socket.end();
        resolve(found[1] as string);
      }
    });
    socket.write('*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n');
  });
}

/** Deliveries per change: the bench has two targets. */
const TARGETS = 2;
const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');
const ms = (n: number) => (Number.isFinite(n) ? (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1)) : '—');
const sec = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '—');
const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? (a / b).toFixed(2) : '—');
const per = (total: number | undefined, n: number) => (total === undefined || n === 0 ? '—' : (total / n).toFixed(2));

function requestsPerDelivery(r: PhaseResult): string {
  const byMethod: Record<string, number> = {};
  for (const [key, n] of Object.entries(r.requests)) {
    const method = key.split(' ')[0] as string;
    byMethod[method] = (byMethod[method] ?? 0) + n;
  }
  const total = Object.values(byMethod).reduce((a, b) => a + b, 0);
  const parts = Object.entries(byMethod)
    .sort((a, b) => b[1] - a[1])
    .map(([m, n]) => `${m} ${int(n)}`);
  return `${(total / r.deliveries).toFixed(2)} (${parts.join(', ')})`;
}

function errors(r: PhaseResult): string {
  const bad = Object.entries(r.requests).filter(([key]) => !/ 2\d\d$/.test(key));
  return bad.length === 0 ? '0' : `**${bad.map(([k, n]) => `${k}×${n}`).join(', ')}**`;
}

function systems(b: BackendResult, phase: 'burst' | 'steady' | 'drain'): [string, PhaseResult, string][] {
  const out: [string, PhaseResult, string][] = [];
  const hub = b.hub[phase];
  const baseline = b.baseline[phase];
  if (hub) out.push(['hub', hub, APP.worker]);
  if (baseline) out.push(['bare BullMQ', baseline, APP.baseline]);
  return out;
}

const spentOf = (r: PhaseResult, app: string) => (r.cpu.processes.worker ?? 0) + (r.cpu.postgresByApp[app] ?? 0) + (r.cpu.redis ?? 0);

function requestCount(r: PhaseResult): number {
  return Object.values(r.requests).reduce((a, b) => a + b, 0);
}

/** The headline numbers of each backend, in words. */
function summaryLines(report: ReplicationReport): string[] {
  const lines: string[] = [];
  for (const b of report.results) {
    const capacity = b.hub.drain && b.baseline.drain ? { hub: b.hub.drain, bare: b.baseline.drain, how: 'emptying a backlog' } : undefined;
    const cap = capacity ?? { hub: b.hub.burst, bare: b.baseline.burst, how: 'in the burst' };
    const perSecond = (r: PhaseResult) => r.changes / r.seconds;
    lines.push(
      `- **BullMQ on ${b.backend}**`,
      `  - Capacity ${cap.how}: the hub brought ${int(perSecond(cap.hub))} changes/s to both targets ` +
        `(${int(cap.hub.deliveriesPerSecond)} deliveries/s), bare BullMQ ${int(perSecond(cap.bare))} ` +
        `(${int(cap.bare.deliveriesPerSecond)} deliveries/s): **${ratio(perSecond(cap.hub), perSecond(cap.bare))}**.`,
      `  - Burst: all ${int(b.hub.burst.changes)} changes were at both targets ${sec(b.hub.burst.seconds)} s after the first commit ` +
        `(bare: ${sec(b.baseline.burst.seconds)} s); the hub coalesced ${int(b.hub.burst.coalesced)} of ${int(b.hub.burst.changes * TARGETS)} (change, target) pairs.`,
    );
    const hubSteady = b.hub.steady;
    const bareSteady = b.baseline.steady;
    if (hubSteady && bareSteady) {
      const relay = b.steadyRecords
        ? `; ${ms(b.steadyRecords.relay.p50)} ms of the hub's median passed before the relay step that dispatched the change started`
        : '';
      lines.push(
        `  - At ${report.options.steadyRate} changes/s, commit to acknowledgement took p50 ${ms(hubSteady.latency.p50)} ms / p95 ${ms(hubSteady.latency.p95)} ms ` +
          `through the hub, ${ms(bareSteady.latency.p50)} / ${ms(bareSteady.latency.p95)} ms through bare BullMQ${relay}.`,
      );
    }
    const burstHub = b.hub.burst;
    const burstBare = b.baseline.burst;
    const hubCpu = spentOf(burstHub, APP.worker) / burstHub.changes;
    const bareCpu = spentOf(burstBare, APP.baseline) / burstBare.changes;
    lines.push(
      `  - CPU to deliver one change to both targets (worker, its PostgreSQL backends, Redis; burst): ${hubCpu.toFixed(1)} ms ` +
        `against ${bareCpu.toFixed(1)} ms (**${ratio(hubCpu, bareCpu)}×**).`,
      `  - Per delivery the hub sent ${(requestCount(burstHub) / burstHub.deliveries).toFixed(2)} HTTP requests to the target (bare: ${(requestCount(burstBare) / burstBare.deliveries).toFixed(2)})` +
        (b.statements.length > 0
          ? `; its worker sent about ${b.statements.map((x) => `${((x.statements.length - x.idle) / TARGETS).toFixed(0)} SQL statements per delivery of ${x.change === 'create' ? 'a create' : 'an update'}`).join(' and ')}.`
          : '.'),
    );
  }
  return lines;
}

/** Renders the replication report (the part of docs/benchmarks.md between the replication markers). */
export function renderReplicationReport(report: ReplicationReport): string {
  const { machine, options, results } = report;
  const lines: string[] = [];
  const n = options.changes.toLocaleString('en-US');
  lines.push(
    '## Replication: changes to two targets, the hub against bare BullMQ',
    '',
    '`pnpm bench:replication` measures how fast the replication engine (ADR 0014) delivers changes to two',
    'SCIM targets, on both BullMQ backends, next to a bare BullMQ queue and worker moving the same number of',
    'jobs in the same run.',
    '',
    '```sh',
    'pnpm bench:replication                            # 10,000 changes, both backends: burst, steady, drain (~30 min)',
    'pnpm bench:replication --changes 2000 --backend redis --steady-changes 0 --drain-changes 0   # a quick run',
    'pnpm bench:replication --write                    # also puts the report here (between the replication markers)',
    'pnpm bench:replication --help                     # every option (--producers, --concurrency, --steady-rate, ...)',
    '```',
    '',
    '### What it does',
    '',
    `- **Per backend** (BullMQ on PostgreSQL, then on Redis): a fresh database \`${options.database}\` on`,
    "  `DATABASE_URL`'s server, migrated by the hub's runtime, one tenant. Two SCIM targets run in a process of",
    '  their own (`packages/bench/src/replication/scim-target.ts`: users in memory, indexed by id, externalId and',
    "  userName, PATCH through the core's PATCH engine), so that their CPU is counted apart. The test suite's",
    '  FakeScimTarget renders every stored user for each filtered GET and scans them all on each write: at 4,000',
    '  to 5,000 users a create (two lookups and a POST) costs it about 11 ms, 140 s of CPU for 5,000 creates,',
    '  which would have measured the fake.',
    `- **Hub.** Two \`scim\` targets (default mapping, delete mode \`delete\`, concurrency ${options.concurrency}: as many requests`,
    `  to each at once, while its queue runs ${Math.min(256, options.concurrency * 4)} jobs, ADR 0041) and`,
    '  `meridian serve --role worker` (the built hub: outbox relay and target workers) as a child process. The',
    "  bench process makes the changes through the hub's ResourceService (what the SCIM API calls, without HTTP):",
    '  a change is committed when the call returns.',
    `- **Bare BullMQ.** A Queue per target in the bench process and a Worker per queue (concurrency ${options.concurrency}, so as many requests) in a`,
    '  process of its own, connected as the hub connects its queues (on PostgreSQL: pools of 1 and 2). A change',
    '  adds one job per target (`queue.add`, as the relay does); the job carries the body and does one HTTP write:',
    '  POST of the user, or PATCH of the same two attributes. No database, no deduplication, no audit.',
    `- **Changes.** ${int(options.warmup)} warm-up changes first (not measured). The burst: ${n} changes as fast as`,
    `  ${options.producers} concurrent producers go: ${int(Math.ceil(options.changes / 2))} user creates, then one update (title and displayName)`,
    '  of each of those users, in the same order. The worker runs throughout, so latency in the burst includes the',
    '  wait behind the backlog. The steady phase: ' +
      (options.steadyChanges > 0
        ? `${int(options.steadyChanges)} changes of the same mix at ${options.steadyRate} changes/s, well below both systems' capacity.`
        : 'skipped in this run.'),
    '  The drain: ' +
      (options.drainChanges > 0
        ? `${int(options.drainChanges)} changes of the same mix made while no worker runs; then the worker starts (its latency says nothing and is left out).`
        : 'skipped in this run.'),
    '- **Measured.** Every change writes a marker into `title`; the targets record each acknowledged write',
    '  (POST, PATCH, PUT) with the marker it left and the time of the answer. A *delivery* is such a write;',
    '  its latency runs from the commit of the change it carried (hub: ResourceService returned; bare BullMQ:',
    "  `queue.add` returned) to the target's answer. Rates run from the first commit (drain: the worker's start)",
    '  to the last acknowledgement of the phase. The engine coalesces changes of one resource that wait together',
    '  (one job per target and resource); changes × targets − deliveries counts those. CPU comes from /proc: the worker process, the PostgreSQL backends',
    "  connected to the bench database by application name (the worker's, the producer's), all PostgreSQL",
    '  processes, redis-server, the target process, the bench process; "other load" is what the rest of the',
    '  machine used meanwhile.',
    '',
    `Run ${machine.date} at commit ${machine.revision}, on ${machine.cores} × ${machine.cpu}, ${machine.memoryGiB} GiB RAM; Node ${machine.node}; ${machine.postgres} (${machine.settings}); Redis ${report.redis ?? 'unknown'}. Load average when the run started: ${machine.load.toFixed(2)}.`,
    '',
    '### In short',
    '',
    ...summaryLines(report),
    '',
    `### Burst: ${n} changes, two targets`,
    '',
    '*Changes/s*: the changes over the time from the first commit until every target held every change; *deliveries/s*: the',
    'writes the targets acknowledged over the same time (fewer than changes × targets where the engine coalesced).',
    '',
    '| backend | system | deliveries (coalesced) | produced in s | all acknowledged in s | changes/s | deliveries/s | latency p50 ms | p95 ms | max ms | hub / bare, changes/s | hub / bare, deliveries/s | errors |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  );
  for (const b of results) {
    for (const [label, r] of systems(b, 'burst')) {
      const bare = b.baseline.burst;
      const changes = label === 'hub' ? ratio(r.changes / r.seconds, bare.changes / bare.seconds) : '';
      const deliveries = label === 'hub' ? ratio(r.deliveriesPerSecond, bare.deliveriesPerSecond) : '';
      lines.push(
        `| ${b.backend} | ${label} | ${int(r.deliveries)} (${int(r.coalesced)}) | ${sec(r.productionSeconds)} | ${sec(r.seconds)} | ${int(r.changes / r.seconds)} | ${int(r.deliveriesPerSecond)} | ${ms(r.latency.p50)} | ${ms(r.latency.p95)} | ${ms(r.latency.max)} | ${changes} | ${deliveries} | ${errors(r)} |`,
      );
    }
  }
  for (const b of results) {
    for (const [label, r] of systems(b, 'burst')) {
      if (r.seconds - r.productionSeconds < Math.max(1, r.seconds * 0.02)) {
        lines.push(
          '',
          `${label} on ${b.backend}: every change was at both targets ${sec(r.seconds - r.productionSeconds)} s after the last one was made (latency p50 ${ms(r.latency.p50)} ms): its worker kept up, so this row measures its producer, not its worker; the drain below measures the worker.`,
        );
      }
    }
  }
  lines.push(
    '',
    'CPU per delivery in the burst (ms), from /proc. *Worker*: `meridian serve --role worker`, or the bare BullMQ worker process;',
    "*its PostgreSQL*: the backends of the worker's own connections (the hub's data, and BullMQ's on its PostgreSQL backend);",
    '*delivering*: the three together, per delivery and per change (both targets), compared per change in *hub / bare*',
    '(so that what the engine coalesced counts in its favour). *Producer*: the bench process making the changes (hub: the',
    'SCIM writes through ResourceService; bare: `queue.add`), and its backends. *All PostgreSQL*: every PostgreSQL process',
    "(the backends above, the background writers, other databases' work). *Machine*: cores busy on average (of them, other processes).",
    '',
    '| backend | system | worker | its PostgreSQL | Redis | delivering | delivering per change | hub / bare | targets | producer (+ its PostgreSQL) | all PostgreSQL | machine busy, cores (others) |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  );
  const delivering = (r: PhaseResult, app: string) => spentOf(r, app) / r.deliveries;
  const perChange = (r: PhaseResult, app: string) => spentOf(r, app) / r.changes;
  for (const b of results) {
    for (const [label, r, app] of systems(b, 'burst')) {
      const d = r.deliveries;
      const rel = label === 'hub' ? ratio(perChange(r, app), perChange(b.baseline.burst, APP.baseline)) : '';
      const busy = r.cpu.machine === undefined ? '—' : (r.cpu.machine / (r.cpu.seconds * 1000)).toFixed(2);
      lines.push(
        `| ${b.backend} | ${label} | ${per(r.cpu.processes.worker, d)} | ${per(r.cpu.postgresByApp[app] ?? 0, d)} | ${per(r.cpu.redis, d)} | ${delivering(r, app).toFixed(2)} | ${perChange(r, app).toFixed(2)} | ${rel} | ${per(r.cpu.processes.targets, d)} | ${per(r.cpu.bench, d)} + ${per(r.cpu.postgresByApp[APP.bench] ?? 0, d)} | ${per(r.cpu.postgresAll, d)} | ${busy} (${r.cpu.otherCores?.toFixed(2) ?? '—'}) |`,
      );
    }
  }
  lines.push(
    '',
    'Requests the targets received per delivery in the burst (the hub posts a new user without a look-up, ADR 0035, and',
    "sends an update as a PATCH of what changed since its last push, ADR 0024), and the hub's own records:",
    '',
    '| backend | system | requests per delivery (by method) | `replication.delivered` events | SCIM write: outbox stamp → commit returned, p50 / p95 ms |',
    '| --- | --- | --- | ---: | --- |',
  );
  for (const b of results) {
    for (const [label, r] of systems(b, 'burst')) {
      const records =
        label === 'hub' ? [int(b.records.delivered), `${ms(b.records.commitGap.p50)} / ${ms(b.records.commitGap.p95)}`] : ['—', '—'];
      lines.push(`| ${b.backend} | ${label} | ${requestsPerDelivery(r)} | ${records[0]} | ${records[1]} |`);
    }
  }
  if (results.some((b) => b.hub.drain && b.baseline.drain)) {
    lines.push(
      '',
      `### Drain: ${options.drainChanges.toLocaleString('en-US')} changes made while no worker ran`,
      '',
      'The same mix, committed (hub) or queued (bare) with the worker stopped; then the worker starts and empties the',
      "backlog: capacity without the producer competing for the cores. Time and CPU run from the worker's start-up",
      'message to the last acknowledgement (for the hub this includes relaying the whole outbox).',
      '',
      'CPU in ms per delivery, *delivering* also per change; both *hub / bare* ratios are per change.',
      '',
      '| backend | system | deliveries (coalesced) | drained in s | changes/s | deliveries/s | hub / bare, changes/s | worker | its PostgreSQL | Redis | delivering | delivering per change | hub / bare | all PostgreSQL | machine busy, cores (others) |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    );
    for (const b of results) {
      for (const [label, r, app] of systems(b, 'drain')) {
        const d = r.deliveries;
        const bare = b.baseline.drain as PhaseResult;
        const rate = label === 'hub' ? ratio(r.changes / r.seconds, bare.changes / bare.seconds) : '';
        const cpu = label === 'hub' ? ratio(perChange(r, app), perChange(bare, APP.baseline)) : '';
        const busy = r.cpu.machine === undefined ? '—' : (r.cpu.machine / (r.cpu.seconds * 1000)).toFixed(2);
        lines.push(
          `| ${b.backend} | ${label} | ${int(d)} (${int(r.coalesced)}) | ${sec(r.seconds)} | ${int(r.changes / r.seconds)} | ${int(r.deliveriesPerSecond)} | ${rate} | ${per(r.cpu.processes.worker, d)} | ${per(r.cpu.postgresByApp[app] ?? 0, d)} | ${per(r.cpu.redis, d)} | ${delivering(r, app).toFixed(2)} | ${perChange(r, app).toFixed(2)} | ${cpu} | ${per(r.cpu.postgresAll, d)} | ${busy} (${r.cpu.otherCores?.toFixed(2) ?? '—'}) |`,
        );
      }
    }
  }
  if (results.some((b) => b.hub.steady || b.baseline.steady)) {
    lines.push(
      '',
      `### Steady: ${options.steadyChanges.toLocaleString('en-US')} changes at ${options.steadyRate} changes/s, two targets`,
      '',
      'Latency without a backlog: what one change waits for when the worker keeps up. Of the median: the wait for the',
      "relay step that dispatched the change (hub: its outbox row's `dispatched_at`, which is the step's start), the",
      "time until the job's first request reached the target, and the job's requests up to the acknowledgement.",
      '',
      '| backend | system | deliveries (coalesced) | deliveries/s | latency p50 ms | p95 ms | p99 ms | max ms | commit → relay step p50 | commit → first request p50 | first request → ack p50 | worker CPU ms / delivery | its PostgreSQL ms / delivery | errors |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    );
    for (const b of results) {
      for (const [label, r, app] of systems(b, 'steady')) {
        const relay = label === 'hub' && b.steadyRecords ? ms(b.steadyRecords.relay.p50) : '—';
        lines.push(
          `| ${b.backend} | ${label} | ${int(r.deliveries)} (${int(r.coalesced)}) | ${int(r.deliveriesPerSecond)} | ${ms(r.latency.p50)} | ${ms(r.latency.p95)} | ${ms(r.latency.p99)} | ${ms(r.latency.max)} | ${relay} | ${ms(r.pickup.p50)} | ${ms(r.exchange.p50)} | ${per(r.cpu.processes.worker, r.deliveries)} | ${per(r.cpu.postgresByApp[app] ?? 0, r.deliveries)} | ${errors(r)} |`,
        );
      }
    }
  }
  if (results.some((b) => b.statements.length > 0)) {
    lines.push(
      '',
      '### Statements the hub worker sends per delivery',
      '',
      'A second worker, through a recording proxy (`SqlCapture` in test-utils), after the measurements and after one unrecorded',
      "create and update (what a worker loads once: target secrets, the tenant's schema): one change at a time, from",
      'its commit until a second after both targets acknowledged it and the links were synced (the relay also',
      "dispatches the deliveries' own `replication.delivered` events). The idle worker's polling over the same window",
      "(measured before) is taken out. On the PostgreSQL backend BullMQ's own statements are in the count.",
      '',
      '| backend | change | statements in the window | idle polling | per delivery (two targets) | of them BullMQ (window / 2) |',
      '| --- | --- | ---: | ---: | ---: | ---: |',
    );
    for (const b of results) {
      for (const s of b.statements) {
        const net = s.statements.length - s.idle;
        lines.push(
          `| ${b.backend} | ${s.change} | ${s.statements.length} | ${s.idle.toFixed(0)} | ${(net / TARGETS).toFixed(0)} | ${b.backend === 'postgres' ? (s.bullmq / TARGETS).toFixed(0) : '—'} |`,
        );
      }
    }
    const sample =
      results.find((b) => b.backend === 'postgres')?.statements.find((s) => s.change === 'create') ?? results[0]?.statements[0];
    if (sample) {
      lines.push(
        '',
        `<details><summary>What the worker sent for one ${sample.change} delivered to two targets (${results.find((b) => b.statements.includes(sample))?.backend} backend)</summary>`,
        '',
        '```sql',
        ...sample.statements.map((q) => (q.length > 300 ? `${q.slice(0, 300)} …` : q)),
        '```',
        '',
        '</details>',
      );
    }
  }
  lines.push('');
  return lines.join('\n');
}

const BEGIN = '<!-- replication:begin -->';
const END = '<!-- replication:end -->';

/** Puts the generated part between the replication markers, appending the markers at the end of the document when absent. */
export function spliceReplication(existing: string | undefined, generated: string): string {
  const block = `${BEGIN}\n<!-- generated by \`pnpm bench:replication --write\`; edit outside the markers -->\n\n${generated}\n${END}`;
  if (existing?.includes(BEGIN) && existing.includes(END)) {
    return existing.slice(0, existing.indexOf(BEGIN)) + block + existing.slice(existing.indexOf(END) + END.length);
  }
  if (existing === undefined) return `# Benchmarks\n\n${block}\n`;
  return `${existing.replace(/\n*$/, '\n\n')}${block}\n`;
}
