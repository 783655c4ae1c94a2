import { MeridianError } from '../errors/meridian-error.js';
import type { Scope } from './model.js';

/** Where a principal acts: everywhere, across one community, or inside one tenant. */
export type PrincipalLevel = 'platform' | 'community' | 'tenant';

/**
 * The least-privilege roles a token (opaque or JWT) can be issued for. A role
 * is a named bundle of scopes at one level; authorization looks at the scopes.
 */
export type Role =
  | 'platform_admin'
  | 'community_admin'
  | 'office_admin'
  | 'provisioner'
  | 'hr_reader'
  | 'hr_provider'
  | 'auditor'
  | 'end_user'
  | 'relying_party';

/** What a role is: the level its tokens act at and the scopes they hold. */
export interface RoleDefinition {
  level: PrincipalLevel;
  scopes: readonly Scope[];
  /** One sentence for the docs and `--help`. */
  description: string;
}

/** Every role, in the order the docs and the permission matrix list them. */
export const ROLES: readonly Role[] = [
  'platform_admin',
  'community_admin',
  'office_admin',
  'provisioner',
  'hr_reader',
  'hr_provider',
  'auditor',
  'end_user',
  'relying_party',
];

/** The scopes and level of each role: the one place that says what a role holds. */
export const ROLE_DEFINITIONS: Readonly<Record<Role, RoleDefinition>> = {
  platform_admin: {
    level: 'platform',
    scopes: ['admin'],
    description: 'Runs the hub: communities, tenants, tokens and trusted issuers everywhere. No SCIM: SCIM works inside one tenant.',
  },
  community_admin: {
    level: 'community',
    scopes: ['graphql:read', 'graphql:write'],
    description: "Administers its community's tenants: creates them, issues their tokens, sets their settings and trusted issuers.",
  },
  office_admin: {
    level: 'tenant',
    scopes: ['scim:read', 'scim:write', 'graphql:read', 'graphql:write'],
    description: 'Runs one office (tenant): provisions over SCIM, issues its tokens, sets its schema extensions and self-service policy.',
  },
  provisioner: {
    level: 'tenant',
    scopes: ['scim:read', 'scim:write'],
    description: 'A SCIM client of one tenant (Entra ID, Okta, an HR system): reads and writes Users and Groups, nothing else.',
  },
  hr_reader: {
    level: 'community',
    scopes: ['directory:read'],
    description: "Reads the community's global directory (people) and the accounts and groups of every tenant of its community.",
  },
  hr_provider: {
    level: 'community',
    scopes: ['directory:read', 'hr:write'],
    description:
      'An HR system: reads the global directory and drives joiners, movers and leavers (accounts and group membership) in every tenant of its community.',
  },
  // Least privilege: the audit log and the tenant it belongs to, nothing of the directory itself.
  auditor: {
    level: 'tenant',
    scopes: ['audit:read'],
    description: "Reads and verifies its tenant's audit log; changes nothing and reads nothing else.",
  },
  end_user: {
    level: 'tenant',
    scopes: ['scim:me'],
    description: 'One person: reads and edits their own User through `/Me`, as far as the self-service policy allows.',
  },
  // Issue 15: a relying party reads only what people released to it, through its registration (docs/sso.md), never the
  // community's directory; its tokens still see the community and its offices. No Shared Signals stream either (issue 17):
  // a token's stream carries the directory; the registration's client-credentials stream follows the release ledger.
  relying_party: {
    level: 'community',
    scopes: ['released:read'],
    description:
      "A downstream application's API token: sees the community and its offices; reads people, and receives event streams, only through its relying party registration, as released.",
  },
};

/** True when `value` names a role. */
export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/** Parses a role name; INVALID_INPUT names the unknown one and lists the known ones. */
export function parseRole(input: string, field = 'role'): Role {
  const role = input.trim().toLowerCase();
  if (!isRole(role)) {
    throw new MeridianError('INVALID_INPUT', `Unknown role '${input}'. Known roles: ${ROLES.join(', ')}.`, { field });
  }
  return role;
}

/** The scopes a role holds (a copy). */
export function scopesOfRole(role: Role): Scope[] {
  return [...ROLE_DEFINITIONS[role].scopes];
}
