import type { AsyncMethod, AsyncWriteResult } from '@meridian/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * Asynchronous SCIM requests (RFC 9967 §2.5.1 and §3, use case 2.3.1),
 * through core's AsyncResponder; the hub passes its transmitter's.
 */
export interface AsyncResponseOptions {
  /**
   * Records request `requestId` before its write runs; answers an id, or
   * undefined when the token has no stream asking for `misc:asyncresp` (the
   * preference is then ignored and the write answers as usual).
   */
  begin(tenantId: string, tokenId: string, requestId: string, method: AsyncMethod): Promise<string | undefined>;
  accept(id: string, result: AsyncWriteResult): Promise<void>;
  abandon(id: string): Promise<void>;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The asynchronous request recorded for this write (`Prefer: respond-async` honoured). */
    scimAsync?: string;
  }
}

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** Users and Groups, created at the collection or changed by id; Bulk and /Me answer synchronously. */
const RESOURCE = /^\/(Users|Groups)(?:\/([^/?]+))?\/?(?:\?|$)/;

/** RFC 7240 §4.1: whether `respond-async` is among the preferences (in one or more `Prefer` headers). */
function prefersAsync(header: string | string[] | undefined): boolean {
  if (header === undefined) return false;
  return (Array.isArray(header) ? header : [header]).some((value) =>
    value.split(',').some((preference) => /^\s*respond-async\s*(;.*)?$/i.test(preference)),
  );
}

function headerText(reply: FastifyReply, name: string): string | undefined {
  const value = reply.getHeader(name);
  return typeof value === 'string' ? value : undefined;
}

/** What the synchronous answer said: the resource, its location and ETag. */
function resultOf(
  request: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
  prefix: string,
  baseUrl: string,
): AsyncWriteResult | undefined {
  const match = RESOURCE.exec(request.url.slice(prefix.length));
  if (!match) return undefined;
  const kind = match[1] === 'Users' ? 'User' : 'Group';
  let id = match[2] !== undefined ? decodeURIComponent(match[2]) : undefined;
  let location = headerText(reply, 'location');
  if (typeof payload === 'string' && payload !== '') {
    try {
      const body = JSON.parse(payload) as { id?: unknown; meta?: { location?: unknown } };
      if (typeof body.id === 'string') id ??= body.id;
      if (typeof body.meta?.location === 'string') location ??= body.meta.location;
    } catch {
      // Not JSON: the URL names the resource.
    }
  }
  if (id === undefined) return undefined;
  return {
    status: reply.statusCode,
    kind,
    resourceId: id,
    location: location ?? `${baseUrl.replace(/\/+$/, '')}/${match[1]}/${encodeURIComponent(id)}`,
    version: request.method === 'DELETE' ? null : (headerText(reply, 'etag') ?? null),
  };
}

/**
 * `Prefer: respond-async` (RFC 7240 §4.1) on a write of a User or Group: when
 * the token has a stream asking for `misc:asyncresp`, the request is recorded
 * before the write, the write commits as usual, and the answer is `202
 * Accepted` with no body, `Preference-Applied: respond-async`, `Set-Txn` (the
 * request id, the `txn` of the asynchronous response SET, RFC 9967 §3) and
 * `Location` (the resource). An error is answered as usual, synchronously,
 * and nothing follows. Without such a stream the preference is ignored.
 */
export function registerPreferAsync(app: FastifyInstance, options: AsyncResponseOptions, baseUrl: string): void {
  app.addHook('preHandler', async (request) => {
    if (!WRITES.has(request.method) || !prefersAsync(request.headers.prefer)) return;
    if (!RESOURCE.test(request.url.slice(app.prefix.length))) return;
    const principal = request.scimPrincipal;
    if (!principal) return;
    const id = await options.begin(principal.tenantId, principal.tokenId, request.id, request.method as AsyncMethod);
    if (id !== undefined) request.scimAsync = id;
  });
  app.addHook('onSend', async (request, reply, payload) => {
    const id = request.scimAsync;
    if (id === undefined) return payload;
    const result = reply.statusCode >= 200 && reply.statusCode < 300 ? resultOf(request, reply, payload, app.prefix, baseUrl) : undefined;
    if (result === undefined) {
      await options.abandon(id);
      return payload;
    }
    try {
      await options.accept(id, result);
    } catch (error) {
      // The write committed: the transmitter recovers the request from the outbox by its id, so the 202 still holds.
      request.log.warn({ err: error }, 'recording an asynchronous SCIM request failed; it is recovered from the outbox');
    }
    reply.code(202);
    reply.removeHeader('content-type');
    reply.header('preference-applied', 'respond-async');
    reply.header('set-txn', request.id);
    reply.header('location', result.location);
    return '';
  });
}
