import { type AccountFacts, type ResolutionAccount, type ResolvedPersonRecord, resolvePeople } from '@meridian/core';
import { v7 as uuidv7 } from 'uuid';
import { pgArray } from '../orm/sql.js';
import type { BatchContext, ContextPerson } from './directory-batch-context.js';
import { sameJson } from './directory-batch-context.js';
import { PERSON_COLUMNS } from './directory-rows.js';
import type { ProjectionRules, statementOf } from './directory-sql.js';

/**
 * Resolves the people a batch touched in memory, from the accounts as the
 * batch leaves them (ADR 0025): the batch's own accounts as it placed them,
 * the others as the context read them. Answers what to write: new people
 * whole (inserted once, with their values), and of the others only those
 * whose row would change, with their conflicts' changes.
 */

/** An account of the batch as the batch leaves it (it stays in the directory). */
export interface FinalAccount {
  personId: string;
  facts: AccountFacts;
  /** The user id its manager reference names (`managerUserIdOf`), or null. */
  managerUserId: string | null;
}

/** The person columns a resolution writes besides the attributes. */
const WRITTEN = ['manager_person_id', 'active', 'display_name_key', 'family_name_key', 'sources', 'conflict_count'] as const;
const COLUMNS = PERSON_COLUMNS.map(([, c]) => c);

/** The record type of a resolved person for `jsonb_to_recordset`. */
export const PERSON_RECORD = [
  'id uuid',
  ...COLUMNS.map((c) => `${c} text`),
  'manager_person_id uuid',
  'active boolean',
  'display_name_key text',
  'family_name_key text',
  'sources jsonb',
  'conflict_count integer',
].join(', ');

/** The columns of {@link PERSON_RECORD} after the id. */
export const PERSON_RECORD_COLUMNS = [...COLUMNS, ...WRITTEN];

type StatementParts = Parameters<typeof statementOf>[0][number][];

export interface BatchPeople {
  /** New people, resolved: inserted with the batch's accounts. */
  created: Record<string, unknown>[];
  /** The writes of the existing people that change, and of people left without accounts. */
  parts: StatementParts;
}

const refOf = (tenantId: string, userId: string) => `${tenantId}/${userId.toLowerCase()}`;

function recordOf(resolved: ResolvedPersonRecord): Record<string, unknown> {
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
}

/** A person resolved to what its row holds: nothing to write (a person never resolved, version 0, always is). */
function unchanged(row: ContextPerson, record: Record<string, unknown>): boolean {
  if (row.version === 0) return false;
  return PERSON_RECORD_COLUMNS.every((c) => sameJson((row as unknown as Record<string, unknown>)[c] ?? null, record[c] ?? null));
}

/**
 * Resolves `personIds` (the batch's `resolveAgain`) and answers what to
 * write. `batch` holds every account of the batch that stays, `inBatch`
 * every account of the batch (those that left too), `newPeople` the people
 * the batch creates, `correlation` the batch's correlation conflicts by
 * account.
 */
export function resolveBatchPeople(
  communityId: string,
  personIds: readonly string[],
  context: BatchContext,
  batch: ReadonlyMap<string, FinalAccount>,
  inBatch: ReadonlySet<string>,
  newPeople: ReadonlySet<string>,
  correlation: readonly { personId: string }[],
  rules: ProjectionRules,
  now: Date,
): BatchPeople {
  const ids = [...new Set(personIds)];
  const wanted = new Set(ids);
  const rows = new Map(context.people.map((p) => [p.id, p]));
  // The person of an account as the batch leaves it: the batch's own, else as read.
  const dbManagers = new Map(context.managers.map((m) => [refOf(m.tenant_id, m.user_id), m.person_id]));
  const personOf = (tenantId: string, userId: string, read: string | null | undefined): string | null => {
    const ref = refOf(tenantId, userId);
    if (inBatch.has(ref)) return batch.get(ref)?.personId ?? null;
    return read ?? dbManagers.get(ref) ?? null;
  };
  const correlationCount = new Map<string, number>();
  const count = (personId: string) => correlationCount.set(personId, (correlationCount.get(personId) ?? 0) + 1);
  for (const c of context.conflicts) {
    // The batch rewrites its own accounts' correlation conflicts.
    if (c.kind === 'correlation' && !(c.tenant_id && c.user_id && inBatch.has(refOf(c.tenant_id, c.user_id)))) count(c.person_id);
  }
  for (const c of correlation) count(c.personId);

  const accounts: ResolutionAccount[] = [];
  const push = (personId: string, facts: AccountFacts, managerUserId: string | null, read?: string | null) =>
    accounts.push({
      personId,
      account: facts,
      personPinned: rows.get(personId)?.pinned ?? {},
      correlationConflicts: correlationCount.get(personId) ?? 0,
      managerPerson: managerUserId ? personOf(facts.tenantId, managerUserId, read) : null,
    });
  for (const a of context.accounts) {
    if (!wanted.has(a.person_id) || inBatch.has(refOf(a.tenant_id, a.user_id))) continue;
    push(
      a.person_id,
      {
        tenantId: a.tenant_id,
        userId: a.user_id,
        userName: a.user_name,
        externalId: a.external_id,
        active: a.active,
        values: a.account_values ?? {},
        linkedAt: new Date(a.linked_at),
      },
      a.manager_user_id,
      a.manager_person,
    );
  }
  for (const a of batch.values()) if (wanted.has(a.personId)) push(a.personId, a.facts, a.managerUserId);
  const { gone, people } = resolvePeople(ids, accounts, rules.authority);

  const created: Record<string, unknown>[] = [];
  const changed: Record<string, unknown>[] = [];
  for (const resolved of people) {
    const record = recordOf(resolved);
    const row = rows.get(resolved.personId);
    if (newPeople.has(resolved.personId)) created.push(record);
    else if (row && !unchanged(row, record)) changed.push(record);
  }
  // Attribute conflicts: the ones no longer there go, new ones and changed candidates are written.
  const existing = new Map(
    context.conflicts
      .filter((c) => c.kind === 'attribute' && wanted.has(c.person_id))
      .map((c) => [`${c.person_id}/${c.attribute}`, c.candidates]),
  );
  const upserts: Record<string, unknown>[] = [];
  const kept = new Set<string>();
  for (const resolved of people) {
    for (const c of resolved.conflicts) {
      const key = `${resolved.personId}/${c.attribute}`;
      kept.add(key);
      if (!existing.has(key) || !sameJson(existing.get(key), c.candidates)) {
        upserts.push({ id: uuidv7(), person_id: resolved.personId, attribute: c.attribute, candidates: c.candidates });
      }
    }
  }
  const goneSet = new Set(gone);
  const stale = [...existing.keys()].filter((key) => !kept.has(key) && !goneSet.has(key.slice(0, key.indexOf('/'))));
  const changedIds = changed.map((p) => p.id as string);
  const createdIds = created.map((p) => p.id as string);
  const columns = PERSON_RECORD_COLUMNS;
  const parts: StatementParts = [
    gone.length > 0 && {
      sql: 'update person set manager_person_id = null where manager_person_id = any(?::uuid[]) and not (id = any(?::uuid[]))',
      params: [pgArray(gone), pgArray(changedIds)],
    },
    gone.length > 0 && { sql: 'delete from person where id = any(?::uuid[]) and community_id = ?', params: [pgArray(gone), communityId] },
    changed.length > 0 && {
      name: 'updated',
      sql: `update person p set ${columns.map((c) => `${c} = r.${c}`).join(', ')}, version = p.version + 1, updated_at = ?
            from jsonb_to_recordset(?::jsonb) as r(${PERSON_RECORD}) where p.id = r.id returning p.id, p.version`,
      params: [now, JSON.stringify(changed)],
    },
    // Each changed, new or removed person is due at every export of the community, at its new version.
    rules.exporting &&
      changed.length + created.length + gone.length > 0 && {
        sql: `insert into directory_export_link (export_id, person_id, community_id, status, wanted_version, not_before, updated_at)
            select e.id, x.id, e.community_id, 'pending', x.version, ?, ?
            from (${[
              changed.length > 0 && 'select id, version from updated',
              'select n, 1 from unnest(?::uuid[]) as n',
              'select g, 0 from unnest(?::uuid[]) as g',
            ]
              .filter(Boolean)
              .join(' union all ')}) as x (id, version)
            cross join directory_export e where e.community_id = ? and e.enabled
            on conflict (export_id, person_id) do update set status = 'pending', wanted_version = excluded.wanted_version,
              not_before = excluded.not_before, attempts = 0, last_error = null, updated_at = excluded.updated_at`,
        params: [now, now, pgArray(createdIds), pgArray(gone), communityId],
      },
    stale.length > 0 && {
      sql: `delete from directory_conflict where kind = 'attribute' and (person_id::text || '/' || attribute) = any(?::text[])
              and person_id = any(?::uuid[])`,
      params: [pgArray(stale), pgArray(stale.map((key) => key.slice(0, key.indexOf('/'))))],
    },
    upserts.length > 0 && {
      sql: `insert into directory_conflict (id, community_id, kind, person_id, attribute, candidates, created_at, updated_at)
            select c.id, ?, 'attribute', c.person_id, c.attribute, c.candidates, ?, ?
            from jsonb_to_recordset(?::jsonb) as c(id uuid, person_id uuid, attribute text, candidates jsonb)
            on conflict (person_id, attribute) where kind = 'attribute' do update set candidates = excluded.candidates, updated_at = excluded.updated_at
              where directory_conflict.candidates <> excluded.candidates`,
      params: [communityId, now, now, JSON.stringify(upserts)],
    },
  ];
  return { created, parts };
}
