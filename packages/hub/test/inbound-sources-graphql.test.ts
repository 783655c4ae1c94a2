import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FakeScimTarget } from '@meridian/test-utils';
import { gql } from '@meridian/test-utils/apps';
import { type HubHarness, startHub } from './harness.js';

// Inbound sources through GraphQL (issue 16: "meridian source … and GraphQL manage sources"): an
// office's SCIM service as the source, created with its secret (never shown again), scheduled,
// synced in a dry run and for real, tested for one person, and deleted; every step audited.

const SOURCE_TOKEN = 'office-scim-token-never-shown';

let hub: HubHarness;
let office: FakeScimTarget;

beforeAll(async () => {
  hub = await startHub({ env: { MERIDIAN_OUTBOUND_ALLOW: '127.0.0.1' } });
  office = await FakeScimTarget.start({ token: SOURCE_TOKEN });
  for (const name of ['ann', 'bob', 'cid']) {
    office.seed('User', { userName: `${name}@office.example`, title: 'Clerk', emails: [{ value: `${name}@office.example` }] });
  }
});

afterAll(async () => {
  await office?.close();
  await hub?.close();
});

const SOURCE_FIELDS = 'id name kind config secretNames syncIntervalSeconds lastSyncStatus lastSyncCounts { full created failed }';

describe('inbound sources in GraphQL', () => {
  it('creates a source whose secret is stored sealed and never answered', async () => {
    const res = await gql(
      hub.app,
      hub.tenants.emea.token,
      `mutation($i: InboundSourceInput!) { createInboundSource(tenant: "emea", input: $i) { ${SOURCE_FIELDS} } }`,
      {
        i: {
          name: 'office-hr',
          kind: 'scim',
          config: { baseUrl: office.url, firstSignIn: { lookupBy: 'email', attribute: 'userName' } },
          secrets: { token: SOURCE_TOKEN },
          syncIntervalSeconds: 600,
        },
      },
    );
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.createInboundSource).toMatchObject({
      name: 'office-hr',
      kind: 'scim',
      secretNames: ['token'],
      syncIntervalSeconds: 600,
      lastSyncStatus: null,
    });
    expect(JSON.stringify(res.body)).not.toContain(SOURCE_TOKEN);
    const rows = await hub.db.query<{ secrets_sealed: string }>('select secrets_sealed from inbound_source');
    expect(rows[0]?.secrets_sealed).not.toContain(SOURCE_TOKEN);
    const [audit] = await hub.db.query<{ diff: unknown }>("select diff from audit_event where action = 'source.created'");
    expect(JSON.stringify(audit?.diff)).not.toContain(SOURCE_TOKEN);
    expect(audit?.diff).toMatchObject({ after: { name: 'office-hr', kind: 'scim', syncIntervalSeconds: 600 } });
  });

  it('refuses bad input with a clear error naming the field', async () => {
    const res = await gql(
      hub.app,
      hub.tenants.emea.token,
      'mutation { updateInboundSource(tenant: "emea", source: "office-hr", changes: { syncIntervalSeconds: 5 }) { id } }',
    );
    expect(res.body.errors?.[0]).toMatchObject({ extensions: { code: 'INVALID_CONFIG', field: 'syncIntervalSeconds' } });
    const unknownKind = await gql(
      hub.app,
      hub.tenants.emea.token,
      'mutation { createInboundSource(tenant: "emea", input: { name: "x", kind: "csv", config: {}, secrets: {} }) { id } }',
    );
    expect(unknownKind.body.errors?.[0]).toMatchObject({ extensions: { code: 'INVALID_CONFIG', field: 'kind' } });
  });

  it('plans a sync in a dry run, writing nothing, then applies it and shows its outcome on the source', async () => {
    const plan = await gql(
      hub.app,
      hub.tenants.emea.token,
      'mutation { syncInboundSource(tenant: "emea", source: "office-hr", dryRun: true) { status dryRun items { action userName } } }',
    );
    expect(plan.body.errors).toBeUndefined();
    expect(plan.body.data?.syncInboundSource).toMatchObject({ status: 'planned', dryRun: true });
    expect(plan.body.data?.syncInboundSource.items.map((i: { userName: string }) => i.userName).sort()).toEqual([
      'ann@office.example',
      'bob@office.example',
      'cid@office.example',
    ]);
    expect(await hub.db.query('select id from scim_user')).toEqual([]);

    const applied = await gql(
      hub.app,
      hub.tenants.emea.token,
      'mutation { syncInboundSource(tenant: "emea", source: "office-hr") { status created failed { remoteId } } }',
    );
    expect(applied.body.data?.syncInboundSource).toEqual({ status: 'applied', created: 3, failed: [] });
    const listed = await gql(hub.app, hub.tenants.emea.token, `{ inboundSources(tenant: "emea") { ${SOURCE_FIELDS} } }`);
    expect(listed.body.data?.inboundSources).toEqual([
      expect.objectContaining({ lastSyncStatus: 'applied', lastSyncCounts: { full: true, created: 3, failed: 0 } }),
    ]);
  });

  it('shows what a first sign-in would create for one person, writing nothing', async () => {
    office.seed('User', { userName: 'dee@office.example', title: 'Nurse', emails: [{ value: 'dee@office.example' }] });
    const res = await gql(
      hub.app,
      hub.tenants.emea.token,
      'mutation { testInboundSource(tenant: "emea", source: "office-hr", email: "dee@office.example") { lookupAttribute lookupValue wouldCreate } }',
    );
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.testInboundSource).toMatchObject({
      lookupAttribute: 'userName',
      lookupValue: 'dee@office.example',
      wouldCreate: { userName: 'dee@office.example', title: 'Nurse' },
    });
    const [count] = await hub.db.query<{ n: string }>('select count(*) as n from scim_user');
    expect(Number(count?.n)).toBe(3);
  });

  it('is out of reach of another tenant and of a token that only reads SCIM', async () => {
    const other = await gql(hub.app, hub.tenants.apac.token, '{ inboundSources(tenant: "emea") { id } }');
    expect(other.body.errors?.[0]?.extensions?.code).toMatch(/^(NOT_FOUND|FORBIDDEN)$/);
    const reader = await gql(hub.app, hub.tenants.emea.readOnly, '{ inboundSources(tenant: "emea") { id } }');
    expect(reader.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('ends the schedule and deletes the source; the accounts it fed stay', async () => {
    const off = await gql(
      hub.app,
      hub.tenants.emea.token,
      'mutation { updateInboundSource(tenant: "emea", source: "office-hr", changes: { unschedule: true }) { syncIntervalSeconds } }',
    );
    expect(off.body.data?.updateInboundSource).toEqual({ syncIntervalSeconds: null });
    const deleted = await gql(hub.app, hub.tenants.emea.token, 'mutation { deleteInboundSource(tenant: "emea", source: "office-hr") }');
    expect(deleted.body.data?.deleteInboundSource).toBe(true);
    expect(await hub.db.query('select id from inbound_source')).toEqual([]);
    const [count] = await hub.db.query<{ n: string }>('select count(*) as n from scim_user');
    expect(Number(count?.n)).toBe(3);
    const actions = await hub.db.query<{ action: string }>("select action from audit_event where action like 'source.%' order by seq");
    expect(actions.map((a) => a.action)).toEqual(['source.created', 'source.synced', 'source.updated', 'source.deleted']);
  });
});
