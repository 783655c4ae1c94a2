import { type Filter, MeridianError, type PeopleQuery, type PeopleRelated, type PeopleSortField, SCHEMA } from '@meridian/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { ACCOUNT_SELECT, type AccountRow, PERSON_SELECT, type PersonRow, toAccount, toPerson } from './directory-rows.js';

/** A person column the filters and sorts may use, and how it compares. */
interface PersonColumn {
  sql: string;
  /** `key`: a column that holds the lower-cased value already (indexed for names): compared without lower(). */
  kind: 'text' | 'key' | 'exact' | 'boolean' | 'time' | 'uuid';
}

const text = (sql: string): PersonColumn => ({ sql, kind: 'text' });
const key = (sql: string): PersonColumn => ({ sql, kind: 'key' });

/**
 * SCIM attribute paths of a person (docs/global-directory.md), keyed by the
 * lower-cased `attribute[.subAttribute]`; enterprise-extension paths may carry
 * their URN. Text compares case-insensitively, identifiers exactly.
 */
const COLUMNS: Record<string, PersonColumn> = {
  id: { sql: 'p.id', kind: 'uuid' },
  displayname: key('p.display_name_key'),
  'name.givenname': text('p.given_name'),
  givenname: text('p.given_name'),
  'name.familyname': key('p.family_name_key'),
  familyname: key('p.family_name_key'),
  emails: key('p.email'),
  'emails.value': key('p.email'),
  email: key('p.email'),
  phonenumbers: text('p.phone_number'),
  'phonenumbers.value': text('p.phone_number'),
  phonenumber: text('p.phone_number'),
  title: text('p.title'),
  department: text('p.department'),
  organization: text('p.organization'),
  division: text('p.division'),
  costcenter: text('p.cost_center'),
  employeenumber: { sql: 'p.employee_number', kind: 'exact' },
  active: { sql: 'p.active', kind: 'boolean' },
  'meta.created': { sql: 'p.created_at', kind: 'time' },
  'meta.lastmodified': { sql: 'p.updated_at', kind: 'time' },
};

function columnOf(path: { schema?: string; attribute: string; subAttribute?: string }): PersonColumn {
  if (path.schema !== undefined && path.schema !== SCHEMA.enterpriseUser && path.schema !== SCHEMA.user) {
    throw new MeridianError('INVALID_FILTER', `People have no attributes of schema '${path.schema}'.`, { field: 'filter' });
  }
  const key = (path.subAttribute ? `${path.attribute}.${path.subAttribute}` : path.attribute).toLowerCase();
  const column = COLUMNS[key];
  if (!column) {
    throw new MeridianError(
      'INVALID_FILTER',
      `People cannot be filtered by '${key}'. Filterable: displayName, name.givenName, name.familyName, emails, phoneNumbers, title, department, organization, division, costCenter, employeeNumber, active, id, meta.created, meta.lastModified.`,
      { field: 'filter' },
    );
  }
  return column;
}

const LIKE_ESCAPE = /[\\%_]/g;
const escapeLike = (value: string) => value.replace(LIKE_ESCAPE, (c) => `\\${c}`);

/** Appends the SQL of a SCIM filter over `person p` to `params`. */
export function personFilterSql(filter: Filter, params: unknown[]): string {
  switch (filter.op) {
    case 'and':
    case 'or':
      return `(${personFilterSql(filter.left, params)} ${filter.op} ${personFilterSql(filter.right, params)})`;
    case 'not':
      return `(not coalesce(${personFilterSql(filter.filter, params)}, false))`;
    case 'valuePath':
      throw new MeridianError('INVALID_FILTER', 'People have single-valued attributes: value filters ([...]) do not apply.', {
        field: 'filter',
      });
    case 'pr': {
      const column = columnOf(filter.path);
      return column.kind === 'text' || column.kind === 'key' || column.kind === 'exact'
        ? `(${column.sql} is not null and ${column.sql} <> '')`
        : `(${column.sql} is not null)`;
    }
    default: {
      const column = columnOf(filter.path);
      const { op, value } = filter;
      if (value === null) {
        if (op === 'eq') return `(${column.sql} is null)`;
        if (op === 'ne') return `(${column.sql} is not null)`;
        throw new MeridianError('INVALID_FILTER', `'${op}' cannot compare with null.`, { field: 'filter' });
      }
      if (column.kind === 'boolean') {
        if (typeof value !== 'boolean' || (op !== 'eq' && op !== 'ne')) {
          throw new MeridianError('INVALID_FILTER', "'active' compares with eq or ne and true or false.", { field: 'filter' });
        }
        params.push(value);
        return `(${column.sql} ${op === 'eq' ? '=' : '<>'} ?)`;
      }
      if (typeof value !== 'string') {
        throw new MeridianError('INVALID_FILTER', `Compare '${filter.path.attribute}' with a string.`, { field: 'filter' });
      }
      if (column.kind === 'uuid') {
        if (op !== 'eq' && op !== 'ne') throw new MeridianError('INVALID_FILTER', "'id' compares with eq or ne.", { field: 'filter' });
        if (!/^[0-9a-f-]{36}$/i.test(value)) return op === 'eq' ? '(false)' : '(true)';
        params.push(value);
        return `(${column.sql} ${op === 'eq' ? '=' : '<>'} ?::uuid)`;
      }
      if (column.kind === 'time') {
        if (Number.isNaN(Date.parse(value))) {
          throw new MeridianError('INVALID_FILTER', `'${value}' is not a date-time.`, { field: 'filter' });
        }
        const sqlOp = { eq: '=', ne: '<>', gt: '>', ge: '>=', lt: '<', le: '<=' }[op as 'eq'];
        if (sqlOp === undefined) throw new MeridianError('INVALID_FILTER', `'${op}' does not apply to a date-time.`, { field: 'filter' });
        params.push(new Date(value));
        return `(${column.sql} ${sqlOp} ?)`;
      }
      const lhs = column.kind === 'text' ? `lower(${column.sql})` : column.sql;
      const v = column.kind === 'text' || column.kind === 'key' ? value.toLowerCase() : value;
      switch (op) {
        case 'eq':
          params.push(v);
          return `(${lhs} = ?)`;
        case 'ne':
          params.push(v);
          return `(${lhs} is distinct from ?)`;
        case 'co':
          params.push(`%${escapeLike(v)}%`);
          return `(${lhs} like ?)`;
        case 'sw':
          params.push(`${escapeLike(v)}%`);
          return `(${lhs} like ?)`;
        case 'ew':
          params.push(`%${escapeLike(v)}`);
          return `(${lhs} like ?)`;
        default:
          params.push(v);
          return `(${lhs} ${{ gt: '>', ge: '>=', lt: '<', le: '<=' }[op]} ?)`;
      }
    }
  }
}

/** The sort column of each sort field (the indexed key for names). */
export const SORT_COLUMNS: Record<PeopleSortField, { sql: string; time: boolean }> = {
  displayName: { sql: 'p.display_name_key', time: false },
  familyName: { sql: 'p.family_name_key', time: false },
  employeeNumber: { sql: "coalesce(p.employee_number, '')", time: false },
  createdAt: { sql: 'p.created_at', time: true },
  updatedAt: { sql: 'p.updated_at', time: true },
};

/** The position after which a page starts, bound to its sort. */
interface PeopleCursor {
  s: PeopleSortField;
  d: boolean;
  k: string;
  id: string;
}

export function encodePeopleCursor(cursor: PeopleCursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

/** Decodes a cursor made for the same sort; INVALID_CURSOR otherwise. */
export function decodePeopleCursor(text: string, query: Pick<PeopleQuery, 'sortBy' | 'descending'>): PeopleCursor {
  let value: Partial<PeopleCursor> | undefined;
  try {
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Partial<PeopleCursor>;
  } catch {
    value = undefined;
  }
  if (
    !value ||
    typeof value.k !== 'string' ||
    typeof value.id !== 'string' ||
    !/^[0-9a-f-]{36}$/i.test(value.id) ||
    typeof value.s !== 'string' ||
    !(value.s in SORT_COLUMNS)
  ) {
    throw new MeridianError('INVALID_CURSOR', 'The cursor is not valid.', { field: 'after' });
  }
  if (value.s !== query.sortBy || Boolean(value.d) !== query.descending) {
    throw new MeridianError('INVALID_CURSOR', 'The cursor belongs to another sort order.', { field: 'after' });
  }
  return value as PeopleCursor;
}

/**
 * A page of people (`page`: the page's select, its `?` parameters in
 * `params`) and what it shows, in one statement: the accounts of its
 * people with their offices, their groups, their managers, as `include`
 * asks, and the count when `count` is given (a scalar subquery). The parts come
 * back as JSON arrays in one row, each in the order the separate reads
 * gave (`order`: the page's order over its columns); times come back as
 * text and are turned into dates here.
 */
export async function pageWithRelated(
  em: EntityManager,
  communityId: string,
  page: string,
  params: readonly unknown[],
  order: string,
  include: NonNullable<PeopleQuery['include']>,
  time: boolean,
  count?: { sql: string; params: readonly unknown[] },
): Promise<{ rows: PersonRow[]; related: PeopleRelated; total: number | undefined }> {
  const parts = [`(select json_agg(page order by ${order}) from page) as people`];
  const ctes = [`page as (${page})`];
  const extra: unknown[] = [];
  if (include.accounts || include.groups) {
    ctes.push(`a as (select ${ACCOUNT_SELECT} from page join directory_account a on a.person_id = page.id where a.community_id = ?)`);
    extra.push(communityId);
    parts.push('(select json_agg(a order by a.linked_at, a.user_id) from a) as accounts');
    // The offices of those accounts (the community scope reads its own tenants): no read of its own per request.
    parts.push(`(select json_agg(t) from (select t.id, t.slug, t.name, t.community_id, t.created_at from tenant t
        where t.community_id = ? and t.id in (select a.tenant_id from a)) t) as tenants`);
    extra.push(communityId);
  }
  if (include.groups) {
    parts.push(`(select json_agg(g order by g.display_name, g.group_id) from (
        select g.tenant_id, g.user_id, g.group_id, g.display_name from a
        join directory_account_group g on g.tenant_id = a.tenant_id and g.user_id = a.user_id where g.community_id = ?) g) as groups`);
    extra.push(communityId);
  }
  if (include.managers) {
    parts.push(`(select json_agg(m) from (
        select ${PERSON_SELECT} from person p where p.community_id = ? and p.id in (select manager_person_id from page)) m) as managers`);
    extra.push(communityId);
  }
  if (count) {
    parts.push(`(${count.sql}) as total`);
    extra.push(...count.params);
  }
  const [row] = await em.execute<
    {
      people: PersonRow[] | null;
      accounts?: AccountRow[] | null;
      tenants?: TenantRow[] | null;
      groups?: GroupRow[] | null;
      managers?: PersonRow[] | null;
      total?: string | number | null;
    }[]
  >(`with ${ctes.join(', ')} select ${parts.join(', ')}`, [...params, ...extra]);
  const rows = (row?.people ?? []).map((p) => (time && typeof p.sort_key === 'string' ? { ...p, sort_key: new Date(p.sort_key) } : p));
  const related: PeopleRelated = {};
  if (include.accounts || include.groups) {
    related.accounts = (row?.accounts ?? []).map(toAccount);
    related.tenants = (row?.tenants ?? []).map((t) => ({
      id: t.id,
      slug: t.slug,
      name: t.name,
      communityId: t.community_id,
      createdAt: new Date(t.created_at),
    }));
  }
  if (include.groups) {
    related.groups = (row?.groups ?? []).map((g) => ({
      tenantId: g.tenant_id,
      userId: g.user_id,
      groupId: g.group_id,
      displayName: g.display_name,
    }));
  }
  if (include.managers) related.managers = (row?.managers ?? []).map(toPerson);
  return { rows, related, total: count ? Number(row?.total ?? 0) : undefined };
}

interface TenantRow {
  id: string;
  slug: string;
  name: string;
  community_id: string;
  /** JSON's text of the timestamp. */
  created_at: string;
}

interface GroupRow {
  tenant_id: string;
  user_id: string;
  group_id: string;
  display_name: string;
}
