import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type AppHarness, gql, startGraphqlApp } from '@meridian/test-utils/apps';

// GraphQL over HTTP on the GraphQL app: what each token sees, paging, filters, mutations and tenant settings.
// The hub's own endpoints (/healthz, /readyz) are tested in packages/hub/test/health.test.ts.

let hub: AppHarness;
beforeAll(async () => {
  // Users are written, and schema extensions and /Me read back, through SCIM, mounted beside GraphQL.
  hub = await startGraphqlApp({ withScim: true });
  for (let i = 0; i < 3; i++) {
    await hub.app.inject({
      method: 'POST',
      url: '/scim/v2/Users',
      headers: { authorization: `Bearer ${hub.tenants.emea.token}`, 'content-type': 'application/scim+json' },
      payload: JSON.stringify({ userName: `gql-${i}@emea`, name: { givenName: `G${i}` } }),
    });
  }
});
afterAll(() => hub.close());

describe('GraphQL', () => {
  it('lets the platform admin see every community and tenant', async () => {
    const res = await gql(
      hub.app,
      hub.adminToken,
      '{ communities { totalCount edges { node { slug } } } tenants { totalCount edges { node { slug community { slug } } } } }',
    );
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.communities.totalCount).toBe(2);
    expect(res.body.data?.tenants.edges.map((e: { node: { slug: string } }) => e.node.slug).sort()).toEqual(['apac', 'emea']);
  });

  it('lets a tenant token see only its own tenant and community', async () => {
    const res = await gql(
      hub.app,
      hub.tenants.emea.token,
      '{ communities { edges { node { slug } } } tenants { edges { node { slug } } } }',
    );
    expect(res.body.data?.communities.edges.map((e: { node: { slug: string } }) => e.node.slug)).toEqual(['coi']);
    expect(res.body.data?.tenants.edges.map((e: { node: { slug: string } }) => e.node.slug)).toEqual(['emea']);
    const other = await gql(hub.app, hub.tenants.emea.token, '{ tenant(slug: "apac") { slug } }');
    expect(other.body.errors?.[0]?.extensions.code).toBe('NOT_FOUND');
  });

  it('pages users of a tenant with cursors', async () => {
    const query =
      'query($after: String) { tenant(slug: "emea") { users(first: 2, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { userName givenName } } } } }';
    const first = await gql(hub.app, hub.tenants.emea.token, query);
    const users = first.body.data?.tenant.users;
    expect(users.totalCount).toBe(3);
    expect(users.pageInfo.hasNextPage).toBe(true);
    expect(users.edges.map((e: { node: { userName: string } }) => e.node.userName)).toEqual(['gql-0@emea', 'gql-1@emea']);
    const second = await gql(hub.app, hub.tenants.emea.token, query, { after: users.pageInfo.endCursor });
    expect(second.body.data?.tenant.users.edges.map((e: { node: { userName: string } }) => e.node.userName)).toEqual(['gql-2@emea']);
    expect(second.body.data?.tenant.users.pageInfo.hasNextPage).toBe(false);
    // After a cursor the total is still of the whole filter, not of the rows left.
    expect(second.body.data?.tenant.users.totalCount).toBe(3);
  });

  it('filters users with a SCIM filter and reports bad ones with INVALID_FILTER', async () => {
    const ok = await gql(
      hub.app,
      hub.tenants.emea.token,
      '{ tenant(slug: "emea") { users(filter: "userName eq \\"gql-1@emea\\"") { totalCount } } }',
    );
    expect(ok.body.data?.tenant.users.totalCount).toBe(1);
    const bad = await gql(hub.app, hub.tenants.emea.token, '{ tenant(slug: "emea") { users(filter: "userName zz 1") { totalCount } } }');
    expect(bad.body.errors?.[0]?.extensions).toMatchObject({ code: 'INVALID_FILTER', field: 'filter' });
  });

  it('creates a tenant and a token through mutations, audited, admin only', async () => {
    const denied = await gql(hub.app, hub.tenants.emea.token, 'mutation { createCommunity(slug: "x", name: "X") { id } }');
    expect(denied.body.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
    const created = await gql(
      hub.app,
      hub.adminToken,
      'mutation { createTenant(slug: "amer", name: "Americas", community: "coi") { slug } }',
    );
    expect(created.body.data?.createTenant.slug).toBe('amer');
    const token = await gql(
      hub.app,
      hub.adminToken,
      'mutation { createToken(tenant: "amer", scopes: ["scim:read"]) { token record { scopes } } }',
    );
    expect(token.body.data?.createToken.token).toMatch(/^mrd_/);
    const [audit] = await hub.db.query(
      "select count(*)::int as n from audit_event where action = 'tenant.created' and actor_id = 'env:MERIDIAN_ADMIN_TOKEN'",
    );
    expect(audit?.n).toBe(1);
  });

  it('answers 401 without a token', async () => {
    const res = await gql(hub.app, undefined, '{ communities { totalCount } }');
    expect(res.status).toBe(401);
    expect(res.body.errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');
  });

  it('hides internal errors and names invalid arguments', async () => {
    const res = await gql(hub.app, hub.adminToken, '{ communities(first: 100000) { totalCount } }');
    expect(res.body.errors?.[0]?.extensions).toEqual({ code: 'INVALID_INPUT', field: 'first' });
  });
});

describe('tenant settings', () => {
  const extension = {
    id: 'urn:example:params:scim:schemas:extension:acme:2.0:User',
    name: 'AcmeUser',
    resourceType: 'User',
    attributes: [
      { name: 'badgeNumber', uniqueness: 'server' },
      { name: 'site', type: 'complex', subAttributes: [{ name: 'building' }, { name: 'floor', type: 'integer' }] },
    ],
  };

  it('declares a schema extension that SCIM then validates and publishes', async () => {
    const created = await gql(
      hub.app,
      hub.tenants.emea.token,
      'mutation($e: SchemaExtensionInput!) { createSchemaExtension(tenant: "emea", extension: $e) { id resourceType attributes { name type uniqueness subAttributes { name type } } } }',
      { e: extension },
    );
    expect(created.body.errors).toBeUndefined();
    expect(created.body.data?.createSchemaExtension).toEqual({
      id: extension.id,
      resourceType: 'User',
      attributes: [
        { name: 'badgeNumber', type: 'string', uniqueness: 'server', subAttributes: null },
        {
          name: 'site',
          type: 'complex',
          uniqueness: 'none',
          subAttributes: [
            { name: 'building', type: 'string' },
            { name: 'floor', type: 'integer' },
          ],
        },
      ],
    });
    const listed = await gql(hub.app, hub.tenants.emea.token, '{ tenant(slug: "emea") { schemaExtensions { id } } }');
    expect(listed.body.data?.tenant.schemaExtensions).toEqual([{ id: extension.id }]);

    const schemas = await hub.app.inject({
      method: 'GET',
      url: `/scim/v2/Schemas/${extension.id}`,
      headers: { authorization: `Bearer ${hub.tenants.emea.token}` },
    });
    expect(schemas.statusCode).toBe(200);
    const other = await hub.app.inject({
      method: 'GET',
      url: `/scim/v2/Schemas/${extension.id}`,
      headers: { authorization: `Bearer ${hub.tenants.apac.token}` },
    });
    expect(other.statusCode).toBe(404);

    const duplicate = await gql(
      hub.app,
      hub.tenants.emea.token,
      'mutation($e: SchemaExtensionInput!) { createSchemaExtension(tenant: "emea", extension: $e) { id } }',
      { e: extension },
    );
    expect(duplicate.body.errors?.[0]?.extensions).toEqual({ code: 'UNIQUENESS', field: 'id' });
  });

  it('rejects invalid extension definitions, naming the field', async () => {
    const reserved = await gql(
      hub.app,
      hub.tenants.emea.token,
      'mutation($e: SchemaExtensionInput!) { createSchemaExtension(tenant: "emea", extension: $e) { id } }',
      { e: { ...extension, id: 'urn:ietf:params:scim:schemas:extension:mine:2.0:User' } },
    );
    expect(reserved.body.errors?.[0]?.extensions).toEqual({ code: 'INVALID_INPUT', field: 'id' });
    const nested = await gql(
      hub.app,
      hub.tenants.emea.token,
      'mutation($e: SchemaExtensionInput!) { createSchemaExtension(tenant: "emea", extension: $e) { id } }',
      {
        e: {
          ...extension,
          id: 'urn:example:nested:User',
          attributes: [{ name: 'a', type: 'complex', subAttributes: [{ name: 'b', type: 'complex', subAttributes: [{ name: 'c' }] }] }],
        },
      },
    );
    expect(nested.body.errors?.[0]?.extensions).toEqual({ code: 'INVALID_INPUT', field: 'attributes[0].subAttributes[0].type' });
  });

  it("sets the self-service policy, and only the tenant's admins may", async () => {
    const set = await gql(
      hub.app,
      hub.tenants.emea.token,
      'mutation { setSelfServicePolicy(tenant: "emea", editableAttributes: ["PhoneNumbers", "name.givenName"]) { editableAttributes } }',
    );
    expect(set.body.data?.setSelfServicePolicy.editableAttributes).toEqual(['phoneNumbers', 'name.givenName']);
    const readOnlyAttribute = await gql(
      hub.app,
      hub.tenants.emea.token,
      'mutation { setSelfServicePolicy(tenant: "emea", editableAttributes: ["groups"]) { editableAttributes } }',
    );
    expect(readOnlyAttribute.body.errors?.[0]?.extensions).toEqual({ code: 'INVALID_INPUT', field: 'editableAttributes' });
    const foreign = await gql(
      hub.app,
      hub.tenants.apac.token,
      'mutation { setSelfServicePolicy(tenant: "emea", editableAttributes: ["title"]) { editableAttributes } }',
    );
    expect(foreign.body.errors?.[0]?.extensions.code).toBe('NOT_FOUND');
    const read = await gql(hub.app, hub.adminToken, '{ tenant(slug: "emea") { selfServicePolicy { editableAttributes } } }');
    expect(read.body.data?.tenant.selfServicePolicy.editableAttributes).toEqual(['phoneNumbers', 'name.givenName']);
  });

  it("issues an end user's /Me token bound to their User, with exactly scim:me", async () => {
    const issued = await gql(
      hub.app,
      hub.tenants.emea.token,
      'mutation { createToken(tenant: "emea", scopes: ["scim:me"], user: "gql-1@emea") { token record { scopes } } }',
    );
    expect(issued.body.errors).toBeUndefined();
    const me = await hub.app.inject({
      method: 'GET',
      url: '/scim/v2/Me',
      headers: { authorization: `Bearer ${issued.body.data?.createToken.token}` },
    });
    expect(me.statusCode).toBe(200);
    expect(me.json().userName).toBe('gql-1@emea');
    const broad = await gql(
      hub.app,
      hub.tenants.emea.token,
      'mutation { createToken(tenant: "emea", scopes: ["scim:me", "scim:read"], user: "gql-1@emea") { token } }',
    );
    expect(broad.body.errors?.[0]?.extensions).toEqual({ code: 'INVALID_INPUT', field: 'scopes' });
    const nobody = await gql(
      hub.app,
      hub.tenants.emea.token,
      'mutation { createToken(tenant: "emea", scopes: ["scim:me"], user: "nobody") { token } }',
    );
    expect(nobody.body.errors?.[0]?.extensions).toEqual({ code: 'NOT_FOUND', field: 'user' });
  });
});
