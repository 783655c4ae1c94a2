import {
  type AccountLink,
  type AccountValues,
  accountValuesOf,
  type BatchAccount,
  correlationKeys,
  managerUserIdOf,
  placeBatch,
} from '@meridian/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { v7 as uuidv7 } from 'uuid';
import { pgArray } from '../orm/sql.js';
import { type BatchContext, type ContextAccount, readBatchContext, sameJson } from './directory-batch-context.js';
import { type FinalAccount, PERSON_RECORD, PERSON_RECORD_COLUMNS, resolveBatchPeople } from './directory-batch-people.js';
import { refArrays } from './directory-rows.js';
import { DIRECTORY_CHANGED, executeBound, type ProjectionRules, statementOf } from './directory-sql.js';

/**
 * Projects a batch of accounts of one community (ADR 0025), set-based: one
 * read of the accounts' Users and places; one read of their keys' holders
 * and of everything the people they can touch need (directory-batch-context.ts);
 * core's `placeBatch` decides where each goes, in queue order, as one
 * projection per account would; `resolvePeople` resolves every person the
 * batch touched, in memory, from the accounts as the batch leaves them
 * (directory-batch-people.ts). Then at most two writes: the accounts, keys,
 * loner links, correlation conflicts and new people (inserted once, with
 * their values); the people that changed or are gone, their exports and
 * attribute conflicts. Only rows that change are sent: re-projecting
 * accounts that did not change reads and writes nothing else. Run under
 * the community's lock: correlation reads the links other projections write.
 */

/** A User of the batch as it stands, read before the community's lock (it is the office's data, not the directory's). */
interface UserRow {
  tenant_id: string;
  user_id: string;
  user_name: string;
  external_id: string | null;
  active: boolean | null;
  attributes: Record<string, unknown>;
  version: number;
}

/** A User of the batch with what the projection takes from it; absent from {@link BatchUsers} when the User is gone. */
interface BatchUser {
  userName: string;
  externalId: string | null;
  active: boolean;
  version: number;
  values: AccountValues;
}

/** The batch's Users by `<tenant id>/<user id>` ({@link readBatchUsers}). */
type BatchUsers = ReadonlyMap<string, BatchUser>;

/**
 * Reads the Users of a batch, one statement, and what each contributes
 * (`accountValuesOf`). A transaction reads them before it takes the
 * community's lock: they are the offices' data, which the lock does not
 * guard (a User changed after this read is queued again, as one changed
 * after the lock would be), so a projector waiting for the lock has done
 * this part already. What the directory holds is read under the lock.
 */
export async function readBatchUsers(em: EntityManager, refs: readonly { tenantId: string; userId: string }[]): Promise<BatchUsers> {
  const users = new Map<string, BatchUser>();
  if (refs.length === 0) return users;
  const rows = await executeBound<UserRow>(
    em,
    `select u.tenant_id, u.id as user_id, u.user_name, u.external_id, u.active, u.attributes, u.version
     from unnest(?::uuid[], ?::uuid[]) as r(tenant_id, user_id)
     join scim_user u on u.tenant_id = r.tenant_id and u.id = r.user_id`,
    [...refArrays(refs)],
  );
  for (const row of rows) {
    users.set(`${row.tenant_id}/${row.user_id}`, {
      userName: row.user_name,
      externalId: row.external_id,
      active: row.active !== false,
      version: Number(row.version),
      values: accountValuesOf(row.attributes ?? {}),
    });
  }
  return users;
}

/** What the batch writes for an account that stays in the directory. */
interface AccountRecord {
  tenant_id: string;
  user_id: string;
  person_id: string;
  link: AccountLink;
  user_name: string;
  external_id: string | null;
  display_name: string | null;
  active: boolean;
  account_values: AccountValues;
  manager_user_id: string | null;
  user_version: number;
}

/** The account columns the batch writes, with their types for `jsonb_to_recordset`. */
const ACCOUNT_RECORD = `tenant_id uuid, user_id uuid, person_id uuid, link text, user_name text, external_id text, display_name text,
  active boolean, account_values jsonb, manager_user_id uuid, user_version integer`;

/** What the batch looks up: each account's correlation keys under the rules, all of them, and the managers its Users name. */
function lookupsOf(refs: readonly { tenantId: string; userId: string }[], users: BatchUsers, correlation: ProjectionRules['correlation']) {
  const keysOf = new Map<string, string[]>();
  const managerRefs = new Map<string, { tenantId: string; userId: string }>();
  for (const ref of refs) {
    const user = users.get(`${ref.tenantId}/${ref.userId}`);
    if (!user) continue;
    keysOf.set(
      `${ref.tenantId}/${ref.userId}`,
      correlationKeys({ userName: user.userName, externalId: user.externalId, values: user.values }, correlation),
    );
    const manager = managerUserIdOf(user.values);
    if (manager) managerRefs.set(`${ref.tenantId}/${manager.toLowerCase()}`, { tenantId: ref.tenantId, userId: manager });
  }
  return { keysOf, managers: [...managerRefs.values()], wanted: [...new Set([...keysOf.values()].flat())] };
}

/**
 * The batch's context read before the community's lock (ADR 0025, decision
 * 11), with the correlation rules its keys were made under; the context
 * carries the community's change counter of its snapshot.
 */
export interface EarlyContext {
  correlation: ProjectionRules['correlation'];
  context: BatchContext;
}

/**
 * Reads the batch's context (directory-batch-context.ts) without the
 * community's lock: while another batch holds the lock, this one reads.
 * {@link projectUsers} uses it only if, under the lock, the community's
 * change counter is still the one read with it and the correlation rules
 * are the same; otherwise it reads again.
 */
export async function readEarlyContext(
  em: EntityManager,
  communityId: string,
  refs: readonly { tenantId: string; userId: string }[],
  users: BatchUsers,
  rules: ProjectionRules,
): Promise<EarlyContext> {
  const { wanted, managers } = lookupsOf(refs, users, rules.correlation);
  return { correlation: rules.correlation, context: await readBatchContext(em, communityId, wanted, [], managers, [], refs) };
}

/**
 * Projects the given accounts (distinct, in queue order) of one community
 * from their Users' current state (`users`, {@link readBatchUsers}). Run
 * under the community's lock, with the rules read under it; `early`: the
 * context read before the lock ({@link readEarlyContext}), used if nobody
 * changed the community's directory since. Answers whether it wrote
 * anything (and so counted a change).
 */
export async function projectUsers(
  em: EntityManager,
  communityId: string,
  refs: readonly { tenantId: string; userId: string }[],
  users: BatchUsers,
  rules: ProjectionRules,
  now: Date,
  early?: EarlyContext,
): Promise<boolean> {
  if (refs.length === 0) return false;
  const { keysOf, managers, wanted } = lookupsOf(refs, users, rules.correlation);
  // One read: where each account of the batch stands (its person, link, keys, correlation conflict), every account
  // holding a key of the batch, and what the people the batch can touch need to be resolved: its accounts' people, the
  // holders', the managers'. (A pinned account looks nothing up, but its keys are few: they are read too.) Read before
  // the lock when nothing changed since: every writer under the lock counts its change.
  const context =
    early && early.context.changes === rules.changes && sameJson(early.correlation, rules.correlation)
      ? early.context
      : await readBatchContext(em, communityId, wanted, [], managers, [], refs);
  const standing = new Map(context.batch.map((b) => [`${b.tenant_id}/${b.user_id}`, b]));
  const accounts: BatchAccount[] = refs.map((ref) => {
    const row = standing.get(`${ref.tenantId}/${ref.userId}`);
    return {
      tenantId: ref.tenantId,
      userId: ref.userId,
      current: row ? { personId: row.person_id, link: row.link as AccountLink, pinned: row.pinned } : undefined,
      keys: keysOf.get(`${ref.tenantId}/${ref.userId}`),
      hadConflict: row?.had_conflict === true,
    };
  });
  // The people of the accounts they manage are read only if the batch moves their manager (below).
  const reach = new Set(context.batch.map((b) => b.person_id));
  // The batch's accounts as they stand (every one in the directory is an account of a person the context read).
  const current = new Map(context.accounts.map((a) => [`${a.tenant_id}/${a.user_id}`, a]));
  // How many accounts each of their people has.
  const personSizes = new Map<string, number>();
  for (const a of context.accounts) if (reach.has(a.person_id)) personSizes.set(a.person_id, (personSizes.get(a.person_id) ?? 0) + 1);
  const batch = placeBatch(
    accounts,
    {
      holders: context.holders.map((h) => ({
        key: h.key,
        tenantId: h.tenant_id,
        userId: h.user_id,
        personId: h.person_id,
        pinned: h.pinned,
      })),
      personSizes,
    },
    () => uuidv7(),
  );

  const records: AccountRecord[] = [];
  // Keys that change: the ones an account no longer has, and its new ones.
  const staleKeys: { tenant_id: string; user_id: string; key: string }[] = [];
  const newKeys: { tenant_id: string; user_id: string; key: string }[] = [];
  const removed: { tenantId: string; userId: string }[] = [];
  const settled: { tenantId: string; userId: string }[] = [];
  const conflicts: (Record<string, unknown> & { personId: string })[] = [];
  const newPeople = new Set<string>();
  // The batch's accounts as it leaves them, for the resolution.
  const final = new Map<string, FinalAccount>();
  for (const { account, placement, link } of batch.decisions) {
    const ref = `${account.tenantId}/${account.userId}`;
    const user = users.get(ref);
    if (!placement || !user || link === undefined) {
      if (account.current) removed.push(account);
      continue;
    }
    const accountValues = user.values;
    if (placement.newPerson) newPeople.add(placement.personId);
    const record: AccountRecord = {
      tenant_id: account.tenantId,
      user_id: account.userId,
      person_id: placement.personId,
      link,
      user_name: user.userName,
      external_id: user.externalId,
      display_name: accountValues.displayName ?? null,
      active: user.active,
      account_values: accountValues,
      manager_user_id: managerUserIdOf(accountValues),
      user_version: user.version,
    };
    // An account that did not change is not written again (a rebuild rewrites nothing it need not).
    const stored = account.current && current.get(ref);
    if (!(stored && sameAccount(stored, account.current?.link, record))) records.push(record);
    final.set(ref, {
      personId: placement.personId,
      managerUserId: record.manager_user_id,
      facts: {
        tenantId: account.tenantId,
        userId: account.userId,
        userName: record.user_name,
        externalId: record.external_id,
        active: record.active,
        values: accountValues,
        // linked_at moves only when the account changes person (the write below).
        linkedAt: stored && stored.person_id === placement.personId ? new Date(stored.linked_at) : now,
      },
    });
    const held = new Set(standing.get(ref)?.held ?? []);
    const keys = new Set(account.keys ?? []);
    for (const key of keys) if (!held.has(key)) newKeys.push({ tenant_id: account.tenantId, user_id: account.userId, key });
    for (const key of held) if (!keys.has(key)) staleKeys.push({ tenant_id: account.tenantId, user_id: account.userId, key });
    if (placement.settlesConflict) settled.push(account);
    if (placement.conflict !== undefined) {
      conflicts.push({
        personId: placement.personId,
        id: uuidv7(),
        person_id: placement.personId,
        tenant_id: account.tenantId,
        user_id: account.userId,
        candidates: placement.conflict,
      });
    }
  }
  const inBatch = accounts.map((a) => `${a.tenantId}/${a.userId}`);
  const batchRefs = new Set(inBatch);
  // People to resolve that the context did not read: the managees of the accounts that moved, and (with them) the
  // people those accounts left.
  const loaded = new Set(context.people.map((p) => p.id));
  const missing = batch.resolveAgain.filter((id) => !loaded.has(id) && !newPeople.has(id));
  const resolve = [...batch.resolveAgain];
  if (missing.length > 0 || batch.moved.length > 0) {
    const more = await readBatchContext(em, communityId, [], missing, [], batch.moved);
    resolve.push(...more.managed);
    const fresh = (personId: string) => !loaded.has(personId);
    context.people.push(...more.people.filter((p) => fresh(p.id)));
    context.accounts.push(...more.accounts.filter((a) => fresh(a.person_id)));
    context.conflicts.push(...more.conflicts.filter((c) => fresh(c.person_id)));
  }
  const people = resolveBatchPeople(communityId, batch.resolveAgain, context, final, batchRefs, newPeople, conflicts, rules, now);
  // Loners outside the batch a join links: only people that have one are written.
  const withLoners = new Set(
    context.accounts.filter((a) => a.link === 'none' && !a.pinned && !batchRefs.has(`${a.tenant_id}/${a.user_id}`)).map((a) => a.person_id),
  );
  const lonerLinks = [...batch.lonerLinks]
    .filter(([personId]) => withLoners.has(personId) || !(loaded.has(personId) || newPeople.has(personId)))
    .map(([person_id, link]) => ({ person_id, link }));
  // One statement. The foreign keys are checked at its end, when the new people and the accounts exist; its parts
  // touch disjoint rows (the accounts of the batch, or the loners outside it).
  const write = statementOf([
    // The change counter, when the batch writes anything: a batch that read its context before the lock reads it again.
    (people.created.length > 0 ||
      records.length + lonerLinks.length + staleKeys.length + newKeys.length + removed.length + settled.length + conflicts.length > 0 ||
      people.parts.some(Boolean)) && { sql: DIRECTORY_CHANGED, params: [communityId] },
    people.created.length > 0 && {
      // A new person is inserted once, resolved (version 1, as its first resolution would have left it).
      sql: `insert into person (id, community_id, ${PERSON_RECORD_COLUMNS.join(', ')}, version, created_at, updated_at)
            select r.id, ?, ${PERSON_RECORD_COLUMNS.map((c) => `r.${c}`).join(', ')}, 1, ?, ?
            from jsonb_to_recordset(?::jsonb) as r(${PERSON_RECORD})`,
      params: [communityId, now, now, JSON.stringify(people.created)],
    },
    records.length > 0 && {
      sql: `insert into directory_account (tenant_id, user_id, community_id, person_id, link, pinned, user_name, external_id, display_name,
              active, account_values, manager_user_id, user_version, linked_at, updated_at)
            select r.tenant_id, r.user_id, ?, r.person_id, r.link, false, r.user_name, r.external_id, r.display_name, r.active,
              r.account_values, r.manager_user_id, r.user_version, ?, ?
            from jsonb_to_recordset(?::jsonb) as r(${ACCOUNT_RECORD})
            on conflict (tenant_id, user_id) do update set
              linked_at = case when directory_account.person_id = excluded.person_id then directory_account.linked_at else excluded.linked_at end,
              person_id = excluded.person_id, link = excluded.link, user_name = excluded.user_name, external_id = excluded.external_id,
              display_name = excluded.display_name, active = excluded.active, account_values = excluded.account_values,
              manager_user_id = excluded.manager_user_id, user_version = excluded.user_version, updated_at = excluded.updated_at
            where (directory_account.person_id, directory_account.link, directory_account.user_name, directory_account.external_id,
                   directory_account.display_name, directory_account.active, directory_account.account_values,
                   directory_account.manager_user_id, directory_account.user_version)
              is distinct from (excluded.person_id, excluded.link, excluded.user_name, excluded.external_id, excluded.display_name,
                   excluded.active, excluded.account_values, excluded.manager_user_id, excluded.user_version)`,
      params: [communityId, now, now, JSON.stringify(records)],
    },
    lonerLinks.length > 0 && {
      sql: `update directory_account a set link = l.link, updated_at = ?
            from jsonb_to_recordset(?::jsonb) as l(person_id uuid, link text)
            where a.person_id = l.person_id and a.link = 'none' and not a.pinned
              and not ((a.tenant_id::text || '/' || a.user_id::text) = any(?::text[]))`,
      params: [now, JSON.stringify(lonerLinks), pgArray(inBatch)],
    },
    staleKeys.length > 0 && {
      sql: `delete from directory_account_key k using jsonb_to_recordset(?::jsonb) as n(tenant_id uuid, user_id uuid, key text)
            where k.community_id = ? and k.key = n.key and k.tenant_id = n.tenant_id and k.user_id = n.user_id`,
      params: [JSON.stringify(staleKeys), communityId],
    },
    newKeys.length > 0 && {
      sql: `insert into directory_account_key (community_id, key, tenant_id, user_id)
            select ?, n.key, n.tenant_id, n.user_id from jsonb_to_recordset(?::jsonb) as n(tenant_id uuid, user_id uuid, key text)
            on conflict do nothing`,
      params: [communityId, JSON.stringify(newKeys)],
    },
    removed.length > 0 && {
      sql: `delete from directory_account a using unnest(?::uuid[], ?::uuid[]) as b(tenant_id, user_id)
            where a.tenant_id = b.tenant_id and a.user_id = b.user_id`,
      params: [...refArrays(removed)],
    },
    removed.length > 0 && {
      sql: `delete from directory_account_group g using unnest(?::uuid[], ?::uuid[]) as b(tenant_id, user_id)
            where g.tenant_id = b.tenant_id and g.user_id = b.user_id`,
      params: [...refArrays(removed)],
    },
    removed.length + settled.length > 0 && {
      sql: `delete from directory_conflict c using unnest(?::uuid[], ?::uuid[]) as b(tenant_id, user_id)
            where c.kind = 'correlation' and c.tenant_id = b.tenant_id and c.user_id = b.user_id`,
      params: [...refArrays([...removed, ...settled])],
    },
    conflicts.length > 0 && {
      sql: `insert into directory_conflict (id, community_id, kind, person_id, attribute, tenant_id, user_id, candidates, created_at, updated_at)
            select c.id, ?, 'correlation', c.person_id, null, c.tenant_id, c.user_id, c.candidates, ?, ?
            from jsonb_to_recordset(?::jsonb) as c(id uuid, person_id uuid, tenant_id uuid, user_id uuid, candidates jsonb)
            on conflict (tenant_id, user_id) where kind = 'correlation' do update set person_id = excluded.person_id,
              candidates = excluded.candidates, updated_at = excluded.updated_at`,
      params: [communityId, now, now, JSON.stringify(conflicts)],
    },
  ]);
  if (write.params.length > 0) await executeBound(em, write.sql, write.params);
  // Then the people that changed or are gone: a person is removed once its accounts have left it.
  const resolved = statementOf(people.parts);
  if (resolved.params.length > 0) await executeBound(em, resolved.sql, resolved.params);
  return write.params.length > 0;
}

/** Whether an account's row (as the context read it) already holds what the batch would write. */
function sameAccount(stored: ContextAccount, link: AccountLink | undefined, record: AccountRecord): boolean {
  return (
    stored.person_id === record.person_id &&
    link === record.link &&
    stored.user_name === record.user_name &&
    stored.external_id === record.external_id &&
    stored.display_name === record.display_name &&
    stored.active === record.active &&
    stored.manager_user_id === (record.manager_user_id?.toLowerCase() ?? null) &&
    stored.user_version === record.user_version &&
    sameJson(stored.account_values ?? {}, record.account_values)
  );
}
