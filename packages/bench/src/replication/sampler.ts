import { readdir, readFile } from 'node:fs/promises';
import pg from 'pg';
import { machineBusyMs, postgresCpuMs, processCpuMs } from '../cpu.js';

/** CPU milliseconds spent during one measured phase, by who spent them. */
export interface CpuSpent {
  /** Wall-clock seconds the phase lasted. */
  seconds: number;
  /** The processes the bench named (the hub worker, the baseline worker, the target process), by label. */
  processes: Record<string, number>;
  /** This (the bench's) process: the producer of the changes, the sampling. */
  bench: number;
  /** PostgreSQL backends connected to the bench database, by application_name (`PGAPPNAME` of the process that opened them). */
  postgresByApp: Record<string, number>;
  /** Every PostgreSQL process of the server: the backends above, other databases' (other users of the machine), and the background writers. */
  postgresAll: number;
  redis: number | undefined;
  /** All cores of the machine together. */
  machine: number | undefined;
  /** What the machine spent beyond everything above, in cores on average: other work on a shared machine. */
  otherCores: number | undefined;
}

async function commOf(pid: string): Promise<string | undefined> {
  try {
    return (await readFile(`/proc/${pid}/comm`, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/** The pid of the local redis-server, if one runs on this machine. */
export async function redisServerPid(): Promise<number | undefined> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return undefined;
  }
  for (const entry of entries) {
    if (/^\d+$/.test(entry) && (await commOf(entry)) === 'redis-server') return Number(entry);
  }
  return undefined;
}

/**
 * Follows CPU time through one phase. PostgreSQL backends come and go with
 * the connection pools, so the sampler asks `pg_stat_activity` every 250 ms
 * which backends serve the bench database (and for which application), and
 * reads their CPU from /proc; a backend born during the phase counts from zero.
 */
export class CpuSampler {
  private readonly client: pg.Client;
  private startedAt = 0;
  private machineStart: number | undefined;
  private selfStart = process.cpuUsage();
  private readonly processStart = new Map<string, number | undefined>();
  private postgresStart = new Map<number, number>();
  private redisStart: number | undefined;
  /** Backends of the bench database: pid → application and the last CPU reading. */
  private readonly backends = new Map<number, { app: string; ms: number }>();
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> | undefined;

  constructor(
    serverUrl: string,
    private readonly database: string,
    private readonly pids: Record<string, number | undefined>,
    private readonly redisPid: number | undefined,
  ) {
    this.client = new pg.Client({ connectionString: serverUrl, application_name: 'bench-sampler' });
  }

  async start(): Promise<void> {
    await this.client.connect();
    this.postgresStart = await postgresCpuMs();
    for (const [label, pid] of Object.entries(this.pids)) this.processStart.set(label, await processCpuMs(pid));
    this.redisStart = await processCpuMs(this.redisPid);
    this.machineStart = await machineBusyMs();
    this.selfStart = process.cpuUsage();
    this.startedAt = performance.now();
    await this.sample();
    this.timer = setInterval(() => {
      this.sampling ??= this.sample().finally(() => {
        this.sampling = undefined;
      });
    }, 250);
  }

  private async sample(): Promise<void> {
    const { rows } = await this.client.query<{ pid: number; app: string }>(
      'select pid, application_name as app from pg_stat_activity where datname = $1',
      [this.database],
    );
    for (const row of rows) {
      const ms = await processCpuMs(row.pid);
      if (ms === undefined) continue;
      const known = this.backends.get(row.pid);
      if (known) known.ms = ms;
      else this.backends.set(row.pid, { app: row.app || 'unnamed', ms });
    }
  }

  async stop(): Promise<CpuSpent> {
    if (this.timer) clearInterval(this.timer);
    await this.sampling;
    await this.sample();
    const seconds = (performance.now() - this.startedAt) / 1000;
    const self = process.cpuUsage(this.selfStart);
    const machineEnd = await machineBusyMs();
    const postgresEnd = await postgresCpuMs();
    const processes: Record<string, number> = {};
    for (const [label, pid] of Object.entries(this.pids)) {
      const before = this.processStart.get(label);
      const after = await processCpuMs(pid);
      if (before !== undefined && after !== undefined) processes[label] = after - before;
    }
    const redisEnd = await processCpuMs(this.redisPid);
    await this.client.end();

    const postgresByApp: Record<string, number> = {};
    for (const [pid, { app, ms }] of this.backends) {
      postgresByApp[app] = (postgresByApp[app] ?? 0) + ms - (this.postgresStart.get(pid) ?? 0);
    }
    // Every PostgreSQL process alive at the end, plus the bench database's backends that ended meanwhile.
    let postgresAll = 0;
    for (const [pid, ms] of postgresEnd) postgresAll += ms - (this.postgresStart.get(pid) ?? 0);
    for (const [pid, { ms }] of this.backends) if (!postgresEnd.has(pid)) postgresAll += ms - (this.postgresStart.get(pid) ?? 0);
    const redis = this.redisStart !== undefined && redisEnd !== undefined ? redisEnd - this.redisStart : undefined;
    const bench = (self.user + self.system) / 1000;
    const machine = this.machineStart !== undefined && machineEnd !== undefined ? machineEnd - this.machineStart : undefined;
    const known = Object.values(processes).reduce((a, b) => a + b, 0) + bench + postgresAll + (redis ?? 0);
    return {
      seconds,
      processes,
      bench,
      postgresByApp,
      postgresAll,
      redis,
      machine,
      otherCores: machine === undefined ? undefined : Math.max(0, machine - known) / (seconds * 1000),
    };
  }
}

/**
 * Waits (up to `maxSeconds`) until the rest of the machine keeps less than a
 * quarter of a core busy for a second. Returns the cores others used at the end.
 */
export async function waitForQuiet(maxSeconds: number, log: (m: string) => void): Promise<number | undefined> {
  const deadline = Date.now() + maxSeconds * 1000;
  let waited = false;
  for (;;) {
    const busy = await machineBusyMs();
    const self = process.cpuUsage();
    await new Promise((r) => setTimeout(r, 1_000));
    const after = await machineBusyMs();
    if (busy === undefined || after === undefined) return undefined;
    const { user, system } = process.cpuUsage(self);
    const others = (after - busy - (user + system) / 1000) / 1_000;
    if (others < 0.25 || Date.now() > deadline) {
      if (waited) log(`  (waited for a quieter machine; others now use ${others.toFixed(2)} cores)`);
      return others;
    }
    if (!waited) log(`  other processes keep ${others.toFixed(2)} cores busy; waiting up to ${maxSeconds} s for a quieter machine`);
    waited = true;
    await new Promise((r) => setTimeout(r, 2_000));
  }
}
