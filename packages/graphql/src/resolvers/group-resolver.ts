import { type GroupMember, MeridianError } from '@meridian/core';
import { Arg, Ctx, FieldResolver, Int, Resolver, Root } from 'type-graphql';
import type { GraphqlContext } from '../context.js';
import { type Connection, GroupMemberConnection } from '../types/connections.js';
import { GroupNode, type MemberNode } from '../types/objects.js';
import { toConnection } from './mapping.js';
import { callerOf } from './request-context.js';

// Large groups (issue 21): a group's members a page at a time, so that a group of 100,000 members costs one page.

/** The longest member search the field takes. */
const MAX_SEARCH = 200;

function toMemberNode(member: GroupMember): MemberNode {
  return { id: member.value, type: member.type, display: member.display ?? null };
}

@Resolver(() => GroupNode)
export class GroupResolver {
  @FieldResolver(() => GroupMemberConnection, {
    description:
      "The group's direct members, a page at a time (keyset cursors, ordered by member id); the field for large groups. " +
      '`filter` keeps members whose display name or userName contains it (case-insensitive). Read like the group itself.',
  })
  async memberPage(
    @Root() group: GroupNode,
    @Ctx() ctx: GraphqlContext,
    @Arg('first', () => Int, { defaultValue: 50 }) first: number,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
    @Arg('filter', () => String, { nullable: true }) filter?: string | null,
  ): Promise<Connection<MemberNode>> {
    if (filter != null && filter.length > MAX_SEARCH) {
      throw new MeridianError('INVALID_INPUT', `'filter' is longer than ${MAX_SEARCH} characters.`, { field: 'filter' });
    }
    const page = await ctx.services.resources.memberPage(
      callerOf(ctx),
      group.tenantId,
      group.id,
      { first, after: after ?? undefined },
      filter ?? undefined,
    );
    return toConnection(page, toMemberNode);
  }
}
