import { MeridianError, type RelyingParty, type RelyingPartyChanges, type RelyingPartyService } from '@meridian/core';
import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { GraphqlContext } from '../context.js';
import { AccountNode } from '../types/account.js';
import { RelyingPartyChangesInput, RelyingPartyInput, RelyingPartyNode, RelyingPartyRegistrationNode, SsoGrantNode } from '../types/sso.js';
import { contextOf } from './request-context.js';

function toNode(rp: RelyingParty): RelyingPartyNode {
  return { ...rp, claims: [...rp.claims], optionalClaims: [...rp.optionalClaims] };
}

function service(ctx: GraphqlContext): RelyingPartyService {
  if (!ctx.services.relyingParties) throw new MeridianError('UNAVAILABLE', 'Single sign-on is not available on this hub.');
  return ctx.services.relyingParties;
}

/** Drops nulls: an absent change keeps the registration's value. */
function changesOf(input: RelyingPartyChangesInput): RelyingPartyChanges {
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== null && v !== undefined)) as RelyingPartyChanges;
}

/** Relying parties of a community (`sso.read`, `sso.manage`) and grants (docs/sso.md). */
@Resolver(() => RelyingPartyNode)
export class RelyingPartyResolver {
  @Query(() => [RelyingPartyNode], { description: 'The relying parties registered in a community (slug or id).' })
  async relyingParties(@Ctx() ctx: GraphqlContext, @Arg('community', () => String) community: string) {
    return (await service(ctx).list(ctx.principal, community)).map(toNode);
  }

  @Query(() => [SsoGrantNode], { description: 'The grants people gave one relying party.' })
  async relyingPartyGrants(
    @Ctx() ctx: GraphqlContext,
    @Arg('community', () => String) community: string,
    @Arg('clientId', () => String) clientId: string,
  ) {
    return service(ctx).grantsOfClient(ctx.principal, community, clientId);
  }

  @Mutation(() => RelyingPartyRegistrationNode, { description: 'Registers a relying party; its client secret is returned this once.' })
  async createRelyingParty(@Ctx() ctx: GraphqlContext, @Arg('input', () => RelyingPartyInput) input: RelyingPartyInput) {
    const created = await service(ctx).create(ctx.principal, input, contextOf(ctx));
    return { relyingParty: toNode(created.relyingParty), clientSecret: created.clientSecret };
  }

  @Mutation(() => RelyingPartyNode, { description: 'Changes a registration.' })
  async updateRelyingParty(
    @Ctx() ctx: GraphqlContext,
    @Arg('community', () => String) community: string,
    @Arg('clientId', () => String) clientId: string,
    @Arg('changes', () => RelyingPartyChangesInput) changes: RelyingPartyChangesInput,
  ) {
    return toNode(await service(ctx).update(ctx.principal, community, clientId, changesOf(changes), contextOf(ctx)));
  }

  @Mutation(() => RelyingPartyNode, { description: 'Deletes a registration with its grants and tokens.' })
  async deleteRelyingParty(
    @Ctx() ctx: GraphqlContext,
    @Arg('community', () => String) community: string,
    @Arg('clientId', () => String) clientId: string,
  ) {
    return toNode(await service(ctx).delete(ctx.principal, community, clientId, contextOf(ctx)));
  }

  @Mutation(() => RelyingPartyRegistrationNode, { description: 'Replaces the client secret; the old one stops working at once.' })
  async rotateRelyingPartySecret(
    @Ctx() ctx: GraphqlContext,
    @Arg('community', () => String) community: string,
    @Arg('clientId', () => String) clientId: string,
  ) {
    const rotated = await service(ctx).rotateSecret(ctx.principal, community, clientId, contextOf(ctx));
    return { relyingParty: toNode(rotated.relyingParty), clientSecret: rotated.clientSecret };
  }

  @Mutation(() => Boolean, { description: "Revokes a grant of the community (admins); the relying party's tokens under it stop working." })
  async revokeGrant(@Ctx() ctx: GraphqlContext, @Arg('community', () => String) community: string, @Arg('id', () => ID) id: string) {
    await service(ctx).revokeGrant(ctx.principal, community, id, contextOf(ctx));
    return true;
  }

  @Mutation(() => Boolean, {
    description: "Revokes one of the caller's own grants (an end-user token): the relying party's tokens stop working.",
  })
  async revokeMyGrant(@Ctx() ctx: GraphqlContext, @Arg('id', () => ID) id: string) {
    await service(ctx).revokeMyGrant(ctx.principal, id, contextOf(ctx));
    return true;
  }
}

/** `me { grants }`: what the person agreed to release, per relying party. */
@Resolver(() => AccountNode)
export class AccountGrantsResolver {
  @FieldResolver(() => [SsoGrantNode], {
    description: 'The grants this person gave relying parties: only on `me` (an end-user token reading its own account).',
  })
  async grants(@Ctx() ctx: GraphqlContext, @Root() account: AccountNode) {
    if (ctx.principal.kind !== 'tenant' || ctx.principal.userId !== account.id) {
      throw new MeridianError('FORBIDDEN', 'Grants are shown to the person only, through `me`.');
    }
    return service(ctx).myGrants(ctx.principal);
  }
}
