// The SQL of the minimal baseline (minimal-server.ts): one PL/pgSQL function per
// request shape, installed by the bench (as DATABASE_URL's user) in the schema
// `bench_minimal` of the bench database. Each function sets the tenant (or the
// platform scope) with `set_config(…, true)` first and then runs its statements,
// so one call is one round trip and the policies of row-level security see the
// setting: a function's statements run in order, which a single SQL statement
// with a `set_config` in a CTE does not promise. The functions are SECURITY
// INVOKER: they run as the caller, `meridian_app`, under the tenant policies
// (ADR 0010). PL/pgSQL prepares each statement once per connection; the server
// calls the functions through named prepared statements, so a request is one
// Bind/Execute on a warm connection.
import pg from 'pg';

/** The schema the functions live in; the hub never looks there. */
export const MINIMAL_SCHEMA = 'bench_minimal';

/** Columns of a user as the functions return them, with the page's total and the user's groups (direct and nested). */
const USER_COLUMNS = `id uuid, external_id text, attributes jsonb, extension_schemas text[], version integer,
  created_at timestamptz, updated_at timestamptz, total bigint, groups jsonb`;

/**
 * The page of users that `where` selects (in the hub's order: creation time, then id),
 * each with its groups as `[{value, display, type}]` (RFC 7643 §4.1.2: direct and
 * through nested groups; a graph with a cycle ends, UNION drops repeats), and the
 * number of all matching users on every row (`count(*) over ()`, computed before the limit).
 */
function pageStatement(where: string, limit: string): string {
  return `with recursive page as (
      select u.id, u.external_id, u.attributes, u.extension_schemas, u.version, u.created_at, u.updated_at, count(*) over () as total
        from public.scim_user u
       where u.tenant_id = p_tenant and ${where}
       order by u.created_at, u.id
       ${limit}
    ), memberships (member_id, group_id, direct) as (
      select gm.member_id, gm.group_id, true from public.group_member gm
       where gm.tenant_id = p_tenant and gm.member_id in (select page.id from page)
      union
      select m.member_id, gm.group_id, false
        from memberships m join public.group_member gm on gm.tenant_id = p_tenant and gm.member_id = m.group_id
    ), grouped as (
      select m.member_id,
             jsonb_agg(jsonb_build_object('value', m.group_id, 'display', g.display_name,
                                          'type', case when m.direct then 'direct' else 'indirect' end) order by m.group_id) as groups
        from (select member_id, group_id, bool_or(direct) as direct from memberships group by member_id, group_id) m
        join public.scim_group g on g.id = m.group_id
       group by m.member_id
    )
    select page.id, page.external_id, page.attributes, page.extension_schemas, page.version, page.created_at, page.updated_at,
           page.total, grouped.groups
      from page left join grouped on grouped.member_id = page.id
     order by page.created_at, page.id`;
}

/** The filters the minimal server answers, each with the predicate the hub's filterToSql writes for it (store/src/filter/to-sql.ts). */
const MINIMAL_FILTERS = {
  /** `userName eq "v"`: the value as sent. */
  userNameEq: 'u.user_name_key = lower(p_value)',
  /** `emails co "v"`: `p_value` is the LIKE pattern (`%v%`, with `\\`, `%` and `_` escaped). */
  emailsCo: `u.id in (select public.meridian_users_with_emails_like(lower(p_value)))
       and exists (select 1 from jsonb_array_elements(coalesce(u.attributes -> 'emails', '[]'::jsonb)) e
                    where lower(e.value ->> 'value') like lower(p_value) escape '\\')`,
  /** `name.familyName sw "v"`: the value as sent. */
  familyNameSw: `u.family_name_key ~>=~ lower(p_value) and u.family_name_key ~<~ (lower(p_value) || chr(1114111))
       and starts_with(u.family_name_key, lower(p_value))`,
  /** No filter. */
  all: 'true',
} as const;

export type MinimalFilter = keyof typeof MINIMAL_FILTERS;

/** The function that lists users for one filter shape. */
export function listFunctionName(filter: MinimalFilter): string {
  return `${MINIMAL_SCHEMA}.list_users_${filter.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`;
}

function listFunction(filter: MinimalFilter): string {
  return `create function ${listFunctionName(filter)}(p_tenant uuid, p_value text, p_count integer, p_offset integer)
    returns table (${USER_COLUMNS}) language plpgsql as $f$
    #variable_conflict use_column
    begin
      perform set_config('meridian.tenant_id', p_tenant::text, true);
      return query ${pageStatement(MINIMAL_FILTERS[filter], 'limit p_count offset p_offset')};
    end
    $f$;`;
}

const FUNCTIONS = [
  ...(Object.keys(MINIMAL_FILTERS) as MinimalFilter[]).map(listFunction),
  // GET /Users/{id}: the user and its groups.
  `create function ${MINIMAL_SCHEMA}.get_user(p_tenant uuid, p_id uuid)
    returns table (${USER_COLUMNS}) language plpgsql as $f$
    #variable_conflict use_column
    begin
      perform set_config('meridian.tenant_id', p_tenant::text, true);
      return query ${pageStatement('u.id = p_id', '')};
    end
    $f$;`,
  // The bearer token, by the SHA-256 of its secret, in platform scope (the tenant is not known yet): what the hub's
  // authenticateToken refuses (revoked, expired, an end user's token whose user is gone or inactive) is not found.
  `create function ${MINIMAL_SCHEMA}.find_token(p_hash text)
    returns table (id uuid, tenant_id uuid, scopes text[], expires_at timestamptz) language plpgsql as $f$
    #variable_conflict use_column
    begin
      perform set_config('meridian.scope', 'platform', true);
      return query
        select t.id, t.tenant_id, t.scopes, t.expires_at
          from public.api_token t left join public.scim_user u on u.id = t.user_id and u.tenant_id = t.tenant_id
         where t.secret_hash = p_hash and t.revoked_at is null and (t.expires_at is null or t.expires_at > now())
           and (t.user_id is null or u.active);
    end
    $f$;`,
  // POST /Users: the user row, the outbox event and the audit entry chained to the tenant's previous one, under the
  // per-tenant advisory lock the hub's appendAuditEntry takes (store/src/audit/append-audit-entry.ts). The entry's hash
  // is SHA-256 over its canonical JSON (RFC 8785), as the hub's hashAuditEntry computes it: the server sends that text
  // in three parts around the two values known only under the lock, the previous hash and the seq (minimal-audit.ts).
  `create function ${MINIMAL_SCHEMA}.create_user(
      p_tenant uuid, p_id uuid, p_user_name text, p_external_id text, p_active boolean, p_attributes jsonb,
      p_extension_schemas text[], p_now timestamptz, p_request_id text, p_actor_id text, p_source_address text,
      p_diff jsonb, p_hash_head text, p_hash_middle text, p_hash_tail text)
    returns table (seq bigint, hash text) language plpgsql as $f$
    #variable_conflict use_column
    declare
      v_chain text := p_tenant::text;
      v_seq bigint;
      v_prev text;
      v_hash text;
    begin
      perform set_config('meridian.tenant_id', p_tenant::text, true);
      insert into public.scim_user (id, tenant_id, user_name, external_id, active, attributes, extension_schemas, password_hash,
                                    version, created_at, updated_at)
        values (p_id, p_tenant, p_user_name, p_external_id, p_active, p_attributes, p_extension_schemas, null, 1, p_now, p_now);
      insert into public.outbox_event (tenant_id, type, resource_type, resource_id, resource_version, request_id, created_at)
        values (p_tenant, 'user.created', 'User', p_id::text, 1, p_request_id, p_now);
      perform pg_advisory_xact_lock(hashtextextended('audit:' || v_chain, 7));
      select a.seq, a.hash into v_seq, v_prev from public.audit_event a where a.chain = v_chain order by a.seq desc limit 1;
      v_seq := coalesce(v_seq, 0) + 1;
      v_prev := coalesce(v_prev, repeat('0', 64));
      v_hash := encode(sha256(convert_to(p_hash_head || v_prev || p_hash_middle || v_seq::text || p_hash_tail, 'UTF8')), 'hex');
      insert into public.audit_event (chain, seq, tenant_id, actor_type, actor_id, action, resource_type, resource_id,
                                      request_id, source_address, diff, created_at, prev_hash, hash)
        values (v_chain, v_seq, p_tenant, 'token', p_actor_id, 'user.created', 'User', p_id::text,
                p_request_id, p_source_address, p_diff, p_now, v_prev, v_hash);
      return query select v_seq, v_hash;
    end
    $f$;`,
];

/**
 * (Re)creates the minimal server's functions in the bench database, as DATABASE_URL's
 * user (the owner of the tables), and lets `meridian_app` call them.
 */
export async function installMinimal(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('begin');
    await client.query(`drop schema if exists ${MINIMAL_SCHEMA} cascade`);
    await client.query(`create schema ${MINIMAL_SCHEMA}`);
    for (const sql of FUNCTIONS) await client.query(sql);
    await client.query(`grant usage on schema ${MINIMAL_SCHEMA} to meridian_app`);
    await client.query(`grant execute on all functions in schema ${MINIMAL_SCHEMA} to meridian_app`);
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    await client.end();
  }
}
