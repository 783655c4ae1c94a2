import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTestDatabase, type TestDatabase } from '@meridian/test-utils';

// Issue 4 through the CLI: tokens for a role, community tokens, and trusted JWT issuers.

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

describe('meridian token and issuer commands', () => {
  it('issues tokens for a role, for a tenant or a community', async () => {
    expect((await meridian('community', 'create', '--slug', 'yourcoi', '--name', 'YourCoI')).code).toBe(0);
    expect((await meridian('tenant', 'create', '--slug', 'emea', '--name', 'EMEA', '--community', 'yourcoi')).code).toBe(0);
    const provisioner = JSON.parse((await meridian('token', 'create', '--tenant', 'emea', '--role', 'provisioner', '--json')).stdout);
    expect(provisioner).toMatchObject({ role: 'provisioner', scopes: ['scim:read', 'scim:write'], communityId: null });
    const hr = JSON.parse((await meridian('token', 'create', '--community', 'yourcoi', '--role', 'hr_reader', '--json')).stdout);
    expect(hr).toMatchObject({ role: 'hr_reader', scopes: ['directory:read'], tenantId: null });
    const listed = JSON.parse((await meridian('token', 'list', '--community', 'yourcoi', '--json')).stdout) as { id: string }[];
    expect(listed.map((t) => t.id)).toEqual([hr.id]);
    const wrong = await meridian('token', 'create', '--tenant', 'emea', '--role', 'hr_reader', '--json');
    expect(wrong.code).toBe(1);
    expect(JSON.parse(wrong.stderr).error.code).toBe('INVALID_INPUT');
    expect((await meridian('token', 'create', '--tenant', 'emea')).stderr).toContain('--role');
  });

  it('adds, lists and removes a trusted issuer, audited', async () => {
    const added = await meridian(
      'issuer',
      'add',
      '--community',
      'yourcoi',
      '--issuer',
      'https://idp.yourcoi.example',
      '--audience',
      'meridian',
      '--jwks-uri',
      'https://idp.yourcoi.example/jwks',
      '--algorithms',
      'ES256,EdDSA',
      '--roles-claim',
      'realm_access.roles',
      '--role-map',
      'hr=hr_reader,scim=provisioner',
      '--json',
    );
    expect(added.code).toBe(0);
    const issuer = JSON.parse(added.stdout);
    expect(issuer).toMatchObject({
      tenantId: null,
      algorithms: ['ES256', 'EdDSA'],
      tenantClaim: 'tenant',
      subjectClaim: 'sub',
      roleMap: { hr: 'hr_reader', scim: 'provisioner' },
    });
    const listed = JSON.parse((await meridian('issuer', 'list', '--community', 'yourcoi', '--json')).stdout) as { id: string }[];
    expect(listed.map((i) => i.id)).toEqual([issuer.id]);
    const hmac = await meridian(
      'issuer',
      'add',
      '--tenant',
      'emea',
      '--issuer',
      'https://x.example',
      '--audience',
      'a',
      '--jwks-uri',
      'https://x.example/k',
      '--algorithms',
      'HS256',
      '--json',
    );
    expect(JSON.parse(hmac.stderr).error.code).toBe('INVALID_INPUT');
    expect((await meridian('issuer', 'remove', issuer.id, '--json')).code).toBe(0);
    expect(JSON.parse((await meridian('issuer', 'list', '--json')).stdout)).toEqual([]);
    const audit = await db.query<{ action: string; actor_type: string }>(
      "select action, actor_type from audit_event where resource_type = 'Issuer' order by id",
    );
    expect(audit).toEqual([
      { action: 'issuer.created', actor_type: 'cli' },
      { action: 'issuer.deleted', actor_type: 'cli' },
    ]);
  });

  it('keeps docs/security.md in step with the permission matrix', async () => {
    const docs = fileURLToPath(new URL('../../../docs/security.md', import.meta.url));
    const res = await meridian('security', 'docs', '--check', '--out', docs);
    expect(res).toMatchObject({ code: 0, stderr: '' });
  });
});
