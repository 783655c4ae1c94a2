import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { gql } from '@meridian/test-utils/apps';
import { type HubHarness, startHub } from './harness.js';

// Issue 12: `auditVerification` reads and rehashes a whole chain but cost one unit, so a query with 200 aliases of
// it ran for about a minute. It may now be asked once per operation, however it is spelt (aliases, fragments,
// inline fragments, other tenants); a second one is refused before any resolver runs. Concurrent requests for one
// chain share one verification.

let hub: HubHarness;

beforeAll(async () => {
  hub = await startHub();
});
afterAll(() => hub.close());

const refusal = (count: number) => ({
  errors: [
    {
      message: `'auditVerification' may be asked once per request (it reads a whole audit chain); this operation asks for it ${count} times. Send one request per chain.`,
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    },
  ],
});

describe('auditVerification in one operation', () => {
  it('regression: 200 aliases are refused at once with 400, instead of verifying the chain 200 times', async () => {
    const aliases = Array.from({ length: 200 }, (_, i) => `v${i}: auditVerification(tenant: "emea") { ok }`).join('\n');
    const res = await gql(hub.app, hub.adminToken, `{ ${aliases} }`);
    expect(res.status).toBe(400);
    expect(res.body).toEqual(refusal(200));
  });

  it.each([
    ['two aliases of one tenant', '{ a: auditVerification(tenant: "emea") { ok } b: auditVerification(tenant: "emea") { ok } }', 2],
    ['two tenants', '{ a: auditVerification(tenant: "emea") { ok } b: auditVerification(tenant: "apac") { ok } }', 2],
    ['an alias and the bare field', '{ auditVerification { ok } other: auditVerification { ok } }', 2],
    [
      'fragments',
      '{ ...A ...B } fragment A on Query { a: auditVerification { ok } } fragment B on Query { b: auditVerification { ok } }',
      2,
    ],
    [
      'inline fragments',
      '{ ... on Query { a: auditVerification { ok } } ... { b: auditVerification { ok } c: auditVerification { ok } } }',
      3,
    ],
    ['an alias beside a fragment', '{ x: auditVerification { ok } ...F } fragment F on Query { y: auditVerification { ok } }', 2],
  ])('refuses %s', async (_name, query, count) => {
    const res = await gql(hub.app, hub.adminToken, query as string);
    expect(res.status).toBe(400);
    expect(res.body).toEqual(refusal(count as number));
  });

  it('answers one, also when the same field is selected twice under one name (GraphQL merges them)', async () => {
    const once = await gql(hub.app, hub.adminToken, '{ auditVerification(tenant: "emea") { ok } }');
    expect(once.body).toEqual({ data: { auditVerification: { ok: true } } });
    const merged = await gql(
      hub.app,
      hub.adminToken,
      '{ auditVerification(tenant: "emea") { ok } ...F } fragment F on Query { auditVerification(tenant: "emea") { lastSeq } }',
    );
    expect(merged.status).toBe(200);
    expect(merged.body.data?.auditVerification).toMatchObject({ ok: true, lastSeq: expect.any(Number) });
  });

  it('still refuses for lack of permission first: an office token of another tenant learns nothing more', async () => {
    const res = await gql(hub.app, hub.tenants.emea.token, '{ auditVerification(tenant: "apac") { ok } }');
    expect(res.body.errors).toEqual([
      { message: "Tenant 'apac' not found.", path: ['auditVerification'], extensions: { code: 'NOT_FOUND', field: 'tenant' } },
    ]);
  });

  it('gives concurrent requests for one chain the same report', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, () => gql(hub.app, hub.adminToken, '{ auditVerification(tenant: "emea") { ok lastSeq entriesChecked } }')),
    );
    const reports = results.map((r) => JSON.stringify(r.body));
    expect(new Set(reports).size).toBe(1);
    expect(results[0]?.body.data?.auditVerification).toMatchObject({ ok: true });
  });
});
