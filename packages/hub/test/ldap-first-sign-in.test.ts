import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTestDatabase, type TestDatabase } from '@meridian/test-utils';
import { addContainer, ROOT_DN, ROOT_PASSWORD, type Slapd, startSlapd } from '../../connector-ldap/test/slapd.js';
import { loadConfig } from '../src/config/config.js';
import { openRuntime, type Runtime } from '../src/runtime/runtime.js';
import { runMeridian } from './cli-runner.js';

// Pull from the enterprise at first sign-in (issue 16, use case 2.4.4) with the office's LDAP
// directory as the source (issue 18): the one person is found by e-mail, created through the core
// as the source, and linked so that the source's syncs treat the account as their own.

const system = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };

let slapd: Slapd;
let db: TestDatabase;
let dataDir: string;
let env: Record<string, string>;
let runtime: Runtime;
let tenantId: string;
let sourceId: string;
let ou: string;

const meridian = (...args: string[]) => runMeridian(env, args);

beforeAll(async () => {
  slapd = await startSlapd();
  ou = await addContainer(slapd, 'people');
  const admin = await slapd.admin();
  const person = (uid: string, mail: string) => ({
    objectClass: ['inetOrgPerson'],
    uid,
    cn: `Person ${uid}`,
    sn: uid,
    mail,
    title: 'Nurse',
  });
  await admin.add(`uid=ann,${ou}`, person('ann', 'ann@office.example'));
  // Two entries share an address: a sign-in with it cannot tell which person it is.
  await admin.add(`uid=twin1,${ou}`, person('twin1', 'twins@office.example'));
  await admin.add(`uid=twin2,${ou}`, person('twin2', 'twins@office.example'));
  await admin.unbind();
  db = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'meridian-ldap-first-sign-in-'));
  env = {
    DATABASE_URL: db.url,
    MERIDIAN_SECRET_KEYS: `k1:${Buffer.alloc(32, 3).toString('base64')}`,
    MERIDIAN_DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    MERIDIAN_OUTBOUND_ALLOW: '127.0.0.1,localhost',
  };
  runtime = await openRuntime(loadConfig(env), 'client');
  await runtime.admin.createCommunity(platform, { slug: 'coi', name: 'CoI' }, system);
  tenantId = (await runtime.admin.createTenant(platform, { slug: 'clinic', name: 'Clinic', community: 'coi' }, system)).id;
}, 120_000);

afterAll(async () => {
  await runtime?.close();
  await db?.close();
  await slapd?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('an LDAP source at first sign-in', () => {
  it('is created from the CLI with --lookup-by and shows what one pull would create, writing nothing', async () => {
    const created = await meridian(
      'source',
      'create',
      '--tenant',
      'clinic',
      '--kind',
      'ldap',
      '--url',
      slapd.url,
      '--bind-dn',
      ROOT_DN,
      '--bind-password',
      ROOT_PASSWORD,
      '--base-dn',
      ou,
      '--lookup-by',
      'email',
      '--json',
    );
    expect(created.code).toBe(0);
    const source = JSON.parse(created.stdout) as { id: string; config: { firstSignIn: unknown } };
    expect(source.config.firstSignIn).toEqual({ lookupBy: 'email' });
    sourceId = source.id;

    const preview = await meridian('source', 'test', '--tenant', 'clinic', '--source', sourceId, '--email', 'ann@office.example', '--json');
    expect(preview.code).toBe(0);
    expect(JSON.parse(preview.stdout)).toMatchObject({
      lookup: { attribute: 'emails.value', value: 'ann@office.example' },
      wouldCreate: { userName: 'ann', title: 'Nurse', emails: [{ value: 'ann@office.example' }] },
    });
    const [count] = await db.query<{ n: string }>('select count(*) as n from scim_user');
    expect(Number(count?.n)).toBe(0);
  });

  it('creates the one person found by e-mail as the source, and links the account for later syncs', async () => {
    const result = await runtime.jit.firstSignIn.pull(tenantId, { subject: 'upstream-ann', email: 'ann@office.example' }, system);
    expect(result).toMatchObject({ status: 'created', sourceId, userName: 'ann' });
    const [audit] = await db.query<{ actor_id: string }>("select actor_id from audit_event where action = 'user.created'");
    expect(audit?.actor_id).toBe(`source:${sourceId}`);
    // The next sync of the source knows the account: nothing is created again.
    const sync = await runtime.sources.sync(platform, 'clinic', sourceId, { dryRun: true });
    expect(
      sync.items
        .filter((i) => i.action === 'create')
        .map((i) => i.userName)
        .sort(),
    ).toEqual(['twin1', 'twin2']);
  });

  it('creates one account when the same person signs in twice at once', async () => {
    const admin = await slapd.admin();
    await admin.add(`uid=eve,${ou}`, { objectClass: ['inetOrgPerson'], uid: 'eve', cn: 'Eve', sn: 'eve', mail: 'eve@office.example' });
    await admin.unbind();
    const person = { subject: 'upstream-eve', email: 'eve@office.example' };
    const results = await Promise.all([1, 2, 3].map(() => runtime.jit.firstSignIn.pull(tenantId, person, system)));
    expect(results.map((r) => r.status)).toEqual(['created', 'created', 'created']);
    const ids = new Set(results.map((r) => (r.status === 'created' ? r.userId : '')));
    expect(ids.size).toBe(1);
    const rows = await db.query<{ id: string }>("select id from scim_user where user_name = 'eve'");
    expect(rows.map((r) => r.id)).toEqual([...ids]);
  });

  it('finds no one for a value that is a filter wildcard or an injection, rather than matching everyone', async () => {
    for (const email of ['*', 'x)(uid=*', '*@office.example']) {
      const result = await runtime.jit.firstSignIn.pull(tenantId, { subject: 'upstream-x', email }, system);
      expect(result).toMatchObject({ status: 'not_found', sourceId });
    }
  });

  it('refuses a sign-in whose address belongs to more than one entry, creating no one', async () => {
    const attempt = runtime.jit.firstSignIn.pull(tenantId, { subject: 'upstream-twin', email: 'twins@office.example' }, system);
    await expect(attempt).rejects.toMatchObject({ code: 'CONFLICT' });
    const names = await db.query<{ user_name: string }>('select user_name from scim_user order by user_name');
    expect(names.map((n) => n.user_name)).toEqual(['ann', 'eve']);
  });
});
