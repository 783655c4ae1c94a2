import pg from 'pg';
import type { ReplayPlan } from './replay.js';

/** EXPLAIN (ANALYZE, BUFFERS) of one statement the hub sent. */
export interface StatementPlan {
  scenario: string;
  label: string;
  ms: number;
  /** Shared buffers hit and read, all nodes. */
  hit: number;
  read: number;
  /** Rows the plan read and threw away (filters, index rechecks), all loops. */
  discarded: number;
  text: string;
}

interface PlanNode {
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  'Actual Loops'?: number;
  Plans?: PlanNode[];
}

function discardedOf(node: PlanNode): number {
  const own = ((node['Rows Removed by Filter'] ?? 0) + (node['Rows Removed by Index Recheck'] ?? 0)) * (node['Actual Loops'] ?? 1);
  return own + (node.Plans ?? []).reduce((n, child) => n + discardedOf(child), 0);
}

/** What a directory statement is, for the report. */
function statementLabel(sql: string): string | undefined {
  if (/^select count\(\*\) as n from person p\b/.test(sql)) return 'count';
  if (/\bfrom person p where p\.community_id = .* and p\.id = any\(/.test(sql)) return 'managers (people by id)';
  if (/\bfrom person p where\b.*\border by\b/.test(sql)) return 'page';
  if (/\bfrom directory_account a where\b/.test(sql)) return 'accounts of the page';
  if (/\bfrom directory_account_group g\b/.test(sql)) return 'groups of the accounts';
  return undefined;
}

/**
 * EXPLAIN (ANALYZE, BUFFERS) of the directory statements of a replay plan, as
 * the hub runs them: as `meridian_app`, in a transaction opened with the
 * hub's own `set_config` (row-level security applies). Each runs once to warm
 * the cache; the second run is reported.
 */
export async function explainPlan(url: string, scenario: string, plan: ReplayPlan, only?: string[]): Promise<StatementPlan[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const found: StatementPlan[] = [];
  try {
    for (const t of plan.flat()) {
      for (const sql of t.statements) {
        const label = statementLabel(sql);
        if (!label || (only && !only.includes(label))) continue;
        await client.query('begin');
        try {
          await client.query('set local role meridian_app');
          await client.query(t.scope);
          await client.query(`explain (analyze, buffers, format json) ${sql}`);
          const { rows } = await client.query<{ 'QUERY PLAN': { Plan: PlanNode & Record<string, number>; 'Execution Time': number }[] }>(
            `explain (analyze, buffers, format json) ${sql}`,
          );
          const top = rows[0]?.['QUERY PLAN'][0];
          const { rows: lines } = await client.query<{ 'QUERY PLAN': string }>(`explain (analyze, buffers, costs off) ${sql}`);
          found.push({
            scenario,
            label,
            ms: top?.['Execution Time'] ?? Number.NaN,
            hit: top?.Plan['Shared Hit Blocks'] ?? 0,
            read: top?.Plan['Shared Read Blocks'] ?? 0,
            discarded: top ? discardedOf(top.Plan) : 0,
            text: lines.map((l) => l['QUERY PLAN']).join('\n'),
          });
        } finally {
          await client.query('rollback');
        }
      }
    }
  } finally {
    await client.end();
  }
  return found;
}
