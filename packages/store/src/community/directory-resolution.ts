import { type Person, resolvePeople } from '@meridian/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { v7 as uuidv7 } from 'uuid';
import { pgArray } from '../orm/sql.js';
import { ACCOUNT_SELECT, type AccountRow, PERSON_COLUMNS, toAccount, toFacts } from './directory-rows.js';
import { executeBound, type ProjectionRules, statementOf } from './directory-sql.js';

/** The person columns a resolution writes besides the attributes (and the version and time it bumps). */
const WRITTEN = ['manager_person_id', 'active', 'display_name_key', 'family_name_key', 'sources', 'conflict_count'];

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
  const rows = await executeBound<
    AccountRow & {
      person_pinned: Person['pinned'];
      person_conflicts: number;
      correlation_conflicts: string;
      manager_person: string | null;
    }
  >(
    em,
    `with ids as (select distinct id from unnest(?::uuid[]) as id),
     correlation as (select c.person_id, count(*) as n from directory_conflict c join ids on c.person_id = ids.id
                      where c.kind = 'correlation' group by c.person_id)
     select ${ACCOUNT_SELECT}, p.pinned as person_pinned, p.conflict_count as person_conflicts, m.person_id as manager_person,
       coalesce(x.n, 0) as correlation_conflicts
     from ids join directory_account a on a.person_id = ids.id join person p on p.id = a.person_id
     left join correlation x on x.person_id = a.person_id
     left join directory_account m on m.tenant_id = a.tenant_id and m.user_id = a.manager_user_id`,
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
            -- A person resolved to what it already is keeps its version: nothing changed, nothing to export (ADR 0025).
            -- A new person (version 0, made by the projection that created it) is always written.
            where person.version = 0 or (${[...columns, ...WRITTEN].map((c) => `person.${c}`).join(', ')})
              is distinct from (${[...columns, ...WRITTEN].map((c) => `excluded.${c}`).join(', ')})
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
  if (write.params.length > 0) await executeBound(em, write.sql, write.params);
}
