import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FakeScimTarget } from '@meridian/test-utils';
import { gql } from '@meridian/test-utils/apps';
import { type HubHarness, startHub } from './harness.js';

// A sync stopped at the deletion threshold, then confirmed as the message says ("run again with
// --confirm-deletes"): the next sync was incremental (only a full one finds deletions), so the confirmation
// deleted nothing and answered "applied", and a scheduled sync in between cleared needs_confirmation too,
// hiding the pending deletions until the next full interval.

const TOKEN = 'office-scim-token-confirm';

let hub: HubHarness;
let office: FakeScimTarget;

beforeAll(async () => {
  hub = await startHub({ env: { MERIDIAN_OUTBOUND_ALLOW: '127.0.0.1' } });
  office = await FakeScimTarget.start({ token: TOKEN });
  for (let i = 0; i < 10; i++) office.seed('User', { userName: `p${i}@office.example` });
});

afterAll(async () => {
  await office?.close();
  await hub?.close();
});

const sync = async (args: string) => {
  const res = await gql(
    hub.app,
    hub.tenants.emea.token,
    `mutation { syncInboundSource(tenant: "emea", source: "office"${args}) { status full created deleted } }`,
  );
  expect(res.body.errors).toBeUndefined();
  return res.body.data?.syncInboundSource as { status: string; full: boolean; created: number; deleted: number };
};

describe('confirming deletions the threshold stopped', () => {
  it('keeps the sync stopped until confirmed, and the confirmation deletes', async () => {
    const created = await gql(
      hub.app,
      hub.tenants.emea.token,
      'mutation($i: InboundSourceInput!) { createInboundSource(tenant: "emea", input: $i) { id } }',
      { i: { name: 'office', kind: 'scim', config: { baseUrl: office.url }, secrets: { token: TOKEN } } },
    );
    expect(created.body.errors).toBeUndefined();
    expect(await sync('')).toMatchObject({ status: 'applied', full: true, created: 10 });

    // Half the office's people leave: more than the default threshold of 20%.
    for (const user of office.users.slice(0, 5)) {
      const res = await fetch(`${office.url}/Users/${String(user.id)}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(res.status).toBe(204);
    }
    expect(await sync(', full: true')).toMatchObject({ status: 'needs_confirmation', full: true, deleted: 0 });
    // The next sync without --full (the schedule's, or an admin's) still stops there instead of reading "applied".
    expect(await sync('')).toMatchObject({ status: 'needs_confirmation', full: true, deleted: 0 });
    // `--confirm-deletes` alone, as the message says, applies the deletions.
    expect(await sync(', confirmDeletes: true')).toMatchObject({ status: 'applied', full: true, deleted: 5 });
    const users = await gql(hub.app, hub.tenants.emea.token, '{ tenant(slug: "emea") { users(first: 20) { totalCount } } }');
    expect(users.body.data?.tenant.users.totalCount).toBe(5);
  });
});
