import type { TrustedIssuer } from '@meridian/core';
import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import type { GraphqlContext } from '../context.js';
import { TrustedIssuerInput, TrustedIssuerNode } from '../types/trusted-issuer.js';
import { contextOf } from './request-context.js';

function toNode(issuer: TrustedIssuer): TrustedIssuerNode {
  return {
    ...issuer,
    algorithms: [...issuer.algorithms],
    roleMap: Object.entries(issuer.roleMap).map(([claimValue, role]) => ({ claimValue, role })),
  };
}

/** Trusted JWT issuers (`issuer.read`, `issuer.manage`): see docs/security.md. */
@Resolver(() => TrustedIssuerNode)
export class TrustedIssuerResolver {
  @Query(() => [TrustedIssuerNode], {
    description: 'Trusted JWT issuers of a tenant or a community (slug or id); all of them for a platform admin when neither is given.',
  })
  async trustedIssuers(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String, { nullable: true }) tenant?: string | null,
    @Arg('community', () => String, { nullable: true }) community?: string | null,
  ) {
    return (await ctx.services.issuers.list(ctx.principal, { tenant, community })).map(toNode);
  }

  @Mutation(() => TrustedIssuerNode, { description: 'Trusts a JWT issuer for one tenant or one community (platform or community admins).' })
  async addTrustedIssuer(@Ctx() ctx: GraphqlContext, @Arg('input', () => TrustedIssuerInput) input: TrustedIssuerInput) {
    const added = await ctx.services.issuers.add(
      ctx.principal,
      {
        tenant: input.tenant,
        community: input.community,
        issuer: input.issuer,
        audience: input.audience,
        jwksUri: input.jwksUri,
        algorithms: input.algorithms,
        rolesClaim: input.rolesClaim,
        tenantClaim: input.tenantClaim,
        subjectClaim: input.subjectClaim,
        roleMap: input.roleMap ? Object.fromEntries(input.roleMap.map((m) => [m.claimValue, m.role])) : null,
      },
      contextOf(ctx),
    );
    return toNode(added);
  }

  @Mutation(() => TrustedIssuerNode, { description: 'Stops trusting a JWT issuer; its tokens are refused within 30 seconds.' })
  async removeTrustedIssuer(@Ctx() ctx: GraphqlContext, @Arg('id', () => ID) id: string) {
    return toNode(await ctx.services.issuers.remove(ctx.principal, id, contextOf(ctx)));
  }
}
