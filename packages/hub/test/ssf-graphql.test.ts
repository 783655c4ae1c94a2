import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { STREAM_EVENT } from '@meridian/core';
import { gql as post } from '@meridian/test-utils/apps';
import { type HubHarness, startHub } from './harness.js';

// Issue 17: a community's event streams through GraphQL (sso.read / sso.manage), with their delivery counts.

const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
const ctx = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };

let hub: HubHarness;
let admin: string;
let receiverId: string;

async function gql(token: string, query: string, variables: Record<string, unknown> = {}) {
  return (await post(hub.app, token, query, variables)).body;
}

beforeAll(async () => {
  hub = await startHub();
  admin = (await hub.runtime.admin.issueToken(platform, { community: 'coi', role: 'community_admin' }, ctx)).token;
  receiverId = (await hub.runtime.admin.issueToken(platform, { community: 'coi', role: 'hr_reader' }, ctx)).record.id;
}, 120_000);

afterAll(async () => {
  await hub?.close();
});

describe('GraphQL event streams', () => {
  it('a community admin creates, lists, pauses and deletes a stream', async () => {
    const created = await gql(
      admin,
      `mutation($input: CreateEventStreamInput!) { createEventStream(input: $input) { id receiverKind receiverId deliveryMethod status } }`,
      { input: { community: 'coi', tokenId: receiverId, events: [STREAM_EVENT.patchNotice], attributes: ['emails'] } },
    );
    const stream = created.data?.createEventStream as { id: string };
    expect(stream).toEqual({
      id: expect.any(String),
      receiverKind: 'token',
      receiverId,
      deliveryMethod: 'urn:ietf:rfc:8936',
      status: 'enabled',
    });
    const listed = await gql(admin, `{ eventStreams(community: "coi") { id attributes counts { pending acknowledged dead } } }`);
    expect(listed.data?.eventStreams).toEqual([
      { id: stream.id, attributes: ['emails'], counts: { pending: 0, acknowledged: 0, dead: 0 } },
    ]);
    const paused = await gql(admin, `mutation($id: ID!) { setEventStreamStatus(community: "coi", id: $id, status: "paused") { status } }`, {
      id: stream.id,
    });
    expect(paused.data?.setEventStreamStatus).toEqual({ status: 'paused' });
    const deleted = await gql(admin, `mutation($id: ID!) { deleteEventStream(community: "coi", id: $id) { id } }`, { id: stream.id });
    expect(deleted.data?.deleteEventStream).toEqual({ id: stream.id });
  });

  it('an office token sees no streams, and a bad status is invalid input', async () => {
    const denied = await gql(hub.tenants.emea.token, `{ eventStreams(community: "coi") { id } }`);
    expect(denied.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
    const bad = await gql(
      admin,
      `mutation { setEventStreamStatus(community: "coi", id: "00000000-0000-0000-0000-000000000000", status: "asleep") { id } }`,
    );
    expect(bad.errors?.[0]?.extensions.code).toBe('INVALID_INPUT');
  });
});
