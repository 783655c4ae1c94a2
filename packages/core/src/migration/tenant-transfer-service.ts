import type { ResourceService } from '../directory/resource-service.js';
import { MeridianError } from '../errors/meridian-error.js';
import type { ScimResource } from '../scim/resource.js';
import type { ResourceKind } from '../scim/resource-types.js';
import type { Principal, RequestContext, Tenant } from '../tenancy/model.js';
import { authorize, resourceOfTenant } from '../tenancy/permissions.js';
import type { TenantAuthorizer } from '../tenancy/tenant-access.js';
import { type ImportedResource, importActionOf, type StoredCounts, type TransferCounts } from './transfer-format.js';

/** What an import writes and reads in the receiving tenant, each call in one transaction scoped to it. */
export interface TenantTransferStore {
  /** The argon2id hashes of those of `userIds` that have one. */
  passwordHashes(tenantId: string, userIds: readonly string[]): Promise<Map<string, string>>;
  /** The stored version of each of `ids` that exists. */
  versions(tenantId: string, kind: ResourceKind, ids: readonly string[]): Promise<Map<string, number>>;
  /**
   * Inserts resources with their own ids, versions and times, each with its `<kind>.created` outbox event and audit
   * entry; `passwordHashes` by user id, opened. Returns the ids it inserted: one found already there at the same
   * version is skipped, at another version it is a CONFLICT.
   */
  insertResources(
    tenantId: string,
    resources: readonly ImportedResource[],
    passwordHashes: ReadonlyMap<string, string>,
    context: RequestContext,
  ): Promise<string[]>;
  /** Adds a group's missing members (a `group.updated` audit entry when any); returns how many it added. */
  addMembers(tenantId: string, resource: ImportedResource, context: RequestContext): Promise<number>;
  /** What the tenant holds now. */
  counts(tenantId: string): Promise<StoredCounts>;
  /** The audit entry of a whole export or import (`tenant.exported`, `tenant.imported`). */
  recordTransfer(
    tenantId: string,
    type: 'tenant.exported' | 'tenant.imported',
    after: Record<string, unknown>,
    context: RequestContext,
  ): Promise<void>;
}

/** One page of an export. */
export interface ExportPage {
  resources: ScimResource[];
  /** By user id, when hashes were asked for. */
  passwordHashes: Map<string, string>;
  endCursor: string | null;
  hasNextPage: boolean;
}

/** A page of an export: at most this many resources (the store's keyset page limit). */
export const EXPORT_PAGE_SIZE = 500;

/**
 * Moves a tenant between hubs unchanged (draft-ietf-scim-use-cases §3.2): reads it page by page for an export and
 * writes it back with the same ids, versions and times. Both release or write a whole tenant, password hashes
 * included, bypassing the per-resource rules a client is held to: only a platform principal may, and it must also
 * hold the directory and settings actions on the tenant.
 */
export class TenantTransferService {
  constructor(
    private readonly store: TenantTransferStore,
    private readonly resources: ResourceService,
    private readonly tenants: TenantAuthorizer,
  ) {}

  private async authorizeTransfer(principal: Principal, tenant: string, access: 'read' | 'write'): Promise<Tenant> {
    if (principal.kind !== 'platform') {
      throw new MeridianError('FORBIDDEN', 'Only a platform administrator exports or imports a whole tenant.');
    }
    const action = access === 'read' ? 'directory.read' : 'hr.write';
    const found = await this.tenants.authorizeTenant(principal, action, tenant);
    authorize(principal, access === 'read' ? 'settings.read' : 'settings.write', resourceOfTenant(found));
    return found;
  }

  /** The tenant an export reads, once the caller is authorized to release it whole. */
  exportTenant(principal: Principal, tenant: string): Promise<Tenant> {
    return this.authorizeTransfer(principal, tenant, 'read');
  }

  /** The tenant an import writes, once the caller is authorized to write it whole. */
  importTenant(principal: Principal, tenant: string): Promise<Tenant> {
    return this.authorizeTransfer(principal, tenant, 'write');
  }

  /** One keyset page of the tenant's Users or Groups in creation order, rendered as SCIM GET renders them. */
  async exportPage(
    principal: Principal,
    tenant: Tenant,
    kind: ResourceKind,
    after: string | null,
    withHashes: boolean,
  ): Promise<ExportPage> {
    // No total: the export counts what it writes, and a total at each page would read the whole tenant each time.
    const page = await this.resources.page({ principal, api: 'graphql' }, tenant, kind, {
      first: EXPORT_PAGE_SIZE,
      withoutTotal: true,
      ...(after !== null ? { after } : {}),
    });
    const passwordHashes =
      withHashes && kind === 'User' && page.items.length > 0
        ? await this.store.passwordHashes(
            tenant.id,
            page.items.map((r) => r.id),
          )
        : new Map<string, string>();
    return { resources: page.items, passwordHashes, endCursor: page.endCursor, hasNextPage: page.hasNextPage };
  }

  /** Which of `resources` an import would create (the rest are there already at the same version). */
  async plan(tenant: Tenant, resources: readonly ImportedResource[]): Promise<ImportedResource[]> {
    const byKind = new Map<ResourceKind, ImportedResource[]>();
    for (const r of resources) byKind.set(r.kind, [...(byKind.get(r.kind) ?? []), r]);
    const created: ImportedResource[] = [];
    for (const [kind, list] of byKind) {
      const stored = await this.store.versions(
        tenant.id,
        kind,
        list.map((r) => r.id),
      );
      for (const r of list) if (importActionOf(r, stored.get(r.id)) === 'create') created.push(r);
    }
    return created;
  }

  /** Inserts a batch of resources of the file, skipping those already imported; returns how many it created. */
  async importBatch(
    tenant: Tenant,
    resources: readonly ImportedResource[],
    passwordHashes: ReadonlyMap<string, string>,
    context: RequestContext,
  ): Promise<number> {
    if (resources.length === 0) return 0;
    return (await this.store.insertResources(tenant.id, resources, passwordHashes, context)).length;
  }

  /** Adds a group's members from the file; returns how many were missing. */
  importMembers(tenant: Tenant, group: ImportedResource, context: RequestContext): Promise<number> {
    if (group.kind !== 'Group') throw new TypeError('Only groups have members.');
    return group.members.length === 0 ? Promise.resolve(0) : this.store.addMembers(tenant.id, group, context);
  }

  /** What the tenant holds now, for the final count check. */
  counts(tenant: Tenant): Promise<StoredCounts> {
    return this.store.counts(tenant.id);
  }

  /** Audits a finished export or import with what it moved. */
  recordTransfer(
    tenant: Tenant,
    type: 'tenant.exported' | 'tenant.imported',
    summary: { counts: TransferCounts; sha256: string; sourceHub?: string; sealedFor?: string },
    context: RequestContext,
  ): Promise<void> {
    return this.store.recordTransfer(tenant.id, type, { ...summary }, context);
  }
}
