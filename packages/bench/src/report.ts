import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import type { FilterPlan } from './explain.js';
import type { LoadResult } from './load.js';
import type { PatchResult } from './patch.js';

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

/** One throughput scenario measured on both servers. */
export interface ScenarioResult {
  name: string;
  /** The ratio the hub should reach, as a fraction of the baseline's requests/s. */
  target: number;
  hub: LoadResult;
  baseline: LoadResult;
}

/** Statements one request sent to PostgreSQL. */
export interface StatementCount {
  request: string;
  hub: string[];
  baseline: string[] | undefined;
}

/** Everything a run found. */
export interface BenchReport {
  machine: MachineInfo;
  setup: string[];
  scenarios: ScenarioResult[];
  patches: PatchResult[];
  plans: FilterPlan[];
  statements: StatementCount[];
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
    '### Throughput: hub against the bare baseline',
    '',
    '| scenario | hub req/s | hub p50 ms | hub p95 ms | baseline req/s | baseline p50 ms | baseline p95 ms | hub / baseline | target | errors (hub / baseline) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |',
  );
  for (const s of report.scenarios) {
    const ratio = s.baseline.rps > 0 ? s.hub.rps / s.baseline.rps : Number.NaN;
    const clean = s.hub.errors === 0 && s.baseline.errors === 0;
    lines.push(
      `| ${s.name} | ${int(s.hub.rps)} | ${ms(s.hub.p50)} | ${ms(s.hub.p95)} | ${int(s.baseline.rps)} | ${ms(s.baseline.p50)} | ${ms(s.baseline.p95)} | ${Number.isFinite(ratio) ? ratio.toFixed(2) : '—'} | ≥ ${s.target} ${verdict(clean ? ratio >= s.target : undefined)} | ${statusText(s.hub)} / ${statusText(s.baseline)} |`,
    );
  }
  lines.push(
    '',
    'CPU per request, from /proc, the lowest of the rounds (contention only adds to it): the server process, and all PostgreSQL',
    "processes (which also counts other databases' work meanwhile); the last column is how many cores other processes on the",
    'machine kept busy during the rounds in the table above.',
    '',
    '| scenario | hub ms | baseline ms | hub − baseline ms | PostgreSQL ms (hub) | PostgreSQL ms (baseline) | other load, cores (hub / baseline) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- |',
  );
  const cpu = (n: number | undefined) => (n === undefined ? '—' : n.toFixed(2));
  for (const s of report.scenarios) {
    const extra =
      s.hub.serverCpuMs !== undefined && s.baseline.serverCpuMs !== undefined ? s.hub.serverCpuMs - s.baseline.serverCpuMs : undefined;
    lines.push(
      `| ${s.name} | ${cpu(s.hub.serverCpuMs)} | ${cpu(s.baseline.serverCpuMs)} | ${cpu(extra)} | ${cpu(s.hub.postgresCpuMs)} | ${cpu(s.baseline.postgresCpuMs)} | ${cpu(s.hub.otherCores)} / ${cpu(s.baseline.otherCores)} |`,
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
  lines.push('', '### Statements per request', '', '| request | hub | baseline |', '| --- | ---: | ---: |');
  for (const s of report.statements) lines.push(`| ${s.request} | ${s.hub.length} | ${s.baseline?.length ?? '—'} |`);
  lines.push('', '<details><summary>What the hub sent to PostgreSQL for each request</summary>', '');
  for (const s of report.statements) {
    lines.push(`**${s.request}**`, '', '```sql', ...s.hub.map((q) => (q.length > 400 ? `${q.slice(0, 400)} …` : q)), '```', '');
  }
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
