import { MeridianError } from '../errors/meridian-error.js';
import { hasScope, type Principal, type Scope, type Tenant } from './model.js';
import { type PrincipalLevel, ROLE_DEFINITIONS, ROLES, type Role } from './roles.js';

/**
 * What a caller asks to do. Every SCIM endpoint and GraphQL operation maps to
 * exactly one action ({@link OPERATIONS}); every authorization decision is
 * taken by {@link authorize} on an action.
 */
export type Action =
  | 'scim.discovery'
  | 'scim.read'
  | 'scim.write'
  | 'scim.me'
  | 'community.create'
  | 'community.read'
  | 'tenant.create'
  | 'tenant.read'
  | 'directory.read'
  | 'people.read'
  | 'people.manage'
  | 'hr.write'
  | 'settings.read'
  | 'settings.write'
  | 'token.manage'
  | 'issuer.read'
  | 'issuer.manage'
  | 'replication.read'
  | 'replication.manage'
  | 'audit.read'
  | 'sso.read'
  | 'sso.manage'
  | 'events.receive'
  | 'viewer.read';

/** Who may take an action: a principal at one of `levels` holding any one of `scopes` (none listed: no scope needed). */
export interface ActionRule {
  scopes: readonly Scope[];
  levels: readonly PrincipalLevel[];
  description: string;
}

const ALL_LEVELS: readonly PrincipalLevel[] = ['platform', 'community', 'tenant'];
const ADMIN_LEVELS: readonly PrincipalLevel[] = ['platform', 'community'];
const TENANT_ONLY: readonly PrincipalLevel[] = ['tenant'];

/** The rule of every action, in the order the docs list them. */
export const ACTION_RULES: Readonly<Record<Action, ActionRule>> = {
  'scim.discovery': { scopes: [], levels: TENANT_ONLY, description: 'SCIM discovery: what this tenant’s endpoint supports' },
  'scim.read': { scopes: ['scim:read'], levels: TENANT_ONLY, description: 'read and search SCIM Users and Groups of the tenant' },
  'scim.write': { scopes: ['scim:write'], levels: TENANT_ONLY, description: 'create, replace, patch and delete SCIM Users and Groups' },
  'scim.me': { scopes: ['scim:me'], levels: TENANT_ONLY, description: "the end user's own User through SCIM /Me and GraphQL `me`" },
  'community.create': { scopes: ['admin'], levels: ['platform'], description: 'create communities' },
  // audit:read may look tenants up too, so that an auditor can name the tenant whose log it reads.
  'community.read': {
    scopes: ['graphql:read', 'directory:read', 'audit:read', 'released:read'],
    levels: ALL_LEVELS,
    description: 'see the communities in reach',
  },
  'tenant.create': { scopes: ['graphql:write'], levels: ADMIN_LEVELS, description: 'create tenants in a community' },
  'tenant.read': {
    scopes: ['graphql:read', 'directory:read', 'audit:read', 'released:read'],
    levels: ALL_LEVELS,
    description: 'see the tenants in reach',
  },
  'directory.read': {
    scopes: ['graphql:read', 'directory:read'],
    levels: ALL_LEVELS,
    description: 'read users and groups of the tenants in reach',
  },
  // The global directory spans a community: tokens above the tenant read it (a tenant token reads its own accounts).
  'people.read': {
    scopes: ['graphql:read', 'directory:read'],
    levels: ADMIN_LEVELS,
    description: "read the community's global directory: people, their linked accounts and conflicts",
  },
  'people.manage': {
    scopes: ['graphql:write'],
    levels: ADMIN_LEVELS,
    description: 'set correlation and authority rules, link and unlink accounts by hand, resolve conflicts',
  },
  'hr.write': {
    scopes: ['hr:write', 'graphql:write'],
    levels: ALL_LEVELS,
    description: 'joiner, mover and leaver changes of accounts, and group membership, through GraphQL',
  },
  'settings.read': { scopes: ['graphql:read'], levels: ALL_LEVELS, description: 'read schema extensions and the self-service policy' },
  'settings.write': { scopes: ['graphql:write'], levels: ALL_LEVELS, description: 'change schema extensions and the self-service policy' },
  'token.manage': { scopes: ['graphql:write'], levels: ALL_LEVELS, description: 'issue, list and revoke API tokens' },
  'issuer.read': { scopes: ['graphql:read'], levels: ALL_LEVELS, description: 'list trusted JWT issuers' },
  // A trusted issuer can mint any role of its tenant: only those above the tenant configure one.
  'issuer.manage': { scopes: ['graphql:write'], levels: ADMIN_LEVELS, description: 'add and remove trusted JWT issuers' },
  'replication.read': {
    scopes: ['graphql:read'],
    levels: ALL_LEVELS,
    description: 'see replication targets, delivery status and dead letters, and inbound sources',
  },
  'replication.manage': {
    scopes: ['graphql:write'],
    levels: ALL_LEVELS,
    description: 'add, change, pause, test, reconcile and replay replication targets; add, change, sync, test and delete inbound sources',
  },
  // A tenant's administrators read its audit log too; an auditor reads it and nothing else. Community-wide reading comes later.
  'audit.read': { scopes: ['audit:read', 'graphql:read'], levels: ['platform', 'tenant'], description: 'read and verify the audit log' },
  // Relying parties are registered per community (issue 15): a registration can receive any person's released attributes.
  'sso.read': { scopes: ['graphql:read'], levels: ADMIN_LEVELS, description: "list the community's relying parties and their grants" },
  'sso.manage': {
    scopes: ['graphql:write'],
    levels: ADMIN_LEVELS,
    description: 'register, change and delete relying parties, rotate their secrets, revoke grants',
  },
  // Issue 17: a community API token receives Shared Signals streams; the relying_party role keeps that after issue 15.
  'events.receive': {
    scopes: ['graphql:read', 'directory:read', 'released:read'],
    levels: ['community'],
    description: "receive the community's change events over Shared Signals with a community API token",
  },
  // Issue 21: every caller may ask who it is and what it may do (the admin console shows only that).
  'viewer.read': { scopes: [], levels: ALL_LEVELS, description: 'see who the caller is: its role, level, scopes and allowed actions' },
};

/**
 * Why a `relying_party` token may not read the directory (issue 15): the
 * community-wide read is closed, and the way to read what people released
 * is the relying party's own registration.
 */
export const RELEASED_ONLY_MESSAGE =
  "A relying_party token cannot read the community's directory: a relying party reads only the people who consented to it, " +
  "and only what they released, with its registration's client-credentials token at {issuer}/scim/v2/Users (docs/sso.md).";

/** Every action, in a stable order. */
export const ACTIONS: readonly Action[] = Object.keys(ACTION_RULES) as Action[];

/**
 * What an action is about. A tenant's resource names its tenant and that
 * tenant's community; a community's names the community; `{}` is the
 * platform itself. Omit it only for operations that touch no one resource
 * (lists, which the service filters to the caller's reach).
 */
export interface ResourceContext {
  tenantId?: string;
  communityId?: string;
}

/** The resource context of a tenant: the tenant and its community. */
export function resourceOfTenant(tenant: Pick<Tenant, 'id' | 'communityId'>): ResourceContext {
  return { tenantId: tenant.id, communityId: tenant.communityId };
}

/** Why a principal may not take an action. */
export type DenialReason = 'level' | 'scope' | 'reach';

/** The outcome of {@link decideAuthorization}. */
export type AuthorizationDecision =
  | { allowed: true }
  | {
      allowed: false;
      reason: DenialReason;
      /** FORBIDDEN, or NOT_FOUND for a resource out of reach, so that its existence does not leak. */
      code: 'FORBIDDEN' | 'NOT_FOUND';
      /** The scope that would have allowed it, for `insufficient_scope` (RFC 6750 §3.1). */
      scope?: Scope;
      message: string;
    };

const LEVEL_NAMES: Record<PrincipalLevel, string> = { platform: 'a platform', community: 'a community', tenant: 'a tenant' };

function inReach(principal: Principal, resource: ResourceContext): boolean {
  switch (principal.kind) {
    case 'platform':
      return true;
    case 'community':
      return resource.communityId !== undefined && resource.communityId === principal.communityId;
    case 'tenant':
      return resource.tenantId !== undefined && resource.tenantId === principal.tenantId;
  }
}

/**
 * Decides whether `principal` may take `action` on `resource`, without
 * throwing: the principal's level must be one the action allows, it must
 * hold one of the action's scopes, and the resource must be in its reach
 * (platform: everything; community: its community and that community's
 * tenants; tenant: itself).
 */
export function decideAuthorization(principal: Principal, action: Action, resource?: ResourceContext): AuthorizationDecision {
  const rule = ACTION_RULES[action];
  if (!rule.levels.includes(principal.kind)) {
    return {
      allowed: false,
      reason: 'level',
      code: 'FORBIDDEN',
      message: `This operation needs ${rule.levels.map((l) => LEVEL_NAMES[l]).join(' or ')} token.`,
    };
  }
  if (rule.scopes.length > 0 && !rule.scopes.some((scope) => hasScope(principal, scope))) {
    const [first] = rule.scopes as [Scope, ...Scope[]];
    if (rule.scopes.includes('directory:read') && principal.scopes.includes('released:read')) {
      return { allowed: false, reason: 'scope', code: 'FORBIDDEN', scope: 'directory:read', message: RELEASED_ONLY_MESSAGE };
    }
    return {
      allowed: false,
      reason: 'scope',
      code: 'FORBIDDEN',
      scope: first,
      message:
        rule.scopes.length === 1
          ? `This token lacks the '${first}' scope.`
          : `This token needs one of the scopes ${rule.scopes.map((s) => `'${s}'`).join(', ')}.`,
    };
  }
  if (resource !== undefined && !inReach(principal, resource)) {
    const platformResource = resource.tenantId === undefined && resource.communityId === undefined;
    return platformResource
      ? { allowed: false, reason: 'reach', code: 'FORBIDDEN', message: 'This operation needs a platform token.' }
      : { allowed: false, reason: 'reach', code: 'NOT_FOUND', message: 'Not found.' };
  }
  return { allowed: true };
}

/**
 * The one authorization check: throws FORBIDDEN (or NOT_FOUND for a resource
 * out of reach) unless `principal` may take `action` on `resource`.
 *
 * @example
 * authorize(ctx.principal, 'audit.read', { tenantId: tenant.id, communityId: tenant.communityId });
 */
export function authorize(principal: Principal, action: Action, resource?: ResourceContext): void {
  const decision = decideAuthorization(principal, action, resource);
  if (!decision.allowed) throw new MeridianError(decision.code, decision.message);
}

/**
 * What an operation acts on: one tenant, one community, the platform, or a
 * list (filtered to the caller's reach rather than refused).
 */
export type OperationTarget = 'tenant' | 'community' | 'platform' | 'list';

/** One SCIM endpoint (`METHOD /path`) or GraphQL operation (`Type.field`), the action it takes and what on. */
export interface Operation {
  api: 'SCIM' | 'GraphQL';
  name: string;
  action: Action;
  target: OperationTarget;
}

const scim = (name: string, action: Action): Operation => ({ api: 'SCIM', name, action, target: 'tenant' });
const graphql = (name: string, action: Action, target: OperationTarget): Operation => ({ api: 'GraphQL', name, action, target });

/**
 * Every SCIM endpoint and every GraphQL operation, classified. The security
 * matrix test walks this list with a token per role, and fails when the
 * GraphQL schema has an operation that is not here; docs/security.md is
 * generated from it.
 */
export const OPERATIONS: readonly Operation[] = [
  scim('GET /ServiceProviderConfig', 'scim.discovery'),
  scim('GET /ResourceTypes', 'scim.discovery'),
  scim('GET /ResourceTypes/{id}', 'scim.discovery'),
  scim('GET /Schemas', 'scim.discovery'),
  scim('GET /Schemas/{id}', 'scim.discovery'),
  scim('GET /Users', 'scim.read'),
  scim('POST /Users/.search', 'scim.read'),
  scim('GET /Users/{id}', 'scim.read'),
  scim('POST /Users', 'scim.write'),
  scim('PUT /Users/{id}', 'scim.write'),
  scim('PATCH /Users/{id}', 'scim.write'),
  scim('DELETE /Users/{id}', 'scim.write'),
  scim('GET /Groups', 'scim.read'),
  scim('POST /Groups/.search', 'scim.read'),
  scim('GET /Groups/{id}', 'scim.read'),
  scim('POST /Groups', 'scim.write'),
  scim('PUT /Groups/{id}', 'scim.write'),
  scim('PATCH /Groups/{id}', 'scim.write'),
  scim('DELETE /Groups/{id}', 'scim.write'),
  scim('POST /.search', 'scim.read'),
  scim('POST /Bulk', 'scim.write'),
  scim('GET /Me', 'scim.me'),
  scim('PUT /Me', 'scim.me'),
  scim('PATCH /Me', 'scim.me'),
  graphql('Query.communities', 'community.read', 'list'),
  graphql('Query.tenants', 'tenant.read', 'list'),
  graphql('Query.tenant', 'tenant.read', 'tenant'),
  graphql('Tenant.users', 'directory.read', 'tenant'),
  graphql('Tenant.groups', 'directory.read', 'tenant'),
  graphql('Query.accounts', 'directory.read', 'tenant'),
  graphql('Query.account', 'directory.read', 'tenant'),
  graphql('Query.groups', 'directory.read', 'tenant'),
  graphql('Group.memberPage', 'directory.read', 'tenant'),
  graphql('Query.me', 'scim.me', 'tenant'),
  graphql('Query.mySelfServicePolicy', 'scim.me', 'tenant'),
  graphql('Mutation.createAccount', 'hr.write', 'tenant'),
  graphql('Mutation.updateAccount', 'hr.write', 'tenant'),
  graphql('Mutation.moveAccount', 'hr.write', 'tenant'),
  graphql('Mutation.suspendAccount', 'hr.write', 'tenant'),
  graphql('Mutation.restoreAccount', 'hr.write', 'tenant'),
  graphql('Mutation.terminateAccount', 'hr.write', 'tenant'),
  graphql('Mutation.createGroup', 'hr.write', 'tenant'),
  graphql('Mutation.deleteGroup', 'hr.write', 'tenant'),
  graphql('Mutation.addGroupMembers', 'hr.write', 'tenant'),
  graphql('Mutation.removeGroupMembers', 'hr.write', 'tenant'),
  graphql('Mutation.updateMe', 'scim.me', 'tenant'),
  graphql('Tenant.schemaExtensions', 'settings.read', 'tenant'),
  graphql('Tenant.selfServicePolicy', 'settings.read', 'tenant'),
  graphql('Tenant.tokens', 'token.manage', 'tenant'),
  graphql('Community.tokens', 'token.manage', 'community'),
  graphql('Query.trustedIssuers', 'issuer.read', 'tenant'),
  graphql('Mutation.createCommunity', 'community.create', 'platform'),
  graphql('Mutation.createTenant', 'tenant.create', 'community'),
  graphql('Mutation.createToken', 'token.manage', 'tenant'),
  graphql('Mutation.revokeToken', 'token.manage', 'tenant'),
  graphql('Mutation.createSchemaExtension', 'settings.write', 'tenant'),
  graphql('Mutation.deleteSchemaExtension', 'settings.write', 'tenant'),
  graphql('Mutation.setSelfServicePolicy', 'settings.write', 'tenant'),
  graphql('Mutation.addTrustedIssuer', 'issuer.manage', 'tenant'),
  graphql('Mutation.removeTrustedIssuer', 'issuer.manage', 'tenant'),
  graphql('Tenant.replicationTargets', 'replication.read', 'tenant'),
  graphql('Tenant.replicationCounts', 'replication.read', 'tenant'),
  graphql('Tenant.deadLetters', 'replication.read', 'tenant'),
  graphql('Tenant.replicationWaitSeconds', 'replication.read', 'tenant'),
  graphql('Query.targets', 'replication.read', 'tenant'),
  graphql('Query.replicationStatus', 'replication.read', 'tenant'),
  graphql('Account.replicationStatus', 'replication.read', 'tenant'),
  graphql('Mutation.createReplicationTarget', 'replication.manage', 'tenant'),
  graphql('Mutation.updateReplicationTarget', 'replication.manage', 'tenant'),
  graphql('Mutation.deleteReplicationTarget', 'replication.manage', 'tenant'),
  graphql('Mutation.pauseReplicationTarget', 'replication.manage', 'tenant'),
  graphql('Mutation.resumeReplicationTarget', 'replication.manage', 'tenant'),
  graphql('Mutation.testReplicationTarget', 'replication.manage', 'tenant'),
  graphql('Mutation.reconcileReplicationTarget', 'replication.manage', 'tenant'),
  graphql('Mutation.migrateReplicationTarget', 'replication.manage', 'tenant'),
  graphql('Mutation.cancelReplicationTargetRetirement', 'replication.manage', 'tenant'),
  graphql('Mutation.replayDeadLetter', 'replication.manage', 'tenant'),
  graphql('Mutation.setReplicationWaitSeconds', 'replication.manage', 'tenant'),
  graphql('Query.people', 'people.read', 'community'),
  graphql('Query.person', 'people.read', 'community'),
  graphql('Query.directoryConflicts', 'people.read', 'community'),
  graphql('Query.directoryRules', 'people.read', 'community'),
  graphql('Account.person', 'people.read', 'community'),
  graphql('Mutation.setDirectoryRules', 'people.manage', 'community'),
  graphql('Mutation.linkAccount', 'people.manage', 'community'),
  graphql('Mutation.unlinkAccount', 'people.manage', 'community'),
  graphql('Mutation.releaseAccount', 'people.manage', 'community'),
  graphql('Mutation.pinAttribute', 'people.manage', 'community'),
  graphql('Mutation.rebuildDirectory', 'people.manage', 'community'),
  graphql('Query.directoryExports', 'people.read', 'community'),
  graphql('Mutation.createDirectoryExport', 'people.manage', 'community'),
  graphql('Mutation.deleteDirectoryExport', 'people.manage', 'community'),
  graphql('Query.auditEvents', 'audit.read', 'tenant'),
  graphql('Query.auditVerification', 'audit.read', 'tenant'),
  graphql('Query.relyingParties', 'sso.read', 'community'),
  graphql('Query.relyingPartyGrants', 'sso.read', 'community'),
  graphql('Mutation.createRelyingParty', 'sso.manage', 'community'),
  graphql('Mutation.updateRelyingParty', 'sso.manage', 'community'),
  graphql('Mutation.deleteRelyingParty', 'sso.manage', 'community'),
  graphql('Mutation.rotateRelyingPartySecret', 'sso.manage', 'community'),
  graphql('Mutation.revokeGrant', 'sso.manage', 'community'),
  graphql('Community.ssoTheme', 'sso.read', 'community'),
  graphql('Mutation.setCommunityTheme', 'sso.manage', 'community'),
  graphql('Account.grants', 'scim.me', 'tenant'),
  graphql('Mutation.revokeMyGrant', 'scim.me', 'tenant'),
  graphql('Query.offboardings', 'hr.write', 'tenant'),
  graphql('Mutation.offboardAccount', 'hr.write', 'tenant'),
  graphql('Mutation.cancelOffboarding', 'hr.write', 'tenant'),
  graphql('Mutation.setRelyingPartyJitTargets', 'sso.manage', 'community'),
  graphql('Query.eventStreams', 'sso.read', 'community'),
  graphql('Query.eventStream', 'sso.read', 'community'),
  graphql('Mutation.createEventStream', 'sso.manage', 'community'),
  graphql('Mutation.setEventStreamStatus', 'sso.manage', 'community'),
  graphql('Mutation.deleteEventStream', 'sso.manage', 'community'),
  graphql('Query.inboundSources', 'replication.read', 'tenant'),
  graphql('Query.inboundSource', 'replication.read', 'tenant'),
  graphql('Mutation.createInboundSource', 'replication.manage', 'tenant'),
  graphql('Mutation.updateInboundSource', 'replication.manage', 'tenant'),
  graphql('Mutation.deleteInboundSource', 'replication.manage', 'tenant'),
  graphql('Mutation.syncInboundSource', 'replication.manage', 'tenant'),
  graphql('Mutation.testInboundSource', 'replication.manage', 'tenant'),
  graphql('Query.viewer', 'viewer.read', 'list'),
  graphql('Query.tokens', 'token.manage', 'tenant'),
  graphql('Query.consoleRoleGrants', 'token.manage', 'tenant'),
  graphql('Mutation.grantConsoleRole', 'token.manage', 'tenant'),
  graphql('Mutation.revokeConsoleRole', 'token.manage', 'tenant'),
];

const SCIM_OPERATIONS = new Map(OPERATIONS.filter((o) => o.api === 'SCIM').map((o) => [o.name, o.action]));

/**
 * The action of a SCIM request, from its method and route (`/Users/:id` or
 * `/Users/{id}`, relative to the SCIM base). Routes not in the table (404s)
 * count as reads for GET and HEAD and as writes otherwise.
 */
export function scimActionOf(method: string, route: string): Action {
  const verb = method.toUpperCase() === 'HEAD' ? 'GET' : method.toUpperCase();
  const path = route.replace(/:([A-Za-z]+)/g, '{$1}');
  return SCIM_OPERATIONS.get(`${verb} ${path}`) ?? (verb === 'GET' ? 'scim.read' : 'scim.write');
}

/** Ids that stand for "its own tenant and community" when the matrix is computed. */
const OWN = { tenantId: 'own-tenant', communityId: 'own-community' };

const OWN_RESOURCE: Record<OperationTarget, ResourceContext | undefined> = {
  tenant: OWN,
  community: { communityId: OWN.communityId },
  platform: {},
  list: undefined,
};

/**
 * A principal holding exactly the scopes of `role`, in its own tenant or
 * community: the stand-ins of the matrix, or those `own` names (tests and
 * tools acting as a role in a real tenant or community).
 */
export function principalOfRole(role: Role, own: { tenantId?: string; communityId?: string; userId?: string } = {}): Principal {
  const { level, scopes } = ROLE_DEFINITIONS[role];
  const tokenId = `role:${role}`;
  if (level === 'platform') return { kind: 'platform', tokenId, scopes: [...scopes] };
  if (level === 'community') return { kind: 'community', tokenId, communityId: own.communityId ?? OWN.communityId, scopes: [...scopes] };
  const tenantId = own.tenantId ?? OWN.tenantId;
  return { kind: 'tenant', tokenId, tenantId, scopes: [...scopes], ...(role === 'end_user' ? { userId: own.userId ?? 'own-user' } : {}) };
}

/**
 * Whether a token of `role` may take `action` on `target` in its own reach:
 * its own tenant, or a tenant of its own community, or its own community.
 * This is one cell of the permission matrix.
 */
export function roleMayTake(role: Role, action: Action, target: OperationTarget = 'tenant'): boolean {
  return decideAuthorization(principalOfRole(role), action, OWN_RESOURCE[target]).allowed;
}

/** The permission matrix: each operation and, per role, whether that role may call it. */
export function permissionMatrix(): { operation: Operation; allowed: Record<Role, boolean> }[] {
  return OPERATIONS.map((operation) => ({
    operation,
    allowed: Object.fromEntries(ROLES.map((role) => [role, roleMayTake(role, operation.action, operation.target)])) as Record<
      Role,
      boolean
    >,
  }));
}
