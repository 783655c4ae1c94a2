import type { GraphqlOptions } from '@meridian/graphql';
import type { ReadReplica, ReadRoute } from '@meridian/store';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { HubMetrics } from '../observability/metrics.js';

// Which requests may read from the read replica (issue 20, ADR 0031): SCIM
// reads (GET, HEAD, `.search`, RFC 7644 §3.4.3) and GraphQL queries, once
// their caller is known. Every other SCIM and GraphQL request is a writer:
// the primary's WAL position is kept for its caller before its answer leaves,
// so that the caller's next read, through any process, sees its write.

function pathOf(request: FastifyRequest): string {
  const cut = request.url.indexOf('?');
  return cut < 0 ? request.url : request.url.slice(0, cut);
}

/** True for a SCIM request that only reads. */
function scimReads(request: FastifyRequest, path: string): boolean {
  return request.method === 'GET' || request.method === 'HEAD' || (request.method === 'POST' && path.endsWith('/.search'));
}

/**
 * Opens a route for each SCIM and GraphQL request when the hub has a read replica, and counts where reads are
 * served (`meridian_db_reads_total`). Registered before the SCIM and GraphQL routes so that their requests
 * inherit the hooks; the returned hook goes to `registerGraphql`.
 */
export function registerReadRouting(
  app: FastifyInstance,
  replica: ReadReplica | undefined,
  metrics: HubMetrics,
): Pick<GraphqlOptions, 'beforeExecute'> {
  if (!replica) return {};
  const detach = replica.observe((servedBy, reason) => metrics.observeRead(servedBy, reason));
  app.addHook('onClose', async () => detach());
  const routes = new WeakMap<FastifyRequest, ReadRoute>();

  // preHandler: after the body is parsed and SCIM has authenticated (its onRequest hook). The route is the
  // async context the handler then runs in: callback style, so that the handler is called from inside it.
  app.addHook('preHandler', (request, _reply, done) => {
    const path = pathOf(request);
    const scim = path === '/scim/v2' || path.startsWith('/scim/v2/');
    if (!scim && path !== '/graphql') {
      done();
      return;
    }
    replica.enter((route) => {
      routes.set(request, route);
      // GraphQL's caller and operation are known only inside Apollo: beforeExecute below.
      if (scim && request.tokenId !== undefined) {
        if (scimReads(request, path)) route.allowReads(request.tokenId);
        else route.willWrite(request.tokenId);
      }
      done();
    });
  });

  // onSend: the write has committed and the answer has not left, so the caller cannot read before its position is kept.
  app.addHook('onSend', async (request) => {
    const route = routes.get(request);
    if (route?.writes && route.caller !== undefined) await replica.recordWrite(route.caller);
  });

  return {
    beforeExecute(type, principal) {
      const route = replica.current();
      if (!route) return;
      if (type === 'query') route.allowReads(principal.tokenId);
      else route.willWrite(principal.tokenId);
    },
  };
}
