import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type Person, SCHEMA } from '@meridian/core';
import { forkForPlatform } from '@meridian/store';
import { type Json, scimClient } from '@meridian/test-utils/apps';
import { type HubHarness, startHub } from './harness.js';

// Issue 6 / use case 3.4: two offices of one community create overlapping people over SCIM; the global
// directory links them by the community's rules, shows the authoritative values, and lists what the rules
// cannot settle. Fed by the outbox through the relay, as in production; the test drains both steps.

let hub: HubHarness;
const scim = scimClient(() => hub.app);
const ctx = { actor: { type: 'system' as const, id: 'test' }, requestId: 'directory-test' };
const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
let amerToken: string;
let amerId: string;
let coiId: string;
const ids: Record<string, { tenant: string; id: string }> = {};

async function settle(): Promise<void> {
  await hub.runtime.replication.relay.drain();
  await hub.runtime.replication.projector?.drain();
}

async function createUser(office: 'emea' | 'amer', key: string, body: Json): Promise<void> {
  const token = office === 'emea' ? hub.tenants.emea.token : amerToken;
  const res = await scim('POST', '/Users', { token, body });
  expect(res.status).toBe(201);
  ids[key] = { tenant: office === 'emea' ? hub.tenants.emea.id : amerId, id: String(res.body.id) };
}

const enterprise = (values: Json) => ({ schemas: [SCHEMA.user, SCHEMA.enterpriseUser], [SCHEMA.enterpriseUser]: values });

async function allPeople(): Promise<Person[]> {
  const { page } = await hub.runtime.directory.people(platform, { community: 'coi', first: 100, withTotalCount: true });
  return page.items;
}

async function personOf(key: string): Promise<Person> {
  const ref = ids[key];
  if (!ref) throw new Error(key);
  const [account] = await hub.runtime.directory.store.accounts(coiId, [{ tenantId: ref.tenant, userId: ref.id }]);
  if (!account) throw new Error(`${key} is not in the directory`);
  return hub.runtime.directory.person(platform, account.personId, 'coi');
}

beforeAll(async () => {
  hub = await startHub();
  const amer = await hub.runtime.admin.createTenant(platform, { slug: 'amer', name: 'AMER', community: 'coi' }, ctx);
  amerId = amer.id;
  coiId = amer.communityId;
  amerToken = (await hub.runtime.admin.issueToken(platform, { tenant: 'amer', scopes: ['scim:read', 'scim:write'] }, ctx)).token;

  await createUser('emea', 'alice.emea', {
    ...enterprise({ employeeNumber: 'E1', department: 'Sales' }),
    userName: 'alice@emea.example',
    displayName: 'Alice Smith',
    name: { givenName: 'Alice', familyName: 'Smith' },
    title: 'Account Executive',
    emails: [{ value: 'alice@example.com', type: 'work', primary: true }],
  });
  await createUser('amer', 'alice.amer', {
    ...enterprise({ employeeNumber: 'E1', department: 'Marketing' }),
    userName: 'asmith@amer.example',
    displayName: 'Alice Smith',
    name: { givenName: 'Alice', familyName: 'Smith' },
    emails: [{ value: 'Alice@Example.com', type: 'work' }],
  });
  await createUser('emea', 'bob', { ...enterprise({ employeeNumber: 'E2' }), userName: 'bob@emea.example', displayName: 'Bob Jones' });
  await createUser('amer', 'carol', { userName: 'carol@amer.example', displayName: 'Carol White' });
  // Another community's office: never part of coi's directory.
  const apac = await scim('POST', '/Users', {
    token: hub.tenants.apac.token,
    body: { ...enterprise({ employeeNumber: 'E1' }), userName: 'alice@apac.example', displayName: 'Alice Elsewhere' },
  });
  expect(apac.status).toBe(201);
  await settle();
});
afterAll(() => hub.close());

describe('the global directory of a community', () => {
  it('links accounts of the same employeeNumber into one person, out of the box', async () => {
    const people = await allPeople();
    expect(people.map((p) => p.values.displayName ?? null).sort()).toEqual(['Alice Smith', 'Bob Jones', 'Carol White']);
    const alice = await personOf('alice.emea');
    expect((await personOf('alice.amer')).id).toBe(alice.id);
    const accounts = await hub.runtime.directory.store.accountsOfPeople(coiId, [alice.id]);
    expect(accounts.map((a) => [a.tenantId, a.link]).sort()).toEqual(
      [
        [hub.tenants.emea.id, expect.any(String)],
        [amerId, expect.any(String)],
      ].sort(),
    );
    // Both are linked by the rule, the first one too once the second joined it.
    expect(accounts.map((a) => a.link)).toEqual(['rule:employeeNumber', 'rule:employeeNumber']);
    expect(alice.values).toMatchObject({ displayName: 'Alice Smith', givenName: 'Alice', familyName: 'Smith', employeeNumber: 'E1' });
    // Emails compare case-insensitively: the two offices agree.
    expect(alice.values.email).toBe('alice@example.com');
    // Only one office knows the title: no disagreement.
    expect(alice.values.title).toBe('Account Executive');
  });

  it('never merges a disagreement silently: it lists the conflict and leaves the value empty', async () => {
    const alice = await personOf('alice.emea');
    expect(alice.values.department).toBeUndefined();
    expect(alice.conflictCount).toBe(1);
    const { items } = await hub.runtime.directory.conflicts(platform, 'coi', { first: 50 });
    expect(items).toEqual([
      expect.objectContaining({
        kind: 'attribute',
        personId: alice.id,
        attribute: 'department',
        candidates: [
          { tenantId: hub.tenants.emea.id, userId: ids['alice.emea']?.id, value: 'Sales' },
          { tenantId: amerId, userId: ids['alice.amer']?.id, value: 'Marketing' },
        ],
      }),
    ]);
  });

  it('settles attributes by the source-of-authority rule, projecting every account again', async () => {
    const view = await hub.runtime.directory.setRules(
      platform,
      'coi',
      { authority: [{ attribute: 'department', tenants: ['amer', 'emea'] }] },
      ctx,
    );
    expect(view).toEqual({ correlation: ['employeeNumber'], authority: [{ attribute: 'department', tenants: ['amer', 'emea'] }] });
    await settle();
    const alice = await personOf('alice.emea');
    expect(alice.values.department).toBe('Marketing');
    expect(alice.sources.department).toEqual({ tenantId: amerId, userId: ids['alice.amer']?.id });
    expect(alice.conflictCount).toBe(0);
    expect((await hub.runtime.directory.conflicts(platform, 'coi', { first: 50 })).totalCount).toBe(0);
  });

  it('follows changes within one projection step: a mover, then a leaver', async () => {
    const bob = ids.bob;
    if (!bob) throw new Error('bob');
    const patched = await scim('PATCH', `/Users/${bob.id}`, {
      token: hub.tenants.emea.token,
      body: {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'replace', path: `${SCHEMA.enterpriseUser}:department`, value: 'Finance' }],
      },
    });
    expect(patched.status).toBe(200);
    await settle();
    expect((await personOf('bob')).values.department).toBe('Finance');
    expect((await scim('DELETE', `/Users/${bob.id}`, { token: hub.tenants.emea.token })).status).toBe(204);
    await settle();
    expect((await allPeople()).map((p) => p.values.displayName).sort()).toEqual(['Alice Smith', 'Carol White']);
  });

  it('links and unlinks by hand, audited in the office’s chain, and the rules leave a pinned account alone', async () => {
    const alice = await personOf('alice.emea');
    const carol = ids.carol;
    if (!carol) throw new Error('carol');
    const linked = await hub.runtime.directory.link(
      platform,
      { community: 'coi', tenant: 'amer', account: carol.id, person: alice.id },
      ctx,
    );
    expect(linked.id).toBe(alice.id);
    // Carol's account disagrees on displayName: now a conflict on Alice's person.
    expect(linked.values.displayName).toBeUndefined();
    expect(linked.conflictCount).toBeGreaterThan(0);
    // A change to the account does not undo the manual link.
    await scim('PATCH', `/Users/${carol.id}`, {
      token: amerToken,
      body: { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'title', value: 'CFO' }] },
    });
    await settle();
    expect((await personOf('carol')).id).toBe(alice.id);

    const alone = await hub.runtime.directory.unlink(platform, { community: 'coi', tenant: 'amer', account: carol.id }, ctx);
    expect(alone.id).not.toBe(alice.id);
    expect(alone.values.displayName).toBe('Carol White');
    expect((await personOf('alice.emea')).values.displayName).toBe('Alice Smith');

    const audit = await hub.runtime.audit.events(platform, 'amer', {}, { first: 100 });
    const actions = audit.items.map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['directory.linked', 'directory.unlinked']));
  });

  it('hands an account unlinked by hand back to the rules on release', async () => {
    const alice = await personOf('alice.emea');
    const amer = ids['alice.amer'];
    if (!amer) throw new Error('alice.amer');
    // By userName, as an admin would type it.
    const alone = await hub.runtime.directory.unlink(platform, { community: 'coi', tenant: 'amer', account: 'ASmith@amer.example' }, ctx);
    expect(alone.id).not.toBe(alice.id);
    await expect(
      hub.runtime.directory.unlink(platform, { community: 'coi', tenant: 'amer', account: 'nobody@amer.example' }, ctx),
    ).rejects.toMatchObject({
      code: 'NOT_FOUND',
      field: 'account',
    });
    // The rules leave it alone, and the account left behind stays where it is too.
    await hub.runtime.directory.rebuild(platform, 'coi');
    await settle();
    expect((await personOf('alice.amer')).id).toBe(alone.id);
    expect((await personOf('alice.emea')).id).toBe(alice.id);
    await hub.runtime.directory.release(platform, { community: 'coi', tenant: 'amer', account: amer.id }, ctx);
    await settle();
    expect((await personOf('alice.amer')).id).toBe(alice.id);
    expect(await hub.runtime.directory.store.peopleByIds(coiId, [alone.id])).toEqual([]);
  });

  it('lists an account that matches several people as a correlation conflict instead of merging them', async () => {
    await hub.runtime.directory.setRules(platform, 'coi', { correlation: ['employeeNumber', 'email'] }, ctx);
    await createUser('emea', 'dave', { ...enterprise({ employeeNumber: 'E7' }), userName: 'dave@emea.example', displayName: 'Dave' });
    await createUser('amer', 'dana', { userName: 'dana@amer.example', displayName: 'Dana', emails: [{ value: 'shared@example.com' }] });
    await settle();
    // E7 points at Dave's person, shared@example.com at Dana's: the rules cannot tell which.
    await createUser('amer', 'ambiguous', {
      ...enterprise({ employeeNumber: 'E7' }),
      userName: 'ambiguous@amer.example',
      displayName: 'D.',
      emails: [{ value: 'shared@example.com' }],
    });
    await settle();
    const dave = await personOf('dave');
    const dana = await personOf('dana');
    const ambiguous = await personOf('ambiguous');
    expect(new Set([dave.id, dana.id, ambiguous.id]).size).toBe(3);
    const { items } = await hub.runtime.directory.conflicts(platform, 'coi', { first: 50 });
    const conflict = items.find((c) => c.kind === 'correlation');
    expect(conflict).toMatchObject({ tenantId: amerId, userId: ids.ambiguous?.id });
    expect(conflict?.candidates).toEqual(
      expect.arrayContaining([
        { personId: dave.id, rule: 'employeeNumber' },
        { personId: dana.id, rule: 'email' },
      ]),
    );
    // The admin decides: a manual link settles it.
    await hub.runtime.directory.link(
      platform,
      { community: 'coi', tenant: 'amer', account: String(ids.ambiguous?.id), person: dave.id },
      ctx,
    );
    expect((await hub.runtime.directory.conflicts(platform, 'coi', { first: 50 })).items.filter((c) => c.kind === 'correlation')).toEqual(
      [],
    );
  });

  it('keeps each community to itself', async () => {
    const other = await hub.runtime.directory.people(platform, { community: 'other', first: 50, withTotalCount: true });
    expect(other.page.items.map((p) => p.values.displayName)).toEqual(['Alice Elsewhere']);
    const community = { kind: 'community' as const, tokenId: 'x', communityId: coiId, scopes: ['directory:read' as const] };
    await expect(hub.runtime.directory.people(community, { community: 'other', first: 5, withTotalCount: false })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    const office = { kind: 'tenant' as const, tokenId: 'x', tenantId: hub.tenants.emea.id, scopes: ['graphql:read' as const] };
    await expect(hub.runtime.directory.people(office, { community: 'coi', first: 5, withTotalCount: false })).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
  });
});

describe('the projector', () => {
  it('projects around an entry that fails, keeps it queued with its error, and loses nothing', async () => {
    // An entry naming a community that does not exist: projecting its new person fails on the foreign key.
    const poison = '00000000-0000-4000-8000-000000000001';
    const platformScope = () => forkForPlatform(hub.runtime.orm);
    await createUser('amer', 'frank', { ...enterprise({ employeeNumber: 'E8' }), userName: 'frank@amer.example', displayName: 'Frank' });
    await platformScope().execute(
      `insert into directory_inbox (tenant_id, resource_type, resource_id, community_id, enqueued_at, not_before)
       values (?, 'User', ?, ?, now() - interval '1 minute', now() - interval '1 minute')`,
      [amerId, ids.frank?.id, poison],
    );
    await createUser('amer', 'erin', { ...enterprise({ employeeNumber: 'E9' }), userName: 'erin@amer.example', displayName: 'Erin' });
    await settle();
    expect((await personOf('erin')).values.displayName).toBe('Erin');
    const [left] = await platformScope().execute<{ attempts: number; last_error: string }[]>(
      'select attempts, last_error from directory_inbox where community_id = ?',
      [poison],
    );
    expect(left?.attempts).toBe(1);
    expect(left?.last_error).toMatch(/foreign key|violates/);
    // Put right, it goes through.
    await platformScope().execute('update directory_inbox set community_id = ?, not_before = now() where community_id = ?', [
      coiId,
      poison,
    ]);
    await settle();
    expect((await personOf('frank')).values.displayName).toBe('Frank');
  });
});
