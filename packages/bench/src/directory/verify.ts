import { systemClock } from '@meridian/core';
import { createOrm, PostgresGlobalDirectoryStore, PostgresReplicationStore } from '@meridian/store';
import pg from 'pg';

/** What re-projecting a sample through the real projector changed. */
export interface ProjectionCheck {
  accounts: number;
  people: number;
  groups: number;
  /** People of the sample by number of accounts, and how many had a conflict. */
  mix: string;
  /** Rows whose content differed after the projection (empty when the seeding matches). */
  differences: string[];
  projected: number;
  seconds: number;
}

type Ref = { tenant_id: string; user_id: string };

/** Rows the projector owns for a set of accounts, people and groups, keyed and rendered as text (columns it rewrites on every run left out). */
async function snapshot(client: pg.Client, refs: Ref[], personIds: string[], groups: Ref[]): Promise<Map<string, string>> {
  const tenants = refs.map((r) => r.tenant_id);
  const users = refs.map((r) => r.user_id);
  const rows = new Map<string, string>();
  const add = (kind: string, key: (r: Record<string, unknown>) => string, list: Record<string, unknown>[]) => {
    for (const r of list) rows.set(`${kind} ${key(r)}`, JSON.stringify(r));
  };
  const inRefs = 'join unnest($1::uuid[], $2::uuid[]) as r(tenant_id, user_id) on r.tenant_id = x.tenant_id and r.user_id = x.user_id';
  add(
    'account',
    (r) => `${r.tenant_id}/${r.user_id}`,
    (
      await client.query(
        `select x.tenant_id, x.user_id, x.community_id, x.person_id, x.link, x.pinned, x.user_name, x.external_id, x.display_name,
                x.active, x.account_values, x.manager_user_id, x.user_version, x.linked_at from directory_account x ${inRefs}`,
        [tenants, users],
      )
    ).rows,
  );
  add(
    'key',
    (r) => `${r.tenant_id}/${r.user_id}/${r.key}`,
    (await client.query(`select x.* from directory_account_key x ${inRefs}`, [tenants, users])).rows,
  );
  add(
    'person',
    (r) => String(r.id),
    (
      await client.query(
        `select id, community_id, display_name, given_name, family_name, email, phone_number, title, department, organization, division,
                cost_center, employee_number, manager_person_id, active, display_name_key, family_name_key, sources, pinned, conflict_count,
                created_at
           from person where id = any($1::uuid[])`,
        [personIds],
      )
    ).rows,
  );
  add(
    'conflict',
    (r) => `${r.kind}/${r.person_id}/${r.attribute}/${r.tenant_id}/${r.user_id}`,
    (
      await client.query(
        `select id, community_id, kind, person_id, attribute, tenant_id, user_id, candidates, created_at from directory_conflict
          where person_id = any($1::uuid[])`,
        [personIds],
      )
    ).rows,
  );
  add(
    'group member',
    (r) => `${r.tenant_id}/${r.group_id}/${r.user_id}`,
    (
      await client.query(
        `select x.* from directory_account_group x
           join unnest($1::uuid[], $2::uuid[]) as g(tenant_id, group_id) on g.tenant_id = x.tenant_id and g.group_id = x.group_id`,
        [groups.map((g) => g.tenant_id), groups.map((g) => g.user_id)],
      )
    ).rows,
  );
  return rows;
}

function diff(before: Map<string, string>, after: Map<string, string>): string[] {
  const found: string[] = [];
  for (const [key, row] of before) {
    const now = after.get(key);
    if (now === undefined) found.push(`${key}: removed (was ${row})`);
    else if (now !== row) found.push(`${key}: was ${row}, now ${now}`);
  }
  for (const [key, row] of after) if (!before.has(key)) found.push(`${key}: added ${row}`);
  return found;
}

/**
 * Proves the SQL seeding writes what the projector writes: samples people with
 * one, two and three accounts, people with a conflict and managers, plus two
 * department groups and the small group, queues them in `directory_inbox`
 * and lets the real store project them (`projectDue`, as the hub's projector
 * does), then compares every row it owns for them. Run while no hub runs.
 */
export async function verifyProjection(url: string, communityId: string, sample: number): Promise<ProjectionCheck> {
  const started = performance.now();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const orm = await createOrm({ url, poolSize: 2 });
  try {
    const per = Math.max(1, Math.round(sample / 8));
    // Whole people (all their accounts), by kind; then managers of some of them, whose projection recomputes the people they manage.
    const { rows: picked } = await client.query<Ref & { kind: string }>(
      `with sizes as (select person_id, count(*) as n from directory_account where community_id = $1 group by person_id),
       chosen as (
         (select person_id, '1 account' as kind from sizes where n = 1 order by random() limit $2)
         union all (select person_id, '2 accounts' from sizes where n = 2 order by random() limit $2)
         union all (select person_id, '3 accounts' from sizes where n = 3 order by random() limit $2)
         union all (select id, 'conflict' from person where community_id = $1 and conflict_count > 0 order by random() limit $2)
       )
       select a.tenant_id, a.user_id, c.kind from chosen c join directory_account a on a.person_id = c.person_id
       union all
       (select m.tenant_id, m.user_id, 'manager' from directory_account a
          join directory_account m on m.tenant_id = a.tenant_id and m.user_id::text = a.account_values ->> 'manager'
         where a.community_id = $1 order by random() limit $2)`,
      [communityId, per],
    );
    const refs = [...new Map(picked.map((r) => [`${r.tenant_id}/${r.user_id}`, r])).values()];
    const { rows: groups } = await client.query<Ref>(
      `(select g.tenant_id, g.id as user_id from scim_group g join tenant t on t.id = g.tenant_id
         where t.community_id = $1 and g.display_name like '% (bench-%)' order by random() limit 2)
       union all
       (select tenant_id, id from scim_group where id = md5('bench-group-small')::uuid)`,
      [communityId],
    );
    // The people of the sample and the people their accounts manage: projecting an account recomputes both.
    const { rows: people } = await client.query<{ person_id: string }>(
      `select distinct x.person_id from directory_account x
         join unnest($1::uuid[], $2::uuid[]) as r(tenant_id, user_id) on r.tenant_id = x.tenant_id
          and (r.user_id = x.user_id or x.account_values ->> 'manager' = r.user_id::text)`,
      [refs.map((r) => r.tenant_id), refs.map((r) => r.user_id)],
    );
    const personIds = people.map((p) => p.person_id);
    const before = await snapshot(client, refs, personIds, groups);
    await client.query(
      `insert into directory_inbox (tenant_id, resource_type, resource_id, community_id, enqueued_at, not_before)
       select r.tenant_id, r.kind, r.id, $4, now(), now() - interval '1 second'
         from unnest($1::uuid[], $2::text[], $3::uuid[]) as r(tenant_id, kind, id)
       on conflict do nothing`,
      [
        [...refs.map((r) => r.tenant_id), ...groups.map((g) => g.tenant_id)],
        [...refs.map(() => 'User'), ...groups.map(() => 'Group')],
        [...refs.map((r) => r.user_id), ...groups.map((g) => g.user_id)],
        communityId,
      ],
    );
    const store = new PostgresGlobalDirectoryStore(orm, systemClock);
    let projected = 0;
    for (;;) {
      const steps = await store.projectDue(200, new Date());
      projected += steps.length;
      if (steps.length === 0) break;
    }
    // A projection that failed rolled back and changed nothing: it must not pass for a match.
    const { rows: stuck } = await client.query<{ n: string; error: string | null }>(
      'select count(*) as n, max(last_error) as error from directory_inbox',
    );
    if (Number(stuck[0]?.n ?? 0) > 0) {
      throw new Error(`${stuck[0]?.n} sampled entries were not projected: ${stuck[0]?.error ?? 'no error recorded'}`);
    }
    const after = await snapshot(client, refs, personIds, groups);
    const kinds = new Map<string, number>();
    for (const r of picked) kinds.set(r.kind, (kinds.get(r.kind) ?? 0) + 1);
    return {
      accounts: refs.length,
      people: personIds.length,
      groups: groups.length,
      mix: [...kinds].map(([k, n]) => `${n} accounts of ${k === 'manager' ? 'managers' : `people with ${k}`}`).join(', '),
      differences: diff(before, after),
      projected,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await orm.close(true);
    await client.end();
  }
}

/**
 * Puts the directory back in step before a run: outbox events an interrupted
 * run left undispatched go through the real relay into the inbox (this
 * database has no replication targets, so no job is made), users an earlier
 * run created (`dirbench-…`) are deleted, and the real projector drains the
 * inbox. Returns how many entries it projected.
 */
export async function settleDirectory(url: string, communityId: string): Promise<{ relayed: number; removed: number; projected: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const orm = await createOrm({ url, poolSize: 2 });
  try {
    const targets = await client.query('select 1 from replication_target limit 1');
    if ((targets.rowCount ?? 0) > 0) throw new TypeError('The bench database has replication targets: run with --reseed.');
    const relay = new PostgresReplicationStore(orm, systemClock);
    let relayed = 0;
    for (;;) {
      const n = await relay.relay(500, async () => {}, new Date());
      relayed += n;
      if (n === 0) break;
    }
    const { rows: removed } = await client.query<{ tenant_id: string; id: string }>(
      `delete from scim_user where user_name like 'dirbench-%' returning tenant_id, id`,
    );
    if (removed.length > 0) {
      await client.query(
        `insert into directory_inbox (tenant_id, resource_type, resource_id, community_id, enqueued_at, not_before)
         select r.tenant_id, 'User', r.id, $3, now(), now() - interval '1 second' from unnest($1::uuid[], $2::uuid[]) as r(tenant_id, id)
         on conflict do nothing`,
        [removed.map((r) => r.tenant_id), removed.map((r) => r.id), communityId],
      );
    }
    const store = new PostgresGlobalDirectoryStore(orm, systemClock);
    let projected = 0;
    for (;;) {
      const steps = await store.projectDue(200, new Date());
      projected += steps.length;
      if (steps.length === 0) break;
    }
    const { rows: stuck } = await client.query<{ n: string; error: string | null }>(
      'select count(*) as n, max(last_error) as error from directory_inbox',
    );
    if (Number(stuck[0]?.n ?? 0) > 0) throw new Error(`${stuck[0]?.n} inbox entries cannot be projected: ${stuck[0]?.error ?? '?'}`);
    return { relayed, removed: removed.length, projected };
  } finally {
    await orm.close(true);
    await client.end();
  }
}
