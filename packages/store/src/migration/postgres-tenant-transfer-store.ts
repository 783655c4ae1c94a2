import {
  type Clock,
  type ImportedResource,
  importActionOf,
  type RequestContext,
  type ResourceKind,
  type StoredCounts,
  type TenantTransferStore,
} from '@meridian/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { translateCycleError } from '../directory/group-graph-errors.js';
import { auditEvent, changeStatement, recordEvent, type WriteStatement } from '../events/event-recorder.js';
import { pgArray } from '../orm/sql.js';
import { inTenant } from '../orm/unit-of-work.js';

const TABLE: Record<ResourceKind, string> = { User: 'scim_user', Group: 'scim_group' };

/** The statement that inserts a resource of a transfer file with its own id, version and times. */
function insertOf(tenantId: string, resource: ImportedResource, passwordHash: string | undefined): WriteStatement {
  const { write } = resource;
  if (resource.kind === 'User') {
    return {
      sql: `insert into scim_user (id, tenant_id, user_name, external_id, active, attributes, extension_schemas, password_hash, version, created_at, updated_at)
            values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      params: [
        resource.id,
        tenantId,
        write.attributes.userName,
        write.externalId ?? null,
        write.attributes.active !== false,
        JSON.stringify(write.attributes),
        pgArray(write.extensionSchemas),
        passwordHash ?? null,
        resource.version,
        resource.created,
        resource.lastModified,
      ],
    };
  }
  return {
    sql: `insert into scim_group (id, tenant_id, display_name, external_id, attributes, extension_schemas, version, created_at, updated_at)
          values (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    params: [
      resource.id,
      tenantId,
      write.attributes.displayName,
      write.externalId ?? null,
      JSON.stringify(write.attributes),
      pgArray(write.extensionSchemas),
      resource.version,
      resource.created,
      resource.lastModified,
    ],
  };
}

/** The audit view of an imported resource: its attributes and externalId, never its password hash. */
function auditView(resource: ImportedResource): Record<string, unknown> {
  return {
    ...resource.write.attributes,
    ...(resource.write.externalId !== undefined ? { externalId: resource.write.externalId } : {}),
  };
}

async function storedVersions(
  em: EntityManager,
  tenantId: string,
  kind: ResourceKind,
  ids: readonly string[],
): Promise<Map<string, number>> {
  if (ids.length === 0) return new Map();
  const rows = await em.execute<{ id: string; version: number }[]>(
    `select id, version from ${TABLE[kind]} where tenant_id = ? and id = any(?::uuid[])`,
    [tenantId, pgArray([...ids])],
  );
  return new Map(rows.map((r) => [r.id, Number(r.version)]));
}

/**
 * The PostgreSQL side of tenant imports (issue 19): resources inserted with the ids, versions and times of the file,
 * each with its outbox event and audit entry in the same statement, in transactions scoped to the receiving tenant
 * (ADR 0005, ADR 0010), so an import is a write like any other for replication, the global directory and the audit.
 */
export class PostgresTenantTransferStore implements TenantTransferStore {
  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
  ) {}

  async passwordHashes(tenantId: string, userIds: readonly string[]): Promise<Map<string, string>> {
    const rows = await inTenant(this.orm, tenantId, (em) =>
      em.execute<{ id: string; password_hash: string }[]>(
        'select id, password_hash from scim_user where tenant_id = ? and id = any(?::uuid[]) and password_hash is not null',
        [tenantId, pgArray([...userIds])],
      ),
    );
    return new Map(rows.map((r) => [r.id, r.password_hash]));
  }

  versions(tenantId: string, kind: ResourceKind, ids: readonly string[]): Promise<Map<string, number>> {
    return inTenant(this.orm, tenantId, (em) => storedVersions(em, tenantId, kind, ids));
  }

  insertResources(
    tenantId: string,
    resources: readonly ImportedResource[],
    passwordHashes: ReadonlyMap<string, string>,
    context: RequestContext,
  ): Promise<string[]> {
    return inTenant(this.orm, tenantId, async (em) => {
      const now = this.clock.now();
      const inserted: string[] = [];
      for (const kind of ['User', 'Group'] as const) {
        const ofKind = resources.filter((r) => r.kind === kind);
        const stored = await storedVersions(
          em,
          tenantId,
          kind,
          ofKind.map((r) => r.id),
        );
        for (const resource of ofKind) {
          if (importActionOf(resource, stored.get(resource.id)) === 'skip') continue;
          const statement = changeStatement(
            {
              type: kind === 'User' ? 'user.created' : 'group.created',
              tenantId,
              resourceType: kind,
              resourceId: resource.id,
              version: resource.version,
              before: null,
              after: auditView(resource),
            },
            context,
            now,
            [insertOf(tenantId, resource, passwordHashes.get(resource.id))],
          );
          await em.execute(statement.sql, statement.params);
          inserted.push(resource.id);
        }
      }
      return inserted;
    });
  }

  addMembers(tenantId: string, group: ImportedResource, context: RequestContext): Promise<number> {
    return inTenant(
      this.orm,
      tenantId,
      async (em) => {
        const now = this.clock.now();
        // The members keep the file's order: GET lists them by the time they were added (then by id).
        const rows = await em.execute<{ member_id: string }[]>(
          `insert into group_member (group_id, member_id, tenant_id, member_type, created_at)
           select ?, m.id, ?, m.type, ?::timestamptz + (m.n * interval '1 microsecond')
             from unnest(?::uuid[], ?::text[]) with ordinality as m(id, type, n)
           on conflict do nothing returning member_id`,
          [group.id, tenantId, now, pgArray(group.members.map((m) => m.value)), pgArray(group.members.map((m) => m.type))],
        );
        if (rows.length > 0) {
          // An outbox event too: the relay pushes the group's state as it is now, members included.
          await recordEvent(
            em,
            {
              type: 'group.updated',
              tenantId,
              resourceType: 'Group',
              resourceId: group.id,
              version: group.version,
              before: null,
              after: { membersAdded: rows.map((r) => r.member_id) },
            },
            context,
            now,
          );
        }
        return rows.length;
      },
      { explain: translateCycleError },
    );
  }

  async counts(tenantId: string): Promise<StoredCounts> {
    const [row] = await inTenant(this.orm, tenantId, (em) =>
      em.execute<{ users: string; groups: string; memberships: string; passwords: string }[]>(
        `select (select count(*) from scim_user where tenant_id = ?) as users,
                (select count(*) from scim_group where tenant_id = ?) as groups,
                (select count(*) from group_member where tenant_id = ?) as memberships,
                (select count(*) from scim_user where tenant_id = ? and password_hash is not null) as passwords`,
        [tenantId, tenantId, tenantId, tenantId],
      ),
    );
    return {
      users: Number(row?.users ?? 0),
      groups: Number(row?.groups ?? 0),
      memberships: Number(row?.memberships ?? 0),
      passwords: Number(row?.passwords ?? 0),
    };
  }

  recordTransfer(
    tenantId: string,
    type: 'tenant.exported' | 'tenant.imported',
    after: Record<string, unknown>,
    context: RequestContext,
  ): Promise<void> {
    return inTenant(this.orm, tenantId, (em) =>
      auditEvent(em, { type, tenantId, resourceType: 'Tenant', resourceId: tenantId, before: null, after }, context, this.clock.now()),
    );
  }
}
