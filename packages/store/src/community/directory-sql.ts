import { type CorrelationAttribute, DEFAULT_CORRELATION, type DirectoryRules } from '@meridian/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { pgArray } from '../orm/sql.js';

/**
 * SQL the global directory's stores share: the community's lock and rules,
 * the projection inbox, and the joining of data-modifying statements into
 * one. Their transactions are orm/unit-of-work.ts's `inCommunity` and
 * `asPlatform`.
 */

/** One part of {@link statementOf}; `name` when a later part reads what it returns. */
interface StatementPart {
  name?: string;
  sql: string;
  params: unknown[];
}

/**
 * Joins data-modifying statements into one (`with a as (...), b as (...) select 1`), leaving out the parts a
 * call does not need, so PostgreSQL plans only what runs. Every part runs, referenced or not.
 */
export function statementOf(parts: readonly (StatementPart | false | undefined)[]): { sql: string; params: unknown[] } {
  const used = parts.filter((p): p is StatementPart => Boolean(p));
  return {
    sql: `with ${used.map((p, i) => `${p.name ?? `s${i}`} as (${p.sql})`).join(',\n')}\nselect 1`,
    params: used.flatMap((p) => p.params),
  };
}

/** The driver's transaction as MikroORM holds it (Kysely's): enough to send one statement with bound parameters. */
interface DriverTransaction {
  executeQuery(query: {
    sql: string;
    parameters: readonly unknown[];
    query: { kind: 'RawNode'; sqlFragments: string[]; parameters: [] };
  }): Promise<{
    rows: unknown[];
  }>;
}

/**
 * Runs one statement in `em`'s transaction with its `?` placeholders bound
 * as parameters ($1, $2, …), not written into the SQL text as `em.execute`
 * does: the projection's batches carry hundreds of kilobytes of JSON, which
 * escaping and parsing as literals cost more than the statement (ADR 0025).
 * Errors are the driver's, translated at the unit of work's boundary.
 */
export async function executeBound<T>(em: EntityManager, sql: string, params: readonly unknown[]): Promise<T[]> {
  const transaction = em.getTransactionContext() as unknown as DriverTransaction | undefined;
  if (!transaction) throw new TypeError('executeBound runs inside a transaction of the unit of work.');
  let n = 0;
  const text = sql.replace(/\?/g, () => `$${++n}`);
  if (n !== params.length) throw new TypeError(`The statement has ${n} placeholders for ${params.length} parameters.`);
  const result = await transaction.executeQuery({
    sql: text,
    parameters: params,
    query: { kind: 'RawNode', sqlFragments: [text], parameters: [] },
  });
  return result.rows as T[];
}

/** Serialises the changes of one community's directory: correlation reads the links other projections write. */
export async function lockCommunity(em: EntityManager, communityId: string): Promise<void> {
  await em.execute('select pg_advisory_xact_lock(hashtextextended(?, 7))', [`directory:${communityId}`]);
}

/**
 * The rules as a projection step reads them, with whether the community
 * exports its directory, and its change counter as this read saw it
 * ({@link DIRECTORY_CHANGED}).
 */
export type ProjectionRules = DirectoryRules & { exporting: boolean; changes: number };

/**
 * Adds one to the community's change counter (`directory_count.changes`,
 * migration 20261210100000): every writer under the community's lock that
 * changes what a projection reads runs it in its transaction, so a batch
 * that read its context before the lock knows, under it, whether anybody
 * wrote since (ADR 0025, decision 11). One parameter: the community.
 */
export const DIRECTORY_CHANGED = `insert into directory_count (community_id, people, changes) values (?, 0, 1)
  on conflict (community_id) do update set changes = directory_count.changes + 1`;

/** Records a change of the community's directory ({@link DIRECTORY_CHANGED}); run under its lock. */
export async function markDirectoryChanged(em: EntityManager, communityId: string): Promise<void> {
  await em.execute(DIRECTORY_CHANGED, [communityId]);
}

export async function loadRules(em: EntityManager, communityId: string): Promise<DirectoryRules> {
  const [row] = await em.execute<{ correlation: string[]; authority: DirectoryRules['authority'] }[]>(
    'select correlation, authority from directory_settings where community_id = ?',
    [communityId],
  );
  return row
    ? { correlation: row.correlation as CorrelationAttribute[], authority: row.authority ?? {} }
    : { correlation: [...DEFAULT_CORRELATION], authority: {} };
}

/** The rules, whether the community exports its directory, and its change counter: what a projection step needs to know, in one read. */
export async function projectionRules(em: EntityManager, communityId: string): Promise<ProjectionRules> {
  const [row] = await em.execute<
    { correlation: string[] | null; authority: DirectoryRules['authority'] | null; exporting: boolean; changes: string | null }[]
  >(
    `select s.correlation, s.authority, exists (select 1 from directory_export e where e.community_id = ? and e.enabled) as exporting,
       (select k.changes from directory_count k where k.community_id = ?) as changes
     from (select 1) as one left join directory_settings s on s.community_id = ?`,
    [communityId, communityId, communityId],
  );
  return {
    correlation: (row?.correlation as CorrelationAttribute[] | null) ?? [...DEFAULT_CORRELATION],
    authority: row?.authority ?? {},
    exporting: row?.exporting === true,
    changes: Number(row?.changes ?? 0),
  };
}

/** Queues resources for projection, in one statement; an entry already queued becomes due at once. */
export async function enqueueProjections(
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

/** Queues every User (and Group, unless `kind` says otherwise) of the community's tenants; answers how many. */
export async function enqueueCommunityResources(
  em: EntityManager,
  communityId: string,
  now: Date,
  kind?: 'User' | 'Group',
): Promise<number> {
  const parts: string[] = [];
  if (kind !== 'Group')
    parts.push("select u.tenant_id, 'User' as kind, u.id from scim_user u join tenant t on t.id = u.tenant_id where t.community_id = ?");
  if (kind !== 'User')
    parts.push("select g.tenant_id, 'Group' as kind, g.id from scim_group g join tenant t on t.id = g.tenant_id where t.community_id = ?");
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
