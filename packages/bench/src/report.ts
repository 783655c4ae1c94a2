import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import type { FilterPlan } from './explain.js';
import type { LoadResult } from './load.js';
import type { PatchResult } from './patch.js';
import { CREATE, type Side, type Target } from './scenarios.js';

/** Where and on what the bench ran. */
export interface MachineInfo {
  date: string;
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  postgres: string;
  settings: string;
  /** 1-minute load average when the run started: other work on the machine skews the numbers. */
  load: number;
  /** The commit the run measured, and whether the work tree differed from it. */
  revision: string;
}

function revision(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim() !== '';
    return dirty ? `${head} with uncommitted changes` : head;
  } catch {
    return 'unknown';
  }
}

/** One throughput scenario, measured on the servers that answer it. */
export interface ScenarioResult {
  name: string;
  /** The ratio the hub should reach. */
  target: Target;
  results: Partial<Record<Side, LoadResult>>;
}

/** Statements one request sent to PostgreSQL, per server (undefined: the server does not answer it). */
interface StatementCount {
  request: string;
  hub: string[];
  baseline: string[] | undefined;
  minimal: string[] | undefined;
}

/** Everything a run found. */
export interface BenchReport {
  machine: MachineInfo;
  setup: string[];
  scenarios: ScenarioResult[];
  patches: PatchResult[];
  plans: FilterPlan[];
  statements: StatementCount[];
  /** Where the statements were counted: PostgreSQL's log, or the recording proxy. */
  statementSource: string;
  /** What the run checked of the minimal baseline before measuring it. */
  checks: string[];
  notes: string[];
}

/** Reads the machine and the PostgreSQL server the run used. */
export function machineInfo(postgres: string, settings: string, load: number): MachineInfo {
  const list = cpus();
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    cpu: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    postgres,
    settings,
    load,
    revision: revision(),
  };
}

const ms = (n: number) => (Number.isFinite(n) ? (n >= 100 ? n.toFixed(0) : n.toFixed(1)) : '—');
const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');

function statusText(result: LoadResult): string {
  const failures = Object.entries(result.statuses).filter(([code]) => !code.startsWith('2'));
  return failures.length === 0 && result.errors === 0
    ? '0'
    : `**${result.errors}** (${failures.map(([code, n]) => `${code}×${n}`).join(', ') || 'connection errors'})`;
}

function verdict(ok: boolean | undefined): string {
  return ok === undefined ? 'n/a' : ok ? 'met' : '**missed**';
}

/** Renders the report as Markdown (the part of docs/benchmarks.md between the markers). */
export function renderReport(report: BenchReport): string {
  const { machine } = report;
  const lines: string[] = [];
  lines.push(
    `Run ${machine.date} at commit ${machine.revision}, on ${machine.cores} × ${machine.cpu}, ${machine.memoryGiB} GiB RAM; Node ${machine.node}; ${machine.postgres}.`,
    '',
    `PostgreSQL settings: ${machine.settings}. Load average when the run started: ${machine.load.toFixed(2)}.`,
    '',
    ...report.setup.map((s) => `- ${s}`),
    '',
    '### Throughput: the hub against the same-SQL and the minimal baseline',
    '',
    '| scenario | hub req/s | hub p50 ms | hub p95 ms | same-SQL req/s | same-SQL p50 ms | minimal req/s | minimal p50 ms | hub / same-SQL | hub / minimal | target | errors (hub / same-SQL / minimal) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |',
  );
  const createMinimal = report.scenarios.find((s) => s.name === CREATE)?.results.minimal;
  const ratioOf = (a: LoadResult | undefined, b: LoadResult | undefined) => (a && b && b.rps > 0 ? a.rps / b.rps : Number.NaN);
  const fixed = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '—');
  const clean = (r: LoadResult | undefined) => r === undefined || (r.errors === 0 && r.rps > 0);
  for (const s of report.scenarios) {
    const { hub, baseline, minimal } = s.results;
    const toBaseline = ratioOf(hub, baseline);
    const toMinimal = minimal ? ratioOf(hub, minimal) : s.target.of === 'minimal create' ? ratioOf(hub, createMinimal) : Number.NaN;
    const against = s.target.of === 'baseline' ? toBaseline : toMinimal;
    const reference = s.target.of === 'baseline' ? baseline : s.target.of === 'minimal' ? minimal : createMinimal;
    const ratioOk = clean(hub) && clean(reference) && Number.isFinite(against) ? against >= s.target.ratio : undefined;
    const rateOk = s.target.rps === undefined || !hub || !clean(hub) ? undefined : hub.rps >= s.target.rps;
    const label = { baseline: 'same-SQL', minimal: 'minimal', 'minimal create': 'minimal create' }[s.target.of];
    const rateTarget = s.target.rps === undefined ? '' : `; ≥ ${int(s.target.rps)} req/s ${verdict(rateOk)}`;
    const cell = (r: LoadResult | undefined, pick: (r: LoadResult) => number, format: (n: number) => string) => (r ? format(pick(r)) : '—');
    lines.push(
      `| ${s.name} | ${cell(hub, (r) => r.rps, int)} | ${cell(hub, (r) => r.p50, ms)} | ${cell(hub, (r) => r.p95, ms)} | ${cell(baseline, (r) => r.rps, int)} | ${cell(baseline, (r) => r.p50, ms)} | ${cell(minimal, (r) => r.rps, int)} | ${cell(minimal, (r) => r.p50, ms)} | ${fixed(toBaseline)} | ${fixed(toMinimal)}${minimal || s.target.of !== 'minimal create' ? '' : ' (of create)'} | ≥ ${s.target.ratio} of ${label} ${verdict(ratioOk)}${rateTarget} | ${[hub, baseline, minimal].map((r) => (r ? statusText(r) : '—')).join(' / ')} |`,
    );
  }
  lines.push(
    '',
    'CPU per request, from /proc, the lowest of the rounds (contention only adds to it): the server process, and all PostgreSQL',
    "processes (which also counts other databases' work meanwhile); the last column is how many cores other processes on the",
    'machine kept busy during the rounds in the table above.',
    '',
    '| scenario | hub ms | same-SQL ms | minimal ms | PostgreSQL ms (hub) | PostgreSQL ms (same-SQL) | PostgreSQL ms (minimal) | other load, cores (hub / same-SQL / minimal) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  );
  const cpu = (n: number | undefined) => (n === undefined ? '—' : n.toFixed(2));
  for (const s of report.scenarios) {
    const { hub, baseline, minimal } = s.results;
    lines.push(
      `| ${s.name} | ${cpu(hub?.serverCpuMs)} | ${cpu(baseline?.serverCpuMs)} | ${cpu(minimal?.serverCpuMs)} | ${cpu(hub?.postgresCpuMs)} | ${cpu(baseline?.postgresCpuMs)} | ${cpu(minimal?.postgresCpuMs)} | ${[hub, baseline, minimal].map((r) => cpu(r?.otherCores)).join(' / ')} |`,
    );
  }
  lines.push(
    '',
    '### Group PATCH: one member added, then removed (hub, one request at a time)',
    '',
    '| group | add p50 ms | add p95 ms | remove p50 ms | remove p95 ms | ok (add / remove) | errors |',
    '| --- | ---: | ---: | ---: | ---: | --- | --- |',
  );
  for (const p of report.patches) {
    const errors = Object.entries(p.errors).map(([k, n]) => `${n}× ${k.replace(/\|/g, '\\|')}`);
    lines.push(
      `| ${p.group} (${int(p.members)} members) | ${ms(p.add.p50)} | ${ms(p.add.p95)} | ${ms(p.remove.p50)} | ${ms(p.remove.p95)} | ${p.add.ok} / ${p.remove.ok} | ${errors.join('; ') || '0'} |`,
    );
  }
  const [small, big] = report.patches;
  if (small && big) {
    const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : Number.NaN);
    const add = ratio(big.add.p50, small.add.p50);
    const remove = ratio(big.remove.p50, small.remove.p50);
    const ok = Number.isFinite(add) && Number.isFinite(remove) ? add <= 1.5 && remove <= 1.5 : undefined;
    lines.push(
      '',
      `Large / small group p50: add ${Number.isFinite(add) ? add.toFixed(2) : '—'}, remove ${Number.isFinite(remove) ? remove.toFixed(2) : '—'} (target ≤ 1.5: ${verdict(ok)}).`,
    );
  }
  lines.push(
    '',
    '### Statements per request',
    '',
    `Counted from ${report.statementSource}; one request of each kind after a warm-up request, on a server started for the recording.`,
    '',
    '| request | hub | same-SQL | minimal |',
    '| --- | ---: | ---: | ---: |',
  );
  for (const s of report.statements)
    lines.push(`| ${s.request} | ${s.hub.length} | ${s.baseline?.length ?? '—'} | ${s.minimal?.length ?? '—'} |`);
  if (report.checks.length > 0)
    lines.push('', 'Checked of the minimal baseline in this run, before measuring:', '', ...report.checks.map((c) => `- ${c}.`));
  const listing = (title: string, pick: (s: StatementCount) => string[] | undefined) => {
    lines.push('', `<details><summary>${title}</summary>`, '');
    for (const s of report.statements) {
      const sent = pick(s);
      if (sent === undefined) continue;
      lines.push(`**${s.request}**`, '', '```sql', ...sent.map((q) => (q.length > 400 ? `${q.slice(0, 400)} …` : q)), '```', '');
    }
  };
  listing('What the hub sent to PostgreSQL for each request', (s) => s.hub);
  lines.push('</details>');
  listing('What the minimal baseline sent', (s) => s.minimal);
  lines.push('</details>', '', '### Query plans of the filtered lists', '');
  lines.push(
    '| filter | run | count query uses | page query uses | seq scans | rows read and discarded | count ms | page ms |',
    '| --- | --- | --- | --- | --- | ---: | ---: | ---: |',
  );
  for (const p of report.plans) {
    lines.push(
      `| \`${p.filter}\` | ${p.as} | ${p.countIndexes.join(', ') || '**no index**'} | ${p.pageIndexes.join(', ') || '**no index**'} | ${p.seqScans.join(', ') || 'none'} | ${int(p.rowsDiscarded)} | ${ms(p.countMs)} | ${ms(p.pageMs)} |`,
    );
  }
  lines.push('');
  for (const p of report.plans) lines.push(`\`${p.filter}\`, ${p.as} (EXPLAIN ANALYZE):`, '', '```', p.text, '```', '');
  if (report.notes.length > 0) lines.push('### Notes from this run', '', ...report.notes.map((n) => `- ${n}`), '');
  return lines.join('\n');
}

const BEGIN = '<!-- bench:begin (generated by `pnpm bench --write`; edit outside the markers) -->';
const END = '<!-- bench:end -->';

/** Puts the generated part between the markers of an existing document, or makes a new one. */
export function spliceReport(existing: string | undefined, generated: string): string {
  const block = `${BEGIN}\n\n${generated}\n${END}`;
  if (existing?.includes(BEGIN) && existing.includes(END)) {
    return existing.slice(0, existing.indexOf(BEGIN)) + block + existing.slice(existing.indexOf(END) + END.length);
  }
  return `# Benchmarks\n\n${block}\n`;
}
