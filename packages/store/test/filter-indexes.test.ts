import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  type AttributePath,
  parseAttributePath,
  parseScimFilter,
  type ResourceKind,
  type ResourceShape,
  resourceShapes,
} from '@meridian/core';
import { createOrm, filterToSql, type MikroORM, sortToSql } from '@meridian/store';
import { createTestDatabase, type TestDatabase } from '@meridian/test-utils';
import { forkForTenant } from '../src/orm/sql.js';

// Enough rows that a sequential scan costs more than an index scan, in two tenants.
const USERS = 20_000;
const GROUPS = 2_000;
const tenantId = '00000000-0000-7000-8000-000000000001';
const otherTenantId = '00000000-0000-7000-8000-000000000002';
const TABLE: Record<ResourceKind, string> = { User: 'scim_user', Group: 'scim_group' };

let db: TestDatabase;
/** The schema owner, whom row-level security does not bind (ADR 0010). */
let owner: MikroORM;

beforeAll(async () => {
  db = await createTestDatabase();
  await db.query(`insert into community (id, slug, name, created_at) values ('00000000-0000-7000-8000-0000000000c0', 'coi', 'CoI', now())`);
  await db.query(
    `insert into tenant (id, community_id, slug, name, created_at)
     values ($1, '00000000-0000-7000-8000-0000000000c0', 'emea', 'EMEA', now()),
            ($2, '00000000-0000-7000-8000-0000000000c0', 'apac', 'APAC', now())`,
    [tenantId, otherTenantId],
  );
  for (const tenant of [tenantId, otherTenantId]) {
    await db.query(
      `insert into scim_user (id, tenant_id, user_name, external_id, attributes, version, created_at, updated_at)
       select gen_random_uuid(), $1, 'user' || i || '@example.com', 'ext-' || i,
              jsonb_build_object(
                'userName', 'user' || i || '@example.com',
                'name', jsonb_build_object('givenName', 'Given' || i, 'familyName', 'Family' || i),
                'emails', jsonb_build_array(
                  jsonb_build_object('value', 'home' || i || '@home.example', 'type', 'home'),
                  jsonb_build_object('value', 'User' || i || '@Mail' || (i % 50) || '.example.org', 'type', 'work', 'primary', true)),
                'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User', jsonb_build_object('employeeNumber', lpad(i::text, 6, '0'))),
              1, now() - (i || ' seconds')::interval, now()
         from generate_series(1, $2::int) i`,
      [tenant, USERS],
    );
    await db.query(
      `insert into scim_group (id, tenant_id, display_name, external_id, attributes, version, created_at, updated_at)
       select gen_random_uuid(), $1, 'Group ' || i, 'gext-' || i, jsonb_build_object('displayName', 'Group ' || i), 1, now(), now()
         from generate_series(1, $2::int) i`,
      [tenant, GROUPS],
    );
  }
  await db.query(
    `insert into scim_user (id, tenant_id, user_name, attributes, version, created_at, updated_at)
     values (gen_random_uuid(), $1, 'quote', $2, 1, now(), now()), (gen_random_uuid(), $1, 'Zed', '{"userName":"Zed"}', 1, now(), now())`,
    [tenantId, JSON.stringify({ userName: 'quote', emails: [{ value: 'a"b@example.com' }] })],
  );
  await db.query('analyze scim_user');
  await db.query('analyze scim_group');
  await db.query('analyze scim_user_search');
  owner = await createOrm({ url: db.url, poolSize: 1, role: null });
}, 120_000);

afterAll(async () => {
  await owner.close(true);
  await db.close();
});

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

function indexScans(node: PlanNode): string[] {
  const own = /Index/.test(node['Node Type']) && node['Index Name'] ? [`${node['Node Type']}: ${node['Index Name']}`] : [];
  return [...own, ...(node.Plans ?? []).flatMap(indexScans)];
}

/** The store's count query for a filter, as the hub runs it (through the ORM, which inlines the parameters). */
function countQuery(kind: ResourceKind, filter: string): { sql: string; params: unknown[] } {
  const where = filterToSql(kind, parseScimFilter(filter));
  return {
    sql: `select count(*) as total from ${TABLE[kind]} r where r.tenant_id = ? and ${where.sql}`,
    params: [tenantId, ...where.params],
  };
}

/**
 * The plan without row-level security: that the filter's SQL matches its index expression. Under the
 * policies, PostgreSQL applies them before conditions that are not LEAKPROOF (lower(), LIKE, jsonb
 * operators) and cannot use these expression indexes: the tenant's rows are scanned (ADR 0010).
 */
/** The plan as the hub runs the query: the application role, inside the tenant's row-level security scope. */
async function plannedIndexes(kind: ResourceKind, filter: string): Promise<string[]> {
  const { sql, params } = countQuery(kind, filter);
  const [row] = await forkForTenant(db.orm, tenantId).transactional((em) =>
    em.execute<{ 'QUERY PLAN': { Plan: PlanNode }[] }[]>(`explain (format json) ${sql}`, params),
  );
  const plan = row?.['QUERY PLAN'][0]?.Plan;
  if (!plan) throw new TypeError('EXPLAIN returned no plan');
  return indexScans(plan);
}

async function count(kind: ResourceKind, filter: string): Promise<number> {
  const { sql, params } = countQuery(kind, filter);
  const [row] = await forkForTenant(db.orm, tenantId).transactional((em) => em.execute<{ total: string }[]>(sql, params));
  return Number(row?.total);
}

describe('filters run on an index', () => {
  it('finds the Users changed since a time on the updated_at index: regression for "a delta query read the whole tenant"', async () => {
    const since = 'meta.lastModified gt "2999-01-01T00:00:00Z"';
    expect(await plannedIndexes('User', since)).toEqual(
      expect.arrayContaining([expect.stringContaining('scim_user_tenant_updated_index')]),
    );
    expect(await count('User', since)).toBe(0);
    expect(await count('User', 'meta.lastModified gt "2000-01-01T00:00:00Z"')).toBe(USERS + 2);
    expect(await plannedIndexes('Group', since)).toEqual(
      expect.arrayContaining([expect.stringContaining('scim_group_tenant_updated_index')]),
    );
  });

  it('finds email candidates on the trigram index of scim_user_search, behind the SECURITY DEFINER function', async () => {
    // The table is small here, so a sequential scan would win: ask whether the index can serve the query at all.
    const [row] = await owner.em.fork().transactional(async (em) => {
      await em.execute('set local enable_seqscan = off');
      return em.execute<{ 'QUERY PLAN': { Plan: PlanNode }[] }[]>(
        "explain (format json) select user_id from scim_user_search where tenant_id = ? and emails_key like '%user1234@mail%'",
        [tenantId],
      );
    });
    const plan = row?.['QUERY PLAN'][0]?.Plan;
    expect(plan && indexScans(plan)).toContain('Bitmap Index Scan: scim_user_search_emails_trgm_index');
  });

  it.each([
    ['User', 'userName eq "USER123@example.com"', 'scim_user_tenant_user_name_key_index', 1],
    ['User', 'emails co "user1234@mail"', 'scim_user_pkey', 1],
    ['User', 'emails.value co "r1234@mail34.example"', 'scim_user_pkey', 1],
    ['User', 'emails.value eq "user1234@mail34.example.org"', 'scim_user_pkey', 1],
    ['User', 'emails.value sw "HOME1234@"', 'scim_user_pkey', 1],
    ['User', 'emails.value ew "1234@home.example"', 'scim_user_pkey', 2],
    ['User', 'emails[type eq "work"].value eq "user1234@mail34.example.org"', 'scim_user_pkey', 1],
    ['User', 'emails[type eq "work" and value co "user1234@"]', 'scim_user_pkey', 1],
    ['User', 'name.familyName sw "family1234"', 'scim_user_tenant_family_name_key_index', 11],
    ['User', 'name.familyName eq "FAMILY1234"', 'scim_user_tenant_family_name_key_index', 1],
    ['User', 'externalId eq "ext-1234"', 'scim_user_tenant_external_id_index', 1],
    ['Group', 'displayName eq "group 123"', 'scim_group_tenant_display_name_key_index', 1],
  ] as [ResourceKind, string, string, number][])('%s %s uses %s', async (kind, filter, index, matches) => {
    const scans = await plannedIndexes(kind, filter);
    expect(scans.some((s) => /^(Index Scan|Index Only Scan|Bitmap Index Scan): /.test(s) && s.endsWith(`: ${index}`))).toBe(true);
    // The indexed pre-filter must never drop a row the exact condition keeps.
    expect(await count(kind, filter)).toBe(matches);
  });

  it('the work-email filter keeps only the work email', async () => {
    expect(await count('User', 'emails[type eq "work"].value eq "home1234@home.example"')).toBe(0);
  });

  it('binds every value as a parameter, the LIKE patterns included', () => {
    const { sql, params } = filterToSql('User', parseScimFilter(`emails co "o'neil%_x"`));
    expect(sql).not.toContain('neil');
    expect(params).toEqual(["%o'neil\\%\\_x%", "%o'neil\\%\\_x%"]);
  });

  it('leaves values that JSON escapes to the exact condition', async () => {
    const { sql } = filterToSql('User', parseScimFilter('emails co "a\\"b"'));
    expect(sql).not.toContain('jsonb_path_query_array');
    expect(await count('User', 'emails co "A\\"B@"')).toBe(1);
  });
});

describe('filterToSql with a tenant shape', () => {
  const custom: ResourceShape = {
    ...resourceShapes.User,
    extensions: [
      {
        id: 'urn:example:params:scim:schemas:extension:badge:2.0:User',
        name: 'Badge',
        description: 'A custom extension.',
        attributes: [
          {
            name: 'badge',
            type: 'string',
            multiValued: false,
            description: 'Badge number.',
            required: false,
            caseExact: true,
            mutability: 'readWrite',
            returned: 'default',
            uniqueness: 'none',
          },
        ],
      },
    ],
  };

  it('resolves attributes of the given shape', () => {
    const filter = parseScimFilter('urn:example:params:scim:schemas:extension:badge:2.0:User:badge eq "B-1"');
    expect(filterToSql('User', filter, custom)).toEqual({
      sql: `((r.attributes #>> '{"urn:example:params:scim:schemas:extension:badge:2.0:User","badge"}') = ?)`,
      params: ['B-1'],
    });
    expect(() => filterToSql('User', filter)).toThrow(expect.objectContaining({ code: 'INVALID_FILTER' }));
  });
});

describe('sortToSql', () => {
  async function sorted(kind: ResourceKind, path: string, where = 'true', limit = 3): Promise<string[]> {
    const { expr } = sortToSql(kind, parseAttributePath(path));
    const rows = await db.query<{ id: string; key: string | null }>(
      `select r.id, (${expr})::text as key from ${TABLE[kind]} r where r.tenant_id = $1 and ${where} order by ${expr}, r.id limit ${limit}`,
      [tenantId],
    );
    return rows.map((r) => String(r.key));
  }

  it.each([
    ['User', 'userName', 'lower(r.user_name)'],
    ['User', 'id', 'r.id'],
    ['User', 'externalId', 'r.external_id'],
    ['User', 'meta.created', 'r.created_at'],
    ['User', 'meta.lastModified', 'r.updated_at'],
    ['User', 'name.familyName', `lower((r.attributes #>> '{"name","familyName"}'))`],
    ['Group', 'displayName', 'lower(r.display_name)'],
    ['Group', 'urn:ietf:params:scim:schemas:core:2.0:Group:displayName', 'lower(r.display_name)'],
  ] as [ResourceKind, string, string][])('%s %s sorts by %s', (kind, path, expr) => {
    expect(sortToSql(kind, parseAttributePath(path))).toEqual({ expr });
  });

  it('sorts strings case-insensitively', async () => {
    expect(await sorted('User', 'userName', "r.user_name in ('Zed', 'quote', 'user10@example.com')")).toEqual([
      'quote',
      'user10@example.com',
      'zed',
    ]);
  });

  it('sorts a multi-valued attribute by its primary value, else its first', async () => {
    const { expr } = sortToSql('User', parseAttributePath('emails'));
    expect(expr).not.toContain('?');
    expect(await sorted('User', 'emails', "r.external_id in ('ext-7', 'ext-3')")).toEqual([
      'user3@mail3.example.org',
      'user7@mail7.example.org',
    ]);
    expect(await sorted('User', 'emails.type', "r.external_id = 'ext-7'")).toEqual(['work']);
    expect(await sorted('User', 'emails', "r.user_name = 'quote'")).toEqual(['a"b@example.com']);
  });

  it('sorts an extension attribute', async () => {
    expect(
      await sorted('User', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber', "r.external_id like 'ext-%'", 2),
    ).toEqual(['000001', '000002']);
  });

  it('sorts numbers and dates by type', () => {
    const path: AttributePath = { attribute: 'size' };
    const shape: ResourceShape = {
      ...resourceShapes.Group,
      core: {
        ...resourceShapes.Group.core,
        attributes: [
          ...resourceShapes.Group.core.attributes,
          {
            name: 'size',
            type: 'integer',
            multiValued: false,
            description: 'A number.',
            required: false,
            caseExact: false,
            mutability: 'readWrite',
            returned: 'default',
            uniqueness: 'none',
          },
        ],
      },
    };
    expect(sortToSql('Group', path, shape)).toEqual({ expr: `((r.attributes #>> '{"size"}'))::numeric` });
  });

  it.each(['shoeSize', 'password', 'name', 'meta.location', 'groups', 'emails.nope', 'urn:example:nope:shoeSize'])(
    'rejects %s with INVALID_INPUT on sortBy',
    (path) => {
      expect(() => sortToSql('User', parseAttributePath(path))).toThrow(
        expect.objectContaining({ code: 'INVALID_INPUT', field: 'sortBy' }),
      );
    },
  );
});
