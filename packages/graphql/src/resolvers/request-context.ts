import type { DirectoryCaller, RequestContext } from '@meridian/core';
import type { GraphqlContext } from '../context.js';

/** The audit context of a GraphQL request. */
export function contextOf(ctx: GraphqlContext): RequestContext {
  return { actor: { type: 'token', id: ctx.principal.tokenId }, requestId: ctx.requestId, sourceAddress: ctx.sourceAddress };
}

/** The caller of the core's directory service: this request's principal, through GraphQL. */
export function callerOf(ctx: GraphqlContext): DirectoryCaller {
  return { principal: ctx.principal, api: 'graphql' };
}
