import { type JitTargetLink, type JitTargetService, MeridianError } from '@meridian/core';
import { Arg, Ctx, Field, FieldResolver, ID, Mutation, ObjectType, Resolver, Root } from 'type-graphql';
import type { GraphqlContext } from '../context.js';
import { RelyingPartyNode } from '../types/sso.js';
import { contextOf } from './request-context.js';

@ObjectType('JitTarget', { description: 'A replication target a relying party provisions on first sign-in (docs/provisioning.md).' })
class JitTargetNode {
  @Field(() => ID)
  targetId!: string;

  @Field(() => String)
  targetName!: string;

  @Field(() => ID)
  tenantId!: string;

  @Field(() => String)
  tenantSlug!: string;
}

function service(ctx: GraphqlContext): JitTargetService {
  if (!ctx.services.jitTargets) throw new MeridianError('UNAVAILABLE', 'Just-in-time provisioning is not available on this hub.');
  return ctx.services.jitTargets;
}

const toNode = (link: JitTargetLink): JitTargetNode => ({ ...link });

/** Relying parties' targets "on first sign-in" (issue 16): read with `sso.read`, changed with `sso.manage`. */
@Resolver(() => RelyingPartyNode)
export class JitTargetResolver {
  @FieldResolver(() => [JitTargetNode], {
    description: 'The replication targets that receive a person when they first sign in here (and no one ahead of time).',
  })
  async jitTargets(@Ctx() ctx: GraphqlContext, @Root() rp: RelyingPartyNode) {
    return (await service(ctx).targetsOf(ctx.principal, rp.communityId, rp.clientId)).map(toNode);
  }

  @Mutation(() => [JitTargetNode], {
    description: 'Links a relying party to replication targets on first sign-in; an empty list unlinks (docs/provisioning.md).',
  })
  async setRelyingPartyJitTargets(
    @Ctx() ctx: GraphqlContext,
    @Arg('community', () => String) community: string,
    @Arg('clientId', () => String) clientId: string,
    @Arg('targetIds', () => [ID]) targetIds: string[],
  ) {
    return (await service(ctx).setTargets(ctx.principal, community, clientId, targetIds, contextOf(ctx))).map(toNode);
  }
}
