import { spliceSection } from '../bench-cli.js';
import type { CpuSpent } from '../replication/sampler.js';
import type { Distribution } from '../replication/stats.js';
import type { MachineInfo } from '../report.js';
import type { Delivered } from './measure.js';
import type { SsfBenchOptions } from './options.js';

/** Where the hub's commit → receipt time goes, from when it stored each SET (ms). */
export interface HubSplit {
  /** Commit → SET stored: the stream inbox, the worker's producer step (view, plan, sign, store). */
  produced: Distribution;
  /** SET stored → received, by push and by poll. */
  pushed: Distribution;
  polled: Distribution;
}

export interface SsfReport {
  machine: MachineInfo;
  redis: string | undefined;
  options: SsfBenchOptions;
  hub: { delivered: Delivered; cpu: CpuSpent; split: HubSplit | undefined; counts: Record<string, number> };
  baseline: { delivered: Delivered; cpu: CpuSpent };
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (n: number) => (Number.isFinite(n) ? `${int(n)} ms` : '–');
const ratio = (a: number, b: number) => (b > 0 && Number.isFinite(a / b) ? `${(a / b).toFixed(2)}×` : '–');

function row(label: string, d: Distribution): string {
  return `| ${label} | ${int(d.count)} | ${ms(d.p50)} | ${ms(d.p95)} | ${ms(d.max)} |`;
}

/** CPU ms per delivered event, by who spent it. */
function cpuRows(cpu: CpuSpent, delivered: number, labels: [string, string][]): string[] {
  const per = (v: number | undefined) => (v === undefined ? '–' : (v / delivered).toFixed(3));
  const lines = labels.map(([label, key]) => `| ${label} | ${per(cpu.processes[key])} |`);
  // On BullMQ's PostgreSQL backend each of the bench's queues connects under its own name: one row for them all.
  const grouped: Record<string, number> = {};
  for (const [app, v] of Object.entries(cpu.postgresByApp)) {
    const name = app.replace(/^bench-baseline-[0-9a-f]{8}-\d+$/, 'bench-baseline-* (the queues)');
    grouped[name] = (grouped[name] ?? 0) + v;
  }
  const byApp = Object.entries(grouped)
    .filter(([app]) => app !== 'bench-sampler')
    .sort(([, a], [, b]) => b - a)
    .map(([app, v]) => `| PostgreSQL backends of \`${app}\` | ${per(v)} |`);
  return [
    '| who | CPU ms per delivered event |',
    '| --- | ---: |',
    ...lines,
    ...byApp,
    `| all PostgreSQL processes | ${per(cpu.postgresAll)} |`,
    `| redis-server | ${per(cpu.redis)} |`,
    `| the bench process (producer of the writes, sampling) | ${per(cpu.bench)} |`,
    `| other load on the machine | ${cpu.otherCores === undefined ? '?' : `${cpu.otherCores.toFixed(2)} cores`} |`,
  ];
}

/** Renders the SSF report (the part of docs/benchmarks.md between the ssf markers). */
export function renderSsfReport(report: SsfReport): string {
  const { machine, options, hub, baseline } = report;
  const receivers = options.push + options.poll;
  const n = int(options.changes);
  const backend = options.backend === 'redis' ? `Redis ${report.redis ?? ''}`.trim() : "BullMQ's PostgreSQL backend";
  const lines = [
    `## Change notification (Shared Signals): ${options.push} push and ${options.poll} poll receivers, the hub against bare BullMQ`,
    '',
    "`pnpm bench:ssf` measures how fast the communities' Shared Signals transmitter (issue 17, ADR 0029,",
    '[events](events.md)) turns user writes into signed SETs and gets them to push (RFC 8935) and poll (RFC 8936)',
    'receivers, next to a bare BullMQ queue and worker moving as many jobs to the same receivers in the same run.',
    '',
    '```sh',
    'REDIS_URL=redis://127.0.0.1:6379/0 pnpm bench:ssf --changes 2000   # 10 push + 10 poll receivers, BullMQ on Redis',
    'pnpm bench:ssf --changes 2000                                      # without REDIS_URL: BullMQ on PostgreSQL',
    'pnpm bench:ssf --write                                             # also puts the report here (between the ssf markers)',
    'pnpm bench:ssf --help                                              # every option (--push, --poll, --topology, --max-events, ...)',
    '```',
    '',
    '### What it does',
    '',
    `- A fresh database \`${options.database}\` on \`DATABASE_URL\`'s server, one community with one office; BullMQ on`,
    `  ${backend} (Redis when \`REDIS_URL\` is set). The transmitter itself queues nothing in BullMQ: its SETs wait in`,
    "  PostgreSQL (`event_stream_set`), so the backend is the baseline's (and the outbox relay's, which has no target to feed here).",
    `  ${receivers} receivers in a process of their own`,
    '  (`packages/bench/src/ssf/receiver-process.ts`): an HTTP server each, answering a pushed SET with 202, and for',
    `  each poll stream a client long-polling (\`returnImmediately: false\`, \`maxEvents: ${options.maxEvents}\`) and acknowledging each`,
    '  answer in its next request. Receivers verify nothing (they decode the payload): a signature check costs the',
    '  same behind either system.',
    '- **Hub.** A community API token per receiver (`hr_reader`: a `relying_party` token gets no stream, and a relying',
    "  party's stream carries only the people of its release ledger), each creating its stream over HTTP, asking for",
    '  `prov:create:notice` and `prov:patch:notice`: one SET per write per stream. ' +
      (options.topology === 'split'
        ? '`meridian serve --role worker` (the producer and push loop) and `meridian serve --role api` (the poll endpoint) run as child processes.'
        : 'One `meridian serve --role all` runs producer, push and the poll endpoint.'),
    "  The bench process writes through the hub's ResourceService (what the SCIM API calls, without HTTP):",
    `  ${int(options.warmup)} warm-up writes (not measured), then ${n} writes as fast as ${options.producers} concurrent producers go, half`,
    '  user creates, then an update (title, displayName) of each of those users.',
    `- **Bare BullMQ.** A Queue per receiver in the bench process, a Worker per queue (concurrency 1: the hub pushes`,
    "  in order per stream) in a process of its own (the replication bench's `baseline-worker.ts`); each of the",
    `  same ${n} changes adds one job per receiver, and each job is one HTTP POST (create) or PATCH (update) of`,
    '  the SCIM body to that receiver. No database, no signing, no audit: the floor.',
    `- **Measured.** Each receipt (a SET's \`jti\`, a job's change) with the time it was read; ${n} × ${receivers} =`,
    `  ${int(options.changes * receivers)} distinct deliveries are expected, counted exactly (duplicates are at-least-once redeliveries).`,
    "  Latency runs from the commit (the hub: ResourceService returned; BullMQ: that receiver's `queue.add` returned)",
    "  to the receiver's first receipt; the rate from the first write to the last receipt. CPU comes from /proc",
    '  (the processes named, the PostgreSQL backends of the bench database by application name).',
    '',
    '### Machine',
    '',
    `${machine.date}, ${machine.cpu} (${machine.cores} cores), ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.postgres}`,
    `(${machine.settings}); load average ${machine.load.toFixed(2)} at the start; revision ${machine.revision}.`,
    '',
    '### Results',
    '',
    '| | deliveries (expected) | duplicates | seconds | events/s | writes took | latency p50 | p95 | max |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...(
      [
        ['hub (SSF)', hub.delivered],
        ['bare BullMQ', baseline.delivered],
      ] as const
    ).map(
      ([label, d]) =>
        `| ${label} | ${int(d.unique)} (${int(d.expected)}) | ${int(d.duplicates)} | ${d.seconds.toFixed(1)} | ${int(d.perSecond)} | ` +
        `${d.productionSeconds.toFixed(1)} s | ${ms(d.latency.p50)} | ${ms(d.latency.p95)} | ${ms(d.latency.max)} |`,
    ),
    '',
    `**Ratio** (hub ÷ bare BullMQ): events/s ${ratio(hub.delivered.perSecond, baseline.delivered.perSecond)}, ` +
      `latency p50 ${ratio(hub.delivered.latency.p50, baseline.delivered.latency.p50)}, ` +
      `p95 ${ratio(hub.delivered.latency.p95, baseline.delivered.latency.p95)}.`,
    '',
    '| commit → receipt | deliveries | p50 | p95 | max |',
    '| --- | ---: | ---: | ---: | ---: |',
    row('hub, push receivers', hub.delivered.push),
    row('hub, poll receivers', hub.delivered.poll),
    row('bare BullMQ, all receivers', baseline.delivered.latency),
    '',
  ];
  if (hub.split) {
    lines.push(
      "Where the hub's time goes (from when each SET was stored, `event_stream_set.created_at`):",
      '',
      '| step | SETs | p50 | p95 | max |',
      '| --- | ---: | ---: | ---: | ---: |',
      row('commit → SET stored (inbox, producer step: view, plan, sign, store)', hub.split.produced),
      row('stored → pushed and received (202)', hub.split.pushed),
      row('stored → handed out by a long poll', hub.split.polled),
      '',
    );
  }
  lines.push(
    `The hub's own counts after the phase: ${Object.entries(hub.counts)
      .map(([state, count]) => `${state} ${int(count)}`)
      .join(', ')}.`,
    '',
    '**CPU, hub**',
    '',
    ...cpuRows(
      hub.cpu,
      hub.delivered.unique,
      options.topology === 'split'
        ? [
            ['hub worker (`serve --role worker`)', 'worker'],
            ['hub API (`serve --role api`, the polls)', 'api'],
            ['receivers', 'receivers'],
          ]
        : [
            ['hub (`serve --role all`)', 'worker'],
            ['receivers', 'receivers'],
          ],
    ),
    '',
    '**CPU, bare BullMQ**',
    '',
    ...cpuRows(baseline.cpu, baseline.delivered.unique, [
      ['BullMQ worker', 'worker'],
      ['receivers', 'receivers'],
    ]),
  );
  return lines.join('\n');
}

/** Puts the report between the ssf markers of the benchmarks page (or appends it). */
export function spliceSsf(existing: string | undefined, generated: string): string {
  return spliceSection('ssf', 'pnpm bench:ssf --write', existing, generated);
}
