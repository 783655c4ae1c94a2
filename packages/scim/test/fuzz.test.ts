import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SCHEMA } from '@meridian/core';
import { type AppHarness, startScimApp } from '@meridian/test-utils/apps';
import {
  count,
  expectScimError,
  fuzzSender,
  type Json,
  printStats,
  type Reply,
  rawBody,
  runs,
  type Sender,
  seedTargets,
  snapshot,
} from '@meridian/test-utils/fuzz';
import fc from 'fast-check';
import {
  bulkBody,
  encode,
  listParams,
  patchBody,
  rawQuery,
  resourceBody,
  typedListParams,
  typedPatchBody,
  validBulkBody,
  validGroup,
  validUser,
} from './fuzz-arbitraries.js';

// Issue 4: bad input gets a clear 4xx, never a 500, and writes nothing. Random and mutated input against the
// SCIM app: filters, PATCH paths and values, JSON bodies and Bulk (see @meridian/test-utils/fuzz for the run
// counts and MERIDIAN_FUZZ_SEED).

let harness: AppHarness;
let send: Sender;
let target: { userId: string; groupId: string; memberId: string };

/** Never a 5xx; a 4xx carries a SCIM error and writes nothing; a GET never writes. */
async function checkScim(res: Reply, before: Record<string, string>, method: string): Promise<void> {
  if (res.status >= 500) throw new Error(`${res.status}: ${res.text}`);
  expect(res.status).toBeGreaterThanOrEqual(200);
  if (res.status >= 400) {
    expectScimError(res);
    expect(await snapshot(harness.db)).toEqual(before);
  } else if (method === 'GET') {
    expect(await snapshot(harness.db)).toEqual(before);
  }
}

/** Puts the seeded resources' ids where a generator left a placeholder. */
function resolve(text: string): string {
  return text.replaceAll('MEMBER', target.memberId).replaceAll('USER', target.userId).replaceAll('GROUP', target.groupId);
}

beforeAll(async () => {
  harness = await startScimApp();
  send = fuzzSender(harness.app, harness.tenants.emea.token);
  target = await seedTargets(send);
});
afterAll(async () => {
  printStats();
  await harness.close();
});

describe('fuzzing the SCIM endpoints', () => {
  it('lists with random and mutated filters, sorting and paging answer 200 or a SCIM 400, and write nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('Users', 'Groups'),
        fc.oneof({ weight: 3, arbitrary: typedListParams }, { weight: 2, arbitrary: listParams }),
        fc.nat(9),
        rawQuery,
        async (endpoint, params: Record<string, string | undefined>, how, raw) => {
          const before = await snapshot(harness.db);
          const viaSearch = how < 3;
          const res =
            how === 9
              ? await send('GET', `/scim/v2/${endpoint}?${raw}`)
              : viaSearch
                ? await send('POST', `/scim/v2/${endpoint}/.search`, {
                    body: JSON.stringify({
                      schemas: [SCHEMA.searchRequest],
                      ...params,
                      ...(params.count !== undefined ? { count: Number(params.count) } : {}),
                    }),
                  })
                : await send(
                    'GET',
                    `/scim/v2/${endpoint}?${Object.entries(params)
                      .map(([k, v]) => `${k}=${encode(v as string)}`)
                      .join('&')}`,
                  );
          count('list', res.status);
          await checkScim(res, before, 'GET');
        },
      ),
      runs(200),
    );
  });

  it('PATCH with random operation lists, paths and values answers 2xx or a SCIM 4xx, and a 4xx writes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .constantFrom('Users' as const, 'Groups' as const)
          .chain((endpoint) =>
            fc.tuple(
              fc.constant(endpoint),
              fc.oneof({ weight: 3, arbitrary: typedPatchBody(endpoint) }, { weight: 1, arbitrary: patchBody }),
            ),
          ),
        async ([endpoint, body]) => {
          const before = await snapshot(harness.db);
          const id = endpoint === 'Users' ? target.userId : target.groupId;
          const res = await send('PATCH', `/scim/v2/${endpoint}/${id}`, { body: resolve(JSON.stringify(body)) });
          count(`patch ${endpoint}`, res.status);
          await checkScim(res, before, 'PATCH');
        },
      ),
      runs(200),
    );
  });

  it('POST and PUT of random resources and raw bodies answer 2xx or a SCIM 4xx, and a 4xx writes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('POST', 'PUT'),
        fc
          .constantFrom('Users' as const, 'Groups' as const)
          .chain((endpoint) =>
            fc.tuple(
              fc.constant(endpoint),
              fc.oneof(
                { weight: 3, arbitrary: (endpoint === 'Users' ? validUser : validGroup).map((b) => JSON.stringify(b)) },
                { weight: 2, arbitrary: resourceBody.map((b) => JSON.stringify(b)) },
                { weight: 1, arbitrary: rawBody },
              ),
            ),
          ),
        async (method, [endpoint, body]) => {
          const before = await snapshot(harness.db);
          const id = endpoint === 'Users' ? target.userId : target.groupId;
          const url = method === 'POST' ? `/scim/v2/${endpoint}` : `/scim/v2/${endpoint}/${id}`;
          const res = await send(method, url, { body: resolve(body) });
          count(`${method.toLowerCase()} ${endpoint}`, res.status);
          await checkScim(res, before, method);
        },
      ),
      runs(200),
    );
  });

  it('Bulk with random operations answers 200 with per-operation statuses below 500, or a SCIM 4xx that writes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          { weight: 4, arbitrary: validBulkBody.map((b) => JSON.stringify(b)) },
          { weight: 2, arbitrary: bulkBody.map((b) => JSON.stringify(b)) },
          { weight: 1, arbitrary: rawBody },
        ),
        async (body) => {
          const before = await snapshot(harness.db);
          const res = await send('POST', '/scim/v2/Bulk', { body: resolve(body) });
          count('bulk', res.status);
          await checkScim(res, before, 'POST');
          if (res.status !== 200) return;
          const operations = (res.json as { Operations: Json[] }).Operations;
          for (const op of operations) {
            const status = Number(op.status);
            count('bulk operation', status);
            if (!(status >= 200 && status < 500)) throw new Error(`bulk operation ${JSON.stringify(op)}`);
            if (status >= 400) {
              expect(op.response).toEqual(
                expect.objectContaining({ schemas: [SCHEMA.error], status: op.status, detail: expect.any(String) }),
              );
            }
          }
          if (operations.every((op) => Number(op.status) >= 400)) expect(await snapshot(harness.db)).toEqual(before);
        },
      ),
      runs(120),
    );
  });
});
