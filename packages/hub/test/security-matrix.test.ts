import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BULK_SCHEMA, OPERATIONS, type Operation, permissionMatrix, ROLES, type Role, SCHEMA } from '@meridian/core';
import { scimPlugin } from '@meridian/scim';
import { type Json, patchOp, gql as post, type ScimMethod, scimClient } from '@meridian/test-utils/apps';
import Fastify from 'fastify';
import { type HubHarness, startHub } from './harness.js';

// Issue 4: every SCIM endpoint and every GraphQL operation, called with a real token of every role, is
// allowed or denied exactly as the permission matrix (core permissions.ts, docs/security.md) says.

let hub: HubHarness;
const tokens = {} as Record<Role, string>;
const scim = scimClient(() => hub.app);
const ctx = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
const provisioning = () => hub.tenants.emea.token;
const slugOf = (role: Role) => role.replaceAll('_', '-');

beforeAll(async () => {
  hub = await startHub();
  const { admin, settings } = hub.runtime;
  const me = await scim('POST', '/Users', { token: provisioning(), body: { userName: 'me@emea', nickName: 'Me' } });
  expect(me.status).toBe(201);
  await settings.setSelfServicePolicy(hub.tenants.emea.id, ['nickName'], ctx);
  tokens.platform_admin = hub.adminToken;
  const issue = async (role: Role, owner: { tenant?: string; community?: string }, user?: string) =>
    (await admin.issueToken(platform, { ...owner, tenant: owner.tenant ?? null, role, ...(user ? { user } : {}) }, ctx)).token;
  tokens.community_admin = await issue('community_admin', { community: 'coi' });
  tokens.office_admin = await issue('office_admin', { tenant: 'emea' });
  tokens.provisioner = await issue('provisioner', { tenant: 'emea' });
  tokens.hr_reader = await issue('hr_reader', { community: 'coi' });
  tokens.hr_provider = await issue('hr_provider', { community: 'coi' });
  tokens.auditor = await issue('auditor', { tenant: 'emea' });
  tokens.end_user = await issue('end_user', { tenant: 'emea' }, 'me@emea');
  tokens.relying_party = await issue('relying_party', { community: 'coi' });
});
afterAll(() => hub.close());

/** A fresh User and Group of emea, so that writes never trip over each other. */
async function fresh(): Promise<{ user: string; group: string }> {
  const n = Math.random().toString(36).slice(2);
  const user = await scim('POST', '/Users', { token: provisioning(), body: { userName: `u-${n}@emea` } });
  const group = await scim('POST', '/Groups', { token: provisioning(), body: { displayName: `g-${n}` } });
  expect([user.status, group.status]).toEqual([201, 201]);
  return { user: user.body.id as string, group: group.body.id as string };
}

/** A fresh User of emea, projected into coi's global directory: its id and its person's. */
async function projected(): Promise<{ user: string; person: string }> {
  const { user } = await fresh();
  await hub.runtime.replication.relay.drain();
  await hub.runtime.replication.projector?.drain();
  const coi = await hub.runtime.adminStore.findCommunity('coi');
  const [account] = await hub.runtime.directory.store.accounts(coi?.id ?? '', [{ tenantId: hub.tenants.emea.id, userId: user }]);
  if (!account) throw new Error('the fresh user was not projected');
  return { user, person: account.personId };
}

/** One request per SCIM operation; `{id}` is a fresh resource of the tenant. */
const SCIM_REQUESTS: Record<string, (ids: { user: string; group: string }, token: string) => Promise<{ path: string; body?: unknown }>> = {
  'GET /ServiceProviderConfig': async () => ({ path: '/ServiceProviderConfig' }),
  'GET /ResourceTypes': async () => ({ path: '/ResourceTypes' }),
  'GET /ResourceTypes/{id}': async () => ({ path: '/ResourceTypes/User' }),
  'GET /Schemas': async () => ({ path: '/Schemas' }),
  'GET /Schemas/{id}': async () => ({ path: `/Schemas/${SCHEMA.user}` }),
  'GET /Users': async () => ({ path: '/Users' }),
  'POST /Users/.search': async () => ({ path: '/Users/.search', body: { schemas: [SCHEMA.searchRequest], count: 1 } }),
  'GET /Users/{id}': async ({ user }) => ({ path: `/Users/${user}` }),
  'POST /Users': async () => ({ path: '/Users', body: { userName: `new-${Math.random().toString(36).slice(2)}@emea` } }),
  'PUT /Users/{id}': async ({ user }) => ({ path: `/Users/${user}`, body: { userName: `put-${user}@emea` } }),
  'PATCH /Users/{id}': async ({ user }) => ({ path: `/Users/${user}`, body: patchOp({ op: 'add', path: 'title', value: 'x' }) }),
  'DELETE /Users/{id}': async ({ user }) => ({ path: `/Users/${user}` }),
  'GET /Groups': async () => ({ path: '/Groups' }),
  'POST /Groups/.search': async () => ({ path: '/Groups/.search', body: { schemas: [SCHEMA.searchRequest], count: 1 } }),
  'GET /Groups/{id}': async ({ group }) => ({ path: `/Groups/${group}` }),
  'POST /Groups': async () => ({ path: '/Groups', body: { displayName: `new-${Math.random().toString(36).slice(2)}` } }),
  'PUT /Groups/{id}': async ({ group }) => ({ path: `/Groups/${group}`, body: { displayName: `put-${group}` } }),
  'PATCH /Groups/{id}': async ({ group }) => ({
    path: `/Groups/${group}`,
    body: patchOp({ op: 'replace', path: 'displayName', value: `p-${group}` }),
  }),
  'DELETE /Groups/{id}': async ({ group }) => ({ path: `/Groups/${group}` }),
  'POST /.search': async () => ({ path: '/.search', body: { schemas: [SCHEMA.searchRequest], count: 1 } }),
  'POST /Bulk': async () => ({
    path: '/Bulk',
    body: {
      schemas: [BULK_SCHEMA.request],
      Operations: [
        { method: 'POST', path: '/Users', bulkId: 'b1', data: { userName: `bulk-${Math.random().toString(36).slice(2)}@emea` } },
      ],
    },
  }),
  'GET /Me': async () => ({ path: '/Me' }),
  // A GET-then-PUT that changes only what the self-service policy allows.
  'PUT /Me': async (_ids, token) => {
    const current = await scim('GET', '/Me', { token });
    const body = current.status === 200 ? { ...current.body, nickName: 'Changed' } : { userName: 'me@emea' };
    return { path: '/Me', body };
  },
  'PATCH /Me': async () => ({ path: '/Me', body: patchOp({ op: 'replace', path: 'nickName', value: 'Patched' }) }),
};

/** What a GraphQL operation needs: a document, variables, and any setup done as the platform admin. */
type GraphqlSample = (role: Role) => Promise<{ query: string; variables?: Json }>;

const extension = (role: Role) => ({
  id: `urn:example:params:scim:schemas:extension:${slugOf(role)}:2.0:User`,
  name: `Ext${role}`,
  resourceType: 'User',
  attributes: [{ name: 'badge' }],
});

const GRAPHQL_REQUESTS: Record<string, GraphqlSample> = {
  'Query.communities': async () => ({ query: '{ communities { totalCount } }' }),
  'Query.tenants': async () => ({ query: '{ tenants { totalCount } }' }),
  'Query.tenant': async () => ({ query: '{ tenant(slug: "emea") { id } }' }),
  'Tenant.users': async () => ({ query: '{ tenant(slug: "emea") { users { totalCount } } }' }),
  'Tenant.groups': async () => ({ query: '{ tenant(slug: "emea") { groups { totalCount } } }' }),
  'Query.accounts': async () => ({ query: '{ accounts(tenant: "emea", first: 1) { totalCount } }' }),
  'Query.account': async () => ({
    query: 'query($id: ID!) { account(tenant: "emea", id: $id) { id } }',
    variables: { id: (await fresh()).user },
  }),
  'Query.groups': async () => ({ query: '{ groups(tenant: "emea", first: 1) { totalCount } }' }),
  'Group.memberPage': async () => ({
    query: '{ groups(tenant: "emea", first: 1) { edges { node { memberPage(first: 1) { totalCount } } } } }',
  }),
  'Query.me': async () => ({ query: '{ me { id userName } }' }),
  'Query.mySelfServicePolicy': async () => ({ query: '{ mySelfServicePolicy { editableAttributes } }' }),
  'Mutation.createAccount': async (role) => ({
    query: 'mutation($u: String!) { createAccount(tenant: "emea", input: { userName: $u }) { id } }',
    variables: { u: `hr-${slugOf(role)}-${Math.random().toString(36).slice(2)}@emea` },
  }),
  'Mutation.updateAccount': async () => ({
    query: 'mutation($id: ID!) { updateAccount(tenant: "emea", id: $id, input: { title: "Engineer" }) { version } }',
    variables: { id: (await fresh()).user },
  }),
  'Mutation.moveAccount': async () => ({
    query: 'mutation($id: ID!) { moveAccount(tenant: "emea", id: $id, department: "Sales") { department } }',
    variables: { id: (await fresh()).user },
  }),
  'Mutation.suspendAccount': async () => ({
    query: 'mutation($id: ID!) { suspendAccount(tenant: "emea", id: $id) { active } }',
    variables: { id: (await fresh()).user },
  }),
  'Mutation.restoreAccount': async () => ({
    query: 'mutation($id: ID!) { restoreAccount(tenant: "emea", id: $id) { active } }',
    variables: { id: (await fresh()).user },
  }),
  'Mutation.terminateAccount': async () => ({
    query: 'mutation($id: ID!) { terminateAccount(tenant: "emea", id: $id) }',
    variables: { id: (await fresh()).user },
  }),
  'Mutation.createGroup': async (role) => ({
    query: 'mutation($n: String!) { createGroup(tenant: "emea", displayName: $n) { id } }',
    variables: { n: `hr-${slugOf(role)}-${Math.random().toString(36).slice(2)}` },
  }),
  'Mutation.deleteGroup': async () => ({
    query: 'mutation($id: ID!) { deleteGroup(tenant: "emea", id: $id) }',
    variables: { id: (await fresh()).group },
  }),
  'Mutation.addGroupMembers': async () => {
    const { user, group } = await fresh();
    return {
      query: 'mutation($g: ID!, $m: [ID!]!) { addGroupMembers(tenant: "emea", group: $g, members: $m) { id } }',
      variables: { g: group, m: [user] },
    };
  },
  'Mutation.removeGroupMembers': async () => {
    const { user, group } = await fresh();
    return {
      query: 'mutation($g: ID!, $m: [ID!]!) { removeGroupMembers(tenant: "emea", group: $g, members: $m) { id } }',
      variables: { g: group, m: [user] },
    };
  },
  'Mutation.updateMe': async () => ({ query: 'mutation { updateMe(input: { nickName: "Self" }) { id } }' }),
  'Tenant.schemaExtensions': async () => ({ query: '{ tenant(slug: "emea") { schemaExtensions { id } } }' }),
  'Tenant.selfServicePolicy': async () => ({ query: '{ tenant(slug: "emea") { selfServicePolicy { editableAttributes } } }' }),
  'Tenant.tokens': async () => ({ query: '{ tenant(slug: "emea") { tokens { id } } }' }),
  // The community token list of the community the caller can see (its own).
  'Community.tokens': async () => ({ query: '{ communities { edges { node { slug tokens { id } } } } }' }),
  'Query.trustedIssuers': async () => ({ query: '{ trustedIssuers(tenant: "emea") { id } }' }),
  'Mutation.createCommunity': async (role) => ({ query: `mutation { createCommunity(slug: "c-${slugOf(role)}", name: "C") { id } }` }),
  'Mutation.createTenant': async (role) => ({
    query: `mutation { createTenant(slug: "t-${slugOf(role)}", name: "T", community: "coi") { id } }`,
  }),
  'Mutation.createToken': async () => ({ query: 'mutation { createToken(tenant: "emea", role: "provisioner") { token } }' }),
  'Mutation.revokeToken': async () => {
    const issued = await hub.runtime.admin.issueToken(platform, { tenant: 'emea', role: 'provisioner' }, ctx);
    return { query: 'mutation($id: ID!) { revokeToken(id: $id) { revokedAt } }', variables: { id: issued.record.id } };
  },
  'Mutation.createSchemaExtension': async (role) => ({
    query: 'mutation($e: SchemaExtensionInput!) { createSchemaExtension(tenant: "emea", extension: $e) { id } }',
    variables: { e: extension(role) },
  }),
  'Mutation.deleteSchemaExtension': async (role) => {
    const created = await hub.runtime.settings.createExtension(
      hub.tenants.emea.id,
      { ...extension(role), id: `${extension(role).id}:del` },
      ctx,
    );
    return { query: `mutation { deleteSchemaExtension(tenant: "emea", id: "${created.id}") }` };
  },
  'Mutation.setSelfServicePolicy': async () => ({
    query: 'mutation { setSelfServicePolicy(tenant: "emea", editableAttributes: ["nickName"]) { editableAttributes } }',
  }),
  'Mutation.addTrustedIssuer': async (role) => ({
    query: 'mutation($i: TrustedIssuerInput!) { addTrustedIssuer(input: $i) { id } }',
    variables: {
      i: { tenant: 'emea', issuer: `https://idp.example/${role}`, audience: 'meridian', jwksUri: 'https://idp.example/jwks' },
    },
  }),
  'Mutation.removeTrustedIssuer': async (role) => {
    const { openTrustedIssuers } = await import('../src/auth/trusted-issuers.js');
    const added = await openTrustedIssuers(hub.runtime).service.add(
      platform,
      { tenant: 'emea', issuer: `https://remove.example/${role}`, audience: 'meridian', jwksUri: 'https://remove.example/jwks' },
      ctx,
    );
    return { query: `mutation { removeTrustedIssuer(id: "${added.id}") { id } }` };
  },
  'Tenant.replicationTargets': async () => ({ query: '{ tenant(slug: "emea") { replicationTargets { id } } }' }),
  'Tenant.replicationCounts': async () => ({ query: '{ tenant(slug: "emea") { replicationCounts { targetId } } }' }),
  'Tenant.deadLetters': async () => ({ query: '{ tenant(slug: "emea") { deadLetters { id } } }' }),
  'Tenant.replicationWaitSeconds': async () => ({ query: '{ tenant(slug: "emea") { replicationWaitSeconds } }' }),
  'Query.targets': async () => ({ query: '{ targets(tenant: "emea") { id } }' }),
  'Account.replicationStatus': async () => ({
    query: 'query($id: ID!) { account(tenant: "emea", id: $id) { replicationStatus { status } } }',
    variables: { id: (await fresh()).user },
  }),
  'Query.replicationStatus': async () => ({
    query: 'query($id: ID!) { replicationStatus(tenant: "emea", kind: "User", id: $id) { status } }',
    variables: { id: (await fresh()).user },
  }),
  'Mutation.createReplicationTarget': async (role) => ({
    query: `mutation { createReplicationTarget(tenant: "emea", input: { name: "new-${slugOf(role)}", kind: "memory", config: { target: "new-${slugOf(role)}" } }) { id } }`,
  }),
  'Mutation.updateReplicationTarget': async (role) => {
    const name = await memoryTarget(role);
    return {
      query: `mutation { updateReplicationTarget(tenant: "emea", target: "${name}", input: { name: "${name}", kind: "memory", config: { target: "changed" } }) { id } }`,
    };
  },
  'Mutation.deleteReplicationTarget': async (role) => ({
    query: `mutation { deleteReplicationTarget(tenant: "emea", target: "${await memoryTarget(role)}") }`,
  }),
  'Mutation.pauseReplicationTarget': async (role) => ({
    query: `mutation { pauseReplicationTarget(tenant: "emea", target: "${await memoryTarget(role)}") { paused } }`,
  }),
  'Mutation.resumeReplicationTarget': async (role) => ({
    query: `mutation { resumeReplicationTarget(tenant: "emea", target: "${await memoryTarget(role)}") { paused } }`,
  }),
  'Mutation.testReplicationTarget': async (role) => ({
    query: `mutation { testReplicationTarget(tenant: "emea", target: "${await memoryTarget(role)}") { ok } }`,
  }),
  'Mutation.reconcileReplicationTarget': async (role) => ({
    query: `mutation { reconcileReplicationTarget(tenant: "emea", target: "${await memoryTarget(role)}") { dryRun } }`,
  }),
  'Mutation.migrateReplicationTarget': async (role) => ({
    query: `mutation { migrateReplicationTarget(tenant: "emea", from: "${await memoryTarget(role)}", to: "${await memoryTarget(role)}") { dryRun } }`,
  }),
  // A scheduled retirement exists for no target: an authorized caller gets NOT_FOUND on the target, not on the tenant.
  'Mutation.cancelReplicationTargetRetirement': async () => ({
    query: 'mutation { cancelReplicationTargetRetirement(tenant: "emea", target: "no-such-target") { id } }',
  }),
  // No dead letter exists: an authorized caller gets NOT_FOUND on the id, not on the tenant.
  'Mutation.replayDeadLetter': async () => ({
    query: 'mutation { replayDeadLetter(tenant: "emea", id: "00000000-0000-7000-8000-000000000000") { id } }',
  }),
  'Mutation.setReplicationWaitSeconds': async () => ({ query: 'mutation { setReplicationWaitSeconds(tenant: "emea", seconds: 0) }' }),
  'Query.auditEvents': async () => ({ query: '{ auditEvents(tenant: "emea", first: 1) { totalCount } }' }),
  'Query.auditVerification': async () => ({ query: '{ auditVerification(tenant: "emea") { ok } }' }),
  'Query.people': async () => ({ query: '{ people(community: "coi", first: 1) { totalCount } }' }),
  'Query.person': async () => ({ query: `{ person(community: "coi", id: "${(await projected()).person}") { id } }` }),
  'Query.directoryConflicts': async () => ({ query: '{ directoryConflicts(community: "coi") { totalCount } }' }),
  'Query.directoryRules': async () => ({ query: '{ directoryRules(community: "coi") { correlation } }' }),
  'Account.person': async () => ({ query: '{ accounts(tenant: "emea", first: 1) { edges { node { person { id } } } } }' }),
  'Mutation.setDirectoryRules': async () => ({
    query: 'mutation { setDirectoryRules(community: "coi", correlation: ["employeeNumber"]) { correlation } }',
  }),
  'Mutation.linkAccount': async () => {
    const { user, person } = await projected();
    return { query: `mutation { linkAccount(community: "coi", tenant: "emea", account: "${user}", person: "${person}") { id } }` };
  },
  'Mutation.unlinkAccount': async () => ({
    query: `mutation { unlinkAccount(community: "coi", tenant: "emea", account: "${(await projected()).user}") { id } }`,
  }),
  'Mutation.releaseAccount': async () => ({
    query: `mutation { releaseAccount(community: "coi", tenant: "emea", account: "${(await projected()).user}") }`,
  }),
  'Mutation.pinAttribute': async () => ({
    query: `mutation { pinAttribute(community: "coi", person: "${(await projected()).person}", attribute: "displayName", tenant: "emea") { id } }`,
  }),
  'Mutation.rebuildDirectory': async () => ({ query: 'mutation { rebuildDirectory(community: "coi") }' }),
  'Query.directoryExports': async () => ({ query: '{ directoryExports(community: "coi") { name } }' }),
  'Mutation.createDirectoryExport': async (role) => ({
    query: `mutation { createDirectoryExport(community: "coi", input: { name: "x-${slugOf(role)}", kind: "memory", config: { target: "x-${slugOf(role)}" } }) { id } }`,
  }),
  'Mutation.deleteDirectoryExport': async (role) => {
    const name = `d-${slugOf(role)}`;
    const exports = hub.runtime.replication.directoryExports;
    if (!exports) throw new Error('no directory exports');
    await exports.create(platform, 'coi', { name, kind: 'memory', config: { target: name } }, ctx).catch(() => undefined);
    return { query: `mutation { deleteDirectoryExport(community: "coi", name: "${name}") }` };
  },
  'Query.relyingParties': async () => ({ query: '{ relyingParties(community: "coi") { clientId } }' }),
  'Query.relyingPartyGrants': async (role) => ({
    query: `{ relyingPartyGrants(community: "coi", clientId: "${await relyingParty(role)}") { id } }`,
  }),
  'Mutation.createRelyingParty': async (role) => ({
    query: 'mutation($i: RelyingPartyInput!) { createRelyingParty(input: $i) { clientSecret } }',
    variables: { i: { community: 'coi', name: `rp-${slugOf(role)}`, redirectUris: ['https://rp.example/cb'], claims: ['email'] } },
  }),
  'Mutation.updateRelyingParty': async (role) => ({
    query: `mutation { updateRelyingParty(community: "coi", clientId: "${await relyingParty(role)}", changes: { maxCacheSeconds: 60 }) { clientId } }`,
  }),
  'Mutation.deleteRelyingParty': async (role) => ({
    query: `mutation { deleteRelyingParty(community: "coi", clientId: "${await relyingParty(role)}") { clientId } }`,
  }),
  'Mutation.rotateRelyingPartySecret': async (role) => ({
    query: `mutation { rotateRelyingPartySecret(community: "coi", clientId: "${await relyingParty(role)}") { clientSecret } }`,
  }),
  // No grant exists: an authorized caller gets NOT_FOUND on the id, not on the community.
  'Mutation.revokeGrant': async () => ({ query: 'mutation { revokeGrant(community: "coi", id: "no-such-grant") }' }),
  'Community.ssoTheme': async () => ({ query: '{ communities { edges { node { slug ssoTheme { primaryColour } } } } }' }),
  'Mutation.setCommunityTheme': async () => ({
    query: 'mutation { setCommunityTheme(community: "coi", theme: { primaryColour: "#1f4e8c" }) { primaryColour } }',
  }),
  'Account.grants': async () => ({ query: '{ me { grants { id } } }' }),
  'Mutation.revokeMyGrant': async () => ({ query: 'mutation { revokeMyGrant(id: "no-such-grant") }' }),
  'Query.offboardings': async () => ({ query: '{ offboardings(tenant: "emea", first: 1) { id } }' }),
  // A dry run: the plan is computed and nothing changes, so every allowed role can run it on fresh Users.
  'Mutation.offboardAccount': async () => {
    const [leaver, successor] = [await fresh(), await fresh()];
    return {
      query: 'mutation($i: OffboardAccountInput!) { offboardAccount(tenant: "emea", input: $i) { dryRun } }',
      variables: { i: { user: leaver.user, successor: successor.user, dryRun: true } },
    };
  },
  'Mutation.cancelOffboarding': async () => ({
    query: 'mutation($u: String!) { cancelOffboarding(tenant: "emea", user: $u) { id } }',
    variables: { u: (await fresh()).user },
  }),
  'Mutation.setRelyingPartyJitTargets': async (role) => ({
    query: `mutation { setRelyingPartyJitTargets(community: "coi", clientId: "${await relyingParty(role)}", targetIds: []) { targetId } }`,
  }),
  'Query.eventStreams': async () => ({ query: '{ eventStreams(community: "coi") { id } }' }),
  'Query.eventStream': async (role) => ({ query: `{ eventStream(community: "coi", id: "${await eventStream(role)}") { id } }` }),
  'Mutation.createEventStream': async (role) => ({
    query: 'mutation($i: CreateEventStreamInput!) { createEventStream(input: $i) { id } }',
    variables: { i: { community: 'coi', clientId: await relyingParty(role), events: ['urn:ietf:params:scim:event:prov:delete'] } },
  }),
  'Mutation.setEventStreamStatus': async (role) => ({
    query: `mutation { setEventStreamStatus(community: "coi", id: "${await eventStream(role)}", status: "paused") { status } }`,
  }),
  'Mutation.deleteEventStream': async (role) => ({
    query: `mutation { deleteEventStream(community: "coi", id: "${await eventStream(role)}") { id } }`,
  }),
  // Inbound sources (issues 16 and 18): a sample on a source that does not exist is authorized or not before it is looked up.
  'Query.inboundSources': async () => ({ query: '{ inboundSources(tenant: "emea") { id } }' }),
  'Query.inboundSource': async () => ({ query: '{ inboundSource(tenant: "emea", source: "absent") { id } }' }),
  'Mutation.createInboundSource': async (role) => ({
    query: 'mutation($i: InboundSourceInput!) { createInboundSource(tenant: "emea", input: $i) { id secretNames } }',
    variables: {
      i: {
        name: `s-${slugOf(role)}`,
        kind: 'ldap',
        config: { url: 'ldaps://ldap.example.org', bindDn: 'cn=hub,dc=example,dc=org', baseDn: 'ou=people,dc=example,dc=org' },
        secrets: { bindPassword: 'matrix-secret' },
      },
    },
  }),
  'Mutation.updateInboundSource': async () => ({
    query: 'mutation { updateInboundSource(tenant: "emea", source: "absent", changes: { syncIntervalSeconds: 300 }) { id } }',
  }),
  'Mutation.deleteInboundSource': async () => ({ query: 'mutation { deleteInboundSource(tenant: "emea", source: "absent") }' }),
  'Mutation.syncInboundSource': async () => ({
    query: 'mutation { syncInboundSource(tenant: "emea", source: "absent", dryRun: true) { status } }',
  }),
  'Mutation.testInboundSource': async () => ({
    query: 'mutation { testInboundSource(tenant: "emea", source: "absent", email: "a@example.org") { wouldCreate } }',
  }),
  // The admin console (issue 21): every caller may ask who it is; console roles are granted like tokens are issued.
  'Query.viewer': async () => ({ query: '{ viewer { actingRole level allowedActions } }' }),
  'Query.tokens': async () => ({ query: '{ tokens(tenant: "emea") { id role prefix } }' }),
  'Query.consoleRoleGrants': async () => ({ query: '{ consoleRoleGrants(tenant: "emea") { id } }' }),
  'Mutation.grantConsoleRole': async () => ({
    query: 'mutation($i: GrantConsoleRoleInput!) { grantConsoleRole(input: $i) { id } }',
    variables: { i: { tenant: 'emea', user: (await fresh()).user, role: 'office_admin' } },
  }),
  'Mutation.revokeConsoleRole': async () => {
    const granted = await hub.runtime.consoleRoles.service.grant(
      platform,
      { tenant: 'coi/emea', user: (await fresh()).user, role: 'office_admin' },
      ctx,
    );
    return { query: 'mutation($id: ID!) { revokeConsoleRole(id: $id) { id } }', variables: { id: granted.id } };
  },
};

/** A fresh relying party of coi, registered by the platform admin; its client id. */
async function relyingParty(role: Role): Promise<string> {
  const made = await hub.runtime.relyingParties.create(
    platform,
    { community: 'coi', name: `m-${slugOf(role)}`, redirectUris: ['https://rp.example/cb'], claims: 'email' },
    ctx,
  );
  return made.relyingParty.clientId;
}

/** A fresh poll stream of coi for a fresh relying party, made by the platform admin; its id. */
async function eventStream(role: Role): Promise<string> {
  const stream = await hub.runtime.streams.service.adminCreate(
    platform,
    'coi',
    { kind: 'client', clientId: await relyingParty(role) },
    { events_requested: ['urn:ietf:params:scim:event:prov:delete'] },
    ctx,
  );
  return stream.id;
}

/** A fresh in-memory replication target of emea, made by the platform admin; its name. */
async function memoryTarget(role: Role): Promise<string> {
  const name = `m-${slugOf(role)}-${Math.random().toString(36).slice(2, 8)}`;
  const res = await gql(
    hub.adminToken,
    `mutation { createReplicationTarget(tenant: "emea", input: { name: "${name}", kind: "memory", config: { target: "${name}" } }) { id } }`,
  );
  expect(res.body.errors).toBeUndefined();
  return name;
}

const gql = (token: string, query: string, variables?: Json) => post(hub.app, token, query, variables);

const matrix = permissionMatrix();
const cells = (api: Operation['api']) =>
  matrix
    .filter((row) => row.operation.api === api)
    .flatMap(({ operation, allowed }) => ROLES.map((role) => [operation.name, role, allowed[role]] as const));

describe('the SCIM matrix', () => {
  it.each(cells('SCIM'))('%s as %s: allowed %s', async (name, role, allowed) => {
    const request = SCIM_REQUESTS[name];
    if (!request) throw new Error(`No sample request for ${name}: add one to SCIM_REQUESTS.`);
    const [method] = name.split(' ') as [ScimMethod];
    const sample = await request(await fresh(), tokens[role]);
    const res = await scim(method, sample.path, { token: tokens[role], ...(sample.body !== undefined ? { body: sample.body } : {}) });
    if (allowed) {
      // The sample requests are valid, so an allowed one succeeds; on failure the SCIM error says why.
      expect(res.status < 400 ? 'succeeded' : res.body).toBe('succeeded');
    } else {
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ schemas: [SCHEMA.error], status: '403' });
    }
  });

  it.each(ROLES)('POST and DELETE /Me answer 403 to %s', async (role) => {
    expect((await scim('POST', '/Me', { token: tokens[role], body: { userName: 'x@emea' } })).status).toBe(403);
    expect((await scim('DELETE', '/Me', { token: tokens[role] })).status).toBe(403);
  });

  it('classifies every SCIM route', async () => {
    const routes: string[] = [];
    const probe = Fastify();
    probe.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) if (method !== 'HEAD') routes.push(`${method} ${route.url.replace(/:id/g, '{id}')}`);
    });
    await probe.register(scimPlugin, {
      prefix: '',
      resources: hub.runtime.resources,
      settings: hub.runtime.settings,
      authenticate: async () => undefined,
      baseUrl: 'https://hub.test/scim/v2',
    });
    await probe.ready();
    await probe.close();
    const classified = OPERATIONS.filter((o) => o.api === 'SCIM').map((o) => o.name);
    expect(routes.filter((r) => !classified.includes(r)).sort()).toEqual(['DELETE /Me', 'POST /Me']);
    expect(classified.filter((c) => !routes.includes(c))).toEqual([]);
  });
});

describe('the GraphQL matrix', () => {
  // The SCIM matrix's writes, projected into the global directory once, so that no one sample waits for them all.
  beforeAll(async () => {
    await hub.runtime.replication.relay.drain();
    await hub.runtime.replication.projector?.drain();
  }, 300_000);

  it.each(cells('GraphQL'))('%s as %s: allowed %s', async (name, role, allowed) => {
    const sample = GRAPHQL_REQUESTS[name];
    if (!sample) throw new Error(`No sample request for ${name}: add one to GRAPHQL_REQUESTS.`);
    const { query, variables } = await sample(role);
    const res = await gql(tokens[role], query, variables);
    if (allowed) {
      // Authorized: no error at all, except a NOT_FOUND on the sample's own data (never on the tenant or community).
      const refusals = (res.body.errors ?? []).filter(
        (e) => e.extensions.code !== 'NOT_FOUND' || e.extensions.field === 'tenant' || e.extensions.field === 'community',
      );
      expect(refusals).toEqual([]);
      expect(res.status).toBe(200);
    } else {
      expect(['FORBIDDEN', 'NOT_FOUND']).toContain(res.body.errors?.[0]?.extensions.code);
    }
  });

  it('classifies every Query and Mutation field of the schema', async () => {
    const sdl = await readFile(fileURLToPath(new URL('../../graphql/schema.graphql', import.meta.url)), 'utf8');
    const fieldsOf = (type: string) => {
      const block = new RegExp(`^type ${type} \\{\\n([\\s\\S]*?)^\\}`, 'm').exec(sdl)?.[1] ?? '';
      return [...block.matchAll(/^ {2}(\w+)[(:]/gm)].map((m) => `${type}.${m[1]}`);
    };
    const inSchema = [...fieldsOf('Query'), ...fieldsOf('Mutation')];
    expect(inSchema.length).toBeGreaterThan(10);
    const classified = OPERATIONS.filter((o) => o.api === 'GraphQL').map((o) => o.name);
    expect(inSchema.filter((f) => !classified.includes(f))).toEqual([]);
    const objectFields = new Set([
      ...inSchema,
      ...fieldsOf('Tenant'),
      ...fieldsOf('Community'),
      ...fieldsOf('Account'),
      ...fieldsOf('Group'),
    ]);
    expect(classified.filter((c) => !objectFields.has(c))).toEqual([]);
  });
});
