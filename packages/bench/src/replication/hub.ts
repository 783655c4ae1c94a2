import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DirectoryCaller, type Principal, principalOfRole, type RequestContext } from '@meridian/core';
import { loadConfig, openRuntime, type Runtime } from '@meridian/hub';
import pg from 'pg';
import { withDatabase } from '../database.js';
import type { Backend } from './bullmq.js';
import { wallNow } from './stats.js';
import { type Change, createBody, patchBody } from './workload.js';

/** A SCIM client of the tenant: the caller the core's ResourceService authorizes (scim.read, scim.write). */
const scimCaller = (tenantId: string): DirectoryCaller => ({ principal: principalOfRole('provisioner', { tenantId }), api: 'scim' });

const platform: Principal = { kind: 'platform', tokenId: 'bench', scopes: ['admin'] };
const setup: RequestContext = { actor: { type: 'system', id: 'bench' }, requestId: 'bench-replication-setup' };

/** The application_name (PGAPPNAME) of each process's PostgreSQL connections, to tell their CPU apart. */
export const APP = { worker: 'bench-hub-worker', bench: 'bench-producer', baseline: 'bench-baseline-worker' } as const;

/** A fresh, migrated database with one tenant, and the hub's services on it (as the hub's runtime builds them). */
export interface HubSetup {
  databaseUrl: string;
  runtime: Runtime;
  tenantId: string;
  /** The environment every hub process of this run shares (keys, data directory, backend). */
  env: Record<string, string>;
  close(): Promise<void>;
}

/** Drops and creates `database` on the server, opens the hub's runtime on it (which migrates it) and creates one tenant. */
export async function prepareHub(
  serverUrl: string,
  database: string,
  backend: Backend,
  redisUrl: string,
  tenant = { slug: 'bench-replication', name: 'Bench replication' },
): Promise<HubSetup> {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${admin.escapeIdentifier(database)} with (force)`);
    await admin.query(`create database ${admin.escapeIdentifier(database)}`);
  } finally {
    await admin.end();
  }
  const databaseUrl = withDatabase(serverUrl, database);
  const dataDir = await mkdtemp(join(tmpdir(), 'meridian-bench-replication-'));
  const env: Record<string, string> = {
    DATABASE_URL: databaseUrl,
    REDIS_URL: backend === 'redis' ? redisUrl : '',
    MERIDIAN_DATA_DIR: dataDir,
    MERIDIAN_SECRET_KEYS: `bench:${randomBytes(32).toString('base64')}`,
    MERIDIAN_AUDIT_SIGNING_KEY: randomBytes(32).toString('base64'),
    MERIDIAN_ADMIN_TOKEN: randomBytes(24).toString('hex'),
    MERIDIAN_PUBLIC_URL: 'http://127.0.0.1:1',
    // The bench's fake CSPs listen on 127.0.0.1: the outbound request policy opens it for the bench hub and its workers.
    MERIDIAN_OUTBOUND_ALLOW: '127.0.0.1',
  };
  const config = loadConfig({ ...env, REDIS_URL: env.REDIS_URL || undefined });
  const runtime = await openRuntime(config, 'client');
  try {
    await runtime.admin.createCommunity(platform, { slug: 'bench', name: 'Bench CoI' }, setup);
    const created = await runtime.admin.createTenant(platform, { ...tenant, community: 'bench' }, setup);
    return {
      databaseUrl,
      runtime,
      tenantId: created.id,
      env,
      async close() {
        await runtime.close();
        await rm(dataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await runtime.close();
    throw error;
  }
}

/** Creates a SCIM target per downstream (no scoping, default mapping, delete mode `delete`); returns their ids. */
export async function createTargets(
  hub: HubSetup,
  downstreams: { url: string; token: string }[],
  concurrency: number,
  label: string,
): Promise<string[]> {
  const ids: string[] = [];
  for (const [k, d] of downstreams.entries()) {
    const target = await hub.runtime.replication.targets.create(
      hub.tenantId,
      {
        name: `${label}-${k + 1}`,
        kind: 'scim',
        config: { baseUrl: d.url },
        secrets: { token: d.token },
        deleteMode: 'delete',
        concurrency,
      },
      setup,
    );
    ids.push(target.id);
  }
  return ids;
}

/** Deletes the targets (their queues, links and dead letters go with them). */
export async function deleteTargets(hub: HubSetup, ids: string[]): Promise<void> {
  for (const id of ids) await hub.runtime.replication.targets.delete(hub.tenantId, id, setup);
}

/** `meridian serve --role worker` (the built hub): the outbox relay and the target workers, in a process of its own. */
export interface WorkerProcess {
  pid: number | undefined;
  /** When it said it was running (wall-clock ms). */
  readyAt: number;
  stop(): Promise<void>;
}

/**
 * Starts the worker; with `profileDir`, under `node --cpu-prof` (the profile is
 * written there when it stops); with `databaseUrl`, connected there instead (a recording proxy);
 * with `as`, in another role (the SSF bench's API process) and with more environment.
 */
export async function startWorker(
  hub: HubSetup,
  profileDir?: string,
  databaseUrl?: string,
  as: { role: 'worker' | 'api' | 'all'; env?: Record<string, string> } = { role: 'worker' },
): Promise<WorkerProcess> {
  const main = fileURLToPath(new URL('main.js', import.meta.resolve('@meridian/hub')));
  const profile = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const child: ChildProcess = spawn(process.execPath, [...profile, main, 'serve', '--role', as.role], {
    env: {
      ...process.env,
      ...hub.env,
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
      PGAPPNAME: APP.worker,
      LOG_LEVEL: 'info',
      ...as.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stderr?.on('data', keep);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`The hub worker did not start within 60 s:\n${output}`)), 60_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      keep(chunk);
      if (output.includes('Meridian hub is running')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`The hub worker exited with code ${code}:\n${output}`));
    });
  });
  return {
    pid: child.pid,
    readyAt: wallNow(),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

/** A change as the hub committed it: when ResourceService returned (the transaction had committed), the resource and its version. */
export interface HubCommit {
  at: number;
  id: string;
  version: number;
}

/** Makes changes through the hub's ResourceService (as the SCIM API does, without HTTP) and records each commit. */
export class HubProducer {
  readonly commits = new Map<number, HubCommit>();
  private readonly ids = new Map<number, string>();

  constructor(
    private readonly hub: HubSetup,
    private readonly run: string,
  ) {}

  readonly apply = async (change: Change): Promise<void> => {
    const context: RequestContext = { actor: { type: 'system', id: 'bench' }, requestId: randomUUID() };
    const resources = this.hub.runtime.resources;
    let written: { id: string; version: number };
    if (change.op === 'create') {
      written = await resources.create(scimCaller(this.hub.tenantId), this.hub.tenantId, 'User', createBody(this.run, change), context);
      this.ids.set(change.user, written.id);
    } else {
      const id = this.ids.get(change.user);
      if (id === undefined) throw new Error(`User ${change.user} was not created.`);
      written = await resources.patch(scimCaller(this.hub.tenantId), this.hub.tenantId, 'User', id, patchBody(change), context);
    }
    this.commits.set(change.seq, { at: wallNow(), id: written.id, version: written.version });
  };

  /** The hub id of a change's user: the default mapping sends it as externalId. */
  keyOf(seq: number): string | undefined {
    return this.commits.get(seq)?.id;
  }
}

/**
 * Reads the hub's own records of a phase as the superuser (past row-level
 * security): its \`replication.delivered\` audit entries, how long before each
 * commit returned its outbox row was stamped, and how long after it the relay
 * marked the row dispatched (its jobs were in the queue by then).
 */
export async function hubRecords(
  databaseUrl: string,
  commits: Map<number, HubCommit>,
  deliveredBefore: number,
): Promise<{ delivered: number; commitGapMs: number[]; relayMs: number[] }> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const delivered = Number(
      (await client.query<{ n: string }>(`select count(*) as n from audit_event where action = 'replication.delivered'`)).rows[0]?.n ?? 0,
    );
    const ids = [...new Set([...commits.values()].map((c) => c.id))];
    const created = await client.query<{ resource_id: string; resource_version: number; at: number; dispatched: number | null }>(
      `select resource_id, resource_version, extract(epoch from created_at) * 1000 as at,
              extract(epoch from dispatched_at) * 1000 as dispatched
         from outbox_event where resource_type = 'User' and type like 'user.%' and resource_id = any($1::text[])`,
      [ids],
    );
    const byKey = new Map(created.rows.map((r) => [`${r.resource_id}/${r.resource_version}`, r]));
    const commitGapMs: number[] = [];
    const relayMs: number[] = [];
    for (const c of commits.values()) {
      const row = byKey.get(`${c.id}/${c.version}`);
      if (row === undefined) continue;
      commitGapMs.push(c.at - Number(row.at));
      if (row.dispatched !== null) relayMs.push(Number(row.dispatched) - c.at);
    }
    return { relayMs, delivered: delivered - deliveredBefore, commitGapMs };
  } finally {
    await client.end();
  }
}

/** How many deliveries the hub has audited so far (a phase's are those it adds). */
export async function deliveredSoFar(databaseUrl: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(`select count(*) as n from audit_event where action = 'replication.delivered'`);
    return Number(rows[0]?.n ?? 0);
  } finally {
    await client.end();
  }
}

/** Waits (up to `seconds`) until every link of the targets is synced at the version it must reach; returns how many are not. */
export async function waitForLinks(databaseUrl: string, targetIds: string[], seconds: number): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const deadline = Date.now() + seconds * 1000;
    for (;;) {
      const { rows } = await client.query<{ n: string }>(
        `select count(*) as n from replication_link
          where target_id = any($1::uuid[]) and (status <> 'synced' or handled_version < wanted_version)`,
        [targetIds],
      );
      const open = Number(rows[0]?.n ?? 0);
      if (open === 0 || Date.now() > deadline) return open;
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await client.end();
  }
}
