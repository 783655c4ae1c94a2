import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type HubHarness, startHub } from './harness.js';

// The hub's own endpoints: liveness, and readiness of the database, the queue and the disk.

let hub: HubHarness;
beforeAll(async () => {
  hub = await startHub();
});
afterAll(() => hub.close());

describe('health', () => {
  it('answers /healthz and /readyz', async () => {
    expect((await hub.app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    const ready = await hub.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready', checks: { database: 'ok', queue: 'ok', disk: 'ok' } });
  });
});
