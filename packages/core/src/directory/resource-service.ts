// Over 600 lines on purpose: every SCIM and GraphQL read and write of Users and Groups goes through this one
// service, which authorizes, validates, hashes passwords before the transaction and records each change.
import { type BulkOutcome, type BulkRequest, type BulkResources, executeBulk } from '../bulk/execute.js';
import { MeridianError } from '../errors/meridian-error.js';
import { resourceEventType } from '../events/domain-event.js';
import type { Filter } from '../filter/ast.js';
import { applyPatch, type MemberChange } from '../patch/apply.js';
import { type PatchOperation, parsePatchRequest } from '../patch/parse.js';
import type { Page, PageRequest } from '../ports/admin.js';
import type {
  DirectoryStore,
  DirectoryTransaction,
  PasswordHasher,
  ResourceIncludes,
  ResourcePage,
  ResourceQuery,
  ResourceWrite,
} from '../ports/directory.js';
import type { PasswordForwarding } from '../ports/replication.js';
import type { SelfServicePolicy } from '../ports/tenant-settings.js';
import type { GroupMember, ScimResource } from '../scim/resource.js';
import { type JsonObject, parseResourceInput, type ResourceInput } from '../scim/resource-input.js';
import { coreSchemaOf, type ResourceKind, type ResourceShape, resourceShapes } from '../scim/resource-types.js';
import { SCHEMA } from '../scim/schemas.js';
import { checkPage } from '../tenancy/admin-service.js';
import type { Principal, RequestContext, Tenant } from '../tenancy/model.js';
import { type Action, authorize, resourceOfTenant } from '../tenancy/permissions.js';
import { authorizeTenantRef, type TenantAuthorizer, type TenantRef } from '../tenancy/tenant-access.js';
import { assertImmutableUnchanged, assertOnlyEditable, uniqueAttributes } from './attribute-rules.js';

/**
 * The API a directory call comes through. The permission matrix names a
 * different action for each (permissions.ts `OPERATIONS`): SCIM reads
 * `scim.read` and writes `scim.write` in the token's tenant; GraphQL reads
 * `directory.read` and writes `hr.write` in any tenant in reach. A User's own
 * account (`/Me`, `me`) is `scim.me` on both.
 */
export type DirectoryApi = 'scim' | 'graphql';

/** Who calls the directory, and through which API: every {@link ResourceService} method takes it and authorizes. */
export interface DirectoryCaller {
  principal: Principal;
  api: DirectoryApi;
}

/** What a call does with a tenant's accounts and groups. */
export type DirectoryAccess = 'read' | 'write';

const DIRECTORY_ACTIONS: Record<DirectoryApi, Record<DirectoryAccess, Action>> = {
  scim: { read: 'scim.read', write: 'scim.write' },
  graphql: { read: 'directory.read', write: 'hr.write' },
};

/** The action of `access` through the caller's API. */
function actionOf(caller: DirectoryCaller, access: DirectoryAccess): Action {
  return DIRECTORY_ACTIONS[caller.api][access];
}

/** Preconditions a client may attach to a write (RFC 7644 §3.14). */
export interface WritePreconditions {
  /** The version the client last saw; the write fails with PRECONDITION_FAILED otherwise. */
  ifMatchVersion?: number;
}

/** Where a tenant's resource shapes and self-service policy come from ({@link TenantSettingsService}). */
export interface TenantSchemaSource {
  shapeOf(tenantId: string, kind: ResourceKind): Promise<ResourceShape>;
  selfServicePolicy(tenantId: string): Promise<SelfServicePolicy>;
}

/** Built-in schemas only, and no self-service: for tools and tests without tenant settings. */
const BUILT_IN: TenantSchemaSource = {
  shapeOf: async (_tenantId, kind) => resourceShapes[kind],
  selfServicePolicy: async () => ({ editableAttributes: [] }),
};

/** Paging beyond this index must use cursors (RFC 9865): OFFSET costs grow with the offset. */
export const MAX_START_INDEX = 100_000;

const ALL: ResourceIncludes = { members: true, groups: true };
const NONE: ResourceIncludes = { members: false, groups: false };

/** Options of a PATCH. */
export interface PatchOptions extends WritePreconditions {
  /** What to load into the returned resource; nothing by default (a group's members are never loaded to patch it). */
  include?: ResourceIncludes;
}

/**
 * Creates, replaces, patches, deletes and reads the SCIM resources of a
 * tenant. Every method takes the caller and authorizes it first, by the
 * permission matrix, on the tenant it names (a tenant out of reach is
 * NOT_FOUND, as one that does not exist); only then is the input read.
 */
export class ResourceService {
  constructor(
    private readonly store: DirectoryStore,
    private readonly passwords: PasswordHasher,
    private readonly schemas: TenantSchemaSource = BUILT_IN,
    /** Hands clear passwords, sealed, to replication for targets that accept them (issue 5). */
    private readonly forwarding?: PasswordForwarding,
    /** Finds the tenants callers name by slug or id (the admin service); without it, only a tenant principal's own tenant or a loaded tenant can be named. */
    private readonly tenants?: TenantAuthorizer,
  ) {}

  /**
   * The shape of a resource kind in a tenant, custom extensions included.
   * It checks nothing: a tenant's schema is what its SCIM discovery shows, and
   * replication maps resources with it.
   */
  shapeOf(tenantId: string, kind: ResourceKind): Promise<ResourceShape> {
    return this.schemas.shapeOf(tenantId, kind);
  }

  /**
   * Finds the tenant the caller names and authorizes `access` to its accounts
   * and groups there (FORBIDDEN when the caller may not at all, NOT_FOUND when
   * the tenant does not exist or is out of reach). The other methods check the
   * same again; call this first to check the caller before reading its other
   * arguments, or to keep the tenant (a loaded tenant is checked, not read).
   */
  async tenant(caller: DirectoryCaller, tenant: string, access: DirectoryAccess): Promise<Tenant>;
  async tenant<T extends Pick<Tenant, 'id' | 'communityId'>>(caller: DirectoryCaller, tenant: T, access: DirectoryAccess): Promise<T>;
  async tenant(caller: DirectoryCaller, tenant: TenantRef, access: DirectoryAccess): Promise<Pick<Tenant, 'id' | 'communityId'>> {
    const action = actionOf(caller, access);
    if (typeof tenant !== 'string') {
      authorize(caller.principal, action, resourceOfTenant(tenant));
      return tenant;
    }
    if (this.tenants) return this.tenants.authorizeTenant(caller.principal, action, tenant);
    authorize(caller.principal, action);
    throw new MeridianError('NOT_FOUND', `Tenant '${tenant}' not found.`, { field: 'tenant' });
  }

  /** The id of the tenant `tenant` names, once `access` to it is authorized. */
  private tenantId(caller: DirectoryCaller, tenant: TenantRef, access: DirectoryAccess): Promise<string> {
    return authorizeTenantRef(this.tenants, caller.principal, actionOf(caller, access), tenant);
  }

  /**
   * The end user's own tenant and User (`/Me`, `me`): `scim.me`, and a token
   * bound to a User; FORBIDDEN otherwise.
   */
  ownAccount(caller: DirectoryCaller): { tenantId: string; userId: string } {
    const { principal } = caller;
    authorize(principal, 'scim.me', principal.kind === 'tenant' ? { tenantId: principal.tenantId } : undefined);
    if (principal.kind !== 'tenant' || principal.userId === undefined) {
      throw new MeridianError('FORBIDDEN', caller.api === 'scim' ? "/Me needs an end user's token." : "'me' needs an end user's token.");
    }
    return { tenantId: principal.tenantId, userId: principal.userId };
  }

  /** Creates a resource from a SCIM body (RFC 7644 §3.3). */
  async create(
    caller: DirectoryCaller,
    tenant: TenantRef,
    kind: ResourceKind,
    body: unknown,
    context: RequestContext,
  ): Promise<ScimResource> {
    return this.createIn(await this.tenantId(caller, tenant, 'write'), kind, body, context);
  }

  /** Replaces a resource with a SCIM body (RFC 7644 §3.5.1); immutable attributes keep their value. */
  async replace(
    caller: DirectoryCaller,
    tenant: TenantRef,
    kind: ResourceKind,
    id: string,
    body: unknown,
    context: RequestContext,
    preconditions: WritePreconditions = {},
  ): Promise<ScimResource> {
    return this.replaceIn(await this.tenantId(caller, tenant, 'write'), kind, id, body, context, preconditions);
  }

  /**
   * Modifies a resource with a SCIM PatchOp body (RFC 7644 §3.5.2): all
   * operations apply, or none. A group's members change row by row and
   * are never loaded, so the cost does not depend on the group's size.
   */
  async patch(
    caller: DirectoryCaller,
    tenant: TenantRef,
    kind: ResourceKind,
    id: string,
    body: unknown,
    context: RequestContext,
    options: PatchOptions = {},
  ): Promise<ScimResource> {
    return this.patchWith(await this.tenantId(caller, tenant, 'write'), kind, id, body, context, options, undefined);
  }

  /** Deletes a resource (RFC 7644 §3.6). */
  async delete(
    caller: DirectoryCaller,
    tenant: TenantRef,
    kind: ResourceKind,
    id: string,
    context: RequestContext,
    preconditions: WritePreconditions = {},
  ): Promise<void> {
    await this.deleteIn(await this.tenantId(caller, tenant, 'write'), kind, id, context, preconditions);
  }

  /**
   * Runs a SCIM bulk request (RFC 7644 §3.7) in the tenant: authorized once as
   * a write, then each operation in its own transaction, as the single writes do.
   */
  async bulk(caller: DirectoryCaller, tenant: TenantRef, request: BulkRequest, context: RequestContext): Promise<BulkOutcome[]> {
    const tenantId = await this.tenantId(caller, tenant, 'write');
    const writes: BulkResources = {
      create: (_tenantId, kind, body, ctx) => this.createIn(tenantId, kind, body, ctx),
      replace: (_tenantId, kind, id, body, ctx, preconditions) => this.replaceIn(tenantId, kind, id, body, ctx, preconditions),
      patch: (_tenantId, kind, id, body, ctx, options) => this.patchWith(tenantId, kind, id, body, ctx, options ?? {}, undefined),
      delete: (_tenantId, kind, id, ctx, preconditions) => this.deleteIn(tenantId, kind, id, ctx, preconditions),
    };
    return executeBulk(writes, tenantId, request, context);
  }

  private async createIn(tenantId: string, kind: ResourceKind, body: unknown, context: RequestContext): Promise<ScimResource> {
    const shape = await this.shapeOf(tenantId, kind);
    const input = parseResourceInput(shape, body);
    // argon2id is slow on purpose: hash before the transaction opens, not inside it.
    const passwordHash = await this.hashPassword(input.password);
    return this.store.transaction(tenantId, async (tx) => {
      const values = await toWrite(tx, kind, input, passwordHash, undefined);
      await assertUnique(tx, shape, kind, input.attributes, undefined);
      const created = await tx.insert(kind, values);
      await this.forwardPassword(tx, tenantId, created.id, created.version, input.password);
      await tx.record(
        {
          type: resourceEventType(kind, 'created'),
          tenantId,
          resourceType: kind,
          resourceId: created.id,
          version: created.version,
          before: null,
          after: auditView(created),
        },
        context,
      );
      return created;
    });
  }

  private async replaceIn(
    tenantId: string,
    kind: ResourceKind,
    id: string,
    body: unknown,
    context: RequestContext,
    preconditions: WritePreconditions = {},
  ): Promise<ScimResource> {
    const shape = await this.shapeOf(tenantId, kind);
    const input = parseResourceInput(shape, body);
    const passwordHash = await this.hashPassword(input.password);
    return this.store.transaction(tenantId, async (tx) => {
      const current = await requireCurrent(tx, kind, id, preconditions, { members: kind === 'Group', groups: false });
      assertImmutableUnchanged(shape, current.attributes, input.attributes);
      const values = await toWrite(tx, kind, input, passwordHash, current);
      await assertUnique(tx, shape, kind, input.attributes, id);
      const updated = await tx.update(kind, id, current.version, values);
      await this.forwardPassword(tx, tenantId, id, updated.version, input.password);
      await tx.record(
        {
          type: resourceEventType(kind, 'replaced'),
          tenantId,
          resourceType: kind,
          resourceId: id,
          version: updated.version,
          before: auditView(current),
          after: { ...auditView(updated), ...(values.members ? { members: values.members.map((m) => m.value) } : {}) },
        },
        context,
      );
      // A User comes back with its groups; a Group's members are read again.
      return kind === 'User' ? updated : ((await tx.find(kind, id, ALL)) ?? updated);
    });
  }

  private async deleteIn(
    tenantId: string,
    kind: ResourceKind,
    id: string,
    context: RequestContext,
    preconditions: WritePreconditions = {},
  ): Promise<void> {
    await this.store.transaction(tenantId, async (tx) => {
      const current = await requireCurrent(tx, kind, id, preconditions, { members: kind === 'Group', groups: false });
      await tx.remove(kind, id);
      await tx.record(
        {
          type: resourceEventType(kind, 'deleted'),
          tenantId,
          resourceType: kind,
          resourceId: id,
          version: current.version,
          before: auditView(current),
          after: null,
        },
        context,
      );
    });
  }

  /** Reads one resource; NOT_FOUND when it does not exist in this tenant. */
  async get(
    caller: DirectoryCaller,
    tenant: TenantRef,
    kind: ResourceKind,
    id: string,
    include: ResourceIncludes = ALL,
  ): Promise<ScimResource> {
    return this.getIn(await this.tenantId(caller, tenant, 'read'), kind, id, include);
  }

  private async getIn(tenantId: string, kind: ResourceKind, id: string, include: ResourceIncludes): Promise<ScimResource> {
    const found = await this.store.get(tenantId, kind, id, include);
    if (!found) throw notFound(kind, id);
    return found;
  }

  /** The resources among `ids` that exist in the tenant, in one read; missing ids are left out (batch loads, e.g. GraphQL DataLoaders). */
  async getMany(
    caller: DirectoryCaller,
    tenant: TenantRef,
    kind: ResourceKind,
    ids: readonly string[],
    include: ResourceIncludes = ALL,
  ): Promise<ScimResource[]> {
    const tenantId = await this.tenantId(caller, tenant, 'read');
    return ids.length === 0 ? [] : this.store.getMany(tenantId, kind, ids, include);
  }

  /**
   * The resources among `ids` that a resource the caller has read or written
   * names in its tenant (a User's manager), in one read like {@link getMany}.
   * They come with that resource: whoever may read, write or (an end user)
   * self-serve in the tenant reads them; anyone else gets what a read would.
   */
  async referenced(
    caller: DirectoryCaller,
    tenant: TenantRef,
    kind: ResourceKind,
    ids: readonly string[],
    include: ResourceIncludes = ALL,
  ): Promise<ScimResource[]> {
    const tenantId = await this.tenantIdForAny(caller, tenant, [actionOf(caller, 'read'), actionOf(caller, 'write'), 'scim.me']);
    return ids.length === 0 ? [] : this.store.getMany(tenantId, kind, ids, include);
  }

  /** The tenant's id once any of `actions` is authorized on it; the first action's refusal otherwise. */
  private async tenantIdForAny(caller: DirectoryCaller, tenant: TenantRef, actions: readonly Action[]): Promise<string> {
    let refusal: unknown;
    for (const action of actions) {
      try {
        return await authorizeTenantRef(this.tenants, caller.principal, action, tenant);
      } catch (error) {
        if (!(error instanceof MeridianError)) throw error;
        refusal ??= error;
      }
    }
    throw refusal;
  }

  /** A cursor page of resources in creation order. */
  async page(
    caller: DirectoryCaller,
    tenant: TenantRef,
    kind: ResourceKind,
    page: PageRequest,
    filter?: Filter,
  ): Promise<Page<ScimResource>> {
    const tenantId = await this.tenantId(caller, tenant, 'read');
    return this.store.page(tenantId, kind, checkPage(page), filter);
  }

  /**
   * A page of a group's direct members (ordered by member id, keyset cursors): read like the group itself;
   * NOT_FOUND when the tenant has no such group. `search` keeps members whose display name or userName contains it
   * (case-insensitive).
   */
  async memberPage(
    caller: DirectoryCaller,
    tenant: TenantRef,
    groupId: string,
    page: PageRequest,
    search?: string,
  ): Promise<Page<GroupMember>> {
    const tenantId = await this.tenantId(caller, tenant, 'read');
    if (!this.store.memberPage) throw new TypeError('This directory store does not page group members.');
    const found = await this.store.memberPage(tenantId, groupId, checkPage(page), search);
    if (!found) throw notFound('Group', groupId);
    return found;
  }

  /** Lists a page of resources: index paging (RFC 7644 §3.4.2.4) or cursor paging (RFC 9865). */
  async list(caller: DirectoryCaller, tenant: TenantRef, kind: ResourceKind, query: ResourceQuery): Promise<ResourcePage> {
    const tenantId = await this.tenantId(caller, tenant, 'read');
    if (query.cursor === undefined && query.startIndex > MAX_START_INDEX) {
      throw new MeridianError('TOO_MANY', `startIndex beyond ${MAX_START_INDEX} is not served; page with 'cursor' (RFC 9865) instead.`, {
        field: 'startIndex',
      });
    }
    return this.store.list(tenantId, kind, { ...query, shape: await this.shapeOf(tenantId, kind) });
  }

  /** The end user's own User (`/Me`, RFC 7644 §3.11; GraphQL `me`); see {@link ownAccount}. */
  async getOwn(caller: DirectoryCaller): Promise<ScimResource> {
    const { tenantId, userId } = this.ownAccount(caller);
    return this.getIn(tenantId, 'User', userId, ALL);
  }

  /** What the end user may change on their own User: their tenant's self-service policy (`scim.me`, as {@link ownAccount}). */
  async ownSelfServicePolicy(caller: DirectoryCaller): Promise<SelfServicePolicy> {
    return this.schemas.selfServicePolicy(this.ownAccount(caller).tenantId);
  }

  /**
   * Patches the end user's own User; only attributes the tenant's
   * self-service policy lists may change (draft-ietf-scim-use-cases §3.4).
   */
  async patchOwn(caller: DirectoryCaller, body: unknown, context: RequestContext, options: PatchOptions = {}): Promise<ScimResource> {
    const { tenantId, userId } = this.ownAccount(caller);
    const policy = await this.schemas.selfServicePolicy(tenantId);
    return this.patchWith(tenantId, 'User', userId, body, context, { include: ALL, ...options }, policy);
  }

  /** Replaces the end user's own User, under the same policy as {@link patchOwn}. */
  async replaceOwn(caller: DirectoryCaller, body: unknown, context: RequestContext, preconditions: WritePreconditions = {}) {
    const { tenantId, userId } = this.ownAccount(caller);
    const policy = await this.schemas.selfServicePolicy(tenantId);
    const shape = await this.shapeOf(tenantId, 'User');
    const input = parseResourceInput(shape, body);
    const passwordHash = await this.hashPassword(input.password);
    return this.store.transaction(tenantId, async (tx) => {
      const current = await requireCurrent(tx, 'User', userId, preconditions, NONE);
      // A PUT of one's own User keeps what the policy does not let them change.
      assertOnlyEditable(
        shape,
        withDefaults(documentOf(current)),
        withDefaults({ ...input.attributes, ...externalIdOf(input) }),
        input.password !== undefined,
        policy,
      );
      assertImmutableUnchanged(shape, current.attributes, input.attributes);
      const values = await toWrite(tx, 'User', input, passwordHash, current);
      await assertUnique(tx, shape, 'User', input.attributes, userId);
      const updated = await tx.update('User', userId, current.version, values);
      await this.forwardPassword(tx, tenantId, userId, updated.version, input.password);
      await tx.record(
        {
          type: resourceEventType('User', 'replaced'),
          tenantId,
          resourceType: 'User',
          resourceId: userId,
          version: updated.version,
          before: auditView(current),
          after: auditView(updated),
        },
        context,
      );
      return updated;
    });
  }

  private async patchWith(
    tenantId: string,
    kind: ResourceKind,
    id: string,
    body: unknown,
    context: RequestContext,
    options: PatchOptions,
    policy: SelfServicePolicy | undefined,
  ): Promise<ScimResource> {
    const shape = await this.shapeOf(tenantId, kind);
    const operations = parsePatchRequest(body);
    const hashes = await this.hashPatchPasswords(operations);
    return this.store.transaction(tenantId, async (tx) => {
      const current = await requireCurrent(tx, kind, id, options, NONE);
      const before = documentOf(current);
      const result = applyPatch(shape, before, operations);
      const input = parseResourceInput(shape, { schemas: [coreSchemaOf(kind)], ...result.document });
      if (policy) {
        if (result.memberChanges.length > 0) throw new MeridianError('FORBIDDEN', 'End users cannot change group members.');
        assertOnlyEditable(
          shape,
          withDefaults(before),
          withDefaults({ ...input.attributes, ...externalIdOf(input) }),
          input.password !== undefined,
          policy,
        );
      }
      assertImmutableUnchanged(shape, current.attributes, input.attributes);
      // Rare spellings (a URN-qualified password path) were not hashed ahead; hash them here.
      const passwordHash =
        input.password === undefined ? undefined : (hashes.get(input.password) ?? (await this.passwords.hash(input.password)));
      // A group's members change row by row below, never as a list.
      const values = await toWrite(tx, kind, input, passwordHash, current, { members: false });
      await assertUnique(tx, shape, kind, values.attributes, id);
      const updated = await tx.update(kind, id, current.version, values);
      await this.forwardPassword(tx, tenantId, id, updated.version, input.password);
      const members = await applyMemberChanges(tx, kind, id, result.memberChanges);
      await tx.record(
        {
          type: resourceEventType(kind, 'updated'),
          tenantId,
          resourceType: kind,
          resourceId: id,
          version: updated.version,
          before: auditView(current),
          after: {
            ...auditView(updated),
            ...(members.added.length > 0 ? { membersAdded: members.added } : {}),
            ...(members.removed.length > 0 ? { membersRemoved: members.removed } : {}),
          },
        },
        context,
      );
      const include = options.include ?? NONE;
      // A User comes back with its groups; a Group's members are read again when asked for.
      return kind === 'Group' && include.members ? ((await tx.find(kind, id, include)) ?? updated) : updated;
    });
  }

  /** Only users carry passwords; the forwarding port decides whether any target takes it. */
  private async forwardPassword(
    tx: DirectoryTransaction,
    tenantId: string,
    userId: string,
    version: number,
    password: string | undefined,
  ): Promise<void> {
    if (password !== undefined && this.forwarding) await this.forwarding.forward(tx, tenantId, userId, version, password);
  }

  private hashPassword(password: string | undefined): Promise<string | undefined> {
    return password === undefined ? Promise.resolve(undefined) : this.passwords.hash(password);
  }

  /** Hashes every clear password a PATCH may set, before its transaction opens. */
  private async hashPatchPasswords(operations: PatchOperation[]): Promise<Map<string, string>> {
    const candidates = new Set<string>();
    for (const op of operations) {
      if (op.op === 'remove') continue;
      if (op.path?.attribute.toLowerCase() === 'password' && typeof op.value === 'string') candidates.add(op.value);
      if (op.path === undefined && typeof op.value === 'object' && op.value !== null) {
        for (const [key, value] of Object.entries(op.value)) {
          if (key.toLowerCase() === 'password' && typeof value === 'string') candidates.add(value);
        }
      }
    }
    const hashes = new Map<string, string>();
    for (const password of candidates) hashes.set(password, await this.passwords.hash(password));
    return hashes;
  }
}

async function requireCurrent(
  tx: DirectoryTransaction,
  kind: ResourceKind,
  id: string,
  preconditions: WritePreconditions,
  include: ResourceIncludes,
): Promise<ScimResource> {
  const current = await tx.find(kind, id, include);
  if (!current) throw notFound(kind, id);
  if (preconditions.ifMatchVersion !== undefined && preconditions.ifMatchVersion !== current.version) {
    throw new MeridianError('PRECONDITION_FAILED', `The ${kind} has changed since version ${preconditions.ifMatchVersion}.`);
  }
  return current;
}

/**
 * The values every write stores (create, replace and patch, through SCIM,
 * Bulk, `/Me` and GraphQL alike), with the references they make resolved
 * inside the tenant: a group's members, a user's manager. `current` is the
 * stored resource a replace or patch starts from.
 */
async function toWrite(
  tx: DirectoryTransaction,
  kind: ResourceKind,
  input: ResourceInput,
  passwordHash: string | undefined,
  current: ScimResource | undefined,
  options: { members: boolean } = { members: true },
): Promise<ResourceWrite> {
  const attributes = { ...input.attributes };
  delete attributes.members;
  const values: ResourceWrite = { externalId: input.externalId, attributes, extensionSchemas: input.extensionSchemas };
  if (kind === 'Group' && options.members) values.members = await resolveGroupMembers(tx, input);
  if (kind === 'User') await assertManagerInTenant(tx, attributes, current?.attributes);
  if (passwordHash !== undefined) values.passwordHash = passwordHash;
  return values;
}

/** The enterprise extension's `manager.value` of a User's attributes, when it names one. */
function managerOf(attributes: JsonObject | undefined): string | undefined {
  const enterprise = attributes?.[SCHEMA.enterpriseUser];
  if (typeof enterprise !== 'object' || enterprise === null || Array.isArray(enterprise)) return undefined;
  const manager = (enterprise as JsonObject).manager;
  if (typeof manager !== 'object' || manager === null || Array.isArray(manager)) return undefined;
  const value = (manager as JsonObject).value;
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * A User's manager (enterprise `manager.value`, RFC 7643 §4.3) is a User of
 * the same tenant: an id of another tenant or community, a Group, or an id
 * that does not exist is INVALID_INPUT, with the same message in each case so
 * that the answer says nothing about other tenants. Only a new value is
 * checked: a manager deleted since it was set does not block other changes.
 */
async function assertManagerInTenant(tx: DirectoryTransaction, attributes: JsonObject, before: JsonObject | undefined): Promise<void> {
  const manager = managerOf(attributes);
  if (manager === undefined || manager === managerOf(before)) return;
  // resolveMembers reads in the transaction's tenant only (and takes no lock).
  const [found] = await tx.resolveMembers([manager]);
  if (found?.type !== 'User') {
    throw new MeridianError('INVALID_INPUT', `The manager '${manager}' is not a User of this tenant.`, {
      field: `${SCHEMA.enterpriseUser}:manager.value`,
    });
  }
}

/** RFC 7643 §2.1 `uniqueness: server` on tenant extension attributes (userName and displayName have unique indexes). */
async function assertUnique(
  tx: DirectoryTransaction,
  shape: ResourceShape,
  kind: ResourceKind,
  attributes: JsonObject,
  exceptId: string | undefined,
): Promise<void> {
  for (const unique of uniqueAttributes(shape, attributes)) {
    if (await tx.valueTaken(kind, unique.keys, unique.value, unique.caseExact, exceptId)) {
      throw new MeridianError('UNIQUENESS', `Another ${kind} already has this '${unique.keys.join(':')}'.`, {
        field: unique.keys.join(':'),
      });
    }
  }
}

async function applyMemberChanges(
  tx: DirectoryTransaction,
  kind: ResourceKind,
  id: string,
  changes: MemberChange[],
): Promise<{ added: string[]; removed: string[] }> {
  if (changes.length === 0) return { added: [], removed: [] };
  if (kind !== 'Group') throw new TypeError('applyPatch only produces member changes for groups.');
  return tx.changeMembers(id, changes);
}

async function resolveGroupMembers(tx: DirectoryTransaction, input: ResourceInput): Promise<GroupMember[]> {
  const raw = (input.attributes.members as { value?: unknown }[] | undefined) ?? [];
  const ids = [
    ...new Set(
      raw.map((m, i) => {
        if (typeof m.value !== 'string' || m.value === '') {
          throw new MeridianError('INVALID_INPUT', `members[${i}].value is required.`, { field: `members[${i}].value` });
        }
        return m.value;
      }),
    ),
  ];
  if (ids.length === 0) return [];
  const found = await tx.resolveMembers(ids);
  const known = new Set(found.map((m) => m.value));
  const missing = ids.find((id) => !known.has(id));
  if (missing !== undefined) {
    throw new MeridianError('INVALID_INPUT', `Member '${missing}' does not exist in this tenant.`, { field: 'members' });
  }
  return found;
}

function notFound(kind: ResourceKind, id: string): MeridianError {
  return new MeridianError('NOT_FOUND', `${kind} '${id}' not found.`);
}

/** The stored document a PATCH works on: attributes and externalId, never members or a password. */
function documentOf(resource: ScimResource): JsonObject {
  return {
    ...(JSON.parse(JSON.stringify(resource.attributes)) as JsonObject),
    ...(resource.externalId !== undefined ? { externalId: resource.externalId } : {}),
  };
}

/**
 * A User document with the value an unassigned `active` stands for (the store and every rendering read it as true),
 * so that a self-service PUT of what GET /Me returned changes nothing.
 */
function withDefaults(document: JsonObject): JsonObject {
  return document.active === undefined ? { ...document, active: true } : document;
}

function externalIdOf(input: ResourceInput): JsonObject {
  return input.externalId !== undefined ? { externalId: input.externalId } : {};
}

/** The values recorded in an audit diff: attributes without secrets. */
function auditView(resource: ScimResource): Record<string, unknown> {
  const view: Record<string, unknown> = { ...resource.attributes };
  if (resource.externalId !== undefined) view.externalId = resource.externalId;
  if (resource.kind === 'Group' && resource.members.length > 0) view.members = resource.members.map((m) => m.value);
  return view;
}
