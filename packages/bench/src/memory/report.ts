import type { MachineInfo } from '../report.js';
import type { MemoryBenchOptions } from './options.js';

/** One reading of the hub's memory during the run. */
export interface MemorySample {
  /** Since the load started. */
  seconds: number;
  /** Answers received so far. */
  answered: number;
  rssMb: number;
  /** The process's peak resident memory so far (VmHWM). */
  hwmMb: number;
}

/** What `pnpm bench:memory` measured. */
export interface MemoryReport {
  machine: MachineInfo;
  options: MemoryBenchOptions;
  tenantUsers: number;
  weights: Readonly<Record<string, number>>;
  samples: MemorySample[];
  answered: number;
  errors: number;
}

/** The budget of issue 14: the hub's resident memory under the SCIM load. */
const RSS_BUDGET_MB = 300;

/** Least-squares slope of resident memory over time, in MB per minute, of the samples given. */
function slopeMbPerMinute(samples: readonly MemorySample[]): number {
  if (samples.length < 2) return 0;
  const xs = samples.map((s) => s.seconds / 60);
  const ys = samples.map((s) => s.rssMb);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += ((xs[i] as number) - mx) * ((ys[i] as number) - my);
    den += ((xs[i] as number) - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

const mb = (n: number) => `${n.toFixed(0)} MB`;

/** The report as markdown: the verdict, then the resident memory minute by minute. */
export function renderMemoryReport(report: MemoryReport): string {
  const { machine, options, samples } = report;
  const loaded = samples.filter((s) => s.seconds > 0);
  const peak = Math.max(...samples.map((s) => s.hwmMb));
  const secondHalf = loaded.filter((s) => s.seconds >= (options.minutes * 60) / 2);
  const slope = slopeMbPerMinute(secondHalf);
  const seconds = loaded.at(-1)?.seconds ?? 0;
  const lines = [
    `## Memory: the hub under SCIM load for ${options.minutes} minutes (\`pnpm bench:memory\`)`,
    '',
    `Run ${machine.date} at commit ${machine.revision}, on ${machine.cores} × ${machine.cpu}, ${machine.memoryGiB} GiB RAM; Node ${machine.node}; ${machine.postgres}. Load average when the run started: ${machine.load.toFixed(2)}.`,
    '',
    `- Data: ${options.database.users.toLocaleString('en-US')} users in ${options.database.tenants} tenant${options.database.tenants === 1 ? '' : 's'} (database \`${options.database.database}\`); every request goes to the first tenant (${report.tenantUsers.toLocaleString('en-US')} users).`,
    `- Load: autocannon, ${options.connections} connections, without pause for ${options.minutes} min; the requests of \`pnpm bench\` in turn, weighted ${Object.entries(
      report.weights,
    )
      .map(([name, weight]) => `${name} × ${weight}`)
      .join(', ')}.`,
    `- Hub: \`meridian serve --role api\` (built), LOG_LEVEL=${options.hubLogLevel}; its resident memory (VmRSS) and peak (VmHWM) read from /proc every ${options.sampleSeconds} s.`,
    '',
    `**${report.answered.toLocaleString('en-US')} answers in ${(seconds / 60).toFixed(1)} min (${(report.answered / Math.max(seconds, 1)).toFixed(0)} req/s), ${report.errors} errors.** Peak resident memory ${mb(peak)}: ${peak < RSS_BUDGET_MB ? `under the ${RSS_BUDGET_MB} MB budget` : `**over the ${RSS_BUDGET_MB} MB budget**`}. Over the second half of the run resident memory moved by ${slope >= 0 ? '+' : ''}${slope.toFixed(2)} MB per minute (least squares over ${secondHalf.length} readings).`,
    '',
    '| minute | resident (VmRSS) | peak so far (VmHWM) | answers in that minute |',
    '| ---: | ---: | ---: | ---: |',
  ];
  let before = samples[0];
  for (let minute = 0; minute <= options.minutes; minute++) {
    // The last reading at or before this minute's end.
    const at = [...samples].reverse().find((s) => s.seconds <= minute * 60 + options.sampleSeconds / 2);
    if (!at || (minute > 0 && at === before)) continue;
    const answers = minute === 0 ? 0 : at.answered - (before?.answered ?? 0);
    lines.push(`| ${minute} | ${mb(at.rssMb)} | ${mb(at.hwmMb)} | ${answers.toLocaleString('en-US')} |`);
    before = at;
  }
  return lines.join('\n');
}
