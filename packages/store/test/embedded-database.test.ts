import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { acquireEmbeddedDatabase } from '@meridian/store';
import pg from 'pg';

// The embedded PostgreSQL of `pnpm start`: data survives restarts, and a CLI run
// attaches to a running hub's server instead of starting (or stopping) its own.
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meridian-embedded-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function query(url: string, sql: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

describe('embedded PostgreSQL', () => {
  it('keeps data across a stop and start, and lets a client attach to a running server', async () => {
    const first = await acquireEmbeddedDatabase({ dataDir: dir, port: 0, role: 'server' });
    expect(first.owner).toBe(true);
    await query(first.url, "create table kept (v text); insert into kept values ('still here')");

    const attached = await acquireEmbeddedDatabase({ dataDir: dir, port: 0, role: 'client' });
    expect(attached.owner).toBe(false);
    expect(await query(attached.url, 'select v from kept')).toEqual([{ v: 'still here' }]);
    await attached.release();
    // Releasing an attached client leaves the server running.
    expect(await query(first.url, 'select count(*)::int as n from kept')).toEqual([{ n: 1 }]);

    await expect(acquireEmbeddedDatabase({ dataDir: dir, port: 0, role: 'server', waitMs: 100 })).rejects.toThrow(/Another hub/);
    await first.release();

    const second = await acquireEmbeddedDatabase({ dataDir: dir, port: 0, role: 'server' });
    expect(await query(second.url, 'select v from kept')).toEqual([{ v: 'still here' }]);
    await second.release();
  });
});
