import { describe, expect, it } from '@jest/globals';
import { MeridianError } from '../errors/meridian-error.js';
import type { Principal } from './model.js';
import {
  ACTIONS,
  type Action,
  authorize,
  decideAuthorization,
  OPERATIONS,
  RELEASED_ONLY_MESSAGE,
  roleMayTake,
  scimActionOf,
} from './permissions.js';
import { ROLES, type Role } from './roles.js';

// The intended matrix, written out by hand: a change to a role's scopes or an
// action's rule that moves a cell fails here (and in docs/security.md's check).
const EXPECTED: Record<Action, Role[]> = {
  'scim.discovery': ['office_admin', 'provisioner', 'auditor', 'end_user'],
  'scim.read': ['office_admin', 'provisioner'],
  'scim.write': ['office_admin', 'provisioner'],
  'scim.me': ['end_user'],
  'community.create': ['platform_admin'],
  'community.read': ['platform_admin', 'community_admin', 'office_admin', 'hr_reader', 'hr_provider', 'auditor', 'relying_party'],
  'tenant.create': ['platform_admin', 'community_admin'],
  'tenant.read': ['platform_admin', 'community_admin', 'office_admin', 'hr_reader', 'hr_provider', 'auditor', 'relying_party'],
  // Issue 15: a relying_party token reads people only through its registration, as released (docs/sso.md).
  'directory.read': ['platform_admin', 'community_admin', 'office_admin', 'hr_reader', 'hr_provider'],
  'people.read': ['platform_admin', 'community_admin', 'hr_reader', 'hr_provider'],
  'people.manage': ['platform_admin', 'community_admin'],
  'hr.write': ['platform_admin', 'community_admin', 'office_admin', 'hr_provider'],
  'settings.read': ['platform_admin', 'community_admin', 'office_admin'],
  'settings.write': ['platform_admin', 'community_admin', 'office_admin'],
  'token.manage': ['platform_admin', 'community_admin', 'office_admin'],
  'issuer.read': ['platform_admin', 'community_admin', 'office_admin'],
  'issuer.manage': ['platform_admin', 'community_admin'],
  'replication.read': ['platform_admin', 'community_admin', 'office_admin'],
  'replication.manage': ['platform_admin', 'community_admin', 'office_admin'],
  'audit.read': ['platform_admin', 'office_admin', 'auditor'],
  'sso.read': ['platform_admin', 'community_admin'],
  'sso.manage': ['platform_admin', 'community_admin'],
  'events.receive': ['community_admin', 'hr_reader', 'hr_provider', 'relying_party'],
  // Issue 21: every caller may ask who it is.
  'viewer.read': [...ROLES],
};

const tenant = (scopes: Principal['scopes'], tenantId = 't1'): Principal => ({ kind: 'tenant', tokenId: 'x', tenantId, scopes });
const community = (scopes: Principal['scopes'], communityId = 'c1'): Principal => ({
  kind: 'community',
  tokenId: 'x',
  communityId,
  scopes,
});

describe('the permission matrix', () => {
  it.each(ACTIONS)('%s is allowed to exactly the intended roles', (action) => {
    expect(ROLES.filter((role) => roleMayTake(role, action))).toEqual(EXPECTED[action]);
  });

  it('classifies every operation once', () => {
    const names = OPERATIONS.map((o) => `${o.api} ${o.name}`);
    expect(new Set(names).size).toBe(names.length);
  });

  it('maps SCIM routes to actions, HEAD as GET and unknown routes by method', () => {
    expect(scimActionOf('GET', '/Users/:id')).toBe('scim.read');
    expect(scimActionOf('HEAD', '/Users')).toBe('scim.read');
    expect(scimActionOf('POST', '/Users/.search')).toBe('scim.read');
    expect(scimActionOf('POST', '/.search')).toBe('scim.read');
    expect(scimActionOf('PATCH', '/Groups/{id}')).toBe('scim.write');
    expect(scimActionOf('POST', '/Bulk')).toBe('scim.write');
    expect(scimActionOf('PATCH', '/Me')).toBe('scim.me');
    expect(scimActionOf('GET', '/Schemas/:id')).toBe('scim.discovery');
    expect(scimActionOf('GET', '/Nope')).toBe('scim.read');
    expect(scimActionOf('DELETE', '/Nope')).toBe('scim.write');
  });
});

describe('authorize', () => {
  it('denies a missing scope with FORBIDDEN and names the scope for insufficient_scope', () => {
    const decision = decideAuthorization(tenant(['scim:read']), 'scim.write');
    expect(decision).toEqual({
      allowed: false,
      reason: 'scope',
      code: 'FORBIDDEN',
      scope: 'scim:write',
      message: "This token lacks the 'scim:write' scope.",
    });
  });

  it('refuses a relying_party token the directory with the way to read what was released (issue 15)', () => {
    const rp = community(['released:read']);
    for (const action of ['people.read', 'directory.read'] as const) {
      const decision = decideAuthorization(rp, action, { communityId: 'c1' });
      expect(decision).toEqual({
        allowed: false,
        reason: 'scope',
        code: 'FORBIDDEN',
        scope: 'directory:read',
        message: RELEASED_ONLY_MESSAGE,
      });
    }
    expect(decideAuthorization(rp, 'community.read', { communityId: 'c1' })).toEqual({ allowed: true });
    expect(decideAuthorization(rp, 'events.receive', { communityId: 'c1' })).toEqual({ allowed: true });
  });

  it('denies the wrong level with FORBIDDEN', () => {
    expect(decideAuthorization({ kind: 'platform', tokenId: 'p', scopes: ['admin'] }, 'scim.read')).toMatchObject({
      allowed: false,
      reason: 'level',
      code: 'FORBIDDEN',
    });
    expect(decideAuthorization(tenant(['graphql:write']), 'issuer.manage')).toMatchObject({ reason: 'level', code: 'FORBIDDEN' });
  });

  it("hides another tenant's or community's resources with NOT_FOUND", () => {
    expect(decideAuthorization(tenant(['graphql:read']), 'tenant.read', { tenantId: 't2', communityId: 'c1' })).toMatchObject({
      reason: 'reach',
      code: 'NOT_FOUND',
    });
    expect(decideAuthorization(community(['directory:read']), 'directory.read', { tenantId: 't9', communityId: 'c2' })).toMatchObject({
      code: 'NOT_FOUND',
    });
    expect(decideAuthorization(community(['directory:read']), 'directory.read', { tenantId: 't9', communityId: 'c1' })).toEqual({
      allowed: true,
    });
  });

  it('keeps platform resources ({}) for platform tokens, with FORBIDDEN', () => {
    expect(decideAuthorization(community(['graphql:write']), 'token.manage', {})).toMatchObject({ reason: 'reach', code: 'FORBIDDEN' });
    expect(decideAuthorization({ kind: 'platform', tokenId: 'p', scopes: ['admin'] }, 'token.manage', {})).toEqual({ allowed: true });
  });

  it('a community principal never reaches a tenant resource that does not name its community', () => {
    expect(decideAuthorization(community(['graphql:read']), 'tenant.read', { tenantId: 't1' }).allowed).toBe(false);
  });

  it('throws the decision as a MeridianError', () => {
    expect(() => authorize(tenant([]), 'audit.read', { tenantId: 't1', communityId: 'c1' })).toThrow(
      new MeridianError('FORBIDDEN', "This token needs one of the scopes 'audit:read', 'graphql:read'."),
    );
    expect(() => authorize(tenant(['audit:read']), 'audit.read', { tenantId: 't1', communityId: 'c1' })).not.toThrow();
  });
});
