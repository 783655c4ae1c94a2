import {
  type GroupMember,
  type GroupMembership,
  type JsonObject,
  MeridianError,
  type ResourceKind,
  type ScimResource,
} from '@meridian/core';
import type { MikroORM, PostgreSqlConnection } from '@mikro-orm/postgresql';
import { translateDatabaseError } from '../orm/database-errors.js';
import { routed } from '../orm/read-replica.js';
import { isStaleWrite, StaleRead } from './stale-read.js';

// SCIM reads in one round trip (ADR 0022): one statement that sets the tenant
// and reads the page, its total and the related resources, through the
// functions of migration 20261207630000. The store's transactions (writes, the
// cursor pages) keep going through MikroORM; these reads use the same pool, or
// the read replica's when the request only reads (ADR 0031). The one-statement
// create never leaves the primary.

/** A row of the read functions: the resource, its sort key as text, the filter's total and the related resources as JSON. */
export interface ReadRow {
  id: string;
  external_id: string | null;
  attributes: JsonObject;
  extension_schemas: string[] | null;
  version: number;
  created_at: Date | string;
  updated_at: Date | string;
  sort_key: string | null;
  total: string | number;
  related: unknown[] | null;
}

const TABLE: Record<ResourceKind, string> = { User: 'scim_user', Group: 'scim_group' };
const FUNCTION: Record<ResourceKind, string> = { User: 'meridian_read_users', Group: 'meridian_read_groups' };

/** The call of migration 20261211000100's function: the tenant, the row at the version read (9), the outbox event (7), the audit entry (16). */
const UPDATE_USER_CALL = `select meridian_update_user_in_tenant($1::uuid,
  $2::uuid, $3::integer, $4::text, $5::text, $6::boolean, $7::jsonb, $8::text[], $9::text, $10::timestamptz,
  $11::text, $12::text, $13::text, $14::integer, $15::text, $16::timestamptz, $17::jsonb,
  $18::text, $19::uuid, $20::text, $21::text, $22::text, $23::text, $24::text, $25::text, $26::text, $27::jsonb,
  $28::timestamptz, $29::text, $30::text, $31::text, $32::bigint, $33::text)`;

/** The call of migration 20261211000000's function: the tenant, the row (8), the outbox event (7), the audit entry (16). */
const CREATE_USER_CALL = `select meridian_create_user_in_tenant($1::uuid,
  $2::uuid, $3::text, $4::text, $5::boolean, $6::jsonb, $7::text[], $8::text, $9::timestamptz,
  $10::text, $11::text, $12::text, $13::integer, $14::text, $15::timestamptz, $16::jsonb,
  $17::text, $18::uuid, $19::text, $20::text, $21::text, $22::text, $23::text, $24::text, $25::text, $26::jsonb,
  $27::timestamptz, $28::text, $29::text, $30::text, $31::bigint, $32::text)`;

/** The JSON of a Group's members, in the order they were added, as the related column of a Group row `p`. */
const MEMBERS_JSON = `(select coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object('value', m.member_id, 'type', m.member_type,
      'display', coalesce(u.attributes ->> 'displayName', u.user_name, g.display_name))) order by m.created_at, m.member_id), '[]'::jsonb)
    from group_member m
    left join scim_user u on m.member_type = 'User' and u.id = m.member_id
    left join scim_group g on m.member_type = 'Group' and g.id = m.member_id
   where m.tenant_id = p.tenant_id and m.group_id = p.id)`;

/** The related column of a row `p`: a User's groups, a Group's members, or null when not asked for. */
function relatedColumn(kind: ResourceKind, include: boolean): string {
  if (!include) return 'null::jsonb';
  return kind === 'User' ? 'meridian_user_groups(p.tenant_id, p.id)' : MEMBERS_JSON;
}

/** What a composed read selects: the rows of `from` that match, sorted and cut to a page. */
export interface ReadQuery {
  kind: ResourceKind;
  tenantId: string;
  /** The condition on `r` (the resource table), with `?` placeholders. */
  where: string;
  params: unknown[];
  /** The sort expression on `r`; `r.created_at` when absent. */
  sortExpr?: string;
  descending?: boolean;
  limit?: number;
  offset?: number;
  /** Loads a User's groups or a Group's members. */
  related: boolean;
  /**
   * Counts the filter's rows in each row's `total` (the default). Without it `total` is null and PostgreSQL stops
   * at the page's last row: the window has to read every row that matches, which on a keyset page deep into a large
   * tenant is all the rest of it, at every page.
   */
  total?: boolean;
}

/**
 * The statement of a composed read, for `meridian_read_users` / `meridian_read_groups`: the page in an inner
 * query (sorted by the key, then the id, so equal keys never swap between pages, RFC 7644 §3.4.2.4), the total
 * of the filter from a window over the same rows, the related resources per row of the page.
 */
function composeRead(query: ReadQuery): { sql: string; params: unknown[] } {
  const sortExpr = query.sortExpr ?? 'r.created_at';
  const direction = query.descending ? 'desc' : 'asc';
  const cut = `${query.limit !== undefined ? `limit ${Math.trunc(query.limit)}` : ''} ${query.offset ? `offset ${Math.trunc(query.offset)}` : ''}`;
  const sql = `select p.id, p.external_id, p.attributes, p.extension_schemas, p.version, p.created_at, p.updated_at, p.sort_key, p.total,
         ${relatedColumn(query.kind, query.related)}
    from (select r.*, (${sortExpr}) as sort_value, (${sortExpr})::text as sort_key, ${query.total === false ? 'null::bigint' : 'count(*) over ()'} as total
            from ${TABLE[query.kind]} r
           where r.tenant_id = ? and ${query.where}
           order by (${sortExpr}) ${direction} nulls last, r.id ${direction} ${cut}) p
   order by p.sort_value ${direction} nulls last, p.id ${direction}`;
  return { sql, params: [query.tenantId, ...query.params] };
}

/** A member page's position: the id of its last member (the members are ordered by id). */
interface MemberCursor {
  m: string;
}

const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The cursor after a member of a member page. */
export function encodeMemberCursor(memberId: string): string {
  return Buffer.from(JSON.stringify({ m: memberId } satisfies MemberCursor)).toString('base64url');
}

/** The member id a member-page cursor holds; INVALID_CURSOR (on `after`) when it is not one the hub issued. */
export function decodeMemberCursor(text: string): string {
  let value: Partial<MemberCursor> | undefined;
  try {
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Partial<MemberCursor>;
  } catch {
    value = undefined;
  }
  if (typeof value?.m !== 'string' || !UUID_TEXT.test(value.m)) {
    throw new MeridianError('INVALID_CURSOR', 'The cursor is not valid for this query.', { field: 'after' });
  }
  return value.m;
}

/** `text` as a LIKE pattern that matches it anywhere, its wildcards taken literally. */
function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** What a member page reads: one group's direct members after `after` (a member id), those matching `search` only. */
export interface MemberPageQuery {
  tenantId: string;
  groupId: string;
  /** The page size; the statement reads one more to tell whether a next page follows. */
  first: number;
  after?: string | undefined;
  search?: string | undefined;
}

/**
 * The statement of a member page, in the row shape of the read functions: one row per member (`id` the member's,
 * `attributes` its type and display name, `sort_key` its id, `total` the members that match), or one row with a null
 * `id` when the group has no member on this page; no row when the tenant has no such group. The page walks the
 * primary key `(group_id, member_id)` from the cursor and stops after `first + 1` rows: its cost does not grow with
 * the group or with the depth of the page (ADR 0008), and nothing is sorted (the caller puts the page's rows in id
 * order). The total counts the group's entries of the same index.
 */
export function memberPageStatement(query: MemberPageQuery): { sql: string; params: unknown[] } {
  const joins = `left join scim_user u on u.id = m.member_user_id
                 left join scim_group g on g.id = m.member_group_id`;
  const pattern = query.search ? containsPattern(query.search) : undefined;
  const search =
    pattern === undefined
      ? { sql: '', params: [] as unknown[] }
      : {
          sql: "and (u.user_name ilike ? or (u.attributes ->> 'displayName') ilike ? or g.display_name ilike ?)",
          params: [pattern, pattern, pattern],
        };
  const after =
    query.after === undefined ? { sql: '', params: [] as unknown[] } : { sql: 'and m.member_id > ?::uuid', params: [query.after] };
  // The group's id and tenant are given as values, not taken from the group row, so that the planner knows which group
  // it reads: it walks the primary key (group_id, member_id) from the cursor.
  const member = { sql: 'm.tenant_id = ?::uuid and m.group_id = ?::uuid', params: [query.tenantId, query.groupId] };
  const sql = `select x.member_id, null::text, x.attributes, null::text[], null::integer, null::timestamptz, null::timestamptz,
                      x.member_id::text, t.total, null::jsonb
    from scim_group grp
    cross join (select count(*) as total from group_member m ${pattern === undefined ? '' : joins}
                 where ${member.sql} ${search.sql}) t
    left join (select m.member_id,
                      jsonb_strip_nulls(jsonb_build_object('type', m.member_type,
                        'display', coalesce(u.attributes ->> 'displayName', u.user_name, g.display_name))) as attributes
                 from group_member m ${joins}
                where ${member.sql} ${after.sql} ${search.sql}
                order by m.member_id
                limit ${Math.trunc(query.first) + 1}) x on true
   where grp.tenant_id = ?::uuid and grp.id = ?::uuid`;
  return {
    sql,
    params: [...member.params, ...search.params, ...member.params, ...after.params, ...search.params, query.tenantId, query.groupId],
  };
}

/** What the store asks of the ORM's `pg` pool (typed here: MikroORM may bring another version of `pg`'s types). */
interface StatementPool {
  query<R>(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: R[] }>;
}

/** One prepared read of a fixed shape: a read function of migration 20261207630000 and its arguments. */
interface PreparedRead {
  name: string;
  text: string;
  values: unknown[];
}

/** The prepared read of a User by id (`meridian_user_by_id`), with its groups when asked. */
function userByIdRead(tenantId: string, id: string, groups: boolean): PreparedRead {
  return {
    name: 'meridian_user_by_id',
    text: 'select * from meridian_user_by_id($1::uuid, $2::uuid, $3::boolean)',
    values: [tenantId, id, groups],
  };
}

/** Runs the store's one-statement reads (and the one-statement create) on the ORM's pool, through the store's error boundary. */
export class ScimReads {
  /** The `pg` pool of each ORM a read went to: the primary's, and the replica's when there is one. */
  private readonly pools = new WeakMap<MikroORM, Promise<StatementPool>>();

  constructor(private readonly orm: MikroORM) {}

  /** A composed read (any filter, sort and page): one statement, planned by PostgreSQL at each call. */
  compose(query: ReadQuery): Promise<ReadRow[]> {
    const { sql, params } = composeRead(query);
    const text = this.orm.em.getPlatform().formatQuery(sql, params);
    return this.run({
      name: FUNCTION[query.kind],
      text: `select * from ${FUNCTION[query.kind]}($1::uuid, $2::text)`,
      values: [query.tenantId, text],
    });
  }

  /**
   * How many rows of the tenant's `kind` match `where`, as one row of the read function's shape whose `total` is
   * the count: a plain `count(*)`, which reads the index only, where a window over the rows would carry each row.
   */
  count(kind: ResourceKind, tenantId: string, where: string, params: unknown[]): Promise<ReadRow[]> {
    const sql = `select null::uuid, null::text, null::jsonb, null::text[], null::integer, null::timestamptz, null::timestamptz,
                        null::text, count(*), null::jsonb
                   from ${TABLE[kind]} r where r.tenant_id = ? and ${where}`;
    const text = this.orm.em.getPlatform().formatQuery(sql, [tenantId, ...params]);
    return this.run({ name: FUNCTION[kind], text: `select * from ${FUNCTION[kind]}($1::uuid, $2::text)`, values: [tenantId, text] });
  }

  /** A page of one group's members (see {@link memberPageStatement}): one statement in the tenant. */
  memberPage(query: MemberPageQuery): Promise<ReadRow[]> {
    const { sql, params } = memberPageStatement(query);
    const text = this.orm.em.getPlatform().formatQuery(sql, params);
    return this.run({ name: FUNCTION.Group, text: `select * from ${FUNCTION.Group}($1::uuid, $2::text)`, values: [query.tenantId, text] });
  }

  /** A User by id, with its groups when asked: one prepared statement. */
  userById(tenantId: string, id: string, groups: boolean): Promise<ReadRow[]> {
    return this.run(userByIdRead(tenantId, id, groups));
  }

  /** The page of Users whose userName equals `userName` (case-insensitive), with their groups when asked: one prepared statement. */
  usersByUserName(tenantId: string, userName: string, count: number, offset: number, groups: boolean): Promise<ReadRow[]> {
    return this.run({
      name: 'meridian_users_by_user_name',
      text: 'select * from meridian_users_by_user_name($1::uuid, $2::text, $3::integer, $4::integer, $5::boolean)',
      values: [tenantId, userName, count, offset, groups],
    });
  }

  /** A User by id with its groups, read on the primary (never the replica): the read an update starts from (ADR 0039). */
  userForUpdate(tenantId: string, id: string): Promise<ReadRow[]> {
    return this.run(userByIdRead(tenantId, id, true), { write: true });
  }

  /**
   * The update of a row read without a lock, with its event, as one statement (`meridian_update_in_tenant`, its own
   * transaction): PostgreSQL undoes all of it, with SQLSTATE `MRD01`, when the update touched no row.
   */
  async update(tenantId: string, statement: { sql: string; params: unknown[] }): Promise<void> {
    const text = this.orm.em.getPlatform().formatQuery(statement.sql, statement.params);
    try {
      await this.run(
        { name: 'meridian_update_in_tenant', text: 'select meridian_update_in_tenant($1::uuid, $2::text)', values: [tenantId, text] },
        { write: true },
      );
    } catch (error) {
      throw isStaleWrite(error) ? new StaleRead({ cause: error }) : error;
    }
  }

  /**
   * A new User with its outbox event and audit entry: one prepared call of `meridian_create_user_in_tenant` (its own
   * transaction), whose statements PostgreSQL planned once for the session (ADR 0040). `args` are the row's and the
   * event's ({@link userInsertArguments}, {@link changeArguments}), after the tenant.
   */
  async createUser(tenantId: string, args: unknown[]): Promise<void> {
    await this.run({ name: 'meridian_create_user_in_tenant', text: CREATE_USER_CALL, values: [tenantId, ...args] }, { write: true });
  }

  /**
   * A User's update at the version read, with its outbox event and audit entry: one prepared call of
   * `meridian_update_user_in_tenant` (its own transaction; ADR 0039, ADR 0040). {@link StaleRead} when the User changed
   * or went since that read: the call then wrote nothing.
   */
  async updateUser(tenantId: string, args: unknown[]): Promise<void> {
    try {
      await this.run({ name: 'meridian_update_user_in_tenant', text: UPDATE_USER_CALL, values: [tenantId, ...args] }, { write: true });
    } catch (error) {
      throw isStaleWrite(error) ? new StaleRead({ cause: error }) : error;
    }
  }

  /** A write that needs nothing read first, as one statement in the tenant (`meridian_write_in_tenant`, its own transaction). */
  async write(tenantId: string, statement: { sql: string; params: unknown[] }): Promise<void> {
    const text = this.orm.em.getPlatform().formatQuery(statement.sql, statement.params);
    await this.run(
      {
        name: 'meridian_write_in_tenant',
        text: 'select meridian_write_in_tenant($1::uuid, $2::text)',
        values: [tenantId, text],
      },
      { write: true },
    );
  }

  private async run(read: PreparedRead, options: { write?: boolean } = {}): Promise<ReadRow[]> {
    const query = async (orm: MikroORM) => (await this.poolOf(orm)).query<ReadRow>(read);
    try {
      const result = await (options.write ? query(this.orm) : routed(this.orm, query));
      return result.rows;
    } catch (error) {
      throw translateDatabaseError(error);
    }
  }

  private poolOf(orm: MikroORM): Promise<StatementPool> {
    let pool = this.pools.get(orm);
    if (!pool) {
      pool = (orm.em.getConnection() as PostgreSqlConnection).getNativeClient() as Promise<StatementPool>;
      // A pool that could not be had (the replica away) is asked again next time.
      pool.catch(() => this.pools.delete(orm));
      this.pools.set(orm, pool);
    }
    return pool;
  }
}

/** A resource of a read row; its related resources when the row carries them. */
export function resourceOfRow(kind: ResourceKind, tenantId: string, row: ReadRow): ScimResource {
  const related = row.related ?? [];
  return {
    id: row.id,
    tenantId,
    kind,
    externalId: row.external_id ?? undefined,
    attributes: row.attributes,
    extensionSchemas: row.extension_schemas ?? [],
    members: kind === 'Group' ? (related as GroupMember[]) : [],
    groups: kind === 'User' ? (related as GroupMembership[]) : [],
    version: row.version,
    created: new Date(row.created_at),
    lastModified: new Date(row.updated_at),
  };
}

/** The total of a read's filter, from its first row; undefined when the page is empty (the total is then not known from it). */
export function totalOfRows(rows: readonly ReadRow[]): number | undefined {
  return rows.length === 0 ? undefined : Number(rows[0]?.total);
}
