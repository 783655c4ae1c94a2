import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { scimConnectorFactory } from '@meridian/connector-scim';
import { type ConnectorFactory, memoryConnectorFactory } from '@meridian/connector-sdk';
import {
  type DirectoryCaller,
  MAX_REPLICATION_WAIT_SECONDS,
  MeridianError,
  OutboundRefusedError,
  principalOfRole,
  SCHEMA,
} from '@meridian/core';
import { OutboundHttp } from '@meridian/replication';
import { createTestDatabase, eventually, FakeScimTarget, type TestDatabase } from '@meridian/test-utils';
import { contextOf, type ReplicationHarness, replicationHarness } from './harness.js';

/** A SCIM client of the tenant: the caller the core's ResourceService authorizes (scim.read, scim.write). */
const scimCaller = (tenantId: string): DirectoryCaller => ({ principal: principalOfRole('provisioner', { tenantId }), api: 'scim' });

// Issue 12, "Outbound requests" and "Secrets stay with the destination": the hub's outbound request policy,
// with real HTTP servers on this machine standing in for the hub's own network, and a resolver standing in for DNS.

/** An "internal service": answers every request 500 with a body nobody outside may read, and counts what it got. */
interface InternalService {
  url: string;
  port: number;
  requests: { url: string; headers: IncomingHttpHeaders }[];
  close(): Promise<void>;
}

async function internalService(
  answer: (url: string) => { status: number; headers?: Record<string, string>; body: string } = () => ({
    status: 500,
    body: 'INTERNAL-ONLY: redis_password=hunter2',
  }),
): Promise<InternalService> {
  const requests: InternalService['requests'] = [];
  const server: Server = createServer((request, response) => {
    requests.push({ url: request.url ?? '', headers: request.headers });
    const { status, headers, body } = answer(request.url ?? '');
    response.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Plays DNS: each name answers its next list of addresses (the last one repeats); unknown names do not resolve. */
function fakeDns(records: Record<string, string[][]>) {
  const asked: string[] = [];
  const resolve = async (hostname: string): Promise<string[]> => {
    asked.push(hostname);
    const answers = records[hostname];
    if (!answers || answers.length === 0) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return (answers.length > 1 ? answers.shift() : answers[0]) as string[];
  };
  return { resolve, asked };
}

async function refusalOf(work: Promise<unknown>): Promise<OutboundRefusedError> {
  try {
    await work;
  } catch (error) {
    if (error instanceof OutboundRefusedError) return error;
    throw error;
  }
  throw new Error('expected the outbound request policy to refuse the request');
}

async function configErrorOf(work: Promise<unknown>): Promise<MeridianError> {
  try {
    await work;
  } catch (error) {
    if (error instanceof MeridianError) return error;
    throw error;
  }
  throw new Error('expected a MeridianError');
}

describe('the outbound fetch', () => {
  let internal: InternalService;
  let strict: OutboundHttp;
  beforeAll(async () => {
    internal = await internalService();
    strict = new OutboundHttp({
      resolve: fakeDns({ 'inward.example': [['127.0.0.1']], 'mixed.example': [['93.184.216.34', '10.0.0.7']] }).resolve,
    });
  });
  afterAll(async () => {
    await strict.close();
    await internal.close();
  });

  it.each([
    ['a loopback literal', (port: number) => `http://127.0.0.1:${port}/`, 'a loopback address (127.0.0.0/8)'],
    ['a decimal IPv4 literal', (port: number) => `http://2130706433:${port}/`, 'a loopback address'],
    ['an octal IPv4 literal', (port: number) => `http://0177.0.0.1:${port}/`, 'a loopback address'],
    ['a hex IPv4 literal', (port: number) => `http://0x7f.1:${port}/`, 'a loopback address'],
    ['a short IPv4 literal', (port: number) => `http://127.1:${port}/`, 'a loopback address'],
    ['an IPv4-mapped IPv6 literal', (port: number) => `http://[::ffff:127.0.0.1]:${port}/`, '::ffff:0:0/96 (127.0.0.0/8)'],
    ['a NAT64 literal', (port: number) => `http://[64:ff9b::7f00:1]:${port}/`, '64:ff9b::/96 (127.0.0.0/8)'],
    ['the IPv6 loopback', (port: number) => `http://[::1]:${port}/`, 'a loopback address (::1/128)'],
    ['localhost', (port: number) => `http://localhost:${port}/`, 'names the loopback interface'],
    [
      'a name that resolves to loopback',
      (port: number) => `http://inward.example:${port}/`,
      'inward.example (127.0.0.1) is a loopback address',
    ],
    [
      'a name with one private address among public ones',
      (port: number) => `http://mixed.example:${port}/`,
      'mixed.example (10.0.0.7) is a private address',
    ],
    ['the metadata service', () => 'http://169.254.169.254/latest/meta-data/', 'a link-local address (169.254.0.0/16)'],
    ['a file URL', () => 'file:///etc/passwd', 'only http and https URLs'],
  ])('refuses %s before any byte is sent', async (_name, url, why) => {
    const before = internal.requests.length;
    const refusal = await refusalOf(strict.fetch(url(internal.port)));
    expect(refusal.message).toContain("Refused by the hub's outbound request policy");
    expect(refusal.message).toContain(why);
    expect(internal.requests.length).toBe(before);
  });

  it('connects to the address it checked and keeps the name for the Host header', async () => {
    const { resolve, asked } = fakeDns({ 'scim.internal': [['127.0.0.1']] });
    const opened = new OutboundHttp({ allow: '127.0.0.1', resolve });
    try {
      const response = await opened.fetch(`http://scim.internal:${internal.port}/probe`);
      expect(response.status).toBe(500);
      expect(internal.requests.at(-1)).toMatchObject({ url: '/probe', headers: { host: `scim.internal:${internal.port}` } });
      expect(asked).toEqual(['scim.internal']);
    } finally {
      await opened.close();
    }
  });

  it('refuses a name that resolved outward when it was checked and inward when the request is made (DNS rebinding)', async () => {
    const { resolve } = fakeDns({ 'rebind.example': [['93.184.216.34'], ['127.0.0.1']] });
    const outbound = new OutboundHttp({ resolve });
    try {
      await expect(outbound.checkUrl(`http://rebind.example:${internal.port}/scim`, 'config.baseUrl')).resolves.toBeUndefined();
      const before = internal.requests.length;
      const refusal = await refusalOf(outbound.fetch(`http://rebind.example:${internal.port}/scim/Users`));
      expect(refusal).toMatchObject({ host: 'rebind.example', address: '127.0.0.1', addressClass: 'loopback' });
      expect(internal.requests.length).toBe(before);
    } finally {
      await outbound.close();
    }
  });

  it('follows no redirect: a 3xx comes back as it is, and its Location is never requested', async () => {
    const inner = await internalService();
    const redirecting = await internalService(() => ({
      status: 302,
      headers: { location: `http://localhost:${inner.port}/secret` },
      body: '',
    }));
    const opened = new OutboundHttp({ allow: '127.0.0.1' });
    try {
      const response = await opened.fetch(`${redirecting.url}/start`, { redirect: 'follow' });
      expect(response.status).toBe(302);
      expect(response.headers.get('location')).toBe(`http://localhost:${inner.port}/secret`);
      expect(inner.requests).toEqual([]);
    } finally {
      await opened.close();
      await redirecting.close();
      await inner.close();
    }
  });

  it('opens hosts and ranges of the allow-list, IPv4 and IPv6, and nothing else', async () => {
    const opened = new OutboundHttp({ allow: '10.0.0.0/8, fd00::/8, scim.internal' });
    try {
      await expect(opened.checkUrl('https://10.1.2.3/scim', 'config.baseUrl')).resolves.toBeUndefined();
      await expect(opened.checkUrl('https://[fd00::1]/scim', 'config.baseUrl')).resolves.toBeUndefined();
      await expect(opened.checkUrl('http://scim.internal/scim', 'config.baseUrl')).resolves.toBeUndefined();
      expect(await configErrorOf(opened.checkUrl('https://192.168.1.1/scim', 'config.baseUrl'))).toMatchObject({
        code: 'INVALID_CONFIG',
        field: 'config.baseUrl',
      });
    } finally {
      await opened.close();
    }
  });

  it('checks at create time: literal and inward names refused naming the field; a name that does not resolve now is left to connect time', async () => {
    const error = await configErrorOf(strict.checkUrl('http://[::1]:6379/', 'config.baseUrl'));
    expect(error).toMatchObject({ code: 'INVALID_CONFIG', field: 'config.baseUrl' });
    expect(error.message).toBe(
      "'config.baseUrl': Refused by the hub's outbound request policy: ::1 is a loopback address (::1/128); only public addresses are reachable unless MERIDIAN_OUTBOUND_ALLOW opens it.",
    );
    expect(await configErrorOf(strict.checkUrl('https://inward.example/jwks', 'jwksUri'))).toMatchObject({
      code: 'INVALID_CONFIG',
      field: 'jwksUri',
    });
    expect(await configErrorOf(strict.checkUrl('http://idp.example.com/jwks', 'jwksUri', { httpsOnly: true }))).toMatchObject({
      code: 'INVALID_CONFIG',
      field: 'jwksUri',
    });
    await expect(strict.checkUrl('https://nowhere.invalid/scim', 'config.baseUrl')).resolves.toBeUndefined();
  });
});

describe('targets under the outbound request policy', () => {
  let db: TestDatabase;
  let h: ReplicationHarness;
  let internal: InternalService;
  let csp: FakeScimTarget;
  let other: FakeScimTarget;
  // The fake CSPs listen on 127.0.0.1 and are reached through names the allow-list opens; 127.0.0.1 itself stays closed,
  // so the internal service on the same address is only reachable by a name that resolves there without being opened.
  const dns = fakeDns({
    'rebind.example': [['93.184.216.34'], ['127.0.0.1']],
    'csp.allowed.example': [['127.0.0.1']],
    'other.allowed.example': [['127.0.0.1']],
  });
  const named = (server: FakeScimTarget, host = 'csp.allowed.example') => server.url.replace('127.0.0.1', host);

  /** A connector kind whose secret is optional, bound to a URL in its config: the generic rule, seen in the audit log. */
  const hookFactory: ConnectorFactory<{ url: string }> = {
    kind: 'hook',
    description: 'test: a URL and an optional token',
    secretNames: ['token'],
    validateConfig(config: unknown) {
      const url = (config as { url?: unknown } | null)?.url;
      if (typeof url !== 'string' || !URL.canParse(url))
        throw new MeridianError('INVALID_CONFIG', "'url' is a URL.", { field: 'config.url' });
      return { url };
    },
    destinations: (config) => [{ field: 'config.url', url: config.url }],
    create: (_config, secrets, context) => memoryConnectorFactory.create({ target: 'hook' }, secrets, context),
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    internal = await internalService();
    csp = await FakeScimTarget.start({ token: 'csp-token' });
    other = await FakeScimTarget.start({ token: 'other-token' });
    const outbound = new OutboundHttp({ allow: 'csp.allowed.example, other.allowed.example', resolve: dns.resolve });
    h = await replicationHarness(db, undefined, undefined, {
      factories: [scimConnectorFactory as ConnectorFactory<unknown>, hookFactory as ConnectorFactory<unknown>],
      outbound,
    });
    await h.engine.start();
  });
  afterEach(async () => {
    await h.cleanup();
  });
  afterAll(async () => {
    await h.close();
    await h.engine.ctx.outbound.close();
    await csp.close();
    await other.close();
    await internal.close();
    await db.close();
  });

  it('refuses a target whose baseUrl is an inward address the allow-list does not open, naming config.baseUrl', async () => {
    const tenantId = await h.tenant();
    for (const baseUrl of [
      'http://10.0.0.5/scim',
      'http://[fd00::1]/scim',
      'http://169.254.169.254/',
      'http://0x7f.1/',
      'http://localhost:5432/',
      csp.url,
    ]) {
      const error = await configErrorOf(
        h.engine.targets.create(tenantId, { name: 'inward', kind: 'scim', config: { baseUrl }, secrets: { token: 't' } }, contextOf()),
      );
      expect(error).toMatchObject({ code: 'INVALID_CONFIG', field: 'config.baseUrl' });
      expect(error.message).toContain("Refused by the hub's outbound request policy");
    }
    expect(await h.engine.targets.list(tenantId)).toEqual([]);
  });

  it('dead-letters a delivery the policy refuses at send time at once, with a reason naming the policy and no response', async () => {
    const tenantId = await h.tenant();
    const target = await h.target(tenantId, 'unused', {
      name: 'rebinding',
      kind: 'scim',
      config: { baseUrl: `http://rebind.example:${internal.port}/scim` },
      secrets: { token: 'rebind-token' },
      maxAttempts: 5,
    });
    const user = await h.resources.create(
      scimCaller(tenantId),
      tenantId,
      'User',
      { schemas: [SCHEMA.user], userName: 'eve@example.org' },
      contextOf(),
    );
    const [letter] = await eventually(
      'a dead letter',
      async () => {
        const letters = await h.engine.deadLetters(tenantId);
        return letters.length > 0 ? letters : undefined;
      },
      { timeoutMs: 20_000 },
    );
    expect(letter).toMatchObject({
      targetId: target.id,
      localId: user.id,
      errorCode: 'OUTBOUND_REFUSED',
      response: null,
      reason: `Not sent: Refused by the hub's outbound request policy: rebind.example (127.0.0.1) is a loopback address (127.0.0.0/8); only public addresses are reachable unless MERIDIAN_OUTBOUND_ALLOW opens it.`,
    });
    expect(await h.store.getLink(target.id, 'User', user.id)).toMatchObject({ status: 'dead_lettered', attempts: 1 });
    expect(internal.requests).toEqual([]);
    expect(JSON.stringify(letter)).not.toContain('INTERNAL-ONLY');
    expect(JSON.stringify(letter)).not.toContain('rebind-token');

    const tested = await h.engine.targets.test(tenantId, target.id);
    expect(tested.ok).toBe(false);
    expect(tested.message).toContain("Refused by the hub's outbound request policy: rebind.example (127.0.0.1)");
    expect(internal.requests).toEqual([]);
  });

  it('refuses pushPasswords on a SCIM target that does not declare password support, at create and at update', async () => {
    const tenantId = await h.tenant();
    const base = { kind: 'scim', secrets: { token: 'csp-token' } };
    const refused = await configErrorOf(
      h.engine.targets.create(tenantId, { ...base, name: 'no-pw', config: { baseUrl: named(csp) }, pushPasswords: true }, contextOf()),
    );
    expect(refused).toMatchObject({ code: 'INVALID_CONFIG', field: 'pushPasswords' });
    expect(refused.message).toContain('supportsPassword');

    const plain = await h.target(tenantId, 'unused', { ...base, name: 'plain', config: { baseUrl: named(csp) } });
    expect(await configErrorOf(h.engine.targets.update(tenantId, plain.id, { pushPasswords: true }, contextOf()))).toMatchObject({
      code: 'INVALID_CONFIG',
      field: 'pushPasswords',
    });
    const withPasswords = await h.engine.targets.update(
      tenantId,
      plain.id,
      { pushPasswords: true, config: { baseUrl: named(csp), supportsPassword: true } },
      contextOf(),
    );
    expect(withPasswords.pushPasswords).toBe(true);
    // Turning password support off while passwords are pushed is the same combination.
    expect(
      await configErrorOf(
        h.engine.targets.update(tenantId, plain.id, { config: { baseUrl: named(csp), supportsPassword: false } }, contextOf()),
      ),
    ).toMatchObject({ code: 'INVALID_CONFIG', field: 'pushPasswords' });
  });

  it('drops stored secrets when the origin changes and says so in the audit entry; keeps them on the same origin', async () => {
    const tenantId = await h.tenant();
    const from = new URL(named(csp)).origin;
    const to = new URL(named(other)).origin;
    const hook = await h.target(tenantId, 'unused', {
      name: 'hook',
      kind: 'hook',
      config: { url: `${named(csp)}/a` },
      secrets: { token: 's3cret' },
    });
    const samePlace = await h.engine.targets.update(tenantId, hook.id, { config: { url: `${named(csp)}/b` } }, contextOf('same-origin'));
    expect(samePlace.secretNames).toEqual(['token']);
    const moved = await h.engine.targets.update(tenantId, hook.id, { config: { url: `${named(other)}/a` } }, contextOf('moved'));
    expect(moved.secretNames).toEqual([]);
    // A scheme change is a change of origin too; secrets given with the change go along.
    const https = `${named(other).replace('http:', 'https:')}/a`;
    const again = await h.engine.targets.update(
      tenantId,
      hook.id,
      { config: { url: https }, secrets: { token: 'new-s3cret' } },
      contextOf('with-secret'),
    );
    expect(again.secretNames).toEqual(['token']);
    const audit = await db.query<{ request_id: string; diff: { after: Record<string, unknown> } }>(
      "select request_id, diff from audit_event where action = 'target.updated' and resource_id = $1 order by seq",
      [hook.id],
    );
    expect(audit.map((a) => [a.request_id, a.diff.after.originChange])).toEqual([
      ['same-origin', undefined],
      ['moved', { from: [from], to: [to], dropped: ['token'] }],
      ['with-secret', { from: [to], to: [new URL(https).origin], dropped: [] }],
    ]);
    expect(JSON.stringify(audit)).not.toContain('s3cret');
  });

  it('never sends a SCIM target’s token to a new origin: the move needs the token again, and the new origin only ever sees the new one', async () => {
    const tenantId = await h.tenant();
    const target = await h.target(tenantId, 'unused', {
      name: 'csp',
      kind: 'scim',
      config: { baseUrl: named(csp) },
      secrets: { token: 'csp-token' },
    });
    const refused = await configErrorOf(h.engine.targets.update(tenantId, target.id, { config: { baseUrl: named(other) } }, contextOf()));
    expect(refused).toMatchObject({ code: 'INVALID_CONFIG', field: 'secrets.token' });
    expect(refused.message).toContain('its stored secrets (token) stay with the old one. Give them again in the same change.');
    expect((await h.engine.targets.test(tenantId, target.id)).ok).toBe(true);
    expect(other.requests).toEqual([]);

    await h.engine.targets.update(
      tenantId,
      target.id,
      { config: { baseUrl: named(other) }, secrets: { token: 'other-token' } },
      contextOf(),
    );
    expect((await h.engine.targets.test(tenantId, target.id)).ok).toBe(true);
    expect(other.requests.length).toBeGreaterThan(0);
    expect(other.requests.every((r) => r.headers.authorization === 'Bearer other-token')).toBe(true);
    // Another host name of the same address and port is a new origin as well.
    expect(
      await configErrorOf(
        h.engine.targets.update(tenantId, target.id, { config: { baseUrl: named(other, 'other.allowed.example') } }, contextOf()),
      ),
    ).toMatchObject({ code: 'INVALID_CONFIG', field: 'secrets.token' });
  });

  it(`takes a wait policy of at most ${MAX_REPLICATION_WAIT_SECONDS} s, the longest a write waits`, async () => {
    const tenantId = await h.tenant();
    expect(await h.engine.setWaitPolicy(tenantId, MAX_REPLICATION_WAIT_SECONDS, contextOf())).toBe(30);
    for (const seconds of [31, 300, -1, 1.5]) {
      const error = await configErrorOf(h.engine.setWaitPolicy(tenantId, seconds, contextOf()));
      expect(error).toMatchObject({ code: 'INVALID_INPUT', field: 'waitSeconds' });
      expect(error.message).toBe(
        'The wait policy is a whole number of seconds from 0 to 30 (the longest a write waits for its deliveries).',
      );
    }
    expect(await h.engine.waitPolicy(tenantId)).toBe(30);
  });
});
