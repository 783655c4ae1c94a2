import type { ScimResource, Tenant } from '@meridian/core';
import DataLoader from 'dataloader';
import type { GraphqlContext } from '../context.js';
import { requestLoader } from '../loaders.js';
import { callerOf } from './request-context.js';

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

type LoadedTenant = Pick<Tenant, 'id' | 'communityId'>;

/**
 * User accounts of one tenant by id (with their groups), batched per request:
 * what `account` and a linked account read, one read per tenant. The core
 * authorizes each batch (`directory.read`).
 */
export function accountLoader(ctx: GraphqlContext, tenant: LoadedTenant): DataLoader<string, ScimResource | undefined> {
  return requestLoader(
    ctx,
    `accounts:${tenant.id}`,
    () =>
      new DataLoader<string, ScimResource | undefined>(async (ids) => {
        const found = new Map(
          (await ctx.services.resources.getMany(callerOf(ctx), tenant, 'User', ids, GROUPS_ONLY)).map((r) => [r.id, r]),
        );
        return ids.map((id) => found.get(id));
      }),
  );
}

/**
 * The Users accounts already read name as their manager, batched per request:
 * a page's managers are one read. The core reads them for whoever read or
 * wrote those accounts (`ResourceService.referenced`).
 */
export function managerLoader(ctx: GraphqlContext, tenant: LoadedTenant): DataLoader<string, ScimResource | undefined> {
  return requestLoader(
    ctx,
    `managers:${tenant.id}`,
    () =>
      new DataLoader<string, ScimResource | undefined>(async (ids) => {
        const found = new Map(
          (await ctx.services.resources.referenced(callerOf(ctx), tenant, 'User', ids, GROUPS_ONLY)).map((r) => [r.id, r]),
        );
        return ids.map((id) => found.get(id));
      }),
  );
}
