import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { eventually, FakeScimTarget } from '@meridian/test-utils';
import { gql as post } from '@meridian/test-utils/apps';
import { type HubHarness, startHub } from './harness.js';

// The apply of reconcileReplicationTarget, through GraphQL in the API process, writes to a SCIM target (real HTTP)
// what the dry run found: a user deleted there is created again, a displayName changed there is set back, a group
// member removed there is added again. "fixed" counts what the target then holds (packages/replication's
// reconcile-apply-writes-to-target.test.ts covers the engine).

let hub: HubHarness;
let cloud: FakeScimTarget;
const system = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };

beforeAll(async () => {
  hub = await startHub({ env: { MERIDIAN_OUTBOUND_ALLOW: '127.0.0.1' } });
  cloud = await FakeScimTarget.start({ token: 'cloud-token' });
  await hub.runtime.replication.targets.create(
    hub.tenants.emea.id,
    { name: 'cloud', kind: 'scim', config: { baseUrl: cloud.url }, secrets: { token: 'cloud-token' } },
    system,
  );
  await hub.runtime.replication.start();
}, 60_000);
afterAll(async () => {
  await hub?.close();
  await cloud?.close();
});

async function scim(url: string, payload: Record<string, unknown>): Promise<string> {
  const reply = await hub.app.inject({
    method: 'POST',
    url,
    headers: { authorization: `Bearer ${hub.tenants.emea.token}`, 'content-type': 'application/scim+json' },
    payload: JSON.stringify(payload),
  });
  expect(reply.statusCode).toBe(201);
  return JSON.parse(reply.body).id as string;
}

/** A change made by hand at the cloud, over its own SCIM API. */
async function atCloud(method: 'DELETE' | 'PATCH', path: string, operations?: unknown[]): Promise<void> {
  const reply = await fetch(`${cloud.url}${path}`, {
    method,
    headers: { authorization: 'Bearer cloud-token', 'content-type': 'application/scim+json' },
    ...(operations ? { body: JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: operations }) } : {}),
  });
  expect(reply.status).toBeLessThan(300);
}

const RECONCILE = `mutation($dryRun: Boolean!) { reconcileReplicationTarget(tenant: "emea", target: "cloud", dryRun: $dryRun) {
  fixed failed items { kind localId drift differences action applied error } } }`;

describe('reconcileReplicationTarget writes its fixes to the target', () => {
  it('re-creates a deleted user, sets back a changed displayName and adds back a removed member', async () => {
    const grace = await scim('/scim/v2/Users', { userName: 'grace@emea.example', displayName: 'Grace Hopper' });
    const ada = await scim('/scim/v2/Users', { userName: 'ada@emea.example', displayName: 'Ada Lovelace' });
    const linus = await scim('/scim/v2/Users', { userName: 'linus@emea.example', displayName: 'Linus T' });
    const staff = await scim('/scim/v2/Groups', { displayName: 'Staff', members: [{ value: linus }] });
    const at = (userName: string) => cloud.users.find((u) => u.userName === userName);
    const staffAt = await eventually('Staff with Linus at the cloud', () => {
      const group = cloud.groups.find((g) => g.displayName === 'Staff');
      const member = at('linus@emea.example');
      return group && member && cloud.membersOf(String(group.id)).includes(String(member.id)) ? group : undefined;
    });
    await eventually('Grace and Ada at the cloud', () => at('grace@emea.example') && at('ada@emea.example'));
    const adaId = String(at('ada@emea.example')?.id);
    const linusId = String(at('linus@emea.example')?.id);

    await atCloud('DELETE', `/Users/${String(at('grace@emea.example')?.id)}`);
    await atCloud('PATCH', `/Users/${adaId}`, [{ op: 'replace', path: 'displayName', value: 'Changed By Hand' }]);
    await atCloud('PATCH', `/Groups/${String(staffAt.id)}`, [{ op: 'remove', path: `members[value eq "${linusId}"]` }]);

    const plan = (await post(hub.app, hub.adminToken, RECONCILE, { dryRun: true })).body;
    expect(plan.errors).toBeUndefined();
    const planned = plan.data?.reconcileReplicationTarget.items;
    expect(planned).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ localId: grace, drift: 'missing', action: 'create' }),
        expect.objectContaining({ localId: ada, drift: 'changed', differences: ['displayName'], action: 'update' }),
        expect.objectContaining({ localId: staff, drift: 'changed', differences: ['members'], action: 'update' }),
      ]),
    );
    expect(planned).toHaveLength(3);

    const applied = (await post(hub.app, hub.adminToken, RECONCILE, { dryRun: false })).body;
    expect(applied.errors).toBeUndefined();
    expect(applied.data?.reconcileReplicationTarget).toMatchObject({ fixed: 3, failed: 0 });
    // What the cloud holds, not only what the report says.
    expect(at('grace@emea.example')).toMatchObject({ externalId: grace, displayName: 'Grace Hopper' });
    expect(at('ada@emea.example')).toMatchObject({ id: adaId, displayName: 'Ada Lovelace' });
    expect(cloud.membersOf(String(staffAt.id))).toEqual([linusId]);
    const again = (await post(hub.app, hub.adminToken, RECONCILE, { dryRun: true })).body;
    expect(again.data?.reconcileReplicationTarget.items).toEqual([]);
  });
});
