// Issue 4, "tenant isolation twice": PostgreSQL's row-level security stops a
// cross-tenant read or write on its own, with no `tenant_id` predicate from the
// application (ADR 0010). The data is seeded as the server's user, which the
// policies do not bind; everything under test runs as the application role.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type DomainEvent, type RequestContext, systemClock } from '@meridian/core';
import { createOrm, hashTokenSecret, type MikroORM, PostgresAdminStore, PostgresDirectoryStore, recordEvent } from '@meridian/store';
import { createTestDatabase, type TestDatabase } from '@meridian/test-utils';
import type { EntityManager } from '@mikro-orm/postgresql';
import pg from 'pg';
import { forkForPlatform, forkForTenant } from '../src/orm/sql.js';

const COMMUNITY_A = '00000000-0000-7000-8000-00000000c00a';
const COMMUNITY_B = '00000000-0000-7000-8000-00000000c00b';
const A = '00000000-0000-7000-8000-00000000000a';
const B = '00000000-0000-7000-8000-00000000000b';
const USER_A = '00000000-0000-7000-8000-0000000a0001';
const USER_B = '00000000-0000-7000-8000-0000000b0001';
const GROUP_A = '00000000-0000-7000-8000-0000000a0100';
const GROUP_B = '00000000-0000-7000-8000-0000000b0100';
const context: RequestContext = { actor: { type: 'system', id: 'test' }, requestId: 'rls-test' };

let db: TestDatabase;
/** Every table with a `tenant_id` column: the tenant tables the policies must cover. */
let tenantTables: string[];
/** Tenant tables the application role cannot read or write at all. */
let privateTenantTables: string[];

/** Seeds both tenants and the platform through the server's user, as the hub's writes would have left them. */
async function seed(): Promise<void> {
  await db.query(`insert into community (id, slug, name, created_at) values ($1, 'coi-a', 'CoI A', now()), ($2, 'coi-b', 'CoI B', now())`, [
    COMMUNITY_A,
    COMMUNITY_B,
  ]);
  await db.query(
    `insert into tenant (id, community_id, slug, name, created_at) values ($1, $2, 'office-a', 'Office A', now()), ($3, $4, 'office-b', 'Office B', now())`,
    [A, COMMUNITY_A, B, COMMUNITY_B],
  );
  for (const [tenant, tag, count, user, group] of [
    [A, 'a', 2, USER_A, GROUP_A],
    [B, 'b', 3, USER_B, GROUP_B],
  ] as const) {
    await db.query(
      `insert into scim_user (id, tenant_id, user_name, attributes, version, created_at, updated_at)
       select case when i = 1 then $2::uuid else gen_random_uuid() end, $1, $3 || i || '@example.org',
              jsonb_build_object('userName', $3 || i || '@example.org'), 1, now(), now()
         from generate_series(1, $4::int) i`,
      [tenant, user, `user-${tag}-`, count],
    );
    await db.query(
      `insert into scim_group (id, tenant_id, display_name, attributes, version, created_at, updated_at)
       values ($1, $2, $3, jsonb_build_object('displayName', $3::text), 1, now(), now())`,
      [group, tenant, `Group ${tag}`],
    );
    await db.query(
      `insert into group_member (group_id, member_id, tenant_id, member_type, created_at) values ($1, $2, $3, 'User', now())`,
      [group, user, tenant],
    );
    await db.query(
      `insert into schema_extension (id, tenant_id, urn, resource_type, definition, created_at)
       values (gen_random_uuid(), $1, $2, 'User', '{}', now())`,
      [tenant, `urn:example:${tag}:User`],
    );
    await db.query(
      `insert into api_token (id, tenant_id, name, prefix, secret_hash, scopes, created_at)
       values (gen_random_uuid(), $1, $2, 'mrd_xxxxxx', $3, '{scim:read}', now())`,
      [tenant, `token ${tag}`, hashTokenSecret(`secret-${tag}`)],
    );
  }
  // Platform rows: a platform token, a platform event and its audit chain ''.
  await db.query(
    `insert into api_token (id, tenant_id, name, prefix, secret_hash, scopes, created_at)
     values (gen_random_uuid(), null, 'platform', 'mrd_yyyyyy', $1, '{admin}', now())`,
    [hashTokenSecret('secret-platform')],
  );
  for (const [tenant, chain] of [
    [A, A],
    [B, B],
    [null, ''],
  ] as const) {
    await db.query(
      `insert into outbox_event (tenant_id, type, resource_type, resource_id, request_id, created_at)
       values ($1, 'user.created', 'User', 'x', 'seed', now())`,
      [tenant],
    );
    await db.query(
      `insert into audit_event (chain, seq, tenant_id, actor_type, actor_id, action, resource_type, resource_id, request_id, created_at, prev_hash, hash)
       values ($1, 1, $2, 'system', 'seed', 'user.created', 'User', 'x', 'seed', now(), repeat('0', 64), repeat('1', 64))`,
      [chain, tenant],
    );
  }
}

beforeAll(async () => {
  db = await createTestDatabase();
  await seed();
  const rows = await db.query<{ table_name: string; readable: boolean }>(
    `select c.relname as table_name, has_table_privilege('meridian_app', c.oid, 'select, insert, update, delete') as readable
       from pg_class c join pg_attribute a on a.attrelid = c.oid
      where c.relnamespace = current_schema()::regnamespace and c.relkind in ('r', 'p') and a.attname = 'tenant_id' and not a.attisdropped
      order by 1`,
  );
  // A tenant table the application role has no privilege on at all (scim_user_search, read only through a
  // SECURITY DEFINER function that answers for the transaction's tenant) needs no policy to be safe.
  tenantTables = rows.filter((r) => r.readable).map((r) => r.table_name);
  privateTenantTables = rows.filter((r) => !r.readable).map((r) => r.table_name);
});

afterAll(() => db.close());

/** A transaction as the store opens it for a tenant: the application role, `meridian.tenant_id` set locally. */
function asTenant<T>(tenantId: string, work: (em: EntityManager) => Promise<T>): Promise<T> {
  return forkForTenant(db.orm, tenantId).transactional(work);
}

function asPlatform<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
  return forkForPlatform(db.orm).transactional(work);
}

/** The SQLSTATE of a failed statement, wherever the driver and the ORM put it. */
async function sqlState(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    let current: unknown = error;
    for (let i = 0; i < 5 && current; i++) {
      const candidate = current as { code?: unknown; sqlState?: unknown; cause?: unknown };
      if (typeof candidate.code === 'string' && /^[0-9A-Z]{5}$/.test(candidate.code)) return candidate.code;
      if (typeof candidate.sqlState === 'string') return candidate.sqlState;
      current = candidate.cause;
    }
    throw error;
  }
  return undefined;
}

/** An ORM of the server's user, a superuser here: row-level security does not bind it. */
function owner(): Promise<MikroORM> {
  return createOrm({ url: db.url, poolSize: 1, role: null });
}

/** A connection as the application makes one: the role is a start-up parameter. */
async function withAppClient<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: db.url, options: '-c role=meridian_app' });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function ownerCount(table: string, where = 'true', params: unknown[] = []): Promise<number> {
  const [row] = await db.query<{ n: string }>(`select count(*) as n from ${table} where ${where}`, params);
  return Number(row?.n);
}

async function visibleCount(em: EntityManager, table: string): Promise<number> {
  const [row] = await em.execute<{ n: string }[]>(`select count(*) as n from ${table}`);
  return Number(row?.n);
}

describe('the application role', () => {
  it('is neither superuser nor allowed to bypass row-level security, and the ORM acts as it', async () => {
    const [role] = await asTenant(A, (em) =>
      em.execute<{ current_user: string; rolsuper: boolean; rolbypassrls: boolean }[]>(
        'select current_user, rolsuper, rolbypassrls from pg_roles where rolname = current_user',
      ),
    );
    expect(role).toEqual({ current_user: 'meridian_app', rolsuper: false, rolbypassrls: false });
  });

  it('cannot switch row-level security off, nor leave the role with RESET ROLE', async () => {
    await withAppClient(async (client) => {
      await client.query('reset role');
      expect((await client.query('select current_user')).rows[0]).toEqual({ current_user: 'meridian_app' });
      await client.query('set row_security = off');
      // PostgreSQL refuses a query that the policies would filter rather than run it unfiltered.
      await expect(sqlState(client.query('select * from scim_user'))).resolves.toBe('42501');
    });
  });

  it('may not disable, or drop, the policies of a table it does not own', async () => {
    await withAppClient(async (client) => {
      await expect(sqlState(client.query('alter table scim_user disable row level security'))).resolves.toBe('42501');
      await expect(sqlState(client.query('alter table scim_user no force row level security'))).resolves.toBe('42501');
      await expect(sqlState(client.query('drop policy tenant_isolation on scim_user'))).resolves.toBe('42501');
    });
  });
});

describe('the policies', () => {
  it('leave the application role no privilege at all on the tenant tables without policies', async () => {
    expect(privateTenantTables).toEqual(['scim_user_search']);
    for (const table of privateTenantTables) {
      const [row] = await db.query<{ any: boolean }>(
        "select has_table_privilege('meridian_app', $1, 'select') or has_table_privilege('meridian_app', $1, 'insert') or has_table_privilege('meridian_app', $1, 'update') or has_table_privilege('meridian_app', $1, 'delete') as any",
        [table],
      );
      expect(row?.any).toBe(false);
    }
  });

  it('cover every tenant table, enabled and forced, and tenant and community', async () => {
    expect(tenantTables).toEqual(
      expect.arrayContaining(['api_token', 'audit_event', 'group_member', 'outbox_event', 'schema_extension', 'scim_group', 'scim_user']),
    );
    const rows = await db.query<{ relname: string; relrowsecurity: boolean; relforcerowsecurity: boolean; policies: string }>(
      `select c.relname, c.relrowsecurity, c.relforcerowsecurity, (select count(*) from pg_policy p where p.polrelid = c.oid) as policies
         from pg_class c where c.relnamespace = current_schema()::regnamespace and c.relname = any($1::text[]) order by 1`,
      [[...tenantTables, 'tenant', 'community']],
    );
    expect(rows).toHaveLength(tenantTables.length + 2);
    for (const row of rows) {
      expect({ table: row.relname, enabled: row.relrowsecurity, forced: row.relforcerowsecurity }).toEqual({
        table: row.relname,
        enabled: true,
        forced: true,
      });
      expect(Number(row.policies)).toBeGreaterThan(0);
    }
  });

  it('show nothing, and accept nothing, in a transaction that set neither a tenant nor the platform scope', async () => {
    await db.orm.em.fork().transactional(async (em) => {
      for (const table of [...tenantTables, 'tenant', 'community'])
        expect({ table, rows: await visibleCount(em, table) }).toEqual({ table, rows: 0 });
    });
    await expect(
      sqlState(
        db.orm.em
          .fork()
          .execute(
            `insert into outbox_event (tenant_id, type, resource_type, resource_id, request_id, created_at) values (?, 'user.created', 'User', 'x', 'r', now())`,
            [A],
          ),
      ),
    ).resolves.toBe('42501');
  });

  it("show a tenant's transaction its own rows in every tenant table, and no other tenant's or the platform's", async () => {
    await asTenant(A, async (em) => {
      for (const table of tenantTables) {
        const [row] = await em.execute<{ total: string; foreign: string }[]>(
          `select count(*) as total, count(*) filter (where tenant_id is distinct from ?) as foreign from ${table}`,
          [A],
        );
        expect({ table, total: Number(row?.total), foreign: Number(row?.foreign) }).toEqual({
          table,
          total: await ownerCount(table, 'tenant_id = $1', [A]),
          foreign: 0,
        });
      }
      expect(await em.execute('select id from tenant')).toEqual([{ id: A }]);
      expect(await em.execute('select id from community')).toEqual([{ id: COMMUNITY_A }]);
    });
    expect(await ownerCount('scim_user', 'tenant_id = $1', [A])).toBe(2);
  });

  it('show the platform scope every row, those without a tenant included', async () => {
    await asPlatform(async (em) => {
      for (const table of [...tenantTables, 'tenant', 'community']) {
        expect({ table, rows: await visibleCount(em, table) }).toEqual({ table, rows: await ownerCount(table) });
      }
      const [token] = await em.execute<{ n: string }[]>('select count(*) as n from api_token where tenant_id is null');
      expect(Number(token?.n)).toBeGreaterThan(0);
    });
  });

  it('reset with the transaction: the next transaction on the same connection sees nothing', async () => {
    const orm = await createOrm({ url: db.url, poolSize: 1 });
    try {
      expect(await forkForTenant(orm, A).transactional((em) => visibleCount(em, 'scim_user'))).toBe(2);
      expect(await orm.em.fork().transactional((em) => visibleCount(em, 'scim_user'))).toBe(0);
      const [setting] = await orm.em
        .fork()
        .execute<{ tenant: string | null }[]>(`select current_setting('meridian.tenant_id', true) as tenant`);
      expect(setting?.tenant ?? '').toBe('');
    } finally {
      await orm.close(true);
    }
  });
});

describe('without any tenant predicate from the application, a tenant transaction', () => {
  it("cannot read another tenant's rows, not even by id", async () => {
    await asTenant(A, async (em) => {
      const users = await em.execute<{ id: string; tenant_id: string }[]>('select id, tenant_id from scim_user');
      expect(users.map((u) => u.tenant_id)).toEqual([A, A]);
      expect(await em.execute('select * from scim_user where id = ?', [USER_B])).toEqual([]);
      expect(await em.execute('select * from group_member where group_id = ?', [GROUP_B])).toEqual([]);
      expect(await em.execute('select * from api_token where tenant_id is null')).toEqual([]);
      expect(await em.execute(`select * from audit_event where chain in (?, '')`, [B])).toEqual([]);
      expect(await em.execute('select * from tenant where id = ?', [B])).toEqual([]);
    });
  });

  it('changes and deletes only its own rows when it names none', async () => {
    const touched = await asTenant(A, (em) =>
      em.execute(`update scim_user set attributes = attributes || '{"nickName":"touched"}'`, [], 'run'),
    );
    expect(touched).toMatchObject({ affectedRows: 2 });
    expect(await ownerCount('scim_user', `attributes ? 'nickName'`)).toBe(2);
    expect(await ownerCount('scim_user', `tenant_id = $1 and attributes ? 'nickName'`, [B])).toBe(0);

    const deleted = await asTenant(A, (em) => em.execute('delete from schema_extension', [], 'run'));
    expect(deleted).toMatchObject({ affectedRows: 1 });
    expect(await ownerCount('schema_extension', 'tenant_id = $1', [B])).toBe(1);

    const renamed = await asTenant(A, (em) => em.execute(`update tenant set name = name || ' (renamed)'`, [], 'run'));
    expect(renamed).toMatchObject({ affectedRows: 1 });
    expect(await ownerCount('tenant', `name like '%(renamed)'`)).toBe(1);
    expect(await ownerCount('tenant', `id = $1 and name like '%(renamed)'`, [B])).toBe(0);
  });

  it('cannot write a row into another tenant, nor move its own rows there (WITH CHECK)', async () => {
    const writes: [string, string, unknown[]][] = [
      [
        'scim_user insert',
        `insert into scim_user (id, tenant_id, user_name, attributes, version, created_at, updated_at) values (gen_random_uuid(), ?, 'intruder', '{}', 1, now(), now())`,
        [B],
      ],
      ['scim_user move', 'update scim_user set tenant_id = ? where id = ?', [B, USER_A]],
      [
        'group_member insert',
        `insert into group_member (group_id, member_id, tenant_id, member_type, created_at) values (?, ?, ?, 'User', now())`,
        [GROUP_B, USER_A, B],
      ],
      [
        'outbox_event insert',
        `insert into outbox_event (tenant_id, type, resource_type, resource_id, request_id, created_at) values (?, 'user.created', 'User', 'x', 'r', now())`,
        [B],
      ],
      [
        'platform audit entry',
        `insert into audit_event (chain, seq, tenant_id, actor_type, actor_id, action, resource_type, resource_id, request_id, created_at, prev_hash, hash)
         values ('', 2, null, 'system', 'x', 'x', 'x', 'x', 'r', now(), repeat('0', 64), repeat('2', 64))`,
        [],
      ],
      [
        'platform token',
        `insert into api_token (id, tenant_id, name, prefix, secret_hash, scopes, created_at) values (gen_random_uuid(), null, 'x', 'mrd_zzzzzz', 'forged', '{admin}', now())`,
        [],
      ],
      [
        'tenant insert',
        `insert into tenant (id, community_id, slug, name, created_at) values (gen_random_uuid(), ?, 'forged', 'x', now())`,
        [COMMUNITY_A],
      ],
      ['tenant move', 'update tenant set id = ? where id = ?', [B, A]],
      ['community insert', `insert into community (id, slug, name, created_at) values (gen_random_uuid(), 'forged', 'x', now())`, []],
    ];
    for (const [name, sql, params] of writes) {
      expect({ name, state: await sqlState(asTenant(A, (em) => em.execute(sql, params))) }).toEqual({ name, state: '42501' });
    }
    // Updates and deletes aimed at the other tenant find nothing to change.
    expect(await asTenant(A, (em) => em.execute('update scim_user set active = false where id = ?', [USER_B], 'run'))).toMatchObject({
      affectedRows: 0,
    });
    expect(await asTenant(A, (em) => em.execute('delete from group_member where tenant_id = ?', [B], 'run'))).toMatchObject({
      affectedRows: 0,
    });
    expect(await ownerCount('scim_user', 'tenant_id = $1 and active', [B])).toBe(3);
    expect(await ownerCount('group_member', 'tenant_id = $1', [B])).toBe(1);
  });
});

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Index Cond'?: string;
  Plans?: PlanNode[];
}

/** The index conditions of a statement's plan (index name: condition), with sequential scans ruled out. */
async function indexConditions(em: EntityManager, sql: string, params: unknown[]): Promise<string[]> {
  await em.execute('set local enable_seqscan = off');
  const [row] = await em.execute<{ 'QUERY PLAN': { Plan: PlanNode }[] }[]>(`explain (format json) ${sql}`, params);
  const found: string[] = [];
  const walk = (node: PlanNode): void => {
    if (node['Index Name'] && node['Index Cond']) found.push(`${node['Index Name']}: ${node['Index Cond']}`);
    for (const child of node.Plans ?? []) walk(child);
  };
  const plan = row?.['QUERY PLAN'][0]?.Plan;
  if (!plan) throw new TypeError('EXPLAIN returned no plan');
  walk(plan);
  return found;
}

describe('query plans under the policies', () => {
  // Enough rows in another office for the planner to prefer the most selective index, as in production.
  const C = '00000000-0000-7000-8000-00000000000c';
  beforeAll(async () => {
    await db.query(`insert into tenant (id, community_id, slug, name, created_at) values ($1, $2, 'office-c', 'Office C', now())`, [
      C,
      COMMUNITY_A,
    ]);
    await db.query(
      `insert into scim_user (id, tenant_id, user_name, external_id, attributes, version, created_at, updated_at)
       select gen_random_uuid(), $1, 'bulk-' || i || '@example.org', 'ext-' || i,
              jsonb_build_object('userName', 'bulk-' || i || '@example.org', 'name', jsonb_build_object('familyName', 'Family' || i)), 1, now(), now()
         from generate_series(1, 5000) as i`,
      [C],
    );
    await db.query('analyze scim_user');
  });

  it.each([
    ['a resource by id', 'select * from scim_user r where r.tenant_id = ? and r.id = ?', [A, USER_A], /\(id = /],
    ['externalId eq', 'select * from scim_user r where r.tenant_id = ? and r.external_id = ?', [A, 'x'], /external_id = /],
    [
      'a page in creation order',
      'select * from scim_user r where r.tenant_id = ? order by r.created_at, r.id limit 10',
      [A],
      /tenant_id = /,
    ],
    [
      "a page's groups",
      'select * from group_member where tenant_id = ? and member_id = any(?::uuid[])',
      [A, `{${USER_A}}`],
      /member_id = ANY/,
    ],
    ['the audit chain head', 'select seq, hash from audit_event where chain = ? order by seq desc limit 1', [A], /chain = /],
    // The stored search keys (migration 20261126500000_search_keys) compare with leakproof operators.
    [
      'userName eq on its search key',
      'select * from scim_user r where r.tenant_id = ? and r.user_name_key = lower(?)',
      [C, 'BULK-42@example.org'],
      /user_name_key = /,
    ],
    [
      'name.familyName sw on its search key',
      'select * from scim_user r where r.tenant_id = ? and r.family_name_key ~>=~ lower(?) and r.family_name_key ~<~ (lower(?) || chr(1114111)) and starts_with(r.family_name_key, lower(?))',
      [C, 'Family42', 'Family42', 'Family42'],
      /family_name_key ~>=~ /,
    ],
  ] as [string, string, unknown[], RegExp][])('%s keeps its index', async (_name, sql, params, condition) => {
    const conditions = await asTenant(params[0] as string, (em) => indexConditions(em, sql, params));
    expect(conditions.some((c) => condition.test(c))).toBe(true);
  });

  it('a token by the hash of its secret keeps its index in platform scope', async () => {
    const conditions = await asPlatform((em) => indexConditions(em, 'select * from api_token where secret_hash = ?', ['x']));
    expect(conditions.some((c) => c.startsWith('api_token_secret_hash_key: '))).toBe(true);
  });

  // PostgreSQL applies the policies before any condition that is not LEAKPROOF: lower(), LIKE and the
  // jsonb operators are not, so their expression indexes cannot narrow the scan (ADR 0010, "Consequences").
  it('cannot use an expression index for a condition that is not LEAKPROOF', async () => {
    const sql = 'select * from scim_user r where r.tenant_id = ? and lower(r.user_name) = lower(?)';
    const conditions = await asTenant(A, (em) => indexConditions(em, sql, [A, 'user-a-1@example.org']));
    expect(conditions.some((c) => c.includes('lower(user_name)'))).toBe(false);
    const orm = await owner();
    try {
      const unbound = await orm.em.fork().transactional((em) => indexConditions(em, sql, [A, 'user-a-1@example.org']));
      expect(unbound.some((c) => c.includes('lower(user_name)'))).toBe(true);
    } finally {
      await orm.close(true);
    }
  });
});

describe('the stores under row-level security', () => {
  it("find nothing of another tenant through the application's own queries", async () => {
    const directory = new PostgresDirectoryStore(db.orm, systemClock);
    expect(await directory.get(A, 'User', USER_B)).toBeUndefined();
    expect((await directory.get(A, 'User', USER_A))?.tenantId).toBe(A);
    expect((await directory.list(B, 'User', { startIndex: 1, count: 10 })).totalResults).toBe(3);
  });

  it('authenticate a token of any tenant by its secret (platform scope)', async () => {
    const admin = new PostgresAdminStore(db.orm, systemClock);
    expect((await admin.authenticate(`mrd_${'x'.repeat(43)}`)) ?? null).toBeNull();
    const issued = await admin.issueToken({ name: 'b', tenantId: B, scopes: ['scim:read'], expiresAt: null }, context);
    expect((await admin.authenticate(issued.token))?.tenantId).toBe(B);
  });

  it('refuse to record an event outside its tenant or the platform scope (a TypeError, before any SQL)', async () => {
    const event: DomainEvent = { type: 'community.created', tenantId: null, resourceType: 'Community', resourceId: COMMUNITY_A };
    await expect(asTenant(A, (em) => recordEvent(em, event, context, new Date()))).rejects.toBeInstanceOf(TypeError);
    await expect(asTenant(A, (em) => recordEvent(em, { ...event, tenantId: B }, context, new Date()))).rejects.toBeInstanceOf(TypeError);
  });
});
