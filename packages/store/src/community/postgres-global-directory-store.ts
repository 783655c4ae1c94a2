import {
  type AccountFacts,
  type AccountValues,
  accountValuesOf,
  type Clock,
  type CorrelationAttribute,
  correlationKeys,
  DEFAULT_CORRELATION,
  type DirectoryAccount,
  type DirectoryAccountGroup,
  type DirectoryConflict,
  type DirectoryExport,
  type DirectoryExportCounts,
  type DirectoryExportStore,
  type DirectoryRules,
  type ExportOutcome,
  type ExportWork,
  type GlobalDirectoryStore,
  MeridianError,
  type Page,
  type PeopleQuery,
  type Person,
  type PersonAttribute,
  type ProjectionStep,
  type RequestContext,
  resolvePerson,
  ruleOfKey,
} from '@meridian/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { v7 as uuidv7 } from 'uuid';
import { decodeCursor, encodeCursor } from '../admin/cursor.js';
import { recordEvent } from '../events/event-recorder.js';
import { translateDatabaseError } from '../orm/database-errors.js';
import { forkForCommunity, forkForPlatform, pgArray } from '../orm/sql.js';
import { decodePeopleCursor, encodePeopleCursor, personFilterSql, SORT_COLUMNS } from './people-query.js';

type AccountRef = { tenantId: string; userId: string };

interface PersonRow {
  id: string;
  community_id: string;
  display_name: string | null;
  given_name: string | null;
  family_name: string | null;
  email: string | null;
  phone_number: string | null;
  title: string | null;
  department: string | null;
  organization: string | null;
  division: string | null;
  cost_center: string | null;
  employee_number: string | null;
  manager_person_id: string | null;
  active: boolean;
  sources: Person['sources'];
  pinned: Person['pinned'];
  conflict_count: number;
  version: number;
  created_at: Date;
  updated_at: Date;
  sort_key?: string | Date;
}

interface AccountRow {
  tenant_id: string;
  user_id: string;
  community_id: string;
  person_id: string;
  link: string;
  pinned: boolean;
  user_name: string;
  external_id: string | null;
  display_name: string | null;
  active: boolean;
  account_values: AccountValues;
  user_version: number;
  linked_at: Date;
  updated_at: Date;
}

/** Person attributes and their columns (the manager is stored as its person). */
const PERSON_COLUMNS: [Exclude<PersonAttribute, 'manager'>, string][] = [
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

const PERSON_SELECT = `p.id, p.community_id, ${PERSON_COLUMNS.map(([, c]) => `p.${c}`).join(', ')}, p.manager_person_id, p.active,
  p.sources, p.pinned, p.conflict_count, p.version, p.created_at, p.updated_at`;

function toPerson(row: PersonRow): Person {
  const values: Person['values'] = {};
  for (const [attribute, column] of PERSON_COLUMNS) {
    const value = row[column as keyof PersonRow];
    if (typeof value === 'string') values[attribute] = value;
  }
  return {
    id: row.id,
    communityId: row.community_id,
    values,
    managerPersonId: row.manager_person_id,
    active: row.active,
    sources: row.sources ?? {},
    pinned: row.pinned ?? {},
    conflictCount: row.conflict_count,
    version: row.version,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

function toAccount(row: AccountRow): DirectoryAccount {
  return {
    tenantId: row.tenant_id,
    userId: row.user_id,
    communityId: row.community_id,
    personId: row.person_id,
    link: row.link as DirectoryAccount['link'],
    pinned: row.pinned,
    userName: row.user_name,
    externalId: row.external_id,
    displayName: row.display_name,
    active: row.active,
    values: row.account_values ?? {},
    userVersion: row.user_version,
    linkedAt: new Date(row.linked_at),
    updatedAt: new Date(row.updated_at),
  };
}

function toFacts(account: DirectoryAccount): AccountFacts {
  return {
    tenantId: account.tenantId,
    userId: account.userId,
    userName: account.userName,
    externalId: account.externalId,
    active: account.active,
    values: account.values,
    linkedAt: account.linkedAt,
  };
}

interface ExportRow {
  id: string;
  community_id: string;
  name: string;
  kind: string;
  config: Record<string, unknown>;
  secret_names: string[] | null;
  enabled: boolean;
  created_at: Date;
  updated_at: Date;
}

const EXPORT_SELECT = 'id, community_id, name, kind, config, secret_names, enabled, created_at, updated_at';

function toExport(row: ExportRow): DirectoryExport {
  return {
    id: row.id,
    communityId: row.community_id,
    name: row.name,
    kind: row.kind,
    config: row.config ?? {},
    secretNames: row.secret_names ?? [],
    enabled: row.enabled,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

const ACCOUNT_SELECT = `a.tenant_id, a.user_id, a.community_id, a.person_id, a.link, a.pinned, a.user_name, a.external_id,
  a.display_name, a.active, a.account_values, a.user_version, a.linked_at, a.updated_at`;

/** Two uuid arrays, bound as single parameters, for `unnest(?::uuid[], ?::uuid[])`. */
function refArrays(refs: readonly AccountRef[]): [string, string] {
  return [pgArray(refs.map((r) => r.tenantId)), pgArray(refs.map((r) => r.userId))];
}

const PROJECTION_RETRY_MS = [1_000, 5_000, 30_000, 120_000, 600_000];
/** A manager reference that can name a User (its id); anything else names no account. */
const UUID_TEXT = /^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$/i;

/** The rules as a projection step reads them, with whether the community exports its directory. */
type ProjectionRules = DirectoryRules & { exporting: boolean };

/**
 * Joins data-modifying statements into one (`with a as (...), b as (...) select 1`), leaving out the parts a
 * call does not need, so PostgreSQL plans only what runs. Every part runs, referenced or not.
 */
function statementOf(parts: readonly (StatementPart | false | undefined)[]): { sql: string; params: unknown[] } {
  const used = parts.filter((p): p is StatementPart => Boolean(p));
  return {
    sql: `with ${used.map((p, i) => `${p.name ?? `s${i}`} as (${p.sql})`).join(',\n')}\nselect 1`,
    params: used.flatMap((p) => p.params),
  };
}

/** One part of {@link statementOf}; `name` when a later part reads what it returns. */
interface StatementPart {
  name?: string;
  sql: string;
  params: unknown[];
}

/** Inbox entries projected in one transaction. */
const PROJECTION_BATCH = 50;

interface InboxEntry {
  tenant_id: string;
  resource_type: 'User' | 'Group';
  resource_id: string;
  community_id: string;
  enqueued_at: Date;
  attempts?: number;
}

/**
 * The global directory in PostgreSQL (ADR 0015). Reads run in a transaction
 * of the community (`forkForCommunity`): row-level security shows that
 * community's directory and nothing else. The projection and the admin writes
 * run as platform work, because they read tenant tables and write the audit
 * chains; each statement names its community.
 */
export class PostgresGlobalDirectoryStore implements GlobalDirectoryStore, DirectoryExportStore {
  /** `onProjectionError` hears of each entry whose projection failed (it is retried later). */
  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
    private readonly onProjectionError?: (entry: { tenant_id: string; resource_type: string; resource_id: string }, error: unknown) => void,
  ) {}

  private async community<T>(communityId: string, work: (em: EntityManager) => Promise<T>): Promise<T> {
    try {
      return await forkForCommunity(this.orm, communityId).transactional(work);
    } catch (error) {
      throw translateDatabaseError(error);
    }
  }

  private async platform<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    try {
      return await forkForPlatform(this.orm).transactional(work);
    } catch (error) {
      throw translateDatabaseError(error);
    }
  }

  // ---- rules ---------------------------------------------------------------------------------------------------------

  private async loadRules(em: EntityManager, communityId: string): Promise<DirectoryRules> {
    const [row] = await em.execute<{ correlation: string[]; authority: DirectoryRules['authority'] }[]>(
      'select correlation, authority from directory_settings where community_id = ?',
      [communityId],
    );
    return row
      ? { correlation: row.correlation as CorrelationAttribute[], authority: row.authority ?? {} }
      : { correlation: [...DEFAULT_CORRELATION], authority: {} };
  }

  /** The rules, and whether the community exports its directory: what a projection step needs to know, in one read. */
  private async projectionRules(em: EntityManager, communityId: string): Promise<ProjectionRules> {
    const [row] = await em.execute<{ correlation: string[] | null; authority: DirectoryRules['authority'] | null; exporting: boolean }[]>(
      `select s.correlation, s.authority, exists (select 1 from directory_export e where e.community_id = ? and e.enabled) as exporting
       from (select 1) as one left join directory_settings s on s.community_id = ?`,
      [communityId, communityId],
    );
    return {
      correlation: (row?.correlation as CorrelationAttribute[] | null) ?? [...DEFAULT_CORRELATION],
      authority: row?.authority ?? {},
      exporting: row?.exporting === true,
    };
  }

  rules(communityId: string): Promise<DirectoryRules> {
    return this.community(communityId, (em) => this.loadRules(em, communityId));
  }

  async setRules(communityId: string, rules: DirectoryRules, context: RequestContext): Promise<DirectoryRules> {
    const now = this.clock.now();
    return this.platform(async (em) => {
      const before = await this.loadRules(em, communityId);
      await em.execute(
        `insert into directory_settings (community_id, correlation, authority, updated_at) values (?, ?::text[], ?, ?)
         on conflict (community_id) do update set correlation = excluded.correlation, authority = excluded.authority, updated_at = excluded.updated_at`,
        [communityId, pgArray(rules.correlation), JSON.stringify(rules.authority), now],
      );
      await recordEvent(
        em,
        {
          type: 'directory.rules_changed',
          tenantId: null,
          resourceType: 'Community',
          resourceId: communityId,
          before: { ...before },
          after: { ...rules },
        },
        context,
        now,
      );
      // Every account is correlated and resolved again under the new rules.
      await this.enqueueAll(em, communityId, now, 'User');
      return rules;
    });
  }

  // ---- reads ---------------------------------------------------------------------------------------------------------

  people(communityId: string, query: PeopleQuery): Promise<Page<Person>> {
    return this.community(communityId, async (em) => {
      const params: unknown[] = [communityId];
      const where: string[] = ['p.community_id = ?'];
      const w = query.where ?? {};
      const like = (v: string) => `%${v.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      if (w.displayNameContains !== undefined) {
        where.push('p.display_name_key like ?');
        params.push(like(w.displayNameContains));
      }
      if (w.familyName !== undefined) {
        where.push('p.family_name_key = ?');
        params.push(w.familyName.toLowerCase());
      }
      for (const [key, column] of [
        ['department', 'department'],
        ['title', 'title'],
        ['email', 'email'],
      ] as const) {
        const value = w[key];
        if (value !== undefined) {
          where.push(`lower(p.${column}) = ?`);
          params.push(value.toLowerCase());
        }
      }
      if (w.employeeNumber !== undefined) {
        where.push('p.employee_number = ?');
        params.push(w.employeeNumber);
      }
      if (w.active !== undefined) {
        where.push('p.active = ?');
        params.push(w.active);
      }
      if (w.hasConflicts !== undefined) where.push(w.hasConflicts ? 'p.conflict_count > 0' : 'p.conflict_count = 0');
      if (w.tenantId !== undefined) {
        where.push('exists (select 1 from directory_account a where a.person_id = p.id and a.tenant_id = ?)');
        params.push(w.tenantId);
      }
      if (query.filter) where.push(personFilterSql(query.filter, params));
      const countParams = [...params];
      const sort = SORT_COLUMNS[query.sortBy];
      const direction = query.descending ? 'desc' : 'asc';
      if (query.after) {
        const cursor = decodePeopleCursor(query.after, query);
        where.push(`(${sort.sql}, p.id) ${query.descending ? '<' : '>'} (?, ?)`);
        params.push(sort.time ? new Date(cursor.k) : cursor.k, cursor.id);
      }
      params.push(query.first + 1);
      const rows = await em.execute<PersonRow[]>(
        `select ${PERSON_SELECT}, ${sort.sql} as sort_key from person p where ${where.join(' and ')}
         order by ${sort.sql} ${direction}, p.id ${direction} limit ?`,
        params,
      );
      const items = rows.slice(0, query.first);
      let totalCount = -1;
      if (query.withTotalCount) {
        const whereWithoutCursor = query.after ? where.slice(0, -1) : where;
        const [count] = await em.execute<{ n: string }[]>(
          `select count(*) as n from person p where ${whereWithoutCursor.join(' and ')}`,
          countParams,
        );
        totalCount = Number(count?.n ?? 0);
      }
      const cursors = items.map((row) =>
        encodePeopleCursor({
          s: query.sortBy,
          d: query.descending,
          k: row.sort_key instanceof Date ? row.sort_key.toISOString() : String(row.sort_key ?? ''),
          id: row.id,
        }),
      );
      return {
        items: items.map(toPerson),
        cursors,
        totalCount,
        endCursor: cursors.at(-1) ?? null,
        hasNextPage: rows.length > query.first,
      };
    });
  }

  peopleByIds(communityId: string, ids: readonly string[]): Promise<Person[]> {
    const valid = ids.filter((id) => /^[0-9a-f-]{36}$/i.test(id));
    if (valid.length === 0) return Promise.resolve([]);
    return this.community(communityId, async (em) =>
      (
        await em.execute<PersonRow[]>(`select ${PERSON_SELECT} from person p where p.community_id = ? and p.id = any(?::uuid[])`, [
          communityId,
          pgArray(valid),
        ])
      ).map(toPerson),
    );
  }

  accountsOfPeople(communityId: string, personIds: readonly string[]): Promise<DirectoryAccount[]> {
    if (personIds.length === 0) return Promise.resolve([]);
    return this.community(communityId, async (em) =>
      (
        await em.execute<AccountRow[]>(
          `select ${ACCOUNT_SELECT} from directory_account a where a.community_id = ? and a.person_id = any(?::uuid[])
           order by a.linked_at, a.user_id`,
          [communityId, pgArray([...personIds])],
        )
      ).map(toAccount),
    );
  }

  async accountByUserName(communityId: string, tenantId: string, userName: string): Promise<DirectoryAccount | undefined> {
    const [row] = await this.community(communityId, (em) =>
      em.execute<AccountRow[]>(
        `select ${ACCOUNT_SELECT} from directory_account a where a.community_id = ? and a.tenant_id = ? and lower(a.user_name) = lower(?)`,
        [communityId, tenantId, userName],
      ),
    );
    return row ? toAccount(row) : undefined;
  }

  accounts(communityId: string, refs: readonly AccountRef[]): Promise<DirectoryAccount[]> {
    if (refs.length === 0) return Promise.resolve([]);
    return this.community(communityId, async (em) =>
      (
        await em.execute<AccountRow[]>(
          `select ${ACCOUNT_SELECT} from directory_account a
           join unnest(?::uuid[], ?::uuid[]) as r(tenant_id, user_id) on r.tenant_id = a.tenant_id and r.user_id = a.user_id
           where a.community_id = ?`,
          [...refArrays(refs), communityId],
        )
      ).map(toAccount),
    );
  }

  groupsOfAccounts(communityId: string, refs: readonly AccountRef[]): Promise<DirectoryAccountGroup[]> {
    if (refs.length === 0) return Promise.resolve([]);
    return this.community(communityId, async (em) =>
      (
        await em.execute<{ tenant_id: string; user_id: string; group_id: string; display_name: string }[]>(
          `select g.tenant_id, g.user_id, g.group_id, g.display_name from directory_account_group g
           join unnest(?::uuid[], ?::uuid[]) as r(tenant_id, user_id) on r.tenant_id = g.tenant_id and r.user_id = g.user_id
           where g.community_id = ? order by g.display_name, g.group_id`,
          [...refArrays(refs), communityId],
        )
      ).map((r) => ({ tenantId: r.tenant_id, userId: r.user_id, groupId: r.group_id, displayName: r.display_name })),
    );
  }

  conflicts(
    communityId: string,
    page: { first: number; after?: string | undefined; personIds?: readonly string[] },
  ): Promise<Page<DirectoryConflict>> {
    return this.community(communityId, async (em) => {
      const where = ['c.community_id = ?'];
      const params: unknown[] = [communityId];
      if (page.personIds) {
        where.push('c.person_id = any(?::uuid[])');
        params.push(pgArray([...page.personIds]));
      }
      const countParams = [...params];
      if (page.after) {
        const cursor = decodeCursor(page.after);
        where.push('(c.created_at, c.id) > (?, ?)');
        params.push(new Date(cursor.t), cursor.id);
      }
      params.push(page.first + 1);
      const rows = await em.execute<
        {
          id: string;
          community_id: string;
          kind: 'attribute' | 'correlation';
          person_id: string | null;
          attribute: PersonAttribute | null;
          tenant_id: string | null;
          user_id: string | null;
          candidates: DirectoryConflict['candidates'];
          created_at: Date;
          updated_at: Date;
        }[]
      >(
        `select c.id, c.community_id, c.kind, c.person_id, c.attribute, c.tenant_id, c.user_id, c.candidates, c.created_at, c.updated_at
         from directory_conflict c where ${where.join(' and ')} order by c.created_at, c.id limit ?`,
        params,
      );
      const [count] = await em.execute<{ n: string }[]>(
        `select count(*) as n from directory_conflict c where ${where.slice(0, page.after ? -1 : undefined).join(' and ')}`,
        countParams,
      );
      const items = rows.slice(0, page.first).map((r) => ({
        id: r.id,
        communityId: r.community_id,
        kind: r.kind,
        personId: r.person_id,
        attribute: r.attribute,
        tenantId: r.tenant_id,
        userId: r.user_id,
        candidates: r.candidates,
        createdAt: new Date(r.created_at),
        updatedAt: new Date(r.updated_at),
      }));
      const cursors = items.map((c) => encodeCursor({ t: c.createdAt.toISOString(), id: c.id }));
      return {
        items,
        cursors,
        totalCount: Number(count?.n ?? 0),
        endCursor: cursors.at(-1) ?? null,
        hasNextPage: rows.length > page.first,
      };
    });
  }

  // ---- admin writes --------------------------------------------------------------------------------------------------

  private async lockCommunity(em: EntityManager, communityId: string): Promise<void> {
    await em.execute('select pg_advisory_xact_lock(hashtextextended(?, 7))', [`directory:${communityId}`]);
  }

  private async accountRow(em: EntityManager, communityId: string, ref: AccountRef): Promise<AccountRow> {
    const [row] = await em.execute<AccountRow[]>(
      `select ${ACCOUNT_SELECT} from directory_account a where a.community_id = ? and a.tenant_id = ? and a.user_id = ?`,
      [communityId, ref.tenantId, ref.userId],
    );
    if (!row) throw new MeridianError('NOT_FOUND', 'The account is not in the global directory (yet).', { field: 'account' });
    return row;
  }

  link(communityId: string, account: AccountRef, personId: string, context: RequestContext): Promise<string> {
    return this.place(communityId, account, personId, context);
  }

  unlink(communityId: string, account: AccountRef, context: RequestContext): Promise<string> {
    return this.place(communityId, account, 'new', context);
  }

  /**
   * Puts an account by hand into a person (`'new'`: one of its own), pinned so
   * the rules leave it there; settles its correlation conflict, resolves both
   * people again, and audits the move in the account's tenant chain.
   */
  private async place(communityId: string, account: AccountRef, target: string | 'new', context: RequestContext): Promise<string> {
    const now = this.clock.now();
    return this.platform(async (em) => {
      await this.lockCommunity(em, communityId);
      const row = await this.accountRow(em, communityId, account);
      let personId = target;
      if (target === 'new') {
        personId = uuidv7();
        await this.insertEmptyPerson(em, communityId, personId, now);
      } else {
        const [person] = await em.execute<{ id: string }[]>('select id from person where community_id = ? and id = ?', [
          communityId,
          target,
        ]);
        if (!person) throw new MeridianError('NOT_FOUND', `Person '${target}' not found.`, { field: 'person' });
      }
      await this.moveAccount(em, row, personId, 'manual', true, now);
      await em.execute("delete from directory_conflict where kind = 'correlation' and tenant_id = ? and user_id = ?", [
        account.tenantId,
        account.userId,
      ]);
      await this.recompute(em, communityId, [row.person_id, personId], await this.projectionRules(em, communityId), now);
      await this.recordAccountEvent(
        em,
        target === 'new' ? 'directory.unlinked' : 'directory.linked',
        account,
        { personId: row.person_id },
        { personId, link: 'manual' },
        context,
        now,
      );
      return personId;
    });
  }

  async release(communityId: string, account: AccountRef, context: RequestContext): Promise<void> {
    const now = this.clock.now();
    await this.platform(async (em) => {
      const row = await this.accountRow(em, communityId, account);
      await em.execute('update directory_account set pinned = false, updated_at = ? where tenant_id = ? and user_id = ?', [
        now,
        account.tenantId,
        account.userId,
      ]);
      await this.enqueue(em, [{ tenantId: account.tenantId, kind: 'User', id: account.userId, communityId }], now);
      await this.recordAccountEvent(em, 'directory.released', account, { pinned: row.pinned }, { pinned: false }, context, now);
    });
  }

  async pin(
    communityId: string,
    personId: string,
    attribute: PersonAttribute,
    tenantId: string | null,
    context: RequestContext,
  ): Promise<void> {
    const now = this.clock.now();
    await this.platform(async (em) => {
      await this.lockCommunity(em, communityId);
      const [row] = await em.execute<{ pinned: Person['pinned'] }[]>(
        'select pinned from person where community_id = ? and id = ? for update',
        [communityId, personId],
      );
      if (!row) throw new MeridianError('NOT_FOUND', `Person '${personId}' not found.`, { field: 'person' });
      if (tenantId !== null) {
        const [has] = await em.execute<{ n: string }[]>(
          'select count(*) as n from directory_account where person_id = ? and tenant_id = ?',
          [personId, tenantId],
        );
        if (Number(has?.n ?? 0) === 0) {
          throw new MeridianError('INVALID_INPUT', 'The person has no account in that tenant.', { field: 'tenant' });
        }
      }
      const pinned = { ...(row.pinned ?? {}) };
      if (tenantId === null) delete pinned[attribute];
      else pinned[attribute] = tenantId;
      await em.execute('update person set pinned = ? where id = ?', [JSON.stringify(pinned), personId]);
      await this.recompute(em, communityId, [personId], await this.projectionRules(em, communityId), now);
      await recordEvent(
        em,
        {
          type: 'directory.pinned',
          tenantId: null,
          resourceType: 'Person',
          resourceId: personId,
          before: { pinned: row.pinned ?? {} },
          after: { pinned },
        },
        context,
        now,
      );
    });
  }

  private async recordAccountEvent(
    em: EntityManager,
    type: 'directory.linked' | 'directory.unlinked' | 'directory.released',
    account: AccountRef,
    before: Record<string, unknown>,
    after: Record<string, unknown>,
    context: RequestContext,
    now: Date,
  ): Promise<void> {
    // In the account's tenant chain: the office sees who moved its account, and when.
    await recordEvent(
      em,
      { type, tenantId: account.tenantId, resourceType: 'User', resourceId: account.userId, before, after },
      context,
      now,
    );
  }

  // ---- projection ----------------------------------------------------------------------------------------------------

  private async enqueue(
    em: EntityManager,
    items: readonly { tenantId: string; kind: 'User' | 'Group'; id: string; communityId: string }[],
    now: Date,
  ): Promise<void> {
    if (items.length === 0) return;
    await em.execute(
      `insert into directory_inbox (tenant_id, resource_type, resource_id, community_id, enqueued_at, not_before)
       select e.tenant_id, e.kind, e.id, e.community_id, ?, ? from unnest(?::uuid[], ?::text[], ?::uuid[], ?::uuid[]) as e(tenant_id, kind, id, community_id)
       on conflict (tenant_id, resource_type, resource_id) do update set not_before = least(directory_inbox.not_before, excluded.not_before), attempts = 0`,
      [
        now,
        now,
        pgArray(items.map((i) => i.tenantId)),
        pgArray(items.map((i) => i.kind)),
        pgArray(items.map((i) => i.id)),
        pgArray(items.map((i) => i.communityId)),
      ],
    );
  }

  private async enqueueAll(em: EntityManager, communityId: string, now: Date, kind?: 'User' | 'Group'): Promise<number> {
    const parts: string[] = [];
    if (kind !== 'Group')
      parts.push("select u.tenant_id, 'User' as kind, u.id from scim_user u join tenant t on t.id = u.tenant_id where t.community_id = ?");
    if (kind !== 'User')
      parts.push(
        "select g.tenant_id, 'Group' as kind, g.id from scim_group g join tenant t on t.id = g.tenant_id where t.community_id = ?",
      );
    const rows = await em.execute<{ n: string }[]>(
      `with queued as (
         insert into directory_inbox (tenant_id, resource_type, resource_id, community_id, enqueued_at, not_before)
         select r.tenant_id, r.kind, r.id, ?, ?, ? from (${parts.join(' union all ')}) r
         on conflict (tenant_id, resource_type, resource_id) do update set not_before = least(directory_inbox.not_before, excluded.not_before), attempts = 0
         returning 1
       ) select count(*) as n from queued`,
      [communityId, now, now, ...parts.map(() => communityId)],
    );
    return Number(rows[0]?.n ?? 0);
  }

  enqueueCommunity(communityId: string, now: Date): Promise<number> {
    return this.platform((em) => this.enqueueAll(em, communityId, now));
  }

  async pendingProjections(communityId?: string): Promise<number> {
    const [row] = await this.platform((em) =>
      em.execute<{ n: string }[]>(
        `select count(*) as n from directory_inbox${communityId ? ' where community_id = ?' : ''}`,
        communityId ? [communityId] : [],
      ),
    );
    return Number(row?.n ?? 0);
  }

  async projectDue(limit: number, now: Date): Promise<ProjectionStep[]> {
    const steps: ProjectionStep[] = [];
    while (steps.length < limit) {
      const size = Math.min(PROJECTION_BATCH, limit - steps.length);
      let batch: InboxEntry[];
      try {
        batch = await this.platform((em) => this.projectBatch(em, this.claim(em, now, size)));
      } catch {
        // One entry of the batch fails: project them one by one, so that only that one waits.
        batch = await this.projectSingly(now, size);
      }
      if (batch.length === 0) break;
      steps.push(...batch.map((e) => ({ tenantId: e.tenant_id, kind: e.resource_type, resourceId: e.resource_id })));
      if (batch.length < size) break;
    }
    return steps;
  }

  /** Claims (removes) up to `size` due entries; a rollback puts them back. Other projectors skip them meanwhile. */
  private claim(em: EntityManager, now: Date, size: number): Promise<InboxEntry[]> {
    return em.execute<InboxEntry[]>(
      `delete from directory_inbox where (tenant_id, resource_type, resource_id) in (
         select tenant_id, resource_type, resource_id from directory_inbox where not_before <= ?
         order by not_before, enqueued_at limit ? for update skip locked)
       returning tenant_id, resource_type, resource_id, community_id, enqueued_at`,
      [now, size],
    );
  }

  /**
   * Projects claimed entries in one transaction. Communities are locked once
   * each, in id order (so two projectors never wait on each other in a
   * cycle), and their rules read once; within a community, entries keep the
   * order they were queued in.
   */
  private async projectBatch(em: EntityManager, claimed: Promise<InboxEntry[]>): Promise<InboxEntry[]> {
    const entries = await claimed;
    const ordered = [...entries].sort(
      (a, b) =>
        (a.community_id < b.community_id ? -1 : a.community_id > b.community_id ? 1 : 0) ||
        +new Date(a.enqueued_at) - +new Date(b.enqueued_at),
    );
    const rules = new Map<string, ProjectionRules>();
    for (const entry of ordered) {
      if (entry.resource_type === 'Group') {
        await this.projectGroup(em, entry.community_id, entry.tenant_id, entry.resource_id);
        continue;
      }
      let communityRules = rules.get(entry.community_id);
      if (!communityRules) {
        await this.lockCommunity(em, entry.community_id);
        communityRules = await this.projectionRules(em, entry.community_id);
        rules.set(entry.community_id, communityRules);
      }
      await this.projectUser(em, entry.community_id, entry.tenant_id, entry.resource_id, communityRules, this.clock.now());
    }
    return entries;
  }

  /** Projects up to `size` entries one transaction each; a failing entry is tried again later, with growing delays. */
  private async projectSingly(now: Date, size: number): Promise<InboxEntry[]> {
    const done: InboxEntry[] = [];
    const failed = new Set<string>();
    while (done.length < size) {
      let entry: InboxEntry | undefined;
      let error: unknown;
      await this.platform(async (em) => {
        const skip = [...failed];
        [entry] = await em.execute<InboxEntry[]>(
          `select tenant_id, resource_type, resource_id, community_id, enqueued_at, attempts from directory_inbox
           where not_before <= ? and not ((tenant_id::text || '/' || resource_type || '/' || resource_id::text) = any(?::text[]))
           order by not_before, enqueued_at limit 1 for update skip locked`,
          [now, pgArray(skip)],
        );
        if (!entry) return;
        try {
          await em.transactional((inner) => this.projectBatch(inner, Promise.resolve([entry as InboxEntry])));
          await em.execute('delete from directory_inbox where tenant_id = ? and resource_type = ? and resource_id = ?', [
            entry.tenant_id,
            entry.resource_type,
            entry.resource_id,
          ]);
        } catch (caught) {
          // The savepoint rolled back the projection; the entry stays, due later.
          error = caught;
          const delay = PROJECTION_RETRY_MS[Math.min(entry.attempts ?? 0, PROJECTION_RETRY_MS.length - 1)] ?? 600_000;
          await em.execute(
            `update directory_inbox set attempts = attempts + 1, last_error = ?, not_before = ?
             where tenant_id = ? and resource_type = ? and resource_id = ?`,
            [
              (caught instanceof Error ? caught.message : String(caught)).slice(0, 500),
              new Date(now.getTime() + delay),
              entry.tenant_id,
              entry.resource_type,
              entry.resource_id,
            ],
          );
        }
      });
      if (!entry) break;
      const claimed = entry as InboxEntry;
      if (error === undefined) done.push(claimed);
      else {
        failed.add(`${claimed.tenant_id}/${claimed.resource_type}/${claimed.resource_id}`);
        this.onProjectionError?.(claimed, error);
      }
    }
    return done;
  }

  private async projectGroup(em: EntityManager, communityId: string, tenantId: string, groupId: string): Promise<void> {
    const [group] = await em.execute<{ display_name: string }[]>('select display_name from scim_group where tenant_id = ? and id = ?', [
      tenantId,
      groupId,
    ]);
    if (!group) {
      await em.execute('delete from directory_account_group where tenant_id = ? and group_id = ?', [tenantId, groupId]);
      return;
    }
    await em.execute(
      `delete from directory_account_group d where d.tenant_id = ? and d.group_id = ?
         and not exists (select 1 from group_member m where m.group_id = d.group_id and m.member_id = d.user_id and m.member_type = 'User')`,
      [tenantId, groupId],
    );
    await em.execute(
      `insert into directory_account_group (tenant_id, user_id, group_id, community_id, display_name)
       select m.tenant_id, m.member_id, m.group_id, ?, ? from group_member m where m.group_id = ? and m.tenant_id = ? and m.member_type = 'User'
       on conflict (tenant_id, user_id, group_id) do update set display_name = excluded.display_name
         where directory_account_group.display_name <> excluded.display_name`,
      [communityId, group.display_name, groupId, tenantId],
    );
  }

  private async insertEmptyPerson(em: EntityManager, communityId: string, personId: string, now: Date): Promise<void> {
    await em.execute('insert into person (id, community_id, active, created_at, updated_at) values (?, ?, true, ?, ?)', [
      personId,
      communityId,
      now,
      now,
    ]);
  }

  private async moveAccount(em: EntityManager, row: AccountRow, personId: string, link: string, pinned: boolean, now: Date): Promise<void> {
    await em.execute(
      `update directory_account set person_id = ?, link = ?, pinned = ?, updated_at = ?,
         linked_at = case when person_id = ? then linked_at else ? end
       where tenant_id = ? and user_id = ?`,
      [personId, link, pinned, now, personId, now, row.tenant_id, row.user_id],
    );
  }

  /**
   * Projects one account from its User's current state (state-based: running
   * it twice changes nothing). Under the community's lock: correlation reads
   * the links other projections write.
   */
  private async projectUser(
    em: EntityManager,
    communityId: string,
    tenantId: string,
    userId: string,
    rules: ProjectionRules,
    now: Date,
  ): Promise<void> {
    // One read: the User, its directory account, the people it manages, and whether its person has other accounts.
    const [state] = await em.execute<
      {
        user_name: string | null;
        external_id: string | null;
        active: boolean | null;
        attributes: Record<string, unknown> | null;
        version: number | null;
        existing: AccountRow | null;
        dependents: string[];
        others: string;
        had_conflict: boolean;
      }[]
    >(
      `select u.user_name, u.external_id, u.active, u.attributes, u.version,
         (select row_to_json(a) from (select ${ACCOUNT_SELECT} from directory_account a where a.tenant_id = ? and a.user_id = ?) a) as existing,
         array(select distinct d.person_id::text from directory_account d where d.tenant_id = ? and d.manager_user_id = ?) as dependents,
         (select count(*) from directory_account o
           where o.person_id = (select x.person_id from directory_account x where x.tenant_id = ? and x.user_id = ?)
             and not (o.tenant_id = ? and o.user_id = ?)) as others,
         exists (select 1 from directory_conflict c where c.kind = 'correlation' and c.tenant_id = ? and c.user_id = ?) as had_conflict
       from (select 1) as one left join scim_user u on u.tenant_id = ? and u.id = ?`,
      [tenantId, userId, tenantId, userId, tenantId, userId, tenantId, userId, tenantId, userId, tenantId, userId],
    );
    const existing = state?.existing ?? undefined;
    const dependents = state?.dependents ?? [];
    if (!state || state.user_name === null || state.attributes === null) {
      if (!existing) return;
      await em.execute(
        `with gone as (delete from directory_account where tenant_id = ? and user_id = ?),
              groups as (delete from directory_account_group where tenant_id = ? and user_id = ?)
         delete from directory_conflict where kind = 'correlation' and tenant_id = ? and user_id = ?`,
        [tenantId, userId, tenantId, userId, tenantId, userId],
      );
      await this.recompute(em, communityId, [existing.person_id, ...dependents], rules, now);
      return;
    }
    const user = {
      user_name: state.user_name,
      external_id: state.external_id,
      active: state.active !== false,
      version: Number(state.version),
    };
    const values = accountValuesOf(state.attributes);
    const keys = correlationKeys({ userName: user.user_name, externalId: user.external_id, values }, rules.correlation);

    let personId: string;
    let link: string;
    let newPerson = false;
    let conflict: { personId: string; rule: string }[] | undefined;
    if (existing?.pinned) {
      personId = existing.person_id;
      link = existing.link;
    } else {
      const matches =
        keys.length === 0
          ? []
          : await em.execute<{ key: string; person_id: string }[]>(
              `select k.key, a.person_id from directory_account_key k
               join directory_account a on a.tenant_id = k.tenant_id and a.user_id = k.user_id
               where k.community_id = ? and k.key = any(?::text[]) and not (k.tenant_id = ? and k.user_id = ?) and not a.pinned`,
              [communityId, pgArray(keys), tenantId, userId],
            );
      // Each matching person, with the first rule (in the community's order) that matched it. Accounts an admin
      // placed by hand do not attract others: an account unlinked from a person must not pull that person's
      // other accounts after it.
      const candidates = new Map<string, string>();
      for (const key of keys) {
        for (const m of matches) if (m.key === key && !candidates.has(m.person_id)) candidates.set(m.person_id, ruleOfKey(key));
      }
      // Standing alone: in its own person if it has one to itself, else in a new one.
      const alone = (): string => {
        if (existing && Number(state.others) === 0) return existing.person_id;
        newPerson = true;
        return uuidv7();
      };
      if (candidates.size === 1) {
        const [[match, rule]] = [...candidates] as [[string, string]];
        personId = match;
        link = `rule:${rule}`;
      } else if (candidates.size === 0) {
        personId = alone();
        link = 'none';
      } else {
        // The rules point at several people: link to none of them (or stay), and let an admin decide.
        conflict = [...candidates].map(([id, rule]) => ({ personId: id, rule }));
        personId = existing && candidates.has(existing.person_id) ? existing.person_id : alone();
        link = existing && personId === existing.person_id ? existing.link : 'none';
      }
    }
    // One statement: the new person (if any), the account, its correlation keys, its correlation conflict. The
    // foreign keys are checked at the end of the statement, when the person and the account exist.
    const write = statementOf([
      newPerson && {
        sql: 'insert into person (id, community_id, active, created_at, updated_at) values (?, ?, true, ?, ?)',
        params: [personId, communityId, now, now],
      },
      {
        sql: `insert into directory_account (tenant_id, user_id, community_id, person_id, link, pinned, user_name, external_id, display_name,
                active, account_values, manager_user_id, user_version, linked_at, updated_at)
              values (?, ?, ?, ?, ?, false, ?, ?, ?, ?, ?, ?, ?, ?, ?)
              on conflict (tenant_id, user_id) do update set
                linked_at = case when directory_account.person_id = excluded.person_id then directory_account.linked_at else excluded.linked_at end,
                person_id = excluded.person_id, link = excluded.link, user_name = excluded.user_name, external_id = excluded.external_id,
                display_name = excluded.display_name, active = excluded.active, account_values = excluded.account_values,
                manager_user_id = excluded.manager_user_id, user_version = excluded.user_version, updated_at = excluded.updated_at`,
        params: [
          tenantId,
          userId,
          communityId,
          personId,
          link,
          user.user_name,
          user.external_id,
          values.displayName ?? null,
          user.active,
          JSON.stringify(values),
          values.manager && UUID_TEXT.test(values.manager) ? values.manager : null,
          user.version,
          now,
          now,
        ],
      },
      // Accounts that stood alone in the person it joins were linked by the same rule.
      link.startsWith('rule:') && {
        sql: `update directory_account set link = ?, updated_at = ?
              where person_id = ? and link = 'none' and not pinned and not (tenant_id = ? and user_id = ?)`,
        params: [link, now, personId, tenantId, userId],
      },
      {
        sql: 'delete from directory_account_key where tenant_id = ? and user_id = ? and not (key = any(?::text[]))',
        params: [tenantId, userId, pgArray(keys)],
      },
      keys.length > 0 && {
        sql: `insert into directory_account_key (community_id, key, tenant_id, user_id)
              select ?, k, ?, ? from unnest(?::text[]) as k on conflict do nothing`,
        params: [communityId, tenantId, userId, pgArray(keys)],
      },
      conflict === undefined &&
        state.had_conflict && {
          sql: "delete from directory_conflict where kind = 'correlation' and tenant_id = ? and user_id = ?",
          params: [tenantId, userId],
        },
      conflict !== undefined && {
        sql: `insert into directory_conflict (id, community_id, kind, person_id, attribute, tenant_id, user_id, candidates, created_at, updated_at)
              values (?, ?, 'correlation', ?, null, ?, ?, ?, ?, ?)
              on conflict (tenant_id, user_id) where kind = 'correlation' do update set person_id = excluded.person_id,
                candidates = excluded.candidates, updated_at = excluded.updated_at`,
        params: [uuidv7(), communityId, personId, tenantId, userId, JSON.stringify(conflict), now, now],
      },
    ]);
    await em.execute(write.sql, write.params);
    const touched = [personId, ...dependents];
    if (existing && existing.person_id !== personId) touched.push(existing.person_id);
    await this.recompute(em, communityId, touched, rules, now);
  }

  /**
   * Resolves the given people again from their accounts, in two statements
   * whatever their number: one read (accounts, the person's pins, the
   * managers' people), one write (people, export links, conflicts). A person
   * left without accounts is removed.
   */
  private async recompute(
    em: EntityManager,
    communityId: string,
    personIds: readonly string[],
    rules: ProjectionRules,
    now: Date,
  ): Promise<void> {
    const ids = [...new Set(personIds)];
    if (ids.length === 0) return;
    const rows = await em.execute<
      (AccountRow & {
        person_pinned: Person['pinned'];
        person_conflicts: number;
        correlation_conflicts: string;
        manager_person: string | null;
      })[]
    >(
      `select ${ACCOUNT_SELECT}, p.pinned as person_pinned, p.conflict_count as person_conflicts, m.person_id as manager_person,
         (select count(*) from directory_conflict c where c.kind = 'correlation' and c.person_id = a.person_id) as correlation_conflicts
       from directory_account a join person p on p.id = a.person_id
       left join directory_account m on m.tenant_id = a.tenant_id and m.user_id = a.manager_user_id
       where a.person_id = any(?::uuid[])`,
      [pgArray(ids)],
    );
    const gone = ids.filter((id) => !rows.some((r) => r.person_id === id));
    // Attribute conflicts to settle: only people that had some (a removed person's go with it).
    const hadConflicts = rows.some((r) => Number(r.person_conflicts) > 0);
    const people: Record<string, unknown>[] = [];
    const conflicts: { id: string; person_id: string; attribute: string; candidates: unknown }[] = [];
    const conflicted: string[] = [];
    for (const personId of ids.filter((id) => !gone.includes(id))) {
      const mine = rows.filter((r) => r.person_id === personId);
      const managers = new Map(
        mine.filter((r) => r.manager_person).map((r) => [`${r.tenant_id}/${r.account_values.manager}`, r.manager_person as string]),
      );
      const resolved = resolvePerson(mine.map(toAccount).map(toFacts), rules.authority, mine[0]?.person_pinned ?? {}, (tenantId, userId) =>
        managers.get(`${tenantId}/${userId}`),
      );
      const manager = resolved.values.manager;
      const attributes = Object.keys(resolved.conflicts) as PersonAttribute[];
      const person: Record<string, unknown> = {
        id: personId,
        manager_person_id: manager && /^[0-9a-f-]{36}$/i.test(manager) && manager !== personId ? manager : null,
        active: resolved.active,
        display_name_key: (resolved.values.displayName ?? '').toLowerCase(),
        family_name_key: (resolved.values.familyName ?? '').toLowerCase(),
        sources: resolved.sources,
        conflict_count: attributes.length + Number(mine[0]?.correlation_conflicts ?? 0),
      };
      for (const [attribute, column] of PERSON_COLUMNS) person[column] = resolved.values[attribute] ?? null;
      people.push(person);
      for (const attribute of attributes) {
        conflicted.push(`${personId}/${attribute}`);
        conflicts.push({ id: uuidv7(), person_id: personId, attribute, candidates: resolved.conflicts[attribute] });
      }
    }
    const columns = PERSON_COLUMNS.map(([, c]) => c);
    // The person record type for jsonb_to_recordset: every column the write sets.
    const recordType = [
      'id uuid',
      ...columns.map((c) => `${c} text`),
      'manager_person_id uuid',
      'active boolean',
      'display_name_key text',
      'family_name_key text',
      'sources jsonb',
      'conflict_count integer',
    ].join(', ');
    const write = statementOf([
      gone.length > 0 && {
        sql: 'update person set manager_person_id = null where manager_person_id = any(?::uuid[]) and not (id = any(?::uuid[]))',
        params: [pgArray(gone), pgArray(people.map((p) => p.id as string))],
      },
      gone.length > 0 && { sql: 'delete from person where id = any(?::uuid[]) and community_id = ?', params: [pgArray(gone), communityId] },
      people.length > 0 && {
        name: 'upserted',
        sql: `insert into person (id, community_id, ${columns.join(', ')}, manager_person_id, active, display_name_key, family_name_key,
                sources, conflict_count, version, created_at, updated_at)
              select r.id, ?, ${columns.map((c) => `r.${c}`).join(', ')}, r.manager_person_id, r.active, r.display_name_key, r.family_name_key,
                r.sources, r.conflict_count, 1, ?, ?
              from jsonb_to_recordset(?::jsonb) as r(${recordType})
              on conflict (id) do update set ${columns.map((c) => `${c} = excluded.${c}`).join(', ')},
                manager_person_id = excluded.manager_person_id, active = excluded.active, display_name_key = excluded.display_name_key,
                family_name_key = excluded.family_name_key, sources = excluded.sources, conflict_count = excluded.conflict_count,
                version = person.version + 1, updated_at = excluded.updated_at
              returning id, version`,
        params: [communityId, now, now, JSON.stringify(people)],
      },
      // Each changed or removed person is due at every export of the community, at its new version.
      rules.exporting && {
        sql: `insert into directory_export_link (export_id, person_id, community_id, status, wanted_version, not_before, updated_at)
              select e.id, changed.id, e.community_id, 'pending', changed.version, ?, ?
              from (${people.length > 0 ? 'select id, version from upserted' : ''}${people.length > 0 && gone.length > 0 ? ' union all ' : ''}${
                gone.length > 0 ? 'select g, 0 from unnest(?::uuid[]) as g' : ''
              }) as changed (id, version)
              cross join directory_export e where e.community_id = ? and e.enabled
              on conflict (export_id, person_id) do update set status = 'pending', wanted_version = excluded.wanted_version,
                not_before = excluded.not_before, attempts = 0, last_error = null, updated_at = excluded.updated_at`,
        params: [now, now, ...(gone.length > 0 ? [pgArray(gone)] : []), communityId],
      },
      hadConflicts && {
        sql: `delete from directory_conflict where person_id = any(?::uuid[]) and kind = 'attribute'
                and not ((person_id::text || '/' || attribute) = any(?::text[]))`,
        params: [pgArray(ids), pgArray(conflicted)],
      },
      conflicts.length > 0 && {
        sql: `insert into directory_conflict (id, community_id, kind, person_id, attribute, candidates, created_at, updated_at)
              select c.id, ?, 'attribute', c.person_id, c.attribute, c.candidates, ?, ?
              from jsonb_to_recordset(?::jsonb) as c(id uuid, person_id uuid, attribute text, candidates jsonb)
              on conflict (person_id, attribute) where kind = 'attribute' do update set candidates = excluded.candidates, updated_at = excluded.updated_at
                where directory_conflict.candidates <> excluded.candidates`,
        params: [communityId, now, now, JSON.stringify(conflicts)],
      },
    ]);
    if (write.params.length > 0) await em.execute(write.sql, write.params);
  }

  // ---- exports -------------------------------------------------------------------------------------------------------

  async createExport(
    communityId: string,
    values: { name: string; kind: string; config: Record<string, unknown>; secretNames: string[]; sealedSecrets: string | null },
    context: RequestContext,
  ): Promise<DirectoryExport> {
    const now = this.clock.now();
    return this.platform(async (em) => {
      const [existing] = await em.execute<{ id: string }[]>('select id from directory_export where community_id = ? and name = ?', [
        communityId,
        values.name,
      ]);
      if (existing) throw new MeridianError('UNIQUENESS', `The community already has an export named '${values.name}'.`, { field: 'name' });
      const id = uuidv7();
      await em.execute(
        `insert into directory_export (id, community_id, name, kind, config, secret_names, sealed_secrets, enabled, created_at, updated_at)
         values (?, ?, ?, ?, ?, ?::text[], ?, true, ?, ?)`,
        [
          id,
          communityId,
          values.name,
          values.kind,
          JSON.stringify(values.config),
          pgArray(values.secretNames),
          values.sealedSecrets,
          now,
          now,
        ],
      );
      // Every person goes out once: the initial load.
      await em.execute(
        `insert into directory_export_link (export_id, person_id, community_id, status, wanted_version, not_before, updated_at)
         select ?, p.id, p.community_id, 'pending', p.version, ?, ? from person p where p.community_id = ?`,
        [id, now, now, communityId],
      );
      await recordEvent(
        em,
        {
          type: 'directory.export_created',
          tenantId: null,
          resourceType: 'DirectoryExport',
          resourceId: id,
          after: { communityId, name: values.name, kind: values.kind, config: values.config, secretNames: values.secretNames },
        },
        context,
        now,
      );
      const [row] = await em.execute<ExportRow[]>(`select ${EXPORT_SELECT} from directory_export where id = ?`, [id]);
      return toExport(row as ExportRow);
    });
  }

  listExports(communityId: string): Promise<DirectoryExport[]> {
    return this.community(communityId, async (em) =>
      (
        await em.execute<ExportRow[]>(`select ${EXPORT_SELECT} from directory_export where community_id = ? order by name`, [communityId])
      ).map(toExport),
    );
  }

  async findExport(communityId: string, idOrName: string): Promise<DirectoryExport | undefined> {
    const [row] = await this.community(communityId, (em) =>
      em.execute<ExportRow[]>(`select ${EXPORT_SELECT} from directory_export where community_id = ? and (name = ? or id::text = ?)`, [
        communityId,
        idOrName,
        idOrName,
      ]),
    );
    return row ? toExport(row) : undefined;
  }

  async deleteExport(communityId: string, exportId: string, context: RequestContext): Promise<void> {
    const now = this.clock.now();
    await this.platform(async (em) => {
      const [row] = await em.execute<ExportRow[]>(`select ${EXPORT_SELECT} from directory_export where community_id = ? and id = ?`, [
        communityId,
        exportId,
      ]);
      if (!row) throw new MeridianError('NOT_FOUND', `Export '${exportId}' not found.`, { field: 'export' });
      await em.execute('delete from directory_export where id = ?', [exportId]);
      await recordEvent(
        em,
        {
          type: 'directory.export_deleted',
          tenantId: null,
          resourceType: 'DirectoryExport',
          resourceId: exportId,
          before: { name: row.name, kind: row.kind },
        },
        context,
        now,
      );
    });
  }

  exportCounts(communityId: string): Promise<DirectoryExportCounts[]> {
    return this.community(communityId, async (em) => {
      const rows = await em.execute<{ id: string; name: string; status: string | null; n: string }[]>(
        `select e.id, e.name, l.status, count(l.person_id) as n from directory_export e
         left join directory_export_link l on l.export_id = e.id
         where e.community_id = ? group by e.id, e.name, l.status order by e.name`,
        [communityId],
      );
      const counts = new Map<string, DirectoryExportCounts>();
      for (const row of rows) {
        const entry = counts.get(row.id) ?? { exportId: row.id, name: row.name, pending: 0, synced: 0, deleted: 0, failed: 0 };
        if (row.status === 'pending' || row.status === 'synced' || row.status === 'deleted' || row.status === 'failed') {
          entry[row.status] = Number(row.n);
        }
        counts.set(row.id, entry);
      }
      return [...counts.values()];
    });
  }

  async exportForPush(exportId: string): Promise<{ export: DirectoryExport; sealedSecrets: string | null } | undefined> {
    const [row] = await this.platform((em) =>
      em.execute<(ExportRow & { sealed_secrets: string | null })[]>(
        `select ${EXPORT_SELECT}, sealed_secrets from directory_export where id = ?`,
        [exportId],
      ),
    );
    return row ? { export: toExport(row), sealedSecrets: row.sealed_secrets } : undefined;
  }

  claimExportWork(limit: number, now: Date, leaseMs: number): Promise<ExportWork[]> {
    return this.platform(async (em) => {
      const links = await em.execute<
        {
          export_id: string;
          person_id: string;
          community_id: string;
          remote_id: string | null;
          pushed_hash: string | null;
          attempts: number;
        }[]
      >(
        `update directory_export_link l set not_before = ? from (
           select export_id, person_id from directory_export_link where status = 'pending' and not_before <= ?
           order by not_before limit ? for update skip locked) due
         where l.export_id = due.export_id and l.person_id = due.person_id
         returning l.export_id, l.person_id, l.community_id, l.remote_id, l.pushed_hash, l.attempts`,
        [new Date(now.getTime() + leaseMs), now, limit],
      );
      if (links.length === 0) return [];
      const people = new Map(
        (
          await em.execute<PersonRow[]>(`select ${PERSON_SELECT} from person p where p.id = any(?::uuid[])`, [
            pgArray([...new Set(links.map((l) => l.person_id))]),
          ])
        ).map((row) => [row.id, toPerson(row)]),
      );
      return links.map((l) => ({
        exportId: l.export_id,
        communityId: l.community_id,
        personId: l.person_id,
        remoteId: l.remote_id,
        pushedHash: l.pushed_hash,
        attempts: l.attempts,
        person: people.get(l.person_id),
      }));
    });
  }

  async recordExport(exportId: string, personId: string, outcome: ExportOutcome, now: Date): Promise<void> {
    await this.platform(async (em) => {
      if (outcome.status === 'retry') {
        await em.execute(
          `update directory_export_link set attempts = attempts + 1, last_error = ?, not_before = ?, updated_at = ?
           where export_id = ? and person_id = ?`,
          [outcome.lastError, outcome.notBefore ?? now, now, exportId, personId],
        );
        return;
      }
      // A person changed while it was being pushed stays pending: its newer version goes out next.
      await em.execute(
        `update directory_export_link set
           status = case when ? = 'synced' and wanted_version > coalesce(?::integer, 0) then 'pending' else ? end,
           not_before = ?, remote_id = ?, pushed_hash = ?, pushed_version = ?, last_error = ?, updated_at = ?,
           attempts = case when ? = 'failed' then attempts + 1 else 0 end
         where export_id = ? and person_id = ?`,
        [
          outcome.status,
          outcome.pushedVersion,
          outcome.status,
          now,
          outcome.remoteId,
          outcome.pushedHash,
          outcome.pushedVersion,
          outcome.lastError,
          now,
          outcome.status,
          exportId,
          personId,
        ],
      );
    });
  }
}
