import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type HubHarness, startHub } from './harness.js';

// The replication queues in bull-board at /admin/queues (issue 20): the platform admin only, by bearer token or as the
// password of HTTP Basic (what a browser sends by itself), read-only, and only when BullMQ runs on Redis.

const redisUrl = process.env.REDIS_URL;
const describeWithRedis = redisUrl ? describe : describe.skip;
const system = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };

describeWithRedis('/admin/queues on Redis', () => {
  let hub: HubHarness;
  let targetId: string;
  beforeAll(async () => {
    hub = await startHub({ env: { REDIS_URL: redisUrl as string } });
    targetId = (await hub.runtime.replication.targets.create(hub.tenants.emea.id, { name: 'mirror', kind: 'memory', config: {} }, system))
      .id;
  });
  afterAll(() => hub.close());

  const get = (url: string, authorization?: string) =>
    hub.app.inject({ method: 'GET', url, headers: authorization ? { authorization } : {} });
  const basic = (password: string) => `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`;

  it('asks a browser for the platform admin token, and refuses every other token', async () => {
    const none = await get('/admin/queues');
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Basic realm="Meridian queues/);
    expect((await get('/admin/queues/api/queues', basic('wrong-token'))).statusCode).toBe(401);
    expect((await get('/admin/queues/api/queues', `Bearer ${hub.tenants.emea.token}`)).statusCode).toBe(403);
    expect((await get('/admin/queues/api/queues', basic(hub.tenants.emea.token))).statusCode).toBe(403);
  });

  it('serves the page and lists each target queue, named by tenant and target, to the platform admin', async () => {
    const page = await get('/admin/queues', basic(hub.adminToken));
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<base href="/admin/queues/"');
    expect(page.headers['x-frame-options']).toBe('DENY');
    const listed = await get('/admin/queues/api/queues', `Bearer ${hub.adminToken}`);
    expect(listed.statusCode).toBe(200);
    const queues = listed.json<{ queues: { name: string; displayName?: string; readOnlyMode: boolean }[] }>().queues;
    const mine = queues.find((q) => q.name.endsWith(targetId));
    expect(mine).toMatchObject({ displayName: 'emea / mirror', readOnlyMode: true });
  });

  it('refuses a state-changing request sent from another site, and changes nothing through the read-only queues', async () => {
    const name = encodeURIComponent(hub.runtime.replication.ctx.queues.nameOf(targetId));
    const fromElsewhere = await hub.app.inject({
      method: 'PUT',
      url: `/admin/queues/api/queues/${name}/pause`,
      headers: { authorization: basic(hub.adminToken), origin: 'https://evil.example', host: 'hub.test' },
    });
    expect(fromElsewhere.statusCode).toBe(403);
    const sameSite = await hub.app.inject({
      method: 'PUT',
      url: `/admin/queues/api/queues/${name}/pause`,
      headers: { authorization: basic(hub.adminToken), 'sec-fetch-site': 'same-origin' },
    });
    expect(sameSite.statusCode).toBeGreaterThanOrEqual(400);
    expect(await hub.runtime.replication.ctx.queues.queue(targetId).isPaused()).toBe(false);
  });
});

describe('/admin/queues on PostgreSQL', () => {
  let hub: HubHarness;
  beforeAll(async () => {
    hub = await startHub();
  });
  afterAll(() => hub.close());

  it('is not mounted: bull-board reads Redis only', async () => {
    const response = await hub.app.inject({ method: 'GET', url: '/admin/queues', headers: { authorization: `Bearer ${hub.adminToken}` } });
    expect(response.statusCode).toBe(404);
  });
});
