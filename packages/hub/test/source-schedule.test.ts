import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTestDatabase, eventually, FakeScimTarget } from '@meridian/test-utils';
import { addContainer, ROOT_DN, ROOT_PASSWORD, type Slapd, startSlapd } from '../../connector-ldap/test/slapd.js';
import { loadConfig } from '../src/config/config.js';
import { openRuntime, type Runtime } from '../src/runtime/runtime.js';
import { runMeridian } from './cli-runner.js';

// Scheduled pulls of an inbound source (issues 16 and 18): a worker process syncs a due source by
// itself, once across processes, records and audits each run's outcome, and the change reaches a
// downstream SCIM target; on both BullMQ backends. `source update` changes the schedule.

const run = promisify(execFile);
const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const system = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
const backends = [['postgres', undefined], ...(process.env.REDIS_URL ? [['redis', process.env.REDIS_URL]] : [])] as [
  string,
  string | undefined,
][];
if (!process.env.REDIS_URL) {
  console.warn(
    "Skipped: 'scheduled source syncs on BullMQ redis' (REDIS_URL is not set; bash .ci/run sets it when a Redis server is installed).",
  );
}

const person = (uid: string, title = 'Staff') => ({
  objectClass: ['inetOrgPerson'],
  uid,
  cn: `Person ${uid}`,
  sn: uid,
  givenName: 'P',
  mail: `${uid}@office.example`,
  title,
});

let slapd: Slapd;

beforeAll(async () => {
  slapd = await startSlapd();
}, 60_000);

afterAll(async () => {
  await slapd?.stop();
});

/** A tenant's hub, its database and the `meridian` CLI against it. */
async function openHub(redisUrl: string | undefined) {
  const db = await createTestDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), 'meridian-source-schedule-'));
  const env: Record<string, string> = {
    DATABASE_URL: db.url,
    MERIDIAN_SECRET_KEYS: `k1:${Buffer.alloc(32, 5).toString('base64')}`,
    MERIDIAN_DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    MERIDIAN_OUTBOUND_ALLOW: '127.0.0.1,localhost',
    MERIDIAN_SCHEDULER_POLL_MS: '200',
    ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
  };
  const runtime = await openRuntime(loadConfig(env), 'client');
  const childEnv = () => {
    const out: Record<string, string | undefined> = { ...process.env, ...env };
    if (env.REDIS_URL === undefined) delete out.REDIS_URL;
    return out;
  };
  const meridian = (...args: string[]) => runMeridian(env, args);
  const startWorker = (): Promise<ChildProcess & { output: () => string }> => {
    const child = spawn(process.execPath, [main, 'serve', '--role', 'worker'], { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    const worker = Object.assign(child, { output: () => output });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker did not start:\n${output}`)), 30_000);
      const check = () => {
        if (output.includes('Meridian hub is running (role: worker)')) {
          clearTimeout(timer);
          resolve(worker);
        }
      };
      child.stdout?.on('data', check);
      child.stderr?.on('data', check);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`worker exited with ${code}:\n${output}`));
      });
    });
  };
  const close = async () => {
    await runtime.close();
    await db.close();
    await rm(dataDir, { recursive: true, force: true });
  };
  return { db, runtime, meridian, startWorker, close };
}

describe.each(backends)('scheduled source syncs on BullMQ %s', (backend, redisUrl) => {
  let hub: Awaited<ReturnType<typeof openHub>>;
  let target: FakeScimTarget;
  let ou: string;
  let worker: (ChildProcess & { output: () => string }) | undefined;

  beforeAll(async () => {
    hub = await openHub(redisUrl);
    target = await FakeScimTarget.start({ token: 'downstream-token' });
    ou = await addContainer(slapd, `scheduled-${backend}`);
    const admin = await slapd.admin();
    for (let i = 0; i < 20; i++) await admin.add(`uid=s${i},${ou}`, person(`s${i}`));
    await admin.unbind();
  }, 120_000);

  afterAll(async () => {
    if (worker && worker.exitCode === null) worker.kill('SIGKILL');
    await target?.close();
    await hub?.close();
  });

  it('syncs a due source in the worker and pushes the change to the target, with every run recorded and audited', async () => {
    const { runtime, meridian, db } = hub;
    await runtime.admin.createCommunity(platform, { slug: 'coi', name: 'CoI' }, system);
    const tenant = await runtime.admin.createTenant(platform, { slug: 'office', name: 'Office', community: 'coi' }, system);
    await runtime.replication.targets.create(
      tenant.id,
      { name: 'csp', kind: 'scim', config: { baseUrl: target.url }, secrets: { token: 'downstream-token' }, deleteMode: 'delete' },
      system,
    );
    const created = await meridian(
      'source',
      'create',
      '--tenant',
      'office',
      '--kind',
      'ldap',
      '--url',
      slapd.url,
      '--bind-dn',
      ROOT_DN,
      '--bind-password',
      ROOT_PASSWORD,
      '--base-dn',
      ou,
      '--sync-every',
      '60',
      '--json',
    );
    expect(created.code).toBe(0);
    const source = JSON.parse(created.stdout) as { id: string; syncIntervalSeconds: number; lastSyncStatus: string | null };
    expect(source).toMatchObject({ syncIntervalSeconds: 60, lastSyncStatus: null });

    // Nobody runs `source sync`: the worker finds the source due (never synced) and imports it.
    worker = await hub.startWorker();
    await eventually('the first scheduled sync to reach the target', () => target.users.length === 20, {
      timeoutMs: 60_000,
      intervalMs: 100,
      explain: () => worker?.output() ?? '',
    });
    const [listed] = JSON.parse((await meridian('source', 'list', '--tenant', 'office', '--json')).stdout) as {
      lastSyncStatus: string;
      lastSyncCounts: { created: number; full: boolean };
    }[];
    expect(listed).toMatchObject({ lastSyncStatus: 'applied', lastSyncCounts: { created: 20, full: true, failed: 0 } });

    // A change at the source, and the interval has passed: the next run is incremental and the target follows.
    const ldif = join(tmpdir(), `meridian-source-schedule-${process.pid}-${backend}.ldif`);
    await writeFile(ldif, `dn: uid=s7,${ou}\nchangetype: modify\nreplace: title\ntitle: Director\n`);
    await run('ldapmodify', ['-x', '-H', slapd.url, '-D', ROOT_DN, '-w', ROOT_PASSWORD, '-f', ldif]);
    await rm(ldif);
    await db.query("update inbound_source set last_sync_at = now() - interval '61 seconds'");
    await eventually(
      'the scheduled incremental sync to reach the target',
      () => target.users.some((u) => u.userName === 's7' && u.title === 'Director'),
      {
        timeoutMs: 60_000,
        intervalMs: 100,
        explain: () => worker?.output() ?? '',
      },
    );
    const runs = await db.query<{ actor_id: string; diff: { after: { status: string; full: boolean; updated: number } } }>(
      "select actor_id, diff from audit_event where action = 'source.synced' order by seq",
    );
    expect(runs.map((r) => [r.actor_id, r.diff.after.status, r.diff.after.full])).toEqual([
      [`source:${source.id}`, 'applied', true],
      [`source:${source.id}`, 'applied', false],
    ]);
    expect(runs[1]?.diff.after.updated).toBe(1);
    // Still 20 accounts at the hub and at the target: nothing was created twice.
    expect(target.users).toHaveLength(20);
    const [count] = await db.query<{ n: string }>('select count(*) as n from scim_user');
    expect(Number(count?.n)).toBe(20);
  }, 180_000);

  it('stops scheduling a source turned off with `source update`, audited; bad values are refused', async () => {
    const { meridian, db } = hub;
    const [row] = await db.query<{ name: string }>('select name from inbound_source');
    const bad = await meridian('source', 'update', '--tenant', 'office', '--source', String(row?.name), '--sync-every', '5');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("--sync-every is a whole number of seconds, 60 or more, or 'off'; not '5'.");
    const off = await meridian('source', 'update', '--tenant', 'office', '--source', String(row?.name), '--sync-every', 'off', '--json');
    expect(off.code).toBe(0);
    expect(JSON.parse(off.stdout)).toMatchObject({ syncIntervalSeconds: null });
    const [audit] = await db.query<{ diff: { before: { syncIntervalSeconds: number }; after: { syncIntervalSeconds: null } } }>(
      "select diff from audit_event where action = 'source.updated'",
    );
    expect(audit?.diff).toMatchObject({ before: { syncIntervalSeconds: 60 }, after: { syncIntervalSeconds: null } });
    // Long overdue, but off: the worker leaves it alone.
    await db.query("update inbound_source set last_sync_at = now() - interval '1 day'");
    expect(await hub.runtime.sources.runDue()).toEqual([]);
  }, 60_000);
});

describe('scheduled source syncs across processes and failures', () => {
  let a: Awaited<ReturnType<typeof openHub>>;
  let b: Runtime;
  let tenantId: string;
  let ou: string;

  beforeAll(async () => {
    a = await openHub(undefined);
    // A second hub process on the same database.
    b = await openRuntime(
      loadConfig({
        DATABASE_URL: a.db.url,
        MERIDIAN_SECRET_KEYS: `k1:${Buffer.alloc(32, 5).toString('base64')}`,
        MERIDIAN_DATA_DIR: await mkdtemp(join(tmpdir(), 'meridian-source-schedule-b-')),
        LOG_LEVEL: 'silent',
        MERIDIAN_OUTBOUND_ALLOW: '127.0.0.1,localhost',
      }),
      'client',
    );
    await a.runtime.admin.createCommunity(platform, { slug: 'coi', name: 'CoI' }, system);
    tenantId = (await a.runtime.admin.createTenant(platform, { slug: 'branch', name: 'Branch', community: 'coi' }, system)).id;
    ou = await addContainer(slapd, 'concurrent');
    const admin = await slapd.admin();
    for (let i = 0; i < 30; i++) await admin.add(`uid=c${i},${ou}`, person(`c${i}`));
    await admin.unbind();
  }, 120_000);

  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  const ldapInput = (name: string, url: string, password = ROOT_PASSWORD) => ({
    name,
    kind: 'ldap',
    config: { url, bindDn: ROOT_DN, baseDn: ou },
    secrets: { bindPassword: password },
    syncIntervalSeconds: 60,
  });

  it('runs a due source once when two processes look at the same time, adopting an account the office already had', async () => {
    // c0 exists at the hub already (made over SCIM before the source was added, or by a sync that died before
    // linking it): the source takes it over instead of failing on its userName at every run.
    await a.runtime.resources.create(
      { principal: { kind: 'tenant', tokenId: 'scim', tenantId, scopes: ['scim:write'] }, api: 'scim' },
      tenantId,
      'User',
      { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'c0', title: 'Old title' },
      system,
    );
    await a.runtime.sources.create(platform, 'branch', ldapInput('concurrent', slapd.url), system);
    const [first, second] = await Promise.all([a.runtime.sources.runDue(), b.sources.runDue()]);
    const ran = [...(first ?? []), ...(second ?? [])];
    expect(ran).toHaveLength(1);
    expect(ran[0]).toMatchObject({ status: 'applied', created: 29, updated: 1, failed: [] });
    const [c0] = await a.db.query<{ attributes: { title: string } }>("select attributes from scim_user where user_name = 'c0'");
    expect(c0?.attributes.title).toBe('Staff');
    const [count] = await a.db.query<{ n: string }>('select count(*) as n from scim_user where tenant_id = $1', [tenantId]);
    expect(Number(count?.n)).toBe(30);
    // Not due again before its interval.
    expect([...(await a.runtime.sources.runDue()), ...(await b.sources.runDue())]).toEqual([]);
  }, 60_000);

  it('records and audits a run that cannot read the source, and tries again only at the next interval', async () => {
    const wrong = await a.runtime.sources.create(platform, 'branch', ldapInput('wrong-password', slapd.url, 'not-the-password'), system);
    const ran = await a.runtime.sources.runDue();
    expect(ran).toEqual([]);
    const failed = await a.runtime.sources.get(platform, 'branch', wrong.id);
    expect(failed.lastSyncStatus).toBe('failed');
    expect(failed.lastSyncError).toMatch(/\S/);
    expect(failed.lastSyncError).not.toContain('not-the-password');
    expect(failed.cursor).toBeNull();
    const [audit] = await a.db.query<{ actor_id: string; diff: { after: { status: string; error: string } } }>(
      "select actor_id, diff from audit_event where action = 'source.synced' and resource_id = $1",
      [wrong.id],
    );
    expect(audit).toMatchObject({ actor_id: `source:${wrong.id}`, diff: { after: { status: 'failed' } } });
    expect(await a.runtime.sources.runDue()).toEqual([]);
  }, 60_000);

  it('stops a scheduled run at the deletion threshold and records that it waits for an admin', async () => {
    const admin = await slapd.admin();
    for (let i = 0; i < 10; i++) await admin.del(`uid=c${i},${ou}`);
    await admin.unbind();
    await a.db.query(
      "update inbound_source set last_sync_at = now() - interval '2 minutes', last_full_sync_at = now() - interval '2 days' where name = 'concurrent'",
    );
    const [result] = await a.runtime.sources.runDue();
    expect(result).toMatchObject({ status: 'needs_confirmation', deleted: 0 });
    const source = await a.runtime.sources.get(platform, 'branch', 'concurrent');
    expect(source.lastSyncStatus).toBe('needs_confirmation');
    expect(source.lastSyncError).toContain('threshold');
    const [count] = await a.db.query<{ n: string }>('select count(*) as n from scim_user where tenant_id = $1', [tenantId]);
    expect(Number(count?.n)).toBe(30);
  }, 60_000);
});
