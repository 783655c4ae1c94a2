import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FakeScimTarget } from '@meridian/test-utils';
import { scimClient } from '@meridian/test-utils/apps';
import { generateKeyPair, SignJWT } from 'jose';
import { openTrustedIssuers } from '../src/auth/trusted-issuers.js';
import { ConfigError, loadConfig } from '../src/config/config.js';
import { openRuntime, type Runtime } from '../src/runtime/runtime.js';
import { type HubHarness, startHub } from './harness.js';

// Issue 12: the outbound request policy through GraphQL (docs/security.md, "Outbound requests"), and the rule that a
// target's stored secrets stay with the origin they were given for ("Secrets stay with their destination").

// biome-ignore lint/suspicious/noExplicitAny: GraphQL answers are checked field by field.
type Gql = { data?: Record<string, any>; errors?: { message: string; extensions: Record<string, unknown> }[] };
const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
const ctx = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };

function gqlOf(hub: () => HubHarness) {
  return async (token: string, query: string, variables?: Record<string, unknown>): Promise<Gql> => {
    const res = await hub().app.inject({
      method: 'POST',
      url: '/graphql',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      payload: JSON.stringify({ query, variables }),
    });
    return JSON.parse(res.body) as Gql;
  };
}

const CREATE = 'mutation($input: ReplicationTargetInput!) { createReplicationTarget(tenant: "emea", input: $input) { id secretNames } }';

describe('the outbound request policy through GraphQL (no allow-list)', () => {
  let hub: HubHarness;
  let internal: Server;
  let internalPort: number;
  let internalRequests = 0;
  const gql = gqlOf(() => hub);

  beforeAll(async () => {
    // An internal service that would tell whoever asks something private, in an error answer.
    internal = createServer((_request, response) => {
      internalRequests++;
      response.writeHead(500, { 'content-type': 'text/plain' }).end('INTERNAL-ONLY: postgres password is hunter2');
    });
    await new Promise<void>((resolve) => internal.listen(0, '127.0.0.1', resolve));
    internalPort = (internal.address() as AddressInfo).port;
    hub = await startHub();
  });
  afterAll(async () => {
    await hub.close();
    await new Promise<void>((resolve) => internal.close(() => resolve()));
  });

  it.each([
    'http://127.0.0.1:5432/scim',
    'http://[::1]:6379/scim',
    'http://10.0.0.5/scim',
    'http://172.16.4.4/scim',
    'http://192.168.0.1/scim',
    'http://100.64.0.1/scim',
    'http://169.254.169.254/latest/meta-data',
    'http://0.0.0.0:4000/scim',
    'http://2130706433/scim',
    'http://0177.0.0.1/scim',
    'http://0x7f.1/scim',
    'http://localhost:4000/scim',
    'http://[::ffff:127.0.0.1]/scim',
    'http://[::ffff:a9fe:a9fe]/scim',
    'http://[64:ff9b::a00:1]/scim',
    'http://[2002:c0a8:101::1]/scim',
    'http://[fd00::1]/scim',
    'http://[fe80::1]/scim',
    'http://[::]/scim',
    'http://224.0.0.1/scim',
    'http://255.255.255.255/scim',
  ])('refuses a target at %s with INVALID_CONFIG naming config.baseUrl', async (baseUrl) => {
    const res = await gql(hub.tenants.emea.token, CREATE, {
      input: { name: 'inward', kind: 'scim', config: { baseUrl }, secrets: { token: 'platform-secret' } },
    });
    expect(res.errors?.[0]?.extensions).toEqual({ code: 'INVALID_CONFIG', field: 'config.baseUrl' });
    expect(res.errors?.[0]?.message).toMatch(
      /^'config\.baseUrl': Refused by the hub's outbound request policy: .* only public addresses are reachable unless MERIDIAN_OUTBOUND_ALLOW opens it\.$/,
    );
    expect(res.data?.createReplicationTarget ?? null).toBeNull();
  });

  it('refuses moving an existing target inward, and a directory export at an inward address', async () => {
    const created = await gql(hub.adminToken, CREATE, {
      input: { name: 'public', kind: 'scim', config: { baseUrl: 'https://csp.invalid/scim/v2' }, secrets: { token: 'platform-secret' } },
    });
    expect(created.errors).toBeUndefined();
    const moved = await gql(
      hub.tenants.emea.token,
      'mutation($input: ReplicationTargetInput!) { updateReplicationTarget(tenant: "emea", target: "public", input: $input) { id } }',
      { input: { config: { baseUrl: `http://127.0.0.1:${internalPort}/scim` }, secrets: { token: 'x' } } },
    );
    expect(moved.errors?.[0]?.extensions).toEqual({ code: 'INVALID_CONFIG', field: 'config.baseUrl' });

    const exported = await gql(
      hub.adminToken,
      'mutation($input: DirectoryExportInput!) { createDirectoryExport(community: "coi", input: $input) { id } }',
      { input: { name: 'inward', kind: 'scim', config: { baseUrl: 'http://169.254.169.254/scim' }, secrets: { token: 'x' } } },
    );
    expect(exported.errors?.[0]?.extensions).toEqual({ code: 'INVALID_CONFIG', field: 'config.baseUrl' });
    expect(exported.errors?.[0]?.message).toContain('169.254.169.254 is a link-local address (169.254.0.0/16)');
    expect(internalRequests).toBe(0);
  });

  it("dead-letters a push refused at send time with a reason naming the policy: regression for 'the internal service's answer read back through deadLetters { response }'", async () => {
    // A target made while an operator had opened 127.0.0.1 (another hub process on the same database, with the allow-list);
    // this hub, without it, must not deliver there.
    const opened: Runtime = await openRuntime(loadConfig({ DATABASE_URL: hub.db.url, MERIDIAN_OUTBOUND_ALLOW: '127.0.0.1' }), 'client');
    try {
      await opened.replication.targets.create(
        hub.tenants.emea.id,
        {
          name: 'internal',
          kind: 'scim',
          config: { baseUrl: `http://127.0.0.1:${internalPort}/scim` },
          secrets: { token: 'platform-secret' },
        },
        ctx,
      );
    } finally {
      await opened.close();
    }
    const tested = await gql(
      hub.tenants.emea.token,
      'mutation { testReplicationTarget(tenant: "emea", target: "internal") { ok message } }',
    );
    expect(tested.data?.testReplicationTarget).toEqual({
      ok: false,
      message: `SCIM target not contacted on GET /ServiceProviderConfig: Refused by the hub's outbound request policy: 127.0.0.1 is a loopback address (127.0.0.0/8); only public addresses are reachable unless MERIDIAN_OUTBOUND_ALLOW opens it.`,
    });

    await hub.runtime.replication.start();
    try {
      const scim = scimClient(() => hub.app);
      const user = await scim('POST', '/Users', {
        token: hub.tenants.emea.token,
        body: { userName: 'mallory@emea' },
        headers: { prefer: 'wait=10' },
      });
      expect(user.status).toBe(201);
      const letters = await gql(
        hub.tenants.emea.token,
        '{ tenant(slug: "emea") { deadLetters(target: "internal") { localId operation errorCode reason request response } } }',
      );
      expect(letters.errors).toBeUndefined();
      const [letter] = letters.data?.tenant.deadLetters ?? [];
      expect(letter).toMatchObject({
        localId: user.body.id,
        errorCode: 'OUTBOUND_REFUSED',
        response: null,
        reason:
          "Not sent: Refused by the hub's outbound request policy: 127.0.0.1 is a loopback address (127.0.0.0/8); only public addresses are reachable unless MERIDIAN_OUTBOUND_ALLOW opens it.",
      });
      expect(JSON.stringify(letters)).not.toContain('INTERNAL-ONLY');
      expect(JSON.stringify(letters)).not.toContain('platform-secret');
    } finally {
      await hub.runtime.replication.stop();
    }
    expect(internalRequests).toBe(0);
  });

  it('fails a directory export push the policy refuses, with its reason and without retrying, and the internal service gets nothing', async () => {
    const opened: Runtime = await openRuntime(loadConfig({ DATABASE_URL: hub.db.url, MERIDIAN_OUTBOUND_ALLOW: '127.0.0.1' }), 'client');
    try {
      await opened.replication.directoryExports?.create(
        platform,
        'coi',
        { name: 'internal-export', kind: 'scim', config: { baseUrl: `http://127.0.0.1:${internalPort}/scim` }, secrets: { token: 'x' } },
        ctx,
      );
    } finally {
      await opened.close();
    }
    const scim = scimClient(() => hub.app);
    expect((await scim('POST', '/Users', { token: hub.tenants.emea.token, body: { userName: 'exported@emea' } })).status).toBe(201);
    await hub.runtime.replication.relay.drain();
    await hub.runtime.replication.projector?.drain();
    await hub.runtime.replication.directoryExports?.exporter.drain();
    const links = await hub.db.query<{ status: string; attempts: number; last_error: string }>(
      "select l.status, l.attempts, l.last_error from directory_export_link l join directory_export e on e.id = l.export_id where e.name = 'internal-export'",
    );
    expect(links.length).toBeGreaterThan(0);
    for (const link of links) {
      expect(link.status).toBe('failed');
      expect(link.last_error).toBe(
        "Not sent: Refused by the hub's outbound request policy: 127.0.0.1 is a loopback address (127.0.0.0/8); only public addresses are reachable unless MERIDIAN_OUTBOUND_ALLOW opens it.",
      );
    }
    expect(internalRequests).toBe(0);
  });

  it('never fetches a JWKS the policy refuses, even for an issuer stored while its host was opened', async () => {
    const keys = await generateKeyPair('ES256');
    let jwksRequests = 0;
    const jwks = createServer((_request, response) => {
      jwksRequests++;
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":[]}');
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}`;
    const opened: Runtime = await openRuntime(loadConfig({ DATABASE_URL: hub.db.url, MERIDIAN_OUTBOUND_ALLOW: '127.0.0.1' }), 'client');
    try {
      await openTrustedIssuers(opened).service.add(
        platform,
        { tenant: 'emea', issuer: `${base}/idp`, audience: 'meridian', jwksUri: `${base}/jwks`, algorithms: 'ES256' },
        ctx,
      );
      const token = await new SignJWT({ roles: ['provisioner'] })
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setIssuer(`${base}/idp`)
        .setAudience('meridian')
        .setSubject('robot')
        .setExpirationTime('5m')
        .sign(keys.privateKey);
      expect(await openTrustedIssuers(hub.runtime).verifyJwt(token)).toMatchObject({ ok: false, reason: 'JWKS_UNAVAILABLE' });
      expect(jwksRequests).toBe(0);
      // The same issuer added on this hub is refused outright.
      const refused = await openTrustedIssuers(hub.runtime)
        .service.add(platform, { tenant: 'emea', issuer: `${base}/idp`, audience: 'other', jwksUri: `${base}/jwks` }, ctx)
        .catch((error: unknown) => error);
      expect(refused).toMatchObject({ code: 'INVALID_CONFIG', field: 'jwksUri' });
    } finally {
      await opened.close();
      await new Promise<void>((resolve) => jwks.close(() => resolve()));
    }
  });

  it('refuses a malformed MERIDIAN_OUTBOUND_ALLOW at start, naming the entry', () => {
    expect(() => loadConfig({ MERIDIAN_OUTBOUND_ALLOW: '127.0.0.1, http://scim.internal' })).toThrow(ConfigError);
    expect(() => loadConfig({ MERIDIAN_OUTBOUND_ALLOW: '10.0.0.0/40' })).toThrow(
      "MERIDIAN_OUTBOUND_ALLOW: MERIDIAN_OUTBOUND_ALLOW: '10.0.0.0/40' has a prefix longer than 32.",
    );
  });
});

describe('secrets stay with their destination, through GraphQL', () => {
  let hub: HubHarness;
  let office: string;
  let csp: FakeScimTarget;
  let elsewhere: FakeScimTarget;
  const gql = gqlOf(() => hub);
  const UPDATE =
    'mutation($input: ReplicationTargetInput!) { updateReplicationTarget(tenant: "emea", target: "csp", input: $input) { secretNames config } }';

  beforeAll(async () => {
    // The fake targets listen on 127.0.0.1: the allow-list opens it, as for hub-to-hub on one machine.
    hub = await startHub({ env: { MERIDIAN_OUTBOUND_ALLOW: '127.0.0.1' } });
    office = (await hub.runtime.admin.issueToken(platform, { tenant: 'emea', role: 'office_admin' }, ctx)).token;
    csp = await FakeScimTarget.start({ token: 'platform-secret' });
    elsewhere = await FakeScimTarget.start({ token: 'office-secret' });
  });
  afterAll(async () => {
    await hub.close();
    await csp.close();
    await elsewhere.close();
  });

  it("never sends the stored token to a baseUrl an office admin changed: regression for 'the secret went to the new URL'", async () => {
    const created = await gql(hub.adminToken, CREATE, {
      input: { name: 'csp', kind: 'scim', config: { baseUrl: csp.url }, secrets: { token: 'platform-secret' } },
    });
    expect(created.errors).toBeUndefined();

    const moved = await gql(office, UPDATE, { input: { config: { baseUrl: elsewhere.url } } });
    expect(moved.errors?.[0]?.extensions).toEqual({ code: 'INVALID_CONFIG', field: 'secrets.token' });
    expect(moved.errors?.[0]?.message).toBe(
      `The target moves to another destination (${new URL(elsewhere.url).origin}): its stored secrets (token) stay with the old one. Give them again in the same change.`,
    );
    const tested = await gql(office, 'mutation { testReplicationTarget(tenant: "emea", target: "csp") { ok } }');
    expect(tested.data?.testReplicationTarget).toEqual({ ok: true });
    expect(elsewhere.requests).toEqual([]);
    expect(csp.requests.every((r) => r.headers.authorization === 'Bearer platform-secret')).toBe(true);

    // A new path on the same origin keeps the token.
    const samePlace = await gql(office, UPDATE, { input: { config: { baseUrl: `${csp.url}/` } } });
    expect(samePlace.data?.updateReplicationTarget.secretNames).toEqual(['token']);

    // Moving with the new destination's own token works; the old token never reaches it.
    const withToken = await gql(office, UPDATE, { input: { config: { baseUrl: elsewhere.url }, secrets: { token: 'office-secret' } } });
    expect(withToken.errors).toBeUndefined();
    expect(
      (await gql(office, 'mutation { testReplicationTarget(tenant: "emea", target: "csp") { ok } }')).data?.testReplicationTarget,
    ).toEqual({
      ok: true,
    });
    expect(elsewhere.requests.length).toBeGreaterThan(0);
    expect(elsewhere.requests.every((r) => r.headers.authorization === 'Bearer office-secret')).toBe(true);
  });

  it(`refuses pushPasswords on a SCIM target without password support: regression for 'passwords dropped while reporting synced'`, async () => {
    const res = await gql(hub.adminToken, CREATE, {
      input: {
        name: 'no-passwords',
        kind: 'scim',
        config: { baseUrl: csp.url },
        secrets: { token: 'platform-secret' },
        pushPasswords: true,
      },
    });
    expect(res.errors?.[0]?.extensions).toEqual({ code: 'INVALID_CONFIG', field: 'pushPasswords' });
    expect(res.errors?.[0]?.message).toBe(
      "'pushPasswords' needs a connector that accepts passwords; this scim target is not configured to (for scim: config.supportsPassword: true).",
    );
  });

  it("takes a wait policy up to the one limit and refuses more at set time: regression for 'a 300 s policy accepted while writes waited 30 s'", async () => {
    const set = (seconds: number) => gql(office, `mutation { setReplicationWaitSeconds(tenant: "emea", seconds: ${seconds}) }`);
    expect((await set(30)).data?.setReplicationWaitSeconds).toBe(30);
    const refused = await set(300);
    expect(refused.errors?.[0]?.extensions).toEqual({ code: 'INVALID_INPUT', field: 'waitSeconds' });
    expect(refused.errors?.[0]?.message).toBe(
      'The wait policy is a whole number of seconds from 0 to 30 (the longest a write waits for its deliveries).',
    );
  });
});
