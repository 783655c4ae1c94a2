import type { GraphqlContext } from './context.js';

/**
 * One loader per request and key (DataLoader batches the loads of one tick
 * into one call, and caches them for the request only, so one caller never
 * sees another's data). Resolvers ask for theirs by a key naming what it
 * loads, e.g. `people.accounts:<communityId>`.
 *
 * @example
 * const accounts = requestLoader(ctx, `people.accounts:${person.communityId}`, () => new DataLoader(...));
 */
export function requestLoader<T>(ctx: GraphqlContext, key: string, create: () => T): T {
  let loader = ctx.loaders.get(key) as T | undefined;
  if (loader === undefined) {
    loader = create();
    ctx.loaders.set(key, loader);
  }
  return loader;
}
