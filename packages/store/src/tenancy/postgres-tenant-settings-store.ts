import {
  type Clock,
  MeridianError,
  type RequestContext,
  type SchemaExtension,
  type SelfServicePolicy,
  type TenantSettingsStore,
} from '@meridian/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { v7 as uuidv7 } from 'uuid';
import { recordEvent } from '../events/event-recorder.js';
import { pgArray } from '../orm/sql.js';
import { inTenant } from '../orm/unit-of-work.js';

/** The PostgreSQL implementation of the core {@link TenantSettingsStore}. */
export class PostgresTenantSettingsStore implements TenantSettingsStore {
  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
  ) {}

  /** Every transaction is scoped to the tenant whose settings it reads or writes (ADR 0010). */
  private write<T>(tenantId: string, work: (em: EntityManager, now: Date) => Promise<T>): Promise<T> {
    return inTenant(this.orm, tenantId, (em) => work(em, this.clock.now()));
  }

  private read<T>(tenantId: string, work: (em: EntityManager) => Promise<T>): Promise<T> {
    return inTenant(this.orm, tenantId, work);
  }

  async listExtensions(tenantId: string): Promise<SchemaExtension[]> {
    const rows = await this.read(tenantId, (em) =>
      em.execute<{ definition: SchemaExtension }[]>('select definition from schema_extension where tenant_id = ? order by created_at, id', [
        tenantId,
      ]),
    );
    return rows.map((r) => r.definition);
  }

  createExtension(tenantId: string, extension: SchemaExtension, context: RequestContext): Promise<SchemaExtension> {
    return this.write(tenantId, async (em, now) => {
      const [existing] = await em.execute<{ id: string }[]>(
        'select id from schema_extension where tenant_id = ? and lower(urn) = lower(?)',
        [tenantId, extension.id],
      );
      if (existing)
        throw new MeridianError('UNIQUENESS', `The tenant already has the schema extension '${extension.id}'.`, { field: 'id' });
      const id = uuidv7();
      await em.execute(
        'insert into schema_extension (id, tenant_id, urn, resource_type, definition, created_at) values (?, ?, ?, ?, ?, ?)',
        [id, tenantId, extension.id, extension.resourceType, JSON.stringify(extension), now],
      );
      await recordEvent(
        em,
        { type: 'schema.created', tenantId, resourceType: 'Schema', resourceId: extension.id, before: null, after: { ...extension } },
        context,
        now,
      );
      return extension;
    });
  }

  deleteExtension(tenantId: string, urn: string, context: RequestContext): Promise<boolean> {
    return this.write(tenantId, async (em, now) => {
      const [row] = await em.execute<{ urn: string; resource_type: 'User' | 'Group'; definition: SchemaExtension }[]>(
        'select urn, resource_type, definition from schema_extension where tenant_id = ? and lower(urn) = lower(?) for update',
        [tenantId, urn],
      );
      if (!row) return false;
      const table = row.resource_type === 'User' ? 'scim_user' : 'scim_group';
      const [used] = await em.execute<{ n: string }[]>(
        `select count(*) as n from ${table} where tenant_id = ? and extension_schemas && ?::text[]`,
        [tenantId, pgArray([row.urn])],
      );
      if (Number(used?.n ?? 0) > 0) {
        throw new MeridianError(
          'CONFLICT',
          `${used?.n} ${row.resource_type} resources still carry '${row.urn}'; remove its values first.`,
          {
            field: 'id',
          },
        );
      }
      await em.execute('delete from schema_extension where tenant_id = ? and lower(urn) = lower(?)', [tenantId, urn]);
      await recordEvent(
        em,
        { type: 'schema.deleted', tenantId, resourceType: 'Schema', resourceId: row.urn, before: { ...row.definition }, after: null },
        context,
        now,
      );
      return true;
    });
  }

  async getSelfServicePolicy(tenantId: string): Promise<SelfServicePolicy> {
    const [row] = await this.read(tenantId, (em) =>
      em.execute<{ self_service_attributes: string[] }[]>('select self_service_attributes from tenant where id = ?', [tenantId]),
    );
    return { editableAttributes: row?.self_service_attributes ?? [] };
  }

  setSelfServicePolicy(tenantId: string, policy: SelfServicePolicy, context: RequestContext): Promise<SelfServicePolicy> {
    return this.write(tenantId, async (em, now) => {
      const [before] = await em.execute<{ self_service_attributes: string[] }[]>(
        'select self_service_attributes from tenant where id = ? for update',
        [tenantId],
      );
      if (!before) throw new MeridianError('NOT_FOUND', 'Tenant not found.', { field: 'tenant' });
      await em.execute('update tenant set self_service_attributes = ? where id = ?', [pgArray(policy.editableAttributes), tenantId]);
      await recordEvent(
        em,
        {
          type: 'tenant.policy_changed',
          tenantId,
          resourceType: 'Tenant',
          resourceId: tenantId,
          before: { selfServiceAttributes: before.self_service_attributes },
          after: { selfServiceAttributes: policy.editableAttributes },
        },
        context,
        now,
      );
      return policy;
    });
  }
}
