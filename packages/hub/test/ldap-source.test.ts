import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTestDatabase, type TestDatabase } from '@meridian/test-utils';
import { addContainer, BASE_DN, ROOT_DN, ROOT_PASSWORD, type Slapd, startSlapd } from '../../connector-ldap/test/slapd.js';
import { loadConfig } from '../src/config/config.js';
import { openRuntime, type Runtime } from '../src/runtime/runtime.js';
import { runMeridian } from './cli-runner.js';

// An office's LDAP directory as an inbound source (issue 18): 10,000 entries imported with exact counts
// through the core's ResourceService, then changes, moves and deletions; the dry run; the deletion threshold.

const run = promisify(execFile);
const system = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
const PEOPLE = 10_000;

let db: TestDatabase;
let dataDir: string;
let env: Record<string, string>;
let runtime: Runtime;
let slapd: Slapd;
let staff: string;
let alumni: string;

async function ldif(text: string, command: 'ldapadd' | 'ldapmodify' | 'ldapdelete' = 'ldapadd'): Promise<void> {
  const file = join(dataDir, `change-${Date.now()}-${Math.random()}.ldif`);
  await writeFile(file, text);
  await run(command, ['-x', '-H', slapd.url, '-D', ROOT_DN, '-w', ROOT_PASSWORD, '-f', file], { maxBuffer: 64 * 1024 * 1024 });
}

const person = (uid: string, ou: string) =>
  `dn: uid=${uid},${ou}\nobjectClass: inetOrgPerson\nuid: ${uid}\ncn: Person ${uid}\nsn: ${uid}\ngivenName: P\nmail: ${uid}@office.example\n\n`;

beforeAll(async () => {
  slapd = await startSlapd();
  staff = await addContainer(slapd, 'staff');
  alumni = await addContainer(slapd, 'alumni');
  db = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'meridian-ldap-source-'));
  env = {
    DATABASE_URL: db.url,
    MERIDIAN_SECRET_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
    MERIDIAN_DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    MERIDIAN_OUTBOUND_ALLOW: '127.0.0.1',
  };
  runtime = await openRuntime(loadConfig(env), 'client');
  await runtime.admin.createCommunity(platform, { slug: 'coi', name: 'CoI' }, system);
  await runtime.admin.createTenant(platform, { slug: 'emea', name: 'EMEA', community: 'coi' }, system);
  await runtime.admin.createTenant(platform, { slug: 'apac', name: 'APAC', community: 'coi' }, system);
  let text = '';
  for (let i = 0; i < PEOPLE; i++) text += person(`p${i}`, staff);
  await ldif(text);
}, 300_000);

afterAll(async () => {
  await runtime?.close();
  await db?.close();
  await slapd?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const meridian = (...args: string[]) => runMeridian(env, args);

/** How many people entries carry the newest modifyTimestamp: the second an incremental sync reads again. */
async function entriesInNewestSecond(): Promise<number> {
  const { stdout } = await run(
    'ldapsearch',
    ['-x', '-LLL', '-H', slapd.url, '-D', ROOT_DN, '-w', ROOT_PASSWORD, '-b', BASE_DN, '(mail=*)', 'modifyTimestamp'],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  const stamps = [...stdout.matchAll(/^modifyTimestamp: (\S+)$/gm)].map((m) => m[1] as string);
  const newest = [...stamps].sort().at(-1);
  return stamps.filter((s) => s === newest).length;
}

async function users(tenant: string): Promise<string[]> {
  const rows = await db.query<{ user_name: string }>(
    'select u.user_name from scim_user u join tenant t on t.id = u.tenant_id where t.slug = $1 order by u.user_name',
    [tenant],
  );
  return rows.map((r) => r.user_name);
}

describe('meridian source (LDAP)', () => {
  let sourceId: string;

  it('creates a source from the CLI, the bind password sealed and never printed', async () => {
    const created = await meridian(
      'source',
      'create',
      '--tenant',
      'emea',
      '--kind',
      'ldap',
      '--url',
      slapd.url,
      '--bind-dn',
      ROOT_DN,
      '--bind-password',
      ROOT_PASSWORD,
      '--base-dn',
      BASE_DN,
      '--filter',
      '(mail=*)',
      '--json',
    );
    expect(created.code).toBe(0);
    expect(created.stdout).not.toContain(ROOT_PASSWORD);
    sourceId = (JSON.parse(created.stdout) as { id: string }).id;
    expect(sourceId).toMatch(/^[0-9a-f-]{36}$/);
    const [row] = await db.query<{ secrets_sealed: string }>('select secrets_sealed from inbound_source where id = $1', [sourceId]);
    expect(row?.secrets_sealed).not.toContain(ROOT_PASSWORD);
  });

  it('lists the creates of a first sync in a dry run, and writes nothing', async () => {
    const body = await runtime.sources.sync(platform, 'emea', sourceId, { dryRun: true });
    expect(body).toMatchObject({ dryRun: true, full: true, status: 'planned', created: 0 });
    expect(body.items).toHaveLength(PEOPLE);
    expect(new Set(body.items.map((i) => i.action))).toEqual(new Set(['create']));
    expect(await users('emea')).toEqual([]);
  });

  it('imports 10,000 entries with exact counts, written as the source through the outbox and audit', async () => {
    const result = await runtime.sources.sync(platform, 'emea', sourceId);
    expect(result).toMatchObject({ status: 'applied', full: true, read: PEOPLE, created: PEOPLE, updated: 0, deleted: 0, failed: [] });
    const names = await users('emea');
    expect(names).toHaveLength(PEOPLE);
    expect(names).toContain('p9999');
    const [audit] = await db.query<{ n: string }>("select count(*) as n from audit_event where actor_id = $1 and action = 'user.created'", [
      `source:${sourceId}`,
    ]);
    expect(Number(audit?.n)).toBe(PEOPLE);
    const [outbox] = await db.query<{ n: string }>("select count(*) as n from outbox_event where type = 'user.created'");
    expect(Number(outbox?.n)).toBe(PEOPLE);
    const [ann] = await db.query<{ attributes: { emails: { value: string }[] } }>(
      "select attributes from scim_user where user_name = 'p42'",
    );
    expect(ann?.attributes.emails[0]?.value).toBe('p42@office.example');
  }, 600_000);

  it('picks up a change, a move and a new entry incrementally, and deletions at a full comparison', async () => {
    // The import may end in a busy second: those entries are read again (modifyTimestamp has whole seconds).
    const boundary = await entriesInNewestSecond();
    await ldif(`dn: uid=p1,${staff}\nchangetype: modify\nreplace: title\ntitle: Engineer\n`, 'ldapmodify');
    await ldif(`dn: uid=p2,${staff}\nchangetype: modrdn\nnewrdn: uid=p2\ndeleteoldrdn: 1\nnewsuperior: ${alumni}\n`, 'ldapmodify');
    await ldif(person('newcomer', staff));
    const [moved] = await db.query<{ id: string }>("select id from scim_user where user_name = 'p2'");

    const incremental = await runtime.sources.sync(platform, 'emea', sourceId);
    expect(incremental).toMatchObject({ status: 'applied', full: false, created: 1, updated: 1, deleted: 0 });
    // Only entries changed since the last sync's newest modifyTimestamp (that second included) are read:
    // the three changed entries and, at most, the entries of that last second.
    expect(incremental.read).toBeGreaterThanOrEqual(3);
    expect(incremental.read).toBeLessThanOrEqual(boundary + 3);
    expect(incremental.read).toBeLessThan(PEOPLE);
    const [p1] = await db.query<{ attributes: { title?: string } }>("select attributes from scim_user where user_name = 'p1'");
    expect(p1?.attributes.title).toBe('Engineer');
    // The moved entry is the same account: its entryUUID did not change.
    const [still] = await db.query<{ id: string }>("select id from scim_user where user_name = 'p2'");
    expect(still?.id).toBe(moved?.id);

    await run('ldapdelete', [
      '-x',
      '-H',
      slapd.url,
      '-D',
      ROOT_DN,
      '-w',
      ROOT_PASSWORD,
      `uid=p3,${staff}`,
      `uid=p4,${staff}`,
      `uid=p5,${staff}`,
    ]);
    const quiet = await runtime.sources.sync(platform, 'emea', sourceId);
    expect(quiet).toMatchObject({ full: false, deleted: 0 });
    const full = await runtime.sources.sync(platform, 'emea', sourceId, { full: true });
    expect(full).toMatchObject({ status: 'applied', full: true, read: PEOPLE - 2, created: 0, updated: 0, deleted: 3 });
    const names = await users('emea');
    expect(names).toHaveLength(PEOPLE - 2);
    expect(names).not.toContain('p3');
  }, 600_000);

  it('stops at the deletion threshold until the deletions are confirmed', async () => {
    const small = await runtime.admin.authorizeTenantAdmin(platform, 'apac');
    let text = '';
    for (let i = 0; i < 10; i++) text += person(`a${i}`, alumni);
    await ldif(text);
    const source = await runtime.sources.create(
      platform,
      small.slug,
      {
        name: 'apac-ldap',
        kind: 'ldap',
        config: { url: slapd.url, bindDn: ROOT_DN, baseDn: alumni, filter: '(uid=a*)' },
        secrets: { bindPassword: ROOT_PASSWORD },
        deletionThresholdPercent: 20,
      },
      system,
    );
    const plan = await meridian('source', 'sync', '--tenant', 'apac', '--source', 'apac-ldap', '--dry-run', '--json');
    expect(plan.code).toBe(0);
    const planned = JSON.parse(plan.stdout) as { dryRun: boolean; items: { action: string; userName: string; location: string }[] };
    expect(planned.dryRun).toBe(true);
    expect(planned.items.map((i) => [i.action, i.userName, i.location])).toContainEqual(['create', 'a0', `uid=a0,${alumni}`]);
    expect(planned.items).toHaveLength(10);
    expect(await users('apac')).toEqual([]);
    expect((await runtime.sources.sync(platform, 'apac', source.id)).created).toBe(10);
    await run('ldapdelete', [
      '-x',
      '-H',
      slapd.url,
      '-D',
      ROOT_DN,
      '-w',
      ROOT_PASSWORD,
      ...[0, 1, 2, 3, 4].map((i) => `uid=a${i},${alumni}`),
    ]);

    const stopped = await meridian('source', 'sync', '--tenant', 'apac', '--source', 'apac-ldap', '--full', '--json');
    expect(stopped.code).toBe(2);
    expect(JSON.parse(stopped.stdout)).toMatchObject({ status: 'needs_confirmation', deleted: 0 });
    expect(await users('apac')).toHaveLength(10);

    const confirmed = await meridian(
      'source',
      'sync',
      '--tenant',
      'apac',
      '--source',
      'apac-ldap',
      '--full',
      '--confirm-deletes',
      '--json',
    );
    expect(confirmed.code).toBe(0);
    expect(JSON.parse(confirmed.stdout)).toMatchObject({ status: 'applied', deleted: 5 });
    expect(await users('apac')).toEqual(['a5', 'a6', 'a7', 'a8', 'a9']);
  }, 300_000);
});
