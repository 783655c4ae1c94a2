import {
  DELIVERY_POLL,
  DELIVERY_PUSH,
  EVENTS_SUPPORTED,
  type EventStream,
  eventsDelivered,
  isMeridianError,
  type PollRequest,
  type RequestContext,
  type StreamCaller,
} from '@meridian/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { HubConfig } from '../config/config.js';
import type { Runtime } from '../runtime/runtime.js';
import type { Authenticate } from './authenticator.js';
import { audienceOf } from './ssf-engine.js';

/** RFC 8936 §2.4: at most this many SETs per poll, and a long poll waits at most this long. */
const MAX_EVENTS = 1000;
const LONG_POLL_MS = 25_000;

const STATUS_OF_CODE: Record<string, number> = {
  INVALID_INPUT: 400,
  INVALID_SYNTAX: 400,
  INVALID_FILTER: 400,
  INVALID_PATH: 400,
  INVALID_CONFIG: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  FORBIDDEN: 403,
  UNAUTHENTICATED: 401,
  TOO_MANY: 400,
  PAYLOAD_TOO_LARGE: 413,
};

type Params = { slug: string };

/** The stream configuration on the wire (SSF 1.0 §8.1.1), with Meridian's `filter` and `attributes` (use case 3.6). */
function configOf(stream: EventStream, issuer: string, pollUrl: string): Record<string, unknown> {
  return {
    stream_id: stream.id,
    iss: issuer,
    aud: audienceOf(stream, issuer),
    events_supported: EVENTS_SUPPORTED,
    events_requested: stream.eventsRequested,
    events_delivered: eventsDelivered(stream),
    delivery:
      stream.delivery.method === 'poll'
        ? { method: DELIVERY_POLL, endpoint_url: pollUrl }
        : { method: DELIVERY_PUSH, endpoint_url: stream.delivery.endpointUrl },
    ...(stream.description === null ? {} : { description: stream.description }),
    filter: stream.filter,
    attributes: stream.attributes,
  };
}

function body(request: FastifyRequest): Record<string, unknown> {
  const value = request.body;
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function fail(reply: FastifyReply, status: number, error: string, description: string): FastifyReply {
  return reply.code(status).header('cache-control', 'no-store').send({ error, description });
}

/**
 * Each community's Shared Signals transmitter (issue 17, docs/events.md):
 * the transmitter metadata at `/.well-known/ssf-configuration/oidc/{slug}`
 * (SSF 1.0 §7.2: the well-known string goes between host and issuer path)
 * and under the issuer, and the stream management and RFC 8936 poll endpoints
 * under `{issuer}/ssf/`. A receiver authenticates with a client-credentials
 * access token of the community's issuer, or a community API token that may
 * read the directory (the `relying_party` role).
 */
export async function registerSsf(app: FastifyInstance, runtime: Runtime, config: HubConfig, authenticate: Authenticate): Promise<void> {
  const streams = runtime.streams;
  const issuerOf = (slug: string) => `${config.publicUrl.replace(/\/+$/, '')}/oidc/${slug}`;
  const pollUrl = (slug: string, id: string) => `${issuerOf(slug)}/ssf/poll/${id}`;
  const contextOf = (request: FastifyRequest, caller?: StreamCaller): RequestContext => ({
    actor:
      caller === undefined
        ? { type: 'system', id: 'ssf' }
        : caller.receiver.kind === 'client'
          ? { type: 'system', id: `client:${caller.receiver.clientId}` }
          : { type: 'token', id: caller.receiver.tokenId },
    requestId: request.id,
    sourceAddress: request.ip,
  });

  const metadata = async (request: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => {
    const { slug } = request.params;
    if (!(await streams.providers.get(slug))) return fail(reply, 404, 'not_found', 'There is no such community.');
    const issuer = issuerOf(slug);
    return reply.header('cache-control', 'public, max-age=300').send({
      spec_version: '1_0',
      issuer,
      jwks_uri: `${issuer}/jwks`,
      delivery_methods_supported: [DELIVERY_PUSH, DELIVERY_POLL],
      configuration_endpoint: `${issuer}/ssf/stream`,
      status_endpoint: `${issuer}/ssf/status`,
      add_subject_endpoint: `${issuer}/ssf/subjects/add`,
      remove_subject_endpoint: `${issuer}/ssf/subjects/remove`,
      verification_endpoint: `${issuer}/ssf/verify`,
      critical_subject_members: [],
      authorization_schemes: [{ spec_urn: 'urn:ietf:rfc:6749' }],
      default_subjects: 'ALL',
    });
  };
  app.get<{ Params: Params }>('/.well-known/ssf-configuration/oidc/:slug', metadata);
  app.get<{ Params: Params }>('/oidc/:slug/.well-known/ssf-configuration', metadata);

  /** The receiver behind the bearer token: a relying party's client-credentials token, or a community API token. */
  const callerOf = async (request: FastifyRequest<{ Params: Params }>): Promise<StreamCaller | undefined> => {
    const authorization = request.headers.authorization;
    const token = typeof authorization === 'string' && /^Bearer [A-Za-z0-9._~+/-]+=*$/i.test(authorization) ? authorization.slice(7) : '';
    if (token === '' || token.length > 4096) return undefined;
    const found = await streams.providers.get(request.params.slug);
    if (!found) return undefined;
    const credentials = token.length <= 512 ? await found.provider.ClientCredentials.find(token).catch(() => undefined) : undefined;
    if (credentials?.clientId) {
      const rp = await runtime.sso.relyingParties.findClient(found.community.id, credentials.clientId);
      return rp?.clientCredentials ? { communityId: found.community.id, receiver: { kind: 'client', clientId: rp.clientId } } : undefined;
    }
    const principal = await authenticate(authorization, request.log);
    if (!principal) return undefined;
    return streams.service.tokenReceiver(principal, request.params.slug);
  };

  const handle =
    <Q>(
      work: (
        request: FastifyRequest<{ Params: Params; Querystring: Q }>,
        reply: FastifyReply,
        caller: StreamCaller,
      ) => Promise<FastifyReply | Record<string, unknown> | undefined>,
    ) =>
    async (request: FastifyRequest<{ Params: Params; Querystring: Q }>, reply: FastifyReply) => {
      reply.header('cache-control', 'no-store');
      try {
        const caller = await callerOf(request);
        if (!caller) {
          reply.header('www-authenticate', `Bearer realm="${issuerOf(request.params.slug)}", error="invalid_token"`);
          return fail(
            reply,
            401,
            'invalid_token',
            'A client-credentials access token of this community, or a community token, is required.',
          );
        }
        return await work(request, reply, caller);
      } catch (error) {
        if (isMeridianError(error)) {
          const status = STATUS_OF_CODE[error.code];
          if (status === 404) return fail(reply, 404, 'not_found', error.message);
          if (status !== undefined) return fail(reply, status, status === 403 ? 'access_denied' : 'invalid_request', error.message);
        }
        throw error;
      }
    };

  type StreamQuery = { stream_id?: string };
  app.post<{ Params: Params }>(
    '/oidc/:slug/ssf/stream',
    handle(async (request, reply, caller) => {
      const stream = await streams.service.create(caller, body(request), contextOf(request, caller));
      return reply.code(201).send(configOf(stream, issuerOf(request.params.slug), pollUrl(request.params.slug, stream.id)));
    }),
  );
  app.get<{ Params: Params; Querystring: StreamQuery }>(
    '/oidc/:slug/ssf/stream',
    handle<StreamQuery>(async (request, reply, caller) => {
      const { slug } = request.params;
      const id = request.query.stream_id;
      if (id !== undefined) return reply.send(configOf(await streams.service.get(caller, id), issuerOf(slug), pollUrl(slug, id)));
      const list = await streams.service.list(caller);
      return reply.send(list.map((s) => configOf(s, issuerOf(slug), pollUrl(slug, s.id))) as unknown as Record<string, unknown>);
    }),
  );
  for (const method of ['PATCH', 'PUT'] as const) {
    app.route<{ Params: Params }>({
      method,
      url: '/oidc/:slug/ssf/stream',
      handler: handle(async (request, reply, caller) => {
        const input = body(request);
        const stream = await streams.service.update(
          caller,
          String(input.stream_id ?? ''),
          input,
          method === 'PUT',
          contextOf(request, caller),
        );
        return reply.send(configOf(stream, issuerOf(request.params.slug), pollUrl(request.params.slug, stream.id)));
      }),
    });
  }
  app.delete<{ Params: Params; Querystring: StreamQuery }>(
    '/oidc/:slug/ssf/stream',
    handle<StreamQuery>(async (request, reply, caller) => {
      await streams.service.delete(caller, String(request.query.stream_id ?? ''), contextOf(request, caller));
      return reply.code(204).send();
    }),
  );
  app.get<{ Params: Params; Querystring: StreamQuery }>(
    '/oidc/:slug/ssf/status',
    handle<StreamQuery>(async (request, reply, caller) => {
      const stream = await streams.service.get(caller, String(request.query.stream_id ?? ''));
      return reply.send({ stream_id: stream.id, status: stream.status, ...(stream.statusReason ? { reason: stream.statusReason } : {}) });
    }),
  );
  app.post<{ Params: Params }>(
    '/oidc/:slug/ssf/status',
    handle(async (request, reply, caller) => {
      const input = body(request);
      const stream = await streams.service.setStatus(
        caller,
        String(input.stream_id ?? ''),
        input.status,
        input.reason,
        contextOf(request, caller),
      );
      return reply.send({ stream_id: stream.id, status: stream.status, ...(stream.statusReason ? { reason: stream.statusReason } : {}) });
    }),
  );
  for (const [path, included] of [
    ['add', true],
    ['remove', false],
  ] as const) {
    app.post<{ Params: Params }>(
      `/oidc/:slug/ssf/subjects/${path}`,
      handle(async (request, reply, caller) => {
        const input = body(request);
        await streams.service.setSubject(caller, String(input.stream_id ?? ''), input.subject, included, contextOf(request, caller));
        return reply.code(included ? 200 : 204).send();
      }),
    );
  }
  app.post<{ Params: Params }>(
    '/oidc/:slug/ssf/verify',
    handle(async (request, reply, caller) => {
      const input = body(request);
      await streams.service.verify(caller, String(input.stream_id ?? ''), input.state, contextOf(request, caller));
      return reply.code(204).send();
    }),
  );

  // RFC 8936: the receiver acknowledges what it processed, reports what it could not, and asks for more.
  app.post<{ Params: Params & { streamId: string } }>(
    '/oidc/:slug/ssf/poll/:streamId',
    handle(async (request, reply, caller) => {
      const input = body(request);
      const request8936 = parsePoll(input);
      if (typeof request8936 === 'string') return fail(reply, 400, 'invalid_request', request8936);
      const streamId = (request.params as unknown as { streamId: string }).streamId;
      const returnImmediately = input.returnImmediately === true;
      const deadline = Date.now() + LONG_POLL_MS;
      let answer = await streams.service.poll(caller, streamId, request8936);
      // A long poll (returnImmediately false, the default): wait for SETs, bounded; later rounds acknowledge nothing again.
      while (!returnImmediately && request8936.maxEvents > 0 && Object.keys(answer.sets).length === 0 && Date.now() < deadline) {
        await streams.waitForSets(Math.min(1000, deadline - Date.now()));
        if (request.raw.destroyed) break;
        answer = await streams.service.poll(caller, streamId, { maxEvents: request8936.maxEvents, ack: [], setErrs: {} });
      }
      return reply.send(answer);
    }),
  );
}

/** RFC 8936 §2.4: `maxEvents`, `ack`, `setErrs`; an error message when the request is malformed. */
function parsePoll(input: Record<string, unknown>): PollRequest | string {
  const maxEvents = input.maxEvents === undefined ? 100 : input.maxEvents;
  if (typeof maxEvents !== 'number' || !Number.isInteger(maxEvents) || maxEvents < 0) return 'maxEvents must be a non-negative integer.';
  const ack = input.ack ?? [];
  if (!Array.isArray(ack) || ack.length > MAX_EVENTS || ack.some((a) => typeof a !== 'string' || a.length > 256)) {
    return 'ack must be an array of jti values.';
  }
  const setErrs = input.setErrs ?? {};
  if (typeof setErrs !== 'object' || setErrs === null || Array.isArray(setErrs) || Object.keys(setErrs).length > MAX_EVENTS) {
    return 'setErrs must be an object of jti to { err, description }.';
  }
  const errors: PollRequest['setErrs'] = {};
  for (const [jti, value] of Object.entries(setErrs as Record<string, unknown>)) {
    const v = value as { err?: unknown; description?: unknown } | null;
    if (!v || typeof v.err !== 'string') return `setErrs.${jti} needs an err.`;
    errors[jti] = { err: v.err.slice(0, 100), ...(typeof v.description === 'string' ? { description: v.description.slice(0, 400) } : {}) };
  }
  return { maxEvents: Math.min(maxEvents, MAX_EVENTS), ack: ack as string[], setErrs: errors };
}
