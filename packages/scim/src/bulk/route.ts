import {
  BULK_SCHEMA,
  type BulkOutcome,
  type DirectoryCaller,
  etagOf,
  type JsonObject,
  parseBulkRequest,
  type RequestContext,
  type ResourceService,
} from '@meridian/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { scimErrorBody, toScimError } from '../http/errors.js';
import { parseEtag } from '../http/etag.js';

/** The `maxOperations` a bulk request may carry when the options name none. */
export const DEFAULT_BULK_MAX_OPERATIONS = 1000;

/** Options of {@link registerBulkRoute}. */
export interface BulkRouteOptions {
  /** Runs the operations, authorizing the caller to write in the tenant first. */
  resources: Pick<ResourceService, 'bulk'>;
  /** Absolute base URL of the SCIM service, for each operation's `location`. */
  baseUrl: string;
  /** The most operations one request may carry (RFC 7644 §3.7.4); {@link DEFAULT_BULK_MAX_OPERATIONS} when omitted. */
  maxOperations?: number;
  /** The caller of an authenticated request. */
  callerOf(request: FastifyRequest): DirectoryCaller;
  /** The tenant of an authenticated request. */
  tenantOf(request: FastifyRequest): string;
  /** The audit context of an authenticated request. */
  contextOf(request: FastifyRequest): RequestContext;
}

const CONTENT_TYPE = 'application/scim+json; charset=utf-8';
const ENDPOINT = { User: 'Users', Group: 'Groups' } as const;

function parseVersion(etag: string): number | undefined {
  const version = parseEtag(etag);
  return typeof version === 'number' ? version : undefined;
}

/**
 * Adds `POST /Bulk` (RFC 7644 §3.7) to the SCIM plugin's scope; register it
 * after the authentication hook, so the body limit, the error handler and the
 * `scim:write` check apply to it.
 */
export function registerBulkRoute(app: FastifyInstance, options: BulkRouteOptions): void {
  const { resources, baseUrl, callerOf, tenantOf, contextOf } = options;
  const maxOperations = options.maxOperations ?? DEFAULT_BULK_MAX_OPERATIONS;

  app.post('/Bulk', async (request, reply) => {
    const bulk = parseBulkRequest(request.body, { maxOperations, parseVersion });
    const outcomes = await resources.bulk(callerOf(request), tenantOf(request), bulk, contextOf(request));
    const operations = outcomes.map((outcome) => {
      const { rendered, status } = renderOutcome(outcome, baseUrl);
      if (status >= 500 && !outcome.ok && outcome.reason.type === 'error') {
        request.log.error({ err: outcome.reason.error }, 'SCIM bulk operation failed');
      }
      return rendered;
    });
    return reply
      .code(200)
      .header('content-type', CONTENT_TYPE)
      .send({ schemas: [BULK_SCHEMA.response], Operations: operations });
  });
}

function renderOutcome(outcome: BulkOutcome, baseUrl: string): { rendered: JsonObject; status: number } {
  const { operation } = outcome;
  const rendered: JsonObject = { method: operation.method };
  if (operation.bulkId !== undefined) rendered.bulkId = operation.bulkId;
  if (outcome.ok) {
    rendered.location = `${baseUrl}/${ENDPOINT[outcome.target.kind]}/${outcome.target.id}`;
    if (outcome.resource) rendered.version = etagOf(outcome.resource.version);
    rendered.status = String(outcome.status);
    return { rendered, status: outcome.status };
  }
  // RFC 7644 §3.7.3: `location` is required except for a failed POST.
  if (outcome.target) rendered.location = `${baseUrl}/${ENDPOINT[outcome.target.kind]}/${outcome.target.id}`;
  else if (operation.method !== 'POST') rendered.location = `${baseUrl}${operation.path}`;
  const { reason } = outcome;
  // RFC 7644 §3.7.1: a reference the server does not resolve is a 409 (Conflict); invalidValue names the value at fault.
  const { status, body } =
    reason.type === 'unresolved' ? { status: 409, body: scimErrorBody(409, reason.detail, 'invalidValue') } : toScimError(reason.error);
  rendered.status = String(status);
  rendered.response = body;
  return { rendered, status };
}
