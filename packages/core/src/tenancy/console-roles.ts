import { MeridianError } from '../errors/meridian-error.js';
import type { AdminStore } from '../ports/admin.js';
import { type AdminService, mayGrant } from './admin-service.js';
import type { Community, Principal, RequestContext, Tenant } from './model.js';
import { ACTIONS, type Action, decideAuthorization, type ResourceContext, resourceOfTenant } from './permissions.js';
import { type PrincipalLevel, parseRole, ROLE_DEFINITIONS, type Role } from './roles.js';

// The admin console's roles (issue 21, ADR 0034): an office account is granted one of the administrative roles, and a
// request made with a console token acts as that role when it names it (`Meridian-Role`), else as the account's own end user.

/** The client id of the admin console at every community's OpenID Provider: built in, never a relying party. */
export const CONSOLE_CLIENT_ID = 'meridian-console';

/** The request header naming the role a console token's request acts as (ADR 0034). */
export const CONSOLE_ROLE_HEADER = 'meridian-role';

/** The claims of a console access token that name the office account signed in with (ADR 0034). */
export const CONSOLE_TENANT_CLAIM = 'meridian_tenant';
export const CONSOLE_ACCOUNT_CLAIM = 'meridian_account';

/** The roles an office account can be granted for the console: the administrative ones, not API clients' nor end users'. */
export const CONSOLE_ROLES: readonly Role[] = ['platform_admin', 'community_admin', 'office_admin', 'hr_reader', 'hr_provider', 'auditor'];

/** One role granted to one office account. */
export interface ConsoleRoleGrant {
  id: string;
  /** The account's tenant (office). */
  tenantId: string;
  /** The community of the account's tenant. */
  communityId: string;
  userId: string;
  userName: string;
  role: Role;
  /** Where the role acts: the account's tenant, its tenant's community, or the platform (the role's level). */
  level: PrincipalLevel;
  createdAt: Date;
  /** The audit actor who granted it. */
  createdBy: string;
}

/** An office account as the console needs it. */
export interface ConsoleAccount {
  tenantId: string;
  communityId: string;
  userId: string;
  userName: string;
  active: boolean;
}

/** Where console role grants are kept (the store's `console_role_grant`); writes are audited in the account's tenant chain. */
export interface ConsoleRoleStore {
  /** The account with this id or userName (case-insensitive) in the tenant. */
  findAccount(tenantId: string, userIdOrName: string): Promise<ConsoleAccount | undefined>;
  /** Grants a role; CONFLICT when the account already holds it. Audited (`console.role_granted`). */
  grant(values: { account: ConsoleAccount; role: Role; level: PrincipalLevel }, context: RequestContext): Promise<ConsoleRoleGrant>;
  /** Removes a grant; undefined when there is none. Audited (`console.role_revoked`). */
  revoke(id: string, context: RequestContext): Promise<ConsoleRoleGrant | undefined>;
  find(id: string): Promise<ConsoleRoleGrant | undefined>;
  /** Grants of the accounts of one tenant, of one community's tenants, or every grant (no filter). */
  list(filter: { tenantId?: string; communityId?: string }): Promise<ConsoleRoleGrant[]>;
  /** The account and its grants, read together on every console request: undefined when there is no such account. */
  accountWithGrants(tenantId: string, userId: string): Promise<{ account: ConsoleAccount; grants: ConsoleRoleGrant[] } | undefined>;
}

/** True when `role` may be granted for the console. */
export function isConsoleRole(role: Role): boolean {
  return CONSOLE_ROLES.includes(role);
}

/** The audit actor, and token id, of requests made with the console token of one account. */
export function consoleActorOf(tenantId: string, userId: string): string {
  return `console:${tenantId}:${userId}`;
}

/** Where a role granted to `account` acts: its tenant, its tenant's community, or the platform. */
export function placeOfGrant(role: Role, account: Pick<ConsoleAccount, 'tenantId' | 'communityId'>): ResourceContext {
  switch (ROLE_DEFINITIONS[role].level) {
    case 'platform':
      return {};
    case 'community':
      return { communityId: account.communityId };
    case 'tenant':
      return { tenantId: account.tenantId, communityId: account.communityId };
  }
}

/**
 * The principal of a console request: the account's own `end_user` when
 * `role` is null, else the granted role's level, scopes and reach (the
 * account's tenant, its community, or the platform). The token id is the
 * account's console actor, so that the audit log names the person.
 */
export function principalOfConsole(account: Pick<ConsoleAccount, 'tenantId' | 'communityId' | 'userId'>, role: Role | null): Principal {
  const tokenId = consoleActorOf(account.tenantId, account.userId);
  const console = { tenantId: account.tenantId, userId: account.userId, role };
  if (role === null) return { kind: 'tenant', tokenId, tenantId: account.tenantId, scopes: ['scim:me'], userId: account.userId, console };
  const { level, scopes } = ROLE_DEFINITIONS[role];
  if (level === 'platform') return { kind: 'platform', tokenId, scopes: [...scopes], console };
  if (level === 'community') return { kind: 'community', tokenId, communityId: account.communityId, scopes: [...scopes], console };
  return { kind: 'tenant', tokenId, tenantId: account.tenantId, scopes: [...scopes], console };
}

/**
 * The outcome of a console request's role header against the account's
 * grants: the principal, or why it is refused (FORBIDDEN names the role).
 * No header, or `end_user`, is the account's own end user.
 */
export function consolePrincipal(
  account: ConsoleAccount,
  grants: readonly Pick<ConsoleRoleGrant, 'role'>[],
  header: string | undefined,
): { principal: Principal } | { forbidden: string } {
  const asked = header?.trim() ?? '';
  const role = asked.toLowerCase();
  // No header, or `end_user` named outright: the account's own end user, which every account is.
  if (role === '' || role === 'end_user') return { principal: principalOfConsole(account, null) };
  const granted = grants.find((g) => g.role === role);
  if (!granted) {
    return {
      forbidden:
        `This account has no console role '${asked.slice(0, 64)}'` +
        (grants.length > 0 ? `: its roles are ${grants.map((g) => g.role).join(', ')}.` : ': it has none.'),
    };
  }
  return { principal: principalOfConsole(account, granted.role) };
}

/** The actions a principal may take somewhere in its reach (its level and scopes allow them): what the console shows. */
export function allowedActions(principal: Principal): Action[] {
  return ACTIONS.filter((action) => decideAuthorization(principal, action).allowed);
}

/**
 * Grants, revokes and lists the console's roles (ADR 0034). Who may grant a
 * role where is who may issue an API token of that role there
 * (`token.manage` at the role's place, and every scope of the role grantable
 * by the caller): a platform admin grants anything, a community admin
 * community and tenant roles in its community, an office admin tenant roles
 * in its tenant that it holds the scopes of.
 */
export class ConsoleRoleService {
  constructor(
    private readonly store: ConsoleRoleStore,
    private readonly admin: Pick<AdminService, 'authorizeTenant' | 'authorizeCommunity'>,
    private readonly tenants: Pick<AdminStore, 'findTenant' | 'findCommunity'>,
  ) {}

  /** Grants `role` to the account `user` (id or userName) of `tenant`. */
  async grant(
    principal: Principal,
    values: { tenant: string; user: string; role: string },
    context: RequestContext,
  ): Promise<ConsoleRoleGrant> {
    const role = parseRole(values.role);
    if (!isConsoleRole(role)) {
      throw new MeridianError(
        'INVALID_INPUT',
        `The role '${role}' cannot be granted for the console. Console roles: ${CONSOLE_ROLES.join(', ')}.`,
        {
          field: 'role',
        },
      );
    }
    const tenant = await this.admin.authorizeTenant(principal, 'token.manage', values.tenant);
    const user = values.user.trim();
    const account = user === '' || user.length > 1024 ? undefined : await this.store.findAccount(tenant.id, user);
    if (!account)
      throw new MeridianError('NOT_FOUND', `User '${values.user.slice(0, 200)}' not found in tenant '${tenant.slug}'.`, { field: 'user' });
    this.checkMayGrant(principal, role, account, 'grant');
    return this.store.grant({ account, role, level: ROLE_DEFINITIONS[role].level }, context);
  }

  /** Revokes a grant the principal could have made; NOT_FOUND for one out of its reach. */
  async revoke(principal: Principal, id: string, context: RequestContext): Promise<ConsoleRoleGrant> {
    const grant = id.length > 100 ? undefined : await this.store.find(id);
    const tenant = grant ? await this.tenants.findTenant(grant.tenantId) : undefined;
    if (!grant || !tenant || !decideAuthorization(principal, 'token.manage', resourceOfTenant(tenant)).allowed) {
      throw new MeridianError('NOT_FOUND', `Console role grant '${id.slice(0, 100)}' not found.`);
    }
    this.checkMayGrant(principal, grant.role, grant, 'revoke');
    const revoked = await this.store.revoke(grant.id, context);
    if (!revoked) throw new MeridianError('NOT_FOUND', `Console role grant '${id.slice(0, 100)}' not found.`);
    return revoked;
  }

  /** The grants of one tenant's accounts, or of one community's, or (neither) every grant in the principal's reach. */
  async list(principal: Principal, where: { tenant?: string | null; community?: string | null }): Promise<ConsoleRoleGrant[]> {
    const tenantRef = where.tenant?.trim();
    const communityRef = where.community?.trim();
    if (tenantRef && communityRef) {
      throw new MeridianError('INVALID_INPUT', 'Give a tenant or a community, not both.', { field: 'community' });
    }
    if (tenantRef) return this.store.list({ tenantId: (await this.admin.authorizeTenant(principal, 'token.manage', tenantRef)).id });
    if (communityRef) {
      const community = await this.admin.authorizeCommunity(principal, 'token.manage', communityRef);
      return this.store.list({ communityId: community.id });
    }
    const decision = decideAuthorization(principal, 'token.manage');
    if (!decision.allowed) throw new MeridianError(decision.code, decision.message);
    if (principal.kind === 'platform') return this.store.list({});
    if (principal.kind === 'community') return this.store.list({ communityId: principal.communityId });
    return this.store.list({ tenantId: principal.tenantId });
  }

  /** The grants of the console token's own account (the `viewer`): none for any other principal. */
  async grantsOf(principal: Principal): Promise<ConsoleRoleGrant[]> {
    if (!principal.console) return [];
    return (await this.store.accountWithGrants(principal.console.tenantId, principal.console.userId))?.grants ?? [];
  }

  /**
   * Where a principal acts, for the `viewer`: its tenant and that tenant's
   * community, or its community; nothing for the platform. It checks
   * nothing: the principal's own place is never out of its reach.
   */
  async placeOf(principal: Principal): Promise<{ tenant?: Tenant; community?: Community }> {
    if (principal.kind === 'platform') return {};
    if (principal.kind === 'community') {
      const community = await this.tenants.findCommunity(principal.communityId);
      return community ? { community } : {};
    }
    const tenant = await this.tenants.findTenant(principal.tenantId);
    const community = tenant ? await this.tenants.findCommunity(tenant.communityId) : undefined;
    return { ...(tenant ? { tenant } : {}), ...(community ? { community } : {}) };
  }

  /** A grant's community, for GraphQL (the caller has already read the grant). */
  communityOf(grant: Pick<ConsoleRoleGrant, 'communityId'>): Promise<Community | undefined> {
    return this.tenants.findCommunity(grant.communityId);
  }

  private checkMayGrant(
    principal: Principal,
    role: Role,
    account: Pick<ConsoleAccount, 'tenantId' | 'communityId'>,
    verb: 'grant' | 'revoke',
  ): void {
    const place = placeOfGrant(role, account);
    const { level, scopes } = ROLE_DEFINITIONS[role];
    const unheld = scopes.find((scope) => !mayGrant(principal, scope));
    if (!decideAuthorization(principal, 'token.manage', place).allowed || unheld !== undefined) {
      throw new MeridianError(
        'FORBIDDEN',
        `This caller cannot ${verb} the console role '${role}': it acts at ${level} level, and only a caller who may issue a ${role} token there may ${verb} it.`,
        { field: 'role' },
      );
    }
  }
}
