import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type DirectoryCaller, principalOfRole, SCHEMA } from '@meridian/core';
import { createTestDatabase, type TestDatabase } from '@meridian/test-utils';
import { addContainer, BASE_DN, ROOT_DN, ROOT_PASSWORD, type Slapd, startSlapd } from '../../connector-ldap/test/slapd.js';
import { loadConfig } from '../src/config/config.js';
import { openRuntime, type Runtime } from '../src/runtime/runtime.js';
import { runMeridian } from './cli-runner.js';

// `meridian target create --kind ldap` end to end: the bind password sealed and never printed, the outbound
// policy applied to the LDAP host, and reconciliation creating and adopting entries in a real slapd.

const scimCaller = (tenantId: string): DirectoryCaller => ({ principal: principalOfRole('provisioner', { tenantId }), api: 'scim' });
const system = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };

let db: TestDatabase;
let dataDir: string;
let env: Record<string, string>;
let runtime: Runtime;
let slapd: Slapd;
let people: string;

beforeAll(async () => {
  slapd = await startSlapd();
  people = await addContainer(slapd, 'people');
  await addContainer(slapd, 'groups');
  db = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'meridian-ldap-target-'));
  env = {
    DATABASE_URL: db.url,
    MERIDIAN_SECRET_KEYS: `k1:${Buffer.alloc(32, 5).toString('base64')}`,
    MERIDIAN_DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    MERIDIAN_OUTBOUND_ALLOW: '127.0.0.1',
  };
  runtime = await openRuntime(loadConfig(env), 'client');
  await runtime.admin.createCommunity(platform, { slug: 'coi', name: 'CoI' }, system);
  await runtime.admin.createTenant(platform, { slug: 'emea', name: 'EMEA', community: 'coi' }, system);
});

afterAll(async () => {
  await runtime?.close();
  await db?.close();
  await slapd?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const meridian = (extraEnv: Record<string, string | undefined>, ...args: string[]) => runMeridian({ ...env, ...extraEnv }, args);

describe('meridian target create --kind ldap', () => {
  let targetId: string;
  const createArgs = () => [
    'target',
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
    '--config',
    JSON.stringify({ users: { base: people }, groups: { base: `ou=groups,${BASE_DN}` } }),
    '--delete-mode',
    'delete',
    '--json',
  ];

  it('refuses a loopback LDAP host unless the outbound allow-list opens it', async () => {
    const refused = await meridian({ MERIDIAN_OUTBOUND_ALLOW: '' }, ...createArgs());
    expect(refused.code).toBe(1);
    const error = JSON.parse(refused.stderr).error as { code: string; message: string };
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toContain("'config.url': Refused by the hub's outbound request policy: 127.0.0.1 is a loopback address");
    expect(refused.stderr).not.toContain(ROOT_PASSWORD);
  });

  it('creates the target with the bind password sealed, never printed, and tests the bind', async () => {
    const created = await meridian({}, ...createArgs());
    expect(created.code).toBe(0);
    expect(created.stdout).not.toContain(ROOT_PASSWORD);
    const body = JSON.parse(created.stdout) as { id: string; kind: string; secretNames: string[]; config: Record<string, unknown> };
    expect(body).toMatchObject({
      kind: 'ldap',
      secretNames: ['bindPassword'],
      config: { url: slapd.url, bindDn: ROOT_DN, baseDn: BASE_DN },
    });
    targetId = body.id;
    const [row] = await db.query<{ secrets: string }>('select secrets from replication_target where id = $1', [targetId]);
    expect(row?.secrets).toMatch(/^v1:k1:/);
    expect(row?.secrets).not.toContain(ROOT_PASSWORD);
    const audit = await db.query<{ text: string }>('select row_to_json(a)::text as text from audit_event a');
    expect(audit.some((a) => a.text.includes(ROOT_PASSWORD))).toBe(false);

    const tested = await meridian({}, 'target', 'test', '--tenant', 'emea', '--target', targetId, '--json');
    expect(tested.code).toBe(0);
    expect(JSON.parse(tested.stdout)).toMatchObject({ ok: true });
  });

  it('reconciles: creates missing entries and adopts an existing one, then finds everything in sync', async () => {
    const tenant = await runtime.admin.authorizeTenantAdmin(platform, 'emea');
    const user = (userName: string, given: string, family: string) => ({
      schemas: [SCHEMA.user],
      userName,
      displayName: `${given} ${family}`,
      name: { givenName: given, familyName: family },
      emails: [{ value: `${userName}@emea.example`, primary: true }],
    });
    const ann = await runtime.resources.create(scimCaller(tenant.id), tenant.id, 'User', user('ann', 'Ann', 'Lee'), system);
    await runtime.resources.create(scimCaller(tenant.id), tenant.id, 'User', user('bob', 'Bob', 'Ray'), system);
    // bob is in the directory already (the office created him by hand): reconciliation adopts him.
    const admin = await slapd.admin();
    await admin.add(`uid=bob,${people}`, { objectClass: ['inetOrgPerson'], uid: 'bob', cn: 'Bob Ray', sn: 'Ray' });
    await admin.unbind();

    const plan = await meridian({}, 'target', 'reconcile', '--tenant', 'emea', '--target', targetId, '--dry-run', '--json');
    expect(plan.code).toBe(0);
    const report = JSON.parse(plan.stdout) as { items: { name: string; drift: string; action: string }[] };
    expect(report.items.map((i) => [i.name, i.drift, i.action]).sort()).toEqual([
      ['ann', 'missing', 'create'],
      ['bob', 'unlinked', 'adopt'],
    ]);

    const fixed = JSON.parse((await meridian({}, 'target', 'reconcile', '--tenant', 'emea', '--target', targetId, '--json')).stdout) as {
      fixed: number;
      failed: number;
    };
    expect(fixed).toMatchObject({ fixed: 2, failed: 0 });
    const reader = await slapd.admin();
    const { searchEntries } = await reader.search(people, { scope: 'one', filter: '(objectClass=inetOrgPerson)' });
    await reader.unbind();
    const byUid = new Map(searchEntries.map((e) => [String(e.uid), e]));
    expect([...byUid.keys()].sort()).toEqual(['ann', 'bob']);
    expect(byUid.get('ann')).toMatchObject({
      cn: 'Ann Lee',
      sn: 'Lee',
      givenName: 'Ann',
      mail: 'ann@emea.example',
      employeeNumber: ann.id,
    });
    expect(byUid.get('bob')).toMatchObject({ givenName: 'Bob', mail: 'bob@emea.example' });

    const again = JSON.parse(
      (await meridian({}, 'target', 'reconcile', '--tenant', 'emea', '--target', targetId, '--dry-run', '--json')).stdout,
    ) as { items: { name: string; drift: string }[] };
    expect(again.items.filter((i) => i.drift !== 'in_sync')).toEqual([]);
  });
});
