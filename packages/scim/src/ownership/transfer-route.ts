import {
  type DirectoryCaller,
  MeridianError,
  type OffboardingService,
  OWNERSHIP_TRANSFER_SCHEMA,
  type RequestContext,
} from '@meridian/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';

/** Options of {@link registerOwnershipTransferRoute}. */
export interface OwnershipTransferRouteOptions {
  /** Queues the transfer at the tenant's targets that can, authorizing `scim.write` first. */
  ownership: Pick<OffboardingService, 'transferOwnership'>;
  callerOf(request: FastifyRequest): DirectoryCaller;
  tenantOf(request: FastifyRequest): string;
  contextOf(request: FastifyRequest): RequestContext;
}

const CONTENT_TYPE = 'application/scim+json; charset=utf-8';

/**
 * Adds Meridian's extension endpoint `POST /OwnershipTransfers` (docs/connector-scim.md) to the SCIM plugin's scope,
 * so that a hub downstream of another serves the transfer its SCIM connector sends: `from` and `to` are this hub's
 * User ids, and the transfer goes on to this hub's own targets that can (202 Accepted, with the targets queued).
 */
export function registerOwnershipTransferRoute(app: FastifyInstance, options: OwnershipTransferRouteOptions): void {
  app.post('/OwnershipTransfers', async (request, reply) => {
    const body = request.body as { schemas?: unknown; from?: unknown; to?: unknown } | undefined;
    if (!Array.isArray(body?.schemas) || !body.schemas.includes(OWNERSHIP_TRANSFER_SCHEMA)) {
      throw new MeridianError('INVALID_SYNTAX', `The body's schemas must include ${OWNERSHIP_TRANSFER_SCHEMA}.`, { field: 'schemas' });
    }
    for (const field of ['from', 'to'] as const) {
      if (typeof body[field] !== 'string' || body[field] === '') {
        throw new MeridianError('INVALID_INPUT', `'${field}' is required: a User id.`, { field });
      }
    }
    const from = body.from as string;
    const to = body.to as string;
    const targets = await options.ownership.transferOwnership(
      options.callerOf(request).principal,
      options.tenantOf(request),
      from,
      to,
      options.contextOf(request),
    );
    return reply
      .code(202)
      .header('content-type', CONTENT_TYPE)
      .send({ schemas: [OWNERSHIP_TRANSFER_SCHEMA], from, to, transferred: 0, queuedAt: targets });
  });
}
