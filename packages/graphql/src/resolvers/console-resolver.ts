import {
  allowedActions,
  type ConsoleRoleGrant,
  type ConsoleRoleService,
  MeridianError,
  type Principal,
  principalOfConsole,
  ROLE_DEFINITIONS,
  ROLES,
  type Role,
} from '@meridian/core';
import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { GraphqlContext } from '../context.js';
import { AccountNode, toAccountNode } from '../types/account.js';
import { ConsoleRoleGrantNode, GrantConsoleRoleInput, ViewerNode } from '../types/console.js';
import { CommunityNode, TenantNode } from '../types/objects.js';
import { tenantLoader } from './account-loaders.js';
import { toCommunityNode, toTenantNode } from './mapping.js';
import { contextOf } from './request-context.js';

function consoleRoles(ctx: GraphqlContext): ConsoleRoleService {
  const service = ctx.services.consoleRoles;
  if (!service) throw new MeridianError('UNAVAILABLE', 'The admin console’s roles are not available on this hub.');
  return service;
}

function toGrantNode(grant: ConsoleRoleGrant): ConsoleRoleGrantNode {
  return Object.assign(new ConsoleRoleGrantNode(), grant);
}

/** The role whose level and scopes are exactly the principal's: what an API token was issued as. */
function roleOf(principal: Principal): Role | null {
  if (principal.console) return principal.console.role ?? 'end_user';
  const held = [...principal.scopes].sort().join(' ');
  return (
    ROLES.find((r) => ROLE_DEFINITIONS[r].level === principal.kind && [...ROLE_DEFINITIONS[r].scopes].sort().join(' ') === held) ?? null
  );
}

/** The admin console's contract (issue 21, ADR 0034): the `viewer`, and the roles granted to office accounts. */
@Resolver(() => ConsoleRoleGrantNode)
export class ConsoleRoleResolver {
  @Query(() => [ConsoleRoleGrantNode], {
    description:
      "Console roles granted to the accounts of one tenant or one community (slug or id); without either, every grant in the caller's reach (token.manage).",
  })
  async consoleRoleGrants(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String, { nullable: true }) tenant?: string | null,
    @Arg('community', () => String, { nullable: true }) community?: string | null,
  ) {
    return (await consoleRoles(ctx).list(ctx.principal, { tenant, community })).map(toGrantNode);
  }

  @Mutation(() => ConsoleRoleGrantNode, {
    description: 'Grants a console role to an office account; whoever may issue an API token of that role there may grant it.',
  })
  async grantConsoleRole(@Ctx() ctx: GraphqlContext, @Arg('input', () => GrantConsoleRoleInput) input: GrantConsoleRoleInput) {
    return toGrantNode(await consoleRoles(ctx).grant(ctx.principal, input, contextOf(ctx)));
  }

  @Mutation(() => ConsoleRoleGrantNode, { description: 'Revokes a console role grant; requests acting as it are refused at once.' })
  async revokeConsoleRole(@Ctx() ctx: GraphqlContext, @Arg('id', () => ID) id: string) {
    return toGrantNode(await consoleRoles(ctx).revoke(ctx.principal, id, contextOf(ctx)));
  }

  @FieldResolver(() => TenantNode, { description: 'The tenant of the account the role is granted to.' })
  async tenant(@Root() grant: ConsoleRoleGrantNode, @Ctx() ctx: GraphqlContext) {
    const tenant = await tenantLoader(ctx).load(grant.tenantId);
    if (!tenant) throw new MeridianError('NOT_FOUND', 'Tenant not found.');
    return toTenantNode(tenant);
  }

  @FieldResolver(() => CommunityNode, {
    nullable: true,
    description: "The community of the account's tenant, where a community role acts; null for a platform role.",
  })
  async community(@Root() grant: ConsoleRoleGrantNode, @Ctx() ctx: GraphqlContext) {
    if (grant.level === 'platform') return null;
    const community = await consoleRoles(ctx).communityOf(grant);
    return community ? toCommunityNode(community) : null;
  }
}

/** The `viewer`: who the caller is and what it may do, for any token. */
@Resolver(() => ViewerNode)
export class ViewerResolver {
  @Query(() => ViewerNode, {
    description: 'The caller: the role it acts as, its level, scopes and allowed actions, and (console tokens) the signed-in account.',
  })
  async viewer(@Ctx() ctx: GraphqlContext) {
    const { principal } = ctx;
    return Object.assign(new ViewerNode(), {
      actingRole: roleOf(principal),
      level: principal.kind,
      scopes: [...principal.scopes],
      allowedActions: allowedActions(principal),
      tenantId: principal.kind === 'tenant' ? principal.tenantId : null,
      communityId: principal.kind === 'community' ? principal.communityId : null,
      console: principal.console ? { tenantId: principal.console.tenantId, userId: principal.console.userId } : null,
    });
  }

  @FieldResolver(() => TenantNode, { nullable: true, description: 'The tenant the caller acts in (tenant level only).' })
  async tenant(@Ctx() ctx: GraphqlContext) {
    return (await this.place(ctx)).tenant ?? null;
  }

  @FieldResolver(() => CommunityNode, {
    nullable: true,
    description: "The community the caller acts in, or its tenant's community; null at platform level.",
  })
  async community(@Ctx() ctx: GraphqlContext) {
    return (await this.place(ctx)).community ?? null;
  }

  @FieldResolver(() => AccountNode, { nullable: true, description: 'The office account signed in to the console (console tokens only).' })
  async account(@Root() viewer: ViewerNode, @Ctx() ctx: GraphqlContext) {
    if (!viewer.console) return null;
    // The signed-in person reads their own account whatever role the request acts as.
    const caller = { principal: principalOfConsole({ ...viewer.console, communityId: '' }, null), api: 'graphql' as const };
    const resource = await ctx.services.resources.getOwn(caller);
    return toAccountNode(resource, viewer.console.tenantId);
  }

  @FieldResolver(() => [ConsoleRoleGrantNode], {
    description: 'The console roles of the signed-in account, which Meridian-Role may name (console tokens only; empty otherwise).',
  })
  async grants(@Root() viewer: ViewerNode, @Ctx() ctx: GraphqlContext) {
    if (!viewer.console || !ctx.services.consoleRoles) return [];
    return (await ctx.services.consoleRoles.grantsOf(ctx.principal)).map(toGrantNode);
  }

  private async place(ctx: GraphqlContext) {
    const service = ctx.services.consoleRoles;
    const found = service ? await service.placeOf(ctx.principal) : {};
    return {
      tenant: found.tenant ? toTenantNode(found.tenant) : undefined,
      community: found.community ? toCommunityNode(found.community) : undefined,
    };
  }
}
