import { SCHEMA } from '@meridian/core';
import pg from 'pg';
import { type BenchDatabase, prepareDatabase, tenantSizes, withDatabase } from '../database.js';
import type { BenchOptions } from '../options.js';
import type { DirectoryBenchOptions } from './options.js';

/** Bump when the directory seeding changes: a database seeded by another version is rebuilt. */
const DIRECTORY_SEED_VERSION = 1;

const ENTERPRISE = SCHEMA.enterpriseUser;
const DEPARTMENTS = 'Engineering Finance Sales Legal Operations Research Support People'.split(' ');
/** The department a few second-office accounts keep for themselves: their person gets a department conflict. */
const CONFLICTING_DEPARTMENT = 'Consulting';

/** What the directory seeding made, as recorded in `bench_directory_seed`. */
interface DirectorySeed {
  communityId: string;
  communitySlug: string;
  people: number;
  accounts: number;
  /** People by number of accounts: `{ "1": 600000, "2": 175000, "3": 12500 }`. */
  peopleByAccounts: Record<string, number>;
  withManager: number;
  accountGroups: number;
  conflicts: number;
  /** Seconds the directory seeding took (users rewritten, tables filled, indexes, analyze). */
  seconds: number;
}

/** The seeded database as the directory bench sees it. */
export interface DirectoryDatabase {
  url: string;
  base: BenchDatabase;
  /** How the users' seed was obtained: cloned from `pnpm bench`'s database, seeded now, or reused. */
  baseOrigin: string;
  seed: DirectorySeed;
  seededNow: boolean;
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

function benchOptionsOf(options: DirectoryBenchOptions, database: string, reseed: boolean): BenchOptions {
  // Only the sizes matter to prepareDatabase; the rest of `pnpm bench`'s options are unused here.
  return {
    serverUrl: options.serverUrl,
    database,
    users: options.users,
    tenants: options.tenants,
    bigGroup: options.bigGroup,
    smallGroup: options.smallGroup,
    reseed,
    write: false,
    duration: options.duration,
    rounds: options.rounds,
    connections: options.connections,
    patchIterations: 0,
    hubLogLevel: options.hubLogLevel,
    out: options.out,
    scenarios: [],
    quietWait: 0,
  };
}

interface WantedSeed {
  version: number;
  users: number;
  tenants: number;
  bigGroup: number;
  smallGroup: number;
}

async function seedConfigOf(client: pg.Client, table: string): Promise<Record<string, unknown> | undefined> {
  const exists = await client.query(`select 1 from pg_tables where schemaname = 'public' and tablename = $1`, [table]);
  if (exists.rowCount === 0) return undefined;
  const { rows } = await client.query<{ config: Record<string, unknown> }>(`select config from ${client.escapeIdentifier(table)}`);
  return rows[0]?.config;
}

function matches(config: Record<string, unknown> | undefined, wanted: object): boolean {
  // Field by field: jsonb does not keep the key order.
  return config !== undefined && Object.entries(wanted).every(([k, v]) => config[k] === v);
}

/**
 * The shifts that give a user the employeeNumber of a user in another office
 * (see `seedDirectory`). With N a multiple of 40 they keep a user's index
 * modulo 10, so the classes below hold after the wrap-around.
 */
function shifts(users: number): { toClass1: number; toClass2: number; thirdOffice: number } {
  return { toClass1: users / 2 + 1, toClass2: users / 2 + 7, thirdOffice: users / 4 + 6 };
}

/**
 * Makes sure the directory bench's database holds the users' seed of `pnpm bench`
 * (cloned from `options.template` when that holds the same seed and nobody is
 * connected to it, seeded the same way otherwise) and the directory seeding
 * on top; reuses both when they match, rebuilds both with `--reseed`.
 */
export async function prepareDirectoryDatabase(options: DirectoryBenchOptions, log: (m: string) => void): Promise<DirectoryDatabase> {
  const url = withDatabase(options.serverUrl, options.database);
  const wantedBase: WantedSeed = {
    version: 1,
    users: options.users,
    tenants: options.tenants,
    bigGroup: options.bigGroup,
    smallGroup: options.smallGroup,
  };
  const wantedDirectory = { version: DIRECTORY_SEED_VERSION, users: options.users, tenants: options.tenants };
  const sizes = tenantSizes(options);
  if (Math.max(...sizes) >= options.users / 4 - 10) {
    throw new TypeError(
      `The largest tenant (${Math.max(...sizes)} users) must be smaller than a quarter of --users: a person's accounts must land in different offices.`,
    );
  }

  const exists = await withClient(options.serverUrl, async (client) => {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [options.database]);
    return rowCount === 1;
  });
  let state: 'missing' | 'base' | 'complete' = 'missing';
  if (exists && !options.reseed) {
    state = await withClient(url, async (client) => {
      if (!matches(await seedConfigOf(client, 'bench_seed'), wantedBase)) return 'missing';
      const directory = await seedConfigOf(client, 'bench_directory_seed');
      if (matches(directory, wantedDirectory)) return 'complete';
      // Users already rewritten by an older or interrupted directory seeding cannot be seeded again in place.
      const touched = await client.query(`select 1 from pg_tables where schemaname = 'public' and tablename = 'bench_directory_user'`);
      return touched.rowCount === 0 ? 'base' : 'missing';
    });
  }
  let baseOrigin = 'reused';
  if (state === 'missing') {
    await withClient(options.serverUrl, (client) =>
      client.query(`drop database if exists ${client.escapeIdentifier(options.database)} with (force)`),
    );
    baseOrigin = (await cloneTemplate(options, wantedBase, log)) ? `cloned from \`${options.template}\`` : 'seeded in this run';
  }
  // Seeds when nothing was cloned; otherwise applies pending migrations and removes what `pnpm bench` runs left in the clone.
  const base = await prepareDatabase(benchOptionsOf(options, options.database, false), log);
  if (base.seededNow) baseOrigin = `seeded in this run in ${base.seedSeconds?.toFixed(0)} s`;
  else if (baseOrigin === 'reused') baseOrigin = `reused (seeded in ${base.seedSeconds?.toFixed(0)} s)`;

  let seededNow = false;
  if (state !== 'complete') {
    await seedDirectory(url, options, wantedDirectory, log);
    seededNow = true;
  } else {
    log(`reusing the directory seeding of ${options.database} (--reseed rebuilds it)`);
  }
  const seed = await withClient(url, async (client) => {
    const { rows } = await client.query<{ counts: DirectorySeed }>('select counts from bench_directory_seed');
    const found = rows[0]?.counts;
    if (!found) throw new TypeError(`${options.database} has no directory seeding: run with --reseed.`);
    return found;
  });
  return { url, base, baseOrigin, seed, seededNow };
}

/** Clones `pnpm bench`'s database when it holds the wanted seed; false when it does not exist, differs, or is in use. */
async function cloneTemplate(options: DirectoryBenchOptions, wanted: WantedSeed, log: (m: string) => void): Promise<boolean> {
  const templateExists = await withClient(options.serverUrl, async (client) => {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [options.template]);
    return rowCount === 1;
  });
  if (!templateExists || options.template === options.database) return false;
  const same = await withClient(withDatabase(options.serverUrl, options.template), async (client) =>
    matches(await seedConfigOf(client, 'bench_seed'), wanted),
  );
  if (!same) {
    log(`${options.template} holds another seed: seeding ${options.database} instead of cloning it`);
    return false;
  }
  try {
    const started = performance.now();
    await withClient(options.serverUrl, (client) =>
      client.query(`create database ${client.escapeIdentifier(options.database)} template ${client.escapeIdentifier(options.template)}`),
    );
    log(`cloned ${options.template} into ${options.database} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    // What `pnpm bench` runs left undispatched is moot: the directory seeding projects the current state.
    await withClient(withDatabase(options.serverUrl, options.database), (client) =>
      client.query('update outbox_event set dispatched_at = now() where dispatched_at is null'),
    );
    return true;
  } catch (error) {
    // 55006: another session is connected to the template (a `pnpm bench` run).
    log(`could not clone ${options.template} (${(error as Error).message}); seeding instead`);
    return false;
  }
}

/** SQL for the text of a jsonb string, trimmed, or null: `str()` of core's accountValuesOf. */
function str(json: string): string {
  return `case when jsonb_typeof(${json}) = 'string' then nullif(btrim(${json} #>> '{}', E' \\t\\n\\r\\f\\x0B'), '') end`;
}

/** SQL for the value of the primary element of a multi-valued attribute, else the work one, else the first (core's primaryValue). */
function primary(list: string): string {
  return `(select ${str("e -> 'value'")}
             from jsonb_array_elements(case when jsonb_typeof(${list}) = 'array' then ${list} else '[]'::jsonb end) with ordinality as x(e, n)
            where jsonb_typeof(e) = 'object' and ${str("e -> 'value'")} is not null
            order by coalesce(e -> 'primary' = 'true'::jsonb, false) desc, coalesce(e -> 'type' = '"work"'::jsonb, false) desc, n
            limit 1)`;
}

/**
 * SQL for what a User's stored attributes `a` contribute to its person: core's
 * accountValuesOf, written out inline (SQL functions that are not inlined cost
 * a call per row and attribute, minutes at a million users).
 */
function accountValuesSql(a: string): string {
  const enterprise = `${a} -> '${ENTERPRISE}'`;
  return `jsonb_strip_nulls(jsonb_build_object(
      'displayName', coalesce(${str(`${a} -> 'displayName'`)}, ${str(`${a} -> 'name' -> 'formatted'`)}),
      'givenName', ${str(`${a} -> 'name' -> 'givenName'`)},
      'familyName', ${str(`${a} -> 'name' -> 'familyName'`)},
      'email', lower(${primary(`${a} -> 'emails'`)}),
      'phoneNumber', ${primary(`${a} -> 'phoneNumbers'`)},
      'title', ${str(`${a} -> 'title'`)},
      'department', ${str(`${enterprise} -> 'department'`)},
      'organization', ${str(`${enterprise} -> 'organization'`)},
      'division', ${str(`${enterprise} -> 'division'`)},
      'costCenter', ${str(`${enterprise} -> 'costCenter'`)},
      'employeeNumber', ${str(`${enterprise} -> 'employeeNumber'`)},
      'manager', case when jsonb_typeof(${enterprise} -> 'manager') = 'object'
                      then ${str(`${enterprise} -> 'manager' -> 'value'`)} else ${str(`${enterprise} -> 'manager'`)} end))`;
}

const ACCOUNT_COLUMNS =
  'tenant_id, user_id, community_id, person_id, link, pinned, user_name, external_id, display_name, active, account_values, manager_user_id, user_version, linked_at, updated_at';

/** Person columns and the account attribute each resolves from (the store's PERSON_COLUMNS). */
const PERSON_COLUMNS: [string, string][] = [
  ['displayName', 'display_name'],
  ['givenName', 'given_name'],
  ['familyName', 'family_name'],
  ['email', 'email'],
  ['phoneNumber', 'phone_number'],
  ['title', 'title'],
  ['department', 'department'],
  ['organization', 'organization'],
  ['division', 'division'],
  ['costCenter', 'cost_center'],
  ['employeeNumber', 'employee_number'],
];

/**
 * The directory seeding, in one transaction (an interrupted run leaves the users' seed as it was).
 *
 * Users. The seed's employeeNumbers are all distinct, so first 20% of the users
 * become a second or third office's account of a person: user i (1..N, in
 * tenant order) with i ≡ 0 (mod 10) takes over the identity (attributes but
 * userName, i.e. name, displayName, emails, department, employeeNumber) of
 * user i + N/2 + 1; i ≡ 5 (mod 10) that of user i + N/2 + 7, or for
 * i ≡ 5 (mod 80) that of user i + N/4 + 6, which already has an account
 * from the first rule (all indexes wrap around N). Every such pair is more
 * than a tenant apart, so a person's accounts are in different offices: 600,000
 * people with one account, 175,000 with two, 12,500 with three at 1,000,000
 * users. Every user that is not such a copy gets a manager in its own
 * office (a tree of fan-out 10 over the tenant's users); copies have none, so
 * the home office alone names the manager. One copy in 1,000 keeps a
 * department of its own: its person gets a department conflict. Every office
 * gets a group per department holding its users of that department.
 *
 * Directory. Then every row the projector would write, computed from the
 * users as they now are, with the community's default rule (employeeNumber):
 * accounts with their values (core's accountValuesOf, in SQL), keys, people
 * resolved from their accounts as core's resolvePerson does with no authority
 * rule and no pin (a value all accounts agree on wins, from the account linked
 * first; else a conflict), managers mapped to their people, direct group
 * memberships. `verifyProjection` then checks a sample against the real projector.
 */
async function seedDirectory(url: string, options: DirectoryBenchOptions, wanted: object, log: (m: string) => void): Promise<void> {
  const started = performance.now();
  const step = async (client: pg.Client, label: string, sql: string, params: unknown[] = []) => {
    const t = performance.now();
    const result = await client.query(sql, params);
    log(`  ${label}: ${result.rowCount ?? 0} rows (${((performance.now() - t) / 1000).toFixed(1)} s)`);
    return result;
  };
  await withClient(url, async (client) => {
    await client.query(`set maintenance_work_mem = '1GB'`);
    await client.query(`set work_mem = '256MB'`);
    await client.query('set synchronous_commit = off');
    const { rows: communities } = await client.query<{ id: string; slug: string }>(`select id, slug from community where slug = 'bench'`);
    const community = communities[0];
    if (!community) throw new TypeError('The seeded database has no community `bench`: run with --reseed.');
    const outside = await client.query(`select 1 from tenant where slug like 'bench-%' and community_id is distinct from $1`, [
      community.id,
    ]);
    if ((outside.rowCount ?? 0) > 0) throw new TypeError('Some bench tenants are not in the community `bench`: run with --reseed.');
    const settings = await client.query('select 1 from directory_settings where community_id = $1', [community.id]);
    if ((settings.rowCount ?? 0) > 0)
      throw new TypeError('The community has directory rules of its own; the seeding assumes the default: --reseed.');
    log(`seeding the global directory of community ${community.slug}`);
    await client.query('begin');
    try {
      const s = shifts(options.users);
      await step(
        client,
        'user map',
        `create table bench_directory_user as
         with u as (
           select substring(external_id from 4)::int as i, id as user_id, tenant_id from scim_user where external_id ~ '^hr-[0-9]+$'
         ), t as (select tenant_id, min(i) as start from u group by tenant_id),
         m as (
           select u.i, u.user_id, u.tenant_id, u.i - t.start as off, t.start,
                  case when u.i % 10 = 0 then (u.i - 1 + $2) % $1 + 1
                       when u.i % 80 = 5 then (u.i - 1 + $4) % $1 + 1
                       when u.i % 10 = 5 then (u.i - 1 + $3) % $1 + 1 end as home_i
             from u join t using (tenant_id)
         )
         select i, user_id, tenant_id, off, home_i, coalesce(home_i, i) as person_i,
                case when home_i is null and off > 0 then start + off / 10 end as manager_i,
                (home_i is not null and i % 1000 = 0) as conflict
           from m`,
        [options.users, s.toClass1, s.toClass2, s.thirdOffice],
      );
      await client.query('alter table bench_directory_user add primary key (i)');
      await client.query('create index on bench_directory_user (user_id)');
      const check = await client.query<{ bad_home: string; same_office: string }>(
        `select (select count(*) from bench_directory_user d join bench_directory_user h on h.i = d.home_i where h.home_i is not null) +
                (select count(*) from bench_directory_user d where d.home_i is not null and not exists (select 1 from bench_directory_user h where h.i = d.home_i)) as bad_home,
                (select count(*) from (select 1 from bench_directory_user group by person_i, tenant_id having count(*) > 1) x) as same_office`,
      );
      if (Number(check.rows[0]?.bad_home) > 0 || Number(check.rows[0]?.same_office) > 0) {
        throw new TypeError(`The person mapping does not fit these sizes: ${JSON.stringify(check.rows[0])}.`);
      }

      // Bulk rewrite: without the secondary indexes and the email-search trigger, rebuilt and refreshed afterwards.
      const { rows: indexes } = await client.query<{ indexname: string; indexdef: string }>(
        `select i.indexname, i.indexdef from pg_indexes i
          where i.schemaname = 'public' and i.tablename = 'scim_user'
            and not exists (select 1 from pg_constraint c where c.conname = i.indexname)`,
      );
      for (const index of indexes) await client.query(`drop index ${client.escapeIdentifier(index.indexname)}`);
      await client.query('alter table scim_user disable trigger scim_user_search_sync');
      await step(
        client,
        'users rewritten (second offices, managers)',
        `update scim_user s set attributes = case
            when d.home_i is not null then
              case when d.conflict
                then jsonb_set(jsonb_set(h.attributes, '{userName}', to_jsonb(s.user_name)), array['${ENTERPRISE}', 'department'], to_jsonb($1::text))
                else jsonb_set(h.attributes, '{userName}', to_jsonb(s.user_name)) end
            else jsonb_set(s.attributes, array['${ENTERPRISE}', 'manager'], jsonb_build_object('value', md.user_id::text)) end
           from bench_directory_user d
           left join bench_directory_user hd on hd.i = d.home_i
           left join scim_user h on h.id = hd.user_id
           left join bench_directory_user md on md.i = d.manager_i
          where s.id = d.user_id and (d.home_i is not null or d.manager_i is not null)`,
        [CONFLICTING_DEPARTMENT],
      );
      await step(
        client,
        'email search keys of the second offices',
        `update scim_user_search x set emails_key = lower((jsonb_path_query_array(s.attributes, '$.emails[*].value'))::text)
           from scim_user s join bench_directory_user d on d.user_id = s.id
          where x.user_id = s.id and d.home_i is not null`,
      );
      await client.query('alter table scim_user enable trigger scim_user_search_sync');
      for (const index of indexes) await client.query(index.indexdef);

      await step(
        client,
        'department groups',
        `insert into scim_group (id, tenant_id, display_name, attributes, version, created_at, updated_at)
         select md5('bench-department-' || t.id || '-' || d.name)::uuid, t.id, d.name || ' (' || t.slug || ')',
                jsonb_build_object('displayName', d.name || ' (' || t.slug || ')'), 1, now(), now()
           from tenant t cross join unnest($1::text[]) as d(name) where t.community_id = $2`,
        [DEPARTMENTS, community.id],
      );
      await step(
        client,
        'department group members',
        `insert into group_member (group_id, member_id, tenant_id, member_type, created_at)
         select md5('bench-department-' || s.tenant_id || '-' || (s.attributes -> '${ENTERPRISE}' ->> 'department'))::uuid, s.id, s.tenant_id, 'User', now()
           from scim_user s join bench_directory_user d on d.user_id = s.id
          where s.attributes -> '${ENTERPRISE}' ->> 'department' = any($1::text[])`,
        [DEPARTMENTS],
      );

      // The directory. Accounts sharing an employeeNumber are one person (the default rule); a person's id is made from that key.
      await step(
        client,
        'accounts',
        `create temp table bench_account as
         select a.tenant_id, a.id as user_id, $1::uuid as community_id, md5('bench-person-' || a.person_key)::uuid as person_id,
                case when count(*) over (partition by a.person_key) > 1 then 'rule:employeeNumber' else 'none' end as link, false as pinned,
                a.user_name, a.external_id, a.vals ->> 'displayName' as display_name, a.active, a.vals as account_values,
                case when a.vals ->> 'manager' ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$' then (a.vals ->> 'manager')::uuid end as manager_user_id,
                a.version as user_version, a.created_at as linked_at, now() as updated_at
           from (select s.*, v.vals,
                        coalesce('employeeNumber:' || (v.vals ->> 'employeeNumber'), 'account:' || s.tenant_id || '/' || s.id) as person_key
                   from scim_user s join tenant t on t.id = s.tenant_id and t.community_id = $1
                  cross join lateral (select ${accountValuesSql('s.attributes')} as vals) v) a`,
        [community.id],
      );
      await client.query('create index on bench_account (tenant_id, user_id)');
      // A person with one account: every value of the account wins, the account is the source of each; its manager's person.
      await step(
        client,
        'people with one account',
        `insert into person (id, community_id, ${PERSON_COLUMNS.map(([, c]) => c).join(', ')}, manager_person_id, active,
                             display_name_key, family_name_key, sources, pinned, conflict_count, version, created_at, updated_at)
         select a.person_id, $1, ${PERSON_COLUMNS.map(([attribute]) => `a.account_values ->> '${attribute}'`).join(', ')},
                case when m.person_id <> a.person_id then m.person_id end, a.active,
                lower(coalesce(a.account_values ->> 'displayName', '')), lower(coalesce(a.account_values ->> 'familyName', '')),
                (select coalesce(jsonb_object_agg(k, jsonb_build_object('tenantId', a.tenant_id, 'userId', a.user_id)), '{}')
                   from jsonb_object_keys(a.account_values) k),
                '{}', 0, 1, a.linked_at, now()
           from bench_account a
           left join bench_account m on m.tenant_id = a.tenant_id and m.user_id::text = a.account_values ->> 'manager'
          where a.link = 'none'`,
        [community.id],
      );
      // People with several accounts: every value each account proposes, in link order; a manager as its person (or tenant/user when not in the directory).
      await step(
        client,
        'candidate values',
        `create temp table bench_candidate as
         select a.person_id, kv.key as attribute, a.tenant_id, a.user_id, a.linked_at,
                case when kv.key = 'manager' then coalesce(m.person_id::text, a.tenant_id::text || '/' || (kv.value #>> '{}'))
                     else kv.value #>> '{}' end as value
           from bench_account a
          cross join lateral jsonb_each(a.account_values) kv
           left join bench_account m on kv.key = 'manager' and m.tenant_id = a.tenant_id and m.user_id::text = kv.value #>> '{}'
          where a.link <> 'none'`,
      );
      await step(
        client,
        'resolved values',
        `create temp table bench_resolved as
         select person_id, attribute,
                count(distinct case when attribute = 'displayName' then value else lower(value) end) = 1 as agreed,
                (array_agg(value order by linked_at, user_id))[1] as value,
                (array_agg(jsonb_build_object('tenantId', tenant_id, 'userId', user_id) order by linked_at, user_id))[1] as source,
                jsonb_agg(jsonb_build_object('tenantId', tenant_id, 'userId', user_id, 'value', value) order by linked_at, user_id) as candidates
           from bench_candidate group by person_id, attribute`,
      );
      await client.query('create index on bench_resolved (person_id)');
      // Unquoted identifiers fold to lower case: the resolved values are named by the lower-cased attribute.
      const value = (attribute: string) =>
        `max(r.value) filter (where r.attribute = '${attribute}' and r.agreed) as ${attribute.toLowerCase()}`;
      const resolved = (attribute: string) => `r.${attribute.toLowerCase()}`;
      await step(
        client,
        'people with several accounts',
        `insert into person (id, community_id, ${PERSON_COLUMNS.map(([, c]) => c).join(', ')}, manager_person_id, active,
                             display_name_key, family_name_key, sources, pinned, conflict_count, version, created_at, updated_at)
         select p.person_id, $1, ${PERSON_COLUMNS.map(([a]) => resolved(a)).join(', ')},
                case when r.manager ~* '^[0-9a-f-]{36}$' and r.manager <> p.person_id::text then r.manager::uuid end,
                p.active, lower(coalesce(r.displayname, '')), lower(coalesce(r.familyname, '')), r.sources, '{}', r.conflicts, 1,
                p.created_at, now()
           from (select person_id, bool_or(active) as active, min(linked_at) as created_at from bench_account
                  where link <> 'none' group by person_id) p
           join (select r.person_id, ${[...PERSON_COLUMNS.map(([a]) => a), 'manager'].map(value).join(', ')},
                        coalesce(jsonb_object_agg(r.attribute, r.source) filter (where r.agreed), '{}') as sources,
                        count(*) filter (where not r.agreed) as conflicts
                   from bench_resolved r group by r.person_id) r on r.person_id = p.person_id`,
        [community.id],
      );
      await step(
        client,
        'directory_account',
        `insert into directory_account (${ACCOUNT_COLUMNS}) select ${ACCOUNT_COLUMNS} from bench_account`,
      );
      await step(
        client,
        'directory_account_key',
        `insert into directory_account_key (community_id, key, tenant_id, user_id)
         select community_id, 'employeeNumber:' || (account_values ->> 'employeeNumber'), tenant_id, user_id
           from bench_account where account_values ? 'employeeNumber'`,
      );
      await step(
        client,
        'directory_conflict',
        `insert into directory_conflict (id, community_id, kind, person_id, attribute, tenant_id, user_id, candidates, created_at, updated_at)
         select md5('bench-conflict-' || person_id || '-' || attribute)::uuid, $1, 'attribute', person_id, attribute, null, null, candidates, now(), now()
           from bench_resolved where not agreed`,
        [community.id],
      );
      await step(
        client,
        'directory_account_group',
        `insert into directory_account_group (tenant_id, user_id, group_id, community_id, display_name)
         select m.tenant_id, m.member_id, m.group_id, $1, g.display_name
           from group_member m join scim_group g on g.id = m.group_id join tenant t on t.id = m.tenant_id and t.community_id = $1
          where m.member_type = 'User'`,
        [community.id],
      );
      const { rows: counted } = await client.query<{
        people: string;
        accounts: string;
        by_accounts: Record<string, number>;
        with_manager: string;
        groups: string;
        conflicts: string;
      }>(
        `select (select count(*) from person where community_id = $1) as people,
                (select count(*) from directory_account where community_id = $1) as accounts,
                (select jsonb_object_agg(n, people) from (select n, count(*) as people from
                   (select count(*) as n from directory_account where community_id = $1 group by person_id) x group by n) y) as by_accounts,
                (select count(*) from person where community_id = $1 and manager_person_id is not null) as with_manager,
                (select count(*) from directory_account_group where community_id = $1) as groups,
                (select count(*) from directory_conflict where community_id = $1) as conflicts`,
        [community.id],
      );
      const c = counted[0];
      const seed: DirectorySeed = {
        communityId: community.id,
        communitySlug: community.slug,
        people: Number(c?.people),
        accounts: Number(c?.accounts),
        peopleByAccounts: c?.by_accounts ?? {},
        withManager: Number(c?.with_manager),
        accountGroups: Number(c?.groups),
        conflicts: Number(c?.conflicts),
        seconds: 0,
      };
      await client.query('drop table bench_account, bench_candidate, bench_resolved');
      await client.query('create table bench_directory_seed (config jsonb not null, counts jsonb not null, verification jsonb)');
      await client.query('insert into bench_directory_seed (config, counts) values ($1, $2)', [
        JSON.stringify(wanted),
        JSON.stringify(seed),
      ]);
      await client.query('commit');
      log('  committed; vacuum analyze');
    } catch (error) {
      await client.query('rollback').catch(() => {});
      throw error;
    }
    await client.query(
      'vacuum (analyze) scim_user, scim_user_search, scim_group, group_member, person, directory_account, directory_account_key, directory_account_group, directory_conflict',
    );
    const seconds = (performance.now() - started) / 1000;
    await client.query(`update bench_directory_seed set counts = jsonb_set(counts, '{seconds}', to_jsonb($1::float8))`, [seconds]);
    log(`directory seeded in ${seconds.toFixed(0)} s`);
  });
}
