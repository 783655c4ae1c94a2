import { MeridianError } from '../errors/meridian-error.js';
import { resourceEventType } from '../events/domain-event.js';
import type { Filter } from '../filter/ast.js';
import type { Page, PageRequest } from '../ports/admin.js';
import type {
  DirectoryStore,
  DirectoryTransaction,
  PasswordHasher,
  ResourcePage,
  ResourceQuery,
  ResourceWrite,
} from '../ports/directory.js';
import type { GroupMember, ScimResource } from '../scim/resource.js';
import { parseResourceInput, type ResourceInput } from '../scim/resource-input.js';
import { type ResourceKind, resourceShapes } from '../scim/resource-types.js';
import { checkPage } from '../tenancy/admin-service.js';
import type { RequestContext } from '../tenancy/model.js';

/** Preconditions a client may attach to a write (RFC 7644 §3.14). */
export interface WritePreconditions {
  /** The version the client last saw; the write fails with PRECONDITION_FAILED otherwise. */
  ifMatchVersion?: number;
}

/** Creates, replaces, deletes and reads SCIM resources of one tenant. */
export class ResourceService {
  constructor(
    private readonly store: DirectoryStore,
    private readonly passwords: PasswordHasher,
  ) {}

  /** Creates a resource from a SCIM body (RFC 7644 §3.3). */
  async create(tenantId: string, kind: ResourceKind, body: unknown, context: RequestContext): Promise<ScimResource> {
    const input = parseResourceInput(resourceShapes[kind], body);
    // argon2id is slow on purpose: hash before the transaction opens, not inside it.
    const passwordHash = await this.hashPassword(input);
    return this.store.transaction(tenantId, async (tx) => {
      const values = await this.toWrite(tx, kind, input, passwordHash);
      const created = await tx.insert(kind, values);
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

  /** Replaces a resource with a SCIM body (RFC 7644 §3.5.1). */
  async replace(
    tenantId: string,
    kind: ResourceKind,
    id: string,
    body: unknown,
    context: RequestContext,
    preconditions: WritePreconditions = {},
  ): Promise<ScimResource> {
    const input = parseResourceInput(resourceShapes[kind], body);
    const passwordHash = await this.hashPassword(input);
    return this.store.transaction(tenantId, async (tx) => {
      const current = await this.requireCurrent(tx, kind, id, preconditions);
      const values = await this.toWrite(tx, kind, input, passwordHash);
      const updated = await tx.update(kind, id, current.version, values);
      await tx.record(
        {
          type: resourceEventType(kind, 'replaced'),
          tenantId,
          resourceType: kind,
          resourceId: id,
          version: updated.version,
          before: auditView(current),
          after: auditView(updated),
        },
        context,
      );
      return updated;
    });
  }

  /**
   * Modifies a resource with a SCIM PatchOp body (RFC 7644 §3.5.2): all
   * operations apply, or none.
   */
  async patch(
    _tenantId: string,
    kind: ResourceKind,
    _id: string,
    _body: unknown,
    _context: RequestContext,
    _preconditions: WritePreconditions = {},
  ): Promise<ScimResource> {
    // Wired to the patch engine (patch/apply.ts) next.
    throw new MeridianError('INVALID_INPUT', `PATCH of ${kind} is not available yet.`);
  }

  /** Deletes a resource (RFC 7644 §3.6). */
  async delete(
    tenantId: string,
    kind: ResourceKind,
    id: string,
    context: RequestContext,
    preconditions: WritePreconditions = {},
  ): Promise<void> {
    await this.store.transaction(tenantId, async (tx) => {
      const current = await this.requireCurrent(tx, kind, id, preconditions);
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
  async get(tenantId: string, kind: ResourceKind, id: string): Promise<ScimResource> {
    const found = await this.store.get(tenantId, kind, id);
    if (!found) throw notFound(kind, id);
    return found;
  }

  /** A cursor page of resources in creation order. */
  page(tenantId: string, kind: ResourceKind, page: PageRequest, filter?: Filter): Promise<Page<ScimResource>> {
    return this.store.page(tenantId, kind, checkPage(page), filter);
  }

  /** Lists a page of resources. */
  list(tenantId: string, kind: ResourceKind, query: ResourceQuery): Promise<ResourcePage> {
    return this.store.list(tenantId, kind, query);
  }

  private async requireCurrent(
    tx: DirectoryTransaction,
    kind: ResourceKind,
    id: string,
    preconditions: WritePreconditions,
  ): Promise<ScimResource> {
    const current = await tx.find(kind, id);
    if (!current) throw notFound(kind, id);
    if (preconditions.ifMatchVersion !== undefined && preconditions.ifMatchVersion !== current.version) {
      throw new MeridianError('PRECONDITION_FAILED', `The ${kind} has changed since version ${preconditions.ifMatchVersion}.`);
    }
    return current;
  }

  private hashPassword(input: ResourceInput): Promise<string | undefined> {
    return input.password === undefined ? Promise.resolve(undefined) : this.passwords.hash(input.password);
  }

  private async toWrite(
    tx: DirectoryTransaction,
    kind: ResourceKind,
    input: ResourceInput,
    passwordHash: string | undefined,
  ): Promise<ResourceWrite> {
    const members = kind === 'Group' ? await resolveGroupMembers(tx, input) : [];
    const attributes = { ...input.attributes };
    delete attributes.members;
    const values: ResourceWrite = {
      externalId: input.externalId,
      attributes,
      extensionSchemas: input.extensionSchemas,
      members,
    };
    if (passwordHash !== undefined) values.passwordHash = passwordHash;
    return values;
  }
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

/** The values recorded in an audit diff: attributes without secrets. */
function auditView(resource: ScimResource): Record<string, unknown> {
  const view: Record<string, unknown> = { ...resource.attributes };
  if (resource.externalId !== undefined) view.externalId = resource.externalId;
  if (resource.kind === 'Group') view.members = resource.members.map((m) => m.value);
  return view;
}
