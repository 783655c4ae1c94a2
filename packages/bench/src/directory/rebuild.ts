import { systemClock } from '@meridian/core';
import { createOrm, PostgresGlobalDirectoryStore } from '@meridian/store';
import pg from 'pg';
import { postgresCpuMs, postgresDelta, processCpuMs } from '../cpu.js';

/** One rebuild of a community's directory through the real projector, and whether it changed anything. */
export interface RebuildResult {
  /** `existing`: every account re-projected in place (a rules change, `meridian directory rebuild`); `empty`: from an empty directory. */
  mode: 'existing' | 'empty';
  accounts: number;
  seconds: number;
  accountsPerSecond: number;
  /** CPU per account: this process (the projector's code) and all PostgreSQL processes. */
  nodeCpuMsPerAccount: number | undefined;
  postgresCpuMsPerAccount: number | undefined;
  /** Tables whose content differs from before the rebuild (empty: the same directory). */
  changed: string[];
}

/**
 * Every row of the community's directory that the projector owns, one digest
 * per table, leaving out what a projection rewrites every time (`updated_at`,
 * `version`). In `empty` mode a person is named by its accounts (the ids of
 * new people are new), and the times of the rebuild (`created_at`,
 * `linked_at`) are left out.
 */
async function digest(client: pg.Client, communityId: string, byAccounts: boolean): Promise<Record<string, string>> {
  // A person's name that survives a rebuild from empty: its first account.
  const name = byAccounts
    ? `(select min(n.tenant_id::text || '/' || n.user_id::text) from directory_account n where n.person_id = %)`
    : '%::text';
  const as = (column: string) => name.replace('%', column);
  const times = byAccounts ? '' : ', x.linked_at';
  const queries: Record<string, string> = {
    directory_account: `select x.tenant_id || '/' || x.user_id as k, concat_ws('|', ${as('x.person_id')}, x.link, x.pinned, x.user_name,
        x.external_id, x.display_name, x.active, x.account_values, x.manager_user_id, x.user_version${times}) as v
      from directory_account x where x.community_id = $1`,
    directory_account_key: `select x.tenant_id || '/' || x.user_id || '/' || x.key as k, '' as v
      from directory_account_key x where x.community_id = $1`,
    person: `select ${as('x.id')} as k, concat_ws('|', x.display_name, x.given_name, x.family_name, x.email, x.phone_number, x.title,
        x.department, x.organization, x.division, x.cost_center, x.employee_number, ${as('x.manager_person_id')}, x.active,
        x.display_name_key, x.family_name_key, x.sources, x.pinned, x.conflict_count${byAccounts ? '' : ', x.created_at'}) as v
      from person x where x.community_id = $1`,
    directory_conflict: `select concat_ws('/', x.kind, ${as('x.person_id')}, x.attribute, x.tenant_id, x.user_id) as k,
        concat_ws('|', x.candidates${byAccounts ? '' : ', x.id, x.created_at'}) as v
      from directory_conflict x where x.community_id = $1`,
  };
  const result: Record<string, string> = {};
  for (const [table, sql] of Object.entries(queries)) {
    const { rows } = await client.query<{ d: string | null; n: string }>(
      `select md5(string_agg(k || '=' || coalesce(v, ''), ',' order by k)) as d, count(*) as n from (${sql}) t`,
      [communityId],
    );
    result[table] = `${rows[0]?.n ?? 0} rows, ${rows[0]?.d ?? '-'}`;
  }
  return result;
}

/**
 * Rebuilds the community's directory with the store's `projectDue` (the
 * hub's projector code, in this process, as `meridian_app`), as `meridian
 * directory rebuild --wait` does: every User of the community queued in
 * `directory_inbox`, then projected until none is due. `empty` first removes
 * the community's directory rows (the projector then creates every person,
 * correlating accounts that arrive in the same batch). Before and after,
 * a digest of every row it owns: a rebuild must give the same directory.
 * Run while no hub runs: nothing else may drain the inbox.
 */
export async function measureRebuild(
  url: string,
  communityId: string,
  mode: 'existing' | 'empty',
  limit: number | undefined,
  log: (m: string) => void,
): Promise<RebuildResult> {
  if (mode === 'empty' && limit !== undefined) throw new TypeError('A rebuild from empty projects every account: no --rebuild-accounts.');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const orm = await createOrm({ url, poolSize: 2 });
  try {
    const before = await digest(client, communityId, mode === 'empty');
    if (mode === 'empty') {
      await client.query('begin');
      await client.query('delete from directory_conflict where community_id = $1', [communityId]);
      await client.query('delete from directory_account_key where community_id = $1', [communityId]);
      await client.query('delete from directory_account where community_id = $1', [communityId]);
      await client.query('delete from person where community_id = $1', [communityId]);
      await client.query('commit');
      await client.query('vacuum (analyze) person, directory_account, directory_account_key, directory_conflict');
    }
    const { rowCount } = await client.query(
      `insert into directory_inbox (tenant_id, resource_type, resource_id, community_id, enqueued_at, not_before)
       select u.tenant_id, 'User', u.id, $1, now(), now() - interval '1 second'
         from scim_user u join tenant t on t.id = u.tenant_id where t.community_id = $1
        ${limit === undefined ? '' : 'order by random() limit $2'}
       on conflict do nothing`,
      limit === undefined ? [communityId] : [communityId, limit],
    );
    const accounts = rowCount ?? 0;
    log(`  rebuild (${mode}): ${accounts.toLocaleString('en-US')} accounts queued`);
    const store = new PostgresGlobalDirectoryStore(orm, systemClock);
    // The projector's connections open now (two: a step runs two lanes of batches): PostgreSQL's CPU is counted by
    // process, and only processes that exist before and after count.
    await Promise.all([store.pendingProjections(communityId), store.pendingProjections(communityId)]);
    const cpuBefore = await processCpuMs(process.pid);
    const pgBefore = await postgresCpuMs();
    const started = performance.now();
    let projected = 0;
    let reported = started;
    for (;;) {
      // As the hub's projector steps (packages/replication/src/directory/directory-projector.ts, STEP_SIZE).
      const steps = await store.projectDue(5_000, new Date());
      projected += steps.length;
      if (steps.length === 0) break;
      if (performance.now() - reported > 15_000) {
        reported = performance.now();
        const rate = projected / ((reported - started) / 1000);
        log(`    ${projected.toLocaleString('en-US')} projected, ${rate.toFixed(0)} accounts/s`);
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const cpuAfter = await processCpuMs(process.pid);
    const pgSpent = postgresDelta(pgBefore, await postgresCpuMs());
    const { rows: stuck } = await client.query<{ n: string; error: string | null }>(
      'select count(*) as n, max(last_error) as error from directory_inbox',
    );
    if (Number(stuck[0]?.n ?? 0) > 0) throw new Error(`${stuck[0]?.n} entries were not projected: ${stuck[0]?.error ?? '?'}`);
    await client.query('vacuum (analyze) person, directory_account, directory_account_key, directory_conflict');
    const after = await digest(client, communityId, mode === 'empty');
    const changed = Object.keys(before).filter((t) => before[t] !== after[t]);
    for (const t of changed) log(`    ${t}: before ${before[t]}, after ${after[t]}`);
    return {
      mode,
      accounts: projected,
      seconds,
      accountsPerSecond: projected / seconds,
      nodeCpuMsPerAccount: cpuBefore !== undefined && cpuAfter !== undefined ? (cpuAfter - cpuBefore) / projected : undefined,
      postgresCpuMsPerAccount: pgSpent !== undefined ? pgSpent / projected : undefined,
      changed,
    };
  } finally {
    await orm.close(true);
    await client.end();
  }
}
