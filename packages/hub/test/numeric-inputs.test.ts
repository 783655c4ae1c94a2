import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { gql as post } from '@meridian/test-utils/apps';
import { type HubHarness, startHub } from './harness.js';

// Issue 12: `createToken(expiresInDays: 0)` issued a token that never expires, and the error for negatives claimed
// 0 was allowed. A lifetime is a whole number of days from 1 to 3650, or absent for no expiry; everything else is
// refused with that range, on GraphQL and on the CLI alike. The other numbers of token, tenant and target creation
// are checked for the same class: 0, negatives, fractions, NaN and huge values are refused, never turned into a default.

const run = promisify(execFile);
const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const RANGE = "'expiresInDays' must be a whole number of days from 1 to 3650; leave it out for a token that does not expire.";

let hub: HubHarness;
let dataDir: string;

beforeAll(async () => {
  hub = await startHub();
  dataDir = await mkdtemp(join(tmpdir(), 'meridian-numeric-'));
});
afterAll(async () => {
  await hub.close();
  await rm(dataDir, { recursive: true, force: true });
});

/** Posts one GraphQL operation as the platform admin (the shared helper of the test apps). */
function gql(query: string, variables: Record<string, unknown> = {}) {
  return post(hub.app, hub.adminToken, query, variables);
}

async function meridian(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    DATABASE_URL: hub.db.url,
    MERIDIAN_DATA_DIR: dataDir,
    MERIDIAN_SECRET_KEYS: `k1:${Buffer.alloc(32, 5).toString('base64')}`,
    LOG_LEVEL: 'silent',
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

const CREATE = `mutation ($days: Int) { createToken(tenant: "emea", role: "provisioner", expiresInDays: $days) { record { id expiresAt } } }`;

async function tokenCount(): Promise<number> {
  const [row] = await hub.db.query<{ n: number }>('select count(*)::int as n from api_token');
  return row?.n ?? 0;
}

describe('createToken(expiresInDays) over GraphQL', () => {
  it.each([0, -1, -3650, 3651, 2_000_000_000])('refuses %s with the valid range, and issues nothing', async (days) => {
    const before = await tokenCount();
    const res = await gql(CREATE, { days });
    expect(res.body).toEqual({
      data: null,
      errors: [{ message: RANGE, path: ['createToken'], extensions: { code: 'INVALID_INPUT', field: 'expiresInDays' } }],
    });
    expect(await tokenCount()).toBe(before);
  });

  it('regression: expiresInDays: 0 issued a token that never expires; a literal 0 is refused like a variable', async () => {
    const res = await gql('mutation { createToken(tenant: "emea", role: "provisioner", expiresInDays: 0) { token } }');
    expect(res.body.errors).toEqual([
      { message: RANGE, path: ['createToken'], extensions: { code: 'INVALID_INPUT', field: 'expiresInDays' } },
    ]);
  });

  it('refuses fractions and numbers beyond Int before any resolver runs', async () => {
    for (const days of [1.5, 2 ** 31]) {
      const res = await gql(CREATE, { days });
      expect(res.status).toBe(400);
      expect((res.body.errors as { extensions: { code: string } }[])[0]?.extensions.code).toBe('BAD_USER_INPUT');
    }
  });

  it('issues a token for 1 to 3650 days, and one that never expires when the argument is absent or null', async () => {
    const one = await gql(CREATE, { days: 1 });
    const expiresAt = Date.parse((one.body.data as { createToken: { record: { expiresAt: string } } }).createToken.record.expiresAt);
    expect(expiresAt - Date.now()).toBeGreaterThan(86_400_000 - 60_000);
    expect(expiresAt - Date.now()).toBeLessThanOrEqual(86_400_000);
    const max = await gql(CREATE, { days: 3650 });
    expect((max.body.data as { createToken: { record: { expiresAt: string | null } } }).createToken.record.expiresAt).not.toBeNull();
    for (const variables of [{}, { days: null }]) {
      const never = await gql(CREATE, variables);
      expect((never.body.data as { createToken: { record: { expiresAt: string | null } } }).createToken.record.expiresAt).toBeNull();
    }
  });
});

describe('meridian token create --expires-in-days', () => {
  it.each(['0', '-1', '1.5', '1e3', '0x10', 'abc', ' ', '3651', '99999999999999999999'])(
    'refuses %p with the valid range (exit 1), and issues nothing',
    async (days) => {
      const before = await tokenCount();
      const res = await meridian('token', 'create', '--tenant', 'emea', '--role', 'provisioner', `--expires-in-days=${days}`, '--json');
      expect(res.code).toBe(1);
      expect(JSON.parse(res.stderr)).toEqual({ error: { code: 'INVALID_INPUT', message: RANGE } });
      expect(await tokenCount()).toBe(before);
    },
  );

  it('issues a token for a whole number of days', async () => {
    const res = await meridian('token', 'create', '--tenant', 'emea', '--role', 'provisioner', '--expires-in-days', '30', '--json');
    expect(res.code).toBe(0);
    const expiresAt = Date.parse((JSON.parse(res.stdout) as { expiresAt: string }).expiresAt);
    expect(expiresAt - Date.now()).toBeGreaterThan(29 * 86_400_000);
  });
});

describe('the numbers of a replication target', () => {
  it('refuses grace:0 on the CLI instead of turning it into one second', async () => {
    for (const grace of ['grace:0', 'grace:0.000001', 'grace:3651']) {
      const res = await meridian('target', 'create', '--tenant', 'emea', '--kind', 'memory', '--delete-mode', grace, '--json');
      expect(res.code).toBe(1);
      expect(JSON.parse(res.stderr)).toEqual({
        error: { code: 'USAGE', message: `--delete-mode grace:<days> takes more than 0 and at most 3650 days, not '${grace.slice(6)}'.` },
      });
    }
    const [row] = await hub.db.query<{ n: number }>('select count(*)::int as n from replication_target');
    expect(row?.n).toBe(0);
  });

  it.each([
    [{ deleteMode: 'grace', graceSeconds: 0 }, 'graceSeconds'],
    [{ deleteMode: 'grace', graceSeconds: -60 }, 'graceSeconds'],
    [{ concurrency: 0 }, 'concurrency'],
    [{ concurrency: -4 }, 'concurrency'],
    [{ maxAttempts: 0 }, 'maxAttempts'],
    [{ maxAttempts: 1_000_000 }, 'maxAttempts'],
  ])('refuses %p over GraphQL, naming %s', async (input, field) => {
    const res = await gql('mutation ($input: ReplicationTargetInput!) { createReplicationTarget(tenant: "emea", input: $input) { id } }', {
      input: { name: 'numbers', kind: 'memory', ...input },
    });
    expect((res.body.errors as { extensions: { code: string; field: string } }[])[0]?.extensions).toEqual({
      code: 'INVALID_CONFIG',
      field,
    });
  });
});
