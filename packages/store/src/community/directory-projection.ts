import {
  type AccountLink,
  accountValuesOf,
  type Clock,
  type CurrentPlacement,
  correlationKeys,
  correlationLookup,
  managerUserIdOf,
  type Person,
  type ProjectionStep,
  placeAccount,
  removalResolves,
  resolvePeople,
} from '@meridian/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { v7 as uuidv7 } from 'uuid';
import { pgArray } from '../orm/sql.js';
import { asPlatform } from '../orm/unit-of-work.js';
import { ACCOUNT_SELECT, type AccountRow, PERSON_COLUMNS, toAccount, toFacts } from './directory-rows.js';
import { lockCommunity, type ProjectionRules, projectionRules, statementOf } from './directory-sql.js';

/**
 * The projection of the global directory (ADR 0015): inbox entries in, people
 * out. Core decides (`placeAccount` where an account goes, `resolvePeople`
 * what its people become); this file loads what they need and writes what
 * they answer, in a fixed number of statements per account whatever the
 * community's size: one read of the account's state, one look-up of its
 * correlation keys' matches (none for an account placed by hand), one write
 * of the account; one read and one write to resolve the people it touched.
 */

/** Inbox entries projected in one transaction. */
const PROJECTION_BATCH = 50;
const PROJECTION_RETRY_MS = [1_000, 5_000, 30_000, 120_000, 600_000];

interface InboxEntry {
  tenant_id: string;
  resource_type: 'User' | 'Group';
  resource_id: string;
  community_id: string;
  enqueued_at: Date;
  attempts?: number;
}

/** Hears of each entry whose projection failed (it is retried later). */
export type ProjectionErrorListener = (entry: { tenant_id: string; resource_type: string; resource_id: string }, error: unknown) => void;

/**
 * Projects up to `limit` due inbox entries, in batches of one transaction
 * each; a batch that fails is projected again one entry per transaction, so
 * that only the failing entry waits.
 */
export async function projectDue(
  orm: MikroORM,
  clock: Clock,
  onError: ProjectionErrorListener | undefined,
  limit: number,
  now: Date,
): Promise<ProjectionStep[]> {
  const steps: ProjectionStep[] = [];
  while (steps.length < limit) {
    const size = Math.min(PROJECTION_BATCH, limit - steps.length);
    let batch: InboxEntry[];
    try {
      batch = await asPlatform(orm, (em) => projectBatch(em, clock, claim(em, now, size)));
    } catch {
      // One entry of the batch fails: project them one by one, so that only that one waits.
      batch = await projectSingly(orm, clock, onError, now, size);
    }
    if (batch.length === 0) break;
    steps.push(...batch.map((e) => ({ tenantId: e.tenant_id, kind: e.resource_type, resourceId: e.resource_id })));
    if (batch.length < size) break;
  }
  return steps;
}

/** Claims (removes) up to `size` due entries; a rollback puts them back. Other projectors skip them meanwhile. */
function claim(em: EntityManager, now: Date, size: number): Promise<InboxEntry[]> {
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
async function projectBatch(em: EntityManager, clock: Clock, claimed: Promise<InboxEntry[]>): Promise<InboxEntry[]> {
  const entries = await claimed;
  const ordered = [...entries].sort(
    (a, b) =>
      (a.community_id < b.community_id ? -1 : a.community_id > b.community_id ? 1 : 0) ||
      +new Date(a.enqueued_at) - +new Date(b.enqueued_at),
  );
  const rules = new Map<string, ProjectionRules>();
  for (const entry of ordered) {
    if (entry.resource_type === 'Group') {
      await projectGroup(em, entry.community_id, entry.tenant_id, entry.resource_id);
      continue;
    }
    let communityRules = rules.get(entry.community_id);
    if (!communityRules) {
      await lockCommunity(em, entry.community_id);
      communityRules = await projectionRules(em, entry.community_id);
      rules.set(entry.community_id, communityRules);
    }
    await projectUser(em, entry.community_id, entry.tenant_id, entry.resource_id, communityRules, clock.now());
  }
  return entries;
}

/** Projects up to `size` entries one transaction each; a failing entry is tried again later, with growing delays. */
async function projectSingly(
  orm: MikroORM,
  clock: Clock,
  onError: ProjectionErrorListener | undefined,
  now: Date,
  size: number,
): Promise<InboxEntry[]> {
  const done: InboxEntry[] = [];
  const failed = new Set<string>();
  while (done.length < size) {
    let entry: InboxEntry | undefined;
    let error: unknown;
    await asPlatform(orm, async (em) => {
      const skip = [...failed];
      [entry] = await em.execute<InboxEntry[]>(
        `select tenant_id, resource_type, resource_id, community_id, enqueued_at, attempts from directory_inbox
         where not_before <= ? and not ((tenant_id::text || '/' || resource_type || '/' || resource_id::text) = any(?::text[]))
         order by not_before, enqueued_at limit 1 for update skip locked`,
        [now, pgArray(skip)],
      );
      if (!entry) return;
      try {
        await em.transactional((inner) => projectBatch(inner, clock, Promise.resolve([entry as InboxEntry])));
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
      onError?.(claimed, error);
    }
  }
  return done;
}

/** Copies a Group's direct User members, with its name, onto their accounts; a Group that is gone leaves them. */
async function projectGroup(em: EntityManager, communityId: string, tenantId: string, groupId: string): Promise<void> {
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

/** A person with no values yet: an account's own, made by hand. */
export async function insertEmptyPerson(em: EntityManager, communityId: string, personId: string, now: Date): Promise<void> {
  await em.execute('insert into person (id, community_id, active, created_at, updated_at) values (?, ?, true, ?, ?)', [
    personId,
    communityId,
    now,
    now,
  ]);
}

/** Moves an account into a person; `linked_at` changes only when the person does. */
export async function moveAccount(
  em: EntityManager,
  row: AccountRow,
  personId: string,
  link: string,
  pinned: boolean,
  now: Date,
): Promise<void> {
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
async function projectUser(
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
  const current: CurrentPlacement | undefined = existing && {
    personId: existing.person_id,
    link: existing.link as AccountLink,
    pinned: existing.pinned,
  };
  const dependents = state?.dependents ?? [];
  if (!state || state.user_name === null || state.attributes === null) {
    if (!current) return;
    await em.execute(
      `with gone as (delete from directory_account where tenant_id = ? and user_id = ?),
            groups as (delete from directory_account_group where tenant_id = ? and user_id = ?)
       delete from directory_conflict where kind = 'correlation' and tenant_id = ? and user_id = ?`,
      [tenantId, userId, tenantId, userId, tenantId, userId],
    );
    await resolveAgain(em, communityId, removalResolves(current, dependents), rules, now);
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
  const lookup = correlationLookup(current, keys);
  const matches =
    lookup.length === 0
      ? []
      : await em.execute<{ key: string; person_id: string; pinned: boolean }[]>(
          `select k.key, a.person_id, a.pinned from directory_account_key k
           join directory_account a on a.tenant_id = k.tenant_id and a.user_id = k.user_id
           where k.community_id = ? and k.key = any(?::text[]) and not (k.tenant_id = ? and k.user_id = ?)`,
          [communityId, pgArray([...lookup]), tenantId, userId],
        );
  const placement = placeAccount({
    current,
    othersInPerson: Number(state.others),
    keys,
    matches: matches.map((m) => ({ key: m.key, personId: m.person_id, pinned: m.pinned })),
    hadConflict: state.had_conflict,
    dependents,
    newPersonId: () => uuidv7(),
  });
  const { personId, link } = placement;
  // One statement: the new person (if any), the account, its correlation keys, its correlation conflict. The
  // foreign keys are checked at the end of the statement, when the person and the account exist.
  const write = statementOf([
    placement.newPerson && {
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
        managerUserIdOf(values),
        user.version,
        now,
        now,
      ],
    },
    placement.linksLoners && {
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
    placement.settlesConflict && {
      sql: "delete from directory_conflict where kind = 'correlation' and tenant_id = ? and user_id = ?",
      params: [tenantId, userId],
    },
    placement.conflict !== undefined && {
      sql: `insert into directory_conflict (id, community_id, kind, person_id, attribute, tenant_id, user_id, candidates, created_at, updated_at)
            values (?, ?, 'correlation', ?, null, ?, ?, ?, ?, ?)
            on conflict (tenant_id, user_id) where kind = 'correlation' do update set person_id = excluded.person_id,
              candidates = excluded.candidates, updated_at = excluded.updated_at`,
      params: [uuidv7(), communityId, personId, tenantId, userId, JSON.stringify(placement.conflict), now, now],
    },
  ]);
  await em.execute(write.sql, write.params);
  await resolveAgain(em, communityId, placement.resolveAgain, rules, now);
}

/**
 * Resolves the given people again from their accounts, in two statements
 * whatever their number: one read (accounts, the person's pins, the
 * managers' people), one write (people, export links, conflicts). A person
 * left without accounts is removed.
 */
export async function resolveAgain(
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
  const { gone, people } = resolvePeople(
    ids,
    rows.map((r) => ({
      personId: r.person_id,
      account: toFacts(toAccount(r)),
      personPinned: r.person_pinned ?? {},
      correlationConflicts: Number(r.correlation_conflicts ?? 0),
      managerPerson: r.manager_person,
    })),
    rules.authority,
  );
  // Attribute conflicts to settle: only people that had some (a removed person's go with it).
  const hadConflicts = rows.some((r) => Number(r.person_conflicts) > 0);
  const personRecords = people.map((resolved) => {
    const person: Record<string, unknown> = {
      id: resolved.personId,
      manager_person_id: resolved.managerPersonId,
      active: resolved.active,
      display_name_key: (resolved.values.displayName ?? '').toLowerCase(),
      family_name_key: (resolved.values.familyName ?? '').toLowerCase(),
      sources: resolved.sources,
      conflict_count: resolved.conflictCount,
    };
    for (const [attribute, column] of PERSON_COLUMNS) person[column] = resolved.values[attribute] ?? null;
    return person;
  });
  const conflicts = people.flatMap((resolved) =>
    resolved.conflicts.map((c) => ({ id: uuidv7(), person_id: resolved.personId, attribute: c.attribute, candidates: c.candidates })),
  );
  const conflicted = conflicts.map((c) => `${c.person_id}/${c.attribute}`);
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
      params: [pgArray(gone), pgArray(personRecords.map((p) => p.id as string))],
    },
    gone.length > 0 && { sql: 'delete from person where id = any(?::uuid[]) and community_id = ?', params: [pgArray(gone), communityId] },
    personRecords.length > 0 && {
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
      params: [communityId, now, now, JSON.stringify(personRecords)],
    },
    // Each changed or removed person is due at every export of the community, at its new version.
    rules.exporting && {
      sql: `insert into directory_export_link (export_id, person_id, community_id, status, wanted_version, not_before, updated_at)
            select e.id, changed.id, e.community_id, 'pending', changed.version, ?, ?
            from (${personRecords.length > 0 ? 'select id, version from upserted' : ''}${personRecords.length > 0 && gone.length > 0 ? ' union all ' : ''}${
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
