import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type DirectoryCaller, principalOfRole, SCHEMA } from '@meridian/core';
import { createTestDatabase, FakeScimTarget, type TestDatabase } from '@meridian/test-utils';
import { loadConfig } from '../src/config/config.js';
import { openRuntime, type Runtime } from '../src/runtime/runtime.js';
import { runMeridian } from './cli-runner.js';

/** A SCIM client of the tenant: the caller the core's ResourceService authorizes (scim.read, scim.write). */
const scimCaller = (tenantId: string): DirectoryCaller => ({ principal: principalOfRole('provisioner', { tenantId }), api: 'scim' });

const system = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };

let db: TestDatabase;
let dataDir: string;
let env: Record<string, string>;
let runtime: Runtime;
let target: FakeScimTarget;

beforeAll(async () => {
  db = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'meridian-target-cli-'));
  env = {
    DATABASE_URL: db.url,
    MERIDIAN_SECRET_KEYS: `k1:${Buffer.alloc(32, 3).toString('base64')}`,
    MERIDIAN_DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    // The fake target listens on 127.0.0.1: the CLI's outbound request policy must open it.
    MERIDIAN_OUTBOUND_ALLOW: '127.0.0.1',
  };
  runtime = await openRuntime(loadConfig(env), 'client');
  await runtime.admin.createCommunity(platform, { slug: 'coi', name: 'CoI' }, system);
  await runtime.admin.createTenant(platform, { slug: 'emea', name: 'EMEA', community: 'coi' }, system);
  target = await FakeScimTarget.start({ token: 'csp-token' });
});

afterAll(async () => {
  await target.close();
  await runtime.close();
  await db.close();
  await rm(dataDir, { recursive: true, force: true });
});

const meridian = (...args: string[]) => runMeridian(env, args);

describe('meridian target', () => {
  let targetId: string;

  it('creates a SCIM target with --json and never prints or stores the token in clear', async () => {
    const created = await meridian(
      'target',
      'create',
      '--tenant',
      'emea',
      '--kind',
      'scim',
      '--url',
      target.url,
      '--token',
      'csp-token',
      '--delete-mode',
      'grace:7',
      '--json',
    );
    expect(created.code).toBe(0);
    const body = JSON.parse(created.stdout) as {
      id: string;
      name: string;
      deleteMode: string;
      graceSeconds: number;
      secretNames: string[];
    };
    expect(body).toMatchObject({ deleteMode: 'grace', graceSeconds: 7 * 86_400, secretNames: ['token'], config: { baseUrl: target.url } });
    expect(body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.stdout).not.toContain('csp-token');
    targetId = body.id;
    const [row] = await db.query<{ secrets: string }>('select secrets from replication_target where id = $1', [targetId]);
    expect(row?.secrets).toMatch(/^v1:k1:/);
    expect(row?.secrets).not.toContain('csp-token');
  });

  it('refuses a bad target with a coded JSON error and exit 1', async () => {
    const unknown = await meridian('target', 'create', '--tenant', 'emea', '--kind', 'ftp', '--url', target.url, '--json');
    expect(unknown.code).toBe(1);
    expect(JSON.parse(unknown.stderr)).toEqual({
      error: { code: 'INVALID_CONFIG', message: expect.stringContaining("Unknown connector kind 'ftp'") },
    });
    const mode = await meridian(
      'target',
      'create',
      '--tenant',
      'emea',
      '--kind',
      'scim',
      '--url',
      target.url,
      '--token',
      'x',
      '--delete-mode',
      'later',
      '--json',
    );
    expect(mode.code).toBe(1);
    expect(JSON.parse(mode.stderr).error.code).toBe('USAGE');
  });

  it('tests the connection', async () => {
    const tested = await meridian('target', 'test', '--tenant', 'emea', '--target', targetId, '--json');
    expect(tested.code).toBe(0);
    expect(JSON.parse(tested.stdout)).toMatchObject({ ok: true });
  });

  it('reconciles: --dry-run plans per object, then the fix brings the target in line', async () => {
    const tenant = await runtime.admin.authorizeTenantAdmin(platform, 'emea');
    const ann = await runtime.resources.create(
      scimCaller(tenant.id),
      tenant.id,
      'User',
      { schemas: [SCHEMA.user], userName: 'ann@emea.example' },
      system,
    );
    await runtime.resources.create(
      scimCaller(tenant.id),
      tenant.id,
      'User',
      { schemas: [SCHEMA.user], userName: 'bob@emea.example' },
      system,
    );
    target.seed('User', { schemas: [SCHEMA.user], userName: 'bob@emea.example' });
    target.seed('User', { schemas: [SCHEMA.user], userName: 'stranger@csp.example' });

    const plan = await meridian('target', 'reconcile', '--tenant', 'emea', '--target', targetId, '--dry-run', '--json');
    expect(plan.code).toBe(0);
    const report = JSON.parse(plan.stdout) as { dryRun: boolean; items: { name: string; drift: string; action: string }[] };
    expect(report.dryRun).toBe(true);
    expect(report.items.map((i) => [i.name, i.drift, i.action]).sort()).toEqual([
      ['ann@emea.example', 'missing', 'create'],
      ['bob@emea.example', 'unlinked', 'adopt'],
      ['stranger@csp.example', 'orphan', 'none'],
    ]);
    expect(target.users).toHaveLength(2);

    const fixed = JSON.parse((await meridian('target', 'reconcile', '--tenant', 'emea', '--target', targetId, '--json')).stdout) as {
      fixed: number;
      failed: number;
    };
    expect(fixed).toMatchObject({ fixed: 2, failed: 0 });
    expect(target.users.map((u) => u.userName).sort()).toEqual(['ann@emea.example', 'bob@emea.example', 'stranger@csp.example']);
    expect(target.users.find((u) => u.userName === 'ann@emea.example')?.externalId).toBe(ann.id);
    const again = JSON.parse(
      (await meridian('target', 'reconcile', '--tenant', 'emea', '--target', targetId, '--dry-run', '--json')).stdout,
    ) as {
      items: { drift: string }[];
    };
    expect(again.items.map((i) => i.drift)).toEqual(['orphan']);
  });

  it('reports status per target: pending, delivered, failed, dead-lettered', async () => {
    const status = await meridian('target', 'status', '--tenant', 'emea', '--json');
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toEqual([
      { targetId, name: expect.stringMatching(/^scim-127\.0\.0\.1/), pending: 0, delivered: 2, failed: 0, deadLettered: 0, skipped: 0 },
    ]);
  });

  it('lists, pauses and resumes targets, and lists dead letters', async () => {
    const list = JSON.parse((await meridian('target', 'list', '--tenant', 'emea', '--json')).stdout) as { id: string; paused: boolean }[];
    expect(list).toEqual([expect.objectContaining({ id: targetId, paused: false })]);
    expect(JSON.parse((await meridian('target', 'pause', '--tenant', 'emea', '--target', targetId, '--json')).stdout)).toMatchObject({
      paused: true,
    });
    expect(JSON.parse((await meridian('target', 'resume', '--tenant', 'emea', '--target', targetId, '--json')).stdout)).toMatchObject({
      paused: false,
    });
    expect(JSON.parse((await meridian('target', 'dead-letters', '--tenant', 'emea', '--json')).stdout)).toEqual([]);
    expect(JSON.parse((await meridian('target', 'wait-policy', '--tenant', 'emea', '--seconds', '5', '--json')).stdout)).toEqual({
      waitSeconds: 5,
    });
  });

  it("keeps the stored token away from a new --url: regression for 'the secret went to the new URL'", async () => {
    const elsewhere = await FakeScimTarget.start({ token: 'elsewhere-token' });
    try {
      const moved = await meridian('target', 'update', '--tenant', 'emea', '--target', targetId, '--url', elsewhere.url, '--json');
      expect(moved.code).toBe(1);
      expect(JSON.parse(moved.stderr)).toEqual({
        error: {
          code: 'INVALID_CONFIG',
          message: `The target moves to another destination (${new URL(elsewhere.url).origin}): its stored secrets (token) stay with the old one. Give them again in the same change.`,
        },
      });
      expect(JSON.parse((await meridian('target', 'test', '--tenant', 'emea', '--target', targetId, '--json')).stdout)).toMatchObject({
        ok: true,
      });
      expect(elsewhere.requests).toEqual([]);

      const withToken = await meridian(
        'target',
        'update',
        '--tenant',
        'emea',
        '--target',
        targetId,
        '--url',
        elsewhere.url,
        '--token',
        'elsewhere-token',
        '--json',
      );
      expect(withToken.code).toBe(0);
      expect(JSON.parse(withToken.stdout)).toMatchObject({ secretNames: ['token'], config: { baseUrl: elsewhere.url } });
      expect(JSON.parse((await meridian('target', 'test', '--tenant', 'emea', '--target', targetId, '--json')).stdout)).toMatchObject({
        ok: true,
      });
      expect(elsewhere.requests.every((r) => r.headers.authorization === 'Bearer elsewhere-token')).toBe(true);
      // Back where it was, with the original token given again.
      const back = ['target', 'update', '--tenant', 'emea', '--target', targetId, '--url', target.url, '--token', 'csp-token', '--json'];
      expect((await meridian(...back)).code).toBe(0);
    } finally {
      await elsewhere.close();
    }
  });

  it('refuses an inward --url, --push-passwords without password support and a wait policy above the limit, each with a coded error', async () => {
    const inward = await meridian(
      'target',
      'create',
      '--tenant',
      'emea',
      '--kind',
      'scim',
      '--url',
      'http://10.0.0.5/scim',
      '--token',
      'x',
      '--json',
    );
    expect(inward.code).toBe(1);
    expect(JSON.parse(inward.stderr)).toEqual({
      error: {
        code: 'INVALID_CONFIG',
        message:
          "'config.baseUrl': Refused by the hub's outbound request policy: 10.0.0.5 is a private address (10.0.0.0/8); only public addresses are reachable unless MERIDIAN_OUTBOUND_ALLOW opens it.",
      },
    });
    const passwords = await meridian(
      'target',
      'create',
      '--tenant',
      'emea',
      '--kind',
      'scim',
      '--url',
      target.url,
      '--token',
      'x',
      '--push-passwords',
      '--json',
    );
    expect(passwords.code).toBe(1);
    expect(JSON.parse(passwords.stderr).error).toEqual({
      code: 'INVALID_CONFIG',
      message:
        "'pushPasswords' needs a connector that accepts passwords; this scim target is not configured to (for scim: config.supportsPassword: true).",
    });
    const wait = await meridian('target', 'wait-policy', '--tenant', 'emea', '--seconds', '300', '--json');
    expect(wait.code).toBe(1);
    expect(JSON.parse(wait.stderr).error).toEqual({
      code: 'INVALID_INPUT',
      message: 'The wait policy is a whole number of seconds from 0 to 30 (the longest a write waits for its deliveries).',
    });
  });
});
