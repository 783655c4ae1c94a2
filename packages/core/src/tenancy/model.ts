import type { Role } from './roles.js';

/** A community of interest: a group of tenants sharing a global directory. */
export interface Community {
  id: string;
  slug: string;
  name: string;
  createdAt: Date;
}

/** A tenant: one office or organisation inside a community. */
export interface Tenant {
  id: string;
  slug: string;
  name: string;
  communityId: string;
  createdAt: Date;
}

/**
 * Scopes a token may carry; roles ({@link Role}) are named bundles of them.
 * `scim:me` is the end user's: read and self-service edits of their own User
 * through `/Me`, nothing else. `directory:read` reads users and groups in the
 * token's reach (and, at community level, the global directory's people)
 * without administering anything; `hr:write` drives joiner, mover and leaver
 * changes of accounts through GraphQL; `audit:read` reads the audit log;
 * `released:read` (the `relying_party` role) reads nothing of the directory:
 * a relying party reads only what people released to it, through its
 * registration's client credentials (issue 15, docs/sso.md); `admin`
 * (platform tokens only) holds every scope.
 */
export type Scope =
  | 'scim:read'
  | 'scim:write'
  | 'scim:me'
  | 'graphql:read'
  | 'graphql:write'
  | 'directory:read'
  | 'hr:write'
  | 'audit:read'
  | 'released:read'
  | 'admin';

/** Every scope, in a stable order: the one list of them. */
export const SCOPES: readonly Scope[] = [
  'scim:read',
  'scim:write',
  'scim:me',
  'graphql:read',
  'graphql:write',
  'directory:read',
  'hr:write',
  'audit:read',
  'released:read',
  'admin',
];

/** An API token as listed (never with its secret). */
export interface ApiToken {
  id: string;
  name: string;
  /** The tenant of a tenant token; null for a community or platform token. */
  tenantId: string | null;
  /** The community of a community token; null otherwise. */
  communityId: string | null;
  /** The User an end-user token belongs to (`scim:me`); null otherwise. */
  userId: string | null;
  /** The role the token was issued for, when it was issued for one (its scopes are then the role's). */
  role: Role | null;
  scopes: Scope[];
  /** The first characters of the token, to recognise it in lists. */
  prefix: string;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

/**
 * Who is calling: resolved from a bearer token. `kind` is where the caller
 * acts: everywhere, across one community, or inside one tenant. Decisions on
 * what it may do are taken by `authorize` (permissions.ts), never ad hoc.
 */
export type Principal =
  | { kind: 'platform'; tokenId: string; scopes: Scope[]; console?: ConsoleIdentity }
  | { kind: 'community'; tokenId: string; communityId: string; scopes: Scope[]; console?: ConsoleIdentity }
  | { kind: 'tenant'; tokenId: string; tenantId: string; scopes: Scope[]; userId?: string; console?: ConsoleIdentity };

/**
 * Who signed in to the admin console (ADR 0034): the office account its token
 * names, and the role the request acts as (`Meridian-Role`), null for the
 * account's own `end_user`. Only a console token's principal has one.
 */
export interface ConsoleIdentity {
  tenantId: string;
  userId: string;
  role: Role | null;
}

/** The actor recorded in audit entries. */
export interface Actor {
  type: 'token' | 'cli' | 'system';
  id: string;
}

/** What every write carries for outbox and audit. */
export interface RequestContext {
  actor: Actor;
  requestId: string;
  sourceAddress?: string;
}

const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** True for a valid community or tenant slug: lowercase letters, digits and inner dashes. */
export function isValidSlug(slug: string): boolean {
  return SLUG.test(slug);
}

/** True when the principal holds `scope` (platform `admin` holds every scope). */
export function hasScope(principal: Principal, scope: Scope): boolean {
  return principal.scopes.includes(scope) || principal.scopes.includes('admin');
}
