import { MeridianError, parseScimFilter } from '@meridian/core';
import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { GraphqlContext } from '../context.js';
import { toAccountNode } from '../types/account.js';
import { AccountConnection, CommunityConnection, GroupConnection, TenantConnection } from '../types/connections.js';
import { CommunityNode, IssuedTokenNode, TenantNode, TokenNode } from '../types/objects.js';
import { toCommunityNode, toConnection, toGroupNode, toTenantNode, toTokenNode } from './mapping.js';
import { callerOf, contextOf } from './request-context.js';

// Every check is taken by the core services these resolvers call (core permissions.ts); docs/security.md lists them.

@Resolver(() => CommunityNode)
export class CommunityResolver {
  @Query(() => CommunityConnection, { description: 'Communities visible to the caller.' })
  async communities(
    @Ctx() ctx: GraphqlContext,
    @Arg('first', () => Int, { defaultValue: 50 }) first: number,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
  ) {
    const page = await ctx.services.admin.listCommunities(ctx.principal, { first, after: after ?? undefined });
    return toConnection(page, toCommunityNode);
  }

  @FieldResolver(() => TenantConnection, { description: 'Tenants of this community visible to the caller.' })
  async tenants(
    @Root() community: CommunityNode,
    @Ctx() ctx: GraphqlContext,
    @Arg('first', () => Int, { defaultValue: 50 }) first: number,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
  ) {
    const page = await ctx.services.admin.listTenants(ctx.principal, { first, after: after ?? undefined }, community.id);
    return toConnection(page, toTenantNode);
  }

  @FieldResolver(() => [TokenNode], { description: 'API tokens of this community, not of its tenants (platform or community admins).' })
  async tokens(@Root() community: CommunityNode, @Ctx() ctx: GraphqlContext) {
    return (await ctx.services.admin.listTokens(ctx.principal, { community: community.id })).map(toTokenNode);
  }

  @Mutation(() => CommunityNode, { description: 'Creates a community (platform admin).' })
  async createCommunity(@Ctx() ctx: GraphqlContext, @Arg('slug', () => String) slug: string, @Arg('name', () => String) name: string) {
    return toCommunityNode(await ctx.services.admin.createCommunity(ctx.principal, { slug, name }, contextOf(ctx)));
  }
}

@Resolver(() => TenantNode)
export class TenantResolver {
  @Query(() => TenantConnection, { description: 'Tenants visible to the caller, optionally of one community (slug or id).' })
  async tenants(
    @Ctx() ctx: GraphqlContext,
    @Arg('first', () => Int, { defaultValue: 50 }) first: number,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
    @Arg('community', () => String, { nullable: true }) community?: string | null,
  ) {
    const page = await ctx.services.admin.listTenants(ctx.principal, { first, after: after ?? undefined }, community ?? undefined);
    return toConnection(page, toTenantNode);
  }

  @Query(() => TenantNode, {
    description: "One tenant: its slug (read in the caller's community; slugs are unique per community), `<community>/<slug>`, or its id.",
  })
  async tenant(@Ctx() ctx: GraphqlContext, @Arg('slug', () => String) slug: string) {
    return toTenantNode(await ctx.services.admin.visibleTenant(ctx.principal, slug));
  }

  @FieldResolver(() => CommunityNode)
  async community(@Root() tenant: TenantNode, @Ctx() ctx: GraphqlContext) {
    const page = await ctx.services.admin.listCommunities(ctx.principal, { first: 500 });
    const found = page.items.find((c) => c.id === tenant.communityId);
    if (!found) throw new MeridianError('NOT_FOUND', 'Community not found.');
    return toCommunityNode(found);
  }

  @FieldResolver(() => AccountConnection, {
    description:
      'User accounts of this tenant, in creation order; `filter` is a SCIM filter. `Query.accounts` also sorts and filters by field.',
  })
  async users(
    @Root() tenant: TenantNode,
    @Ctx() ctx: GraphqlContext,
    @Arg('first', () => Int, { defaultValue: 50 }) first: number,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
    @Arg('filter', () => String, { nullable: true }) filter?: string | null,
  ) {
    // The caller first, then the filter.
    const found = await ctx.services.resources.tenant(callerOf(ctx), tenant, 'read');
    const page = await ctx.services.resources.page(
      callerOf(ctx),
      found,
      'User',
      { first, after: after ?? undefined },
      filter ? parseScimFilter(filter) : undefined,
    );
    return toConnection(page, (r) => toAccountNode(r, tenant.id));
  }

  @FieldResolver(() => GroupConnection, { description: 'Groups of this tenant, in creation order; `filter` is a SCIM filter.' })
  async groups(
    @Root() tenant: TenantNode,
    @Ctx() ctx: GraphqlContext,
    @Arg('first', () => Int, { defaultValue: 50 }) first: number,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
    @Arg('filter', () => String, { nullable: true }) filter?: string | null,
  ) {
    const found = await ctx.services.resources.tenant(callerOf(ctx), tenant, 'read');
    const page = await ctx.services.resources.page(
      callerOf(ctx),
      found,
      'Group',
      { first, after: after ?? undefined },
      filter ? parseScimFilter(filter) : undefined,
    );
    return toConnection(page, toGroupNode);
  }

  @FieldResolver(() => [TokenNode], { description: 'API tokens of this tenant (tenant, community or platform admins).' })
  async tokens(@Root() tenant: TenantNode, @Ctx() ctx: GraphqlContext) {
    return (await ctx.services.admin.listTokens(ctx.principal, { tenant: tenant.id })).map(toTokenNode);
  }

  @Mutation(() => TenantNode, { description: 'Creates a tenant in a community (platform admin, or the community’s admin).' })
  async createTenant(
    @Ctx() ctx: GraphqlContext,
    @Arg('slug', () => String) slug: string,
    @Arg('name', () => String) name: string,
    @Arg('community', () => String) community: string,
  ) {
    return toTenantNode(await ctx.services.admin.createTenant(ctx.principal, { slug, name, community }, contextOf(ctx)));
  }

  @Mutation(() => IssuedTokenNode, {
    description:
      'Issues an API token for a tenant or a community (neither: a platform token), for a role or explicit scopes; the secret is returned only here.',
  })
  async createToken(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String, { nullable: true, description: 'Tenant slug or id.' }) tenant?: string | null,
    @Arg('community', () => String, { nullable: true, description: 'Community slug or id, for a community token.' })
    community?: string | null,
    @Arg('role', () => String, {
      nullable: true,
      description: 'A role (provisioner, office_admin, auditor, end_user, community_admin, hr_reader, relying_party, platform_admin).',
    })
    role?: string | null,
    @Arg('scopes', () => [String], { nullable: true, description: 'Explicit scopes, instead of a role.' }) scopes?: string[] | null,
    @Arg('name', () => String, { nullable: true }) name?: string | null,
    @Arg('expiresInDays', () => Int, {
      nullable: true,
      description:
        'Lifetime in whole days, from 1 to 3650; omit it (or null) for a token that does not expire. 0 and negatives are refused.',
    })
    expiresInDays?: number | null,
    @Arg('user', () => String, {
      nullable: true,
      description: "For an end user's /Me token (role end_user, or scopes [scim:me]): their User's id or userName.",
    })
    user?: string | null,
  ) {
    const issued = await ctx.services.admin.issueToken(
      ctx.principal,
      {
        tenant: tenant ?? null,
        community: community ?? null,
        ...(role ? { role } : {}),
        ...(scopes ? { scopes } : {}),
        ...(name ? { name } : {}),
        // 0 is a value to refuse, not "no expiry": only an absent argument means a token that does not expire.
        expiresInDays: expiresInDays ?? null,
        ...(user ? { user } : {}),
      },
      contextOf(ctx),
    );
    return { token: issued.token, record: toTokenNode(issued.record) };
  }

  @Mutation(() => TokenNode, { description: 'Revokes an API token.' })
  async revokeToken(@Ctx() ctx: GraphqlContext, @Arg('id', () => ID) id: string) {
    return toTokenNode(await ctx.services.admin.revokeToken(ctx.principal, id, contextOf(ctx)));
  }
}

/** The API token list (`token.manage`), as a query of its own: a tenant's, a community's or the platform's tokens. */
@Resolver(() => TokenNode)
export class TokenListResolver {
  @Query(() => [TokenNode], {
    description:
      "API tokens of a tenant or a community (slug or id; a community's own, not its tenants'), or the platform's when neither is given; never their secrets.",
  })
  async tokens(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String, { nullable: true }) tenant?: string | null,
    @Arg('community', () => String, { nullable: true }) community?: string | null,
  ) {
    return (await ctx.services.admin.listTokens(ctx.principal, { tenant, community })).map(toTokenNode);
  }
}
