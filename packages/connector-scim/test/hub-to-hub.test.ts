import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type ScimConnectorConfig, ScimPushConnector, scimConnectorFactory } from '@meridian/connector-scim';
import type { ConnectorContext, OutboundMember } from '@meridian/connector-sdk';
import { outboundGroup, outboundUser, runConnectorConformance } from '@meridian/connector-sdk/testing';
import { SCHEMA, systemClock } from '@meridian/core';
import { type HubHarness, startHub } from '../../hub/test/harness.js';

// Hub-to-hub federation: a second Meridian hub, listening on a real port, is the downstream.
let hub: HubHarness;
let baseUrl: string;
let token: string;
/** Requests the connector sent, as `METHOD /path` below the base URL. */
const sent: string[] = [];

const recordingFetch: typeof fetch = (input, init) => {
  sent.push(`${init?.method ?? 'GET'} ${new URL(String(input)).pathname.replace(/^\/scim\/v2/, '').replace(/[0-9a-f-]{36}/, ':id')}`);
  return fetch(input, init);
};
const silent = { debug() {}, info() {}, warn() {}, error() {} };
const context: ConnectorContext = { logger: silent, clock: systemClock, fetch: recordingFetch };

function connect(config: Partial<ScimConnectorConfig> = {}): ScimPushConnector {
  const validated = scimConnectorFactory.validateConfig({ baseUrl, ...config }, { token });
  return scimConnectorFactory.create(validated, { token }, context) as ScimPushConnector;
}

/** Reads a resource back through the target hub's own SCIM API. */
async function readBack(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await hub.app.inject({ method: 'GET', url: `/scim/v2${path}`, headers: { authorization: `Bearer ${token}` } });
  return { status: response.statusCode, body: response.body ? (JSON.parse(response.body) as Record<string, unknown>) : {} };
}

function memberIds(group: Record<string, unknown>): string[] {
  return ((group.members as { value: string }[] | undefined) ?? []).map((m) => m.value).sort();
}

beforeAll(async () => {
  hub = await startHub();
  await hub.app.listen({ port: 0, host: '127.0.0.1' });
  baseUrl = `http://127.0.0.1:${(hub.app.server.address() as AddressInfo).port}/scim/v2`;
  token = hub.tenants.emea.token;
});

afterAll(async () => {
  await hub?.close();
});

describe('ScimPushConnector against a second Meridian hub', () => {
  it('tests the connection and learns that the hub supports PATCH', async () => {
    expect(await connect().testConnection()).toMatchObject({ ok: true, message: expect.stringContaining('updates use PATCH') });
  });

  it('creates, updates, deactivates and deletes a user; each state is what the target hub serves', async () => {
    const connector = connect({ supportsPassword: true });
    const pushed = outboundUser('local-ada', 'ada@emea', { [SCHEMA.enterpriseUser]: { employeeNumber: '7' } });
    const ref = await connector.create(pushed);
    expect((await readBack(`/Users/${ref.remoteId}`)).body).toMatchObject({
      userName: 'ada@emea',
      externalId: 'local-ada',
      name: { givenName: 'Conformance', familyName: 'ada@emea' },
      emails: [{ value: 'ada@emea@example.test', type: 'work', primary: true }],
      [SCHEMA.enterpriseUser]: { employeeNumber: '7' },
      meta: { version: ref.version },
    });

    const changed = outboundUser('local-ada', 'ada@emea', { title: 'Engineer', name: { givenName: 'Ada' } });
    sent.length = 0;
    const updated = await connector.update(ref, changed, pushed);
    // The first update of this connector learns from /ServiceProviderConfig that PATCH is supported.
    expect(sent).toEqual(['GET /ServiceProviderConfig', 'PATCH /Users/:id']);
    const read = (await readBack(`/Users/${ref.remoteId}`)).body;
    expect(read).toMatchObject({ title: 'Engineer', name: { givenName: 'Ada' }, meta: { version: updated.version } });
    expect(read.name).not.toHaveProperty('familyName');
    expect(read).not.toHaveProperty(SCHEMA.enterpriseUser);

    await connector.setPassword(ref, 'Correct-Horse-Battery-9');
    await connector.deactivate(ref);
    expect((await readBack(`/Users/${ref.remoteId}`)).body.active).toBe(false);
    await connector.delete(ref);
    await connector.delete(ref);
    expect((await readBack(`/Users/${ref.remoteId}`)).status).toBe(404);
  });

  it('moves group membership as chunked deltas; repeating a delta is harmless', async () => {
    const connector = connect({ maxMembersPerRequest: 2 });
    const users: OutboundMember[] = [];
    for (const name of ['m1', 'm2', 'm3', 'm4', 'm5']) {
      const ref = await connector.create(outboundUser(`local-${name}`, `${name}@emea`));
      users.push({ kind: 'User', localId: `local-${name}`, remoteId: ref.remoteId });
    }
    const [m1, m2, m3, m4, m5] = users as [OutboundMember, OutboundMember, OutboundMember, OutboundMember, OutboundMember];

    sent.length = 0;
    const group = await connector.create(outboundGroup('local-g', 'Federated staff', [m1, m2, m3]));
    // A POST with two members, then a PATCH with the third.
    expect(sent).toEqual(['GET /ServiceProviderConfig', 'POST /Groups', 'PATCH /Groups/:id']);
    expect(memberIds((await readBack(`/Groups/${group.remoteId}`)).body)).toEqual([m1, m2, m3].map((m) => m.remoteId).sort());

    sent.length = 0;
    const delta = { add: [m4, m5], remove: [m1.remoteId, m2.remoteId] };
    await connector.updateMembers(group, delta);
    expect(sent).toEqual(['PATCH /Groups/:id', 'PATCH /Groups/:id']);
    await connector.updateMembers(group, delta);
    expect(memberIds((await readBack(`/Groups/${group.remoteId}`)).body)).toEqual([m3, m4, m5].map((m) => m.remoteId).sort());

    const remote = await connector.get(group);
    expect(remote?.members.sort()).toEqual([m3, m4, m5].map((m) => m.remoteId).sort());
    expect((await connector.match(outboundGroup('other-id', 'federated STAFF')))?.ref.remoteId).toBe(group.remoteId);
  });

  it('adopts an account the target hub already had instead of duplicating it', async () => {
    const existing = await hub.app.inject({
      method: 'POST',
      url: '/scim/v2/Users',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' },
      payload: JSON.stringify({ schemas: [SCHEMA.user], userName: 'grace@emea', title: 'Admiral' }),
    });
    const existingId = (JSON.parse(existing.body) as { id: string }).id;
    const connector = connect();
    const outbound = outboundUser('local-grace', 'Grace@EMEA');
    await expect(connector.create(outbound)).rejects.toMatchObject({ kind: 'permanent', code: 'CONFLICT', status: 409 });
    const found = await connector.match(outbound);
    expect(found?.ref.remoteId).toBe(existingId);
    await connector.update(found!.ref, outbound);
    const listed = (await readBack(`/Users?filter=${encodeURIComponent('userName eq "grace@emea"')}`)).body;
    expect(listed).toMatchObject({ totalResults: 1, Resources: [{ id: existingId, externalId: 'local-grace' }] });
    expect(listed.Resources).toEqual([expect.not.objectContaining({ title: 'Admiral' })]);
  });

  it('reports a bad token as UNAUTHORIZED', async () => {
    const validated = scimConnectorFactory.validateConfig({ baseUrl }, { token: 'mrd_not-a-token' });
    const connector = scimConnectorFactory.create(validated, { token: 'mrd_not-a-token' }, context);
    await expect(connector.get({ kind: 'User', remoteId: '00000000-0000-0000-0000-000000000000' })).rejects.toMatchObject({
      kind: 'permanent',
      code: 'UNAUTHORIZED',
      status: 401,
    });
  });
});

runConnectorConformance('scim (a Meridian hub as target)', () => connect({ supportsPassword: true }));
