import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { openReadReplica } from '@meridian/store';
import { createTestDatabase, type TestDatabase } from '@meridian/test-utils';

// Regression (issue 20, tried as an operator): a DATABASE_READ_URL naming the primary itself, or a server that
// does not answer, silently sent every read to the primary; the only sign was a metric's reason. The replica
// now says what is wrong, for the hub to log at start.

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(() => db.close());

it('names a DATABASE_READ_URL that is not a hot standby', async () => {
  const replica = await openReadReplica(db.orm, { url: db.url, maxLagMs: 5000, poolSize: 1 });
  try {
    expect(await replica.problem()).toMatch(/DATABASE_READ_URL is not a hot standby \(pg_is_in_recovery\(\) is false\)/);
    // Still safe meanwhile: reads stay on the primary.
    expect((await replica.decide('caller')).reason).toBe('replica_unavailable');
  } finally {
    await replica.close();
  }
});

it('names a DATABASE_READ_URL that cannot be reached, without its password', async () => {
  const url = new URL(db.url);
  url.port = '1';
  url.password = 'do-not-print-me';
  const replica = await openReadReplica(db.orm, { url: url.toString(), maxLagMs: 5000, poolSize: 1 });
  try {
    const problem = await replica.problem();
    expect(problem).toMatch(/^DATABASE_READ_URL cannot be read \(.+\): reads stay on the primary/);
    expect(problem).not.toContain('do-not-print-me');
  } finally {
    await replica.close();
  }
});
