import {
  type ConnectorContext,
  ConnectorError,
  type ConnectorErrorCode,
  type ConnectorRequestRecord,
  type ConnectorResponseRecord,
  classifyHttpStatus,
  type JsonObject,
} from '@meridian/connector-sdk';
import { findOutboundRefusal } from '@meridian/core';

/** HTTP methods a SCIM client sends. */
type ScimMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** One SCIM request: `path` is relative to the base URL. */
export interface ScimRequest {
  method: ScimMethod;
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
}

/** A successful answer. */
export interface ScimReply {
  status: number;
  headers: Headers;
  /** The JSON body; undefined when empty (204) or not JSON. */
  body: JsonObject | undefined;
}

const REDACTED = '[REDACTED]';
/** Longest response text kept in an error record. */
const MAX_RECORDED_TEXT = 4096;
const ACCEPT = 'application/scim+json, application/json;q=0.9';

/**
 * Sends SCIM requests to one target and turns every failure into a
 * `ConnectorError` the engine can act on (transient, rate_limited,
 * permanent). Never retries, except an idempotent GET once; backoff is the
 * engine's job. The bearer token never leaves the Authorization header: not
 * in messages, request records or response records.
 */
export class ScimHttpClient {
  readonly #baseUrl: string;
  readonly #token: string;
  readonly #timeoutMs: number;
  readonly #context: ConnectorContext;

  constructor(baseUrl: string, token: string, timeoutMs: number, context: ConnectorContext) {
    this.#baseUrl = baseUrl;
    this.#token = token;
    this.#timeoutMs = timeoutMs;
    this.#context = context;
  }

  /** The absolute URL of a path below the base URL. */
  #urlOf(path: string, query: ScimRequest['query'] = {}): string {
    const params = Object.entries(query)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
    return `${this.#baseUrl}${path}${params.length > 0 ? `?${params.join('&')}` : ''}`;
  }

  /**
   * Sends a request; answers 2xx and the statuses in `accept` come back,
   * anything else throws a classified `ConnectorError`.
   */
  async send(request: ScimRequest, accept: readonly number[] = []): Promise<ScimReply> {
    try {
      return await this.#attempt(request, accept);
    } catch (error) {
      // An idempotent read may be repeated once on a transient failure (a dropped keep-alive socket, a blip).
      if (request.method === 'GET' && error instanceof ConnectorError && error.kind === 'transient' && !this.#context.signal?.aborted) {
        return this.#attempt(request, accept);
      }
      throw error;
    }
  }

  async #attempt(request: ScimRequest, accept: readonly number[]): Promise<ScimReply> {
    const url = this.#urlOf(request.path, request.query);
    const headers: Record<string, string> = { accept: ACCEPT };
    if (request.body !== undefined) headers['content-type'] = 'application/scim+json';
    const record = (): ConnectorRequestRecord => ({
      method: request.method,
      url,
      headers,
      ...(request.body !== undefined ? { body: redactSecrets(request.body) } : {}),
    });
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const signal = this.#context.signal ? AbortSignal.any([timeout, this.#context.signal]) : timeout;
    let response: Response;
    let text: string;
    try {
      response = await this.#context.fetch(url, {
        method: request.method,
        headers: { ...headers, authorization: `Bearer ${this.#token}` },
        ...(request.body !== undefined ? { body: JSON.stringify(request.body) } : {}),
        signal,
        redirect: 'manual',
      });
      text = await response.text();
    } catch (error) {
      throw this.#networkError(error, request, record(), timeout.aborted);
    }
    const body = parseJson(text);
    if ((response.status >= 200 && response.status < 300) || accept.includes(response.status)) {
      return { status: response.status, headers: response.headers, body: isObject(body) ? body : undefined };
    }
    const scrubbed = this.#scrub(text);
    throw this.#statusError(request, record(), response, parseJson(scrubbed) ?? (scrubbed === '' ? undefined : scrubbed));
  }

  #networkError(error: unknown, request: ScimRequest, record: ConnectorRequestRecord, timedOut: boolean): ConnectorError {
    const what = `${request.method} ${request.path}`;
    if (timedOut) {
      return new ConnectorError('transient', `SCIM target did not answer ${what} within ${this.#timeoutMs} ms.`, {
        request: record,
        cause: error,
      });
    }
    if (this.#context.signal?.aborted) {
      return new ConnectorError('transient', `${what} was aborted (shutdown or job deadline).`, { request: record, cause: error });
    }
    // The hub's outbound policy refused the destination before any connection: retrying cannot help.
    const refusal = findOutboundRefusal(error);
    if (refusal) {
      return new ConnectorError('permanent', `SCIM target not contacted on ${what}: ${refusal.message}`, {
        code: 'OUTBOUND_REFUSED',
        request: record,
        cause: refusal,
      });
    }
    const cause = (error as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
    const reason = typeof cause?.code === 'string' ? cause.code : error instanceof Error ? error.message : String(error);
    return new ConnectorError('transient', `SCIM target unreachable on ${what}: ${this.#scrub(reason)}.`, {
      request: record,
      cause: error,
    });
  }

  #statusError(request: ScimRequest, record: ConnectorRequestRecord, response: Response, body: unknown): ConnectorError {
    const status = response.status;
    const retryAfter = response.headers.get('retry-after');
    const retryAfterMs = retryAfter === null ? undefined : parseRetryAfter(retryAfter, this.#context.clock.now());
    // 501 (PATCH not implemented, ...) will not get better by retrying.
    const kind = status === 501 ? 'permanent' : classifyHttpStatus(status, retryAfterMs !== undefined);
    const code = codeOf(status);
    const detail = isObject(body) && typeof body.detail === 'string' ? `: ${body.detail}` : '';
    const scimType = isObject(body) && typeof body.scimType === 'string' ? ` (${body.scimType})` : '';
    const responseRecord: ConnectorResponseRecord = {
      status,
      headers: pickHeaders(response.headers, ['content-type', 'retry-after', 'www-authenticate', 'location']),
      body: redactSecrets(body),
    };
    return new ConnectorError(
      kind,
      this.#scrub(`SCIM target answered ${status}${scimType} to ${request.method} ${request.path}${detail}`),
      {
        ...(code !== undefined ? { code } : {}),
        status,
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
        request: record,
        response: responseRecord,
      },
    );
  }

  /** Removes the token from text a target sent back (an echoing target must not leak it into the dead-letter list). */
  #scrub(text: string): string {
    const bounded = text.length > MAX_RECORDED_TEXT ? `${text.slice(0, MAX_RECORDED_TEXT)}…` : text;
    return this.#token.length > 0 ? bounded.split(this.#token).join(REDACTED) : bounded;
  }
}

function codeOf(status: number): ConnectorErrorCode | undefined {
  switch (status) {
    case 401:
    case 403:
      return 'UNAUTHORIZED';
    case 404:
      return 'NOT_FOUND';
    case 409:
      return 'CONFLICT';
    case 405:
    case 501:
      return 'UNSUPPORTED';
    default:
      return undefined;
  }
}

/**
 * `Retry-After` in milliseconds (RFC 9110 §10.2.3): delay-seconds or an
 * HTTP-date; undefined when malformed.
 *
 * @example
 * parseRetryAfter('120', new Date()) // 120000
 */
export function parseRetryAfter(value: string, now: Date): number | undefined {
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now.getTime());
}

/**
 * A copy of a request or response body with every password value replaced,
 * including PATCH operations whose path is `password` (RFC 7643 §4.1.1: writeOnly).
 */
export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (!isObject(value)) return value;
  const passwordPath = typeof value.path === 'string' && /(^|:)password$/i.test(value.path);
  const copy: JsonObject = {};
  for (const [key, inner] of Object.entries(value)) {
    copy[key] = /(^|:)password$/i.test(key) || (passwordPath && key === 'value') ? REDACTED : redactSecrets(inner);
  }
  return copy;
}

function pickHeaders(headers: Headers, names: string[]): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const name of names) {
    const value = headers.get(name);
    if (value !== null) picked[name] = value;
  }
  return picked;
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** True for a plain JSON object. */
export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
