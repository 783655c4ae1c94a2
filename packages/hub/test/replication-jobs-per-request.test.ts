import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig } from '../src/config/config.js';
import { type HubHarness, startHub } from './harness.js';

// ADR 0041: a target's queue runs more jobs than the requests its concurrency lets a worker process send.
// MERIDIAN_REPLICATION_JOBS_PER_REQUEST sets how many; 1 makes `concurrency` the bound across all processes.

let hub: HubHarness;

beforeAll(async () => {
  hub = await startHub({ env: { MERIDIAN_REPLICATION_JOBS_PER_REQUEST: '1' } });
}, 120_000);

afterAll(async () => {
  await hub?.close();
});

describe('MERIDIAN_REPLICATION_JOBS_PER_REQUEST', () => {
  it('defaults to 4 and refuses what is not a whole number from 1 to 16', () => {
    const base = { DATABASE_URL: 'postgres://x@127.0.0.1/x' };
    expect(loadConfig(base).replicationJobsPerRequest).toBe(4);
    expect(loadConfig({ ...base, MERIDIAN_REPLICATION_JOBS_PER_REQUEST: '16' }).replicationJobsPerRequest).toBe(16);
    for (const bad of ['0', '17', '2.5', 'many']) {
      expect(() => loadConfig({ ...base, MERIDIAN_REPLICATION_JOBS_PER_REQUEST: bad })).toThrow(ConfigError);
    }
    expect(() => loadConfig({ ...base, MERIDIAN_REPLICATION_JOBS_PER_REQUEST: '0' })).toThrow(
      /MERIDIAN_REPLICATION_JOBS_PER_REQUEST must be at least 1/,
    );
  });

  it("reaches the hub's replication engine", () => {
    expect(hub.runtime.replication.ctx.tuning.jobsPerRequest).toBe(1);
  });
});
