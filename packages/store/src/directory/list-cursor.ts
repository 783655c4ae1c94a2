import { MeridianError, type ResourceKind } from '@meridian/core';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { SqlFragment } from '../filter/to-sql.js';
import { inTenant } from '../orm/unit-of-work.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TABLE: Record<ResourceKind, string> = { User: 'scim_user', Group: 'scim_group' };

// The cursors of sorted SCIM listings (RFC 9865): what a cursor holds, how it is checked, and the keyset condition
// of the rows after it.

/** A position in a sorted listing (RFC 9865 cursor): the sort key and id of the last row, and the order it belongs to. */
export interface ListCursor {
  v: string | null;
  id: string;
  s: string;
  d: 'asc' | 'desc';
}

export function encodeListCursor(cursor: ListCursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

/** Decodes a cursor; INVALID_CURSOR when it is malformed or was issued for another sort order (RFC 9865 §6). */
export function decodeListCursor(text: string, sortName: string, direction: 'asc' | 'desc'): ListCursor {
  let value: Partial<ListCursor> | undefined;
  try {
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Partial<ListCursor>;
  } catch {
    value = undefined;
  }
  if (
    !value ||
    (typeof value.v !== 'string' && value.v !== null) ||
    typeof value.id !== 'string' ||
    !UUID.test(value.id) ||
    value.s !== sortName ||
    value.d !== direction
  ) {
    throw new MeridianError('INVALID_CURSOR', 'The cursor is not valid for this query.', { field: 'cursor' });
  }
  return { v: value.v ?? null, id: value.id, s: value.s, d: value.d };
}

/** Rows after the cursor in `order by expr <dir> nulls last, id <dir>`. */
export function keysetAfter(expr: string, op: '<' | '>', after: ListCursor): SqlFragment {
  if (after.v === null) return { sql: `((${expr}) is null and r.id ${op} ?::uuid)`, params: [after.id] };
  // The key travels as text; PostgreSQL casts it back to the type of the expression it is compared with.
  return {
    sql: `((${expr}) ${op} ? or ((${expr}) = ? and r.id ${op} ?::uuid) or (${expr}) is null)`,
    params: [after.v, after.v, after.id],
  };
}

/**
 * True when a cursor key converts to the type of the sort expression; PostgreSQL converts a parameter before reading any
 * row. It runs in a transaction of its own: the one whose statement failed is aborted.
 */
export function keyFits(orm: MikroORM, tenantId: string, kind: ResourceKind, expr: string, key: string): Promise<boolean> {
  return inTenant(orm, tenantId, (em) => em.execute(`select 1 from ${TABLE[kind]} r where false and (${expr}) = ?`, [key])).then(
    () => true,
    () => false,
  );
}
