import type { ScimSourceEvents } from '@meridian/connector-scim';
import { isMeridianError } from '@meridian/core';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { createRemoteJWKSet, customFetch, decodeProtectedHeader, errors, type JWTPayload, jwtVerify } from 'jose';
import type { HubConfig } from '../config/config.js';
import type { Runtime } from '../runtime/runtime.js';

/**
 * The hub as a receiver of SCIM events (issue 17): an inbound `scim` source
 * with `events: { issuer, jwksUri, audience? }` takes RFC 9967 events as
 * Security Event Tokens (RFC 8417) pushed per RFC 8935 to
 * `POST /sources/{sourceId}/events`. Each event names a User that changed at
 * the source; the hub pulls that User and applies it as a sync applies one
 * entry (docs/sources.md, "Events from the source instead of scheduled pulls").
 */

/** RFC 9967 §2.4 provisioning events that mean "this resource changed, pull it" (or is gone). */
const PROVISIONING_EVENT =
  /^urn:ietf:params:scim:event:prov:(?:create:(?:notice|full)|patch:(?:notice|full)|put:(?:notice|full)|delete|activate|deactivate)$/;

/** Signing algorithms a transmitter may use: asymmetric only, so that the JWKS can never verify with a shared secret. */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

/** The largest SET the endpoint reads. */
const MAX_SET_BYTES = 64 * 1024;

/** Key sets kept per JWKS URL (jose caches the keys and refetches at most every 30 s on an unknown `kid`). */
const MAX_KEY_SETS = 1000;

/** RFC 8935 §2.4 error codes. */
type SetError = 'invalid_request' | 'invalid_key' | 'authentication_failed' | 'invalid_issuer' | 'invalid_audience';

/** RFC 8935 §2.3: a refused SET is 400 with `{ err, description }`, in JSON. */
function refuse(reply: FastifyReply, err: SetError, description: string) {
  return reply.code(400).type('application/json').send({ err, description });
}

/**
 * The remote User id an event is about: the SET's `sub_id` (RFC 9493 `scim` format, RFC 9967 §2.2: `uri`
 * `/Users/{id}` and perhaps `id`), else the event's own `sub_id`, else its `data.id`. Undefined for a Group or
 * anything else a source does not feed.
 */
function userIdOf(subject: unknown, event: unknown): string | undefined {
  const candidates = [subject, (event as { sub_id?: unknown } | null)?.sub_id];
  for (const candidate of candidates) {
    if (typeof candidate !== 'object' || candidate === null) continue;
    const { format, uri, id } = candidate as { format?: unknown; uri?: unknown; id?: unknown };
    if (format !== 'scim') continue;
    if (typeof uri === 'string') {
      const match = /(?:^|\/)(Users|Groups)\/([^/?#]+)$/.exec(uri);
      if (match?.[1] === 'Groups') return undefined;
      if (match?.[2]) return decodeURIComponent(match[2]);
    }
    if (typeof id === 'string' && id !== '') return id;
  }
  const data = (event as { data?: { id?: unknown; schemas?: unknown } } | null)?.data;
  if (typeof data?.id === 'string' && data.id !== '') {
    const schemas = Array.isArray(data.schemas) ? data.schemas : [];
    return schemas.some((s) => typeof s === 'string' && s.endsWith(':Group')) ? undefined : data.id;
  }
  return undefined;
}

/** Registers `POST /sources/:sourceId/events` (RFC 8935 push delivery to the hub). */
export async function registerSourceEvents(app: FastifyInstance, runtime: Runtime, config: HubConfig): Promise<void> {
  const keySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();
  // The keys are fetched through the outbound request policy, as a trusted issuer's are (https, public addresses).
  const fetch = runtime.outbound.fetchFor({ httpsOnly: true });
  const keySetOf = (jwksUri: string) => {
    let keySet = keySets.get(jwksUri);
    if (!keySet) {
      if (keySets.size >= MAX_KEY_SETS) keySets.delete(keySets.keys().next().value as string);
      keySet = createRemoteJWKSet(new URL(jwksUri), { timeoutDuration: 5_000, [customFetch]: fetch });
      keySets.set(jwksUri, keySet);
    }
    return keySet;
  };

  await app.register(async (scope) => {
    // RFC 8935 §2: the body is the SET itself, `application/secevent+jwt`.
    scope.addContentTypeParser('application/secevent+jwt', { parseAs: 'string', bodyLimit: MAX_SET_BYTES }, (_request, body, done) =>
      done(null, body),
    );
    scope.post<{ Params: { sourceId: string } }>('/sources/:sourceId/events', async (request, reply) => {
      // The id alone finds the source in whichever tenant holds it; an unknown id, or a source that takes no events,
      // is the same 404 (nothing says whether the id exists elsewhere).
      const source = await runtime.sources.findForEvents(request.params.sourceId);
      const events = source?.kind === 'scim' ? (source.config.events as ScimSourceEvents | undefined) : undefined;
      if (!source || !events) return reply.code(404).send({ description: 'No event endpoint here.' });
      const token = request.body;
      if (!/^application\/secevent\+jwt\b/i.test(request.headers['content-type'] ?? '') || typeof token !== 'string')
        return refuse(reply, 'invalid_request', 'The body is one SET, with content-type application/secevent+jwt (RFC 8935 §2).');
      try {
        decodeProtectedHeader(token.trim());
      } catch {
        return refuse(reply, 'invalid_request', 'The body is not a JWS.');
      }
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token.trim(), keySetOf(events.jwksUri), {
          issuer: events.issuer,
          audience: events.audience ?? `${config.publicUrl}/sources/${source.id}/events`,
          // RFC 8417 §2.3: a SET says `typ: secevent+jwt`, which keeps it from passing for another kind of JWT.
          typ: 'secevent+jwt',
          algorithms: ALGORITHMS,
          clockTolerance: 30,
        }));
      } catch (error) {
        if (error instanceof errors.JWTClaimValidationFailed) {
          if (error.claim === 'iss') return refuse(reply, 'invalid_issuer', `The SET's issuer is not the source's transmitter.`);
          if (error.claim === 'aud') return refuse(reply, 'invalid_audience', `The SET is not addressed to this endpoint.`);
          return refuse(reply, 'invalid_request', `The SET's '${error.claim}' is not acceptable: ${error.reason}.`);
        }
        if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid) {
          // The transmitter's keys could not be read now: its retry may find them.
          return reply.code(503).send({ description: "The transmitter's keys could not be fetched; send the SET again later." });
        }
        if (
          error instanceof errors.JWKSNoMatchingKey ||
          error instanceof errors.JWKSMultipleMatchingKeys ||
          error instanceof errors.JWSSignatureVerificationFailed ||
          error instanceof errors.JOSEAlgNotAllowed
        ) {
          return refuse(reply, 'invalid_key', "The SET is not signed with one of the transmitter's keys.");
        }
        if (error instanceof errors.JOSEError) return refuse(reply, 'invalid_request', 'The SET is not a valid signed JWT.');
        if (isMeridianError(error)) return refuse(reply, 'authentication_failed', "The transmitter's keys may not be fetched from there.");
        throw error;
      }
      const setEvents = payload.events;
      if (typeof payload.jti !== 'string' || payload.jti === '' || payload.jti.length > 256)
        return refuse(reply, 'invalid_request', "A SET has a 'jti' (RFC 8417 §2.2).");
      if (typeof setEvents !== 'object' || setEvents === null || Array.isArray(setEvents))
        return refuse(reply, 'invalid_request', "A SET has an 'events' object (RFC 8417 §2.2).");
      const remoteIds: string[] = [];
      for (const [type, event] of Object.entries(setEvents as Record<string, unknown>)) {
        if (!PROVISIONING_EVENT.test(type)) continue;
        const id = userIdOf(payload.sub_id, event);
        if (id !== undefined && id.length <= 1024) remoteIds.push(id);
      }
      try {
        // Applied before the answer: a 202 means the change is at the hub; a failure lets the transmitter retry.
        await runtime.sources.receiveEvent(source, { jti: payload.jti, events: Object.keys(setEvents), remoteIds }, request.id);
      } catch (error) {
        if (isMeridianError(error) && error.code !== 'UNAVAILABLE')
          return refuse(reply, 'invalid_request', `The change could not be applied: ${error.message}`);
        request.log.warn(
          { err: error, source: source.id },
          'an event from an inbound source could not be applied; the transmitter may retry',
        );
        return reply.code(503).send({ description: 'The change could not be applied now; send the SET again later.' });
      }
      return reply.code(202).send();
    });
  });
}
