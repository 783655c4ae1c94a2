import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SCHEMA } from '@meridian/core';
import {
  type AppHarness,
  eventCounts,
  gql,
  type Json,
  patchOp,
  type ScimResponse,
  scimClient,
  startScimApp,
} from '@meridian/test-utils/apps';

// Issue 12, group graph integrity, over HTTP against a real PostgreSQL (ADR 0018):
// no membership cycle at any depth, through any write path, or from requests
// that run at the same time; no membership of a deleted resource; a user's
// `groups` complete at any depth. Concurrent requests are real: each runs its
// own transaction on its own connection of the app's pool. GraphQL is mounted beside SCIM for the one rule
// checked through addGroupMembers.

let hub: AppHarness;
let hr: string;
beforeAll(async () => {
  hub = await startScimApp({ withGraphql: true });
  const ctx = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
  const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
  hr = (await hub.services.admin.issueToken(platform, { community: 'coi', role: 'hr_provider' }, ctx)).token;
});
afterAll(() => hub.close());

const scim = scimClient(() => hub.app);
const token = () => hub.tenants.emea.token;
const BASE = 'https://hub.test/scim/v2';

async function createGroup(displayName: string, members: string[] = []): Promise<string> {
  const res = await scim('POST', '/Groups', { token: token(), body: { displayName, members: members.map((value) => ({ value })) } });
  expect(res.status).toBe(201);
  return res.body.id as string;
}

async function createUser(userName: string): Promise<string> {
  const res = await scim('POST', '/Users', { token: token(), body: { userName } });
  expect(res.status).toBe(201);
  return res.body.id as string;
}

/**
 * A chain of `length` groups named `<prefix><i>`, each the only member of the one before: `ids[0]` contains `ids[1]`,
 * and so on. `innermost` members go into the last one. Returns the ids, outermost first.
 */
async function chain(prefix: string, length: number, innermost: string[] = []): Promise<string[]> {
  const ids: string[] = [];
  for (let i = length - 1; i >= 0; i--) ids.unshift(await createGroup(`${prefix}${i}`, i === length - 1 ? innermost : ids.slice(0, 1)));
  return ids;
}

/** The detail of the 400 that refuses adding the chain's outermost group to its innermost one. */
function closingDetail(prefix: string, ids: string[]): string {
  const n = ids.length;
  const last = n - 1;
  return (
    `Group '${prefix}0' (${ids[0]}) cannot be a member of group '${prefix}${last}' (${ids[last]}): ` +
    `it would close a cycle of ${n} groups, each containing the next: ` +
    `${prefix}${last} > ${prefix}0 > ${prefix}1 > ${prefix}2 > … ${n + 1 - 8} more … > ` +
    `${prefix}${last - 3} > ${prefix}${last - 2} > ${prefix}${last - 1} > ${prefix}${last}.`
  );
}

/** The detail of the 400 that refuses `member` as a member of `group` when `member` already contains `group` directly. */
function pairDetail(group: { id: string; name: string }, member: { id: string; name: string }): string {
  return (
    `Group '${member.name}' (${member.id}) cannot be a member of group '${group.name}' (${group.id}): ` +
    `it would close a cycle of 2 groups, each containing the next: ${group.name} > ${member.name} > ${group.name}.`
  );
}

function invalidValue(detail: string): Json {
  return { schemas: [SCHEMA.error], status: '400', scimType: 'invalidValue', detail };
}

function addMembers(groupId: string, members: string[]): Promise<ScimResponse> {
  return scim('PATCH', `/Groups/${groupId}`, {
    token: token(),
    body: patchOp({ op: 'add', path: 'members', value: members.map((value) => ({ value })) }),
  });
}

async function memberIds(groupId: string): Promise<string[]> {
  const rows = await hub.db.query<{ member_id: string }>('select member_id from group_member where group_id = $1 order by 1', [groupId]);
  return rows.map((r) => r.member_id);
}

/** Group memberships the database holds that are on a cycle: none, ever. */
async function membershipsOnCycles(): Promise<unknown[]> {
  return hub.db.query(
    `with recursive inside (group_id, member_id, node) as (
        select group_id, member_id, member_id from group_member where member_type = 'Group'
        union
        select i.group_id, i.member_id, m.member_id from inside i join group_member m on m.group_id = i.node and m.member_type = 'Group'
      )
      select group_id, member_id from inside where node = group_id`,
  );
}

/** Memberships whose member is not a resource of the tenant: none, ever. */
async function danglingMembers(): Promise<unknown[]> {
  return hub.db.query(
    `select m.group_id, m.member_id from group_member m
      where not exists (select 1 from scim_user u where u.id = m.member_id and u.tenant_id = m.tenant_id)
        and not exists (select 1 from scim_group g where g.id = m.member_id and g.tenant_id = m.tenant_id)`,
  );
}

describe('a membership that would close a cycle through a long chain (regression: the check stopped at depth 32)', () => {
  it.each([40, 100])('is refused by PATCH at depth %i with 400 invalidValue naming the cycle, and nothing is written', async (n) => {
    const prefix = `patch${n}-`;
    const ids = await chain(prefix, n);
    const before = await eventCounts(hub);
    const res = await addMembers(ids[n - 1]!, [ids[0]!]);
    expect(res.status).toBe(400);
    expect(res.body).toEqual(invalidValue(closingDetail(prefix, ids)));
    expect(await eventCounts(hub)).toEqual(before);
    expect(await memberIds(ids[n - 1]!)).toEqual([]);
  });

  it.each([40, 100])('is refused by PUT at depth %i with 400 invalidValue naming the cycle, and nothing is written', async (n) => {
    const prefix = `put${n}-`;
    const user = await createUser(`put${n}-member`);
    const ids = await chain(prefix, n, [user]);
    const before = await eventCounts(hub);
    const res = await scim('PUT', `/Groups/${ids[n - 1]}`, {
      token: token(),
      body: { schemas: [SCHEMA.group], displayName: `${prefix}${n - 1}`, members: [{ value: user }, { value: ids[0] }] },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(invalidValue(closingDetail(prefix, ids)));
    expect(await eventCounts(hub)).toEqual(before);
    // The PUT's removal of the old members was rolled back with it.
    expect(await memberIds(ids[n - 1]!)).toEqual([user]);
  });

  it('is refused for a group PUT as its own member', async () => {
    const id = await createGroup('put-self');
    const res = await scim('PUT', `/Groups/${id}`, {
      token: token(),
      body: { schemas: [SCHEMA.group], displayName: 'put-self', members: [{ value: id }] },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(invalidValue('A group cannot be a member of itself.'));
  });

  it('cannot be made by POST: a new group around a chain of 40 is accepted, and the chain cannot then be closed through it', async () => {
    const prefix = 'post40-';
    const ids = await chain(prefix, 40);
    const around = await createGroup('post40-around', [ids[0]!]);
    expect(await memberIds(around)).toEqual([ids[0]]);
    const res = await addMembers(ids[39]!, [around]);
    expect(res.status).toBe(400);
    expect(res.body).toEqual(
      invalidValue(
        `Group 'post40-around' (${around}) cannot be a member of group 'post40-39' (${ids[39]}): ` +
          'it would close a cycle of 41 groups, each containing the next: ' +
          'post40-39 > post40-around > post40-0 > post40-1 > … 34 more … > post40-36 > post40-37 > post40-38 > post40-39.',
      ),
    );
  });

  it('is refused per operation in a Bulk request: PATCH, PUT, and a PATCH that adds a group the same request POSTed', async () => {
    const prefix = 'bulk40-';
    const ids = await chain(prefix, 40);
    const inner = ids[39]!;
    const before = await eventCounts(hub);
    const res = await scim('POST', '/Bulk', {
      token: token(),
      body: {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'],
        Operations: [
          { method: 'PATCH', path: `/Groups/${inner}`, data: patchOp({ op: 'add', path: 'members', value: [{ value: ids[0] }] }) },
          { method: 'PUT', path: `/Groups/${inner}`, data: { displayName: `${prefix}39`, members: [{ value: ids[0] }] } },
          { method: 'POST', path: '/Groups', bulkId: 'around', data: { displayName: 'bulk40-around', members: [{ value: ids[0] }] } },
          { method: 'PATCH', path: `/Groups/${inner}`, data: patchOp({ op: 'add', path: 'members', value: [{ value: 'bulkId:around' }] }) },
        ],
      },
    });
    expect(res.status).toBe(200);
    const operations = res.body.Operations as Json[];
    const around = String(operations[2]?.location).split('/').pop();
    const location = `${BASE}/Groups/${inner}`;
    expect(operations).toEqual([
      { method: 'PATCH', location, status: '400', response: invalidValue(closingDetail(prefix, ids)) },
      { method: 'PUT', location, status: '400', response: invalidValue(closingDetail(prefix, ids)) },
      { method: 'POST', bulkId: 'around', location: `${BASE}/Groups/${around}`, version: 'W/"1"', status: '201' },
      {
        method: 'PATCH',
        location,
        status: '400',
        response: invalidValue(
          `Group 'bulk40-around' (${around}) cannot be a member of group 'bulk40-39' (${inner}): ` +
            'it would close a cycle of 41 groups, each containing the next: ' +
            'bulk40-39 > bulk40-around > bulk40-0 > bulk40-1 > … 34 more … > bulk40-36 > bulk40-37 > bulk40-38 > bulk40-39.',
        ),
      },
    ]);
    // Only the POST wrote anything.
    expect(await eventCounts(hub)).toEqual({ outbox: before.outbox + 1, audit: before.audit + 1 });
    expect(await memberIds(inner)).toEqual([]);
  });

  it('is refused by the GraphQL addGroupMembers mutation with INVALID_INPUT on members', async () => {
    const prefix = 'gql40-';
    const ids = await chain(prefix, 40);
    const res = await gql(hub.app, hr, 'mutation($g: ID!, $m: [ID!]!) { addGroupMembers(tenant: "emea", group: $g, members: $m) { id } }', {
      g: ids[39],
      m: [ids[0]],
    });
    expect(res.body).toEqual({
      data: null,
      errors: [{ message: closingDetail(prefix, ids), path: ['addGroupMembers'], extensions: { code: 'INVALID_INPUT', field: 'members' } }],
    });
    expect(await memberIds(ids[39]!)).toEqual([]);
  });
});

describe('memberships added at the same time (regression: A += B and B += A were both accepted)', () => {
  it('accepts exactly one of A += B and B += A, for 30 pairs sent all at once', async () => {
    const pairs = await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const a = { id: await createGroup(`pair-${i}-a`), name: `pair-${i}-a` };
        const b = { id: await createGroup(`pair-${i}-b`), name: `pair-${i}-b` };
        return { a, b };
      }),
    );
    const answers = await Promise.all(pairs.map(({ a, b }) => Promise.all([addMembers(a.id, [b.id]), addMembers(b.id, [a.id])])));
    answers.forEach(([first, second], i) => {
      const { a, b } = pairs[i]!;
      expect([first.status, second.status].sort()).toEqual([204, 400]);
      if (first.status === 400) expect(first.body).toEqual(invalidValue(pairDetail(a, b)));
      else expect(second.body).toEqual(invalidValue(pairDetail(b, a)));
    });
    for (const { a, b } of pairs) expect([...(await memberIds(a.id)), ...(await memberIds(b.id))]).toHaveLength(1);
    expect(await membershipsOnCycles()).toEqual([]);
  });

  it('refuses exactly one membership of a ring of 6 closed by 6 requests at once, 10 times over', async () => {
    for (let round = 0; round < 10; round++) {
      const ring = await Promise.all(Array.from({ length: 6 }, (_, i) => createGroup(`ring-${round}-${i}`)));
      const answers = await Promise.all(ring.map((id, i) => addMembers(id, [ring[(i + 1) % ring.length]!])));
      expect(answers.map((a) => a.status).sort()).toEqual([204, 204, 204, 204, 204, 400]);
      // The refused one is whichever committed last: its group, its member, and the rest of the ring back to its group.
      const j = answers.findIndex((a) => a.status === 400);
      const around = [0, 1, 2, 3, 4, 5, 6].map((k) => (j + k) % ring.length);
      const name = (k: number) => `ring-${round}-${k}`;
      expect(answers[j]?.body).toEqual(
        invalidValue(
          `Group '${name(around[1]!)}' (${ring[around[1]!]}) cannot be a member of group '${name(j)}' (${ring[j]}): ` +
            `it would close a cycle of 6 groups, each containing the next: ${around.map(name).join(' > ')}.`,
        ),
      );
    }
    expect(await membershipsOnCycles()).toEqual([]);
  });
});

describe('a resource deleted while it is being added (regression: the deleted user stayed a member)', () => {
  const missing = (id: string) => invalidValue(`Member '${id}' does not exist in this tenant.`);

  it('is never left a member: DELETE /Users and PATCH add, 30 pairs at once', async () => {
    const pairs = await Promise.all(
      Array.from({ length: 30 }, async (_, i) => ({
        user: await createUser(`leaver-${i}`),
        group: await createGroup(`leaver-group-${i}`),
      })),
    );
    const answers = await Promise.all(
      pairs.map(({ user, group }) => Promise.all([scim('DELETE', `/Users/${user}`, { token: token() }), addMembers(group, [user])])),
    );
    answers.forEach(([deleted, added], i) => {
      expect(deleted.status).toBe(204);
      if (added.status !== 204) expect(added.body).toEqual(missing(pairs[i]!.user));
    });
    for (const { group } of pairs) expect(await memberIds(group)).toEqual([]);
    expect(await danglingMembers()).toEqual([]);
  });

  it('is never left a member: DELETE /Users and PUT of a group that lists it, 30 pairs at once', async () => {
    const pairs = await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const stays = await createUser(`put-stays-${i}`);
        const user = await createUser(`put-leaver-${i}`);
        return { stays, user, group: await createGroup(`put-leaver-group-${i}`, [stays, user]) };
      }),
    );
    const answers = await Promise.all(
      pairs.map(({ stays, user, group }, i) =>
        Promise.all([
          scim('DELETE', `/Users/${user}`, { token: token() }),
          scim('PUT', `/Groups/${group}`, {
            token: token(),
            body: { schemas: [SCHEMA.group], displayName: `put-leaver-group-${i}`, members: [{ value: stays }, { value: user }] },
          }),
        ]),
      ),
    );
    answers.forEach(([deleted, replaced], i) => {
      expect(deleted.status).toBe(204);
      if (replaced.status !== 200) expect(replaced.body).toEqual(missing(pairs[i]!.user));
    });
    for (const { stays, group } of pairs) expect(await memberIds(group)).toEqual([stays]);
    expect(await danglingMembers()).toEqual([]);
  });

  it('is never left a member: DELETE /Groups and PATCH add of that group, 30 pairs at once', async () => {
    const pairs = await Promise.all(
      Array.from({ length: 30 }, async (_, i) => ({ inner: await createGroup(`gone-${i}`), outer: await createGroup(`gone-outer-${i}`) })),
    );
    const answers = await Promise.all(
      pairs.map(({ inner, outer }) => Promise.all([scim('DELETE', `/Groups/${inner}`, { token: token() }), addMembers(outer, [inner])])),
    );
    answers.forEach(([deleted, added], i) => {
      expect(deleted.status).toBe(204);
      if (added.status !== 204) expect(added.body).toEqual(missing(pairs[i]!.inner));
    });
    for (const { outer } of pairs) expect(await memberIds(outer)).toEqual([]);
    expect(await danglingMembers()).toEqual([]);
  });
});

describe("a user's groups (regression: cut at depth 32)", () => {
  it('lists all 40 groups of a user nested 40 deep: the innermost direct, the others indirect', async () => {
    const user = await createUser('deep-40');
    const ids = await chain('deep40-', 40, [user]);
    const res = await scim('GET', `/Users/${user}`, { token: token() });
    expect(res.status).toBe(200);
    const expected = ids
      .map((id, i) => ({ value: id, $ref: `${BASE}/Groups/${id}`, display: `deep40-${i}`, type: i === 39 ? 'direct' : 'indirect' }))
      .sort((x, y) => (x.value < y.value ? -1 : 1));
    expect(res.body.groups).toEqual(expected);

    const listed = await scim('GET', `/Users?filter=${encodeURIComponent('userName eq "deep-40"')}`, { token: token() });
    expect((listed.body.Resources as Json[])[0]?.groups).toEqual(expected);

    const account = await hub.app.inject({
      method: 'POST',
      url: '/graphql',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${hr}` },
      payload: JSON.stringify({
        query: 'query($id: ID!) { account(tenant: "emea", id: $id) { groups { displayName direct } } }',
        variables: { id: user },
      }),
    });
    const groups = JSON.parse(account.body).data.account.groups as { displayName: string; direct: boolean }[];
    expect(groups).toHaveLength(40);
    expect(groups.filter((g) => g.direct)).toEqual([{ displayName: 'deep40-39', direct: true }]);
  });

  it('lists all 100 groups of a user nested 100 deep', async () => {
    const user = await createUser('deep-100');
    const ids = await chain('deep100-', 100, [user]);
    const res = await scim('GET', `/Users/${user}`, { token: token() });
    const groups = res.body.groups as Json[];
    expect(groups.map((g) => g.value).sort()).toEqual([...ids].sort());
    expect(groups.filter((g) => g.type === 'direct').map((g) => g.value)).toEqual([ids[99]]);
  });
});
