import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { STREAM_EVENT } from '@meridian/core';
import { type HubHarness, startHub } from './harness.js';
import { call, clientToken, poll, type ReceivedSet, settle } from './ssf-harness.js';

// Issue 17: CAEP session-revoked and credential-change, RISC account-disabled and account-purged, as SETs verified with
// jose against the community's JWKS: from the same inbox as the SCIM events (the change's transaction), with the
// change's txn and event_timestamp, only to streams that asked for them, and only about people the receiver may see.

const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
const ctx = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const SECRET = 'Correct-Horse-Battery-9';
const CAEP_RISC = [STREAM_EVENT.credentialChange, STREAM_EVENT.sessionRevoked, STREAM_EVENT.accountDisabled, STREAM_EVENT.accountPurged];

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

const replace = (path: string, value: unknown) => ({
  schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
  Operations: [{ op: 'replace', path, value }],
});

/** The outbox event ids of a resource's changes, oldest first: the SETs' txn. */
async function outboxIds(resourceId: string): Promise<string[]> {
  const rows = await hub.db.query<{ id: string }>('select id from outbox_event where resource_id = $1 order by id', [resourceId]);
  return rows.map((r) => String(r.id));
}

beforeAll(async () => {
  hub = await startHub();
  communityId = (await hub.runtime.adminStore.findCommunity('coi'))?.id as string;
}, 120_000);

afterAll(async () => {
  await hub?.close();
});

describe('CAEP and RISC events', () => {
  it('a password set, a suspension and a deletion reach a directory reader that asked for them, never the password', async () => {
    const reader = await hub.runtime.admin.issueToken(platform, { community: 'coi', role: 'hr_reader' }, ctx);
    const open = async (events: string[]) => {
      const created = await call(hub, 'POST', '/oidc/coi/ssf/stream', reader.token, {
        delivery: { method: 'urn:ietf:rfc:8936' },
        events_requested: events,
      });
      expect(created.status).toBe(201);
      return created.body.stream_id as string;
    };
    const caep = await open(CAEP_RISC);
    const scimOnly = await open([STREAM_EVENT.patchNotice]);
    const config = await call(hub, 'GET', `/oidc/coi/ssf/stream?stream_id=${caep}`, reader.token);
    expect(config.body.events_delivered).toEqual(CAEP_RISC);
    expect(config.body.events_supported).toEqual(expect.arrayContaining(CAEP_RISC));

    const erin = await scim('POST', '/Users', { userName: 'erin@emea.example', password: SECRET });
    await scim('PATCH', `/Users/${erin.id}`, replace('password', `${SECRET}-2`));
    await scim('PATCH', `/Users/${erin.id}`, replace('title', 'Clerk')); // no CAEP or RISC event
    await scim('PATCH', `/Users/${erin.id}`, replace('active', false));
    await scim('DELETE', `/Users/${erin.id}`);
    await settle(hub);

    const got = await poll(hub, caep, reader.token, `urn:meridian:stream:${caep}`);
    const [created, changed, , suspended, deleted] = await outboxIds(erin.id);
    const subject = { format: 'scim', uri: `/Users/${erin.id}`, id: erin.id };
    const stamp = { event_timestamp: expect.any(Number) };
    expect(got.sets.map((s: ReceivedSet) => [s.txn, s.sub_id, s.events])).toEqual([
      [created, subject, { [STREAM_EVENT.credentialChange]: { credential_type: 'password', change_type: 'create', ...stamp } }],
      [changed, subject, { [STREAM_EVENT.credentialChange]: { credential_type: 'password', change_type: 'update', ...stamp } }],
      [suspended, subject, { [STREAM_EVENT.accountDisabled]: stamp, [STREAM_EVENT.sessionRevoked]: stamp }],
      [deleted, subject, { [STREAM_EVENT.accountPurged]: stamp, [STREAM_EVENT.sessionRevoked]: stamp }],
    ]);
    const iat = got.sets[0]?.iat as number;
    const timestamp = got.sets[0]?.events[STREAM_EVENT.credentialChange]?.event_timestamp as number;
    expect(timestamp).toBeLessThanOrEqual(iat);
    const stored = await hub.db.query<{ token: string }>('select token from event_stream_set where stream_id = $1', [caep]);
    for (const row of stored) expect(Buffer.from(row.token.split('.')[1] as string, 'base64url').toString()).not.toContain(SECRET);

    // A stream that asked for SCIM patches only hears of the title and active changes, not of the passwords.
    const scimSets = await poll(hub, scimOnly, reader.token, `urn:meridian:stream:${scimOnly}`);
    expect(scimSets.sets.map((s) => s.events[STREAM_EVENT.patchNotice]?.attributes)).toEqual([['title'], ['active']]);
  });

  it("a relying party hears of the people it holds only, by the sub it knows; another person's suspension never reaches it", async () => {
    const made = await hub.runtime.relyingParties.create(
      platform,
      {
        community: 'coi',
        name: 'caep',
        redirectUris: ['https://caep.example/cb'],
        claims: 'email',
        consent: 'implicit',
        clientCredentials: true,
      },
      ctx,
    );
    const clientId = made.relyingParty.clientId;
    const held = await scim('POST', '/Users', { userName: 'held@emea.example', emails: [{ value: 'held@emea.example' }] });
    const other = await scim('POST', '/Users', { userName: 'other@emea.example', emails: [{ value: 'other@emea.example' }] });
    await settle(hub);
    const [account] = await hub.runtime.sso.accounts.loginAccounts(communityId, 'held@emea.example');
    const personId = account?.personId as string;
    await hub.runtime.sso.accounts.recordRelease(
      communityId,
      { clientId, personId, tenantId: hub.tenants.emea.id, claims: ['email'], maxCacheSeconds: 3600, use: 'id_token' },
      ctx,
    );
    const token = await clientToken(hub, clientId, made.clientSecret ?? '');
    const created = await call(hub, 'POST', '/oidc/coi/ssf/stream', token, {
      delivery: { method: 'urn:ietf:rfc:8936' },
      events_requested: CAEP_RISC,
    });
    expect(created.status).toBe(201);
    const streamId = created.body.stream_id as string;

    for (const user of [held, other]) {
      await scim('PATCH', `/Users/${user.id}`, replace('password', SECRET));
      await scim('PATCH', `/Users/${user.id}`, replace('active', false));
    }
    await settle(hub);

    const sub = await (await hub.runtime.streams.providers.get('coi'))?.subjectFor(clientId, personId);
    const got = await poll(hub, streamId, token, clientId);
    expect(got.sets.map((s) => [s.sub_id, Object.keys(s.events)])).toEqual([
      [{ format: 'iss_sub', iss: 'https://hub.test/oidc/coi', sub }, [STREAM_EVENT.credentialChange]],
      [{ format: 'iss_sub', iss: 'https://hub.test/oidc/coi', sub }, [STREAM_EVENT.accountDisabled, STREAM_EVENT.sessionRevoked]],
    ]);
    expect(JSON.stringify(got.sets)).not.toContain(other.id);
  });
});
