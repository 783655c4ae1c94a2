import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type HubHarness, startHub } from './harness.js';

// Issue 19, large tenants: `tenant export` and `tenant import` stream, so the memory they hold does not grow with
// the tenant. Each command runs twice, for a tenant of one user and for one of LARGE users, with a preload that
// forces a full collection every 250 ms and keeps the largest live heap it saw; the two must be within GROWTH of
// each other. Measured on the development machine: 60.1 and 61.6 MB (export), 61.0 and 62.3 MB (import), and the
// export keeping each rendered User (the tenant in memory) reached 70.6 MB at 10,000 users. What this cannot see is
// a few bytes kept per user (a Set of ids: under 1 MB here); `pnpm bench:migration` at 100,000 users is for that.
// No time is measured: the peak is of bytes held after collection.

const run = promisify(execFile);
const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const ctx = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const platform = { principal: { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] }, api: 'graphql' as const };
const LARGE = 10_000;
const GROWTH = 5 * 1024 * 1024;
const KEY = 'ka:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';

/** Loaded before the CLI (`--import`): the largest heap still used after a full collection, written at exit. */
const SAMPLER = `import { writeFileSync } from 'node:fs';
let peak = 0;
const sample = () => { globalThis.gc(); peak = Math.max(peak, process.memoryUsage().heapUsed); };
setInterval(sample, 250).unref();
process.on('exit', () => { sample(); writeFileSync(process.env.MERIDIAN_TEST_HEAP_OUT, String(peak)); });
`;

let a: HubHarness;
let b: HubHarness;
let dir: string;

/** Runs the CLI against `hub` under the sampler; returns its output and the peak live heap in bytes. */
async function sampled(hub: HubHarness, label: string, ...args: string[]): Promise<{ stdout: string; peak: number }> {
  const out = join(dir, `${label}.heap`);
  const { stdout } = await run(process.execPath, ['--expose-gc', '--import', join(dir, 'sampler.mjs'), main, ...args], {
    env: {
      ...process.env,
      DATABASE_URL: hub.db.url,
      LOG_LEVEL: 'silent',
      MERIDIAN_SECRET_KEYS: KEY,
      MERIDIAN_DATA_DIR: dir,
      MERIDIAN_TEST_HEAP_OUT: out,
    },
    maxBuffer: 16 * 1024 * 1024,
  });
  return { stdout, peak: Number(await readFile(out, 'utf8')) };
}

/** `count` users in the tenant: one created as SCIM does, the rest copies of it (new ids, userNames, times) in SQL. */
async function seed(tenant: 'emea' | 'apac', count: number): Promise<void> {
  const user = await a.runtime.resources.create(
    platform,
    tenant,
    'User',
    {
      userName: `${tenant}-0@example.com`,
      name: { givenName: 'Ada', familyName: 'Lovelace' },
      emails: [{ value: `${tenant}-0@example.com`, type: 'work', primary: true }],
    },
    ctx,
  );
  await a.db.query(
    `insert into scim_user (id, tenant_id, user_name, active, attributes, extension_schemas, version, created_at, updated_at)
     select gen_random_uuid(), u.tenant_id, $2 || i || '@example.com', true,
            jsonb_set(u.attributes, '{userName}', to_jsonb($2 || i || '@example.com')), u.extension_schemas, 1,
            u.created_at + i * interval '1 millisecond', u.updated_at + i * interval '1 millisecond'
       from scim_user u, generate_series(1, $3::int - 1) i
      where u.id = $1`,
    [user.id, `${tenant}-`, count],
  );
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meridian-transfer-memory-'));
  await writeFile(join(dir, 'sampler.mjs'), SAMPLER);
  a = await startHub();
  b = await startHub({ env: { MERIDIAN_PUBLIC_URL: 'https://hub-b.test' } });
  await seed('apac', 1);
  await seed('emea', LARGE);
}, 120_000);

afterAll(async () => {
  await a?.close();
  await b?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('tenant export | import of a large tenant', () => {
  it('exports and imports 10,000 users holding what one user needs', async () => {
    const exports = [];
    for (const tenant of ['apac', 'emea']) {
      exports.push(
        await sampled(a, `export-${tenant}`, 'tenant', 'export', '--tenant', tenant, '--out', join(dir, `${tenant}.ndjson`), '--json'),
      );
    }
    const [small, large] = exports;
    expect(JSON.parse(large?.stdout ?? '')).toMatchObject({ counts: { users: LARGE } });
    expect((large?.peak ?? 0) - (small?.peak ?? 0)).toBeLessThan(GROWTH);

    const imports = [];
    for (const tenant of ['apac', 'emea']) {
      imports.push(
        await sampled(b, `import-${tenant}`, 'tenant', 'import', '--tenant', tenant, '--in', join(dir, `${tenant}.ndjson`), '--json'),
      );
    }
    const [smallIn, largeIn] = imports;
    expect(JSON.parse(largeIn?.stdout ?? '')).toMatchObject({ created: { users: LARGE }, counts: { users: LARGE } });
    expect((largeIn?.peak ?? 0) - (smallIn?.peak ?? 0)).toBeLessThan(GROWTH);
  }, 300_000);
});
