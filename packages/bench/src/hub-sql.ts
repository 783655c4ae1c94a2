// The SQL the hub ran for a filtered list and for a create before issue 14 (docs/benchmarks.md,
// "The same-SQL baseline"), copied then from
// store/src/directory/postgres-directory-store.ts, store/src/events/event-recorder.ts
// and store/src/admin/postgres-admin-store.ts (with `$n` placeholders). The baseline
// server and the EXPLAIN step use these texts; the bench also records what the hub
// really sent to PostgreSQL for one request (SqlCapture, packages/test-utils), so a drift shows in the report.

/**
 * The hub's connections act as the application role, set at connection start-up
 * (store/src/orm/create-orm.ts): row-level security applies to every statement (ADR 0010).
 */
export const APP_CONNECTION_OPTIONS = '-c role=meridian_app';

/**
 * The first statement of every transaction, after `begin`: `$1` is `meridian.tenant_id`
 * with the tenant as `$2`, or `meridian.scope` with `platform` (store/src/orm/sql.ts).
 */
export const SET_SCOPE = 'select set_config($1, $2, true)';

/** Token lookup by the SHA-256 of the secret, in a platform-scope transaction (the hub writes `last_used_at` at most once a minute on top). */
export const TOKEN_LOOKUP =
  'select * from api_token where secret_hash = $1 and revoked_at is null and (expires_at is null or expires_at > $2)';

/** `where` is the filter's SQL (placeholders already numbered from $2). */
export function countSql(where: string): string {
  return `select count(*) as total from scim_user r where r.tenant_id = $1 and ${where}`;
}

/** Page query in the default order (creation time, then id); the two placeholders after the filter's are limit and offset. */
export function pageSql(where: string, next: number): string {
  return `select r.*, (r.created_at)::text as sort_key from scim_user r where r.tenant_id = $1 and ${where} order by r.created_at asc nulls last, r.id asc limit $${next} offset $${next + 1}`;
}

/** Groups of a page of users, direct and nested (RFC 7643 §4.1.2). */
export const USER_GROUPS = `with recursive memberships (member_id, group_id, direct) as (
        select member_id, group_id, true from group_member where tenant_id = $1 and member_id = any($2::uuid[])
        union
        select m.member_id, gm.group_id, false
          from memberships m join group_member gm on gm.tenant_id = $3 and gm.member_id = m.group_id
      )
      select m.member_id, m.group_id, g.display_name, bool_or(m.direct) as direct
        from memberships m join scim_group g on g.id = m.group_id
       group by m.member_id, m.group_id, g.display_name
       order by m.member_id, m.group_id`;

export const INSERT_USER = `insert into scim_user (id, tenant_id, user_name, external_id, active, attributes, extension_schemas, password_hash, version, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $10)`;

/** GET /Users/{id} (store's `get`), then USER_GROUPS for the one user. */
export const FIND_USER = 'select * from scim_user r where r.tenant_id = $1 and r.id = $2';

export const FIND_USER_FOR_UPDATE = 'select * from scim_user r where r.tenant_id = $1 and r.id = $2 for no key update';

export const INSERT_OUTBOX = `insert into outbox_event (tenant_id, type, resource_type, resource_id, resource_version, request_id, created_at)
     values ($1, $2, $3, $4, $5, $6, $7)`;

export const AUDIT_LOCK = 'select pg_advisory_xact_lock(hashtextextended($1, 7))';

export const AUDIT_LAST = 'select seq, hash from audit_event where chain = $1 order by seq desc limit 1';

export const INSERT_AUDIT = `insert into audit_event (chain, seq, tenant_id, actor_type, actor_id, action, resource_type, resource_id,
       request_id, source_address, diff, created_at, prev_hash, hash)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`;

/** Rewrites the `?` placeholders of a filter fragment to `$first`, `$first+1`, ... */
export function numberPlaceholders(sql: string, first: number): string {
  let n = first;
  return sql.replace(/\?/g, () => `$${n++}`);
}
