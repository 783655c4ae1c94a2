import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type DirectoryCaller, principalOfRole, type RequestContext, SCHEMA } from '@meridian/core';
import pg from 'pg';
import { processCpuMs } from '../cpu.js';
import { type HubSetup, startWorker } from '../replication/hub.js';
import { CpuSampler, type CpuSpent, redisServerPid, waitForQuiet } from '../replication/sampler.js';
import { wallNow } from '../replication/stats.js';
import { ldapTool } from './ldap-tools.js';
import type { LdapBenchOptions } from './options.js';
import { type RssSample, RssSampler } from './rss.js';
import { counterDelta, PEOPLE_DN, type Slapd, type SlapdCounters } from './slapd.js';

const setup: RequestContext = { actor: { type: 'system', id: 'bench' }, requestId: 'bench-ldap-setup' };

/** The prefix of the measured users' userName (and so of their `uid`); the warm-up's differ. */
const MEASURED = 'ldap.user.';

/** The hub side of the outbound direction. */
export interface OutboundHub {
  entries: number;
  /** First create called → newest entryCSN of the measured entries at slapd (s). */
  seconds: number;
  entriesPerSecond: number;
  /** First create called → last create returned (s): how fast the hub took the writes. */
  productionSeconds: number;
  /** Each user's create called → its entry's entryCSN at slapd (ms): p50 and max. */
  latencyP50: number;
  latencyMax: number;
  cpu: CpuSpent;
  /** The worker process (`meridian serve --role worker`). */
  rss: RssSample;
  slapd: SlapdCounters;
}

/** `ldapadd` of the same entries into an empty slapd. */
export interface OutboundBaseline {
  entries: number;
  seconds: number;
  entriesPerSecond: number;
  slapdCpuMs: number | undefined;
  toolCpuMs: number | undefined;
  slapd: SlapdCounters;
}

const caller = (tenantId: string): DirectoryCaller => ({ principal: principalOfRole('provisioner', { tenantId }), api: 'scim' });

/** A user as a SCIM client creates it: every attribute the default LDAP mapping writes. */
function userBody(prefix: string, i: number): Record<string, unknown> {
  const userName = `${prefix}${i}@bench.example`;
  return {
    schemas: [SCHEMA.user],
    userName,
    name: { givenName: `Given${i}`, familyName: `Family${i % 1000}` },
    displayName: `Given${i} Family${i % 1000}`,
    emails: [{ value: userName, type: 'work', primary: true }],
    phoneNumbers: [{ value: `+1 555 01${String(i % 100_000).padStart(5, '0')}`, type: 'work' }],
    title: 'Engineer',
    active: true,
  };
}

/**
 * Creates `count` users through the hub's ResourceService (as the SCIM API
 * does, without HTTP), `lanes` at a time; answers when each create was called.
 */
async function createUsers(hub: HubSetup, prefix: string, count: number, lanes: number): Promise<Map<number, number>> {
  const called = new Map<number, number>();
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      const context: RequestContext = { actor: { type: 'system', id: 'bench' }, requestId: randomUUID() };
      called.set(i, wallNow());
      await hub.runtime.resources.create(caller(hub.tenantId), hub.tenantId, 'User', userBody(prefix, i), context);
    }
  };
  await Promise.all(Array.from({ length: Math.min(lanes, count) }, lane));
  return called;
}

/** Waits until `count` users of the target are synced; throws on a dead letter or the deadline. */
async function waitForSynced(databaseUrl: string, targetId: string, count: number, seconds: number, log: (m: string) => void) {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'bench-ldap-poll' });
  await client.connect();
  try {
    const deadline = Date.now() + seconds * 1000;
    let lastLog = Date.now();
    for (;;) {
      const { rows } = await client.query<{ synced: string; dead: string; error: string | null }>(
        `select count(*) filter (where status = 'synced' and handled_version >= wanted_version) as synced,
                count(*) filter (where status = 'dead_lettered') as dead,
                max(last_error) filter (where status = 'dead_lettered') as error
           from replication_link where target_id = $1`,
        [targetId],
      );
      const synced = Number(rows[0]?.synced ?? 0);
      if (Number(rows[0]?.dead ?? 0) > 0) throw new Error(`Deliveries to the LDAP target were dead-lettered: ${rows[0]?.error}`);
      if (synced >= count) return;
      if (Date.now() > deadline) throw new Error(`Only ${synced} of ${count} users reached the LDAP target within ${seconds} s.`);
      if (Date.now() - lastLog >= 5_000) {
        lastLog = Date.now();
        log(`    ${synced} of ${count} synced`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await client.end();
  }
}

/** entryCSN (RFC 4533's change sequence number as OpenLDAP writes it): `YYYYmmddHHMMSS.ffffffZ#…`, in wall-clock ms. */
function csnMs(csn: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})\.(\d{6})Z/.exec(csn);
  if (!m) throw new Error(`Unexpected entryCSN '${csn}'.`);
  const [, y, mo, d, h, mi, s, us] = m.map(Number) as number[];
  return Date.UTC(y as number, (mo as number) - 1, d, h, mi, s) + (us as number) / 1000;
}

/**
 * The measured entries' add times at slapd: their entryCSN, which slapd
 * stamps (with microseconds) when it adds an entry. By userName index.
 */
async function addTimes(slapd: Slapd): Promise<Map<number, number>> {
  const found = await ldapTool(slapd, 'ldapsearch', [
    '-LLL',
    '-o',
    'ldif-wrap=no',
    '-E',
    'pr=1000/noprompt',
    '-b',
    PEOPLE_DN,
    '-s',
    'one',
    `(uid=${MEASURED}*)`,
    'uid',
    'entryCSN',
  ]);
  const times = new Map<number, number>();
  for (const block of found.stdout.split(/\n\n+/)) {
    const uid = /^uid: ldap\.user\.(\d+)@/m.exec(block)?.[1];
    const csn = /^entryCSN: (\S+)$/m.exec(block)?.[1];
    if (uid !== undefined && csn !== undefined) times.set(Number(uid), csnMs(csn));
  }
  return times;
}

/**
 * Hub → LDAP: creates an LDAP target on `slapd`, starts the worker, pushes a
 * warm-up, then `users` users created as fast as the hub takes them; done
 * when every link is synced, timed to the newest entryCSN. Answers the
 * measured entries as LDIF (user attributes only), for the baseline.
 */
export async function measureOutbound(
  options: LdapBenchOptions,
  hub: HubSetup,
  slapd: Slapd,
  log: (m: string) => void,
): Promise<{ result: OutboundHub; ldif: string; dns: string[] }> {
  const target = await hub.runtime.replication.targets.create(
    hub.tenantId,
    {
      name: 'bench-ldap',
      kind: 'ldap',
      config: { url: slapd.url, bindDn: slapd.bindDn, baseDn: PEOPLE_DN, users: { base: PEOPLE_DN }, groups: { base: PEOPLE_DN } },
      secrets: { bindPassword: slapd.password },
      deleteMode: 'delete',
      concurrency: options.concurrency,
    },
    setup,
  );
  const worker = await startWorker(hub);
  try {
    if (options.warmup > 0) {
      log(`  hub → LDAP: warm-up, ${options.warmup} users`);
      await createUsers(hub, 'warm.user.', options.warmup, options.producers);
      await waitForSynced(hub.databaseUrl, target.id, options.warmup, options.timeoutSeconds, log);
    }
    await waitForQuiet(options.quietSeconds, log);
    log(`  hub → LDAP: ${options.users} users`);
    const before = await slapd.counters();
    const cpu = new CpuSampler(options.serverUrl, options.database, { worker: worker.pid, slapd: slapd.pid }, await redisServerPid());
    const rss = new RssSampler(worker.pid);
    await cpu.start();
    await rss.begin();
    const started = wallNow();
    const called = await createUsers(hub, MEASURED, options.users, options.producers);
    const produced = wallNow();
    await waitForSynced(hub.databaseUrl, target.id, options.warmup + options.users, options.timeoutSeconds, log);
    const memory = await rss.end();
    const spent = await cpu.stop();
    const counters = counterDelta(before, await slapd.counters());
    const times = await addTimes(slapd);
    if (times.size !== options.users) throw new Error(`slapd holds ${times.size} of the ${options.users} users.`);
    const last = Math.max(...times.values());
    const latencies = [...times].map(([i, t]) => t - (called.get(i) ?? started)).sort((a, b) => a - b);
    const seconds = (last - started) / 1000;
    const dump = await ldapTool(slapd, 'ldapsearch', [
      '-LLL',
      '-o',
      'ldif-wrap=no',
      '-E',
      'pr=1000/noprompt',
      '-b',
      PEOPLE_DN,
      '-s',
      'one',
      `(uid=${MEASURED}*)`,
      '*',
    ]);
    const dns = [...dump.stdout.matchAll(/^dn: (.+)$/gm)].map((m) => m[1] as string);
    return {
      result: {
        entries: options.users,
        seconds,
        entriesPerSecond: options.users / seconds,
        productionSeconds: (produced - started) / 1000,
        latencyP50: latencies[Math.floor(latencies.length / 2)] ?? Number.NaN,
        latencyMax: latencies.at(-1) ?? Number.NaN,
        cpu: spent,
        rss: memory,
        slapd: counters,
      },
      ldif: dump.stdout,
      dns,
    };
  } finally {
    await worker.stop();
  }
}

/** `ldapadd` of `ldif` (one connection, one add after another, as the tool does) into `slapd`, which holds none of it. */
export async function measureLdapadd(
  options: LdapBenchOptions,
  slapd: Slapd,
  ldif: string,
  entries: number,
  log: (m: string) => void,
): Promise<OutboundBaseline> {
  const file = join(slapd.dir, 'entries.ldif');
  await writeFile(file, ldif);
  await waitForQuiet(options.quietSeconds, log);
  log(`  ldapadd: ${entries} entries`);
  const before = await slapd.counters();
  const cpuBefore = await processCpuMs(slapd.pid);
  const run = await ldapTool(slapd, 'ldapadd', ['-f', file]);
  const cpuAfter = await processCpuMs(slapd.pid);
  const counters = counterDelta(before, await slapd.counters());
  const added = counters.operations.add ?? 0;
  if (added !== entries) throw new Error(`ldapadd added ${added} entries, not ${entries}.`);
  return {
    entries,
    seconds: run.ms / 1000,
    entriesPerSecond: entries / (run.ms / 1000),
    slapdCpuMs: cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore,
    toolCpuMs: run.cpuMs,
    slapd: counters,
  };
}
