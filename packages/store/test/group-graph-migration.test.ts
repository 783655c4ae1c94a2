// Migration 20261207100000 (issue 12, ADR 0018) on a database that holds what
// the old rules let through: memberships of deleted or foreign resources, and
// cycles. It removes them, records each group it changed as a PATCH would, and
// leaves the tenant's audit chain intact.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { systemClock } from '@meridian/core';
import { createOrm, type MikroORM, PostgresAuditLog } from '@meridian/store';
import { dropTestDatabase, testDatabaseName } from '@meridian/test-utils';
import pg from 'pg';
import { migrations } from '../src/migrations/index.js';

const MIGRATION = 'Migration20261207100000_group_graph_integrity';
const COMMUNITY = '00000000-0000-7000-8000-00000000c001';
const TENANT = '00000000-0000-7000-8000-00000000a001';
const OTHER_TENANT = '00000000-0000-7000-8000-00000000a002';
const USER = '00000000-0000-7000-8000-000000000001';
const FOREIGN_USER = '00000000-0000-7000-8000-000000000002';
const GONE_USER = '00000000-0000-7000-8000-000000000003';
const GONE_GROUP = '00000000-0000-7000-8000-000000000004';
const [A, B, C, D, E, SELF] = [1, 2, 3, 4, 5, 6].map((n) => `00000000-0000-7000-8000-0000000001${String(n).padStart(2, '0')}`) as [
  string,
  string,
  string,
  string,
  string,
  string,
];

let name: string;
let orm: MikroORM;
let client: pg.Client;

beforeAll(async () => {
  name = testDatabaseName('graph_migration');
  const adminUrl = process.env.MERIDIAN_TEST_ADMIN_URL as string;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  orm = await createOrm({ url: url.toString(), poolSize: 2, role: null });
  const before = migrations[migrations.findIndex((m) => m.name === MIGRATION) - 1]?.name;
  await orm.migrator.up({ to: before });
  client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
});

afterAll(async () => {
  await client.end();
  await orm.close(true);
  await dropTestDatabase(name);
});

async function seed(): Promise<void> {
  await client.query(`insert into community (id, slug, name, created_at) values ($1, 'coi', 'CoI', now())`, [COMMUNITY]);
  await client.query(
    `insert into tenant (id, community_id, slug, name, created_at) values ($1, $3, 'emea', 'EMEA', now()), ($2, $3, 'apac', 'APAC', now())`,
    [TENANT, OTHER_TENANT, COMMUNITY],
  );
  await client.query(
    `insert into scim_user (id, tenant_id, user_name, attributes, version, created_at, updated_at)
     values ($1, $2, 'ada', '{"userName":"ada"}', 1, now(), now()), ($3, $4, 'foreign', '{"userName":"foreign"}', 1, now(), now())`,
    [USER, TENANT, FOREIGN_USER, OTHER_TENANT],
  );
  for (const [id, label] of [
    [A, 'A'],
    [B, 'B'],
    [C, 'C'],
    [D, 'D'],
    [E, 'E'],
    [SELF, 'Self'],
  ]) {
    await client.query(
      `insert into scim_group (id, tenant_id, display_name, attributes, version, created_at, updated_at)
       values ($1, $2, $3, jsonb_build_object('displayName', $3::text), 1, now(), now())`,
      [id, TENANT, label],
    );
  }
  // [group, member, type, minutes ago]: A > B > C > A closed last by C > A; D > E legitimately; Self > Self.
  const rows: [string, string, string, number][] = [
    [A, B, 'Group', 50],
    [B, C, 'Group', 40],
    [C, A, 'Group', 10],
    [D, E, 'Group', 30],
    [E, USER, 'User', 30],
    [SELF, SELF, 'Group', 20],
    [D, GONE_USER, 'User', 30],
    [D, GONE_GROUP, 'Group', 30],
    [E, FOREIGN_USER, 'User', 30],
  ];
  for (const [group, member, type, ago] of rows) {
    await client.query(
      `insert into group_member (group_id, member_id, tenant_id, member_type, created_at)
       values ($1, $2, $3, $4, now() - make_interval(mins => $5))`,
      [group, member, TENANT, type, ago],
    );
  }
}

describe('migration 20261207100000 on memberships the old rules let through', () => {
  it('removes dangling members and breaks each cycle at its newest membership, recording every group it changed', async () => {
    await seed();
    await orm.migrator.up();

    const left = await client.query<{ group_id: string; member_id: string }>('select group_id, member_id from group_member order by 1, 2');
    expect(left.rows).toEqual(
      [
        { group_id: A, member_id: B },
        { group_id: B, member_id: C },
        { group_id: D, member_id: E },
        { group_id: E, member_id: USER },
      ].sort((x, y) => (x.group_id + x.member_id).localeCompare(y.group_id + y.member_id)),
    );

    const versions = await client.query<{ id: string; version: number }>('select id, version from scim_group order by id');
    expect(Object.fromEntries(versions.rows.map((r) => [r.id, r.version]))).toEqual({ [A]: 1, [B]: 1, [C]: 2, [D]: 2, [E]: 2, [SELF]: 2 });

    const events = await client.query(
      'select tenant_id, type, resource_type, resource_id, resource_version, request_id from outbox_event order by resource_id',
    );
    expect(events.rows).toEqual(
      [C, D, E, SELF].map((id) => ({
        tenant_id: TENANT,
        type: 'group.updated',
        resource_type: 'Group',
        resource_id: id,
        resource_version: 2,
        request_id: MIGRATION,
      })),
    );
    const audit = await client.query<{
      resource_id: string;
      actor_type: string;
      actor_id: string;
      diff: { after: { membersRemoved: string[] } };
    }>('select resource_id, actor_type, actor_id, diff from audit_event order by seq');
    expect(audit.rows.map((r) => [r.resource_id, r.actor_type, r.actor_id, r.diff.after.membersRemoved])).toEqual([
      [C, 'system', 'migration', [A]],
      [D, 'system', 'migration', [GONE_USER, GONE_GROUP].sort()],
      [E, 'system', 'migration', [FOREIGN_USER]],
      [SELF, 'system', 'migration', [SELF]],
    ]);
    const [chain] = await new PostgresAuditLog(orm, systemClock).verify({ chain: TENANT });
    expect(chain).toMatchObject({ ok: true, entriesChecked: 4, breaks: [] });

    // The rules hold from now on.
    await expect(
      client.query(
        `insert into group_member (group_id, member_id, tenant_id, member_type, created_at) values ($1, $2, $3, 'Group', now())`,
        [C, A, TENANT],
      ),
    ).rejects.toMatchObject({ code: '23514', constraint: 'group_member_acyclic' });
    await expect(
      client.query(
        `insert into group_member (group_id, member_id, tenant_id, member_type, created_at) values ($1, $2, $3, 'User', now())`,
        [D, GONE_USER, TENANT],
      ),
    ).rejects.toMatchObject({ code: '23503', constraint: 'group_member_member_user_fkey' });
  });
});
