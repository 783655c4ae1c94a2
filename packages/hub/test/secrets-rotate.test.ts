import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type DirectoryCaller, principalOfRole, SCHEMA } from '@meridian/core';
import { createTestDatabase, eventually, FakeScimTarget, type TestDatabase } from '@meridian/test-utils';
import { loadConfig } from '../src/config/config.js';
import { openRuntime, type Runtime } from '../src/runtime/runtime.js';

/** A SCIM client of the tenant: the caller the core's ResourceService authorizes (scim.read, scim.write). */
const scimCaller = (tenantId: string): DirectoryCaller => ({ principal: principalOfRole('provisioner', { tenantId }), api: 'scim' });

// `meridian secrets rotate` (docs/security.md, "Encrypted secrets at rest"): every SecretBox envelope in the
// database (target credentials, directory export credentials, pending passwords) is re-sealed with the first
// key of MERIDIAN_SECRET_KEYS; afterwards a hub holding only the new key delivers with all of them.

const run = promisify(execFile);
const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const system = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };

const key = (id: string, fill: number) => `${id}:${Buffer.alloc(32, fill).toString('base64')}`;
const K1 = key('k1', 1);
const K2 = key('k2', 2);
const K3 = key('k3', 3);
const PASSWORD = 'Correct-Horse-Battery-1';

let db: TestDatabase;
let dataDir: string;
let csp: FakeScimTarget;
let directory: FakeScimTarget;

interface Report {
  dryRun: boolean;
  primaryKeyId: string;
  sealed: number;
  current: number;
  stale: number;
  resealed: number;
  failed: number;
  places: {
    name: string;
    sealed: number;
    current: number;
    stale: number;
    resealed: number;
    failed: number;
    byKey: Record<string, number>;
  }[];
  failures: { place: string; id: string; code: string; message: string }[];
}

async function meridian(keys: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    DATABASE_URL: db.url,
    MERIDIAN_SECRET_KEYS: keys,
    MERIDIAN_DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    MERIDIAN_OUTBOUND_ALLOW: '127.0.0.1',
  };
  delete env.REDIS_URL;
  try {
    const { stdout, stderr } = await run(process.execPath, [main, ...args], { env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function rotate(keys: string, ...flags: string[]): Promise<{ code: number; report: Report }> {
  const result = await meridian(keys, 'secrets', 'rotate', ...flags, '--json');
  return { code: result.code, report: JSON.parse(result.stdout) as Report };
}

/** The key id of every stored envelope, by place. */
async function sealedKeys(): Promise<Record<string, string[]>> {
  const of = async (sql: string) => (await db.query<{ sealed: string }>(sql)).map((r) => r.sealed.split(':')[1] ?? '');
  return {
    target: await of('select secrets as sealed from replication_target where secrets is not null'),
    export: await of('select sealed_secrets as sealed from directory_export where sealed_secrets is not null'),
    password: await of('select ciphertext as sealed from pending_password'),
  };
}

function openWith(keys: string): Promise<Runtime> {
  return openRuntime(
    loadConfig({
      DATABASE_URL: db.url,
      MERIDIAN_SECRET_KEYS: keys,
      MERIDIAN_DATA_DIR: dataDir,
      LOG_LEVEL: 'silent',
      // The fake targets listen on 127.0.0.1.
      MERIDIAN_OUTBOUND_ALLOW: '127.0.0.1',
    }),
    'client',
  );
}

beforeAll(async () => {
  db = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'meridian-secrets-rotate-'));
  csp = await FakeScimTarget.start({ token: 'csp-token' });
  directory = await FakeScimTarget.start({ token: 'directory-token' });

  // Everything sealed with k1: a target's token, a directory export's token, and a password on its way to the target.
  const runtime = await openWith(K1);
  try {
    await runtime.admin.createCommunity(platform, { slug: 'coi', name: 'CoI' }, system);
    const tenant = await runtime.admin.createTenant(platform, { slug: 'emea', name: 'EMEA', community: 'coi' }, system);
    await runtime.replication.targets.create(
      tenant.id,
      {
        name: 'csp',
        kind: 'scim',
        config: { baseUrl: csp.url, supportsPassword: true },
        secrets: { token: csp.token },
        pushPasswords: true,
      },
      system,
    );
    await runtime.replication.directoryExports?.create(
      platform,
      'coi',
      { name: 'global', kind: 'scim', config: { baseUrl: directory.url }, secrets: { token: directory.token } },
      system,
    );
    await runtime.resources.create(
      scimCaller(tenant.id),
      tenant.id,
      'User',
      { schemas: [SCHEMA.user], userName: 'ada@emea.example', displayName: 'Ada Lovelace', password: PASSWORD },
      system,
    );
    // The change is relayed (a job for the target, the account to the directory) but nobody delivers it yet.
    await runtime.replication.relay.drain();
    await runtime.replication.projector?.drain();
  } finally {
    await runtime.close();
  }
}, 120_000);

afterAll(async () => {
  await csp?.close();
  await directory?.close();
  await db?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('meridian secrets rotate', () => {
  it('starts from three envelopes sealed with k1', async () => {
    expect(await sealedKeys()).toEqual({ target: ['k1'], export: ['k1'], password: ['k1'] });
  });

  it('--dry-run counts what would be re-sealed with the new first key and writes nothing', async () => {
    const { code, report } = await rotate(`${K2},${K1}`, '--dry-run');
    expect(code).toBe(0);
    expect(report).toMatchObject({
      dryRun: true,
      primaryKeyId: 'k2',
      sealed: 3,
      current: 0,
      stale: 3,
      resealed: 0,
      failed: 0,
      failures: [],
    });
    expect(report.places.map((p) => [p.name, p.stale, p.byKey])).toEqual([
      ['replication_target.secrets', 1, { k1: 1 }],
      ['directory_export.sealed_secrets', 1, { k1: 1 }],
      ['pending_password.ciphertext', 1, { k1: 1 }],
    ]);
    expect(await sealedKeys()).toEqual({ target: ['k1'], export: ['k1'], password: ['k1'] });

    const human = await meridian(`${K2},${K1}`, 'secrets', 'rotate', '--dry-run');
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('Dry run: 3 of 3 would be re-sealed with k2; nothing was written.');
  });

  it('refuses nothing silently: envelopes whose key is not configured are reported, left alone, and exit 1', async () => {
    const { code, report } = await rotate(K3);
    expect(code).toBe(1);
    expect(report).toMatchObject({ primaryKeyId: 'k3', sealed: 3, resealed: 0, failed: 3 });
    expect(report.failures.map((f) => [f.place, f.code])).toEqual([
      ['replication_target.secrets', 'UNKNOWN_KEY'],
      ['directory_export.sealed_secrets', 'UNKNOWN_KEY'],
      ['pending_password.ciphertext', 'UNKNOWN_KEY'],
    ]);
    expect(JSON.stringify(report)).not.toContain(csp.token);
    expect(await sealedKeys()).toEqual({ target: ['k1'], export: ['k1'], password: ['k1'] });
  });

  it('re-seals every envelope with the first key, and a second run has nothing left to do', async () => {
    const first = await rotate(`${K2},${K1}`);
    expect(first.code).toBe(0);
    expect(first.report).toMatchObject({ dryRun: false, primaryKeyId: 'k2', sealed: 3, current: 0, stale: 3, resealed: 3, failed: 0 });
    expect(await sealedKeys()).toEqual({ target: ['k2'], export: ['k2'], password: ['k2'] });
    const [row] = await db.query<{ secrets: string }>('select secrets from replication_target');
    expect(row?.secrets).not.toContain(csp.token);

    const again = await rotate(`${K2},${K1}`);
    expect(again.report).toMatchObject({ sealed: 3, current: 3, stale: 0, resealed: 0, failed: 0 });
  });

  it('leaves a hub that holds only the new key able to use every secret', async () => {
    expect((await meridian(K2, 'target', 'test', '--tenant', 'emea', '--target', 'csp', '--json')).code).toBe(0);

    const runtime = await openWith(K2);
    try {
      // The directory export opens its token and pushes the person.
      await runtime.replication.directoryExports?.exporter.runOnce();
      expect(directory.users).toHaveLength(1);

      // The worker opens the target's token and the pending password, and delivers both.
      await runtime.replication.start();
      const pushed = await eventually(
        "ada's password at the target",
        () => {
          const user = csp.users.find((u) => u.userName === 'ada@emea.example');
          return user ? csp.passwordOf(String(user.id)) : undefined;
        },
        { intervalMs: 100 },
      );
      expect(pushed).toBe(PASSWORD);
    } finally {
      await runtime.close();
    }
    expect((await rotate(K2)).report).toMatchObject({ failed: 0 });
  }, 60_000);
});
