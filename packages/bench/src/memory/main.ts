#!/usr/bin/env node
// `pnpm bench:memory`: the hub's resident memory under a steady SCIM load for ten minutes (issue 14: under 300 MB,
// flat). The load is `pnpm bench`'s SCIM mix against the built hub; the hub's VmRSS is read from /proc. See
// docs/benchmarks.md.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import autocannon from 'autocannon';
import pg from 'pg';
import { benchLog, runBenchCli, spliceSection } from '../bench-cli.js';
import { issueTenantToken, prepareDatabase, sampleTargets } from '../database.js';
import type { RequestSpec } from '../load.js';
import { machineInfo } from '../report.js';
import { SCENARIOS } from '../scenarios.js';
import { startHub } from '../servers.js';
import { type MemoryBenchOptions, parseMemoryOptions, USAGE } from './options.js';
import { type MemoryReport, type MemorySample, renderMemoryReport } from './report.js';

const log = benchLog('bench:memory');

/**
 * How often each scenario of `pnpm bench` comes up in the mix, by name: mostly lookups, as a provisioning client
 * sends them (Entra ID and Okta look a user up before each write), then writes.
 */
const WEIGHTS: Readonly<Record<string, number>> = {
  'GET /Users?filter=userName eq': 4,
  'GET /Users/{id}': 3,
  'GET /Users?filter=name.familyName sw': 1,
  'GET /Users?filter=emails co': 1,
  'POST /Users (create, no password)': 1,
  'PATCH /Users/{id} (replace title)': 1,
  'PUT /Users/{id} (same user, new title)': 1,
};

/** Resident and peak resident memory of one process in MB (Linux), or undefined once it is gone. */
async function memoryOf(pid: number): Promise<{ rssMb: number; hwmMb: number } | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
    return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}

async function postgresVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return `PostgreSQL ${(await client.query<{ v: string }>(`select current_setting('server_version') as v`)).rows[0]?.v ?? '?'}`;
  } finally {
    await client.end();
  }
}

async function run(options: MemoryBenchOptions): Promise<MemoryReport> {
  const load = loadavg()[0] ?? 0;
  const runId = `m${randomBytes(3).toString('hex')}`;
  const db = await prepareDatabase(options.database, log);
  const token = await issueTenantToken(db.url, db.tenantSlug);
  const targets = await sampleTargets(db.url, db.tenantId, 2_000);
  if (targets.length === 0) throw new Error('The bench tenant has no users: run with --reseed.');
  const postgres = await postgresVersion(db.url);

  // One generator per scenario, repeated by its weight: request n of the run is of scenario n mod the list.
  const mix: (() => RequestSpec)[] = [];
  for (const scenario of SCENARIOS) {
    const weight = WEIGHTS[scenario.name] ?? 0;
    const next = scenario.requests(targets, runId);
    for (let k = 0; k < weight; k++) mix.push(next);
  }
  let sent = 0;
  const next = () => (mix[sent++ % mix.length] as () => RequestSpec)();

  const hub = await startHub({ databaseUrl: db.url, logLevel: options.hubLogLevel, adminToken: randomBytes(24).toString('hex') });
  const pid = hub.pid;
  if (pid === undefined) throw new Error('The hub process has no pid.');
  const samples: MemorySample[] = [];
  let answered = 0;
  let errors = 0;
  const started = Date.now();
  try {
    const idle = await memoryOf(pid);
    if (idle) samples.push({ seconds: 0, answered: 0, ...idle });
    log(`hub started: ${idle?.rssMb.toFixed(0) ?? '?'} MB resident before any request; ${options.minutes} min of load follow`);
    const sampler = setInterval(() => {
      void memoryOf(pid).then((memory) => {
        if (!memory) return;
        const seconds = (Date.now() - started) / 1000;
        samples.push({ seconds, answered, ...memory });
        if (samples.length % Math.max(1, Math.round(60 / options.sampleSeconds)) === 0) {
          log(`  ${(seconds / 60).toFixed(1)} min: ${memory.rssMb.toFixed(0)} MB resident, ${answered.toLocaleString('en-US')} answers`);
        }
      });
    }, options.sampleSeconds * 1000);
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json', accept: 'application/scim+json' };
    try {
      await new Promise<void>((resolve, reject) => {
        const instance = autocannon(
          {
            url: hub.url,
            connections: options.connections,
            duration: options.minutes * 60,
            timeout: 30,
            requests: [
              {
                setupRequest: (request) => {
                  const spec = next();
                  // A fresh headers object per request: autocannon writes Content-Length into it, and a GET after a
                  // PATCH must not announce the PATCH's body (the hub would wait for it until the timeout).
                  return {
                    ...request,
                    method: spec.method,
                    path: spec.path,
                    headers: { ...headers },
                    ...(spec.body === undefined ? {} : { body: spec.body }),
                  };
                },
              },
            ],
          },
          (error, result) => {
            if (error) return reject(error);
            errors = result.non2xx + result.errors;
            resolve();
          },
        );
        instance.on('response', () => {
          answered++;
        });
      });
    } finally {
      clearInterval(sampler);
    }
    const last = await memoryOf(pid);
    if (last) samples.push({ seconds: (Date.now() - started) / 1000, answered, ...last });
  } finally {
    await hub.stop();
  }
  return {
    machine: machineInfo(postgres, '', load),
    options,
    tenantUsers: db.tenantUsers,
    weights: WEIGHTS,
    samples,
    answered,
    errors,
  };
}

await runBenchCli<MemoryBenchOptions>({
  name: 'bench:memory',
  usage: USAGE,
  parse: parseMemoryOptions,
  markdown: async (options) => renderMemoryReport(await run(options)),
  splice: (existing, generated) => spliceSection('memory', 'pnpm bench:memory --write', existing, generated),
});
