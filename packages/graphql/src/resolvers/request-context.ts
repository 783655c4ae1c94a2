import type { RequestContext } from '@meridian/core';
import type { GraphqlContext } from '../context.js';

/** The audit context of a GraphQL request. */
export function contextOf(ctx: GraphqlContext): RequestContext {
  return { actor: { type: 'token', id: ctx.principal.tokenId }, requestId: ctx.requestId, sourceAddress: ctx.sourceAddress };
}
