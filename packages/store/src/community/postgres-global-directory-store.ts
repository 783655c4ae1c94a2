import {
  type Clock,
  type DirectoryAccount,
  type DirectoryAccountGroup,
  type DirectoryConflict,
  type DirectoryRules,
  type GlobalDirectoryStore,
  MeridianError,
  type Page,
  type PeopleQuery,
  type PeopleRelated,
  type Person,
  type PersonAttribute,
  type ProjectionStep,
  placeByHand,
  type RequestContext,
  withPin,
} from '@meridian/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { v7 as uuidv7 } from 'uuid';
import { decodeCursor, encodeCursor } from '../admin/cursor.js';
import { recordEvent } from '../events/event-recorder.js';
import { pgArray } from '../orm/sql.js';
import { asPlatform, inCommunity } from '../orm/unit-of-work.js';
import { insertEmptyPerson, moveAccount, type ProjectionErrorListener, projectDue } from './directory-projection.js';
import { resolveAgain } from './directory-resolution.js';
import {
  ACCOUNT_SELECT,
  type AccountRef,
  type AccountRow,
  PERSON_SELECT,
  type PersonRow,
  refArrays,
  toAccount,
  toPerson,
} from './directory-rows.js';
import {
  enqueueCommunityResources,
  enqueueProjections,
  loadRules,
  lockCommunity,
  markDirectoryChanged,
  projectionRules,
} from './directory-sql.js';
import { decodePeopleCursor, encodePeopleCursor, pageWithRelated, personFilterSql, SORT_COLUMNS } from './people-query.js';

/**
 * The global directory in PostgreSQL (ADR 0015), behind the core
 * {@link GlobalDirectoryStore}: its rules, its reads, the admin's links and
 * pins, and the projection (directory-projection.ts). Reads run in a
 * transaction of the community (`inCommunity`): row-level security
 * shows that community's directory and nothing else. The projection and the
 * admin writes run as platform work, because they read tenant tables and
 * write the audit chains; each statement names its community. Core decides
 * where accounts go and what people become; this class loads and writes.
 * Exports are {@link PostgresDirectoryExportStore}'s.
 */
export class PostgresGlobalDirectoryStore implements GlobalDirectoryStore {
  /** `onProjectionError` hears of each entry whose projection failed (it is retried later). */
  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
    private readonly onProjectionError?: ProjectionErrorListener,
    /** Inbox entries per projection transaction; tests make it small to run several batches at once. */
    private readonly projectionBatch?: number,
  ) {}

  private community<T>(communityId: string, work: (em: EntityManager) => Promise<T>): Promise<T> {
    return inCommunity(this.orm, communityId, work);
  }

  private platform<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    return asPlatform(this.orm, work);
  }

  // ---- rules ---------------------------------------------------------------------------------------------------------

  rules(communityId: string): Promise<DirectoryRules> {
    return this.community(communityId, (em) => loadRules(em, communityId));
  }

  async setRules(communityId: string, rules: DirectoryRules, context: RequestContext): Promise<DirectoryRules> {
    const now = this.clock.now();
    return this.platform(async (em) => {
      const before = await loadRules(em, communityId);
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
      await enqueueCommunityResources(em, communityId, now, 'User');
      return rules;
    });
  }

  // ---- reads ---------------------------------------------------------------------------------------------------------

  people(communityId: string, query: PeopleQuery): Promise<Page<Person> & { related?: PeopleRelated }> {
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
      const page = `select ${PERSON_SELECT}, ${sort.sql} as sort_key from person p where ${where.join(' and ')}
         order by ${sort.sql} ${direction}, p.id ${direction} limit ?`;
      const include = query.include ?? {};
      let count: { sql: string; params: unknown[] } | undefined;
      if (query.withTotalCount) {
        const whereWithoutCursor = query.after ? where.slice(0, -1) : where;
        // Unfiltered: the community's count, kept exact by triggers (migration 20261207610100), not a scan of its people.
        count =
          whereWithoutCursor.length === 1
            ? { sql: 'select coalesce((select people from directory_count where community_id = ?), 0)', params: [communityId] }
            : { sql: `select count(*) from person p where ${whereWithoutCursor.join(' and ')}`, params: countParams };
      }
      let rows: PersonRow[];
      let related: PeopleRelated | undefined;
      let totalCount = -1;
      if (include.accounts || include.groups || include.managers) {
        // The page, what it shows and the count, in one statement (docs/global-directory.md, Limits).
        const found = await pageWithRelated(
          em,
          communityId,
          page,
          params,
          `sort_key ${direction}, id ${direction}`,
          include,
          sort.time === true,
          count,
        );
        rows = found.rows;
        related = found.related;
        totalCount = found.total ?? -1;
      } else {
        rows = await em.execute<PersonRow[]>(page, params);
        if (count) {
          const [n] = await em.execute<{ n: string }[]>(`select (${count.sql}) as n`, count.params);
          totalCount = Number(n?.n ?? 0);
        }
      }
      const items = rows.slice(0, query.first);
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
        ...(related ? { related } : {}),
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
      await lockCommunity(em, communityId);
      // A batch that read its context before the lock reads it again (ADR 0025, decision 11).
      await markDirectoryChanged(em, communityId);
      const row = await this.accountRow(em, communityId, account);
      const placement = placeByHand(row.person_id, target, () => uuidv7());
      if (placement.newPerson) {
        await insertEmptyPerson(em, communityId, placement.personId, now);
      } else {
        const [person] = await em.execute<{ id: string }[]>('select id from person where community_id = ? and id = ?', [
          communityId,
          placement.personId,
        ]);
        if (!person) throw new MeridianError('NOT_FOUND', `Person '${target}' not found.`, { field: 'person' });
      }
      await moveAccount(em, row, placement.personId, placement.link, placement.pinned, now);
      if (placement.settlesConflict) {
        await em.execute("delete from directory_conflict where kind = 'correlation' and tenant_id = ? and user_id = ?", [
          account.tenantId,
          account.userId,
        ]);
      }
      // The people of the accounts it manages resolve their manager to its new person (the projection counts on it).
      const dependents = await em.execute<{ person_id: string }[]>(
        'select distinct person_id from directory_account where tenant_id = ? and manager_user_id = ?',
        [account.tenantId, account.userId],
      );
      await resolveAgain(
        em,
        communityId,
        [...placement.resolveAgain, ...dependents.map((d) => d.person_id)],
        await projectionRules(em, communityId),
        now,
      );
      await this.recordAccountEvent(
        em,
        placement.event,
        account,
        { personId: row.person_id },
        { personId: placement.personId, link: placement.link },
        context,
        now,
      );
      return placement.personId;
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
      await enqueueProjections(em, [{ tenantId: account.tenantId, kind: 'User', id: account.userId, communityId }], now);
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
      await lockCommunity(em, communityId);
      await markDirectoryChanged(em, communityId);
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
      const pinned = withPin(row.pinned ?? {}, attribute, tenantId);
      await em.execute('update person set pinned = ? where id = ?', [JSON.stringify(pinned), personId]);
      await resolveAgain(em, communityId, [personId], await projectionRules(em, communityId), now);
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

  enqueueCommunity(communityId: string, now: Date): Promise<number> {
    return this.platform((em) => enqueueCommunityResources(em, communityId, now));
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

  projectDue(limit: number, now: Date): Promise<ProjectionStep[]> {
    return projectDue(this.orm, this.clock, this.onProjectionError, limit, now, this.projectionBatch);
  }
}
