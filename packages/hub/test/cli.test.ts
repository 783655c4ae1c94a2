import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTestDatabase, type TestDatabase } from '@meridian/test-utils';

const run = promisify(execFile);
const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

async function meridian(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [main, ...args], {
      env: { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'silent' },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('meridian CLI', () => {
  it('creates a community, a tenant and a token, and lists and revokes tokens, with --json', async () => {
    const community = await meridian('community', 'create', '--slug', 'yourcoi', '--name', 'YourCoI', '--json');
    expect(community.code).toBe(0);
    expect(JSON.parse(community.stdout)).toMatchObject({ slug: 'yourcoi', name: 'YourCoI' });

    const tenant = await meridian('tenant', 'create', '--slug', 'emea', '--name', 'EMEA office', '--community', 'yourcoi', '--json');
    expect(JSON.parse(tenant.stdout)).toMatchObject({ slug: 'emea', communityId: JSON.parse(community.stdout).id });

    const token = await meridian(
      'token',
      'create',
      '--tenant',
      'emea',
      '--scopes',
      'scim:read,scim:write',
      '--expires-in-days',
      '30',
      '--json',
    );
    const issued = JSON.parse(token.stdout) as { token: string; id: string; scopes: string[]; expiresAt: string };
    expect(issued.token).toMatch(/^mrd_[A-Za-z0-9_-]{43}$/);
    expect(issued.scopes).toEqual(['scim:read', 'scim:write']);
    expect(Date.parse(issued.expiresAt)).toBeGreaterThan(Date.now());

    const [stored] = await db.query<{ secret_hash: string }>('select secret_hash from api_token where id = $1', [issued.id]);
    expect(stored?.secret_hash).not.toContain(issued.token);

    const listed = JSON.parse((await meridian('token', 'list', '--tenant', 'emea', '--json')).stdout) as { id: string; token?: string }[];
    expect(listed.map((t) => t.id)).toEqual([issued.id]);
    expect(listed[0]?.token).toBeUndefined();

    const revoked = JSON.parse((await meridian('token', 'revoke', issued.id, '--json')).stdout) as { revokedAt: string | null };
    expect(revoked.revokedAt).not.toBeNull();

    const audit = await db.query<{ action: string; actor_type: string }>('select action, actor_type from audit_event order by id');
    expect(audit.map((a) => a.action)).toEqual(['community.created', 'tenant.created', 'token.created', 'token.revoked']);
    expect(new Set(audit.map((a) => a.actor_type))).toEqual(new Set(['cli']));
  });

  it('fails with a clear error and exit code 1 on bad input', async () => {
    const missing = await meridian('tenant', 'create', '--slug', 'x', '--name', 'X', '--community', 'nope', '--json');
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stderr)).toEqual({ error: { code: 'NOT_FOUND', message: "Community 'nope' not found." } });
    const badSlug = await meridian('community', 'create', '--slug', 'Bad Slug!', '--name', 'X');
    expect(badSlug.code).toBe(1);
    expect(badSlug.stderr).toContain('not a valid slug');
    const badScope = await meridian('token', 'create', '--tenant', 'emea', '--scopes', 'scim:everything');
    expect(badScope.stderr).toContain("Unknown scope 'scim:everything'");
  });

  it('declares a schema extension from a file and sets the self-service policy', async () => {
    const { mkdtemp, writeFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'meridian-cli-'));
    const file = join(dir, 'acme.json');
    const urn = 'urn:example:params:scim:schemas:extension:acme:2.0:Group';
    await writeFile(file, JSON.stringify({ id: urn, name: 'AcmeGroup', resourceType: 'Group', attributes: [{ name: 'costCenter' }] }));
    const created = await meridian('schema', 'create', '--tenant', 'emea', '--file', file, '--json');
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ id: urn, resourceType: 'Group' });
    const listed = await meridian('schema', 'list', '--tenant', 'emea', '--json');
    expect(JSON.parse(listed.stdout).map((e: { id: string }) => e.id)).toEqual([urn]);
    const deleted = await meridian('schema', 'delete', '--tenant', 'emea', '--id', urn, '--json');
    expect(JSON.parse(deleted.stdout)).toEqual({ deleted: urn });

    await writeFile(file, '{ not json');
    const bad = await meridian('schema', 'create', '--tenant', 'emea', '--file', file);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('as JSON');

    const policy = await meridian('tenant', 'policy', '--tenant', 'emea', '--self-service', 'phoneNumbers,addresses', '--json');
    expect(JSON.parse(policy.stdout)).toEqual({ editableAttributes: ['phoneNumbers', 'addresses'] });
    const shown = await meridian('tenant', 'policy', '--tenant', 'emea');
    expect(shown.stdout).toContain('phoneNumbers, addresses');
    const unknown = await meridian('tenant', 'policy', '--tenant', 'emea', '--self-service', 'shoeSize', '--json');
    expect(JSON.parse(unknown.stderr).error.code).toBe('INVALID_INPUT');
  });

  it('rejects invalid configuration naming the variable', async () => {
    const { code, stderr } = await run(process.execPath, [main, 'community', 'list'], {
      env: { ...process.env, DATABASE_URL: 'mysql://x', PORT: 'abc' },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(code).toBe(1);
    expect(stderr).toContain('DATABASE_URL must be a URL starting with postgres:// or postgresql://');
    expect(stderr).toContain('PORT');
  });
});
