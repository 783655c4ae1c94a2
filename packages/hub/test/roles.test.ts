import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type Json, gql as post } from '@meridian/test-utils/apps';
import { type HubHarness, startHub } from './harness.js';

// Issue 4: tokens issued for a role; least privilege when issuing and revoking; trusted issuers through GraphQL.

let hub: HubHarness;
let office: string;
let communityAdmin: string;
const ctx = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };

beforeAll(async () => {
  hub = await startHub();
  office = (await hub.runtime.admin.issueToken(platform, { tenant: 'emea', role: 'office_admin' }, ctx)).token;
  communityAdmin = (await hub.runtime.admin.issueToken(platform, { community: 'coi', role: 'community_admin' }, ctx)).token;
});
afterAll(() => hub.close());

async function gql(token: string, query: string, variables?: Json) {
  return (await post(hub.app, token, query, variables)).body;
}

const errorOf = (res: { errors?: { extensions: Json }[] }) => res.errors?.[0]?.extensions;

describe('tokens for a role', () => {
  it("carry exactly the role's scopes and record the role", async () => {
    const res = await gql(office, 'mutation { createToken(tenant: "emea", role: "provisioner") { token record { role scopes } } }');
    expect(res.errors).toBeUndefined();
    expect(res.data?.createToken.record).toEqual({ role: 'provisioner', scopes: ['scim:read', 'scim:write'] });
    expect(res.data?.createToken.token).toMatch(/^mrd_/);
  });

  it('are refused for the wrong level, an unknown role, or a role and scopes together', async () => {
    expect(errorOf(await gql(office, 'mutation { createToken(tenant: "emea", role: "hr_reader") { token } }'))).toEqual({
      code: 'INVALID_INPUT',
      field: 'role',
    });
    expect(errorOf(await gql(office, 'mutation { createToken(tenant: "emea", role: "janitor") { token } }'))).toEqual({
      code: 'INVALID_INPUT',
      field: 'role',
    });
    expect(
      errorOf(await gql(office, 'mutation { createToken(tenant: "emea", role: "provisioner", scopes: ["scim:read"]) { token } }')),
    ).toEqual({ code: 'INVALID_INPUT', field: 'role' });
    expect(errorOf(await gql(communityAdmin, 'mutation { createToken(community: "coi", scopes: ["scim:read"]) { token } }'))).toEqual({
      code: 'INVALID_INPUT',
      field: 'scopes',
    });
  });

  it('never grant a scope the issuer does not hold: an office cannot appoint its own auditor', async () => {
    expect(errorOf(await gql(office, 'mutation { createToken(tenant: "emea", role: "auditor") { token } }'))).toEqual({
      code: 'FORBIDDEN',
      field: 'role',
    });
    const appointed = await gql(communityAdmin, 'mutation { createToken(tenant: "emea", role: "auditor") { record { id scopes } } }');
    expect(appointed.data?.createToken.record.scopes).toEqual(['audit:read']);
    // Nor can the office revoke the auditor it could not have appointed.
    expect(errorOf(await gql(office, `mutation { revokeToken(id: "${appointed.data?.createToken.record.id}") { id } }`))?.code).toBe(
      'FORBIDDEN',
    );
  });

  it('platform tokens come only from platform admins', async () => {
    expect(errorOf(await gql(office, 'mutation { createToken(role: "platform_admin") { token } }'))?.code).toBe('FORBIDDEN');
    expect(errorOf(await gql(communityAdmin, 'mutation { createToken(role: "platform_admin") { token } }'))?.code).toBe('FORBIDDEN');
    const ok = await gql(hub.adminToken, 'mutation { createToken(role: "platform_admin") { record { scopes role } } }');
    expect(ok.data?.createToken.record).toEqual({ scopes: ['admin'], role: 'platform_admin' });
  });
});

describe('a community admin', () => {
  it("creates tenants and tokens in its own community only, and sees the community's tokens", async () => {
    expect(
      errorOf(await gql(communityAdmin, 'mutation { createTenant(slug: "nordics", name: "Nordics", community: "coi") { slug } }')),
    ).toBeUndefined();
    expect(
      errorOf(await gql(communityAdmin, 'mutation { createTenant(slug: "latam", name: "LatAm", community: "other") { slug } }')),
    ).toEqual({
      code: 'NOT_FOUND',
      field: 'community',
    });
    expect(errorOf(await gql(communityAdmin, 'mutation { createToken(tenant: "apac", role: "provisioner") { token } }'))).toEqual({
      code: 'NOT_FOUND',
      field: 'tenant',
    });
    const hr = await gql(communityAdmin, 'mutation { createToken(community: "coi", role: "hr_reader") { record { id } } }');
    expect(hr.errors).toBeUndefined();
    const listed = await gql(communityAdmin, '{ communities { edges { node { slug tokens { id role } } } } }');
    expect(listed.data?.communities.edges).toEqual([
      { node: { slug: 'coi', tokens: expect.arrayContaining([{ id: hr.data?.createToken.record.id, role: 'hr_reader' }]) } },
    ]);
    const tenants = await gql(communityAdmin, '{ tenants { edges { node { slug } } } }');
    expect(tenants.data?.tenants.edges.map((e: { node: { slug: string } }) => e.node.slug).sort()).toEqual(['emea', 'nordics']);
  });
});

describe('trusted issuers through GraphQL', () => {
  const add =
    'mutation($i: TrustedIssuerInput!) { addTrustedIssuer(input: $i) { id tenantId communityId algorithms rolesClaim tenantClaim roleMap { claimValue role } } }';
  const input = (overrides: Json) => ({
    i: {
      tenant: 'emea',
      issuer: 'https://login.example.com/emea',
      audience: 'https://hub.test',
      jwksUri: 'https://login.example.com/keys',
      ...overrides,
    },
  });

  it('adds an issuer with defaults: RS256, ES256 and EdDSA, a roles claim, and role names mapping to themselves', async () => {
    const res = await gql(communityAdmin, add, input({}));
    expect(res.errors).toBeUndefined();
    expect(res.data?.addTrustedIssuer).toMatchObject({
      tenantId: hub.tenants.emea.id,
      communityId: null,
      algorithms: ['RS256', 'ES256', 'EdDSA'],
      rolesClaim: 'roles',
      tenantClaim: null,
    });
    expect(res.data?.addTrustedIssuer.roleMap.map((m: { role: string }) => m.role)).toEqual([
      'office_admin',
      'provisioner',
      'auditor',
      'end_user',
    ]);
    expect(errorOf(await gql(communityAdmin, add, input({})))).toEqual({ code: 'UNIQUENESS', field: 'audience' });
    const listed = await gql(office, '{ trustedIssuers(tenant: "emea") { id } }');
    expect(listed.data?.trustedIssuers).toEqual([{ id: res.data?.addTrustedIssuer.id }]);
  });

  it.each([
    ['an HMAC algorithm', { algorithms: ['HS256'] }, 'algorithms'],
    ["'none'", { algorithms: ['none'] }, 'algorithms'],
    ['a JWKS URI that is not a URL', { jwksUri: 'login.example.com/keys' }, 'jwksUri'],
    ['an issuer that is not a URL', { issuer: 'not a url' }, 'issuer'],
    ['a community role in a tenant issuer', { roleMap: [{ claimValue: 'hr', role: 'hr_reader' }] }, 'roleMap'],
    ['platform_admin', { tenant: null, community: 'coi', roleMap: [{ claimValue: 'root', role: 'platform_admin' }] }, 'roleMap'],
    ['a tenant claim on a tenant issuer', { tenantClaim: 'office' }, 'tenantClaim'],
    ['both a tenant and a community', { community: 'coi' }, 'tenant'],
  ])('refuses %s with INVALID_INPUT naming the field', async (_name, overrides, field) => {
    expect(errorOf(await gql(hub.adminToken, add, input({ audience: `aud-${field}`, ...overrides })))).toEqual({
      code: 'INVALID_INPUT',
      field,
    });
  });

  it.each([
    ['a plain-http JWKS URI', 'http://login.example.com/keys', 'must use https'],
    ['a JWKS URI on the loopback interface', 'https://127.0.0.1:8443/keys', 'a loopback address (127.0.0.0/8)'],
    ['a plain-http JWKS URI on localhost', 'http://localhost:8080/keys', 'must use https'],
    ['a JWKS URI at the metadata service', 'https://169.254.169.254/keys', 'a link-local address (169.254.0.0/16)'],
    ['a JWKS URI on a private IPv6 address', 'https://[fd00::1]/keys', 'a unique-local address (fc00::/7)'],
  ])('refuses %s with INVALID_CONFIG from the outbound request policy', async (_name, jwksUri, why) => {
    const res = await gql(hub.adminToken, add, input({ audience: `aud-${jwksUri}`, jwksUri }));
    expect(errorOf(res)).toEqual({ code: 'INVALID_CONFIG', field: 'jwksUri' });
    expect(res.errors?.[0]?.message).toContain("'jwksUri': Refused by the hub's outbound request policy");
    expect(res.errors?.[0]?.message).toContain(why);
  });

  it('is for platform and community admins, within reach', async () => {
    expect(errorOf(await gql(office, add, input({ audience: 'office' })))?.code).toBe('FORBIDDEN');
    expect(errorOf(await gql(communityAdmin, add, input({ tenant: 'apac', audience: 'apac' })))).toEqual({
      code: 'NOT_FOUND',
      field: 'tenant',
    });
    const apac = await gql(hub.adminToken, add, input({ tenant: 'apac', audience: 'apac' }));
    expect(errorOf(await gql(communityAdmin, `mutation { removeTrustedIssuer(id: "${apac.data?.addTrustedIssuer.id}") { id } }`))).toEqual({
      code: 'NOT_FOUND',
      field: 'id',
    });
    const community = await gql(
      communityAdmin,
      add,
      input({ tenant: null, community: 'coi', audience: 'coi', roleMap: [{ claimValue: 'hr', role: 'hr_reader' }] }),
    );
    expect(community.data?.addTrustedIssuer).toMatchObject({ tenantClaim: 'tenant', roleMap: [{ claimValue: 'hr', role: 'hr_reader' }] });
    const removed = await gql(communityAdmin, `mutation { removeTrustedIssuer(id: "${community.data?.addTrustedIssuer.id}") { id } }`);
    expect(removed.errors).toBeUndefined();
  });
});
