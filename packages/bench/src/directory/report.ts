import type { LoadResult } from '../load.js';
import type { MachineInfo } from '../report.js';
import type { StatementPlan } from './explain.js';
import type { SequentialResult } from './graphql-load.js';
import type { HubProfile } from './profile.js';
import type { ProjectionRate, ProjectionStatement } from './projection.js';
import type { RebuildResult } from './rebuild.js';
import type { ProjectionCheck } from './verify.js';
import type { Spread, VisibilityResult } from './visibility.js';

/** One GraphQL query measured on the hub and on the replay baseline. */
export interface QueryResult {
  key: string;
  name: string;
  people: number;
  statements: string[];
  transactions: number;
  hubSequential: SequentialResult;
  baselineSequential: SequentialResult;
  hub: LoadResult;
  baseline: LoadResult;
  /** Whether the baseline's answer had the same data as the hub's. */
  sameAnswer: boolean;
}

/** Everything a run found. */
export interface DirectoryReport {
  machine: MachineInfo;
  setup: string[];
  verification: ProjectionCheck;
  /** The rebuild phase, when the run had it. */
  rebuild: RebuildResult | undefined;
  connections: number;
  queries: QueryResult[];
  plans: StatementPlan[];
  visibility: VisibilityResult[];
  visibilitySetup: string[];
  spotCheck: string;
  projectionRates: ProjectionRate[];
  projectionStatements: ProjectionStatement[];
  profile: HubProfile | undefined;
  faster: string[];
  notes: string[];
}

const ms = (n: number) => (Number.isFinite(n) ? (n >= 100 ? n.toFixed(0) : n.toFixed(1)) : '—');
const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');
const cpu = (n: number | undefined) => (n === undefined ? '—' : n.toFixed(2));
const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? (a / b).toFixed(2) : '—');

function errorsOf(r: LoadResult): string {
  const failures = Object.entries(r.statuses).filter(([code]) => !code.startsWith('2'));
  return failures.length === 0 && r.errors === 0
    ? '0'
    : `**${r.errors}** (${failures.map(([c, n]) => `${c}×${n}`).join(', ') || 'connection errors'})`;
}

const spreadCells = (s: Spread) => `${ms(s.p50)} | ${ms(s.p95)} | ${ms(s.max)}`;

/** The Markdown between the directory markers of docs/benchmarks.md. */
export function renderDirectoryReport(report: DirectoryReport): string {
  const { machine } = report;
  const lines: string[] = [
    '## Global directory: `people(first: 100)` at 1,000,000 accounts, and SCIM write → directory',
    '',
    '`pnpm bench:directory` measures the community-wide people query of the global directory (issue 6) through',
    'GraphQL, against a bare replay of the same SQL, and how long a SCIM write of an office takes to show up in the',
    'directory. Setup, seeding and method: [below](#how-the-directory-bench-works).',
    '',
    '```sh',
    'pnpm bench:directory            # seeds or reuses meridian_bench_directory (~8 min the first time), then ~13 min',
    'pnpm bench:directory --write    # also puts the report here, between the directory markers',
    'pnpm bench:directory --help     # sizes, durations, --reseed',
    '```',
    '',
    `Run ${machine.date} at commit ${machine.revision}, on ${machine.cores} × ${machine.cpu}, ${machine.memoryGiB} GiB RAM; Node ${machine.node}; ${machine.postgres}.`,
    '',
    `PostgreSQL settings: ${machine.settings}. Load average when the run started: ${machine.load.toFixed(2)}.`,
    '',
    ...report.setup.map((s) => `- ${s}`),
    '',
    '### `people(first: 100)`: one request at a time',
    '',
    `Each query with \`${'edges { node { id displayName accounts { id userName tenant { slug } } groups { displayName } manager { displayName } } } pageInfo { endCursor hasNextPage }'}\`; latency in ms as the client saw it (loopback HTTP included).`,
    '',
    '| query | people | hub p50 | hub p95 | hub p99 | baseline p50 | baseline p95 | baseline p99 | hub / baseline (p50) | statements | samples |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const q of report.queries) {
    const h = q.hubSequential;
    const b = q.baselineSequential;
    lines.push(
      `| ${q.name} | ${q.people} | ${ms(h.p50)} | ${ms(h.p95)} | ${ms(h.p99)} | ${ms(b.p50)} | ${ms(b.p95)} | ${ms(b.p99)} | ${ratio(h.p50, b.p50)} | ${q.statements.length} | ${h.n} / ${b.n} |`,
    );
  }
  lines.push(
    '',
    `### Throughput at ${report.connections} connections`,
    '',
    '| query | hub req/s | hub p50 | hub p95 | hub p99 | baseline req/s | baseline p50 | baseline p95 | baseline p99 | hub / baseline | errors (hub / baseline) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  );
  for (const q of report.queries) {
    lines.push(
      `| ${q.name} | ${int(q.hub.rps)} | ${ms(q.hub.p50)} | ${ms(q.hub.p95)} | ${ms(q.hub.p99)} | ${int(q.baseline.rps)} | ${ms(q.baseline.p50)} | ${ms(q.baseline.p95)} | ${ms(q.baseline.p99)} | ${ratio(q.hub.rps, q.baseline.rps)} | ${errorsOf(q.hub)} / ${errorsOf(q.baseline)} |`,
    );
  }
  lines.push(
    '',
    'CPU per request (from /proc; the lowest of the rounds): the server process, and all PostgreSQL processes.',
    '',
    '| query | hub ms | baseline ms | PostgreSQL ms (hub) | PostgreSQL ms (baseline) | other load, cores (hub / baseline) |',
    '| --- | ---: | ---: | ---: | ---: | --- |',
  );
  for (const q of report.queries) {
    lines.push(
      `| ${q.name} | ${cpu(q.hub.serverCpuMs)} | ${cpu(q.baseline.serverCpuMs)} | ${cpu(q.hub.postgresCpuMs)} | ${cpu(q.baseline.postgresCpuMs)} | ${cpu(q.hub.otherCores)} / ${cpu(q.baseline.otherCores)} |`,
    );
  }
  lines.push(
    '',
    '### Statements per query',
    '',
    '| query | statements | transactions | of which directory reads | same answer as the baseline |',
  );
  lines.push('| --- | ---: | ---: | ---: | --- |');
  for (const q of report.queries) {
    const directory = q.statements.filter((s) => /\b(person|directory_\w+)\b/.test(s) && !/^select set_config/.test(s)).length;
    lines.push(`| ${q.name} | ${q.statements.length} | ${q.transactions} | ${directory} | ${q.sameAnswer ? 'yes' : '**no**'} |`);
  }
  const deep = report.queries.find((q) => q.key === 'deep');
  if (deep) {
    lines.push(
      '',
      `<details><summary>What the hub sent for the deep page (${deep.statements.length} statements, in the order they crossed the proxy)</summary>`,
      '',
    );
    lines.push('```sql', ...deep.statements.map((s) => (s.length > 300 ? `${s.slice(0, 300)} …` : s)), '```', '', '</details>');
  }
  lines.push(
    '',
    '### Query plans',
    '',
    'EXPLAIN (ANALYZE, BUFFERS) of the directory statements as the hub runs them (`meridian_app`, the community policies), the second of two runs.',
    '',
    '| query | statement | ms | buffers hit / read | rows read and discarded |',
    '| --- | --- | ---: | ---: | ---: |',
  );
  for (const p of report.plans) {
    const name = report.queries.find((q) => q.key === p.scenario)?.name ?? p.scenario;
    lines.push(`| ${name} | ${p.label} | ${ms(p.ms)} | ${int(p.hit)} / ${int(p.read)} | ${int(p.discarded)} |`);
  }
  lines.push('');
  for (const p of report.plans) {
    const name = report.queries.find((q) => q.key === p.scenario)?.name ?? p.scenario;
    lines.push(`<details><summary>${name}: ${p.label}</summary>`, '', '```', p.text, '```', '', '</details>', '');
  }
  if (report.profile) {
    const p = report.profile;
    lines.push(
      "### Where the hub's CPU goes (first page)",
      '',
      `The hub under \`node --cpu-prof\`, the same load as a throughput round (${int(p.requests)} requests in the measured seconds); self time per request, by package, and the hub's own lines with the most. The profiler adds overhead: compare the rows, not the total with the table above.`,
      '',
      '| where | ms per request |',
      '| --- | ---: |',
      ...p.buckets.map((b) => `| ${b.name} | ${b.ms.toFixed(2)} |`),
      '',
      '| hub code (the compiled line where the function starts) | ms per request |',
      '| --- | ---: |',
      ...p.functions.map((f) => `| ${f.name.replace(/\|/g, '\\|')} | ${f.ms.toFixed(2)} |`),
      '',
    );
  }
  if (report.rebuild) {
    const r = report.rebuild;
    lines.push(
      '### Rebuilding the directory',
      '',
      r.mode === 'existing'
        ? "Every account of the community queued in `directory_inbox` and projected again, in place, by the store's `projectDue` (the hub's projector code, in the bench process, as `meridian_app`), as after a rules change or `meridian directory rebuild --wait`; then every row the projector owns compared with before (`updated_at` and `version` left out)."
        : "The community's people, accounts, keys and conflicts deleted, every account queued in `directory_inbox` and projected by the store's `projectDue` (the hub's projector code, in the bench process, as `meridian_app`); then every row compared with before, a person named by its first account (new people have new ids) and the rebuild's own times left out.",
      '',
      '| mode | accounts | seconds | accounts/s | 1,000,000 accounts in | CPU ms per account (node / PostgreSQL) | directory after |',
      '| --- | ---: | ---: | ---: | ---: | --- | --- |',
      `| ${r.mode} | ${int(r.accounts)} | ${r.seconds.toFixed(1)} | ${int(r.accountsPerSecond)} | ${(1_000_000 / r.accountsPerSecond / 60).toFixed(1)} min | ${r.nodeCpuMsPerAccount?.toFixed(3) ?? '—'} / ${r.postgresCpuMsPerAccount?.toFixed(3) ?? '—'} | ${r.changed.length === 0 ? 'unchanged' : `**changed: ${r.changed.join(', ')}**`} |`,
      '',
    );
  }
  if (report.projectionRates.length > 0) {
    lines.push(
      '### The projector, one account at a time',
      '',
      "The store's `projectDue` (the hub's projector code, as `meridian_app`) re-projecting random existing accounts, in the bench process, while no hub runs; then the statements of one account's projection under EXPLAIN ANALYZE as the projector runs them (`meridian_app`, platform scope: row-level security applies) and as the owner. Statements with bound parameters (the batch's reads and writes) show `—`: the recording proxy sees their text, not their values.",
      '',
      '| accounts | projected | ms per account | statements per account |',
      '| --- | ---: | ---: | ---: |',
      ...report.projectionRates.map((r) => `| ${r.label} | ${r.entries} | ${ms(r.msPerEntry)} | ${r.statementsPerEntry.toFixed(1)} |`),
      '',
      '| statement (one account of the last row above) | ms as the projector | ms as the owner | rows read and discarded (projector) |',
      '| --- | ---: | ---: | ---: |',
      ...report.projectionStatements.map(
        (st) => `| \`${st.sql.slice(0, 90).replace(/\|/g, '\\|')} …\` | ${ms(st.appMs)} | ${ms(st.ownerMs)} | ${int(st.appDiscarded)} |`,
      ),
      '',
    );
    for (const st of report.projectionStatements.filter((x) => x.appMs > 5 * Math.max(0.5, x.ownerMs))) {
      lines.push(
        `<details><summary>As the projector runs it: <code>${st.sql.slice(0, 80).replace(/</g, '&lt;')} …</code></summary>`,
        '',
        '```sql',
        st.sql.length > 1500 ? `${st.sql.slice(0, 1500)} …` : st.sql,
        '```',
        '',
        '```',
        st.appPlan,
        '```',
        '',
        '</details>',
        '',
      );
    }
  }
  lines.push(
    '### SCIM write → visible in the global directory',
    '',
    ...report.visibilitySetup.map((s) => `- ${s}`),
    '',
    '| phase | writes | sent in s | SCIM p50 ms | visible p50 ms | p95 | max | create p50 / p95 | join p50 / p95 | PATCH p50 / p95 | all visible after s | failed / unseen |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | ---: | --- |',
  );
  for (const v of report.visibility) {
    const k = v.byKind;
    lines.push(
      `| ${v.label} | ${v.writes} | ${v.writeSeconds.toFixed(1)} | ${ms(v.scim.p50)} | ${spreadCells(v.visible)} | ${ms(k.create.p50)} / ${ms(k.create.p95)} | ${ms(k.join.p50)} / ${ms(k.join.p95)} | ${ms(k.patch.p50)} / ${ms(k.patch.p95)} | ${v.drainSeconds.toFixed(1)} | ${v.failed} / ${v.unseen} |`,
    );
  }
  lines.push(
    '',
    "Where the time goes, from the hub's own timestamps (ms): the outbox event's `created_at` → `dispatched_at` (the relay's step), → the account's `updated_at` (the projector's clock when it projected it); and the largest backlogs the poller saw.",
    '',
    '| phase | relay p50 | relay p95 | relay max | dispatched → projected p50 | p95 | max | max undispatched outbox | max inbox |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const v of report.visibility) {
    lines.push(`| ${v.label} | ${spreadCells(v.relay)} | ${spreadCells(v.projection)} | ${v.maxOutbox} | ${v.maxInbox} |`);
  }
  lines.push('', report.spotCheck, '', '### What would make it faster', '', ...report.faster.map((f, i) => `${i + 1}. ${f}`), '');
  if (report.notes.length > 0) lines.push('### Notes from this run', '', ...report.notes.map((n) => `- ${n}`), '');
  return lines.join('\n');
}

const BEGIN = '<!-- directory:begin -->';
const END = '<!-- directory:end -->';
const GENERATED = '<!-- generated by `pnpm bench:directory --write`; edit outside the markers -->';

/** Puts the report between the directory markers, or appends the markers and the report to the document. */
export function spliceDirectory(existing: string | undefined, generated: string): string {
  const block = `${BEGIN}\n${GENERATED}\n\n${generated}\n${END}`;
  if (existing?.includes(BEGIN) && existing.includes(END)) {
    return existing.slice(0, existing.indexOf(BEGIN)) + block + existing.slice(existing.indexOf(END) + END.length);
  }
  if (existing === undefined) return `# Benchmarks\n\n${block}\n`;
  return `${existing.replace(/\n*$/, '\n\n')}${block}\n`;
}
