import { expect } from '@jest/globals';
import { SCHEMA } from '@meridian/core';
import type { FastifyInstance } from 'fastify';
import type { TestDatabase } from './database.js';

/** A JSON object on the wire. */
export type Json = Record<string, unknown>;

/** HTTP methods the SCIM routes answer. */
export type ScimMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Options of one request. */
interface ScimRequestOptions {
  token?: string;
  /** A value to send as JSON, or a string sent as it is. */
  body?: unknown;
  headers?: Record<string, string>;
}

/** What came back: the status, the headers and the parsed JSON body (undefined when empty). */
export interface ScimResponse {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: Json;
  /** The raw body text, to tell "empty" from "{}". */
  text: string;
}

/** A SCIM client bound to an app: `path` is relative to `/scim/v2`. */
export type ScimClient = (method: ScimMethod, path: string, options?: ScimRequestOptions) => Promise<ScimResponse>;

/** Builds an `inject`-based SCIM client for an app that mounts SCIM at `/scim/v2` (the hub's or the SCIM harness's). */
export function scimClient(app: () => FastifyInstance): ScimClient {
  return async (method, path, options = {}) => {
    const response = await app().inject({
      method,
      url: `/scim/v2${path}`,
      headers: {
        ...(options.token !== undefined ? { authorization: `Bearer ${options.token}` } : {}),
        ...(options.body !== undefined ? { 'content-type': 'application/scim+json' } : {}),
        ...options.headers,
      },
      ...(options.body !== undefined ? { payload: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) } : {}),
    });
    return {
      status: response.statusCode,
      headers: response.headers,
      body: (response.body ? JSON.parse(response.body) : undefined) as Json,
      text: response.body,
    };
  };
}

/** `?filter=...` with the filter URL-encoded, plus any further parameters. */
export function query(params: Record<string, string | number>): string {
  return `?${Object.entries(params)
    .map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`)
    .join('&')}`;
}

/** A PatchOp request body (RFC 7644 §3.5.2). */
export function patchOp(...operations: Json[]): Json {
  return { schemas: [SCHEMA.patchOp], Operations: operations };
}

/** The `Resources` of a ListResponse. */
export function resourcesOf(res: ScimResponse): Json[] {
  return res.body.Resources as Json[];
}

/** Rows of the event tables, to prove a failed request wrote nothing. */
export async function eventCounts(harness: { db: TestDatabase }): Promise<{ outbox: number; audit: number }> {
  const [row] = await harness.db.query<{ outbox: string; audit: string }>(
    'select (select count(*) from outbox_event) as outbox, (select count(*) from audit_event) as audit',
  );
  return { outbox: Number(row?.outbox), audit: Number(row?.audit) };
}

/** The SCIM content type every response carries. */
export const SCIM_CONTENT_TYPE = 'application/scim+json; charset=utf-8';

/** The wire body of a SCIM error (RFC 7644 §3.12): `status` is a string. */
export function scimError(status: number, scimType?: string): Json {
  return {
    schemas: [SCHEMA.error],
    status: String(status),
    ...(scimType !== undefined ? { scimType } : {}),
    detail: expect.any(String),
  };
}

/**
 * A client that checks what every real client relies on, on every response:
 * a body comes as `application/scim+json`, and 204/304 come without one.
 */
export function checkedScimClient(app: () => FastifyInstance): ScimClient {
  const send = scimClient(app);
  return async (method, path, options) => {
    const res = await send(method, path, options);
    if (res.status === 204 || res.status === 304) expect(res.text).toBe('');
    else expect(res.headers['content-type']).toBe(SCIM_CONTENT_TYPE);
    return res;
  };
}
