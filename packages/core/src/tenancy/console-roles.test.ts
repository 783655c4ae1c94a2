import { describe, expect, it } from '@jest/globals';
import {
  allowedActions,
  CONSOLE_ROLES,
  type ConsoleAccount,
  consolePrincipal,
  isConsoleRole,
  placeOfGrant,
  principalOfConsole,
} from './console-roles.js';
import { ROLES } from './roles.js';

const account: ConsoleAccount = { tenantId: 't1', communityId: 'c1', userId: 'u1', userName: 'ada@example.org', active: true };
const identity = { tenantId: 't1', userId: 'u1' };

describe('the console principal', () => {
  it("is the account's own end user without a role", () => {
    expect(principalOfConsole(account, null)).toEqual({
      kind: 'tenant',
      tokenId: 'console:t1:u1',
      tenantId: 't1',
      scopes: ['scim:me'],
      userId: 'u1',
      console: { ...identity, role: null },
    });
  });

  it("acts at the role's level: the account's tenant, its community, or the platform", () => {
    expect(principalOfConsole(account, 'office_admin')).toEqual({
      kind: 'tenant',
      tokenId: 'console:t1:u1',
      tenantId: 't1',
      scopes: ['scim:read', 'scim:write', 'graphql:read', 'graphql:write'],
      console: { ...identity, role: 'office_admin' },
    });
    expect(principalOfConsole(account, 'hr_reader')).toEqual({
      kind: 'community',
      tokenId: 'console:t1:u1',
      communityId: 'c1',
      scopes: ['directory:read'],
      console: { ...identity, role: 'hr_reader' },
    });
    expect(principalOfConsole(account, 'platform_admin')).toEqual({
      kind: 'platform',
      tokenId: 'console:t1:u1',
      scopes: ['admin'],
      console: { ...identity, role: 'platform_admin' },
    });
  });

  it('takes the role the header names only when the account holds it', () => {
    const grants = [{ role: 'auditor' as const }, { role: 'community_admin' as const }];
    expect(consolePrincipal(account, grants, undefined)).toMatchObject({ principal: { kind: 'tenant', scopes: ['scim:me'] } });
    expect(consolePrincipal(account, grants, '  ')).toMatchObject({ principal: { kind: 'tenant', scopes: ['scim:me'] } });
    expect(consolePrincipal(account, [], 'End_User')).toMatchObject({ principal: { kind: 'tenant', scopes: ['scim:me'], userId: 'u1' } });
    expect(consolePrincipal(account, grants, 'Community_Admin')).toMatchObject({ principal: { kind: 'community', communityId: 'c1' } });
    expect(consolePrincipal(account, grants, 'office_admin')).toEqual({
      forbidden: "This account has no console role 'office_admin': its roles are auditor, community_admin.",
    });
    expect(consolePrincipal(account, [], 'auditor')).toEqual({ forbidden: "This account has no console role 'auditor': it has none." });
  });
});

describe('console roles', () => {
  it('are the administrative roles: not API clients, not end users', () => {
    expect(ROLES.filter(isConsoleRole)).toEqual([...CONSOLE_ROLES]);
    expect(['provisioner', 'end_user', 'relying_party'].filter((r) => CONSOLE_ROLES.includes(r as never))).toEqual([]);
  });

  it("act where the role's level says", () => {
    expect(placeOfGrant('auditor', account)).toEqual({ tenantId: 't1', communityId: 'c1' });
    expect(placeOfGrant('community_admin', account)).toEqual({ communityId: 'c1' });
    expect(placeOfGrant('platform_admin', account)).toEqual({});
  });
});

describe('the allowed actions', () => {
  it('are the actions the principal may take somewhere in its reach', () => {
    expect(allowedActions(principalOfConsole(account, null))).toEqual(['scim.discovery', 'scim.me', 'viewer.read']);
    expect(allowedActions(principalOfConsole(account, 'auditor'))).toEqual([
      'scim.discovery',
      'community.read',
      'tenant.read',
      'audit.read',
      'viewer.read',
    ]);
    expect(allowedActions(principalOfConsole(account, 'platform_admin'))).not.toContain('scim.read');
  });
});
