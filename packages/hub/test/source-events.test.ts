import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FakeScimTarget } from '@meridian/test-utils';
import { type CryptoKey, exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { runMeridian } from './cli-runner.js';
import { type HubHarness, startHub } from './harness.js';

// Issue 17, the hub as a receiver: an office's SCIM service provider pushes RFC 9967 events as SETs (RFC 8417,
// RFC 8935) to its inbound source's endpoint; the hub verifies each with the transmitter's JWKS, pulls the User it
// names and applies it as a sync would. The transmitter's keys are served by a small HTTP server, the office is a
// FakeScimTarget.

const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
const ctx = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const ISSUER = 'https://office.example/scim';
const PROV = 'urn:ietf:params:scim:event:prov';

let hub: HubHarness;
let office: FakeScimTarget;
let jwks: Server;
let jwksUrl: string;
let sourceId: string;
let signing: CryptoKey;
let stranger: CryptoKey;

/** A SET as the office's transmitter signs it (or `key`, someone else's). */
async function set(
  events: Record<string, unknown>,
  userId: string,
  options: { key?: CryptoKey; kid?: string; iss?: string; aud?: string; jti?: string } = {},
): Promise<{ token: string; jti: string }> {
  const jti = options.jti ?? randomUUID();
  const payload: JWTPayload = { jti, events, sub_id: { format: 'scim', uri: `/Users/${userId}`, id: userId } };
  const token = await new SignJWT(payload)
    .setProtectedHeader({ alg: 'ES256', kid: options.kid ?? 'office-1', typ: 'secevent+jwt' })
    .setIssuer(options.iss ?? ISSUER)
    .setAudience(options.aud ?? `https://hub.test/sources/${sourceId}/events`)
    .setIssuedAt()
    .sign(options.key ?? signing);
  return { token, jti };
}

function push(token: string, id = sourceId) {
  return hub.app.inject({
    method: 'POST',
    url: `/sources/${id}/events`,
    headers: { 'content-type': 'application/secevent+jwt', accept: 'application/json' },
    payload: token,
  });
}

async function accounts(): Promise<{ id: string; user_name: string; title: string | null }[]> {
  return hub.db.query("select id, user_name, attributes ->> 'title' as title from scim_user where tenant_id = $1 order by user_name", [
    hub.tenants.emea.id,
  ]);
}

async function officeWrite(method: 'PATCH' | 'DELETE', id: string, body?: unknown): Promise<void> {
  const res = await fetch(`${office.url}/Users/${id}`, {
    method,
    headers: { authorization: 'Bearer office-token', 'content-type': 'application/scim+json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  expect(res.ok).toBe(true);
}

beforeAll(async () => {
  const pair = await generateKeyPair('ES256', { extractable: true });
  signing = pair.privateKey;
  stranger = (await generateKeyPair('ES256')).privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'office-1', alg: 'ES256', use: 'sig' };
  jwks = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })));
  await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
  jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks`;
  hub = await startHub({ env: { MERIDIAN_OUTBOUND_ALLOW: '127.0.0.1' } });
  office = await FakeScimTarget.start({ token: 'office-token' });
  const source = await hub.runtime.sources.create(
    platform,
    'emea',
    {
      name: 'office-events',
      kind: 'scim',
      config: { baseUrl: office.url, events: { issuer: ISSUER, jwksUri: jwksUrl } },
      secrets: { token: 'office-token' },
    },
    ctx,
  );
  sourceId = source.id;
}, 60_000);

afterAll(async () => {
  await hub?.close();
  await office?.close();
  await new Promise((resolve) => jwks?.close(resolve));
});

describe('events from an inbound SCIM source', () => {
  it('creates, updates and deletes the linked account as the source says, once per SET', async () => {
    const ada = office.seed('User', { userName: 'ada@office.example', title: 'Engineer', emails: [{ value: 'ada@office.example' }] });
    const adaId = String(ada.id);

    const created = await set({ [`${PROV}:create:notice`]: { attributes: ['userName', 'title'] } }, adaId);
    const first = await push(created.token);
    expect(first.statusCode).toBe(202);
    // Applied before the answer: the account is there now, once.
    expect(await accounts()).toEqual([expect.objectContaining({ user_name: 'ada@office.example', title: 'Engineer' })]);
    // The transmitter retries the same SET: it is applied once.
    expect((await push(created.token)).statusCode).toBe(202);
    expect(await accounts()).toHaveLength(1);

    await officeWrite('PATCH', adaId, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', path: 'title', value: 'Lead' }],
    });
    const patched = await set({ [`${PROV}:patch:notice`]: { attributes: ['title'] } }, adaId);
    expect((await push(patched.token)).statusCode).toBe(202);
    expect((await accounts())[0]?.title).toBe('Lead');

    // A replay of the create SET after a later change at the hub changes nothing: its jti was applied.
    const accountId = (await accounts())[0]?.id as string;
    const change = await hub.app.inject({
      method: 'PATCH',
      url: `/scim/v2/Users/${accountId}`,
      headers: { authorization: `Bearer ${hub.tenants.emea.token}`, 'content-type': 'application/scim+json' },
      payload: JSON.stringify({
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'replace', path: 'title', value: 'Changed at the hub' }],
      }),
    });
    expect(change.statusCode).toBe(200);
    expect((await push(created.token)).statusCode).toBe(202);
    expect((await accounts())[0]?.title).toBe('Changed at the hub');

    await officeWrite('DELETE', adaId);
    const deleted = await set({ [`${PROV}:delete`]: {} }, adaId);
    expect((await push(deleted.token)).statusCode).toBe(202);
    expect(await accounts()).toEqual([]);

    // The writes have the source as the actor; each applied SET has one receipt in the audit chain.
    const audit = await hub.db.query<{ action: string; actor_id: string; diff: { after?: { jti?: string } } }>(
      "select action, actor_id, diff from audit_event where tenant_id = $1 and (action like 'user.%' or action = 'source.event_applied') order by seq",
      [hub.tenants.emea.id],
    );
    const bySource = audit.filter((a) => a.actor_id === `source:${sourceId}`);
    expect(bySource.map((a) => a.action)).toEqual([
      'user.created',
      'source.event_applied',
      'user.replaced',
      'source.event_applied',
      'user.deleted',
      'source.event_applied',
    ]);
    expect(bySource.filter((a) => a.action === 'source.event_applied').map((a) => a.diff.after?.jti)).toEqual([
      created.jti,
      patched.jti,
      deleted.jti,
    ]);
  });

  it('refuses a SET signed with another key, from another issuer or for another audience (RFC 8935 §2.4)', async () => {
    const bob = office.seed('User', { userName: 'bob@office.example' });
    const event = { [`${PROV}:create:notice`]: {} };
    const forged = await push((await set(event, String(bob.id), { key: stranger })).token);
    expect(forged.statusCode).toBe(400);
    expect(['invalid_key', 'authentication_failed']).toContain(forged.json().err);
    const unknownKid = await push((await set(event, String(bob.id), { key: stranger, kid: 'other' })).token);
    expect(unknownKid.statusCode).toBe(400);
    expect(unknownKid.json().err).toBe('invalid_key');
    const issuer = await push((await set(event, String(bob.id), { iss: 'https://elsewhere.example' })).token);
    expect(issuer.statusCode).toBe(400);
    expect(issuer.json().err).toBe('invalid_issuer');
    const audience = await push((await set(event, String(bob.id), { aud: 'https://other-hub.example/sources/x/events' })).token);
    expect(audience.statusCode).toBe(400);
    expect(audience.json().err).toBe('invalid_audience');
    const garbage = await push('not-a-jwt');
    expect(garbage.statusCode).toBe(400);
    expect(garbage.json().err).toBe('invalid_request');
    expect(await accounts()).toEqual([]);
  });

  it('answers 404 for an unknown source id, and for a source in another tenant without events', async () => {
    const bob = office.seed('User', { userName: 'carol@office.example' });
    const token = (await set({ [`${PROV}:create:notice`]: {} }, String(bob.id))).token;
    expect((await push(token, randomUUID())).statusCode).toBe(404);
    expect((await push(token, 'not-a-uuid')).statusCode).toBe(404);
    const plain = await hub.runtime.sources.create(
      platform,
      'apac',
      { name: 'no-events', kind: 'scim', config: { baseUrl: office.url }, secrets: { token: 'office-token' } },
      ctx,
    );
    const other = await push(token, plain.id);
    expect(other.statusCode).toBe(404);
    expect(other.body).toBe((await push(token, randomUUID())).body);
    expect(await accounts()).toEqual([]);
  });

  it('checks the events settings when the source is created', async () => {
    await expect(
      hub.runtime.sources.create(
        platform,
        'emea',
        {
          name: 'bad-jwks',
          kind: 'scim',
          config: { baseUrl: office.url, events: { issuer: ISSUER, jwksUri: 'http://keys.example.org/jwks' } },
          secrets: { token: 'office-token' },
        },
        ctx,
      ),
    ).rejects.toMatchObject({ field: 'config.events.jwksUri' });
    await expect(
      hub.runtime.sources.create(
        platform,
        'emea',
        {
          name: 'no-issuer',
          kind: 'scim',
          config: { baseUrl: office.url, events: { jwksUri: jwksUrl } },
          secrets: { token: 'office-token' },
        },
        ctx,
      ),
    ).rejects.toMatchObject({ field: 'config.events.issuer' });
  });

  it('the CLI creates a source that takes events (--events-issuer, --events-jwks), and says when one is missing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meridian-source-events-'));
    try {
      const tokenFile = join(dir, 'office-token');
      await writeFile(tokenFile, 'office-token\n');
      const env = { MERIDIAN_OUTBOUND_ALLOW: '127.0.0.1', DATABASE_URL: hub.db.url, MERIDIAN_DATA_DIR: dir, LOG_LEVEL: 'silent' };
      const base = ['source', 'create', '--tenant', 'emea', '--kind', 'scim', '--url', office.url, '--token-file', tokenFile];
      const half = await runMeridian(env, [...base, '--events-issuer', ISSUER, '--name', 'half']);
      expect(half.code).not.toBe(0);
      expect(half.stderr).toContain('--events-jwks');
      const created = await runMeridian(env, [
        ...base,
        '--events-issuer',
        ISSUER,
        '--events-jwks',
        jwksUrl,
        '--name',
        'cli-events',
        '--json',
      ]);
      expect(created.code).toBe(0);
      expect(JSON.parse(created.stdout)).toMatchObject({ config: { baseUrl: office.url, events: { issuer: ISSUER, jwksUri: jwksUrl } } });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
