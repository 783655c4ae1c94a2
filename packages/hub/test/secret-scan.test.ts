import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SCHEMA } from '@meridian/core';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../src/config/config.js';
import { buildApp } from '../src/http/app.js';
import { scrubLogValue, scrubText, scrubUrl } from '../src/http/log-redaction.js';
import { type HubHarness, startHub } from './harness.js';

// Issue 4: no secret, token or password ever in logs, audit diffs, error
// messages or GraphQL. The hub runs with a trace-level logger into memory; the
// flows that carry secrets run through it; then logs, every response body and
// every row of every table are scanned for the secrets that went in.

let hub: HubHarness;
let app: FastifyInstance;
const logLines: string[] = [];
/** Every secret that went over the wire: passwords, tokens, Authorization values. */
const secrets = new Set<string>();
/** Every response body, except the one-time token issue. */
const bodies: { what: string; text: string }[] = [];

const BULK_REQUEST = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';

/** A unique, recognisable secret (long enough that it cannot occur by chance). */
function secret(label: string): string {
  const value = `${label}-${randomBytes(12).toString('base64url')}`;
  secrets.add(value);
  return value;
}

type Json = Record<string, unknown>;

async function call(
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  url: string,
  options: { token?: string; authorization?: string; body?: unknown; what?: string; keep?: boolean } = {},
): Promise<{ status: number; json: Json; text: string }> {
  const authorization = options.authorization ?? (options.token !== undefined ? `Bearer ${options.token}` : undefined);
  if (authorization !== undefined) secrets.add(authorization);
  const res = await app.inject({
    method,
    url,
    headers: {
      ...(authorization !== undefined ? { authorization } : {}),
      ...(options.body !== undefined ? { 'content-type': url.startsWith('/graphql') ? 'application/json' : 'application/scim+json' } : {}),
    },
    ...(options.body !== undefined ? { payload: JSON.stringify(options.body) } : {}),
  });
  if (options.keep !== false)
    bodies.push({ what: options.what ?? `${method} ${url} → ${res.statusCode}`, text: `${JSON.stringify(res.headers)}\n${res.body}` });
  return { status: res.statusCode, json: (res.body ? JSON.parse(res.body) : {}) as Json, text: res.body };
}

const scimToken = () => hub.tenants.emea.token;
const gql = (query: string, token: string, what?: string) =>
  call('POST', '/graphql', { token, body: { query }, ...(what ? { what } : {}) });

/** Which secrets occur in a text. */
function leaked(text: string): string[] {
  return [...secrets].filter((s) => text.includes(s) || text.includes(JSON.stringify(s).slice(1, -1)));
}

beforeAll(async () => {
  hub = await startHub();
  secrets.add(hub.adminToken);
  secrets.add(hub.tenants.emea.token);
  secrets.add(hub.tenants.emea.readOnly);
  secrets.add(hub.tenants.apac.token);
  const stream = new Writable({
    write(chunk, _encoding, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  const config = loadConfig({ DATABASE_URL: hub.db.url, MERIDIAN_ADMIN_TOKEN: hub.adminToken, MERIDIAN_PUBLIC_URL: 'https://hub.test' });
  app = await buildApp({ config, runtime: hub.runtime, logger: { level: 'trace', stream } });

  // A debug hook of the kind someone adds while chasing a bug: it logs headers and bodies.
  app.addHook('preHandler', async (request) => {
    request.log.debug({ req: { headers: request.headers }, headers: request.headers, body: request.body }, 'debug: request');
    request.log.debug(
      { authorization: request.headers.authorization, password: (request.body as Json | undefined)?.password },
      'debug: fields',
    );
  });
  await app.ready();

  // Create with a password, then change it every way SCIM allows.
  const created = await call('POST', '/scim/v2/Users', {
    token: scimToken(),
    body: { userName: 'secret-scan@example.com', password: secret('pw-create'), emails: [{ value: 'scan@example.com', type: 'work' }] },
  });
  expect(created.status).toBe(201);
  const id = created.json.id as string;
  const patch = (operations: Json[]) =>
    call('PATCH', `/scim/v2/Users/${id}`, { token: scimToken(), body: { schemas: [SCHEMA.patchOp], Operations: operations } });
  expect((await patch([{ op: 'replace', path: 'password', value: secret('pw-patch-path') }])).status).toBe(200);
  expect((await patch([{ op: 'replace', value: { password: secret('pw-patch-value'), displayName: 'Scan' } }])).status).toBe(200);
  expect((await patch([{ op: 'add', path: 'password', value: secret('pw-patch-add') }])).status).toBe(200);
  const replaced = await call('PUT', `/scim/v2/Users/${id}`, {
    token: scimToken(),
    body: { userName: 'secret-scan@example.com', password: secret('pw-put') },
  });
  expect(replaced.status).toBe(200);

  // Bad requests that carry a password must not echo it.
  expect(
    (
      await call('POST', '/scim/v2/Users', {
        token: scimToken(),
        body: { userName: 'secret-scan@example.com', password: secret('pw-duplicate') },
      })
    ).status,
  ).toBe(409);
  expect(
    (await call('POST', '/scim/v2/Users', { token: scimToken(), body: { userName: 'x', password: secret('pw-unknown-attr'), bogus: 1 } }))
      .status,
  ).toBe(400);
  expect((await patch([{ op: 'replace', path: 'password', value: { value: secret('pw-object') } }])).status).toBe(400);
  expect((await patch([{ op: 'bogus', path: 'password', value: secret('pw-bad-op') }])).status).toBe(400);
  expect(
    (await call('POST', '/scim/v2/Users', { token: hub.tenants.emea.readOnly, body: { userName: 'r2', password: secret('pw-forbidden') } }))
      .status,
  ).toBe(403);

  // Bulk with passwords, one of the operations failing.
  const bulk = await call('POST', '/scim/v2/Bulk', {
    token: scimToken(),
    body: {
      schemas: [BULK_REQUEST],
      Operations: [
        { method: 'POST', path: '/Users', bulkId: 'a', data: { userName: 'bulk-scan-a', password: secret('pw-bulk-a') } },
        { method: 'POST', path: '/Users', bulkId: 'b', data: { userName: 'bulk-scan-a', password: secret('pw-bulk-dup') } },
        {
          method: 'PATCH',
          path: `/Users/${id}`,
          data: { schemas: [SCHEMA.patchOp], Operations: [{ op: 'replace', path: 'password', value: secret('pw-bulk-patch') }] },
        },
        { method: 'PUT', path: '/Users/bulkId:a', data: { userName: 'bulk-scan-a', password: secret('pw-bulk-put') } },
      ],
    },
  });
  expect(bulk.status).toBe(200);

  // Tokens issued through GraphQL: the secret is shown once, in that response only.
  const issued = await call('POST', '/graphql', {
    token: hub.adminToken,
    body: {
      query:
        'mutation { createToken(tenant: "emea", scopes: ["scim:read", "scim:write", "graphql:read"], name: "scan") { token record { id prefix } } }',
    },
    keep: false,
  });
  const token = (issued.json.data as { createToken: { token: string } }).createToken.token;
  expect(token).toMatch(/^mrd_/);
  secrets.add(token);
  expect((await call('GET', '/scim/v2/Users?count=1', { token })).status).toBe(200);
  expect((await gql('{ tenant(slug: "emea") { tokens { id name prefix } } }', token)).status).toBe(200);

  // An end user's /Me token changing their own password.
  expect(
    (
      await gql(
        'mutation { setSelfServicePolicy(tenant: "emea", editableAttributes: ["password"]) { editableAttributes } }',
        hub.adminToken,
      )
    ).status,
  ).toBe(200);
  const me = await call('POST', '/graphql', {
    token: hub.adminToken,
    body: { query: `mutation { createToken(tenant: "emea", scopes: ["scim:me"], user: "${id}") { token } }` },
    keep: false,
  });
  const meToken = (me.json.data as { createToken: { token: string } }).createToken.token;
  secrets.add(meToken);
  const mePatch = await call('PATCH', '/scim/v2/Me', {
    token: meToken,
    body: { schemas: [SCHEMA.patchOp], Operations: [{ op: 'replace', path: 'password', value: secret('pw-me') }] },
  });
  expect(mePatch.status).toBe(200);

  // Failed authentication: bogus, malformed and revoked tokens, on SCIM and GraphQL.
  const bogus = `mrd_${randomBytes(24).toString('base64url')}`;
  secrets.add(bogus);
  expect((await call('GET', '/scim/v2/Users', { token: bogus })).status).toBe(401);
  expect(
    (await call('GET', '/scim/v2/Users', { authorization: `Basic ${Buffer.from(`admin:${secret('pw-basic')}`).toString('base64')}` }))
      .status,
  ).toBe(401);
  expect((await call('GET', '/scim/v2/Users', { authorization: `Bearer ${secret('not-a-token')} trailing` })).status).toBe(401);
  expect((await gql('{ tenants { totalCount } }', bogus, 'graphql with a bogus token')).status).toBe(401);
  const tokenId = (
    (await gql('{ tenant(slug: "emea") { tokens { id name } } }', hub.adminToken)).json.data as {
      tenant: { tokens: { id: string; name: string }[] };
    }
  ).tenant.tokens.find((t) => t.name === 'scan')?.id;
  expect((await gql(`mutation { revokeToken(id: "${tokenId}") { revokedAt } }`, hub.adminToken)).status).toBe(200);
  expect((await call('GET', '/scim/v2/Users', { token })).status).toBe(401);

  // GraphQL errors around tokens and filters.
  expect(
    (await gql(`{ tenant(slug: "emea") { users(filter: "password eq \\"${secret('pw-filter')}\\"") { totalCount } } }`, hub.adminToken))
      .status,
  ).toBe(200);
  expect(
    (
      await call('GET', `/scim/v2/Users?filter=${encodeURIComponent(`password eq "${secret('pw-scim-filter')}"`)}`, {
        token: scimToken(),
        keep: true,
      })
    ).status,
  ).toBe(400);
});
afterAll(async () => {
  await app.close();
  await hub.close();
});

describe('secret scan', () => {
  it('exercised the flows (sanity: the scan looks for what went in)', () => {
    expect(secrets.size).toBeGreaterThan(25);
    expect(logLines.length).toBeGreaterThan(40);
    // The debug hook did log the request headers, redacted.
    expect(logLines.some((l) => l.includes('"authorization":"[REDACTED]"'))).toBe(true);
  });

  it('finds no password, token or Authorization value in the logs, even at trace level with a debug hook logging headers and bodies', () => {
    const found = logLines.flatMap((line) => leaked(line).map((s) => `${s} in ${line.slice(0, 300)}`));
    expect(found).toEqual([]);
  });

  it('finds none in any response body or header, errors included (only the one-time token issue shows its token)', () => {
    const found = bodies.flatMap(({ what, text }) => leaked(text).map((s) => `${s} in ${what}: ${text.slice(0, 300)}`));
    expect(found).toEqual([]);
  });

  it('finds none in any row of any table: audit diffs, outbox, users, tokens', async () => {
    const tables = await hub.db.query<{ table_name: string }>(
      "select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name",
    );
    expect(tables.map((t) => t.table_name)).toEqual(expect.arrayContaining(['audit_event', 'outbox_event', 'scim_user', 'api_token']));
    const found: string[] = [];
    for (const { table_name } of tables) {
      const rows = await hub.db.query<{ row: string }>(`select to_jsonb(t)::text as row from "${table_name}" t`);
      for (const { row } of rows) found.push(...leaked(row).map((s) => `${s} in ${table_name}: ${row.slice(0, 300)}`));
    }
    expect(found).toEqual([]);
  });

  it('keeps passwords as argon2id hashes only', async () => {
    const rows = await hub.db.query<{ user_name: string; password_hash: string | null; attributes: string }>(
      "select user_name, password_hash, attributes::text from scim_user where user_name in ('secret-scan@example.com', 'bulk-scan-a')",
    );
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(row.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,/);
      expect(row.attributes).not.toMatch(/password/i);
    }
  });

  it('records password changes in the audit trail without their values', async () => {
    const rows = await hub.db.query<{ action: string; diff: string | null }>(
      "select action, diff::text from audit_event where resource_type = 'User' and action like 'user.%' order by id",
    );
    expect(rows.length).toBeGreaterThan(5);
    for (const row of rows) expect(leaked(row.diff ?? '')).toEqual([]);
  });
});

describe('log scrubbing', () => {
  it('censors secret keys at any depth, and the value of a PATCH operation on a secret path', () => {
    expect(
      scrubLogValue({
        headers: { authorization: 'Bearer x', 'x-api-key': 'k', accept: '*/*' },
        body: {
          Operations: [
            { op: 'replace', path: 'password', value: 'p' },
            { op: 'add', path: 'title', value: 't' },
          ],
          nested: [{ deeper: { clientSecret: 's' } }],
        },
        tokenId: 'id',
      }),
    ).toEqual({
      headers: { authorization: '[REDACTED]', 'x-api-key': '[REDACTED]', accept: '*/*' },
      body: {
        Operations: [
          { op: 'replace', path: 'password', value: '[REDACTED]' },
          { op: 'add', path: 'title', value: 't' },
        ],
        nested: [{ deeper: { clientSecret: '[REDACTED]' } }],
      },
      tokenId: '[REDACTED]',
    });
  });

  it('leaves requests, errors and keys that merely contain "pass" alone', () => {
    const error = new Error('boom');
    expect(scrubLogValue({ err: error, compass: 'n', passive: true })).toEqual({ err: error, compass: 'n', passive: true });
  });

  it('censors secret literals in filters, JSON text and GraphQL query text', () => {
    expect(scrubText('password eq "hunter2" and userName eq "ada"')).toBe('password eq "[REDACTED]" and userName eq "ada"');
    expect(scrubText('{"password":"hunter2","user":"ada"}')).toBe('{"password":"[REDACTED]","user":"ada"}');
    expect(scrubText('users(filter: "password eq \\"hunter2\\"")')).not.toContain('hunter2');
  });

  it('censors credential query parameters and secret filters in URLs, and leaves other URLs byte for byte', () => {
    expect(scrubUrl('/scim/v2/Users?access_token=abc&count=1')).toBe('/scim/v2/Users?access_token=%5BREDACTED%5D&count=1');
    expect(scrubUrl('/scim/v2/Users?filter=password%20eq%20%22hunter2%22')).not.toContain('hunter2');
    expect(scrubUrl('/scim/v2/Users?filter=userName%20eq%20%22a%22')).toBe('/scim/v2/Users?filter=userName%20eq%20%22a%22');
  });
});
