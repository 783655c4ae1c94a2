import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SCHEMA } from '@meridian/core';
import { type Json, gql as post, query, type ScimMethod, scimClient } from '@meridian/test-utils/apps';
import { type HubHarness, startHub } from './harness.js';

// Issue 4, "tenant isolation twice": the APAC office probes every SCIM endpoint and every tenant-taking
// GraphQL operation with the EMEA office's ids and slug. Nothing may leak, and nothing of EMEA may change.

let hub: HubHarness;
const scim = scimClient(() => hub.app);
const victim = { userId: '', groupId: '', tokenId: '', grantId: '', userName: 'secret-person@emea' };
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

beforeAll(async () => {
  hub = await startHub();
  const emea = hub.tenants.emea.token;
  const user = await scim('POST', '/Users', { token: emea, body: { userName: victim.userName, title: 'Director' } });
  victim.userId = user.body.id as string;
  const group = await scim('POST', '/Groups', {
    token: emea,
    body: { displayName: 'EMEA secret group', members: [{ value: victim.userId }] },
  });
  victim.groupId = group.body.id as string;
  const tokens = await hub.db.query<{ id: string }>('select id from api_token where tenant_id = $1 order by created_at limit 1', [
    hub.tenants.emea.id,
  ]);
  victim.tokenId = tokens[0]?.id ?? '';
  // The admin console's roles (issue 21): an EMEA account's grant, which APAC must neither see nor revoke.
  const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
  const granted = await hub.runtime.consoleRoles.service.grant(
    platform,
    { tenant: 'coi/emea', user: victim.userName, role: 'office_admin' },
    { actor: { type: 'system', id: 'test' }, requestId: 'setup' },
  );
  victim.grantId = granted.id;
});
afterAll(() => hub.close());

/** Everything EMEA holds, as one digest: any change by a probe shows. */
async function emeaDigest(): Promise<string> {
  const tenant = hub.tenants.emea.id;
  const parts = await Promise.all([
    hub.db.query('select id, user_name, attributes, version, password_hash from scim_user where tenant_id = $1 order by id', [tenant]),
    hub.db.query('select id, display_name, attributes, version from scim_group where tenant_id = $1 order by id', [tenant]),
    hub.db.query('select group_id, member_id from group_member where tenant_id = $1 order by 1, 2', [tenant]),
    hub.db.query('select id, revoked_at, scopes from api_token where tenant_id = $1 order by id', [tenant]),
    hub.db.query('select self_service_attributes from tenant where id = $1', [tenant]),
    hub.db.query('select count(*)::int as n from outbox_event where tenant_id = $1', [tenant]),
    hub.db.query("select count(*)::int as n from audit_event where chain = $1 and action <> 'auth.failed'", [tenant]),
  ]);
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

/**
 * The probe must learn nothing it did not send: no EMEA name or attribute, and (with
 * `includingIds`, for answers to requests that did not name them) no EMEA id.
 */
function expectNoLeak(body: unknown, includingIds = false): void {
  const text = JSON.stringify(body ?? '');
  const secrets = [victim.userName, 'EMEA secret group', 'Director', ...(includingIds ? [victim.userId, victim.groupId] : [])];
  for (const secret of secrets) expect(text).not.toContain(secret);
}

describe('SCIM with another tenant’s ids', () => {
  const apac = () => hub.tenants.apac.token;

  it('answers 404 to every read and write addressed to an EMEA resource, and changes nothing', async () => {
    const before = await emeaDigest();
    const patch = { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'title', value: 'Pwned' }] };
    const probes: [ScimMethod, string, Json | undefined][] = [];
    for (const [endpoint, id] of [
      ['Users', victim.userId],
      ['Groups', victim.groupId],
    ] as const) {
      probes.push(['GET', `/${endpoint}/${id}`, undefined]);
      probes.push(['GET', `/${endpoint}/${id}?attributes=id`, undefined]);
      probes.push(['PUT', `/${endpoint}/${id}`, endpoint === 'Users' ? { userName: 'pwned' } : { displayName: 'pwned' }]);
      probes.push(['PATCH', `/${endpoint}/${id}`, patch]);
      probes.push(['DELETE', `/${endpoint}/${id}`, undefined]);
    }
    for (const [method, path, body] of probes) {
      const res = await scim(method, path, { token: apac(), ...(body ? { body } : {}) });
      expect([method, path, res.status]).toEqual([method, path, 404]);
      expect(res.body).toMatchObject({ schemas: [SCHEMA.error], status: '404' });
      expectNoLeak(res.body);
    }
    expect(await emeaDigest()).toBe(before);
  });

  it('finds nothing of EMEA through filters and searches', async () => {
    const lists = [
      await scim('GET', `/Users${query({ filter: `id eq "${victim.userId}"` })}`, { token: apac() }),
      await scim('GET', `/Users${query({ filter: `userName eq "${victim.userName}"` })}`, { token: apac() }),
      await scim('GET', `/Groups${query({ filter: `members[value eq "${victim.userId}"]` })}`, { token: apac() }),
      await scim('GET', `/Groups${query({ filter: `id eq "${victim.groupId}"` })}`, { token: apac() }),
      await scim('POST', '/Users/.search', { token: apac(), body: { filter: `id eq "${victim.userId}"` } }),
      await scim('POST', '/.search', { token: apac(), body: { filter: `id eq "${victim.groupId}" or id eq "${victim.userId}"` } }),
      await scim('GET', `/Users${query({ cursor: '', count: 200 })}`, { token: apac() }),
    ];
    for (const res of lists) {
      expect(res.status).toBe(200);
      expectNoLeak(res.body, true);
    }
    expect(lists.slice(0, 6).map((r) => r.body.totalResults)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('cannot reference an EMEA user as a member, in a create, a PATCH or a Bulk request', async () => {
    const before = await emeaDigest();
    const create = await scim('POST', '/Groups', { token: apac(), body: { displayName: 'probe', members: [{ value: victim.userId }] } });
    expect(create.status).toBe(400);
    expectNoLeak(create.body);
    const own = await scim('POST', '/Groups', { token: apac(), body: { displayName: 'apac own' } });
    const add = await scim('PATCH', `/Groups/${own.body.id}`, {
      token: apac(),
      body: { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: victim.userId }] }] },
    });
    expect(add.status).toBe(400);
    const bulk = await scim('POST', '/Bulk', {
      token: apac(),
      body: {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'],
        Operations: [
          { method: 'PUT', path: `/Users/${victim.userId}`, data: { userName: 'pwned' } },
          {
            method: 'PATCH',
            path: `/Groups/${victim.groupId}`,
            data: { schemas: [PATCH_OP], Operations: [{ op: 'remove', path: 'members' }] },
          },
          { method: 'DELETE', path: `/Users/${victim.userId}` },
        ],
      },
    });
    expect(bulk.status).toBe(200);
    expect((bulk.body.Operations as Json[]).map((op) => op.status)).toEqual(['404', '404', '404']);
    expect(await emeaDigest()).toBe(before);
  });

  it('keeps uniqueness per tenant: the same userName in APAC is not a conflict that would reveal EMEA’s user', async () => {
    const res = await scim('POST', '/Users', { token: apac(), body: { userName: victim.userName } });
    expect(res.status).toBe(201);
    expect(res.body.id).not.toBe(victim.userId);
  });
});

describe('GraphQL with another tenant’s slug and ids', () => {
  /** One GraphQL answer's body, posted with APAC's office token (the shared helper of the test apps). */
  async function gql(text: string, variables: Record<string, unknown> = {}) {
    return (await post(hub.app, hub.tenants.apac.token, text, variables)).body;
  }

  const target = { kind: 'scim', name: 'probe', config: { baseUrl: 'https://example.invalid/scim/v2' }, secrets: { token: 'x' } };
  /** One probe per tenant-scoped operation of the schema; the guard below fails when a new one is missing. */
  const PROBES: Record<string, [string, Record<string, unknown>?]> = {
    tenant: ['{ tenant(slug: "emea") { id } }'],
    auditEvents: ['{ auditEvents(tenant: "emea") { totalCount } }'],
    auditVerification: ['{ auditVerification(tenant: "emea") { ok } }'],
    replicationStatus: ['{ replicationStatus(tenant: "emea", kind: "User", id: "@USER@") { __typename } }'],
    trustedIssuers: ['{ trustedIssuers(tenant: "emea") { id } }'],
    createToken: ['mutation { createToken(tenant: "emea", scopes: ["scim:read"]) { token } }'],
    revokeToken: ['mutation($id: ID!) { revokeToken(id: $id) { id } }', { id: '@TOKEN@' }],
    setSelfServicePolicy: ['mutation { setSelfServicePolicy(tenant: "emea", editableAttributes: ["title"]) { editableAttributes } }'],
    createSchemaExtension: [
      'mutation($e: SchemaExtensionInput!) { createSchemaExtension(tenant: "emea", extension: $e) { id } }',
      { e: { id: 'urn:example:probe:User', name: 'Probe', resourceType: 'User', attributes: [{ name: 'x' }] } },
    ],
    deleteSchemaExtension: ['mutation { deleteSchemaExtension(tenant: "emea", id: "urn:example:probe:User") }'],
    createReplicationTarget: [
      'mutation($i: ReplicationTargetInput!) { createReplicationTarget(tenant: "emea", input: $i) { id } }',
      { i: target },
    ],
    updateReplicationTarget: [
      'mutation($i: ReplicationTargetInput!) { updateReplicationTarget(tenant: "emea", target: "probe", input: $i) { id } }',
      { i: { paused: true } },
    ],
    deleteReplicationTarget: ['mutation { deleteReplicationTarget(tenant: "emea", target: "probe") }'],
    pauseReplicationTarget: ['mutation { pauseReplicationTarget(tenant: "emea", target: "probe") { id } }'],
    resumeReplicationTarget: ['mutation { resumeReplicationTarget(tenant: "emea", target: "probe") { id } }'],
    testReplicationTarget: ['mutation { testReplicationTarget(tenant: "emea", target: "probe") { ok } }'],
    reconcileReplicationTarget: ['mutation { reconcileReplicationTarget(tenant: "emea", target: "probe") { dryRun } }'],
    migrateReplicationTarget: [
      'mutation { migrateReplicationTarget(tenant: "emea", from: "probe", to: "probe", dryRun: false) { dryRun } }',
    ],
    cancelReplicationTargetRetirement: ['mutation { cancelReplicationTargetRetirement(tenant: "emea", target: "probe") { id } }'],
    replayDeadLetter: ['mutation { replayDeadLetter(tenant: "emea", id: "1") { id } }'],
    setReplicationWaitSeconds: ['mutation { setReplicationWaitSeconds(tenant: "emea", seconds: 5) }'],
    // The global directory: an office token reads no community's directory, and changes none.
    person: ['{ person(id: "@USER@") { id } }'],
    linkAccount: ['mutation { linkAccount(tenant: "emea", account: "@USER@", person: "@USER@") { id } }'],
    unlinkAccount: ['mutation { unlinkAccount(tenant: "emea", account: "@USER@") { id } }'],
    releaseAccount: ['mutation { releaseAccount(tenant: "emea", account: "@USER@") }'],
    pinAttribute: ['mutation { pinAttribute(person: "@USER@", attribute: "title", tenant: "emea") { id } }'],
    createDirectoryExport: [
      'mutation { createDirectoryExport(input: { name: "probe", kind: "memory", config: { target: "probe" } }) { id } }',
    ],
    accounts: ['{ accounts(tenant: "emea") { totalCount edges { node { id } } } }'],
    account: ['{ account(tenant: "emea", id: "@USER@") { id userName } }'],
    groups: ['{ groups(tenant: "emea") { totalCount } }'],
    // A field, not an operation: reached only through a group that was read.
    groupMemberPage: ['{ groups(tenant: "emea") { edges { node { memberPage { totalCount edges { node { id } } } } } } }'],
    targets: ['{ targets(tenant: "emea") { id } }'],
    createAccount: ['mutation { createAccount(tenant: "emea", input: { userName: "probe@emea" }) { id } }'],
    updateAccount: ['mutation { updateAccount(tenant: "emea", id: "@USER@", input: { title: "Pwned" }) { id } }'],
    moveAccount: ['mutation { moveAccount(tenant: "emea", id: "@USER@", title: "Pwned") { id } }'],
    suspendAccount: ['mutation { suspendAccount(tenant: "emea", id: "@USER@") { id } }'],
    restoreAccount: ['mutation { restoreAccount(tenant: "emea", id: "@USER@") { id } }'],
    terminateAccount: ['mutation { terminateAccount(tenant: "emea", id: "@USER@") }'],
    createGroup: ['mutation { createGroup(tenant: "emea", displayName: "probe") { id } }'],
    deleteGroup: ['mutation { deleteGroup(tenant: "emea", id: "@GROUP@") }'],
    addGroupMembers: ['mutation { addGroupMembers(tenant: "emea", group: "@GROUP@", members: ["@USER@"]) { id } }'],
    removeGroupMembers: ['mutation { removeGroupMembers(tenant: "emea", group: "@GROUP@", members: ["@USER@"]) { id } }'],
    // APAC's office token is no end user's: refused before anything is read.
    updateMe: ['mutation { updateMe(input: { title: "Pwned" }) { id } }'],
    mySelfServicePolicy: ['{ mySelfServicePolicy { editableAttributes } }'],
    addTrustedIssuer: [
      'mutation($i: TrustedIssuerInput!) { addTrustedIssuer(input: $i) { id } }',
      { i: { tenant: 'emea', issuer: 'https://idp.example', audience: 'meridian', jwksUri: 'https://idp.example/jwks' } },
    ],
    // Event streams (issue 17): an office token manages no community's streams.
    eventStream: ['{ eventStream(community: "coi", id: "@USER@") { id } }'],
    createEventStream: [
      'mutation($i: CreateEventStreamInput!) { createEventStream(input: $i) { id } }',
      { i: { community: 'coi', tokenId: '@TOKEN@', events: ['urn:ietf:params:scim:event:prov:delete'] } },
    ],
    setEventStreamStatus: ['mutation { setEventStreamStatus(community: "coi", id: "@USER@", status: "paused") { id } }'],
    deleteEventStream: ['mutation { deleteEventStream(community: "coi", id: "@USER@") { id } }'],
    // Offboarding (issue 19): EMEA's leavers are out of APAC's reach, a dry run included.
    offboardings: ['{ offboardings(tenant: "emea") { id } }'],
    offboardAccount: [
      'mutation($i: OffboardAccountInput!) { offboardAccount(tenant: "emea", input: $i) { dryRun } }',
      { i: { user: '@USER@', successor: '@USER@', dryRun: true } },
    ],
    cancelOffboarding: ['mutation { cancelOffboarding(tenant: "emea", user: "@USER@") { id } }'],
    // Single sign-on (issue 15): an office token registers no relying party and revokes no grant of coi.
    createRelyingParty: [
      'mutation($i: RelyingPartyInput!) { createRelyingParty(input: $i) { clientSecret } }',
      { i: { community: 'coi', name: 'probe', redirectUris: ['https://rp.example/cb'], claims: ['email'] } },
    ],
    revokeGrant: ['mutation { revokeGrant(community: "coi", id: "@USER@") }'],
    // Page themes (docs/sso.md): an office token of another community sets none of coi's.
    setCommunityTheme: ['mutation { setCommunityTheme(community: "coi", theme: { primaryColour: "#000000" }) { primaryColour } }'],
    revokeMyGrant: ['mutation { revokeMyGrant(id: "@USER@") }'],
    // Inbound sources (issues 16 and 18): APAC reads, creates, changes, syncs and tests none of EMEA's.
    inboundSources: ['{ inboundSources(tenant: "emea") { id } }'],
    inboundSource: ['{ inboundSource(tenant: "emea", source: "@USER@") { id } }'],
    createInboundSource: [
      'mutation($i: InboundSourceInput!) { createInboundSource(tenant: "emea", input: $i) { id } }',
      {
        i: {
          name: 'probe',
          kind: 'ldap',
          config: { url: 'ldaps://ldap.example.org', bindDn: 'cn=hub,dc=example,dc=org', baseDn: 'dc=example,dc=org' },
          secrets: { bindPassword: 'probe' },
        },
      },
    ],
    updateInboundSource: ['mutation { updateInboundSource(tenant: "emea", source: "@USER@", changes: { unschedule: true }) { id } }'],
    deleteInboundSource: ['mutation { deleteInboundSource(tenant: "emea", source: "@USER@") }'],
    syncInboundSource: ['mutation { syncInboundSource(tenant: "emea", source: "@USER@", dryRun: true) { status } }'],
    testInboundSource: ['mutation { testInboundSource(tenant: "emea", source: "@USER@", email: "a@example.org") { wouldCreate } }'],
    // The admin console's roles (issue 21): APAC lists, grants and revokes none of EMEA's accounts' roles.
    consoleRoleGrants: ['{ consoleRoleGrants(tenant: "emea") { id } }'],
    tokens: ['{ tokens(tenant: "emea") { id } }'],
    grantConsoleRole: [
      'mutation($i: GrantConsoleRoleInput!) { grantConsoleRole(input: $i) { id } }',
      { i: { tenant: 'coi/emea', user: '@USER@', role: 'office_admin' } },
    ],
    revokeConsoleRole: ['mutation($id: ID!) { revokeConsoleRole(id: $id) { id } }', { id: '@GRANT@' }],
  };

  it('probes every GraphQL operation that takes a tenant or a tenant-owned id', () => {
    const sdl = readFileSync(fileURLToPath(new URL('../../graphql/schema.graphql', import.meta.url)), 'utf8');
    const operations = [...sdl.matchAll(/^type (?:Query|Mutation) \{([\s\S]*?)^\}/gm)]
      .flatMap((m) => [...(m[1] ?? '').matchAll(/^ {2}(\w+)(\([\s\S]*?\))?:/gm)])
      .filter((m) => /\b(tenant|input|id|target)\b\s*:/.test(m[2] ?? ''))
      .map((m) => m[1] as string);
    const unprobed = operations.filter((name) => !(name in PROBES) && name !== 'removeTrustedIssuer');
    expect(unprobed).toEqual([]);
  });

  it('answers every probe with an error, leaks nothing and changes nothing of EMEA', async () => {
    const before = await emeaDigest();
    for (const [name, [text, variables = {}]] of Object.entries(PROBES)) {
      const bound = JSON.parse(
        JSON.stringify({ text, variables })
          .replaceAll('@USER@', victim.userId)
          .replaceAll('@GROUP@', victim.groupId)
          .replaceAll('@TOKEN@', victim.tokenId)
          .replaceAll('@GRANT@', victim.grantId),
      ) as { text: string; variables: Record<string, unknown> };
      const res = await gql(bound.text, bound.variables);
      expect([name, res.errors?.[0]?.extensions?.code]).toEqual([name, expect.stringMatching(/^(NOT_FOUND|FORBIDDEN)$/)]);
      expectNoLeak(res.data, true);
    }
    const lists = await gql('{ tenants { edges { node { slug } } } communities { edges { node { slug } } } }');
    expect(JSON.stringify(lists.data)).not.toContain('emea');
    expect(JSON.stringify(lists.data)).not.toContain('"coi"');
    expect(await emeaDigest()).toBe(before);
  });
});
