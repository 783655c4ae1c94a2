import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { STREAM_EVENT } from '@meridian/core';
import { type HubHarness, startHub } from './harness.js';
import { call, poll, settle, verifySet } from './ssf-harness.js';

// Issue 17: a community's Shared Signals transmitter, streams over poll delivery (RFC 8936), and the subset rules of
// use case 3.6: a receiver subscribed to one department's email changes hears of exactly those.

const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
const ctx = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

let hub: HubHarness;
let receiver: string;
let receiverTokenId: string;
const ids: Record<string, string> = {};

async function scim(method: 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown) {
  const res = await hub.app.inject({
    method,
    url: `/scim/v2${url}`,
    headers: { authorization: `Bearer ${hub.tenants.emea.token}`, 'content-type': 'application/scim+json' },
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  });
  expect(res.statusCode).toBeLessThan(300);
  return (res.body === '' ? {} : res.json()) as { id: string };
}

const patch = (id: string, path: string, value: unknown) =>
  scim('PATCH', `/Users/${id}`, {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
    Operations: [{ op: 'replace', path, value }],
  });

function person(userName: string, department: string) {
  return { userName, title: 'Clerk', emails: [{ value: userName, type: 'work' }], [ENTERPRISE]: { department } };
}

beforeAll(async () => {
  hub = await startHub();
  const issued = await hub.runtime.admin.issueToken(platform, { community: 'coi', role: 'hr_reader' }, ctx);
  receiver = issued.token;
  receiverTokenId = issued.record.id;
  ids.ann = (await scim('POST', '/Users', person('ann@emea.example', 'Sales'))).id;
  ids.bob = (await scim('POST', '/Users', person('bob@emea.example', 'HR'))).id;
  await settle(hub);
}, 120_000);

afterAll(async () => {
  await hub?.close();
});

describe('the transmitter', () => {
  it('publishes its metadata where SSF 1.0 §7.2 puts it, and under the issuer', async () => {
    for (const url of ['/.well-known/ssf-configuration/oidc/coi', '/oidc/coi/.well-known/ssf-configuration']) {
      const res = await call(hub, 'GET', url, undefined);
      expect(res).toEqual({
        status: 200,
        body: expect.objectContaining({
          spec_version: '1_0',
          issuer: 'https://hub.test/oidc/coi',
          jwks_uri: 'https://hub.test/oidc/coi/jwks',
          delivery_methods_supported: ['urn:ietf:rfc:8935', 'urn:ietf:rfc:8936'],
          configuration_endpoint: 'https://hub.test/oidc/coi/ssf/stream',
          verification_endpoint: 'https://hub.test/oidc/coi/ssf/verify',
        }),
      });
    }
    expect((await call(hub, 'GET', '/.well-known/ssf-configuration/oidc/nowhere', undefined)).status).toBe(404);
  });

  it('refuses a caller without a receiver credential, and a tenant token that may not write SCIM', async () => {
    const none = await call(hub, 'POST', '/oidc/coi/ssf/stream', undefined, {});
    expect(none).toEqual({ status: 401, body: { error: 'invalid_token', description: expect.any(String) } });
    // A SCIM writer's stream carries the asynchronous responses to its writes only (scim-async-response.test.ts).
    const tenant = await call(hub, 'POST', '/oidc/coi/ssf/stream', hub.tenants.emea.readOnly, {});
    expect(tenant).toEqual({ status: 403, body: { error: 'access_denied', description: expect.any(String) } });
    const other = await call(hub, 'GET', '/oidc/other/ssf/stream', receiver);
    expect(other.status).toBe(404);
  });
});

describe('a stream of one department’s email changes (use case 3.6)', () => {
  let streamId: string;
  const audience = () => `urn:meridian:stream:${streamId}`;

  it('is created with its subset, verified, and delivers exactly the matching changes', async () => {
    const created = await call(hub, 'POST', '/oidc/coi/ssf/stream', receiver, {
      delivery: { method: 'urn:ietf:rfc:8936' },
      events_requested: [
        STREAM_EVENT.patchNotice,
        STREAM_EVENT.putNotice,
        STREAM_EVENT.feedAdd,
        STREAM_EVENT.feedRemove,
        STREAM_EVENT.delete,
        'urn:example:unknown',
      ],
      filter: `${ENTERPRISE}:department eq "Sales"`,
      attributes: ['emails'],
      description: 'Sales e-mail addresses',
    });
    expect(created.status).toBe(201);
    streamId = created.body.stream_id as string;
    expect(created.body).toEqual(
      expect.objectContaining({
        iss: 'https://hub.test/oidc/coi',
        aud: audience(),
        delivery: { method: 'urn:ietf:rfc:8936', endpoint_url: `https://hub.test/oidc/coi/ssf/poll/${streamId}` },
        events_delivered: [
          STREAM_EVENT.patchNotice,
          STREAM_EVENT.putNotice,
          STREAM_EVENT.feedAdd,
          STREAM_EVENT.feedRemove,
          STREAM_EVENT.delete,
        ],
        filter: `${ENTERPRISE}:department eq "Sales"`,
        attributes: ['emails'],
      }),
    );
    // The stream is the receiver's: another receiver does not find it.
    const stranger = (await hub.runtime.admin.issueToken(platform, { community: 'coi', role: 'hr_reader' }, ctx)).token;
    expect((await call(hub, 'GET', `/oidc/coi/ssf/stream?stream_id=${streamId}`, stranger)).status).toBe(404);

    expect((await call(hub, 'POST', '/oidc/coi/ssf/verify', receiver, { stream_id: streamId, state: 'hello' })).status).toBe(204);
    const verification = await poll(hub, streamId, receiver, audience());
    expect(verification.sets).toHaveLength(1);
    expect(verification.sets[0]?.events).toEqual({ [STREAM_EVENT.verification]: { state: 'hello' } });
    expect(verification.sets[0]?.sub_id).toEqual({ format: 'opaque', id: streamId });

    await patch(ids.ann as string, 'emails', [{ value: 'ann@sales.example', type: 'work' }]); // in: Sales, emails
    await patch(ids.ann as string, 'title', 'Lead'); // out: not an email change
    await patch(ids.bob as string, 'emails', [{ value: 'bob@hr.example', type: 'work' }]); // out: not Sales
    await patch(ids.bob as string, `${ENTERPRISE}:department`, 'Sales'); // bob joins the subset
    await patch(ids.ann as string, `${ENTERPRISE}:department`, 'HR'); // ann leaves it
    await scim('DELETE', `/Users/${ids.ann}`); // ann was no longer in it: nothing
    await settle(hub);

    const { sets, moreAvailable } = await poll(hub, streamId, receiver, audience(), [verification.sets[0]?.jti as string]);
    expect(moreAvailable).toBe(false);
    expect(sets.map((s) => [s.sub_id, s.events])).toEqual([
      [
        { format: 'scim', uri: `/Users/${ids.ann}`, id: ids.ann },
        { [STREAM_EVENT.patchNotice]: { attributes: ['emails'], version: expect.stringMatching(/^W\/"\d+"$/) } },
      ],
      [{ format: 'scim', uri: `/Users/${ids.bob}`, id: ids.bob }, { [STREAM_EVENT.feedAdd]: {} }],
      [{ format: 'scim', uri: `/Users/${ids.ann}`, id: ids.ann }, { [STREAM_EVENT.feedRemove]: {} }],
    ]);
    // txn ties each SET to the hub's change (the outbox event); every SET has its own jti.
    expect(new Set(sets.map((s) => s.jti)).size).toBe(3);
    expect(new Set(sets.map((s) => s.txn)).size).toBe(3);

    // Unacknowledged SETs are handed out again only after the redelivery delay; acknowledged ones never.
    await poll(
      hub,
      streamId,
      receiver,
      audience(),
      sets.map((s) => s.jti),
    );
    const summary = await hub.runtime.streams.service.adminGet(platform, 'coi', streamId);
    expect(summary.counts).toEqual({ pending: 0, delivered: 0, acknowledged: 4, failed: 0, dead: 0 });
  });

  it('a paused stream keeps its events and delivers them, in order, once resumed', async () => {
    const paused = await call(hub, 'POST', '/oidc/coi/ssf/status', receiver, {
      stream_id: streamId,
      status: 'paused',
      reason: 'maintenance',
    });
    expect(paused.body).toEqual({ stream_id: streamId, status: 'paused', reason: 'maintenance' });
    for (const n of [1, 2, 3]) await patch(ids.bob as string, 'emails', [{ value: `bob${n}@sales.example`, type: 'work' }]);
    await settle(hub);
    expect((await poll(hub, streamId, receiver, audience())).sets).toEqual([]);
    await call(hub, 'POST', '/oidc/coi/ssf/status', receiver, { stream_id: streamId, status: 'enabled' });
    const { sets } = await poll(hub, streamId, receiver, audience());
    expect(sets.map((s) => s.events[STREAM_EVENT.patchNotice]?.version)).toEqual(
      [...sets.map((s) => s.events[STREAM_EVENT.patchNotice]?.version)].sort(),
    );
    expect(sets).toHaveLength(3);
    await poll(
      hub,
      streamId,
      receiver,
      audience(),
      sets.map((s) => s.jti),
    );
  });

  it('a removed subject hears nothing more; setErrs and bad requests are answered as RFC 8936 says', async () => {
    expect(
      (
        await call(hub, 'POST', '/oidc/coi/ssf/subjects/remove', receiver, {
          stream_id: streamId,
          subject: { format: 'scim', uri: `/Users/${ids.bob}` },
        })
      ).status,
    ).toBe(204);
    await patch(ids.bob as string, 'emails', [{ value: 'bob9@sales.example', type: 'work' }]);
    await settle(hub);
    expect((await poll(hub, streamId, receiver, audience())).sets).toEqual([]);
    await call(hub, 'POST', '/oidc/coi/ssf/subjects/add', receiver, {
      stream_id: streamId,
      subject: { format: 'scim', uri: `/Users/${ids.bob}` },
    });
    await patch(ids.bob as string, 'emails', [{ value: 'bob10@sales.example', type: 'work' }]);
    await settle(hub);
    const { sets } = await poll(hub, streamId, receiver, audience());
    expect(sets).toHaveLength(1);
    const res = await call(hub, 'POST', `/oidc/coi/ssf/poll/${streamId}`, receiver, {
      returnImmediately: true,
      setErrs: { [sets[0]?.jti as string]: { err: 'invalid_request', description: 'cannot parse' } },
    });
    expect(res).toEqual({ status: 200, body: { sets: {}, moreAvailable: false } });
    expect((await hub.runtime.streams.service.adminGet(platform, 'coi', streamId)).counts.failed).toBe(1);
    const bad = await call(hub, 'POST', `/oidc/coi/ssf/poll/${streamId}`, receiver, { maxEvents: -1 });
    expect(bad).toEqual({ status: 400, body: { error: 'invalid_request', description: 'maxEvents must be a non-negative integer.' } });
  });

  it('a long poll waits for the next SET and returns it', async () => {
    const waiting = call(hub, 'POST', `/oidc/coi/ssf/poll/${streamId}`, receiver, { maxEvents: 10 });
    await patch(ids.bob as string, 'emails', [{ value: 'bob11@sales.example', type: 'work' }]);
    await settle(hub);
    const res = await waiting;
    expect(res.status).toBe(200);
    const tokens = Object.values(res.body.sets as Record<string, string>);
    expect(tokens).toHaveLength(1);
    const set = await verifySet(hub, tokens[0] as string, audience());
    expect(set.events[STREAM_EVENT.patchNotice]).toEqual({ attributes: ['emails'], version: expect.any(String) });
  });

  it('is read, changed and deleted by its receiver (SSF 1.0 §8.1.1)', async () => {
    const changed = await call(hub, 'PATCH', '/oidc/coi/ssf/stream', receiver, { stream_id: streamId, attributes: ['emails', 'title'] });
    expect(changed.body.attributes).toEqual(['emails', 'title']);
    expect(changed.body.filter).toBe(`${ENTERPRISE}:department eq "Sales"`);
    const invalid = await call(hub, 'PATCH', '/oidc/coi/ssf/stream', receiver, { stream_id: streamId, filter: 'department eq' });
    expect(invalid.status).toBe(400);
    const listed = await call(hub, 'GET', '/oidc/coi/ssf/stream', receiver);
    expect((listed.body as unknown as { stream_id: string }[]).map((s) => s.stream_id)).toEqual([streamId]);
    expect((await call(hub, 'DELETE', `/oidc/coi/ssf/stream?stream_id=${streamId}`, receiver)).status).toBe(204);
    expect((await call(hub, 'GET', `/oidc/coi/ssf/stream?stream_id=${streamId}`, receiver)).status).toBe(404);
    // Audited on the platform chain.
    const entries = await hub.db.query<{ action: string; actor_id: string }>(
      `select action, actor_id from audit_event where resource_type = 'EventStream' and resource_id = $1 order by seq`,
      [streamId],
    );
    expect(entries.map((e) => e.action)).toEqual(expect.arrayContaining(['stream.created', 'stream.updated', 'stream.deleted']));
    expect(entries.every((e) => e.actor_id === receiverTokenId)).toBe(true);
  });
});
