import { type AttributePath, type Filter, isMeridianError, MeridianError, parseScimFilter, SCHEMA, type Tenant } from '@meridian/core';
import { Arg, Ctx, FieldResolver, ID, Int, Query, Resolver, Root } from 'type-graphql';
import type { GraphqlContext } from '../context.js';
import { requestLoader } from '../loaders.js';
import { AccountFilter, AccountNode, AccountSortField, SortOrder, toAccountNode } from '../types/account.js';
import { AccountConnection, type Connection, GroupConnection } from '../types/connections.js';
import { TenantNode } from '../types/objects.js';
import {
  DeadLetterNode,
  ReplicationCountsNode,
  ReplicationStatusNode,
  ReplicationTargetNode,
  toDeadLetterNode,
  toTargetNode,
} from '../types/replication.js';
import { SelfServicePolicyNode } from '../types/schema-extension.js';
import { accountLoader, managerLoader, primeTenant, tenantLoader } from './account-loaders.js';
import { toConnection, toGroupNode, toTenantNode } from './mapping.js';
import { replicationOf } from './replication-resolver.js';
import { callerOf } from './request-context.js';

// The per-office side of issue 6: accounts of one tenant, read by office admins, HR systems
// and (their own, `me`) end users. Writes are in hr-resolver.ts.

const MAX_FIRST = 500;
const enterprise = (attribute: string): AttributePath => ({ schema: SCHEMA.enterpriseUser, attribute });

/** The SCIM sort path of each sort field; CREATED is the store's default order (creation time, id). */
const SORT_PATHS: Record<AccountSortField, AttributePath | undefined> = {
  [AccountSortField.CREATED]: undefined,
  [AccountSortField.UPDATED]: { attribute: 'meta', subAttribute: 'lastModified' },
  [AccountSortField.USER_NAME]: { attribute: 'userName' },
  [AccountSortField.DISPLAY_NAME]: { attribute: 'displayName' },
  [AccountSortField.FAMILY_NAME]: { attribute: 'name', subAttribute: 'familyName' },
  [AccountSortField.EMPLOYEE_NUMBER]: enterprise('employeeNumber'),
  [AccountSortField.DEPARTMENT]: enterprise('department'),
};

/** The structured filter as a SCIM filter AST, its conditions ANDed; undefined when it sets none. */
function accountFilterToScim(filter: AccountFilter | null | undefined): Filter | undefined {
  if (!filter) return undefined;
  const conditions: Filter[] = [];
  const add = (value: string | boolean | null | undefined, op: 'eq' | 'co', path: AttributePath) => {
    if (value !== undefined && value !== null) conditions.push({ op, path, value });
  };
  add(filter.userName, 'eq', { attribute: 'userName' });
  add(filter.displayNameContains, 'co', { attribute: 'displayName' });
  add(filter.familyName, 'eq', { attribute: 'name', subAttribute: 'familyName' });
  add(filter.email, 'eq', { attribute: 'emails', subAttribute: 'value' });
  add(filter.department, 'eq', enterprise('department'));
  add(filter.employeeNumber, 'eq', enterprise('employeeNumber'));
  add(filter.active, 'eq', { attribute: 'active' });
  return andAll(conditions);
}

function andAll(conditions: Filter[]): Filter | undefined {
  return conditions.reduce<Filter | undefined>((left, right) => (left ? { op: 'and', left, right } : right), undefined);
}

/** A SCIM filter argument, parsed; INVALID_FILTER names the argument. */
function parseFilterArgument(text: string | null | undefined, field: string): Filter | undefined {
  if (!text) return undefined;
  try {
    return parseScimFilter(text);
  } catch (error) {
    if (isMeridianError(error)) throw new MeridianError(error.code, error.message, { field, cause: error });
    throw error;
  }
}

function checkFirst(first: number): number {
  if (!Number.isInteger(first) || first < 0 || first > MAX_FIRST) {
    throw new MeridianError('INVALID_INPUT', `'first' must be an integer from 0 to ${MAX_FIRST}.`, { field: 'first' });
  }
  return first;
}

/**
 * The tenant a query names, once the core has authorized reading its accounts (before the other arguments are
 * read, so that a caller who may not read learns nothing from them); its accounts' `tenant` then costs no further read.
 */
async function readableTenant(ctx: GraphqlContext, slugOrId: string): Promise<Tenant> {
  const tenant = await ctx.services.resources.tenant(callerOf(ctx), slugOrId, 'read');
  primeTenant(ctx, tenant);
  return tenant;
}

@Resolver(() => AccountNode)
export class AccountResolver {
  @Query(() => AccountConnection, {
    description:
      'User accounts of one tenant (slug or id). `filter` and `scimFilter` both apply; paging is keyset-based in every sort order (RFC 9865 cursors).',
  })
  async accounts(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String) tenant: string,
    @Arg('first', () => Int, { defaultValue: 50 }) first: number,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
    @Arg('filter', () => AccountFilter, { nullable: true }) filter?: AccountFilter | null,
    @Arg('scimFilter', () => String, { nullable: true, description: 'A SCIM filter (RFC 7644 §3.4.2.2).' }) scimFilter?: string | null,
    @Arg('sortBy', () => AccountSortField, { defaultValue: AccountSortField.CREATED }) sortBy?: AccountSortField,
    @Arg('sortOrder', () => SortOrder, { defaultValue: SortOrder.ASCENDING }) sortOrder?: SortOrder,
  ): Promise<Connection<AccountNode>> {
    const found = await readableTenant(ctx, tenant);
    const count = checkFirst(first);
    const where = andAll([accountFilterToScim(filter), parseFilterArgument(scimFilter, 'scimFilter')].filter((f) => f !== undefined));
    const sortPath = SORT_PATHS[sortBy ?? AccountSortField.CREATED];
    let page: Awaited<ReturnType<typeof ctx.services.resources.list>>;
    try {
      page = await ctx.services.resources.list(callerOf(ctx), found, 'User', {
        startIndex: 1,
        count,
        cursor: after ?? '',
        sortOrder: sortOrder ?? SortOrder.ASCENDING,
        include: { members: false, groups: true },
        ...(where ? { filter: where } : {}),
        ...(sortPath ? { sortBy: sortPath } : {}),
      });
    } catch (error) {
      if (isMeridianError(error, 'INVALID_CURSOR'))
        throw new MeridianError('INVALID_CURSOR', error.message, { field: 'after', cause: error });
      throw error;
    }
    const cursors = page.cursors ?? [];
    return {
      totalCount: page.totalResults,
      pageInfo: { hasNextPage: page.nextCursor !== undefined, endCursor: cursors[cursors.length - 1] ?? null },
      edges: page.resources.map((r, i) => ({ cursor: cursors[i] ?? '', node: toAccountNode(r, found.id) })),
    };
  }

  @Query(() => AccountNode, { nullable: true, description: 'One account of a tenant; null when there is none with this id.' })
  async account(@Ctx() ctx: GraphqlContext, @Arg('tenant', () => String) tenant: string, @Arg('id', () => ID) id: string) {
    const found = await readableTenant(ctx, tenant);
    const resource = await accountLoader(ctx, found).load(id);
    return resource ? toAccountNode(resource, found.id) : null;
  }

  @Query(() => GroupConnection, { description: 'Groups of one tenant (slug or id), in creation order.' })
  async groups(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String) tenant: string,
    @Arg('first', () => Int, { defaultValue: 50 }) first: number,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
    @Arg('scimFilter', () => String, { nullable: true, description: 'A SCIM filter (RFC 7644 §3.4.2.2).' }) scimFilter?: string | null,
  ) {
    const found = await readableTenant(ctx, tenant);
    const page = await ctx.services.resources.page(
      callerOf(ctx),
      found,
      'Group',
      { first: checkFirst(first), after: after ?? undefined },
      parseFilterArgument(scimFilter, 'scimFilter'),
    );
    return toConnection(page, toGroupNode);
  }

  @Query(() => AccountNode, { description: "The end user's own account (an end-user token, scope scim:me; the same as SCIM GET /Me)." })
  async me(@Ctx() ctx: GraphqlContext) {
    const caller = callerOf(ctx);
    const resource = await ctx.services.resources.getOwn(caller);
    return toAccountNode(resource, ctx.services.resources.ownAccount(caller).tenantId);
  }

  @Query(() => SelfServicePolicyNode, {
    description:
      "What the end user may change on their own account (updateMe, SCIM /Me): their office's self-service policy (scope scim:me).",
  })
  async mySelfServicePolicy(@Ctx() ctx: GraphqlContext) {
    return ctx.services.resources.ownSelfServicePolicy(callerOf(ctx));
  }

  @FieldResolver(() => TenantNode, { description: 'The tenant the account belongs to.' })
  async tenant(@Root() account: AccountNode, @Ctx() ctx: GraphqlContext) {
    const tenant = await tenantLoader(ctx).load(account.tenantId);
    if (!tenant) throw new MeridianError('NOT_FOUND', 'Tenant not found.');
    return toTenantNode(tenant);
  }

  @FieldResolver(() => AccountNode, { nullable: true, description: "The account's manager (enterprise extension), in the same tenant." })
  async manager(@Root() account: AccountNode, @Ctx() ctx: GraphqlContext) {
    if (account.managerId === null) return null;
    const manager = await managerLoader(ctx, await loadedTenant(ctx, account.tenantId)).load(account.managerId);
    return manager ? toAccountNode(manager, account.tenantId) : null;
  }

  @FieldResolver(() => [ReplicationStatusNode], { description: 'Where the account stands at each replication target of its tenant.' })
  async replicationStatus(@Root() account: AccountNode, @Ctx() ctx: GraphqlContext) {
    return replicationOf(ctx).resourceStatus(ctx.principal, await loadedTenant(ctx, account.tenantId), 'User', account.id);
  }
}

/** The tenant of an account or target already read, batched per request; the service it is passed to authorizes. */
async function loadedTenant(ctx: GraphqlContext, tenantId: string): Promise<Tenant> {
  const tenant = await tenantLoader(ctx).load(tenantId);
  if (!tenant) throw new MeridianError('NOT_FOUND', 'Tenant not found.');
  return tenant;
}

/** Replication targets by tenant, with their delivery counts and dead letters. */
@Resolver(() => ReplicationTargetNode)
export class ReplicationTargetResolver {
  @Query(() => [ReplicationTargetNode], { description: "A tenant's replication targets (the same as Tenant.replicationTargets)." })
  async targets(@Ctx() ctx: GraphqlContext, @Arg('tenant', () => String) tenant: string) {
    return (await replicationOf(ctx).targets(ctx.principal, tenant)).map(toTargetNode);
  }

  @FieldResolver(() => ReplicationCountsNode, {
    nullable: true,
    description: 'Pending, delivered, failed, dead-lettered and skipped resources.',
  })
  async counts(@Root() target: ReplicationTargetNode, @Ctx() ctx: GraphqlContext) {
    // A target reached through a mutation (`replication.manage`) still needs `replication.read` for its counts: the service checks.
    const tenant = await loadedTenant(ctx, target.tenantId);
    // One count query per tenant and request, however many targets ask.
    const all = await requestLoader(ctx, `replication.counts:${target.tenantId}`, () =>
      replicationOf(ctx).statusCounts(ctx.principal, tenant),
    );
    return all.find((c) => c.targetId === target.id) ?? null;
  }

  @FieldResolver(() => [DeadLetterNode], { description: "The target's permanent failures, newest first." })
  async deadLetters(
    @Root() target: ReplicationTargetNode,
    @Ctx() ctx: GraphqlContext,
    @Arg('limit', () => Int, { defaultValue: 20 }) limit: number,
  ) {
    const tenant = await loadedTenant(ctx, target.tenantId);
    return (await replicationOf(ctx).deadLetters(ctx.principal, tenant, { target: target.id, limit })).map(toDeadLetterNode);
  }
}
