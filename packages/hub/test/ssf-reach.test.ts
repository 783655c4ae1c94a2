import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { STREAM_EVENT } from '@meridian/core';
import { type HubHarness, startHub } from './harness.js';
import { call, poll, settle } from './ssf-harness.js';

// Issue 17 with issue 15: a receiver only ever hears of people it may see. A community token's stream carries every
// User and Group of the community, so only a token that reads the directory gets one; a relying_party token reads no
// person and gets no stream (its relying party's client-credentials stream follows the release ledger).

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

beforeAll(async () => {
  hub = await startHub();
  communityId = (await hub.runtime.adminStore.findCommunity('coi'))?.id as string;
}, 120_000);

afterAll(async () => {
  await hub?.close();
});

describe('community tokens as receivers', () => {
  it('refuses a stream to a relying_party token, through the transmitter and through an admin, and says what to use', async () => {
    const rp = await hub.runtime.admin.issueToken(platform, { community: 'coi', role: 'relying_party' }, ctx);
    const refused = await call(hub, 'POST', '/oidc/coi/ssf/stream', rp.token, { delivery: { method: 'urn:ietf:rfc:8936' } });
    expect(refused).toEqual({ status: 403, body: { error: 'access_denied', description: expect.stringContaining('client-credentials') } });
    await expect(
      hub.runtime.streams.service.adminCreate(
        platform,
        'coi',
        { kind: 'token', tokenId: rp.record.id },
        { events_requested: [STREAM_EVENT.createNotice] },
        ctx,
      ),
    ).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(await hub.runtime.streams.store.list(communityId, { kind: 'token', tokenId: rp.record.id })).toEqual([]);
  });

  it('a person never reaches a token that may not see them; a directory reader hears of them', async () => {
    // A stream a relying_party token made before the rule (written as an older hub did, past the service's check).
    const rp = await hub.runtime.admin.issueToken(platform, { community: 'coi', role: 'relying_party' }, ctx);
    const events = [STREAM_EVENT.createNotice, STREAM_EVENT.patchNotice, STREAM_EVENT.delete, STREAM_EVENT.accountPurged];
    const legacy = await hub.runtime.streams.store.create(
      communityId,
      { kind: 'token', tokenId: rp.record.id },
      {
        description: null,
        delivery: { method: 'poll', endpointUrl: null, authorization: null },
        eventsRequested: events,
        filter: null,
        attributes: [],
      },
      ctx,
    );
    const reader = await hub.runtime.admin.issueToken(platform, { community: 'coi', role: 'hr_reader' }, ctx);
    const created = await call(hub, 'POST', '/oidc/coi/ssf/stream', reader.token, {
      delivery: { method: 'urn:ietf:rfc:8936' },
      events_requested: events,
    });
    expect(created.status).toBe(201);
    const readerStream = created.body.stream_id as string;

    const dora = await scim('POST', '/Users', { userName: 'dora@emea.example', emails: [{ value: 'dora@emea.example' }] });
    await scim('PATCH', `/Users/${dora.id}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', path: 'title', value: 'Clerk' }],
    });
    await scim('DELETE', `/Users/${dora.id}`);
    await settle(hub);

    const heard = await poll(hub, readerStream, reader.token, `urn:meridian:stream:${readerStream}`);
    expect(heard.sets.map((s) => Object.keys(s.events)[0])).toEqual([
      STREAM_EVENT.createNotice,
      STREAM_EVENT.patchNotice,
      STREAM_EVENT.delete,
    ]);
    expect(heard.sets.every((s) => s.sub_id.id === dora.id)).toBe(true);
    // Nothing about Dora, or anyone, was made for the relying_party token's stream.
    const [stored] = await hub.db.query<{ n: string }>('select count(*) as n from event_stream_set where stream_id = $1', [legacy.id]);
    expect(Number(stored?.n)).toBe(0);
    const answer = await call(hub, 'POST', `/oidc/coi/ssf/poll/${legacy.id}`, rp.token, { returnImmediately: true });
    expect(answer).toEqual({ status: 200, body: { sets: {}, moreAvailable: false } });
  });

  it('a revoked token stops hearing from the next change on', async () => {
    const reader = await hub.runtime.admin.issueToken(platform, { community: 'coi', role: 'hr_reader' }, ctx);
    const created = await call(hub, 'POST', '/oidc/coi/ssf/stream', reader.token, {
      delivery: { method: 'urn:ietf:rfc:8936' },
      events_requested: [STREAM_EVENT.createNotice],
    });
    expect(created.status).toBe(201);
    const streamId = created.body.stream_id as string;
    await scim('POST', '/Users', { userName: 'before-revocation@emea.example' });
    await settle(hub);
    await hub.runtime.admin.revokeToken(platform, reader.record.id, ctx);
    await scim('POST', '/Users', { userName: 'after-revocation@emea.example' });
    await settle(hub);
    const rows = await hub.db.query<{ n: string }>('select count(*) as n from event_stream_set where stream_id = $1', [streamId]);
    expect(Number(rows[0]?.n)).toBe(1);
  });
});
