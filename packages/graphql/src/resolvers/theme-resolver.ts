import { type CommunityTheme, type CommunityThemeService, MeridianError } from '@meridian/core';
import { Arg, Ctx, Field, FieldResolver, InputType, Mutation, ObjectType, Resolver, Root } from 'type-graphql';
import type { GraphqlContext } from '../context.js';
import { CommunityNode } from '../types/objects.js';
import { contextOf } from './request-context.js';

@ObjectType('CommunityTheme', {
  description: "How the community's sign-in, consent, account and error pages look (docs/sso.md); null fields take Meridian's defaults.",
})
class CommunityThemeNode {
  @Field(() => String, { nullable: true, description: "The pages' heading and the logo's alt text (default: the community's name)." })
  displayName!: string | null;

  @Field(() => String, { nullable: true, description: 'An https URL of one image file, or a data:image/…;base64 URI (at most 32 KiB).' })
  logoUrl!: string | null;

  @Field(() => String, { nullable: true, description: 'Headings, buttons and focus rings: a hex colour, #rrggbb.' })
  primaryColour!: string | null;

  @Field(() => String, { nullable: true, description: 'The page behind the card: a hex colour, #rrggbb.' })
  backgroundColour!: string | null;

  @Field(() => String, { nullable: true, description: 'The footer link where a person gets help: https or mailto:.' })
  supportUrl!: string | null;
}

@InputType('CommunityThemeInput', { description: 'A whole theme: a field left out or null takes the default.' })
class CommunityThemeInput {
  @Field(() => String, { nullable: true })
  displayName?: string | null;

  @Field(() => String, { nullable: true })
  logoUrl?: string | null;

  @Field(() => String, { nullable: true })
  primaryColour?: string | null;

  @Field(() => String, { nullable: true })
  backgroundColour?: string | null;

  @Field(() => String, { nullable: true })
  supportUrl?: string | null;
}

function service(ctx: GraphqlContext): CommunityThemeService {
  if (!ctx.services.communityThemes) throw new MeridianError('UNAVAILABLE', 'Single sign-on is not available on this hub.');
  return ctx.services.communityThemes;
}

const toNode = (theme: CommunityTheme): CommunityThemeNode => ({ ...theme });

/** A community's page theme: read with `sso.read`, set with `sso.manage` (community admins of it, platform admins). */
@Resolver(() => CommunityNode)
export class CommunityThemeResolver {
  @FieldResolver(() => CommunityThemeNode, { description: "The theme of the community's sign-in pages (docs/sso.md)." })
  async ssoTheme(@Ctx() ctx: GraphqlContext, @Root() community: CommunityNode) {
    return toNode(await service(ctx).get(ctx.principal, community.id));
  }

  @Mutation(() => CommunityThemeNode, {
    description:
      "Replaces the theme of a community's sign-in pages (slug or id); an empty input removes it. Audited (community.theme_set).",
  })
  async setCommunityTheme(
    @Ctx() ctx: GraphqlContext,
    @Arg('community', () => String) community: string,
    @Arg('theme', () => CommunityThemeInput) theme: CommunityThemeInput,
  ) {
    const whole = {
      displayName: theme.displayName ?? null,
      logoUrl: theme.logoUrl ?? null,
      primaryColour: theme.primaryColour ?? null,
      backgroundColour: theme.backgroundColour ?? null,
      supportUrl: theme.supportUrl ?? null,
    };
    return toNode(await service(ctx).set(ctx.principal, community, whole, contextOf(ctx), true));
  }
}
