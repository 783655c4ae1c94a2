import {
  hasScope,
  MeridianError,
  type Principal,
  parseScimFilter,
  type RequestContext,
  type ResourceKind,
  type ResourceService,
  resourceTypes,
  SCHEMA,
  type Scope,
  schemas,
} from '@meridian/core';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { resourceTypeResources, type ScimLimits, schemaResources, serviceProviderConfig } from './discovery/service-provider-config.js';
import { scimErrorBody, toScimError } from './http/errors.js';
import { renderResource } from './resources/render.js';

/** Options of the SCIM plugin. */
export interface ScimPluginOptions {
  resources: ResourceService;
  /** Resolves the `Authorization` header to a principal, or undefined when it is missing or invalid. */
  authenticate(authorization: string | undefined): Promise<Principal | undefined>;
  /** Absolute base URL of the SCIM service, e.g. `https://hub.example.com/scim/v2`. */
  baseUrl: string;
  limits?: Partial<ScimLimits>;
}

declare module 'fastify' {
  interface FastifyRequest {
    scimPrincipal?: Principal & { kind: 'tenant' };
  }
}

const CONTENT_TYPE = 'application/scim+json; charset=utf-8';
const DEFAULT_LIMITS: ScimLimits = { maxResults: 200, defaultCount: 100, maxPayloadSize: 1_048_576 };
const ENDPOINTS: Record<string, ResourceKind> = { Users: 'User', Groups: 'Group' };

function send(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).header('content-type', CONTENT_TYPE).send(body);
}

function parsePositiveInt(value: unknown, name: string, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new MeridianError('INVALID_INPUT', `'${name}' must be an integer.`, { field: name });
  return n;
}

/** Parses `If-Match` / `If-None-Match` weak or strong ETags into a version, `*` into 'any'. */
function parseEtag(header: string | undefined): number | 'any' | undefined {
  if (header === undefined) return undefined;
  const value = header.trim();
  if (value === '*') return 'any';
  const match = /^(?:W\/)?"(\d+)"$/.exec(value);
  // An ETag we never issued cannot match the current version.
  return match ? Number(match[1]) : -1;
}

function ifMatchVersion(request: FastifyRequest): { ifMatchVersion?: number } {
  const etag = parseEtag(request.headers['if-match']);
  return etag === undefined || etag === 'any' ? {} : { ifMatchVersion: etag };
}

/**
 * The SCIM 2.0 service provider (RFC 7644) as a Fastify plugin: it turns HTTP
 * into calls of the core services and results back into SCIM JSON, and
 * decides nothing the core could decide.
 */
export const scimPlugin: FastifyPluginAsync<ScimPluginOptions> = async (app: FastifyInstance, options) => {
  const limits: ScimLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const { resources, baseUrl } = options;

  app.addContentTypeParser(
    ['application/scim+json', 'application/json'],
    { parseAs: 'string', bodyLimit: limits.maxPayloadSize },
    (_req, body, done) => {
      try {
        done(null, body === '' ? undefined : JSON.parse(body as string));
      } catch {
        done(new MeridianError('INVALID_SYNTAX', 'The request body is not valid JSON.'), undefined);
      }
    },
  );

  app.setErrorHandler((error, request, reply) => {
    const { status, body } = toScimError(error);
    if (status >= 500) request.log.error({ err: error }, 'SCIM request failed');
    return send(reply, status, body);
  });

  app.setNotFoundHandler((_request, reply) => send(reply, 404, scimErrorBody(404, 'No such SCIM endpoint.')));

  app.addHook('onRequest', async (request, reply) => {
    const principal = await options.authenticate(request.headers.authorization);
    if (!principal) {
      const invalid = request.headers.authorization !== undefined;
      reply.header('www-authenticate', invalid ? 'Bearer realm="meridian", error="invalid_token"' : 'Bearer realm="meridian"');
      return send(reply, 401, scimErrorBody(401, 'Authentication is required: send a valid bearer token.'));
    }
    if (principal.kind !== 'tenant') {
      return send(
        reply,
        403,
        scimErrorBody(403, 'SCIM needs a tenant token; platform tokens administer tenants through the CLI and GraphQL.'),
      );
    }
    const needed: Scope = request.method === 'GET' || request.method === 'HEAD' ? 'scim:read' : 'scim:write';
    if (!hasScope(principal, needed)) {
      reply.header('www-authenticate', `Bearer realm="meridian", error="insufficient_scope", scope="${needed}"`);
      return send(reply, 403, scimErrorBody(403, `This token lacks the '${needed}' scope.`));
    }
    request.scimPrincipal = principal;
  });

  const contextOf = (request: FastifyRequest): RequestContext => ({
    actor: { type: 'token', id: request.scimPrincipal?.tokenId ?? 'unknown' },
    requestId: request.id,
    sourceAddress: request.ip,
  });
  const tenantOf = (request: FastifyRequest): string => {
    const principal = request.scimPrincipal;
    if (!principal) throw new TypeError('onRequest authenticates every SCIM route');
    return principal.tenantId;
  };

  // Discovery (RFC 7644 §4).
  app.get('/ServiceProviderConfig', async (_request, reply) => send(reply, 200, serviceProviderConfig(baseUrl, limits)));
  app.get('/ResourceTypes', async (_request, reply) => {
    const list = resourceTypeResources(baseUrl);
    return send(reply, 200, {
      schemas: [SCHEMA.listResponse],
      totalResults: list.length,
      itemsPerPage: list.length,
      startIndex: 1,
      Resources: list,
    });
  });
  app.get<{ Params: { id: string } }>('/ResourceTypes/:id', async (request, reply) => {
    const found = resourceTypeResources(baseUrl).find((r) => r.id === request.params.id);
    if (!found || !resourceTypes.some((t) => t.id === request.params.id))
      throw new MeridianError('NOT_FOUND', `Resource type '${request.params.id}' not found.`);
    return send(reply, 200, found);
  });
  app.get('/Schemas', async (_request, reply) => {
    const list = schemaResources(baseUrl);
    return send(reply, 200, {
      schemas: [SCHEMA.listResponse],
      totalResults: list.length,
      itemsPerPage: list.length,
      startIndex: 1,
      Resources: list,
    });
  });
  app.get<{ Params: { id: string } }>('/Schemas/:id', async (request, reply) => {
    const found = schemas.some((s) => s.id === request.params.id)
      ? schemaResources(baseUrl).find((s) => s.id === request.params.id)
      : undefined;
    if (!found) throw new MeridianError('NOT_FOUND', `Schema '${request.params.id}' not found.`);
    return send(reply, 200, found);
  });

  for (const [endpoint, kind] of Object.entries(ENDPOINTS)) {
    // List and filter (RFC 7644 §3.4.2).
    app.get<{ Querystring: Record<string, string | undefined> }>(`/${endpoint}`, async (request, reply) => {
      const query = request.query;
      const startIndex = Math.max(1, parsePositiveInt(query.startIndex, 'startIndex', 1));
      const count = Math.min(Math.max(0, parsePositiveInt(query.count, 'count', limits.defaultCount)), limits.maxResults);
      const filter = query.filter !== undefined && query.filter.trim() !== '' ? parseScimFilter(query.filter) : undefined;
      const page = await resources.list(tenantOf(request), kind, { startIndex, count, ...(filter ? { filter } : {}) });
      return send(reply, 200, {
        schemas: [SCHEMA.listResponse],
        totalResults: page.totalResults,
        itemsPerPage: page.resources.length,
        startIndex,
        Resources: page.resources.map((r) => renderResource(r, baseUrl)),
      });
    });

    app.post(`/${endpoint}`, async (request, reply) => {
      const created = await resources.create(tenantOf(request), kind, request.body, contextOf(request));
      const body = renderResource(created, baseUrl);
      reply.header('location', (body.meta as { location: string }).location).header('etag', (body.meta as { version: string }).version);
      return send(reply, 201, body);
    });

    app.get<{ Params: { id: string } }>(`/${endpoint}/:id`, async (request, reply) => {
      const resource = await resources.get(tenantOf(request), kind, request.params.id);
      const body = renderResource(resource, baseUrl);
      const etag = (body.meta as { version: string }).version;
      const ifNoneMatch = parseEtag(request.headers['if-none-match']);
      if (ifNoneMatch === 'any' || ifNoneMatch === resource.version) {
        return reply.code(304).header('etag', etag).send();
      }
      reply.header('etag', etag);
      return send(reply, 200, body);
    });

    app.put<{ Params: { id: string } }>(`/${endpoint}/:id`, async (request, reply) => {
      const updated = await resources.replace(
        tenantOf(request),
        kind,
        request.params.id,
        request.body,
        contextOf(request),
        ifMatchVersion(request),
      );
      const body = renderResource(updated, baseUrl);
      reply.header('etag', (body.meta as { version: string }).version);
      return send(reply, 200, body);
    });

    app.patch(`/${endpoint}/:id`, async (_request, reply) =>
      send(reply, 501, scimErrorBody(501, 'PATCH is not supported yet; see /ServiceProviderConfig.')),
    );

    app.delete<{ Params: { id: string } }>(`/${endpoint}/:id`, async (request, reply) => {
      await resources.delete(tenantOf(request), kind, request.params.id, contextOf(request), ifMatchVersion(request));
      return reply.code(204).send();
    });
  }
};
