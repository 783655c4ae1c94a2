#!/usr/bin/env node
// `pnpm bench`: seeds (or reuses) a PostgreSQL database, then measures the hub's
// SCIM API against a bare Fastify + pg baseline in the same run. See docs/benchmarks.md.
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import pg from 'pg';
import { benchLog, runBenchCli } from './bench-cli.js';
import { machineBusyMs, postgresCpuMs, postgresDelta, processCpuMs } from './cpu.js';
import { type FilterTarget, issueTenantTokens, prepareDatabase, sampleTargets } from './database.js';
import { explainFilter, type FilterPlan, hasApplicationRole } from './explain.js';
import { type LoadResult, type RequestSpec, runLoad } from './load.js';
import { checkMinimal } from './minimal-check.js';
import { installMinimal } from './minimal-sql.js';
import { type BenchOptions, parseOptions, USAGE } from './options.js';
import { measurePatch, type PatchResult } from './patch.js';
import { type BenchReport, machineInfo, renderReport, type ScenarioResult, spliceReport } from './report.js';
import { CREATE_SPREAD, SCENARIOS, type Side, SPREAD_TENANTS, type TenantToken } from './scenarios.js';
import { type ServerProcess, startBaseline, startHub, startMinimal } from './servers.js';
import { type Probe, probe, recordStatements } from './statements.js';

const log = benchLog('bench');

/**
 * Waits (up to `--quiet-wait` seconds, a minute and a half by default) until the rest of the machine keeps less than
 * a quarter of a core busy for a second: on a shared machine, a measurement next
 * to a test run or a build says little.
 */
async function waitForQuiet(seconds: number): Promise<void> {
  if (seconds === 0) return;
  const deadline = Date.now() + seconds * 1_000;
  let waited = false;
  for (;;) {
    const busy = await machineBusyMs();
    const self = process.cpuUsage();
    await new Promise((r) => setTimeout(r, 1_000));
    const after = await machineBusyMs();
    if (busy === undefined || after === undefined) return;
    const { user, system } = process.cpuUsage(self);
    const others = (after - busy - (user + system) / 1000) / 1_000;
    if (others < 0.25 || Date.now() > deadline) {
      if (waited) log(`  (waited for a quieter machine; others now use ${others.toFixed(2)} cores)`);
      return;
    }
    waited = true;
    await new Promise((r) => setTimeout(r, 2_000));
  }
}

/**
 * The round with the most requests per second, with the lowest CPU per request of
 * all rounds: contention only ever adds CPU time, so the lowest is the cleanest.
 */
function best(rounds: LoadResult[]): LoadResult {
  const [first, ...rest] = rounds;
  if (!first) throw new TypeError('--rounds is at least 1');
  const top = rest.reduce((a, b) => (b.rps > a.rps ? b : a), first);
  const lowest = (pick: (r: LoadResult) => number | undefined) => {
    const values = rounds.map(pick).filter((v): v is number => v !== undefined);
    return values.length > 0 ? Math.min(...values) : undefined;
  };
  const serverCpuMs = lowest((r) => r.serverCpuMs);
  const postgresCpuMs = lowest((r) => r.postgresCpuMs);
  return { ...top, ...(serverCpuMs === undefined ? {} : { serverCpuMs }), ...(postgresCpuMs === undefined ? {} : { postgresCpuMs }) };
}

async function measure(
  server: ServerProcess,
  token: string,
  options: BenchOptions,
  next: () => RequestSpec,
  label: string,
): Promise<LoadResult> {
  // A short warm-up (JIT, connection pools, caches), then the measured run.
  await waitForQuiet(options.quietWait);
  await runLoad({ baseUrl: server.url, token, connections: options.connections, seconds: 2, next });
  const cpuBefore = await processCpuMs(server.pid);
  const pgBefore = await postgresCpuMs();
  const busyBefore = await machineBusyMs();
  const selfBefore = process.cpuUsage();
  const result = await runLoad({ baseUrl: server.url, token, connections: options.connections, seconds: options.duration, next });
  const self = process.cpuUsage(selfBefore);
  const busyAfter = await machineBusyMs();
  const cpuAfter = await processCpuMs(server.pid);
  const pgSpent = postgresDelta(pgBefore, await postgresCpuMs());
  if (result.requests > 0) {
    if (cpuBefore !== undefined && cpuAfter !== undefined) result.serverCpuMs = (cpuAfter - cpuBefore) / result.requests;
    if (pgSpent !== undefined) result.postgresCpuMs = pgSpent / result.requests;
  }
  if (busyBefore !== undefined && busyAfter !== undefined && cpuBefore !== undefined && cpuAfter !== undefined && pgSpent !== undefined) {
    // Whatever else kept the cores busy meanwhile (other work on the machine), in cores.
    const others = busyAfter - busyBefore - (cpuAfter - cpuBefore) - pgSpent - (self.user + self.system) / 1000;
    result.otherCores = Math.max(0, others) / (result.seconds * 1000);
  }
  log(
    `  ${label}: ${result.rps.toFixed(0)} req/s, p50 ${result.p50.toFixed(1)} ms, p95 ${result.p95.toFixed(1)} ms, ` +
      `CPU/request ${result.serverCpuMs?.toFixed(2) ?? '?'} ms + PostgreSQL ${result.postgresCpuMs?.toFixed(2) ?? '?'} ms, ` +
      `other processes ${result.otherCores?.toFixed(2) ?? '?'} cores, errors ${result.errors}`,
  );
  return result;
}

function patchAdd(groupId: string, member: string | undefined): RequestSpec {
  return {
    method: 'PATCH',
    path: `/scim/v2/Groups/${groupId}`,
    body: JSON.stringify({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'add', path: 'members', value: [{ value: member }] }],
    }),
  };
}

async function run(options: BenchOptions): Promise<BenchReport> {
  const load = loadavg()[0] ?? 0;
  const runId = randomBytes(3).toString('hex');
  const notes: string[] = [];
  const db = await prepareDatabase(options, log);
  // The bench tenant is `bench-1`; the spread create writes to it and the next tenants in turn.
  const spread = Array.from({ length: Math.min(SPREAD_TENANTS, options.tenants) }, (_, k) => k + 1);
  const issued = await issueTenantTokens(db.url, [db.tenantSlug, ...spread.slice(1).map((k) => `bench-${k}`)]);
  const token = issued[0] as string;
  const tenants: TenantToken[] = spread.map((index, k) => ({ index, token: issued[k] as string }));
  const targets = await sampleTargets(db.url, db.tenantId, 2_000);
  if (targets.length === 0) throw new Error('The bench tenant has no users: run with --reseed.');

  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  let postgres: string;
  let settings: string;
  const plans: FilterPlan[] = [];
  try {
    postgres = `PostgreSQL ${(await client.query<{ v: string }>(`select current_setting('server_version') as v`)).rows[0]?.v ?? '?'}`;
    const shown = await client.query<{ name: string; setting: string }>(
      `select name, current_setting(name) as setting from pg_settings
        where name in ('shared_buffers', 'work_mem', 'synchronous_commit', 'max_connections', 'jit') order by name`,
    );
    settings = shown.rows.map((r) => `${r.name}=${r.setting}`).join(', ');
    const sample = targets[0] as FilterTarget;
    // As the hub runs them (row-level security applies), and as the owner (does the SQL match its index at all?).
    const views: [string, boolean][] = (await hasApplicationRole(client))
      ? [
          ['as the hub (meridian_app, tenant policies)', true],
          ['as the owner (no policies)', false],
        ]
      : [['as the hub', false]];
    for (const [as, asApplication] of views) {
      for (const scenario of SCENARIOS) {
        if (!scenario.filter) continue;
        const plan = { ...(await explainFilter(client, db.tenantId, scenario.filter(sample), asApplication)), as };
        log(
          `plan of ${plan.filter} ${as}: count ${plan.countIndexes.join(', ') || 'NO INDEX'}; page ${plan.pageIndexes.join(', ') || 'NO INDEX'}`,
        );
        plans.push(plan);
      }
    }
  } finally {
    await client.end();
  }

  const adminToken = randomBytes(24).toString('hex');
  const starters: Record<Side, (databaseUrl: string) => Promise<ServerProcess>> = {
    hub: (databaseUrl) => startHub({ databaseUrl, logLevel: options.hubLogLevel, adminToken }),
    baseline: (databaseUrl) => startBaseline({ databaseUrl }),
    minimal: (databaseUrl) => startMinimal({ databaseUrl }),
  };
  await installMinimal(db.url);

  log('recording the statements of one request of each kind');
  const probes = (side: Side): Probe[] =>
    SCENARIOS.filter((s) => s.sides.includes(side)).map((s) => {
      const next = s.requests(targets.slice(1, 3), `${runId}${side[0]}`, tenants);
      const warm = next();
      // A spread scenario comes back to the warmed-up tenant (its token and settings cached) after a round of them.
      for (let k = 1; k < (s.name === CREATE_SPREAD ? tenants.length : 1); k++) next();
      return { name: s.name, warm, measured: next() };
    });
  const patchProbe: Probe = {
    name: `PATCH /Groups/{id} (add a member to the ${options.bigGroup.toLocaleString('en-US')}-member group)`,
    warm: patchAdd(db.bigGroupId, db.patchCandidates[998]),
    measured: patchAdd(db.bigGroupId, db.patchCandidates[999]),
  };
  const recording = await recordStatements(db.url, options.database, token, [
    { label: 'hub', start: starters.hub, probes: [...probes('hub'), patchProbe] },
    { label: 'baseline', start: starters.baseline, probes: probes('baseline') },
    { label: 'minimal', start: starters.minimal, probes: probes('minimal') },
  ]);
  const statements = [...probes('hub'), patchProbe].map((p) => ({
    request: p.name,
    hub: recording.statements.get('hub')?.get(p.name) ?? [],
    baseline: recording.statements.get('baseline')?.get(p.name),
    minimal: recording.statements.get('minimal')?.get(p.name),
  }));

  const servers = {} as Record<Side, ServerProcess>;
  const scenarios: ScenarioResult[] = [];
  const patches: PatchResult[] = [];
  let checks: string[] = [];
  try {
    for (const side of ['baseline', 'minimal', 'hub'] as const) servers[side] = await starters[side](db.url);
    log('checking the minimal baseline against the hub');
    checks = await checkMinimal({
      databaseUrl: db.url,
      tenantId: db.tenantId,
      tenantSlug: db.tenantSlug,
      ...servers,
      token,
      targets,
      run: runId,
    });
    for (const check of checks) log(`  ${check}`);
    for (const scenario of SCENARIOS) {
      const wanted = options.scenarios.length === 0 || options.scenarios.some((w) => scenario.name.toLowerCase().includes(w));
      if (!wanted) continue;
      log(`${scenario.name}`);
      const next = scenario.requests(targets, runId, tenants);
      // The baselines first in each round: alternating rounds, best of each, so background noise
      // (autovacuum, checkpoints) hits all sides alike.
      const sides = (['baseline', 'minimal', 'hub'] as const).filter((side) => scenario.sides.includes(side));
      for (const side of sides) {
        const problem = await probe(servers[side].url, token, next());
        if (problem) notes.push(`${scenario.name} on the ${side}: the first request answered ${problem}.`);
      }
      const rounds = new Map<Side, LoadResult[]>(sides.map((side) => [side, []]));
      for (let round = 1; round <= options.rounds; round++) {
        for (const side of sides) rounds.get(side)?.push(await measure(servers[side], token, options, next, `${side}, round ${round}`));
      }
      const results: Partial<Record<Side, LoadResult>> = {};
      for (const [side, list] of rounds) results[side] = best(list);
      scenarios.push({ name: scenario.name, target: scenario.target, results });
    }
    log('PATCH: add and remove one member, small and large group in turn');
    patches.push(
      ...(await measurePatch({
        baseUrl: servers.hub.url,
        token,
        groups: [
          { label: 'small group', id: db.smallGroupId, members: options.smallGroup },
          { label: 'large group', id: db.bigGroupId, members: options.bigGroup },
        ],
        candidates: db.patchCandidates,
        iterations: options.patchIterations,
        warmup: 10,
      })),
    );
    for (const p of patches) {
      log(`  ${p.group}: add p50 ${p.add.p50.toFixed(1)} ms, remove p50 ${p.remove.p50.toFixed(1)} ms, errors ${JSON.stringify(p.errors)}`);
    }
  } finally {
    for (const server of Object.values(servers)) await server.stop();
  }

  const seed = db.seededNow
    ? `seeded in this run in ${db.seedSeconds?.toFixed(0)} s`
    : `reused (seeded in ${db.seedSeconds?.toFixed(0)} s)`;
  return {
    machine: machineInfo(postgres, settings, load),
    setup: [
      `Data: ${options.users.toLocaleString('en-US')} users in ${options.tenants} tenants (database \`${options.database}\`, ${seed}); every request goes to the largest tenant (${db.tenantUsers.toLocaleString('en-US')} users, the two groups).`,
      `Load: autocannon, ${options.connections} connections, ${options.duration} s per measurement after a 2 s warm-up, best of ${options.rounds} alternating rounds per server (req/s and latency from the fastest round); each GET filters for another of ${targets.length.toLocaleString('en-US')} random users of the tenant; each create posts a new user with name, work email and the enterprise extension.`,
      `Hub: \`meridian serve --role api\` (built), LOG_LEVEL=${options.hubLogLevel} (request logs to /dev/null). Same-SQL baseline: packages/bench/src/baseline-server.ts, Fastify + pg running the SQL the hub ran before issue 14 (above). Hub heap: \`--max-old-space-size=192 --max-semi-space-size=16\`, as \`npm start\` and the image start it. Minimal baseline: packages/bench/src/minimal-server.ts, Fastify + pg, one prepared round trip per request (below). Each in its own process, pools of 10 connections, on the same machine as PostgreSQL and the load tool.`,
      `${CREATE_SPREAD}: the creates go to the tenants \`bench-1\` … \`bench-${tenants.length}\` in turn, each with its own tenant's token (one audit chain per tenant, so no tenant waits for another's lock).`,
      `PATCH and PUT of users rewrite \`title\` of the sampled users (PUT sends the user's stored attributes back); only the hub answers them, and they are measured against the minimal baseline's chained create.`,
      `PATCH: ${options.patchIterations} add + remove pairs per group after 10 warm-up pairs, one request at a time, the two groups in turn.`,
    ],
    scenarios,
    patches,
    plans,
    statements,
    statementSource: recording.source,
    checks,
    notes,
  };
}

await runBenchCli<BenchOptions>({
  name: 'bench',
  usage: USAGE,
  parse: parseOptions,
  markdown: async (options) => renderReport(await run(options)),
  splice: spliceReport,
});
