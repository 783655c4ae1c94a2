import type { ScimResource, Tenant } from '@meridian/core';
import DataLoader from 'dataloader';
import type { GraphqlContext } from '../context.js';
import { requestLoader } from '../loaders.js';

const GROUPS_ONLY = { members: false, groups: true };

/**
 * Tenants by id, batched per request: the `tenant` of a page of accounts is
 * one read however many tenants they span. Callers have authorized the
 * accounts they resolve it for.
 */
export function tenantLoader(ctx: GraphqlContext): DataLoader<string, Tenant | undefined> {
  return requestLoader(
    ctx,
    'tenants',
    () =>
      new DataLoader<string, Tenant | undefined>(async (ids) => {
        const found = new Map((await ctx.services.admin.tenantsOfResources(ids)).map((t) => [t.id, t]));
        return ids.map((id) => found.get(id));
      }),
  );
}

/** Remembers a tenant the request has already read, so that its accounts' `tenant` costs nothing more. */
export function primeTenant(ctx: GraphqlContext, tenant: Tenant): void {
  tenantLoader(ctx).prime(tenant.id, tenant);
}

/** User accounts of one tenant by id (with their groups), batched per request: a page's managers are one read. */
export function accountLoader(ctx: GraphqlContext, tenantId: string): DataLoader<string, ScimResource | undefined> {
  return requestLoader(
    ctx,
    `accounts:${tenantId}`,
    () =>
      new DataLoader<string, ScimResource | undefined>(async (ids) => {
        const found = new Map((await ctx.services.resources.getMany(tenantId, 'User', ids, GROUPS_ONLY)).map((r) => [r.id, r]));
        return ids.map((id) => found.get(id));
      }),
  );
}
