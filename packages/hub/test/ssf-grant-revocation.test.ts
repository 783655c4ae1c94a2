import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { STREAM_EVENT } from '@meridian/core';
import { type HubHarness, startHub } from './harness.js';
import { call, clientToken, poll, settle } from './ssf-harness.js';

// Issue 17: a grant revoked on its own (an admin's revokeGrant), while the account stays active, is CAEP
// session-revoked at the stream of the relying party the grant was given to, verified with jose against the
// community's JWKS: by the sub that relying party knows (pairwise here), with the revocation's outbox event as txn.
// Another relying party's stream, and a directory reader's, hear nothing of it; revoking it again sends nothing more,
// nor does a revocation about a subject the relying party removed from its stream.

const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
const ctx = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const ISSUER = 'https://hub.test/oidc/coi';

let hub: HubHarness;
let communityId: string;

beforeAll(async () => {
  hub = await startHub();
  communityId = (await hub.runtime.adminStore.findCommunity('coi'))?.id as string;
}, 120_000);

afterAll(async () => {
  await hub?.close();
});

/** A relying party that may use client credentials, with a poll stream asking for session-revoked. */
async function relyingParty(name: string, subjectType: 'public' | 'pairwise') {
  const made = await hub.runtime.relyingParties.create(
    platform,
    {
      community: 'coi',
      name,
      redirectUris: [`https://${name}.example/cb`],
      claims: 'email',
      consent: 'implicit',
      clientCredentials: true,
      subjectType,
    },
    ctx,
  );
  const clientId = made.relyingParty.clientId;
  const token = await clientToken(hub, clientId, made.clientSecret ?? '');
  const created = await call(hub, 'POST', '/oidc/coi/ssf/stream', token, {
    delivery: { method: 'urn:ietf:rfc:8936' },
    events_requested: [STREAM_EVENT.sessionRevoked, STREAM_EVENT.accountDisabled],
  });
  expect(created.status).toBe(201);
  return { clientId, token, streamId: created.body.stream_id as string };
}

/** A grant as the OpenID Provider stores it after the person's consent (oidc-provider's Grant model). */
async function grant(clientId: string, personId: string): Promise<string> {
  const id = randomUUID();
  const iat = Math.floor(Date.now() / 1000);
  await hub.runtime.sso.payloads.upsert(
    communityId,
    'Grant',
    id,
    { jti: id, kind: 'Grant', iat, exp: iat + 3600, accountId: personId, clientId, openid: { scope: 'openid email', claims: ['email'] } },
    3600,
  );
  return id;
}

describe('CAEP session-revoked for a grant revoked on its own', () => {
  it("reaches the relying party's own stream once, by its pairwise sub; no other stream hears of it", async () => {
    const holder = await relyingParty('revoked', 'pairwise');
    const bystander = await relyingParty('bystander', 'public');
    const reader = await hub.runtime.admin.issueToken(platform, { community: 'coi', role: 'hr_reader' }, ctx);
    const readerStream = await call(hub, 'POST', '/oidc/coi/ssf/stream', reader.token, {
      delivery: { method: 'urn:ietf:rfc:8936' },
      events_requested: [STREAM_EVENT.sessionRevoked],
    });
    expect(readerStream.status).toBe(201);
    const readerId = readerStream.body.stream_id as string;

    const created = await hub.app.inject({
      method: 'POST',
      url: '/scim/v2/Users',
      headers: { authorization: `Bearer ${hub.tenants.emea.token}`, 'content-type': 'application/scim+json' },
      payload: JSON.stringify({ userName: 'consent@emea.example', emails: [{ value: 'consent@emea.example' }] }),
    });
    expect(created.statusCode).toBe(201);
    await settle(hub);
    const [account] = await hub.runtime.sso.accounts.loginAccounts(communityId, 'consent@emea.example');
    const personId = account?.personId as string;
    expect(personId).toEqual(expect.any(String));
    const revoked = await grant(holder.clientId, personId);
    const kept = await grant(bystander.clientId, personId);
    // The User's creation reached the reader's stream (it did not ask for creations: nothing to poll yet).
    expect((await poll(hub, readerId, reader.token, `urn:meridian:stream:${readerId}`)).sets).toEqual([]);

    await hub.runtime.relyingParties.revokeGrant(platform, 'coi', revoked, { ...ctx, requestId: 'revoke-1' });
    await settle(hub);

    const [outbox] = await hub.db.query<{ id: string }>("select id from outbox_event where resource_type = 'Grant' and resource_id = $1", [
      revoked,
    ]);
    const sub = await (await hub.runtime.streams.providers.get('coi'))?.subjectFor(holder.clientId, personId);
    const publicSub = await (await hub.runtime.streams.providers.get('coi'))?.subjectFor(bystander.clientId, personId);
    expect(sub).not.toEqual(publicSub);
    const got = await poll(hub, holder.streamId, holder.token, holder.clientId);
    expect(got.sets.map((s) => [s.txn, s.sub_id, s.events])).toEqual([
      [
        String(outbox?.id),
        { format: 'iss_sub', iss: ISSUER, sub },
        { [STREAM_EVENT.sessionRevoked]: { event_timestamp: expect.any(Number) } },
      ],
    ]);
    const set = got.sets[0];
    expect(set?.events[STREAM_EVENT.sessionRevoked]?.event_timestamp as number).toBeLessThanOrEqual(set?.iat as number);

    // The other relying party keeps its grant and its sessions; the directory reader sees no grant.
    expect((await poll(hub, bystander.streamId, bystander.token, bystander.clientId)).sets).toEqual([]);
    expect((await poll(hub, readerId, reader.token, `urn:meridian:stream:${readerId}`)).sets).toEqual([]);
    expect((await hub.runtime.sso.accounts.grantsOfPerson(communityId, personId)).map((g) => g.id)).toEqual([kept]);

    // Revoking it again: not found, nothing more for anyone.
    await expect(hub.runtime.relyingParties.revokeGrant(platform, 'coi', revoked, { ...ctx, requestId: 'revoke-2' })).rejects.toMatchObject(
      {
        code: 'NOT_FOUND',
      },
    );
    await settle(hub);
    expect((await poll(hub, holder.streamId, holder.token, holder.clientId, [set?.jti as string])).sets).toEqual([]);
    expect((await poll(hub, bystander.streamId, bystander.token, bystander.clientId)).sets).toEqual([]);
    const [sets] = await hub.db.query<{ n: number }>('select count(*)::int as n from event_stream_set where txn = $1', [
      String(outbox?.id),
    ]);
    expect(sets?.n).toBe(1);
    const [inbox] = await hub.db.query<{ n: number }>('select count(*)::int as n from event_stream_inbox');
    expect(inbox?.n).toBe(0);

    // SSF 1.0 §8.1.3: once the relying party removed the person (by the sub it knows), a later revocation is not told.
    const removed = await call(hub, 'POST', '/oidc/coi/ssf/subjects/remove', holder.token, {
      stream_id: holder.streamId,
      subject: { format: 'iss_sub', iss: ISSUER, sub },
    });
    expect(removed.status).toBeLessThan(300);
    await hub.runtime.relyingParties.revokeGrant(platform, 'coi', await grant(holder.clientId, personId), {
      ...ctx,
      requestId: 'revoke-3',
    });
    await settle(hub);
    expect((await poll(hub, holder.streamId, holder.token, holder.clientId)).sets).toEqual([]);
  });
});
