import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from '@jest/globals';
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import type { HubHarness } from './harness.js';

// A Shared Signals receiver written from the RFCs, for the ssf-* tests (issue 17): it verifies every SET
// against the community's JWKS (RFC 8417 §5: typ secevent+jwt, the issuer, its audience).

/** A verified SET's claims. */
export interface ReceivedSet {
  jti: string;
  txn: string;
  iss: string;
  aud: string | string[];
  iat: number;
  sub_id: Record<string, unknown>;
  events: Record<string, Record<string, unknown>>;
}

/** Verifies a SET with jose against the hub's published JWKS of the community. */
export async function verifySet(hub: HubHarness, token: string, audience: string, slug = 'coi'): Promise<ReceivedSet> {
  const jwks = await hub.app.inject({ method: 'GET', url: `/oidc/${slug}/jwks` });
  expect(jwks.statusCode).toBe(200);
  const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks.json() as JSONWebKeySet), {
    issuer: `https://hub.test/oidc/${slug}`,
    audience,
    typ: 'secevent+jwt',
    algorithms: ['RS256'],
  });
  expect(protectedHeader.kid).toEqual(expect.any(String));
  expect(payload).toEqual(expect.objectContaining({ jti: expect.any(String), iat: expect.any(Number), txn: expect.any(String) }));
  return payload as unknown as ReceivedSet;
}

/** A JSON request to the hub with a bearer token. */
export async function call(
  hub: HubHarness,
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
  url: string,
  token: string | undefined,
  payload?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await hub.app.inject({
    method,
    url,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
  });
  return { status: res.statusCode, body: res.body === '' ? {} : (res.json() as Record<string, unknown>) };
}

/** Polls once without waiting (RFC 8936), acknowledging `ack`; answers the verified SETs in the order given. */
export async function poll(
  hub: HubHarness,
  streamId: string,
  token: string,
  audience: string,
  ack: string[] = [],
): Promise<{ sets: ReceivedSet[]; moreAvailable: boolean }> {
  const res = await call(hub, 'POST', `/oidc/coi/ssf/poll/${streamId}`, token, { returnImmediately: true, maxEvents: 100, ack });
  expect(res.status).toBe(200);
  const sets = await Promise.all(Object.values(res.body.sets as Record<string, string>).map((t) => verifySet(hub, t, audience)));
  // The store hands SETs out oldest first; the JSON object keeps that order.
  return { sets, moreAvailable: res.body.moreAvailable as boolean };
}

/** Lets the outbox reach the streams: relay and directory projection, then the stream producer. */
export async function settle(hub: HubHarness): Promise<void> {
  await hub.runtime.replication.relay.drain();
  await hub.runtime.replication.projector?.drain();
  await hub.runtime.streams.drain();
}

/** A push endpoint (RFC 8935) on this machine: answers what `answer` says, and keeps what it was sent. */
export async function pushReceiver(answer: (n: number) => { status: number; headers?: Record<string, string>; body?: string }): Promise<{
  url: string;
  received: { contentType: string | undefined; authorization: string | undefined; token: string }[];
  close(): Promise<void>;
}> {
  const received: { contentType: string | undefined; authorization: string | undefined; token: string }[] = [];
  let n = 0;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const reply = answer(n++);
      if (reply.status === 202) {
        received.push({ contentType: req.headers['content-type'], authorization: req.headers.authorization, token: body });
      }
      res.writeHead(reply.status, reply.headers ?? {}).end(reply.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/events`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A client-credentials access token of a relying party (RFC 6749 §4.4) from the community's token endpoint. */
export async function clientToken(hub: HubHarness, clientId: string, secret: string): Promise<string> {
  const res = await hub.app.inject({
    method: 'POST',
    url: '/oidc/coi/token',
    headers: {
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    payload: 'grant_type=client_credentials',
  });
  expect(res.statusCode).toBe(200);
  return (res.json() as { access_token: string }).access_token;
}
