// About 600 lines on purpose: the one implementation of core's DirectoryStore port and of its write transaction
// (find, insert, update, remove, members, uniqueness, events) for Users and Groups; the reads live in
// scim-reads.ts, the cursors in list-cursor.ts, the group-graph errors in group-graph-errors.ts.
import {
  type Clock,
  type DirectoryStore,
  type DirectoryTransaction,
  type DomainEvent,
  type Filter,
  formatPath,
  type GroupMember,
  type GroupMembership,
  type JsonObject,
  type MemberChange,
  type MemberChangeResult,
  MeridianError,
  type Page,
  type PageRequest,
  type RequestContext,
  type ResourceIncludes,
  type ResourceKind,
  type ResourcePage,
  type ResourceQuery,
  type ResourceWrite,
  resourceShapes,
  SCHEMA,
  type ScimResource,
} from '@meridian/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { v7 as uuidv7 } from 'uuid';
import { decodeCursor, encodeCursor } from '../admin/cursor.js';
import { recordEvent, type WriteStatement } from '../events/event-recorder.js';
import { filterToSql, memberFilterToSql, type SqlFragment, sortToSql } from '../filter/to-sql.js';
import { translateDatabaseError } from '../orm/database-errors.js';
import { pgArray } from '../orm/sql.js';
import { inTenant } from '../orm/unit-of-work.js';
import { DeferredDirectoryTransaction } from './deferred-transaction.js';
import { isMissingMember, MemberWriteError, missingMember, translateCycleError } from './group-graph-errors.js';
import { decodeListCursor, encodeListCursor, keyFits, keysetAfter } from './list-cursor.js';
import { decodeMemberCursor, encodeMemberCursor, resourceOfRow, ScimReads, totalOfRows } from './scim-reads.js';
import { StaleRead } from './stale-read.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True when `id` can be a resource id (anything else cannot exist, and must not reach SQL as a uuid). */
export function isUuid(id: string): boolean {
  return UUID.test(id);
}

interface ResourceRow {
  id: string;
  tenant_id: string;
  external_id: string | null;
  attributes: JsonObject;
  extension_schemas?: string[];
  version: number;
  created_at: Date;
  updated_at: Date;
}

const TABLE: Record<ResourceKind, string> = { User: 'scim_user', Group: 'scim_group' };
/** Attempts of a unit of work that reads a User without a lock before the last one, which locks it from the start. */
const OPTIMISTIC_ATTEMPTS = 3;

function toResource(kind: ResourceKind, row: ResourceRow): ScimResource {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    kind,
    externalId: row.external_id ?? undefined,
    attributes: row.attributes,
    extensionSchemas: row.extension_schemas ?? [],
    members: [],
    groups: [],
    version: row.version,
    created: new Date(row.created_at),
    lastModified: new Date(row.updated_at),
  };
}

const ALL: ResourceIncludes = { members: true, groups: true };

/** Loads members of groups and group memberships of users for a page of resources, as far as `include` asks. */
async function decorate(
  em: EntityManager,
  tenantId: string,
  kind: ResourceKind,
  resources: ScimResource[],
  include: ResourceIncludes = ALL,
): Promise<void> {
  if (resources.length === 0 || (kind === 'Group' ? !include.members : !include.groups)) return;
  const ids = resources.map((r) => r.id);
  const byId = new Map(resources.map((r) => [r.id, r]));
  if (kind === 'Group') {
    const rows = await em.execute<{ group_id: string; member_id: string; member_type: 'User' | 'Group'; display: string | null }[]>(
      `select m.group_id, m.member_id, m.member_type,
              coalesce(u.attributes ->> 'displayName', u.user_name, g.display_name) as display
         from group_member m
         left join scim_user u on m.member_type = 'User' and u.id = m.member_id
         left join scim_group g on m.member_type = 'Group' and g.id = m.member_id
        where m.tenant_id = ? and m.group_id = any(?::uuid[])
        order by m.group_id, m.created_at, m.member_id`,
      [tenantId, pgArray(ids)],
    );
    for (const row of rows) {
      const member: GroupMember = { value: row.member_id, type: row.member_type };
      if (row.display !== null) member.display = row.display;
      byId.get(row.group_id)?.members.push(member);
    }
    return;
  }
  // RFC 7643 §4.1.2: groups, direct and through nested groups, at any depth. A row is (member, group, direct): each
  // is produced at most twice and UNION drops repeats, so the query ends on any graph, a cycle included.
  const rows = await em.execute<{ member_id: string; group_id: string; display_name: string; direct: boolean }[]>(
    `with recursive memberships (member_id, group_id, direct) as (
        select member_id, group_id, true from group_member where tenant_id = ? and member_id = any(?::uuid[])
        union
        select m.member_id, gm.group_id, false
          from memberships m join group_member gm on gm.tenant_id = ? and gm.member_id = m.group_id
      )
      select m.member_id, m.group_id, g.display_name, bool_or(m.direct) as direct
        from memberships m join scim_group g on g.id = m.group_id
       group by m.member_id, m.group_id, g.display_name
       order by m.member_id, m.group_id`,
    [tenantId, pgArray(ids), tenantId],
  );
  for (const row of rows) {
    const membership: GroupMembership = { value: row.group_id, display: row.display_name, type: row.direct ? 'direct' : 'indirect' };
    byId.get(row.member_id)?.groups.push(membership);
  }
}

/**
 * A User's row values as the statements bind them, in this order: userName, externalId, active, attributes (JSON),
 * extension schemas, password hash (null keeps the stored one on update).
 */
export function userRowValues(values: ResourceWrite): unknown[] {
  return [
    values.attributes.userName,
    values.externalId ?? null,
    values.attributes.active !== false,
    JSON.stringify(values.attributes),
    pgArray(values.extensionSchemas),
    values.passwordHash ?? null,
  ];
}

/** The statement that inserts a new User (`id`, version 1, created and modified `now`). */
export function userInsert(tenantId: string, id: string, values: ResourceWrite, now: Date, row = userRowValues(values)): WriteStatement {
  return {
    sql: `insert into scim_user (id, tenant_id, user_name, external_id, active, attributes, extension_schemas, password_hash, version, created_at, updated_at)
         values (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)`,
    params: [id, tenantId, ...row, now, now],
  };
}

/** The row's arguments of `meridian_create_user_in_tenant` (migration 20261211000000): what {@link userInsert} writes, but the tenant. */
export function userInsertArguments(id: string, now: Date, row: unknown[]): unknown[] {
  return [id, ...row, now];
}

/**
 * The update of a User row at the version it was read at (`expectedVersion`), answering `returning`: it touches no
 * row when the User changed or went since.
 */
export function userUpdate(
  tenantId: string,
  id: string,
  expectedVersion: number,
  values: ResourceWrite,
  now: Date,
  returning: string,
  row = userRowValues(values),
): WriteStatement {
  return {
    sql: `update scim_user set user_name = ?, external_id = ?, active = ?, attributes = ?, extension_schemas = ?,
                  password_hash = coalesce(?, password_hash), version = version + 1, updated_at = ?
            where tenant_id = ? and id = ? and version = ?
            returning ${returning}`,
    params: [...row, now, tenantId, id, expectedVersion],
  };
}

/** The row's arguments of `meridian_update_user_in_tenant` (migration 20261211000100): what {@link userUpdate} writes, but the tenant. */
export function userUpdateArguments(id: string, expectedVersion: number, now: Date, row: unknown[]): unknown[] {
  return [id, expectedVersion, ...row, now];
}

/**
 * The delete of a User row at the version it was read at, returning its id: it touches no row when the User changed
 * or went since. Its memberships go first, in the same statement (`first`), as {@link PostgresDirectoryTransaction.remove}
 * deletes them before the row: the member foreign keys would cascade, but only after the row's lock, which a
 * transaction replacing a group's members may be waiting for while holding those memberships (ADR 0018).
 */
export function userDelete(tenantId: string, id: string, expectedVersion: number): WriteStatement {
  return {
    first: { sql: 'delete from group_member where tenant_id = ? and member_id = ? returning 1', params: [tenantId, id] },
    sql: `delete from scim_user where tenant_id = ? and id = ? and version = ? and (select count(*) from m1) >= 0 returning id`,
    params: [tenantId, id, expectedVersion],
  };
}

/** A new User as {@link userInsert} writes it: nobody's member yet, so with no groups. */
export function newUser(tenantId: string, id: string, values: ResourceWrite, now: Date): ScimResource {
  return {
    id,
    tenantId,
    kind: 'User',
    externalId: values.externalId ?? undefined,
    attributes: values.attributes,
    extensionSchemas: [...values.extensionSchemas],
    members: [],
    groups: [],
    version: 1,
    created: now,
    lastModified: now,
  };
}

/**
 * The entity manager of a directory transaction this store opened, for a port that writes in the same transaction
 * (password forwarding). Any other transaction is a programming error.
 */
export async function entityManagerOf(tx: DirectoryTransaction): Promise<EntityManager> {
  if (tx instanceof DeferredDirectoryTransaction) return (await tx.opened()).em;
  if (!(tx instanceof PostgresDirectoryTransaction)) throw new TypeError('Not a transaction of the PostgreSQL directory store.');
  return tx.em;
}

export class PostgresDirectoryTransaction implements DirectoryTransaction {
  constructor(
    readonly em: EntityManager,
    private readonly tenantId: string,
    private readonly clock: Clock,
  ) {}

  async find(kind: ResourceKind, id: string, include: ResourceIncludes = ALL): Promise<ScimResource | undefined> {
    if (!isUuid(id)) return undefined;
    // NO KEY UPDATE: writers of this resource wait for each other, while a membership that references it (a foreign key
    // check takes KEY SHARE) does not; with FOR UPDATE, A += B and B += A at once would deadlock instead of one of them
    // being refused as a cycle. A delete still takes the full lock and waits for those memberships (ADR 0018).
    const [row] = await this.em.execute<ResourceRow[]>(
      `select * from ${TABLE[kind]} r where r.tenant_id = ? and r.id = ? for no key update`,
      [this.tenantId, id],
    );
    if (!row) return undefined;
    const resource = toResource(kind, row);
    await decorate(this.em, this.tenantId, kind, [resource], include);
    return resource;
  }

  async resolveMembers(ids: string[]): Promise<GroupMember[]> {
    const valid = ids.filter(isUuid);
    if (valid.length === 0) return [];
    const rows = await this.em.execute<{ id: string; type: 'User' | 'Group'; display: string }[]>(
      `select id, 'User' as type, coalesce(attributes ->> 'displayName', user_name) as display from scim_user where tenant_id = ? and id = any(?::uuid[])
       union all
       select id, 'Group' as type, display_name as display from scim_group where tenant_id = ? and id = any(?::uuid[])`,
      [this.tenantId, pgArray(valid), this.tenantId, pgArray(valid)],
    );
    return rows.map((r) => ({ value: r.id, type: r.type, display: r.display }));
  }

  async insert(kind: ResourceKind, values: ResourceWrite): Promise<ScimResource> {
    const id = uuidv7();
    const now = this.clock.now();
    if (kind === 'User') {
      const statement = userInsert(this.tenantId, id, values, now);
      await this.em.execute(statement.sql, statement.params);
    } else {
      await this.em.execute(
        `insert into scim_group (id, tenant_id, display_name, external_id, attributes, extension_schemas, version, created_at, updated_at)
         values (?, ?, ?, ?, ?, ?, 1, ?, ?)`,
        [
          id,
          this.tenantId,
          values.attributes.displayName,
          values.externalId ?? null,
          JSON.stringify(values.attributes),
          pgArray(values.extensionSchemas),
          now,
          now,
        ],
      );
      await this.writeMembers(id, values.members ?? [], now);
      // The members' display names come from their rows: read the new Group back.
      const created = await this.find(kind, id);
      if (!created) throw new TypeError('A resource inserted in this transaction must be readable.');
      return created;
    }
    return newUser(this.tenantId, id, values, now);
  }

  async update(kind: ResourceKind, id: string, expectedVersion: number, values: ResourceWrite): Promise<ScimResource> {
    const now = this.clock.now();
    const user =
      kind === 'User'
        ? userUpdate(
            this.tenantId,
            id,
            expectedVersion,
            values,
            now,
            'id, tenant_id, external_id, attributes, extension_schemas, version, created_at, updated_at, meridian_user_groups(tenant_id, id) as related',
          )
        : undefined;
    const rows = user
      ? await this.em.execute<ResourceRow[]>(user.sql, user.params)
      : await this.em.execute<ResourceRow[]>(
          `update scim_group set display_name = ?, external_id = ?, attributes = ?, extension_schemas = ?, version = version + 1, updated_at = ?
            where tenant_id = ? and id = ? and version = ?
            returning id, tenant_id, external_id, attributes, extension_schemas, version, created_at, updated_at`,
          [
            values.attributes.displayName,
            values.externalId ?? null,
            JSON.stringify(values.attributes),
            pgArray(values.extensionSchemas),
            now,
            this.tenantId,
            id,
            expectedVersion,
          ],
        );
    const [row] = rows;
    if (rows.length !== 1 || !row) throw new MeridianError('PRECONDITION_FAILED', `The ${kind} was changed concurrently.`);
    if (kind === 'Group' && values.members !== undefined) {
      await this.em.execute('delete from group_member where tenant_id = ? and group_id = ?', [this.tenantId, id]);
      await this.writeMembers(id, values.members, now);
    }
    // The row as written; a User with its groups (read in the same statement), a Group without its members.
    const updated = toResource(kind, row);
    if (kind === 'User') updated.groups = (row as ResourceRow & { related?: GroupMembership[] }).related ?? [];
    return updated;
  }

  async remove(kind: ResourceKind, id: string): Promise<void> {
    // A deleted resource is no longer anybody's member (RFC 7644 §3.6). The member foreign keys cascade, and also remove
    // a membership a concurrent transaction commits meanwhile; deleting the visible ones first, before the resource row
    // is locked, keeps such a transaction that is replacing a group's members from deadlocking with this one (ADR 0018).
    await this.em.execute('delete from group_member where tenant_id = ? and member_id = ?', [this.tenantId, id]);
    await this.em.execute(`delete from ${TABLE[kind]} where tenant_id = ? and id = ?`, [this.tenantId, id]);
  }

  async changeMembers(groupId: string, changes: MemberChange[]): Promise<MemberChangeResult> {
    const added: string[] = [];
    const removed: string[] = [];
    const now = this.clock.now();
    for (const change of changes) {
      switch (change.kind) {
        case 'removeAll':
          removed.push(...(await this.deleteMembers(groupId, { sql: 'true', params: [] })));
          break;
        case 'remove': {
          const ids = change.ids.filter(isUuid);
          if (ids.length > 0)
            removed.push(...(await this.deleteMembers(groupId, { sql: 'm.member_id = any(?::uuid[])', params: [pgArray(ids)] })));
          break;
        }
        case 'removeWhere':
          removed.push(...(await this.deleteMembers(groupId, memberFilterToSql(change.filter))));
          break;
        case 'add': {
          const members = await this.membersToAdd(groupId, change.ids);
          if (members.length === 0) break;
          added.push(...(await this.insertMembers(groupId, members, now)));
          break;
        }
      }
    }
    return { added, removed };
  }

  async valueTaken(
    kind: ResourceKind,
    keys: string[],
    value: string | number | boolean,
    caseExact: boolean,
    exceptId?: string,
  ): Promise<boolean> {
    const text = typeof value === 'string' && !caseExact ? value.toLowerCase() : String(value);
    await this.em.execute('select pg_advisory_xact_lock(hashtextextended(?, 11))', [
      `unique:${this.tenantId}:${kind}:${keys.join(':')}:${text}`,
    ]);
    const path = `'{${keys.map((k) => `"${k.replace(/["\\']/g, '')}"`).join(',')}}'`;
    const column = caseExact ? `(r.attributes #>> ${path})` : `lower(r.attributes #>> ${path})`;
    const [row] = await this.em.execute<{ taken: boolean }[]>(
      `select exists (select 1 from ${TABLE[kind]} r where r.tenant_id = ? and ${column} = ? and r.id <> ?::uuid) as taken`,
      [this.tenantId, text, exceptId ?? '00000000-0000-0000-0000-000000000000'],
    );
    return row?.taken === true;
  }

  /** Deletes the members of a group that match a condition on `group_member m`; returns their ids. */
  private async deleteMembers(groupId: string, where: SqlFragment): Promise<string[]> {
    const rows = await this.em.execute<{ member_id: string }[]>(
      `delete from group_member m where m.tenant_id = ? and m.group_id = ? and ${where.sql} returning m.member_id`,
      [this.tenantId, groupId, ...where.params],
    );
    return rows.map((r) => r.member_id);
  }

  /**
   * Checks members to add: they exist in the tenant, and a group is not its own member. Cycles through nested groups,
   * at any depth and under any interleaving, are refused by the database when the rows are inserted (ADR 0018).
   */
  private async membersToAdd(groupId: string, ids: string[]): Promise<GroupMember[]> {
    const unique = [...new Set(ids)];
    const found = await this.resolveMembers(unique);
    const known = new Set(found.map((m) => m.value));
    const missing = unique.find((id) => !known.has(id));
    if (missing !== undefined)
      throw new MeridianError('INVALID_INPUT', `Member '${missing}' does not exist in this tenant.`, { field: 'members' });
    if (found.some((m) => m.type === 'Group' && m.value === groupId)) {
      throw new MeridianError('INVALID_INPUT', 'A group cannot be a member of itself.', { field: 'members' });
    }
    return found;
  }

  record(event: DomainEvent, context: RequestContext): Promise<void> {
    return recordEvent(this.em, event, context, this.clock.now());
  }

  private async writeMembers(groupId: string, members: GroupMember[], now: Date): Promise<void> {
    if (members.length > 0) await this.insertMembers(groupId, members, now);
  }

  /**
   * Inserts membership rows, keeping those already there; returns the member ids inserted. The database refuses a
   * member that a concurrent transaction deleted (foreign key) and a group that would close a cycle (trigger): the
   * error carries the ids, for {@link PostgresDirectoryStore.transaction} to say which (ADR 0018).
   */
  private async insertMembers(groupId: string, members: GroupMember[], now: Date): Promise<string[]> {
    const ids = members.map((m) => m.value);
    try {
      const rows = await this.em.execute<{ member_id: string }[]>(
        `insert into group_member (group_id, member_id, tenant_id, member_type, created_at)
         select ?, m.id, ?, m.type, ? from unnest(?::uuid[], ?::text[]) as m(id, type)
         on conflict do nothing returning member_id`,
        [groupId, this.tenantId, now, pgArray(ids), pgArray(members.map((m) => m.type))],
      );
      return rows.map((r) => r.member_id);
    } catch (error) {
      throw new MemberWriteError(ids, { cause: error });
    }
  }
}

/** The PostgreSQL implementation of the core {@link DirectoryStore}. */
export class PostgresDirectoryStore implements DirectoryStore {
  private readonly reads: ScimReads;

  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
  ) {
    this.reads = new ScimReads(orm);
  }

  /**
   * Runs `work` in one transaction scoped to the tenant. The database transaction opens with the first statement
   * that needs it; a transaction that only creates a User and records its event is one prepared statement instead
   * (`meridian_create_user_in_tenant`, ADR 0022 and ADR 0040), with the same all-or-nothing effect.
   */
  async transaction<T>(tenantId: string, work: (tx: DirectoryTransaction) => Promise<T>): Promise<T> {
    // An update of a User starts from a read without a lock (ADR 0039); when the User changed before the work could
    // write, the work runs again from a new read, and the last time with the row locked from the start.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.attempt(tenantId, work, attempt < OPTIMISTIC_ATTEMPTS);
      } catch (error) {
        if (!(error instanceof StaleRead)) throw error;
      }
    }
  }

  private async attempt<T>(tenantId: string, work: (tx: DirectoryTransaction) => Promise<T>, optimistic: boolean): Promise<T> {
    const explain = (error: unknown) => this.explainMemberWrite(tenantId, error);
    let end: { commit: () => void; abort: (error: unknown) => void } | undefined;
    let finished: Promise<void> | undefined;
    const begin = () =>
      new Promise<PostgresDirectoryTransaction>((resolve, reject) => {
        finished = inTenant(
          this.orm,
          tenantId,
          (em) => {
            resolve(new PostgresDirectoryTransaction(em, tenantId, this.clock));
            return new Promise<void>((commit, abort) => {
              end = { commit, abort };
            });
          },
          { explain },
        );
        finished.catch(reject);
      });
    const readUser = async (id: string) => {
      const [row] = await this.reads.userForUpdate(tenantId, id);
      return row ? resourceOfRow('User', tenantId, row) : undefined;
    };
    const tx = new DeferredDirectoryTransaction(begin, tenantId, this.clock, optimistic ? readUser : undefined);
    let result: T;
    try {
      result = await work(tx);
    } catch (error) {
      if (error instanceof StaleRead) {
        end?.abort(error);
        await finished?.catch(() => undefined);
        throw error;
      }
      if (finished === undefined) throw translateDatabaseError(await explain(error));
      end?.abort(error);
      await finished; // rejects with the error, translated
      throw error;
    }
    if (finished !== undefined) {
      end?.commit();
      await finished;
      return result;
    }
    const single = tx.singleStatement();
    if (single !== undefined) {
      try {
        if (single.kind === 'create') await this.reads.createUser(tenantId, single.arguments);
        else if (single.kind === 'updateUser') await this.reads.updateUser(tenantId, single.arguments);
        else if (single.kind === 'update') await this.reads.update(tenantId, single.statement);
        else await this.reads.write(tenantId, single.statement);
      } catch (error) {
        if (error instanceof StaleRead) throw error;
        throw translateDatabaseError(await explain(error));
      }
    }
    return result;
  }

  /**
   * A refused membership insert, as a domain error: a cycle is named from the trigger's detail; a member deleted by a
   * concurrent transaction is found with a new read, since its key check failed only once that delete had committed.
   */
  private async explainMemberWrite(tenantId: string, error: unknown): Promise<unknown> {
    if (!(error instanceof MemberWriteError)) return translateCycleError(error);
    if (!isMissingMember(error.cause)) return translateCycleError(error.cause);
    const ids = pgArray(error.memberIds);
    const present = await this.read(tenantId, (em) =>
      em.execute<{ id: string }[]>(
        'select id from scim_user where tenant_id = ? and id = any(?::uuid[]) union all select id from scim_group where tenant_id = ? and id = any(?::uuid[])',
        [tenantId, ids, tenantId, ids],
      ),
    ).then(
      (rows) => new Set(rows.map((r) => r.id)),
      () => undefined,
    );
    return missingMember(present && error.memberIds.find((id) => !present.has(id)), error.cause);
  }

  /** Runs the statements of one read in one transaction scoped to the tenant (ADR 0010): the policies need the tenant set. */
  private read<T>(tenantId: string, work: (em: EntityManager) => Promise<T>): Promise<T> {
    return inTenant(this.orm, tenantId, work);
  }

  async get(tenantId: string, kind: ResourceKind, id: string, include: ResourceIncludes = ALL): Promise<ScimResource | undefined> {
    if (!isUuid(id)) return undefined;
    const related = kind === 'Group' ? include.members : include.groups;
    const rows =
      kind === 'User'
        ? await this.reads.userById(tenantId, id, related)
        : await this.reads.compose({ kind, tenantId, where: 'r.id = ?', params: [id], related });
    return rows[0] && resourceOfRow(kind, tenantId, rows[0]);
  }

  async getMany(tenantId: string, kind: ResourceKind, ids: readonly string[], include: ResourceIncludes = ALL): Promise<ScimResource[]> {
    const uuids = [...new Set(ids.filter(isUuid))];
    if (uuids.length === 0) return [];
    const related = kind === 'Group' ? include.members : include.groups;
    const rows = await this.reads.compose({ kind, tenantId, where: 'r.id = any(?::uuid[])', params: [pgArray(uuids)], related });
    return rows.map((row) => resourceOfRow(kind, tenantId, row));
  }

  async page(tenantId: string, kind: ResourceKind, page: PageRequest, filter?: Filter): Promise<Page<ScimResource>> {
    const where = filter ? filterToSql(kind, filter) : { sql: 'true', params: [] };
    const keyset = page.after === undefined ? undefined : decodeCursor(page.after);
    const rows = await this.reads.compose({
      kind,
      tenantId,
      where: keyset ? `${where.sql} and (r.created_at, r.id) > (?::timestamptz, ?::uuid)` : where.sql,
      params: keyset ? [...where.params, keyset.t, keyset.id] : where.params,
      limit: page.first + 1,
      related: true,
      // After a cursor the window would count only the rest (and read all of it): the total is counted apart below.
      total: keyset === undefined && page.withoutTotal !== true,
    });
    const items = rows.slice(0, page.first).map((row) => resourceOfRow(kind, tenantId, row));
    const cursors = items.map((r) => encodeCursor({ t: r.created.toISOString(), id: r.id }));
    // The window counts the rows after the cursor; the total is of the whole filter.
    const total =
      page.withoutTotal === true ? 0 : keyset || rows.length === 0 ? await this.count(tenantId, kind, where) : (totalOfRows(rows) ?? 0);
    return {
      items,
      cursors,
      totalCount: total,
      endCursor: cursors[cursors.length - 1] ?? null,
      hasNextPage: rows.length > page.first,
    };
  }

  async memberPage(tenantId: string, groupId: string, page: PageRequest, search?: string): Promise<Page<GroupMember> | undefined> {
    if (!isUuid(groupId)) return undefined;
    const after = page.after === undefined ? undefined : decodeMemberCursor(page.after);
    const rows = await this.reads.memberPage({ tenantId, groupId, first: page.first, after, search: search?.trim() || undefined });
    if (rows.length === 0) return undefined;
    // The statement leaves the order to the caller (no sort node): lowercase uuid text sorts as PostgreSQL sorts uuids.
    const present = rows.filter((row) => row.id !== null).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const items = present.slice(0, page.first).map((row): GroupMember => {
      const { type, display } = row.attributes as { type: GroupMember['type']; display?: string };
      return display === undefined ? { value: row.id, type } : { value: row.id, type, display };
    });
    const cursors = items.map((m) => encodeMemberCursor(m.value));
    return {
      items,
      cursors,
      totalCount: page.withoutTotal === true ? 0 : (totalOfRows(rows) ?? 0),
      endCursor: cursors[cursors.length - 1] ?? null,
      hasNextPage: present.length > page.first,
    };
  }

  /** How many resources match `where`. */
  private async count(tenantId: string, kind: ResourceKind, where: SqlFragment): Promise<number> {
    return totalOfRows(await this.reads.count(kind, tenantId, where.sql, where.params)) ?? 0;
  }

  list(tenantId: string, kind: ResourceKind, query: ResourceQuery): Promise<ResourcePage> {
    if (query.cursor === undefined) return this.listByIndex(tenantId, kind, query);
    return this.read(tenantId, (em) => this.listByCursor(em, tenantId, kind, query));
  }

  /** Index paging (RFC 7644 §3.4.2.4) in one statement: the page, the filter's total, the related resources (ADR 0022). */
  private async listByIndex(tenantId: string, kind: ResourceKind, query: ResourceQuery): Promise<ResourcePage> {
    const shape = query.shape ?? resourceShapes[kind];
    const where = query.filter ? filterToSql(kind, query.filter, shape) : { sql: 'true', params: [] };
    if (query.count === 0) return { totalResults: await this.count(tenantId, kind, where), resources: [] };
    const related = (kind === 'Group' ? query.include?.members : query.include?.groups) ?? true;
    const offset = query.startIndex - 1;
    const userName = kind === 'User' && !query.sortBy ? userNameEquals(query.filter) : undefined;
    const rows =
      userName !== undefined
        ? await this.reads.usersByUserName(tenantId, userName, query.count, offset, related)
        : await this.reads.compose({
            kind,
            tenantId,
            where: where.sql,
            params: where.params,
            ...(query.sortBy ? { sortExpr: sortToSql(kind, query.sortBy, shape).expr } : {}),
            descending: query.sortOrder === 'descending',
            limit: query.count,
            offset,
            related,
          });
    // A page past the end has no row to carry the total: count apart (rare: clients page up to the total).
    const total = totalOfRows(rows) ?? (offset > 0 ? await this.count(tenantId, kind, where) : 0);
    return { totalResults: total, resources: rows.map((row) => resourceOfRow(kind, tenantId, row)) };
  }

  /** Cursor paging (RFC 9865), in one transaction. */
  private async listByCursor(em: EntityManager, tenantId: string, kind: ResourceKind, query: ResourceQuery): Promise<ResourcePage> {
    const shape = query.shape ?? resourceShapes[kind];
    const where = query.filter ? filterToSql(kind, query.filter, shape) : { sql: 'true', params: [] };
    const [count] = await em.execute<{ total: string }[]>(
      `select count(*) as total from ${TABLE[kind]} r where r.tenant_id = ? and ${where.sql}`,
      [tenantId, ...where.params],
    );
    const total = Number(count?.total ?? 0);
    if (query.count === 0) return { totalResults: total, resources: [] };
    // Stable order: the sort key, then the id, so that equal keys never swap between pages (RFC 7644 §3.4.2.4).
    const sortExpr = query.sortBy ? sortToSql(kind, query.sortBy, shape).expr : 'r.created_at';
    const descending = query.sortOrder === 'descending';
    const direction = descending ? 'desc' : 'asc';
    const orderBy = `order by ${sortExpr} ${direction} nulls last, r.id ${direction}`;
    const select = `select r.*, (${sortExpr})::text as sort_key from ${TABLE[kind]} r where r.tenant_id = ? and ${where.sql}`;
    const sortName = query.sortBy ? formatPath(query.sortBy).toLowerCase() : '';
    const after = query.cursor ? decodeListCursor(query.cursor, sortName, direction) : undefined;
    const keyset = after === undefined ? { sql: 'true', params: [] as unknown[] } : keysetAfter(sortExpr, descending ? '<' : '>', after);
    let rows: (ResourceRow & { sort_key: string | null })[];
    try {
      rows = await em.execute(`${select} and ${keyset.sql} ${orderBy} limit ?`, [
        tenantId,
        ...where.params,
        ...keyset.params,
        query.count + 1,
      ]);
    } catch (error) {
      // RFC 9865 §6: a key that is not of the sorted type comes from a cursor we did not issue, not from a bad request value.
      // The failed statement aborted this transaction: the probe runs in one of its own.
      if (after?.v != null && !(await keyFits(this.orm, tenantId, kind, sortExpr, after.v))) {
        throw new MeridianError('INVALID_CURSOR', 'The cursor is not valid for this query.', { field: 'cursor', cause: error });
      }
      throw error;
    }
    const more = rows.length > query.count;
    rows = rows.slice(0, query.count);
    const cursors = rows.map((row) => encodeListCursor({ v: row.sort_key, id: row.id, s: sortName, d: direction }));
    const resources = rows.map((row) => toResource(kind, row));
    await decorate(em, tenantId, kind, resources, query.include);
    const next = more ? cursors[cursors.length - 1] : undefined;
    return { totalResults: total, resources, cursors, ...(next !== undefined ? { nextCursor: next } : {}) };
  }
}

/** The userName of `userName eq "…"` (the look-up Entra ID and Okta send before each provisioning step), for its prepared read. */
function userNameEquals(filter: Filter | undefined): string | undefined {
  if (filter?.op !== 'eq' || typeof filter.value !== 'string') return undefined;
  const { path } = filter;
  if (path.subAttribute !== undefined || path.attribute.toLowerCase() !== 'username') return undefined;
  return path.schema === undefined || path.schema.toLowerCase() === SCHEMA.user.toLowerCase() ? filter.value : undefined;
}
