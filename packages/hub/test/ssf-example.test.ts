import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { STREAM_EVENT } from '@meridian/core';
import { type HubHarness, startHub } from './harness.js';
import { settle } from './ssf-harness.js';

// Issue 17, "Checked by": the receiver of examples/ssf-receiver (written from the RFCs, Node's built-ins only),
// run as docs/events.md says against a listening hub, subscribes to one department's email changes, sees an event
// for exactly those changes and none for others, and pulls the changed person with its own credentials.

const run = promisify(execFile);
const receiverScript = fileURLToPath(new URL('../../../examples/ssf-receiver/receiver.mjs', import.meta.url));
const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
const ctx = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

let hub: HubHarness;
let origin: string;
let rp: { clientId: string; secret: string };

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function scim(method: 'POST' | 'PATCH', url: string, body: unknown): Promise<{ id: string }> {
  const res = await hub.app.inject({
    method,
    url: `/scim/v2${url}`,
    headers: { authorization: `Bearer ${hub.tenants.emea.token}`, 'content-type': 'application/scim+json' },
    payload: JSON.stringify(body),
  });
  expect(res.statusCode).toBeLessThan(300);
  return res.json() as { id: string };
}

const patch = (id: string, path: string, value: unknown) =>
  scim('PATCH', `/Users/${id}`, {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
    Operations: [{ op: 'replace', path, value }],
  });

async function receiver(env: Record<string, string>): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [receiverScript], {
    env: { ...process.env, ISSUER: `${origin}/oidc/coi`, CLIENT_ID: rp.clientId, CLIENT_SECRET: rp.secret, ONCE: '1', ...env },
  });
}

beforeAll(async () => {
  const port = await freePort();
  origin = `http://127.0.0.1:${port}`;
  hub = await startHub({ env: { MERIDIAN_PUBLIC_URL: origin } });
  await hub.app.listen({ port, host: '127.0.0.1' });
  const made = await hub.runtime.relyingParties.create(
    platform,
    {
      community: 'coi',
      name: 'Sales wiki',
      redirectUris: ['https://wiki.example/cb'],
      claims: 'email,department',
      consent: 'implicit',
      clientCredentials: true,
    },
    ctx,
  );
  rp = { clientId: made.relyingParty.clientId, secret: made.clientSecret ?? '' };
}, 120_000);

afterAll(async () => {
  await hub?.close();
});

describe('examples/ssf-receiver', () => {
  it('hears exactly the Sales email changes of people who consented, and pulls them', async () => {
    const ann = await scim('POST', '/Users', {
      userName: 'ann@emea.example',
      emails: [{ value: 'ann@emea.example' }],
      [ENTERPRISE]: { department: 'Sales' },
    });
    const bob = await scim('POST', '/Users', {
      userName: 'bob@emea.example',
      emails: [{ value: 'bob@emea.example' }],
      [ENTERPRISE]: { department: 'HR' },
    });
    await settle(hub);
    const community = await hub.runtime.adminStore.findCommunity('coi');
    const provider = await hub.runtime.streams.providers.get('coi');
    if (!provider) throw new Error('The community has no provider.');
    for (const userName of ['ann@emea.example', 'bob@emea.example']) {
      const [account] = await hub.runtime.sso.accounts.loginAccounts(community?.id as string, userName);
      const personId = account?.personId as string;
      // What signing in and consenting leaves behind: the grant and the release in the ledger.
      const grant = new (
        provider.provider.Grant as unknown as new (p: {
          accountId: string;
          clientId: string;
        }) => {
          addOIDCScope(s: string): void;
          addOIDCClaims(c: string[]): void;
          save(): Promise<string>;
        }
      )({ accountId: personId, clientId: rp.clientId });
      grant.addOIDCScope('openid email organization');
      grant.addOIDCClaims(['email', 'department']);
      await grant.save();
      await hub.runtime.sso.accounts.recordRelease(
        community?.id as string,
        {
          clientId: rp.clientId,
          personId,
          tenantId: hub.tenants.emea.id,
          claims: ['email', 'department'],
          maxCacheSeconds: 3600,
          use: 'id_token',
        },
        ctx,
      );
    }

    const first = await receiver({});
    const streamId = /stream ([0-9a-f-]{36})/.exec(first.stderr)?.[1] as string;
    expect(streamId).toEqual(expect.any(String));
    expect(first.stdout).toBe('');

    await patch(ann.id, 'emails', [{ value: 'ann@sales.example' }]); // told
    await patch(ann.id, 'title', 'Lead'); // not an email change
    await patch(bob.id, 'emails', [{ value: 'bob@hr.example' }]); // not Sales
    await settle(hub);

    const second = await receiver({ STREAM_ID: streamId });
    const lines = second.stdout
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as { type: string; payload: { attributes: string[] }; subject: { sub: string }; current: Record<string, unknown> },
      );
    expect(lines).toHaveLength(1);
    expect(lines[0]?.type).toBe(STREAM_EVENT.patchNotice);
    expect(lines[0]?.payload.attributes).toEqual(['emails']);
    expect(lines[0]?.current).toEqual(
      expect.objectContaining({ id: lines[0]?.subject.sub, emails: [expect.objectContaining({ value: 'ann@sales.example' })] }),
    );
    // Acknowledged: nothing is handed out again.
    expect((await receiver({ STREAM_ID: streamId })).stdout).toBe('');
  });
});
