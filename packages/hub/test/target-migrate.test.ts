import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type DirectoryCaller, type JsonObject, principalOfRole, SCHEMA } from '@meridian/core';
import { createTestDatabase, eventually, FakeScimTarget, type TestDatabase } from '@meridian/test-utils';
import { loadConfig } from '../src/config/config.js';
import { openRuntime, type Runtime } from '../src/runtime/runtime.js';
import { runMeridian } from './cli-runner.js';

// Issue 19, use case 3.2 (moving an office's downstream to another cloud) over real HTTP, PostgreSQL and BullMQ:
// a tenant replicates to an "old" SCIM cloud; `meridian target migrate` brings a "new" cloud, where some accounts
// exist already, to the same representation (externalIds, attributes, memberships), with an exact per-object report,
// and retires the old target on a schedule that a restart of the worker process does not lose.

const system = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
const scimCaller = (tenantId: string): DirectoryCaller => ({ principal: principalOfRole('provisioner', { tenantId }), api: 'scim' });

interface Report {
  dryRun: boolean;
  retireAt: string | null;
  settingsDiffer: string[];
  counts: Record<string, number>;
  items: { kind: string; name: string; localId: string; externalId: string; outcome: string; fromRemoteId: string; toRemoteId: string }[];
}

/** What a cloud holds, keyed by externalId: the representation that must survive the move. */
function representation(cloud: FakeScimTarget): Record<string, unknown> {
  const byId = new Map<string, string>();
  for (const r of [...cloud.users, ...cloud.groups]) byId.set(r.id as string, r.externalId as string);
  const out: Record<string, unknown> = {};
  for (const user of cloud.users) {
    out[user.externalId as string] = {
      userName: user.userName,
      displayName: user.displayName,
      emails: user.emails,
      active: user.active,
    };
  }
  for (const group of cloud.groups) {
    out[group.externalId as string] = {
      displayName: group.displayName,
      members: cloud
        .membersOf(group.id as string)
        .map((m) => byId.get(m))
        .sort(),
    };
  }
  return out;
}

let db: TestDatabase;
let dataDir: string;
let env: Record<string, string>;
let runtime: Runtime;
let oldCloud: FakeScimTarget;
let newCloud: FakeScimTarget;
let tenantId: string;
const ids: Record<string, string> = {};
const targets = { old: '', new: '' };

const meridian = (...args: string[]) => runMeridian(env, args);

const statusAt = async (targetId: string, kind: 'User' | 'Group', id: string) =>
  (await runtime.replication.resourceStatus(tenantId, kind, id)).find((l) => l.targetId === targetId);

async function openHub(): Promise<Runtime> {
  const opened = await openRuntime(loadConfig(env), 'client');
  await opened.replication.start();
  return opened;
}

beforeAll(async () => {
  db = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'meridian-target-migrate-'));
  env = {
    DATABASE_URL: db.url,
    MERIDIAN_SECRET_KEYS: `k1:${Buffer.alloc(32, 5).toString('base64')}`,
    MERIDIAN_DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    // The fake clouds listen on 127.0.0.1: the outbound request policy must open it.
    MERIDIAN_OUTBOUND_ALLOW: '127.0.0.1',
  };
  oldCloud = await FakeScimTarget.start({ token: 'old-token' });
  newCloud = await FakeScimTarget.start({ token: 'new-token' });
  runtime = await openHub();
  await runtime.admin.createCommunity(platform, { slug: 'coi', name: 'CoI' }, system);
  tenantId = (await runtime.admin.createTenant(platform, { slug: 'emea', name: 'EMEA', community: 'coi' }, system)).id;
  targets.old = (
    await runtime.replication.targets.create(
      tenantId,
      { name: 'old-cloud', kind: 'scim', config: { baseUrl: oldCloud.url }, secrets: { token: 'old-token' } },
      system,
    )
  ).id;
  const create = async (kind: 'User' | 'Group', body: JsonObject) =>
    (await runtime.resources.create(scimCaller(tenantId), tenantId, kind, body, system)).id;
  for (const name of ['ann', 'bob', 'cy', 'dee']) {
    ids[name] = await create('User', {
      schemas: [SCHEMA.user],
      userName: `${name}@emea.example`,
      displayName: name.toUpperCase(),
      emails: [{ value: `${name}@emea.example`, type: 'work', primary: true }],
    });
  }
  ids.staff = await create('Group', { schemas: [SCHEMA.group], displayName: 'Staff', members: [{ value: ids.ann }, { value: ids.bob }] });
  // A nested group: its member group must exist at the new cloud before its membership can be pushed.
  ids.all = await create('Group', { schemas: [SCHEMA.group], displayName: 'All', members: [{ value: ids.staff }, { value: ids.cy }] });
  for (const [name, id] of Object.entries(ids)) {
    const kind = name === 'staff' || name === 'all' ? 'Group' : 'User';
    await eventually(`${name} at the old cloud`, async () => (await statusAt(targets.old, kind, id))?.status === 'synced');
  }
  // Dee leaves the old target's scope: it keeps her deactivated (not a live copy), so she does not move.
  await runtime.replication.targets.update(tenantId, targets.old, { scoping: { User: 'userName ne "dee@emea.example"' } }, system);
  await runtime.resources.patch(
    scimCaller(tenantId),
    tenantId,
    'User',
    ids.dee as string,
    { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'displayName', value: 'Dee' }] },
    system,
  );
  await eventually(
    'dee deactivated at the old cloud',
    async () => (await statusAt(targets.old, 'User', ids.dee as string))?.status === 'deactivated',
  );
  // The scoping change has the old target push its groups again: the old cloud is compared with the new one only
  // once that has settled (the nested group back in All), or the comparison reads a group in the middle of its push.
  await eventually('the old cloud settled after the scoping change', async () => {
    await runtime.replication.relay.drain();
    const all = oldCloud.groups.find((g) => g.displayName === 'All');
    return all !== undefined && oldCloud.membersOf(all.id as string).length === 2;
  });
  targets.new = (
    await runtime.replication.targets.create(
      tenantId,
      { name: 'new-cloud', kind: 'scim', config: { baseUrl: newCloud.url }, secrets: { token: 'new-token' } },
      system,
    )
  ).id;
  // At the new cloud Bob exists already under his userName, and Cy with the hub's externalId (and another userName).
  newCloud.seed('User', { schemas: [SCHEMA.user], userName: 'bob@emea.example' });
  newCloud.seed('User', { schemas: [SCHEMA.user], userName: 'cy.legacy@emea.example', externalId: ids.cy as string });
}, 120_000);

afterAll(async () => {
  await runtime.close();
  await oldCloud.close();
  await newCloud.close();
  await db.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('meridian target migrate', () => {
  it('plans per object in a dry run and writes nothing', async () => {
    const requestsBefore = newCloud.requests.filter((r) => r.method !== 'GET').length;
    const dry = await meridian('target', 'migrate', '--tenant', 'emea', '--from', 'old-cloud', '--to', 'new-cloud', '--dry-run', '--json');
    expect(dry.code).toBe(0);
    const report = JSON.parse(dry.stdout) as Report;
    expect(report.dryRun).toBe(true);
    expect(report.items.map((i) => [i.kind, i.name, i.outcome]).sort()).toEqual(
      [
        ['Group', 'All', 'created'],
        ['Group', 'Staff', 'created'],
        ['User', 'ann@emea.example', 'created'],
        ['User', 'bob@emea.example', 'adopted'],
        ['User', 'cy@emea.example', 'adopted'],
        ['User', 'dee@emea.example', 'skipped'],
      ].sort(),
    );
    expect(report.counts).toEqual({ created: 3, adopted: 2, updated: 0, unchanged: 0, skipped: 1, failed: 0 });
    expect(newCloud.users).toHaveLength(2);
    expect(newCloud.groups).toHaveLength(0);
    expect(newCloud.requests.filter((r) => r.method !== 'GET')).toHaveLength(requestsBefore);
    expect(await db.query('select 1 from replication_link where target_id = $1', [targets.new])).toEqual([]);
    expect(await db.query("select 1 from audit_event where action like 'target.migrat%'")).toEqual([]);
    const [row] = await db.query<{ retire_at: Date | null }>('select retire_at from replication_target where id = $1', [targets.old]);
    expect(row?.retire_at).toBeNull();
  });

  it('schedules a retirement that --cancel drops', async () => {
    const scheduled = await meridian(
      'target',
      'migrate',
      '--tenant',
      'emea',
      '--from',
      'old-cloud',
      '--to',
      'new-cloud',
      '--retire-after',
      '1d',
      '--json',
    );
    expect(scheduled.code).toBe(0);
    const report = JSON.parse(scheduled.stdout) as Report;
    expect(report.dryRun).toBe(false);
    // The report is exact: what happened to each object, and the new cloud's object for it.
    expect(report.counts).toEqual({ created: 3, adopted: 2, updated: 0, unchanged: 0, skipped: 1, failed: 0 });
    const bob = report.items.find((i) => i.name === 'bob@emea.example');
    expect(bob?.toRemoteId).toBe(newCloud.users.find((u) => u.userName === 'bob@emea.example')?.id);
    for (const item of report.items.filter((i) => i.outcome !== 'skipped')) {
      expect(item.externalId).toBe(item.localId);
      expect((await statusAt(targets.new, item.kind as 'User' | 'Group', item.localId))?.remoteId).toBe(item.toRemoteId);
    }
    expect(Date.parse(report.retireAt as string) - Date.now()).toBeGreaterThan(23 * 3_600_000);
    // The new cloud holds what the old one holds: the same externalIds, attributes and memberships; no duplicate.
    const held = representation(oldCloud);
    // Dee stays behind, deactivated at the old cloud: the old target held no live copy of her.
    expect(held[ids.dee as string]).toMatchObject({ active: false });
    delete held[ids.dee as string];
    expect(representation(newCloud)).toEqual(held);
    expect(newCloud.users).toHaveLength(4 - 1);

    const cancelled = await meridian('target', 'migrate', '--tenant', 'emea', '--from', 'old-cloud', '--cancel', '--json');
    expect(cancelled.code).toBe(0);
    expect(JSON.parse(cancelled.stdout)).toMatchObject({ id: targets.old, enabled: true, retirement: null });
    const again = await meridian('target', 'migrate', '--tenant', 'emea', '--from', 'old-cloud', '--cancel', '--json');
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stderr).error).toMatchObject({ code: 'CONFLICT', message: "Target 'old-cloud' has no retirement scheduled." });
    const audit = await db.query<{ action: string }>(
      "select action from audit_event where resource_id = $1 and action like 'target.%' order by seq",
      [targets.old],
    );
    expect(audit.map((a) => a.action)).toEqual(['target.created', 'target.updated', 'target.migrated', 'target.retirement_cancelled']);
  });

  it('refuses bad input with clear errors', async () => {
    const self = await meridian('target', 'migrate', '--tenant', 'emea', '--from', 'old-cloud', '--to', 'old-cloud', '--json');
    expect(JSON.parse(self.stderr).error).toMatchObject({ code: 'INVALID_INPUT', message: 'A target cannot be migrated to itself.' });
    const missing = await meridian('target', 'migrate', '--tenant', 'emea', '--from', 'old-cloud', '--to', 'nowhere', '--json');
    expect(JSON.parse(missing.stderr).error.code).toBe('NOT_FOUND');
    const duration = await meridian(
      'target',
      'migrate',
      '--tenant',
      'emea',
      '--from',
      'old-cloud',
      '--to',
      'new-cloud',
      '--retire-after',
      'soon',
      '--json',
    );
    expect(duration.code).toBe(1);
    expect(JSON.parse(duration.stderr).error).toMatchObject({
      code: 'USAGE',
      message: '--retire-after is <n>s, <n>m, <n>h or <n>d, e.g. 7d.',
    });
  });

  it('runs again as unchanged, retires the old target at its time across a restart, and then sends it nothing', async () => {
    const retireAt = new Date(Date.now() + 12_000);
    const rerun = await meridian(
      'target',
      'migrate',
      '--tenant',
      'emea',
      '--from',
      'old-cloud',
      '--to',
      'new-cloud',
      '--retire-at',
      retireAt.toISOString(),
      '--json',
    );
    expect(rerun.code).toBe(0);
    const report = JSON.parse(rerun.stdout) as Report;
    expect(report.counts).toEqual({ created: 0, adopted: 0, updated: 0, unchanged: 5, skipped: 1, failed: 0 });
    // The worker process stops before the retirement time; the schedule is in PostgreSQL, not in its memory.
    await runtime.close();
    const [stopped] = await db.query<{ retired_at: Date | null; retire_at: Date }>(
      'select retired_at, retire_at from replication_target where id = $1',
      [targets.old],
    );
    expect(stopped?.retired_at).toBeNull();
    expect(stopped?.retire_at.toISOString()).toBe(retireAt.toISOString());
    runtime = await openHub();
    const retired = await eventually('the old target retired', async () => {
      const [row] = await db.query<{ retired_at: Date | null; enabled: boolean }>(
        'select retired_at, enabled from replication_target where id = $1',
        [targets.old],
      );
      return row?.retired_at ? row : undefined;
    });
    expect(retired.enabled).toBe(false);
    expect((retired.retired_at as Date).getTime()).toBeGreaterThanOrEqual(retireAt.getTime());
    const list = JSON.parse((await meridian('target', 'list', '--tenant', 'emea', '--json')).stdout) as {
      id: string;
      retirement: unknown;
    }[];
    expect(list.find((t) => t.id === targets.old)?.retirement).toEqual({
      at: retireAt.toISOString(),
      retiredAt: (retired.retired_at as Date).toISOString(),
      successorId: targets.new,
    });

    const oldRequests = oldCloud.requests.length;
    const eve = (
      await runtime.resources.create(
        scimCaller(tenantId),
        tenantId,
        'User',
        { schemas: [SCHEMA.user], userName: 'eve@emea.example', displayName: 'EVE' },
        system,
      )
    ).id;
    await eventually('eve at the new cloud', async () => (await statusAt(targets.new, 'User', eve))?.status === 'synced');
    expect(newCloud.users.find((u) => u.externalId === eve)?.userName).toBe('eve@emea.example');
    expect(await statusAt(targets.old, 'User', eve)).toBeUndefined();
    expect(oldCloud.requests).toHaveLength(oldRequests);
    const [entry] = await db.query<{ action: string; actor_type: string }>(
      "select action, actor_type from audit_event where resource_id = $1 and action = 'target.retired'",
      [targets.old],
    );
    expect(entry).toEqual({ action: 'target.retired', actor_type: 'system' });
    // A retired target takes no second migration and no cancel.
    const late = await meridian('target', 'migrate', '--tenant', 'emea', '--from', 'old-cloud', '--cancel', '--json');
    expect(JSON.parse(late.stderr).error.code).toBe('CONFLICT');
  }, 60_000);
});
