import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SCHEMA } from '@meridian/core';
import {
  BULK_REQUEST,
  count,
  expectScimError,
  fuzzSender,
  printStats,
  runs,
  type Sender,
  seedTargets,
  snapshot,
} from '@meridian/test-utils/fuzz';
import fc from 'fast-check';
import { type HubHarness, startHub } from './harness.js';

// Issue 4, the hub's own wiring: random Authorization, Content-Type, conditional and request-id headers on SCIM
// and GraphQL, through the failed-authentication limit (per address) and the request-id echo of the whole hub.
// The SCIM and GraphQL fuzz properties are in packages/scim/test and packages/graphql/test.

let hub: HubHarness;
let send: Sender;
let target: { userId: string; groupId: string; memberId: string };
let serial = 0;

beforeAll(async () => {
  hub = await startHub();
  send = fuzzSender(hub.app, hub.tenants.emea.token);
  target = await seedTargets(send);
});
afterAll(async () => {
  printStats();
  await hub.close();
});

const headerText = fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c)), maxLength: 40 });
const authorization = fc.oneof(
  headerText,
  headerText.map((t) => `Bearer ${t}`),
  fc.constantFrom(
    'Bearer',
    'Bearer ',
    'bearer mrd_',
    'Basic dXNlcjpwYXNz',
    'Bearer mrd_aaaa.bbbb',
    `Bearer ${'a'.repeat(10_000)}`,
    'Bearer a b',
    'Bearer eyJhbGciOiJub25lIn0.e30.',
  ),
  fc.constant('VALID'),
  fc.constant('VALID_READONLY'),
);
const etag = fc.oneof(
  headerText,
  fc.constantFrom('*', 'W/"1"', '"1"', 'W/"-1"', 'W/"99999999999999999999"', 'W/""', 'W/"1", W/"2"', 'W/"1.5"', 'w/"1"'),
);
const headers = fc.record(
  {
    authorization,
    'content-type': fc.oneof(
      fc.constantFrom(
        'application/scim+json',
        'application/json',
        'application/json; charset=utf-16',
        'application/scim+json; charset=latin1',
        'text/plain',
        'multipart/form-data; boundary=x',
        'application/x-www-form-urlencoded',
        'application/scim+json;;;',
        '',
      ),
      headerText,
    ),
    'if-match': etag,
    'if-none-match': etag,
    'x-request-id': fc.oneof(headerText, fc.constantFrom('a'.repeat(200), 'ok-id.1:2', 'bad id', 'x\ty')),
    prefer: fc.oneof(fc.constantFrom('return=minimal', 'respond-async', 'wait=5'), headerText),
    accept: fc.oneof(fc.constantFrom('application/scim+json', 'text/html', '*/*'), headerText),
  },
  { requiredKeys: [] },
);

describe('fuzzing headers', () => {
  it('random Authorization, Content-Type, If-Match, If-None-Match and X-Request-Id never answer 5xx, and a 4xx writes nothing', async () => {
    let address = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'PUT', 'PATCH', 'POST'),
        fc.constantFrom('user', 'group', 'users', 'graphql', 'bulk'),
        headers,
        async (method, where, given) => {
          const before = await snapshot(hub.db);
          const h: Record<string, string> = { ...given } as Record<string, string>;
          if (h.authorization === 'VALID') h.authorization = `Bearer ${hub.tenants.emea.token}`;
          if (h.authorization === 'VALID_READONLY') h.authorization = `Bearer ${hub.tenants.emea.readOnly}`;
          const url = {
            user: `/scim/v2/Users/${target.userId}`,
            group: `/scim/v2/Groups/${target.groupId}`,
            users: '/scim/v2/Users',
            graphql: '/graphql',
            bulk: '/scim/v2/Bulk',
          }[where];
          const body =
            method === 'GET'
              ? undefined
              : where === 'graphql'
                ? JSON.stringify({ query: '{ tenants { totalCount } }' })
                : method === 'PATCH'
                  ? JSON.stringify({
                      schemas: [SCHEMA.patchOp],
                      Operations: [{ op: 'replace', path: 'displayName', value: `h${serial++}` }],
                    })
                  : where === 'bulk'
                    ? JSON.stringify({ schemas: [BULK_REQUEST], Operations: [] })
                    : JSON.stringify(
                        where === 'group'
                          ? { displayName: 'fuzz-group' }
                          : { userName: method === 'POST' ? `hdr-${serial++}` : 'fuzz-target' },
                      );
          const effectiveMethod =
            where === 'graphql' && method !== 'GET'
              ? 'POST'
              : where === 'bulk'
                ? 'POST'
                : method === 'POST' && where !== 'users'
                  ? 'GET'
                  : method;
          // Each run from its own address: failed authentications are limited per address, and this is not what is tested here.
          address++;
          const res = await send(effectiveMethod, url, {
            token: null,
            remoteAddress: `10.1.${address >> 8}.${address & 255}`,
            headers: h,
            ...(effectiveMethod === 'GET' ? {} : { body: body ?? '' }),
          });
          count(`headers ${where}`, res.status);
          if (res.status >= 500) throw new Error(`${res.status}: ${res.text}`);
          // The request id echoed back is ours or a safe one, never an injected header value.
          expect(String(res.headers['x-request-id'])).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
          if (res.status >= 400 || effectiveMethod === 'GET') expect(await snapshot(hub.db)).toEqual(before);
          if (res.status >= 400 && where !== 'graphql' && res.status !== 404) expectScimError(res);
          if (res.status >= 400 && where === 'graphql') {
            const errors = (res.json as { errors?: { extensions?: { code?: unknown } }[] }).errors;
            expect(typeof errors?.[0]?.extensions?.code).toBe('string');
          }
        },
      ),
      runs(200),
    );
  });
});
