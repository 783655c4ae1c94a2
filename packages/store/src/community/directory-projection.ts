import type { Clock, ProjectionStep } from '@meridian/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { pgArray } from '../orm/sql.js';
import { asPlatform } from '../orm/unit-of-work.js';
import { type EarlyContext, projectUsers, readBatchUsers, readEarlyContext } from './directory-batch.js';
import type { AccountRow } from './directory-rows.js';
import { lockCommunity, type ProjectionRules, projectionRules } from './directory-sql.js';

/**
 * The projection of the global directory (ADR 0015, ADR 0025): inbox entries
 * in, people out. A transaction claims a batch of due entries and projects
 * each community's Users together (directory-batch.ts: a fixed number of
 * statements per batch, whatever its size or the community's), then its
 * Groups one by one. Core decides (`placeBatch` where accounts go,
 * `resolvePeople` what their people become); the store loads and writes.
 */

/** Inbox entries projected in one transaction. */
const PROJECTION_BATCH = 1_000;
/**
 * Batch transactions a step runs at once when the inbox holds more than a
 * batch: while one holds a community's lock, the next claims its batch and
 * reads its Users, then waits for the lock (ADR 0025).
 */
const PROJECTION_LANES = 2;
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
 * that only the failing entry waits. When a claim fills its batch (there is
 * more), a second lane of batches starts beside the first, so that one
 * batch's claim and Users are read while the other holds the community's
 * lock; the batches take the locks in the order of their claims
 * (`LockTurns`), so a community's entries are projected in queue order as
 * with one lane. `batchSize`: entries per transaction (tests make it small).
 */
export async function projectDue(
  orm: MikroORM,
  clock: Clock,
  onError: ProjectionErrorListener | undefined,
  limit: number,
  now: Date,
  batchSize = PROJECTION_BATCH,
): Promise<ProjectionStep[]> {
  const steps: ProjectionStep[] = [];
  const turns = new LockTurns();
  /** Entries claimed or being claimed, so that the lanes together take at most `limit`. */
  let taken = 0;
  let drained = false;
  const lanes: Promise<void>[] = [];
  const lane = async (): Promise<void> => {
    while (!drained && taken < limit) {
      const size = Math.min(batchSize, limit - taken);
      taken += size;
      const claimed = (em: EntityManager) =>
        claim(em, now, size).then((entries) => {
          if (entries.length === size && lanes.length < PROJECTION_LANES && taken < limit) lanes.push(lane());
          return entries;
        });
      let batch: InboxEntry[];
      try {
        batch = await asPlatform(orm, (em) => projectBatch(em, clock, claimed(em), turns));
      } catch {
        // One entry of the batch fails: project them one by one, so that only that one waits.
        batch = await projectSingly(orm, clock, onError, now, size);
      }
      taken -= size - batch.length;
      steps.push(...batch.map((e) => ({ tenantId: e.tenant_id, kind: e.resource_type, resourceId: e.resource_id })));
      if (batch.length < size) drained = true;
    }
  };
  lanes.push(lane());
  // Every lane ends before the step does (a second may start while the first runs); the first failure is the step's.
  let failure: PromiseRejectedResult | undefined;
  for (let settled = 0; settled < lanes.length; ) {
    const results = await Promise.allSettled(lanes.slice(settled));
    settled += results.length;
    failure ??= results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  }
  if (failure) throw failure.reason;
  return steps;
}

/**
 * Claims (removes) up to `size` due entries, oldest first, in the order of
 * the claim index (migration 20261207610200: the claim reads what it takes);
 * a rollback puts them back. Other projectors skip them meanwhile. The rows
 * are deleted by the tuple ids the locking read returns: matched by key
 * (`in (subquery)`), PostgreSQL planned the locking read again for every
 * row of the inbox when its statistics were those of an empty inbox. An
 * entry changed between the read and its lock is left for the next claim.
 */
function claim(em: EntityManager, now: Date, size: number): Promise<InboxEntry[]> {
  return em.execute<InboxEntry[]>(
    `delete from directory_inbox d where d.ctid = any(array(
       select ctid from directory_inbox where not_before <= ? order by not_before, enqueued_at limit ? for update skip locked))
     returning d.tenant_id, d.resource_type, d.resource_id, d.community_id, d.enqueued_at`,
    [now, size],
  );
}

/**
 * The order in which the batches of one step take their communities'
 * locks: the order of their claims. A batch waits for the one claimed
 * before it to hold its locks (or to end) before it asks for its own, so
 * that the lanes of a step project a community's entries in queue order,
 * as one lane would.
 */
class LockTurns {
  private last: Promise<void> = Promise.resolve();
  /**
   * The rules each community's last batch read under its lock: a later batch makes its keys for its read before
   * the lock from them (it checks them under the lock) instead of reading them once more.
   */
  readonly rules = new Map<string, ProjectionRules>();
  /**
   * Whether each community's last batch wrote (and so counted a change): the batch after it, which read before
   * the lock meanwhile, would read again under it. While batches write (a rebuild from empty), the next batch
   * reads under the lock only; once one writes nothing (a rebuild in place), they read before it again.
   */
  readonly wrote = new Map<string, boolean>();

  /** The next turn: `wait` settles when the batch claimed before has its locks or has ended; `pass` says this one has. */
  next(): { wait: Promise<void>; pass: () => void } {
    const wait = this.last;
    let pass: () => void = () => {};
    this.last = new Promise<void>((resolve) => {
      pass = resolve;
    });
    return { wait, pass };
  }
}

/**
 * Projects claimed entries in one transaction. Their Users are read first,
 * before any lock; then the communities are locked, all of them, in id
 * order (so two projectors never wait on each other in a cycle), after the
 * batch claimed before in this step (`turns`) has its locks; their rules
 * are read once; within a community, entries keep the order they were
 * queued in.
 */
async function projectBatch(em: EntityManager, clock: Clock, claimed: Promise<InboxEntry[]>, turns?: LockTurns): Promise<InboxEntry[]> {
  const entries = await claimed;
  const turn = turns?.next();
  try {
    const ordered = [...entries].sort(
      (a, b) =>
        (a.community_id < b.community_id ? -1 : a.community_id > b.community_id ? 1 : 0) ||
        +new Date(a.enqueued_at) - +new Date(b.enqueued_at),
    );
    const communities = [...new Set(ordered.map((e) => e.community_id))].map((communityId) => {
      const mine = ordered.filter((e) => e.community_id === communityId);
      const refs = mine.filter((e) => e.resource_type === 'User').map((e) => ({ tenantId: e.tenant_id, userId: e.resource_id }));
      return { communityId, refs, groups: mine.filter((e) => e.resource_type === 'Group') };
    });
    // The Users first, before any lock (readBatchUsers): a projector waiting for a community has read them already.
    const users = await readBatchUsers(
      em,
      communities.flatMap((c) => c.refs),
    );
    // In a step's lanes, the directory too (readEarlyContext): used under the lock if nobody wrote meanwhile.
    const early = new Map<string, EarlyContext>();
    if (turns) {
      for (const { communityId, refs } of communities) {
        if (refs.length === 0 || turns.wrote.get(communityId) === true) continue;
        const rules = turns.rules.get(communityId) ?? (await projectionRules(em, communityId));
        early.set(communityId, await readEarlyContext(em, communityId, refs, users, rules));
      }
    }
    await turn?.wait;
    for (const { communityId, refs } of communities) if (refs.length > 0) await lockCommunity(em, communityId);
    turn?.pass();
    for (const { communityId, refs, groups } of communities) {
      if (refs.length > 0) {
        const rules = await projectionRules(em, communityId);
        turns?.rules.set(communityId, rules);
        // Not inside `turns?.wrote.set(…)`: without turns, optional chaining would skip the projection with its argument.
        const wrote = await projectUsers(em, communityId, refs, users, rules, clock.now(), early.get(communityId));
        turns?.wrote.set(communityId, wrote);
      }
      for (const group of groups) await projectGroup(em, communityId, group.tenant_id, group.resource_id);
    }
    return entries;
  } finally {
    turn?.pass();
  }
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

/** A person with no values yet (version 0 until it is first resolved): an account's own, made by hand. */
export async function insertEmptyPerson(em: EntityManager, communityId: string, personId: string, now: Date): Promise<void> {
  await em.execute('insert into person (id, community_id, active, version, created_at, updated_at) values (?, ?, true, 0, ?, ?)', [
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
