import { parseScimFilter } from '@meridian/core';
import { filterToSql } from '@meridian/store';
import pg from 'pg';
import { countSql, numberPlaceholders, pageSql } from './hub-sql.js';

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Relation Name'?: string;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  'Actual Loops'?: number;
  Plans?: PlanNode[];
}

/** How PostgreSQL runs the two queries of one filtered list. */
export interface FilterPlan {
  filter: string;
  /** `as the hub` (application role, policies) or `as the owner` (no policies). */
  as: string;
  /** `Node Type: index` of every index the plans use, count query first. */
  countIndexes: string[];
  pageIndexes: string[];
  /** Sequential scans of a table, which a filtered list should not need. */
  seqScans: string[];
  /** Rows both queries read and then threw away (filter, index recheck): an index that narrows nothing. */
  rowsDiscarded: number;
  countMs: number;
  pageMs: number;
  /** EXPLAIN ANALYZE text of both queries. */
  text: string;
}

function walk(node: PlanNode, visit: (n: PlanNode) => void): void {
  visit(node);
  for (const child of node.Plans ?? []) walk(child, visit);
}

function indexesOf(plan: PlanNode): string[] {
  const found: string[] = [];
  walk(plan, (n) => {
    if (n['Index Name']) found.push(`${n['Node Type']}: ${n['Index Name']}`);
  });
  return found;
}

function discardedOf(plan: PlanNode): number {
  let total = 0;
  walk(plan, (n) => {
    total += ((n['Rows Removed by Filter'] ?? 0) + (n['Rows Removed by Index Recheck'] ?? 0)) * (n['Actual Loops'] ?? 1);
  });
  return total;
}

function seqScansOf(plan: PlanNode): string[] {
  const found: string[] = [];
  walk(plan, (n) => {
    if (n['Node Type'] === 'Seq Scan' && n['Relation Name']) found.push(n['Relation Name']);
  });
  return found;
}

/**
 * EXPLAIN ANALYZE of the count and page queries the hub runs for `filter` in the tenant.
 * With `asApplication`, as the hub runs them: as the role `meridian_app` in a transaction
 * scoped to the tenant, so the row-level security policies apply (ADR 0010); without it,
 * as the connecting user (the schema owner or a superuser), which shows whether the SQL
 * matches its index at all.
 */
export async function explainFilter(client: pg.Client, tenantId: string, filter: string, asApplication: boolean): Promise<FilterPlan> {
  await client.query('begin');
  try {
    if (asApplication) {
      await client.query('set local role meridian_app');
      await client.query(`select set_config('meridian.tenant_id', $1, true)`, [tenantId]);
    }
    return await explainInTransaction(client, tenantId, filter);
  } finally {
    await client.query('rollback');
  }
}

/** Whether the database has the application role of row-level security. */
export async function hasApplicationRole(client: pg.Client): Promise<boolean> {
  const { rowCount } = await client.query(`select 1 from pg_roles where rolname = 'meridian_app'`);
  return rowCount === 1;
}

async function explainInTransaction(client: pg.Client, tenantId: string, filter: string): Promise<FilterPlan> {
  const fragment = filterToSql('User', parseScimFilter(filter));
  const where = numberPlaceholders(fragment.sql, 2);
  const count = { sql: countSql(where), params: [tenantId, ...fragment.params] };
  const page = { sql: pageSql(where, 2 + fragment.params.length), params: [tenantId, ...fragment.params, 100, 0] };
  const json = async (q: { sql: string; params: unknown[] }) => {
    const { rows } = await client.query<{ 'QUERY PLAN': { Plan: PlanNode; 'Execution Time': number }[] }>(
      `explain (analyze, buffers, format json) ${q.sql}`,
      q.params,
    );
    const top = rows[0]?.['QUERY PLAN'][0];
    if (!top) throw new TypeError('EXPLAIN returned no plan');
    return top;
  };
  const text = async (q: { sql: string; params: unknown[] }) => {
    const { rows } = await client.query<{ 'QUERY PLAN': string }>(
      `explain (analyze, costs off, timing off, summary off) ${q.sql}`,
      q.params,
    );
    return rows.map((r) => r['QUERY PLAN']).join('\n');
  };
  // Warm the cache once, so the plan shows steady-state timings.
  await json(count);
  await json(page);
  const countPlan = await json(count);
  const pagePlan = await json(page);
  return {
    filter,
    as: '',
    countIndexes: indexesOf(countPlan.Plan),
    pageIndexes: indexesOf(pagePlan.Plan),
    seqScans: [...seqScansOf(countPlan.Plan), ...seqScansOf(pagePlan.Plan)],
    rowsDiscarded: discardedOf(countPlan.Plan) + discardedOf(pagePlan.Plan),
    countMs: countPlan['Execution Time'],
    pageMs: pagePlan['Execution Time'],
    text: `-- count\n${await text(count)}\n-- page\n${await text(page)}`,
  };
}
