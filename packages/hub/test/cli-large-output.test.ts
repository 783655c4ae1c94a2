import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTestDatabase, type TestDatabase } from '@meridian/test-utils';

// Regression: a CLI command exited before a long `--json` answer had drained into its pipe, and the reader got
// about 290 KB of it, cut mid-JSON. The CLI now exits once stdout and stderr are flushed.

const run = promisify(execFile);
const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

describe('meridian CLI output through a pipe', () => {
  it('prints a --json answer of more than a megabyte whole', async () => {
    const env = { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'silent' };
    const community = JSON.parse(
      (await run(process.execPath, [main, 'community', 'create', '--slug', 'big', '--name', 'Big', '--json'], { env })).stdout,
    );
    // 500 tenants with long names, written straight to the table: the CLI lists up to 500 at once.
    await db.orm.em.fork().transactional(async (em) => {
      await em.execute("select set_config('meridian.scope', 'platform', true)");
      await em.execute(
        `insert into tenant (id, community_id, slug, name, created_at)
         select gen_random_uuid(), ?, 'office-' || i, repeat('x', 2000) || i, now() from generate_series(1, 500) as i`,
        [community.id],
      );
    });
    const { stdout } = await run(process.execPath, [main, 'tenant', 'list', '--community', 'big', '--json'], {
      env,
      maxBuffer: 64 * 1024 * 1024,
    });
    expect(stdout.length).toBeGreaterThan(1_000_000);
    const tenants = JSON.parse(stdout) as { slug: string }[];
    expect(tenants).toHaveLength(500);
    expect(new Set(tenants.map((t) => t.slug)).size).toBe(500);
  });
});
