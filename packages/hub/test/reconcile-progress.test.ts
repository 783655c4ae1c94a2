import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type HubHarness, startHub } from './harness.js';

// meridian target reconcile shows its progress (issue 20): the replication engine tells its caller each phase
// (listing the target's objects, comparing the hub's, fixing) and how many are done, which the CLI draws.

const system = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
let hub: HubHarness;

beforeAll(async () => {
  hub = await startHub();
  const emea = { authorization: `Bearer ${hub.tenants.emea.token}`, 'content-type': 'application/scim+json' };
  for (let i = 0; i < 3; i++) {
    const created = await hub.app.inject({
      method: 'POST',
      url: '/scim/v2/Users',
      headers: emea,
      payload: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: `p${i}@example.org` },
    });
    expect(created.statusCode).toBe(201);
  }
  // Created after the users: the target starts empty, and reconciling is its first load.
  await hub.runtime.replication.targets.create(hub.tenants.emea.id, { name: 'mirror', kind: 'memory', config: {} }, system);
});
afterAll(() => hub.close());

describe('reconcile progress', () => {
  it('reports comparing each hub object and fixing each difference, with the total of the fixes', async () => {
    const steps: { phase: string; kind?: string; done: number; total?: number }[] = [];
    const report = await hub.runtime.replicationService.reconcile(platform, 'emea', 'mirror', {
      dryRun: false,
      onProgress: (step) => void steps.push(step),
    });
    expect(report.fixed).toBe(3);
    const comparing = steps.filter((s) => s.phase === 'comparing' && s.kind === 'User').map((s) => s.done);
    expect(comparing).toEqual([1, 2, 3]);
    expect(steps.filter((s) => s.phase === 'fixing')).toEqual([
      { phase: 'fixing', done: 1, total: 3 },
      { phase: 'fixing', done: 2, total: 3 },
      { phase: 'fixing', done: 3, total: 3 },
    ]);
    // Phases come in order: every listing or comparing step before the first fix.
    const firstFix = steps.findIndex((s) => s.phase === 'fixing');
    expect(steps.slice(firstFix).every((s) => s.phase === 'fixing')).toBe(true);
  });

  it('reports no fixing on a dry run', async () => {
    const steps: { phase: string }[] = [];
    await hub.runtime.replicationService.reconcile(platform, 'emea', 'mirror', {
      dryRun: true,
      onProgress: (step) => void steps.push(step),
    });
    expect(steps.some((s) => s.phase === 'comparing')).toBe(true);
    expect(steps.some((s) => s.phase === 'fixing')).toBe(false);
  });
});
