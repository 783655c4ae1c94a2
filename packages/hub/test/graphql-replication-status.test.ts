import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { gql as post } from '@meridian/test-utils/apps';
import { type HubHarness, startHub } from './harness.js';

// Moved from graphql-hr.test.ts (now in packages/graphql/test): it needs the hub's replication engine,
// and a tenant with no other target.

let hub: HubHarness;
beforeAll(async () => {
  hub = await startHub();
});
afterAll(() => hub.close());

/** The body of the answer to one operation, posted with the shared GraphQL helper; the platform admin's by default. */
async function gql(query: string, variables?: Record<string, unknown>, token = hub.adminToken) {
  return (await post(hub.app, token, query, variables)).body;
}

describe('replication targets and account status', () => {
  const ctx = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
  const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
  const CREATE = 'mutation($input: AccountInput!) { createAccount(tenant: "emea", input: $input) { id } }';
  let hr: string;
  beforeAll(async () => {
    hr = (await hub.runtime.admin.issueToken(platform, { community: 'coi', role: 'hr_provider' }, ctx)).token;
  });

  it('lists targets with their counts and dead letters, and an account’s status per target', async () => {
    const created = await gql(
      'mutation { createReplicationTarget(tenant: "emea", input: { name: "hr-mirror", kind: "memory", config: { target: "hr-mirror" } }) { id } }',
    );
    expect(created.errors).toBeUndefined();
    const account = (await gql(CREATE, { input: { userName: 'replicated@emea' } }, hr)).data?.createAccount.id;
    const res = await gql(
      'query($id: ID!) { targets(tenant: "emea") { name counts { name pending } deadLetters { id } } account(tenant: "emea", id: $id) { replicationStatus { target status } } }',
      { id: account },
      hub.tenants.emea.token,
    );
    expect(res.errors).toBeUndefined();
    expect(res.data?.targets).toEqual([{ name: 'hr-mirror', counts: { name: 'hr-mirror', pending: expect.any(Number) }, deadLetters: [] }]);
    // The same as Query.replicationStatus (no worker runs here: nothing is linked yet).
    const direct = await gql(
      'query($id: ID!) { replicationStatus(tenant: "emea", kind: "User", id: $id) { target status } }',
      { id: account },
      hub.tenants.emea.token,
    );
    expect(res.data?.account.replicationStatus).toEqual(direct.data?.replicationStatus);
    // An HR token reads accounts but not replication.
    const denied = await gql('{ targets(tenant: "emea") { name } }', undefined, hr);
    expect(denied.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
  });
});
