import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { InboundSource } from '@meridian/core';
import { FakeScimTarget } from '@meridian/test-utils';
import { parseScimSourceConfig, ScimSourceReader } from '../src/index.js';

// Issue 16: an office's SCIM service as an inbound source, against a real HTTP SCIM service provider.

let office: FakeScimTarget;
const reader = new ScimSourceReader(globalThis.fetch);
const secrets = { token: 'office-token' };

function source(config: Record<string, unknown> = {}): InboundSource {
  return {
    id: 's',
    tenantId: 't',
    name: 'hr',
    kind: 'scim',
    config: { baseUrl: office.url, pageSize: 2, ...config },
    secretNames: ['token'],
    deletionThresholdPercent: 20,
    fullSyncIntervalSeconds: 86_400,
    cursor: null,
    lastSyncAt: null,
    lastFullSyncAt: null,
    syncIntervalSeconds: null,
    lastSyncStatus: null,
    lastSyncError: null,
    lastSyncCounts: null,
    createdAt: new Date(0),
  };
}

beforeAll(async () => {
  office = await FakeScimTarget.start({ token: 'office-token' });
  for (const name of ['ada', 'bob', 'cy', 'dee', 'eve']) {
    office.seed('User', { userName: `${name}@hr.example`, externalId: `ext-${name}`, displayName: name, password: 'never-read' });
  }
});

afterAll(async () => {
  await office?.close();
});

describe('ScimSourceReader', () => {
  it('reads every user page by page, keeping account attributes only', async () => {
    const read = await reader.read(source(), secrets, null);
    expect(read.entries.map((e) => e.attributes.userName)).toEqual([
      'ada@hr.example',
      'bob@hr.example',
      'cy@hr.example',
      'dee@hr.example',
      'eve@hr.example',
    ]);
    const ada = read.entries[0];
    expect(ada?.remoteId).toEqual(office.users[0]?.id);
    expect(ada?.location).toBe(`${office.url}/Users/${String(office.users[0]?.id)}`);
    expect(ada?.attributes).toEqual({ userName: 'ada@hr.example', externalId: 'ext-ada', displayName: 'ada' });
    // Pages of 2: three list requests, each with the bearer token.
    const lists = office.requestsTo('GET', '/Users');
    expect(lists.map((r) => r.query.startIndex)).toEqual(['1', '3', '5']);
    expect(lists.every((r) => r.headers.authorization === 'Bearer office-token')).toBe(true);
  });

  it('an incremental read asks for what changed since the cursor, and reads everything when the filter is refused', async () => {
    office.requests.length = 0;
    const read = await reader.read(source(), secrets, '2026-01-01T00:00:00Z');
    const lists = office.requestsTo('GET', '/Users');
    expect(lists[0]?.query.filter).toBe('meta.lastModified gt "2026-01-01T00:00:00Z"');
    expect(lists[0]?.status).toBe(400);
    expect(lists[1]?.query.filter).toBeUndefined();
    expect(read.entries).toHaveLength(5);
  });

  it('looks one person up with eq, and treats none or several as not found', async () => {
    office.seed('User', { userName: 'twin1@hr.example', displayName: 'twin' });
    office.seed('User', { userName: 'twin2@hr.example', displayName: 'twin' });
    const one = await reader.lookup(source(), secrets, { attribute: 'externalId', value: 'ext-bob' });
    expect(one?.attributes.userName).toBe('bob@hr.example');
    expect(office.requestsTo('GET', '/Users').at(-1)?.query.filter).toBe('externalId eq "ext-bob"');
    expect(await reader.lookup(source(), secrets, { attribute: 'userName', value: 'zed@hr.example' })).toBeUndefined();
    // Two people answering one sign-in: no one.
    expect(await reader.lookup(source(), secrets, { attribute: 'displayName', value: 'twin' })).toBeUndefined();
    // A value with a quote stays one string literal.
    expect(await reader.lookup(source(), secrets, { attribute: 'userName', value: 'x" or userName pr or "' })).toBeUndefined();
    expect(office.requestsTo('GET', '/Users').at(-1)?.query.filter).toBe('userName eq "x\\" or userName pr or \\""');
  });

  it('a source that answers an error is UNAVAILABLE', async () => {
    office.failNext({ type: 'status', status: 503 }, { times: 1, match: { method: 'GET', path: '/Users' } });
    await expect(reader.lookup(source(), secrets, { attribute: 'userName', value: 'ada@hr.example' })).rejects.toMatchObject({
      code: 'UNAVAILABLE',
    });
  });

  it('checks its config and secrets, naming the field', () => {
    expect(() => parseScimSourceConfig({ baseUrl: 'ftp://hr.example' }, secrets)).toThrow(
      expect.objectContaining({ field: 'config.baseUrl' }),
    );
    expect(() => parseScimSourceConfig({ baseUrl: 'https://hr.example/scim/v2/' }, {})).toThrow(
      expect.objectContaining({ field: 'secrets.token' }),
    );
    expect(() => parseScimSourceConfig({ baseUrl: 'https://hr.example', firstSignIn: { lookupBy: 'phone' } }, secrets)).toThrow(
      expect.objectContaining({ field: 'config.firstSignIn' }),
    );
    expect(() => parseScimSourceConfig({ baseUrl: 'https://hr.example', mapping: {} }, secrets)).toThrow(
      expect.objectContaining({ field: 'config.mapping' }),
    );
    expect(parseScimSourceConfig({ baseUrl: 'https://hr.example/scim/v2/' }, secrets)).toEqual({
      baseUrl: 'https://hr.example/scim/v2',
      timeoutMs: 10_000,
      pageSize: 100,
    });
  });
});
