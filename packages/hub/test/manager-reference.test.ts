import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SCHEMA } from '@meridian/core';
import { eventCounts, type Json, patchOp, gql as post, scimClient } from '@meridian/test-utils/apps';
import { type HubHarness, startHub } from './harness.js';

// Issue 12: SCIM accepted an enterprise `manager.value` naming a User of another tenant or community (GraphQL
// refused it). The rule now lives where every write resolves its references (the core's ResourceService): a new
// manager is a User of the same tenant, on SCIM POST, PUT, PATCH and Bulk, /Me and GraphQL alike, with the same
// answer for another tenant's User, another community's, a Group and an id that does not exist.

const ENTERPRISE = SCHEMA.enterpriseUser;
const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
const ctx = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };

let hub: HubHarness;
const scim = scimClient(() => hub.app);
const ids = {} as Record<'boss' | 'worker' | 'self' | 'group' | 'neighbour' | 'foreign', string>;
let amerToken: string;
let meToken: string;
const provisioner = () => hub.tenants.emea.token;

async function created(token: string, path: string, body: Json): Promise<string> {
  const res = await scim('POST', path, { token, body });
  expect(res.status).toBe(201);
  return res.body.id as string;
}

beforeAll(async () => {
  hub = await startHub();
  // amer is a second tenant of emea's community; apac is in another community.
  await hub.runtime.admin.createTenant(platform, { slug: 'amer', name: 'AMER', community: 'coi' }, ctx);
  amerToken = (await hub.runtime.admin.issueToken(platform, { tenant: 'amer', role: 'provisioner' }, ctx)).token;
  ids.boss = await created(provisioner(), '/Users', { userName: 'boss@emea' });
  ids.worker = await created(provisioner(), '/Users', { userName: 'worker@emea' });
  ids.self = await created(provisioner(), '/Users', { userName: 'self@emea' });
  ids.group = await created(provisioner(), '/Groups', { displayName: 'Team' });
  ids.neighbour = await created(amerToken, '/Users', { userName: 'neighbour@amer' });
  ids.foreign = await created(hub.tenants.apac.token, '/Users', { userName: 'foreign@apac' });
  await hub.runtime.settings.setSelfServicePolicy(hub.tenants.emea.id, [`${ENTERPRISE}:manager`, 'title'], ctx);
  meToken = (await hub.runtime.admin.issueToken(platform, { tenant: 'emea', role: 'end_user', user: 'self@emea' }, ctx)).token;
});
afterAll(() => hub.close());

const manager = (value: string) => ({ schemas: [SCHEMA.user, ENTERPRISE], [ENTERPRISE]: { manager: { value } } });

/** The SCIM answer to a manager outside the tenant: the same whatever the id is. */
function refused(value: string): Json {
  return {
    schemas: [SCHEMA.error],
    status: '400',
    scimType: 'invalidValue',
    detail: `The manager '${value}' is not a User of this tenant.`,
  };
}

/** Every id a manager must not be, by why. */
const outside = () =>
  [
    ['a User of another tenant of the community', ids.neighbour],
    ['a User of another community', ids.foreign],
    ['a Group of the tenant', ids.group],
    ['an id nobody has', '0190f1e0-0000-7000-8000-000000000000'],
    ['not an id', 'boss@emea'],
  ] as const;

async function managerOf(id: string): Promise<unknown> {
  const res = await scim('GET', `/Users/${id}`, { token: provisioner() });
  return (res.body[ENTERPRISE] as Json | undefined)?.manager;
}

describe('a manager outside the tenant is refused on every write path, and nothing is written', () => {
  it.each(outside().map(([why]) => [why]))('SCIM POST, PUT and PATCH: %s', async (why) => {
    const value = outside().find(([w]) => w === why)?.[1] as string;
    const before = await eventCounts(hub);
    const post = await scim('POST', '/Users', { token: provisioner(), body: { userName: `new-${Date.now()}@emea`, ...manager(value) } });
    expect(post.status).toBe(400);
    expect(post.body).toEqual(refused(value));
    const put = await scim('PUT', `/Users/${ids.worker}`, { token: provisioner(), body: { userName: 'worker@emea', ...manager(value) } });
    expect(put.body).toEqual(refused(value));
    for (const operation of [
      { op: 'add', path: `${ENTERPRISE}:manager`, value: { value } },
      { op: 'replace', path: `${ENTERPRISE}:manager.value`, value },
      { op: 'Add', path: 'manager', value: [{ $ref: null, value }] },
      { op: 'replace', value: { [`${ENTERPRISE}:manager`]: { value } } },
    ]) {
      const patch = await scim('PATCH', `/Users/${ids.worker}`, { token: provisioner(), body: patchOp(operation) });
      expect([operation, patch.body]).toEqual([operation, refused(value)]);
    }
    expect(await eventCounts(hub)).toEqual(before);
    expect(await managerOf(ids.worker)).toBeUndefined();
  });

  it('SCIM Bulk: each operation naming a manager outside the tenant fails alone', async () => {
    const res = await scim('POST', '/Bulk', {
      token: provisioner(),
      body: {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'],
        Operations: [
          { method: 'POST', path: '/Users', bulkId: 'a', data: { userName: 'bulk-a@emea', ...manager(ids.foreign) } },
          {
            method: 'PATCH',
            path: `/Users/${ids.worker}`,
            data: patchOp({ op: 'add', path: `${ENTERPRISE}:manager`, value: { value: ids.neighbour } }),
          },
          { method: 'POST', path: '/Users', bulkId: 'b', data: { userName: 'bulk-b@emea', ...manager(ids.boss) } },
        ],
      },
    });
    expect(res.status).toBe(200);
    const results = (res.body.Operations as Json[]).map((o) => [o.status, (o.response as Json | undefined)?.detail]);
    expect(results).toEqual([
      ['400', refused(ids.foreign).detail],
      ['400', refused(ids.neighbour).detail],
      ['201', undefined],
    ]);
  });

  it('SCIM /Me: an end user cannot name a manager outside the tenant either', async () => {
    for (const value of [ids.foreign, ids.neighbour]) {
      const patch = await scim('PATCH', '/Me', {
        token: meToken,
        body: patchOp({ op: 'add', path: `${ENTERPRISE}:manager`, value: { value } }),
      });
      expect(patch.body).toEqual(refused(value));
      const put = await scim('PUT', '/Me', { token: meToken, body: { userName: 'self@emea', ...manager(value) } });
      expect(put.body).toEqual(refused(value));
    }
    expect(await managerOf(ids.self)).toBeUndefined();
    const allowed = await scim('PATCH', '/Me', {
      token: meToken,
      body: patchOp({ op: 'add', path: `${ENTERPRISE}:manager`, value: { value: ids.boss } }),
    });
    expect(allowed.status).toBe(200);
  });

  it('GraphQL joiners and movers get the same rule, naming the input field', async () => {
    const gql = async (query: string, variables: Json) => (await post(hub.app, hub.adminToken, query, variables)).body;
    for (const value of [ids.foreign, ids.neighbour, ids.group]) {
      const create = await gql('mutation ($m: ID) { createAccount(tenant: "emea", input: { userName: "gql@emea", manager: $m }) { id } }', {
        m: value,
      });
      expect(create.errors).toEqual([
        { message: refused(value).detail, path: ['createAccount'], extensions: { code: 'INVALID_INPUT', field: 'input.manager' } },
      ]);
      const move = await gql('mutation ($id: ID!, $m: ID) { moveAccount(tenant: "emea", id: $id, manager: $m) { id } }', {
        id: ids.worker,
        m: value,
      });
      expect(move.errors?.[0]?.extensions).toEqual({ code: 'INVALID_INPUT', field: 'manager' });
    }
  });
});

describe('a manager inside the tenant', () => {
  it('is accepted on every path', async () => {
    const put = await scim('PUT', `/Users/${ids.worker}`, {
      token: provisioner(),
      body: { userName: 'worker@emea', ...manager(ids.boss) },
    });
    expect(put.status).toBe(200);
    expect(await managerOf(ids.worker)).toEqual({ value: ids.boss });
    const amer = await scim('POST', '/Users', { token: amerToken, body: { userName: 'second@amer', ...manager(ids.neighbour) } });
    expect(amer.status).toBe(201);
  });

  it('does not block other changes once the manager is deleted', async () => {
    const leaving = await created(provisioner(), '/Users', { userName: 'leaving@emea' });
    const report = await created(provisioner(), '/Users', { userName: 'report@emea', ...manager(leaving) });
    expect((await scim('DELETE', `/Users/${leaving}`, { token: provisioner() })).status).toBe(204);
    const retitle = await scim('PATCH', `/Users/${report}`, {
      token: provisioner(),
      body: patchOp({ op: 'replace', path: 'title', value: 'Lead' }),
    });
    expect(retitle.status).toBe(200);
    // Naming the gone manager anew is refused like any id nobody has.
    const renamed = await scim('PATCH', `/Users/${ids.worker}`, {
      token: provisioner(),
      body: patchOp({ op: 'replace', path: `${ENTERPRISE}:manager.value`, value: leaving }),
    });
    expect(renamed.body).toEqual(refused(leaving));
  });
});
