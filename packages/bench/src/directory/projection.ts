import { systemClock } from '@meridian/core';
import { createOrm, PostgresGlobalDirectoryStore } from '@meridian/store';
import { SqlCapture } from '@meridian/test-utils';
import pg from 'pg';

/** The real projector re-projecting existing accounts of some offices, in this process. */
export interface ProjectionRate {
  label: string;
  entries: number;
  msPerEntry: number;
  statementsPerEntry: number;
}

/** One statement of a projection, timed as the projector runs it and as the owner. */
export interface ProjectionStatement {
  sql: string;
  /** As `meridian_app` in a platform-scope transaction (row-level security applies), and as the connecting owner. */
  appMs: number;
  ownerMs: number;
  appDiscarded: number;
  appPlan: string;
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

function proxied(url: string, port: number): string {
  const u = new URL(url);
  u.hostname = '127.0.0.1';
  u.port = String(port);
  return u.toString();
}

async function enqueue(client: pg.Client, communityId: string, slugs: string[], count: number): Promise<number> {
  const { rowCount } = await client.query(
    `insert into directory_inbox (tenant_id, resource_type, resource_id, community_id, enqueued_at, not_before)
     select a.tenant_id, 'User', a.user_id, $1, now(), now() - interval '1 second'
       from (select a.tenant_id, a.user_id from directory_account a join tenant t on t.id = a.tenant_id
              where a.community_id = $1 and t.slug = any($2::text[]) and a.user_name not like 'dirbench-%' order by random() limit $3) a
     on conflict do nothing`,
    [communityId, slugs, count],
  );
  return rowCount ?? 0;
}

/** Projects everything due through `url` with the store's `projectDue`, as the hub's projector does. */
async function drain(url: string): Promise<number> {
  const orm = await createOrm({ url, poolSize: 2 });
  try {
    const store = new PostgresGlobalDirectoryStore(orm, systemClock);
    let done = 0;
    for (;;) {
      const steps = await store.projectDue(200, new Date());
      done += steps.length;
      if (steps.length === 0) return done;
    }
  } finally {
    await orm.close(true);
  }
}

/**
 * How fast the real projector (the store's `projectDue`, its SQL as the hub
 * sends it, through a recording proxy) re-projects random existing accounts
 * of each group of offices; then the statements of one account's projection
 * in the last group, each under EXPLAIN ANALYZE as the projector runs it
 * (`meridian_app`, platform scope: row-level security applies) and as the
 * owner. Run while no hub runs: nothing else may drain the inbox.
 */
export async function measureProjection(
  url: string,
  communityId: string,
  groups: { label: string; slugs: string[] }[],
  count: number,
): Promise<{ rates: ProjectionRate[]; statements: ProjectionStatement[] }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const target = new URL(url);
  const capture = new SqlCapture(target.hostname, Number(target.port || 5432));
  const port = await capture.listen();
  try {
    const rates: ProjectionRate[] = [];
    for (const group of groups) {
      await enqueue(client, communityId, group.slugs, count);
      const since = performance.now();
      const done = await drain(proxied(url, port));
      const ms = performance.now() - since;
      // Connection set-up statements of the fresh pool are not the projection's.
      const sent = capture.since(since).filter((s) => !/^(select 1 from pg_database|set )/i.test(s)).length;
      rates.push({ label: group.label, entries: done, msPerEntry: ms / Math.max(1, done), statementsPerEntry: sent / Math.max(1, done) });
    }
    const last = groups.at(-1);
    if (!last) return { rates, statements: [] };
    await enqueue(client, communityId, last.slugs, 1);
    const since = performance.now();
    await drain(proxied(url, port));
    const own = capture
      .since(since)
      .filter((s) => !/^(begin|commit|rollback|set |select set_config|select pg_advisory_xact_lock|select 1 from pg_database)/i.test(s))
      .filter((s) => !/^delete from directory_inbox\b/.test(s) && !/^select s\.correlation\b/.test(s));
    const statements: ProjectionStatement[] = [];
    for (const sql of own) {
      // The batch statements bind their parameters ($1, …; ADR 0025): the proxy sees their text, not their values,
      // so they cannot be run again here. They are listed, unexplained ('—').
      if (/\$\d/.test(sql)) {
        statements.push({ sql, appMs: Number.NaN, ownerMs: Number.NaN, appDiscarded: Number.NaN, appPlan: '' });
        continue;
      }
      const timed = async (asApplication: boolean) => {
        await client.query('begin');
        try {
          if (asApplication) await client.query('set local role meridian_app');
          await client.query(`select set_config('meridian.scope', 'platform', true)`);
          await client.query(`explain (analyze, format json) ${sql}`);
          const { rows } = await client.query<{ 'QUERY PLAN': { Plan: PlanNode; 'Execution Time': number }[] }>(
            `explain (analyze, format json) ${sql}`,
          );
          const text = asApplication
            ? (await client.query<{ 'QUERY PLAN': string }>(`explain (analyze, costs off, timing off, summary off) ${sql}`)).rows
                .map((r) => r['QUERY PLAN'])
                .join('\n')
            : '';
          const top = rows[0]?.['QUERY PLAN'][0];
          return { ms: top?.['Execution Time'] ?? Number.NaN, discarded: top ? discardedOf(top.Plan) : 0, text };
        } finally {
          await client.query('rollback');
        }
      };
      const app = await timed(true);
      const owner = await timed(false);
      statements.push({ sql, appMs: app.ms, ownerMs: owner.ms, appDiscarded: app.discarded, appPlan: app.text });
    }
    return { rates, statements };
  } finally {
    await capture.close();
    await client.end();
  }
}
