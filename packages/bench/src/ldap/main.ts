#!/usr/bin/env node
// `pnpm bench:ldap`: the LDAP connector in both directions against the OpenLDAP tools on the same entries in
// the same run (issue 18): hub → LDAP against ldapadd, LDAP → hub against ldapsearch. See docs/benchmarks.md.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import pg from 'pg';
import { benchLog, runBenchCli, saveJson } from '../bench-cli.js';
import { prepareHub } from '../replication/hub.js';
import { machineInfo } from '../report.js';
import { measureInbound } from './inbound.js';
import { type LdapBenchOptions, parseOptions, USAGE } from './options.js';
import { measureLdapadd, measureOutbound } from './outbound.js';
import { type LdapReport, renderLdapReport, spliceLdap } from './report.js';
import { type Slapd, startSlapd } from './slapd.js';

const log = benchLog('bench:ldap');

async function postgresVersion(serverUrl: string): Promise<string> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    return `PostgreSQL ${(await client.query<{ v: string }>(`select current_setting('server_version') as v`)).rows[0]?.v ?? '?'}`;
  } finally {
    await client.end();
  }
}

function slapdVersion(): string {
  // slapd -VV prints its version on standard error.
  const found = spawnSync('/usr/sbin/slapd', ['-VV'], { encoding: 'utf8' });
  const version = /slapd ([\d.]+)/.exec(`${found.stdout ?? ''}${found.stderr ?? ''}`)?.[1];
  return `OpenLDAP slapd${version ? ` ${version}` : ''} (mdb)`;
}

async function run(options: LdapBenchOptions): Promise<LdapReport> {
  const load = loadavg()[0] ?? 0;
  const backend = options.redisUrl ? 'redis' : 'postgres';
  const postgres = await postgresVersion(options.serverUrl);
  log(`fresh database ${options.database}; BullMQ on ${backend}`);
  const hub = await prepareHub(options.serverUrl, options.database, backend, options.redisUrl ?? '', {
    slug: 'bench-ldap-out',
    name: 'Bench LDAP outbound',
  });
  const started: Slapd[] = [];
  try {
    // One password per run for both servers' root DN; the hub seals its copy (target and source secrets).
    const password = randomBytes(18).toString('base64url');
    const target = await startSlapd('target', password);
    started.push(target);
    const baseline = await startSlapd('baseline', password);
    started.push(baseline);
    log(`slapd: hub target ${target.url}, ldapadd baseline ${baseline.url}`);
    const outbound = await measureOutbound(options, hub, target, log);
    log(
      `  hub → LDAP: ${outbound.result.entries} in ${outbound.result.seconds.toFixed(1)} s (${outbound.result.entriesPerSecond.toFixed(0)}/s)`,
    );
    const ldapadd = await measureLdapadd(options, baseline, outbound.ldif, outbound.dns.length, log);
    log(`  ldapadd: ${ldapadd.entries} in ${ldapadd.seconds.toFixed(1)} s (${ldapadd.entriesPerSecond.toFixed(0)}/s)`);
    // The hub's target is no longer needed: the inbound direction reads the baseline's slapd, which holds the same entries.
    await target.stop();
    const inbound = await measureInbound(options, hub, baseline, outbound.dns, log);
    log(
      `  full sync: ${inbound.full.hub.timing.read} in ${(inbound.full.hub.timing.ms / 1000).toFixed(1)} s; ldapsearch ${inbound.full.baseline.seconds.toFixed(2)} s`,
    );
    return {
      machine: machineInfo(postgres, '', load),
      slapd: slapdVersion(),
      backend,
      options,
      outbound: { hub: outbound.result, baseline: ldapadd },
      inbound,
    };
  } finally {
    for (const slapd of started) await slapd.stop().catch(() => undefined);
    await hub.close();
  }
}

await runBenchCli<LdapBenchOptions>({
  name: 'bench:ldap',
  usage: USAGE,
  parse: parseOptions,
  markdown: async (options) => {
    // The bench process's PostgreSQL connections (it makes the outbound creates) are told apart from the worker's.
    process.env.PGAPPNAME = 'bench-ldap';
    const report = await run(options);
    await saveJson(options.json, report, log);
    return renderLdapReport(report);
  },
  splice: spliceLdap,
});
