import { describe, expect, it } from '@jest/globals';
import { type JwtClaims, jwtClaim, principalOfJwtClaims, rolesOfJwtClaims } from './jwt-claims.js';
import type { TrustedIssuer } from './trusted-issuer.js';

const base = {
  id: 'iss-1',
  issuer: 'https://idp.example',
  audience: 'meridian',
  jwksUri: 'https://idp.example/jwks',
  algorithms: ['RS256' as const],
  rolesClaim: 'roles',
  subjectClaim: 'sub',
  createdAt: new Date(0),
};

/** An issuer of tenant t1 (community c1). */
const tenantIssuer: TrustedIssuer = {
  ...base,
  tenantId: 't1',
  communityId: null,
  ownerCommunityId: 'c1',
  tenantClaim: null,
  roleMap: { scim: 'provisioner', admin: 'office_admin', employee: 'end_user', hr: 'hr_reader' },
};

/** An issuer of community c1, naming tenants in its `office` claim. */
const communityIssuer: TrustedIssuer = {
  ...base,
  id: 'iss-2',
  tenantId: null,
  communityId: 'c1',
  ownerCommunityId: 'c1',
  tenantClaim: 'office',
  roleMap: { hr: 'hr_reader', scim: 'provisioner', community: 'community_admin' },
};

describe('jwtClaim', () => {
  it('reads a claim by its exact name before a dotted path', () => {
    const claims: JwtClaims = { 'realm.roles': 'exact', realm: { roles: ['nested'] } };
    expect(jwtClaim(claims, 'realm.roles')).toBe('exact');
    expect(jwtClaim({ realm: { roles: ['nested'] } }, 'realm.roles')).toEqual(['nested']);
  });

  it('finds nothing through arrays, nulls, missing parts or inherited properties', () => {
    expect(jwtClaim({ realm: [{ roles: 'x' }] }, 'realm.0.roles')).toBeUndefined();
    expect(jwtClaim({ realm: null }, 'realm.roles')).toBeUndefined();
    expect(jwtClaim({ realm: {} }, 'realm.roles')).toBeUndefined();
    expect(jwtClaim({}, 'constructor')).toBeUndefined();
    expect(jwtClaim({ realm: {} }, 'realm.toString')).toBeUndefined();
  });
});

describe('rolesOfJwtClaims', () => {
  it('maps an array or a space-separated string through the role map; unmapped values grant nothing', () => {
    expect(rolesOfJwtClaims({ roles: ['scim', 'unknown', 42, 'scim'] }, tenantIssuer)).toEqual(['provisioner']);
    expect(rolesOfJwtClaims({ roles: 'scim  admin' }, tenantIssuer)).toEqual(['provisioner', 'office_admin']);
    expect(rolesOfJwtClaims({ roles: { scim: true } }, tenantIssuer)).toEqual([]);
    expect(rolesOfJwtClaims({}, tenantIssuer)).toEqual([]);
  });

  it('reads the roles claim the issuer names, dotted paths included', () => {
    const issuer = { ...tenantIssuer, rolesClaim: 'realm_access.roles' };
    expect(rolesOfJwtClaims({ realm_access: { roles: ['admin'] }, roles: ['scim'] }, issuer)).toEqual(['office_admin']);
  });
});

describe('principalOfJwtClaims', () => {
  it("gives a tenant issuer's token a tenant principal with its roles' scopes, named by issuer and subject", () => {
    expect(principalOfJwtClaims({ sub: 'svc', roles: ['scim', 'admin'] }, tenantIssuer)).toEqual({
      kind: 'principal',
      principal: {
        kind: 'tenant',
        tokenId: 'jwt:iss-1:svc',
        tenantId: 't1',
        scopes: ['scim:read', 'scim:write', 'graphql:read', 'graphql:write'],
      },
    });
  });

  it('keeps at most 256 characters of the subject in the token id', () => {
    const mapping = principalOfJwtClaims({ sub: 'x'.repeat(300), roles: ['scim'] }, tenantIssuer);
    expect(mapping.kind === 'principal' && mapping.principal.tokenId).toBe(`jwt:iss-1:${'x'.repeat(256)}`);
  });

  it("grants only roles of the token's level: a community role from a tenant issuer is NO_ROLE, naming the tenant", () => {
    expect(principalOfJwtClaims({ sub: 'a', roles: ['hr'] }, tenantIssuer)).toEqual({ kind: 'refused', reason: 'NO_ROLE', tenantId: 't1' });
    expect(principalOfJwtClaims({ sub: 'a' }, tenantIssuer)).toEqual({ kind: 'refused', reason: 'NO_ROLE', tenantId: 't1' });
  });

  it("gives a community issuer's token without a tenant claim a community principal, and refuses tenant roles there", () => {
    expect(principalOfJwtClaims({ sub: 'hr', roles: ['hr', 'scim'] }, communityIssuer)).toEqual({
      kind: 'principal',
      principal: { kind: 'community', tokenId: 'jwt:iss-2:hr', communityId: 'c1', scopes: ['directory:read'] },
    });
    expect(principalOfJwtClaims({ sub: 'p', roles: ['scim'], office: '' }, communityIssuer)).toEqual({
      kind: 'refused',
      reason: 'NO_ROLE',
    });
  });

  it("asks for the claimed tenant in the issuer's own community, then acts in it at tenant level", () => {
    const claims = { sub: 'p', roles: ['scim', 'hr'], office: 'emea' };
    expect(principalOfJwtClaims(claims, communityIssuer)).toEqual({ kind: 'find-tenant', communityId: 'c1', slug: 'emea' });
    expect(principalOfJwtClaims(claims, communityIssuer, { tenantId: 't9' })).toEqual({
      kind: 'principal',
      principal: { kind: 'tenant', tokenId: 'jwt:iss-2:p', tenantId: 't9', scopes: ['scim:read', 'scim:write'] },
    });
    // A tenant named, but no tenant role: refused in that tenant.
    expect(principalOfJwtClaims({ ...claims, roles: ['hr'] }, communityIssuer, { tenantId: 't9' })).toEqual({
      kind: 'refused',
      reason: 'NO_ROLE',
      tenantId: 't9',
    });
  });

  it('refuses a tenant claim that names no tenant of the community, or is not a string, before looking at roles', () => {
    expect(principalOfJwtClaims({ sub: 'p', office: 'nowhere' }, communityIssuer, { tenantId: null })).toEqual({
      kind: 'refused',
      reason: 'UNKNOWN_TENANT',
    });
    expect(principalOfJwtClaims({ sub: 'p', roles: ['scim'], office: 7 }, communityIssuer)).toEqual({
      kind: 'refused',
      reason: 'UNKNOWN_TENANT',
    });
  });

  it("reads the tenant from the default 'tenant' claim when the issuer names none", () => {
    const issuer = { ...communityIssuer, tenantClaim: null };
    expect(principalOfJwtClaims({ sub: 'p', roles: ['scim'], tenant: 'apac' }, issuer)).toEqual({
      kind: 'find-tenant',
      communityId: 'c1',
      slug: 'apac',
    });
  });

  it('ignores the tenant claim of a tenant issuer: its tokens act in its own tenant', () => {
    const mapping = principalOfJwtClaims({ sub: 'svc', roles: ['scim'], tenant: 'elsewhere' }, tenantIssuer);
    expect(mapping.kind === 'principal' && mapping.principal).toMatchObject({ kind: 'tenant', tenantId: 't1' });
  });

  it('binds an end user to the active User its subject claim names, and refuses one without', () => {
    const claims = { sub: 'ann@emea', roles: ['employee'] };
    expect(principalOfJwtClaims(claims, tenantIssuer)).toEqual({ kind: 'find-user', tenantId: 't1', userName: 'ann@emea' });
    expect(principalOfJwtClaims(claims, tenantIssuer, { userId: 'u1' })).toEqual({
      kind: 'principal',
      principal: { kind: 'tenant', tokenId: 'jwt:iss-1:ann@emea', tenantId: 't1', scopes: ['scim:me'], userId: 'u1' },
    });
    expect(principalOfJwtClaims(claims, tenantIssuer, { userId: null })).toEqual({
      kind: 'refused',
      reason: 'UNKNOWN_USER',
      tenantId: 't1',
    });
  });

  it("reads the end user's userName from the issuer's subject claim; anything but a string is UNKNOWN_USER", () => {
    const issuer = { ...tenantIssuer, subjectClaim: 'preferred_username' };
    expect(principalOfJwtClaims({ sub: '1', roles: ['employee'], preferred_username: 'bob' }, issuer)).toEqual({
      kind: 'find-user',
      tenantId: 't1',
      userName: 'bob',
    });
    expect(principalOfJwtClaims({ sub: '1', roles: ['employee'], preferred_username: ['bob'] }, issuer)).toEqual({
      kind: 'refused',
      reason: 'UNKNOWN_USER',
      tenantId: 't1',
    });
  });
});
