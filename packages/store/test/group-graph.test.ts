// Issue 12, "group graph integrity", in the database itself (ADR 0018): no
// membership cycle at any depth or under any interleaving, and no membership of
// a deleted resource. Memberships are written here as the application role
// over connections of their own, with the interleavings spelled out, so that
// what is proved does not depend on the store's own checks.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  AdminService,
  type DirectoryCaller,
  type Principal,
  principalOfRole,
  type RequestContext,
  ResourceService,
  SCHEMA,
  systemClock,
} from '@meridian/core';
import { Argon2PasswordHasher, PostgresAdminStore, PostgresDirectoryStore } from '@meridian/store';
import { createTestDatabase, eventually, type TestDatabase } from '@meridian/test-utils';
import pg from 'pg';

/** A SCIM client of the tenant: the caller the core's ResourceService authorizes (scim.read, scim.write). */
const scimCaller = (tenantId: string): DirectoryCaller => ({ principal: principalOfRole('provisioner', { tenantId }), api: 'scim' });

const context: RequestContext = { actor: { type: 'cli', id: 'test' }, requestId: 'group-graph', sourceAddress: '127.0.0.1' };
const platform: Principal = { kind: 'platform', tokenId: 'test', scopes: ['admin'] };

let db: TestDatabase;
let resources: ResourceService;
let tenantId: string;
const clients: pg.Client[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  const admin = new AdminService(new PostgresAdminStore(db.orm, systemClock), systemClock);
  resources = new ResourceService(new PostgresDirectoryStore(db.orm, systemClock), new Argon2PasswordHasher());
  await admin.createCommunity(platform, { slug: 'coi', name: 'CoI' }, context);
  tenantId = (await admin.createTenant(platform, { slug: 'emea', name: 'EMEA', community: 'coi' }, context)).id;
});

afterAll(async () => {
  for (const client of clients) await client.end().catch(() => {});
  await db.close();
});

/** A connection of its own that acts as the application role in the tenant's scope, as the hub's do. */
async function connect(): Promise<pg.Client & { pid: number }> {
  const client = new pg.Client({ connectionString: db.url, options: `-c role=meridian_app -c meridian.tenant_id=${tenantId}` });
  await client.connect();
  clients.push(client);
  const [row] = (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows;
  return Object.assign(client, { pid: row?.pid ?? 0 });
}

/** Resolves once `pid` waits for a lock: the next step of an interleaving may then run. */
async function waitingForLock(pid: number): Promise<void> {
  await eventually(
    `backend ${pid} to wait for a lock`,
    async () => {
      const [row] = await db.query<{ waiting: boolean }>(
        "select coalesce((select wait_event_type = 'Lock' from pg_stat_activity where pid = $1), false) as waiting",
        [pid],
      );
      return row?.waiting;
    },
    { intervalMs: 10 },
  );
}

let serial = 0;
async function group(members: string[] = []): Promise<string> {
  serial++;
  const body = { schemas: [SCHEMA.group], displayName: `graph-${serial}`, members: members.map((value) => ({ value })) };
  return (await resources.create(scimCaller(tenantId), tenantId, 'Group', body, context)).id;
}

async function user(): Promise<string> {
  serial++;
  return (
    await resources.create(
      scimCaller(tenantId),
      tenantId,
      'User',
      { schemas: [SCHEMA.user], userName: `graph-${serial}@example.org` },
      context,
    )
  ).id;
}

/** A chain of `length` groups, each the only member of the one before; returns them outermost first. */
async function chain(length: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < length; i++) ids.unshift(await group(ids.slice(0, 1)));
  return ids;
}

function addMember(client: pg.Client, groupId: string, memberId: string, type: 'User' | 'Group' = 'Group') {
  return client.query('insert into group_member (group_id, member_id, tenant_id, member_type, created_at) values ($1, $2, $3, $4, now())', [
    groupId,
    memberId,
    tenantId,
    type,
  ]);
}

async function edges(ids: string[]): Promise<string[]> {
  const rows = await db.query<{ edge: string }>(
    "select group_id || '>' || member_id as edge from group_member where group_id = any($1::uuid[]) order by 1",
    [ids],
  );
  return rows.map((r) => r.edge);
}

/** Memberships whose member is not a resource of the membership's tenant. */
async function danglingMembers(): Promise<unknown[]> {
  return db.query(
    `select m.group_id, m.member_id from group_member m
      where not exists (select 1 from scim_user u where u.id = m.member_id and u.tenant_id = m.tenant_id)
        and not exists (select 1 from scim_group g where g.id = m.member_id and g.tenant_id = m.tenant_id)`,
  );
}

describe('a membership that closes a cycle', () => {
  it.each([40, 100])('is refused at depth %i when written straight into group_member, naming the cycle', async (length) => {
    const ids = await chain(length);
    const client = await connect();
    const error = await addMember(client, ids[length - 1]!, ids[0]!).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: '23514', constraint: 'group_member_acyclic', table: 'group_member' });
    const cycle = JSON.parse((error as { detail: string }).detail) as { id: string; displayName: string }[];
    // From the group that was to get the member, through the member and every group inside it, back to the group.
    expect(cycle.map((s) => s.id)).toEqual([ids[length - 1], ...ids]);
    expect(cycle[0]?.displayName).toBe(`graph-${serial - length + 1}`);
    expect(await edges([ids[length - 1]!])).toEqual([]);
  });

  it('is refused when one statement writes a whole cycle of new rows', async () => {
    const [a, b, c] = [await group(), await group(), await group()];
    const client = await connect();
    const error = await client
      .query(
        `insert into group_member (group_id, member_id, tenant_id, member_type, created_at)
         values ($1, $2, $4, 'Group', now()), ($2, $3, $4, 'Group', now()), ($3, $1, $4, 'Group', now())`,
        [a, b, c, tenantId],
      )
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: '23514', constraint: 'group_member_acyclic' });
    expect(await edges([a, b, c])).toEqual([]);
  });

  it('is refused when an update turns a membership into a cycle', async () => {
    const [outer, inner, other] = [await group(), await group(), await group()];
    const client = await connect();
    await addMember(client, outer, inner);
    await addMember(client, inner, other);
    const error = await client.query('update group_member set member_id = $1 where group_id = $2', [outer, inner]).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: '23514', constraint: 'group_member_acyclic' });
    expect(await edges([outer, inner])).toEqual([`${inner}>${other}`, `${outer}>${inner}`].sort());
  });

  it('of a group with itself is refused', async () => {
    const a = await group();
    const error = await addMember(await connect(), a, a).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: '23514', constraint: 'group_member_acyclic' });
    expect(JSON.parse((error as { detail: string }).detail)).toEqual([
      { id: a, displayName: `graph-${serial}` },
      { id: a, displayName: `graph-${serial}` },
    ]);
  });

  it('is not confused by a diamond: the same group reached along two paths is no cycle', async () => {
    const bottom = await group();
    const left = await group([bottom]);
    const right = await group([bottom]);
    const top = await group([left, right]);
    const client = await connect();
    await addMember(client, bottom, await group());
    const above = await group([top]);
    expect(await edges([above])).toEqual([`${above}>${top}`]);
  });
});

describe('concurrent memberships (regression: A += B and B += A were both accepted)', () => {
  it('refuses the second of two transactions that close a cycle together, once the first commits', async () => {
    const [a, b] = [await group(), await group()];
    const first = await connect();
    const second = await connect();
    await first.query('begin');
    await second.query('begin');
    await addMember(first, a, b);
    const closing = addMember(second, b, a).catch((e: unknown) => e);
    await waitingForLock(second.pid);
    await first.query('commit');
    expect(await closing).toMatchObject({ code: '23514', constraint: 'group_member_acyclic' });
    await second.query('rollback');
    expect(await edges([a, b])).toEqual([`${a}>${b}`]);
  });

  it('lets the second one through when the first rolls back', async () => {
    const [a, b] = [await group(), await group()];
    const first = await connect();
    const second = await connect();
    await first.query('begin');
    await second.query('begin');
    await addMember(first, a, b);
    const closing = addMember(second, b, a);
    await waitingForLock(second.pid);
    await first.query('rollback');
    await closing;
    await second.query('commit');
    expect(await edges([a, b])).toEqual([`${b}>${a}`]);
  });

  it('refuses a ring closed by several transactions at once, through a chain of 40', async () => {
    const ids = await chain(40);
    const [head, tail] = [ids[0]!, ids[39]!];
    // Cut the chain in the middle, then close it at both ends at once: tail += head and the cut again.
    const [upper, lower] = [ids[19]!, ids[20]!];
    await db.query('delete from group_member where group_id = $1 and member_id = $2', [upper, lower]);
    const first = await connect();
    const second = await connect();
    await first.query('begin');
    await second.query('begin');
    await addMember(first, tail, head);
    const closing = addMember(second, upper, lower).catch((e: unknown) => e);
    await waitingForLock(second.pid);
    await first.query('commit');
    const error = await closing;
    expect(error).toMatchObject({ code: '23514', constraint: 'group_member_acyclic' });
    expect(JSON.parse((error as { detail: string }).detail)).toHaveLength(41);
    await second.query('rollback');
  });

  it('refuses REPEATABLE READ, whose snapshot cannot see what committed since it began', async () => {
    const [a, b] = [await group(), await group()];
    const client = await connect();
    await client.query('begin isolation level repeatable read');
    const error = await addMember(client, a, b).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: '0A000' });
    await client.query('rollback');
    // A user member needs no cycle check, and no lock.
    await client.query('begin isolation level repeatable read');
    await addMember(client, a, await user(), 'User');
    await client.query('commit');
  });

  it('lets serializable snapshot isolation refuse one of two SERIALIZABLE transactions that close a cycle together', async () => {
    const [a, b] = [await group(), await group()];
    const first = await connect();
    const second = await connect();
    await first.query('begin isolation level serializable');
    await second.query('begin isolation level serializable');
    // Both snapshots are taken before either writes.
    await first.query('select 1 from group_member limit 1');
    await second.query('select 1 from group_member limit 1');
    await addMember(first, a, b);
    const closing = addMember(second, b, a).then(() => second.query('commit'));
    await waitingForLock(second.pid);
    await first.query('commit');
    const error = await closing.catch((e: unknown) => e);
    expect(error).toMatchObject({ code: '40001' });
    await second.query('rollback');
    expect(await edges([a, b])).toEqual([`${a}>${b}`]);
  });
});

describe('a deleted member (regression: a user deleted while being added stayed a member)', () => {
  it('cannot be written as a member', async () => {
    const g = await group();
    const client = await connect();
    const missing = '00000000-0000-7000-8000-000000000404';
    expect(await addMember(client, g, missing, 'User').catch((e: unknown) => e)).toMatchObject({
      code: '23503',
      constraint: 'group_member_member_user_fkey',
    });
    expect(await addMember(client, g, missing, 'Group').catch((e: unknown) => e)).toMatchObject({
      code: '23503',
      constraint: 'group_member_member_group_fkey',
    });
  });

  it('loses its memberships with the delete, even without deleting them first', async () => {
    const [u, inner] = [await user(), await group()];
    const g = await group([u, inner]);
    const client = await connect();
    await client.query('delete from scim_user where id = $1', [u]);
    await client.query('delete from scim_group where id = $1', [inner]);
    expect(await edges([g])).toEqual([]);
  });

  it('is removed when the membership commits first and the delete waits for it', async () => {
    const [u, g] = [await user(), await group()];
    const adding = await connect();
    const deleting = await connect();
    await adding.query('begin');
    await addMember(adding, g, u, 'User');
    await deleting.query('begin');
    // The delete's own pass over the memberships does not see the uncommitted one.
    await deleting.query('delete from group_member where member_id = $1', [u]);
    const deleted = deleting.query('delete from scim_user where id = $1', [u]);
    await waitingForLock(deleting.pid);
    await adding.query('commit');
    await deleted;
    await deleting.query('commit');
    expect(await edges([g])).toEqual([]);
    expect(await danglingMembers()).toEqual([]);
  });

  it('is refused when the delete commits first and the membership waits for it', async () => {
    const [u, g] = [await user(), await group()];
    const adding = await connect();
    const deleting = await connect();
    await deleting.query('begin');
    await deleting.query('delete from scim_user where id = $1', [u]);
    await adding.query('begin');
    const added = addMember(adding, g, u, 'User').catch((e: unknown) => e);
    await waitingForLock(adding.pid);
    await deleting.query('commit');
    expect(await added).toMatchObject({ code: '23503', constraint: 'group_member_member_user_fkey' });
    await adding.query('rollback');
    expect(await edges([g])).toEqual([]);
    expect(await danglingMembers()).toEqual([]);
  });
});

describe("a user's groups", () => {
  it('lists every group of a chain of 100, one direct and the rest indirect (regression: cut at depth 32)', async () => {
    const u = await user();
    const ids: string[] = [];
    for (let i = 0; i < 100; i++) ids.unshift(await group(i === 0 ? [u] : ids.slice(0, 1)));
    const found = await resources.get(scimCaller(tenantId), tenantId, 'User', u);
    expect(found.groups).toHaveLength(100);
    expect(found.groups.filter((g) => g.type === 'direct').map((g) => g.value)).toEqual([ids[99]]);
    expect(new Set(found.groups.map((g) => g.value))).toEqual(new Set(ids));
  });

  it('ends on a cycle that the database holds from before its rules', async () => {
    // A cycle can only be there from before the trigger existed: put one in behind it, as the server's user.
    const u = await user();
    const [a, b] = [await group([u]), await group()];
    await db.query('alter table group_member disable trigger group_member_acyclic_insert');
    try {
      await db.query(
        `insert into group_member (group_id, member_id, tenant_id, member_type, created_at)
         values ($1, $2, $3, 'Group', now()), ($2, $1, $3, 'Group', now())`,
        [a, b, tenantId],
      );
      const found = await resources.get(scimCaller(tenantId), tenantId, 'User', u);
      expect(found.groups.map((g) => [g.value, g.type]).sort()).toEqual(
        [
          [a, 'direct'],
          [b, 'indirect'],
        ].sort(),
      );
    } finally {
      await db.query('delete from group_member where group_id = any($1::uuid[])', [[a, b]]);
      await db.query('alter table group_member enable trigger group_member_acyclic_insert');
    }
  });
});
