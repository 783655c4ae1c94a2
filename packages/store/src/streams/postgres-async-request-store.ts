import type { AsyncMethod, AsyncRequest, AsyncRequestStore, AsyncWriteResult, NewStreamSet, ResourceKind } from '@meridian/core';
import type { MikroORM } from '@mikro-orm/postgresql';
import { v7 as uuidv7 } from 'uuid';
import { asPlatform } from '../orm/unit-of-work.js';
import { insertSets } from './postgres-event-stream-store.js';

const ASYNC_RESPONSE = 'urn:ietf:params:scim:event:misc:asyncresp';

interface Row {
  id: string;
  tenant_id: string;
  community_id: string;
  token_id: string;
  request_id: string;
  method: AsyncMethod;
  resource_type: ResourceKind | null;
  resource_id: string | null;
  status: number | null;
  version: string | null;
  location: string | null;
  created_at: Date;
  accepted_at: Date | null;
  /** For a request never accepted: what the outbox says the request wrote (its first resource). */
  outbox_type: string | null;
  outbox_resource_type: ResourceKind | null;
  outbox_resource_id: string | null;
  outbox_version: number | null;
}

/** The answer a write would have given, from its outbox event (a request recovered after a crash). */
function recoveredStatus(method: AsyncMethod, type: string): number {
  if (method === 'DELETE' || type.endsWith('.deleted')) return 204;
  return method === 'POST' ? 201 : 200;
}

/**
 * The asynchronous SCIM requests (migration 20261208500000, core's
 * AsyncResponder). Everything runs in platform scope: `begin` checks the
 * token's streams of the tenant's community, and `finish` writes the SETs of
 * the community's streams; the SCIM caller never reads this table.
 */
export class PostgresAsyncRequestStore implements AsyncRequestStore {
  constructor(
    private readonly orm: MikroORM,
    /** The SCIM base URL, for the location of a recovered request. */
    private readonly scimBaseUrl: string,
  ) {}

  async begin(tenantId: string, tokenId: string, requestId: string, method: AsyncMethod): Promise<string | undefined> {
    return asPlatform(this.orm, async (em) => {
      const rows = await em.execute<{ id: string }[]>(
        `insert into scim_async_request (id, tenant_id, community_id, token_id, request_id, method, created_at)
         select ?, t.id, t.community_id, ?, ?, ?, now() from tenant t
         where t.id = ? and exists (
           select 1 from event_stream s where s.community_id = t.community_id and s.receiver_kind = 'token'
             and s.receiver_id = ? and s.status <> 'disabled' and ? = any (s.events_requested))
         on conflict (tenant_id, request_id) do nothing
         returning id`,
        [uuidv7(), tokenId, requestId, method, tenantId, tokenId, ASYNC_RESPONSE],
      );
      return rows[0]?.id;
    });
  }

  async accept(id: string, result: AsyncWriteResult): Promise<void> {
    await asPlatform(this.orm, (em) =>
      em.execute(
        `update scim_async_request set resource_type = ?, resource_id = ?, status = ?, version = ?, location = ?, accepted_at = now()
         where id = ?`,
        [result.kind, result.resourceId, result.status, result.version, result.location, id],
      ),
    );
  }

  async abandon(id: string): Promise<void> {
    await asPlatform(this.orm, (em) => em.execute('delete from scim_async_request where id = ?', [id]));
  }

  async due(limit: number, recoverBefore: Date): Promise<(AsyncRequest & { recovered: boolean })[]> {
    const rows = await asPlatform(this.orm, (em) =>
      em.execute<Row[]>(
        `select r.*, o.type as outbox_type, o.resource_type as outbox_resource_type, o.resource_id as outbox_resource_id,
                o.resource_version as outbox_version
         from scim_async_request r
         left join lateral (
           select type, resource_type, resource_id, resource_version from outbox_event e
           where r.accepted_at is null and e.tenant_id = r.tenant_id and e.request_id = r.request_id
           order by e.id limit 1
         ) o on true
         where r.accepted_at is not null or r.created_at < ?
         order by r.created_at limit ?`,
        [recoverBefore, limit],
      ),
    );
    return rows.map((row) => {
      const base = {
        id: row.id,
        tenantId: row.tenant_id,
        communityId: row.community_id,
        tokenId: row.token_id,
        requestId: row.request_id,
        method: row.method,
        createdAt: new Date(row.created_at),
      };
      if (row.accepted_at !== null && row.resource_type !== null && row.resource_id !== null && row.status !== null) {
        const result = {
          status: row.status,
          kind: row.resource_type,
          resourceId: row.resource_id,
          location: row.location ?? '',
          version: row.version,
        };
        return { ...base, result, recovered: false };
      }
      if (row.outbox_type === null || row.outbox_resource_type === null || row.outbox_resource_id === null) {
        return { ...base, result: null, recovered: true };
      }
      const plural = row.outbox_resource_type === 'User' ? 'Users' : 'Groups';
      const deleted = row.outbox_type.endsWith('.deleted');
      return {
        ...base,
        recovered: true,
        result: {
          status: recoveredStatus(row.method, row.outbox_type),
          kind: row.outbox_resource_type,
          resourceId: row.outbox_resource_id,
          location: `${this.scimBaseUrl.replace(/\/+$/, '')}/${plural}/${row.outbox_resource_id}`,
          version: deleted || row.outbox_version === null ? null : `W/"${row.outbox_version}"`,
        },
      };
    });
  }

  async finish(request: AsyncRequest, sets: NewStreamSet[]): Promise<void> {
    await asPlatform(this.orm, async (em) => {
      await insertSets(em, sets, new Date());
      await em.execute('delete from scim_async_request where id = ?', [request.id]);
    });
  }
}
