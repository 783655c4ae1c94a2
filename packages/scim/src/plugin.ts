import {
  type AttributeSelection,
  type DirectoryCaller,
  decideAuthorization,
  isAttributeReturned,
  MeridianError,
  type Principal,
  projectResource,
  type RequestContext,
  type ResourceIncludes,
  type ResourceKind,
  type ResourcePage,
  type ResourceService,
  type ResourceShape,
  SCHEMA,
  type ScimResource,
  scimActionOf,
  type TenantSettingsService,
} from '@meridian/core';
import type { FastifyBaseLogger, FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { DEFAULT_BULK_MAX_OPERATIONS, registerBulkRoute } from './bulk/route.js';
import { resourceTypeResources, type ScimLimits, schemaResources, serviceProviderConfig } from './discovery/service-provider-config.js';
import { scimErrorBody, toScimError } from './http/errors.js';
import { parseEtag } from './http/etag.js';
import { type ListRequest, parseListRequest } from './http/list-request.js';
import { type OwnershipTransferRouteOptions, registerOwnershipTransferRoute } from './ownership/transfer-route.js';
import { type AsyncResponseOptions, registerPreferAsync } from './replication/prefer-async.js';
import { type ReplicationWaitOptions, registerPreferWait } from './replication/prefer-wait.js';
import { renderResource } from './resources/render.js';

/** Options of the SCIM plugin. */
export interface ScimPluginOptions {
  resources: ResourceService;
  /** The tenant's schema extensions, for discovery. */
  settings: Pick<TenantSettingsService, 'extensions'>;
  /** Resolves the `Authorization` header to a principal, or undefined when it is missing or invalid (logging why to `log`). */
  authenticate(authorization: string | undefined, log?: FastifyBaseLogger): Promise<Principal | undefined>;
  /** Absolute base URL of the SCIM service, e.g. `https://hub.example.com/scim/v2`. */
  baseUrl: string;
  limits?: Partial<ScimLimits>;
  /** Waiting for downstream results (`Prefer: wait`, use case 2.3.1); writes answer at once when absent. */
  replication?: ReplicationWaitOptions;
  /** Answers writes sent with `Prefer: respond-async` 202 and sends the outcome as an RFC 9967 event; ignored when absent. */
  async?: AsyncResponseOptions;
  /**
   * Turns an error the services let through into a domain error where it can
   * (the hub gives the store's translation: a lost database connection becomes
   * `UNAVAILABLE`, answered 503 instead of 500).
   */
  translateError?: (error: unknown) => unknown;
  /** Serves `POST /OwnershipTransfers` (issue 19) when given. */
  ownership?: OwnershipTransferRouteOptions['ownership'];
}

type TenantPrincipal = Principal & { kind: 'tenant' };

declare module 'fastify' {
  interface FastifyRequest {
    scimPrincipal?: TenantPrincipal;
  }
}

const CONTENT_TYPE = 'application/scim+json; charset=utf-8';
const DEFAULT_LIMITS: ScimLimits = {
  maxResults: 200,
  defaultCount: 100,
  maxPayloadSize: 1_048_576,
  maxOperations: DEFAULT_BULK_MAX_OPERATIONS,
};
const ENDPOINTS: Record<string, ResourceKind> = { Users: 'User', Groups: 'Group' };
const KINDS: ResourceKind[] = ['User', 'Group'];

function send(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).header('content-type', CONTENT_TYPE).send(body);
}

function ifMatchVersion(request: FastifyRequest): { ifMatchVersion?: number } {
  const etag = parseEtag(request.headers['if-match']);
  return etag === undefined || etag === 'any' ? {} : { ifMatchVersion: etag };
}

/** The route of a request relative to the SCIM base (`/Users/:id`), or its path when no route matched (404). */
function routeOf(request: FastifyRequest, prefix: string): string {
  const route = request.routeOptions.url ?? request.url.replace(/\?.*$/, '');
  return route.startsWith(prefix) ? route.slice(prefix.length) : route;
}

/** What a rendered resource needs loaded: members and groups are computed and can be large. */
function includesFor(shape: (kind: ResourceKind) => ResourceShape, kind: ResourceKind, selection: AttributeSelection): ResourceIncludes {
  return kind === 'Group'
    ? { members: isAttributeReturned(shape(kind), selection, 'members'), groups: false }
    : { members: false, groups: isAttributeReturned(shape(kind), selection, 'groups') };
}

function hasSelection(selection: AttributeSelection): boolean {
  return selection.attributes !== undefined || selection.excludedAttributes !== undefined;
}

/**
 * The SCIM 2.0 service provider (RFC 7644) as a Fastify plugin: it turns HTTP
 * into calls of the core services and results back into SCIM JSON, and
 * decides nothing the core could decide.
 */
export const scimPlugin: FastifyPluginAsync<ScimPluginOptions> = async (app: FastifyInstance, options) => {
  const limits: ScimLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const { resources, baseUrl, settings } = options;

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
    const { status, body } = toScimError(options.translateError ? options.translateError(error) : error);
    if (status === 500) request.log.error({ err: error }, 'SCIM request failed');
    if (status === 503) reply.header('retry-after', '5');
    return send(reply, status, body);
  });

  app.setNotFoundHandler((_request, reply) => send(reply, 404, scimErrorBody(404, 'No such SCIM endpoint.')));

  // Every request is checked against the permission matrix (core permissions.ts) before its body is read: the
  // route names the action, the core decides, and this hook only turns a refusal into SCIM's 401/403 and
  // WWW-Authenticate (RFC 6750 §3.1). The core services decide again on every call the routes make.
  app.addHook('onRequest', async (request, reply) => {
    const principal = await options.authenticate(request.headers.authorization, request.log);
    if (!principal) {
      // RFC 6750 §3.1: why a token is invalid is not the caller's business (the reason is logged at debug level).
      const invalid = request.headers.authorization !== undefined;
      reply.header('www-authenticate', invalid ? 'Bearer realm="meridian", error="invalid_token"' : 'Bearer realm="meridian"');
      return send(reply, 401, scimErrorBody(401, invalid ? 'Invalid token.' : 'Authentication is required: send a bearer token.'));
    }
    const decision = decideAuthorization(principal, scimActionOf(request.method, routeOf(request, app.prefix)));
    if (!decision.allowed) {
      if (decision.reason === 'level') {
        return send(
          reply,
          403,
          scimErrorBody(403, 'SCIM needs a tenant token; platform and community tokens administer tenants through the CLI and GraphQL.'),
        );
      }
      if (decision.scope !== undefined) {
        reply.header('www-authenticate', `Bearer realm="meridian", error="insufficient_scope", scope="${decision.scope}"`);
      }
      return send(reply, 403, scimErrorBody(403, decision.message));
    }
    if (principal.kind !== 'tenant') throw new TypeError('every SCIM action is a tenant action');
    request.scimPrincipal = principal;
  });

  // Before the wait: a write answered 202 does not wait for its deliveries.
  if (options.async) registerPreferAsync(app, options.async, baseUrl);
  if (options.replication) registerPreferWait(app, options.replication);

  const contextOf = (request: FastifyRequest): RequestContext => ({
    actor: { type: 'token', id: request.scimPrincipal?.tokenId ?? 'unknown' },
    requestId: request.id,
    sourceAddress: request.ip,
  });
  const principalOf = (request: FastifyRequest): TenantPrincipal => {
    const principal = request.scimPrincipal;
    if (!principal) throw new TypeError('onRequest authenticates every SCIM route');
    return principal;
  };
  const tenantOf = (request: FastifyRequest): string => principalOf(request).tenantId;
  /** The caller of the core services: SCIM acts in the token's own tenant. */
  const callerOf = (request: FastifyRequest): DirectoryCaller => ({ principal: principalOf(request), api: 'scim' });

  /** The tenant's shapes of both kinds, loaded once per request. */
  const shapesOf = async (tenantId: string): Promise<(kind: ResourceKind) => ResourceShape> => {
    const [user, group] = await Promise.all([resources.shapeOf(tenantId, 'User'), resources.shapeOf(tenantId, 'Group')]);
    return (kind) => (kind === 'User' ? user : group);
  };
  const render = (resource: ScimResource, shape: ResourceShape, selection: AttributeSelection) =>
    projectResource(shape, renderResource(resource, baseUrl), selection);
  const selectionOf = (request: FastifyRequest): AttributeSelection =>
    parseListRequest(request.query as Record<string, unknown>, limits).selection;
  const sendResource = (reply: FastifyReply, status: number, body: Record<string, unknown>): FastifyReply => {
    const meta = body.meta as { version: string; location: string };
    reply.header('etag', meta.version);
    if (status === 201) reply.header('location', meta.location);
    return send(reply, status, body);
  };

  const listResponse = (page: ResourcePage, list: ListRequest, items: Record<string, unknown>[]) => {
    const body: Record<string, unknown> = { schemas: [SCHEMA.listResponse], totalResults: page.totalResults, itemsPerPage: items.length };
    // RFC 9865 §4: in cursor mode the response carries nextCursor instead of startIndex.
    if (list.query.cursor === undefined) body.startIndex = list.query.startIndex;
    else if (page.nextCursor !== undefined) body.nextCursor = page.nextCursor;
    body.Resources = items;
    return body;
  };

  const listKind = async (request: FastifyRequest, kind: ResourceKind, params: Record<string, unknown>) => {
    const list = parseListRequest(params, limits);
    const tenantId = tenantOf(request);
    const shape = await shapesOf(tenantId);
    const page = await resources.list(callerOf(request), tenantId, kind, {
      ...list.query,
      include: includesFor(shape, kind, list.selection),
    });
    return listResponse(
      page,
      list,
      page.resources.map((r) => render(r, shape(kind), list.selection)),
    );
  };

  // Discovery (RFC 7644 §4): the tenant's own extensions are part of the truth.
  app.get('/ServiceProviderConfig', async (_request, reply) => send(reply, 200, serviceProviderConfig(baseUrl, limits)));
  const discoveryList = (list: Record<string, unknown>[]) => ({
    schemas: [SCHEMA.listResponse],
    totalResults: list.length,
    itemsPerPage: list.length,
    startIndex: 1,
    Resources: list,
  });
  app.get('/ResourceTypes', async (request, reply) =>
    send(reply, 200, discoveryList(resourceTypeResources(baseUrl, await settings.extensions(tenantOf(request))))),
  );
  app.get<{ Params: { id: string } }>('/ResourceTypes/:id', async (request, reply) => {
    const found = resourceTypeResources(baseUrl, await settings.extensions(tenantOf(request))).find((r) => r.id === request.params.id);
    if (!found) throw new MeridianError('NOT_FOUND', `Resource type '${request.params.id}' not found.`);
    return send(reply, 200, found);
  });
  app.get('/Schemas', async (request, reply) =>
    send(reply, 200, discoveryList(schemaResources(baseUrl, await settings.extensions(tenantOf(request))))),
  );
  app.get<{ Params: { id: string } }>('/Schemas/:id', async (request, reply) => {
    const wanted = request.params.id.toLowerCase();
    const found = schemaResources(baseUrl, await settings.extensions(tenantOf(request))).find((s) => String(s.id).toLowerCase() === wanted);
    if (!found) throw new MeridianError('NOT_FOUND', `Schema '${request.params.id}' not found.`);
    return send(reply, 200, found);
  });

  // Search across resource types (RFC 7644 §3.4.3): Users, then Groups, as one list.
  app.post('/.search', async (request, reply) => {
    const params = (request.body ?? {}) as Record<string, unknown>;
    const list = parseListRequest(params, limits);
    if (list.query.cursor !== undefined || list.query.sortBy !== undefined) {
      throw new MeridianError(
        'INVALID_INPUT',
        "A search at the root pages by 'startIndex' and does not sort; search /Users or /Groups for that.",
        {
          field: list.query.cursor !== undefined ? 'cursor' : 'sortBy',
        },
      );
    }
    const tenantId = tenantOf(request);
    const shape = await shapesOf(tenantId);
    let skip = list.query.startIndex - 1;
    let room = list.query.count;
    let total = 0;
    const items: Record<string, unknown>[] = [];
    let applicable = 0;
    for (const kind of KINDS) {
      let page: ResourcePage;
      try {
        // Ask for enough rows to fill the page after skipping what earlier kinds did not use.
        page = await resources.list(callerOf(request), tenantId, kind, {
          ...list.query,
          startIndex: skip + 1,
          count: room,
          include: includesFor(shape, kind, list.selection),
        });
      } catch (error) {
        // A filter on attributes one kind lacks matches none of that kind.
        if (error instanceof MeridianError && error.code === 'INVALID_FILTER') continue;
        throw error;
      }
      applicable++;
      total += page.totalResults;
      items.push(...page.resources.map((r) => render(r, shape(kind), list.selection)));
      room -= page.resources.length;
      skip = Math.max(0, skip - page.totalResults);
    }
    if (applicable === 0 && list.query.filter)
      throw new MeridianError('INVALID_FILTER', 'The filter names no attribute of any resource type.');
    return send(reply, 200, listResponse({ totalResults: total, resources: [] }, list, items));
  });

  // The authenticated end user (RFC 7644 §3.11), changing only what the tenant's self-service policy allows;
  // the core refuses a token that is not an end user's.
  app.get('/Me', async (request, reply) => {
    const resource = await resources.getOwn(callerOf(request));
    return sendResource(reply, 200, render(resource, await resources.shapeOf(tenantOf(request), 'User'), selectionOf(request)));
  });
  app.put('/Me', async (request, reply) => {
    const updated = await resources.replaceOwn(callerOf(request), request.body, contextOf(request), ifMatchVersion(request));
    return sendResource(reply, 200, render(updated, await resources.shapeOf(tenantOf(request), 'User'), selectionOf(request)));
  });
  app.patch('/Me', async (request, reply) => {
    const updated = await resources.patchOwn(callerOf(request), request.body, contextOf(request), ifMatchVersion(request));
    return sendResource(reply, 200, render(updated, await resources.shapeOf(tenantOf(request), 'User'), selectionOf(request)));
  });
  for (const method of ['POST', 'DELETE'] as const) {
    app.route({
      method,
      url: '/Me',
      handler: async () => {
        throw new MeridianError('FORBIDDEN', 'End users read and edit their own User; creating or deleting it is for provisioning.');
      },
    });
  }

  registerBulkRoute(app, { resources, baseUrl, maxOperations: limits.maxOperations, callerOf, tenantOf, contextOf });
  if (options.ownership) registerOwnershipTransferRoute(app, { ownership: options.ownership, callerOf, tenantOf, contextOf });

  for (const [endpoint, kind] of Object.entries(ENDPOINTS)) {
    // List and filter (RFC 7644 §3.4.2), by index or by cursor (RFC 9865).
    app.get(`/${endpoint}`, async (request, reply) =>
      send(reply, 200, await listKind(request, kind, request.query as Record<string, unknown>)),
    );
    app.post(`/${endpoint}/.search`, async (request, reply) =>
      send(reply, 200, await listKind(request, kind, (request.body ?? {}) as Record<string, unknown>)),
    );

    app.post(`/${endpoint}`, async (request, reply) => {
      const selection = selectionOf(request);
      const tenantId = tenantOf(request);
      const created = await resources.create(callerOf(request), tenantId, kind, request.body, contextOf(request));
      return sendResource(reply, 201, render(created, await resources.shapeOf(tenantId, kind), selection));
    });

    app.get<{ Params: { id: string } }>(`/${endpoint}/:id`, async (request, reply) => {
      const selection = selectionOf(request);
      const tenantId = tenantOf(request);
      const shape = await shapesOf(tenantId);
      const resource = await resources.get(callerOf(request), tenantId, kind, request.params.id, includesFor(shape, kind, selection));
      const body = render(resource, shape(kind), selection);
      const etag = (body.meta as { version: string }).version;
      const ifNoneMatch = parseEtag(request.headers['if-none-match']);
      if (ifNoneMatch === 'any' || ifNoneMatch === resource.version) {
        return reply.code(304).header('etag', etag).send();
      }
      return sendResource(reply, 200, body);
    });

    app.put<{ Params: { id: string } }>(`/${endpoint}/:id`, async (request, reply) => {
      const selection = selectionOf(request);
      const tenantId = tenantOf(request);
      const updated = await resources.replace(
        callerOf(request),
        tenantId,
        kind,
        request.params.id,
        request.body,
        contextOf(request),
        ifMatchVersion(request),
      );
      return sendResource(reply, 200, render(updated, await resources.shapeOf(tenantId, kind), selection));
    });

    // RFC 7644 §3.5.2: a group PATCH answers 204 (what Entra ID and Okta expect) unless the client asks for attributes.
    app.patch<{ Params: { id: string } }>(`/${endpoint}/:id`, async (request, reply) => {
      const selection = selectionOf(request);
      const tenantId = tenantOf(request);
      const shape = await shapesOf(tenantId);
      const quiet = kind === 'Group' && !hasSelection(selection);
      const include = quiet ? { members: false, groups: false } : includesFor(shape, kind, selection);
      const updated = await resources.patch(callerOf(request), tenantId, kind, request.params.id, request.body, contextOf(request), {
        ...ifMatchVersion(request),
        include,
      });
      const body = render(updated, shape(kind), selection);
      if (quiet)
        return reply
          .code(204)
          .header('etag', (body.meta as { version: string }).version)
          .send();
      return sendResource(reply, 200, body);
    });

    app.delete<{ Params: { id: string } }>(`/${endpoint}/:id`, async (request, reply) => {
      await resources.delete(callerOf(request), tenantOf(request), kind, request.params.id, contextOf(request), ifMatchVersion(request));
      return reply.code(204).send();
    });
  }
};
