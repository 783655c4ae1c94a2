import { CommunityProviders, type FormFields, type InteractionOutcome, Interactions, type OidcRequestContext } from '@meridian/oidc';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { HubConfig } from '../config/config.js';
import type { Runtime } from '../runtime/runtime.js';

/** Form bodies of the sign-in and consent pages are small. */
const FORM_LIMIT = 16_384;

function parseForm(body: string): FormFields {
  const fields: FormFields = {};
  for (const [name, value] of new URLSearchParams(body)) {
    const current = fields[name];
    fields[name] = current === undefined ? value : [...(Array.isArray(current) ? current : [current]), value];
  }
  return fields;
}

function contextOf(request: FastifyRequest): OidcRequestContext {
  return { actor: { type: 'system', id: 'oidc' }, requestId: request.id, sourceAddress: request.ip };
}

function answer(reply: FastifyReply, outcome: InteractionOutcome): FastifyReply {
  if ('redirect' in outcome) return reply.code(303).header('location', outcome.redirect).header('cache-control', 'no-store').send();
  return reply.code(outcome.page.status).headers(outcome.page.headers).send(outcome.page.html);
}

/**
 * Mounts the communities' OpenID Providers (issue 15, docs/sso.md): everything
 * under `/oidc/{community}` goes to that community's oidc-provider, except the
 * sign-in and consent pages at `/oidc/{community}/interaction/{uid}`, which the
 * hub renders. The provider reads its own request bodies, so its routes take
 * the body unparsed.
 */
export async function registerOidc(app: FastifyInstance, runtime: Runtime, config: HubConfig): Promise<CommunityProviders> {
  const providers = new CommunityProviders({
    publicUrl: config.publicUrl,
    storage: runtime.sso.payloads,
    clients: runtime.sso.relyingParties,
    accounts: runtime.sso.accounts,
    passwords: runtime.sso.hasher,
    findCommunity: (slug) => runtime.adminStore.findCommunity(slug),
    // Back-channel logout requests go to relying parties: through the outbound request policy, like every request on a community's behalf.
    fetch: runtime.outbound.fetch,
    onError: (error) => app.log.warn({ err: error }, 'OpenID Provider error'),
  });
  const interactions = new Interactions(providers);
  app.addHook('onClose', async () => providers.close());

  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
    const handler = async (request: FastifyRequest<{ Params: { slug: string } }>, reply: FastifyReply) => {
      const { slug } = request.params;
      const rest = request.url.slice(`/oidc/${slug}`.length) || '/';
      reply.hijack();
      try {
        if (!(await providers.handle(slug, rest, request.raw, reply.raw))) {
          reply.raw.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not_found' }));
        }
      } catch (error) {
        request.log.error({ err: error }, 'OpenID Provider request failed');
        if (!reply.raw.headersSent) reply.raw.writeHead(500, { 'content-type': 'application/json' });
        reply.raw.end(JSON.stringify({ error: 'server_error' }));
      }
    };
    scope.all('/oidc/:slug', handler);
    scope.all('/oidc/:slug/*', handler);
  });

  await app.register(async (scope) => {
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_LIMIT }, (_request, body, done) =>
      done(null, parseForm(body as string)),
    );
    scope.get<{ Params: { slug: string; uid: string } }>('/oidc/:slug/interaction/:uid', async (request, reply) =>
      answer(reply, await interactions.show(request.params.slug, request.params.uid, request.raw, reply.raw, contextOf(request))),
    );
    scope.post<{ Params: { slug: string; uid: string }; Body: FormFields }>('/oidc/:slug/interaction/:uid', async (request, reply) =>
      answer(
        reply,
        await interactions.submit(request.params.slug, request.params.uid, request.body ?? {}, request.raw, reply.raw, contextOf(request)),
      ),
    );
  });
  return providers;
}
