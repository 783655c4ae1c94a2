#!/usr/bin/env node
// `pnpm bench:directory`: the global directory (issue 6) at 1,000,000 accounts. Seeds (or
// reuses) a database like `pnpm bench`, fills the community's directory with set-based SQL
// and checks a sample against the real projector; then measures people(first: 100) through
// GraphQL against a bare replay of the same SQL, and the time from a SCIM write to its
// visibility in the directory. See docs/benchmarks.md.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AdminService, type Principal, type RequestContext, systemClock } from '@meridian/core';
import { createOrm, PostgresAdminStore } from '@meridian/store';
import pg from 'pg';
import { benchLog, runBenchCli } from '../bench-cli.js';
import { issueTenantToken, tenantSizes } from '../database.js';
import type { LoadResult } from '../load.js';
import { waitForQuiet } from '../replication/sampler.js';
import { machineInfo } from '../report.js';
import { captureStatements } from './capture.js';
import { explainPlan, type StatementPlan } from './explain.js';
import { bestRound, measureLoad, sequential } from './graphql-load.js';
import { type BenchProcess, hubEnvironment, spawnServer, startHubProcess } from './hub-process.js';
import { type DirectoryBenchOptions, parseDirectoryOptions, USAGE } from './options.js';
import { type HubProfile, profileHub } from './profile.js';
import { measureProjection, type ProjectionRate, type ProjectionStatement } from './projection.js';
import { postGraphql, type QueryScenario, queryScenarios, scenarioTargets } from './queries.js';
import { measureRebuild, type RebuildResult } from './rebuild.js';
import { planStatements, type ReplayPlan, replayPlan } from './replay.js';
import { type DirectoryReport, type QueryResult, renderDirectoryReport, spliceDirectory } from './report.js';
import { prepareDirectoryDatabase } from './seed.js';
import { settleDirectory, verifyProjection } from './verify.js';
import { makeWrites, measureVisibility, type VisibilityResult, type WriteOutcome, writeTargets } from './visibility.js';

const log = benchLog('bench:directory');
const platform: Principal = { kind: 'platform', tokenId: 'bench', scopes: ['admin'] };
const context: RequestContext = { actor: { type: 'system', id: 'bench' }, requestId: 'bench-directory-setup' };
/** Offices the visibility phases write to (their SCIM tokens). */
const WRITING_TENANTS = 10;
const POLL_MS = 5;
/** Existing accounts the projector re-projects per group of offices. */
const PROJECTION_SAMPLE = 50;

async function communityToken(url: string, community: string): Promise<string> {
  const orm = await createOrm({ url, poolSize: 1 });
  try {
    const admin = new AdminService(new PostgresAdminStore(orm, systemClock), systemClock);
    return (await admin.issueToken(platform, { community, role: 'hr_reader', name: 'bench-directory' }, context)).token;
  } finally {
    await orm.close(true);
  }
}

async function serverSettings(url: string): Promise<{ postgres: string; settings: string }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const version = await client.query<{ v: string }>(`select current_setting('server_version') as v`);
    const shown = await client.query<{ name: string; setting: string }>(
      `select name, current_setting(name) as setting from pg_settings
        where name in ('shared_buffers', 'work_mem', 'synchronous_commit', 'max_connections', 'jit') order by name`,
    );
    return {
      postgres: `PostgreSQL ${version.rows[0]?.v ?? '?'}`,
      settings: shown.rows.map((r) => `${r.name}=${r.setting}`).join(', '),
    };
  } finally {
    await client.end();
  }
}

/** The `data` of a GraphQL answer, for comparing the hub's with the baseline's. */
function dataOf(json: unknown): string {
  return JSON.stringify((json as { data?: unknown } | undefined)?.data ?? null);
}

async function measureQueries(
  options: DirectoryBenchOptions,
  hub: BenchProcess,
  baseline: BenchProcess,
  token: string,
  scenarios: QueryScenario[],
  captured: Map<string, { statements: string[]; people: number; plan: ReplayPlan }>,
  notes: string[],
): Promise<QueryResult[]> {
  const results: QueryResult[] = [];
  for (const scenario of scenarios) {
    const found = captured.get(scenario.key);
    if (!found) continue;
    log(scenario.name);
    const path = `/graphql/${scenario.key}`;
    const fromHub = await postGraphql(hub.url, token, scenario.body);
    const fromBaseline = await postGraphql(baseline.url, token, scenario.body, path);
    const sameAnswer = dataOf(fromHub.json) === dataOf(fromBaseline.json);
    if (!sameAnswer)
      notes.push(
        `${scenario.name}: the baseline's answer differs from the hub's (${fromBaseline.status}, ${fromBaseline.errors.join('; ')}).`,
      );
    await waitForQuiet(60, log);
    const hubSequential = await sequential(hub.url, '/graphql', token, scenario.body, options.samples, 15);
    const baselineSequential = await sequential(baseline.url, path, token, scenario.body, options.samples, 15);
    log(
      `  one at a time: hub p50 ${hubSequential.p50.toFixed(1)} ms p95 ${hubSequential.p95.toFixed(1)} ms; ` +
        `baseline p50 ${baselineSequential.p50.toFixed(1)} ms p95 ${baselineSequential.p95.toFixed(1)} ms`,
    );
    const hubRounds: LoadResult[] = [];
    const baselineRounds: LoadResult[] = [];
    for (let round = 1; round <= options.rounds; round++) {
      await waitForQuiet(60, log);
      baselineRounds.push(await measureLoad(baseline, path, token, scenario.body, options.connections, options.duration));
      await waitForQuiet(60, log);
      hubRounds.push(await measureLoad(hub, '/graphql', token, scenario.body, options.connections, options.duration));
      const [b, h] = [baselineRounds.at(-1), hubRounds.at(-1)] as [LoadResult, LoadResult];
      log(
        `  round ${round}: hub ${h.rps.toFixed(0)} req/s p50 ${h.p50.toFixed(1)} ms (CPU ${h.serverCpuMs?.toFixed(2) ?? '?'} + PostgreSQL ${h.postgresCpuMs?.toFixed(2) ?? '?'} ms); ` +
          `baseline ${b.rps.toFixed(0)} req/s p50 ${b.p50.toFixed(1)} ms (CPU ${b.serverCpuMs?.toFixed(2) ?? '?'} + PostgreSQL ${b.postgresCpuMs?.toFixed(2) ?? '?'} ms)`,
      );
    }
    results.push({
      key: scenario.key,
      name: scenario.name,
      people: found.people,
      statements: found.statements,
      transactions: found.plan.flat().length,
      hubSequential,
      baselineSequential,
      hub: bestRound(hubRounds),
      baseline: bestRound(baselineRounds),
      sameAnswer,
    });
  }
  return results;
}

/** The offices the visibility phases write to: the smaller ones (the first holds the large groups of `pnpm bench`). */
async function writingTenants(url: string, communityId: string): Promise<{ id: string; slug: string }[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: string; slug: string }>(
      `select id, slug from tenant where community_id = $1 and slug <> 'bench-1' order by created_at, slug limit $2`,
      [communityId, WRITING_TENANTS],
    );
    return rows;
  } finally {
    await client.end();
  }
}

async function measureWrites(
  options: DirectoryBenchOptions,
  hubEnv: Awaited<ReturnType<typeof hubEnvironment>>,
  url: string,
  communityId: string,
  hrToken: string,
  runId: string,
): Promise<{ results: VisibilityResult[]; spotCheck: string; setup: string[] }> {
  const tenants = await writingTenants(url, communityId);
  const withTokens = [];
  for (const t of tenants) withTokens.push({ ...t, token: await issueTenantToken(url, t.slug) });
  const tokens = new Map(withTokens.map((t) => [t.id, t.token]));
  const targets = await writeTargets(url, communityId, withTokens, options.writes + options.burst);
  const steadyWrites = makeWrites(targets, options.writes, `${runId}s`);
  const burstWrites = makeWrites(targets, options.burst, `${runId}b`);

  log('visibility: meridian serve --role all (API, relay and projector in one process)');
  const hub = await startHubProcess(hubEnv, 'all', url);
  const results: VisibilityResult[] = [];
  const all: WriteOutcome[] = [];
  try {
    // The process's first requests fill caches (token, tenant settings): not part of the measurement.
    const warm = makeWrites(targets, 6, `${runId}w`);
    for (const w of warm) {
      await fetch(`${hub.url}${w.path}`, {
        method: w.method,
        headers: { authorization: `Bearer ${tokens.get(w.tenantId)}`, 'content-type': 'application/scim+json' },
        body: w.body,
      }).then((r) => r.arrayBuffer());
    }
    await new Promise((r) => setTimeout(r, 2_000));
    await waitForQuiet(60, log);
    for (const [label, writes, pace] of [
      [`steady, ${options.rate} writes/s`, steadyWrites, { rate: options.rate }],
      [`burst, ${options.burstConcurrency} clients as fast as they can`, burstWrites, { concurrency: options.burstConcurrency }],
    ] as const) {
      log(`  ${label}: ${writes.length} writes`);
      const { result, outcomes } = await measureVisibility({
        label,
        baseUrl: hub.url,
        databaseUrl: url,
        writes,
        tokens,
        pace,
        pollMs: POLL_MS,
        waitSeconds: 180,
        log,
      });
      all.push(...outcomes);
      results.push(result);
      log(
        `    SCIM p50 ${result.scim.p50.toFixed(0)} ms; visible p50 ${result.visible.p50.toFixed(0)} ms, p95 ${result.visible.p95.toFixed(0)} ms, ` +
          `max ${result.visible.max.toFixed(0)} ms; all visible ${result.drainSeconds.toFixed(1)} s after the first write; failed ${result.failed}, unseen ${result.unseen}`,
      );
      await new Promise((r) => setTimeout(r, 3_000));
    }
    // The GraphQL view of some joins: the person lists the new office's account.
    const joins = all.filter((o) => o.write.kind === 'join' && o.visibleAt !== undefined).slice(0, 10);
    let listed = 0;
    for (const o of joins) {
      const answer = await postGraphql(
        hub.url,
        hrToken,
        JSON.stringify({
          query:
            'query($e: String) { people(first: 5, filter: { employeeNumber: $e }) { edges { node { accounts { id tenant { slug } } } } } }',
          variables: { e: o.write.employeeNumber },
        }),
      );
      const edges =
        (answer.json as { data?: { people?: { edges?: { node: { accounts: { id: string }[] } }[] } } })?.data?.people?.edges ?? [];
      if (edges.length === 1 && edges[0]?.node.accounts.some((a) => a.id === o.userId)) listed++;
    }
    const spotCheck = `Through GraphQL, after the phases: for ${listed} of ${joins.length} sampled joins, \`people(filter: { employeeNumber })\` returns exactly one person, whose \`accounts\` list the new office's account.`;
    const setup = [
      `Hub: \`meridian serve --role all\` (built): the API, the outbox relay (every ${250} ms, its default) and the directory projector in one process, LOG_LEVEL=${options.hubLogLevel}.`,
      `Writes: over SCIM to ${tenants.length} offices (\`${tenants[0]?.slug}\` … \`${tenants.at(-1)?.slug}\`), in turn a new user with a new employeeNumber (a new person), a new user with the employeeNumber, name and email of an existing person who has no account in that office (the person gains an office: correlation, and the person is resolved again from 2–4 accounts), and a PATCH of \`title\` of a seeded user (its person is resolved again); each write touches a person no other write touches.`,
      `Steady: ${options.writes} writes, one every ${(1000 / options.rate).toFixed(0)} ms whatever the previous is doing. Burst: ${options.burst} writes from ${options.burstConcurrency} clients, each sending its next write when the last is answered.`,
      `Visible: a bare pg client polls every ${POLL_MS} ms, as the superuser (platform view, past row-level security), \`directory_account.user_version\` of every write still waiting, one statement for all of them; a write is visible at the time of the first poll that finds its version (the one in the SCIM response's ETag) or a later one. The projector writes the account and its person in one transaction, so the person is updated by then too. Polling GraphQL would add the hub's own request to each sample, and under load its queueing; the row is exact and cheap. Latency is from the SCIM response (the client has it) to that poll; resolution ±${POLL_MS} ms.`,
    ];
    return { results, spotCheck, setup };
  } finally {
    await hub.stop();
  }
}

/** What the run's numbers say would make the directory faster, most effect first. */
function fasterList(
  queries: QueryResult[],
  plans: StatementPlan[],
  visibility: VisibilityResult[],
  projection: { rates: ProjectionRate[]; statements: ProjectionStatement[] },
  profile: HubProfile | undefined,
): string[] {
  const list: string[] = [];
  const q = (key: string) => queries.find((x) => x.key === key);
  const plan = (scenario: string, label: string) => plans.find((p) => p.scenario === scenario && p.label === label);
  const [small, large] = projection.rates;
  const slow = projection.statements.filter((s) => s.appMs > 5 * Math.max(0.5, s.ownerMs));
  if (small && large && slow.length > 0) {
    const manager = slow.some((s) => s.sql.includes("->> 'manager'"));
    list.push(
      `**The projector's statements lose their index under row-level security.** Projecting one existing account takes ${ms1(small.msPerEntry)} ms for ${small.label} and ${ms1(large.msPerEntry)} ms for ${large.label} (${small.statementsPerEntry.toFixed(1)} statements each), so one community's projections run at ${Math.round(1000 / small.msPerEntry)} and ${Math.round(1000 / large.msPerEntry)} accounts/s. ` +
        `${slow.length} of its ${projection.statements.length} statements take ${slow.map((x) => `${ms1(x.appMs)} ms`).join(' and ')} as the projector runs them (\`meridian_app\`, platform scope) against ${slow.map((x) => `${ms1(x.ownerMs)} ms`).join(' and ')} as the owner, reading and discarding ${slow.map((x) => int1(x.appDiscarded)).join(' and ')} rows (plans below). ` +
        (manager
          ? "Both compare `account_values ->> 'manager'`: `->>` is not LEAKPROOF, so PostgreSQL applies the community policy first and uses `directory_account_manager_index` only for its `tenant_id` prefix, then filters every account of the office (the dependents' lookup), and cannot use the primary key for the manager's account (the recompute's join on a uuid computed from that expression). A typed `manager_user_id uuid` column written by the projector, indexed on (tenant_id, manager_user_id) and compared with uuid `=` (leakproof), serves both; for the join, the manager's id computed in a materialized CTE before joining also keeps the primary key."
          : 'Their conditions are not LEAKPROOF, so PostgreSQL applies the community policy before them and cannot use their index.'),
    );
  }
  const steady = visibility[0];
  if (steady) {
    list.push(
      steady.relay.p50 < 50
        ? `**Visibility is the projection.** A SCIM write wakes the relay of its process (relay p50 ${ms1(steady.relay.p50)} ms at ${steady.writes} writes in the steady phase), which wakes the projector (${ms1(steady.projection.p50)} ms at p50 from dispatch): ${ms1(steady.visible.p50)} ms at p50 in all. With the API and the worker in separate processes (\`--role api\`, \`--role worker\`), the worker's relay still waits for its 250 ms poll; LISTEN/NOTIFY would carry the wake-up across processes.`
        : `**Visibility waits for the relay's poll.** A change waits for the relay's next 250 ms poll (relay p50 ${ms1(steady.relay.p50)} ms, max ${ms1(steady.relay.max)} ms at ${steady.writes} writes in the steady phase), then the projector is kicked and projects it (${ms1(steady.projection.p50)} ms at p50 from dispatch). Waking the relay when a write commits, in the same process and through LISTEN/NOTIFY across processes, would take most of the ${ms1(steady.visible.p50)} ms p50 away.`,
    );
  }
  const burst = visibility[1];
  if (burst) {
    list.push(
      `**A burst queues behind one serial projector.** ${burst.writes} writes were answered in ${burst.writeSeconds.toFixed(1)} s; the inbox reached ${burst.maxInbox} entries and the last write was visible ${burst.drainSeconds.toFixed(1)} s after the first was sent (visible p50 ${ms1(burst.visible.p50)} ms, p95 ${ms1(burst.visible.p95)} ms). A community's projections run under its advisory lock, so more worker processes do not help; what helps is a cheaper projection (the projector table above).`,
    );
  }
  const first = q('first');
  if (first && profile) {
    const graphql = profile.buckets
      .filter((b) => /^(graphql|@apollo\/server|type-graphql|graphql-query-complexity|@graphql-tools)/.test(b.name))
      .reduce((n, b) => n + b.ms, 0);
    const gc = profile.buckets.find((b) => b.name === 'garbage collection')?.ms ?? 0;
    const top = profile.functions[0];
    list.push(
      `**The hub's CPU per page is ${cpu1(first.hub.serverCpuMs)} ms against the baseline's ${cpu1(first.baseline.serverCpuMs)} ms** for the same statements and the same JSON (first page; throughput ${ratio1(first.hub.rps, first.baseline.rps)} of the baseline's). Under the profiler: GraphQL execution (graphql-js, Apollo, type-graphql) ${ms1(graphql)} ms per request, garbage collection ${ms1(gc)} ms` +
        (top ? `, and the hub's own costliest line is ${top.name} at ${ms1(top.ms)} ms` : '') +
        '. ' +
        (top?.name.includes('accountKey')
          ? 'That is the groups DataLoader matching every group row against every account key, building a key string per comparison (accounts × rows per page); grouping the rows by key once (a Map) makes it linear, and the accounts loader has the same shape. '
          : ''),
    );
  }
  if (first) {
    const directory = first.statements.filter((s) => /\b(person|directory_\w+)\b/.test(s) && !/^select set_config/.test(s)).length;
    list.push(
      `**Fewer transactions per query.** A page costs ${first.statements.length} statements in ${first.transactions} transactions, of which ${directory} read the directory: the page, what its nodes show (accounts, their offices, groups, managers) and the count are one statement; the other transactions are the token's lookup and the community's (\`begin\`, \`set_config\`, statement, \`commit\` each). A per-process cache of communities would leave two.`,
    );
  }
  const count = plan('count', 'count');
  const withCount = q('count');
  if (count && withCount && first) {
    list.push(
      `**\`totalCount\` counts the whole community**: ${ms1(count.ms)} ms of PostgreSQL (${int1(count.hit + count.read)} buffers) per request, which takes the page from ${ms1(first.hubSequential.p50)} to ${ms1(withCount.hubSequential.p50)} ms at p50 and throughput from ${int1(first.hub.rps)} to ${int1(withCount.hub.rps)} req/s. It is computed only when selected: a client should ask for it once, not with every page; or the projector keeps a count per community.`,
    );
  }
  const scim = plan('scim', 'page');
  const family = plan('family', 'page');
  if (scim && family && scim.ms > 5 * Math.max(1, family.ms)) {
    list.push(
      `**SCIM filters on names miss the index.** \`scimFilter: name.familyName eq\` compares \`lower(p.family_name)\`, which no index covers: the page walks the community in display-name order and discards ${int1(scim.discarded)} rows (${ms1(scim.ms)} ms), where the structured \`filter: { familyName }\` uses \`family_name_key\` (${ms1(family.ms)} ms). The SCIM translation could compare the stored keys (\`family_name_key\`, \`display_name_key\`) for \`eq\`/\`sw\`, as the SCIM user search does (migration 20261126500000); \`lower(department)\`, \`lower(email)\` and \`lower(title)\` need keys or expression indexes too.`,
    );
  }
  const department = plan('department', 'page');
  if (department) {
    list.push(
      `**Filters walk the sort order.** \`filter: { department }\` reads people in display-name order and drops those of other departments (${int1(department.discarded)} rows read and discarded, ${ms1(department.ms)} ms): tolerable for a common value, a scan of the community for a rare one. The (community_id, lower(department)) index finds a department but not in page order; one on (community_id, lower(department), display_name_key, id) would serve filter and order together.`,
    );
  }
  return list;
}

const cpu1 = (n: number | undefined) => (n === undefined ? '?' : n.toFixed(1));
const ratio1 = (a: number, b: number) => (b > 0 ? (a / b).toFixed(2) : '—');
const ms1 = (n: number) => (Number.isFinite(n) ? (n >= 100 ? n.toFixed(0) : n.toFixed(1)) : '—');
const int1 = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');

async function run(options: DirectoryBenchOptions): Promise<DirectoryReport> {
  const load = loadavg()[0] ?? 0;
  const runId = randomBytes(3).toString('hex');
  const notes: string[] = [];
  const db = await prepareDirectoryDatabase(options, log);
  // The commit is read now: other work may commit while the bench runs.
  const { postgres, settings } = await serverSettings(db.url);
  const machine = machineInfo(postgres, settings, load);
  const { communityId, communitySlug } = db.seed;

  log('settling the directory (leftovers of earlier runs go through the real relay and projector)');
  const settled = await settleDirectory(db.url, communityId);
  if (settled.relayed + settled.removed + settled.projected > 0) {
    log(`  relayed ${settled.relayed} events, removed ${settled.removed} users of earlier runs, projected ${settled.projected} entries`);
  }
  log(`checking the seeding against the real projector (${options.verifySample} accounts)`);
  const verification = await verifyProjection(db.url, communityId, options.verifySample);
  log(
    `  ${verification.accounts} accounts, ${verification.people} people, ${verification.groups} groups projected again: ${verification.differences.length} rows differ`,
  );
  if (verification.differences.length > 0) {
    for (const d of verification.differences.slice(0, 5)) log(`    ${d.slice(0, 400)}`);
    throw new Error(
      'The SQL seeding does not match the projector: the measurements would be of the wrong data. Fix seed.ts, then --reseed.',
    );
  }

  let rebuild: RebuildResult | undefined;
  if (options.phases.includes('rebuild')) {
    log(`rebuilding the directory through the real projector (${options.rebuildMode})`);
    rebuild = await measureRebuild(db.url, communityId, options.rebuildMode, options.rebuildAccounts, log);
    log(
      `  ${rebuild.accounts.toLocaleString('en-US')} accounts in ${rebuild.seconds.toFixed(1)} s: ${rebuild.accountsPerSecond.toFixed(0)} accounts/s` +
        ` (CPU per account: node ${rebuild.nodeCpuMsPerAccount?.toFixed(3) ?? '?'} ms, PostgreSQL ${rebuild.postgresCpuMsPerAccount?.toFixed(3) ?? '?'} ms);` +
        ` ${rebuild.changed.length === 0 ? 'the directory is unchanged' : `changed: ${rebuild.changed.join(', ')}`}`,
    );
  }

  const sizeOf = (k: number) => (tenantSizes(options)[k] ?? 0).toLocaleString('en-US');
  const writing = await writingTenants(db.url, communityId);
  let projection: { rates: ProjectionRate[]; statements: ProjectionStatement[] } = { rates: [], statements: [] };
  if (options.phases.includes('projector')) {
    log(`the real projector on existing accounts: offices of ~${sizeOf(1)} users, then the office of ${sizeOf(0)}`);
    projection = await measureProjection(
      db.url,
      communityId,
      [
        {
          label: `accounts of ${writing[0]?.slug} … ${writing.at(-1)?.slug} (~${sizeOf(1)} users each)`,
          slugs: writing.map((t) => t.slug),
        },
        { label: `accounts of bench-1 (${sizeOf(0)} users)`, slugs: ['bench-1'] },
      ],
      PROJECTION_SAMPLE,
    );
    for (const r of projection.rates) {
      log(`  ${r.label}: ${r.msPerEntry.toFixed(1)} ms and ${r.statementsPerEntry.toFixed(1)} statements per account (${r.entries})`);
    }
  }

  const hrToken = await communityToken(db.url, communitySlug);
  const targets = await scenarioTargets(db.url, communityId);
  const scenarios = queryScenarios(targets);
  const hubEnv = await hubEnvironment(options.hubLogLevel);
  const planDir = await mkdtemp(join(tmpdir(), 'meridian-bench-directory-plans-'));
  let queries: QueryResult[] = [];
  const plans: StatementPlan[] = [];
  let visibility: Awaited<ReturnType<typeof measureWrites>> = { results: [], spotCheck: '', setup: [] };
  let profile: HubProfile | undefined;
  try {
    if (options.phases.includes('queries')) {
      log('recording the statements of one request of each query');
      const recorded = await captureStatements(hubEnv, db.url, hrToken, scenarios);
      const captured = new Map<string, { statements: string[]; people: number; plan: ReplayPlan }>();
      for (const [key, found] of recorded) {
        if (found.errors.length > 0) throw new Error(`${key}: the hub answered ${found.errors.join('; ')}`);
        const plan = replayPlan(found.statements);
        if (planStatements(plan) !== found.statements.length)
          notes.push(`${key}: the replay plan has ${planStatements(plan)} statements, the hub sent ${found.statements.length}.`);
        captured.set(key, { ...found, plan });
        log(
          `  ${key}: ${found.statements.length} statements in ${plan.flat().length} transactions (${plan.length} waves), ${found.people} people`,
        );
      }
      const plansFile = join(planDir, 'plans.json');
      await writeFile(plansFile, JSON.stringify(Object.fromEntries([...captured].map(([k, v]) => [k, v.plan]))));

      log('EXPLAIN (ANALYZE, BUFFERS) of the directory statements');
      for (const [key, only] of [
        ['deep', undefined],
        ['count', ['count']],
        ['department', ['page']],
        ['family', ['page']],
        ['scim', ['page']],
      ] as const) {
        const found = captured.get(key);
        if (found) plans.push(...(await explainPlan(db.url, key, found.plan, only ? [...only] : undefined)));
      }

      const baseline = await spawnServer({
        script: fileURLToPath(new URL('baseline-server.js', import.meta.url)),
        args: [],
        env: { DATABASE_URL: db.url, BASELINE_PLANS: plansFile },
        readyPath: '/healthz',
      });
      const hub = await startHubProcess(hubEnv, 'api', db.url);
      try {
        queries = await measureQueries(options, hub, baseline, hrToken, scenarios, captured, notes);
      } finally {
        await hub.stop();
        await baseline.stop();
      }
      const first = scenarios.find((s) => s.key === 'first');
      if (first) {
        log('the hub under node --cpu-prof, first page');
        await waitForQuiet(60, log);
        profile = await profileHub(hubEnv, db.url, hrToken, first.body, options.connections, options.duration);
      }
    }
    if (options.phases.includes('visibility')) visibility = await measureWrites(options, hubEnv, db.url, communityId, hrToken, runId);
  } finally {
    await hubEnv.close();
    await rm(planDir, { recursive: true, force: true });
  }

  const seed = db.seed;
  const byAccounts = Object.entries(seed.peopleByAccounts)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([n, people]) => `${people.toLocaleString('en-US')} with ${n}`)
    .join(', ');
  const seedOrigin = db.seededNow
    ? `seeded in this run in ${seed.seconds.toFixed(0)} s`
    : `reused (seeded in ${seed.seconds.toFixed(0)} s)`;
  return {
    machine,
    setup: [
      `Data: ${options.users.toLocaleString('en-US')} users in ${options.tenants} offices of one community (database \`${options.database}\`; the users' seed of \`pnpm bench\`, ${db.baseOrigin}; the directory ${seedOrigin}): ${seed.people.toLocaleString('en-US')} people with ${seed.accounts.toLocaleString('en-US')} accounts (people by accounts: ${byAccounts}), ${seed.withManager.toLocaleString('en-US')} with a manager, ${seed.accountGroups.toLocaleString('en-US')} direct group memberships, ${seed.conflicts.toLocaleString('en-US')} conflicts.`,
      `Seeding checked in this run: ${verification.accounts} accounts (${verification.mix}) and ${verification.groups} groups queued in \`directory_inbox\` and projected again by the store's \`projectDue\` (the projector's code): ${verification.differences.length === 0 ? `all rows of their ${verification.people} people, accounts, keys, conflicts and group memberships unchanged` : `**${verification.differences.length} rows changed**`} (the columns it rewrites every time, \`updated_at\` and \`version\`, left out).`,
      `Queries: the community's \`hr_reader\` token; the deep page starts after the person at the middle of the community in the default order (display name, id), by a cursor made like the store's; \`${targets.familyName}\` is the most common family name.`,
      `Hub: \`meridian serve --role api\` (built), LOG_LEVEL=${options.hubLogLevel} (request logs to /dev/null), rate limits off. Baseline: packages/bench/src/directory/baseline-server.ts, Fastify + pg replaying the statements the hub sent for one request of the query (recorded through SqlCapture, literals included), in the same transactions and with the same concurrency, as \`meridian_app\`, and building the same JSON. Both in their own process, pools of 10 connections, on the machine of PostgreSQL and the load tool.`,
      `One at a time: ${options.samples} requests per query and server after 5 warm-up requests (at most 15 s). Throughput: autocannon, ${options.connections} connections, ${options.duration} s after a 2 s warm-up, best of ${options.rounds} alternating rounds per server; before each measurement the bench waits (up to 60 s) until other processes use less than a quarter of a core.`,
    ],
    verification,
    rebuild,
    connections: options.connections,
    queries,
    plans,
    visibility: visibility.results,
    visibilitySetup: visibility.setup,
    spotCheck: visibility.spotCheck,
    projectionRates: projection.rates,
    projectionStatements: projection.statements,
    profile,
    faster: fasterList(queries, plans, visibility.results, projection, profile),
    notes,
  };
}

await runBenchCli<DirectoryBenchOptions>({
  name: 'bench:directory',
  usage: USAGE,
  parse: parseDirectoryOptions,
  markdown: async (options) => renderDirectoryReport(await run(options)),
  splice: spliceDirectory,
});
