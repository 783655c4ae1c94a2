import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Principal, RequestContext } from '@meridian/core';
import pg from 'pg';
import { processCpuMs } from '../cpu.js';
import type { HubSetup } from '../replication/hub.js';
import { CpuSampler, type CpuSpent, redisServerPid, waitForQuiet } from '../replication/sampler.js';
import { ldapTool } from './ldap-tools.js';
import type { LdapBenchOptions } from './options.js';
import { type RssSample, RssSampler } from './rss.js';
import { counterDelta, PEOPLE_DN, type Slapd, type SlapdCounters } from './slapd.js';
import type { SyncRequest, SyncTiming } from './sync-process.js';

const platform: Principal = { kind: 'platform', tokenId: 'bench', scopes: ['admin'] };
const setup: RequestContext = { actor: { type: 'system', id: 'bench' }, requestId: 'bench-ldap-setup' };
const TENANT = 'bench-ldap-in';
const SOURCE = 'bench-ldap';
/** The PostgreSQL application_name of the sync process's connections. */
const SYNC_APP = 'bench-ldap-sync';

type Body<T> = T extends { id: number } ? Omit<T, 'id'> : never;

/** The child process running the hub's SourceService (sync-process.ts). */
class SyncProcess {
  private next = 1;
  private readonly pending = new Map<number, { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  private stderr = '';

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (message: { id: number; error?: string }) => {
      const waiter = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.error) waiter?.reject(new Error(`sync process: ${message.error}`));
      else waiter?.resolve(message as Record<string, unknown>);
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000);
    });
    child.on('exit', (code) => {
      for (const waiter of this.pending.values()) waiter.reject(new Error(`The sync process exited (${code}): ${this.stderr}`));
      this.pending.clear();
    });
  }

  static async start(hub: HubSetup): Promise<SyncProcess> {
    const child = fork(fileURLToPath(new URL('sync-process.js', import.meta.url)), [], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      execArgv: [],
      env: { ...process.env, PGAPPNAME: SYNC_APP, LOG_LEVEL: 'silent' },
    });
    const sync = new SyncProcess(child);
    await sync.request({ type: 'open', env: { ...hub.env, LOG_LEVEL: 'silent' } });
    return sync;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  request(body: Body<SyncRequest>): Promise<Record<string, unknown>> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ ...body, id });
    });
  }

  async sync(full: boolean): Promise<SyncTiming> {
    return (await this.request({ type: 'sync', tenant: TENANT, source: SOURCE, full })).timing as SyncTiming;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    await this.request({ type: 'stop' }).catch(() => undefined);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
}

/** One sync as the hub ran it. */
interface InboundHub {
  timing: SyncTiming;
  entriesPerSecond: number;
  cpu: CpuSpent;
  /** The sync process. */
  rss: RssSample;
  slapd: SlapdCounters;
}

/** The fastest of a few `ldapsearch` runs of the sync's search. */
interface InboundBaseline {
  entries: number;
  seconds: number;
  entriesPerSecond: number;
  slapdCpuMs: number | undefined;
  toolCpuMs: number | undefined;
  slapd: SlapdCounters;
}

/** Both syncs and their baselines. */
export interface InboundResult {
  full: { hub: InboundHub; baseline: InboundBaseline };
  incremental: { changed: number; cursor: string | null; hub: InboundHub; baseline: InboundBaseline };
  /** The sync process before its first sync, for scale (MiB). */
  idleRss: number;
}

/** The sync's search, as the LDAP source reader sends it (filter and attributes; default source config, no extra filter). */
function searchArgs(since: string | null, pageSize: number): string[] {
  const filter = `(&(objectClass=inetOrgPerson)${since ? `(modifyTimestamp>=${since})` : ''})`;
  return [
    '-LLL',
    '-o',
    'ldif-wrap=no',
    '-E',
    `pr=${pageSize}/noprompt`,
    '-b',
    PEOPLE_DN,
    '-s',
    'sub',
    filter,
    '*',
    'entryUUID',
    'modifyTimestamp',
  ];
}

async function measureLdapsearch(
  options: LdapBenchOptions,
  slapd: Slapd,
  since: string | null,
  expected: number,
  log: (m: string) => void,
): Promise<InboundBaseline> {
  // The connector's default page size (500), as the source uses it.
  const args = searchArgs(since, 500);
  await ldapTool(slapd, 'ldapsearch', args, undefined, { count: true });
  let best: InboundBaseline | undefined;
  for (let round = 0; round < options.rounds; round++) {
    await waitForQuiet(options.quietSeconds, log);
    const before = await slapd.counters();
    const cpuBefore = await processCpuMs(slapd.pid);
    const run = await ldapTool(slapd, 'ldapsearch', args, undefined, { count: true });
    const cpuAfter = await processCpuMs(slapd.pid);
    const counters = counterDelta(before, await slapd.counters());
    if (run.entries !== expected) throw new Error(`ldapsearch read ${run.entries} entries where the sync read ${expected}.`);
    const result: InboundBaseline = {
      entries: run.entries,
      seconds: run.ms / 1000,
      entriesPerSecond: run.entries / (run.ms / 1000),
      slapdCpuMs: cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore,
      toolCpuMs: run.cpuMs,
      slapd: counters,
    };
    if (!best || result.seconds < best.seconds) best = result;
  }
  return best as InboundBaseline;
}

async function measureSync(
  options: LdapBenchOptions,
  sync: SyncProcess,
  slapd: Slapd,
  full: boolean,
  log: (m: string) => void,
): Promise<InboundHub> {
  await waitForQuiet(options.quietSeconds, log);
  const before = await slapd.counters();
  const cpu = new CpuSampler(options.serverUrl, options.database, { sync: sync.pid, slapd: slapd.pid }, await redisServerPid());
  const rss = new RssSampler(sync.pid);
  await cpu.start();
  await rss.begin();
  const timing = await sync.sync(full);
  const memory = await rss.end();
  const spent = await cpu.stop();
  const counters = counterDelta(before, await slapd.counters());
  if (timing.status !== 'applied' || timing.failed > 0)
    throw new Error(`The sync ended ${timing.status} with ${timing.failed} failed entries.`);
  return { timing, entriesPerSecond: timing.read / (timing.ms / 1000), cpu: spent, rss: memory, slapd: counters };
}

/** The newest modifyTimestamp's second has passed: a change made now is read by an incremental sync from `cursor`. */
async function waitPast(cursor: string | null): Promise<void> {
  const now = () => `${new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
  while (cursor !== null && now() <= cursor) await new Promise((r) => setTimeout(r, 50));
}

/**
 * LDAP → hub: a source on `slapd` (which holds `dns`) for an empty tenant;
 * a full sync against ldapsearch, then `changedPercent` of the entries
 * changed (ldapmodify) and an incremental sync against ldapsearch of the
 * incremental filter.
 */
export async function measureInbound(
  options: LdapBenchOptions,
  hub: HubSetup,
  slapd: Slapd,
  dns: string[],
  log: (m: string) => void,
): Promise<InboundResult> {
  await hub.runtime.admin.createTenant(platform, { slug: TENANT, name: 'Bench LDAP inbound', community: 'bench' }, setup);
  await hub.runtime.sources.create(
    platform,
    TENANT,
    {
      name: SOURCE,
      kind: 'ldap',
      config: { url: slapd.url, bindDn: slapd.bindDn, baseDn: PEOPLE_DN },
      secrets: { bindPassword: slapd.password },
    },
    setup,
  );
  const sync = await SyncProcess.start(hub);
  try {
    const idle = new RssSampler(sync.pid);
    await idle.begin();
    const idleRss = (await idle.end()).peak;
    log(`  ldapsearch: ${dns.length} entries, ${options.rounds} rounds`);
    const fullBaseline = await measureLdapsearch(options, slapd, null, dns.length, log);
    log(`  LDAP → hub: full sync of ${dns.length} entries`);
    const fullHub = await measureSync(options, sync, slapd, true, log);
    if (fullHub.timing.created !== dns.length) throw new Error(`The full sync created ${fullHub.timing.created} of ${dns.length} users.`);
    const users = await countUsers(hub.databaseUrl, TENANT);
    if (users !== dns.length) throw new Error(`The tenant holds ${users} users after the full sync, not ${dns.length}.`);

    const cursor = (await hub.runtime.sources.get(platform, TENANT, SOURCE)).cursor;
    await waitPast(cursor);
    const every = Math.max(1, Math.round(100 / options.changedPercent));
    const changed = dns.filter((_, i) => i % every === 0);
    log(`  ldapmodify: ${changed.length} entries changed`);
    await ldapTool(
      slapd,
      'ldapmodify',
      [],
      changed.map((dn) => `dn: ${dn}\nchangetype: modify\nreplace: title\ntitle: Changed\n\n`).join(''),
    );
    log('  LDAP → hub: incremental sync');
    // The baseline first reads what the sync will read (the sync moves the cursor).
    const probe = await ldapTool(slapd, 'ldapsearch', searchArgs(cursor, 500), undefined, { count: true });
    const incrementalBaseline = await measureLdapsearch(options, slapd, cursor, probe.entries, log);
    const incrementalHub = await measureSync(options, sync, slapd, false, log);
    if (incrementalHub.timing.full) throw new Error('The second sync was a full one.');
    if (incrementalHub.timing.updated !== changed.length)
      throw new Error(`The incremental sync updated ${incrementalHub.timing.updated} users, not ${changed.length}.`);
    if (incrementalHub.timing.read !== probe.entries)
      throw new Error(`The incremental sync read ${incrementalHub.timing.read} entries, ldapsearch ${probe.entries}.`);
    return {
      full: { hub: fullHub, baseline: fullBaseline },
      incremental: { changed: changed.length, cursor, hub: incrementalHub, baseline: incrementalBaseline },
      idleRss,
    };
  } finally {
    await sync.stop();
  }
}

async function countUsers(databaseUrl: string, tenant: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(
      'select count(*) as n from scim_user u join tenant t on t.id = u.tenant_id where t.slug = $1',
      [tenant],
    );
    return Number(rows[0]?.n ?? 0);
  } finally {
    await client.end();
  }
}
