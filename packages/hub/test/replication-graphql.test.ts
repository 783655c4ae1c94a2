import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { memoryTarget } from '@meridian/connector-sdk';
import { gql as post } from '@meridian/test-utils/apps';
import { type HubHarness, startHub } from './harness.js';

let hub: HubHarness;
beforeAll(async () => {
  hub = await startHub();
});
afterAll(() => hub.close());

/** The body of the answer to one operation, posted with the shared GraphQL helper; the platform admin's by default. */
async function gql(query: string, variables?: Record<string, unknown>, token = hub.adminToken) {
  return (await post(hub.app, token, query, variables)).body;
}

const TARGET_FIELDS = 'id name kind config secretNames deleteMode graceSeconds scoping paused circuitState';

describe('replication through GraphQL', () => {
  let targetId: string;

  it('creates a target; secrets are write-only', async () => {
    const res = await gql(
      `mutation($input: ReplicationTargetInput!) { createReplicationTarget(tenant: "emea", input: $input) { ${TARGET_FIELDS} } }`,
      {
        input: {
          name: 'mirror',
          kind: 'memory',
          config: { target: 'graphql-mirror' },
          secrets: { token: 'mirror-secret' },
          deleteMode: 'grace',
          graceSeconds: 3600,
          scoping: { User: 'active eq true' },
        },
      },
    );
    expect(res.errors).toBeUndefined();
    expect(res.data?.createReplicationTarget).toMatchObject({
      name: 'mirror',
      kind: 'memory',
      config: { target: 'graphql-mirror' },
      secretNames: ['token'],
      deleteMode: 'grace',
      graceSeconds: 3600,
      scoping: { User: 'active eq true' },
      paused: false,
      circuitState: 'closed',
    });
    expect(JSON.stringify(res)).not.toContain('mirror-secret');
    targetId = res.data?.createReplicationTarget.id;
  });

  it('answers a bad target with INVALID_CONFIG naming the field', async () => {
    const res = await gql(
      'mutation { createReplicationTarget(tenant: "emea", input: { name: "bad", kind: "memory", scoping: { User: "userName eq" } }) { id } }',
    );
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'INVALID_CONFIG' });
  });

  it('lists targets and counts, tests, pauses and resumes', async () => {
    memoryTarget('graphql-mirror').token = 'mirror-secret';
    const list = await gql(
      '{ tenant(slug: "emea") { replicationTargets { id name } replicationCounts { targetId pending delivered failed deadLettered skipped } } }',
    );
    expect(list.errors).toBeUndefined();
    expect(list.data?.tenant.replicationTargets).toEqual([{ id: targetId, name: 'mirror' }]);
    expect(list.data?.tenant.replicationCounts).toEqual([{ targetId, pending: 0, delivered: 0, failed: 0, deadLettered: 0, skipped: 0 }]);
    const tested = await gql('mutation { testReplicationTarget(tenant: "emea", target: "mirror") { ok message } }');
    expect(tested.data?.testReplicationTarget.ok).toBe(true);
    expect(
      (await gql('mutation { pauseReplicationTarget(tenant: "emea", target: "mirror") { paused } }')).data?.pauseReplicationTarget.paused,
    ).toBe(true);
    expect(
      (await gql('mutation { resumeReplicationTarget(tenant: "emea", target: "mirror") { paused } }')).data?.resumeReplicationTarget.paused,
    ).toBe(false);
  });

  it('reconciles, then shows where a user stands (replicationStatus)', async () => {
    const created = await hub.app.inject({
      method: 'POST',
      url: '/scim/v2/Users',
      headers: { authorization: `Bearer ${hub.tenants.emea.token}`, 'content-type': 'application/scim+json' },
      payload: JSON.stringify({ userName: 'gql-status@emea', active: true }),
    });
    const userId = JSON.parse(created.body).id as string;
    const plan = await gql(
      'mutation { reconcileReplicationTarget(tenant: "emea", target: "mirror") { dryRun items { localId drift action } } }',
    );
    expect(plan.data?.reconcileReplicationTarget).toEqual({
      dryRun: true,
      items: [{ localId: userId, drift: 'missing', action: 'create' }],
    });
    const fixed = await gql('mutation { reconcileReplicationTarget(tenant: "emea", target: "mirror", dryRun: false) { fixed failed } }');
    expect(fixed.data?.reconcileReplicationTarget).toEqual({ fixed: 1, failed: 0 });
    const status = await gql(
      'query($id: ID!) { replicationStatus(tenant: "emea", kind: "User", id: $id) { target status remoteId handledVersion } }',
      {
        id: userId,
      },
    );
    expect(status.data?.replicationStatus).toEqual([
      { target: 'mirror', status: 'synced', remoteId: expect.any(String), handledVersion: 1 },
    ]);
    const letters = await gql('{ tenant(slug: "emea") { deadLetters { id } replicationWaitSeconds } }');
    expect(letters.data?.tenant).toEqual({ deadLetters: [], replicationWaitSeconds: 0 });
  });

  it('keeps targets to tenant administrators: another tenant cannot see them', async () => {
    const res = await gql('{ tenant(slug: "emea") { replicationTargets { id } } }', undefined, hub.tenants.apac.token);
    expect(res.errors?.[0]?.extensions.code).toMatch(/NOT_FOUND|FORBIDDEN/);
  });
});
