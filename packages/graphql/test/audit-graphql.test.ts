import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type AppHarness, gql, startGraphqlApp } from '@meridian/test-utils/apps';

let hub: AppHarness;
const userIds: string[] = [];

beforeAll(async () => {
  // The audited writes go through SCIM, mounted beside GraphQL.
  hub = await startGraphqlApp({ withScim: true });
  for (let i = 0; i < 4; i++) {
    const res = await hub.app.inject({
      method: 'POST',
      url: '/scim/v2/Users',
      headers: { authorization: `Bearer ${hub.tenants.emea.token}`, 'content-type': 'application/scim+json' },
      payload: JSON.stringify({ userName: `audit-${i}@emea`, displayName: `Audit ${i}` }),
    });
    userIds.push((JSON.parse(res.body) as { id: string }).id);
  }
  await hub.app.inject({
    method: 'PATCH',
    url: `/scim/v2/Users/${userIds[0]}`,
    headers: { authorization: `Bearer ${hub.tenants.emea.token}`, 'content-type': 'application/scim+json' },
    payload: JSON.stringify({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', path: 'displayName', value: 'Renamed' }],
    }),
  });
});
afterAll(() => hub.close());

const EVENTS = `query ($tenant: String, $actor: String, $resourceType: String, $resourceId: String, $action: String,
    $since: DateTimeISO, $until: DateTimeISO, $first: Int, $after: String) {
  auditEvents(tenant: $tenant, actor: $actor, resourceType: $resourceType, resourceId: $resourceId, action: $action,
      since: $since, until: $until, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id chain seq tenantId actorType actorId action resourceType resourceId requestId sourceAddress diff createdAt prevHash hash } }
  }
}`;

type Event = { seq: number; action: string; actorType: string; actorId: string; resourceId: string; createdAt: string; diff: unknown };

async function events(token: string, variables: Record<string, unknown> = {}) {
  const { body } = await gql(hub.app, token, EVENTS, variables);
  const connection = body.data?.auditEvents as
    | { totalCount: number; pageInfo: { hasNextPage: boolean; endCursor: string | null }; edges: { node: Event }[] }
    | undefined;
  return { body, connection, nodes: connection?.edges.map((e) => e.node) ?? [] };
}

describe('GraphQL auditEvents', () => {
  it("lets a tenant token read its own tenant's chain, oldest first, with every field", async () => {
    const { body, connection, nodes } = await events(hub.tenants.emea.token, { first: 100 });
    expect(body.errors).toBeUndefined();
    expect(nodes.map((n) => n.action)).toEqual([
      'tenant.created',
      'token.created',
      'token.created',
      'user.created',
      'user.created',
      'user.created',
      'user.created',
      'user.updated',
    ]);
    expect(nodes.map((n) => n.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(connection?.totalCount).toBe(8);
    const created = connection?.edges[3]?.node as Event & Record<string, unknown>;
    expect(created).toMatchObject({
      id: `${hub.tenants.emea.id}:4`,
      chain: hub.tenants.emea.id,
      tenantId: hub.tenants.emea.id,
      actorType: 'token',
      resourceType: 'User',
      resourceId: userIds[0],
      sourceAddress: '127.0.0.1',
      diff: { before: null, after: { userName: 'audit-0@emea', displayName: 'Audit 0' } },
    });
    expect(created.prevHash).toMatch(/^[0-9a-f]{64}$/);
    expect(nodes[7]?.diff).toMatchObject({ before: { displayName: 'Audit 0' }, after: { displayName: 'Renamed' } });
  });

  it('filters by actor, resource, action and time', async () => {
    const byActor = await events(hub.tenants.emea.token, { actor: 'system:test' });
    expect(byActor.nodes.map((n) => n.action)).toEqual(['tenant.created', 'token.created', 'token.created']);
    const scimActor = byActor.body.data && (await events(hub.tenants.emea.token, { resourceType: 'User' })).nodes[0]?.actorId;
    const byBareActor = await events(hub.tenants.emea.token, { actor: scimActor });
    expect(byBareActor.connection?.totalCount).toBe(5);

    const byResource = await events(hub.tenants.emea.token, { resourceId: userIds[0] });
    expect(byResource.nodes.map((n) => n.action)).toEqual(['user.created', 'user.updated']);
    const byType = await events(hub.tenants.emea.token, { resourceType: 'Token' });
    expect(byType.connection?.totalCount).toBe(2);
    const byAction = await events(hub.tenants.emea.token, { action: 'user.updated' });
    expect(byAction.nodes.map((n) => n.resourceId)).toEqual([userIds[0]]);

    const all = (await events(hub.tenants.emea.token, { first: 100 })).nodes;
    const pivot = all[4] as Event;
    const since = await events(hub.tenants.emea.token, { since: pivot.createdAt, first: 100 });
    expect(since.nodes.every((n) => n.createdAt >= pivot.createdAt)).toBe(true);
    expect(since.nodes.map((n) => n.seq)).toContain(pivot.seq);
    const until = await events(hub.tenants.emea.token, { until: pivot.createdAt, first: 100 });
    expect(until.nodes.every((n) => n.createdAt < pivot.createdAt)).toBe(true);
    expect((since.connection?.totalCount ?? 0) + (until.connection?.totalCount ?? 0)).toBe(all.length);
    const none = await events(hub.tenants.emea.token, { until: '2000-01-01T00:00:00.000Z' });
    expect(none.connection?.totalCount).toBe(0);
    const inverted = await events(hub.tenants.emea.token, { since: '2030-01-01T00:00:00.000Z', until: '2000-01-01T00:00:00.000Z' });
    expect(inverted.body.errors?.[0]?.extensions).toMatchObject({ code: 'INVALID_INPUT', field: 'since' });
  });

  it('pages with cursors, and rejects a cursor of another chain', async () => {
    const first = await events(hub.tenants.emea.token, { first: 3 });
    expect(first.nodes.map((n) => n.seq)).toEqual([1, 2, 3]);
    expect(first.connection?.pageInfo.hasNextPage).toBe(true);
    const second = await events(hub.tenants.emea.token, { first: 3, after: first.connection?.pageInfo.endCursor });
    expect(second.nodes.map((n) => n.seq)).toEqual([4, 5, 6]);
    const last = await events(hub.tenants.emea.token, { first: 3, after: second.connection?.pageInfo.endCursor });
    expect(last.nodes.map((n) => n.seq)).toEqual([7, 8]);
    expect(last.connection?.pageInfo.hasNextPage).toBe(false);

    const foreign = await events(hub.adminToken, { tenant: 'apac', after: first.connection?.pageInfo.endCursor });
    expect(foreign.body.errors?.[0]?.extensions).toMatchObject({ code: 'INVALID_CURSOR', field: 'after' });
    const garbage = await events(hub.tenants.emea.token, { after: 'not-a-cursor' });
    expect(garbage.body.errors?.[0]?.extensions.code).toBe('INVALID_CURSOR');
  });

  it("shows another tenant's token nothing, and needs graphql:read", async () => {
    const other = await events(hub.tenants.apac.token, { tenant: 'emea' });
    expect(other.body.data).toBeNull();
    expect(other.body.errors?.[0]?.extensions.code).toBe('NOT_FOUND');
    const byId = await events(hub.tenants.apac.token, { tenant: hub.tenants.emea.id });
    expect(byId.body.errors?.[0]?.extensions.code).toBe('NOT_FOUND');
    const own = await events(hub.tenants.apac.token);
    expect(own.nodes.every((n) => n.resourceId !== userIds[0])).toBe(true);
    expect(own.nodes.map((n) => n.action)).toEqual(['tenant.created', 'token.created']);

    const readOnly = await events(hub.tenants.emea.readOnly);
    expect(readOnly.body.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
  });

  it('lets the platform admin read any tenant and the platform chain', async () => {
    const platformChain = await events(hub.adminToken);
    expect(platformChain.nodes.map((n) => n.action)).toEqual(['community.created', 'community.created']);
    const emea = await events(hub.adminToken, { tenant: 'emea' });
    expect(emea.connection?.totalCount).toBe(8);
  });
});

describe('GraphQL auditVerification', () => {
  const VERIFY = `query ($tenant: String) { auditVerification(tenant: $tenant) {
    chain tenant ok entriesChecked lastSeq lastCheckpoint { seq } anchor { seq } breaks { kind fromSeq toSeq message } } }`;

  it("reports an intact chain, then names the tampered entry; another tenant's token sees nothing", async () => {
    const intact = (await gql(hub.app, hub.tenants.emea.token, VERIFY)).body;
    expect(intact.data?.auditVerification).toEqual({
      chain: hub.tenants.emea.id,
      tenant: 'emea',
      ok: true,
      entriesChecked: 8,
      lastSeq: 8,
      lastCheckpoint: null,
      anchor: null,
      breaks: [],
    });

    await hub.db.query(`update audit_event set actor_id = 'someone-else' where chain = $1 and seq = 5`, [hub.tenants.emea.id]);
    await hub.db.query('delete from audit_event where chain = $1 and seq = 7', [hub.tenants.emea.id]);
    const tampered = (await gql(hub.app, hub.adminToken, VERIFY, { tenant: 'emea' })).body;
    expect(tampered.data?.auditVerification).toMatchObject({
      ok: false,
      lastSeq: 8,
      breaks: [
        { kind: 'MODIFIED', fromSeq: 5, toSeq: 5, message: 'entry 5 modified' },
        { kind: 'DELETED', fromSeq: 7, toSeq: 7, message: 'entry 7 deleted' },
      ],
    });

    const other = (await gql(hub.app, hub.tenants.apac.token, VERIFY, { tenant: 'emea' })).body;
    expect(other.data).toBeNull();
    expect(other.errors?.[0]?.extensions.code).toBe('NOT_FOUND');
    const platform = (await gql(hub.app, hub.adminToken, VERIFY)).body;
    expect(platform.data?.auditVerification).toMatchObject({ chain: '', tenant: null, ok: true });
  });
});
