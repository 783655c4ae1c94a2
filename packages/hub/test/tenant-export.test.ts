import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { eventually } from '@meridian/test-utils';
import { type HubHarness, startHub } from './harness.js';

// Issue 19, use case 3.2: a tenant exported from one hub and imported into another (its own database and runtime)
// answers the same SCIM requests with the same ids, versions and times; only the base URL differs.

const run = promisify(execFile);
const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const ctx = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const PASSWORD = 'Correct-Horse-Battery-9';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const CUSTOM = 'urn:example:params:scim:schemas:extension:acme:2.0:User';
const FILLER = 400;

let a: HubHarness;
let b: HubHarness;
let dir: string;
const keys = {
  a: 'ka:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=',
  b: 'kb:HyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4=',
};
const ids: Record<string, string> = {};

async function meridian(hub: HubHarness, key: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [main, ...args], { env: envOf(hub, key), maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

function envOf(hub: HubHarness, key: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATABASE_URL: hub.db.url,
    LOG_LEVEL: 'silent',
    MERIDIAN_PUBLIC_URL: hub === a ? 'https://hub.test' : 'https://hub-b.test',
    MERIDIAN_SECRET_KEYS: key,
    MERIDIAN_DATA_DIR: dir,
  };
}

async function scim(hub: HubHarness, method: 'GET' | 'POST' | 'PATCH', url: string, body?: unknown) {
  const res = await hub.app.inject({
    method,
    url: `/scim/v2${url}`,
    headers: { authorization: `Bearer ${hub.tenants.emea.token}`, 'content-type': 'application/scim+json' },
    ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
  });
  return { status: res.statusCode, body: res.json() as Record<string, unknown> };
}

async function count(hub: HubHarness, table: string): Promise<number> {
  const [row] = await hub.db.query<{ n: string }>(`select count(*) as n from ${table} where tenant_id = $1`, [hub.tenants.emea.id]);
  return Number(row?.n);
}

/** The SCIM answer of hub A as hub B would give it: the same but for the base URL. */
function rebased(body: unknown): unknown {
  return JSON.parse(JSON.stringify(body).replaceAll('https://hub.test/', 'https://hub-b.test/'));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meridian-transfer-'));
  a = await startHub();
  b = await startHub({ env: { MERIDIAN_PUBLIC_URL: 'https://hub-b.test' } });
  const emea = a.tenants.emea.id;
  await a.runtime.settings.createExtension(
    emea,
    {
      id: CUSTOM,
      name: 'Acme',
      resourceType: 'User',
      attributes: [
        { name: 'badge', type: 'string' },
        { name: 'level', type: 'integer' },
      ],
    },
    ctx,
  );
  await a.runtime.settings.setSelfServicePolicy(emea, ['phoneNumbers', `${CUSTOM}:badge`], ctx);
  const bob = await scim(a, 'POST', '/Users', { userName: 'bob@emea.example', externalId: 'hr-2', name: { givenName: 'Bob' } });
  ids.bob = String(bob.body.id);
  const ada = await scim(a, 'POST', '/Users', {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', ENTERPRISE, CUSTOM],
    userName: 'ada@emea.example',
    externalId: 'hr-1',
    password: PASSWORD,
    emails: [{ value: 'ada@emea.example', primary: true }],
    [ENTERPRISE]: { department: 'R&D', manager: { value: ids.bob } },
    [CUSTOM]: { badge: 'A-17', level: 3 },
  });
  expect(ada.status).toBe(201);
  ids.ada = String(ada.body.id);
  const patched = await scim(a, 'PATCH', `/Users/${ids.ada}`, {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
    Operations: [{ op: 'replace', path: 'displayName', value: 'Ada L.' }],
  });
  expect(patched.status).toBe(200);
  for (let i = 0; i < FILLER; i++) {
    await a.runtime.resources.create(
      { principal: { kind: 'platform', tokenId: 'test', scopes: ['admin'] }, api: 'graphql' },
      'emea',
      'User',
      { userName: `filler-${String(i).padStart(4, '0')}@emea.example` },
      ctx,
    );
  }
  const ops = await scim(a, 'POST', '/Groups', {
    displayName: 'Ops',
    externalId: 'g-ops',
    members: [{ value: ids.ada }, { value: ids.bob }],
  });
  ids.ops = String(ops.body.id);
  const all = await scim(a, 'POST', '/Groups', { displayName: 'All', members: [{ value: ids.ops, type: 'Group' }] });
  ids.all = String(all.body.id);

  const key = await meridian(b, keys.b, 'tenant', 'import-key', '--json');
  expect(key.code).toBe(0);
  await writeFile(join(dir, 'hub-b.pem'), (JSON.parse(key.stdout) as { publicKey: string }).publicKey);
  const exported = await meridian(
    a,
    keys.a,
    'tenant',
    'export',
    '--tenant',
    'emea',
    '--out',
    join(dir, 'emea.ndjson'),
    '--seal-for',
    join(dir, 'hub-b.pem'),
    '--json',
  );
  expect(exported.stderr).toBe('');
  expect(JSON.parse(exported.stdout)).toMatchObject({
    counts: { extensions: 1, users: FILLER + 2, groups: 2, memberships: 3, passwords: 1 },
  });
}, 300_000);

afterAll(async () => {
  await a?.close();
  await b?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('meridian tenant export | import', () => {
  it('writes a header, the settings, SCIM resources with a sealed hash and a trailer', async () => {
    const lines = (await readFile(join(dir, 'emea.ndjson'), 'utf8')).trimEnd().split('\n');
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.map((r) => r.type).filter((t, i, all) => all.indexOf(t) === i)).toEqual([
      'header',
      'extension',
      'policy',
      'User',
      'Group',
      'trailer',
    ]);
    expect(records[0]).toMatchObject({
      sourceHub: 'https://hub.test',
      tenant: { slug: 'emea' },
      sealing: { algorithm: 'X25519-HKDF-SHA256-A256GCM' },
    });
    const ada = records.find((r) => r.type === 'User' && (r.resource as { id: string }).id === ids.ada) as Record<string, unknown>;
    expect(ada.resource).toEqual((await scim(a, 'GET', `/Users/${ids.ada}`)).body);
    // The hash is sealed: neither the argon2id string nor the clear password is in the file.
    expect(typeof ada.sealedPasswordHash).toBe('string');
    expect(lines.join('\n')).not.toContain('$argon2id$');
    expect(lines.join('\n')).not.toContain(PASSWORD);
  });

  it('refuses a tampered file and a truncated one before writing anything', async () => {
    const text = await readFile(join(dir, 'emea.ndjson'), 'utf8');
    await writeFile(join(dir, 'tampered.ndjson'), text.replace('"department":"R&D"', '"department":"Sales"'));
    const tampered = await meridian(b, keys.b, 'tenant', 'import', '--in', join(dir, 'tampered.ndjson'), '--tenant', 'emea', '--json');
    expect(tampered.code).toBe(1);
    expect(JSON.parse(tampered.stderr)).toEqual({
      error: { code: 'INVALID_INPUT', message: `${join(dir, 'tampered.ndjson')} fails its checksum: it was altered after the export.` },
    });
    // Cut after a whole line, as a copy that stopped would be.
    await writeFile(join(dir, 'cut.ndjson'), text.slice(0, text.indexOf('\n', Math.floor(text.length / 2)) + 1));
    const cut = await meridian(b, keys.b, 'tenant', 'import', '--in', join(dir, 'cut.ndjson'), '--tenant', 'emea', '--json');
    expect(cut.code).toBe(1);
    expect((JSON.parse(cut.stderr) as { error: { message: string } }).error.message).toContain('before its trailer');
    expect(await count(b, 'scim_user')).toBe(0);
    expect(await count(b, 'schema_extension')).toBe(0);
  });

  it('lists in a dry run what it would create, and writes nothing', async () => {
    const audited = await count(b, 'audit_event');
    const dry = await meridian(b, keys.b, 'tenant', 'import', '--in', join(dir, 'emea.ndjson'), '--tenant', 'emea', '--dry-run', '--json');
    expect(dry.code).toBe(0);
    const report = JSON.parse(dry.stdout) as { created: Record<string, number>; wouldCreate: { type: string; id: string }[] };
    expect(report.created).toEqual({ extensions: 1, policy: 1, users: FILLER + 2, groups: 2, memberships: 3 });
    expect(report.wouldCreate.filter((w) => w.type === 'User')).toHaveLength(FILLER + 2);
    expect(report.wouldCreate).toContainEqual({ type: 'Group', id: ids.ops, name: 'Ops' });
    expect(await count(b, 'scim_user')).toBe(0);
    expect(await count(b, 'schema_extension')).toBe(0);
    expect(await count(b, 'audit_event')).toBe(audited);
  });

  it('completes with exact counts after a crash mid-import', async () => {
    const child: ChildProcess = spawn(
      process.execPath,
      [main, 'tenant', 'import', '--in', join(dir, 'emea.ndjson'), '--tenant', 'emea', '--json'],
      { env: envOf(b, keys.b), stdio: 'ignore' },
    );
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    // Kill it once some users are in, as a crash would.
    // Without a pause between looks: the import must still be running when it is killed.
    await eventually('the first users of the import', async () => (await count(b, 'scim_user')) > 0, { intervalMs: 0 });
    child.kill('SIGKILL');
    await exited;
    const partial = await count(b, 'scim_user');
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(FILLER + 2);

    const again = await meridian(b, keys.b, 'tenant', 'import', '--in', join(dir, 'emea.ndjson'), '--tenant', 'emea', '--json');
    expect(again.code).toBe(0);
    const report = JSON.parse(again.stdout) as { created: { users: number }; skipped: { users: number }; counts: unknown };
    expect(report.counts).toEqual({ users: FILLER + 2, groups: 2, memberships: 3, passwords: 1 });
    expect(report.created.users + report.skipped.users).toBe(FILLER + 2);
    expect(report.skipped.users).toBe(partial);
    expect(await count(b, 'scim_user')).toBe(FILLER + 2);

    // Every resource was written as any write is: an outbox event and an audit entry by the import's actor.
    const audit = await b.db.query<{ action: string; n: string }>(
      "select action, count(*) as n from audit_event where tenant_id = $1 and actor_id like 'tenant-import:%' group by action order by action",
      [b.tenants.emea.id],
    );
    expect(Object.fromEntries(audit.map((r) => [r.action, Number(r.n)]))).toEqual({
      'group.created': 2,
      'group.updated': 2,
      'schema.created': 1,
      'tenant.imported': 1,
      'tenant.policy_changed': 1,
      'user.created': FILLER + 2,
    });
    const [outbox] = await b.db.query<{ n: string }>(
      "select count(*) as n from outbox_event where tenant_id = $1 and type = 'user.created'",
      [b.tenants.emea.id],
    );
    expect(Number(outbox?.n)).toBe(FILLER + 2);
  });

  it('answers the same SCIM requests with the same bodies at the second hub, but for the base URL', async () => {
    for (const url of [
      `/Users/${ids.ada}`,
      `/Users/${ids.bob}`,
      `/Groups/${ids.ops}`,
      `/Groups/${ids.all}`,
      '/Users?filter=userName%20eq%20%22ada@emea.example%22',
      `/Users?filter=${encodeURIComponent('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "R&D"')}`,
      '/Groups?filter=displayName%20sw%20%22O%22',
      '/Users?filter=userName%20sw%20%22filler-000%22&sortBy=userName&count=5',
    ]) {
      const before = await scim(a, 'GET', url);
      const after = await scim(b, 'GET', url);
      expect(before.status).toBe(200);
      expect({ url, body: after.body }).toEqual({ url, body: rebased(before.body) });
    }
    const ada = (await scim(b, 'GET', `/Users/${ids.ada}`)).body as { meta: { version: string }; [key: string]: unknown };
    expect(ada.meta.version).toBe('W/"2"');
    expect(ada[CUSTOM]).toEqual({ badge: 'A-17', level: 3 });
    expect(await b.runtime.settings.selfServicePolicy(b.tenants.emea.id)).toEqual({
      editableAttributes: ['phoneNumbers', `${CUSTOM}:badge`],
    });
  });

  it("verifies the user's password at the second hub", async () => {
    const tenant = await b.runtime.admin.visibleTenant({ kind: 'platform', tokenId: 'test', scopes: ['admin'] }, 'emea');
    const [account] = await b.runtime.sso.accounts.loginAccounts(tenant.communityId, 'ada@emea.example');
    expect(account?.userId).toBe(ids.ada);
    expect(await b.runtime.sso.hasher.verify(account?.passwordHash ?? '', PASSWORD)).toBe(true);
    expect(await b.runtime.sso.hasher.verify(account?.passwordHash ?? '', 'wrong-password')).toBe(false);
  });
});
