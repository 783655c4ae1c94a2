import { MeridianError } from '../errors/meridian-error.js';
import { parseAttributePath } from '../filter/parse.js';
import type { Clock } from '../ports/clock.js';
import type { SelfServicePolicy, TenantSettingsStore } from '../ports/tenant-settings.js';
import type { ResourceKind, ResourceShape } from '../scim/resource-types.js';
import { parseSchemaExtension, type SchemaExtension, shapeWithExtensions } from '../scim/schema-extension.js';
import type { AttributeDefinition } from '../scim/schema-types.js';
import type { Principal, RequestContext } from './model.js';
import type { Action } from './permissions.js';
import { authorizeTenantRef, type TenantAuthorizer, type TenantRef } from './tenant-access.js';

/** How long a tenant's extensions are cached in this process. */
const CACHE_TTL_MS = 30_000;

interface CacheEntry {
  extensions: SchemaExtension[];
  loadedAt: number;
}

function findDef(list: readonly AttributeDefinition[], name: string): AttributeDefinition | undefined {
  const lower = name.toLowerCase();
  return list.find((d) => d.name.toLowerCase() === lower);
}

/**
 * Resolves a self-service attribute path against the User shape and returns
 * its canonical spelling; INVALID_INPUT when it does not exist or clients
 * cannot write it.
 */
function canonicalPolicyPath(shape: ResourceShape, text: string): string {
  const fail = (why: string): never => {
    throw new MeridianError('INVALID_INPUT', `'${text}' ${why}`, { field: 'editableAttributes' });
  };
  let path: ReturnType<typeof parseAttributePath>;
  try {
    path = parseAttributePath(text.trim());
  } catch {
    return fail('is not an attribute path.');
  }
  const schema =
    path.schema === undefined || path.schema.toLowerCase() === shape.core.id.toLowerCase()
      ? shape.core
      : shape.extensions.find((s) => s.id.toLowerCase() === path.schema?.toLowerCase());
  if (!schema) return fail('names an unknown schema.');
  const def = findDef(schema.attributes, path.attribute) ?? fail('is not a User attribute.');
  let leaf = def;
  if (path.subAttribute !== undefined) {
    leaf = (def.subAttributes && findDef(def.subAttributes, path.subAttribute)) ?? fail('is not a User attribute.');
  }
  if (leaf.mutability === 'readOnly' || def.mutability === 'readOnly') fail('is read-only.');
  const base = path.subAttribute !== undefined ? `${def.name}.${leaf.name}` : def.name;
  return schema === shape.core ? base : `${schema.id}:${base}`;
}

/**
 * Per-tenant settings: the custom schema extensions a tenant declares, and
 * its self-service policy.
 *
 * Callers on behalf of someone (GraphQL, the CLI) use the methods that take
 * the principal: they are authorized here by the permission matrix
 * (`settings.read` to look, `settings.write` to change), on the tenant they
 * name; a tenant out of reach is NOT_FOUND, as one that does not exist. The
 * methods by tenant id serve the hub's own processes after that decision was
 * made elsewhere: the SCIM service reading a tenant's shape for a request it
 * has already authorized, replication, and test setup.
 */
export class TenantSettingsService {
  private readonly cache = new Map<string, CacheEntry>();

  constructor(
    private readonly store: TenantSettingsStore,
    private readonly clock: Clock,
    private readonly tenants?: TenantAuthorizer,
  ) {}

  private tenantId(principal: Principal, action: Action, tenant: TenantRef): Promise<string> {
    return authorizeTenantRef(this.tenants, principal, action, tenant);
  }

  /** The tenant's schema extensions, for a caller with `settings.read`. */
  async extensionsFor(principal: Principal, tenant: TenantRef): Promise<SchemaExtension[]> {
    return this.extensions(await this.tenantId(principal, 'settings.read', tenant));
  }

  /** The tenant's self-service policy, for a caller with `settings.read`. */
  async selfServicePolicyFor(principal: Principal, tenant: TenantRef): Promise<SelfServicePolicy> {
    return this.selfServicePolicy(await this.tenantId(principal, 'settings.read', tenant));
  }

  /** Declares a schema extension, for a caller with `settings.write`. */
  async declareExtension(principal: Principal, tenant: TenantRef, definition: unknown, context: RequestContext): Promise<SchemaExtension> {
    return this.createExtension(await this.tenantId(principal, 'settings.write', tenant), definition, context);
  }

  /** Removes a schema extension, for a caller with `settings.write`. */
  async removeExtension(principal: Principal, tenant: TenantRef, urn: string, context: RequestContext): Promise<void> {
    await this.deleteExtension(await this.tenantId(principal, 'settings.write', tenant), urn, context);
  }

  /** Sets the self-service policy, for a caller with `settings.write`. */
  async changeSelfServicePolicy(
    principal: Principal,
    tenant: TenantRef,
    editableAttributes: string[],
    context: RequestContext,
  ): Promise<SelfServicePolicy> {
    return this.setSelfServicePolicy(await this.tenantId(principal, 'settings.write', tenant), editableAttributes, context);
  }

  /** The tenant's schema extensions, cached for a short while. */
  async extensions(tenantId: string): Promise<SchemaExtension[]> {
    const now = this.clock.now().getTime();
    const cached = this.cache.get(tenantId);
    if (cached && now - cached.loadedAt < CACHE_TTL_MS) return cached.extensions;
    const extensions = await this.store.listExtensions(tenantId);
    this.cache.set(tenantId, { extensions, loadedAt: now });
    return extensions;
  }

  /** The shape of a resource kind in this tenant: built-in schemas plus the tenant's extensions. */
  async shapeOf(tenantId: string, kind: ResourceKind): Promise<ResourceShape> {
    return shapeWithExtensions(kind, await this.extensions(tenantId));
  }

  /** Declares a schema extension after validating its definition. */
  async createExtension(tenantId: string, definition: unknown, context: RequestContext): Promise<SchemaExtension> {
    const extension = parseSchemaExtension(definition);
    const created = await this.store.createExtension(tenantId, extension, context);
    this.cache.delete(tenantId);
    return created;
  }

  /** Removes an extension no resource carries any more. */
  async deleteExtension(tenantId: string, urn: string, context: RequestContext): Promise<void> {
    const deleted = await this.store.deleteExtension(tenantId, urn, context);
    this.cache.delete(tenantId);
    if (!deleted) throw new MeridianError('NOT_FOUND', `Schema extension '${urn}' not found.`, { field: 'id' });
  }

  /** The tenant's self-service policy. */
  selfServicePolicy(tenantId: string): Promise<SelfServicePolicy> {
    return this.store.getSelfServicePolicy(tenantId);
  }

  /** Sets which User attributes end users may change through `/Me`. */
  async setSelfServicePolicy(tenantId: string, editableAttributes: string[], context: RequestContext): Promise<SelfServicePolicy> {
    const shape = await this.shapeOf(tenantId, 'User');
    const canonical = [...new Set(editableAttributes.filter((a) => a.trim() !== '').map((a) => canonicalPolicyPath(shape, a)))];
    return this.store.setSelfServicePolicy(tenantId, { editableAttributes: canonical }, context);
  }
}
