import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { STREAM_EVENT } from '@meridian/core';
import { eventually } from '@meridian/test-utils';
import { type HubHarness, startHub } from './harness.js';
import { call, clientToken, poll, pushReceiver, settle, verifySet } from './ssf-harness.js';

// Issue 17: push delivery (RFC 8935) with retries, Retry-After and dead letters; relying parties' streams, which hear
// only of the people whose released attributes they still hold (the release ledger), in the subject they know.

const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
const ctx = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };

let hub: HubHarness;
let communityId: string;

async function scim(method: 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown): Promise<{ id: string }> {
  const res = await hub.app.inject({
    method,
    url: `/scim/v2${url}`,
    headers: { authorization: `Bearer ${hub.tenants.emea.token}`, 'content-type': 'application/scim+json' },
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  });
  expect(res.statusCode).toBeLessThan(300);
  return res.body === '' ? { id: '' } : (res.json() as { id: string });
}

/** Runs push steps until `done` holds (each step settles or reschedules what is due). */
async function pushUntil(done: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) await hub.runtime.streams.pushOnce();
  expect(done()).toBe(true);
}

beforeAll(async () => {
  hub = await startHub({ env: { MERIDIAN_OUTBOUND_ALLOW: '127.0.0.1' } });
  communityId = (await hub.runtime.adminStore.findCommunity('coi'))?.id as string;
}, 120_000);

afterAll(async () => {
  await hub?.close();
});

describe('push delivery (RFC 8935)', () => {
  it('posts each SET as application/secevent+jwt, in order, retrying after a 503 with Retry-After', async () => {
    const receiver = await pushReceiver((n) => (n === 0 ? { status: 503, headers: { 'retry-after': '0' } } : { status: 202 }));
    const token = (await hub.runtime.admin.issueToken(platform, { community: 'coi', role: 'hr_reader' }, ctx)).token;
    const created = await call(hub, 'POST', '/oidc/coi/ssf/stream', token, {
      delivery: { method: 'urn:ietf:rfc:8935', endpoint_url: receiver.url, authorization_header: 'Bearer receiver-secret' },
      events_requested: [STREAM_EVENT.createNotice, STREAM_EVENT.delete],
    });
    expect(created.status).toBe(201);
    const streamId = created.body.stream_id as string;
    const user = await scim('POST', '/Users', { userName: 'pushed@emea.example' });
    await scim('DELETE', `/Users/${user.id}`);
    await settle(hub);
    await pushUntil(() => receiver.received.length === 2);
    const sets = await Promise.all(receiver.received.map((r) => verifySet(hub, r.token, `urn:meridian:stream:${streamId}`)));
    expect(sets.map((s) => Object.keys(s.events))).toEqual([[STREAM_EVENT.createNotice], [STREAM_EVENT.delete]]);
    expect(
      receiver.received.every((r) => r.contentType === 'application/secevent+jwt' && r.authorization === 'Bearer receiver-secret'),
    ).toBe(true);
    // The sealed authorization header is never shown back.
    expect(JSON.stringify((await call(hub, 'GET', `/oidc/coi/ssf/stream?stream_id=${streamId}`, token)).body)).not.toContain(
      'receiver-secret',
    );
    expect((await hub.runtime.streams.service.adminGet(platform, 'coi', streamId)).counts).toEqual({
      pending: 0,
      delivered: 0,
      acknowledged: 2,
      failed: 0,
      dead: 0,
    });
    await receiver.close();
  });

  it('a SET the receiver refuses (400) is failed; one that never gets through is a dead letter, and the next follows', async () => {
    const refusing = await pushReceiver((n) =>
      n === 0 ? { status: 400, body: JSON.stringify({ err: 'invalid_request', description: 'no' }) } : { status: 500 },
    );
    const token = (await hub.runtime.admin.issueToken(platform, { community: 'coi', role: 'hr_reader' }, ctx)).token;
    const created = await call(hub, 'POST', '/oidc/coi/ssf/stream', token, {
      delivery: { method: 'urn:ietf:rfc:8935', endpoint_url: refusing.url },
      events_requested: [STREAM_EVENT.createNotice],
    });
    const streamId = created.body.stream_id as string;
    await scim('POST', '/Users', { userName: 'refused@emea.example' });
    await scim('POST', '/Users', { userName: 'dead@emea.example' });
    await settle(hub);
    // Backoff makes the second SET wait; make it due at once for the test, as time passing would, until nothing is
    // pending (a step may find the SET claimed by the hub's own pusher, so the number of steps is not fixed).
    const counts = await eventually(
      'every SET of the stream failed or dead',
      async () => {
        await hub.db.query(`update event_stream_set set next_attempt_at = now() where stream_id = $1 and state = 'pending'`, [streamId]);
        await hub.runtime.streams.pushOnce();
        const now = (await hub.runtime.streams.service.adminGet(platform, 'coi', streamId)).counts;
        return now.pending === 0 ? now : undefined;
      },
      { intervalMs: 0 },
    );
    expect(counts).toEqual({ pending: 0, delivered: 0, acknowledged: 0, failed: 1, dead: 1 });
    await refusing.close();
  });

  it('refuses a push endpoint the outbound policy does not allow', async () => {
    const token = (await hub.runtime.admin.issueToken(platform, { community: 'coi', role: 'hr_reader' }, ctx)).token;
    const res = await call(hub, 'POST', '/oidc/coi/ssf/stream', token, {
      delivery: { method: 'urn:ietf:rfc:8935', endpoint_url: 'http://10.1.2.3/events' },
      events_requested: [STREAM_EVENT.createNotice],
    });
    expect(res.status).toBe(400);
  });
});

describe('nothing lost', () => {
  it('a producer step that fails leaves its changes in the inbox, and the next step makes each SET once', async () => {
    const token = (await hub.runtime.admin.issueToken(platform, { community: 'coi', role: 'hr_reader' }, ctx)).token;
    const created = await call(hub, 'POST', '/oidc/coi/ssf/stream', token, {
      delivery: { method: 'urn:ietf:rfc:8936' },
      events_requested: [STREAM_EVENT.createNotice],
    });
    const streamId = created.body.stream_id as string;
    for (const n of [1, 2, 3]) await scim('POST', '/Users', { userName: `crash${n}@emea.example` });
    await hub.runtime.replication.relay.drain();
    const inbox = async () => Number((await hub.db.query<{ n: string }>('select count(*) as n from event_stream_inbox'))[0]?.n);
    expect(await inbox()).toBe(3);
    // The signer fails in the middle of the batch (the key store went away, the process was killed): the step's
    // transaction rolls back, SETs already signed included.
    const streams = hub.runtime.streams;
    const sign = streams.sign.bind(streams);
    let calls = 0;
    streams.sign = async (stream, claims) => {
      if (++calls === 2) throw new Error('signing failed');
      return sign(stream, claims);
    };
    await expect(streams.produceOnce()).rejects.toThrow('signing failed');
    streams.sign = sign;
    expect(await inbox()).toBe(3);
    expect((await streams.service.adminGet(platform, 'coi', streamId)).counts.pending).toBe(0);
    await streams.drain();
    expect(await inbox()).toBe(0);
    const { sets } = await poll(hub, streamId, token, `urn:meridian:stream:${streamId}`);
    expect(sets.map((s) => s.sub_id.uri)).toHaveLength(3);
    expect(new Set(sets.map((s) => s.txn)).size).toBe(3);
  });

  it('a push leased by a process that died is pushed by another once the lease ends', async () => {
    const receiver = await pushReceiver(() => ({ status: 202 }));
    const token = (await hub.runtime.admin.issueToken(platform, { community: 'coi', role: 'hr_reader' }, ctx)).token;
    const created = await call(hub, 'POST', '/oidc/coi/ssf/stream', token, {
      delivery: { method: 'urn:ietf:rfc:8935', endpoint_url: receiver.url },
      events_requested: [STREAM_EVENT.createNotice],
    });
    const streamId = created.body.stream_id as string;
    await scim('POST', '/Users', { userName: 'leased@emea.example' });
    await settle(hub);
    // A worker leases the SET and dies before it posts it.
    const leased = await hub.runtime.streams.store.claimPushes(10, 20);
    expect(leased.filter((l) => l.streamId === streamId)).toHaveLength(1);
    expect(await hub.runtime.streams.pushOnce()).toBe(0);
    expect(receiver.received).toHaveLength(0);
    // The lease runs out (a minute later).
    await hub.db.query(`update event_stream_set set next_attempt_at = now() where stream_id = $1 and state = 'pending'`, [streamId]);
    await pushUntil(() => receiver.received.length === 1);
    expect((await hub.runtime.streams.service.adminGet(platform, 'coi', streamId)).counts).toMatchObject({ pending: 0, acknowledged: 1 });
    await receiver.close();
  });
});

describe('relying parties (the release ledger)', () => {
  it('a deletion reaches exactly the relying parties that hold the person, by the subject they know', async () => {
    const register = async (name: string, subjectType: 'public' | 'pairwise') => {
      const made = await hub.runtime.relyingParties.create(
        platform,
        {
          community: 'coi',
          name,
          redirectUris: [`https://${name}.example/cb`],
          claims: 'email,title',
          consent: 'implicit',
          clientCredentials: true,
          subjectType,
        },
        ctx,
      );
      return { clientId: made.relyingParty.clientId, secret: made.clientSecret ?? '' };
    };
    const holder = await register('holder', 'pairwise');
    const stranger = await register('stranger', 'public');
    const carol = await scim('POST', '/Users', {
      userName: 'carol@emea.example',
      title: 'Clerk',
      emails: [{ value: 'carol@emea.example' }],
    });
    await settle(hub);
    const [account] = await hub.runtime.sso.accounts.loginAccounts(communityId, 'carol@emea.example');
    const personId = account?.personId as string;
    expect(personId).toEqual(expect.any(String));
    // Carol signed in at the holder: the ledger says it may keep her email for an hour.
    await hub.runtime.sso.accounts.recordRelease(
      communityId,
      { clientId: holder.clientId, personId, tenantId: hub.tenants.emea.id, claims: ['email'], maxCacheSeconds: 3600, use: 'id_token' },
      ctx,
    );
    const streams: Record<string, { id: string; token: string; clientId: string }> = {};
    for (const [name, rp] of Object.entries({ holder, stranger })) {
      const token = await clientToken(hub, rp.clientId, rp.secret);
      const created = await call(hub, 'POST', '/oidc/coi/ssf/stream', token, {
        delivery: { method: 'urn:ietf:rfc:8936' },
        events_requested: [STREAM_EVENT.patchFull, STREAM_EVENT.delete, STREAM_EVENT.accountPurged],
      });
      expect(created.status).toBe(201);
      expect(created.body.aud).toBe(rp.clientId);
      streams[name] = { id: created.body.stream_id as string, token, clientId: rp.clientId };
    }
    const holderStream = streams.holder as { id: string; token: string; clientId: string };
    const strangerStream = streams.stranger as { id: string; token: string; clientId: string };

    // A title change: not released to the holder, so nothing; an email change: the full form, with the email only.
    const op = (path: string, value: unknown) => ({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', path, value }],
    });
    await scim('PATCH', `/Users/${carol.id}`, op('title', 'Lead'));
    await scim('PATCH', `/Users/${carol.id}`, op('emails', [{ value: 'carol@new.example' }]));
    await scim('DELETE', `/Users/${carol.id}`);
    await settle(hub);

    const sub = (await hub.runtime.streams.providers.get('coi'))?.subjectFor(holder.clientId, personId);
    const got = await poll(hub, holderStream.id, holderStream.token, holder.clientId);
    expect(got.sets.map((s) => [s.sub_id, s.events])).toEqual([
      [
        { format: 'iss_sub', iss: 'https://hub.test/oidc/coi', sub: await sub },
        { [STREAM_EVENT.patchFull]: { version: expect.any(String), data: { id: carol.id, emails: [{ value: 'carol@new.example' }] } } },
      ],
      [
        { format: 'iss_sub', iss: 'https://hub.test/oidc/coi', sub: await sub },
        { [STREAM_EVENT.delete]: {}, [STREAM_EVENT.accountPurged]: { event_timestamp: expect.any(Number) } },
      ],
    ]);
    // Pairwise: the holder's sub is not the directory's id.
    expect(await sub).not.toBe(personId);
    expect((await poll(hub, strangerStream.id, strangerStream.token, stranger.clientId)).sets).toEqual([]);
    // A relying party's token is refused on another relying party's stream.
    expect((await call(hub, 'GET', `/oidc/coi/ssf/status?stream_id=${holderStream.id}`, strangerStream.token)).status).toBe(404);
  });
});
