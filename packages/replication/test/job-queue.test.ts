import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { openJobQueue } from '@meridian/replication';
import { createTestDatabase, type TestDatabase } from '@meridian/test-utils';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

const backends = [['postgres', undefined], ...(process.env.REDIS_URL ? [['redis', process.env.REDIS_URL]] : [])] as [
  string,
  string | undefined,
][];
// Without REDIS_URL only the PostgreSQL backend runs; the Redis runs are skipped, and the run says so.
if (!process.env.REDIS_URL) {
  console.warn("Skipped: 'BullMQ on redis' (REDIS_URL is not set; bash .ci/run sets it when a Redis server is installed).");
}

describe.each(backends)('BullMQ on %s', (backend, redisUrl) => {
  it('opens the queue and holds an added job', async () => {
    const queue = await openJobQueue({ databaseUrl: db.url, redisUrl, name: `test-${backend}-${Date.now()}` });
    try {
      expect(queue.backend).toBe(backend);
      await queue.ping();
      await queue.queue.add('probe', { n: 1 }, { jobId: 'probe-1' });
      const job = await queue.queue.getJob('probe-1');
      expect(job?.data).toEqual({ n: 1 });
      expect(await queue.queue.getJobCounts('waiting')).toEqual({ waiting: 1 });
      await queue.queue.obliterate({ force: true });
    } finally {
      await queue.close();
    }
  });
});
