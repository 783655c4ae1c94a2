import { createHash } from 'node:crypto';
import { AdminService, type Principal, type RequestContext, SCHEMA, systemClock } from '@meridian/core';
import { createOrm, migrate, PostgresAdminStore } from '@meridian/store';
import pg from 'pg';
import type { BenchOptions } from './options.js';

/** Bump when the seeded data changes shape: a database seeded by another version is rebuilt. */
const SEED_VERSION = 1;

const platform: Principal = { kind: 'platform', tokenId: 'bench', scopes: ['admin'] };
const context: RequestContext = { actor: { type: 'system', id: 'bench' }, requestId: 'bench-setup' };

/** Replaces the database name of a PostgreSQL URL. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** The seeded database as the measurements see it. */
export interface BenchDatabase {
  url: string;
  /** The tenant every request goes to: the largest, holding both groups. */
  tenantId: string;
  tenantSlug: string;
  users: number;
  tenantUsers: number;
  smallGroupId: string;
  bigGroupId: string;
  /** Users of the tenant in neither group, for PATCH add/remove. */
  patchCandidates: string[];
  seededNow: boolean;
  seedSeconds: number | undefined;
}

/** What seeding (or reusing) the bench database needs to know: `pnpm bench` and `pnpm bench:memory` share it. */
export type SeedOptions = Pick<BenchOptions, 'serverUrl' | 'database' | 'users' | 'tenants' | 'bigGroup' | 'smallGroup' | 'reseed'>;

/** Users per tenant: the first tenant holds the large group, the others share the rest evenly. */
export function tenantSizes(options: Pick<BenchOptions, 'users' | 'tenants' | 'bigGroup'>): number[] {
  const first = Math.max(Math.ceil(options.users / options.tenants), options.bigGroup + 1_000);
  const rest = options.users - first;
  const others = options.tenants - 1;
  return [first, ...Array.from({ length: others }, (_, k) => Math.floor(rest / others) + (k < rest % others ? 1 : 0))];
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

interface SeedConfig {
  version: number;
  users: number;
  tenants: number;
  bigGroup: number;
  smallGroup: number;
}

async function readSeed(url: string): Promise<{ config: SeedConfig; seconds: number } | undefined> {
  return withClient(url, async (client) => {
    const exists = await client.query(`select 1 from pg_tables where schemaname = 'public' and tablename = 'bench_seed'`);
    if (exists.rowCount === 0) return undefined;
    const { rows } = await client.query<{ config: SeedConfig; seconds: number }>('select config, seconds from bench_seed');
    return rows[0];
  });
}

const GIVEN = (
  'Ada Alan Barbara Claude Donald Edsger Frances Grace Hedy Ivan John Katherine Leslie Margaret Niklaus Ole Peter Radia Shafi Tim ' +
  'Ursula Vint Whitfield Xiaoyun Yukihiro Zhores Anita Bjarne Carol Dennis Elena Fernando Guido Hanna Ines Jean Karen Linus Mary Noor'
).split(' ');
// 40 x 25 x 10 = 10,000 family names: a name recurs about every 10,000 users.
const FAMILY_HEAD = (
  'Ab Bal Cor Dan El Fer Gar Hol Ing Jor Kar Lam Mar Nor Ost Pel Quin Ros Sal Tor ' +
  'Ul Val Wes Yar Zan Bren Cas Dor Esk Fal Gun Hart Iver Jun Kel Lund Mor Ned Orm Pry'
).split(' ');
const FAMILY_MIDDLE = 'a e i o u an en in on ar er ir or al el il ol ab ed ig ot ust ack ell inn'.split(' ');
const FAMILY_TAIL = 'son berg ley ton ford wood field ez ini escu'.split(' ');
const DEPARTMENTS = 'Engineering Finance Sales Legal Operations Research Support People'.split(' ');

function sqlArray(values: string[]): string {
  return `array[${values.map((v) => `'${v}'`).join(',')}]`;
}

/**
 * Users `from..to` of one tenant: userName `given.family.i@tK.example.org`, name, displayName,
 * a primary work email equal to the userName (every third user also a home email), active,
 * and the enterprise extension (employeeNumber, department).
 */
const INSERT_USERS = `
  insert into scim_user (id, tenant_id, user_name, external_id, active, attributes, extension_schemas, version, created_at, updated_at)
  select md5('bench-user-' || s.i)::uuid, $1::uuid, s.user_name, 'hr-' || s.i, true,
         jsonb_build_object(
           'userName', s.user_name,
           'name', jsonb_build_object('givenName', s.given, 'familyName', s.family, 'formatted', s.given || ' ' || s.family),
           'displayName', s.given || ' ' || s.family,
           'emails', case when s.i % 3 = 0
             then jsonb_build_array(
               jsonb_build_object('value', s.user_name, 'type', 'work', 'primary', true),
               jsonb_build_object('value', lower(s.given) || s.i || '@home.example.net', 'type', 'home'))
             else jsonb_build_array(jsonb_build_object('value', s.user_name, 'type', 'work', 'primary', true)) end,
           'active', true,
           '${SCHEMA.enterpriseUser}', jsonb_build_object(
             'employeeNumber', lpad(s.i::text, 7, '0'),
             'department', (${sqlArray(DEPARTMENTS)})[1 + s.i % ${DEPARTMENTS.length}])),
         array['${SCHEMA.enterpriseUser}'], 1, $4::timestamptz + (s.i || ' milliseconds')::interval, $4::timestamptz + (s.i || ' milliseconds')::interval
    from (select n.i, n.given, n.family, lower(n.given || '.' || n.family || '.' || n.i) || '@t' || $5::int || '.example.org' as user_name
            from (select i,
                         (${sqlArray(GIVEN)})[1 + (i / 7 + i) % ${GIVEN.length}] as given,
                         (${sqlArray(FAMILY_HEAD)})[1 + (i * 13) % ${FAMILY_HEAD.length}]
                           || (${sqlArray(FAMILY_MIDDLE)})[1 + (i / ${FAMILY_HEAD.length}) % ${FAMILY_MIDDLE.length}]
                           || (${sqlArray(FAMILY_TAIL)})[1 + (i / ${FAMILY_HEAD.length * FAMILY_MIDDLE.length}) % ${FAMILY_TAIL.length}] as family
                    from generate_series($2::int, $3::int) i) n) s`;

/** The uuid of seeded user `i`: `md5('bench-user-i')::uuid`, so SQL and the bench agree without a lookup. */
export function seededUserId(i: number): string {
  const hex = createHash('md5').update(`bench-user-${i}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

async function seed(url: string, options: SeedOptions, log: (m: string) => void): Promise<number> {
  const started = performance.now();
  const orm = await createOrm({ url, poolSize: 2 });
  try {
    log(`migrating: ${(await migrate(orm)).join(', ')}`);
    const admin = new AdminService(new PostgresAdminStore(orm, systemClock), systemClock);
    await admin.createCommunity(platform, { slug: 'bench', name: 'Bench CoI' }, context);
    for (let k = 1; k <= options.tenants; k++) {
      await admin.createTenant(platform, { slug: `bench-${k}`, name: `Bench office ${k}`, community: 'bench' }, context);
    }
  } finally {
    await orm.close(true);
  }
  await withClient(url, async (client) => {
    await client.query(`set maintenance_work_mem = '1GB'`);
    await client.query('set synchronous_commit = off');
    // Bulk loading is faster without the secondary indexes: drop them, load, then rebuild them from their own definitions.
    const { rows: indexes } = await client.query<{ indexname: string; indexdef: string }>(
      `select i.indexname, i.indexdef from pg_indexes i
        where i.schemaname = 'public' and i.tablename in ('scim_user', 'scim_group', 'group_member')
          and not exists (select 1 from pg_constraint c where c.conname = i.indexname)`,
    );
    for (const index of indexes) await client.query(`drop index ${client.escapeIdentifier(index.indexname)}`);
    const { rows: tenants } = await client.query<{ id: string }>(
      `select id from tenant where slug like 'bench-%' order by created_at, slug`,
    );
    const sizes = tenantSizes(options);
    const base = new Date(Date.now() - 30 * 86_400_000).toISOString();
    let next = 1;
    for (const [k, tenant] of tenants.entries()) {
      const size = sizes[k] ?? 0;
      await client.query(INSERT_USERS, [tenant.id, next, next + size - 1, base, k + 1]);
      next += size;
      if ((k + 1) % 10 === 0 || k + 1 === tenants.length) log(`users: ${next - 1} of ${options.users} (${k + 1} tenants)`);
    }
    const first = tenants[0];
    if (!first) throw new TypeError('No tenant was created.');
    for (const [key, name, size] of [
      ['small', `Bench ${options.smallGroup} members`, options.smallGroup],
      ['big', `Bench ${options.bigGroup} members`, options.bigGroup],
    ] as const) {
      await client.query(
        `insert into scim_group (id, tenant_id, display_name, attributes, version, created_at, updated_at)
         values (md5($1)::uuid, $2, $3, jsonb_build_object('displayName', $3::text), 1, now(), now())`,
        [`bench-group-${key}`, first.id, name],
      );
      await client.query(
        `insert into group_member (group_id, member_id, tenant_id, member_type, created_at)
         select md5($1)::uuid, md5('bench-user-' || i)::uuid, $2, 'User', now() from generate_series(1, $3::int) i`,
        [`bench-group-${key}`, first.id, size],
      );
    }
    log('groups seeded; rebuilding indexes');
    for (const index of indexes) {
      const t = performance.now();
      await client.query(index.indexdef);
      log(`  ${index.indexname} (${((performance.now() - t) / 1000).toFixed(1)} s)`);
    }
    await client.query('vacuum (analyze) scim_user, scim_group, group_member');
  });
  return (performance.now() - started) / 1000;
}

/**
 * Creates the bench database on the server and seeds it, or reuses it when it
 * was seeded with the same sizes (unless `--reseed`). Returns what the
 * measurements need.
 */
export async function prepareDatabase(options: SeedOptions, log: (m: string) => void): Promise<BenchDatabase> {
  const url = withDatabase(options.serverUrl, options.database);
  const wanted: SeedConfig = {
    version: SEED_VERSION,
    users: options.users,
    tenants: options.tenants,
    bigGroup: options.bigGroup,
    smallGroup: options.smallGroup,
  };
  const exists = await withClient(options.serverUrl, async (client) => {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [options.database]);
    return rowCount === 1;
  });
  const previous = exists && !options.reseed ? await readSeed(url) : undefined;
  // Field by field: jsonb does not keep the key order.
  const reuse = previous !== undefined && (Object.keys(wanted) as (keyof SeedConfig)[]).every((k) => previous.config[k] === wanted[k]);
  let seedSeconds = previous?.seconds;
  if (!reuse) {
    log(exists ? `rebuilding database ${options.database}` : `creating database ${options.database}`);
    await withClient(options.serverUrl, async (client) => {
      await client.query(`drop database if exists ${client.escapeIdentifier(options.database)} with (force)`);
      await client.query(`create database ${client.escapeIdentifier(options.database)}`);
    });
    seedSeconds = await seed(url, options, log);
    await withClient(url, async (client) => {
      await client.query('create table bench_seed (config jsonb not null, seconds double precision not null)');
      await client.query('insert into bench_seed values ($1, $2)', [JSON.stringify(wanted), seedSeconds]);
    });
    log(`seeded in ${seedSeconds?.toFixed(0)} s`);
  } else {
    log(`reusing database ${options.database} (seeded with ${options.users} users / ${options.tenants} tenants; --reseed rebuilds it)`);
    // Pending migrations of a newer checkout, then what earlier runs left behind.
    const orm = await createOrm({ url, poolSize: 1 });
    try {
      const applied = await migrate(orm);
      if (applied.length > 0) log(`migrated: ${applied.join(', ')}`);
    } finally {
      await orm.close(true);
    }
  }
  const sizes = tenantSizes(options);
  const tenantUsers = sizes[0] ?? 0;
  const patchCandidates = Array.from({ length: 1_000 }, (_, k) => seededUserId(options.bigGroup + 1 + k));
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ id: string; slug: string }>(`select id, slug from tenant where slug = 'bench-1'`);
    const tenant = rows[0];
    if (!tenant) throw new TypeError(`Database ${options.database} has no tenant bench-1: run with --reseed.`);
    const groups = await client.query<{ small: string; big: string }>(
      `select md5('bench-group-small')::uuid as small, md5('bench-group-big')::uuid as big`,
    );
    const { small, big } = groups.rows[0] ?? { small: '', big: '' };
    // Undo earlier runs: users the create step made, members the PATCH step added.
    const created = await client.query(`delete from scim_user where tenant_id = $1 and user_name like 'created-%'`, [tenant.id]);
    await client.query('delete from group_member where group_id = any($1::uuid[]) and member_id = any($2::uuid[])', [
      [small, big],
      patchCandidates,
    ]);
    if ((created.rowCount ?? 0) > 0) await client.query('vacuum (analyze) scim_user');
    return {
      url,
      tenantId: tenant.id,
      tenantSlug: tenant.slug,
      users: options.users,
      tenantUsers,
      smallGroupId: small,
      bigGroupId: big,
      patchCandidates,
      seededNow: !reuse,
      seedSeconds,
    };
  });
}

/** Issues a tenant token with SCIM read and write scopes through the admin service. */
export async function issueTenantToken(url: string, tenantSlug: string): Promise<string> {
  const [token] = await issueTenantTokens(url, [tenantSlug]);
  if (token === undefined) throw new TypeError('One slug gives one token.');
  return token;
}

/** A SCIM read and write token of each tenant, in the order of `tenantSlugs`. */
export async function issueTenantTokens(url: string, tenantSlugs: string[]): Promise<string[]> {
  const orm = await createOrm({ url, poolSize: 1 });
  try {
    const admin = new AdminService(new PostgresAdminStore(orm, systemClock), systemClock);
    const tokens: string[] = [];
    for (const tenant of tenantSlugs) {
      const issued = await admin.issueToken(platform, { tenant, scopes: ['scim:read', 'scim:write'], name: 'bench' }, context);
      tokens.push(issued.token);
    }
    return tokens;
  } finally {
    await orm.close(true);
  }
}

/** Users of the bench tenant to ask for: id, userName, a unique email fragment, the family name, and what PUT sends back. */
export interface FilterTarget {
  id: string;
  userName: string;
  emailFragment: string;
  familyName: string;
  /** The user's stored attributes (userName, name, emails, the extension, ...): a PUT keeps them. */
  attributes: Record<string, unknown>;
}

/** A random sample of seeded users of the tenant. */
export async function sampleTargets(url: string, tenantId: string, count: number): Promise<FilterTarget[]> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ id: string; user_name: string; family: string; attributes: Record<string, unknown> }>(
      `select id, user_name, attributes #>> '{name,familyName}' as family, attributes
         from scim_user where tenant_id = $1 and user_name not like 'created-%' order by random() limit $2`,
      [tenantId, count],
    );
    // `.family.i@` of `given.family.i@tK.example.org`: one user's, and only inside the address (what `co` is for).
    return rows.map((r) => ({
      id: r.id,
      userName: r.user_name,
      emailFragment: r.user_name.slice(r.user_name.indexOf('.'), r.user_name.indexOf('@') + 1),
      familyName: r.family,
      attributes: r.attributes,
    }));
  });
}
