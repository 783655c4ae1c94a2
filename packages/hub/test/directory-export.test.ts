import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { memoryTarget } from '@meridian/connector-sdk';
import { SCHEMA } from '@meridian/core';
import { gql, type Json, scimClient } from '@meridian/test-utils/apps';
import { type HubHarness, startHub } from './harness.js';

// Issue 6: a community pushes its global directory to an external directory. The hub's replication engine
// projects each write into the directory (relay, projector) and its exporter sends the people through a
// connector; the people queries themselves are tested on the GraphQL app in packages/graphql/test.

let hub: HubHarness;
const scim = scimClient(() => hub.app);
const ctx = { actor: { type: 'system' as const, id: 'test' }, requestId: 'people-test' };
const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
let amerToken: string;
let hrToken: string;

const enterprise = (values: Json) => ({ schemas: [SCHEMA.user, SCHEMA.enterpriseUser], [SCHEMA.enterpriseUser]: values });

/** The body of the answer to one operation, posted with the shared GraphQL helper. */
const answer = async (token: string, query: string, variables?: Json) => (await gql(hub.app, token, query, variables)).body;

async function post(token: string, path: string, body: Json): Promise<string> {
  const res = await scim('POST', path, { token, body });
  expect(res.status).toBe(201);
  return String(res.body.id);
}

/** 60 people: each has an account in emea; the even ones one in amer too (same employeeNumber); managers and groups in both. */
const PEOPLE = 60;

beforeAll(async () => {
  hub = await startHub();
  await hub.runtime.admin.createTenant(platform, { slug: 'amer', name: 'AMER', community: 'coi' }, ctx);
  amerToken = (await hub.runtime.admin.issueToken(platform, { tenant: 'amer', scopes: ['scim:read', 'scim:write'] }, ctx)).token;
  hrToken = (await hub.runtime.admin.issueToken(platform, { community: 'coi', role: 'hr_provider' }, ctx)).token;
  const emeaBoss = await post(hub.tenants.emea.token, '/Users', {
    ...enterprise({ employeeNumber: 'B0' }),
    userName: 'boss@emea.example',
    displayName: 'Zoe Boss',
  });
  const amerBoss = await post(amerToken, '/Users', {
    ...enterprise({ employeeNumber: 'B0' }),
    userName: 'boss@amer.example',
    displayName: 'Zoe Boss',
  });
  const emeaMembers: string[] = [];
  const amerMembers: string[] = [];
  for (let i = 0; i < PEOPLE; i++) {
    const n = String(i).padStart(2, '0');
    emeaMembers.push(
      await post(hub.tenants.emea.token, '/Users', {
        ...enterprise({ employeeNumber: `E${n}`, department: i % 3 === 0 ? 'Sales' : 'Engineering', manager: { value: emeaBoss } }),
        userName: `p${n}@emea.example`,
        displayName: `Person ${n}`,
        name: { givenName: 'Person', familyName: `Family${n}` },
      }),
    );
    if (i % 2 === 0) {
      amerMembers.push(
        await post(amerToken, '/Users', {
          ...enterprise({ employeeNumber: `E${n}`, manager: { value: amerBoss } }),
          userName: `p${n}@amer.example`,
          displayName: `Person ${n}`,
        }),
      );
    }
  }
  await post(hub.tenants.emea.token, '/Groups', { displayName: 'EMEA staff', members: emeaMembers.map((value) => ({ value })) });
  await post(amerToken, '/Groups', { displayName: 'AMER staff', members: amerMembers.map((value) => ({ value })) });
  await hub.runtime.replication.relay.drain();
  await hub.runtime.replication.projector?.drain();

  // E02's amer account unlinked by hand: a person of its own that keeps E02's employeeNumber.
  const communityAdmin = (await hub.runtime.admin.issueToken(platform, { community: 'coi', role: 'community_admin' }, ctx)).token;
  const person = (
    await answer(
      hrToken,
      '{ people(first: 1, filter: { employeeNumber: "E02" }) { edges { node { id accounts { id tenant { slug } } } } } }',
    )
  ).data?.people.edges[0].node;
  const amerAccount = person.accounts.find((a: Json) => (a.tenant as Json).slug === 'amer').id;
  const unlinked = await answer(communityAdmin, `mutation { unlinkAccount(tenant: "amer", account: "${amerAccount}") { id } }`);
  expect(unlinked.data?.unlinkAccount.id).not.toBe(person.id);
});
afterAll(() => hub.close());

describe('a community pushes its global directory to an external directory', () => {
  it('sends every person once, then each change and each leaver, through a connector', async () => {
    const communityAdmin = (await hub.runtime.admin.issueToken(platform, { community: 'coi', role: 'community_admin' }, ctx)).token;
    const target = memoryTarget('coi-global-directory');
    target.token = 'export-secret';
    const created = await answer(
      communityAdmin,
      `mutation { createDirectoryExport(input: { name: "global", kind: "memory", config: { target: "coi-global-directory" }, secrets: { token: "export-secret" } }) {
          name kind secretNames } }`,
    );
    expect(created.errors).toBeUndefined();
    expect(JSON.stringify(created)).not.toContain('export-secret');
    const people = (await answer(hrToken, '{ people(first: 1) { totalCount } }')).data?.people.totalCount;
    expect(created.data?.createDirectoryExport).toEqual({ name: 'global', kind: 'memory', secretNames: ['token'] });
    const queued = await answer(hrToken, '{ directoryExports { counts { pending synced } } }');
    expect(queued.data?.directoryExports).toEqual([{ counts: { pending: people, synced: 0 } }]);

    const exporter = hub.runtime.replication.directoryExports?.exporter;
    await exporter?.drain();
    // A person unlinked by hand (in beforeAll) keeps E02's employeeNumber, the userName at the target: it is
    // not merged into E02's object there, but fails for an admin to see.
    const numbers = (await answer(hrToken, '{ people(first: 500) { edges { node { employeeNumber } } } }')).data?.people.edges.map(
      (e: Json) => (e.node as Json).employeeNumber,
    );
    const distinct = new Set(numbers).size;
    expect(target.list('User')).toHaveLength(distinct);
    const failed = await answer(hrToken, '{ directoryExports { counts { synced failed } } }');
    expect(failed.data?.directoryExports).toEqual([{ counts: { synced: distinct, failed: people - distinct } }]);
    const e10 = (
      await answer(
        hrToken,
        '{ people(first: 1, filter: { employeeNumber: "E10" }) { edges { node { id accounts { id tenant { slug } } } } } }',
      )
    ).data?.people.edges[0].node;
    expect(target.byLocalId(e10.id)?.attributes).toMatchObject({ displayName: 'Person 10', externalId: e10.id });

    // A mover: the change reaches the export.
    const account = e10.accounts.find((a: Json) => (a.tenant as Json).slug === 'emea').id;
    await scim('PATCH', `/Users/${account}`, {
      token: hub.tenants.emea.token,
      body: {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'replace', path: 'title', value: 'Director' }],
      },
    });
    // A leaver with one account: the person leaves the directory, and the export.
    const e11 = (await answer(hrToken, '{ people(first: 1, filter: { employeeNumber: "E11" }) { edges { node { id accounts { id } } } } }'))
      .data?.people.edges[0].node;
    expect((await scim('DELETE', `/Users/${e11.accounts[0].id}`, { token: hub.tenants.emea.token })).status).toBe(204);
    await hub.runtime.replication.relay.drain();
    await hub.runtime.replication.projector?.drain();
    await exporter?.drain();
    expect(target.byLocalId(e10.id)?.attributes.title).toBe('Director');
    expect(target.byLocalId(e11.id)).toBeUndefined();
    expect(target.list('User')).toHaveLength(distinct - 1);

    const listed = await answer(hrToken, '{ directoryExports { name counts { pending synced deleted failed } } }');
    expect(listed.data?.directoryExports).toEqual([
      { name: 'global', counts: { pending: 0, synced: distinct - 1, deleted: 1, failed: people - distinct } },
    ]);
    const refused = await answer(hrToken, 'mutation { deleteDirectoryExport(name: "global") }');
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN' });
    expect((await answer(communityAdmin, 'mutation { deleteDirectoryExport(name: "global") }')).data?.deleteDirectoryExport).toBe(true);
  });
});
