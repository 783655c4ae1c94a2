import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { STREAM_EVENT } from '@meridian/core';
import { ConfigError, loadConfig } from '../src/config/config.js';
import { type HubHarness, startHub } from './harness.js';
import { call, settle } from './ssf-harness.js';

// Issue 17: "acknowledged events are kept for a configurable period for audit, then pruned": MERIDIAN_SSF_RETENTION_DAYS.
// Pruning removes acknowledged SETs settled longer ago than that, and nothing a receiver has not acknowledged.

const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
const ctx = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const DAY_MS = 86_400_000;

let hub: HubHarness;

beforeAll(async () => {
  hub = await startHub({ env: { MERIDIAN_SSF_RETENTION_DAYS: '3' } });
}, 120_000);

afterAll(async () => {
  await hub?.close();
});

describe('MERIDIAN_SSF_RETENTION_DAYS', () => {
  it('defaults to 7 days and refuses what is not a whole number of days from 1', () => {
    const base = { DATABASE_URL: 'postgres://x@127.0.0.1/x' };
    expect(loadConfig(base).ssfRetentionDays).toBe(7);
    expect(loadConfig({ ...base, MERIDIAN_SSF_RETENTION_DAYS: '30' }).ssfRetentionDays).toBe(30);
    for (const bad of ['0', '1.5', 'week']) {
      expect(() => loadConfig({ ...base, MERIDIAN_SSF_RETENTION_DAYS: bad })).toThrow(ConfigError);
    }
    expect(() => loadConfig({ ...base, MERIDIAN_SSF_RETENTION_DAYS: '0' })).toThrow(/MERIDIAN_SSF_RETENTION_DAYS must be at least 1/);
  });

  it('prunes acknowledged SETs older than the period and keeps the rest, whatever their age', async () => {
    const reader = await hub.runtime.admin.issueToken(platform, { community: 'coi', role: 'hr_reader' }, ctx);
    const created = await call(hub, 'POST', '/oidc/coi/ssf/stream', reader.token, {
      delivery: { method: 'urn:ietf:rfc:8936' },
      events_requested: [STREAM_EVENT.createNotice],
    });
    expect(created.status).toBe(201);
    const streamId = created.body.stream_id as string;
    for (const name of ['old-ack', 'new-ack', 'old-failed', 'old-delivered', 'old-pending']) {
      const res = await hub.app.inject({
        method: 'POST',
        url: '/scim/v2/Users',
        headers: { authorization: `Bearer ${hub.tenants.emea.token}`, 'content-type': 'application/scim+json' },
        payload: JSON.stringify({ userName: `${name}@emea.example` }),
      });
      expect(res.statusCode).toBe(201);
    }
    await settle(hub);
    const first = await call(hub, 'POST', `/oidc/coi/ssf/poll/${streamId}`, reader.token, { returnImmediately: true, maxEvents: 4 });
    const [oldAck, newAck, oldFailed, oldDelivered] = Object.keys(first.body.sets as Record<string, string>);
    const settled = await call(hub, 'POST', `/oidc/coi/ssf/poll/${streamId}`, reader.token, {
      returnImmediately: true,
      maxEvents: 0,
      ack: [oldAck, newAck],
      setErrs: { [oldFailed as string]: { err: 'invalid_request', description: 'test' } },
    });
    expect(settled.status).toBe(200);
    // Age them: settled (or made) ten days ago, except the acknowledged ones.
    const ago = (days: number) => new Date(Date.now() - days * DAY_MS);
    await hub.db.query(
      'update event_stream_set set created_at = $2::timestamptz, settled_at = case when settled_at is null then null else $2::timestamptz end, delivered_at = $2::timestamptz where stream_id = $1',
      [streamId, ago(10)],
    );
    await hub.db.query('update event_stream_set set settled_at = $3 where stream_id = $1 and jti = $2', [streamId, newAck, ago(1)]);
    // Five days: past the 3 days configured here, within the default 7: the configured period is the one applied.
    await hub.db.query('update event_stream_set set settled_at = $3 where stream_id = $1 and jti = $2', [streamId, oldAck, ago(5)]);

    expect(await hub.runtime.streams.pruneOnce()).toBe(1);
    const rows = await hub.db.query<{ jti: string; state: string }>(
      'select jti, state from event_stream_set where stream_id = $1 order by seq',
      [streamId],
    );
    expect(rows.map((r) => [r.jti, r.state])).toEqual([
      [newAck, 'acknowledged'],
      [oldFailed, 'failed'],
      [oldDelivered, 'delivered'],
      [expect.any(String), 'pending'],
    ]);
    expect(rows.map((r) => r.jti)).not.toContain(oldAck);
    expect((await hub.runtime.streams.service.adminGet(platform, 'coi', streamId)).counts).toEqual({
      pending: 1,
      delivered: 1,
      acknowledged: 1,
      failed: 1,
      dead: 0,
    });
  });
});
