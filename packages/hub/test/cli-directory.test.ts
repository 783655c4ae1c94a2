import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type DirectoryCaller, principalOfRole, SCHEMA } from '@meridian/core';
import { createTestDatabase, type TestDatabase } from '@meridian/test-utils';
import { loadConfig } from '../src/config/config.js';
import { openRuntime, type Runtime } from '../src/runtime/runtime.js';
import { runMeridian } from './cli-runner.js';

/** A SCIM client of the tenant: the caller the core's ResourceService authorizes (scim.read, scim.write). */
const scimCaller = (tenantId: string): DirectoryCaller => ({ principal: principalOfRole('provisioner', { tenantId }), api: 'scim' });

// `meridian directory …` (issue 6): two offices of one community hold the same person; the built CLI
// rebuilds and reads the global directory, settles a conflict by an authority rule, links by hand,
// and adds an export. Each spawn costs about a second, so independent reads run side by side.

const system = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };

interface PersonRow {
  id: string;
  displayName: string | null;
  employeeNumber: string | null;
  department: string | null;
  accounts: { tenant: string; userId: string; userName: string; link: string }[];
}

let db: TestDatabase;
let dataDir: string;
let env: Record<string, string>;
let runtime: Runtime;
const users: Record<string, string> = {};

beforeAll(async () => {
  db = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'meridian-directory-cli-'));
  env = {
    DATABASE_URL: db.url,
    MERIDIAN_SECRET_KEYS: `k1:${Buffer.alloc(32, 5).toString('base64')}`,
    MERIDIAN_DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
  };
  runtime = await openRuntime(loadConfig(env), 'client');
  await runtime.admin.createCommunity(platform, { slug: 'coi', name: 'CoI' }, system);
  const emea = await runtime.admin.createTenant(platform, { slug: 'emea', name: 'EMEA', community: 'coi' }, system);
  const amer = await runtime.admin.createTenant(platform, { slug: 'amer', name: 'AMER', community: 'coi' }, system);
  const create = async (key: string, tenantId: string, userName: string, enterprise: Record<string, string>) => {
    const user = await runtime.resources.create(
      scimCaller(tenantId),
      tenantId,
      'User',
      { schemas: [SCHEMA.user, SCHEMA.enterpriseUser], userName, displayName: 'Alice Smith', [SCHEMA.enterpriseUser]: enterprise },
      system,
    );
    users[key] = user.id;
  };
  await create('alice.emea', emea.id, 'alice@emea.example', { employeeNumber: 'E1', department: 'Sales' });
  await create('alice.amer', amer.id, 'asmith@amer.example', { employeeNumber: 'E1', department: 'Marketing' });
});

afterAll(async () => {
  await runtime.close();
  await db.close();
  await rm(dataDir, { recursive: true, force: true });
});

const meridian = (...args: string[]) => runMeridian(env, args);

async function json<T>(...args: string[]): Promise<T> {
  const result = await meridian(...args, '--community', 'coi', '--json');
  if (result.code !== 0) throw new Error(`meridian ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

describe('meridian directory', () => {
  let alice: PersonRow;

  it('rebuilds and waits, then shows one person with both accounts and the department conflict', async () => {
    const rebuilt = await json<{ queued: number; projected: number; pending: number }>('directory', 'rebuild', '--wait');
    expect(rebuilt).toMatchObject({ queued: 2, pending: 0 });
    expect(rebuilt.projected).toBeGreaterThanOrEqual(2);

    const [people, conflicts, badRule] = await Promise.all([
      json<{ totalCount: number; hasNextPage: boolean; people: PersonRow[] }>('directory', 'people'),
      json<{ conflicts: { kind: string; personId: string; attribute: string; candidates: unknown[] }[] }>('directory', 'conflicts'),
      meridian('directory', 'rules', '--community', 'coi', '--correlation', 'employeeNumber,shoeSize', '--json'),
    ]);
    expect(people).toMatchObject({ totalCount: 1, hasNextPage: false });
    alice = people.people[0] as PersonRow;
    expect(alice).toMatchObject({ displayName: 'Alice Smith', employeeNumber: 'E1', department: null });
    expect(alice.accounts.map((a) => [a.tenant, a.userName]).sort()).toEqual([
      ['amer', 'asmith@amer.example'],
      ['emea', 'alice@emea.example'],
    ]);
    expect(conflicts.conflicts).toEqual([
      expect.objectContaining({
        kind: 'attribute',
        personId: alice.id,
        attribute: 'department',
        candidates: [
          { tenant: 'emea', account: users['alice.emea'], value: 'Sales' },
          { tenant: 'amer', account: users['alice.amer'], value: 'Marketing' },
        ],
      }),
    ]);

    expect(badRule.code).toBe(1);
    expect(JSON.parse(badRule.stderr)).toEqual({
      error: { code: 'INVALID_INPUT', message: expect.stringMatching(/^--correlation: Unknown correlation attribute 'shoeSize'/) },
    });
  });

  it('settles the conflict with an authority rule and a rebuild', async () => {
    const set = await meridian('directory', 'rules', '--community', 'coi', '--authority', 'department=amer,emea');
    expect(set.code).toBe(0);
    expect(set.stdout).toMatch(/authority department\s+amer, emea/);
    await json('directory', 'rebuild', '--wait');
    const [person, conflicts, rules] = await Promise.all([
      json<{ values: Record<string, string>; sources: Record<string, { tenant: string }>; conflicts: unknown[] }>(
        'directory',
        'person',
        alice.id,
      ),
      json<{ conflicts: unknown[] }>('directory', 'conflicts'),
      json('directory', 'rules'),
    ]);
    expect(person.values.department).toBe('Marketing');
    expect(person.sources.department).toEqual({ tenant: 'amer', account: users['alice.amer'] });
    expect(person.conflicts).toEqual([]);
    expect(conflicts.conflicts).toEqual([]);
    expect(rules).toEqual({ correlation: ['employeeNumber'], authority: [{ attribute: 'department', tenants: ['amer', 'emea'] }] });
  });

  it('unlinks an account into a person of its own and links it back, audited as the CLI user', async () => {
    const account = users['alice.amer'] as string;
    const alone = await json<PersonRow & { id: string; accounts: { tenant: string; link: string; pinned: boolean }[] }>(
      'directory',
      'unlink',
      '--tenant',
      'amer',
      '--account',
      account,
    );
    expect(alone.id).not.toBe(alice.id);
    expect(alone.accounts).toEqual([expect.objectContaining({ tenant: 'amer', userId: account, link: 'manual', pinned: true })]);

    const back = await json<{ id: string; accounts: { tenant: string }[] }>(
      'directory',
      'link',
      '--tenant',
      'amer',
      '--account',
      account,
      '--person',
      alice.id,
    );
    expect(back.id).toBe(alice.id);
    expect(back.accounts.map((a) => a.tenant).sort()).toEqual(['amer', 'emea']);

    const audit = await db.query<{ action: string; actor_type: string }>(
      "select action, actor_type from audit_event where action in ('directory.linked', 'directory.unlinked') order by id",
    );
    expect(audit).toEqual([
      { action: 'directory.unlinked', actor_type: 'cli' },
      { action: 'directory.linked', actor_type: 'cli' },
    ]);
  });

  it('creates and lists an export without ever printing its secrets', async () => {
    const created = await meridian(
      'directory',
      'export',
      'create',
      '--community',
      'coi',
      '--name',
      'global',
      '--kind',
      'memory',
      '--config',
      '{"target":"x"}',
      '--secret',
      'token=s3cret-value',
      '--json',
    );
    expect(created.code).toBe(0);
    expect(created.stdout).not.toContain('s3cret-value');
    expect(JSON.parse(created.stdout)).toMatchObject({
      name: 'global',
      kind: 'memory',
      config: { target: 'x' },
      secretNames: ['token'],
      counts: { pending: 1, synced: 0 },
    });

    const listed = await json<{ name: string; counts: { pending: number } }[]>('directory', 'export', 'list');
    expect(listed).toEqual([
      expect.objectContaining({ name: 'global', secretNames: ['token'], counts: expect.objectContaining({ pending: 1 }) }),
    ]);
    expect(JSON.stringify(listed)).not.toContain('s3cret-value');
  });
});
