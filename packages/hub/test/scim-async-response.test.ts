import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AsyncResponder, SCHEMA, STREAM_EVENT } from '@meridian/core';
import { PostgresAsyncRequestStore } from '@meridian/store';
import { eventually, FakeScimTarget } from '@meridian/test-utils';
import { type HubHarness, startHub } from './harness.js';
import { call, poll, type ReceivedSet } from './ssf-harness.js';

// Issue 17, use case 2.3.1 (RFC 9967 §2.5.1, §3): a SCIM write with `Prefer: respond-async` answers 202 at once,
// and the writing token's poll stream receives one misc:asyncresp SET, verified with jose against the JWKS,
// once every target reached a final outcome at a real SCIM server (FakeScimTarget).

let hub: HubHarness;
let csp: FakeScimTarget;
let streamId: string;
const audience = () => `urn:meridian:stream:${streamId}`;
const received: ReceivedSet[] = [];

async function scim(token: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await hub.app.inject({
    method: method as 'POST',
    url: `/scim/v2${path}`,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json', ...headers },
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  });
  return { status: res.statusCode, headers: res.headers, body: res.body === '' ? undefined : (res.json() as Record<string, unknown>) };
}

/** Lets the relay, the workers and the transmitter run until the stream has the SET of `txn` (no fixed sleep: a condition). */
async function responseOf(txn: string): Promise<ReceivedSet> {
  // Each try drives one round and paces itself (waitForSets): no pause between tries.
  return eventually(
    `the asynchronous response for ${txn}`,
    async () => {
      const found = received.find((s) => s.txn === txn);
      if (found) return found;
      await hub.runtime.replication.relay.drain();
      await hub.runtime.streams.asyncOnce();
      const { sets } = await poll(
        hub,
        streamId,
        hub.tenants.emea.token,
        audience(),
        received.map((s) => s.jti),
      );
      received.push(...sets);
      if (sets.length === 0) await hub.runtime.streams.waitForSets(100);
      return received.find((s) => s.txn === txn);
    },
    { intervalMs: 0 },
  );
}

beforeAll(async () => {
  hub = await startHub({ env: { MERIDIAN_OUTBOUND_ALLOW: '127.0.0.1' } });
  csp = await FakeScimTarget.start({ token: 'csp-secret' });
  const system = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
  await hub.runtime.replication.targets.create(
    hub.tenants.emea.id,
    { name: 'csp', kind: 'scim', config: { baseUrl: csp.url }, secrets: { token: 'csp-secret' }, deleteMode: 'delete' },
    system,
  );
  await hub.runtime.replication.start();
});

afterAll(async () => {
  await hub.close();
  await csp.close();
});

describe('Prefer: respond-async (RFC 9967 asynchronous responses)', () => {
  it("a tenant token's stream carries asynchronous responses only", async () => {
    const refused = await call(hub, 'POST', '/oidc/coi/ssf/stream', hub.tenants.emea.token, {
      delivery: { method: 'urn:ietf:rfc:8936' },
      events_requested: [STREAM_EVENT.createNotice],
    });
    expect(refused).toEqual({ status: 400, body: { error: 'invalid_request', description: expect.stringContaining('asyncresp') } });
    const readOnly = await call(hub, 'POST', '/oidc/coi/ssf/stream', hub.tenants.emea.readOnly, {
      events_requested: [STREAM_EVENT.asyncResponse],
    });
    expect(readOnly.status).toBe(403);
    const elsewhere = await call(hub, 'POST', '/oidc/other/ssf/stream', hub.tenants.emea.token, {
      events_requested: [STREAM_EVENT.asyncResponse],
    });
    expect(elsewhere.status).toBe(404);
    const created = await call(hub, 'POST', '/oidc/coi/ssf/stream', hub.tenants.emea.token, {
      delivery: { method: 'urn:ietf:rfc:8936' },
      events_requested: [STREAM_EVENT.asyncResponse],
    });
    expect(created.status).toBe(201);
    expect(created.body.events_delivered).toEqual([STREAM_EVENT.asyncResponse]);
    streamId = created.body.stream_id as string;
  });

  it('answers 202 at once, and the stream receives the outcome per target after the target has the user', async () => {
    const res = await scim(
      hub.tenants.emea.token,
      'POST',
      '/Users',
      { schemas: [SCHEMA.user], userName: 'ann@emea.example', title: 'Clerk' },
      { prefer: 'respond-async' },
    );
    expect(res.status).toBe(202);
    expect(res.body).toBeUndefined();
    expect(res.headers['preference-applied']).toBe('respond-async');
    const txn = res.headers['set-txn'] as string;
    expect(txn).toBe(res.headers['x-request-id']);
    const location = res.headers.location as string;
    expect(location).toMatch(/^https:\/\/hub\.test\/scim\/v2\/Users\/[0-9a-f-]{36}$/);
    const id = location.slice(location.lastIndexOf('/') + 1);

    const set = await responseOf(txn);
    expect(csp.users).toEqual([expect.objectContaining({ userName: 'ann@emea.example', title: 'Clerk' })]);
    expect(set.sub_id).toEqual({ format: 'scim', uri: `/Users/${id}`, id });
    expect(Object.keys(set.events)).toEqual([STREAM_EVENT.asyncResponse]);
    expect(set.events[STREAM_EVENT.asyncResponse]).toEqual({
      method: 'POST',
      location,
      version: expect.stringMatching(/^W\/"\d+"$/),
      status: '201',
      complete: true,
      targets: [{ target: 'csp', targetId: expect.any(String), status: 'synced', remoteId: csp.users[0]?.id }],
    });

    // A deletion answers 202 too, and its response names the deletion at the target.
    const deleted = await scim(hub.tenants.emea.token, 'DELETE', `/Users/${id}`, undefined, { prefer: 'respond-async' });
    expect(deleted.status).toBe(202);
    const gone = await responseOf(deleted.headers['set-txn'] as string);
    expect(gone.events[STREAM_EVENT.asyncResponse]).toMatchObject({ method: 'DELETE', status: '204', targets: [{ status: 'deleted' }] });
    expect(csp.users).toEqual([]);
  });

  it('reports a dead-lettered delivery', async () => {
    csp.rejectUserName('bad@emea.example');
    const res = await scim(
      hub.tenants.emea.token,
      'POST',
      '/Users',
      { schemas: [SCHEMA.user], userName: 'bad@emea.example' },
      {
        prefer: 'respond-async',
      },
    );
    expect(res.status).toBe(202);
    const set = await responseOf(res.headers['set-txn'] as string);
    expect(set.events[STREAM_EVENT.asyncResponse]).toMatchObject({
      status: '201',
      complete: true,
      targets: [{ target: 'csp', status: 'dead_lettered', error: expect.any(String) }],
    });
  });

  it('answers an invalid write synchronously, and sends nothing for it', async () => {
    const res = await scim(hub.tenants.emea.token, 'POST', '/Users', { schemas: [SCHEMA.user] }, { prefer: 'respond-async' });
    expect(res.status).toBe(400);
    expect(res.headers['preference-applied']).toBeUndefined();
    expect(await hub.runtime.streams.asyncOnce()).toBe(0);
    const rows = await hub.db.query<{ n: string }>('select count(*) as n from scim_async_request');
    expect(rows[0]?.n).toBe('0');
  });

  it('ignores the preference for a token without such a stream (another office)', async () => {
    const res = await scim(
      hub.tenants.apac.token,
      'POST',
      '/Users',
      { schemas: [SCHEMA.user], userName: 'bo@apac.example' },
      {
        prefer: 'respond-async',
      },
    );
    expect(res.status).toBe(201);
    expect(res.headers['preference-applied']).toBeUndefined();
    expect(res.body).toMatchObject({ userName: 'bo@apac.example' });
  });

  it('recovers a request whose write committed but was never marked accepted (a crash), from the outbox', async () => {
    const streams = hub.runtime.streams;
    const requestId = randomUUID();
    const store = new PostgresAsyncRequestStore(hub.runtime.orm, 'https://hub.test/scim/v2');
    expect(await store.begin(hub.tenants.emea.id, (await tokenIdOf()) as string, requestId, 'POST')).toEqual(expect.any(String));
    // The write commits under that request id; the process "dies" before recording it as accepted.
    const res = await scim(
      hub.tenants.emea.token,
      'POST',
      '/Users',
      { schemas: [SCHEMA.user], userName: 'cy@emea.example' },
      {
        'x-request-id': requestId,
      },
    );
    expect(res.status).toBe(201);
    // Two minutes later, a transmitter finds it and answers from the outbox.
    const later = new AsyncResponder(
      store,
      streams.store,
      hub.runtime.replication,
      streams,
      randomUUID,
      () => new Date(Date.now() + 180_000),
    );
    await eventually(
      'the later transmitter to answer',
      async () => {
        if ((await later.runOnce()) > 0) return true;
        await hub.runtime.replication.relay.drain();
        return false;
      },
      { intervalMs: 0 },
    );
    const set = await responseOf(requestId);
    expect(set.events[STREAM_EVENT.asyncResponse]).toMatchObject({
      method: 'POST',
      status: '201',
      location: `https://hub.test/scim/v2/Users/${res.body?.id}`,
      targets: [{ target: 'csp', status: 'synced' }],
    });
  });
});

/** The writing token's id: the receiver of its stream (the harness keeps only the secrets). */
async function tokenIdOf(): Promise<string | undefined> {
  const rows = await hub.db.query<{ receiver_id: string }>('select receiver_id from event_stream where id = $1', [streamId]);
  return rows[0]?.receiver_id;
}
