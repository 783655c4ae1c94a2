import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTestDatabase, type TestDatabase } from '@meridian/test-utils';

// Issue 15: `meridian rp create|list|update|delete|rotate-secret`, as docs/sso.md shows them.

const run = promisify(execFile);
const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
let db: TestDatabase;

async function meridian(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [main, ...args], {
      env: {
        ...process.env,
        DATABASE_URL: db.url,
        LOG_LEVEL: 'silent',
        MERIDIAN_OUTBOUND_ALLOW: '127.0.0.1',
        MERIDIAN_PUBLIC_URL: 'https://hub.example',
      },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(async () => {
  db = await createTestDatabase();
  expect((await meridian('community', 'create', '--slug', 'coi', '--name', 'CoI')).code).toBe(0);
  expect((await meridian('community', 'create', '--slug', 'other', '--name', 'Other')).code).toBe(0);
  expect((await meridian('tenant', 'create', '--slug', 'emea', '--name', 'EMEA', '--community', 'coi')).code).toBe(0);
}, 120_000);
afterAll(() => db.close());

// Every step spawns the CLI, which opens the database: generous time on a loaded machine.
const CLI_TEST_MS = 240_000;

describe('meridian rp', () => {
  it(
    'registers a relying party, prints its secret once and stores only its hash',
    async () => {
      const created = await meridian(
        'rp',
        'create',
        '--community',
        'coi',
        '--name',
        'Community Wiki',
        '--redirect-uri',
        'https://wiki.example.org/callback',
        '--redirect-uri',
        'http://localhost:3000/callback',
        '--claims',
        'preferred_username,name.givenName,emails,phone_number',
        '--optional-claims',
        'phone_number',
        '--max-cache',
        '3600',
        '--json',
      );
      expect(created.stderr).toBe('');
      const printed = JSON.parse(created.stdout) as { client_id: string; client_secret: string };
      expect(Object.keys(printed)).toEqual(['client_id', 'client_secret']);
      expect(printed.client_secret).toMatch(/^mrp_[A-Za-z0-9_-]{43}$/);

      const [row] = await db.query<{ secret_hash: string; claims: string[]; max_cache_seconds: number }>(
        'select secret_hash, claims, max_cache_seconds from relying_party where client_id = $1',
        [printed.client_id],
      );
      expect(row?.secret_hash).toBe(createHash('sha256').update(printed.client_secret).digest('hex'));
      expect(row?.claims).toEqual(['preferred_username', 'given_name', 'email', 'phone_number']);
      expect(row?.max_cache_seconds).toBe(3600);
      // Neither the secret nor its hash is in the audit log.
      const audit = await db.query<{ diff: unknown }>("select diff from audit_event where action like 'rp.%'");
      expect(JSON.stringify(audit)).not.toContain(printed.client_secret);
      expect(JSON.stringify(audit)).not.toContain(row?.secret_hash);

      const listed = JSON.parse((await meridian('rp', 'list', '--community', 'coi', '--json')).stdout) as { clientId: string }[];
      expect(listed.map((rp) => rp.clientId)).toEqual([printed.client_id]);
      expect(JSON.parse((await meridian('rp', 'list', '--community', 'other', '--json')).stdout)).toEqual([]);

      const updated = await meridian(
        'rp',
        'update',
        printed.client_id,
        '--community',
        'coi',
        '--max-cache',
        '60',
        '--consent',
        'implicit',
        '--json',
      );
      expect(JSON.parse(updated.stdout)).toMatchObject({ maxCacheSeconds: 60, consent: 'implicit', optionalClaims: ['phone_number'] });

      const rotated = JSON.parse((await meridian('rp', 'rotate-secret', printed.client_id, '--community', 'coi', '--json')).stdout) as {
        client_secret: string;
      };
      expect(rotated.client_secret).not.toBe(printed.client_secret);
      const [after] = await db.query<{ secret_hash: string }>('select secret_hash from relying_party where client_id = $1', [
        printed.client_id,
      ]);
      expect(after?.secret_hash).toBe(createHash('sha256').update(rotated.client_secret).digest('hex'));

      // A client of one community is not found through another.
      const foreign = await meridian('rp', 'delete', printed.client_id, '--community', 'other', '--json');
      expect(foreign.code).toBe(1);
      expect(JSON.parse(foreign.stderr)).toEqual({
        error: { code: 'NOT_FOUND', message: `Relying party '${printed.client_id}' not found.` },
      });

      expect((await meridian('rp', 'delete', printed.client_id, '--community', 'coi')).code).toBe(0);
      expect(await db.query('select 1 from relying_party')).toEqual([]);
      const actions = await db.query<{ action: string }>("select action from audit_event where action like 'rp.%' order by seq");
      expect(actions.map((a) => a.action)).toEqual(['rp.created', 'rp.updated', 'rp.secret_rotated', 'rp.deleted']);
    },
    CLI_TEST_MS,
  );

  it(
    'refuses a bad registration with the field that is wrong',
    async () => {
      const bad = await meridian(
        'rp',
        'create',
        '--community',
        'coi',
        '--name',
        'Bad',
        '--redirect-uri',
        'http://wiki.example.org/callback',
        '--claims',
        'email',
        '--json',
      );
      expect(bad.code).toBe(1);
      expect(JSON.parse(bad.stderr)).toMatchObject({ error: { code: 'INVALID_INPUT' } });
      expect(JSON.parse(bad.stderr).error.message).toMatch(/https/);
      const unknown = await meridian(
        'rp',
        'create',
        '--community',
        'coi',
        '--name',
        'Bad',
        '--redirect-uri',
        'https://x.example/cb',
        '--claims',
        'password',
      );
      expect(unknown.stderr).toMatch(/Unknown claim 'password'/);
    },
    CLI_TEST_MS,
  );

  it(
    'sets, shows and removes an office’s upstream identity provider, its secret read from a file and sealed',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'meridian-upstream-'));
      const secretFile = join(dir, 'secret');
      await writeFile(secretFile, 'upstream-client-secret-0123456789\n', { mode: 0o600 });
      const set = await meridian(
        'sso',
        'upstream',
        'set',
        '--tenant',
        'coi/emea',
        '--issuer',
        'http://127.0.0.1:9/idp',
        '--client-id',
        'meridian-coi',
        '--client-secret-file',
        secretFile,
        '--json',
      );
      expect(set.stderr).toBe('');
      expect(JSON.parse(set.stdout)).toMatchObject({
        issuer: 'http://127.0.0.1:9/idp',
        clientId: 'meridian-coi',
        userNameClaim: 'email',
        redirectUri: 'https://hub.example/oidc/coi/upstream/callback',
      });
      expect(set.stdout).not.toContain('upstream-client-secret');
      const [row] = await db.query<{ client_secret_sealed: string }>('select client_secret_sealed from sso_upstream');
      expect(row?.client_secret_sealed).toMatch(/^v1:/);
      expect(row?.client_secret_sealed).not.toContain('upstream-client-secret');
      expect(JSON.parse((await meridian('sso', 'upstream', 'show', '--tenant', 'coi/emea', '--json')).stdout)).not.toHaveProperty(
        'clientSecret',
      );
      const actions = await db.query<{ action: string; diff: unknown }>(
        "select action, diff from audit_event where action like 'sso.upstream%'",
      );
      expect(JSON.stringify(actions)).not.toContain('upstream-client-secret');
      expect((await meridian('sso', 'upstream', 'remove', '--tenant', 'coi/emea')).code).toBe(0);
      const gone = await meridian('sso', 'upstream', 'show', '--tenant', 'coi/emea', '--json');
      expect(JSON.parse(gone.stderr)).toMatchObject({ error: { code: 'NOT_FOUND' } });
    },
    CLI_TEST_MS,
  );
});
