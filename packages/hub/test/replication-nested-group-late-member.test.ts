import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type DirectoryCaller, principalOfRole, SCHEMA } from '@meridian/core';
import { createTestDatabase, eventually, FakeScimTarget, type TestDatabase } from '@meridian/test-utils';
import { loadConfig } from '../src/config/config.js';
import { openRuntime, type Runtime } from '../src/runtime/runtime.js';

// Regression: a group pushed to a target before the group it contains (nested) existed there lost that member for
// good. The parent's push left the member out (it had no remote id yet), and when the member group was created at
// the target later nothing pushed the parent again. Users already had that follow-up; groups now have it too.

const system = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
const scimCaller = (tenantId: string): DirectoryCaller => ({ principal: principalOfRole('provisioner', { tenantId }), api: 'scim' });

let db: TestDatabase;
let dataDir: string;
let runtime: Runtime;
let cloud: FakeScimTarget;

beforeAll(async () => {
  db = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'meridian-nested-late-'));
  runtime = await openRuntime(
    loadConfig({
      DATABASE_URL: db.url,
      MERIDIAN_SECRET_KEYS: `k1:${Buffer.alloc(32, 4).toString('base64')}`,
      MERIDIAN_DATA_DIR: dataDir,
      LOG_LEVEL: 'silent',
      MERIDIAN_OUTBOUND_ALLOW: '127.0.0.1',
    }),
    'client',
  );
  cloud = await FakeScimTarget.start({ token: 'cloud-token' });
});

afterAll(async () => {
  await runtime?.close();
  await cloud?.close();
  await db?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('a nested group whose member group reaches the target after it', () => {
  it('regression: the parent is pushed again once the member group exists there, and lists it', async () => {
    await runtime.admin.createCommunity(platform, { slug: 'coi', name: 'CoI' }, system);
    const tenantId = (await runtime.admin.createTenant(platform, { slug: 'emea', name: 'EMEA', community: 'coi' }, system)).id;
    await runtime.replication.targets.create(
      tenantId,
      { name: 'cloud', kind: 'scim', config: { baseUrl: cloud.url }, secrets: { token: 'cloud-token' } },
      system,
    );
    await runtime.replication.start();
    const create = async (kind: 'User' | 'Group', body: Record<string, unknown>) =>
      (await runtime.resources.create(scimCaller(tenantId), tenantId, kind, body, system)).id;
    const ann = await create('User', { schemas: [SCHEMA.user], userName: 'ann@emea.example' });
    await eventually('ann at the cloud', () => cloud.users.length === 1);

    // The cloud refuses the member group's first create, so the parent reaches the cloud first, without it.
    cloud.failNext({ type: 'status', status: 503 }, { times: 1, match: { method: 'POST', path: '/Groups' } });
    const staff = await create('Group', { schemas: [SCHEMA.group], displayName: 'Staff', members: [{ value: ann }] });
    await eventually('the refused create of Staff', () => cloud.requestsTo('POST', '/Groups').some((r) => r.status === 503));
    await create('Group', { schemas: [SCHEMA.group], displayName: 'All', members: [{ value: staff }] });

    await eventually('Staff and All at the cloud', () => cloud.groups.length === 2);
    const remoteStaff = cloud.groups.find((g) => g.displayName === 'Staff');
    const remoteAll = cloud.groups.find((g) => g.displayName === 'All');
    await eventually('All listing Staff at the cloud', () => cloud.membersOf(String(remoteAll?.id)).includes(String(remoteStaff?.id)));
    expect(cloud.membersOf(String(remoteAll?.id))).toEqual([String(remoteStaff?.id)]);
    expect(cloud.membersOf(String(remoteStaff?.id))).toEqual([String(cloud.users[0]?.id)]);
  }, 60_000);
});
