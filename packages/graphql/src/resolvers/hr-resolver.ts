import { isMeridianError, type JsonObject, MeridianError, type ResourceKind, SCHEMA, type Tenant } from '@meridian/core';
import { Arg, Ctx, ID, Int, Mutation, Resolver } from 'type-graphql';
import type { GraphqlContext } from '../context.js';
import { AccountChangeInput, AccountInput, AccountNode, MeInput, toAccountNode } from '../types/account.js';
import { GroupNode } from '../types/objects.js';
import { toGroupNode } from './mapping.js';
import { callerOf, contextOf } from './request-context.js';

// Joiners, movers and leavers (issue 6). Every write goes through the same core commands as
// SCIM (ResourceService), so outbox, audit and replication apply alike; the core authorizes
// each one (`hr.write` on the tenant, through GraphQL).

type PatchOperation = { op: 'add' | 'replace' | 'remove'; path: string; value?: unknown };

const ENTERPRISE = SCHEMA.enterpriseUser;
const GROUPS_ONLY = { members: false, groups: true };

/** Where each input field lives in a SCIM User. */
const PATHS: Record<string, string> = {
  userName: 'userName',
  displayName: 'displayName',
  nickName: 'nickName',
  givenName: 'name.givenName',
  familyName: 'name.familyName',
  emails: 'emails',
  phone: 'phoneNumbers',
  title: 'title',
  preferredLanguage: 'preferredLanguage',
  locale: 'locale',
  timezone: 'timezone',
  active: 'active',
  externalId: 'externalId',
  department: `${ENTERPRISE}:department`,
  employeeNumber: `${ENTERPRISE}:employeeNumber`,
  manager: `${ENTERPRISE}:manager`,
};

/** The SCIM value of an input field. */
function scimValue(field: string, value: unknown): unknown {
  if (field === 'emails') return (value as string[]).map((email, i) => ({ value: email, type: 'work', primary: i === 0 }));
  if (field === 'phone') return [{ value, type: 'work', primary: true }];
  if (field === 'manager') return { value };
  return value;
}

/** A SCIM attribute path in a core error, as the GraphQL input field it came from (`input.<field>`). */
function inputFieldOf(path: string): string | undefined {
  const bare = path.startsWith(`${ENTERPRISE}:`) ? path.slice(ENTERPRISE.length + 1) : path;
  const lower = bare.toLowerCase();
  for (const [field, scim] of Object.entries(PATHS)) {
    const target = (scim.startsWith(`${ENTERPRISE}:`) ? scim.slice(ENTERPRISE.length + 1) : scim).toLowerCase();
    if (lower === target || lower.startsWith(`${target}.`) || lower.startsWith(`${target}[`)) return `input.${field}`;
  }
  return undefined;
}

/**
 * Runs a core write; a domain error that names a SCIM attribute names the
 * GraphQL input field instead, and a uniqueness conflict names the key.
 */
async function translated<T>(kind: ResourceKind, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!isMeridianError(error)) throw error;
    if (error.code === 'UNIQUENESS' && error.field === undefined) {
      throw new MeridianError('UNIQUENESS', error.message, { field: kind === 'User' ? 'input.userName' : 'displayName', cause: error });
    }
    const field = error.field === undefined || kind === 'Group' ? undefined : inputFieldOf(error.field);
    if (field !== undefined) throw new MeridianError(error.code, error.message, { field, cause: error });
    throw error;
  }
}

/** Input objects may carry prototypes or absent keys: the fields actually given, as plain JSON. */
function given(input: object): [string, unknown][] {
  return Object.entries(input).filter(([, value]) => value !== undefined);
}

/** A SCIM PatchOp body that sets the given fields and removes those given as null (RFC 7644 §3.5.2). */
function changesToPatch(input: object): { schemas: string[]; Operations: PatchOperation[] } {
  const operations: PatchOperation[] = [];
  for (const [field, value] of given(input)) {
    const path = PATHS[field];
    if (path === undefined) throw new TypeError(`No SCIM path for input field '${field}'.`);
    const empty = value === null || value === '' || (Array.isArray(value) && value.length === 0);
    if (empty && (field === 'userName' || field === 'active')) {
      throw new MeridianError('INVALID_INPUT', `'${field}' cannot be removed.`, { field: `input.${field}` });
    }
    operations.push(empty ? { op: 'remove', path } : { op: 'replace', path, value: scimValue(field, value) });
  }
  if (operations.length === 0) throw new MeridianError('INVALID_INPUT', 'Give at least one field to change.', { field: 'input' });
  return { schemas: [SCHEMA.patchOp], Operations: operations };
}

/** A SCIM User body for a joiner. */
function joinerBody(input: AccountInput): JsonObject {
  const enterprise: JsonObject = {};
  const body: JsonObject = { schemas: [SCHEMA.user, ENTERPRISE] };
  const name: JsonObject = {};
  for (const [field, value] of given(input)) {
    if (value === null) continue;
    const path = PATHS[field];
    if (path === undefined) throw new TypeError(`No SCIM path for input field '${field}'.`);
    const scim = scimValue(field, value);
    if (path.startsWith(`${ENTERPRISE}:`)) enterprise[path.slice(ENTERPRISE.length + 1)] = scim as JsonObject;
    else if (path.startsWith('name.')) name[path.slice(5)] = scim as string;
    else body[path] = scim as JsonObject;
  }
  if (Object.keys(name).length > 0) body.name = name;
  if (Object.keys(enterprise).length > 0) body[ENTERPRISE] = enterprise;
  return body;
}

/**
 * An account is not its own manager. That the manager is a User of the same tenant is the core's rule, checked on
 * every write path where references are resolved (ResourceService), and its error names `input.manager` here.
 */
function checkManager(manager: string | null | undefined, self?: string): void {
  if (manager !== undefined && manager !== null && manager !== '' && manager === self) {
    throw new MeridianError('INVALID_INPUT', 'An account cannot be its own manager.', { field: 'input.manager' });
  }
}

/** The tenant a mutation names, once the core has authorized writing there: before the input is translated, as before any write. */
function hrTenant(ctx: GraphqlContext, tenant: string): Promise<Tenant> {
  return ctx.services.resources.tenant(callerOf(ctx), tenant, 'write');
}

function checkVersion(ifVersion: number | null | undefined): { ifMatchVersion?: number } {
  return ifVersion === undefined || ifVersion === null ? {} : { ifMatchVersion: ifVersion };
}

@Resolver()
export class HrResolver {
  @Mutation(() => AccountNode, { description: 'A joiner: creates an account in a tenant (slug or id).' })
  async createAccount(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String) tenant: string,
    @Arg('input', () => AccountInput) input: AccountInput,
  ) {
    const found = await hrTenant(ctx, tenant);
    const created = await translated('User', () =>
      ctx.services.resources.create(callerOf(ctx), found, 'User', joinerBody(input), contextOf(ctx)),
    );
    return toAccountNode(created, found.id);
  }

  @Mutation(() => AccountNode, {
    description:
      'A mover: changes only the fields given (a SCIM PATCH). With `ifVersion`, fails with PRECONDITION_FAILED unless the account is still at that version.',
  })
  async updateAccount(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String) tenant: string,
    @Arg('id', () => ID) id: string,
    @Arg('input', () => AccountChangeInput) input: AccountChangeInput,
    @Arg('ifVersion', () => Int, { nullable: true }) ifVersion?: number | null,
  ) {
    const found = await hrTenant(ctx, tenant);
    return this.change(ctx, found, id, input, ifVersion);
  }

  @Mutation(() => AccountNode, { description: 'A mover, in short: a new department, manager and/or title.' })
  async moveAccount(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String) tenant: string,
    @Arg('id', () => ID) id: string,
    @Arg('department', () => String, { nullable: true }) department?: string | null,
    @Arg('manager', () => ID, { nullable: true }) manager?: string | null,
    @Arg('title', () => String, { nullable: true }) title?: string | null,
    @Arg('ifVersion', () => Int, { nullable: true }) ifVersion?: number | null,
  ) {
    const found = await hrTenant(ctx, tenant);
    if (department == null && manager == null && title == null) {
      throw new MeridianError('INVALID_INPUT', 'Give a department, a manager or a title.', { field: 'department' });
    }
    const input = Object.assign(new AccountChangeInput(), {
      ...(department != null ? { department } : {}),
      ...(manager != null ? { manager } : {}),
      ...(title != null ? { title } : {}),
    });
    try {
      return await this.change(ctx, found, id, input, ifVersion);
    } catch (error) {
      // This mutation's fields are arguments of their own, not fields of an `input` object: name them so.
      if (isMeridianError(error) && error.field?.startsWith('input.')) {
        throw new MeridianError(error.code, error.message, { field: error.field.slice('input.'.length), cause: error });
      }
      throw error;
    }
  }

  @Mutation(() => AccountNode, { description: 'A leaver, first step: deactivates the account (active = false).' })
  async suspendAccount(@Ctx() ctx: GraphqlContext, @Arg('tenant', () => String) tenant: string, @Arg('id', () => ID) id: string) {
    const found = await hrTenant(ctx, tenant);
    return this.change(ctx, found, id, Object.assign(new AccountChangeInput(), { active: false }), null);
  }

  @Mutation(() => AccountNode, { description: 'Reactivates a suspended account (active = true).' })
  async restoreAccount(@Ctx() ctx: GraphqlContext, @Arg('tenant', () => String) tenant: string, @Arg('id', () => ID) id: string) {
    const found = await hrTenant(ctx, tenant);
    return this.change(ctx, found, id, Object.assign(new AccountChangeInput(), { active: true }), null);
  }

  @Mutation(() => Boolean, { description: 'A leaver: deletes the account; each replication target applies its delete mode.' })
  async terminateAccount(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String) tenant: string,
    @Arg('id', () => ID) id: string,
    @Arg('ifVersion', () => Int, { nullable: true }) ifVersion?: number | null,
  ) {
    const found = await hrTenant(ctx, tenant);
    await ctx.services.resources.delete(callerOf(ctx), found, 'User', id, contextOf(ctx), checkVersion(ifVersion));
    return true;
  }

  @Mutation(() => GroupNode, { description: 'Creates a group in a tenant.' })
  async createGroup(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String) tenant: string,
    @Arg('displayName', () => String) displayName: string,
    @Arg('externalId', () => String, { nullable: true }) externalId?: string | null,
  ) {
    const found = await hrTenant(ctx, tenant);
    const body = { schemas: [SCHEMA.group], displayName, ...(externalId ? { externalId } : {}) };
    return toGroupNode(await translated('Group', () => ctx.services.resources.create(callerOf(ctx), found, 'Group', body, contextOf(ctx))));
  }

  @Mutation(() => Boolean, { description: 'Deletes a group; its members stay.' })
  async deleteGroup(@Ctx() ctx: GraphqlContext, @Arg('tenant', () => String) tenant: string, @Arg('id', () => ID) id: string) {
    const found = await hrTenant(ctx, tenant);
    await ctx.services.resources.delete(callerOf(ctx), found, 'Group', id, contextOf(ctx));
    return true;
  }

  @Mutation(() => GroupNode, { description: 'Adds accounts or groups to a group (a SCIM PATCH add of members; present ones stay).' })
  async addGroupMembers(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String) tenant: string,
    @Arg('group', () => ID) group: string,
    @Arg('members', () => [ID]) members: string[],
  ) {
    const found = await hrTenant(ctx, tenant);
    const body = { schemas: [SCHEMA.patchOp], Operations: [{ op: 'add', path: 'members', value: members.map((value) => ({ value })) }] };
    return this.patchGroup(ctx, found, group, members, body);
  }

  @Mutation(() => GroupNode, { description: 'Removes members from a group (a SCIM PATCH remove; absent ones are ignored).' })
  async removeGroupMembers(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String) tenant: string,
    @Arg('group', () => ID) group: string,
    @Arg('members', () => [ID]) members: string[],
  ) {
    const found = await hrTenant(ctx, tenant);
    // RFC 7644 §3.5.2.2: one remove per member, by value filter; a filter that matches nothing is not an error.
    const body = {
      schemas: [SCHEMA.patchOp],
      Operations: members.map((id) => ({ op: 'remove', path: `members[value eq ${JSON.stringify(id)}]` })),
    };
    return this.patchGroup(ctx, found, group, members, body);
  }

  @Mutation(() => AccountNode, {
    description:
      "The end user changes their own account (an end-user token): only what the tenant's self-service policy lists; anything else is FORBIDDEN and nothing is written.",
  })
  async updateMe(
    @Ctx() ctx: GraphqlContext,
    @Arg('input', () => MeInput) input: MeInput,
    @Arg('ifVersion', () => Int, { nullable: true }) ifVersion?: number | null,
  ) {
    const caller = callerOf(ctx);
    // The caller first (an end user's token), then its input.
    const { tenantId } = ctx.services.resources.ownAccount(caller);
    const body = changesToPatch(input);
    const updated = await translated('User', () => ctx.services.resources.patchOwn(caller, body, contextOf(ctx), checkVersion(ifVersion)));
    return toAccountNode(updated, tenantId);
  }

  private async change(ctx: GraphqlContext, tenant: Tenant, id: string, input: AccountChangeInput, ifVersion: number | null | undefined) {
    const body = changesToPatch(input);
    checkManager(input.manager, id);
    const updated = await translated('User', () =>
      ctx.services.resources.patch(callerOf(ctx), tenant, 'User', id, body, contextOf(ctx), {
        include: GROUPS_ONLY,
        ...checkVersion(ifVersion),
      }),
    );
    return toAccountNode(updated, tenant.id);
  }

  private async patchGroup(ctx: GraphqlContext, tenant: Tenant, group: string, members: string[], body: unknown) {
    if (members.length === 0) throw new MeridianError('INVALID_INPUT', 'Name at least one member.', { field: 'members' });
    return toGroupNode(
      await ctx.services.resources.patch(callerOf(ctx), tenant, 'Group', group, body, contextOf(ctx), {
        include: { members: true, groups: false },
      }),
    );
  }
}
